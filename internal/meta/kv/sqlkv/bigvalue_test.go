package sqlkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"cairn/internal/meta/kv"
)

// count returns the rows of kvx, and of kv that point into it.
func outOfLine(t *testing.T, s *Store) (kvx, pointing int64) {
	t.Helper()
	st, _, err := s.wconn.c.Prepare(`SELECT (SELECT count(*) FROM kvx), (SELECT count(*) FROM kv WHERE x IS NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Step() {
		t.Fatal(st.Err())
	}
	return st.ColumnInt64(0), st.ColumnInt64(1)
}

func val(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }

// Values over bigValue bytes live in kvx, and every way of replacing or
// removing one (Put small over big, big over big, Delete, DeleteRange, a
// rolled-back closure) leaves no kvx row behind; Get and Scan (both
// orders) return them whole.
func TestBigValuesOutOfLine(t *testing.T) {
	s, err := Open(context.Background(), "sqlite3://"+filepath.Join(t.TempDir(), "meta.db"), Options{Relaxed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	update := func(fn func(tx kv.Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]byte{}
	check := func(what string, kvxRows int64) {
		t.Helper()
		if n, p := outOfLine(t, s); n != kvxRows || p != kvxRows {
			t.Fatalf("%s: %d kvx rows, %d kv rows pointing there; want %d", what, n, p, kvxRows)
		}
		for _, rev := range []bool{false, true} {
			got := map[string][]byte{}
			var order []string
			if err := s.View(ctx, func(tx kv.Tx) error {
				for k, v := range want {
					g, err := tx.Get([]byte(k))
					if err != nil || !bytes.Equal(g, v) {
						return fmt.Errorf("Get %s: %d bytes, %v; want %d", k, len(g), err, len(v))
					}
				}
				return tx.Scan([]byte("a"), []byte("z"), kv.ScanOptions{Reverse: rev}, func(k, v []byte) bool {
					got[string(k)] = v
					order = append(order, string(k))
					return true
				})
			}); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: scan found %v", what, order)
			}
			for k, v := range want {
				if !bytes.Equal(got[k], v) {
					t.Fatalf("%s: scan of %s: %d bytes, want %d", what, k, len(got[k]), len(v))
				}
			}
			for i := 1; i < len(order); i++ {
				if (order[i-1] < order[i]) == rev {
					t.Fatalf("%s: scan order %v (reverse %v)", what, order, rev)
				}
			}
		}
	}
	put := func(tx kv.Tx, k string, v []byte) error {
		want[k] = v
		return tx.Put([]byte(k), v)
	}
	update(func(tx kv.Tx) error {
		for i, n := range []int{0, 10, bigValue, bigValue + 1, 4096, 64 << 10} {
			if err := put(tx, fmt.Sprintf("k%d", i), val(n, byte('a'+i))); err != nil {
				return err
			}
		}
		return nil
	})
	check("after puts", 3)
	update(func(tx kv.Tx) error { return put(tx, "k3", val(5, 'x')) }) // big → small
	check("big replaced by small", 2)
	update(func(tx kv.Tx) error { return put(tx, "k4", val(5000, 'y')) }) // big → big
	check("big replaced by big", 2)
	update(func(tx kv.Tx) error { return put(tx, "k1", val(3000, 'z')) }) // small → big
	check("small replaced by big", 3)
	update(func(tx kv.Tx) error { delete(want, "k5"); return tx.Delete([]byte("k5")) })
	check("Delete", 2)
	errBoom := errors.New("boom")
	if err := s.Update(ctx, func(tx kv.Tx) error {
		if err := tx.Put([]byte("k9"), val(2000, 'r')); err != nil {
			return err
		}
		if err := tx.Put([]byte("k4"), val(7, 'r')); err != nil {
			return err
		}
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	check("rolled back", 2)
	update(func(tx kv.Tx) error {
		for k := range want {
			if k >= "k0" && k < "k4" {
				delete(want, k)
			}
		}
		return tx.DeleteRange([]byte("k0"), []byte("k4"))
	})
	check("DeleteRange", 1)
}

// A database written before values moved out of line (one kv table, no
// x column) opens, reads as it was, and takes new values of both sizes.
func TestOpenOlderLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	c, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Repeat("o", 5000)
	if err := c.Exec(`PRAGMA journal_mode=WAL; CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
INSERT INTO kv VALUES (x'61', x'31'), (x'62', '` + old + `')`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s, err := Open(context.Background(), "sqlite3://"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Update(ctx, func(tx kv.Tx) error {
		if v, err := tx.Get([]byte("b")); err != nil || string(v) != old {
			return fmt.Errorf("old big value: %d bytes, %v", len(v), err)
		}
		if err := tx.Put([]byte("b"), val(3000, 'n')); err != nil {
			return err
		}
		return tx.Put([]byte("c"), []byte("small"))
	}); err != nil {
		t.Fatal(err)
	}
	if n, p := outOfLine(t, s); n != 1 || p != 1 {
		t.Fatalf("%d kvx rows, %d pointing", n, p)
	}
	s.Close()
	// A database from a newer cairn is refused.
	c, _ = sqlite3.Open(path)
	c.Exec("PRAGMA user_version = 99")
	c.Close()
	if s, err := Open(ctx, "sqlite3://"+path, Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("opening a newer store format: %v", err)
	}
}
