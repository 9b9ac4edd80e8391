package fusefs

import (
	"errors"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Namespace operations: lookup, attributes, create and remove names.

func (f *rawFS) Lookup(_ <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	if st := nameOK(name); !st.Ok() {
		return st
	}
	e, err := f.v.Lookup(f.ctx, f.cred(h), posix.Ino(h.NodeId), name)
	if errors.Is(err, syscall.ENOENT) && f.negTTL > 0 {
		*out = fuse.EntryOut{}
		setTimeout(&out.EntryValid, &out.EntryValidNsec, f.negTTL)
		return fuse.OK
	}
	if err != nil {
		return f.status("lookup", err)
	}
	f.fillEntry(out, e)
	return fuse.OK
}

func (f *rawFS) Forget(nodeid, nlookup uint64) {}

func (f *rawFS) GetAttr(_ <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	ino := posix.Ino(in.NodeId)
	a, err := f.v.GetAttr(f.ctx, ino)
	if err != nil {
		return f.status("getattr", err)
	}
	f.fillAttrOut(out, ino, &a)
	return fuse.OK
}

func (f *rawFS) SetAttr(_ <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	if st := f.readOnly(); !st.Ok() {
		return st
	}
	var req vfs.SetAttrRequest
	v := in.Valid
	if v&fuse.FATTR_MODE != 0 {
		req.Valid |= vfs.SetMode
		req.Mode = in.Mode & posix.ModeMask
	}
	if v&fuse.FATTR_UID != 0 {
		req.Valid |= vfs.SetUID
		req.UID = in.Uid
	}
	if v&fuse.FATTR_GID != 0 {
		req.Valid |= vfs.SetGID
		req.GID = in.Gid
	}
	if v&fuse.FATTR_SIZE != 0 {
		req.Valid |= vfs.SetSize
		req.Size = in.Size
		// ftruncate: write permission was checked when the handle opened.
		req.ByHandle = v&fuse.FATTR_FH != 0 && f.fileWritable(in.Fh)
	}
	switch {
	case v&fuse.FATTR_ATIME_NOW != 0:
		req.Valid |= vfs.SetAtimeNow
	case v&fuse.FATTR_ATIME != 0:
		req.Valid |= vfs.SetAtime
		req.Atime = joinNs(in.Atime, in.Atimensec)
	}
	switch {
	case v&fuse.FATTR_MTIME_NOW != 0:
		req.Valid |= vfs.SetMtimeNow
	case v&fuse.FATTR_MTIME != 0:
		req.Valid |= vfs.SetMtime
		req.Mtime = joinNs(in.Mtime, in.Mtimensec)
	}
	if v&fuse.FATTR_CTIME != 0 {
		req.Valid |= vfs.SetCtime
		req.Ctime = joinNs(in.Ctime, in.Ctimensec)
	}
	ino := posix.Ino(in.NodeId)
	cred := f.cred(&in.InHeader)
	if f.writeback && v&fuse.FATTR_FH != 0 && f.fileWritable(in.Fh) &&
		v&^(fuse.FATTR_MTIME|fuse.FATTR_CTIME|fuse.FATTR_ATIME|fuse.FATTR_FH|fuse.FATTR_LOCKOWNER) == 0 {
		// The kernel's own times of data it wrote back, through a file
		// open for writing (it checked any futimens(2) of a caller): set
		// as a write sets them, whoever flushes.
		cred = posix.Root
	}
	ctx := f.ctx
	if req.Valid&vfs.SetSize != 0 {
		ctx = f.asCaller(cred.UID) // a change of the data: an event with its maker
	}
	a, err := f.v.SetAttr(ctx, cred, ino, req)
	if err == nil && req.ByHandle {
		f.v.Truncated(vfs.Handle(in.Fh))
	}
	if err != nil {
		return f.status("setattr", err)
	}
	if req.Valid&(vfs.SetUID|vfs.SetGID) != 0 {
		f.killCaps(ino)
	}
	f.fillAttrOut(out, ino, &a)
	return fuse.OK
}

// creds for creating: the caller's, with the umask the kernel passed (the
// kernel does not apply it: CAP_DONT_MASK, so a default ACL can replace it).
func (f *rawFS) createCred(h *fuse.InHeader, umask uint32) posix.Cred {
	c := f.cred(h)
	c.Umask = umask & posix.ModePerm
	return c
}

func (f *rawFS) Mknod(_ <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	if st := f.canChange(name); !st.Ok() {
		return st
	}
	typ := posix.TypeFromMode(in.Mode)
	if typ == 0 {
		return fuse.EINVAL
	}
	e, err := f.v.Mknod(f.ctx, f.createCred(&in.InHeader, in.Umask), posix.Ino(in.NodeId), name, typ, in.Mode&posix.ModeMask, in.Rdev)
	if err != nil {
		return f.status("mknod", err)
	}
	f.fillEntry(out, e)
	return fuse.OK
}

func (f *rawFS) Mkdir(_ <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	if st := f.canChange(name); !st.Ok() {
		return st
	}
	e, err := f.v.Mkdir(f.ctx, f.createCred(&in.InHeader, in.Umask), posix.Ino(in.NodeId), name, in.Mode&posix.ModeMask)
	if err != nil {
		return f.status("mkdir", err)
	}
	f.fillEntry(out, e)
	return fuse.OK
}

func (f *rawFS) Unlink(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if st := f.canChange(name); !st.Ok() {
		return st
	}
	c := f.cred(h)
	return f.status("unlink", f.v.Unlink(f.asCaller(c.UID), c, posix.Ino(h.NodeId), name))
}

func (f *rawFS) Rmdir(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if st := f.canChange(name); !st.Ok() {
		return st
	}
	return f.status("rmdir", f.v.Rmdir(f.ctx, f.cred(h), posix.Ino(h.NodeId), name))
}

// renameat2 flags, as linux/fs.h.
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
)

