package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/object"
	"cairn/internal/object/objecttest"
	"cairn/internal/object/s3"
	"cairn/internal/testsrv"
)

var ctx = context.Background()

// makeBucket creates bucket on srv with its own client.
func makeBucket(t *testing.T, srv *testsrv.S3, bucket string) {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	// MinIO takes unknown keys for "not ready" until its IAM is loaded.
	stranger, _ := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4("stranger", "stranger-secret", "")})
	for i := 0; i < 200; i++ {
		_, err := stranger.BucketExists(ctx, bucket)
		if minio.ToErrorResponse(err).Code != "XMinioIAMNotInitialized" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stores returns a constructor of empty stores: each a prefix of its own
// in one bucket of srv.
func stores(t *testing.T, srv *testsrv.S3) func(t *testing.T) object.Store {
	makeBucket(t, srv, "blocks")
	var n atomic.Int64
	return func(t *testing.T) object.Store {
		s, err := s3.New(ctx, s3.Config{URL: fmt.Sprintf("%s/blocks/vol%d", srv.Endpoint, n.Add(1)), AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestMinIO(t *testing.T) { objecttest.Run(t, stores(t, testsrv.StartMinIO(t))) }

func TestCairn(t *testing.T) {
	objecttest.Run(t, stores(t, testsrv.StartCairn(t, testsrv.BuildCairn(t))))
}

func TestNewErrors(t *testing.T) {
	srv := testsrv.StartMinIO(t)
	makeBucket(t, srv, "there")
	for _, c := range []struct {
		cfg  s3.Config
		want string
	}{
		{s3.Config{URL: "ftp://x/b"}, "want http(s)://"},
		{s3.Config{URL: "http:///b"}, "no host"},
		{s3.Config{URL: "http://127.0.0.1:9"}, "no bucket"},
		{s3.Config{URL: "http://x/b?lookup=sideways"}, "lookup is path or dns"},
		{s3.Config{URL: srv.Endpoint + "/missing", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}, "does not exist"},
		{s3.Config{URL: srv.Endpoint + "/there", AccessKey: srv.AccessKey, SecretKey: "wrong-secret"}, "SignatureDoesNotMatch"},
		{s3.Config{URL: srv.Endpoint + "/there", AccessKey: "nobody", SecretKey: "wrong-secret"}, "InvalidAccessKeyId"},
	} {
		s, err := s3.New(ctx, c.cfg)
		if err == nil {
			t.Errorf("New(%+v) succeeded: %v", c.cfg, s)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("New(%s) = %v, want it to say %q (and no secret)", c.cfg.URL, err, c.want)
		}
	}
}

// TestFaults: a service that goes away or stops answering gives errors
// (after WithRetry's retries), never a missing object or short data; one
// that comes back is used again.
func TestFaults(t *testing.T) {
	srv := testsrv.StartMinIO(t)
	makeBucket(t, srv, "bbb")
	// A proxy in front of the service that can be made to hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var hang atomic.Bool
	var mu sync.Mutex
	var live []net.Conn // proxied connections, cut when the service hangs
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			live = append(live, c)
			mu.Unlock()
			go func() {
				defer c.Close()
				if hang.Load() {
					time.Sleep(5 * time.Second)
					return
				}
				up, err := net.Dial("tcp", strings.TrimPrefix(srv.Endpoint, "http://"))
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	raw, err := s3.New(ctx, s3.Config{URL: "http://" + ln.Addr().String() + "/bbb", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := object.WithRetry(raw, object.RetryOptions{Attempts: 3, Base: 10 * time.Millisecond})
	data := bytes.Repeat([]byte("block"), 1000)
	if err := st.Put(ctx, "k", object.NewBytesBody(data)); err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	mu.Lock()
	for _, c := range live {
		c.Close()
	}
	mu.Unlock()
	start := time.Now()
	_, err = st.Get(ctx, "k", 0, -1)
	if err == nil || errors.Is(err, object.ErrNotExist) {
		t.Fatalf("Get from a hung service = %v, want a failure that is not ErrNotExist", err)
	}
	if _, err := st.Head(ctx, "k"); err == nil || errors.Is(err, object.ErrNotExist) {
		t.Fatalf("Head from a hung service = %v", err)
	}
	if err := st.Put(ctx, "k2", object.NewBytesBody(data)); err == nil {
		t.Fatal("Put to a hung service succeeded")
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Fatalf("the failures took %v: timeouts are not applied", d)
	}
	hang.Store(false)
	rc, err := st.Get(ctx, "k", 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != string(data[5:15]) {
		t.Fatalf("ranged read after recovery: %q", got)
	}
	if _, err := st.Head(ctx, "k2"); !errors.Is(err, object.ErrNotExist) {
		t.Fatalf("a failed Put left %v", err)
	}
}
