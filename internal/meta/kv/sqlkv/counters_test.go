package sqlkv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"cairn/internal/meta/kv"
)

// The counters a group commit keeps in memory read and write as rows
// would, across the closures of one group, through a closure's failure,
// and around Put, Delete, DeleteRange and Scan of the same keys.
func TestGroupCounters(t *testing.T) {
	s, err := Open(context.Background(), "sqlite3://"+filepath.Join(t.TempDir(), "meta.db"), Options{Relaxed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	errBoom := errors.New("boom")
	val := func(tx kv.Tx, k string) (string, error) {
		v, err := tx.Get([]byte(k))
		if errors.Is(err, kv.ErrNotFound) {
			return "missing", nil
		}
		if err != nil {
			return "", err
		}
		if len(v) != 8 {
			return fmt.Sprintf("%d bytes", len(v)), nil
		}
		return fmt.Sprint(int64(binary.BigEndian.Uint64(v))), nil
	}
	want := func(tx kv.Tx, k, w string) error {
		got, err := val(tx, k)
		if err == nil && got != w {
			err = fmt.Errorf("%s = %s, want %s", k, got, w)
		}
		return err
	}
	incr := func(tx kv.Tx, k string, d int64, w int64) error {
		n, err := tx.Incr([]byte(k), d)
		if err == nil && n != w {
			err = fmt.Errorf("Incr %s by %d = %d, want %d", k, d, n, w)
		}
		return err
	}
	scanSees := func(tx kv.Tx, k, w string) error {
		var got string
		err := tx.Scan([]byte(k), kv.PrefixEnd([]byte(k)), kv.ScanOptions{}, func(_, v []byte) bool {
			got = fmt.Sprint(int64(binary.BigEndian.Uint64(v)))
			return false
		})
		if err == nil && got != w {
			err = fmt.Errorf("scan of %s saw %q, want %s", k, got, w)
		}
		return err
	}
	closures := []func(kv.Tx) error{
		func(tx kv.Tx) error {
			if err := incr(tx, "c", 5, 5); err != nil {
				return err
			}
			return want(tx, "c", "5")
		},
		func(tx kv.Tx) error { // fails: its moves are undone
			if err := incr(tx, "c", 1, 6); err != nil {
				return err
			}
			if err := tx.Put([]byte("x"), []byte("1")); err != nil {
				return err
			}
			return errBoom
		},
		func(tx kv.Tx) error {
			if err := want(tx, "c", "5"); err != nil {
				return err
			}
			if err := incr(tx, "c", 2, 7); err != nil {
				return err
			}
			return scanSees(tx, "c", "7")
		},
		func(tx kv.Tx) error {
			if err := incr(tx, "d", 1, 1); err != nil {
				return err
			}
			if err := tx.Delete([]byte("d")); err != nil {
				return err
			}
			if err := want(tx, "d", "missing"); err != nil {
				return err
			}
			return incr(tx, "d", 3, 3)
		},
		func(tx kv.Tx) error {
			if err := incr(tx, "e", 1, 1); err != nil {
				return err
			}
			if err := tx.Put([]byte("e"), binary.BigEndian.AppendUint64(nil, 100)); err != nil {
				return err
			}
			if err := want(tx, "e", "100"); err != nil {
				return err
			}
			return incr(tx, "e", 1, 101)
		},
		func(tx kv.Tx) error {
			if err := incr(tx, "f", 1, 1); err != nil {
				return err
			}
			if err := tx.DeleteRange([]byte("f"), []byte("g")); err != nil {
				return err
			}
			return want(tx, "f", "missing")
		},
		func(tx kv.Tx) error { // writes g for its scan, then fails
			if err := incr(tx, "g", 1, 1); err != nil {
				return err
			}
			if err := scanSees(tx, "g", "1"); err != nil {
				return err
			}
			return errBoom
		},
		func(tx kv.Tx) error { return incr(tx, "c", 10, 17) }, // after a flush by a scan
	}
	batch := make([]*pending, len(closures))
	for i, fn := range closures {
		batch[i] = &pending{ctx: ctx, fn: fn, done: make(chan error, 1)}
	}
	s.runGroup(batch)
	for i, p := range batch {
		err := <-p.done
		if (i == 1 || i == 6) != errors.Is(err, errBoom) || (err != nil && !errors.Is(err, errBoom)) {
			t.Fatalf("closure %d: %v", i, err)
		}
	}
	if err := s.View(ctx, func(tx kv.Tx) error {
		for _, kw := range [][2]string{{"c", "17"}, {"d", "3"}, {"e", "101"}, {"f", "missing"}, {"g", "missing"}, {"x", "missing"}} {
			if err := want(tx, kw[0], kw[1]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("after the group: %v", err)
	}
	// The next group reads the rows again.
	if err := s.Update(ctx, func(tx kv.Tx) error { return incr(tx, "c", 1, 18) }); err != nil {
		t.Fatal(err)
	}
}
