package vfs

import (
	"context"
	"sort"

	"cairn/internal/chunk"
	"cairn/internal/meta"
)

// Leftovers reports what ReclaimLeftovers removed.
type Leftovers struct {
	Ranges int   // dead sessions' slice id ranges swept
	Blocks int   // unreferenced blocks removed
	Bytes  int64 // their data bytes
}

// ReclaimLeftovers removes the blocks that writers which died left behind:
// blocks whose slice id a dead session reserved (meta.FS.SliceRanges) and
// that nothing references. No live client can still commit such an id, so
// the sweep is safe beside running writers. It lists the object store and
// reads the namespace once, so it runs only when dead ranges exist (after
// a crash), and forgets the ranges it swept.
func (fs *FS) ReclaimLeftovers(ctx context.Context) (Leftovers, error) {
	var out Leftovers
	rs, err := fs.meta.SliceRanges(ctx, true)
	if err != nil || len(rs) == 0 {
		return out, err
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	ref, err := fs.meta.ReferencedIn(ctx, rs)
	if err != nil {
		return out, err
	}
	var dead []chunk.Block
	err = fs.chunks.ListBlocks(ctx, func(b chunk.Block) error {
		if meta.InRanges(rs, b.Slice) && !ref[b.Slice] {
			dead = append(dead, b)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	for _, b := range dead {
		if err := fs.chunks.RemoveBlock(ctx, b); err != nil {
			return out, err
		}
		out.Blocks++
		out.Bytes += int64(b.Size)
	}
	// The deletions must outlive a power cut before the ranges are
	// forgotten: nothing would ever find those blocks again.
	if err := fs.chunks.SyncRemoved(ctx, dead); err != nil {
		return out, err
	}
	if err := fs.meta.DropDeadRanges(ctx, rs); err != nil {
		return out, err
	}
	out.Ranges = len(rs)
	return out, nil
}

// SessionID returns this client's session id, or 0 without a session.
func (fs *FS) SessionID() uint64 { return fs.meta.SessionID() }

// LiveSessions returns the ids of the volume's registered sessions.
func (fs *FS) LiveSessions(ctx context.Context) (map[uint64]bool, error) {
	ss, err := fs.meta.ListSessions(ctx)
	if err != nil {
		return nil, err
	}
	live := make(map[uint64]bool, len(ss))
	for _, s := range ss {
		live[s.ID] = true
	}
	return live, nil
}
