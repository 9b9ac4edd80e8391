package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// webhookSink is a webhook endpoint that keeps "eventName key" of each
// event it receives, and counts them by key.
type webhookSink struct {
	mu    sync.Mutex
	lines []string
	keys  map[string]int
	who   map[string]string // line → principalId of its last event
}

func (k *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet { // ?has=LINE: 200 once an event made it
		if !k.has(r.URL.Query().Get("has")) {
			w.WriteHeader(http.StatusNotFound)
		}
		return
	}
	var doc struct {
		Records []struct {
			EventName    string `json:"eventName"`
			UserIdentity struct {
				PrincipalID string `json:"principalId"`
			} `json:"userIdentity"`
			S3 struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
				Object struct {
					Key string `json:"key"`
				} `json:"object"`
			} `json:"s3"`
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	if k.keys == nil {
		k.keys, k.who = map[string]int{}, map[string]string{}
	}
	for _, rec := range doc.Records {
		if rec.S3.Object.Key == "" { // a bucket's event
			k.lines = append(k.lines, rec.EventName+" bucket "+rec.S3.Bucket.Name)
			continue
		}
		k.keys[rec.S3.Object.Key]++
		line := rec.EventName + " " + rec.S3.Object.Key
		k.lines = append(k.lines, line)
		k.who[line] = rec.UserIdentity.PrincipalID
	}
	k.mu.Unlock()
}

func (k *webhookSink) count(key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[key]
}

// missing returns the keys of acked that no event named.
func (k *webhookSink) missing(acked []string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, key := range acked {
		if k.keys[key] == 0 {
			out = append(out, key)
		}
	}
	return out
}

// has reports whether an event made the line "eventName key" (a bucket's
// event: "eventName bucket NAME").
func (k *webhookSink) has(line string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Contains(k.lines, line)
}

// principal returns the principalId of the last event that made line.
func (k *webhookSink) principal(line string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.who[line]
}

// sorted returns the "eventName key" lines, sorted.
func (k *webhookSink) sorted() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := append([]string(nil), k.lines...)
	sort.Strings(out)
	return out
}

