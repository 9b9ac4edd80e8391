package vfs

import (
	"context"
	"io"
	"sync/atomic"
	"syscall"

	"cairn/internal/meta"
	"cairn/internal/posix"
)

// Handle identifies an open file of an FS (a FUSE file handle).
type Handle uint64

type handle struct {
	ino   posix.Ino
	in    *inode
	flags int
	cred  posix.Cred
	wrote bool
	// killPrivs: the file was setuid (or setgid and group-executable) at
	// open and cred is not root, so the first write clears those bits
	// at once, as Linux does (commits clear them too).
	killPrivs atomic.Bool
}

func (h *handle) readable() bool { return h.flags&syscall.O_ACCMODE != syscall.O_WRONLY }
func (h *handle) writable() bool { return h.flags&syscall.O_ACCMODE != syscall.O_RDONLY }

// Open opens ino with open(2) flags after checking permissions. O_TRUNC
// truncates. The caller must Release the handle.
func (fs *FS) Open(ctx context.Context, cred posix.Cred, ino posix.Ino, flags int) (Handle, posix.Attr, error) {
	return fs.OpenAs(ctx, cred, ino, flags, flags)
}

// OpenAs is Open checking permissions for flags but giving the handle
// handleFlags: a mount with the kernel's writeback cache opens write-only
// files readable (the kernel reads the pages it writes in part) and
// without O_APPEND (the kernel places appends itself).
func (fs *FS) OpenAs(ctx context.Context, cred posix.Cred, ino posix.Ino, flags, handleFlags int) (Handle, posix.Attr, error) {
	a, err := fs.meta.OpenInode(ctx, cred, ino, flags)
	if err != nil {
		return 0, a, err
	}
	return fs.openAfterCheck(ctx, cred, ino, a, handleFlags)
}

func (fs *FS) openAfterCheck(ctx context.Context, cred posix.Cred, ino posix.Ino, a posix.Attr, flags int) (Handle, posix.Attr, error) {
	fh, h := fs.newHandle(ino, flags, cred)
	if _, kill := posix.KillSuidOnWrite(cred, &a); kill && h.writable() {
		h.killPrivs.Store(true)
	}
	// Close-to-open: forget cached slice lists so that data committed by
	// other clients before this open is seen.
	h.in.reopen(a.Length)
	if flags&syscall.O_TRUNC != 0 && a.Type == posix.TypeFile && h.writable() {
		if err := h.in.flush(ctx); err != nil {
			fs.Release(ctx, fh)
			return 0, a, err
		}
		na, err := fs.meta.SetAttr(ctx, cred, ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: 0, ByHandle: true})
		if err != nil {
			fs.Release(ctx, fh)
			return 0, a, err
		}
		a = na
		h.in.invalidate(0)
		h.wrote = true
	}
	if l := h.in.pendingLength(); l > a.Length {
		a.Length = l
	}
	return fh, a, nil
}

// Create creates (or with flags lacking O_EXCL, opens an existing) regular
// file and opens it. A newly created file is opened without a permission
// check, as the kernel does (creating a 0444 file for writing works).
func (fs *FS) Create(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, mode uint32, flags int) (Handle, meta.Entry, error) {
	return fs.CreateAs(ctx, cred, parent, name, mode, flags, flags)
}

// CreateAs is Create giving the handle handleFlags (see OpenAs).
func (fs *FS) CreateAs(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, mode uint32, flags, handleFlags int) (Handle, meta.Entry, error) {
	r, err := fs.meta.Create(ctx, cred, parent, name, meta.CreateRequest{
		Type: posix.TypeFile, Mode: mode, Umask: cred.Umask, Exclusive: flags&syscall.O_EXCL != 0})
	if err != nil {
		return 0, meta.Entry{}, err
	}
	if r.Existed {
		fh, a, err := fs.OpenAs(ctx, cred, r.Ino, flags, handleFlags)
		return fh, meta.Entry{Ino: r.Ino, Attr: a}, err
	}
	fs.meta.OpenCreated(r.Ino)
	fh, a, err := fs.openAfterCheck(ctx, cred, r.Ino, r.Attr, handleFlags&^syscall.O_TRUNC)
	return fh, meta.Entry{Ino: r.Ino, Attr: a}, err
}

