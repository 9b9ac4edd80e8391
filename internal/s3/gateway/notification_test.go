package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/notification"

	"cairn/internal/meta"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object/mem"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/webhook"
	"cairn/internal/s3/s3fs"
	"cairn/internal/s3/sigv4"
)

// eventSink is a webhook endpoint that keeps the records it receives.
type eventSink struct {
	mu   sync.Mutex
	recs []map[string]any
}

func (e *eventSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var doc struct{ Records []map[string]any }
	if err := json.Unmarshal(b, &doc); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.recs = append(e.recs, doc.Records...)
	e.mu.Unlock()
}

// lines returns "event key" of each record received, in the order
// received (the harness's dispatcher sends one at a time: feed order).
func (e *eventSink) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.recs {
		obj := r["s3"].(map[string]any)["object"].(map[string]any)
		out = append(out, fmt.Sprint(r["eventName"], " ", obj["key"]))
	}
	return out
}

const sinkARN = "arn:minio:sqs::primary:webhook"

// fixedTargets is a gateway.Notify with these targets and no volume-wide
// rules.
type fixedTargets []string

func (f fixedTargets) ARNs() []string    { return f }
func (f fixedTargets) WantsAccess() bool { return false }

// notifyHarness is a gateway with one webhook target and its dispatcher
// running on the same volume.
func notifyHarness(t *testing.T) (*harness, *eventSink) {
	t.Helper()
	var feed *meta.FS
	h := newHarnessOn(t, mem.New(), func(o *gateway.Options) {
		o.Notify = fixedTargets{sinkARN}
		o.Listen = func(ctx context.Context, l notify.Listener, send func([]byte) error) error {
			l.Poll = 5 * time.Millisecond
			return notify.Listen(ctx, feed, "us-east-1", l, send)
		}
	})
	feed = h.vfs.Meta()
	sink := &eventSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	tg, err := webhook.New(webhook.Config{ID: "primary", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	d := notify.New(h.vfs.Meta(), h.fs.BucketNotification, []notify.Target{tg}, notify.Options{Workers: 1}) // in feed order
	if _, err := h.vfs.Meta().NewSession(bg, meta.SessionInfo{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for !d.Status()[0].Active {
		if time.Now().After(deadline) {
			t.Fatal("the dispatcher took no lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return h, sink
}

func waitLines(t *testing.T, sink *eventSink, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.lines()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d events arrived, want %d: %v", len(sink.lines()), n, sink.lines())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // and no more
	return sink.lines()
}

// TestNotifications: a bucket's configuration, set and read with the
// SDK, routes each kind of event of real S3 requests to a webhook as
// AWS event records, with the requester's identity, address and request
// id; a read records its event only because a rule asks for it.
func TestNotifications(t *testing.T) {
	h, sink := notifyHarness(t)
	h.mb(t, "pics")
	cfg := &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{
		{Id: aws.String("all-jpg"), QueueArn: aws.String(sinkARN),
			Events: []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectTagging:*"},
			Filter: &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: []types.FilterRule{{Name: "suffix", Value: aws.String(".jpg")}}}}},
		{Id: aws.String("reads"), QueueArn: aws.String(sinkARN), Events: []types.Event{"s3:ObjectAccessed:Get"},
			Filter: &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: []types.FilterRule{{Name: "prefix", Value: aws.String("hot/")}}}}},
	}}
	if _, err := h.s3.PutBucketNotificationConfiguration(bg, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("pics"), NotificationConfiguration: cfg}); err != nil {
		t.Fatal(err)
	}
	got, err := h.s3.GetBucketNotificationConfiguration(bg, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("pics")})
	if err != nil || len(got.QueueConfigurations) != 2 || *got.QueueConfigurations[0].Id != "all-jpg" || *got.QueueConfigurations[0].QueueArn != sinkARN ||
		*got.QueueConfigurations[0].Filter.Key.FilterRules[0].Value != ".jpg" || got.QueueConfigurations[1].Events[0] != "s3:ObjectAccessed:Get" {
		t.Fatalf("configuration read back: %+v %v", got, err)
	}

	put := func(key, body string) {
		t.Helper()
		if _, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("pics"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("a b.jpg", "12345")
	put("notes.txt", "x") // filtered out
	put("hot/c.jpg", "c")
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("pics"), Key: aws.String("copy.jpg"), CopySource: aws.String("pics/a b.jpg")}); err != nil {
		t.Fatal(err)
	}
	mp, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("pics"), Key: aws.String("mp.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("pics"), Key: aws.String("mp.jpg"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("pics"), Key: aws.String("mp.jpg"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: aws.String("pics"), Key: aws.String("copy.jpg"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"hot/c.jpg", "notes.txt"} { // a read asked for, one not
		o, err := h.s3.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("pics"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, o.Body)
		o.Body.Close()
	}
	if _, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("pics"), Key: aws.String("hot/c.jpg")}); err != nil {
		t.Fatal(err) // Head is not asked for
	}
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("pics"), Key: aws.String("a b.jpg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("pics"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("copy.jpg")}, {Key: aws.String("notes.txt")}}}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ObjectCreated:Put a+b.jpg",
		"ObjectCreated:Put hot/c.jpg",
		"ObjectCreated:Copy copy.jpg",
		"ObjectCreated:CompleteMultipartUpload mp.jpg",
		"ObjectTagging:Put copy.jpg",
		"ObjectAccessed:Get hot/c.jpg",
		"ObjectRemoved:Delete a+b.jpg",
		"ObjectRemoved:Delete copy.jpg",
	}
	lines := waitLines(t, sink, len(want))
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events\n got %q\nwant %q", lines, want)
	}
	sink.mu.Lock()
	first := sink.recs[0]
	sink.mu.Unlock()
	s3e := first["s3"].(map[string]any)
	obj := s3e["object"].(map[string]any)
	req := first["responseElements"].(map[string]any)["x-amz-request-id"].(string)
	if first["userIdentity"].(map[string]any)["principalId"] != testAK || first["requestParameters"].(map[string]any)["sourceIPAddress"] != "127.0.0.1" ||
		req == "" || s3e["configurationId"] != "all-jpg" || obj["size"] != 5.0 || obj["eTag"] != "827ccb0eea8a706c4c34a16891f84e7b" ||
		s3e["bucket"].(map[string]any)["name"] != "pics" || first["eventSource"] != "aws:s3" || first["eventVersion"] != "2.1" {
		t.Fatalf("first record %v", first)
	}
	var seqs []string
	sink.mu.Lock()
	for _, r := range sink.recs {
		seqs = append(seqs, r["s3"].(map[string]any)["object"].(map[string]any)["sequencer"].(string))
	}
	sink.mu.Unlock()
	if !sort.StringsAreSorted(seqs) {
		t.Fatalf("sequencers out of order: %v", seqs)
	}
}

