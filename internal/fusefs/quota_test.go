package fusefs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"cairn/internal/fusefs"
	"cairn/internal/posix"
)

// A directory quota on a real mount: writes within it succeed, the one
// that would pass it fails with EDQUOT (at write, flush or close), a
// rename of a directory across quotas is EXDEV, and the usage counts what
// the mount wrote.
func TestMountQuota(t *testing.T) {
	v := newVolume(t)
	mnt := mount(t, v, fusefs.Options{})
	dir := filepath.Join(mnt, "q")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := v.Lookup(context.Background(), posix.Root, posix.RootIno, "q")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetQuota(context.Background(), posix.Root, e.Ino, 1<<20, 100); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "small"), make([]byte, 512<<10), 0o644); err != nil {
		t.Fatalf("within the quota: %v", err)
	}
	err = os.WriteFile(filepath.Join(dir, "big"), make([]byte, 1<<20), 0o644)
	if !errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("past the quota: %v, want EDQUOT", err)
	}
	q, err := v.GetQuota(context.Background(), e.Ino)
	if err != nil || q.UsedSpace < 512<<10 || q.UsedSpace >= 1<<20 {
		t.Fatalf("usage: %+v %v", q, err)
	}
	if err := os.Mkdir(filepath.Join(mnt, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(mnt, "out"), filepath.Join(dir, "in")); !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("a directory into the quota: %v, want EXDEV", err)
	}
	if err := os.Remove(filepath.Join(dir, "small")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fits"), make([]byte, 900<<10), 0o644); err != nil {
		t.Fatalf("after freeing room: %v", err)
	}
}
