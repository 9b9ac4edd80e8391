package kvtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"cairn/internal/meta/kv"
)

// Counter operations: Incr, Add and Append.

func testIncr(t *testing.T, s kv.Store) {
	err := s.Update(ctx, func(tx kv.Tx) error {
		for i, want := range []int64{5, 3, 1003} {
			n, err := tx.Incr([]byte("c"), []int64{5, -2, 1000}[i])
			if err != nil {
				return err
			}
			if n != want {
				return fmt.Errorf("Incr step %d = %d, want %d", i, n, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := get(t, s, "c")
	if len(v) != 8 || binary.BigEndian.Uint64([]byte(v)) != 1003 {
		t.Fatalf("counter encoding % x", v)
	}
	err = s.Update(ctx, func(tx kv.Tx) error {
		n, err := tx.Incr([]byte("neg"), -7)
		if err == nil && n != -7 {
			err = fmt.Errorf("negative counter %d", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func counterValue(t *testing.T, s kv.Store, k string) int64 {
	t.Helper()
	v, ok := get(t, s, k)
	if !ok {
		return 0
	}
	if len(v) != 8 {
		t.Fatalf("counter %s holds %d bytes", k, len(v))
	}
	return int64(binary.BigEndian.Uint64([]byte(v)))
}

func testAdd(t *testing.T, s kv.Store) {
	put(t, s, "old", string(binary.BigEndian.AppendUint64(nil, 10)))
	err := s.Update(ctx, func(tx kv.Tx) error {
		for _, a := range []struct {
			k string
			d int64
		}{{"new", 5}, {"new", -7}, {"old", 3}, {"neg", -1 << 40}, {"gone", 4}, {"put", 9}} {
			if err := tx.Add([]byte(a.k), a.d); err != nil {
				return err
			}
		}
		// A Put or Delete after an Add replaces it.
		if err := tx.Put([]byte("put"), binary.BigEndian.AppendUint64(nil, 100)); err != nil {
			return err
		}
		return tx.Delete([]byte("gone"))
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]int64{"new": -2, "old": 13, "neg": -1 << 40, "put": 100, "gone": 0} {
		if got := counterValue(t, s, k); got != want {
			t.Errorf("%s = %d, want %d", k, got, want)
		}
	}
	if _, ok := get(t, s, "gone"); ok {
		t.Error("deleted counter is back")
	}
	if err := s.View(ctx, func(tx kv.Tx) error { return tx.Add([]byte("new"), 1) }); !errors.Is(err, kv.ErrReadOnly) {
		t.Fatalf("Add in View = %v", err)
	}
	// Many writers adding to shared and own counters lose nothing.
	const workers, rounds = 6, 30
	wait := Workers(workers, rounds, func(w, i int) error {
		return s.Update(ctx, func(tx kv.Tx) error {
			if err := tx.Add([]byte("shared"), 2); err != nil {
				return err
			}
			return tx.Add([]byte(fmt.Sprint("own", w)), -1)
		})
	})
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, s, "shared"); got != 2*workers*rounds {
		t.Fatalf("shared = %d after %d adds of 2: lost updates", got, workers*rounds)
	}
	for w := 0; w < workers; w++ {
		if got := counterValue(t, s, fmt.Sprint("own", w)); got != -rounds {
			t.Fatalf("own%d = %d", w, got)
		}
	}
}

// appended returns the numbers and values appended to counter under
// prefix after number after, in order, as a reader does: settled first
// (kv.Settle).
func appended(t *testing.T, s kv.Store, counter, prefix string, after uint64) (nums []uint64, vals []string) {
	t.Helper()
	nums, vals, err := readAppended(s, counter, prefix, after)
	if err != nil {
		t.Fatal(err)
	}
	return nums, vals
}

func readAppended(s kv.Store, counter, prefix string, after uint64) (nums []uint64, vals []string, err error) {
	if err := kv.Settle(ctx, s, []byte(counter), []byte(prefix)); err != nil {
		return nil, nil, err
	}
	var bad error
	err = s.View(ctx, func(tx kv.Tx) error {
		nums, vals, bad = nums[:0], vals[:0], nil
		return tx.Scan(kv.SeqKey([]byte(prefix), after+1), kv.PrefixEnd([]byte(prefix)), kv.ScanOptions{}, func(k, v []byte) bool {
			if len(k) != len(prefix)+8 {
				bad = fmt.Errorf("key %q under the prefix", k)
				return false
			}
			nums = append(nums, binary.BigEndian.Uint64(k[len(prefix):]))
			vals = append(vals, string(v))
			return true
		})
	})
	if err == nil {
		err = bad
	}
	return nums, vals, err
}

func testAppend(t *testing.T, s kv.Store) {
	// The counter's value is where numbering starts (a volume loaded
	// from a dump).
	put(t, s, "seq", string(binary.BigEndian.AppendUint64(nil, 41)))
	for _, batch := range [][]string{{"a", "b", "c"}, {"d"}, {"e", ""}} {
		err := s.Update(ctx, func(tx kv.Tx) error {
			if err := tx.Put([]byte("other"), []byte(batch[0])); err != nil {
				return err
			}
			vals := make([][]byte, len(batch))
			for i, v := range batch {
				vals[i] = []byte(v)
			}
			return tx.Append([]byte("seq"), []byte("q/"), vals...)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	nums, vals := appended(t, s, "seq", "q/", 0)
	if strings.Join(vals, ",") != "a,b,c,d,e," {
		t.Fatalf("appended values %q", vals)
	}
	for i, n := range nums {
		if n <= 41 || (i > 0 && n <= nums[i-1]) {
			t.Fatalf("numbers %v: not increasing past the counter's 41", nums)
		}
	}
	// Within one append the numbers are consecutive.
	if nums[1] != nums[0]+1 || nums[2] != nums[1]+1 || nums[5] != nums[4]+1 {
		t.Fatalf("numbers %v: one append's values are not consecutive", nums)
	}
	// A rolled-back append leaves nothing; an append in a View fails.
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx kv.Tx) error {
		if err := tx.Append([]byte("seq"), []byte("q/"), []byte("x")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v", err)
	}
	if err := s.View(ctx, func(tx kv.Tx) error { return tx.Append([]byte("seq"), []byte("q/"), []byte("y")) }); !errors.Is(err, kv.ErrReadOnly) {
		t.Fatalf("Append in View = %v", err)
	}
	if n2, _ := appended(t, s, "seq", "q/", 0); len(n2) != len(nums) {
		t.Fatalf("after a rollback and a View: %v, want %v", n2, nums)
	}
}

// testAppendOrder appends from many goroutines while two readers follow
// the numbers the way change-feed consumers do (everything after the last
// number each saw), settling as they go, concurrently: a value that
// became visible below a reader's position would be missed, and one
// numbered twice seen twice, which the final counts show.
func testAppendOrder(t *testing.T, s kv.Store) {
	const workers, rounds, readers = 6, 25, 2
	wait := Workers(workers, rounds, func(w, i int) error {
		return s.Update(ctx, func(tx kv.Tx) error {
			k := fmt.Sprintf("w%d", w)
			if err := tx.Put([]byte(k), []byte(fmt.Sprint(i))); err != nil {
				return err
			}
			vals := [][]byte{[]byte(fmt.Sprintf("%d.%d.0", w, i))}
			if i%3 == 0 {
				vals = append(vals, []byte(fmt.Sprintf("%d.%d.1", w, i)))
			}
			return tx.Append([]byte("seq"), []byte("q/"), vals...)
		})
	})
	var stop atomic.Bool
	seen := make([]map[string]bool, readers)
	errs := make(chan error, readers)
	for r := range readers {
		seen[r] = map[string]bool{}
		go func() {
			var pos uint64
			follow := func() error {
				nums, vals, err := readAppended(s, "seq", "q/", pos)
				for i, v := range vals {
					if seen[r][v] {
						return fmt.Errorf("reader %d: value %s seen twice", r, v)
					}
					seen[r][v] = true
					pos = nums[i]
				}
				return err
			}
			for !stop.Load() {
				if err := follow(); err != nil {
					errs <- err
					return
				}
			}
			errs <- follow()
		}()
	}
	err := wait()
	stop.Store(true)
	for range readers {
		if rerr := <-errs; rerr != nil {
			t.Error(rerr)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	_, all := appended(t, s, "seq", "q/", 0)
	want := workers * (rounds + (rounds+2)/3)
	if len(all) != want {
		t.Fatalf("%d values appended, want %d", len(all), want)
	}
	for r := range readers {
		if len(seen[r]) != len(all) {
			t.Fatalf("reader %d saw %d of %d values: some became visible below numbers it had already passed", r, len(seen[r]), len(all))
		}
	}
}

// testConcurrentCounters runs read-modify-write transactions on shared keys
// from many goroutines; lost updates mean broken isolation.
func testConcurrentCounters(t *testing.T, s kv.Store) {
	const workers, rounds = 8, 40
	wait := Workers(workers, rounds, func(w, i int) error {
		return s.Update(ctx, func(tx kv.Tx) error {
			for _, k := range []string{"x", "y"} {
				b, err := tx.Get([]byte(k))
				n := 0
				if err == nil {
					fmt.Sscan(string(b), &n)
				} else if !errors.Is(err, kv.ErrNotFound) {
					return err
				}
				if err := tx.Put([]byte(k), []byte(fmt.Sprint(n+1))); err != nil {
					return err
				}
			}
			_, err := tx.Incr([]byte("z"), 1)
			return err
		})
	})
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"x", "y"} {
		if v, _ := get(t, s, k); v != fmt.Sprint(workers*rounds) {
			t.Errorf("%s = %s after %d increments: lost updates", k, v, workers*rounds)
		}
	}
}
