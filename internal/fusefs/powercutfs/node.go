//go:build linux

package powercutfs

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is the go-fuse inode of one record. go-fuse keys inodes by
// StableAttr.Ino, which is the record id, so hard links share one node.
// Operations reach lower by path: the node's current path in go-fuse's
// tree, which mirrors lower.
type node struct {
	fs.Inode
	fsys *engine
	rec  *record
}

var (
	_ fs.NodeLookuper      = (*node)(nil)
	_ fs.NodeGetattrer     = (*node)(nil)
	_ fs.NodeSetattrer     = (*node)(nil)
	_ fs.NodeOpener        = (*node)(nil)
	_ fs.NodeCreater       = (*node)(nil)
	_ fs.NodeMkdirer       = (*node)(nil)
	_ fs.NodeMknoder       = (*node)(nil)
	_ fs.NodeSymlinker     = (*node)(nil)
	_ fs.NodeLinker        = (*node)(nil)
	_ fs.NodeReadlinker    = (*node)(nil)
	_ fs.NodeUnlinker      = (*node)(nil)
	_ fs.NodeRmdirer       = (*node)(nil)
	_ fs.NodeRenamer       = (*node)(nil)
	_ fs.NodeReaddirer     = (*node)(nil)
	_ fs.NodeFsyncer       = (*node)(nil)
	_ fs.NodeStatfser      = (*node)(nil)
	_ fs.NodeGetxattrer    = (*node)(nil)
	_ fs.NodeSetxattrer    = (*node)(nil)
	_ fs.NodeListxattrer   = (*node)(nil)
	_ fs.NodeRemovexattrer = (*node)(nil)
)

// path is the node's path in lower. An orphaned node (no name left) gets a
// path that does not exist, so path-based operations on it fail.
func (n *node) path() string {
	return filepath.Join(n.fsys.lower, n.Path(n.fsys.rootOps.EmbeddedInode()))
}

func (n *node) childPath(name string) string { return filepath.Join(n.path(), name) }

// newChild returns the go-fuse inode for rec, found at a name of n.
func (n *node) newChild(ctx context.Context, rec *record, st *syscall.Stat_t, out *fuse.EntryOut) *fs.Inode {
	out.Attr.FromStat(st)
	out.Attr.Ino = rec.id
	child := &node{fsys: n.fsys, rec: rec}
	return n.NewInode(ctx, child, fs.StableAttr{Mode: st.Mode & syscall.S_IFMT, Ino: rec.id, Gen: 1})
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f := n.fsys
	if !f.enter() {
		return nil, syscall.EIO
	}
	defer f.exit()
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	p := n.childPath(name)
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return nil, errnoOf(err)
	}
	rec := f.recordAt(n.rec, name, p, &st)
	return n.newChild(ctx, rec, &st, out), 0
}

// recordAt returns the record of dir's entry name, found in lower at p
// with attributes st. A name that did not come through the mount (lower
// changed behind it) is adopted as a new, not yet durable entry. Caller
// holds nsMu.
func (f *engine) recordAt(dir *record, name, p string, st *syscall.Stat_t) *record {
	if id, ok := dir.dir.cur[name]; ok {
		if r := f.recs[id]; r.kind == kindOf(st.Mode) {
			return r
		}
	}
	f.log.Warn("powercutfs: entry in lower not made through the mount", "parent", dir.id, "name", name)
	r := f.newRecord(st)
	if r.kind == kindSymlink {
		r.target, _ = os.Readlink(p)
	}
	dir.dir.set(name, r.id)
	return r
}

func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f := n.fsys
	if !f.enter() {
		return syscall.EIO
	}
	defer f.exit()
	var st syscall.Stat_t
	var err error
	if h, ok := fh.(*handle); ok {
		err = syscall.Fstat(h.fd, &st)
	} else {
		err = syscall.Lstat(n.path(), &st)
	}
	if err != nil {
		return errnoOf(err)
	}
	out.FromStat(&st)
	out.Ino = n.rec.id
	return 0
}

func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f := n.fsys
	if !f.enter() {
		return syscall.EIO
	}
	defer f.exit()
	h, _ := fh.(*handle)
	p := n.path()
	if errno := n.setattr(h, p, in); errno != 0 {
		return errno
	}
	var st syscall.Stat_t
	var err error
	if h != nil {
		err = syscall.Fstat(h.fd, &st)
	} else {
		err = syscall.Lstat(p, &st)
	}
	if err != nil {
		return errnoOf(err)
	}
	out.FromStat(&st)
	out.Ino = n.rec.id
	return 0
}

