package meta

import (
	"math"
	"strconv"
	"unicode/utf8"

	"cairn/internal/posix"
)

// fastRecord decodes a stored change-feed record in the form this package
// writes it (json.Marshal of a Record: no spaces, keys as tagged, strings
// without escapes in the common case) without encoding/json's reflection,
// several times faster. Anything else — an escape, a byte outside ASCII,
// a key it does not know, a base64 name, extra, null — and it reports
// false, so the caller decodes with encoding/json: whatever it accepts,
// it decodes to what encoding/json does (FuzzFastRecord).
func fastRecord(b []byte, r *Record) bool {
	d := recordDecoder{b: b}
	var x Record
	if !d.object(func(key []byte) bool { return d.recordField(key, &x) }) || d.i != len(b) {
		return false
	}
	*r = x
	return true
}

type recordDecoder struct {
	b []byte
	i int
}

// object reads {"key":value,…}, each value by field.
func (d *recordDecoder) object(field func(key []byte) bool) bool {
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return true
	}
	for {
		key, ok := d.raw()
		if !ok || !d.byte(':') || !field(key) {
			return false
		}
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

func (d *recordDecoder) recordField(key []byte, x *Record) bool {
	var ok bool
	switch string(key) {
	case "seq":
		x.Seq, ok = d.uint(math.MaxUint64)
	case "t":
		x.Time, ok = d.int()
	case "op":
		var s string
		s, ok = d.str()
		x.Op = Op(s)
	case "ino":
		var n uint64
		n, ok = d.uint(math.MaxUint64)
		x.Ino = posix.Ino(n)
	case "type":
		var n uint64
		n, ok = d.uint(math.MaxUint8)
		x.Type = posix.FileType(n)
	case "parent":
		var n uint64
		n, ok = d.uint(math.MaxUint64)
		x.Parent = posix.Ino(n)
	case "name":
		x.Name, ok = d.str()
	case "nparent":
		var n uint64
		n, ok = d.uint(math.MaxUint64)
		x.NewParent = posix.Ino(n)
	case "nname":
		x.NewName, ok = d.str()
	case "len":
		x.Length, ok = d.uint(math.MaxUint64)
	case "mode":
		x.Mode, ok = d.uint32()
	case "uid":
		x.UID, ok = d.uint32()
	case "gid":
		x.GID, ok = d.uint32()
	case "nlink":
		x.Nlink, ok = d.uint32()
	case "xattr":
		x.Xattr, ok = d.str()
	case "path":
		x.Path, ok = d.str()
	case "npath":
		x.NewPath, ok = d.str()
	case "paths":
		x.Paths, ok = d.strs()
	case "fh":
		x.Handle, ok = d.bool()
	case "origin":
		o := &x.Origin
		ok = d.object(func(key []byte) bool {
			var ok bool
			switch string(key) {
			case "principal":
				o.Principal, ok = d.str()
			case "ip":
				o.SourceIP, ok = d.str()
			case "req":
				o.RequestID, ok = d.str()
			case "sess":
				o.Session, ok = d.uint(math.MaxUint64)
			case "agent":
				o.Agent, ok = d.str()
			case "s3op":
				o.Op, ok = d.str()
			}
			return ok
		})
	case "s3":
		if x.S3 == nil {
			x.S3 = &Publish{}
		}
		p := x.S3
		ok = d.object(func(key []byte) bool {
			var ok bool
			switch string(key) {
			case "ev":
				p.Event, ok = d.str()
			case "b":
				p.Bucket, ok = d.str()
			case "k":
				p.Key, ok = d.str()
			case "size":
				p.Size, ok = d.int()
			case "etag":
				p.ETag, ok = d.str()
			case "vid":
				p.VersionID, ok = d.str()
			}
			return ok
		})
	}
	return ok
}

func (d *recordDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (d *recordDecoder) str() (string, bool) {
	b, ok := d.raw()
	return string(b), ok
}

// raw reads a string of printable ASCII without escapes, as it is in b.
func (d *recordDecoder) raw() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			return d.b[start : d.i-1], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

func (d *recordDecoder) strs() ([]string, bool) {
	if !d.byte('[') {
		return nil, false
	}
	out := []string{}
	if d.byte(']') {
		return out, true
	}
	for {
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if d.byte(']') {
			return out, true
		}
		if !d.byte(',') {
			return nil, false
		}
	}
}

// uint reads a number in JSON's form that is a whole number at most max.
func (d *recordDecoder) uint(max uint64) (uint64, bool) {
	start := d.i
	var n uint64
	for ; d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9'; d.i++ {
		c := uint64(d.b[d.i] - '0')
		if n > (max-c)/10 {
			return 0, false
		}
		n = n*10 + c
	}
	digits := d.i - start
	if digits == 0 || (digits > 1 && d.b[start] == '0') {
		return 0, false
	}
	// A fraction or an exponent: encoding/json's business.
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	return n, true
}

func (d *recordDecoder) uint32() (uint32, bool) {
	n, ok := d.uint(math.MaxUint32)
	return uint32(n), ok
}

func (d *recordDecoder) int() (int64, bool) {
	if d.byte('-') {
		n, ok := d.uint(1 << 63)
		if !ok || n == 0 {
			return 0, false // -0 left to encoding/json
		}
		return -int64(n-1) - 1, true
	}
	n, ok := d.uint(math.MaxInt64)
	return int64(n), ok
}

func (d *recordDecoder) bool() (bool, bool) {
	for _, w := range []string{"true", "false"} {
		if len(d.b)-d.i >= len(w) && string(d.b[d.i:d.i+len(w)]) == w {
			d.i += len(w)
			return w == "true", true
		}
	}
	return false, false
}

// appendJSON appends r as marshalSlow encodes it, without encoding/json's
// reflection; false, leaving b as it was, for a record with a name that
// is not UTF-8 (stored base64) or with Extra.
func (r *Record) appendJSON(b []byte) ([]byte, bool) {
	if len(r.Extra) > 0 || !utf8.ValidString(r.Name) || !utf8.ValidString(r.NewName) || !utf8.ValidString(r.Xattr) {
		return b, false
	}
	num := func(name string, n uint64) {
		if n != 0 {
			b = strconv.AppendUint(append(b, `,"`+name+`":`...), n, 10)
		}
	}
	str := func(name, s string) {
		if s != "" {
			b = AppendJSONString(append(b, `,"`+name+`":`...), s)
		}
	}
	b = strconv.AppendUint(append(b, `{"seq":`...), r.Seq, 10)
	b = strconv.AppendInt(append(b, `,"t":`...), r.Time, 10)
	b = AppendJSONString(append(b, `,"op":`...), string(r.Op))
	b = strconv.AppendUint(append(b, `,"ino":`...), uint64(r.Ino), 10)
	num("type", uint64(r.Type))
	num("parent", uint64(r.Parent))
	str("name", r.Name)
	num("nparent", uint64(r.NewParent))
	str("nname", r.NewName)
	num("len", r.Length)
	num("mode", uint64(r.Mode))
	num("uid", uint64(r.UID))
	num("gid", uint64(r.GID))
	num("nlink", uint64(r.Nlink))
	str("xattr", r.Xattr)
	str("path", r.Path)
	str("npath", r.NewPath)
	if len(r.Paths) > 0 {
		b = append(b, `,"paths":[`...)
		for i, p := range r.Paths {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, p)
		}
		b = append(b, ']')
	}
	if r.Handle {
		b = append(b, `,"fh":true`...)
	}
	// The nested objects: their first field goes without a comma.
	o := &r.Origin
	b = append(b, `,"origin":{`...)
	n := len(b)
	str("principal", o.Principal)
	str("ip", o.SourceIP)
	str("req", o.RequestID)
	num("sess", o.Session)
	str("agent", o.Agent)
	str("s3op", o.Op)
	if len(b) > n {
		b = append(b[:n], b[n+1:]...) // the first field's comma
	}
	b = append(b, '}')
	if p := r.S3; p != nil {
		b = AppendJSONString(append(b, `,"s3":{"ev":`...), p.Event)
		b = AppendJSONString(append(b, `,"b":`...), p.Bucket)
		str("k", p.Key)
		if p.Size != 0 {
			b = strconv.AppendInt(append(b, `,"size":`...), p.Size, 10)
		}
		str("etag", p.ETag)
		str("vid", p.VersionID)
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// AppendJSONString appends s as a JSON string the way encoding/json
// writes it (for documents made of feed records' fields): HTML's <, >
// and & escaped, and each byte of invalid UTF-8 as U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
