//go:build linux

package powercutfs

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Data operations: every change to a file's contents or length first saves
// the durable contents if lower still holds the only copy (saveLocked),
// then changes lower, then records what changed (dirty ranges, minSize),
// all under the record's mutex, so a concurrent sync sees the change either
// complete and recorded or not at all.

func (f *engine) shadowPath(r *record) string {
	return filepath.Join(f.shadowDir, strconv.FormatUint(r.id, 10))
}

func (f *engine) keepPath(r *record) string { return f.shadowPath(r) + ".keep" }

// source gives read access to a file's current contents in lower: through
// an open handle when there is one, else by path.
type source struct {
	h    *handle
	path string
}

// open returns a readable descriptor and the function that releases it.
func (s source) open() (int, func(), error) {
	if s.h != nil && s.h.readable {
		return s.h.fd, func() {}, nil
	}
	p, flags := s.path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW
	if s.h != nil {
		p, flags = procFd(s.h.fd), syscall.O_RDONLY|syscall.O_CLOEXEC
	}
	fd, err := syscall.Open(p, flags, 0)
	if err != nil {
		return -1, nil, err
	}
	return fd, func() { syscall.Close(fd) }, nil
}

// saveLocked copies r's contents, still the durable ones, from src into
// r's shadow, so lower may change. No-op once saved. Caller holds r.mu.
func (f *engine) saveLocked(r *record, src source) error {
	d := &r.data
	if !d.needsCopy() {
		return nil
	}
	fd, done, err := src.open()
	if err != nil {
		return fmt.Errorf("powercutfs: save %d: %w", r.id, err)
	}
	defer done()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("powercutfs: save %d: %w", r.id, err)
	}
	sh, err := syscall.Open(f.shadowPath(r), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("powercutfs: save %d: %w", r.id, err)
	}
	defer syscall.Close(sh)
	if unix.IoctlFileClone(sh, fd) != nil {
		if _, err := copyRange(sh, fd, 0, st.Size); err != nil {
			return fmt.Errorf("powercutfs: save %d: %w", r.id, err)
		}
	}
	f.stats.saved.Add(st.Size)
	d.shadow = true
	d.minSize = st.Size
	d.dirty.reset()
	if d.kept {
		syscall.Unlink(f.keepPath(r))
		d.kept = false
	}
	return nil
}

// syncLocked makes r's current contents and attributes durable: it copies
// into the shadow only the ranges written since the last sync. Caller
// holds r.mu.
func (f *engine) syncLocked(r *record, src source) error {
	f.stats.syncs.Add(1)
	fd, done, err := src.open()
	if err != nil {
		return fmt.Errorf("powercutfs: sync %d: %w", r.id, err)
	}
	defer done()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("powercutfs: sync %d: %w", r.id, err)
	}
	r.durAttrs = attrsOf(&st)
	d := &r.data
	if d.needsCopy() {
		return nil // unchanged since mount: lower's contents are the durable ones
	}
	sh, err := syscall.Open(f.shadowPath(r), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("powercutfs: sync %d: %w", r.id, err)
	}
	defer syscall.Close(sh)
	size := st.Size
	if err := syscall.Ftruncate(sh, min(d.minSize, size)); err != nil {
		return fmt.Errorf("powercutfs: sync %d: %w", r.id, err)
	}
	for _, sp := range d.dirty.clip(size) {
		n, err := copyRange(sh, fd, sp.off, sp.end-sp.off)
		f.stats.synced.Add(n)
		if err != nil {
			return fmt.Errorf("powercutfs: sync %d: %w", r.id, err)
		}
	}
	if err := syscall.Ftruncate(sh, size); err != nil {
		return fmt.Errorf("powercutfs: sync %d: %w", r.id, err)
	}
	d.shadow = true
	d.dirty.reset()
	d.minSize = size
	d.unsynced = 0
	return nil
}

