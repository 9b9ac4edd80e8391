package fusefs

import (
	"sync"

	"cairn/internal/posix"
)

// keepCache decides, at each open, whether the kernel may keep the pages
// it caches of a file (FOPEN_KEEP_CACHE): only when the file's length,
// mtime and ctime are what they were at the previous open through this
// mount, so that nothing was written since by another client (every
// write moves mtime and ctime). Otherwise the kernel drops the pages, and
// the open reads what others wrote (close-to-open). The table is bounded:
// an inode it forgot just has its pages dropped at its next open.
type keepCache struct {
	mu   sync.Mutex
	seen map[posix.Ino]fileVersion
}

type fileVersion struct {
	length       uint64
	mtime, ctime int64
}

// keepCacheEntries bounds the table (about 40 bytes an entry).
const keepCacheEntries = 1 << 16

func newKeepCache() *keepCache { return &keepCache{seen: map[posix.Ino]fileVersion{}} }

// open records a's version and reports whether it is the one seen at the
// previous open of ino.
func (k *keepCache) open(ino posix.Ino, a *posix.Attr) bool {
	v := fileVersion{length: a.Length, mtime: a.Mtime, ctime: a.Ctime}
	k.mu.Lock()
	defer k.mu.Unlock()
	prev, ok := k.seen[ino]
	if !ok && len(k.seen) >= keepCacheEntries {
		// Forget about half, in map order (random enough).
		n := 0
		for i := range k.seen {
			delete(k.seen, i)
			if n++; n >= keepCacheEntries/2 {
				break
			}
		}
	}
	k.seen[ino] = v
	return ok && prev == v
}

// forget drops ino (its data changed through this mount in a way the
// kernel's cache does not follow, or it is gone).
func (k *keepCache) forget(ino posix.Ino) {
	k.mu.Lock()
	delete(k.seen, ino)
	k.mu.Unlock()
}
