package notify

import (
	"encoding/json"
	"testing"

	"cairn/internal/meta"
)

// TestNewMessage: the webhook body is MinIO's envelope around one AWS
// record, and Doc the same record in AWS's form alone.
func TestNewMessage(t *testing.T) {
	r := &meta.Record{Seq: 0x1f, Time: 1_700_000_000_123_000_000, Op: meta.OpPublish,
		Origin: meta.Origin{Principal: "ak", SourceIP: "10.0.0.9", RequestID: "REQ", Agent: "s3"},
		S3:     &meta.Publish{Event: "ObjectCreated:Put", Bucket: "b", Key: "a dir/x+y.jpg", Size: 7, ETag: "e", VersionID: "v1"}}
	m, err := NewMessage(r, "eu-central-1", "rule")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		EventName, Key string
		Records        []Record
	}
	if err := json.Unmarshal(m.Body, &body); err != nil {
		t.Fatalf("%s: %v", m.Body, err)
	}
	var doc struct{ Records []Record }
	if err := json.Unmarshal(m.Doc, &doc); err != nil {
		t.Fatalf("%s: %v", m.Doc, err)
	}
	rec := body.Records[0]
	if body.EventName != "s3:ObjectCreated:Put" || body.Key != "b/a dir/x+y.jpg" || m.Path != body.Key || len(body.Records) != 1 || len(doc.Records) != 1 {
		t.Fatalf("envelope %s", m.Body)
	}
	if rec.EventName != "ObjectCreated:Put" || rec.AWSRegion != "eu-central-1" || rec.EventTime != "2023-11-14T22:13:20.123Z" ||
		rec.S3.Object.Key != "a+dir/x%2By.jpg" || rec.S3.Object.Sequencer != "000000000000001F" || rec.S3.Object.VersionID != "v1" ||
		rec.S3.ConfigurationID != "rule" || rec.UserIdentity.PrincipalID != "ak" || rec.RequestParameters.SourceIPAddress != "10.0.0.9" ||
		rec.ResponseElements.RequestID != "REQ" || rec.S3.Bucket.ARN != "arn:aws:s3:::b" {
		t.Fatalf("record %+v", rec)
	}
	if doc.Records[0].S3.Object.Key != rec.S3.Object.Key {
		t.Fatalf("doc %s", m.Doc)
	}
	if m.Removal() {
		t.Fatal("a creation taken for a removal")
	}
}
