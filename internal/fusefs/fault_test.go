package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"cairn/internal/chunk"
	"cairn/internal/fusefs"
	"cairn/internal/object"
	"cairn/internal/object/objecttest"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// A full disk under the volume (metadata and blocks on a small ext4 on a
// loop device) is ENOSPC to the writer, never EIO or a hang; what was
// written before is intact, and the volume checks clean.
func TestFullDisk(t *testing.T) {
	requireFuse(t)
	for _, tool := range []string{"mkfs.ext4", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
	base := t.TempDir()
	img, disk := filepath.Join(base, "disk.img"), filepath.Join(base, "disk")
	if err := os.Mkdir(disk, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"truncate", "-s", "40M", img}, {"mkfs.ext4", "-q", "-F", img}, {"mount", "-o", "loop", img, disk}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	v := newVolumeAt(t, disk)
	mnt := mount(t, v, fusefs.Options{})

	kept := bytes.Repeat([]byte("kept "), 200<<10/5)
	if err := os.WriteFile(filepath.Join(mnt, "kept"), kept, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0xa5}, 1<<20)
	var werr error
	for i := 0; i < 200 && werr == nil; i++ {
		_, werr = f.Write(chunk)
	}
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("writing 200 MiB to a 40 MiB disk: %v, want ENOSPC", werr)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "kept")); err != nil || !bytes.Equal(b, kept) {
		t.Fatalf("the file written before the disk filled: %d bytes, %v", len(b), err)
	}
	if err := os.Remove(filepath.Join(mnt, "big")); err != nil {
		t.Fatalf("removing the big file on a full disk: %v", err)
	}
	rep, err := v.Fsck(ctx, vfs.FsckOptions{})
	if err != nil || !rep.Consistent() || rep.Missing+rep.Corrupt > 0 {
		t.Fatalf("fsck after a full disk: %+v %v", rep, err)
	}
}

// An object store that fails is EIO to the caller and a log line, never
// a hung mount; once it recovers the same mount works again.
func TestObjectStoreErrors(t *testing.T) {
	requireFuse(t)
	v, faulty, _ := faultyVolume(t)
	var logged syncBuffer
	mnt := mount(t, v, fusefs.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	objectStoreErrors(t, mnt, faulty, &logged)
}

// A file opened again unchanged is read from the kernel's page cache;
// changed by another client, it is read anew.
func TestKeepCache(t *testing.T) {
	requireFuse(t)
	v, _, gets := faultyVolume(t)
	mnt := mount(t, v, fusefs.Options{})
	p := filepath.Join(mnt, "f")
	data := bytes.Repeat([]byte("x"), 1<<20)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first read may fill the page cache
		if _, err := os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	before := gets.Load()
	if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("reread: %d bytes, %v", len(b), err)
	}
	if n := gets.Load() - before; n != 0 {
		t.Errorf("an unchanged file was read from the store again at its next open (%d gets)", n)
	}
	// Another client changes it (same length): the next open must not
	// keep the pages.
	fh, _, err := v.Open(ctx, posix.Root, fileIno(t, p), syscall.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Write(ctx, fh, []byte("yyyy"), 0); err != nil {
		t.Fatal(err)
	}
	if err := v.Release(ctx, fh); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b[:5]) != "yyyyx" {
		t.Fatalf("after another client's write: %q %v", b[:5], err)
	}
}

func fileIno(t *testing.T, p string) posix.Ino {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return posix.Ino(st.Ino)
}

// faultyVolume is a fresh volume whose object store can be broken, with
// no block cache (every read the kernel sends reaches the store).
func faultyVolume(t *testing.T) (*vfs.FS, *objecttest.Faulty, *atomic.Int64) {
	t.Helper()
	_, dir := newVolumeDir(t)
	var counted *countingStore
	var faulty *objecttest.Faulty
	v := openVolumeWith(t, dir, func(obj object.Store) object.Store {
		counted = &countingStore{Store: obj}
		faulty = objecttest.NewFaulty(counted)
		return faulty
	}, chunk.Options{BlockSize: 1 << 20, CacheSize: -1})
	return v, faulty, &counted.gets
}

// countingStore counts Gets.
type countingStore struct {
	object.Store
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key, off, length)
}

func objectStoreErrors(t *testing.T, mnt string, faulty *objecttest.Faulty, logged *syncBuffer) {

	data := bytes.Repeat([]byte("0123456789abcdef"), 256<<10/16) // 256 KiB: blocks, not inline
	if err := os.WriteFile(filepath.Join(mnt, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	faulty.Add(objecttest.Rule{Op: objecttest.OpGet})
	faulty.Add(objecttest.Rule{Op: objecttest.OpPut})
	// O_DIRECT: past the kernel's page cache, to the store.
	fd, err := syscall.Open(filepath.Join(mnt, "f"), syscall.O_RDONLY|syscall.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	_, rerr := syscall.Pread(fd, buf, 0)
	syscall.Close(fd)
	if !errors.Is(rerr, syscall.EIO) {
		t.Fatalf("a read with the store failing: %v, want EIO", rerr)
	}
	werr := os.WriteFile(filepath.Join(mnt, "g"), data, 0o644)
	if !errors.Is(werr, syscall.EIO) {
		t.Fatalf("a write with the store failing: %v, want EIO", werr)
	}
	if !strings.Contains(logged.String(), "injected fault") {
		t.Fatalf("no log line names the store's error:\n%s", logged.String())
	}
	faulty.Clear()
	if b, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("after the store recovered: %d bytes, %v", len(b), err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "g"), data, 0o644); err != nil {
		t.Fatalf("a write after the store recovered: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
