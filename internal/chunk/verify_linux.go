package chunk

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// verifyFile reports whether the block file f (size data bytes and the
// checksum) may be sent as it is. A file this process checked before
// (known holds its ID, which changes when the file is written) whose pages
// are all still in the page cache is sent as it is: those pages are the
// ones it checked. Any other block is mapped (the page cache itself: no
// copy), read in through the map and its checksum checked; one that passes
// is added to known, one that fails is dropped from the page cache (a
// later read then comes from the disk again). Any failure (a file of the
// wrong length, a fault while reading the map) reports false.
func verifyFile(f *os.File, size int, known *checkedFiles) (ok bool) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Size != int64(size)+4 {
		return false
	}
	id := fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
	m, err := unix.Mmap(int(f.Fd()), 0, size+4, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return false
	}
	defer func() {
		unix.Munmap(m)
		if !ok {
			known.forget(id)
			evict(f)
		}
	}()
	if known.has(id) && resident(m) {
		return true
	}
	// Read it all in with one request rather than a fault per page
	// (older kernels lack MADV_POPULATE_READ and fault the pages in as
	// they are read).
	_ = unix.Madvise(m, unix.MADV_POPULATE_READ)
	// A file cut short under the map raises SIGBUS on access: turn it
	// into a failed check instead of a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if crc32.Checksum(m[:size], castagnoli) != binary.LittleEndian.Uint32(m[size:]) {
		return false
	}
	known.add(id)
	return true
}

// remember adds block file f, whose bytes this process just wrote from
// memory it computed the checksum of, to known.
func remember(f *os.File, known *checkedFiles) {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) == nil {
		known.add(fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()})
	}
}

// evict drops the clean pages of f from the page cache.
func evict(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// resident reports whether every page of the mapping m is in the page
// cache (mincore).
func resident(m []byte) bool {
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return false
	}
	for _, v := range vec {
		if v&1 == 0 {
			return false
		}
	}
	return true
}

// readChecked fills buf from off of the block file f (size data bytes and
// the checksum) without a disk read when this process checked that very
// file (known holds its ID) and the pages read are in the page cache
// (preadv2 with RWF_NOWAIT reads only from it): the same rule verifyFile
// applies to a whole file, applied to the pages read. false sends the
// caller to verifyFile.
func readChecked(f *os.File, size int, known *checkedFiles, buf []byte, off int64) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Size != int64(size)+4 {
		return false
	}
	if !known.has(fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}) {
		return false
	}
	n, err := unix.Preadv2(int(f.Fd()), [][]byte{buf}, off, unix.RWF_NOWAIT)
	return err == nil && n == len(buf)
}
