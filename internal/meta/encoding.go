package meta

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"cairn/internal/posix"
)

// attrVersion is the first byte of an encoded Attr; bump it when the layout
// changes and keep decoding the old ones. Version 2 is version 1 followed
// by the quota directory; it is written only for inodes a quota charges,
// so a volume without quotas keeps version 1 throughout.
const (
	attrVersion   = 1
	attrVersionQ  = 2
	attrSize      = 1 + 1 + 1 + 2 + 4 + 4 + 8*3 + 4 + 8 + 4 + 8 + 4 + 4
	attrSizeQuota = attrSize + 8
)

// encodeAttr returns the stored form of a.
func encodeAttr(a *posix.Attr) []byte {
	if a.Quota != 0 {
		b := make([]byte, attrSizeQuota)
		encodeAttrTo(b, a)
		b[0] = attrVersionQ
		binary.BigEndian.PutUint64(b[attrSize:], uint64(a.Quota))
		return b
	}
	b := make([]byte, attrSize)
	encodeAttrTo(b, a)
	return b
}

func encodeAttrTo(b []byte, a *posix.Attr) {
	b[0] = attrVersion
	b[1] = byte(a.Type)
	b[2] = a.Flags
	be := binary.BigEndian
	be.PutUint16(b[3:], uint16(a.Mode&posix.ModeMask))
	be.PutUint32(b[5:], a.UID)
	be.PutUint32(b[9:], a.GID)
	be.PutUint64(b[13:], uint64(a.Atime))
	be.PutUint64(b[21:], uint64(a.Mtime))
	be.PutUint64(b[29:], uint64(a.Ctime))
	be.PutUint32(b[37:], a.Nlink)
	be.PutUint64(b[41:], a.Length)
	be.PutUint32(b[49:], a.Rdev)
	be.PutUint64(b[53:], uint64(a.Parent))
	be.PutUint32(b[61:], a.AccessACL)
	be.PutUint32(b[65:], a.DefaultACL)
}

// decodeAttr parses what encodeAttr wrote. Corrupt input gives an error
// wrapping EIO, never a panic.
func decodeAttr(b []byte) (posix.Attr, error) {
	var a posix.Attr
	switch {
	case len(b) == attrSize && b[0] == attrVersion:
	case len(b) == attrSizeQuota && b[0] == attrVersionQ && binary.BigEndian.Uint64(b[attrSize:]) != 0:
		a.Quota = posix.Ino(binary.BigEndian.Uint64(b[attrSize:]))
	default:
		return a, fmt.Errorf("meta: corrupt inode attributes (%d bytes): %w", len(b), syscall.EIO)
	}
	be := binary.BigEndian
	a.Type = posix.FileType(b[1])
	a.Flags = b[2]
	a.Mode = uint32(be.Uint16(b[3:])) & posix.ModeMask
	a.UID = be.Uint32(b[5:])
	a.GID = be.Uint32(b[9:])
	a.Atime = int64(be.Uint64(b[13:]))
	a.Mtime = int64(be.Uint64(b[21:]))
	a.Ctime = int64(be.Uint64(b[29:]))
	a.Nlink = be.Uint32(b[37:])
	a.Length = be.Uint64(b[41:])
	a.Rdev = be.Uint32(b[49:])
	a.Parent = posix.Ino(be.Uint64(b[53:]))
	a.AccessACL = be.Uint32(b[61:])
	a.DefaultACL = be.Uint32(b[65:])
	if a.Type < posix.TypeFile || a.Type > posix.TypeSocket {
		return a, fmt.Errorf("meta: corrupt inode type %d: %w", a.Type, syscall.EIO)
	}
	return a, nil
}

// encodeDentry is the value of a directory entry: the child's type and inode.
func encodeDentry(typ posix.FileType, ino posix.Ino) []byte {
	b := make([]byte, 9)
	b[0] = byte(typ)
	binary.BigEndian.PutUint64(b[1:], uint64(ino))
	return b
}

func decodeDentry(b []byte) (posix.FileType, posix.Ino, error) {
	if len(b) != 9 {
		return 0, 0, fmt.Errorf("meta: corrupt directory entry: %w", syscall.EIO)
	}
	return posix.FileType(b[0]), posix.Ino(binary.BigEndian.Uint64(b[1:])), nil
}

// Slice is one run of a slice placed in a chunk: bytes [Off, Off+Len) of
// slice ID (whose total stored length is Size) appear at chunk offset Pos.
// ID 0 is a hole (reads as zeroes), used by truncate and fallocate
// punch-hole.
type Slice struct {
	ID   uint64
	Size uint32
	Off  uint32
	Len  uint32
	Pos  uint32
	// Data holds an inline slice's Size bytes (IsInline(ID)); ReadChunk
	// loads it in the same transaction as the slice list. It is not part
	// of the stored record.
	Data []byte
}

// InlineBit marks the id of an inline slice: its bytes live in the
// metadata engine ('B' keys) rather than in blocks of the object store.
// Slice ids are allocated from a counter that never reaches this bit.
const InlineBit = uint64(1) << 63

// IsInline reports whether a slice id names an inline slice.
func IsInline(id uint64) bool { return id&InlineBit != 0 }

// sliceRecordSize is the stored size of one Slice in a chunk value.
const sliceRecordSize = 24

func appendSlice(b []byte, s Slice) []byte {
	var r [sliceRecordSize]byte
	be := binary.BigEndian
	be.PutUint64(r[0:], s.ID)
	be.PutUint32(r[8:], s.Size)
	be.PutUint32(r[12:], s.Off)
	be.PutUint32(r[16:], s.Len)
	be.PutUint32(r[20:], s.Pos)
	return append(b, r[:]...)
}

// decodeSlices parses a chunk value: slice records in write order, oldest
// first.
func decodeSlices(b []byte) ([]Slice, error) {
	if len(b)%sliceRecordSize != 0 {
		return nil, fmt.Errorf("meta: corrupt chunk record (%d bytes): %w", len(b), syscall.EIO)
	}
	ss := make([]Slice, 0, len(b)/sliceRecordSize)
	be := binary.BigEndian
	for i := 0; i < len(b); i += sliceRecordSize {
		r := b[i : i+sliceRecordSize]
		s := Slice{ID: be.Uint64(r), Size: be.Uint32(r[8:]), Off: be.Uint32(r[12:]), Len: be.Uint32(r[16:]), Pos: be.Uint32(r[20:])}
		if uint64(s.Off)+uint64(s.Len) > uint64(s.Size) && s.ID != 0 {
			return nil, fmt.Errorf("meta: corrupt slice record %d: %w", s.ID, syscall.EIO)
		}
		if uint64(s.Pos)+uint64(s.Len) > ChunkSize {
			return nil, fmt.Errorf("meta: slice %d past the chunk end: %w", s.ID, syscall.EIO)
		}
		ss = append(ss, s)
	}
	return ss, nil
}
