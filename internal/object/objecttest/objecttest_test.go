package objecttest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"cairn/internal/object"
	"cairn/internal/object/file"
	"cairn/internal/object/mem"
	"cairn/internal/object/objecttest"
)

func TestMem(t *testing.T) {
	objecttest.Run(t, func(t *testing.T) object.Store { return mem.New() })
}

func TestFile(t *testing.T) {
	objecttest.Run(t, func(t *testing.T) object.Store {
		s, err := file.New(t.TempDir(), file.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestFileDirectIO(t *testing.T) {
	objecttest.Run(t, func(t *testing.T) object.Store {
		s, err := file.New(t.TempDir(), file.Options{DirectIO: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestFileRejectsBadKeys(t *testing.T) {
	s, err := file.New(t.TempDir(), file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "/abs", "a/../b", "a//b", "x.tmp-1", "nul\x00"} {
		if err := s.Put(context.Background(), k, bytes.NewReader(nil)); err == nil {
			t.Errorf("Put(%q) accepted", k)
		}
	}
}

func TestRetryThroughFaults(t *testing.T) {
	ctx := context.Background()
	f := objecttest.NewFaulty(mem.New())
	s := object.WithRetry(f, object.RetryOptions{Attempts: 3, Base: time.Millisecond})
	f.Add(objecttest.Rule{Op: objecttest.OpPut, Times: 2})
	if err := s.Put(ctx, "k", bytes.NewReader([]byte("v"))); err != nil {
		t.Fatalf("Put not retried: %v", err)
	}
	f.Add(objecttest.Rule{Op: objecttest.OpGet, Times: 5})
	if _, err := s.Get(ctx, "k", 0, -1); !errors.Is(err, objecttest.ErrInjected) {
		t.Fatalf("Get after exhausted retries = %v", err)
	}
	if f.Hits(objecttest.OpGet) != 3 {
		t.Fatalf("Get tried %d times, want 3", f.Hits(objecttest.OpGet))
	}
	f.Clear()
	if _, err := s.Get(ctx, "missing", 0, -1); !errors.Is(err, object.ErrNotExist) || f.Hits(objecttest.OpGet) != 3 {
		t.Fatalf("ErrNotExist retried or lost: %v", err)
	}
	// A body that cannot be replayed is not retried.
	f.Add(objecttest.Rule{Op: objecttest.OpPut, Times: 1})
	if err := s.Put(ctx, "k2", io.MultiReader(bytes.NewReader([]byte("v")))); !errors.Is(err, objecttest.ErrInjected) {
		t.Fatalf("non-seekable Put = %v", err)
	}
}

// TestFileDirectWrite covers the O_DIRECT path: an in-memory body of
// whole 4 KiB blocks plus an unaligned tail comes back byte for byte.
func TestFileDirectWrite(t *testing.T) {
	s, err := file.New(t.TempDir(), file.Options{DirectIO: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range []int{64 << 10, 4<<20 + 4, 300003} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		key := fmt.Sprintf("d/%d", n)
		if err := s.Put(ctx, key, object.NewBytesBody(data)); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Get(ctx, key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d, differ", n, len(got))
		}
	}
	objs, _, _ := s.List(ctx, "", "", 0)
	if len(objs) != 3 {
		t.Fatalf("listed %v", objs)
	}
}

// TestFileBatchSync: objects put unsynced read back at once, Sync makes a
// batch durable (fdatasync each, side by side) and fails on a missing key.
func TestFileBatchSync(t *testing.T) {
	ctx := context.Background()
	s, err := file.New(t.TempDir(), file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var bs object.BatchSyncer = s
	var keys []string
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("b/%02d", i)
		if err := bs.PutUnsynced(ctx, k, object.NewBytesBody(bytes.Repeat([]byte{byte(i)}, 5000+i))); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := bs.Sync(ctx, keys); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		rc, err := s.Get(ctx, k, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if len(b) != 5000+i || b[0] != byte(i) {
			t.Fatalf("%s: %d bytes", k, len(b))
		}
	}
	if err := bs.Sync(ctx, []string{"b/00", "missing/key"}); err == nil {
		t.Fatal("Sync of a missing key succeeded")
	}
	// Through the retry wrapper the capability is kept.
	if object.BatchSyncerOf(object.WithRetry(s, object.RetryOptions{})) == nil {
		t.Fatal("WithRetry hides BatchSyncer")
	}
}

// TestCapabilitiesThroughRetry: the file store's Append and local files
// stay reachable through WithRetry, as volumes open it; mem has neither.
func TestCapabilitiesThroughRetry(t *testing.T) {
	fs, err := file.New(t.TempDir(), file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wrapped := object.WithRetry(fs, object.RetryOptions{})
	if object.AppenderOf(wrapped) == nil || object.LocalFilesOf(wrapped) == nil {
		t.Fatal("the file store's capabilities are hidden by WithRetry")
	}
	m := object.WithRetry(mem.New(), object.RetryOptions{})
	if object.AppenderOf(m) != nil || object.LocalFilesOf(m) != nil {
		t.Fatal("mem claims capabilities it does not have")
	}
}
