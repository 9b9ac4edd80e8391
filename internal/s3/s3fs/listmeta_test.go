package s3fs

import (
	"encoding/json"
	"strings"
	"testing"
)

// listView is what encoding/json makes of the members listFields reads.
type listView struct {
	ETag  *string `json:"etag"`
	Size  uint64  `json:"sz"`
	Mtime int64   `json:"mt"`
	Dir   bool    `json:"dir"`
	VID   string  `json:"vid"`
}

func checkListFields(t *testing.T, b []byte) {
	lm, ok := listFields(b)
	if !ok {
		return
	}
	var v listView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("listFields answered for %q, which encoding/json rejects: %v", b, err)
	}
	if v.ETag == nil || lm.etag != quoteETag(*v.ETag) || lm.size != v.Size || lm.mtime != v.Mtime || lm.dir != v.Dir || lm.vid != v.VID {
		t.Fatalf("listFields(%q) = %+v, encoding/json: %+v (etag %v)", b, lm, v, v.ETag)
	}
}

func listMetaSeeds() [][]byte {
	var seeds [][]byte
	for _, m := range []objMeta{
		{ETag: "93b885adfe0da089cdf634904fd59f71", Size: 1, Mtime: 1796037950562458207},
		{ETag: "abc-3", ContentType: "text/plain", UserMeta: map[string]string{"k": "v\"}"}, Headers: map[string]string{"Cache-Control": "no"},
			Checksums: Checksums{CRC32: "AAAA", Type: "COMPOSITE"}, Parts: 3, PartSizes: []int64{5, 5, 1}, Size: 11, Mtime: -5},
		{ETag: "d41d8cd98f00b204e9800998ecf8427e", DirMarker: true, Mtime: 1},
		{ETag: "93b885adfe0da089cdf634904fd59f71", Size: 1, Mtime: 2, VersionID: "f9b5a1c2d3e4f5a600112233"},
		{ETag: "93b885adfe0da089cdf634904fd59f71", VersionID: NullVersion, DeleteMarker: true},
	} {
		b, _ := json.Marshal(m)
		seeds = append(seeds, b)
	}
	return append(seeds,
		[]byte(`{"etag":"x","sz":1.5,"mt":1}`),
		[]byte(`{"ETag":"x","sz":1,"mt":1}`),
		[]byte(`{"etag":"x\u0041","sz":1,"mt":1}`),
		[]byte(` { "etag" : "x" , "sz" : 18446744073709551615 , "mt" : -9223372036854775808 , "dir" : false } `),
		[]byte(`{"etag":"x","sz":18446744073709551616}`),
		[]byte(`{"etag":"x","mt":9223372036854775808}`),
		[]byte(`{"sz":1}`),
		[]byte(`{"etag":"a","etag":"b","x":[{"}":"]"},[]],"y":null}`),
		[]byte(`{"etag":"a"`),
		[]byte(`{"etag":"a","vid":"x\"y"}`),
		[]byte(`{"etag":"a","vid":"v","vid":"w"}`),
		[]byte(`[]`),
	)
}

func TestListFields(t *testing.T) {
	for _, b := range listMetaSeeds() {
		checkListFields(t, b)
	}
	// What json.Marshal writes is read by the fast path.
	for _, b := range listMetaSeeds()[:3] {
		if _, ok := listFields(b); !ok {
			t.Errorf("listFields(%s) fell back to encoding/json", b)
		}
	}
	lm, ok := listFields([]byte(` { "etag" : "x" , "sz" : 18446744073709551615 , "mt" : -9223372036854775808 , "dir" : false } `))
	if !ok || lm.etag != `"x"` || lm.size != 1<<64-1 || lm.mtime != -1<<63 {
		t.Errorf("spaced record: %+v %v", lm, ok)
	}
	for _, bad := range []string{`{"etag":"x","sz":1.5}`, `{"ETag":"x"}`, `{"sz":1}`, `{"etag":"x","mt":9223372036854775808}`, `{"etag":"a"`, `{"etag":"x\"y"}`} {
		if lm, ok := listFields([]byte(bad)); ok {
			t.Errorf("listFields(%s) = %+v, want a fallback", bad, lm)
		}
	}
}

func FuzzListFields(f *testing.F) {
	for _, b := range listMetaSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkListFields(t, b) })
}

func TestValidJSON(t *testing.T) {
	deep := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	for _, s := range []string{``, ` `, `{}`, `[]`, `{"a":[1,-0.5e+3,true,false,null,"x\u00e9\n"]}`, `{"a":}`, `{,}`, `[1,]`, `01`, `-`, `1.`, `1e`,
		`"\x"`, "\"\x01\"", `"\u12g4"`, `{"a" 1}`, `{"a":1`, `[1 2]`, `tru`, `nul`, `{} {}`, " \t\r\n{}\n", deep, "[" + deep + "]",
		`{"a":{"b":{}},"c":[[],{}]}`, `"\ud800"`, "\"\xff\""} {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.40q) = %v, json.Valid %v", s, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, b := range listMetaSeeds() {
		f.Add(b)
	}
	f.Add([]byte(`[1,-0.5e+3,true,false,null,"x\u00e9\n",{"a":[]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", b, got, want)
		}
	})
}
