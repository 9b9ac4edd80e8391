//go:build linux

package powercutfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// mountT mounts lower at a fresh mount point and unmounts at the end of the
// test unless it was cut. It skips the test when FUSE is not available.
func mountT(t *testing.T, lower string) (*FS, string) {
	t.Helper()
	mnt := t.TempDir()
	return mountAt(t, lower, mnt, Options{}), mnt
}

// mountAt is mountT with a given mount point and options.
func mountAt(t *testing.T, lower, mnt string, opt Options) *FS {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	opt.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := Mount(lower, mnt, opt)
	if err != nil {
		msg := strings.ToLower(err.Error())
		if errors.Is(err, fs.ErrPermission) || strings.Contains(msg, "permission denied") || strings.Contains(msg, "not permitted") {
			t.Skipf("cannot mount FUSE: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("unmount: %v", err)
		}
	})
	return f
}

// newLower returns a fresh lower directory holding files (path → contents;
// a path ending in "/" is a directory).
func newLower(t *testing.T, files map[string]string) string {
	t.Helper()
	lower := filepath.Join(t.TempDir(), "lower")
	mustNil(t, os.Mkdir(lower, 0o755))
	for p, data := range files {
		full := filepath.Join(lower, p)
		if strings.HasSuffix(p, "/") {
			mustNil(t, os.MkdirAll(full, 0o755))
			continue
		}
		mustNil(t, os.MkdirAll(filepath.Dir(full), 0o755))
		mustNil(t, os.WriteFile(full, []byte(data), 0o644))
	}
	return lower
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cut runs f.Cut, failing the test if it errs or hangs.
func cut(t *testing.T, f *FS) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f.Cut() }()
	select {
	case err := <-done:
		mustNil(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("Cut hung")
	}
	t.Logf("stats %+v", f.Stats())
}

// fsyncPath fsyncs a file or directory by path.
func fsyncPath(t *testing.T, p string) {
	t.Helper()
	fh, err := os.Open(p)
	mustNil(t, err)
	defer fh.Close()
	mustNil(t, fh.Sync())
}

// writeAt writes data at off of p (created if missing), fsyncing when sync.
func writeAt(t *testing.T, p string, off int64, data string, sync bool) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	mustNil(t, err)
	defer fh.Close()
	_, err = fh.WriteAt([]byte(data), off)
	mustNil(t, err)
	if sync {
		mustNil(t, fh.Sync())
	}
}

// replace writes p from scratch (O_TRUNC), fsyncing when sync.
func replace(t *testing.T, p, data string, sync bool) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	mustNil(t, err)
	defer fh.Close()
	_, err = fh.Write([]byte(data))
	mustNil(t, err)
	if sync {
		mustNil(t, fh.Sync())
	}
}

func wantFile(t *testing.T, p, want string) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if string(got) != want {
		t.Fatalf("%s = %q, want %q", p, clip(got), clip([]byte(want)))
	}
}

func wantAbsent(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s: want absent, got err %v", p, err)
	}
}

func clip(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%s…(%d bytes)", b[:64], len(b))
	}
	return string(b)
}

func TestFileContents(t *testing.T) { runCases(t, contentCases) }

func TestEntries(t *testing.T) { runCases(t, entryCases) }

func TestCutWithOpenFiles(t *testing.T) {
	t.Run("in-process descriptor fails after cut", func(t *testing.T) {
		lower := newLower(t, map[string]string{"a": "old"})
		f, mnt := mountT(t, lower)
		fh, err := os.OpenFile(filepath.Join(mnt, "a"), os.O_RDWR, 0)
		mustNil(t, err)
		defer fh.Close()
		_, err = fh.WriteAt([]byte("new"), 0)
		mustNil(t, err)
		stop := make(chan struct{})
		writerDone := make(chan struct{})
		go func() { // keeps writing through the cut
			defer close(writerDone)
			w, err := os.OpenFile(filepath.Join(mnt, "busy"), os.O_WRONLY|os.O_CREATE, 0o644)
			if err != nil {
				return
			}
			defer w.Close()
			buf := bytes.Repeat([]byte("x"), 64<<10)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		}()
		time.Sleep(50 * time.Millisecond)
		cut(t, f)
		close(stop)
		<-writerDone
		if _, err := fh.WriteAt([]byte("later"), 0); err == nil {
			t.Fatal("write on an old descriptor succeeded after the cut")
		}
		if _, err := fh.ReadAt(make([]byte, 3), 0); err == nil {
			t.Fatal("read on an old descriptor succeeded after the cut")
		}
		wantFile(t, filepath.Join(lower, "a"), "old")
		wantAbsent(t, filepath.Join(lower, "busy"))
	})
	t.Run("killed process", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh")
		}
		lower := newLower(t, map[string]string{"log": ""})
		f, mnt := mountT(t, lower)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// cmd.Dir on the mount is safe because a server process serves
		// it (see Options.InProcess).
		script := `while :; do echo line >> log; mv -f log log2; mv -f log2 log; done`
		cmd := exec.CommandContext(ctx, sh, "-c", script)
		cmd.Dir = mnt
		mustNil(t, cmd.Start())
		time.Sleep(200 * time.Millisecond)
		mustNil(t, cmd.Process.Signal(syscall.SIGKILL))
		cmd.Wait()
		cut(t, f)
		wantFile(t, filepath.Join(lower, "log"), "")
		wantAbsent(t, filepath.Join(lower, "log2"))
	})
}

