package meta

import (
	"encoding/binary"

	"cairn/internal/posix"
)

// Key schema. Every key starts with one family byte; inode numbers, ids and
// sequence numbers are 8-byte big-endian so that numeric order is key order.
//
//	'C' name                     volume setting or counter (see the cfg* names)
//	'A' ino 'I'                  inode attributes (encodeAttr)
//	'A' ino 'D' name             directory entry: type byte + child ino
//	'A' ino 'B'                  the name of the inode's one link in its Attr.Parent
//	                             (see InodePath)
//	'A' ino 'L' parent(8) name   one link of an inode with several (see InodePaths)
//	'A' ino 'C' index(4)         slice list of one 64 MiB chunk (24-byte records)
//	'A' ino 'S'                  symlink target
//	'A' ino 'X' name             extended attribute value
//	'R' id(4)                    ACL rule by id (acl.Rule.MarshalBinary)
//	'r' rule bytes               ACL id by rule (deduplication index)
//	'K' slice(8) len(4)          reference count of a slice shared by several
//	                             chunks beyond the first (absent = 1)
//	'Z' time(8) slice(8) len(4)  slice to delete from the object store once
//	                             time (unix ns) has passed
//	'B' slice(8)                 the bytes of an inline slice (InlineBit set
//	                             in its id): small file data kept in the
//	                             metadata engine instead of the object store
//	'U' ino                      inode unlinked while open: data kept until the
//	                             last open handle of the last client closes
//	'S' session(8)               session record (heartbeat, host, pid)
//	'O' session(8) ino           an inode held open by a session
//	'L' ino 'F'|'P'              flock / POSIX record lock table of an inode
//	'M' session(8) ino           an inode on which a session holds locks
//	'E' seq(8)                   change-feed record
//	'e' name                     change-feed consumer position
//	'Q' ino                      directory usage counters (reserved)
//	'I' ...                      identities: package iam's own records
//	'N' ...                      notification targets and volume-wide rules:
//	                             package notify's own records
const (
	famConfig   = 'C'
	famInode    = 'A'
	famACL      = 'R'
	famACLIndex = 'r'
	famSliceRef = 'K'
	famDelSlice = 'Z'
	famInline   = 'B'
	famUnlinked = 'U'
	famSession  = 'S'
	famOpen     = 'O'
	famLock     = 'L'
	famSessLock = 'M'
	famFeed     = 'E'
	famFeedPos  = 'e'
)

// Sub-families of an inode.
const (
	subName    = 'B'
	subLink    = 'L'
	subAttr    = 'I'
	subDentry  = 'D'
	subChunk   = 'C'
	subSymlink = 'S'
	subXattr   = 'X'
)

// Names of volume settings and counters under famConfig.
const (
	cfgFormat    = "format"    // Format as JSON
	cfgNextInode = "nextinode" // last allocated inode number
	cfgNextSlice = "nextslice" // last allocated slice id
	cfgNextACL   = "nextacl"   // last allocated ACL id
	cfgNextSess  = "nextsess"  // last allocated session id
	cfgUsedSpace = "usedspace" // bytes of file data, rounded up to 4 KiB per file
	cfgInodes    = "inodes"    // inodes in use
	cfgFeedSeq   = "feedseq"   // last change-feed sequence number
)

func configKey(name string) []byte {
	return append([]byte{famConfig}, name...)
}

func inodePrefix(ino posix.Ino) []byte {
	k := make([]byte, 9, 32)
	k[0] = famInode
	binary.BigEndian.PutUint64(k[1:], uint64(ino))
	return k
}

func attrKey(ino posix.Ino) []byte { return append(inodePrefix(ino), subAttr) }

func nameKey(ino posix.Ino) []byte { return append(inodePrefix(ino), subName) }

func linkKey(ino, parent posix.Ino, name string) []byte {
	k := append(inodePrefix(ino), subLink)
	return append(binary.BigEndian.AppendUint64(k, uint64(parent)), name...)
}

func linkPrefix(ino posix.Ino) []byte { return append(inodePrefix(ino), subLink) }

func dentryKey(parent posix.Ino, name string) []byte {
	return append(append(inodePrefix(parent), subDentry), name...)
}

func dentryPrefix(parent posix.Ino) []byte { return append(inodePrefix(parent), subDentry) }

func chunkKey(ino posix.Ino, index uint32) []byte {
	k := append(inodePrefix(ino), subChunk, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(k[10:], index)
	return k
}

func chunkPrefix(ino posix.Ino) []byte { return append(inodePrefix(ino), subChunk) }

func symlinkKey(ino posix.Ino) []byte { return append(inodePrefix(ino), subSymlink) }

func xattrKey(ino posix.Ino, name string) []byte {
	return append(append(inodePrefix(ino), subXattr), name...)
}

func xattrPrefix(ino posix.Ino) []byte { return append(inodePrefix(ino), subXattr) }

func aclKey(id uint32) []byte {
	k := []byte{famACL, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(k[1:], id)
	return k
}

func aclIndexKey(enc []byte) []byte { return append([]byte{famACLIndex}, enc...) }

func sliceRefKey(id uint64, size uint32) []byte {
	k := make([]byte, 13)
	k[0] = famSliceRef
	binary.BigEndian.PutUint64(k[1:], id)
	binary.BigEndian.PutUint32(k[9:], size)
	return k
}

func delSliceKey(at int64, id uint64, size uint32) []byte {
	k := make([]byte, 21)
	k[0] = famDelSlice
	binary.BigEndian.PutUint64(k[1:], uint64(at))
	binary.BigEndian.PutUint64(k[9:], id)
	binary.BigEndian.PutUint32(k[17:], size)
	return k
}

func inlineKey(id uint64) []byte {
	k := make([]byte, 9)
	k[0] = famInline
	binary.BigEndian.PutUint64(k[1:], id)
	return k
}

func unlinkedKey(ino posix.Ino) []byte {
	k := make([]byte, 9)
	k[0] = famUnlinked
	binary.BigEndian.PutUint64(k[1:], uint64(ino))
	return k
}

func sessionKey(sid uint64) []byte {
	k := make([]byte, 9)
	k[0] = famSession
	binary.BigEndian.PutUint64(k[1:], sid)
	return k
}

func openKey(sid uint64, ino posix.Ino) []byte {
	k := make([]byte, 17)
	k[0] = famOpen
	binary.BigEndian.PutUint64(k[1:], sid)
	binary.BigEndian.PutUint64(k[9:], uint64(ino))
	return k
}

func lockKey(ino posix.Ino, kind byte) []byte {
	k := make([]byte, 10)
	k[0] = famLock
	binary.BigEndian.PutUint64(k[1:], uint64(ino))
	k[9] = kind
	return k
}

func sessLockKey(sid uint64, ino posix.Ino) []byte {
	k := openKey(sid, ino)
	k[0] = famSessLock
	return k
}

func feedKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = famFeed
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func feedPosKey(name string) []byte { return append([]byte{famFeedPos}, name...) }

func u64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func putU64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
