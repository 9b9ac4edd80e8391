package chunk

import "sync"

// fileID names one block file for as long as it is unchanged: its inode
// (device and number) and what changes when its bytes do (length,
// modification and change times, in ns). Blocks are immutable, so a file
// with the same ID holds the bytes it held when its ID was taken; a write
// into it, by any process, moves its times.
type fileID struct {
	dev, ino           uint64
	size, mtime, ctime int64
}

// checkedFiles remembers the block files whose checksum this process
// checked, or computed as it wrote them: only those may be sent straight from their file (sendfile)
// without checking them again. Page-cache residency says nothing of who
// checked the pages: another process may have read or written them, or
// they may be readahead around a neighbouring read, or a check of the same
// file running beside this one may be half way.
//
// It holds at most max files; past that, an arbitrary half is forgotten
// (they are checked again on their next send). Safe for concurrent use.
type checkedFiles struct {
	mu  sync.Mutex
	m   map[fileID]struct{}
	max int
}

func newCheckedFiles(max int) *checkedFiles {
	return &checkedFiles{m: make(map[fileID]struct{}), max: max}
}

func (c *checkedFiles) has(id fileID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[id]
	return ok
}

func (c *checkedFiles) add(id fileID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= c.max/2 {
				break
			}
		}
	}
	c.m[id] = struct{}{}
}

// forget drops id: its file failed a check.
func (c *checkedFiles) forget(id fileID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
