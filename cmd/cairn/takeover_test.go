package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSmoothRemount: `cairn mount` on a live cairn mount takes it over
// while programs use it — an open writer, a `tail -f`, a shell whose
// working directory is inside, a reader of a file unlinked while open, a
// flock held — and none of them sees an error; the old process exits, the
// new one serves until `cairn umount`; the volume is consistent after.
// A takeover that would change what the kernel fixed at mount time is
// refused and the old process serves on.
func TestSmoothRemount(t *testing.T) {
	needFuse(t)
	needTool(t, "tail", "bash")
	c := cli{t, buildCairn(t)}
	metaURL := formatted(t, c)
	mp := t.TempDir()
	t.Cleanup(func() { forceUnmount(mp) })
	c.ok("mount", metaURL, mp, "-d")
	pidFile, _ := mountState(mp)
	oldPid, err := readPid(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(mp, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mp, "a.txt"), []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The users of the mount.
	w, err := os.Create(filepath.Join(mp, "dir", "log.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	writeLine := func(i int) {
		t.Helper()
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := w.WriteString(line); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	writeLine(0)
	var tailOut lockedBuffer
	tail := exec.Command("tail", "-n", "+1", "-f", filepath.Join(mp, "dir", "log.txt"))
	tail.Stdout = &tailOut
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	shell := exec.Command("bash", "-c", `cd "$1/dir" && for i in $(seq 100); do ls >/dev/null && cat ../a.txt >/dev/null || exit 1; sleep 0.03; done`, "sh", mp)
	var shellOut lockedBuffer
	shell.Stdout, shell.Stderr = &shellOut, &shellOut
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	gone, err := os.Create(filepath.Join(mp, "gone.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gone.WriteString("unlinked but open\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mp, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	lock, err := os.Create(filepath.Join(mp, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	// A takeover that would change the permission mode is refused, and
	// the mount goes on.
	c.fails("cannot change on a live mount", "mount", metaURL, mp, "--userspace-checks")
	writeLine(1)
	if pid, _ := readPid(pidFile); pid != oldPid {
		t.Fatalf("the refused takeover replaced the mount process (%d, was %d)", pid, oldPid)
	}

	// The takeover, while all of them run.
	for i := 2; i < 10; i++ {
		writeLine(i)
		time.Sleep(10 * time.Millisecond)
	}
	out := c.ok("mount", metaURL, mp, "-d")
	if !strings.Contains(out, "running in the background") {
		t.Fatalf("takeover: %s", out)
	}
	waitFor(t, "the old mount process to exit", func() bool { return syscall.Kill(oldPid, 0) != nil })
	newPid, err := readPid(pidFile)
	if err != nil || newPid == oldPid {
		t.Fatalf("pid file after the takeover: %d %v (old %d)", newPid, err, oldPid)
	}
	for i := 10; i < 20; i++ {
		writeLine(i)
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing the writer: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(mp, "dir", "log.txt"))
	if err != nil || !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("the file written across the takeover: %q %v, want %q", b, err, want.String())
	}
	waitFor(t, "tail -f to print the last line", func() bool { return strings.Contains(tailOut.String(), "line 19\n") })
	if tailOut.String() != want.String() {
		t.Fatalf("tail -f printed %q, want %q", tailOut.String(), want.String())
	}
	if err := shell.Wait(); err != nil {
		t.Fatalf("the shell inside the mount: %v\n%s", err, shellOut.String())
	}
	buf := make([]byte, 64)
	if n, err := gone.ReadAt(buf, 0); string(buf[:n]) != "unlinked but open\n" {
		t.Fatalf("the unlinked file read after the takeover: %q %v", buf[:n], err)
	}
	gone.Close()
	// The flock is still held: another open file cannot take it.
	other, err := os.Open(filepath.Join(mp, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(other.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("flock by another open file while held across the takeover: %v", err)
	}
	// (close(2) lets a FUSE flock go asynchronously, with the release of
	// the file: unlock first.)
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_UN); err != nil {
		t.Fatalf("unlocking the flock taken before the takeover: %v", err)
	}
	lock.Close()
	if err := unix.Flock(int(other.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("flock once released: %v", err)
	}
	other.Close()
	tail.Process.Kill()
	tail.Wait()
	ss := sessions(t, c, metaURL)
	if len(ss) != 1 || ss[0].PID != newPid {
		t.Fatalf("sessions after the takeover: %+v (new pid %d)", ss, newPid)
	}
	c.ok("umount", mp)
	if mounted(mp) || syscall.Kill(newPid, 0) == nil {
		t.Fatalf("after umount: mounted %v, process alive %v", mounted(mp), syscall.Kill(newPid, 0) == nil)
	}
	if out := c.ok("fsck", metaURL); !strings.Contains(out, "consistent") {
		t.Fatalf("fsck after the takeover: %s", out)
	}
	if len(sessions(t, c, metaURL)) != 0 {
		t.Fatal("the session outlived the mount")
	}
}

// lockedBuffer is a bytes.Buffer a command writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
