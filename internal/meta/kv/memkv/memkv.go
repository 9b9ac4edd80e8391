// Package memkv is an ordered in-memory kv.Store with optimistic
// concurrency control: transactions run concurrently against the latest
// committed data and are validated at commit, so conflicting transactions
// really conflict and are retried, as on the networked engines. It backs
// tests and `mem://` volumes; nothing is persisted.
package memkv

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/google/btree"

	"cairn/internal/meta/kv"
)

// item is one key with its value and the commit sequence that last wrote
// it. A deleted key stays as a tombstone until no running transaction can
// need its version.
type item struct {
	key     []byte
	val     []byte
	ver     uint64
	deleted bool
}

func less(a, b *item) bool { return bytes.Compare(a.key, b.key) < 0 }

// Store is the in-memory engine.
type Store struct {
	mu         sync.RWMutex
	tree       *btree.BTreeG[*item]
	seq        uint64         // last commit sequence
	active     map[uint64]int // start sequence -> running transactions
	tombstones int
	closed     bool
}

// New returns an empty store.
func New() *Store {
	return &Store{tree: btree.NewG(32, less), active: make(map[uint64]int)}
}

// maxRetries bounds how often Update and View rerun a conflicting closure.
const maxRetries = 100

// Update implements kv.Store.
func (s *Store) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return s.run(ctx, fn, true)
}

// View implements kv.Store.
func (s *Store) View(ctx context.Context, fn func(kv.Tx) error) error {
	return s.run(ctx, fn, false)
}

func (s *Store) run(ctx context.Context, fn func(kv.Tx) error, write bool) error {
	var err error
	for attempt := 0; attempt < maxRetries; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, berr := s.begin(write)
		if berr != nil {
			return berr
		}
		err = kv.RunClosure("memkv", fn, t)
		if err == nil && t.err != nil {
			err = t.err
		}
		if err == nil && write {
			err = s.commit(t)
		}
		s.end(t)
		if !t.conflict && err != errCommitConflict {
			return err
		}
	}
	return fmt.Errorf("memkv: gave up after %d attempts: %w", maxRetries, err)
}

var errCommitConflict = fmt.Errorf("memkv: commit: %w", kv.ErrConflict)

func (s *Store) begin(write bool) (*tx, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, kv.ErrClosed
	}
	s.active[s.seq]++
	return &tx{s: s, start: s.seq, write: write}, nil
}

func (s *Store) end(t *tx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[t.start]--; s.active[t.start] == 0 {
		delete(s.active, t.start)
	}
	if s.tombstones > 1024 && s.tombstones*4 > s.tree.Len() {
		s.purge()
	}
}

// purge drops tombstones older than every running transaction.
func (s *Store) purge() {
	oldest := s.seq
	for st := range s.active {
		oldest = min(oldest, st)
	}
	var dead []*item
	s.tree.Ascend(func(it *item) bool {
		if it.deleted && it.ver <= oldest {
			dead = append(dead, it)
		}
		return true
	})
	for _, it := range dead {
		s.tree.Delete(it)
	}
	s.tombstones -= len(dead)
}

// commit validates t's reads against later commits and applies its writes.
func (s *Store) commit(t *tx) error {
	if len(t.writes) == 0 && len(t.appends) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return kv.ErrClosed
	}
	for k := range t.reads {
		if it, ok := s.tree.Get(&item{key: []byte(k)}); ok && it.ver > t.start {
			return errCommitConflict
		}
	}
	for _, r := range t.ranges {
		bad := false
		visit := func(it *item) bool {
			if it.ver > t.start {
				bad = true
				return false
			}
			return true
		}
		if r.hi == nil {
			s.tree.AscendGreaterOrEqual(&item{key: r.lo}, visit)
		} else {
			s.tree.AscendRange(&item{key: r.lo}, &item{key: r.hi}, visit)
		}
		if bad {
			return errCommitConflict
		}
	}
	s.seq++
	for k, w := range t.writes {
		old, had := s.tree.Get(&item{key: []byte(k)})
		if had && old.deleted {
			s.tombstones--
		}
		if w.deleted {
			if !had || old.deleted {
				if had {
					s.tombstones++ // keep the tombstone, bump its version
					old.ver = s.seq
				}
				continue
			}
			s.tombstones++
		}
		s.tree.ReplaceOrInsert(&item{key: []byte(k), val: w.val, ver: s.seq, deleted: w.deleted})
	}
	for _, a := range t.appends {
		var last uint64
		if it, ok := s.tree.Get(&item{key: a.counter}); ok && !it.deleted && len(it.val) == 8 {
			last = binary.BigEndian.Uint64(it.val)
		}
		for _, v := range a.vals {
			last++
			s.put(kv.SeqKey(a.prefix, last), v)
		}
		s.put(a.counter, binary.BigEndian.AppendUint64(nil, last))
	}
	return nil
}

