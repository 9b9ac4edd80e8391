package vfs_test

import (
	"bytes"
	"strings"
	"testing"

	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object"
	"cairn/internal/object/mem"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// fsckEnv is a volume with a few files in blocks (block size 64 KiB) and
// one inline file.
func fsckEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, memkv.New(), mem.New(), 1<<16)
	if _, err := e.m.NewSession(ctx, meta.SessionInfo{Host: "h", PID: 1}); err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{200 << 10, 70 << 10, 100} {
		fh, _ := e.create(t, string(rune('a'+i)))
		if _, err := e.fs.Write(ctx, fh, bytes.Repeat([]byte{byte(i)}, size), 0); err != nil {
			t.Fatal(err)
		}
		if err := e.fs.Release(ctx, fh); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.fs.PutFile(ctx, posix.Root, posix.RootIno, "inline", []byte("small"), vfs.PutFileOptions{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	return e
}

func anyBlock(t *testing.T, e *env) chunk.Block {
	t.Helper()
	var b chunk.Block
	if err := e.c.ListBlocks(ctx, func(x chunk.Block) error { b = x; return nil }); err != nil || b.Key == "" {
		t.Fatalf("no block: %v", err)
	}
	return b
}

func mustFsck(t *testing.T, e *env, opt vfs.FsckOptions) vfs.FsckReport {
	t.Helper()
	rep, err := e.fs.Fsck(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Each kind of damage to the blocks is reported; leftovers are listed and
// removed by Repair, blocks of writes in flight are never touched.
func TestFsckBlocks(t *testing.T) {
	t.Run("sound", func(t *testing.T) {
		e := fsckEnv(t)
		rep := mustFsck(t, e, vfs.FsckOptions{})
		if !rep.Consistent() || rep.Leftovers != 0 || rep.Missing != 0 || rep.Checked != rep.Blocks || rep.Blocks != 7 {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("missing block", func(t *testing.T) {
		e := fsckEnv(t)
		b := anyBlock(t, e)
		if err := e.obj.Delete(ctx, b.Key); err != nil {
			t.Fatal(err)
		}
		rep := mustFsck(t, e, vfs.FsckOptions{SkipChecksums: true})
		if rep.Consistent() || rep.Missing != 1 || !strings.Contains(strings.Join(rep.Problems, "\n"), b.Key) {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("corrupt block", func(t *testing.T) {
		e := fsckEnv(t)
		b := anyBlock(t, e)
		bad := bytes.Repeat([]byte{0xEE}, b.Size+4)
		if err := e.obj.Put(ctx, b.Key, bytes.NewReader(bad)); err != nil {
			t.Fatal(err)
		}
		e.c.Close() // drop the cached copy
		rep := mustFsck(t, e, vfs.FsckOptions{})
		if rep.Consistent() || rep.Corrupt != 1 {
			t.Fatalf("%+v", rep)
		}
		// Without reading the blocks, it goes unnoticed.
		if rep := mustFsck(t, e, vfs.FsckOptions{SkipChecksums: true}); !rep.Consistent() {
			t.Fatalf("skip-checksums: %+v", rep)
		}
	})
	t.Run("leftover and in flight", func(t *testing.T) {
		e := fsckEnv(t)
		// A block of a slice id no live session reserved: a leftover.
		left := chunk.Key(1<<40, 0, 10)
		if err := e.obj.Put(ctx, left, bytes.NewReader(make([]byte, 14))); err != nil {
			t.Fatal(err)
		}
		// A block of an id this live session reserved and has not
		// committed yet: a write in flight.
		id, err := e.m.NewSliceID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		flying := chunk.Key(id, 0, 10)
		if err := e.obj.Put(ctx, flying, bytes.NewReader(make([]byte, 14))); err != nil {
			t.Fatal(err)
		}
		rep := mustFsck(t, e, vfs.FsckOptions{})
		if !rep.Consistent() || rep.Leftovers != 1 || rep.LeftoverBytes != 10 || rep.InFlight != 1 || rep.LeftoverSample[0] != left {
			t.Fatalf("%+v", rep)
		}
		rep = mustFsck(t, e, vfs.FsckOptions{Repair: true})
		if rep.RemovedBlocks != 1 {
			t.Fatalf("repair: %+v", rep)
		}
		if _, err := e.obj.Head(ctx, left); err == nil {
			t.Fatal("leftover still stored")
		}
		if _, err := e.obj.Head(ctx, flying); err != nil {
			t.Fatalf("block of a write in flight removed: %v", err)
		}
		if rep := mustFsck(t, e, vfs.FsckOptions{}); rep.Leftovers != 0 || rep.InFlight != 1 {
			t.Fatalf("after repair: %+v", rep)
		}
	})
}

// The blocks a session that died left are reclaimed once the session is
// cleaned up; those of a live session are not, nor referenced ones.
func TestReclaimLeftovers(t *testing.T) {
	store := memkv.New()
	obj := mem.New()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "t", Storage: "mem", BlockSize: 1 << 16}); err != nil {
		t.Fatal(err)
	}
	dead := openEnv(t, store, obj, meta.Options{})
	if _, err := dead.m.NewSession(ctx, meta.SessionInfo{Host: "h", PID: 111}); err != nil {
		t.Fatal(err)
	}
	fh, _ := dead.create(t, "kept")
	if _, err := dead.fs.Write(ctx, fh, bytes.Repeat([]byte{1}, 100<<10), 0); err != nil {
		t.Fatal(err)
	}
	if err := dead.fs.Release(ctx, fh); err != nil {
		t.Fatal(err)
	}
	orphan, err := dead.m.NewSliceID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := dead.c.NewWriter(orphan)
	w.Write(bytes.Repeat([]byte{2}, 100<<10))
	if _, err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	// The writer dies here: its session is never closed.
	live := openEnv(t, store, obj, meta.Options{ProcessGone: func(s meta.SessionInfo) bool { return s.PID == 111 }})
	if _, err := live.m.NewSession(ctx, meta.SessionInfo{Host: "h", PID: 222}); err != nil {
		t.Fatal(err)
	}
	flying, _ := live.m.NewSliceID(ctx)
	lw := live.c.NewWriter(flying)
	lw.Write([]byte("in flight"))
	if _, err := lw.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := live.fs.ReclaimLeftovers(ctx); err != nil || got.Ranges != 0 {
		t.Fatalf("before the session is cleaned: %+v %v", got, err)
	}
	if n, err := live.m.CleanDeadSessions(ctx); err != nil || n != 1 {
		t.Fatalf("CleanDeadSessions = %d %v", n, err)
	}
	got, err := live.fs.ReclaimLeftovers(ctx)
	if err != nil || got.Blocks != 2 || got.Bytes != 100<<10 || got.Ranges != 1 {
		t.Fatalf("ReclaimLeftovers = %+v %v", got, err)
	}
	rep := mustFsck(t, live, vfs.FsckOptions{})
	if !rep.Consistent() || rep.Leftovers != 0 || rep.InFlight != 1 {
		t.Fatalf("after: %+v", rep)
	}
	if got := live.readAll(t, lookup(t, live, "kept")); len(got) != 100<<10 {
		t.Fatalf("a referenced file lost bytes: %d", len(got))
	}
}

// openEnv opens a second client on a formatted volume (no cleanup of the
// shared store: the first client's does it).
func openEnv(t *testing.T, store kv.Store, obj object.Store, mopt meta.Options) *env {
	t.Helper()
	m, err := meta.Open(ctx, store, mopt)
	if err != nil {
		t.Fatal(err)
	}
	c := chunk.New(obj, chunk.Options{BlockSize: 1 << 16})
	fs := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	t.Cleanup(func() {
		fs.Close()
		c.Close()
	})
	return &env{fs: fs, m: m, c: c, obj: obj}
}

func lookup(t *testing.T, e *env, name string) posix.Ino {
	t.Helper()
	ent, err := e.fs.Lookup(ctx, posix.Root, posix.RootIno, name)
	if err != nil {
		t.Fatal(err)
	}
	return ent.Ino
}
