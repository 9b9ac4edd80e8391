package file

import (
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"cairn/internal/object"
)

// directAlign is the alignment O_DIRECT wants of buffers, offsets and
// lengths (the common logical block size).
const directAlign = 4096

// writeDirect writes b to a new file at path with O_DIRECT for its
// aligned prefix, bypassing the page cache (on some machines copying into
// the page cache costs more CPU than the disk write itself), then the
// unaligned tail normally; then it asks the kernel to read the file into
// the page cache in the background, so that readers of fresh data find
// it in memory as after a buffered write. It reports ok=false, having created nothing,
// when O_DIRECT cannot be used (unaligned buffer, file system without
// support): the caller then writes normally.
func writeDirect(path string, b []byte, sync bool) (ok bool, err error) {
	if len(b) < 64<<10 || uintptr(unsafe.Pointer(&b[0]))%directAlign != 0 {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_DIRECT, 0o600)
	if err != nil {
		if os.IsExist(err) {
			return true, err
		}
		return false, nil // EINVAL: no O_DIRECT here
	}
	aligned := len(b) &^ (directAlign - 1)
	_, err = f.Write(b[:aligned])
	if err == nil && aligned < len(b) {
		// The tail is not a whole block: drop O_DIRECT for it.
		fd := int(f.Fd())
		fl, e := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if e == nil {
			_, e = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_DIRECT)
		}
		if e != nil {
			err = e
		} else {
			_, err = f.Write(b[aligned:])
		}
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if err == nil {
		adviseWillNeed(f, len(b))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return true, err
}

// readWhole reads the whole file at path into p after asking the kernel
// to read all of it ahead (one large request rather than the default
// read-ahead window); the pages stay cached for the next reader. ok=false
// means the caller must read normally. (O_DIRECT reads were measured too:
// faster for cold data, but then re-reads never hit the page cache.)
func readWhole(path string, p []byte, each func(off int, piece []byte)) (n int, ok bool, err error) {
	if len(p) < 64<<10 || len(p)%directAlign != 0 || uintptr(unsafe.Pointer(&p[0]))%directAlign != 0 {
		return 0, false, nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, true, err
		}
		return 0, false, nil
	}
	defer f.Close()
	// Ask for the whole object at once: one large read-ahead instead of
	// the default window, and the pages stay cached for the next reader.
	adviseWillNeed(f, len(p))
	n, err = object.ReadPieces(f, p, each)
	return n, true, err
}

// startWriteback asks the kernel to begin writing the dirty pages of f's
// n bytes from off (n 0: to the end) to disk without waiting for them
// (sync_file_range SYNC_FILE_RANGE_WRITE). The later fdatasync then has
// little left to wait for.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// adviseWillNeed starts the kernel reading the first n bytes of f (all of
// it when n is 0) into the page cache, in one large request.
func adviseWillNeed(f *os.File, n int) {
	_ = unix.Fadvise(int(f.Fd()), 0, int64(n), unix.FADV_WILLNEED)
}

// datasync is fdatasync: the data and what is needed to read it back, not
// the timestamps.
func datasync(f *os.File) error {
	for {
		if err := unix.Fdatasync(int(f.Fd())); err != unix.EINTR {
			return err
		}
	}
}

// processGone reports whether no process pid exists.
func processGone(pid int) bool { return unix.Kill(pid, 0) == unix.ESRCH }

// pidSpace names this process's PID namespace and its kernel's boot;
// "" when /proc does not tell.
func pidSpace() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}
