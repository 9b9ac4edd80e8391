package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cairn/internal/meta"
)

// Message is what a target receives: one event record in AWS's schema,
// wrapped as AWS sends them ({"Records": [...]}), and what it needs to
// file it.
type Message struct {
	Seq    uint64 // the change feed's sequence number of the event
	Event  string // "ObjectCreated:Put"
	Bucket string
	Key    string // as stored, not encoded
	Time   time.Time
	// Path is "bucket/key" ("bucket" for a bucket's event): the entry a
	// namespace-format target keeps.
	Path string
	// Body is the JSON document {"EventName": …, "Key": …, "Records": [record]}
	// (MinIO's form, which AWS's consumers read as {"Records": …}).
	Body []byte
	// Doc is AWS's form alone: {"Records": [record]}.
	Doc []byte
	// Record is the event record itself, in AWS's schema.
	Record json.RawMessage
}

// Removal reports whether the event removes its object (namespace-format
// targets delete their entry).
func (m *Message) Removal() bool {
	return strings.HasPrefix(m.Event, "ObjectRemoved:") || strings.HasPrefix(m.Event, "LifecycleExpiration:")
}

// Record is one event record in AWS's S3 event schema.
type Record struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      identity          `json:"userIdentity"`
	RequestParameters RequestParameters `json:"requestParameters"`
	ResponseElements  ResponseElements  `json:"responseElements"`
	S3                s3Entity          `json:"s3"`
	Source            *source           `json:"source,omitempty"`
}

// RequestParameters are the request's fields a record carries.
type RequestParameters struct {
	SourceIPAddress string `json:"sourceIPAddress"`
}

// ResponseElements are the response's fields a record carries.
type ResponseElements struct {
	ID2       string `json:"x-amz-id-2"`
	RequestID string `json:"x-amz-request-id"`
}

type identity struct {
	PrincipalID string `json:"principalId"`
}

type s3Entity struct {
	SchemaVersion   string       `json:"s3SchemaVersion"`
	ConfigurationID string       `json:"configurationId"`
	Bucket          bucketEntity `json:"bucket"`
	Object          objectEntity `json:"object"`
}

type bucketEntity struct {
	Name          string   `json:"name"`
	OwnerIdentity identity `json:"ownerIdentity"`
	ARN           string   `json:"arn"`
}

type objectEntity struct {
	Key       string `json:"key"`
	Size      int64  `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

// source says where a change came from beyond AWS's fields: the agent
// (s3, fuse, lifecycle) and the S3 operation (as MinIO's "source").
type source struct {
	Host      string `json:"host,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	Agent     string `json:"agent,omitempty"`
	Session   uint64 `json:"session,omitempty"`
}

// NewMessage builds the message of publish record r for the rule with id
// ruleID, in region.
func NewMessage(r *meta.Record, region, ruleID string) (Message, error) {
	p := r.S3
	rec, t := newRecord(r, region, ruleID)
	path := p.Bucket
	if p.Key != "" {
		path += "/" + p.Key
	}
	// Every message is encoded here: by hand, in encoding/json's form to
	// the byte (TestRecordJSON), at a fraction of its cost.
	one := rec.appendJSON(make([]byte, 0, 640))
	body := append(make([]byte, 0, len(one)+2*len(path)+64), `{"EventName":`...)
	body = meta.AppendJSONString(body, "s3:"+p.Event)
	body = append(body, `,"Key":`...)
	body = meta.AppendJSONString(body, path)
	body = append(append(append(body, `,"Records":[`...), one...), ']', '}')
	doc := append(append([]byte(`{"Records":[`), one...), ']', '}')
	return Message{Seq: r.Seq, Event: p.Event, Bucket: p.Bucket, Key: p.Key, Path: path, Time: t, Body: body, Doc: doc, Record: one}, nil
}

// newRecord returns the event record of publish record r, and its time.
func newRecord(r *meta.Record, region, ruleID string) (Record, time.Time) {
	p := r.S3
	t := time.Unix(0, r.Time).UTC()
	principal := r.Origin.Principal
	if principal == "" && r.Origin.Agent == "fuse" {
		principal = fmt.Sprintf("uid:%d", r.UID)
	}
	rec := Record{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: region,
		EventTime:         t.Format("2006-01-02T15:04:05.000Z"),
		EventName:         p.Event,
		UserIdentity:      identity{PrincipalID: principal},
		RequestParameters: RequestParameters{SourceIPAddress: r.Origin.SourceIP},
		ResponseElements:  ResponseElements{RequestID: r.Origin.RequestID, ID2: r.Origin.RequestID},
		S3: s3Entity{
			SchemaVersion: "1.0", ConfigurationID: ruleID,
			Bucket: bucketEntity{Name: p.Bucket, ARN: "arn:aws:s3:::" + p.Bucket},
			Object: objectEntity{Key: EncodeKey(p.Key), Size: p.Size, ETag: p.ETag, VersionID: p.VersionID,
				Sequencer: fmt.Sprintf("%016X", r.Seq)},
		},
	}
	if r.Origin.Agent != "" || r.Origin.Session != 0 {
		rec.Source = &source{Host: r.Origin.SourceIP, Agent: r.Origin.Agent, Session: r.Origin.Session}
	}
	return rec, t
}
