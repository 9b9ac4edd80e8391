package chunk

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"cairn/internal/object"
)

// Block names one stored block.
type Block struct {
	Slice uint64
	Index int
	Size  int // data bytes (the object holds Size+4: the checksum trailer)
	Key   string
}

// ParseKey reads the block a Key names; ok is false for any other key.
func ParseKey(key string) (b Block, ok bool) {
	rest, found := strings.CutPrefix(key, "chunks/")
	if !found || len(rest) < 4 || rest[2] != '/' {
		return Block{}, false
	}
	parts := strings.Split(rest[3:], "_")
	if len(parts) != 3 {
		return Block{}, false
	}
	id, err1 := strconv.ParseUint(parts[0], 10, 64)
	idx, err2 := strconv.Atoi(parts[1])
	size, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || idx < 0 || size < 0 {
		return Block{}, false
	}
	b = Block{Slice: id, Index: idx, Size: size, Key: key}
	if Key(id, idx, size) != key { // the hash directory must match too
		return Block{}, false
	}
	return b, true
}

// ListBlocks calls fn with every block in the object store, in key order
// (which is not slice order: keys are spread over hash directories), and
// stops at the first error. Objects that are not blocks are skipped.
func (s *Store) ListBlocks(ctx context.Context, fn func(Block) error) error {
	after := ""
	for {
		objs, more, err := s.obj.List(ctx, "chunks/", after, 1000)
		if err != nil {
			return fmt.Errorf("chunk: list blocks: %w", err)
		}
		for _, o := range objs {
			if b, ok := ParseKey(o.Key); ok {
				if err := fn(b); err != nil {
					return err
				}
			}
			after = o.Key
		}
		if !more || len(objs) == 0 {
			return nil
		}
	}
}

// RemoveBlock deletes one block (a leftover nothing references).
func (s *Store) RemoveBlock(ctx context.Context, b Block) error {
	s.cache.remove(b.Key)
	if err := s.obj.Delete(ctx, b.Key); err != nil {
		return fmt.Errorf("chunk: delete %s: %w", b.Key, err)
	}
	return nil
}

// VerifyBlock reads block b from the object store and checks its length
// and checksum (a transient fault is retried once), without putting it in
// the cache. A missing block is object.ErrNotExist, a bad one ErrCorrupt.
func (s *Store) VerifyBlock(ctx context.Context, b Block) error {
	it, err := s.load(ctx, b.Key, b.Size)
	if err != nil {
		return err
	}
	it.evicted = true // never cached: its buffer may be reused
	s.cache.release(it)
	return nil
}

// Blocks returns the blocks slice id of length l is stored as.
func (s *Store) Blocks(id uint64, l uint32) []Block {
	n := (int(l) + s.blockSize - 1) / s.blockSize
	out := make([]Block, n)
	for i := range out {
		size := s.blockLen(l, i)
		out[i] = Block{Slice: id, Index: i, Size: size, Key: Key(id, i, size)}
	}
	return out
}

// SyncRemoved makes the deletion of the blocks of slices (id, length)
// durable, when the object store's deletes are not on their own
// (object.RemoveSyncer): call it before recording that they are gone.
func (s *Store) SyncRemoved(ctx context.Context, blocks []Block) error {
	rs := object.RemoveSyncerOf(s.obj)
	if rs == nil || len(blocks) == 0 {
		return nil
	}
	keys := make([]string, len(blocks))
	for i, b := range blocks {
		keys[i] = b.Key
	}
	if err := rs.SyncRemoved(ctx, keys); err != nil {
		return fmt.Errorf("chunk: %w", err)
	}
	return nil
}
