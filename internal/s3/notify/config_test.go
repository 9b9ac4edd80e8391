package notify

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func known(arn string) bool {
	return arn == "arn:minio:sqs::1:webhook" || arn == "arn:minio:sqs::r:redis"
}

func doc(rules string) []byte {
	return []byte(`<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + rules + `</NotificationConfiguration>`)
}

func TestParseXML(t *testing.T) {
	for _, tc := range []struct {
		name, rules string
		want        []Rule
		err         string // substring of a *ConfigError, or "malformed"
	}{
		{name: "empty (removes all)", rules: ``},
		{name: "queue with filters",
			rules: `<QueueConfiguration><Id>a</Id><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:*</Event>` +
				`<Filter><S3Key><FilterRule><Name>prefix</Name><Value>img/</Value></FilterRule><FilterRule><Name>Suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></QueueConfiguration>`,
			want: []Rule{{ID: "a", Kind: "Queue", ARN: "arn:minio:sqs::1:webhook", Events: []string{"s3:ObjectCreated:*"}, Prefix: "img/", Suffix: ".jpg"}}},
		{name: "topic and function, ids given",
			rules: `<TopicConfiguration><Topic>arn:minio:sqs::r:redis</Topic><Event>s3:ObjectRemoved:Delete</Event></TopicConfiguration>` +
				`<CloudFunctionConfiguration><CloudFunction>arn:minio:sqs::1:webhook</CloudFunction><Event>s3:ObjectAccessed:Get</Event></CloudFunctionConfiguration>`,
			want: []Rule{{ID: "rule-1", Kind: "Topic", ARN: "arn:minio:sqs::r:redis", Events: []string{"s3:ObjectRemoved:Delete"}},
				{ID: "rule-2", Kind: "CloudFunction", ARN: "arn:minio:sqs::1:webhook", Events: []string{"s3:ObjectAccessed:Get"}}}},
		{name: "region in the ARN", rules: `<QueueConfiguration><Queue>arn:minio:sqs:us-east-1:1:webhook</Queue><Event>s3:*</Event></QueueConfiguration>`,
			err: "no such target"},
		{name: "unknown ARN", rules: `<QueueConfiguration><Queue>arn:minio:sqs::9:webhook</Queue><Event>s3:ObjectCreated:Put</Event></QueueConfiguration>`, err: "no such target"},
		{name: "not an ARN", rules: `<QueueConfiguration><Queue>http://x</Queue><Event>s3:ObjectCreated:Put</Event></QueueConfiguration>`, err: "not well formed"},
		{name: "no ARN", rules: `<QueueConfiguration><Event>s3:ObjectCreated:Put</Event></QueueConfiguration>`, err: "must name"},
		{name: "unknown event", rules: `<QueueConfiguration><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectMelted:*</Event></QueueConfiguration>`, err: "not supported"},
		{name: "no event", rules: `<QueueConfiguration><Queue>arn:minio:sqs::1:webhook</Queue></QueueConfiguration>`, err: "at least one event"},
		{name: "two prefixes", rules: `<QueueConfiguration><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:Put</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>a</Value></FilterRule><FilterRule><Name>prefix</Name><Value>b</Value></FilterRule></S3Key></Filter></QueueConfiguration>`, err: "more than one prefix"},
		{name: "bad filter name", rules: `<QueueConfiguration><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:Put</Event><Filter><S3Key><FilterRule><Name>middle</Name><Value>a</Value></FilterRule></S3Key></Filter></QueueConfiguration>`, err: "prefix or suffix"},
		{name: "overlap", rules: `<QueueConfiguration><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>` +
			`<QueueConfiguration><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:Put</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>a/</Value></FilterRule></S3Key></Filter></QueueConfiguration>`, err: "overlap"},
		{name: "no overlap: disjoint prefixes", rules: `<QueueConfiguration><Id>x</Id><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>a/</Value></FilterRule></S3Key></Filter></QueueConfiguration>` +
			`<QueueConfiguration><Id>y</Id><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:Put</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>b/</Value></FilterRule></S3Key></Filter></QueueConfiguration>`,
			want: []Rule{{ID: "x", Kind: "Queue", ARN: "arn:minio:sqs::1:webhook", Events: []string{"s3:ObjectCreated:*"}, Prefix: "a/"},
				{ID: "y", Kind: "Queue", ARN: "arn:minio:sqs::1:webhook", Events: []string{"s3:ObjectCreated:Put"}, Prefix: "b/"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseXML(doc(tc.rules), known)
			if tc.err != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || !strings.Contains(ce.Msg, tc.err) {
					t.Fatalf("err %v, want a ConfigError with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Rules, tc.want) {
				t.Fatalf("rules\n got %+v\nwant %+v", c.Rules, tc.want)
			}
			// What GET answers reads back the same.
			b, err := c.XML()
			if err != nil {
				t.Fatal(err)
			}
			c2, err := ParseXML(b, known)
			if err != nil || !reflect.DeepEqual(c2.Rules, c.Rules) {
				t.Fatalf("round trip: %v\n%s\n%+v", err, b, c2)
			}
		})
	}
	if _, err := ParseXML([]byte("<NotificationConfiguration><QueueConfiguration>"), known); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated document: %v", err)
	}
}

func TestMatch(t *testing.T) {
	c, err := ParseXML(doc(
		`<QueueConfiguration><Id>img</Id><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>img/</Value></FilterRule><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></QueueConfiguration>`+
			`<QueueConfiguration><Id>del</Id><Queue>arn:minio:sqs::r:redis</Queue><Event>s3:ObjectRemoved:*</Event><Event>s3:ObjectAccessed:Head</Event></QueueConfiguration>`), known)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ev, key string
		want    []string
	}{
		{"ObjectCreated:Put", "img/a.jpg", []string{"arn:minio:sqs::1:webhook"}},
		{"ObjectCreated:CompleteMultipartUpload", "img/b/c.jpg", []string{"arn:minio:sqs::1:webhook"}},
		{"ObjectCreated:Put", "img/a.png", nil},
		{"ObjectCreated:Put", "doc/a.jpg", nil},
		{"ObjectRemoved:DeleteMarkerCreated", "img/a.jpg", []string{"arn:minio:sqs::r:redis"}},
		{"ObjectAccessed:Get", "x", nil},
		{"ObjectAccessed:Head", "x", []string{"arn:minio:sqs::r:redis"}},
	} {
		if got := c.Match(tc.ev, tc.key); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.ev, tc.key, got, tc.want)
		}
	}
	if r := c.ruleFor("ObjectCreated:Post", "img/x.jpg", "arn:minio:sqs:eu-west-1:1:webhook"); r == nil || r.ID != "img" {
		t.Errorf("ruleFor with a region in the target's ARN: %+v", r)
	}
	if !c.Wants("ObjectAccessed:") || c.Wants("ObjectTagging:") {
		t.Errorf("Wants: accessed %v tagging %v", c.Wants("ObjectAccessed:"), c.Wants("ObjectTagging:"))
	}
}

