package meta

import (
	"context"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// CopyFileRange makes dst's bytes [dstOff, dstOff+n) reference src's bytes
// [srcOff, srcOff+n) without copying data: the same slices are added to
// dst's chunks with their reference counts raised. n is clipped at src's
// end; the number of bytes copied is returned. Both must be regular files
// (EISDIR / EINVAL); overlapping ranges of one file are EINVAL. The caller
// opened src for reading and dst for writing.
func (m *FS) CopyFileRange(ctx context.Context, cred posix.Cred, src posix.Ino, srcOff uint64, dst posix.Ino, dstOff uint64, n uint64) (uint64, error) {
	var copied uint64
	err := m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		copied = 0
		sa, err := getAttr(tx, src)
		if err != nil {
			return err
		}
		da, err := getAttr(tx, dst)
		if err != nil {
			return err
		}
		if sa.Type == posix.TypeDir || da.Type == posix.TypeDir {
			return syscall.EISDIR
		}
		if sa.Type != posix.TypeFile || da.Type != posix.TypeFile {
			return syscall.EINVAL
		}
		if da.Flags&(posix.FlagImmutable|posix.FlagAppend) != 0 {
			return syscall.EPERM
		}
		if srcOff >= sa.Length {
			return nil
		}
		if srcOff+n > sa.Length {
			n = sa.Length - srcOff
		}
		if src == dst && srcOff < dstOff+n && dstOff < srcOff+n {
			return syscall.EINVAL
		}
		if dstOff+n > 1<<50 {
			return syscall.EFBIG
		}
		if err := m.copyRange(tx, src, srcOff, dst, dstOff, n); err != nil {
			return err
		}
		if end := dstOff + n; end > da.Length {
			if err := m.addUsage(tx, da.Quota, int64(align4k(end))-int64(align4k(da.Length))); err != nil {
				return err
			}
			da.Length = end
		}
		now := m.now()
		da.Mtime, da.Ctime = now, now
		if !cred.IsRoot() {
			da.Mode, _ = posix.KillSuidOnWrite(cred, &da)
		}
		copied = n
		rec.set(OpCopy, dst, &da)
		return putAttr(tx, dst, &da)
	})
	return copied, err
}

// copyRange appends to dst's chunks the runs that make up src's range.
// Ranges of src that no slice covers are copied as holes, so dst reads
// zeroes there as src does.
func (m *FS) copyRange(tx kv.Tx, src posix.Ino, srcOff uint64, dst posix.Ino, dstOff uint64, n uint64) error {
	var cached uint32 = 1<<32 - 1
	var view []Slice
	for n > 0 {
		sIdx, sPos := uint32(srcOff/ChunkSize), uint32(srcOff%ChunkSize)
		dIdx, dPos := uint32(dstOff/ChunkSize), uint32(dstOff%ChunkSize)
		step := uint64(ChunkSize - sPos)
		if d := uint64(ChunkSize - dPos); d < step {
			step = d
		}
		if n < step {
			step = n
		}
		if sIdx != cached {
			b, err := tx.Get(chunkKey(src, sIdx))
			if err != nil && !errIsNotFound(err) {
				return err
			}
			ss, err := decodeSlices(b)
			if err != nil {
				return err
			}
			view, cached = ResolveSlices(ss), sIdx
		}
		for _, s := range cutView(view, sPos, uint32(step)) {
			s.Pos = s.Pos - sPos + dPos
			if err := appendChunk(tx, dst, dIdx, s); err != nil {
				return err
			}
			if s.ID != 0 {
				if _, err := tx.Incr(sliceRefKey(s.ID, s.Size), 1); err != nil {
					return err
				}
			}
		}
		srcOff, dstOff, n = srcOff+step, dstOff+step, n-step
	}
	return nil
}

// cutView returns the runs covering [pos, pos+length) of a resolved view,
// with the gaps filled by holes, in order.
func cutView(view []Slice, pos, length uint32) []Slice {
	end := pos + length
	var out []Slice
	at := pos
	for _, v := range view {
		vend := v.Pos + v.Len
		if vend <= at || v.Pos >= end {
			continue
		}
		if v.Pos > at {
			out = append(out, Slice{Pos: at, Len: v.Pos - at})
			at = v.Pos
		}
		s := v
		if s.Pos < at {
			cut := at - s.Pos
			s.Pos, s.Off, s.Len = at, s.Off+cut, s.Len-cut
		}
		if s.Pos+s.Len > end {
			s.Len = end - s.Pos
		}
		if s.ID == 0 {
			s.Off, s.Size = 0, 0
		}
		out = append(out, s)
		at = s.Pos + s.Len
	}
	if at < end {
		out = append(out, Slice{Pos: at, Len: end - at})
	}
	return out
}

// Fallocate flags, as fallocate(2).
const (
	FallocKeepSize  uint32 = 0x01
	FallocPunchHole uint32 = 0x02
	FallocZeroRange uint32 = 0x10
)

// Fallocate preallocates (mode 0, extending the length unless
// FallocKeepSize), punches holes (FallocPunchHole|FallocKeepSize) or zeroes
// ranges (FallocZeroRange) of a regular file opened for writing. Space is
// not reserved in the object store: preallocation only sets the length.
func (m *FS) Fallocate(ctx context.Context, cred posix.Cred, ino posix.Ino, mode uint32, off, length uint64) error {
	if length == 0 {
		return syscall.EINVAL
	}
	if mode&^(FallocKeepSize|FallocPunchHole|FallocZeroRange) != 0 {
		return syscall.EOPNOTSUPP
	}
	if mode&FallocPunchHole != 0 && mode&FallocKeepSize == 0 {
		return syscall.EINVAL
	}
	if off+length > 1<<50 {
		return syscall.EFBIG
	}
	return m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if a.Type == posix.TypeDir {
			return syscall.EISDIR
		}
		if a.Type != posix.TypeFile {
			return syscall.ENODEV
		}
		if a.Flags&(posix.FlagImmutable|posix.FlagAppend) != 0 {
			return syscall.EPERM
		}
		if mode&(FallocPunchHole|FallocZeroRange) != 0 {
			for o, left := off, length; left > 0; {
				idx, pos := uint32(o/ChunkSize), uint32(o%ChunkSize)
				step := uint64(ChunkSize - pos)
				if left < step {
					step = left
				}
				if err := appendChunk(tx, ino, idx, Slice{Pos: pos, Len: uint32(step)}); err != nil {
					return err
				}
				o, left = o+step, left-step
			}
		}
		if end := off + length; mode&FallocKeepSize == 0 && end > a.Length {
			if err := m.addUsage(tx, a.Quota, int64(align4k(end))-int64(align4k(a.Length))); err != nil {
				return err
			}
			a.Length = end
		}
		now := m.now()
		a.Mtime, a.Ctime = now, now
		rec.set(OpWrite, ino, &a)
		return putAttr(tx, ino, &a)
	})
}
