package etcdkv

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"cairn/internal/meta/kv"
)

// Appended values (kv.Tx.Append). etcd has no server-side increment, and a
// transaction that read the counter would conflict with every other one
// that appends. So Append stages each value under a key of its own,
// outside the store's keys,
//
//	PREFIX "\x00a/" hex(counter) "/" hex(prefix) "/" TX "/" INDEX
//
// written by the transaction's commit without reading anything, and
// Settle numbers the staged values later (the store is a kv.Settler): it
// reads a counter's staged values in the order of their modification
// revisions, which is etcd's commit order (one commit's values in the
// order they were appended: TX and INDEX), and in one Txn puts each under
// prefix + its number, deletes its staged key and moves the counter, on
// condition that the counter and the staged keys are still as read; a
// Settle that loses to another reads again. A value staged by a commit
// after the read gets a higher number at the next Settle, so numbers
// follow commit order and a reader that settled first sees every value
// committed before it.

type stagedValue struct {
	key string
	val []byte
}

// stageDir is where the values appended to counter and prefix wait.
func (s *Store) stageDir(counter, prefix []byte) string {
	return strings.TrimSuffix(s.prefix, "/") + "\x00a/" + hex.EncodeToString(counter) + "/" + hex.EncodeToString(prefix) + "/"
}

// Append implements kv.Tx: the values are staged by the commit and
// numbered by a later Settle.
func (t *tx) Append(counter, prefix []byte, values ...[]byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	if len(values) == 0 {
		return nil
	}
	if t.stageID == "" {
		t.stageID = fmt.Sprintf("%016x", rand.Uint64())
	}
	dir := t.s.stageDir(counter, prefix)
	for _, v := range values {
		t.staged = append(t.staged, stagedValue{key: fmt.Sprintf("%s%s/%08x", dir, t.stageID, len(t.staged)), val: bytes.Clone(v)})
	}
	return nil
}

// settleRead bounds the staged values one Settle reads at once, and
// settleBatch those one Txn numbers (two operations and a condition
// each, within the --max-txn-ops docs/scaling.md asks the members to
// allow).
const (
	settleRead  = 4096
	settleBatch = 256
)

// Settle implements kv.Settler.
func (s *Store) Settle(ctx context.Context, counter, prefix []byte) error {
	dir := s.stageDir(counter, prefix)
	for {
		more := false
		err := s.retry(ctx, true, func(kv.Tx) error {
			var err error
			more, err = s.settleOnce(ctx, dir, counter, prefix)
			return err
		})
		if err != nil || !more {
			return err
		}
	}
}

// settleOnce numbers the oldest staged values in dir, up to about
// settleRead of them (more: others wait). A lost race is kv.ErrConflict.
func (s *Store) settleOnce(ctx context.Context, dir string, counter, prefix []byte) (more bool, err error) {
	kvs, more, err := s.staged(ctx, dir)
	if err != nil || len(kvs) == 0 {
		return false, err
	}
	ckey := s.prefix + string(counter)
	cr, err := s.cli.Get(ctx, ckey)
	if err != nil {
		return false, s.wrap(err)
	}
	var next uint64
	var crev int64
	if len(cr.Kvs) > 0 {
		if len(cr.Kvs[0].Value) != 8 {
			return false, fmt.Errorf("etcd: counter %q holds %d bytes", counter, len(cr.Kvs[0].Value))
		}
		next, crev = binary.BigEndian.Uint64(cr.Kvs[0].Value), cr.Kvs[0].ModRevision
	}
	for len(kvs) > 0 {
		// A batch ends at a commit's end: a commit's values get their
		// numbers together.
		n := min(len(kvs), settleBatch)
		for n < len(kvs) && kvs[n].ModRevision == kvs[n-1].ModRevision {
			n++
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(ckey), "=", crev)}
		ops := make([]clientv3.Op, 0, 2*n+1)
		for _, v := range kvs[:n] {
			next++
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(string(v.Key)), "=", v.ModRevision))
			ops = append(ops, clientv3.OpPut(s.prefix+string(kv.SeqKey(prefix, next)), string(v.Value)),
				clientv3.OpDelete(string(v.Key)))
		}
		ops = append(ops, clientv3.OpPut(ckey, string(binary.BigEndian.AppendUint64(nil, next))))
		tr, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return false, s.wrap(err)
		}
		if !tr.Succeeded {
			return false, fmt.Errorf("etcd: %w", kv.ErrConflict)
		}
		crev = tr.Header.Revision // the counter's, now
		kvs = kvs[n:]
	}
	return more, nil
}

// staged returns the oldest values staged in dir, whole commits of them,
// in the order they were committed and, within a commit, appended; more
// says others wait.
func (s *Store) staged(ctx context.Context, dir string) (kvs []*mvccpb.KeyValue, more bool, err error) {
	resp, err := s.cli.Get(ctx, dir, clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend), clientv3.WithLimit(settleRead))
	if err != nil {
		return nil, false, s.wrap(err)
	}
	kvs, more = resp.Kvs, resp.More
	if more && len(kvs) > 0 {
		// The last revision read may have more values past the limit.
		last := kvs[len(kvs)-1].ModRevision
		i := len(kvs)
		for i > 0 && kvs[i-1].ModRevision == last {
			i--
		}
		if i > 0 {
			kvs = kvs[:i]
		} else {
			// One commit staged more than that: all of it.
			r, err := s.cli.Get(ctx, dir, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision),
				clientv3.WithMinModRev(last), clientv3.WithMaxModRev(last))
			if err != nil {
				return nil, false, s.wrap(err)
			}
			kvs = r.Kvs
		}
	}
	slices.SortStableFunc(kvs, func(a, b *mvccpb.KeyValue) int {
		return cmp.Or(cmp.Compare(a.ModRevision, b.ModRevision), bytes.Compare(a.Key, b.Key))
	})
	return kvs, more, nil
}