// setattr applies in to the node, through h when the kernel gave one.
// Owner before mode (chown clears set-id bits), size before times (so an
// explicit mtime is not overwritten by the truncate).
func (n *node) setattr(h *handle, p string, in *fuse.SetAttrIn) syscall.Errno {
	target := p
	if h != nil {
		target = procFd(h.fd)
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		su, sg := -1, -1
		if uok {
			su = int(uid)
		}
		if gok {
			sg = int(gid)
		}
		if err := unix.Fchownat(unix.AT_FDCWD, target, su, sg, nofollow(h)); err != nil {
			return errnoOf(err)
		}
	}
	if m, ok := in.GetMode(); ok {
		if err := unix.Fchmodat(unix.AT_FDCWD, target, m, 0); err != nil {
			return errnoOf(err)
		}
	}
	if sz, ok := in.GetSize(); ok {
		if err := n.fsys.truncate(n.rec, source{h: h, path: p}, int64(sz)); err != nil {
			return errnoOf(err)
		}
	}
	mtime, mok := in.GetMTime()
	atime, aok := in.GetATime()
	if mok || aok {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if aok {
			ts[0] = unix.NsecToTimespec(atime.UnixNano())
		}
		if mok {
			ts[1] = unix.NsecToTimespec(mtime.UnixNano())
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, nofollow(h)); err != nil {
			return errnoOf(err)
		}
	}
	return 0
}

// nofollow is the *at flag for a target: a path in lower must not be
// followed if it is a symlink, a /proc/self/fd link must.
func nofollow(h *handle) int {
	if h != nil {
		return 0
	}
	return unix.AT_SYMLINK_NOFOLLOW
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	f := n.fsys
	if !f.enter() {
		return nil, 0, syscall.EIO
	}
	defer f.exit()
	h, err := f.openHandle(n.rec, n.path(), flags, 0)
	if err != nil {
		return nil, 0, errnoOf(err)
	}
	return h, 0, 0
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	f := n.fsys
	if !f.enter() {
		return nil, syscall.EIO
	}
	defer f.exit()
	t, err := os.Readlink(n.path())
	if err != nil {
		return nil, errnoOf(err)
	}
	return []byte(t), 0
}

func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	f := n.fsys
	if !f.enter() {
		return nil, syscall.EIO
	}
	defer f.exit()
	ents, err := os.ReadDir(n.path())
	if err != nil {
		return nil, errnoOf(err)
	}
	list := make([]fuse.DirEntry, 0, len(ents))
	f.nsMu.Lock()
	for _, e := range ents {
		ino := n.rec.dir.cur[e.Name()]
		if ino == 0 {
			ino = 1<<63 | uint64(len(list)) // not made through the mount; Lookup adopts it
		}
		list = append(list, fuse.DirEntry{Name: e.Name(), Ino: ino, Mode: typeBits(e.Type())})
	}
	f.nsMu.Unlock()
	return fs.NewListDirStream(list), 0
}

// typeBits converts the type bits of an os.FileMode to S_IFMT bits.
func typeBits(m os.FileMode) uint32 {
	switch {
	case m&os.ModeDir != 0:
		return syscall.S_IFDIR
	case m&os.ModeSymlink != 0:
		return syscall.S_IFLNK
	case m&os.ModeNamedPipe != 0:
		return syscall.S_IFIFO
	case m&os.ModeSocket != 0:
		return syscall.S_IFSOCK
	case m&os.ModeCharDevice != 0:
		return syscall.S_IFCHR
	case m&os.ModeDevice != 0:
		return syscall.S_IFBLK
	}
	return syscall.S_IFREG
}

// Fsync makes a file's contents and attributes durable (fsync and
// fdatasync alike), or a directory's entries (fsyncdir).
func (n *node) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	f := n.fsys
	if !f.enter() {
		return syscall.EIO
	}
	defer f.exit()
	switch n.rec.kind {
	case kindDir:
		return errnoOf(f.syncDir(n.rec, n.path()))
	case kindFile:
		h, _ := fh.(*handle)
		return errnoOf(f.syncFile(n.rec, source{h: h, path: n.path()}))
	}
	return 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	f := n.fsys
	if !f.enter() {
		return syscall.EIO
	}
	defer f.exit()
	var st syscall.Statfs_t
	if err := syscall.Statfs(f.lower, &st); err != nil {
		return errnoOf(err)
	}
	out.FromStatfsT(&st)
	return 0
}

// Extended attributes pass through to lower; they are not modelled (see
// the package documentation).

func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if !n.fsys.enter() {
		return 0, syscall.EIO
	}
	defer n.fsys.exit()
	sz, err := unix.Lgetxattr(n.path(), attr, dest)
	return uint32(sz), errnoOf(err)
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if !n.fsys.enter() {
		return syscall.EIO
	}
	defer n.fsys.exit()
	return errnoOf(unix.Lsetxattr(n.path(), attr, data, int(flags)))
}

func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if !n.fsys.enter() {
		return 0, syscall.EIO
	}
	defer n.fsys.exit()
	sz, err := unix.Llistxattr(n.path(), dest)
	return uint32(sz), errnoOf(err)
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if !n.fsys.enter() {
		return syscall.EIO
	}
	defer n.fsys.exit()
	return errnoOf(unix.Lremovexattr(n.path(), attr))
}