func (fs *FS) newHandle(ino posix.Ino, flags int, cred posix.Cred) (Handle, *handle) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	in := fs.inodes[ino]
	if in == nil {
		in = newInode(fs, ino)
		fs.inodes[ino] = in
	}
	in.refs++
	fs.nextFh++
	h := &handle{ino: ino, in: in, flags: flags, cred: cred}
	fs.handles[fs.nextFh] = h
	return Handle(fs.nextFh), h
}

func (fs *FS) handle(fh Handle) (*handle, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	h := fs.handles[uint64(fh)]
	if h == nil {
		return nil, errBadHandle
	}
	return h, nil
}

func (fs *FS) inodeIfOpen(ino posix.Ino) *inode {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.inodes[ino]
}

// Read reads up to len(p) bytes at off. It returns fewer bytes only at the
// end of the file (and 0, nil past it).
func (fs *FS) Read(ctx context.Context, fh Handle, p []byte, off int64) (int, error) {
	h, err := fs.readHandle(fh, off)
	if err != nil {
		return 0, err
	}
	return h.in.read(ctx, p, uint64(off))
}

// readHandle returns the handle fh for a read at off: EBADF when it was
// not opened for reading, EINVAL for a negative offset.
func (fs *FS) readHandle(fh Handle, off int64) (*handle, error) {
	h, err := fs.handle(fh)
	if err != nil {
		return nil, err
	}
	if !h.readable() {
		return nil, syscall.EBADF
	}
	if off < 0 {
		return nil, syscall.EINVAL
	}
	return h, nil
}

// ReadTo writes the file's bytes from off to w in order, n of them or up
// to the end of the file, and returns how many w took. It is Read without
// the copy into a buffer: w is given cached blocks as they are, and must
// neither change them nor keep them after Write returns; when w is an
// io.ReaderFrom (an HTTP response), blocks of a local-file store go to its
// ReadFrom as files (sendfile), after their checksum is verified. An
// error of w stops the read and is returned as it is.
func (fs *FS) ReadTo(ctx context.Context, fh Handle, off, n int64, w io.Writer) (int64, error) {
	h, err := fs.readHandle(fh, off)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, syscall.EINVAL
	}
	done, err := h.in.readTo(ctx, uint64(off), uint64(n), w)
	return int64(done), err
}

// Write writes p at off (at the end of the file for O_APPEND handles).
// Data becomes visible to other clients after Flush, Fsync or Release.
func (fs *FS) Write(ctx context.Context, fh Handle, p []byte, off int64) (int, error) {
	h, err := fs.handle(fh)
	if err != nil {
		return 0, err
	}
	if !h.writable() {
		return 0, syscall.EBADF
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	h.wrote = true
	if h.killPrivs.Swap(false) {
		if err := fs.killPrivs(ctx, h); err != nil {
			return 0, err
		}
	}
	return h.in.write(ctx, h.cred, p, uint64(off), h.flags&syscall.O_APPEND != 0)
}

// killPrivs clears the setuid and setgid bits a write by h's caller
// removes, before the write, so that an fstat right after it shows them
// gone.
func (fs *FS) killPrivs(ctx context.Context, h *handle) error {
	a, err := fs.meta.GetAttr(ctx, h.ino)
	if err != nil {
		return err
	}
	mode, kill := posix.KillSuidOnWrite(h.cred, &a)
	if !kill {
		return nil
	}
	_, err = fs.meta.SetAttr(ctx, posix.Root, h.ino, meta.SetAttrRequest{Valid: meta.SetMode, Mode: mode})
	return err
}

// Flush commits the file's pending writes (close(2) of one descriptor).
func (fs *FS) Flush(ctx context.Context, fh Handle) error {
	h, err := fs.handle(fh)
	if err != nil {
		return err
	}
	return h.in.flush(ctx)
}

// Seek answers lseek(2)'s SEEK_DATA and SEEK_HOLE (whence SeekData,
// SeekHole) for an open file, after committing its pending writes.
func (fs *FS) Seek(ctx context.Context, fh Handle, off int64, whence int) (int64, error) {
	h, err := fs.handle(fh)
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, syscall.ENXIO
	}
	if err := h.in.flush(ctx); err != nil {
		return 0, err
	}
	res, err := fs.meta.Seek(ctx, h.ino, uint64(off), whence)
	return int64(res), err
}