// TestNotificationConfigErrors: bad configurations are refused with
// AWS's errors, and nothing is stored.
func TestNotificationConfigErrors(t *testing.T) {
	h, _ := notifyHarness(t)
	h.mb(t, "pics")
	for _, tc := range []struct {
		name string
		cfg  types.QueueConfiguration
		code string
	}{
		{"unknown target", types.QueueConfiguration{QueueArn: aws.String("arn:minio:sqs::nobody:webhook"), Events: []types.Event{"s3:ObjectCreated:*"}}, "InvalidArgument"},
		{"not an ARN", types.QueueConfiguration{QueueArn: aws.String("https://example.com/hook"), Events: []types.Event{"s3:ObjectCreated:*"}}, "InvalidArgument"},
		{"unknown event", types.QueueConfiguration{QueueArn: aws.String(sinkARN), Events: []types.Event{"s3:ObjectMelted:*"}}, "InvalidArgument"},
	} {
		_, err := h.s3.PutBucketNotificationConfiguration(bg, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("pics"),
			NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{tc.cfg}}})
		if code(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	body := "<NotificationConfiguration><Queue"
	req, _ := http.NewRequest(http.MethodPut, h.url+"/pics?notification", strings.NewReader(body))
	sigv4.SignHeader(req, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
	if status, text := getStatus(t, req); status != 400 || !strings.Contains(text, "MalformedXML") {
		t.Errorf("malformed document: %d %s", status, text)
	}
	got, err := h.s3.GetBucketNotificationConfiguration(bg, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("pics")})
	if err != nil || len(got.QueueConfigurations)+len(got.TopicConfigurations)+len(got.LambdaFunctionConfigurations) != 0 {
		t.Fatalf("after refused configurations: %+v %v", got, err)
	}
	if _, err := h.s3.GetBucketNotificationConfiguration(bg, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("nope")}); code(err) != "NoSuchBucket" {
		t.Fatalf("no such bucket: %v", err)
	}
}

