package sqlkv

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"cairn/internal/meta/kv"
)

// Counters in a group commit.
//
// Nearly every metadata transaction moves the same few counters (the
// change-feed sequence, used space, the inode count, the id allocators),
// and Incr as a read and a write of the row costs two statements each
// time. Within one group commit the writer owns the database, so the
// group keeps the counters it touched in memory: an Incr reads a
// counter's row once per group, later Incrs only add, and each counter
// moved is written once, just before COMMIT.
//
// What the closures see is unchanged: Get returns the counter's current
// value, a Put, Delete or DeleteRange of it drops the cached value (the
// row is then the truth again), and a Scan over a moved counter first
// writes it. A closure that fails is rolled back to its savepoint, and the
// cached counters it touched return to their state before it (undo): the
// rows it wrote are rolled back with it.

// counter is a counter cached by the group.
type counter struct {
	val    int64
	absent bool // no row, and no Incr since (Get is ErrNotFound)
	dirty  bool // val is not the row's: written at commit
}

// counterCache is the group's counters, with the current closure's undo
// log: each key's entry as it was before the closure first touched it
// (nil: not cached then).
type counterCache struct {
	m    map[string]*counter
	undo map[string]*counter
}

func (c *counterCache) reset() {
	clear(c.m)
	clear(c.undo)
	if c.m == nil {
		c.m, c.undo = map[string]*counter{}, map[string]*counter{}
	}
}

// touch records key's state before the current closure changes it.
func (c *counterCache) touch(key string) {
	if _, ok := c.undo[key]; ok {
		return
	}
	if e := c.m[key]; e != nil {
		saved := *e
		c.undo[key] = &saved
	} else {
		c.undo[key] = nil
	}
}

// closureDone ends a closure: on failure its counters go back.
func (c *counterCache) closureDone(failed bool) {
	if failed {
		for k, e := range c.undo {
			if e == nil {
				delete(c.m, k)
			} else {
				c.m[k] = e
			}
		}
	}
	clear(c.undo)
}

// drop forgets key (its row is being written directly).
func (c *counterCache) drop(key []byte) {
	if _, ok := c.m[string(key)]; ok {
		c.touch(string(key))
		delete(c.m, string(key))
	}
}

// incr is Tx.Incr on the writer.
func (t *rtx) incr(key []byte, delta int64) (int64, error) {
	c := t.s.counters
	e := c.m[string(key)]
	if e == nil {
		v, err := t.get(key)
		e = &counter{}
		switch {
		case err == kv.ErrNotFound:
			e.absent = true
		case err != nil:
			return 0, err
		case len(v) != 8:
			return 0, fmt.Errorf("kv: counter %q holds %d bytes", key, len(v))
		default:
			e.val = int64(binary.BigEndian.Uint64(v))
		}
		c.touch(string(key))
		c.m[string(key)] = e
	} else {
		c.touch(string(key))
	}
	e.val += delta
	e.absent, e.dirty = false, true
	return e.val, nil
}

// cachedGet answers Get for a cached counter.
func (c *counterCache) cachedGet(key []byte) ([]byte, error, bool) {
	e := c.m[string(key)]
	if e == nil {
		return nil, nil, false
	}
	if e.absent {
		return nil, kv.ErrNotFound, true
	}
	return binary.BigEndian.AppendUint64(nil, uint64(e.val)), nil, true
}

// flushRange writes the moved counters in [begin, end) (nil end: no
// bound) so that a scan reads them, and drops the others of the range.
func (t *rtx) flushRange(begin, end []byte) error {
	c := t.s.counters
	for k, e := range c.m {
		if bytes.Compare([]byte(k), begin) < 0 || (end != nil && bytes.Compare([]byte(k), end) >= 0) {
			continue
		}
		if e.dirty {
			if err := t.writeCounter([]byte(k), e); err != nil {
				return err
			}
		}
		c.drop([]byte(k))
	}
	return nil
}

// flushCounters writes every moved counter, before COMMIT.
func (t *rtx) flushCounters() error {
	for k, e := range t.s.counters.m {
		if e.dirty {
			if err := t.writeCounter([]byte(k), e); err != nil {
				return err
			}
		}
	}
	t.s.counters.reset()
	return nil
}

func (t *rtx) writeCounter(key []byte, e *counter) error {
	if e.absent {
		return t.del(key)
	}
	return t.put(key, binary.BigEndian.AppendUint64(nil, uint64(e.val)))
}
