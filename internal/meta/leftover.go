package meta

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	"cairn/internal/meta/kv"
)

// Leftover blocks. A writer stores a slice's blocks in the object store
// before the transaction that references the slice commits; a writer that
// dies in between leaves blocks nothing references. To find them without
// racing writers that are still running, each batch of slice ids a client
// reserves is recorded under its session, in the reserving transaction:
//
//	'W' start(8) -> session(8) end(8)   ids [start, end) of a live session
//	'w' start(8) -> end(8)              ids of a session that died
//
// A session that closes cleanly drops its ranges (its writers finished or
// removed what they wrote). A dead session's ranges move to 'w' when it is
// cleaned up; a block whose slice id is in a 'w' range and that no chunk
// references can only be a leftover (no live client will ever commit that
// id), and ReclaimLeftovers-style sweeps remove it, then the range.
const (
	famSliceRange = 'W'
	famDeadRange  = 'w'
)

// SliceRange is a run of slice ids [Start, End).
type SliceRange struct {
	Start, End uint64
	Session    uint64 // the session that reserved it; 0 in dead ranges
}

// Contains reports whether id is in the range.
func (r SliceRange) Contains(id uint64) bool { return id >= r.Start && id < r.End }

// InRanges reports whether id is in one of rs, which must be sorted by
// Start and not overlap.
func InRanges(rs []SliceRange, id uint64) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].End > id })
	return i < len(rs) && rs[i].Contains(id)
}

func rangeKey(fam byte, start uint64) []byte {
	k := make([]byte, 9)
	k[0] = fam
	binary.BigEndian.PutUint64(k[1:], start)
	return k
}

// recordSliceRange notes inside tx that session sid reserved [start, end).
func recordSliceRange(tx kv.Tx, sid, start, end uint64) error {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, sid)
	binary.BigEndian.PutUint64(v[8:], end)
	return tx.Put(rangeKey(famSliceRange, start), v)
}

// SliceRanges returns the slice id ranges reserved by sessions that are
// alive (dead=false) or by sessions that died and whose leftovers have not
// been swept yet (dead=true), in id order.
func (m *FS) SliceRanges(ctx context.Context, dead bool) ([]SliceRange, error) {
	fam := byte(famSliceRange)
	if dead {
		fam = famDeadRange
	}
	var out []SliceRange
	err := m.store.View(ctx, func(tx kv.Tx) error {
		out = out[:0]
		return tx.Scan([]byte{fam}, []byte{fam + 1}, kv.ScanOptions{}, func(k, v []byte) bool {
			if len(k) != 9 {
				return true
			}
			r := SliceRange{Start: u64(k[1:])}
			switch {
			case dead && len(v) == 8:
				r.End = u64(v)
			case !dead && len(v) == 16:
				r.Session, r.End = u64(v), u64(v[8:])
			default:
				return true
			}
			out = append(out, r)
			return true
		})
	})
	return out, err
}

// retireRanges moves (dead) or drops (closed cleanly) the slice ranges of
// session sid.
func (m *FS) retireRanges(ctx context.Context, sid uint64, dead bool) error {
	live, err := m.SliceRanges(ctx, false)
	if err != nil {
		return err
	}
	return m.store.Update(ctx, func(tx kv.Tx) error {
		for _, r := range live {
			if r.Session != sid {
				continue
			}
			if err := tx.Delete(rangeKey(famSliceRange, r.Start)); err != nil {
				return err
			}
			if dead {
				if err := tx.Put(rangeKey(famDeadRange, r.Start), putU64(r.End)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// DropDeadRanges forgets dead ranges whose leftovers were swept.
func (m *FS) DropDeadRanges(ctx context.Context, rs []SliceRange) error {
	return m.store.Update(ctx, func(tx kv.Tx) error {
		for _, r := range rs {
			if err := tx.Delete(rangeKey(famDeadRange, r.Start)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReferencedIn returns the ids within ranges rs (sorted, not
// overlapping) that the volume still references: in a chunk of any inode,
// or queued for deletion (their blocks go with the queue). It reads the
// whole namespace in one snapshot, so a reference moved between inodes
// meanwhile (a copy, then a delete of the source) cannot be missed.
func (m *FS) ReferencedIn(ctx context.Context, rs []SliceRange) (map[uint64]bool, error) {
	in := func(id uint64) bool { return InRanges(rs, id) }
	ref := map[uint64]bool{}
	err := m.store.View(ctx, func(tx kv.Tx) error {
		clear(ref)
		var derr error
		err := tx.Scan([]byte{famInode}, []byte{famInode + 1}, kv.ScanOptions{Borrow: true}, func(k, v []byte) bool {
			if len(k) != 14 || k[9] != subChunk {
				return true
			}
			ss, err := decodeSlices(v)
			if err != nil {
				derr = fmt.Errorf("inode %d chunk %d: %w", u64(k[1:9]), binary.BigEndian.Uint32(k[10:]), err)
				return false
			}
			for _, s := range ss {
				if s.ID != 0 && in(s.ID) {
					ref[s.ID] = true
				}
			}
			return true
		})
		if err == nil {
			err = derr
		}
		if err != nil {
			return err
		}
		return tx.Scan([]byte{famDelSlice}, []byte{famDelSlice + 1}, kv.ScanOptions{KeysOnly: true}, func(k, _ []byte) bool {
			if len(k) == 21 {
				if id := u64(k[9:17]); in(id) {
					ref[id] = true
				}
			}
			return true
		})
	})
	return ref, err
}