func (f *rawFS) Rename(_ <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	if st := f.canChange(oldName); !st.Ok() {
		return st
	}
	if st := nameOK(newName); !st.Ok() {
		return st
	}
	var flags uint32
	switch in.Flags {
	case 0:
	case renameNoReplace:
		flags = vfs.RenameNoReplace
	case renameExchange:
		flags = vfs.RenameExchange
	default: // RENAME_WHITEOUT, or both at once
		return fuse.EINVAL
	}
	c := f.cred(&in.InHeader)
	err := f.v.Rename(f.asCaller(c.UID), c, posix.Ino(in.NodeId), oldName, posix.Ino(in.Newdir), newName, flags)
	return f.status("rename", err)
}

func (f *rawFS) Link(_ <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	if st := f.canChange(name); !st.Ok() {
		return st
	}
	c := f.cred(&in.InHeader)
	if err := f.mayLink(c, posix.Ino(in.Oldnodeid)); err != nil {
		return f.status("link", err)
	}
	e, err := f.v.Link(f.asCaller(c.UID), c, posix.Ino(in.Oldnodeid), posix.Ino(in.NodeId), name)
	if err != nil {
		return f.status("link", err)
	}
	f.fillEntry(out, e)
	return fuse.OK
}

func (f *rawFS) Symlink(_ <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	if st := f.canChange(name); !st.Ok() {
		return st
	}
	e, err := f.v.Symlink(f.ctx, f.cred(h), posix.Ino(h.NodeId), name, target)
	if err != nil {
		return f.status("symlink", err)
	}
	f.fillEntry(out, e)
	return fuse.OK
}

func (f *rawFS) Readlink(_ <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	t, err := f.v.Readlink(f.ctx, posix.Ino(h.NodeId))
	if err != nil {
		return nil, f.status("readlink", err)
	}
	return []byte(t), fuse.OK
}

// Access is called only with userspace checks (the kernel answers
// access(2) itself under default_permissions).
func (f *rawFS) Access(_ <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	ino := posix.Ino(in.NodeId)
	want := uint16(in.Mask & 7)
	if want&posix.MayWrite != 0 && f.opts.ReadOnly {
		return fuse.EROFS
	}
	if want == 0 {
		_, err := f.v.GetAttr(f.ctx, ino)
		return f.status("access", err)
	}
	return f.status("access", f.v.Access(f.ctx, f.cred(&in.InHeader), ino, want))
}

func (f *rawFS) StatFs(_ <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	st, err := f.v.StatFS(f.ctx)
	if err != nil {
		return f.status("statfs", err)
	}
	const bs = 4096
	*out = fuse.StatfsOut{
		Blocks: st.Capacity / bs, Bsize: bs, Frsize: bs, NameLen: vfs.MaxNameLen,
		Files: st.Inodes,
	}
	if st.Capacity > st.Used {
		out.Bfree = (st.Capacity - st.Used) / bs
		out.Bavail = out.Bfree
	}
	if st.Inodes > st.UsedInodes {
		out.Ffree = st.Inodes - st.UsedInodes
	}
	return fuse.OK
}

// mayLink applies fs.protected_hardlinks when cairn checks permissions:
// the kernel applies it itself only with its own checks on (without them
// it takes every file for readable and writable). A caller who neither
// owns the file nor is root may link only a regular file that is not
// setuid, not setgid and group-executable, and that it may read and write.
func (f *rawFS) mayLink(c posix.Cred, ino posix.Ino) error {
	if !f.protectedHardlinks || c.IsRoot() {
		return nil
	}
	a, err := f.v.GetAttr(f.ctx, ino)
	if err != nil {
		return err
	}
	if a.UID == c.UID {
		return nil
	}
	if a.Type != posix.TypeFile || a.Mode&posix.ModeSetuid != 0 ||
		(a.Mode&posix.ModeSetgid != 0 && a.Mode&0o010 != 0) {
		return syscall.EPERM
	}
	if err := f.v.Access(f.ctx, c, ino, posix.MayRead|posix.MayWrite); err != nil {
		return syscall.EPERM
	}
	return nil
}
