// Package kvtest is the conformance suite every kv.Store engine must pass:
// byte ordering, scans, counters, read-your-writes, isolation of
// concurrent conflicting transactions, cancellation, large values and many
// keys. Engines call Run from their own tests with a constructor that
// returns an empty store.
package kvtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cairn/internal/meta/kv"
)

// Run runs the suite. newStore returns a new, empty store; the suite
// closes it.
func Run(t *testing.T, newStore func(t *testing.T) kv.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, kv.Store)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"DeleteRange", testDeleteRange},
		{"BinaryOrder", testBinaryOrder},
		{"ScanOptions", testScanOptions},
		{"ScanSeesOwnWrites", testScanOwnWrites},
		{"ReadsSeeOwnWrites", testReadOwnWrites},
		{"Incr", testIncr},
		{"Add", testAdd},
		{"Append", testAppend},
		{"AppendCommitOrder", testAppendOrder},
		{"Rollback", testRollback},
		{"ReadOnly", testReadOnly},
		{"ConcurrentCounters", testConcurrentCounters},
		{"WriteSkew", testWriteSkew},
		{"ConcurrentMixedOutcomes", testMixedOutcomes},
		{"RangeConflict", testRangeConflict},
		{"SnapshotView", testSnapshotView},
		{"Cancel", testCancel},
		{"LargeValue", testLargeValue},
		{"LargeValues", testLargeValues},
		{"ManyKeys", testManyKeys},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

func put(t *testing.T, s kv.Store, kvs ...string) {
	t.Helper()
	if err := s.Update(ctx, func(tx kv.Tx) error {
		for i := 0; i < len(kvs); i += 2 {
			if err := tx.Put([]byte(kvs[i]), []byte(kvs[i+1])); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("put: %v", err)
	}
}

func get(t *testing.T, s kv.Store, k string) (string, bool) {
	t.Helper()
	var v []byte
	var found bool
	if err := s.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get([]byte(k))
		if errors.Is(err, kv.ErrNotFound) {
			found = false
			return nil
		}
		v, found = b, err == nil
		return err
	}); err != nil {
		t.Fatalf("get %q: %v", k, err)
	}
	return string(v), found
}

