package fusefs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"cairn/internal/fusefs"
	"cairn/internal/posix"
)

// With the kernel's writeback cache: a write-only open writing part of a
// page (the kernel reads the page first), O_APPEND placed by the kernel,
// a shared writable mmap, the size while writes are cached, a non-owner's
// write whose times the kernel sets at flush, and what another client of
// the volume reads after close — all as without the cache.
func TestWritebackCache(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 (for the mmap write) is not installed")
	}
	v, dir := newVolumeDir(t)
	mnt := filepath.Join(openTempDir(t), "mnt") // users reach it
	mountAt(t, mnt, v, fusefs.Options{WritebackCache: true, AllowOther: true})
	other := openVolume(t, dir) // another client of the volume
	p := filepath.Join(mnt, "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte("a"), 10000), 0o664); err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("a"), 10000)

	// Write-only, in the middle of a page.
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("0123456789"), 5000); err != nil {
		t.Fatalf("write-only write inside a page: %v", err)
	}
	copy(want[5000:], "0123456789")
	if st, err := os.Stat(p); err != nil || st.Size() != 10000 {
		t.Fatalf("size while the write is cached: %v %v", st, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// O_APPEND, twice, from two opens.
	for _, s := range []string{"tail-1", "tail-2"} {
		a, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.WriteString(s); err != nil {
			t.Fatalf("append: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		want = append(want, s...)
	}

	// A shared writable mapping, written in another process: a page
	// fault of this one on its own mount could stall it (the Go runtime
	// cannot stop a thread in a fault for a collection, and the collection
	// stops the goroutines that would serve the fault).
	mm := exec.Command("python3", "-c", `import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 8192)
m[100:106] = b"mapped"
m.flush()
m.close()
os.close(fd)`, p)
	if out, err := mm.CombinedOutput(); err != nil {
		t.Fatalf("mmap write: %v\n%s", err, out)
	}
	copy(want[100:], "mapped")

	// A write by a user who may write (group) but does not own the file:
	// the kernel sets the times when it flushes.
	if err := os.Chown(p, 4001, 4100); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o664); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	time.Sleep(20 * time.Millisecond)
	asUser(t, 4002, 4100, nil, func() {
		g, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Errorf("group member's open: %v", err)
			return
		}
		if _, err := g.WriteAt([]byte("G"), 0); err != nil {
			t.Errorf("group member's write: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Errorf("group member's close: %v", err)
		}
	})
	want[0] = 'G'
	after, err := os.Stat(p)
	if err != nil || !after.ModTime().After(before.ModTime()) {
		t.Fatalf("mtime after the group member's write: %v → %v (%v)", before.ModTime(), after.ModTime(), err)
	}

	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back through the mount: %d bytes %v; equal %v", len(got), err, bytes.Equal(got, want))
	}
	fh, a, err := other.Open(ctx, posix.Root, posix.Ino(inoOf(t, p)), syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(ctx, fh)
	buf := make([]byte, a.Length+10)
	n, err := other.Read(ctx, fh, buf, 0)
	if err != nil || !bytes.Equal(buf[:n], want) {
		t.Fatalf("another client reads %d bytes (%v), equal %v", n, err, bytes.Equal(buf[:n], want))
	}
}

// The writeback cache needs the kernel's checks.
func TestWritebackCacheNeedsKernelChecks(t *testing.T) {
	requireFuse(t)
	v := newVolume(t)
	if _, err := fusefs.Mount(t.TempDir(), v, fusefs.Options{WritebackCache: true, UserspaceChecks: true}); err == nil {
		t.Fatal("a writeback-cache mount with userspace checks was accepted")
	}
}

func inoOf(t *testing.T, p string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