// put writes key at the current commit sequence (under s.mu).
func (s *Store) put(key, val []byte) {
	if old, had := s.tree.Get(&item{key: key}); had && old.deleted {
		s.tombstones--
	}
	s.tree.ReplaceOrInsert(&item{key: key, val: val, ver: s.seq})
}

// Close implements kv.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

type write struct {
	val     []byte
	deleted bool
}

type keyRange struct{ lo, hi []byte } // [lo, hi); hi nil = unbounded

type tx struct {
	s        *Store
	start    uint64
	write    bool
	reads    map[string]struct{}
	ranges   []keyRange
	writes   map[string]write
	appends  []appendOp
	conflict bool
	err      error // sticky conflict seen by a read
}

func (t *tx) noteRead(k []byte) {
	if !t.write {
		return
	}
	if t.reads == nil {
		t.reads = make(map[string]struct{})
	}
	t.reads[string(k)] = struct{}{}
}

// fail records a conflict: the read saw data newer than the transaction.
func (t *tx) fail() error {
	t.conflict = true
	t.err = fmt.Errorf("memkv: read newer data: %w", kv.ErrConflict)
	return t.err
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if t.err != nil {
		return nil, t.err
	}
	if w, ok := t.writes[string(key)]; ok {
		if w.deleted {
			return nil, kv.ErrNotFound
		}
		return w.val, nil
	}
	t.noteRead(key)
	t.s.mu.RLock()
	it, ok := t.s.tree.Get(&item{key: key})
	t.s.mu.RUnlock()
	if ok && it.ver > t.start {
		return nil, t.fail()
	}
	if !ok || it.deleted {
		return nil, kv.ErrNotFound
	}
	return it.val, nil
}

func (t *tx) Gets(keys ...[]byte) ([][]byte, error) { return kv.GetsWithGet(t, keys...) }

func (t *tx) Put(key, value []byte) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	if t.writes == nil {
		t.writes = make(map[string]write)
	}
	t.writes[string(key)] = write{val: bytes.Clone(value)}
	if value == nil {
		t.writes[string(key)] = write{val: []byte{}}
	}
	return nil
}

func (t *tx) Delete(key []byte) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	if t.writes == nil {
		t.writes = make(map[string]write)
	}
	t.writes[string(key)] = write{deleted: true}
	return nil
}

func (t *tx) DeleteRange(begin, end []byte) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	return kv.DeleteRangeWithScan(t, begin, end)
}

func (t *tx) Incr(key []byte, delta int64) (int64, error) {
	return kv.IncrWithGetPut(t, key, delta)
}

// Add implements kv.Tx with Incr: a transaction conflicts only with
// those that changed what it read, and the key is its own.
func (t *tx) Add(key []byte, delta int64) error { return kv.AddWithIncr(t, key, delta) }

// Append implements kv.Tx: the values are numbered at commit, under the
// store's lock, so appending transactions do not conflict over the
// counter.
func (t *tx) Append(counter, prefix []byte, values ...[]byte) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	if len(values) == 0 {
		return nil
	}
	a := appendOp{counter: bytes.Clone(counter), prefix: bytes.Clone(prefix)}
	for _, v := range values {
		a.vals = append(a.vals, bytes.Clone(v))
	}
	t.appends = append(t.appends, a)
	return nil
}

type appendOp struct {
	counter, prefix []byte
	vals            [][]byte
}

