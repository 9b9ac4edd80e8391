package file

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentPages counts the pages of the file at path in the page cache.
func residentPages(t *testing.T, path string) (in, all int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	for _, v := range vec {
		if v&1 != 0 {
			in++
		}
	}
	return in, len(vec)
}

// A block written with O_DIRECT skips the page cache, and is then read
// into it in the background: a reader of fresh data finds it in memory.
func TestDirectWriteRefillsPageCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "blk")
	buf, err := unix.Mmap(-1, 0, 4<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b := buf[:len(buf)-100] // an unaligned tail too
	ok, err := writeDirect(path, b, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("no O_DIRECT on this file system") // tmpfs
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	// Drop what the check read, and write again: the pages come back
	// without anyone reading the file.
	os.Remove(path)
	if _, err := writeDirect(path, b, true); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		in, all := residentPages(t, path)
		if in == all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pages in the page cache 10 s after the write", in, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
