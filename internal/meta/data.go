package meta

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// File data bookkeeping. A file is cut into ChunkSize chunks; each chunk's
// value lists the Slice records written to it, oldest first. A read resolves
// them with ResolveSlices: later records cover earlier ones. Slices are
// immutable objects shared by reference (CopyFileRange), so a slice's
// reference count beyond the first lives under 'K'; when the last reference
// goes, the slice is queued under 'Z' and its blocks are deleted by
// SweepDeletedSlices after Options.SliceDeleteDelay.

func align4k(n uint64) uint64 { return (n + 4095) &^ 4095 }

// ReadChunk returns the slice records of chunk index of ino, oldest first.
func (m *FS) ReadChunk(ctx context.Context, ino posix.Ino, index uint32) ([]Slice, error) {
	var ss []Slice
	err := m.store.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(chunkKey(ino, index))
		if errors.Is(err, kv.ErrNotFound) {
			ss = nil
			return nil
		}
		if err != nil {
			return err
		}
		if ss, err = decodeSlices(b); err != nil {
			return err
		}
		return loadInline(tx, ss)
	})
	return ss, err
}

// loadInline fills in the Data of the inline slices in ss.
func loadInline(tx kv.Tx, ss []Slice) error {
	for i := range ss {
		s := &ss[i]
		if !IsInline(s.ID) {
			continue
		}
		b, err := tx.Get(inlineKey(s.ID))
		if errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("meta: inline slice %x is missing: %w", s.ID, syscall.EIO)
		}
		if err != nil {
			return err
		}
		if len(b) != int(s.Size) {
			return fmt.Errorf("meta: inline slice %x holds %d bytes, not %d: %w", s.ID, len(b), s.Size, syscall.EIO)
		}
		s.Data = b
	}
	return nil
}

// ResolveSlices turns a chunk's records (oldest first) into the visible,
// non-overlapping runs sorted by Pos. Newer records win where they overlap;
// ranges no record covers are absent; runs with ID 0 are holes.
func ResolveSlices(ss []Slice) []Slice {
	var view []Slice
	for _, s := range ss {
		if s.Len == 0 {
			continue
		}
		view = cover(view, s)
	}
	return view
}

// cover places s over view (sorted, non-overlapping), cutting what it hides.
func cover(view []Slice, s Slice) []Slice {
	end := s.Pos + s.Len
	out := make([]Slice, 0, len(view)+2)
	for _, v := range view {
		vend := v.Pos + v.Len
		if vend <= s.Pos || v.Pos >= end {
			out = append(out, v)
			continue
		}
		if v.Pos < s.Pos { // left part survives
			l := v
			l.Len = s.Pos - v.Pos
			out = append(out, l)
		}
		if vend > end { // right part survives
			r := v
			cut := end - v.Pos
			r.Pos, r.Off, r.Len = end, v.Off+cut, vend-end
			out = append(out, r)
		}
	}
	out = append(out, s)
	sort.Slice(out, func(i, j int) bool { return out[i].Pos < out[j].Pos })
	return out
}

// WriteRequest records that bytes of a finished slice now hold file data.
type WriteRequest struct {
	Index uint32 // chunk index
	Slice Slice  // Pos is the offset inside the chunk
	// Mtime is the modification time to set (0: now).
	Mtime int64
}

// Write appends slice records to ino's chunks and extends the length when
// they reach past it. The caller opened ino for writing (permission was
// checked then). A non-root writer clears setuid/setgid, as the kernel does.
// ENOSPC when the volume's capacity would be exceeded.
func (m *FS) Write(ctx context.Context, cred posix.Cred, ino posix.Ino, reqs ...WriteRequest) (posix.Attr, error) {
	var out posix.Attr
	if err := m.checkLease(ctx); err != nil {
		return posix.Attr{}, err
	}
	err := m.update(ctx, func(tx kv.Tx) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if a.Type != posix.TypeFile {
			return syscall.EBADF
		}
		now := m.now()
		newLen := a.Length
		for _, r := range reqs {
			if uint64(r.Slice.Pos)+uint64(r.Slice.Len) > ChunkSize {
				return syscall.EINVAL
			}
			if err := appendChunk(tx, ino, r.Index, r.Slice); err != nil {
				return err
			}
			if end := uint64(r.Index)*ChunkSize + uint64(r.Slice.Pos) + uint64(r.Slice.Len); end > newLen {
				newLen = end
			}
			if r.Mtime != 0 {
				now = r.Mtime
			}
		}
		if err := m.addUsage(tx, a.Quota, int64(align4k(newLen))-int64(align4k(a.Length))); err != nil {
			return err
		}
		a.Length = newLen
		a.Mtime, a.Ctime = now, now
		if !cred.IsRoot() {
			a.Mode, _ = posix.KillSuidOnWrite(cred, &a)
		}
		out = a
		return putAttr(tx, ino, &a)
	})
	return out, err
}

func appendChunk(tx kv.Tx, ino posix.Ino, index uint32, s Slice) error {
	k := chunkKey(ino, index)
	old, err := tx.Get(k)
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	return tx.Put(k, appendSlice(append([]byte(nil), old...), s))
}

// NoteWritten records in the change feed that ino's data changed (called
// when a handle that wrote is flushed or closed, so that one event stands
// for one write session rather than every write call).
func (m *FS) NoteWritten(ctx context.Context, ino posix.Ino) error {
	return m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		rec.set(OpWrite, ino, &a)
		return nil
	})
}