// Scan merges the committed items in range with the transaction's own
// writes. It collects a snapshot of the range first so that fn runs
// without the store lock held.
func (t *tx) Scan(begin, end []byte, opt kv.ScanOptions, fn func(k, v []byte) bool) error {
	if t.err != nil {
		return t.err
	}
	if end != nil && bytes.Compare(begin, end) >= 0 {
		return nil
	}
	pos := bytes.Clone(begin)
	hi := bytes.Clone(end)
	const batch = 256
	visited := 0
	for {
		items, more, err := t.page(pos, hi, opt.Reverse, batch)
		if err != nil {
			return err
		}
		for _, it := range items {
			visited++
			v := it.val
			if opt.KeysOnly {
				v = nil
			}
			if !fn(it.key, v) || (opt.Limit > 0 && visited >= opt.Limit) {
				t.noteRange(begin, end, it.key, opt.Reverse)
				return nil
			}
		}
		if !more {
			t.noteRange(begin, end, nil, opt.Reverse)
			return nil
		}
		last := items[len(items)-1].key
		if opt.Reverse {
			hi = last
		} else {
			pos = append(bytes.Clone(last), 0)
		}
	}
}

// noteRange records the part of [begin, end) a scan depended on; stop is
// the last key visited when the scan ended early.
func (t *tx) noteRange(begin, end, stop []byte, reverse bool) {
	if !t.write {
		return
	}
	r := keyRange{lo: bytes.Clone(begin), hi: bytes.Clone(end)}
	if stop != nil {
		if reverse {
			r.lo = bytes.Clone(stop)
		} else {
			r.hi = append(bytes.Clone(stop), 0)
		}
	}
	t.ranges = append(t.ranges, r)
}

// page returns up to n live items of [lo, hi) in scan order, with the
// transaction's writes merged in, and whether more may follow.
func (t *tx) page(lo, hi []byte, reverse bool, n int) ([]item, bool, error) {
	var got []item
	conflict := false
	visit := func(it *item) bool {
		if it.ver > t.start {
			conflict = true
			return false
		}
		got = append(got, *it)
		return len(got) < n
	}
	t.s.mu.RLock()
	switch {
	case reverse && hi == nil:
		t.s.tree.Descend(func(it *item) bool {
			if bytes.Compare(it.key, lo) < 0 {
				return false
			}
			return visit(it)
		})
	case reverse:
		t.s.tree.DescendLessOrEqual(&item{key: hi}, func(it *item) bool {
			if bytes.Equal(it.key, hi) {
				return true
			}
			if bytes.Compare(it.key, lo) < 0 {
				return false
			}
			return visit(it)
		})
	case hi == nil:
		t.s.tree.AscendGreaterOrEqual(&item{key: lo}, visit)
	default:
		t.s.tree.AscendRange(&item{key: lo}, &item{key: hi}, visit)
	}
	t.s.mu.RUnlock()
	if conflict {
		return nil, false, t.fail()
	}
	more := len(got) == n
	// The page covers keys up to its last item (or the whole range when
	// it is not full); merge the transaction's writes inside that span.
	var spanLo, spanHi []byte = lo, hi
	if more {
		if reverse {
			spanLo = got[len(got)-1].key
		} else {
			spanHi = append(bytes.Clone(got[len(got)-1].key), 0)
		}
	}
	if len(t.writes) > 0 {
		got = t.merge(got, spanLo, spanHi, reverse)
	}
	live := got[:0]
	for _, it := range got {
		if !it.deleted {
			live = append(live, it)
		}
	}
	if len(live) == 0 && more {
		// Every item of the page was deleted: keep the last as a cursor.
		last := got[len(got)-1]
		last.deleted = true
		return t.skipDeleted(lo, hi, reverse, n, last.key)
	}
	return live, more, nil
}

// skipDeleted continues a scan past a page that held only deleted items.
func (t *tx) skipDeleted(lo, hi []byte, reverse bool, n int, last []byte) ([]item, bool, error) {
	if reverse {
		return t.page(lo, last, reverse, n)
	}
	return t.page(append(bytes.Clone(last), 0), hi, reverse, n)
}

func (t *tx) merge(got []item, lo, hi []byte, reverse bool) []item {
	byKey := make(map[string]int, len(got))
	for i, it := range got {
		byKey[string(it.key)] = i
	}
	for k, w := range t.writes {
		kb := []byte(k)
		if bytes.Compare(kb, lo) < 0 || (hi != nil && bytes.Compare(kb, hi) >= 0) {
			continue
		}
		if i, ok := byKey[k]; ok {
			got[i].val, got[i].deleted = w.val, w.deleted
			continue
		}
		got = append(got, item{key: kb, val: w.val, deleted: w.deleted})
	}
	sortItems(got, reverse)
	return got
}
