package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors of the contract. Engines wrap engine-specific failures
// with %w so that callers can test with errors.Is.
var (
	// ErrNotFound is returned by Tx.Get when the key does not exist.
	ErrNotFound = errors.New("kv: key not found")
	// ErrConflict means a transaction lost a race with another one. Store.Update
	// retries such transactions itself; callers see ErrConflict only when the
	// retries are exhausted.
	ErrConflict = errors.New("kv: transaction conflict")
	// ErrClosed is returned by a Store after Close.
	ErrClosed = errors.New("kv: store closed")
	// ErrReadOnly is returned by writes inside a View transaction.
	ErrReadOnly = errors.New("kv: write in read-only transaction")
)

// Store is an ordered, transactional key-value store: the only thing a
// metadata engine has to provide. Keys are compared as unsigned bytes.
//
// Implementations are safe for concurrent use.
type Store interface {
	// Update runs fn inside a read-write transaction and commits it when fn
	// returns nil; any error from fn rolls it back and is returned as is.
	// When the commit (or any read inside fn) detects a conflict with a
	// concurrent transaction, Update rolls back and runs fn again, so fn
	// must be safe to run more than once and must not keep tx after it
	// returns. ctx bounds the whole call, retries included.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn inside a read-only transaction that sees one consistent
	// snapshot. Writes return ErrReadOnly.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Close releases the store. Transactions started afterwards fail with
	// ErrClosed.
	Close() error
}

// Tx is one transaction. It sees its own writes. A Tx is not safe for
// concurrent use and is valid only inside the closure it was passed to.
//
// Byte slices passed in may be reused by the caller after the call returns;
// byte slices handed out must not be modified by the caller but may be kept.
type Tx interface {
	// Get returns the value of key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Gets returns the values of keys in order; a missing key gives nil.
	Gets(keys ...[]byte) ([][]byte, error)
	// Put sets key to value. An empty value is a value, not a deletion.
	Put(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte) error
	// DeleteRange removes every key in [begin, end) the transaction sees,
	// its own writes included; end must not be nil. Engines with a native
	// range deletion use it (one statement instead of a scan and a delete
	// per key); DeleteRangeWithScan serves the others.
	DeleteRange(begin, end []byte) error
	// Scan calls fn for each key in [begin, end) in ascending order, or in
	// descending order when opt.Reverse is set, until fn returns false or
	// opt.Limit keys (when > 0) have been visited. A nil end means no upper
	// bound.
	Scan(begin, end []byte, opt ScanOptions, fn func(key, value []byte) bool) error
	// Incr adds delta to the counter stored at key (an 8-byte big-endian
	// two's-complement integer; a missing key counts as 0) and returns the
	// new value.
	Incr(key []byte, delta int64) (int64, error)
	// Add adds delta to the counter at key, as Incr does, without
	// reading it: engines that can apply it at commit do, so that
	// transactions adding to one counter do not conflict over it (a
	// sharded counter's shards, for one). The transaction's own reads of
	// key may or may not see the change; a Put or Delete of key after it
	// replaces it.
	Add(key []byte, delta int64) error
	// Append stores values under prefix, numbered when the transaction
	// commits: value i goes to prefix + the 8-byte big-endian number
	// counter+1+i, and the counter (kept at key counter, in the format
	// of Incr, or in the engine's own sequence) moves past them. Numbers
	// follow commit order: once a reader sees the value numbered n, it
	// sees every value numbered below n that will ever exist. Numbers may
	// be skipped (a transaction that fails after taking them). Engines
	// with a native sequence take the numbers at commit, so transactions
	// that append to one counter do not conflict over it; the values are
	// then not visible to the appending transaction itself. An engine
	// with no way to number at commit may number after it: the values
	// wait, unnumbered and invisible, until a Settle (see Settler).
	Append(counter, prefix []byte, values ...[]byte) error
}

// A Settler is a Store whose Append numbers values after their
// transactions commit, in the order they committed (etcd: by revision),
// so that appending transactions never conflict over the counter.
// Settle numbers every value appended to counter and prefix that had
// committed when it was called; a reader of appended values calls it
// (through the package's Settle) before it reads them. Concurrent
// Settles are safe: each value gets one number.
type Settler interface {
	Settle(ctx context.Context, counter, prefix []byte) error
}

