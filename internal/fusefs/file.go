package fusefs

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// File operations: open handles, reads, writes, locks.

// fileHandle is an open file of the mount. Its FUSE handle is the vfs
// handle's number.
type fileHandle struct {
	ino      posix.Ino
	flags    uint32
	uid      uint32          // its opener
	ctx      context.Context // as its opener: the change feed names who wrote
	capsGone atomic.Bool     // security.capability removed since the first write
	// privs: setuid/setgid bits that the first write removes (vfs clears
	// them); the kernel's cached mode is then dropped.
	privs atomic.Bool
}

func (h *fileHandle) writable() bool { return h.flags&syscall.O_ACCMODE != syscall.O_RDONLY }

func (f *rawFS) file(fh uint64) *fileHandle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files[fh]
}

func (f *rawFS) fileWritable(fh uint64) bool {
	h := f.file(fh)
	return h != nil && h.writable()
}

func (f *rawFS) addFile(fh vfs.Handle, ino posix.Ino, flags uint32, c posix.Cred, a *posix.Attr) {
	h := &fileHandle{ino: ino, flags: flags, uid: c.UID, ctx: f.ctx}
	if h.writable() {
		h.ctx = f.asCaller(c.UID)
	}
	if _, kill := posix.KillSuidOnWrite(c, a); kill && h.writable() {
		h.privs.Store(true)
	}
	f.mu.Lock()
	f.files[uint64(fh)] = h
	f.mu.Unlock()
}

// handleFlags are the flags of the vfs handle of a file opened with
// flags: with the writeback cache, a write-only file is readable (the
// kernel reads a page it writes in part) and O_APPEND is the kernel's to
// place.
func (f *rawFS) handleFlags(flags uint32) int {
	fl := int(flags)
	if !f.writeback {
		return fl
	}
	if fl&syscall.O_ACCMODE == syscall.O_WRONLY {
		fl = fl&^syscall.O_ACCMODE | syscall.O_RDWR
	}
	return fl &^ syscall.O_APPEND
}

