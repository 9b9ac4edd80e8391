package s3fs

import (
	"encoding/json"

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
}

// listMeta returns the listing fields of the metadata b of ino; ok is
// false when b is nil or not usable (corrupt metadata is logged by
// decodeMeta and treated as missing).
func (f *FS) listMeta(ino posix.Ino, b []byte) (listMeta, bool) {
	if b == nil {
		return listMeta{}, false
	}
	if lm, ok := listFields(b); ok {
		return lm, true
	}
	m := f.decodeMeta(ino, b)
	if m == nil {
		return listMeta{}, false
	}
	return listMeta{etag: quoteETag(m.ETag), size: m.Size, mtime: m.Mtime, dir: m.DirMarker}, true
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
	if !json.Valid(b) {
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
// which must be valid JSON.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i++
			for b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i > 0 && (b[i-1] == '"' || b[i-1] == '}' || b[i-1] == ']') {
			return i
		}
	}
	return i
}
