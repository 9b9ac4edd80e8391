//go:build linux

package powercutfs

import (
	"context"
	"strconv"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// handle is an open file of the mount: a descriptor of the file in lower.
// Reads and writes go to it by offset; the kernel keeps the file position.
type handle struct {
	fsys     *engine
	rec      *record
	fd       int
	readable bool // fd can be read, so syncs copy from it directly
	sync     bool // opened O_SYNC or O_DSYNC: each write is a sync
}

var (
	_ fs.FileReader    = (*handle)(nil)
	_ fs.FileWriter    = (*handle)(nil)
	_ fs.FileReleaser  = (*handle)(nil)
	_ fs.FileFlusher   = (*handle)(nil)
	_ fs.FileAllocater = (*handle)(nil)
	_ fs.FileLseeker   = (*handle)(nil)
)

// stripped are the open flags not passed to lower: the kernel positions
// O_APPEND writes itself; O_TRUNC is applied through truncate so it is
// tracked; lower needs no real durability (O_SYNC, O_DSYNC); O_DIRECT would
// demand aligned buffers; O_CREAT/O_EXCL are added only by Create.
const stripped = syscall.O_APPEND | syscall.O_TRUNC | syscall.O_CREAT | syscall.O_EXCL |
	syscall.O_SYNC | syscall.O_DSYNC | syscall.O_DIRECT | fuse.FMODE_EXEC

// openLower opens p with the FUSE open flags turned into lower's, plus
// extra. A regular file asked for write-only is opened read-write when
// allowed, so syncs can copy from the same descriptor; readable says
// whether the result can be read.
func openLower(p string, flags uint32, extra int, mode uint32, regular bool) (fd int, readable bool, err error) {
	base := int(flags)&^stripped | extra | syscall.O_CLOEXEC
	if regular && base&syscall.O_ACCMODE == syscall.O_WRONLY {
		fd, err = syscall.Open(p, base&^syscall.O_ACCMODE|syscall.O_RDWR, mode)
		if err == nil {
			return fd, true, nil
		}
		if err != syscall.EACCES && err != syscall.EPERM {
			return -1, false, err
		}
	}
	fd, err = syscall.Open(p, base, mode)
	return fd, base&syscall.O_ACCMODE != syscall.O_WRONLY, err
}

// openHandle opens rec at p for an OPEN request with the given flags,
// applying O_TRUNC as a tracked truncate.
func (f *engine) openHandle(rec *record, p string, flags uint32, mode uint32) (*handle, error) {
	fd, readable, err := openLower(p, flags, 0, mode, rec.kind == kindFile)
	if err != nil {
		return nil, err
	}
	h := f.addHandle(rec, fd, readable, flags)
	if flags&syscall.O_TRUNC != 0 && rec.kind == kindFile {
		if err := f.truncate(rec, source{h: h}, 0); err != nil {
			f.removeHandle(h)
			return nil, err
		}
	}
	return h, nil
}

func (f *engine) addHandle(rec *record, fd int, readable bool, flags uint32) *handle {
	h := &handle{fsys: f, rec: rec, fd: fd, readable: readable, sync: flags&syscall.O_DSYNC != 0}
	f.hmu.Lock()
	f.handles[h] = struct{}{}
	f.hmu.Unlock()
	return h
}

// removeHandle closes h's descriptor unless Cut already did.
func (f *engine) removeHandle(h *handle) {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	if _, ok := f.handles[h]; ok {
		delete(f.handles, h)
		syscall.Close(h.fd)
	}
}

// procFd names an open descriptor as a path that follows it, even to a
// file with no name left.
func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// Read reads into dest within the operation, not later by splicing: after
// a cut the descriptor is closed and its number may be reused.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if !h.fsys.enter() {
		return nil, syscall.EIO
	}
	defer h.fsys.exit()
	n, err := syscall.Pread(h.fd, dest, off)
	if err != nil {
		return nil, errnoOf(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if !h.fsys.enter() {
		return 0, syscall.EIO
	}
	defer h.fsys.exit()
	n, err := h.fsys.write(h, data, off)
	return uint32(n), errnoOf(err)
}

// Flush does nothing: closing a descriptor makes nothing durable.
func (h *handle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *handle) Release(ctx context.Context) syscall.Errno {
	if !h.fsys.enter() {
		return 0 // Cut closes the descriptors itself
	}
	defer h.fsys.exit()
	h.fsys.removeHandle(h)
	return 0
}

func (h *handle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if !h.fsys.enter() {
		return syscall.EIO
	}
	defer h.fsys.exit()
	return errnoOf(h.fsys.allocate(h, int64(off), int64(size), mode))
}

func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	if !h.fsys.enter() {
		return 0, syscall.EIO
	}
	defer h.fsys.exit()
	n, err := unix.Seek(h.fd, int64(off), int(whence))
	return uint64(n), errnoOf(err)
}
