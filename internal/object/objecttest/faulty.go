package objecttest

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"cairn/internal/object"
)

// ErrInjected is the error Faulty injects.
var ErrInjected = errors.New("objecttest: injected fault")

// Op names an object.Store method for Faulty rules.
type Op string

// Operations Faulty can break.
const (
	OpGet    Op = "get"
	OpPut    Op = "put"
	OpHead   Op = "head"
	OpDelete Op = "delete"
	OpList   Op = "list"
	// OpRead breaks the body of a Get after it started: the reader
	// returns some bytes, then ErrInjected.
	OpRead Op = "read"
	// OpCorrupt flips a byte in what a Get returns (silent corruption,
	// which the layers above must detect by length or checksum).
	OpCorrupt Op = "corrupt"
)

// Rule says which calls fail: those of Op on keys containing KeyContains,
// Times times (0: every time), after Delay.
type Rule struct {
	Op          Op
	KeyContains string
	Times       int
	Delay       time.Duration
}

// Faulty wraps a store and injects errors and latency by rule.
type Faulty struct {
	object.Store
	mu    sync.Mutex
	rules []*Rule
	hits  map[Op]int
}

// NewFaulty wraps s.
func NewFaulty(s object.Store) *Faulty { return &Faulty{Store: s, hits: map[Op]int{}} }

// Add installs a rule.
func (f *Faulty) Add(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &r)
}

// Clear removes every rule.
func (f *Faulty) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Hits reports how many faults of op were injected.
func (f *Faulty) Hits(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[op]
}

// fire reports whether a fault of op applies to key now, consuming one.
func (f *Faulty) fire(op Op, key string) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if r.Op != op || !strings.Contains(key, r.KeyContains) {
			continue
		}
		if r.Times < 0 {
			continue
		}
		if r.Times > 0 {
			if r.Times--; r.Times == 0 {
				r.Times = -1
			}
		}
		f.hits[op]++
		return true, r.Delay
	}
	return false, 0
}

func (f *Faulty) check(ctx context.Context, op Op, key string) error {
	hit, d := f.fire(op, key)
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if hit {
		return ErrInjected
	}
	return nil
}

// Get implements object.Store.
func (f *Faulty) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := f.check(ctx, OpGet, key); err != nil {
		return nil, err
	}
	rc, err := f.Store.Get(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	if hit, _ := f.fire(OpRead, key); hit {
		return &brokenReader{rc: rc, left: 100}, nil
	}
	if hit, _ := f.fire(OpCorrupt, key); hit {
		return &corruptReader{ReadCloser: rc}, nil
	}
	return rc, nil
}

// Put implements object.Store.
func (f *Faulty) Put(ctx context.Context, key string, body io.Reader) error {
	if err := f.check(ctx, OpPut, key); err != nil {
		return err
	}
	return f.Store.Put(ctx, key, body)
}

// Head implements object.Store.
func (f *Faulty) Head(ctx context.Context, key string) (object.Info, error) {
	if err := f.check(ctx, OpHead, key); err != nil {
		return object.Info{}, err
	}
	return f.Store.Head(ctx, key)
}

// Delete implements object.Store.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	if err := f.check(ctx, OpDelete, key); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

// List implements object.Store.
func (f *Faulty) List(ctx context.Context, prefix, startAfter string, limit int) ([]object.Info, bool, error) {
	if err := f.check(ctx, OpList, prefix); err != nil {
		return nil, false, err
	}
	return f.Store.List(ctx, prefix, startAfter, limit)
}

type brokenReader struct {
	rc   io.ReadCloser
	left int
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrInjected
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= n
	return n, err
}

func (b *brokenReader) Close() error { return b.rc.Close() }

type corruptReader struct {
	io.ReadCloser
	done bool
}

func (c *corruptReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 && !c.done {
		p[0] ^= 0xff
		c.done = true
	}
	return n, err
}