// Truncated notes that the file of fh was truncated through it
// (ftruncate): its close then records that the file was written.
func (fs *FS) Truncated(fh Handle) {
	if h, err := fs.handle(fh); err == nil {
		h.wrote = true
	}
}

// Fsync commits the file's pending writes and waits for them to be durable.
func (fs *FS) Fsync(ctx context.Context, fh Handle) error { return fs.Flush(ctx, fh) }

// Release closes a handle: pending writes are committed, a change-feed
// record notes that the file was written, and an unlinked file loses its
// data when its last handle goes.
func (fs *FS) Release(ctx context.Context, fh Handle) error {
	fs.mu.Lock()
	h := fs.handles[uint64(fh)]
	delete(fs.handles, uint64(fh))
	fs.mu.Unlock()
	if h == nil {
		return errBadHandle
	}
	err := h.in.flush(ctx)
	if h.wrote && err == nil {
		if nerr := fs.meta.NoteWritten(ctx, h.ino); nerr != nil && !isNotFound(nerr) {
			err = nerr
		}
	}
	fs.mu.Lock()
	h.in.refs--
	if h.in.refs == 0 {
		delete(fs.inodes, h.ino)
	}
	fs.mu.Unlock()
	if rerr := fs.meta.Release(ctx, h.ino); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// CopyFileRange makes [offOut, offOut+n) of out's file share in's bytes at
// offIn, without copying data (copy_file_range(2), reflink).
func (fs *FS) CopyFileRange(ctx context.Context, cred posix.Cred, in Handle, offIn int64, out Handle, offOut int64, n uint64) (uint64, error) {
	hi, err := fs.handle(in)
	if err != nil {
		return 0, err
	}
	ho, err := fs.handle(out)
	if err != nil {
		return 0, err
	}
	if !hi.readable() || !ho.writable() || ho.flags&syscall.O_APPEND != 0 {
		return 0, syscall.EBADF
	}
	if offIn < 0 || offOut < 0 {
		return 0, syscall.EINVAL
	}
	if err := hi.in.flush(ctx); err != nil {
		return 0, err
	}
	if err := ho.in.flush(ctx); err != nil {
		return 0, err
	}
	copied, err := fs.meta.CopyFileRange(ctx, cred, hi.ino, uint64(offIn), ho.ino, uint64(offOut), n)
	if err != nil {
		return 0, err
	}
	ho.wrote = true
	a, err := fs.meta.GetAttr(ctx, ho.ino)
	if err != nil {
		return copied, err
	}
	ho.in.invalidate(a.Length)
	return copied, nil
}

// Fallocate preallocates, punches holes or zeroes ranges (meta.Fallocate).
func (fs *FS) Fallocate(ctx context.Context, cred posix.Cred, fh Handle, mode uint32, off, length int64) error {
	h, err := fs.handle(fh)
	if err != nil {
		return err
	}
	if !h.writable() {
		return syscall.EBADF
	}
	if off < 0 || length <= 0 {
		return syscall.EINVAL
	}
	if err := h.in.flush(ctx); err != nil {
		return err
	}
	if err := fs.meta.Fallocate(ctx, cred, h.ino, mode, uint64(off), uint64(length)); err != nil {
		return err
	}
	h.wrote = true
	a, err := fs.meta.GetAttr(ctx, h.ino)
	if err != nil {
		return err
	}
	h.in.invalidate(a.Length)
	return nil
}
