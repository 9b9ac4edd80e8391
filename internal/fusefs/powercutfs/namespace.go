//go:build linux

package powercutfs

import (
	"context"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Namespace operations run under nsMu from the change in lower to the
// change in the parent's current entries, so that an fsyncdir sees either
// both or neither. Each new inode gets a new record (a fresh id) and
// records its attributes at creation as durable: they become visible after
// a cut only if an fsync of the parent makes the entry durable, and then
// with the attributes it was created with.

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	f := n.fsys
	if !f.enter() {
		return nil, nil, 0, syscall.EIO
	}
	defer f.exit()
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	p := n.childPath(name)
	fd, readable, err := openLower(p, flags, syscall.O_CREAT|syscall.O_EXCL, mode, true)
	if err == syscall.EEXIST && flags&syscall.O_EXCL == 0 {
		return n.createExisting(ctx, name, p, flags, out)
	}
	if err != nil {
		return nil, nil, 0, errnoOf(err)
	}
	f.preserveOwner(ctx, p)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, nil, 0, errnoOf(err)
	}
	rec := f.newRecord(&st)
	rec.data.fresh = true
	n.rec.dir.set(name, rec.id)
	h := f.addHandle(rec, fd, readable, flags)
	return n.newChild(ctx, rec, &st, out), h, 0, 0
}

// createExisting serves a CREATE without O_EXCL that found the name taken
// (a race with another creator): it opens the existing file. Caller holds
// nsMu.
func (n *node) createExisting(ctx context.Context, name, p string, flags uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	f := n.fsys
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return nil, nil, 0, errnoOf(err)
	}
	rec := f.recordAt(n.rec, name, p, &st)
	h, err := f.openHandle(rec, p, flags, 0)
	if err != nil {
		return nil, nil, 0, errnoOf(err)
	}
	return n.newChild(ctx, rec, &st, out), h, 0, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.make(ctx, name, "", out, func(p string) error { return syscall.Mkdir(p, mode) })
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.make(ctx, name, "", out, func(p string) error { return unix.Mknod(p, mode, int(rdev)) })
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.make(ctx, name, target, out, func(p string) error { return syscall.Symlink(target, p) })
}

// make creates name with mk and gives it a new record; target is the
// symlink target, if any.
func (n *node) make(ctx context.Context, name, target string, out *fuse.EntryOut, mk func(p string) error) (*fs.Inode, syscall.Errno) {
	f := n.fsys
	if !f.enter() {
		return nil, syscall.EIO
	}
	defer f.exit()
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	p := n.childPath(name)
	if err := mk(p); err != nil {
		return nil, errnoOf(err)
	}
	f.preserveOwner(ctx, p)
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return nil, errnoOf(err)
	}
	rec := f.newRecord(&st)
	rec.target = target
	rec.data.fresh = true // a regular file from mknod starts empty
	n.rec.dir.set(name, rec.id)
	return n.newChild(ctx, rec, &st, out), 0
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	f := n.fsys
	if !f.enter() {
		return nil, syscall.EIO
	}
	defer f.exit()
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	p := n.childPath(name)
	if err := syscall.Link(t.path(), p); err != nil {
		return nil, errnoOf(err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return nil, errnoOf(err)
	}
	n.rec.dir.set(name, t.rec.id)
	return n.newChild(ctx, t.rec, &st, out), 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	f := n.fsys
	if !f.enter() {
		return syscall.EIO
	}
	defer f.exit()
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	p := n.childPath(name)
	if err := f.beforeRemove(n.rec, name, p); err != nil {
		return errnoOf(err)
	}
	if err := syscall.Unlink(p); err != nil {
		return errnoOf(err)
	}
	n.rec.dir.set(name, 0)
	return 0
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	f := n.fsys
	if !f.enter() {
		return syscall.EIO
	}
	defer f.exit()
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	if err := syscall.Rmdir(n.childPath(name)); err != nil {
		return errnoOf(err)
	}
	n.rec.dir.set(name, 0)
	return 0
}

// Rename handles plain renames and the flags go-fuse passes through
// (RENAME_NOREPLACE, RENAME_EXCHANGE).
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	f := n.fsys
	if !f.enter() {
		return syscall.EIO
	}
	defer f.exit()
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	p1, p2 := n.childPath(name), np.childPath(newName)
	src, dst := n.rec.dir, np.rec.dir
	srcID, dstID := src.cur[name], dst.cur[newName]
	exchange := flags&unix.RENAME_EXCHANGE != 0
	if !exchange && dstID != srcID {
		if err := f.beforeRemove(np.rec, newName, p2); err != nil {
			return errnoOf(err)
		}
	}
	if err := unix.Renameat2(unix.AT_FDCWD, p1, unix.AT_FDCWD, p2, uint(flags)); err != nil {
		return errnoOf(err)
	}
	switch {
	case exchange:
		src.set(name, dstID)
		dst.set(newName, srcID)
	case srcID == dstID:
		// Two names of one inode: rename does nothing.
	default:
		src.set(name, 0)
		dst.set(newName, srcID)
	}
	return 0
}

// beforeRemove saves the contents of the file at dir's entry name (path p)
// if it is about to lose its last name while its contents from before the
// mount are still the durable ones: after the name is gone, nothing in
// lower would hold them once the file is closed. Caller holds nsMu.
func (f *engine) beforeRemove(dir *record, name, p string) error {
	id, ok := dir.dir.cur[name]
	if !ok {
		return nil
	}
	r := f.recs[id]
	if r.kind != kindFile {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.data.needsCopy() || r.data.kept {
		return nil
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil || st.Nlink > 1 {
		return nil // the removal fails, or other names keep the inode
	}
	if f.sameFS {
		err := syscall.Link(p, f.keepPath(r))
		if err == nil {
			r.data.kept = true
			return nil
		}
		f.log.Debug("powercutfs: keep link failed; copying", "ino", r.id, "err", err)
	}
	if err := f.saveLocked(r, source{path: p}); err != nil {
		f.log.Error("powercutfs: saving contents before removal", "op", "unlink", "ino", r.id, "err", err)
		return syscall.EIO
	}
	return nil
}

// preserveOwner gives a new inode the caller's owner, as the kernel does
// on a local file system (only possible when running as root).
func (f *engine) preserveOwner(ctx context.Context, p string) {
	if os.Getuid() != 0 {
		return
	}
	if c, ok := fuse.FromContext(ctx); ok {
		syscall.Lchown(p, int(c.Uid), int(c.Gid))
	}
}
