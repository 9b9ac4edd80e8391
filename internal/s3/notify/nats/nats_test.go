package nats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cairn/internal/meta"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/nats"
)

// natsServer runs Debian's nats-server (with JetStream) for the test. It
// is skipped where nats-server is missing, except in CI, where .ci/run
// installs it.
func natsServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nats-server is not installed (.ci/run installs it)")
		}
		t.Skip("nats-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if nc, err := natsgo.Connect(url); err == nil {
			nc.Close()
			return url
		}
		if i == 200 {
			t.Fatal("nats-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func message(t *testing.T, seq uint64, key string) *notify.Message {
	t.Helper()
	m, err := notify.NewMessage(&meta.Record{Seq: seq, Time: time.Now().UnixNano(), Op: meta.OpPublish,
		S3: &meta.Publish{Event: "ObjectCreated:Put", Bucket: "b", Key: key, Size: 3}}, "us-east-1", "r1")
	if err != nil {
		t.Fatal(err)
	}
	return &m
}

func key(t *testing.T, data []byte) string {
	t.Helper()
	var doc struct {
		Records []struct {
			S3 struct {
				Object struct {
					Key string `json:"key"`
				} `json:"object"`
			} `json:"s3"`
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Records) != 1 {
		t.Fatalf("message %s: %v", data, err)
	}
	return doc.Records[0].S3.Object.Key
}

// TestCore: events reach a subscriber of the subject.
func TestCore(t *testing.T) {
	url := natsServer(t)
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("bucketevents")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	tg, err := nats.New(nats.Config{ID: "1", Address: url, Subject: "bucketevents"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	for i, k := range []string{"a", "b"} {
		if err := tg.Send(context.Background(), message(t, uint64(i+1), k)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"a", "b"} {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := key(t, m.Data); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

// TestJetStream: events are stored by a stream, acknowledged one by one.
func TestJetStream(t *testing.T) {
	ctx := context.Background()
	url := natsServer(t)
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"s3.events"}})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := nats.New(nats.Config{ID: "2", Address: url, Subject: "s3.events", JetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	for i := range 3 {
		if err := tg.Send(ctx, message(t, uint64(i+1), fmt.Sprint("k", i))); err != nil {
			t.Fatal(err)
		}
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != 3 {
		t.Fatalf("stream holds %d messages (%v), want 3", info.State.Msgs, err)
	}
	// A subject no stream captures is not acknowledged: an error to retry.
	bad, _ := nats.New(nats.Config{ID: "3", Address: url, Subject: "nowhere", JetStream: true, Timeout: time.Second})
	defer bad.Close()
	if err := bad.Send(ctx, message(t, 9, "x")); err == nil {
		t.Fatal("a publish no stream stored was taken as delivered")
	}
}
