package policy

// A pattern is a compiled wildcard pattern: each element is a byte to
// match literally (0–255), anyByte (?) or anyRun (*). Literal '*' and '?'
// (from ${*} and ${?}) are plain bytes, so they never act as wildcards.
type pattern []int16

const (
	anyByte int16 = -1
	anyRun  int16 = -2
)

// compileGlob compiles s, where every '*' and '?' is a wildcard.
func compileGlob(s string) pattern {
	p := make(pattern, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			if len(p) == 0 || p[len(p)-1] != anyRun { // "**" is "*"
				p = append(p, anyRun)
			}
		case '?':
			p = append(p, anyByte)
		default:
			p = append(p, int16(s[i]))
		}
	}
	return p
}

// literal appends s to p with no wildcards.
func (p pattern) literal(s string) pattern {
	for i := 0; i < len(s); i++ {
		p = append(p, int16(s[i]))
	}
	return p
}

// wild reports whether p holds a wildcard.
func (p pattern) wild() bool {
	for _, c := range p {
		if c < 0 {
			return true
		}
	}
	return false
}

// match reports whether s matches p; fold compares ASCII letters
// case-insensitively. It runs in O(len(p)·len(s)) at worst: on a
// mismatch it backtracks only to the last '*' seen, which is enough
// because a later '*' can absorb anything an earlier one could.
func (p pattern) match(s string, fold bool) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == anyRun:
				star, mark = pi, si
				pi++
				continue
			case c == anyByte || byteEq(byte(c), s[si], fold):
				pi++
				si++
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark++
		pi, si = star+1, mark
	}
	for pi < len(p) && p[pi] == anyRun {
		pi++
	}
	return pi == len(p)
}

func byteEq(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lower(a) == lower(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// globMatch matches s against the wildcard pattern text pat.
func globMatch(pat, s string, fold bool) bool { return compileGlob(pat).match(s, fold) }
