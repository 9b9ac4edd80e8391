package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"

	"cairn/internal/meta/kv"
)

// Volume counters: the used space and the inode count.
//
// Nearly every change moves one of them, so a single key for each would
// make every two clients' unrelated changes conflict on a shared engine
// (and every two transactions of one client on PostgreSQL or Redis). So a
// counter is kept in shards, summed when read: the key 'C' name is its
// base, and 'C' name '/' session(8) slot(2) the shard of one transaction
// slot of one client session. A client hands each transaction in flight a
// slot of its own (shardPool), so no two of its transactions move the same
// shard at once, and no two clients ever do. A session's shards are folded
// into the base when it ends or is cleaned up, which bounds their number;
// a dump holds the totals only.
//
// The volume's limits (Format.Capacity, Format.Inodes) are checked inside
// the transaction against the sum of every shard, exactly: on a volume
// with limits, changes that grow it read each other's shards, which is the
// price of an exact limit.

// shardSlots is the number of transaction slots per client; slot 0 is
// shared by the transactions beyond them and by those not made by mutate.
const shardSlots = 32

// shardPool hands out transaction slots, the most recently returned
// first, so that a client moving a few transactions at a time uses few
// shards.
type shardPool struct {
	mu   sync.Mutex
	free []uint16
}

func newShardPool() *shardPool {
	p := &shardPool{}
	for s := shardSlots - 1; s >= 1; s-- {
		p.free = append(p.free, uint16(s))
	}
	return p
}

func (p *shardPool) get() uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return 0
	}
	s := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return s
}

func (p *shardPool) put(s uint16) {
	if s == 0 {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, s)
	p.mu.Unlock()
}

// shardSuffix is the end of a shard's key: the session and the slot.
func shardSuffix(sess uint64, slot uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint64(make([]byte, 0, 10), sess), slot)
}

func shardPrefix(name string) []byte { return configKey(name + "/") }

// shardTx is the transaction of update: it carries its counter shard.
type shardTx struct {
	kv.Tx
	shard []byte
}

// update is store.Update for a change made outside mutate that may move
// the volume counters: the transaction gets a slot of its own.
func (m *FS) update(ctx context.Context, fn func(tx kv.Tx) error) error {
	slot := m.shards.get()
	defer m.shards.put(slot)
	shard := shardSuffix(m.SessionID(), slot)
	return m.store.Update(ctx, func(tx kv.Tx) error { return fn(&shardTx{Tx: tx, shard: shard}) })
}

// shardKey is the shard of counter name that tx moves.
func (m *FS) shardKey(tx kv.Tx, name string) []byte {
	switch t := tx.(type) {
	case *aclTx:
		if t.shard != nil {
			return append(shardPrefix(name), t.shard...)
		}
	case *shardTx:
		return append(shardPrefix(name), t.shard...)
	}
	return append(shardPrefix(name), shardSuffix(m.SessionID(), 0)...)
}

// addCounter moves counter name by delta in tx's shard.
func (m *FS) addCounter(tx kv.Tx, name string, delta int64) error {
	if delta == 0 {
		return nil
	}
	return tx.Add(m.shardKey(tx, name), delta)
}

// counterTotal is counter name's value: its base and every shard.
func counterTotal(tx kv.Tx, name string) (int64, error) {
	var total int64
	b, err := tx.Get(configKey(name))
	switch {
	case err == nil && len(b) == 8:
		total = int64(u64(b))
	case err != nil && !errors.Is(err, kv.ErrNotFound):
		return 0, err
	}
	p := shardPrefix(name)
	err = tx.Scan(p, kv.PrefixEnd(p), kv.ScanOptions{}, func(_, v []byte) bool {
		if len(v) == 8 {
			total += int64(u64(v))
		}
		return true
	})
	return total, err
}

// volumeCounters are the counters kept in shards.
var volumeCounters = [...]string{cfgUsedSpace, cfgInodes}

// isCounterShard reports whether k is a shard of a volume counter.
func isCounterShard(k []byte) bool {
	for _, name := range volumeCounters {
		p := shardPrefix(name)
		if len(k) > len(p) && string(k[:len(p)]) == string(p) {
			return true
		}
	}
	return false
}

// foldShards adds session sid's shards to their counters' bases and
// removes them.
func (m *FS) foldShards(ctx context.Context, sid uint64) error {
	return m.store.Update(ctx, func(tx kv.Tx) error {
		for _, name := range volumeCounters {
			p := binary.BigEndian.AppendUint64(shardPrefix(name), sid)
			var sum int64
			n := 0
			err := tx.Scan(p, kv.PrefixEnd(p), kv.ScanOptions{}, func(_, v []byte) bool {
				if len(v) == 8 {
					sum += int64(u64(v))
				}
				n++
				return true
			})
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if _, err := tx.Incr(configKey(name), sum); err != nil {
				return err
			}
			if err := tx.DeleteRange(p, kv.PrefixEnd(p)); err != nil {
				return err
			}
		}
		return nil
	})
}
