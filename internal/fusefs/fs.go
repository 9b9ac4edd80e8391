package fusefs

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// rawFS is the fuse.RawFileSystem over one vfs.FS.
type rawFS struct {
	fuse.RawFileSystem // ENOSYS for what is not implemented

	v      *vfs.FS
	opts   Options
	log    *slog.Logger
	groups *groupCache

	// ctx is every request's context: the change feed records the
	// mount's changes as made by this mount's session (asCaller: and by
	// the caller's uid, for the changes that make bucket events).
	ctx  context.Context
	sess uint64
	// srv is the FUSE server, for notifications to the kernel.
	srv *fuse.Server

	attrTTL, entryTTL, negTTL time.Duration
	keep                      *keepCache
	// followEvery is how often other clients' changes are read (0: not
	// followed).
	followEvery time.Duration
	// protectedHardlinks is the host's fs.protected_hardlinks, which cairn
	// applies when it checks permissions itself.
	protectedHardlinks bool

	// writeback: the kernel's writeback cache is on.
	writeback bool
	// active counts the requests being served (counted).
	active atomic.Int64

	mu     sync.Mutex
	dirs   map[uint64]*dirHandle
	nextDh uint64
	files  map[uint64]*fileHandle
	locked map[posix.Ino]int // inodes with locks taken through this mount
}

func newRawFS(v *vfs.FS, opts Options) *rawFS {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &rawFS{
		RawFileSystem: fuse.NewDefaultRawFileSystem(),
		v:             v, opts: opts, log: log, groups: newGroupCache(),
		keep:      newKeepCache(),
		ctx:       vfs.WithPaths(vfs.WithOrigin(context.Background(), vfs.Origin{Agent: "fuse", Session: v.Meta().SessionID()})),
		sess:      v.Meta().SessionID(),
		writeback: opts.WritebackCache && opts.kernelChecks(),
		attrTTL:   timeoutOr(opts.AttrTimeout), entryTTL: timeoutOr(opts.EntryTimeout),
		negTTL:      max(opts.NegativeTimeout, 0),
		followEvery: max(opts.FollowInterval, 0),
		dirs:        map[uint64]*dirHandle{}, files: map[uint64]*fileHandle{}, locked: map[posix.Ino]int{},
	}
	if opts.FollowInterval == 0 {
		f.followEvery = defaultFollowInterval
	}
	if !opts.kernelChecks() {
		// The kernel walks cached names without asking the file system
		// (and, with no default_permissions, without checking search
		// permission): a name it caches would let any caller reach it.
		// Uncached, every lookup is a request cairn checks.
		f.entryTTL, f.negTTL = 0, 0
		b, err := os.ReadFile("/proc/sys/fs/protected_hardlinks")
		f.protectedHardlinks = err != nil || strings.TrimSpace(string(b)) != "0"
	}
	return f
}

func (f *rawFS) String() string { return "cairn" }

// Init keeps the server, to notify the kernel.
func (f *rawFS) Init(s *fuse.Server) { f.srv = s }

// cred maps a request's caller to the identity vfs checks: supplementary
// groups from /proc, then the squash.
func (f *rawFS) cred(h *fuse.InHeader) posix.Cred {
	c := posix.Cred{UID: h.Uid, GID: h.Gid, PID: h.Pid}
	c.Groups = f.groups.groups(h.Pid, h.Uid, h.Gid)
	return f.opts.Squash.Apply(c)
}

// status converts an error of vfs to a FUSE status: the errno it wraps,
// EINTR for an interrupted wait, and EIO (logged) for anything else.
func (f *rawFS) status(op string, err error) fuse.Status {
	if err == nil {
		return fuse.OK
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if e == syscall.EIO {
			// Always a failure below (the engine, the store, corrupt
			// data): the caller sees only EIO, the log says why.
			f.log.Error("fuse request failed", "op", op, "err", err)
		}
		return fuse.Status(e)
	}
	if errors.Is(err, context.Canceled) {
		return fuse.EINTR
	}
	f.log.Error("fuse request failed", "op", op, "err", err)
	return fuse.EIO
}

// readOnly is EROFS on a read-only mount.
func (f *rawFS) readOnly() fuse.Status {
	if f.opts.ReadOnly {
		return fuse.EROFS
	}
	return fuse.OK
}

// nameOK rejects names longer than the volume allows, with ENAMETOOLONG.
func nameOK(name string) fuse.Status {
	if len(name) > vfs.MaxNameLen {
		return fuse.Status(syscall.ENAMETOOLONG)
	}
	return fuse.OK
}

// canChange is the first check of a request that changes name: EROFS on
// a read-only mount, then ENAMETOOLONG.
func (f *rawFS) canChange(name string) fuse.Status {
	if st := f.readOnly(); !st.Ok() {
		return st
	}
	return nameOK(name)
}

func splitNs(ns int64) (uint64, uint32) {
	if ns < 0 {
		s := (ns - 999_999_999) / 1e9
		return uint64(s), uint32(ns - s*1e9)
	}
	return uint64(ns / 1e9), uint32(ns % 1e9)
}

func joinNs(sec uint64, nsec uint32) int64 { return int64(sec)*1e9 + int64(nsec) }

// fillAttr copies a's attributes to out in FUSE's form.
func fillAttr(out *fuse.Attr, ino posix.Ino, a *posix.Attr) {
	out.Ino = uint64(ino)
	out.Size = a.Length
	out.Blocks = (a.Length + 511) / 512
	out.Atime, out.Atimensec = splitNs(a.Atime)
	out.Mtime, out.Mtimensec = splitNs(a.Mtime)
	out.Ctime, out.Ctimensec = splitNs(a.Ctime)
	out.Mode = a.StatMode()
	out.Nlink = a.Nlink
	out.Uid, out.Gid = a.UID, a.GID
	out.Rdev = a.Rdev
	out.Blksize = 1 << 16
	if a.Type == posix.TypeDir && out.Nlink == 0 {
		out.Nlink = 2
	}
}

func setTimeout(sec *uint64, nsec *uint32, d time.Duration) {
	*sec, *nsec = uint64(d/time.Second), uint32(d%time.Second)
}

func (f *rawFS) fillEntry(out *fuse.EntryOut, e vfs.Entry) {
	out.NodeId = uint64(e.Ino)
	out.Generation = 0
	setTimeout(&out.EntryValid, &out.EntryValidNsec, f.entryTTL)
	setTimeout(&out.AttrValid, &out.AttrValidNsec, f.attrTTL)
	fillAttr(&out.Attr, e.Ino, &e.Attr)
}

func (f *rawFS) fillAttrOut(out *fuse.AttrOut, ino posix.Ino, a *posix.Attr) {
	out.SetTimeout(f.attrTTL)
	fillAttr(&out.Attr, ino, a)
}

// lockEnd converts FUSE's "to the end of the file" (OFFSET_MAX) to vfs's.
func lockEnd(end uint64) uint64 {
	if end >= math.MaxInt64 {
		return math.MaxUint64
	}
	return end
}

func fuseLockEnd(end uint64) uint64 {
	if end == math.MaxUint64 {
		return math.MaxInt64
	}
	return end
}

// asCaller is the context of a change that uid makes on the mount (an
// unlink, a rename, writes to a file it opened): the change feed records
// uid as its principal ("uid:N", as bucket events show it).
func (f *rawFS) asCaller(uid uint32) context.Context {
	o := vfs.Origin{Agent: "fuse", Session: f.sess, Principal: "uid:" + strconv.FormatUint(uint64(uid), 10)}
	return vfs.WithPaths(vfs.WithOrigin(context.Background(), o))
}
