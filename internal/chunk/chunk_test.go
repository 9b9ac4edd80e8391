package chunk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/internal/chunk"
	"cairn/internal/object"
	"cairn/internal/object/file"
	"cairn/internal/object/mem"
	"cairn/internal/object/objecttest"
)

var ctx = context.Background()

func writeSlice(t *testing.T, s *chunk.Store, id uint64, data []byte, step int) uint32 {
	t.Helper()
	w := s.NewWriter(id)
	for off := 0; off < len(data); off += step {
		end := min(off+step, len(data))
		if n, err := w.Write(data[off:end]); err != nil || n != end-off {
			t.Fatalf("Write: %d %v", n, err)
		}
	}
	n, err := w.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(n) != len(data) {
		t.Fatalf("Finish = %d, want %d", n, len(data))
	}
	return n
}

func TestRoundTrip(t *testing.T) {
	obj := mem.New()
	s := chunk.New(obj, chunk.Options{BlockSize: 1000, CacheSize: 4000})
	defer s.Close()
	data := make([]byte, 5500)
	rand.New(rand.NewSource(1)).Read(data)
	l := writeSlice(t, s, 42, data, 333)
	objs, _, _ := obj.List(ctx, "chunks/", "", 0)
	if len(objs) != 6 {
		t.Fatalf("%d blocks stored, want 6", len(objs))
	}
	for _, c := range []struct{ off, n int }{{0, 5500}, {0, 10}, {999, 2}, {1000, 1000}, {5499, 1}, {2500, 3000}, {123, 4567}} {
		p := make([]byte, c.n)
		n, err := s.ReadAt(ctx, 42, l, p, uint32(c.off))
		if err != nil || n != c.n || !bytes.Equal(p, data[c.off:c.off+c.n]) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", c.off, c.n, n, err)
		}
	}
	p := make([]byte, 100)
	if n, err := s.ReadAt(ctx, 42, l, p, 5450); err != nil || n != 50 {
		t.Fatalf("read past the end = %d, %v", n, err)
	}
	if err := s.Remove(ctx, 42, l); err != nil {
		t.Fatal(err)
	}
	if objs, _, _ := obj.List(ctx, "", "", 0); len(objs) != 0 {
		t.Fatalf("Remove left %v", objs)
	}
	if _, err := s.ReadAt(ctx, 42, l, p, 0); !errors.Is(err, object.ErrNotExist) {
		t.Fatalf("read of a removed slice = %v", err)
	}
}

