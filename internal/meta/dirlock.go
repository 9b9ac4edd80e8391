package meta

import (
	"slices"
	"sync"

	"cairn/internal/posix"
)

// Directory queues.
//
// Changes to one directory (creating, removing or renaming entries in it)
// all move its attributes, so on an engine whose transactions run side by
// side and conflict (Redis, PostgreSQL, MySQL, etcd, memkv) two of them at
// once are a conflict, and one runs again; many at once (S3 PUTs into one
// bucket) turn into a storm of reruns. So within one client they queue:
// a change takes its directories' locks, in inode order, before its
// transaction, and the conflicts left are those with other clients. On an
// engine whose writer commits one group at a time (SQLite), concurrent
// transactions never conflict and queueing would only shrink the groups:
// there the queue is off.

// dirLocks holds a mutex per directory with changes under way.
type dirLocks struct {
	mu sync.Mutex
	m  map[posix.Ino]*dirLock
}

type dirLock struct {
	sync.Mutex
	refs int
}

// lock takes the locks of dirs (duplicates and zeros ignored) and returns
// the function that releases them. A nil *dirLocks locks nothing.
func (d *dirLocks) lock(dirs ...posix.Ino) func() {
	if d == nil {
		return func() {}
	}
	dirs = slices.DeleteFunc(slices.Clone(dirs), func(i posix.Ino) bool { return i == 0 })
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	locks := make([]*dirLock, len(dirs))
	d.mu.Lock()
	for i, ino := range dirs {
		l := d.m[ino]
		if l == nil {
			l = &dirLock{}
			d.m[ino] = l
		}
		l.refs++
		locks[i] = l
	}
	d.mu.Unlock()
	for _, l := range locks {
		l.Lock()
	}
	return func() {
		for _, l := range locks {
			l.Unlock()
		}
		d.mu.Lock()
		for i, l := range locks {
			if l.refs--; l.refs == 0 {
				delete(d.m, dirs[i])
			}
		}
		d.mu.Unlock()
	}
}
