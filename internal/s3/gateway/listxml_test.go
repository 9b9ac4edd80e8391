package gateway

import (
	"bytes"
	"encoding/xml"
	"math/rand"
	"net/http"
	"testing"
	"time"
)

// randText mixes plain keys with every character class xml escaping
// treats specially, invalid UTF-8 included.
func randText(r *rand.Rand) string {
	parts := []string{"a", "photos/2026/", "ü", "€", "&", "<", ">", "'", `"`, "\t", "\n", "\r", "\x01", "\xff", "\xe2\x82", " ", "日本", "%20", "]]>"}
	var b []byte
	for n := r.Intn(6); n > 0; n-- {
		b = append(b, parts[r.Intn(len(parts))]...)
	}
	return string(b)
}

func randListing(r *rand.Rand) listBucketResult {
	opt := func(s string) string {
		if r.Intn(2) == 0 {
			return ""
		}
		return s
	}
	res := listBucketResult{NS: s3NS, Name: randText(r), Prefix: randText(r), NextMarker: opt(randText(r)),
		StartAfter: opt(randText(r)), ContinuationToken: opt(randText(r)), NextContinuationToken: opt(randText(r)),
		MaxKeys: r.Intn(2000) - 1, Delimiter: opt(randText(r)), EncodingType: opt("url"), IsTruncated: r.Intn(2) == 0}
	if r.Intn(2) == 0 {
		m := randText(r)
		res.Marker = &m
	}
	if r.Intn(2) == 0 {
		n := r.Intn(1000)
		res.KeyCount = &n
	}
	for n := r.Intn(5); n > 0; n-- {
		o := objectElem{Key: randText(r), LastModified: "2026-11-24T20:00:00.000Z", ETag: `"` + randText(r) + `"`, Size: r.Int63() - r.Int63(), StorageClass: "STANDARD"}
		if r.Intn(2) == 0 {
			o.Owner = &owner{ID: randText(r), DisplayName: randText(r)}
		}
		res.Contents = append(res.Contents, o)
	}
	for n := r.Intn(3); n > 0; n-- {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixElem{Prefix: randText(r)})
	}
	return res
}

// TestListXMLMatchesEncodingXML: the hand-written listing encoder writes
// byte for byte what xml.Marshal writes.
func TestListXMLMatchesEncodingXML(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		res := randListing(r)
		want, err := xml.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.appendXML(nil); !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestVersionsXMLMatchesEncodingXML: the same for version listings.
func TestVersionsXMLMatchesEncodingXML(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 5000; i++ {
		l := randListing(r)
		res := listVersionsResult{NS: s3NS, Name: l.Name, Prefix: l.Prefix, KeyMarker: randText(r), VersionIDMarker: randText(r),
			NextKeyMarker: l.NextMarker, NextVersionIDMarker: l.StartAfter, MaxKeys: l.MaxKeys, Delimiter: l.Delimiter,
			EncodingType: l.EncodingType, IsTruncated: l.IsTruncated, CommonPrefixes: l.CommonPrefixes}
		for n := r.Intn(6); n > 0; n-- {
			o := owner{ID: randText(r), DisplayName: randText(r)}
			if r.Intn(3) == 0 {
				res.Entries = append(res.Entries, deleteMarkerElem{Key: randText(r), VersionID: randText(r), IsLatest: r.Intn(2) == 0,
					LastModified: "2026-12-06T20:00:00.000Z", Owner: o})
			} else {
				res.Entries = append(res.Entries, versionElem{Key: randText(r), VersionID: randText(r), IsLatest: r.Intn(2) == 0,
					LastModified: "2026-12-06T20:00:00.000Z", ETag: `"` + randText(r) + `"`, Size: r.Int63() - r.Int63(), StorageClass: "STANDARD", Owner: o})
			}
		}
		want, err := xml.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.appendXML(nil); !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzListXML(f *testing.F) {
	f.Add("key", "prefix", int64(5))
	f.Add("a&b<c>\xff", "\x01\t", int64(-1))
	f.Fuzz(func(t *testing.T, key, prefix string, size int64) {
		res := listBucketResult{NS: s3NS, Name: prefix, Prefix: prefix, Delimiter: key,
			Contents:       []objectElem{{Key: key, ETag: key, Size: size, Owner: &owner{ID: key}}},
			CommonPrefixes: []prefixElem{{Prefix: prefix}}}
		want, err := xml.Marshal(res)
		if err != nil {
			t.Skip()
		}
		if got := res.appendXML(nil); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

func TestISOTime(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	times := []time.Time{{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 30, 11, 22, 29, 410_000_000, time.FixedZone("x", 5*3600+1800))}
	for i := 0; i < 10000; i++ {
		times = append(times, time.Unix(0, r.Int63()-r.Int63()).In(time.FixedZone("y", r.Intn(48*3600)-24*3600)))
	}
	for _, tm := range times {
		if got, want := isoTime(tm), tm.UTC().Format(isoLayout); got != want {
			t.Fatalf("isoTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

// encoding-type=url percent-encodes (a space is %20, "+" is %2B) and
// keeps slashes; aws-chunked leaves Content-Encoding, which otherwise
// stays as the client wrote it.
func TestURLEncodingAndContentEncoding(t *testing.T) {
	p := listParams{encoding: "url"}
	for in, want := range map[string]string{"quux ab/": "quux%20ab/", "foo+1/": "foo%2B1/", "a/b c+d": "a/b%20c%2Bd", "\n": "%0A"} {
		if got := p.enc(in); got != want {
			t.Errorf("enc(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"deflate, gzip": "deflate, gzip", "gzip,aws-chunked": "gzip", "aws-chunked, deflate,gzip": "deflate, gzip", "aws-chunked": "", "AWS-CHUNKED, aws-chunked": ""} {
		if got := stripAWSChunked(in); got != want {
			t.Errorf("stripAWSChunked(%q) = %q, want %q", in, got, want)
		}
	}
}

// x-amz-tagging's tags come out in one order, by key, whatever order the
// header gave them (a map would give any).
func TestHeaderTagsOrder(t *testing.T) {
	for range 20 {
		tags, err := headerTags(http.Header{"X-Amz-Tagging": {"foo=bar&bar&abc=1&zz=9"}})
		if err != nil || len(tags) != 4 || tags[0].Key != "abc" || tags[1].Key != "bar" || tags[2].Key != "foo" || tags[3].Key != "zz" {
			t.Fatalf("tags: %+v %v", tags, err)
		}
	}
}
