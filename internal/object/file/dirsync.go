package file

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// A new or renamed file's name is durable only once its directory is
// synced (ext4, XFS: fsync of the file covers its data and inode, not the
// entry that names it). Objects are renamed into place, so every durable
// Put ends with a sync of its directory. Concurrent Puts into one
// directory share that sync: dirSyncs runs one fsync of a directory at a
// time and every caller that arrives while one runs joins the next, which
// starts when it ends (a sync that started before a caller's rename would
// not cover it). Blocks are spread over 256 hash directories, so a group
// of concurrent writers costs at most one sync per directory they wrote
// into, whatever their number.

// dirSyncs coalesces fsyncs of directories. Safe for concurrent use.
type dirSyncs struct {
	mu   sync.Mutex
	dirs map[string]*dirState
	// fsync syncs one directory; nil is fsyncPath (tests count calls).
	fsync func(dir string) error
}

type dirState struct {
	running bool       // a caller is running rounds for this directory
	next    *syncRound // the round that starts when the running one ends
}

type syncRound struct {
	done chan struct{}
	err  error
}

// sync returns once an fsync of dir that started after sync was called
// has ended, with its error.
func (d *dirSyncs) sync(dir string) error {
	d.mu.Lock()
	if d.dirs == nil {
		d.dirs = make(map[string]*dirState)
	}
	st := d.dirs[dir]
	if st == nil {
		st = &dirState{}
		d.dirs[dir] = st
	}
	if st.next == nil {
		st.next = &syncRound{done: make(chan struct{})}
	}
	mine := st.next
	if st.running {
		d.mu.Unlock()
		<-mine.done
		return mine.err
	}
	// Run rounds until no caller waits for one.
	st.running = true
	for st.next != nil {
		r := st.next
		st.next = nil
		d.mu.Unlock()
		if d.fsync != nil {
			r.err = d.fsync(dir)
		} else {
			r.err = fsyncPath(dir)
		}
		close(r.done)
		d.mu.Lock()
	}
	st.running = false
	delete(d.dirs, dir)
	d.mu.Unlock()
	return mine.err
}

// fsyncPath opens path (a directory) and syncs it.
func fsyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkdirAll creates dir and its missing parents, up to and below root
// (root "" means no bound: up to the first directory that exists); unless
// noSync, it syncs the parent of each directory it created, so that the
// new directories outlive a power cut (deepest first: a directory's own
// entries are synced before the entry naming it is).
func mkdirAll(root, dir string, noSync bool) error {
	var created []string
	for p := dir; len(p) > len(root) && p != filepath.Dir(p); p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, p)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if noSync {
		return nil
	}
	for _, p := range created {
		if err := fsyncPath(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}
