package sqlkv

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"cairn/internal/meta/kv"
)

// The writer commits with synchronous=FULL unless told to relax.
func TestSynchronousSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want int64 // SQLite: 1 NORMAL, 2 FULL
	}{
		{"default is full", Options{}, 2},
		{"relaxed", Options{Relaxed: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), "sqlite3://"+filepath.Join(t.TempDir(), "meta.db"), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			st, _, err := s.wconn.c.Prepare("PRAGMA synchronous")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if !st.Step() {
				t.Fatalf("PRAGMA synchronous: %v", st.Err())
			}
			if got := st.ColumnInt64(0); got != tc.want {
				t.Fatalf("synchronous = %d, want %d", got, tc.want)
			}
		})
	}
}

// The database and its -wal and -shm files hold inline object bytes: only
// their owner may read them, also when an older version made them 0644.
func TestFilesOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "meta.db")
	check := func() {
		t.Helper()
		s, err := Open(context.Background(), "sqlite3://"+path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(context.Background(), func(tx kv.Tx) error { return tx.Put([]byte("k"), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("directory: %v %v, want 0700", fi.Mode().Perm(), err)
		}
		s.Close()
	}
	check()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	check()
}