// syncFile serves fsync and fdatasync of a file.
func (f *engine) syncFile(r *record, src source) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := f.syncLocked(r, src); err != nil {
		f.log.Error("powercutfs: sync failed", "op", "fsync", "ino", r.id, "err", err)
		return syscall.EIO
	}
	return nil
}

// syncDir serves fsyncdir: the directory's current entries and attributes
// become durable.
func (f *engine) syncDir(r *record, p string) error {
	f.stats.dirSyncs.Add(1)
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	r.dir.sync()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return err
	}
	r.mu.Lock()
	r.durAttrs = attrsOf(&st)
	r.mu.Unlock()
	return nil
}

// write serves WRITE through h.
func (f *engine) write(h *handle, data []byte, off int64) (int, error) {
	r := h.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := f.saveLocked(r, source{h: h}); err != nil {
		f.log.Error("powercutfs: save failed", "op", "write", "ino", r.id, "err", err)
		return 0, syscall.EIO
	}
	n, err := syscall.Pwrite(h.fd, data, off)
	if n > 0 {
		r.data.dirty.add(off, off+int64(n))
		r.data.unsynced += int64(n)
	}
	if err != nil || !h.sync {
		return n, err
	}
	if err := f.syncLocked(r, source{h: h}); err != nil {
		f.log.Error("powercutfs: sync failed", "op", "write", "ino", r.id, "err", err)
		return n, syscall.EIO
	}
	return n, nil
}

// truncate sets r's length, through src's handle when it has one.
func (f *engine) truncate(r *record, src source, size int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := f.saveLocked(r, src); err != nil {
		f.log.Error("powercutfs: save failed", "op", "truncate", "ino", r.id, "err", err)
		return syscall.EIO
	}
	var err error
	if src.h != nil {
		err = syscall.Ftruncate(src.h.fd, size)
	} else {
		err = syscall.Truncate(src.path, size)
	}
	if err != nil {
		return err
	}
	r.data.minSize = min(r.data.minSize, size)
	return nil
}

// allocate serves fallocate. Plain allocation only extends with zeros,
// which a sync reproduces from the length; hole punching and zeroing
// change a range; collapsing and inserting move everything after off.
func (f *engine) allocate(h *handle, off, size int64, mode uint32) error {
	r := h.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := f.saveLocked(r, source{h: h}); err != nil {
		f.log.Error("powercutfs: save failed", "op", "fallocate", "ino", r.id, "err", err)
		return syscall.EIO
	}
	if err := unix.Fallocate(h.fd, mode, off, size); err != nil {
		return err
	}
	switch {
	case mode&(unix.FALLOC_FL_COLLAPSE_RANGE|unix.FALLOC_FL_INSERT_RANGE) != 0:
		r.data.dirty.add(off, math.MaxInt64)
	case mode&(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_ZERO_RANGE) != 0:
		r.data.dirty.add(off, off+size)
	}
	return nil
}

// copyRange copies n bytes at off from src to the same offset of dst, in
// the kernel when it can. It stops early at the end of src.
func copyRange(dst, src int, off, n int64) (int64, error) {
	var done int64
	for done < n {
		roff, woff := off+done, off+done
		c, err := unix.CopyFileRange(src, &roff, dst, &woff, int(min(n-done, 1<<30)), 0)
		if err != nil {
			switch err {
			case unix.EXDEV, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
				m, err := copyRangeSlow(dst, src, off+done, n-done)
				return done + m, err
			}
			return done, err
		}
		if c == 0 {
			break
		}
		done += int64(c)
	}
	return done, nil
}

func copyRangeSlow(dst, src int, off, n int64) (int64, error) {
	buf := make([]byte, min(n, 1<<20))
	var done int64
	for done < n {
		c, err := syscall.Pread(src, buf[:min(int64(len(buf)), n-done)], off+done)
		if err != nil {
			return done, err
		}
		if c == 0 {
			break
		}
		if _, err := syscall.Pwrite(dst, buf[:c], off+done); err != nil {
			return done, err
		}
		done += int64(c)
	}
	return done, nil
}
