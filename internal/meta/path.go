package meta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"unicode/utf8"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Paths. Every inode with one link keeps its parent (Attr.Parent) and the
// name of that link (a key of its own, 'A' ino 'B'), updated by every
// change that moves it; a second hard link clears the parent, as the
// inode then has no one path. This is what turns an inode of the change
// feed (a file written on a mount) back into a path, and so into a bucket
// and key.

// setName records the name of ino's one link (in Attr.Parent).
func setName(tx kv.Tx, ino posix.Ino, name string) error {
	return tx.Put(nameKey(ino), []byte(name))
}

// maxDepth bounds the directories InodePath climbs.
const maxDepth = 4096

// InodePath returns the path of ino from the volume's root ("a/b/c"; ""
// for the root itself). An inode with several links (or whose link was
// made before names were kept) has no one path: ENOENT.
func (m *FS) InodePath(ctx context.Context, ino posix.Ino) (string, error) {
	var path string
	err := m.store.View(ctx, func(tx kv.Tx) error {
		var err error
		path, err = inodePath(tx, ino)
		return err
	})
	return path, err
}

func inodePath(tx kv.Tx, ino posix.Ino) (string, error) {
	var names []string
	for at := ino; at != posix.RootIno; {
		if len(names) == maxDepth {
			return "", fmt.Errorf("meta: inode %d is deeper than %d directories: %w", ino, maxDepth, syscall.ELOOP)
		}
		a, err := getAttr(tx, at)
		if err != nil {
			return "", err
		}
		name, err := tx.Get(nameKey(at))
		if errors.Is(err, kv.ErrNotFound) || a.Parent == 0 {
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

type pathsKey struct{}

// WithPaths returns a ctx whose changes to regular files — data written
// (at close), unlinks, renames — record the files' paths in the change
// feed (Record.Path, NewPath), found in the change's own transaction: a
// mount's changes become bucket events with the keys they had, even when
// the file or its directory is gone before the events are delivered.
func WithPaths(ctx context.Context) context.Context {
	return context.WithValue(ctx, pathsKey{}, true)
}

// recordPaths fills rec's paths, for a ctx that asks for them.
func recordPaths(ctx context.Context, tx kv.Tx, rec *Record) error {
	if want, _ := ctx.Value(pathsKey{}).(bool); !want || rec.Type != posix.TypeFile {
		return nil
	}
	under := func(dir posix.Ino, name string) (string, error) {
		p, err := inodePath(tx, dir)
		switch {
		case errors.Is(err, syscall.ENOENT):
			return "", nil // no one path: none recorded
		case err != nil:
			return "", err
		case p == "":
			return name, nil
		}
		return p + "/" + name, nil
	}
	var err error
	defer func() {
		// A key is UTF-8: a path that is not names no object.
		if !utf8.ValidString(rec.Path) || !utf8.ValidString(rec.NewPath) {
			rec.Path, rec.NewPath = "", ""
		}
	}()
	switch rec.Op {
	case OpWrite:
		rec.Path, err = inodePath(tx, rec.Ino)
		if errors.Is(err, syscall.ENOENT) {
			rec.Path, err = "", nil
		}
	case OpUnlink:
		rec.Path, err = under(rec.Parent, rec.Name)
	case OpRename:
		if rec.Path, err = under(rec.Parent, rec.Name); err == nil {
			rec.NewPath, err = under(rec.NewParent, rec.NewName)
		}
	}
	return err
}
