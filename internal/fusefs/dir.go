package fusefs

import (
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Directory handles. A listing is read from vfs a page at a time, resuming
// after the last name read, so memory stays constant however large the
// directory and entries added or removed meanwhile neither repeat nor
// shift the rest. The FUSE offset of an entry is its position in this
// handle's stream: 1 ".", 2 "..", then 3, 4, … for the entries.

const dirPage = 512

type dirHandle struct {
	mu     sync.Mutex
	ino    posix.Ino
	parent posix.Ino
	ents   []vfs.DirEntry // the page being served
	base   uint64         // index of ents[0] among the entries
	eof    bool           // ents is the last page
	loaded bool
}

// seek makes the page hold entry index k (or leaves it past the end).
func (d *dirHandle) seek(f *rawFS, k uint64) error {
	if !d.loaded || k < d.base {
		d.base, d.eof, d.loaded = 0, false, true
		if err := d.load(f, ""); err != nil {
			d.loaded = false
			return err
		}
	}
	for k >= d.base+uint64(len(d.ents)) && !d.eof {
		after := d.ents[len(d.ents)-1].Name
		d.base += uint64(len(d.ents))
		if err := d.load(f, after); err != nil {
			d.loaded = false
			return err
		}
	}
	return nil
}

func (d *dirHandle) load(f *rawFS, after string) error {
	ents, err := f.v.ReadDir(f.ctx, posix.Root, d.ino, vfs.ReadDirOptions{After: after, Limit: dirPage, WithAttr: true, SkipPerm: true})
	if err != nil {
		return err
	}
	d.ents = ents
	d.eof = len(ents) < dirPage
	return nil
}

func (f *rawFS) OpenDir(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	ino := posix.Ino(in.NodeId)
	a, err := f.v.GetAttr(f.ctx, ino)
	if err != nil {
		return f.status("opendir", err)
	}
	if a.Type != posix.TypeDir {
		return fuse.ENOTDIR
	}
	if err := f.v.Access(f.ctx, f.cred(&in.InHeader), ino, posix.MayRead); err != nil {
		return f.status("opendir", err)
	}
	parent := a.Parent
	if ino == posix.RootIno || parent == 0 {
		parent = ino
	}
	f.mu.Lock()
	f.nextDh++
	dh := f.nextDh
	f.dirs[dh] = &dirHandle{ino: ino, parent: parent}
	f.mu.Unlock()
	out.Fh = dh
	return fuse.OK
}

func (f *rawFS) ReleaseDir(in *fuse.ReleaseIn) {
	f.mu.Lock()
	delete(f.dirs, in.Fh)
	f.mu.Unlock()
}

func (f *rawFS) FsyncDir(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status { return fuse.OK }

func (f *rawFS) ReadDir(_ <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return f.readDir(in, out, false)
}

func (f *rawFS) ReadDirPlus(_ <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return f.readDir(in, out, true)
}

func typeMode(t posix.FileType) uint32 {
	a := posix.Attr{Type: t}
	return a.StatMode()
}

func (f *rawFS) readDir(in *fuse.ReadIn, out *fuse.DirEntryList, plus bool) fuse.Status {
	f.mu.Lock()
	d := f.dirs[in.Fh]
	f.mu.Unlock()
	if d == nil {
		return fuse.EBADF
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	add := func(e fuse.DirEntry) (*fuse.EntryOut, bool) {
		if !plus {
			return nil, out.AddDirEntry(e)
		}
		eo := out.AddDirLookupEntry(e)
		return eo, eo != nil
	}
	off := in.Offset
	dots := []struct {
		name string
		ino  posix.Ino
	}{{".", d.ino}, {"..", d.parent}}
	for off < 2 {
		dot := dots[off]
		if _, ok := add(fuse.DirEntry{Name: dot.name, Ino: uint64(dot.ino), Mode: typeMode(posix.TypeDir), Off: off + 1}); !ok {
			return fuse.OK
		}
		off++
	}
	k := off - 2
	for {
		if err := d.seek(f, k); err != nil {
			return f.status("readdir", err)
		}
		i := k - d.base
		if i >= uint64(len(d.ents)) {
			return fuse.OK // end of the directory
		}
		e := &d.ents[i]
		eo, ok := add(fuse.DirEntry{Name: e.Name, Ino: uint64(e.Ino), Mode: typeMode(e.Type), Off: k + 3})
		if !ok {
			return fuse.OK
		}
		if eo != nil {
			f.fillEntry(eo, vfs.Entry{Ino: e.Ino, Attr: e.Attr})
		}
		k++
	}
}