// openFlags are the FOPEN_* flags of a handle opened with flags.
func openFlags(flags uint32) uint32 {
	if flags&syscall.O_DIRECT != 0 {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

func (f *rawFS) Open(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if in.Flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if st := f.readOnly(); !st.Ok() {
			return st
		}
	}
	ino := posix.Ino(in.NodeId)
	c := f.cred(&in.InHeader)
	fh, a, err := f.v.OpenAs(f.ctx, c, ino, int(in.Flags), f.handleFlags(in.Flags))
	if err != nil {
		return f.status("open", err)
	}
	if f.attrTTL > 0 && f.srv != nil {
		// Close-to-open: another mount or an S3 request may have changed
		// the file since the kernel cached its attributes; drop them.
		f.srv.InodeNotify(in.NodeId, -1, 0)
	}
	f.addFile(fh, ino, in.Flags, c, &a)
	out.Fh = uint64(fh)
	out.OpenFlags = openFlags(in.Flags)
	// The kernel drops the file's cached pages at open unless told to keep
	// them: keep them when the file is as it was at the previous open.
	if in.Flags&syscall.O_DIRECT == 0 && f.keep.open(ino, &a) {
		out.OpenFlags |= fuse.FOPEN_KEEP_CACHE
	}
	return fuse.OK
}

func (f *rawFS) Create(_ <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	if st := f.canChange(name); !st.Ok() {
		return st
	}
	c := f.createCred(&in.InHeader, in.Umask)
	fh, e, err := f.v.CreateAs(f.ctx, c, posix.Ino(in.NodeId), name, in.Mode&posix.ModeMask, int(in.Flags), f.handleFlags(in.Flags))
	if err != nil {
		return f.status("create", err)
	}
	f.addFile(fh, e.Ino, in.Flags, c, &e.Attr)
	f.fillEntry(&out.EntryOut, e)
	out.Fh = uint64(fh)
	out.OpenFlags = openFlags(in.Flags)
	return fuse.OK
}

func (f *rawFS) Read(_ <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	if int(in.Size) < len(buf) {
		buf = buf[:in.Size]
	}
	n, err := f.v.Read(f.ctx, vfs.Handle(in.Fh), buf, int64(in.Offset))
	if err != nil {
		return nil, f.status("read", err)
	}
	return fuse.ReadResultData(buf[:n]), fuse.OK
}

func (f *rawFS) Write(_ <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	if st := f.readOnly(); !st.Ok() {
		return 0, st
	}
	if f.opts.EnableCap {
		if h := f.file(in.Fh); h != nil && !h.capsGone.Swap(true) {
			f.killCaps(h.ino)
		}
	}
	n, err := f.v.Write(f.ctx, vfs.Handle(in.Fh), data, int64(in.Offset))
	if err != nil {
		return uint32(n), f.status("write", err)
	}
	if h := f.file(in.Fh); h != nil && h.privs.Swap(false) && f.srv != nil {
		f.srv.InodeNotify(in.NodeId, -1, 0)
	}
	return uint32(n), fuse.OK
}

// killCaps removes a file's capabilities, as Linux does on write and
// chown (security.capability; only with Options.EnableCap, since
// otherwise none can be set).
func (f *rawFS) killCaps(ino posix.Ino) {
	if !f.opts.EnableCap {
		return
	}
	err := f.v.RemoveXattr(f.ctx, posix.Root, ino, xattrCapability)
	if err != nil && !errors.Is(err, syscall.ENODATA) {
		f.log.Warn("clearing file capabilities", "ino", ino, "err", err)
	}
}

func (f *rawFS) Flush(_ <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	ctx, h := f.ctx, f.file(in.Fh)
	if h != nil {
		ctx = h.ctx
	}
	err := f.v.Flush(ctx, vfs.Handle(in.Fh))
	if h != nil && f.hadLocks(h.ino) {
		// close(2) drops the POSIX locks the process holds on the file.
		if lerr := f.v.ReleaseLocks(f.ctx, h.ino, in.LockOwner); lerr != nil && err == nil {
			err = lerr
		}
	}
	return f.status("flush", err)
}

func (f *rawFS) Fsync(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return f.status("fsync", f.v.Fsync(f.ctx, vfs.Handle(in.Fh)))
}

func (f *rawFS) Release(_ <-chan struct{}, in *fuse.ReleaseIn) {
	f.mu.Lock()
	h := f.files[in.Fh]
	delete(f.files, in.Fh)
	f.mu.Unlock()
	if h != nil && in.ReleaseFlags&fuse.FUSE_RELEASE_FLOCK_UNLOCK != 0 && f.hadLocks(h.ino) {
		if err := f.v.ReleaseLocks(f.ctx, h.ino, in.LockOwner); err != nil {
			f.log.Error("releasing flocks", "ino", h.ino, "err", err)
		}
	}
	ctx := f.ctx
	if h != nil {
		ctx = h.ctx
	}
	if err := f.v.Release(ctx, vfs.Handle(in.Fh)); err != nil {
		f.log.Error("release failed", "fh", in.Fh, "err", err)
	}
	if h != nil {
		f.forgetLocks(h.ino)
	}
}

func (f *rawFS) Fallocate(_ <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	if st := f.readOnly(); !st.Ok() {
		return st
	}
	err := f.v.Fallocate(f.ctx, f.cred(&in.InHeader), vfs.Handle(in.Fh), in.Mode, int64(in.Offset), int64(in.Length))
	return f.status("fallocate", err)
}

func (f *rawFS) CopyFileRange(_ <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	if st := f.readOnly(); !st.Ok() {
		return 0, st
	}
	if in.Flags != 0 {
		return 0, fuse.EINVAL
	}
	n := min(in.Len, 1<<30) // the reply holds a uint32
	done, err := f.v.CopyFileRange(f.ctx, f.cred(&in.InHeader), vfs.Handle(in.FhIn), int64(in.OffIn), vfs.Handle(in.FhOut), int64(in.OffOut), n)
	if err != nil {
		return 0, f.status("copy_file_range", err)
	}
	return uint32(done), fuse.OK
}

// Locks. The kernel forwards flock(2) and fcntl(2) locks (EnableLocks);
// vfs keeps them in the metadata engine, so they hold between processes
// and between mounts of the same volume.

func lockType(t uint32) (vfs.LockType, bool) {
	switch t {
	case syscall.F_RDLCK:
		return vfs.LockRead, true
	case syscall.F_WRLCK:
		return vfs.LockWrite, true
	case syscall.F_UNLCK:
		return vfs.LockUnlock, true
	}
	return 0, false
}

func fuseLockType(t vfs.LockType) uint32 {
	switch t {
	case vfs.LockRead:
		return syscall.F_RDLCK
	case vfs.LockWrite:
		return syscall.F_WRLCK
	}
	return syscall.F_UNLCK
}

func (f *rawFS) noteLocks(ino posix.Ino) {
	f.mu.Lock()
	f.locked[ino]++
	f.mu.Unlock()
}

func (f *rawFS) hadLocks(ino posix.Ino) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.locked[ino] > 0
}

