package chunk

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"runtime/debug"
	"syscall"
	"unsafe"
)

// verifyFile reports whether the block file f (size data bytes and the
// checksum) may be sent as it is. The file is mapped (the page cache
// itself: no copy). A block whose pages are all in the page cache is
// trusted: they were either written by this process from memory whose
// checksum it computed, or checked when they were read from the disk (by
// verifyFile itself, or by a read into the block cache). Any other block
// is read in through the map and its checksum checked; one that fails is
// dropped from the page cache, so that its pages are not taken for
// checked ones later. Any failure (a file of the wrong length, a fault
// while reading the map) reports false.
func verifyFile(f *os.File, size int) (ok bool) {
	fi, err := f.Stat()
	if err != nil || fi.Size() != int64(size)+4 {
		return false
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, size+4, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return false
	}
	defer func() {
		syscall.Munmap(m)
		if !ok {
			evict(f)
		}
	}()
	if resident(m) {
		return true
	}
	// Read it all in with one request rather than a fault per page
	// (MADV_POPULATE_READ; older kernels fault the pages in as read).
	const madvPopulateRead = 22
	syscall.Syscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), madvPopulateRead)
	// A file cut short under the map raises SIGBUS on access: turn it
	// into a failed check instead of a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return crc32.Checksum(m[:size], castagnoli) == binary.LittleEndian.Uint32(m[size:])
}

// evict drops the clean pages of f from the page cache.
func evict(f *os.File) {
	const fadvDontNeed = 4
	syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0)
}

// resident reports whether every page of the mapping m is in the page
// cache (mincore).
func resident(m []byte) bool {
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	_, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
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
