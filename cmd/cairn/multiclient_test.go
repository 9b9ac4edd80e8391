package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cairn/internal/testsrv"
)

// TestTwoMounts: two mount processes of one Redis volume see each other's
// closed files (close-to-open), exclude each other with flock and fcntl
// locks, and when one is killed the other gets its locks back and the
// file it held open after unlinking is reclaimed.
func TestTwoMounts(t *testing.T) {
	needFuse(t)
	c := cli{t, buildCairn(t)}
	redis := testsrv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	url := "redis://" + redis.Addr + "/1"
	c.ok("format", url, "shared", "--bucket", filepath.Join(t.TempDir(), "blocks"))
	a, b := t.TempDir(), t.TempDir()
	for _, mp := range []string{a, b} {
		t.Cleanup(func() { forceUnmount(mp) })
		c.ok("mount", url, mp, "-d")
	}
	// Close-to-open, both ways, same length so that only the bytes tell.
	if err := os.WriteFile(filepath.Join(a, "f"), []byte("written on A"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(b, "f")); err != nil || string(got) != "written on A" {
		t.Fatalf("B reads %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(b, "f"), []byte("written on B"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(a, "f")); err != nil || string(got) != "written on B" {
		t.Fatalf("A reads %q after B's write, %v", got, err)
	}
	// flock across the mounts.
	fa, err := os.Open(filepath.Join(a, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(filepath.Join(b, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if err := unix.Flock(int(fa.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("flock on B while A holds it: %v", err)
	}
	if err := unix.Flock(int(fa.Fd()), unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to get the flock A released", func() bool { return unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil })
	unix.Flock(int(fb.Fd()), unix.LOCK_UN)
	// fcntl record locks: a write lock on bytes 0-9 on A excludes B's on 5-14.
	ga, err := os.OpenFile(filepath.Join(a, "f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ga.Close()
	gb, err := os.OpenFile(filepath.Join(b, "f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer gb.Close()
	lk := func(f *os.File, typ int16, start, n int64) error {
		return unix.FcntlFlock(f.Fd(), unix.F_SETLK, &unix.Flock_t{Type: typ, Whence: 0, Start: start, Len: n})
	}
	if err := lk(ga, unix.F_WRLCK, 0, 10); err != nil {
		t.Fatal(err)
	}
	if err := lk(gb, unix.F_WRLCK, 5, 10); !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
		t.Fatalf("fcntl lock on B over A's: %v", err)
	}
	if err := lk(gb, unix.F_WRLCK, 10, 10); err != nil {
		t.Fatalf("fcntl lock on B beside A's: %v", err)
	}
	lk(gb, unix.F_UNLCK, 10, 10)
	// B takes the flock, opens a file and unlinks it, and is killed.
	if err := unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "tmp"), bytes.Repeat([]byte("x"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(filepath.Join(b, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(a, "tmp")); err != nil {
		t.Fatal(err)
	}
	pidFile, _ := mountState(b)
	pid, _ := readPid(pidFile)
	// B dies holding the flock, a record lock and the unlinked file open.
	if err := lk(gb, unix.F_WRLCK, 20, 10); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "B to die", func() bool { return syscall.Kill(pid, 0) != nil })
	fb.Close()
	gb.Close()
	held.Close()
	// A, on the same host, sees B's process gone at its next heartbeat:
	// B's session, flock, record lock and open-unlinked file go.
	deadline := time.Now().Add(30 * time.Second)
	for unix.Flock(int(fa.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the killed mount's flock was never released")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// (A's next heartbeat, at most 12 s away, removes the session.)
	for gone := false; !gone; time.Sleep(200 * time.Millisecond) {
		gone = true
		for _, s := range sessions(t, c, url) {
			gone = gone && s.PID != pid
		}
		if time.Now().After(deadline.Add(15 * time.Second)) {
			t.Fatal("the killed mount's session was never cleaned up")
		}
	}
	if err := lk(ga, unix.F_WRLCK, 20, 10); err != nil {
		t.Fatalf("the dead mount's record lock is still held: %v", err)
	}
	c.ok("umount", "--force", b)
	fa.Close()
	ga.Close()
	c.ok("umount", a)
	out := c.ok("fsck", url)
	if !strings.Contains(out, "consistent") {
		t.Fatalf("fsck: %s", out)
	}
}