// forgetLocks drops the note that ino had locks once no handle of the
// mount has it open: the locks went with the handles.
func (f *rawFS) forgetLocks(ino posix.Ino) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.locked[ino] == 0 {
		return
	}
	for _, h := range f.files {
		if h.ino == ino {
			return
		}
	}
	delete(f.locked, ino)
}

func (f *rawFS) GetLk(_ <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	typ, ok := lockType(in.Lk.Typ)
	if !ok {
		return fuse.EINVAL
	}
	l, err := f.v.GetLk(f.ctx, posix.Ino(in.NodeId), in.Owner, vfs.Lock{Type: typ, Start: in.Lk.Start, End: lockEnd(in.Lk.End), PID: in.Lk.Pid})
	if err != nil {
		return f.status("getlk", err)
	}
	out.Lk = fuse.FileLock{Typ: fuseLockType(l.Type)}
	if l.Type != vfs.LockUnlock {
		out.Lk.Start, out.Lk.End, out.Lk.Pid = l.Start, fuseLockEnd(l.End), l.PID
	}
	return fuse.OK
}

func (f *rawFS) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	return f.setLk(cancel, in, false)
}

func (f *rawFS) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	return f.setLk(cancel, in, true)
}

func (f *rawFS) setLk(cancel <-chan struct{}, in *fuse.LkIn, block bool) fuse.Status {
	typ, ok := lockType(in.Lk.Typ)
	if !ok {
		return fuse.EINVAL
	}
	ino := posix.Ino(in.NodeId)
	ctx := f.ctx
	if block {
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		go func() {
			select {
			case <-cancel: // the waiter was interrupted (a signal)
				stop()
			case <-ctx.Done():
			}
		}()
	}
	if typ != vfs.LockUnlock {
		f.noteLocks(ino)
	}
	var err error
	if in.LkFlags&fuse.FUSE_LK_FLOCK != 0 {
		err = f.v.Flock(ctx, ino, in.Owner, typ, block)
	} else {
		err = f.v.SetLk(ctx, ino, in.Owner, block, vfs.Lock{Type: typ, Start: in.Lk.Start, End: lockEnd(in.Lk.End), PID: in.Lk.Pid})
	}
	return f.status("setlk", err)
}

// Lseek serves SEEK_DATA and SEEK_HOLE (the kernel answers the other
// whences itself).
func (f *rawFS) Lseek(_ <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	if in.Whence != vfs.SeekData && in.Whence != vfs.SeekHole {
		return fuse.EINVAL
	}
	off, err := f.v.Seek(f.ctx, vfs.Handle(in.Fh), int64(in.Offset), int(in.Whence))
	if err != nil {
		return f.status("lseek", err)
	}
	out.Offset = uint64(off)
	return fuse.OK
}
