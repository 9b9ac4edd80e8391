package vfs_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cairn/internal/fusefs/powercutfs"
	"cairn/internal/meta"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// TestPowerCutFsync writes files through vfs in a child process, on a
// volume (SQLite and blocks) kept on a file system that forgets, at a
// cut, all that was not made durable (powercutfs, served by this
// process), and cuts the power while the child's writers run. The
// child notes a file in a journal (on the real disk) once its write,
// fsync, release and rename have returned. After each cut, on the
// directory as the cut left it: every journaled file is there with
// exactly its bytes, the volume is consistent, and the blocks the cut
// writers left are reclaimed. (The volume is never opened by this
// process through the mount: SQLite maps its -shm file, and a page fault
// that the faulting process must serve itself can deadlock it.)
func TestPowerCutFsync(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("/dev/fuse is missing")
		}
		t.Skip("no /dev/fuse")
	}
	base := t.TempDir()
	lower, mnt := filepath.Join(base, "lower"), filepath.Join(base, "mnt")
	journal := filepath.Join(base, "journal")
	os.Mkdir(lower, 0o700)
	os.Mkdir(mnt, 0o700)
	if err := formatCrashVolume(lower); err != nil {
		t.Fatal(err)
	}
	v := openPowerCutVolume(t, lower)
	if _, err := v.fs.Mkdir(ctx, posix.Root, posix.RootIno, "data", 0o755); err != nil {
		t.Fatal(err)
	}
	v.close()
	var cut int64
	files := 0
	for round := range 12 {
		pfs, err := powercutfs.Mount(lower, mnt, powercutfs.Options{ShadowDir: base})
		if err != nil {
			if os.Getenv("CI") == "" && errors.Is(err, os.ErrPermission) {
				t.Skipf("cannot mount FUSE here: %v", err)
			}
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CAIRN_POWERCUT_DIR="+mnt, "CAIRN_POWERCUT_JOURNAL="+journal, fmt.Sprintf("CAIRN_POWERCUT_ROUND=%d", round))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		ready, err := cmd.StdoutPipe()
		if err != nil {
			pfs.Unmount()
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			pfs.Unmount()
			t.Fatal(err)
		}
		// The cut falls at a random moment of the writers' run, never
		// during the child's setup (a slow start on a loaded machine
		// would otherwise make a cut before the volume opened look like
		// a failure to open it).
		if err := awaitReady(ready, 2*time.Minute); err != nil {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			pfs.Unmount()
			t.Fatalf("round %d: child not ready: %v; %s", round, err, stderr.String())
		}
		time.Sleep(time.Duration(300+rand.New(rand.NewSource(int64(round))).Intn(900)) * time.Millisecond)
		cerr := pfs.Cut()
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if cerr != nil {
			t.Fatalf("round %d: cut: %v", round, cerr)
		}
		if strings.Contains(stderr.String(), "child setup:") {
			t.Fatalf("round %d: %s", round, stderr.String())
		}
		cut += pfs.Stats().ForgottenBytes
		v := openPowerCutVolume(t, lower)
		d, err := v.fs.Lookup(ctx, posix.Root, posix.RootIno, "data")
		if err != nil {
			t.Fatal(err)
		}
		files = checkJournal(t, v.fs, d.Ino, journal)
		if _, err := v.m.CleanDeadSessions(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := v.fs.ReclaimLeftovers(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := v.fs.Fsck(ctx, vfs.FsckOptions{})
		if err != nil || !rep.Consistent() || rep.Leftovers != 0 || rep.InFlight != 0 {
			t.Fatalf("round %d: fsck %+v %v", round, rep, err)
		}
		v.close()
	}
	if files == 0 {
		t.Fatal("no file was acknowledged: the test tested nothing")
	}
	t.Logf("%d files acknowledged over 12 cuts; %d unsynced bytes forgotten", files, cut)
}

// openPowerCutVolume opens the volume in dir, knowing every other
// client's process to be gone (the cut children).
func openPowerCutVolume(t *testing.T, dir string) *volumeParts {
	t.Helper()
	self := os.Getpid()
	v, err := openVolumeOn(dir, meta.SessionInfo{Host: "h", PID: self, Process: "powercut check"},
		meta.Options{SliceDeleteDelay: -1, ProcessGone: func(s meta.SessionInfo) bool { return s.PID != self }}, false)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// powerCutChild writes files with four writers until its volume fails or
// it is killed, journaling each file once written, fsynced and renamed.
func powerCutChild(dir, journal, round string) {
	v, err := openVolumeOn(dir, meta.SessionInfo{Host: "h", PID: os.Getpid(), Process: "powercut child " + round},
		meta.Options{SliceDeleteDelay: -1}, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child setup:", err)
		os.Exit(2)
	}
	j, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child setup:", err)
		os.Exit(2)
	}
	d, err := v.fs.Lookup(ctx, posix.Root, posix.RootIno, "data")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child setup:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("p%s-%d-%04d", round, w, i)
				if err := writeFsynced(v.fs, d.Ino, name); err != nil {
					return
				}
				mu.Lock()
				fmt.Fprintln(j, name)
				j.Sync()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	select {} // the volume failed (cut): wait for the kill
}

// awaitReady waits for the child's "ready" line on r.
func awaitReady(r io.Reader, limit time.Duration) error {
	got := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("unexpected line %q", line)
		}
		got <- err
	}()
	select {
	case err := <-got:
		return err
	case <-time.After(limit):
		return fmt.Errorf("no ready line within %v", limit)
	}
}

// writeFsynced creates name in dir as name.tmp, writes its pattern,
// fsyncs and releases it and renames it into place.
func writeFsynced(fs *vfs.FS, dir posix.Ino, name string) error {
	data := pattern(name, sizeOf(name))
	fh, _, err := fs.Create(ctx, posix.Root, dir, name+".tmp", 0o644, syscall.O_RDWR|syscall.O_EXCL)
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += 50000 {
		if _, err := fs.Write(ctx, fh, data[off:min(off+50000, len(data))], int64(off)); err != nil {
			fs.Release(ctx, fh)
			return err
		}
	}
	if err := fs.Fsync(ctx, fh); err != nil {
		fs.Release(ctx, fh)
		return err
	}
	if err := fs.Release(ctx, fh); err != nil {
		return err
	}
	return fs.Rename(ctx, posix.Root, dir, name+".tmp", dir, name, 0)
}

// checkJournal checks that every journaled file holds its bytes, and
// returns how many there are.
func checkJournal(t *testing.T, fs *vfs.FS, dir posix.Ino, journal string) int {
	t.Helper()
	f, err := os.Open(journal)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := sc.Text()
		n++
		e, err := fs.Lookup(ctx, posix.Root, dir, name)
		if err != nil {
			t.Fatalf("%s was acknowledged, then lost: %v", name, err)
		}
		fh, _, err := fs.Open(ctx, posix.Root, e.Ino, syscall.O_RDONLY)
		if err != nil {
			t.Fatal(err)
		}
		want := pattern(name, sizeOf(name))
		got := make([]byte, len(want)+1)
		k, err := fs.Read(ctx, fh, got, 0)
		fs.Release(ctx, fh)
		if err != nil || k != len(want) || string(got[:k]) != string(want) {
			t.Fatalf("%s: %d bytes (%v), want its %d", name, k, err, len(want))
		}
	}
	return n
}