func TestEncodeKey(t *testing.T) {
	for in, want := range map[string]string{
		"a/b c.jpg":   "a/b+c.jpg",
		"x:y+z&q=1":   "x%3Ay%2Bz%26q%3D1",
		"ünï/cödé":    "%C3%BCn%C3%AF/c%C3%B6d%C3%A9",
		"plain/key-1": "plain/key-1",
	} {
		if got := EncodeKey(in); got != want {
			t.Errorf("EncodeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseXML(f *testing.F) {
	f.Add(doc(`<QueueConfiguration><Id>a</Id><Queue>arn:minio:sqs::1:webhook</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>img/</Value></FilterRule></S3Key></Filter></QueueConfiguration>`))
	f.Add(doc(`<TopicConfiguration><Topic>arn:minio:sqs::r:redis</Topic><Event>s3:*</Event></TopicConfiguration>`))
	f.Add([]byte(`<NotificationConfiguration/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseXML(b, known)
		if err != nil {
			return
		}
		// What is accepted is written back and read back the same.
		out, err := c.XML()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseXML(out, known)
		if err != nil {
			t.Fatalf("re-reading %s: %v", out, err)
		}
		if !reflect.DeepEqual(c.Rules, c2.Rules) {
			t.Fatalf("round trip\n%+v\n%+v", c.Rules, c2.Rules)
		}
		for _, r := range c.Rules {
			c.Match("ObjectCreated:Put", r.Prefix+"x"+r.Suffix)
		}
	})
}