// TestListenBucketNotification: minio-go's ListenBucketNotification (what
// `mc event listen` and `mc watch` use) streams the events of a bucket as
// they happen, filtered, without any target configured.
func TestListenBucketNotification(t *testing.T) {
	h, _ := notifyHarness(t)
	h.mb(t, "live")
	h.mb(t, "other")
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	ch := h.mc.ListenBucketNotification(ctx, "live", "in/", "", []string{"s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectAccessed:Get"})
	time.Sleep(200 * time.Millisecond) // the stream is open
	h.put(t, "live", "in/a.txt", "aaa")
	// A read records its event while someone listens for reads (the
	// bucket has no rule asking for them).
	o, err := h.s3.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("live"), Key: aws.String("in/a.txt")})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, o.Body)
	o.Body.Close()
	h.put(t, "live", "out/b.txt", "b") // prefix
	h.put(t, "other", "in/c.txt", "c") // bucket
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("live"), Key: aws.String("in/a.txt")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	timeout := time.After(5 * time.Second)
	for len(got) < 3 {
		select {
		case info := <-ch:
			if info.Err != nil {
				t.Fatal(info.Err)
			}
			for _, r := range info.Records {
				got = append(got, r.EventName+" "+r.S3.Bucket.Name+"/"+r.S3.Object.Key)
			}
		case <-timeout:
			t.Fatalf("events received: %v", got)
		}
	}
	want := []string{"ObjectCreated:Put live/in/a.txt", "ObjectAccessed:Get live/in/a.txt", "ObjectRemoved:Delete live/in/a.txt"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// A bad event name is refused before the stream starts.
	bad := h.mc.ListenBucketNotification(ctx, "live", "", "", []string{"s3:ObjectMelted:*"})
	if info := <-bad; info.Err == nil || !strings.Contains(info.Err.Error(), "not supported") {
		t.Fatalf("bad event name: %+v", info)
	}
}

// TestListenWho: a user whose policies allow it listens to a bucket it can
// search, but only the root user listens to every bucket (their keys are
// not all the user's to see).
func TestListenWho(t *testing.T) {
	store := memkv.New()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "gw", Storage: "mem", EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	h := &iamHarness{store: store}
	var feed *meta.FS
	h.url, h.ids, h.vfs = startGatewayWith(t, store, mem.New(), s3fs.Options{}, gateway.Options{
		Listen: func(ctx context.Context, l notify.Listener, send func([]byte) error) error {
			return notify.Listen(ctx, feed, "us-east-1", l, send)
		}})
	feed = h.vfs.Meta()
	h.root = h.client(testAK, testSecret, "")
	lisa := h.user(t, "lisa", "readwrite")
	ok(t, "lisa's bucket", func() error {
		_, err := lisa.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("lisas")})
		return err
	}())
	mc := func(ak, sk string) *minio.Client {
		c, err := minio.New(strings.TrimPrefix(h.url, "http://"), &minio.Options{Creds: mcreds.NewStaticV4(ak, sk, ""), Region: "us-east-1"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	first := func(ch <-chan notification.Info) error {
		select {
		case info := <-ch:
			return info.Err
		case <-time.After(300 * time.Millisecond):
			return nil // streaming, nothing yet
		}
	}
	if err := first(mc("lisa", "lisa-secret").ListenNotification(ctx, "", "", []string{"s3:ObjectCreated:*"})); err == nil || !strings.Contains(err.Error(), "Only the root user") {
		t.Fatalf("lisa on every bucket: %v", err)
	}
	if err := first(mc("lisa", "lisa-secret").ListenBucketNotification(ctx, "lisas", "", "", []string{"s3:ObjectCreated:*"})); err != nil {
		t.Fatalf("lisa on her bucket: %v", err)
	}
	if err := first(mc(testAK, testSecret).ListenNotification(ctx, "", "", []string{"s3:ObjectCreated:*"})); err != nil {
		t.Fatalf("root on every bucket: %v", err)
	}
}
