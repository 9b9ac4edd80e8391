package file

import (
	"os"
	"syscall"
	"unsafe"
)

// directAlign is the alignment O_DIRECT wants of buffers, offsets and
// lengths (the common logical block size).
const directAlign = 4096

// writeDirect writes b to a new file at path with O_DIRECT for its
// aligned prefix, bypassing the page cache (on some machines copying into
// the page cache costs more CPU than the disk write itself), then the
// unaligned tail normally. It reports ok=false, having created nothing,
// when O_DIRECT cannot be used (unaligned buffer, file system without
// support): the caller then writes normally.
func writeDirect(path string, b []byte, sync bool) (ok bool, err error) {
	if len(b) < 64<<10 || uintptr(unsafe.Pointer(&b[0]))%directAlign != 0 {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_DIRECT, 0o644)
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
		fd := f.Fd()
		fl, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		if e == 0 {
			_, _, e = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFL, fl&^syscall.O_DIRECT)
		}
		if e != 0 {
			err = e
		} else {
			_, err = f.Write(b[aligned:])
		}
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return true, err
}