// TestView: View hands out the cached blocks themselves (no copy), in
// order, for any range, and stops at its consumer's first error.
func TestView(t *testing.T) {
	s := chunk.New(mem.New(), chunk.Options{BlockSize: 1000, CacheSize: 8000})
	defer s.Close()
	data := make([]byte, 5500)
	rand.New(rand.NewSource(2)).Read(data)
	l := writeSlice(t, s, 9, data, 700)
	for _, c := range []struct{ off, n int }{{0, 5500}, {0, 10}, {999, 2}, {1000, 1000}, {5499, 1}, {2500, 3000}, {123, 9999}} {
		var got []byte
		n, err := s.View(ctx, 9, l, uint32(c.off), c.n, func(b []byte) error {
			if len(b) > 1000 {
				t.Errorf("piece of %d bytes, more than a block", len(b))
			}
			got = append(got, b...)
			return nil
		})
		want := data[c.off:min(c.off+c.n, len(data))]
		if err != nil || n != len(want) || !bytes.Equal(got, want) {
			t.Fatalf("View(%d, %d) = %d, %v; differs", c.off, c.n, n, err)
		}
	}
	// Two views of a cached block see the same memory.
	var first, second *byte
	s.View(ctx, 9, l, 2000, 10, func(b []byte) error { first = &b[0]; return nil })
	s.View(ctx, 9, l, 2000, 10, func(b []byte) error { second = &b[0]; return nil })
	if first != second {
		t.Fatal("View copied a cached block")
	}
	stop := errors.New("stop")
	calls := 0
	n, err := s.View(ctx, 9, l, 0, 5500, func(b []byte) error {
		if calls++; calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 1000 || calls != 2 {
		t.Fatalf("View with a failing consumer = %d, %v after %d calls", n, err, calls)
	}
}

func TestKeysSpread(t *testing.T) {
	prefixes := map[string]bool{}
	for id := uint64(1); id <= 1000; id++ {
		k := chunk.Key(id, 0, 4096)
		prefixes[k[:len("chunks/xx")]] = true
	}
	if len(prefixes) < 200 {
		t.Fatalf("1000 consecutive ids use only %d prefixes", len(prefixes))
	}
}

func TestCorruptionDetected(t *testing.T) {
	f := objecttest.NewFaulty(mem.New())
	s := chunk.New(f, chunk.Options{BlockSize: 1 << 10, CacheSize: -1})
	defer s.Close()
	data := bytes.Repeat([]byte("cairn"), 1000)
	l := writeSlice(t, s, 7, data, 4096)
	p := make([]byte, len(data))
	// One corrupt read is retried transparently.
	f.Add(objecttest.Rule{Op: objecttest.OpCorrupt, Times: 1})
	if n, err := s.ReadAt(ctx, 7, l, p, 0); err != nil || n != len(data) || !bytes.Equal(p, data) {
		t.Fatalf("transient corruption: %d %v", n, err)
	}
	// Persistent corruption is an error, never wrong bytes.
	f.Add(objecttest.Rule{Op: objecttest.OpCorrupt})
	if _, err := s.ReadAt(ctx, 7, l, p, 0); !errors.Is(err, chunk.ErrCorrupt) {
		t.Fatalf("corrupt block served: %v", err)
	}
	f.Clear()
	f.Add(objecttest.Rule{Op: objecttest.OpRead})
	if _, err := s.ReadAt(ctx, 7, l, p, 0); err == nil {
		t.Fatal("broken body served")
	}
	f.Clear()
	// A block replaced by a shorter object.
	key := chunk.Key(7, 0, 1024)
	if err := f.Put(ctx, key, strings.NewReader("short")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAt(ctx, 7, l, p[:10], 0); !errors.Is(err, chunk.ErrCorrupt) {
		t.Fatalf("short block: %v", err)
	}
}

func TestFailedUploadCleansUp(t *testing.T) {
	obj := mem.New()
	f := objecttest.NewFaulty(obj)
	s := chunk.New(f, chunk.Options{BlockSize: 100, MaxUploads: 2})
	defer s.Close()
	f.Add(objecttest.Rule{Op: objecttest.OpPut, KeyContains: "_3_", Times: 1})
	w := s.NewWriter(9)
	data := make([]byte, 1000)
	_, err := w.Write(data)
	if err == nil {
		_, err = w.Finish(ctx)
	} else {
		w.Abort(ctx)
	}
	if !errors.Is(err, objecttest.ErrInjected) {
		t.Fatalf("failed upload not reported: %v", err)
	}
	if objs, _, _ := obj.List(ctx, "", "", 0); len(objs) != 0 {
		t.Fatalf("failed slice left %d blocks", len(objs))
	}
}

type counting struct {
	object.Store
	mu   sync.Mutex
	gets int
}

func (c *counting) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Store.Get(ctx, key, off, n)
}

func (c *counting) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets
}

func TestReadahead(t *testing.T) {
	obj := &counting{Store: mem.New()}
	s := chunk.New(obj, chunk.Options{BlockSize: 100, Readahead: 3})
	defer s.Close()
	data := make([]byte, 1000)
	rand.New(rand.NewSource(3)).Read(data)
	l := writeSlice(t, s, 5, data, 1000)
	p := make([]byte, 400)
	if _, err := s.ReadAt(ctx, 5, l, p[:10], 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for obj.count() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if obj.count() != 4 {
		t.Fatalf("after reading block 0: %d gets, want 4 (3 read ahead)", obj.count())
	}
	if n, err := s.ReadAt(ctx, 5, l, p[:300], 100); err != nil || n != 300 || !bytes.Equal(p[:300], data[100:400]) {
		t.Fatalf("read of prefetched blocks: %d %v", n, err)
	}
	// A random read (block 8 without block 7 cached) fetches no more.
	time.Sleep(50 * time.Millisecond)
	before := obj.count()
	if _, err := s.ReadAt(ctx, 5, l, p[:10], 800); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := obj.count() - before; got != 1 {
		t.Fatalf("random read made %d gets, want 1", got)
	}
}

// TestRecycledBuffersUnderConcurrentReads: with a cache of a few blocks,
// concurrent readers of many blocks keep evicting blocks whose buffers are
// recycled; no reader may ever see another block's bytes.
func TestRecycledBuffersUnderConcurrentReads(t *testing.T) {
	ctx := context.Background()
	const bs = 4096
	s := chunk.New(mem.New(), chunk.Options{BlockSize: bs, CacheSize: 3 * bs, Readahead: 2})
	defer s.Close()
	data := make([]byte, 40*bs+123)
	rand.New(rand.NewSource(7)).Read(data)
	l := writeSlice(t, s, 9, data, 5000)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 300; i++ {
				off := r.Intn(len(data))
				n := 1 + r.Intn(3*bs)
				p := make([]byte, n)
				got, err := s.ReadAt(ctx, 9, l, p, uint32(off))
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(p[:got], data[off:off+got]) || (got < n && off+got != len(data)) {
					errs <- fmt.Errorf("reader %d: wrong bytes at %d (+%d)", g, off, got)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// syncRecorder is an object store with the BatchSyncer capability that
// records what was put unsynced and what was synced.
type syncRecorder struct {
	object.Store
	mu       sync.Mutex
	unsynced map[string]bool
	failSync error
}

func (r *syncRecorder) PutUnsynced(ctx context.Context, key string, body io.Reader) error {
	r.mu.Lock()
	r.unsynced[key] = true
	r.mu.Unlock()
	return r.Store.Put(ctx, key, body)
}

func (r *syncRecorder) Sync(ctx context.Context, keys []string) error {
	if r.failSync != nil {
		return r.failSync
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		delete(r.unsynced, k)
	}
	return nil
}

// TestBatchedBlockSyncs: the blocks of a multi-block slice are put
// unsynced and all synced before Finish returns; a one-block slice is put
// as usual; a failed sync fails Finish and removes the blocks.
func TestBatchedBlockSyncs(t *testing.T) {
	rec := &syncRecorder{Store: mem.New(), unsynced: map[string]bool{}}
	s := chunk.New(rec, chunk.Options{BlockSize: 1000})
	defer s.Close()
	data := bytes.Repeat([]byte("0123456789"), 450) // 5 blocks
	writeSlice(t, s, 1, data, 700)
	if len(rec.unsynced) != 0 {
		t.Fatalf("blocks left unsynced after Finish: %v", rec.unsynced)
	}
	p := make([]byte, len(data))
	if n, err := s.ReadAt(ctx, 1, uint32(len(data)), p, 0); err != nil || n != len(data) || !bytes.Equal(p, data) {
		t.Fatalf("read back: %d %v", n, err)
	}
	// One block: a plain Put (nothing recorded as unsynced at any point).
	rec.failSync = errors.New("must not be called")
	writeSlice(t, s, 2, data[:900], 900)
	// A failing sync fails the slice and leaves no block behind.
	w := s.NewWriter(3)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx); err == nil {
		t.Fatal("Finish succeeded although syncing its blocks failed")
	}
	objs, _, _ := rec.List(ctx, "", "", 0)
	for _, o := range objs {
		if strings.Contains(o.Key, "/3_") {
			t.Fatalf("block %s of the failed slice was left behind", o.Key)
		}
	}
}

// TestStreamedBlocks: on a store that takes objects as they come (the
// file backend), blocks are written while the slice is, through small
// writes gathered and large ones passed straight on; every block reads
// back verified, Finish leaves no temporary file, and Abort leaves
// nothing at all.
func TestStreamedBlocks(t *testing.T) {
	dir := t.TempDir()
	obj, err := file.New(dir, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files := func() (blocks, temps int) {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if strings.Contains(d.Name(), ".tmp-") {
					temps++
				} else {
					blocks++
				}
			}
			return nil
		})
		return
	}
	for _, c := range []struct {
		name           string
		block, n, step int
		wantBlocks     int
	}{
		{"small writes", 1 << 16, 5*(1<<16) + 77, 700, 6},
		{"one large write", 3 << 20, 7<<20 + 5, 7<<20 + 5, 3},
		{"mixed", 3 << 20, 6 << 20, 300 << 10, 2},
		{"block multiple", 1 << 16, 4 << 16, 1 << 16, 4},
		{"single block", 1 << 20, 1000, 1000, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := chunk.New(obj, chunk.Options{BlockSize: c.block})
			defer s.Close()
			data := make([]byte, c.n)
			rand.New(rand.NewSource(int64(c.n))).Read(data)
			before, _ := files()
			id := uint64(100 + c.n%1000)
			l := writeSlice(t, s, id, data, c.step)
			after, temps := files()
			if after-before != c.wantBlocks || temps != 0 {
				t.Fatalf("%d block files and %d temporary files, want %d and 0", after-before, temps, c.wantBlocks)
			}
			p := make([]byte, c.n)
			if n, err := s.ReadAt(ctx, id, l, p, 0); err != nil || n != c.n || !bytes.Equal(p, data) {
				t.Fatalf("read back: %d, %v", n, err)
			}
			var sent bytes.Buffer // an io.ReaderFrom: blocks go as files
			if n, err := s.WriteTo(ctx, id, l, 0, c.n, &sent); err != nil || n != c.n || !bytes.Equal(sent.Bytes(), data) {
				t.Fatalf("WriteTo: %d, %v", n, err)
			}
			if err := s.Remove(ctx, id, l); err != nil {
				t.Fatal(err)
			}
		})
	}
	s := chunk.New(obj, chunk.Options{BlockSize: 1 << 16})
	defer s.Close()
	before, _ := files()
	w := s.NewWriter(7)
	if _, err := w.Write(make([]byte, 5<<15)); err != nil { // 2.5 blocks
		t.Fatal(err)
	}
	w.Abort(ctx)
	if after, temps := files(); after != before || temps != 0 {
		t.Fatalf("Abort left %d block files and %d temporary files", after-before, temps)
	}
}

// TestDirectIOStoreTakesWholeBlocks: a file store writing with O_DIRECT
// refuses Append, and slices are then written in whole blocks.
func TestDirectIOStoreTakesWholeBlocks(t *testing.T) {
	obj, err := file.New(t.TempDir(), file.Options{DirectIO: true})
	if err != nil {
		t.Fatal(err)
	}
	s := chunk.New(obj, chunk.Options{BlockSize: 1 << 16})
	defer s.Close()
	data := make([]byte, 3<<16+5)
	rand.New(rand.NewSource(9)).Read(data)
	for id := uint64(1); id <= 2; id++ { // the refusal, then a writer that knows
		l := writeSlice(t, s, id, data, 5000)
		p := make([]byte, len(data))
		if n, err := s.ReadAt(ctx, id, l, p, 0); err != nil || n != len(data) || !bytes.Equal(p, data) {
			t.Fatalf("slice %d read back: %d, %v", id, n, err)
		}
	}
}

// A block is sent from its file only when this process checked that very
// file: pages in the page cache prove nothing about who put them there.
func TestSentBlocksAreCheckedByThisProcess(t *testing.T) {
	dir := t.TempDir()
	obj, err := file.New(dir, file.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const bs = 512 << 10
	data := make([]byte, 2*bs)
	rand.New(rand.NewSource(3)).Read(data)
	corrupt := func(t *testing.T, s *chunk.Store, id uint64, restoreTimes bool) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(chunk.Key(id, 1, bs)))
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Written, not synced nor dropped: the bad bytes are in the
		// page cache, every page of the file resident.
		if _, err := f.WriteAt([]byte{^data[bs+77]}, 77); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if restoreTimes {
			if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}
	}
	send := func(s *chunk.Store, id uint64, l uint32) (*bytes.Buffer, error) {
		var out bytes.Buffer // an io.ReaderFrom: the sendfile path
		_, err := s.WriteTo(ctx, id, l, 0, len(data), &out)
		return &out, err
	}
	t.Run("never checked", func(t *testing.T) {
		s := chunk.New(obj, chunk.Options{BlockSize: bs, CacheSize: -1})
		defer s.Close()
		l := writeSlice(t, s, 11, data, 64<<10)
		corrupt(t, s, 11, false)
		if out, err := send(s, 11, l); !errors.Is(err, chunk.ErrCorrupt) || !bytes.Equal(out.Bytes(), data[:out.Len()]) {
			t.Fatalf("corrupt resident block sent: %d bytes, %v", out.Len(), err)
		}
	})
	t.Run("changed after its check", func(t *testing.T) {
		s := chunk.New(obj, chunk.Options{BlockSize: bs, CacheSize: -1})
		defer s.Close()
		l := writeSlice(t, s, 12, data, 64<<10)
		if out, err := send(s, 12, l); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("first send: %d bytes, %v", out.Len(), err)
		}
		// Even with its modification time put back, the file's change
		// time tells it is not the file that was checked.
		corrupt(t, s, 12, true)
		for range 2 {
			if out, err := send(s, 12, l); !errors.Is(err, chunk.ErrCorrupt) || !bytes.Equal(out.Bytes(), data[:out.Len()]) {
				t.Fatalf("changed block sent: %d bytes, %v", out.Len(), err)
			}
		}
	})
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		id        uint64
		idx, size int
	}{{1, 0, 4 << 20}, {123456789, 7, 1}, {^uint64(0) >> 1, 15, 0}} {
		k := chunk.Key(tc.id, tc.idx, tc.size)
		b, ok := chunk.ParseKey(k)
		if !ok || b.Slice != tc.id || b.Index != tc.idx || b.Size != tc.size || b.Key != k {
			t.Errorf("ParseKey(%q) = %+v %v", k, b, ok)
		}
	}
	for _, k := range []string{"", "chunks/", "chunks/00/1_0", "chunks/zz/1_0_5", "chunks/00/a_0_5", "other/00/1_0_5", "chunks/00/1_0_5_6", "chunks/00/1_-1_5"} {
		if b, ok := chunk.ParseKey(k); ok {
			t.Errorf("ParseKey(%q) = %+v, want not a block", k, b)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(chunk.Key(42, 3, 4096))
	f.Add("chunks/00/1_0_5")
	f.Fuzz(func(t *testing.T, k string) {
		b, ok := chunk.ParseKey(k)
		if ok && chunk.Key(b.Slice, b.Index, b.Size) != k {
			t.Fatalf("ParseKey(%q) = %+v, which names %q", k, b, chunk.Key(b.Slice, b.Index, b.Size))
		}
	})
}

// ListBlocks pages through every block of the store and skips other keys.
func TestListBlocks(t *testing.T) {
	obj := mem.New()
	s := chunk.New(obj, chunk.Options{BlockSize: 1 << 10, CacheSize: -1})
	defer s.Close()
	want := map[string]bool{}
	for id := uint64(1); id <= 700; id++ {
		writeSlice(t, s, id, bytes.Repeat([]byte{byte(id)}, 1500), 1500) // two blocks each
		want[chunk.Key(id, 0, 1024)] = true
		want[chunk.Key(id, 1, 476)] = true
	}
	if err := obj.Put(ctx, "chunks/not-a-block", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	if err := s.ListBlocks(ctx, func(b chunk.Block) error { got[b.Key] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d blocks, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("%s not listed", k)
		}
	}
	b, _ := chunk.ParseKey(chunk.Key(5, 1, 476))
	if err := s.RemoveBlock(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Head(ctx, b.Key); !errors.Is(err, object.ErrNotExist) {
		t.Fatalf("removed block still there: %v", err)
	}
}

// Small reads of blocks the cache does not hold come from the block's
// file, after its checksum is checked: right bytes, and a corrupt file is
// an error, never its bytes.
func TestSmallReadsFromFiles(t *testing.T) {
	dir := t.TempDir()
	obj, err := file.New(dir, file.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const bs = 512 << 10
	data := make([]byte, 2*bs)
	rand.New(rand.NewSource(5)).Read(data)
	s := chunk.New(obj, chunk.Options{BlockSize: bs, CacheSize: -1})
	defer s.Close()
	l := writeSlice(t, s, 21, data, 64<<10)
	r := rand.New(rand.NewSource(6))
	for range 200 {
		off := r.Intn(len(data) - 4096)
		p := make([]byte, 1+r.Intn(8192))
		n, err := s.ReadAt(ctx, 21, l, p, uint32(off))
		if want := min(len(p), len(data)-off); err != nil || n != want || !bytes.Equal(p[:n], data[off:off+n]) {
			t.Fatalf("read %d at %d: %d bytes, %v", len(p), off, n, err)
		}
	}
	// Corrupt the second block in place (its pages stay resident).
	p := filepath.Join(dir, filepath.FromSlash(chunk.Key(21, 1, bs)))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^data[bs+100]}, 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	buf := make([]byte, 4096)
	if _, err := s.ReadAt(ctx, 21, l, buf, uint32(bs+2000)); !errors.Is(err, chunk.ErrCorrupt) {
		t.Fatalf("a small read of a corrupt block: %v, want ErrCorrupt", err)
	}
}