// TestNotifyKillUnderLoad kills `cairn server` with SIGKILL in the middle
// of 1,000 concurrent PUTs to a bucket whose events go to a webhook;
// once it is started again, every PUT it acknowledged has had its event
// delivered (events are recorded with the changes, and delivered from
// the change feed).
func TestNotifyKillUnderLoad(t *testing.T) {
	bin := buildCairn(t)
	dir := t.TempDir()
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	env := append([]string{"MINIO_NOTIFY_WEBHOOK_ENABLE_KILL=on", "MINIO_NOTIFY_WEBHOOK_ENDPOINT_KILL=" + hook.URL}, crashEnv...)
	url, srv := startServer(t, bin, dir, env...)
	createCrashBucket(t, url)
	c := crashClient(url)
	ctx := context.Background()
	if _, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(crashBucket),
		NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{
			{QueueArn: aws.String("arn:minio:sqs::KILL:webhook"), Events: []types.Event{"s3:ObjectCreated:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acked []string
	var n atomic.Int64
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 50 {
		wg.Go(func() {
			for i := range 20 {
				key := fmt.Sprintf("w%02d/k%03d", w, i)
				body := bytes.Repeat([]byte{byte(i)}, 1000+i*97)
				_, err := c.PutObject(lctx, &s3.PutObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(key), Body: bytes.NewReader(body)})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
				n.Add(1)
			}
		})
	}
	for n.Load() < 300 {
		time.Sleep(5 * time.Millisecond)
	}
	killServer(srv)
	cancel()
	wg.Wait()
	t.Logf("%d PUTs acknowledged before the kill", len(acked))
	url, srv = startServer(t, bin, dir, env...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		miss := sink.missing(acked)
		if len(miss) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged PUTs have no event, e.g. %v", len(miss), miss[:min(5, len(miss))])
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopServer(t, srv)
}

// TestNotifyTargetsFromEnv: the targets the environment defines are built,
// and a bad definition stops the server with a message naming it.
func TestNotifyTargetsFromEnv(t *testing.T) {
	ts, err := envTargets([]string{
		"MINIO_NOTIFY_WEBHOOK_ENABLE_A=on", "MINIO_NOTIFY_WEBHOOK_ENDPOINT_A=http://127.0.0.1:1/",
		"MINIO_NOTIFY_REDIS_ENABLE_B=on", "MINIO_NOTIFY_REDIS_ADDRESS_B=127.0.0.1:1", "MINIO_NOTIFY_REDIS_KEY_B=k",
		"MINIO_NOTIFY_POSTGRES_ENABLE_C=on", "MINIO_NOTIFY_POSTGRES_CONNECTION_STRING_C=host=127.0.0.1 port=1", "MINIO_NOTIFY_POSTGRES_TABLE_C=events",
		"MINIO_NOTIFY_MYSQL_ENABLE_D=on", "MINIO_NOTIFY_MYSQL_DSN_STRING_D=u:p@tcp(127.0.0.1:1)/db", "MINIO_NOTIFY_MYSQL_TABLE_D=events",
		"MINIO_NOTIFY_NATS_ENABLE_E=on", "MINIO_NOTIFY_NATS_ADDRESS_E=127.0.0.1:1", "MINIO_NOTIFY_NATS_SUBJECT_E=s3",
		"MINIO_NOTIFY_WEBHOOK_ENABLE_OFF=off", "MINIO_NOTIFY_WEBHOOK_ENDPOINT_OFF=not a url",
	})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, c := range ts {
		arns = append(arns, c.ARN())
	}
	want := "[arn:minio:sqs::D:mysql arn:minio:sqs::E:nats arn:minio:sqs::C:postgres arn:minio:sqs::B:redis arn:minio:sqs::A:webhook]"
	if fmt.Sprint(arns) != want {
		t.Fatalf("targets %v, want %s", arns, want)
	}
	for env, msg := range map[string]string{
		"MINIO_NOTIFY_KAFKA_ENABLE_K=on":       "does not deliver to kafka",
		"MINIO_NOTIFY_WEBHOOK_ENABLE_W=on":     "not an http(s) URL",
		"MINIO_NOTIFY_WEBHOOK_COLOUR_W=blue":   "MINIO_NOTIFY_WEBHOOK_COLOUR_W",
		"CAIRN_NOTIFY_REDIS_ENABLE_R=on":       "an address and a key are required",
		"MINIO_NOTIFY_POSTGRES_ENABLE_P=on":    "table",
		"MINIO_NOTIFY_MYSQL_ENABLE_M=on":       "max_open_connections \"many\"", // with the rest below
		"MINIO_NOTIFY_WEBHOOK_CLIENT_CERT_W=x": "",                              // with W enabled below
	} {
		environ := []string{env}
		if strings.HasSuffix(env, "CLIENT_CERT_W=x") {
			environ = append(environ, "MINIO_NOTIFY_WEBHOOK_ENABLE_W=on", "MINIO_NOTIFY_WEBHOOK_ENDPOINT_W=https://h/")
			msg = "client certificate"
		}
		if strings.HasSuffix(env, "MYSQL_ENABLE_M=on") {
			environ = append(environ, "MINIO_NOTIFY_MYSQL_DSN_STRING_M=u:p@tcp(h:1)/db", "MINIO_NOTIFY_MYSQL_TABLE_M=events", "MINIO_NOTIFY_MYSQL_MAX_OPEN_CONNECTIONS_M=many")
		}
		if _, err := envTargets(environ); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error saying %q", env, err, msg)
		}
	}
}

// TestWebhookSink: the benchmark's webhook sink counts the records it
// receives and reports their delays.
func TestWebhookSink(t *testing.T) {
	srv := httptest.NewServer(&eventSink{})
	defer srv.Close()
	at := time.Now().Add(-50 * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000Z")
	for range 3 {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"Records":[{"eventTime":"`+at+`"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/?reset")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]float64
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st["count"] != 3 || st["p50_ms"] < 40 || st["p50_ms"] > 5000 {
		t.Fatalf("stats %v", st)
	}
	resp, _ = http.Post(srv.URL, "application/json", strings.NewReader("not json"))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad document: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
