//go:build linux

package powercutfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mnode is an inode of the model: what the mount shows now (cur, ents)
// and what a cut must leave (dur, durEnts), by the package's rules.
type mnode struct {
	dir           bool
	cur, dur      []byte
	ents, durEnts map[string]*mnode
}

func newMDir() *mnode {
	return &mnode{dir: true, ents: map[string]*mnode{}, durEnts: map[string]*mnode{}}
}

// mentry is a current name in the model.
type mentry struct {
	path   string // relative to the root
	parent *mnode
	name   string
	n      *mnode
}

// current lists the current names, directories first-class; the root is
// the directory with path "".
func current(root *mnode) (files, dirs []mentry) {
	dirs = append(dirs, mentry{n: root})
	for i := 0; i < len(dirs); i++ {
		d := dirs[i]
		for _, name := range slices.Sorted(maps.Keys(d.n.ents)) {
			c := d.n.ents[name]
			e := mentry{path: filepath.Join(d.path, name), parent: d.n, name: name, n: c}
			if c.dir {
				dirs = append(dirs, e)
			} else {
				files = append(files, e)
			}
		}
	}
	return files, dirs
}

// expect walks the durable tree: path → node.
func expect(root *mnode) map[string]*mnode {
	out := map[string]*mnode{}
	var walk func(d *mnode, p string)
	walk = func(d *mnode, p string) {
		for name, c := range d.durEnts {
			cp := filepath.Join(p, name)
			out[cp] = c
			if c.dir {
				walk(c, cp)
			}
		}
	}
	walk(root, "")
	return out
}

// settle makes the model's current state its durable one after a cut.
func settle(root *mnode) {
	for _, n := range expect(root) {
		if n.dir {
			n.ents = maps.Clone(n.durEnts)
		} else {
			n.cur = bytes.Clone(n.dur)
		}
	}
	root.ents = maps.Clone(root.durEnts)
}

// randomOps runs ops random operations on the mount at mnt and on the
// model rooted at root.
type randomOps struct {
	t    *testing.T
	r    *rand.Rand
	mnt  string
	root *mnode
}

func (o *randomOps) do() {
	files, dirs := current(o.root)
	pick := func(l []mentry) mentry { return l[o.r.IntN(len(l))] }
	dir := pick(dirs)
	switch k := o.r.IntN(15); {
	case k < 2:
		o.create(dir)
	case k < 5 && len(files) > 0:
		o.write(pick(files))
	case k < 6 && len(files) > 0:
		o.truncate(pick(files))
	case k < 8 && len(files) > 0:
		o.syncFile(pick(files))
	case k < 10:
		o.syncDir(dir)
	case k < 11 && len(files) > 0:
		o.rename(pick(files), dir)
	case k < 12 && len(files) > 0:
		o.unlink(pick(files))
	case k < 13 && len(files) > 0:
		o.link(pick(files), dir)
	case k < 14:
		o.mkdir(dir)
	case len(dirs) > 1:
		o.dirOp(dirs[1+o.r.IntN(len(dirs)-1)])
	}
}

func (o *randomOps) abs(rel string) string { return filepath.Join(o.mnt, rel) }

func (o *randomOps) freeName(d *mnode, prefix string) (string, bool) {
	name := fmt.Sprintf("%s%d", prefix, o.r.IntN(8))
	_, taken := d.ents[name]
	return name, !taken
}

