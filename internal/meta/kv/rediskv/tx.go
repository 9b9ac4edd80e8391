package rediskv

import (
	"bytes"
	"cairn/internal/meta/kv"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// read is a key's value as the transaction first saw it.
type read struct {
	val    []byte
	absent bool
}

// write is a pending change of a key: a value, or a deletion.
type write struct {
	val []byte
	del bool
}

// scanned is a range the transaction visited: the keys Redis held in it,
// as bounds for ZRANGEBYLEX and a digest.
type scanned struct {
	lo, hi string
	sum    string
}

// tx is one attempt of a transaction.
type tx struct {
	s      *Store
	ctx    context.Context
	ro     bool
	token  string // the commit lock's, when this attempt holds it
	ops    int    // reads sent to Redis
	reads  map[string]read
	writes map[string]*write
	ranges []scanned
	// appends are the transaction's Appends, numbered by the commit
	// script.
	appends []appendOp
	// adds are the transaction's blind Adds, in order.
	adds []addOp
	err  error // the first engine failure, reported whatever fn returns
}

type addOp struct {
	key   string
	delta int64
}

type appendOp struct {
	counter, prefix string
	vals            [][]byte
}

func (t *tx) fail(err error) error {
	err = t.s.wrap(err)
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if w, ok := t.writes[string(key)]; ok {
		if w.del {
			return nil, kv.ErrNotFound
		}
		return w.val, nil
	}
	if r, ok := t.reads[string(key)]; ok {
		if r.absent {
			return nil, kv.ErrNotFound
		}
		return r.val, nil
	}
	t.ops++
	v, err := t.s.rdb.Get(t.ctx, t.s.prefix+string(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		t.reads[string(key)] = read{absent: true}
		return nil, kv.ErrNotFound
	}
	if err != nil {
		return nil, t.fail(err)
	}
	t.reads[string(key)] = read{val: v}
	return v, nil
}

func (t *tx) Gets(keys ...[]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	var ask []string
	for _, k := range keys {
		_, w := t.writes[string(k)]
		_, r := t.reads[string(k)]
		if !w && !r {
			ask = append(ask, t.s.prefix+string(k))
		}
	}
	if len(ask) > 0 {
		t.ops++
		vs, err := t.s.rdb.MGet(t.ctx, ask...).Result()
		if err != nil {
			return nil, t.fail(err)
		}
		for i, v := range vs {
			k := ask[i][len(t.s.prefix):]
			if s, ok := v.(string); ok {
				t.reads[k] = read{val: []byte(s)}
			} else {
				t.reads[k] = read{absent: true}
			}
		}
	}
	for i, k := range keys {
		v, err := t.Get(k)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (t *tx) Put(key, value []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	t.dropAdds(key)
	t.writes[string(key)] = &write{val: bytes.Clone(value)}
	if t.writes[string(key)].val == nil {
		t.writes[string(key)].val = []byte{}
	}
	return nil
}

func (t *tx) Delete(key []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	t.dropAdds(key)
	t.writes[string(key)] = &write{del: true}
	return nil
}

// dropAdds forgets the pending adds to a key the transaction then writes.
func (t *tx) dropAdds(key []byte) {
	t.adds = slices.DeleteFunc(t.adds, func(a addOp) bool { return a.key == string(key) })
}

func (t *tx) DeleteRange(begin, end []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	return kv.DeleteRangeWithScan(t, begin, end)
}

func (t *tx) Incr(key []byte, delta int64) (int64, error) {
	if t.ro {
		return 0, kv.ErrReadOnly
	}
	return kv.IncrWithGetPut(t, key, delta)
}

// Add implements kv.Tx: the commit script adds delta without the
// transaction having read the counter, so transactions adding to one
// counter do not conflict over it. A key the transaction already read or
// wrote is moved with Incr instead, so that what it saw stays
// consistent.
func (t *tx) Add(key []byte, delta int64) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	_, w := t.writes[string(key)]
	_, r := t.reads[string(key)]
	if w || r {
		_, err := kv.IncrWithGetPut(t, key, delta)
		return err
	}
	t.adds = append(t.adds, addOp{key: string(key), delta: delta})
	return nil
}

// Append implements kv.Tx: the commit script numbers the values from the
// counter, so transactions that append do not read it and do not
// conflict over it, and their numbers follow the order the scripts run
// in, which is commit order.
func (t *tx) Append(counter, prefix []byte, values ...[]byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	if len(values) == 0 {
		return nil
	}
	vals := make([][]byte, len(values))
	for i, v := range values {
		vals[i] = bytes.Clone(v)
		if vals[i] == nil {
			vals[i] = []byte{}
		}
	}
	t.appends = append(t.appends, appendOp{counter: string(counter), prefix: string(prefix), vals: vals})
	return nil
}

// scanPage is the most keys one scan script returns.
const scanPage = 256

// Scan merges Redis's keys in the range, a page at a time, with the
// transaction's own writes.
func (t *tx) Scan(begin, end []byte, opt kv.ScanOptions, fn func(key, value []byte) bool) error {
	if begin == nil {
		begin = []byte{}
	}
	// The transaction's writes in the range, in the scan's order.
	var mine []string
	for k := range t.writes {
		if k >= string(begin) && (end == nil || k < string(end)) {
			mine = append(mine, k)
		}
	}
	slices.Sort(mine)
	if opt.Reverse {
		slices.Reverse(mine)
	}
	// The part of the range not yet fetched from Redis, as ZRANGEBYLEX
	// bounds: [lo, hi) forward, moving lo; the same in reverse, moving hi.
	lo, hi := "["+string(begin), "+"
	if end != nil {
		hi = "(" + string(end)
	}
	var (
		seen    []string
		visited int
		stopAt  string
		stopped bool
	)
	next := func() (kv.Page, error) {
		ks, vs, err := t.scanPage(lo, hi, opt.Reverse, opt.KeysOnly)
		if err != nil {
			return kv.Page{}, err
		}
		if len(ks) > 0 {
			if opt.Reverse {
				hi = "(" + ks[len(ks)-1]
			} else {
				lo = "(" + ks[len(ks)-1]
			}
		}
		return kv.Page{Keys: ks, Vals: vs, More: len(ks) == scanPage}, nil
	}
	err := kv.MergePending(mine, opt.Reverse, next, func(k string, v []byte, inRedis bool) bool {
		if inRedis {
			seen = append(seen, k)
			if _, ok := t.reads[k]; !ok && !opt.KeysOnly {
				t.reads[k] = read{val: v}
			}
		}
		if w, ok := t.writes[k]; ok {
			if w.del {
				return true
			}
			v = w.val
		} else if r, ok := t.reads[k]; ok && !opt.KeysOnly {
			v = r.val // a value read before stays what this transaction saw
		}
		if opt.KeysOnly {
			v = nil
		}
		visited++
		if !fn([]byte(k), v) || (opt.Limit > 0 && visited >= opt.Limit) {
			stopAt, stopped = k, true
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	// The visited part ends at the key the scan stopped at; Redis's keys up
	// to it were seen.
	t.remember(begin, end, stopAt, stopped, seen, opt.Reverse)
	return nil
}

// remember records a visited range: [begin, stop] (forward) or
// [stop, end) (reverse) when the scan stopped at stop, else [begin, end).
func (t *tx) remember(begin, end []byte, stop string, stopped bool, seen []string, reverse bool) {
	lo, hi := "["+string(begin), "+"
	if end != nil {
		hi = "(" + string(end)
	}
	if stopped {
		if reverse {
			lo = "[" + stop
		} else {
			hi = "[" + stop
		}
	}
	if reverse {
		slices.Reverse(seen)
	}
	t.ranges = append(t.ranges, scanned{lo: lo, hi: hi, sum: keysDigest(seen)})
}

// keysDigest is the digest the commit script computes over the keys of a
// range: SHA-1 of each key's length, ':', and the key, concatenated.
func keysDigest(keys []string) string {
	h := sha1.New()
	for _, k := range keys {
		h.Write([]byte(strconv.Itoa(len(k))))
		h.Write([]byte{':'})
		h.Write([]byte(k))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// scanPageScript returns up to ARGV[4] keys of the index between ARGV[2]
// and ARGV[3] (ZRANGEBYLEX bounds) in order (reversed when ARGV[5] is
// "1"), then, unless ARGV[6] is "1", their values: one atomic read.
var scanPageScript = redis.NewScript(`
local ks
if ARGV[5] == "1" then
  ks = redis.call("ZREVRANGEBYLEX", KEYS[1], ARGV[3], ARGV[2], "LIMIT", 0, tonumber(ARGV[4]))
else
  ks = redis.call("ZRANGEBYLEX", KEYS[1], ARGV[2], ARGV[3], "LIMIT", 0, tonumber(ARGV[4]))
end
if ARGV[6] == "1" or #ks == 0 then
  return {ks, {}}
end
local names = {}
for i, k in ipairs(ks) do names[i] = ARGV[1] .. k end
local vs = redis.call("MGET", unpack(names))
for i = 1, #vs do if not vs[i] then vs[i] = "" end end
return {ks, vs}
`)

func (t *tx) scanPage(lo, hi string, reverse, keysOnly bool) ([]string, [][]byte, error) {
	t.ops++
	res, err := scanPageScript.Run(t.ctx, t.s.rdb, []string{t.s.index},
		t.s.prefix, lo, hi, scanPage, flag(reverse), flag(keysOnly)).Slice()
	if err != nil {
		return nil, nil, t.fail(err)
	}
	if len(res) != 2 {
		return nil, nil, t.fail(fmt.Errorf("scan script answered %d items", len(res)))
	}
	ksAny, _ := res[0].([]any)
	vsAny, _ := res[1].([]any)
	ks := make([]string, len(ksAny))
	vs := make([][]byte, len(ksAny))
	for i := range ksAny {
		ks[i], _ = ksAny[i].(string)
		if !keysOnly && i < len(vsAny) {
			s, _ := vsAny[i].(string)
			vs[i] = []byte(s)
		}
	}
	return ks, vs, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
