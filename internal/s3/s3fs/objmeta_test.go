package s3fs

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func sampleMetas() []objMeta {
	return []objMeta{
		{},
		{ETag: "93b885adfe0da089cdf634904fd59f71", Size: 1, Mtime: 1796037950562458207},
		{ETag: "abc-3", ContentType: "text/plain", UserMeta: map[string]string{"k": "v\"}", "ü": ""}, Headers: map[string]string{"Cache-Control": "no"},
			Checksums: Checksums{CRC32: "AAAA", Type: "COMPOSITE"}, Parts: 3, PartSizes: []int64{5, 5, 1}, PartChecksums: []Checksums{{CRC32: "a"}, {}, {SHA256: "z"}},
			Size: 11, Mtime: -5, Tags: []Tag{{Key: "a", Value: "b"}, {Key: "c"}}},
		{ETag: "d41d8cd98f00b204e9800998ecf8427e", DirMarker: true, Mtime: 1},
		{VersionID: "null", DeleteMarker: true, Mtime: 7},
		{ETag: "x", VersionID: "f9b5a1c2d3e4f5a600112233", LockMode: "GOVERNANCE", LockUntil: 1 << 62, LegalHold: true, HoldSet: true},
		{ETag: "y", ACL: &ACL{Owner: 1 << 31, Grants: []Grant{{UID: 1 << 31, Permission: PermFullControl}, {Group: GroupAllUsers, Permission: PermRead}}}},
		{ETag: "z", ACL: &ACL{Owner: 7}},
	}
}

// TestObjMetaRoundTrip: what encode writes, decodeObjMeta reads back
// whole, and listings read the same prefix; JSON stored by earlier
// versions is still read.
func TestObjMetaRoundTrip(t *testing.T) {
	for i, m := range sampleMetas() {
		b := m.encode()
		got, err := decodeObjMeta(b)
		if err != nil || !reflect.DeepEqual(*got, m) {
			t.Fatalf("case %d: %+v %v, want %+v", i, got, err, m)
		}
		var f FS
		lm, ok := f.listMeta(1, b)
		if m.ETag != "" && (!ok || lm.etag != quoteETag(m.ETag) || lm.size != m.Size || lm.mtime != m.Mtime || lm.dir != m.DirMarker || lm.vid != m.VersionID) {
			t.Fatalf("case %d: listing prefix %+v %v", i, lm, ok)
		}
		js, _ := json.Marshal(m)
		old, err := decodeObjMeta(js)
		if err != nil || !bytes.Equal(old.encode(), b) {
			t.Fatalf("case %d: JSON read back as %+v %v", i, old, err)
		}
	}
}

// FuzzObjMeta: no input makes the decoder fail other than by an error,
// and whatever decodes encodes to a form that decodes to the same.
func FuzzObjMeta(f *testing.F) {
	for _, m := range sampleMetas() {
		f.Add(m.encode())
	}
	f.Add([]byte{metaMagic, metaVersion, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != metaMagic {
			return // JSON is encoding/json's
		}
		m, err := decodeObjMeta(b)
		if err != nil {
			return
		}
		e := m.encode()
		m2, err := decodeObjMeta(e)
		if err != nil || !bytes.Equal(m2.encode(), e) {
			t.Fatalf("%x decodes to %+v, which does not round-trip: %v", b, m, err)
		}
		var fs FS
		if lm, ok := fs.listMeta(1, b); ok && (lm.size != m.Size || lm.mtime != m.Mtime || lm.etag != quoteETag(m.ETag)) {
			t.Fatalf("listing prefix %+v disagrees with %+v", lm, m)
		}
	})
}
