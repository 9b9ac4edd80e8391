package notify

import (
	"bytes"
	"encoding/json"
	"testing"

	"cairn/internal/meta"
)

// envelope is MinIO's document around a record, as encoding/json writes
// it: what Message.Body must be to the byte.
type envelope struct {
	EventName string   `json:"EventName"`
	Key       string   `json:"Key"`
	Records   []Record `json:"Records"`
}

// checkMessage builds the message of a publish record from these fields
// and compares its documents with encoding/json's encoding of the same.
func checkMessage(t *testing.T, principal, ip, req, agent, bucket, key, etag, vid, rule string, size int64, sess uint64) {
	r := &meta.Record{Seq: 0xabc, Time: 1_700_000_000_123_000_000, Op: meta.OpPublish, UID: 7,
		Origin: meta.Origin{Principal: principal, SourceIP: ip, RequestID: req, Agent: agent, Session: sess},
		S3:     &meta.Publish{Event: "ObjectCreated:Put", Bucket: bucket, Key: key, Size: size, ETag: etag, VersionID: vid}}
	m, err := NewMessage(r, "us-east-1", rule)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := newRecord(r, "us-east-1", rule)
	if !json.Valid(m.Body) {
		t.Fatalf("not JSON: %q", m.Body)
	}
	want, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Record, want) {
		t.Fatalf("record\n%s\nencoding/json:\n%s", m.Record, want)
	}
	wantBody, _ := json.Marshal(envelope{EventName: "s3:" + m.Event, Key: m.Path, Records: []Record{rec}})
	if !bytes.Equal(m.Body, wantBody) {
		t.Fatalf("body\n%s\nencoding/json:\n%s", m.Body, wantBody)
	}
	wantDoc, _ := json.Marshal(struct{ Records []Record }{[]Record{rec}})
	if !bytes.Equal(m.Doc, wantDoc) {
		t.Fatalf("doc\n%s\nencoding/json:\n%s", m.Doc, wantDoc)
	}
}

// TestRecordJSON: messages are encoded as encoding/json encodes them,
// escapes and omitted fields included.
func TestRecordJSON(t *testing.T) {
	for _, c := range [][]string{
		{"ak", "10.0.0.9", "REQ", "s3", "b", "a dir/x+y.jpg", "e", "v1", "rule"},
		{"", "", "", "fuse", "b", "k", "", "", ""},
		{"", "", "", "", "b", "", "", "", ""},
		{"\"q\\\x00\x1f\b\f\n\r\t", "<>&", "\u2028\u2029", "\xff\xfe", "b\x80", "ü/€/😀", "\"e\"", "\xc3", "r\u007f"},
	} {
		for _, size := range []int64{0, -1, 1 << 40} {
			checkMessage(t, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], size, uint64(size&7))
		}
	}
}

func FuzzRecordJSON(f *testing.F) {
	f.Add("ak", "10.0.0.9", "REQ", "s3", "b", "a dir/x+y.jpg", "e", "v1", "rule", int64(5), uint64(0))
	f.Add("\"<&>\u2028", "\xff", "\x00", "", "b", "\xe2\x80", "", "", "", int64(0), uint64(9))
	f.Fuzz(func(t *testing.T, principal, ip, req, agent, bucket, key, etag, vid, rule string, size int64, sess uint64) {
		checkMessage(t, principal, ip, req, agent, bucket, key, etag, vid, rule, size, sess)
	})
}

func BenchmarkNewMessage(b *testing.B) {
	r := &meta.Record{Seq: 0x1f, Time: 1_700_000_000_123_000_000, Op: meta.OpPublish,
		Origin: meta.Origin{Principal: "ak", SourceIP: "10.0.0.9", RequestID: "18A2B3C4D5E6F708", Agent: "s3"},
		S3:     &meta.Publish{Event: "ObjectCreated:Put", Bucket: "bench", Key: "dir/obj.rnd", Size: 4096, ETag: "0123456789abcdef0123456789abcdef"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewMessage(r, "us-east-1", "hook"); err != nil {
			b.Fatal(err)
		}
	}
}
