package meta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Paths. Every inode with one link keeps its parent (Attr.Parent) and the
// name of that link (a key of its own, 'A' ino 'B'); a file with several
// links keeps the set of them instead, one key per link ('A' ino 'L'
// parent name), with Attr.Parent 0. Every change that adds, moves or
// removes a link updates them in its transaction. This is what turns an
// inode of the change feed (a file written on a mount) back into its
// paths, and so into bucket keys.

// Link is a directory entry: the directory and the name.
type Link struct {
	Parent posix.Ino
	Name   string
}

// setName records the name of ino's one link (in Attr.Parent).
func setName(tx kv.Tx, ino posix.Ino, name string) error {
	return tx.Put(nameKey(ino), []byte(name))
}

// addLink records the new link at of ino, whose attributes a already
// count it (a.Nlink is the new count). At a second link, the one name
// joins the set.
func addLink(tx kv.Tx, ino posix.Ino, a *posix.Attr, at Link) error {
	if a.Type == posix.TypeDir || a.Nlink <= 1 {
		a.Parent = at.Parent
		return setName(tx, ino, at.Name)
	}
	if a.Nlink == 2 {
		if a.Parent != 0 {
			name, err := tx.Get(nameKey(ino))
			switch {
			case err == nil:
				if err := tx.Put(linkKey(ino, a.Parent, string(name)), nil); err != nil {
					return err
				}
			case !errors.Is(err, kv.ErrNotFound):
				return err
			}
		}
		if err := tx.Delete(nameKey(ino)); err != nil {
			return err
		}
		a.Parent = 0
	}
	return tx.Put(linkKey(ino, at.Parent, at.Name), nil)
}

// moveLink records that ino's link from is now to (a rename).
func moveLink(tx kv.Tx, ino posix.Ino, a *posix.Attr, from, to Link) error {
	if a.Type == posix.TypeDir || a.Nlink <= 1 {
		a.Parent = to.Parent
		return setName(tx, ino, to.Name)
	}
	if err := tx.Delete(linkKey(ino, from.Parent, from.Name)); err != nil {
		return err
	}
	return tx.Put(linkKey(ino, to.Parent, to.Name), nil)
}

// forgetLink records that ino's link from is gone; a.Nlink is the count
// left. When one is left, it leaves the set for Attr.Parent and the name
// record; when none is (a file still open), the inode has no path.
func forgetLink(tx kv.Tx, ino posix.Ino, a *posix.Attr, from Link) error {
	switch {
	case a.Type == posix.TypeDir:
		return nil // its name goes with it
	case a.Nlink == 0:
		a.Parent = 0
		return nil
	}
	if err := tx.Delete(linkKey(ino, from.Parent, from.Name)); err != nil {
		return err
	}
	if a.Nlink > 1 {
		return nil
	}
	var left [][]byte
	prefix := linkPrefix(ino)
	err := tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{Limit: 2, KeysOnly: true}, func(k, _ []byte) bool {
		left = append(left, append([]byte(nil), k...))
		return true
	})
	if err != nil {
		return err
	}
	a.Parent = 0
	for _, k := range left {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	if len(left) != 1 {
		return nil // links made before sets were kept: no one name known
	}
	l, ok := decodeLinkKey(left[0])
	if !ok {
		return nil
	}
	a.Parent = l.Parent
	return setName(tx, ino, l.Name)
}

// decodeLinkKey reads a link out of its key.
func decodeLinkKey(k []byte) (Link, bool) {
	if len(k) < 18 || k[9] != subLink {
		return Link{}, false
	}
	return Link{posix.Ino(u64(k[10:18])), string(k[18:])}, true
}

// links returns the link set of ino, an inode with a.Nlink > 1; ok is
// false when it is not whole (links made before sets were kept).
func links(tx kv.Tx, ino posix.Ino, a *posix.Attr) (ls []Link, ok bool, err error) {
	prefix := linkPrefix(ino)
	err = tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{Limit: int(a.Nlink) + 1, KeysOnly: true}, func(k, _ []byte) bool {
		if l, ok := decodeLinkKey(k); ok {
			ls = append(ls, l)
		}
		return true
	})
	return ls, err == nil && len(ls) == int(a.Nlink), err
}

// maxDepth bounds the directories InodePath climbs.
const maxDepth = 4096

// InodePath returns the path of ino from the volume's root ("a/b/c"; ""
// for the root itself). An inode with several links (or whose link was
// made before names were kept, or an open file with none left) has no one
// path: ENOENT.
func (m *FS) InodePath(ctx context.Context, ino posix.Ino) (string, error) {
	var path string
	err := m.store.View(ctx, func(tx kv.Tx) error {
		var err error
		path, err = inodePath(tx, ino)
		return err
	})
	return path, err
}

// InodePaths returns every path of ino: InodePath's one, or those of a
// file's several links in key order (ENOENT when some were made before
// link sets were kept).
func (m *FS) InodePaths(ctx context.Context, ino posix.Ino) ([]string, error) {
	var paths []string
	err := m.store.View(ctx, func(tx kv.Tx) error {
		var err error
		paths, err = inodePaths(tx, ino, 0)
		return err
	})
	return paths, err
}