func (o *randomOps) create(d mentry) {
	name, ok := o.freeName(d.n, "f")
	if !ok {
		return
	}
	fh, err := os.OpenFile(o.abs(filepath.Join(d.path, name)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	mustNil(o.t, err)
	mustNil(o.t, fh.Close())
	d.n.ents[name] = &mnode{}
}

func (o *randomOps) write(e mentry) {
	off := o.r.IntN(len(e.n.cur) + 5000)
	data := make([]byte, 1+o.r.IntN(20000))
	for i := range data {
		data[i] = byte(o.r.Uint32())
	}
	p := o.abs(e.path)
	switch o.r.IntN(3) {
	case 0: // O_TRUNC rewrite
		mustNil(o.t, os.WriteFile(p, data, 0o644))
		e.n.cur = data
		return
	case 1: // append
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		mustNil(o.t, err)
		_, err = fh.Write(data)
		mustNil(o.t, err)
		mustNil(o.t, fh.Close())
		e.n.cur = append(e.n.cur, data...)
		return
	}
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	mustNil(o.t, err)
	_, err = fh.WriteAt(data, int64(off))
	mustNil(o.t, err)
	mustNil(o.t, fh.Close())
	if end := off + len(data); end > len(e.n.cur) {
		e.n.cur = append(e.n.cur, make([]byte, end-len(e.n.cur))...)
	}
	copy(e.n.cur[off:], data)
}

func (o *randomOps) truncate(e mentry) {
	size := o.r.IntN(len(e.n.cur) + 3000)
	mustNil(o.t, os.Truncate(o.abs(e.path), int64(size)))
	if size <= len(e.n.cur) {
		e.n.cur = e.n.cur[:size]
	} else {
		e.n.cur = append(e.n.cur, make([]byte, size-len(e.n.cur))...)
	}
}

func (o *randomOps) syncFile(e mentry) {
	fh, err := os.OpenFile(o.abs(e.path), os.O_RDONLY, 0)
	mustNil(o.t, err)
	if o.r.IntN(2) == 0 {
		mustNil(o.t, fh.Sync())
	} else {
		mustNil(o.t, unix.Fdatasync(int(fh.Fd())))
	}
	mustNil(o.t, fh.Close())
	e.n.dur = bytes.Clone(e.n.cur)
}

func (o *randomOps) syncDir(d mentry) {
	fsyncPath(o.t, o.abs(d.path))
	d.n.durEnts = maps.Clone(d.n.ents)
}

// rename moves a file to a name in dir; onto another file it replaces it,
// onto another name of the same inode it does nothing (POSIX).
func (o *randomOps) rename(e mentry, d mentry) {
	name := fmt.Sprintf("f%d", o.r.IntN(8))
	if t, ok := d.n.ents[name]; ok && t.dir {
		return
	}
	mustNil(o.t, os.Rename(o.abs(e.path), o.abs(filepath.Join(d.path, name))))
	if d.n.ents[name] == e.n {
		return
	}
	delete(e.parent.ents, e.name)
	d.n.ents[name] = e.n
}

func (o *randomOps) unlink(e mentry) {
	mustNil(o.t, os.Remove(o.abs(e.path)))
	delete(e.parent.ents, e.name)
}

func (o *randomOps) link(e mentry, d mentry) {
	name, ok := o.freeName(d.n, "f")
	if !ok {
		return
	}
	mustNil(o.t, os.Link(o.abs(e.path), o.abs(filepath.Join(d.path, name))))
	d.n.ents[name] = e.n
}

func (o *randomOps) mkdir(d mentry) {
	name, ok := o.freeName(d.n, "d")
	if !ok {
		return
	}
	mustNil(o.t, os.Mkdir(o.abs(filepath.Join(d.path, name)), 0o755))
	d.n.ents[name] = newMDir()
}

// dirOp removes an empty directory or renames one within its parent
// (renames across parents could leave two durable names, which the model
// does not decide).
func (o *randomOps) dirOp(d mentry) {
	if len(d.n.ents) == 0 && o.r.IntN(2) == 0 {
		mustNil(o.t, os.Remove(o.abs(d.path)))
		delete(d.parent.ents, d.name)
		return
	}
	name, ok := o.freeName(d.parent, "d")
	if !ok {
		return
	}
	mustNil(o.t, os.Rename(o.abs(d.path), o.abs(filepath.Join(filepath.Dir(d.path), name))))
	delete(d.parent.ents, d.name)
	d.parent.ents[name] = d.n
}

// checkLower compares lower with the model's durable tree: names, types,
// contents, and which names share an inode.
func checkLower(t *testing.T, lower string, root *mnode) {
	t.Helper()
	want := expect(root)
	inoOf := map[*mnode]uint64{}
	nodeOf := map[uint64]*mnode{}
	seen := 0
	err := filepath.WalkDir(lower, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == lower {
			return err
		}
		rel, _ := filepath.Rel(lower, p)
		n, ok := want[rel]
		if !ok {
			return fmt.Errorf("%s: present, not in the model", rel)
		}
		seen++
		if n.dir != e.IsDir() {
			return fmt.Errorf("%s: dir %v, model %v", rel, e.IsDir(), n.dir)
		}
		if n.dir {
			return nil
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, n.dur) {
			return fmt.Errorf("%s: %d bytes, model %d (differ)", rel, len(got), len(n.dur))
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		if ino, ok := inoOf[n]; ok && ino != st.Ino {
			return fmt.Errorf("%s: not linked to the other names of its inode", rel)
		}
		if m, ok := nodeOf[st.Ino]; ok && m != n {
			return fmt.Errorf("%s: shares an inode with another file", rel)
		}
		inoOf[n], nodeOf[st.Ino] = st.Ino, n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		for p := range want {
			if _, err := os.Lstat(filepath.Join(lower, p)); errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: in the model, missing", p)
			}
		}
		t.Fatalf("%d names in lower, %d in the model", seen, len(want))
	}
}

// TestRandomOps runs seeded random operations, cuts, and compares lower
// with a model of what ext4 may keep, for several rounds on one lower.
func TestRandomOps(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			var opt Options
			if seed == 5 { // shadows on another file system: copies, not links
				opt.ShadowDir = "/dev/shm"
				if fi, err := os.Stat(opt.ShadowDir); err != nil || !fi.IsDir() {
					t.Skip("no /dev/shm")
				}
			}
			lower := newLower(t, map[string]string{"m0": "at mount", "d0/m1": "in a dir", "d0/d1/": ""})
			root := newMDir()
			d0, d1 := newMDir(), newMDir()
			m0 := &mnode{cur: []byte("at mount"), dur: []byte("at mount")}
			m1 := &mnode{cur: []byte("in a dir"), dur: []byte("in a dir")}
			root.ents = map[string]*mnode{"m0": m0, "d0": d0}
			d0.ents = map[string]*mnode{"m1": m1, "d1": d1}
			for _, d := range []*mnode{root, d0, d1} {
				d.durEnts = maps.Clone(d.ents)
			}
			r := rand.New(rand.NewPCG(seed, 42))
			for round := range 3 {
				mnt := t.TempDir()
				f := mountAt(t, lower, mnt, opt)
				o := &randomOps{t: t, r: r, mnt: mnt, root: root}
				for range 250 {
					o.do()
				}
				cut(t, f)
				checkLower(t, lower, root)
				settle(root)
				t.Logf("round %d: %d names durable", round, len(expect(root)))
			}
		})
	}
}
