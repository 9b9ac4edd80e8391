package posix

// Ino is an inode number. Numbers are never reused within a volume.
type Ino uint64

// RootIno is the inode of the volume's root directory.
const RootIno Ino = 1

// FileType is the type of an inode, the S_IFMT part of a mode.
type FileType uint8

// File types. The zero value is invalid so that a zeroed Attr is never
// mistaken for a regular file.
const (
	TypeFile FileType = iota + 1
	TypeDir
	TypeSymlink
	TypeFIFO
	TypeBlockDev
	TypeCharDev
	TypeSocket
)

// Permission and special mode bits (the low 12 bits of st_mode).
const (
	ModeSetuid uint32 = 0o4000
	ModeSetgid uint32 = 0o2000
	ModeSticky uint32 = 0o1000
	ModePerm   uint32 = 0o777
	ModeMask   uint32 = 0o7777 // every bit that Attr.Mode may hold
)

// Access rights asked of Access, as in access(2).
const (
	MayExec  uint16 = 1
	MayWrite uint16 = 2
	MayRead  uint16 = 4
)

// Attr holds the attributes of one inode.
type Attr struct {
	Type FileType
	// Mode holds the permission bits and setuid/setgid/sticky (ModeMask);
	// the file type lives in Type.
	Mode  uint32
	UID   uint32
	GID   uint32
	Atime int64 // nanoseconds since the Unix epoch
	Mtime int64
	Ctime int64
	Nlink uint32
	// Length is the file size in bytes; for a symlink the target's length;
	// for a directory a nominal 4096.
	Length uint64
	Rdev   uint32
	// Parent is the parent directory of a directory (for ".." and the rename
	// loop check); for other inodes the parent at creation, or 0 once the
	// inode has several links.
	Parent Ino
	// AccessACL and DefaultACL are ids of ACLs stored once per volume; 0
	// means none (the mode alone decides). DefaultACL is set only on
	// directories.
	AccessACL  uint32
	DefaultACL uint32
	// Flags are inode flags (FlagImmutable, FlagAppend).
	Flags uint8
	// Quota is the directory whose quota charges this inode: the
	// nearest directory with a quota above it (itself for such a
	// directory), 0 for none. New inodes inherit their parent's.
	Quota Ino
}

// Inode flags (chattr +i, +a).
const (
	FlagImmutable uint8 = 1 << iota
	FlagAppend
)

// IsDir reports whether the inode is a directory.
func (a *Attr) IsDir() bool { return a.Type == TypeDir }

// StatMode returns st_mode as stat(2) reports it: type bits | Mode.
func (a *Attr) StatMode() uint32 {
	return typeBits[a.Type] | (a.Mode & ModeMask)
}

var typeBits = [...]uint32{
	TypeFile:     0o100000,
	TypeDir:      0o040000,
	TypeSymlink:  0o120000,
	TypeFIFO:     0o010000,
	TypeBlockDev: 0o060000,
	TypeCharDev:  0o020000,
	TypeSocket:   0o140000,
}

// TypeFromMode returns the FileType of an st_mode's S_IFMT bits, or 0 when
// they name no known type.
func TypeFromMode(mode uint32) FileType {
	for t, b := range typeBits {
		if b != 0 && mode&0o170000 == b {
			return FileType(t)
		}
	}
	return 0
}

// Cred is the identity a request runs as: the caller of a FUSE request, or
// the POSIX identity an S3 principal maps to.
type Cred struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups, GID need not repeat here
	PID    uint32
	Umask  uint32
}

// Root is the credential of uid 0.
var Root = Cred{}

// IsRoot reports whether the caller is uid 0.
func (c Cred) IsRoot() bool { return c.UID == 0 }

// InGroup reports whether gid is the caller's primary or a supplementary group.
func (c Cred) InGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// AllGroups returns the primary group followed by the supplementary groups.
func (c Cred) AllGroups() []uint32 {
	gs := make([]uint32, 0, len(c.Groups)+1)
	gs = append(gs, c.GID)
	return append(gs, c.Groups...)
}
