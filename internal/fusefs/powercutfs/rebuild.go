//go:build linux

package powercutfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// rebuild rewrites lower to its durable state, once the mount is gone. It
// builds the durable tree in a staging directory inside lower (so that
// files are moved and linked, not copied), then swaps it in:
//
//  1. find, by inode number, the current names of files whose durable
//     contents are lower's unchanged ones;
//  2. from the root's durable entries down, make each directory, move each
//     shadow into place, link unchanged files from their current name (or
//     keep link), link further names of an inode to the first, recreate
//     symlinks and special files, and set the durable attributes;
//  3. move lower's current entries into the staging directory, the new
//     ones out of it, and remove it.
func (f *engine) rebuild() error {
	locs, err := f.locate()
	if err != nil {
		return err
	}
	stage, err := f.makeStage()
	if err != nil {
		return err
	}
	b := &builder{f: f, locs: locs, made: map[uint64]string{}, visited: map[uint64]bool{}}
	newRoot := filepath.Join(stage, "new")
	if err := os.Mkdir(newRoot, 0o700); err != nil {
		return fmt.Errorf("powercutfs: rebuild: %w", err)
	}
	if err := b.fillDir(f.root, newRoot, false); err != nil {
		return err
	}
	if err := swapIn(f.lower, stage, newRoot); err != nil {
		return err
	}
	if err := os.RemoveAll(stage); err != nil {
		return fmt.Errorf("powercutfs: rebuild: %w", err)
	}
	return setAttrs(f.lower, f.root.durAttrs, false)
}

// locate maps lower inode numbers to a current path, for the files whose
// durable contents are still lower's (not saved, not kept).
func (f *engine) locate() (map[uint64]string, error) {
	need := map[uint64]bool{}
	for _, r := range f.recs {
		if r.kind == kindFile && r.data.needsCopy() && !r.data.kept {
			need[r.data.lowerIno] = true
		}
	}
	locs := map[uint64]string{}
	if len(need) == 0 {
		return locs, nil
	}
	err := filepath.WalkDir(f.lower, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		ino := info.Sys().(*syscall.Stat_t).Ino
		if need[ino] {
			if _, ok := locs[ino]; !ok {
				locs[ino] = p
			}
		}
		if len(locs) == len(need) {
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("powercutfs: rebuild: %w", err)
	}
	return locs, nil
}

// makeStage makes the staging directory in lower, under a name no durable
// root entry has.
func (f *engine) makeStage() (string, error) {
	for {
		var b [8]byte
		rand.Read(b[:])
		name := ".powercutfs-stage-" + hex.EncodeToString(b[:])
		if _, taken := f.root.dir.dur[name]; taken {
			continue
		}
		p := filepath.Join(f.lower, name)
		err := os.Mkdir(p, 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("powercutfs: rebuild: %w", err)
		}
		return p, nil
	}
}

// swapIn replaces lower's entries with newRoot's; lower's old entries go
// to stage/old, removed with stage.
func swapIn(lower, stage, newRoot string) error {
	old := filepath.Join(stage, "old")
	if err := os.Mkdir(old, 0o700); err != nil {
		return fmt.Errorf("powercutfs: rebuild: %w", err)
	}
	ents, err := os.ReadDir(lower)
	if err != nil {
		return fmt.Errorf("powercutfs: rebuild: %w", err)
	}
	for _, e := range ents {
		if p := filepath.Join(lower, e.Name()); p != stage {
			if err := os.Rename(p, filepath.Join(old, e.Name())); err != nil {
				return fmt.Errorf("powercutfs: rebuild: %w", err)
			}
		}
	}
	ents, err = os.ReadDir(newRoot)
	if err != nil {
		return fmt.Errorf("powercutfs: rebuild: %w", err)
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(newRoot, e.Name()), filepath.Join(lower, e.Name())); err != nil {
			return fmt.Errorf("powercutfs: rebuild: %w", err)
		}
	}
	return nil
}

// builder makes the durable tree.
type builder struct {
	f       *engine
	locs    map[uint64]string // lower inode → current path, from locate
	made    map[uint64]string // record id → first path made for it
	visited map[uint64]bool   // directories made
}

// fillDir makes dir's durable entries inside p, then gives p dir's durable
// attributes (last, since adding entries changes its times). A directory
// reachable under two durable names (a rename whose source and target
// directories were fsynced at different times) is made at the first name
// in lexical depth-first order only.
func (b *builder) fillDir(dir *record, p string, setOwn bool) error {
	b.visited[dir.id] = true
	names := make([]string, 0, len(dir.dir.dur))
	for name := range dir.dir.dur {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		r := b.f.recs[dir.dir.dur[name]]
		cp := filepath.Join(p, name)
		if r.kind == kindDir {
			if b.visited[r.id] {
				b.f.log.Warn("powercutfs: directory has two durable names; keeping the first", "ino", r.id, "name", cp)
				continue
			}
			if err := os.Mkdir(cp, 0o700); err != nil {
				return fmt.Errorf("powercutfs: rebuild: %w", err)
			}
			if err := b.fillDir(r, cp, true); err != nil {
				return err
			}
			continue
		}
		if first, ok := b.made[r.id]; ok {
			if err := os.Link(first, cp); err != nil {
				return fmt.Errorf("powercutfs: rebuild: %w", err)
			}
			continue
		}
		if err := b.makeNonDir(r, cp); err != nil {
			return err
		}
		b.made[r.id] = cp
	}
	if !setOwn {
		return nil
	}
	return setAttrs(p, dir.durAttrs, false)
}

// makeNonDir makes r at p with its durable contents and attributes.
func (b *builder) makeNonDir(r *record, p string) error {
	var err error
	switch r.kind {
	case kindSymlink:
		err = os.Symlink(r.target, p)
	case kindOther:
		err = unix.Mknod(p, r.fmt|r.durAttrs.mode, int(r.rdev))
	default:
		err = b.makeFile(r, p)
	}
	if err != nil {
		return fmt.Errorf("powercutfs: rebuild %s: %w", p, err)
	}
	return setAttrs(p, r.durAttrs, r.kind == kindSymlink)
}

// makeFile puts r's durable contents at p (see fileData).
func (b *builder) makeFile(r *record, p string) error {
	f, d := b.f, &r.data
	switch {
	case d.shadow && f.sameFS:
		return os.Rename(f.shadowPath(r), p)
	case d.shadow:
		return copyFile(f.shadowPath(r), p)
	case d.fresh:
		return os.WriteFile(p, nil, 0o600)
	case d.kept:
		return os.Rename(f.keepPath(r), p)
	}
	loc, ok := b.locs[d.lowerIno]
	if !ok {
		return fmt.Errorf("contents of inode %d (lower %d) not found", r.id, d.lowerIno)
	}
	return os.Link(loc, p)
}

// setAttrs gives p the attributes a: owner first (chown clears set-id
// bits), then mode, then times. An owner this process may not give is
// left as it is.
func setAttrs(p string, a attrs, symlink bool) error {
	if err := os.Lchown(p, int(a.uid), int(a.gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("powercutfs: rebuild: %w", err)
	}
	if !symlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, p, a.mode, 0); err != nil {
			return fmt.Errorf("powercutfs: rebuild: chmod %s: %w", p, err)
		}
	}
	ts := []unix.Timespec{
		{Sec: a.atime.Sec, Nsec: a.atime.Nsec},
		{Sec: a.mtime.Sec, Nsec: a.mtime.Nsec},
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("powercutfs: rebuild: utimes %s: %w", p, err)
	}
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
