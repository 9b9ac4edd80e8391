package chunk_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"cairn/internal/chunk"
	"cairn/internal/object"
	"cairn/internal/object/file"
)

// blockSyncs is a file store that records (and can fail) batch syncs.
type blockSyncs struct {
	*file.Store
	mu     sync.Mutex
	synced []string
	fail   bool
}

func (r *blockSyncs) Sync(ctx context.Context, keys []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("disk on fire")
	}
	r.synced = append(r.synced, keys...)
	return r.Store.Sync(ctx, keys)
}

func (r *blockSyncs) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.synced)
}

// TestBlocksSyncedAsTheyEnd: a streamed slice's complete blocks are made
// durable while the rest is still being written, the last one by Finish,
// each once; a failed sync fails the slice and leaves no block behind.
func TestBlocksSyncedAsTheyEnd(t *testing.T) {
	fs, err := file.New(t.TempDir(), file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &blockSyncs{Store: fs}
	s := chunk.New(rec, chunk.Options{BlockSize: 1 << 16})
	defer s.Close()
	w := s.NewWriter(11)
	if _, err := w.Write(make([]byte, 5<<15)); err != nil { // 2.5 blocks
		t.Fatal(err)
	}
	want := []string{chunk.Key(11, 0, 1<<16), chunk.Key(11, 1, 1<<16)}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(sortedKeys(rec.keys()), want) {
		if time.Now().After(deadline) {
			t.Fatalf("before Finish, synced %q; want the two complete blocks %q", rec.keys(), want)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	want = append(want, chunk.Key(11, 2, 1<<15))
	if got := sortedKeys(rec.keys()); !slices.Equal(got, want) {
		t.Fatalf("after Finish, synced %q; want each block once: %q", got, want)
	}

	rec.fail = true
	w = s.NewWriter(12)
	w.Write(make([]byte, 5<<15)) // may already report the failed syncs
	if _, err := w.Finish(ctx); err == nil {
		t.Fatal("Finish succeeded although block syncs failed")
	}
	for i, n := range []int{1 << 16, 1 << 16, 1 << 15} {
		if _, err := rec.Head(ctx, chunk.Key(12, i, n)); !errors.Is(err, object.ErrNotExist) {
			t.Errorf("block %d of the failed slice: %v, want it removed", i, err)
		}
	}
}

func sortedKeys(k []string) []string {
	slices.Sort(k)
	return k
}
