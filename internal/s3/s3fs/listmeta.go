package s3fs

import (
	"bytes"

	"cairn/internal/posix"
)

// A listing needs four things from an object's stored metadata (the JSON
// of objMeta): its ETag, and the size and mtime that tell whether the ETag
// still describes the file, and the directory-marker flag. Decoding the
// whole record with encoding/json (maps, checksums, reflection) was a
// sixth of a 1,000-key page's server time; listFields reads the four
// members directly and leaves the rest to encoding/json.

// listMeta is what a listing takes from stored object metadata.
type listMeta struct {
	etag  string // quoted, as listed
	size  uint64
	mtime int64
	dir   bool
	vid   string // version id ("" for none)
}

// listMeta returns the listing fields of the metadata b of ino; ok is
// false when b is nil or not usable (corrupt metadata is logged by
// decodeMeta and treated as missing).
func (f *FS) listMeta(ino posix.Ino, b []byte) (listMeta, bool) {
	if b == nil {
		return listMeta{}, false
	}
	if b[0] == metaMagic {
		// The binary form: its fixed prefix is all a listing reads.
		return listPrefix(b)
	}
	if lm, ok := listFields(b); ok {
		return lm, true
	}
	m := f.decodeMeta(ino, b)
	if m == nil {
		return listMeta{}, false
	}
	return listMeta{etag: quoteETag(m.ETag), size: m.Size, mtime: m.Mtime, dir: m.DirMarker, vid: m.VersionID}, true
}

// listFields reads the listing fields of JSON object metadata without
// encoding/json's reflection. It answers only for valid JSON objects whose
// member names are plain lower-case ASCII and whose fields it wants are
// plainly written (an ETag without escapes, integer size and mtime, a
// boolean marker flag); ok is false for anything else, and the caller
// decodes with encoding/json, which then decides. Other members are
// skipped unchecked: records are written by json.Marshal, and a HEAD or
// GET, which decodes the whole record, reports a damaged one. A fuzz test
// holds listFields to what encoding/json decodes for the four fields
// whenever it answers.
func listFields(b []byte) (lm listMeta, ok bool) {
	if !validJSON(b) {
		return lm, false
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return lm, false
	}
	i++
	haveETag := false
	for {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			break
		}
		// A member name; valid JSON guarantees a string here.
		j := i + 1
		for j < len(b) && b[j] != '"' {
			c := b[j]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				// Escapes, upper case and other bytes: encoding/json matches
				// names case-insensitively (with Unicode folding), so leave
				// such records to it.
				return lm, false
			}
			j++
		}
		name := b[i+1 : j]
		i = skipSpace(b, j+1) + 1 // past ':'
		i = skipSpace(b, i)
		switch string(name) {
		case "etag":
			if b[i] != '"' {
				return lm, false
			}
			end := i + 1
			for b[end] != '"' {
				if b[end] == '\\' || b[end] >= 0x80 {
					return lm, false // escapes; bytes encoding/json may replace
				}
				end++
			}
			lm.etag, haveETag = string(b[i:end+1]), true
			i = end + 1
		case "vid":
			if b[i] != '"' {
				return lm, false
			}
			end := i + 1
			for b[end] != '"' {
				if b[end] == '\\' || b[end] >= 0x80 {
					return lm, false
				}
				end++
			}
			lm.vid = string(b[i+1 : end])
			i = end + 1
		case "sz":
			v, n, good := parseUint(b[i:])
			if !good {
				return lm, false
			}
			lm.size, i = v, i+n
		case "mt":
			neg := b[i] == '-'
			k := i
			if neg {
				k++
			}
			v, n, good := parseUint(b[k:])
			if !good || v > 1<<63-1 && !(neg && v == 1<<63) {
				return lm, false
			}
			if neg {
				lm.mtime = -int64(v)
			} else {
				lm.mtime = int64(v)
			}
			i = k + n
		case "dir":
			switch {
			case b[i] == 't':
				lm.dir, i = true, i+4
			case b[i] == 'f':
				lm.dir, i = false, i+5
			default:
				return lm, false
			}
		default:
			i = skipValue(b, i)
		}
		i = skipSpace(b, i)
		if b[i] == ',' {
			i++
		}
	}
	if !haveETag {
		return lm, false // an ETag-less record: the caller computes one
	}
	return lm, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// parseUint reads the digits of a JSON number at the start of b. good is
// false when the number has a fraction or exponent, or overflows.
func parseUint(b []byte) (v uint64, n int, good bool) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		d := uint64(b[n] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, 0, false
		}
		v = v*10 + d
		n++
	}
	if n == 0 || n < len(b) && (b[n] == '.' || b[n] == 'e' || b[n] == 'E') {
		return 0, 0, false
	}
	return v, n, true
}

// skipValue returns the index just past the JSON value starting at b[i],
// which must be valid JSON (validJSON said so).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		for depth := 0; ; {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default: // a number, true, false or null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}

// maxJSONDepth is encoding/json's nesting limit, so that validJSON and
// json.Valid agree on every input.
const maxJSONDepth = 10000

// validJSON reports whether b is one valid JSON value, as json.Valid
// does (a fuzz test holds the two equal), several times faster: json.Valid
// calls a state function per byte, and was most of listFields' time.
func validJSON(b []byte) bool {
	var inline [16]byte
	stack := inline[:0] // open containers, '{' or '['
	i := skipSpace(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(stack) == maxJSONDepth {
				return false
			}
			stack = append(stack, c)
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if i = objectKey(b, i); i < 0 {
					return false
				}
			}
			continue
		case c == '"':
			if i = skipString(b, i); i < 0 {
				return false
			}
		case c == 't':
			if !bytes.HasPrefix(b[i:], []byte("true")) {
				return false
			}
			i += 4
		case c == 'f':
			if !bytes.HasPrefix(b[i:], []byte("false")) {
				return false
			}
			i += 5
		case c == 'n':
			if !bytes.HasPrefix(b[i:], []byte("null")) {
				return false
			}
			i += 4
		default:
			if i = skipNumber(b, i); i < 0 {
				return false
			}
		}
		// After a value: close containers, or a comma and the next value.
		for {
			i = skipSpace(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			if b[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return false
			}
			i = skipSpace(b, i+1)
			if top == '{' {
				if i = objectKey(b, i); i < 0 {
					return false
				}
			}
			break
		}
	}
}

// objectKey checks a member name and its colon at b[i] and returns where
// the member's value starts, or -1.
func objectKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = skipString(b, i); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// skipString returns the index past the JSON string at b[i], or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// skipNumber returns the index past the JSON number at b[i], or -1.
func skipNumber(b []byte, i int) int {
	digits := func(i int) int { // at least one digit
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if i = digits(i); i < 0 {
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i = digits(i + 1); i < 0 {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i = digits(i); i < 0 {
			return -1
		}
	}
	return i
}
