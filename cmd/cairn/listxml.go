package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The bench client reads ListObjects answers with a scanner of its own.
// encoding/xml takes 9–13 ms of CPU for a 1,000-key page on a 2-core VM, as
// long as the server takes to compute the page: a load generator parsing
// that slowly measures itself. parseListPage reads the four things a
// listing walk needs and checks the document's nesting as it goes; a fuzz
// test holds it to encoding/xml's answers.

// listPage is what the bench takes from a ListBucketResult.
type listPage struct {
	Keys                  []string
	Prefixes              []string
	IsTruncated           bool
	NextContinuationToken string
}

var errListXML = errors.New("malformed ListBucketResult")

// parseListPage parses a ListObjects (v1 or v2) answer.
func parseListPage(b []byte) (listPage, error) {
	var p listPage
	var stack [8][]byte // element names (local parts) from the root down
	var mark [8]int     // where each open element's character data starts in text
	depth := 0
	var text []byte // character data of the open elements, outermost first
	sawRoot := false
	for i := 0; i < len(b); {
		if b[i] != '<' {
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				j = len(b) - i
			}
			if depth == 0 {
				if len(bytes.TrimSpace(b[i:i+j])) != 0 {
					return p, fmt.Errorf("%w: text outside the root element", errListXML)
				}
			} else {
				var err error
				if text, err = unescapeXML(text, b[i:i+j]); err != nil {
					return p, err
				}
			}
			i += j
			continue
		}
		rest := b[i:]
		c1 := byte(0)
		if len(rest) > 1 {
			c1 = rest[1]
		}
		switch {
		case c1 == '?':
			j := bytes.Index(rest, []byte("?>"))
			if j < 0 {
				return p, fmt.Errorf("%w: unterminated processing instruction", errListXML)
			}
			i += j + 2
		case c1 == '!' && bytes.HasPrefix(rest, []byte("<!--")):
			j := bytes.Index(rest[4:], []byte("-->"))
			if j < 0 {
				return p, fmt.Errorf("%w: unterminated comment", errListXML)
			}
			i += 4 + j + 3
		case c1 == '!' && bytes.HasPrefix(rest, []byte("<![CDATA[")):
			j := bytes.Index(rest, []byte("]]>"))
			if j < 0 || depth == 0 {
				return p, fmt.Errorf("%w: misplaced CDATA section", errListXML)
			}
			text = append(text, rest[9:j]...)
			i += j + 3
		case c1 == '!':
			return p, fmt.Errorf("%w: declarations are not expected", errListXML)
		case c1 == '/':
			j := bytes.IndexByte(rest, '>')
			if j < 0 || depth == 0 {
				return p, fmt.Errorf("%w: unexpected end tag", errListXML)
			}
			e := j
			for e > 2 && isSpaceXML(rest[e-1]) {
				e--
			}
			name := localName(rest[2:e])
			if !bytes.Equal(name, stack[depth-1]) {
				return p, fmt.Errorf("%w: </%s> closes <%s>", errListXML, name, stack[depth-1])
			}
			if err := p.end(stack[:depth], text[mark[depth-1]:]); err != nil {
				return p, err
			}
			depth--
			text = text[:mark[depth]]
			i += j + 1
		default:
			j, selfClosing, err := tagEnd(rest)
			if err != nil {
				return p, err
			}
			n := 1
			for n < j && !isSpaceXML(rest[n]) && rest[n] != '/' && rest[n] != '>' {
				n++
			}
			name := localName(rest[1:n])
			if len(name) == 0 {
				return p, fmt.Errorf("%w: empty element name", errListXML)
			}
			if depth == 0 {
				if sawRoot {
					return p, fmt.Errorf("%w: second root element", errListXML)
				}
				if string(name) != "ListBucketResult" {
					return p, fmt.Errorf("%w: root element %s", errListXML, name)
				}
				sawRoot = true
			}
			if depth == len(stack) {
				return p, fmt.Errorf("%w: nested too deep", errListXML)
			}
			stack[depth], mark[depth] = name, len(text)
			depth++
			p.start(stack[:depth])
			if selfClosing {
				if err := p.end(stack[:depth], nil); err != nil {
					return p, err
				}
				depth--
			}
			i += j + 1
		}
	}
	if !sawRoot || depth != 0 {
		return p, fmt.Errorf("%w: truncated document", errListXML)
	}
	return p, nil
}

// start records the element opening at path: each Contents or
// CommonPrefixes element is an entry, named by its Key or Prefix.
func (p *listPage) start(path [][]byte) {
	if len(path) == 2 {
		switch string(path[1]) {
		case "Contents":
			p.Keys = append(p.Keys, "")
		case "CommonPrefixes":
			p.Prefixes = append(p.Prefixes, "")
		}
	}
}

