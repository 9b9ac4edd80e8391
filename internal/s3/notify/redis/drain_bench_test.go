package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"cairn/internal/meta"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/redis"
)

// BenchmarkDrainBacklog measures how fast a backlog of events drains to a
// Redis target (namespace format): NOTIFY_BACKLOG events (default
// 100,000; the figure in docs/benchmarks.md is for 1,000,000) are
// recorded in a SQLite volume while no dispatcher runs, then one starts
// and the time until Redis holds them all is measured. Reported as
// events/s.
//
//	NOTIFY_BACKLOG=1000000 go test -run XXX -bench DrainBacklog -benchtime 1x ./internal/s3/notify/redis/
func BenchmarkDrainBacklog(b *testing.B) {
	n := 100_000
	if s := os.Getenv("NOTIFY_BACKLOG"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	addr := redisServerB(b)
	for range b.N {
		b.StopTimer()
		store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(b.TempDir(), "meta.db"), sqlkv.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "d", Storage: "mem"}); err != nil {
			b.Fatal(err)
		}
		m, err := meta.Open(ctx, store, meta.Options{FeedRetention: uint64(n) + 1000})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.NewSession(ctx, meta.SessionInfo{}); err != nil {
			b.Fatal(err)
		}
		cfg, _ := json.Marshal(notify.Config{Rules: []notify.Rule{{ID: "all", Kind: "Queue", ARN: "arn:minio:sqs::drain:redis", Events: []string{"s3:*"}}}})
		src := func(context.Context, string) ([]byte, error) { return cfg, nil }
		// The position is set before the backlog exists: a dispatcher
		// starts, takes its place at the head, and stops.
		tg, err := redis.New(redis.Config{ID: "drain", Address: addr, Key: fmt.Sprint("drain", b.N)})
		if err != nil {
			b.Fatal(err)
		}
		first := notify.New(m, src, []notify.Target{tg}, notify.Options{})
		fctx, stop := context.WithCancel(ctx)
		go func() { time.Sleep(200 * time.Millisecond); stop() }()
		first.Run(fctx)
		var wg sync.WaitGroup
		per := n / 32
		for w := range 32 {
			wg.Go(func() {
				for i := range per {
					if err := m.AppendPublish(ctx, meta.Publish{Event: "ObjectCreated:Put", Bucket: "bkt", Key: fmt.Sprintf("w%02d/%08d", w, i), Size: 4096, ETag: "0123456789abcdef0123456789abcdef"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		total := per * 32
		tg2, _ := redis.New(redis.Config{ID: "drain", Address: addr, Key: fmt.Sprint("drain", b.N)})
		d := notify.New(m, src, []notify.Target{tg2}, notify.Options{})
		b.StartTimer()
		start := time.Now()
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { d.Run(dctx); close(done) }()
		for d.Status()[0].Delivered < uint64(total) {
			time.Sleep(10 * time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		got, _ := c.HLen(ctx, fmt.Sprint("drain", b.N)).Result()
		c.Close()
		if got != int64(total) {
			b.Fatalf("redis holds %d of %d", got, total)
		}
		b.ReportMetric(float64(total)/el.Seconds(), "events/s")
		m.Close()
		store.Close()
	}
}