func scan(t *testing.T, s kv.Store, begin, end []byte, opt kv.ScanOptions) []string {
	t.Helper()
	var out []string
	if err := s.View(ctx, func(tx kv.Tx) error {
		out = out[:0]
		return tx.Scan(begin, end, opt, func(k, v []byte) bool {
			if opt.KeysOnly {
				out = append(out, string(k))
			} else {
				out = append(out, string(k)+"="+string(v))
			}
			return true
		})
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}

func testGetPutDelete(t *testing.T, s kv.Store) {
	if _, ok := get(t, s, "a"); ok {
		t.Fatal("empty store has a")
	}
	put(t, s, "a", "1", "b", "", "c", "3")
	if v, ok := get(t, s, "a"); !ok || v != "1" {
		t.Fatalf("a = %q %v", v, ok)
	}
	if v, ok := get(t, s, "b"); !ok || v != "" {
		t.Fatalf("empty value b = %q %v", v, ok)
	}
	err := s.Update(ctx, func(tx kv.Tx) error {
		if err := tx.Delete([]byte("a")); err != nil {
			return err
		}
		if err := tx.Delete([]byte("missing")); err != nil {
			return fmt.Errorf("deleting a missing key: %w", err)
		}
		vs, err := tx.Gets([]byte("a"), []byte("c"), []byte("b"))
		if err != nil {
			return err
		}
		if vs[0] != nil || string(vs[1]) != "3" || vs[2] == nil || len(vs[2]) != 0 {
			return fmt.Errorf("Gets = %q", vs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, s, "a"); ok {
		t.Fatal("a survived Delete")
	}
	// Values handed to Put may be reused by the caller.
	buf := []byte("xyz")
	if err := s.Update(ctx, func(tx kv.Tx) error { return tx.Put([]byte("r"), buf) }); err != nil {
		t.Fatal(err)
	}
	copy(buf, "QQQ")
	if v, _ := get(t, s, "r"); v != "xyz" {
		t.Fatalf("store kept the caller's buffer: %q", v)
	}
}

// testDeleteRange: DeleteRange removes exactly [begin, end), committed
// keys and the transaction's own writes alike; the transaction sees the
// range empty at once and may write into it again; an empty or inverted
// range is no change; a failed transaction's range deletion is undone.
func testDeleteRange(t *testing.T, s kv.Store) {
	put(t, s, "a", "1", "b", "2", "b\x00", "3", "ba", "4", "bz\xff", "5", "c", "6", "ca", "7")
	err := s.Update(ctx, func(tx kv.Tx) error {
		if err := tx.Put([]byte("bm"), []byte("own")); err != nil {
			return err
		}
		if err := tx.DeleteRange([]byte("b"), []byte("c")); err != nil {
			return err
		}
		var seen []string
		if err := tx.Scan([]byte("a"), nil, kv.ScanOptions{}, func(k, _ []byte) bool {
			seen = append(seen, string(k))
			return true
		}); err != nil {
			return err
		}
		if fmt.Sprint(seen) != "[a c ca]" {
			return fmt.Errorf("scan inside the transaction after DeleteRange: %q", seen)
		}
		if _, err := tx.Get([]byte("ba")); !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("Get of a deleted key = %v", err)
		}
		if err := tx.Put([]byte("bb"), []byte("again")); err != nil {
			return err
		}
		if err := tx.DeleteRange([]byte("c"), []byte("c")); err != nil {
			return err
		}
		return tx.DeleteRange([]byte("z"), []byte("a"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := scan(t, s, []byte("a"), nil, kv.ScanOptions{}); fmt.Sprint(got) != "[a=1 bb=again c=6 ca=7]" {
		t.Fatalf("after DeleteRange: %q", got)
	}
	errBoom := errors.New("boom")
	err = s.Update(ctx, func(tx kv.Tx) error {
		if err := tx.DeleteRange([]byte("a"), []byte("d")); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("failed transaction = %v", err)
	}
	if got := scan(t, s, []byte("a"), nil, kv.ScanOptions{}); len(got) != 4 {
		t.Fatalf("a rolled-back DeleteRange removed keys: %q", got)
	}
}

func testBinaryOrder(t *testing.T, s kv.Store) {
	keys := [][]byte{{0}, {0, 0}, {0, 1}, {1}, {0x7f}, {0x80}, {0x80, 0}, {0xfe, 0xff}, {0xff}, {0xff, 0xff, 0xff}, []byte("A"), []byte("a"), []byte("ab")}
	err := s.Update(ctx, func(tx kv.Tx) error {
		for _, k := range keys {
			if err := tx.Put(k, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sorted := append([][]byte(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	var got [][]byte
	if err := s.View(ctx, func(tx kv.Tx) error {
		return tx.Scan([]byte{}, nil, kv.ScanOptions{}, func(k, v []byte) bool {
			if !bytes.Equal(k, v) {
				t.Errorf("value of % x is % x", k, v)
			}
			got = append(got, bytes.Clone(k))
			return true
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sorted) {
		t.Fatalf("scan found %d keys, want %d", len(got), len(sorted))
	}
	for i := range got {
		if !bytes.Equal(got[i], sorted[i]) {
			t.Fatalf("position %d: % x, want % x", i, got[i], sorted[i])
		}
	}
	if got := scan(t, s, []byte{0xff}, kv.PrefixEnd([]byte{0xff}), kv.ScanOptions{KeysOnly: true}); len(got) != 2 {
		t.Fatalf("prefix 0xff scan: %q", got)
	}
	// A nil begin is the start of the key space, in both directions.
	for _, rev := range []bool{false, true} {
		if got := scan(t, s, nil, nil, kv.ScanOptions{KeysOnly: true, Reverse: rev}); len(got) != len(keys) {
			t.Fatalf("scan from nil (reverse %v) found %d keys, want %d", rev, len(got), len(keys))
		}
	}
}

func testScanOptions(t *testing.T, s kv.Store) {
	put(t, s, "p/a", "1", "p/b", "2", "p/c", "3", "p/d", "4", "q", "5", "o", "0")
	p := []byte("p/")
	e := kv.PrefixEnd(p)
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	check("prefix", scan(t, s, p, e, kv.ScanOptions{}), "p/a=1", "p/b=2", "p/c=3", "p/d=4")
	check("limit", scan(t, s, p, e, kv.ScanOptions{Limit: 2}), "p/a=1", "p/b=2")
	check("reverse", scan(t, s, p, e, kv.ScanOptions{Reverse: true, Limit: 3}), "p/d=4", "p/c=3", "p/b=2")
	check("keys only", scan(t, s, []byte("p/b"), []byte("p/d"), kv.ScanOptions{KeysOnly: true}), "p/b", "p/c")
	check("open end", scan(t, s, []byte("p/d"), nil, kv.ScanOptions{}), "p/d=4", "q=5")
	check("reverse open end", scan(t, s, []byte("p/d"), nil, kv.ScanOptions{Reverse: true}), "q=5", "p/d=4")
	check("empty range", scan(t, s, []byte("p/c"), []byte("p/c"), kv.ScanOptions{}))
	check("inverted range", scan(t, s, []byte("z"), []byte("a"), kv.ScanOptions{}))
	check("borrowed", scan(t, s, p, e, kv.ScanOptions{Borrow: true}), "p/a=1", "p/b=2", "p/c=3", "p/d=4")
	check("borrowed reverse", scan(t, s, p, e, kv.ScanOptions{Borrow: true, Reverse: true, Limit: 2}), "p/d=4", "p/c=3")
	check("borrowed keys", scan(t, s, p, e, kv.ScanOptions{Borrow: true, KeysOnly: true, Limit: 2}), "p/a", "p/b")
	// A borrowed empty value is empty, not missing.
	put(t, s, "r/empty", "")
	if err := s.View(ctx, func(tx kv.Tx) error {
		return tx.Scan([]byte("r/"), kv.PrefixEnd([]byte("r/")), kv.ScanOptions{Borrow: true}, func(k, v []byte) bool {
			if v == nil {
				t.Errorf("borrowed empty value of %q is nil", k)
			}
			return true
		})
	}); err != nil {
		t.Fatal(err)
	}
	// fn returning false stops the scan.
	n := 0
	if err := s.View(ctx, func(tx kv.Tx) error {
		n = 0
		return tx.Scan(p, e, kv.ScanOptions{}, func(k, v []byte) bool { n++; return n < 2 })
	}); err != nil || n != 2 {
		t.Errorf("early stop: n=%d err=%v", n, err)
	}
}

func testScanOwnWrites(t *testing.T, s kv.Store) {
	put(t, s, "k1", "a", "k2", "b", "k3", "c")
	err := s.Update(ctx, func(tx kv.Tx) error {
		if err := tx.Delete([]byte("k2")); err != nil {
			return err
		}
		if err := tx.Put([]byte("k25"), []byte("new")); err != nil {
			return err
		}
		if err := tx.Put([]byte("k3"), []byte("C")); err != nil {
			return err
		}
		var got []string
		if err := tx.Scan([]byte("k"), []byte("l"), kv.ScanOptions{}, func(k, v []byte) bool {
			got = append(got, string(k)+"="+string(v))
			return true
		}); err != nil {
			return err
		}
		if fmt.Sprint(got) != "[k1=a k25=new k3=C]" {
			return fmt.Errorf("scan inside the transaction: %q", got)
		}
		got = got[:0]
		if err := tx.Scan([]byte("k"), []byte("l"), kv.ScanOptions{Reverse: true, Limit: 2}, func(k, v []byte) bool {
			got = append(got, string(k))
			return true
		}); err != nil {
			return err
		}
		if fmt.Sprint(got) != "[k3 k25]" {
			return fmt.Errorf("reverse scan inside the transaction: %q", got)
		}
		if v, err := tx.Get([]byte("k2")); !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("deleted key still read: %q %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Many deletes in a row inside one transaction.
	put(t, s, "m000", "", "m999", "")
	err = s.Update(ctx, func(tx kv.Tx) error {
		for i := 0; i < 600; i++ {
			if err := tx.Put([]byte(fmt.Sprintf("m%03d", i)), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx kv.Tx) error {
		for i := 0; i < 600; i++ {
			if err := tx.Delete([]byte(fmt.Sprintf("m%03d", i))); err != nil {
				return err
			}
		}
		var got []string
		err := tx.Scan([]byte("m"), []byte("n"), kv.ScanOptions{}, func(k, v []byte) bool {
			got = append(got, string(k))
			return true
		})
		if err == nil && fmt.Sprint(got) != "[m999]" {
			err = fmt.Errorf("scan after deleting 600 keys: %q", got)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testRollback(t *testing.T, s kv.Store) {
	put(t, s, "a", "1")
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx kv.Tx) error {
		if err := tx.Put([]byte("a"), []byte("2")); err != nil {
			return err
		}
		if err := tx.Put([]byte("b"), []byte("2")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the closure's error", err)
	}
	if v, _ := get(t, s, "a"); v != "1" {
		t.Fatalf("rolled-back write visible: a=%q", v)
	}
	if _, ok := get(t, s, "b"); ok {
		t.Fatal("rolled-back insert visible")
	}
}

func testReadOnly(t *testing.T, s kv.Store) {
	err := s.View(ctx, func(tx kv.Tx) error { return tx.Put([]byte("a"), []byte("1")) })
	if !errors.Is(err, kv.ErrReadOnly) {
		t.Fatalf("Put in View = %v", err)
	}
	err = s.View(ctx, func(tx kv.Tx) error { return tx.Delete([]byte("a")) })
	if !errors.Is(err, kv.ErrReadOnly) {
		t.Fatalf("Delete in View = %v", err)
	}
	err = s.View(ctx, func(tx kv.Tx) error { return tx.DeleteRange([]byte("a"), []byte("b")) })
	if !errors.Is(err, kv.ErrReadOnly) {
		t.Fatalf("DeleteRange in View = %v", err)
	}
	if _, ok := get(t, s, "a"); ok {
		t.Fatal("write in View landed")
	}
}

// testWriteSkew: two transactions each read both keys and write one; under
// serializable isolation at most one may see the other's key as 0.
func testWriteSkew(t *testing.T, s kv.Store) {
	for round := 0; round < 20; round++ {
		put(t, s, "on-a", "1", "on-b", "1")
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, me := range []string{"on-a", "on-b"} {
			wg.Add(1)
			go func(me string) {
				defer wg.Done()
				<-start
				_ = s.Update(ctx, func(tx kv.Tx) error {
					vs, err := tx.Gets([]byte("on-a"), []byte("on-b"))
					if err != nil {
						return err
					}
					if string(vs[0]) == "1" && string(vs[1]) == "1" {
						time.Sleep(time.Millisecond)
						return tx.Put([]byte(me), []byte("0"))
					}
					return nil
				})
			}(me)
		}
		close(start)
		wg.Wait()
		a, _ := get(t, s, "on-a")
		b, _ := get(t, s, "on-b")
		if a == "0" && b == "0" {
			t.Fatalf("round %d: write skew, both went off duty", round)
		}
	}
}

// testRangeConflict: a transaction that scans a range and inserts based on
// what it saw must conflict with a concurrent insert into that range
// (phantoms), e.g. two creates of the only entry allowed in a directory.
func testRangeConflict(t *testing.T, s kv.Store) {
	for round := 0; round < 20; round++ {
		prefix := fmt.Sprintf("dir%02d/", round)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				_ = s.Update(ctx, func(tx kv.Tx) error {
					empty := true
					if err := tx.Scan([]byte(prefix), kv.PrefixEnd([]byte(prefix)), kv.ScanOptions{Limit: 1, KeysOnly: true}, func(k, v []byte) bool {
						empty = false
						return false
					}); err != nil {
						return err
					}
					if !empty {
						return nil
					}
					time.Sleep(time.Millisecond)
					return tx.Put([]byte(fmt.Sprintf("%s%d", prefix, i)), nil)
				})
			}(i)
		}
		close(start)
		wg.Wait()
		if got := scan(t, s, []byte(prefix), kv.PrefixEnd([]byte(prefix)), kv.ScanOptions{KeysOnly: true}); len(got) != 1 {
			t.Fatalf("round %d: %q: both inserts into an empty range committed", round, got)
		}
	}
}

// testSnapshotView: a View sees either all or none of a transaction that
// writes two keys.
func testSnapshotView(t *testing.T, s kv.Store) {
	put(t, s, "s1", "0", "s2", "0")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			put(t, s, "s1", fmt.Sprint(i), "s2", fmt.Sprint(i))
		}
	}()
	for i := 0; i < 200; i++ {
		err := s.View(ctx, func(tx kv.Tx) error {
			a, err := tx.Get([]byte("s1"))
			if err != nil {
				return err
			}
			var b []byte
			err = tx.Scan([]byte("s2"), []byte("s3"), kv.ScanOptions{}, func(k, v []byte) bool {
				b = bytes.Clone(v)
				return true
			})
			if err != nil {
				return err
			}
			if string(a) != string(b) {
				return fmt.Errorf("torn read: s1=%s s2=%s", a, b)
			}
			return nil
		})
		if err != nil {
			close(stop)
			<-done
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
}

func testCancel(t *testing.T, s kv.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	err := s.Update(c, func(tx kv.Tx) error {
		ran = true
		return tx.Put([]byte("a"), []byte("1"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with a canceled ctx = %v (closure ran: %v)", err, ran)
	}
	if _, ok := get(t, s, "a"); ok {
		t.Fatal("canceled Update committed")
	}
}

func testLargeValue(t *testing.T, s kv.Store) {
	big := make([]byte, 4<<20)
	rand.New(rand.NewSource(1)).Read(big)
	if err := s.Update(ctx, func(tx kv.Tx) error { return tx.Put([]byte("big"), big) }); err != nil {
		t.Fatal(err)
	}
	v, ok := get(t, s, "big")
	if !ok || v != string(big) {
		t.Fatalf("4 MiB value came back as %d bytes", len(v))
	}
	longKey := bytes.Repeat([]byte{0xab}, 2048)
	if err := s.Update(ctx, func(tx kv.Tx) error { return tx.Put(longKey, []byte("k")) }); err != nil {
		t.Fatal(err)
	}
	if v, ok := get(t, s, string(longKey)); !ok || v != "k" {
		t.Fatal("2 KiB key lost")
	}
}

func testManyKeys(t *testing.T, s kv.Store) {
	const n = 20000
	perm := rand.New(rand.NewSource(2)).Perm(n)
	for lo := 0; lo < n; lo += 2000 {
		err := s.Update(ctx, func(tx kv.Tx) error {
			for _, i := range perm[lo : lo+2000] {
				k := binary.BigEndian.AppendUint32([]byte("n"), uint32(i))
				if err := tx.Put(k, k[1:]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	count, prev := 0, -1
	err := s.View(ctx, func(tx kv.Tx) error {
		count, prev = 0, -1
		return tx.Scan([]byte("n"), []byte("o"), kv.ScanOptions{}, func(k, v []byte) bool {
			i := int(binary.BigEndian.Uint32(k[1:]))
			if i != prev+1 || !bytes.Equal(k[1:], v) {
				t.Errorf("key %d after %d", i, prev)
				return false
			}
			prev = i
			count++
			return true
		})
	})
	if err != nil || count != n {
		t.Fatalf("scanned %d of %d keys: %v", count, n, err)
	}
	// A page deep inside the range reads only that page.
	var page []uint32
	from := binary.BigEndian.AppendUint32([]byte("n"), 15000)
	err = s.View(ctx, func(tx kv.Tx) error {
		page = page[:0]
		return tx.Scan(from, []byte("o"), kv.ScanOptions{Limit: 3}, func(k, v []byte) bool {
			page = append(page, binary.BigEndian.Uint32(k[1:]))
			return true
		})
	})
	if err != nil || fmt.Sprint(page) != "[15000 15001 15002]" {
		t.Fatalf("page: %v %v", page, err)
	}
}

func testClosed(t *testing.T, s kv.Store) {
	put(t, s, "a", "1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.View(ctx, func(tx kv.Tx) error { _, err := tx.Get([]byte("a")); return err }); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("View after Close = %v", err)
	}
}

// testMixedOutcomes: many concurrent transactions, every other one failing
// after its writes. Engines that commit concurrent transactions together
// must still roll back exactly the failed ones.
func testMixedOutcomes(t *testing.T, s kv.Store) {
	const n = 64
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx kv.Tx) error {
				if err := tx.Put([]byte(fmt.Sprintf("mixed/%02d", i)), []byte("v")); err != nil {
					return err
				}
				if _, err := tx.Incr([]byte("mixed-count"), 1); err != nil {
					return err
				}
				if err := tx.Add([]byte("mixed-add"), 2); err != nil {
					return err
				}
				if err := tx.Append([]byte("mixed-seq"), []byte("mq/"), []byte(fmt.Sprint(i))); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return boom
				case 3:
					panic("mixed")
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if i%4 == 1 && !errors.Is(err, boom) || i%4 == 3 && (err == nil || !strings.Contains(err.Error(), "panicked")) || i%2 == 0 && err != nil {
			t.Fatalf("transaction %d returned %v", i, err)
		}
	}
	got := scan(t, s, []byte("mixed/"), kv.PrefixEnd([]byte("mixed/")), kv.ScanOptions{KeysOnly: true})
	if len(got) != n/2 {
		t.Fatalf("%d keys committed, want %d: %v", len(got), n/2, got)
	}
	for _, k := range got {
		var i int
		fmt.Sscanf(k, "mixed/%d", &i)
		if i%2 == 1 {
			t.Fatalf("failed transaction's write %s is visible", k)
		}
	}
	v, _ := get(t, s, "mixed-count")
	if len(v) != 8 || binary.BigEndian.Uint64([]byte(v)) != n/2 {
		t.Fatalf("counter % x, want %d", v, n/2)
	}
	if got := counterValue(t, s, "mixed-add"); got != n {
		t.Fatalf("added %d, want %d", got, n)
	}
	_, vals := appended(t, s, "mixed-seq", "mq/", 0)
	if len(vals) != n/2 {
		t.Fatalf("%d values appended, want %d: %v", len(vals), n/2, vals)
	}
	for _, v := range vals {
		var i int
		fmt.Sscan(v, &i)
		if i%2 == 1 {
			t.Fatalf("failed transaction's append %s is visible", v)
		}
	}
}

// DuringFault runs suite over stores from open (given 1, 2, … for the
// stores the tests ask for, so each can have a namespace of its own)
// while, a second in, fault runs beside it — killing a server, forcing a
// failover. Every test must pass all the same. It returns once both have
// ended.
func DuringFault(t *testing.T, fault func(), suite func(*testing.T, func(*testing.T) kv.Store), open func(n int64) (kv.Store, error)) {
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Second)
		fault()
	}()
	suite(t, func(t *testing.T) kv.Store {
		s, err := open(n.Add(1))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	<-done
}

// Workers runs op(w, i) for i = 0 … rounds-1 on each of workers
// goroutines (w = 0 … workers-1), a goroutine stopping at its first
// error. wait returns once all have ended, with the first error.
func Workers(workers, rounds int, op func(w, i int) error) (wait func() error) {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if err := op(w, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	return func() error {
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	}
}
