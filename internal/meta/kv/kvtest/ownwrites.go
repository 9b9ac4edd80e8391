package kvtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"cairn/internal/meta/kv"
)

// testReadOwnWrites reads a transaction's writes back with Get and Gets,
// mixed with stored and missing keys, and moves counters over a Put and a
// Delete made in the same transaction (engines may hold writes back until
// the commit: they must answer from them).
func testReadOwnWrites(t *testing.T, s kv.Store) {
	put(t, s, "w1", "a", "w2", "b", "w5", "e")
	u64 := func(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }
	put(t, s, "wc", string(u64(10)))
	err := s.Update(ctx, func(tx kv.Tx) error {
		for _, op := range []func() error{
			func() error { return tx.Delete([]byte("w1")) },
			func() error { return tx.Put([]byte("w2"), []byte("B")) },
			func() error { return tx.Put([]byte("w3"), []byte("c")) },
			func() error { return tx.Put([]byte("w4"), nil) },
			func() error { return tx.Put([]byte("w3"), []byte("C")) },
			func() error { return tx.Delete([]byte("wc")) },
			func() error { return tx.Add([]byte("wc"), 4) },
			func() error { return tx.Put([]byte("wp"), u64(1)) },
			func() error { return tx.Add([]byte("wp"), 2) },
		} {
			if err := op(); err != nil {
				return err
			}
		}
		vals, err := tx.Gets([]byte("w1"), []byte("w2"), []byte("w3"), []byte("w4"), []byte("w5"), []byte("w6"), []byte("w3"))
		if err != nil {
			return err
		}
		var got []string
		for _, v := range vals {
			if v == nil {
				got = append(got, "<nil>")
			} else {
				got = append(got, fmt.Sprintf("%q", v))
			}
		}
		if want := `[<nil> "B" "C" "" "e" <nil> "C"]`; fmt.Sprint(got) != want {
			return fmt.Errorf("Gets of own writes: %s, want %s", got, want)
		}
		if v, err := tx.Get([]byte("w4")); err != nil || v == nil || len(v) != 0 {
			return fmt.Errorf("Get of an empty value put: %q %v", v, err)
		}
		if _, err := tx.Get([]byte("w1")); !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("Get of a deleted key: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"w2": "B", "w3": "C", "w4": "", "w5": "e"} {
		if v, ok := get(t, s, k); !ok || v != want {
			t.Errorf("%s = %q %v after commit, want %q", k, v, ok, want)
		}
	}
	if _, ok := get(t, s, "w1"); ok {
		t.Error("w1 deleted and back after commit")
	}
	for k, want := range map[string]int64{"wc": 4, "wp": 3} {
		if got := counterValue(t, s, k); got != want {
			t.Errorf("%s = %d, want %d", k, got, want)
		}
	}
}

// testLargeValues writes several large values with small ones in one
// transaction (engines that send a transaction's writes together must
// split them to fit their server's limits).
func testLargeValues(t *testing.T, s kv.Store) {
	r := rand.New(rand.NewSource(2))
	want := map[string][]byte{}
	for i := 0; i < 5; i++ {
		big := make([]byte, 3<<20+i)
		r.Read(big)
		want[fmt.Sprint("lv-big", i)] = big
	}
	for i := 0; i < 1200; i++ {
		want[fmt.Sprintf("lv-small%04d", i)] = []byte(fmt.Sprint(i))
	}
	err := s.Update(ctx, func(tx kv.Tx) error {
		for k, v := range want {
			if err := tx.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = s.View(ctx, func(tx kv.Tx) error {
		return tx.Scan([]byte("lv-"), kv.PrefixEnd([]byte("lv-")), kv.ScanOptions{}, func(k, v []byte) bool {
			n++
			if !bytes.Equal(v, want[string(k)]) {
				t.Errorf("%s: %d bytes back, want %d", k, len(v), len(want[string(k)]))
			}
			return true
		})
	})
	if err != nil || n != len(want) {
		t.Fatalf("%d of %d values back: %v", n, len(want), err)
	}
	err = s.Update(ctx, func(tx kv.Tx) error {
		for k := range want {
			if err := tx.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := scan(t, s, []byte("lv-"), kv.PrefixEnd([]byte("lv-")), kv.ScanOptions{}); len(got) != 0 {
		t.Fatalf("%d keys left after deleting them all", len(got))
	}
}
