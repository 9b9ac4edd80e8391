//go:build linux

package powercutfs

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"syscall"
)

// kind is the type of a record, fixed at its creation.
type kind uint8

const (
	kindFile kind = iota
	kindDir
	kindSymlink
	kindOther // fifo, socket, device: recreated with mknod
)

func kindOf(mode uint32) kind {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return kindFile
	case syscall.S_IFDIR:
		return kindDir
	case syscall.S_IFLNK:
		return kindSymlink
	}
	return kindOther
}

// attrs are the attributes that become durable at fsync of the inode (or,
// for a new inode, at the fsync of a directory that makes its entry durable:
// the attributes it was created with).
type attrs struct {
	mode         uint32 // permission bits (07777)
	uid, gid     uint32
	atime, mtime syscall.Timespec
}

func attrsOf(st *syscall.Stat_t) attrs {
	return attrs{
		mode: st.Mode & 07777, uid: st.Uid, gid: st.Gid,
		atime: st.Atim, mtime: st.Mtim,
	}
}

// record is one inode of the mount, under an id of this package's own:
// lower's inode numbers are reused after an unlink, ids never are. Several
// names (hard links) may refer to one record. Records are never freed while
// the engine lives: a durable entry may name a record that has no current name.
type record struct {
	id   uint64
	kind kind

	// Fixed at creation.
	fmt    uint32 // S_IFMT bits, for kindOther
	rdev   uint64 // for kindOther
	target string // for kindSymlink

	// mu guards the fields below. Lock order: engine.nsMu before record.mu.
	mu sync.Mutex

	// durAttrs are the attributes at the last sync (or at mount/creation).
	durAttrs attrs

	// dir is the directory's entries; non-nil for kindDir only, and
	// guarded by engine.nsMu rather than mu.
	dir *dirState

	// data tracks a regular file's contents; kindFile only.
	data fileData
}

// fileData says where a regular file's durable contents are and what
// changed since they were made durable. The durable contents are:
//   - the shadow file (shadowDir/<id>) when shadow is set;
//   - else empty when fresh (created after mount, never synced);
//   - else the lower inode lowerIno, untouched since mount, found at a
//     current name in lower, or at shadowDir/<id>.keep (a hard link made
//     before its last name was removed) when kept is set.
//
// Invariant: once lower's contents differ from the durable ones, shadow or
// fresh is set; so only a file that is neither is copied before it changes.
type fileData struct {
	lowerIno uint64
	fresh    bool
	shadow   bool
	kept     bool

	// dirty holds the byte ranges written since the last sync, and
	// minSize the smallest length the file had since then: at sync the
	// shadow is cut to minSize, the dirty ranges are copied, and the
	// shadow is set to the current length (the rest is zeros from
	// extension). Only meaningful once shadow or fresh is set.
	dirty   rangeSet
	minSize int64

	// unsynced counts bytes written since the last sync, for Stats.
	unsynced int64
}

// needsCopy reports whether lower's contents are still the durable ones
// and must be saved before they change or lose their last name.
func (d *fileData) needsCopy() bool { return !d.shadow && !d.fresh }

// dirState is a directory's entries, name → record id. cur mirrors lower;
// dur is what a cut leaves; pending names the entries that changed in cur
// since the last fsync of the directory, so fsyncdir costs O(changes).
type dirState struct {
	cur     map[string]uint64
	dur     map[string]uint64
	pending map[string]struct{}
}

func newDirState() *dirState {
	return &dirState{
		cur:     map[string]uint64{},
		dur:     map[string]uint64{},
		pending: map[string]struct{}{},
	}
}

// set makes name refer to id in cur (id 0 removes it).
func (d *dirState) set(name string, id uint64) {
	if id == 0 {
		delete(d.cur, name)
	} else {
		d.cur[name] = id
	}
	d.pending[name] = struct{}{}
}

// sync makes the current entries durable.
func (d *dirState) sync() {
	for name := range d.pending {
		if id, ok := d.cur[name]; ok {
			d.dur[name] = id
		} else {
			delete(d.dur, name)
		}
	}
	clear(d.pending)
}

// forgotten counts the entries a cut would change.
func (d *dirState) forgotten() int64 {
	var n int64
	for name := range d.pending {
		c, cok := d.cur[name]
		u, uok := d.dur[name]
		if cok != uok || c != u {
			n++
		}
	}
	return n
}

// newRecord allocates the next id for an inode described by st. Caller
// holds nsMu.
func (f *engine) newRecord(st *syscall.Stat_t) *record {
	f.nextID++
	r := &record{
		id:       f.nextID,
		kind:     kindOf(st.Mode),
		fmt:      st.Mode & syscall.S_IFMT,
		rdev:     st.Rdev,
		durAttrs: attrsOf(st),
	}
	switch r.kind {
	case kindDir:
		r.dir = newDirState()
	case kindFile:
		r.data.lowerIno = st.Ino
	}
	f.recs[r.id] = r
	return r
}

// scan builds the records of everything in lower, all durable. Caller
// holds nsMu (or has not published f yet).
func (f *engine) scan() error {
	var st syscall.Stat_t
	if err := syscall.Stat(f.lower, &st); err != nil {
		return fmt.Errorf("powercutfs: stat %s: %w", f.lower, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return fmt.Errorf("powercutfs: %s: %w", f.lower, syscall.ENOTDIR)
	}
	root := f.newRecord(&st)
	f.root = root
	return f.scanDir(root, f.lower, map[devIno]*record{})
}

// devIno names an inode of the lower file systems, to find hard links.
type devIno struct{ dev, ino uint64 }

func (f *engine) scanDir(dir *record, path string, byIno map[devIno]*record) error {
	ents, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("powercutfs: scan: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(path, e.Name())
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return fmt.Errorf("powercutfs: scan: lstat %s: %w", p, err)
		}
		key := devIno{st.Dev, st.Ino}
		r := byIno[key]
		if r == nil || kindOf(st.Mode) == kindDir {
			r = f.newRecord(&st)
			byIno[key] = r
		}
		dir.dir.cur[e.Name()] = r.id
		dir.dir.dur[e.Name()] = r.id
		switch r.kind {
		case kindDir:
			if err := f.scanDir(r, p, byIno); err != nil {
				return err
			}
		case kindSymlink:
			if r.target, err = os.Readlink(p); err != nil {
				return fmt.Errorf("powercutfs: scan: %w", err)
			}
		}
	}
	return nil
}
