package etcdkv_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/etcdkv"
	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/testsrv"
)

// TestConformance runs kvtest on a three-member cluster, one of whose
// members is killed a second in and started again two seconds later.
func TestConformance(t *testing.T) {
	e := testsrv.StartEtcd(t)
	kvtest.DuringFault(t, func() { e.KillAndRestart(t) }, kvtest.Run, func(n int64) (kv.Store, error) {
		return etcdkv.Open(context.Background(), fmt.Sprintf("etcd://%s/v%d", e.Endpoints(), n))
	})
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range []struct{ url, want string }{
		{"etcd://u:secret@127.0.0.1:1/v", "etcd: cannot reach"},
		{"redis://x/y", "not an etcd://"},
	} {
		s, err := etcdkv.Open(ctx, c.url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) = %v, want it to say %q (and no password)", c.url, err, c.want)
		}
	}
}

// TestSettleLarge settles more values than one read and one Txn take:
// 300 commits of 20 values, then one of 5,000 (more than a read's
// limit); they must get consecutive numbers in commit order, and the
// counter must end at the last.
func TestSettleLarge(t *testing.T) {
	e := testsrv.StartEtcd(t)
	ctx := context.Background()
	s, err := etcdkv.Open(ctx, fmt.Sprintf("etcd://%s/settle", e.Endpoints()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var want []string
	commit := func(c, n int) {
		vals := make([][]byte, n)
		for i := range vals {
			vals[i] = []byte(fmt.Sprintf("c%04d-%04d", c, i))
			want = append(want, string(vals[i]))
		}
		if err := s.Update(ctx, func(tx kv.Tx) error { return tx.Append([]byte("n"), []byte("q/"), vals...) }); err != nil {
			t.Fatal(err)
		}
	}
	for c := range 300 {
		commit(c, 20)
	}
	commit(300, 5000)
	if err := kv.Settle(ctx, s, []byte("n"), []byte("q/")); err != nil {
		t.Fatal(err)
	}
	var got []string
	var nums []uint64
	err = s.View(ctx, func(tx kv.Tx) error {
		got, nums = got[:0], nums[:0]
		return tx.Scan([]byte("q/"), kv.PrefixEnd([]byte("q/")), kv.ScanOptions{}, func(k, v []byte) bool {
			nums = append(nums, binary.BigEndian.Uint64(k[2:]))
			got = append(got, string(v))
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%d values numbered, want %d in commit order", len(got), len(want))
	}
	for i, n := range nums {
		if n != uint64(i+1) {
			t.Fatalf("value %d numbered %d", i, n)
		}
	}
	var c []byte
	if err := s.View(ctx, func(tx kv.Tx) error { c, err = tx.Get([]byte("n")); return err }); err != nil || binary.BigEndian.Uint64(c) != uint64(len(want)) {
		t.Fatalf("counter % x, %v; want %d", c, err, len(want))
	}
}
