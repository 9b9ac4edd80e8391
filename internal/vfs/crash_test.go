package vfs_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/object/file"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// TestMain lets the crash test re-run this binary as the writing child.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CAIRN_CRASH_DIR"); dir != "" {
		crashChild(dir, os.Getenv("CAIRN_CRASH_ROUND"))
		os.Exit(0)
	}
	if dir := os.Getenv("CAIRN_POWERCUT_DIR"); dir != "" {
		powerCutChild(dir, os.Getenv("CAIRN_POWERCUT_JOURNAL"), os.Getenv("CAIRN_POWERCUT_ROUND"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// pattern is the content file (round, i) must have: deterministic bytes,
// never zero, so a hole or foreign data is always noticed.
func pattern(name string, size int) []byte {
	var seed int64
	for _, c := range name {
		seed = seed*31 + int64(c)
	}
	b := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(b)
	for i := range b {
		if b[i] == 0 {
			b[i] = 1
		}
	}
	return b
}

func sizeOf(name string) int {
	var seed int64
	for _, c := range name {
		seed = seed*17 + int64(c)
	}
	return 1 + int(rand.New(rand.NewSource(seed)).Int63n(600<<10))
}

type volumeParts struct {
	fs    *vfs.FS
	m     *meta.FS
	c     *chunk.Store
	close func()
}

func openCrashVolume(dir string, session string) (*volumeParts, error) {
	return openVolumeOn(dir, meta.SessionInfo{Process: session}, meta.Options{SliceDeleteDelay: -1}, true)
}

// openVolumeOn opens the volume in dir (meta.db, blocks/) with a session
// described by info; noSync skips the block files' syncs (a crash of the
// process alone loses nothing without them).
func openVolumeOn(dir string, info meta.SessionInfo, mopt meta.Options, noSync bool) (*volumeParts, error) {
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"), sqlkv.Options{})
	if err != nil {
		return nil, err
	}
	m, err := meta.Open(ctx, store, mopt)
	if err != nil {
		store.Close()
		return nil, err
	}
	if _, err := m.NewSession(ctx, info); err != nil {
		store.Close()
		return nil, err
	}
	objs, err := file.New(filepath.Join(dir, "blocks"), file.Options{NoSync: noSync})
	if err != nil {
		return nil, err
	}
	c := chunk.New(objs, chunk.Options{BlockSize: 1 << 16})
	fs := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	return &volumeParts{fs: fs, m: m, c: c, close: func() { fs.Close(); c.Close(); m.Close(); store.Close() }}, nil
}

// crashChild writes files until it is killed: each file in several
// writes, then released (committed); only then is its name appended to the
// journal and the journal fsynced. Some files are renamed over older ones.
func crashChild(dir, round string) {
	v, err := openCrashVolume(dir, "crash child "+round)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	j, err := os.OpenFile(filepath.Join(dir, "journal"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		os.Exit(2)
	}
	d, err := v.fs.Lookup(ctx, posix.Root, posix.RootIno, "data")
	if err != nil {
		os.Exit(2)
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("r%s-%05d", round, i)
		data := pattern(name, sizeOf(name))
		fh, _, err := v.fs.Create(ctx, posix.Root, d.Ino, name+".tmp", 0o644, syscall.O_RDWR|syscall.O_EXCL)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child create:", err)
			os.Exit(2)
		}
		for off := 0; off < len(data); off += 50000 {
			end := min(off+50000, len(data))
			if _, err := v.fs.Write(ctx, fh, data[off:end], int64(off)); err != nil {
				os.Exit(2)
			}
		}
		if err := v.fs.Fsync(ctx, fh); err != nil {
			os.Exit(2)
		}
		if err := v.fs.Release(ctx, fh); err != nil {
			os.Exit(2)
		}
		if err := v.fs.Rename(ctx, posix.Root, d.Ino, name+".tmp", d.Ino, name, 0); err != nil {
			os.Exit(2)
		}
		fmt.Fprintln(j, name)
		j.Sync()
	}
}

// TestCrashConsistency kills a writing process with SIGKILL many times
// mid-operation. After each kill: every file the journal says was
// committed is there with exactly its bytes; no file shows bytes it never
// had; the metadata check finds no problem; every referenced block exists,
// so only unreferenced blocks may be left over.
func TestCrashConsistency(t *testing.T) {
	dir := t.TempDir()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"), sqlkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "crash", Storage: "file", Bucket: filepath.Join(dir, "blocks"), BlockSize: 1 << 16}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	v, err := openCrashVolume(dir, "setup")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.fs.Mkdir(ctx, posix.Root, posix.RootIno, "data", 0o755); err != nil {
		t.Fatal(err)
	}
	v.close()
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for round := 0; round < rounds; round++ {
		var before int64
		if fi, err := os.Stat(filepath.Join(dir, "journal")); err == nil {
			before = fi.Size()
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CAIRN_CRASH_DIR="+dir, fmt.Sprintf("CAIRN_CRASH_ROUND=%d", round))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it at a random moment once it has committed a file of
		// this round (a loaded machine may take a while to start it).
		waitJournalGrows(t, filepath.Join(dir, "journal"), before, 60*time.Second)
		time.Sleep(time.Duration(rng.Intn(600)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended before the kill: %v\n%s", round, err, stderr.String())
		}
		verifyCrash(t, dir, round)
	}
}

func verifyCrash(t *testing.T, dir string, round int) {
	t.Helper()
	v, err := openCrashVolume(dir, "verify")
	if err != nil {
		t.Fatal(err)
	}
	defer v.close()
	jf, err := os.Open(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatalf("round %d: no journal: the child committed nothing", round)
	}
	committed := map[string]bool{}
	sc := bufio.NewScanner(jf)
	for sc.Scan() {
		committed[sc.Text()] = true
	}
	jf.Close()
	d, err := v.fs.Lookup(ctx, posix.Root, posix.RootIno, "data")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := v.fs.ReadDir(ctx, posix.Root, d.Ino, meta.ReadDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]posix.Ino{}
	for _, e := range ents {
		present[e.Name] = e.Ino
	}
	for name := range committed {
		if _, ok := present[name]; !ok {
			t.Fatalf("round %d: committed file %s is gone", round, name)
		}
	}
	for name, ino := range present {
		base := strings.TrimSuffix(name, ".tmp")
		want := pattern(base, sizeOf(base))
		fh, a, err := v.fs.Open(ctx, posix.Root, ino, syscall.O_RDONLY)
		if err != nil {
			t.Fatalf("round %d: open %s: %v", round, name, err)
		}
		got := make([]byte, a.Length)
		n, err := v.fs.Read(ctx, fh, got, 0)
		v.fs.Release(ctx, fh)
		if err != nil || uint64(n) != a.Length {
			t.Fatalf("round %d: read %s: %d of %d bytes: %v", round, name, n, a.Length, err)
		}
		if committed[name] && string(got) != string(want) {
			t.Fatalf("round %d: committed file %s has wrong content", round, name)
		}
		if len(got) > len(want) {
			t.Fatalf("round %d: %s is longer than ever written", round, name)
		}
		for i := range got {
			if got[i] != want[i] && got[i] != 0 {
				t.Fatalf("round %d: %s byte %d is %#x, never written there", round, name, i, got[i])
			}
		}
	}
	rep, err := v.m.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("round %d: metadata check: %v", round, rep.Problems)
	}
	obj, _ := file.New(filepath.Join(dir, "blocks"), file.Options{})
	stored := map[string]bool{}
	after := ""
	for {
		objs, more, err := obj.List(ctx, "", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			stored[o.Key] = true
		}
		if !more || len(objs) == 0 {
			break
		}
		after = objs[len(objs)-1].Key
	}
	referenced := 0
	for id, size := range rep.Slices {
		for i := 0; i*(1<<16) < int(size); i++ {
			k := chunk.Key(id, i, min(1<<16, int(size)-i*(1<<16)))
			if !stored[k] {
				t.Fatalf("round %d: referenced block %s is missing", round, k)
			}
			delete(stored, k)
			referenced++
		}
	}
	t.Logf("round %d: %d committed files, %d present, %d referenced blocks, %d unreferenced left over", round, len(committed), len(present), referenced, len(stored))
}

var _ = context.Background

// formatCrashVolume formats a volume in dir: meta.db and blocks/ (64 KiB
// blocks).
func formatCrashVolume(dir string) error {
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"), sqlkv.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	_, err = meta.FormatVolume(ctx, store, meta.Format{Name: "crash", Storage: "file", Bucket: filepath.Join(dir, "blocks"), BlockSize: 1 << 16})
	return err
}

// waitJournalGrows waits until the file at path is longer than size.
func waitJournalGrows(t *testing.T, path string, size int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(path); err == nil && fi.Size() > size {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the child committed nothing in %v", limit)
}