// end records the element closing at path with its character data text.
func (p *listPage) end(path [][]byte, text []byte) error {
	switch len(path) {
	case 2:
		switch string(path[1]) {
		case "IsTruncated":
			v, err := strconv.ParseBool(strings.TrimSpace(string(text)))
			if err != nil {
				return fmt.Errorf("%w: IsTruncated %q", errListXML, text)
			}
			p.IsTruncated = v
		case "NextContinuationToken":
			p.NextContinuationToken = string(text)
		}
	case 3:
		switch {
		case string(path[1]) == "Contents" && string(path[2]) == "Key":
			p.Keys[len(p.Keys)-1] = string(text)
		case string(path[1]) == "CommonPrefixes" && string(path[2]) == "Prefix":
			p.Prefixes[len(p.Prefixes)-1] = string(text)
		}
	}
	return nil
}

// tagEnd returns the index of the '>' ending the start tag at b[0],
// skipping quoted attribute values, and whether the tag closes itself.
func tagEnd(b []byte) (int, bool, error) {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '"', '\'':
			j := bytes.IndexByte(b[i+1:], b[i])
			if j < 0 {
				return 0, false, fmt.Errorf("%w: unterminated attribute", errListXML)
			}
			i += j + 1
		case '<':
			return 0, false, fmt.Errorf("%w: '<' inside a tag", errListXML)
		case '>':
			return i, b[i-1] == '/', nil
		}
	}
	return 0, false, fmt.Errorf("%w: unterminated tag", errListXML)
}

// localName drops a namespace prefix, as encoding/xml matches names.
func localName(b []byte) []byte {
	if i := bytes.IndexByte(b, ':'); i >= 0 {
		b = b[i+1:]
	}
	return b
}

func isSpaceXML(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// unescapeXML appends character data s to dst with entity and character
// references decoded and line ends normalized as XML requires.
func unescapeXML(dst, s []byte) ([]byte, error) {
	for len(s) > 0 {
		c := s[0]
		switch {
		case c == '\r':
			dst = append(dst, '\n')
			s = s[1:]
			if len(s) > 0 && s[0] == '\n' {
				s = s[1:]
			}
		case c != '&':
			j := 1
			for j < len(s) && s[j] != '&' && s[j] != '\r' {
				j++
			}
			if !utf8.Valid(s[:j]) {
				return dst, fmt.Errorf("%w: invalid UTF-8", errListXML)
			}
			dst = append(dst, s[:j]...)
			s = s[j:]
		default:
			j := bytes.IndexByte(s, ';')
			if j < 0 {
				return dst, fmt.Errorf("%w: unterminated reference", errListXML)
			}
			ref := s[1:j]
			s = s[j+1:]
			switch string(ref) {
			case "lt":
				dst = append(dst, '<')
			case "gt":
				dst = append(dst, '>')
			case "amp":
				dst = append(dst, '&')
			case "quot":
				dst = append(dst, '"')
			case "apos":
				dst = append(dst, '\'')
			default:
				r, ok := charRef(ref)
				if !ok || !xmlChar(r) {
					return dst, fmt.Errorf("%w: bad reference &%s;", errListXML, ref)
				}
				dst = utf8.AppendRune(dst, r)
			}
		}
	}
	return dst, nil
}

// xmlChar reports whether r may appear in an XML document.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// charRef decodes the character reference "#NN" or "#xHH" (without '&'
// and ';').
func charRef(ref []byte) (rune, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	base, digits := 10, ref[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 || len(digits) > 8 {
		return 0, false
	}
	var n rune
	for _, c := range digits {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		n = n*rune(base) + d
	}
	return n, true
}

// stdListPage is a listing as encoding/xml decodes it, every field of an
// object included, as the SDKs' clients decode it (--xml std).
type stdListPage struct {
	Contents []struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
	IsTruncated           bool   `xml:"IsTruncated"`
	NextContinuationToken string `xml:"NextContinuationToken"`
}

// parseListPageStd parses a listing with encoding/xml.
func parseListPageStd(b []byte) (listPage, error) {
	var r stdListPage
	if err := xml.Unmarshal(b, &r); err != nil {
		return listPage{}, fmt.Errorf("%w: %v", errListXML, err)
	}
	p := listPage{IsTruncated: r.IsTruncated, NextContinuationToken: r.NextContinuationToken}
	for _, c := range r.Contents {
		p.Keys = append(p.Keys, c.Key)
	}
	for _, c := range r.CommonPrefixes {
		p.Prefixes = append(p.Prefixes, c.Prefix)
	}
	return p, nil
}
