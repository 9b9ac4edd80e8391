package s3fs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"unsafe"
)

// unsafeString returns b as a string without copying; b must not change
// afterwards.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Object metadata encoding. An object's S3 metadata (objMeta) is stored
// in a versioned binary form: a magic byte no JSON document starts with,
// the format version, then a fixed prefix that listings read alone (flags,
// size, mtime, ETag, version id) and after it the rest (content type,
// user metadata, headers, checksums, parts, tags, lock, and an optional
// tail: the ACL). Strings and lists carry their lengths as uvarints; maps
// are written in key order, so that one objMeta has one encoding. Fields
// added later go at the end, as optional tails or under a new version.
// Metadata stored as JSON by earlier versions of cairn is still read
// (decodeObjMeta, listMeta).

const (
	metaMagic   = 0xC3
	metaVersion = 1
)

const (
	metaDir = 1 << iota
	metaDeleteMarker
	metaLegalHold
	metaHoldSet
	metaFolded
	metaMarkerData
)

var errMetaFormat = errors.New("s3fs: malformed object metadata")

// maxMetaItems bounds the counts a decoder accepts (parts are at most
// 10,000; tags, metadata and headers far fewer), so that no input makes
// it allocate much.
const maxMetaItems = 10000

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(appendString(b, k), m[k])
	}
	return b
}

func appendChecksums(b []byte, c Checksums) []byte {
	for _, s := range []string{c.CRC32, c.CRC32C, c.CRC64NVME, c.SHA1, c.SHA256, c.Type} {
		b = appendString(b, s)
	}
	return b
}

// encode returns m's binary form.
func (m *objMeta) encode() []byte {
	b := make([]byte, 0, 96+len(m.ETag)+len(m.ContentType))
	b = append(b, metaMagic, metaVersion)
	var flags byte
	for bit, on := range map[byte]bool{metaDir: m.DirMarker, metaDeleteMarker: m.DeleteMarker, metaLegalHold: m.LegalHold, metaHoldSet: m.HoldSet, metaFolded: m.Folded, metaMarkerData: m.MarkerData} {
		if on {
			flags |= bit
		}
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, m.Size)
	b = binary.AppendVarint(b, m.Mtime)
	b = appendString(b, m.ETag)
	b = appendString(b, m.VersionID)
	// The rest.
	b = appendString(b, m.ContentType)
	b = appendMap(b, m.UserMeta)
	b = appendMap(b, m.Headers)
	b = appendChecksums(b, m.Checksums)
	b = binary.AppendUvarint(b, uint64(m.Parts))
	b = binary.AppendUvarint(b, uint64(len(m.PartSizes)))
	for _, s := range m.PartSizes {
		b = binary.AppendVarint(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(m.PartChecksums)))
	for _, c := range m.PartChecksums {
		b = appendChecksums(b, c)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Tags)))
	for _, t := range m.Tags {
		b = appendString(appendString(b, t.Key), t.Value)
	}
	b = appendString(b, m.LockMode)
	b = binary.AppendVarint(b, m.LockUntil)
	// Optional tail: the ACL, when the object has one of its own.
	if a := m.ACL; a != nil {
		b = binary.AppendUvarint(b, uint64(a.Owner))
		b = binary.AppendUvarint(b, uint64(len(a.Grants)))
		for _, g := range a.Grants {
			b = binary.AppendUvarint(b, uint64(g.UID))
			b = appendString(appendString(b, g.Group), g.Permission)
		}
	}
	return b
}

// metaReader decodes the binary form, failing once on the first error.
type metaReader struct {
	b   []byte
	err error
}

func (r *metaReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errMetaFormat
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errMetaFormat
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) count() int {
	n := r.uvarint()
	if n > maxMetaItems || n > uint64(len(r.b)) {
		r.err = errMetaFormat
		return 0
	}
	return int(n)
}

func (r *metaReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errMetaFormat
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *metaReader) strMap() map[string]string {
	n := r.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for i := 0; i < n && r.err == nil; i++ {
		k := r.str()
		m[k] = r.str()
	}
	return m
}