// Settle numbers the values appended to counter and prefix that wait to
// be (a Settler), and does nothing on a store that numbers at commit.
func Settle(ctx context.Context, s Store, counter, prefix []byte) error {
	if st, ok := s.(Settler); ok {
		return st.Settle(ctx, counter, prefix)
	}
	return nil
}

// ScanOptions shape a Scan.
type ScanOptions struct {
	// Limit is the most keys visited; 0 means no limit.
	Limit int
	// Reverse visits keys in descending order.
	Reverse bool
	// KeysOnly lets the engine skip loading values; fn then gets nil values.
	KeysOnly bool
	// Borrow lets the engine hand fn slices of its own memory, valid only
	// until fn returns, instead of copies: fn copies what it keeps. Scans
	// that decode most records and keep few (a directory page's attributes)
	// save an allocation per key and value.
	Borrow bool
}

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, or nil when there is none (prefix is all 0xff bytes), so that
// Scan(prefix, PrefixEnd(prefix), ...) visits exactly the keys with prefix.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// GetPutter is the part of Tx that IncrWithGetPut and GetsWithGet need.
type GetPutter interface {
	Get(key []byte) ([]byte, error)
	Put(key, value []byte) error
}

// IncrWithGetPut implements Tx.Incr for engines without a native counter:
// read the 8-byte big-endian value (missing is 0), add, write back.
func IncrWithGetPut(tx GetPutter, key []byte, delta int64) (int64, error) {
	v, err := tx.Get(key)
	var n int64
	switch {
	case err == nil:
		if len(v) != 8 {
			return 0, fmt.Errorf("kv: counter %q holds %d bytes", key, len(v))
		}
		n = int64(binary.BigEndian.Uint64(v))
	case !errors.Is(err, ErrNotFound):
		return 0, err
	}
	n += delta
	if err := tx.Put(key, binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
		return 0, err
	}
	return n, nil
}

// AddWithIncr implements Tx.Add with Incr.
func AddWithIncr(tx interface {
	Incr(key []byte, delta int64) (int64, error)
}, key []byte, delta int64) error {
	_, err := tx.Incr(key, delta)
	return err
}

// AppendWithIncr implements Tx.Append for engines whose writers commit
// one at a time (or whose transactions conflict on the counter anyway):
// the counter moves with Incr and the values are Put in the transaction.
func AppendWithIncr(tx interface {
	GetPutter
	Incr(key []byte, delta int64) (int64, error)
}, counter, prefix []byte, values ...[]byte) error {
	if len(values) == 0 {
		return nil
	}
	last, err := tx.Incr(counter, int64(len(values)))
	if err != nil {
		return err
	}
	first := uint64(last) - uint64(len(values)) + 1
	for i, v := range values {
		if err := tx.Put(SeqKey(prefix, first+uint64(i)), v); err != nil {
			return err
		}
	}
	return nil
}

// SeqKey is the key of the value numbered n under prefix (see Tx.Append).
func SeqKey(prefix []byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(prefix)+8), prefix...), n)
}

// GetsWithGet implements Tx.Gets with one Get per key.
func GetsWithGet(tx GetPutter, keys ...[]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := tx.Get(k)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Scanner is the part of Tx that DeleteRangeWithScan needs.
type Scanner interface {
	Scan(begin, end []byte, opt ScanOptions, fn func(key, value []byte) bool) error
	Delete(key []byte) error
}

// DeleteRangeWithScan implements Tx.DeleteRange with a keys-only scan and
// one Delete per key.
func DeleteRangeWithScan(tx Scanner, begin, end []byte) error {
	if end == nil {
		return errors.New("kv: DeleteRange needs an end")
	}
	var keys [][]byte
	err := tx.Scan(begin, end, ScanOptions{KeysOnly: true}, func(k, _ []byte) bool {
		keys = append(keys, bytes.Clone(k))
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
