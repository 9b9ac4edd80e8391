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
	RequestParameters map[string]string `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	S3                s3Entity          `json:"s3"`
	Source            *source           `json:"source,omitempty"`
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

// envelope is the document a target receives.
type envelope struct {
	EventName string   `json:"EventName"`
	Key       string   `json:"Key"`
	Records   []Record `json:"Records"`
}

// NewMessage builds the message of publish record r for the rule with id
// ruleID, in region.
func NewMessage(r *meta.Record, region, ruleID string) (Message, error) {
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
		RequestParameters: map[string]string{"sourceIPAddress": r.Origin.SourceIP},
		ResponseElements:  map[string]string{"x-amz-request-id": r.Origin.RequestID, "x-amz-id-2": r.Origin.RequestID},
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
	path := p.Bucket
	if p.Key != "" {
		path += "/" + p.Key
	}
	one, err := json.Marshal(rec)
	if err != nil {
		return Message{}, err
	}
	head, err := json.Marshal(envelope{EventName: "s3:" + p.Event, Key: path})
	if err != nil {
		return Message{}, err
	}
	// head is {"EventName":…,"Key":…,"Records":null}: the record goes in
	// place of the null.
	body := append(append(append(head[:len(head)-len("null}")], '['), one...), ']', '}')
	doc := append(append([]byte(`{"Records":[`), one...), ']', '}')
	return Message{Seq: r.Seq, Event: p.Event, Bucket: p.Bucket, Key: p.Key, Path: path, Time: t, Body: body, Doc: doc, Record: one}, nil
}
