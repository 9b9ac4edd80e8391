package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"cairn/internal/meta"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/redis"
	"cairn/internal/testsrv"
)

// redisServer starts Debian's redis-server for the test.
func redisServer(t *testing.T) string { return testsrv.StartRedis(t).Addr }

// redisServerB is redisServer for tests and benchmarks.
func redisServerB(t testing.TB) string { return testsrv.StartRedis(t).Addr }

func message(t *testing.T, seq uint64, ev, key string) *notify.Message {
	t.Helper()
	m, err := notify.NewMessage(&meta.Record{Seq: seq, Time: time.Now().UnixNano(), Op: meta.OpPublish,
		S3: &meta.Publish{Event: ev, Bucket: "b", Key: key, Size: 3, ETag: "e"}}, "us-east-1", "r1")
	if err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestNamespaceFormat: one hash field per object, set by each change and
// deleted with the object (MinIO's namespace format).
func TestNamespaceFormat(t *testing.T) {
	ctx := context.Background()
	addr := redisServer(t)
	tg, err := redis.New(redis.Config{ID: "1", Address: addr, Key: "events"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if tg.ARN() != "arn:minio:sqs::1:redis" {
		t.Fatalf("ARN %s", tg.ARN())
	}
	for i, m := range []*notify.Message{
		message(t, 1, "ObjectCreated:Put", "a b"), message(t, 2, "ObjectCreated:Put", "c"),
		message(t, 3, "ObjectTagging:Put", "c"), message(t, 4, "ObjectRemoved:Delete", "a b"),
	} {
		if err := tg.Send(ctx, m); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	h, err := c.HGetAll(ctx, "events").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h["b/c"] == "" {
		t.Fatalf("hash %v", h)
	}
	var doc struct {
		Records []struct {
			EventName string `json:"eventName"`
		}
	}
	if err := json.Unmarshal([]byte(h["b/c"]), &doc); err != nil || len(doc.Records) != 1 || doc.Records[0].EventName != "ObjectTagging:Put" {
		t.Fatalf("b/c: %s (%v)", h["b/c"], err)
	}
}

// TestAccessFormat: every event appended to a list.
func TestAccessFormat(t *testing.T) {
	ctx := context.Background()
	addr := redisServer(t)
	tg, err := redis.New(redis.Config{ID: "2", Address: addr, Key: "log", Format: "access"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	for i, ev := range []string{"ObjectCreated:Put", "ObjectAccessed:Get", "ObjectRemoved:Delete"} {
		if err := tg.Send(ctx, message(t, uint64(i+1), ev, "k")); err != nil {
			t.Fatal(err)
		}
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	l, err := c.LRange(ctx, "log", 0, -1).Result()
	if err != nil || len(l) != 3 {
		t.Fatalf("list %v %v", l, err)
	}
	var entry []struct {
		Event []struct {
			EventName string `json:"eventName"`
		}
		EventTime string
	}
	if err := json.Unmarshal([]byte(l[1]), &entry); err != nil || len(entry) != 1 || entry[0].Event[0].EventName != "ObjectAccessed:Get" || entry[0].EventTime == "" {
		t.Fatalf("entry %s (%v)", l[1], err)
	}
}

// TestUnreachable: a Redis that is down is a failure to retry, not a
// rejection.
func TestUnreachable(t *testing.T) {
	tg, err := redis.New(redis.Config{ID: "3", Address: "127.0.0.1:1", Key: "k", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	err = tg.Send(context.Background(), message(t, 1, "ObjectCreated:Put", "k"))
	if err == nil || errors.Is(err, notify.ErrRejected) {
		t.Fatalf("send to nothing: %v", err)
	}
	if _, err := redis.New(redis.Config{ID: "4", Address: "x:1", Key: "k", Format: "columns"}); err == nil {
		t.Fatal("an unknown format accepted")
	}
}

// TestDispatchBacklog: a dispatcher drains a backlog larger than one
// batch into Redis through pipelines, in feed order (an access-format
// list shows the order), and a Redis that comes back after being down
// gets everything.
func TestDispatchBacklog(t *testing.T) {
	ctx := context.Background()
	addr := redisServer(t)
	store := memkv.New()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "d", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.NewSession(ctx, meta.SessionInfo{}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(notify.Config{Rules: []notify.Rule{{ID: "all", Kind: "Queue", ARN: "arn:minio:sqs::log:redis", Events: []string{"s3:*"}}}})
	src := func(context.Context, string) ([]byte, error) { return cfg, nil }
	// First through an address where nothing listens: Redis is down.
	down, _ := redis.New(redis.Config{ID: "log", Address: "127.0.0.1:1", Key: "log", Format: "access", Timeout: 200 * time.Millisecond})
	d := notify.New(m, src, []notify.Target{down}, notify.Options{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(dctx); close(done) }()
	for !d.Status()[0].Active {
		time.Sleep(5 * time.Millisecond)
	}
	const n = 700
	for i := range n {
		if err := m.AppendPublish(ctx, meta.Publish{Event: "ObjectCreated:Put", Bucket: "b", Key: fmt.Sprintf("k%04d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for wait := time.Now().Add(10 * time.Second); d.Status()[0].Failed < 3 && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond)
	}
	if st := d.Status()[0]; st.Delivered != 0 || st.Failed < 3 {
		t.Fatalf("while Redis is down: %+v", st)
	}
	stop()
	<-done
	// Redis is back (the same target, now where it listens).
	up, _ := redis.New(redis.Config{ID: "log", Address: addr, Key: "log", Format: "access"})
	d = notify.New(m, src, []notify.Target{up}, notify.Options{})
	dctx, stop = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { d.Run(dctx); close(done) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for d.Status()[0].Delivered < n {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d of %d", d.Status()[0].Delivered, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	l, err := c.LRange(ctx, "log", 0, -1).Result()
	if err != nil || len(l) != n {
		t.Fatalf("list of %d (%v), want %d", len(l), err, n)
	}
	for i, e := range l {
		if want := fmt.Sprintf(`"key":"k%04d"`, i); !strings.Contains(e, want) {
			t.Fatalf("entry %d is %s, want %s", i, e, want)
		}
	}
}