func inodePath(tx kv.Tx, ino posix.Ino) (string, error) {
	if ino == posix.RootIno {
		return "", nil
	}
	a, err := getAttr(tx, ino)
	if err != nil {
		return "", err
	}
	return pathFrom(tx, ino, a)
}

// pathFrom is inodePath of ino, whose attributes a the caller has read.
func pathFrom(tx kv.Tx, ino posix.Ino, a posix.Attr) (string, error) {
	var names []string
	for at := ino; at != posix.RootIno; {
		if len(names) == maxDepth {
			return "", fmt.Errorf("meta: inode %d is deeper than %d directories: %w", ino, maxDepth, syscall.ELOOP)
		}
		if at != ino {
			var err error
			if a, err = getAttr(tx, at); err != nil {
				return "", err
			}
		}
		if a.Parent == 0 || a.Nlink == 0 {
			return "", fmt.Errorf("meta: inode %d has no one path: %w", at, syscall.ENOENT)
		}
		name, err := tx.Get(nameKey(at))
		if errors.Is(err, kv.ErrNotFound) {
			return "", fmt.Errorf("meta: inode %d has no one path: %w", at, syscall.ENOENT)
		}
		if err != nil {
			return "", err
		}
		names = append(names, string(name))
		at = a.Parent
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return strings.Join(names, "/"), nil
}

// inodePaths returns every path of ino (see InodePaths); limit > 0
// bounds how many links are looked up (ENOENT past it).
func inodePaths(tx kv.Tx, ino posix.Ino, limit int) ([]string, error) {
	a, err := getAttr(tx, ino)
	if err != nil {
		return nil, err
	}
	if a.Type == posix.TypeDir || a.Nlink <= 1 {
		p, err := pathFrom(tx, ino, a)
		if err != nil {
			return nil, err
		}
		return []string{p}, nil
	}
	if limit > 0 && int(a.Nlink) > limit {
		return nil, fmt.Errorf("meta: inode %d has %d links, more than %d: %w", ino, a.Nlink, limit, syscall.ENOENT)
	}
	ls, whole, err := links(tx, ino, &a)
	if err != nil {
		return nil, err
	}
	if !whole {
		return nil, fmt.Errorf("meta: inode %d has links of unknown names: %w", ino, syscall.ENOENT)
	}
	paths := make([]string, 0, len(ls))
	for _, l := range ls {
		p, err := underPath(tx, l.Parent, l.Name)
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// underPath is the path of entry name of directory dir.
func underPath(tx kv.Tx, dir posix.Ino, name string) (string, error) {
	p, err := inodePath(tx, dir)
	if err != nil || p == "" {
		return name, err
	}
	return p + "/" + name, nil
}

type pathsKey struct{}

// WithPaths returns a ctx whose changes to regular files — data written
// (at close), truncations by path, links, unlinks, renames — record the
// files' paths in the change feed (Record.Path, NewPath, Paths), found in
// the change's own transaction: a mount's changes become bucket events
// with the keys they had, even when the file or its directory is gone
// before the events are delivered.
func WithPaths(ctx context.Context) context.Context {
	return context.WithValue(ctx, pathsKey{}, true)
}

// maxRecordedLinks bounds the paths a write to a file with several
// links records (one per link, each found by climbing its parents in the
// write's transaction): past it, none.
const maxRecordedLinks = 100

// noPath reports an error that means a file has no path to record (no
// one path, a tree deeper than maxDepth, a damaged attribute): the change
// goes on without one. Errors of the engine (a lost connection may carry
// an errno too) fail the change.
func noPath(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	return errno == syscall.ENOENT || errno == syscall.ELOOP || errno == syscall.EIO && strings.HasPrefix(err.Error(), "meta: ")
}

// recordPaths fills rec's paths, for a ctx that asks for them.
func recordPaths(ctx context.Context, tx kv.Tx, rec *Record) error {
	if want, _ := ctx.Value(pathsKey{}).(bool); !want || rec.Type != posix.TypeFile {
		return nil
	}
	under := func(dir posix.Ino, name string) (string, error) {
		p, err := underPath(tx, dir, name)
		if noPath(err) {
			return "", nil // none recorded
		}
		return p, err
	}
	var err error
	defer func() {
		// A key is UTF-8: a path that is not names no object.
		if !utf8.ValidString(rec.Path) || !utf8.ValidString(rec.NewPath) {
			rec.Path, rec.NewPath = "", ""
		}
		rec.Paths = slices.DeleteFunc(rec.Paths, func(p string) bool { return !utf8.ValidString(p) })
	}()
	switch rec.Op {
	case OpWrite, OpTruncate:
		if rec.Handle {
			break // its handle's close records the write
		}
		var paths []string
		paths, err = inodePaths(tx, rec.Ino, maxRecordedLinks)
		switch {
		case noPath(err):
			err = nil
		case err == nil && len(paths) == 1:
			rec.Path = paths[0]
		case err == nil:
			rec.Paths = paths
		}
	case OpUnlink, OpLink:
		rec.Path, err = under(rec.Parent, rec.Name)
	case OpRename:
		if rec.Path, err = under(rec.Parent, rec.Name); err == nil {
			rec.NewPath, err = under(rec.NewParent, rec.NewName)
		}
	}
	return err
}
