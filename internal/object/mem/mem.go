// Package mem is an in-memory object.Store for tests and `mem` volumes.
package mem

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"cairn/internal/object"
)

type entry struct {
	data []byte
	mod  time.Time
}

// Store keeps objects in a map.
type Store struct {
	mu   sync.RWMutex
	objs map[string]entry
}

// New returns an empty store.
func New() *Store { return &Store{objs: make(map[string]entry)} }

// Get implements object.Store.
func (s *Store) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	e, ok := s.objs[key]
	s.mu.RUnlock()
	if !ok {
		return nil, object.ErrNotExist
	}
	d := e.data
	if off > int64(len(d)) {
		off = int64(len(d))
	}
	d = d[off:]
	if length >= 0 && length < int64(len(d)) {
		d = d[:length]
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

// Put implements object.Store.
func (s *Store) Put(ctx context.Context, key string, body io.Reader) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.objs[key] = entry{data: data, mod: time.Now()}
	s.mu.Unlock()
	return nil
}

// Head implements object.Store.
func (s *Store) Head(ctx context.Context, key string) (object.Info, error) {
	s.mu.RLock()
	e, ok := s.objs[key]
	s.mu.RUnlock()
	if !ok {
		return object.Info{}, object.ErrNotExist
	}
	return object.Info{Key: key, Size: int64(len(e.data)), ModTime: e.mod}, nil
}

// Delete implements object.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	delete(s.objs, key)
	s.mu.Unlock()
	return nil
}

// List implements object.Store.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) ([]object.Info, bool, error) {
	s.mu.RLock()
	var keys []string
	for k := range s.objs {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	more := false
	if limit > 0 && len(keys) > limit {
		keys, more = keys[:limit], true
	}
	out := make([]object.Info, len(keys))
	for i, k := range keys {
		out[i] = object.Info{Key: k, Size: int64(len(s.objs[k].data)), ModTime: s.objs[k].mod}
	}
	s.mu.RUnlock()
	return out, more, nil
}

// String implements object.Store.
func (s *Store) String() string { return "mem://" }

// mem has no optional capability: every Put is whole and final.
var _ object.Store = (*Store)(nil)
