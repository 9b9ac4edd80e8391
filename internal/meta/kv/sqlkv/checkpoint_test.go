package sqlkv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"cairn/internal/meta/kv"
)

// writePages commits n transactions of one 4 KiB value each (a page or
// two of WAL apiece).
func writePages(t *testing.T, s *Store, n int) {
	t.Helper()
	v := make([]byte, 4096)
	for i := range n {
		k := fmt.Appendf(nil, "k%08d", i)
		if err := s.Update(context.Background(), func(tx kv.Tx) error { return tx.Put(k, v) }); err != nil {
			t.Fatal(err)
		}
	}
}

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// Most of the WAL is copied back into the database by the checkpointer's
// own connection, not inside a writer's COMMIT, and the WAL stays bounded.
func TestCheckpointsOffTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(context.Background(), "sqlite3://"+path, Options{Relaxed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writePages(t, s, 6000)
	bg, in := s.ckpt.background.Load(), s.ckpt.inline.Load()
	if bg == 0 || in*2 > bg {
		t.Fatalf("%d checkpoints by the checkpointer, %d by the writer", bg, in)
	}
	// Without checkpoints the WAL would hold every page written (over 24
	// MiB).
	if sz := walSize(t, path); sz > (walHardLimit+500)*4120 {
		t.Fatalf("WAL grew to %d bytes", sz)
	}
	// Everything written is there.
	if err := s.View(context.Background(), func(tx kv.Tx) error {
		_, err := tx.Get([]byte("k00005999"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// When the checkpointer cannot keep up (stopped here), the writer
// checkpoints itself once the WAL reaches the hard limit.
func TestCheckpointHardLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(context.Background(), "sqlite3://"+path, Options{Relaxed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ckpt.stop()
	s.ckpt.hard = 2000
	writePages(t, s, 6000)
	if n := s.ckpt.inline.Load(); n == 0 {
		t.Fatal("the writer never checkpointed")
	}
	if sz := walSize(t, path); sz > 3000*4120 {
		t.Fatalf("WAL grew to %d bytes with a hard limit of 2,000 pages", sz)
	}
}