// TestAppendSync is SQLite's WAL pattern: many small appends, each
// followed by fdatasync. Each sync must copy only what was appended.
func TestAppendSync(t *testing.T) {
	lower := newLower(t, map[string]string{"db": strings.Repeat("d", 1<<20)})
	f, mnt := mountT(t, lower)
	w, err := os.OpenFile(filepath.Join(mnt, "db-wal"), os.O_RDWR|os.O_CREATE, 0o644)
	mustNil(t, err)
	defer w.Close()
	fsyncPath(t, mnt)
	const n, size = 3000, 4096
	var want bytes.Buffer
	start := time.Now()
	var firstHalf time.Duration
	for i := range n {
		rec := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		_, err := w.Write(rec)
		mustNil(t, err)
		mustNil(t, unix.Fdatasync(int(w.Fd())))
		want.Write(rec)
		if i == n/2 {
			firstHalf = time.Since(start)
		}
	}
	total := time.Since(start)
	t.Logf("%d appends+fdatasync in %v (first half %v, second %v)", n, total, firstHalf, total-firstHalf)
	st := f.Stats()
	if st.SyncedBytes > n*size {
		t.Fatalf("syncs copied %d bytes for %d appended: not incremental", st.SyncedBytes, n*size)
	}
	if st.Syncs < n {
		t.Fatalf("%d syncs seen, want ≥ %d", st.Syncs, n)
	}
	_, err = w.WriteAt([]byte("unsynced header"), 0)
	mustNil(t, err)
	cut(t, f)
	wantFile(t, filepath.Join(lower, "db-wal"), want.String())
	wantFile(t, filepath.Join(lower, "db"), strings.Repeat("d", 1<<20))
}

// TestManyFiles writes 2,000 block files the way cairn does (temp name,
// fsync, rename, fsync of the directory) and checks all survive a cut,
// while unsynced ones do not.
func TestManyFiles(t *testing.T) {
	lower := newLower(t, nil)
	f, mnt := mountT(t, lower)
	const dirs, perDir = 20, 100
	start := time.Now()
	for d := range dirs {
		dir := filepath.Join(mnt, fmt.Sprintf("%02x", d))
		mustNil(t, os.Mkdir(dir, 0o755))
		for i := range perDir {
			tmp := filepath.Join(dir, fmt.Sprintf(".tmp-%d", i))
			writeAt(t, tmp, 0, fmt.Sprintf("block %d/%d", d, i), true)
			mustNil(t, os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("b%04d", i))))
		}
		writeAt(t, filepath.Join(dir, "unsynced"), 0, "x", true)
		fsyncPath(t, dir)
		mustNil(t, os.Remove(filepath.Join(dir, "unsynced")))
		writeAt(t, filepath.Join(dir, "lost"), 0, "x", true)
	}
	fsyncPath(t, mnt)
	t.Logf("%d files in %v", dirs*perDir, time.Since(start))
	start = time.Now()
	cut(t, f)
	t.Logf("cut in %v", time.Since(start))
	for d := range dirs {
		dir := filepath.Join(lower, fmt.Sprintf("%02x", d))
		ents, err := os.ReadDir(dir)
		mustNil(t, err)
		if len(ents) != perDir+1 {
			t.Fatalf("%s: %d entries, want %d", dir, len(ents), perDir+1)
		}
		for i := range perDir {
			wantFile(t, filepath.Join(dir, fmt.Sprintf("b%04d", i)), fmt.Sprintf("block %d/%d", d, i))
		}
		wantFile(t, filepath.Join(dir, "unsynced"), "x")
		wantAbsent(t, filepath.Join(dir, "lost"))
	}
}