// addUsage adds delta bytes to the volume's used space and to quota q's
// (with those above it), failing with ENOSPC when growth would pass the
// capacity and EDQUOT when it would pass a quota.
func (m *FS) addUsage(tx kv.Tx, q posix.Ino, delta int64) error {
	if delta == 0 {
		return nil
	}
	if delta > 0 && m.fmt.Capacity > 0 {
		// Read before the Add, whose change the transaction may not see.
		used, err := counterTotal(tx, cfgUsedSpace)
		if err != nil {
			return err
		}
		if used+delta > int64(m.fmt.Capacity) {
			return syscall.ENOSPC
		}
	}
	if err := m.addCounter(tx, cfgUsedSpace, delta); err != nil {
		return err
	}
	return charge(tx, q, delta, 0)
}

// addInodes adds delta to the volume's inode count and to quota q's.
func (m *FS) addInodes(tx kv.Tx, q posix.Ino, delta int64) error {
	if err := m.addCounter(tx, cfgInodes, delta); err != nil {
		return err
	}
	return charge(tx, q, 0, delta)
}

// truncate sets a regular file's length inside tx: shrinking drops the
// chunks past the end and covers the tail of the last one with a hole, so
// that growing it again shows zeroes.
func (m *FS) truncate(tx kv.Tx, ino posix.Ino, a *posix.Attr, size uint64) error {
	if size > 1<<50 {
		return syscall.EFBIG
	}
	if size < a.Length {
		idx := uint32(size / ChunkSize)
		pos := uint32(size % ChunkSize)
		first := idx
		if pos > 0 {
			first++
			if err := appendChunk(tx, ino, idx, Slice{Pos: pos, Len: ChunkSize - pos}); err != nil {
				return err
			}
		}
		if err := m.freeChunks(tx, ino, first); err != nil {
			return err
		}
	}
	if err := m.addUsage(tx, a.Quota, int64(align4k(size))-int64(align4k(a.Length))); err != nil {
		return err
	}
	a.Length = size
	return nil
}

// freeChunks deletes the chunks of ino from index first on and releases
// their slices.
func (m *FS) freeChunks(tx kv.Tx, ino posix.Ino, first uint32) error {
	var keys, vals [][]byte
	prefix := chunkPrefix(ino)
	err := tx.Scan(chunkKey(ino, first), kv.PrefixEnd(prefix), kv.ScanOptions{}, func(k, v []byte) bool {
		keys, vals = append(keys, k), append(vals, v)
		return true
	})
	if err != nil {
		return err
	}
	for i, k := range keys {
		ss, err := decodeSlices(vals[i])
		if err != nil {
			return err
		}
		for _, s := range ss {
			if err := m.releaseSlice(tx, s.ID, s.Size); err != nil {
				return err
			}
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// releaseSlice drops one reference to a slice; the last one queues its
// blocks for deletion.
func (m *FS) releaseSlice(tx kv.Tx, id uint64, size uint32) error {
	if id == 0 {
		return nil
	}
	k := sliceRefKey(id, size)
	b, err := tx.Get(k)
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	if len(b) == 8 && int64(u64(b)) > 0 {
		if int64(u64(b)) == 1 {
			return tx.Delete(k)
		}
		_, err := tx.Incr(k, -1)
		return err
	}
	if IsInline(id) {
		// Readers hold the bytes of the slices they resolved (ReadChunk
		// loads them in its transaction), so they can go at once.
		return tx.Delete(inlineKey(id))
	}
	delay := m.opts.SliceDeleteDelay
	if delay < 0 {
		delay = 0
	}
	return tx.Put(delSliceKey(m.now()+int64(delay), id, size), nil)
}

// SweepDeletedSlices deletes the blocks of up to limit queued slices whose
// delay has passed, calling remove for each, then (durable, when not nil:
// making those deletions survive a power cut) forgets them. remove must
// be idempotent (it may run again after a crash).
func (m *FS) SweepDeletedSlices(ctx context.Context, limit int, remove func(ctx context.Context, id uint64, size uint32) error, durable func(ctx context.Context) error) (int, error) {
	var keys [][]byte
	now := m.now()
	err := m.store.View(ctx, func(tx kv.Tx) error {
		keys = keys[:0]
		return tx.Scan([]byte{famDelSlice}, delSliceKey(now+1, 0, 0), kv.ScanOptions{Limit: limit, KeysOnly: true}, func(k, _ []byte) bool {
			keys = append(keys, k)
			return true
		})
	})
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	done := keys[:0]
	for _, k := range keys {
		if len(k) != 21 {
			continue
		}
		id, size := u64(k[9:17]), uint32(k[17])<<24|uint32(k[18])<<16|uint32(k[19])<<8|uint32(k[20])
		if err := remove(ctx, id, size); err != nil {
			m.log.Warn("deleting slice blocks failed; will retry", "slice", id, "err", err)
			continue
		}
		done = append(done, k)
	}
	if durable != nil && len(done) > 0 {
		if err := durable(ctx); err != nil {
			return 0, err
		}
	}
	err = m.store.Update(ctx, func(tx kv.Tx) error {
		for _, k := range done {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return len(done), err
}
