// Package objecttest is the conformance suite for object.Store backends and
// a fault-injecting wrapper (Faulty) for testing the layers above.
package objecttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"testing"
	"unsafe"

	"cairn/internal/object"
)

// Run runs the suite; newStore returns an empty store.
func Run(t *testing.T, newStore func(t *testing.T) object.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, object.Store)
	}{
		{"PutGetHead", testPutGetHead},
		{"Ranges", testRanges},
		{"Missing", testMissing},
		{"Overwrite", testOverwrite},
		{"List", testList},
		{"FailedPutLeavesNothing", testFailedPut},
		{"Concurrent", testConcurrent},
		{"ReadFullPieces", testReadFullPieces},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var ctx = context.Background()

func read(t *testing.T, s object.Store, key string, off, n int64) []byte {
	t.Helper()
	rc, err := s.Get(ctx, key, off, n)
	if err != nil {
		t.Fatalf("Get %s [%d,+%d): %v", key, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return b
}

func testPutGetHead(t *testing.T, s object.Store) {
	data := make([]byte, 1<<20+7)
	rand.New(rand.NewSource(1)).Read(data)
	if err := s.Put(ctx, "chunks/0/1/1_0_1048583", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "chunks/0/1/1_0_1048583", 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, differ", len(got))
	}
	info, err := s.Head(ctx, "chunks/0/1/1_0_1048583")
	if err != nil || info.Size != int64(len(data)) || info.Key != "chunks/0/1/1_0_1048583" {
		t.Fatalf("Head = %+v, %v", info, err)
	}
	if err := s.Put(ctx, "empty", bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "empty", 0, -1); len(got) != 0 {
		t.Fatalf("empty object read %d bytes", len(got))
	}
	if s.String() == "" {
		t.Error("String is empty")
	}
}

func testRanges(t *testing.T, s object.Store) {
	data := []byte("0123456789")
	if err := s.Put(ctx, "r", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off, n int64
		want   string
	}{{0, 3, "012"}, {3, -1, "3456789"}, {8, 5, "89"}, {10, 4, ""}, {12, -1, ""}, {4, 0, ""}} {
		if got := read(t, s, "r", c.off, c.n); string(got) != c.want {
			t.Errorf("range %d+%d = %q, want %q", c.off, c.n, got, c.want)
		}
	}
}

func testMissing(t *testing.T, s object.Store) {
	if _, err := s.Get(ctx, "nope", 0, -1); !errors.Is(err, object.ErrNotExist) {
		t.Errorf("Get missing = %v", err)
	}
	if _, err := s.Head(ctx, "nope"); !errors.Is(err, object.ErrNotExist) {
		t.Errorf("Head missing = %v", err)
	}
	if err := s.Delete(ctx, "nope"); err != nil {
		t.Errorf("Delete missing = %v", err)
	}
	if err := s.Put(ctx, "d/x", bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "d/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, "d/x"); !errors.Is(err, object.ErrNotExist) {
		t.Errorf("Head after Delete = %v", err)
	}
}

func testOverwrite(t *testing.T, s object.Store) {
	for _, v := range []string{"first", "second, longer", "3"} {
		if err := s.Put(ctx, "o", bytes.NewReader([]byte(v))); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, "o", 0, -1); string(got) != v {
			t.Fatalf("after overwrite: %q, want %q", got, v)
		}
	}
}

func testList(t *testing.T, s object.Store) {
	keys := []string{"a/1", "a/2", "a/b/3", "a-c", "b/1", "ab"}
	for _, k := range keys {
		if err := s.Put(ctx, k, bytes.NewReader([]byte(k))); err != nil {
			t.Fatal(err)
		}
	}
	list := func(prefix, after string, limit int) (string, bool) {
		objs, more, err := s.List(ctx, prefix, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, o := range objs {
			ks = append(ks, o.Key)
			if o.Size != int64(len(o.Key)) {
				t.Errorf("%s: size %d", o.Key, o.Size)
			}
		}
		return fmt.Sprint(ks), more
	}
	for _, c := range []struct {
		prefix, after string
		limit         int
		want          string
		more          bool
	}{
		{"", "", 0, "[a-c a/1 a/2 a/b/3 ab b/1]", false},
		{"a/", "", 0, "[a/1 a/2 a/b/3]", false},
		{"a", "a/1", 2, "[a/2 a/b/3]", true},
		{"a", "a/b/3", 5, "[ab]", false},
		{"", "", 2, "[a-c a/1]", true},
		{"c", "", 0, "[]", false},
	} {
		got, more := list(c.prefix, c.after, c.limit)
		if got != c.want || (more && !c.more) {
			t.Errorf("List(%q, %q, %d) = %s more=%v, want %s more=%v", c.prefix, c.after, c.limit, got, more, c.want, c.more)
		}
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("body broke")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func testFailedPut(t *testing.T, s object.Store) {
	if err := s.Put(ctx, "f", &failingReader{n: 1000}); err == nil {
		t.Fatal("Put with a failing body succeeded")
	}
	if _, err := s.Head(ctx, "f"); !errors.Is(err, object.ErrNotExist) {
		t.Fatalf("failed Put left an object: %v", err)
	}
	objs, _, _ := s.List(ctx, "", "", 0)
	if len(objs) != 0 {
		t.Fatalf("failed Put left %v", objs)
	}
}

func testConcurrent(t *testing.T, s object.Store) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				k := fmt.Sprintf("c/%d/%d", i, j)
				if err := s.Put(ctx, k, bytes.NewReader([]byte(k))); err != nil {
					t.Error(err)
					return
				}
				rc, err := s.Get(ctx, k, 0, -1)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if string(b) != k {
					t.Errorf("%s read %q", k, b)
				}
			}
		}(i)
	}
	wg.Wait()
	objs, _, err := s.List(ctx, "c/", "", 0)
	if err != nil || len(objs) != 160 {
		t.Fatalf("listed %d of 160: %v", len(objs), err)
	}
}

// testReadFullPieces: ReadFull hands every piece to its each function in
// order, as it lands, and the pieces are the object, for buffers the
// backend can read whole (aligned) and others.
func testReadFullPieces(t *testing.T, s object.Store) {
	data := make([]byte, 3*object.ReadPiece+12345)
	rand.New(rand.NewSource(3)).Read(data)
	if err := s.Put(ctx, "chunks/pieces", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	const align = 4096
	raw := make([]byte, 4*object.ReadPiece+2*align)
	skip := (align - int(uintptr(unsafe.Pointer(&raw[0]))%align)) % align
	for name, p := range map[string][]byte{
		"aligned":   raw[skip : skip+4*object.ReadPiece],
		"unaligned": raw[skip+1 : skip+1+len(data)+100],
	} {
		var got []byte
		n, err := object.ReadFull(ctx, s, "chunks/pieces", p, func(off int, piece []byte) {
			if off != len(got) {
				t.Errorf("%s: piece at %d after %d bytes", name, off, len(got))
			}
			if len(piece) > object.ReadPiece || &piece[0] != &p[off] {
				t.Errorf("%s: piece of %d bytes at %d is not p[%d:]", name, len(piece), off, off)
			}
			got = append(got, piece...)
		})
		if err != nil || n != len(data) {
			t.Fatalf("%s: ReadFull = %d, %v; want %d", name, n, err, len(data))
		}
		if !bytes.Equal(got, data) || !bytes.Equal(p[:n], data) {
			t.Fatalf("%s: pieces or buffer differ from the object", name)
		}
	}
	if _, err := object.ReadFull(ctx, s, "chunks/none", raw, nil); !errors.Is(err, object.ErrNotExist) {
		t.Fatalf("ReadFull of a missing object: %v", err)
	}
}