// TestBlockThroughput writes and reads back 4 MiB blocks the way cairn
// does and logs the rate; it fails only on wrong data.
func TestBlockThroughput(t *testing.T) {
	lower := newLower(t, map[string]string{"blocks/": ""})
	f, mnt := mountT(t, lower)
	const blocks, size = 16, 4 << 20
	block := make([]byte, size)
	for i := range block {
		block[i] = byte(i * 7)
	}
	dir := filepath.Join(mnt, "blocks")
	start := time.Now()
	for i := range blocks {
		tmp := filepath.Join(dir, fmt.Sprintf("tmp%d", i))
		fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		mustNil(t, err)
		_, err = fh.Write(block)
		mustNil(t, err)
		mustNil(t, fh.Sync())
		mustNil(t, fh.Close())
		mustNil(t, os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("b%d", i))))
		fsyncPath(t, dir)
	}
	wrote := time.Since(start)
	start = time.Now()
	for i := range blocks {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("b%d", i)))
		mustNil(t, err)
		if !bytes.Equal(got, block) {
			t.Fatalf("block %d reads back wrong", i)
		}
	}
	read := time.Since(start)
	mb := float64(blocks*size) / (1 << 20)
	t.Logf("write+fsync %.0f MiB/s, read %.0f MiB/s", mb/wrote.Seconds(), mb/read.Seconds())
	cut(t, f)
	got, err := os.ReadFile(filepath.Join(lower, "blocks", "b3"))
	mustNil(t, err)
	if !bytes.Equal(got, block) {
		t.Fatal("block wrong after cut")
	}
}

func TestLifecycle(t *testing.T) {
	t.Run("cut twice, then mount again at the same place", func(t *testing.T) {
		lower := newLower(t, map[string]string{"a": "v1"})
		mnt := t.TempDir()
		f := mountAt(t, lower, mnt, Options{})
		replace(t, filepath.Join(mnt, "a"), "v2", true)
		cut(t, f)
		if err := f.Cut(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Cut: %v, want ErrClosed", err)
		}
		if err := f.Unmount(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Unmount after Cut: %v, want ErrClosed", err)
		}
		f = mountAt(t, lower, mnt, Options{})
		wantFile(t, filepath.Join(mnt, "a"), "v2")
		replace(t, filepath.Join(mnt, "a"), "v3", false)
		cut(t, f)
		wantFile(t, filepath.Join(lower, "a"), "v2")
	})
	t.Run("shadow directory on another file system", func(t *testing.T) {
		lower := newLower(t, map[string]string{"kept": "k", "lost": "l", "d/x": "x"})
		shadow := "/dev/shm"
		if fi, err := os.Stat(shadow); err != nil || !fi.IsDir() || sameDevice(lower, shadow) {
			t.Skip("no second file system for the shadow directory")
		}
		mnt := t.TempDir()
		f := mountAt(t, lower, mnt, Options{ShadowDir: shadow})
		replace(t, filepath.Join(mnt, "kept"), "k2", true)
		mustNil(t, os.Remove(filepath.Join(mnt, "lost")))   // untouched, last name: copied
		mustNil(t, os.Remove(filepath.Join(mnt, "d", "x"))) // same, then made durable
		fsyncPath(t, filepath.Join(mnt, "d"))
		cut(t, f)
		wantFile(t, filepath.Join(lower, "kept"), "k2")
		wantFile(t, filepath.Join(lower, "lost"), "l")
		wantAbsent(t, filepath.Join(lower, "d", "x"))
	})
}

// TestInProcess runs a few cases with the mount served by this process
// (Options.InProcess): no mmap, no child processes on the mount.
func TestInProcess(t *testing.T) {
	lower := newLower(t, map[string]string{"a": "old", "b": "old"})
	f := mountAt(t, lower, t.TempDir(), Options{InProcess: true})
	mnt := f.srv.(*engine).mountpoint
	replace(t, filepath.Join(mnt, "a"), "lost", false)
	replace(t, filepath.Join(mnt, "b"), "kept", true)
	writeAt(t, filepath.Join(mnt, "c"), 0, "gone", true)
	fh, err := os.OpenFile(filepath.Join(mnt, "a"), os.O_RDWR, 0)
	mustNil(t, err)
	defer fh.Close()
	cut(t, f)
	if _, err := fh.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("write on an old descriptor succeeded after the cut")
	}
	wantFile(t, filepath.Join(lower, "a"), "old")
	wantFile(t, filepath.Join(lower, "b"), "kept")
	wantAbsent(t, filepath.Join(lower, "c"))
	if st := f.Stats(); st.Syncs != 2 || st.ForgottenEntries != 1 {
		t.Fatalf("stats %+v, want 2 syncs and 1 forgotten entry", st)
	}
}
