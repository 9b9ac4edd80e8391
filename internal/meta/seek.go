package meta

import (
	"context"
	"encoding/binary"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Whence values of SeekData, as lseek(2) numbers them.
const (
	SeekData = 3 // SEEK_DATA: the next offset at or after off holding data
	SeekHole = 4 // SEEK_HOLE: the next offset at or after off in a hole
)

// Seek answers lseek's SEEK_DATA and SEEK_HOLE for a regular file: data is
// what a write, copy or fallocate without punch-hole or zero-range
// placed; holes are ranges no slice covers, holes punched, and the
// implicit hole at the end of the file. An offset at or past the end is
// ENXIO, as on Linux.
func (m *FS) Seek(ctx context.Context, ino posix.Ino, off uint64, whence int) (uint64, error) {
	if whence != SeekData && whence != SeekHole {
		return 0, syscall.EINVAL
	}
	var res uint64
	err := m.store.View(ctx, func(tx kv.Tx) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if a.Type == posix.TypeDir {
			return syscall.EISDIR
		}
		if off >= a.Length {
			return syscall.ENXIO
		}
		// Data runs in file order, chunk by chunk from off's chunk.
		pos := off // SEEK_HOLE: the end of the data seen so far, from off
		found := false
		var ferr error
		begin := chunkKey(ino, uint32(off/ChunkSize))
		end := kv.PrefixEnd(chunkPrefix(ino))
		err = tx.Scan(begin, end, kv.ScanOptions{}, func(k, v []byte) bool {
			idx := binary.BigEndian.Uint32(k[len(k)-4:])
			base := uint64(idx) * ChunkSize
			ss, err := decodeSlices(v)
			if err != nil {
				ferr = err
				return false
			}
			for _, s := range ResolveSlices(ss) {
				if s.ID == 0 {
					continue
				}
				rs, re := base+uint64(s.Pos), base+uint64(s.Pos)+uint64(s.Len)
				if re <= off {
					continue
				}
				if whence == SeekData {
					res, found = max(rs, off), true
					return false
				}
				if rs > pos { // a hole before this run
					res, found = pos, true
					return false
				}
				pos = re
			}
			return base+ChunkSize <= a.Length
		})
		if ferr != nil {
			return ferr
		}
		if err != nil {
			return err
		}
		switch {
		case whence == SeekData && (!found || res >= a.Length):
			return syscall.ENXIO
		case whence == SeekHole && !found:
			res = min(pos, a.Length)
		}
		return nil
	})
	return res, err
}