func (r *metaReader) checksums() Checksums {
	return Checksums{CRC32: r.str(), CRC32C: r.str(), CRC64NVME: r.str(), SHA1: r.str(), SHA256: r.str(), Type: r.str()}
}

func (r *metaReader) acl() *ACL {
	a := &ACL{Owner: r.uid()}
	if n := r.count(); n > 0 {
		a.Grants = make([]Grant, n)
		for i := range a.Grants {
			a.Grants[i] = Grant{UID: r.uid(), Group: r.str(), Permission: r.str()}
		}
	}
	return a
}

func (r *metaReader) uid() uint32 {
	v := r.uvarint()
	if v > 1<<32-1 {
		r.err = errMetaFormat
	}
	return uint32(v)
}

// prefix reads the fixed prefix into m; it returns the reader at the
// rest.
func readMetaPrefix(b []byte, m *objMeta) (*metaReader, error) {
	if len(b) < 3 || b[0] != metaMagic || b[1] != metaVersion {
		return nil, errMetaFormat
	}
	flags := b[2]
	m.DirMarker, m.DeleteMarker = flags&metaDir != 0, flags&metaDeleteMarker != 0
	m.LegalHold, m.HoldSet = flags&metaLegalHold != 0, flags&metaHoldSet != 0
	m.Folded, m.MarkerData = flags&metaFolded != 0, flags&metaMarkerData != 0
	r := &metaReader{b: b[3:]}
	m.Size = r.uvarint()
	m.Mtime = r.varint()
	m.ETag = r.str()
	m.VersionID = r.str()
	return r, r.err
}

// decodeObjMeta decodes stored object metadata: the binary form, or the
// JSON of earlier versions.
func decodeObjMeta(b []byte) (*objMeta, error) {
	var m objMeta
	if len(b) > 0 && b[0] != metaMagic {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		return &m, nil
	}
	r, err := readMetaPrefix(b, &m)
	if err != nil {
		return nil, err
	}
	m.ContentType = r.str()
	m.UserMeta = r.strMap()
	m.Headers = r.strMap()
	m.Checksums = r.checksums()
	if parts := r.uvarint(); parts > maxMetaItems {
		r.err = errMetaFormat
	} else {
		m.Parts = int(parts)
	}
	if n := r.count(); n > 0 {
		m.PartSizes = make([]int64, n)
		for i := range m.PartSizes {
			m.PartSizes[i] = r.varint()
		}
	}
	if n := r.count(); n > 0 {
		m.PartChecksums = make([]Checksums, n)
		for i := range m.PartChecksums {
			m.PartChecksums[i] = r.checksums()
		}
	}
	if n := r.count(); n > 0 {
		m.Tags = make([]Tag, n)
		for i := range m.Tags {
			m.Tags[i] = Tag{Key: r.str(), Value: r.str()}
		}
	}
	m.LockMode = r.str()
	m.LockUntil = r.varint()
	if r.err == nil && len(r.b) > 0 {
		m.ACL = r.acl()
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errMetaFormat
	}
	if r.err != nil {
		return nil, r.err
	}
	return &m, nil
}

// listPrefix reads what a listing takes from the binary form's prefix,
// with one allocation for the quoted ETag (and one for a version id);
// ok is false for a malformed prefix or one without an ETag.
func listPrefix(b []byte) (lm listMeta, ok bool) {
	if len(b) < 3 || b[0] != metaMagic || b[1] != metaVersion {
		return lm, false
	}
	lm.dir = b[2]&metaDir != 0
	r := metaReader{b: b[3:]}
	lm.size = r.uvarint()
	lm.mtime = r.varint()
	n := r.uvarint()
	if r.err != nil || n == 0 || n > uint64(len(r.b)) {
		return listMeta{}, false
	}
	q := make([]byte, n+2)
	q[0], q[n+1] = '"', '"'
	copy(q[1:], r.b[:n])
	lm.etag = unsafeString(q)
	r.b = r.b[n:]
	if v := r.uvarint(); r.err != nil || v > uint64(len(r.b)) {
		return listMeta{}, false
	} else if v > 0 {
		lm.vid = string(r.b[:v])
	}
	return lm, true
}
