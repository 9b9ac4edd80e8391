package vfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/object"
	"cairn/internal/object/mem"
	"cairn/internal/object/objecttest"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

var ctx = context.Background()

type env struct {
	fs  *vfs.FS
	m   *meta.FS
	c   *chunk.Store
	obj object.Store
}

func newEnv(t *testing.T, store kv.Store, obj object.Store, blockSize int) *env {
	t.Helper()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "t", Storage: "mem", BlockSize: blockSize, EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{SliceDeleteDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	opt := chunk.Options{BlockSize: blockSize}
	if _, faulty := obj.(*objecttest.Faulty); faulty {
		opt.CacheSize = -1 // every read reaches the (faulty) store
	}
	c := chunk.New(obj, opt)
	fs := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	t.Cleanup(func() {
		fs.Close()
		c.Close()
		m.Close()
		store.Close()
	})
	return &env{fs: fs, m: m, c: c, obj: obj}
}

func memEnv(t *testing.T) *env { return newEnv(t, memkv.New(), mem.New(), 1<<16) }

func (e *env) create(t *testing.T, name string) (vfs.Handle, posix.Ino) {
	t.Helper()
	fh, ent, err := e.fs.Create(ctx, posix.Root, posix.RootIno, name, 0o644, syscall.O_RDWR|syscall.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	return fh, ent.Ino
}

func (e *env) readAll(t *testing.T, ino posix.Ino) []byte {
	t.Helper()
	fh, a, err := e.fs.Open(ctx, posix.Root, ino, syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer e.fs.Release(ctx, fh)
	buf := make([]byte, a.Length+10)
	n, err := e.fs.Read(ctx, fh, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// TestRandomWritesMatchModel writes random ranges (overwrites, sparse
// gaps, chunk-crossing), truncates and reads back, against a byte slice
// model, on both engines.
func TestRandomWritesMatchModel(t *testing.T) {
	engines := map[string]func(t *testing.T) kv.Store{
		"memkv": func(t *testing.T) kv.Store { return memkv.New() },
		"sqlite": func(t *testing.T) kv.Store {
			s, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(t.TempDir(), "m.db"), sqlkv.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, mk := range engines {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, mk(t), mem.New(), 1<<16)
			rng := rand.New(rand.NewSource(7))
			fh, ino := e.create(t, "f")
			var model []byte
			const span = meta.ChunkSize + 300000 // crosses a chunk boundary
			for step := 0; step < 60; step++ {
				switch op := rng.Intn(10); {
				case op < 7:
					off := rng.Intn(span)
					if rng.Intn(3) == 0 {
						off = meta.ChunkSize - rng.Intn(5000)
					}
					data := make([]byte, 1+rng.Intn(20000))
					rng.Read(data)
					if n, err := e.fs.Write(ctx, fh, data, int64(off)); err != nil || n != len(data) {
						t.Fatalf("write: %d %v", n, err)
					}
					if off+len(data) > len(model) {
						model = append(model, make([]byte, off+len(data)-len(model))...)
					}
					copy(model[off:], data)
				case op < 8:
					size := rng.Intn(len(model) + 1)
					if _, err := e.fs.SetAttr(ctx, posix.Root, ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: uint64(size)}); err != nil {
						t.Fatal(err)
					}
					if size < len(model) {
						model = model[:size]
					} else {
						model = append(model, make([]byte, size-len(model))...)
					}
				default:
					off := rng.Intn(len(model) + 1)
					n := rng.Intn(30000)
					buf := make([]byte, n)
					got, err := e.fs.Read(ctx, fh, buf, int64(off))
					if err != nil {
						t.Fatal(err)
					}
					want := model[off:min(off+n, len(model))]
					if !bytes.Equal(buf[:got], want) {
						t.Fatalf("step %d: read [%d,+%d) differs from the model", step, off, n)
					}
					// ReadTo hands out the same bytes without copying.
					var to bytes.Buffer
					sent, err := e.fs.ReadTo(ctx, fh, int64(off), int64(n), onlyWriter{&to})
					if err != nil || sent != int64(len(want)) || !bytes.Equal(to.Bytes(), want) {
						t.Fatalf("step %d: ReadTo [%d,+%d) = %d, %v; differs from the model", step, off, n, sent, err)
					}
				}
			}
			if err := e.fs.Release(ctx, fh); err != nil {
				t.Fatal(err)
			}
			if got := e.readAll(t, ino); !bytes.Equal(got, model) {
				t.Fatalf("final content differs (%d vs %d bytes)", len(got), len(model))
			}
			a, _ := e.fs.GetAttr(ctx, ino)
			if a.Length != uint64(len(model)) {
				t.Fatalf("length %d, model %d", a.Length, len(model))
			}
		})
	}
}

// TestReadToStopsOnWriterError: an error of the consumer ends the read at
// once and comes back as it is (not as EIO).
func TestReadToStopsOnWriterError(t *testing.T) {
	e := newEnv(t, memkv.New(), mem.New(), 1<<16)
	fh, _ := e.create(t, "f")
	data := bytes.Repeat([]byte("abcdefgh"), 1<<16) // 8 blocks
	if _, err := e.fs.Write(ctx, fh, data, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Flush(ctx, fh); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("consumer gone")
	calls := 0
	sent, err := e.fs.ReadTo(ctx, fh, 0, int64(len(data)), writerFunc(func(b []byte) (int, error) {
		calls++
		if calls == 3 {
			return 0, stop
		}
		return len(b), nil
	}))
	if err != stop || calls != 3 || sent != 2<<16 {
		t.Fatalf("ReadTo = %d, %v after %d calls; want 131072, the consumer's error, 3 calls", sent, err, calls)
	}
	if _, err := e.fs.ReadTo(ctx, fh, -1, 10, io.Discard); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("negative offset: %v", err)
	}
}

func TestCopyFileRangeByReference(t *testing.T) {
	e := memEnv(t)
	src, sIno := e.create(t, "src")
	data := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	if _, err := e.fs.Write(ctx, src, data, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Flush(ctx, src); err != nil {
		t.Fatal(err)
	}
	before, _, _ := e.obj.List(ctx, "", "", 0)
	dst, dIno := e.create(t, "dst")
	n, err := e.fs.CopyFileRange(ctx, posix.Root, src, 1000, dst, 10, 200000)
	if err != nil || n != 200000 {
		t.Fatalf("copy: %d %v", n, err)
	}
	e.fs.Release(ctx, src)
	e.fs.Release(ctx, dst)
	after, _, _ := e.obj.List(ctx, "", "", 0)
	if len(after) != len(before) {
		t.Fatalf("copy stored %d new blocks; it must share the source's", len(after)-len(before))
	}
	got := e.readAll(t, dIno)
	want := append(make([]byte, 10), data[1000:201000]...)
	if !bytes.Equal(got, want) {
		t.Fatal("copied range differs")
	}
	// Overwriting the source must not change the copy.
	fh, _, _ := e.fs.Open(ctx, posix.Root, sIno, syscall.O_RDWR)
	e.fs.Write(ctx, fh, bytes.Repeat([]byte{'Z'}, 5000), 1000)
	e.fs.Release(ctx, fh)
	if !bytes.Equal(e.readAll(t, dIno), want) {
		t.Fatal("copy changed when its source was overwritten")
	}
}

func TestUnlinkedOpenFileAndDelayedDelete(t *testing.T) {
	e := memEnv(t)
	fh, ino := e.create(t, "tmp")
	e.fs.Write(ctx, fh, []byte(strings.Repeat("x", 100000)), 0)
	e.fs.Flush(ctx, fh)
	if err := e.fs.Unlink(ctx, posix.Root, posix.RootIno, "tmp"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, err := e.fs.Read(ctx, fh, buf, 500); err != nil || n != 10 {
		t.Fatalf("read of an open unlinked file: %d %v", n, err)
	}
	if err := e.fs.Release(ctx, fh); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.GetAttr(ctx, ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("inode survives its last close: %v", err)
	}
	if _, err := e.fs.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if objs, _, _ := e.obj.List(ctx, "", "", 0); len(objs) != 0 {
		t.Fatalf("%d blocks left after the sweep", len(objs))
	}
}

// TestUploadFaultsSurfaceAsEIO: failed block uploads fail the write or the
// flush with EIO and nothing of the failed write becomes visible; reads of
// a broken block fail with EIO, never wrong bytes.
func TestUploadFaultsSurfaceAsEIO(t *testing.T) {
	f := objecttest.NewFaulty(mem.New())
	e := newEnv(t, memkv.New(), f, 1<<16)
	fh, ino := e.create(t, "f")
	e.fs.Write(ctx, fh, []byte("good data"), 0)
	if err := e.fs.Flush(ctx, fh); err != nil {
		t.Fatal(err)
	}
	f.Add(objecttest.Rule{Op: objecttest.OpPut})
	_, werr := e.fs.Write(ctx, fh, bytes.Repeat([]byte("B"), 10000), 0)
	ferr := e.fs.Flush(ctx, fh)
	if !errors.Is(werr, syscall.EIO) && !errors.Is(ferr, syscall.EIO) {
		t.Fatalf("upload failure not reported as EIO: write %v, flush %v", werr, ferr)
	}
	f.Clear()
	e.fs.Release(ctx, fh)
	if got := e.readAll(t, ino); string(got) != "good data" {
		t.Fatalf("after a failed write the file reads %q", got[:min(len(got), 20)])
	}
	f.Add(objecttest.Rule{Op: objecttest.OpCorrupt})
	rh, _, _ := e.fs.Open(ctx, posix.Root, ino, syscall.O_RDONLY)
	defer e.fs.Release(ctx, rh)
	buf := make([]byte, 9)
	// EIO for the file system, and the cause kept for callers that
	// tell a corrupt block from other failures.
	if _, err := e.fs.Read(ctx, rh, buf, 0); !errors.Is(err, syscall.EIO) || !errors.Is(err, chunk.ErrCorrupt) {
		t.Fatalf("corrupt block read: %v (%q)", err, buf)
	}
}

func TestPermissionsOnOpen(t *testing.T) {
	e := memEnv(t)
	fh, ino := e.create(t, "secret")
	e.fs.Write(ctx, fh, []byte("s"), 0)
	e.fs.Release(ctx, fh)
	e.fs.SetAttr(ctx, posix.Root, ino, meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o600})
	user := posix.Cred{UID: 1000, GID: 1000}
	if _, _, err := e.fs.Open(ctx, user, ino, syscall.O_RDONLY); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("open of a 0600 root file by a user: %v", err)
	}
	d, err := e.fs.Mkdir(ctx, posix.Root, posix.RootIno, "d", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.fs.Create(ctx, user, d.Ino, "mine", 0o644, syscall.O_RDWR); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("create in a 0755 root-owned directory by a user: %v", err)
	}
}

var _ = io.EOF

// TestFallocate: preallocation extends (or, with KEEP_SIZE, does not), a
// punched hole reads as zeroes without changing the length, a zeroed range
// reads as zeroes, and bad flags are EINVAL.
func TestFallocate(t *testing.T) {
	e := memEnv(t)
	fh, ino := e.create(t, "f")
	data := bytes.Repeat([]byte("x"), 300000)
	if _, err := e.fs.Write(ctx, fh, data, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Fallocate(ctx, posix.Root, fh, 0, 0, 400000); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.fs.GetAttr(ctx, ino); a.Length != 400000 {
		t.Fatalf("preallocate: length %d", a.Length)
	}
	if err := e.fs.Fallocate(ctx, posix.Root, fh, meta.FallocKeepSize, 0, 500000); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.fs.GetAttr(ctx, ino); a.Length != 400000 {
		t.Fatalf("KEEP_SIZE changed the length to %d", a.Length)
	}
	if err := e.fs.Fallocate(ctx, posix.Root, fh, meta.FallocPunchHole|meta.FallocKeepSize, 1000, 5000); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Fallocate(ctx, posix.Root, fh, meta.FallocZeroRange, 100000, 10); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Fallocate(ctx, posix.Root, fh, meta.FallocPunchHole, 0, 10); !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("punch hole without KEEP_SIZE: %v", err)
	}
	e.fs.Release(ctx, fh)
	got := e.readAll(t, ino)
	want := append([]byte(nil), data...)
	want = append(want, make([]byte, 100000)...)
	clear(want[1000:6000])
	clear(want[100000:100010])
	if !bytes.Equal(got, want) {
		t.Fatalf("content after fallocate differs (%d bytes)", len(got))
	}
}

// TestPutFileInline: small files from PutFile keep their bytes in the
// metadata engine (no object stored), read back through handles, take
// overwrites and extensions through the block path, and share their bytes
// by reference with copies; larger ones go to blocks.
func TestPutFileInline(t *testing.T) {
	for _, engine := range []string{"memkv", "sqlite"} {
		t.Run(engine, func(t *testing.T) {
			store := kv.Store(memkv.New())
			if engine == "sqlite" {
				s, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(t.TempDir(), "m.db"), sqlkv.Options{})
				if err != nil {
					t.Fatal(err)
				}
				store = s
			}
			e := newEnv(t, store, mem.New(), 1<<16)
			objects := func() int {
				objs, _, _ := e.obj.List(ctx, "", "", 0)
				return len(objs)
			}
			small := bytes.Repeat([]byte("inline!"), 1000) // 7,000 bytes
			ent, err := e.fs.PutFile(ctx, posix.Root, posix.RootIno, "small", small, vfs.PutFileOptions{Mode: 0o644})
			if err != nil {
				t.Fatal(err)
			}
			if n := objects(); n != 0 {
				t.Fatalf("a %d-byte PutFile stored %d objects", len(small), n)
			}
			if got := e.readAll(t, ent.Ino); !bytes.Equal(got, small) {
				t.Fatalf("read back %d bytes, want the %d put", len(got), len(small))
			}
			// Overwrite the middle and extend past the end through a handle.
			fh, _, err := e.fs.Open(ctx, posix.Root, ent.Ino, syscall.O_RDWR)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte(nil), small...)
			for _, w := range []struct {
				off int
				b   string
			}{{100, "OVERWRITE"}, {len(small) - 3, "TAIL-EXTENDED"}} {
				if _, err := e.fs.Write(ctx, fh, []byte(w.b), int64(w.off)); err != nil {
					t.Fatal(err)
				}
				want = append(want[:w.off], append([]byte(w.b), want[min(len(want), w.off+len(w.b)):]...)...)
			}
			if err := e.fs.Release(ctx, fh); err != nil {
				t.Fatal(err)
			}
			if got := e.readAll(t, ent.Ino); !bytes.Equal(got, want) {
				t.Fatalf("after overwrites: %q...", got[:120])
			}
			// A copy shares the inline bytes and keeps them after the source goes.
			dst, dIno := e.create(t, "copy")
			src, _, _ := e.fs.Open(ctx, posix.Root, ent.Ino, syscall.O_RDONLY)
			if n, err := e.fs.CopyFileRange(ctx, posix.Root, src, 0, dst, 0, uint64(len(want))); err != nil || n != uint64(len(want)) {
				t.Fatalf("copy: %d %v", n, err)
			}
			e.fs.Release(ctx, src)
			e.fs.Release(ctx, dst)
			if err := e.fs.Unlink(ctx, posix.Root, posix.RootIno, "small"); err != nil {
				t.Fatal(err)
			}
			if got := e.readAll(t, dIno); !bytes.Equal(got, want) {
				t.Fatal("copy differs after its source was unlinked")
			}
			// Above the inline limit the bytes go to the object store.
			big := bytes.Repeat([]byte{7}, vfs.DefaultInlineMax+1)
			if _, err := e.fs.PutFile(ctx, posix.Root, posix.RootIno, "big", big, vfs.PutFileOptions{Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
			if objects() == 0 {
				t.Fatal("a PutFile above the inline limit stored no object")
			}
			if err := e.fs.Unlink(ctx, posix.Root, posix.RootIno, "copy"); err != nil {
				t.Fatal(err)
			}
			if rep, err := e.m.Check(ctx); err != nil || len(rep.Problems) > 0 {
				t.Fatalf("check: %v %v", rep.Problems, err)
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// onlyWriter hides a ReadFrom method.
type onlyWriter struct{ io.Writer }
