package meta

import (
	"context"
	"errors"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// WalkRequest describes a path lookup done in one read transaction: what
// an S3 GET or HEAD needs (the object's entry, its stored S3 metadata and
// its first chunk) without a round trip per component.
type WalkRequest struct {
	// Names are the components below the start directory, in order.
	Names []string
	// FirstAsRoot looks up Names[0] with root's rights (the caller's
	// rights apply from the second component on): the S3 layer's buckets
	// are entries of the volume root whose existence is not secret.
	FirstAsRoot bool
	// Want, when not zero, is the access (posix.MayRead, ...) the caller
	// needs on the final inode; EACCES otherwise.
	Want uint16
	// Xattr, when set, names an internal extended attribute of the final
	// inode to return (nil when absent).
	Xattr string
	// Chunk0 returns the slice list of the final inode's first chunk, with
	// inline data, when it is a regular file.
	Chunk0 bool
}

// WalkResult is what Walk found.
type WalkResult struct {
	// Found is how many names were resolved; on ENOENT or ENOTDIR it is
	// the index of the name that failed.
	Found int
	// Path holds the inode of each name resolved, in order.
	Path []posix.Ino
	// Entry is the final inode; it is also set when only the Want check
	// failed (EACCES), so that the caller can tell what it found.
	Entry  Entry
	Xattr  []byte
	Chunk0 []Slice
}

// Walk resolves req.Names from dir as cred in one read transaction, with
// the search-permission checks of a lookup at every directory. A missing
// component is ENOENT and a non-directory before the last one ENOTDIR;
// "." and ".." are not allowed (EINVAL).
func (m *FS) Walk(ctx context.Context, cred posix.Cred, dir posix.Ino, req WalkRequest) (WalkResult, error) {
	if len(req.Names) == 0 {
		return WalkResult{}, syscall.EINVAL
	}
	for _, n := range req.Names {
		if n == "" || n == "." || n == ".." {
			return WalkResult{}, syscall.EINVAL
		}
		if len(n) > MaxNameLen {
			return WalkResult{}, syscall.ENAMETOOLONG
		}
	}
	var out WalkResult
	err := m.store.View(ctx, func(tx kv.Tx) error {
		out = WalkResult{}
		// Errors inside keep what was found so far in out.
		ino := dir
		a, err := getAttr(tx, dir)
		if err != nil {
			return err
		}
		for i, name := range req.Names {
			if a.Type != posix.TypeDir {
				return syscall.ENOTDIR
			}
			c := cred
			if i == 0 && req.FirstAsRoot {
				c = posix.Root
			}
			if err := m.access(tx, c, &a, posix.MayExec); err != nil {
				return err
			}
			if _, ino, err = lookupEntry(tx, ino, name); err != nil {
				return err
			}
			if a, err = getAttr(tx, ino); err != nil {
				return err
			}
			out.Found = i + 1
			out.Path = append(out.Path, ino)
		}
		out.Entry = Entry{Ino: ino, Attr: a}
		if req.Want != 0 {
			if err := m.access(tx, cred, &a, req.Want); err != nil {
				return err
			}
		}
		if req.Xattr != "" {
			v, err := tx.Get(xattrKey(ino, req.Xattr))
			if err != nil && !errors.Is(err, kv.ErrNotFound) {
				return err
			}
			out.Xattr = v
		}
		if req.Chunk0 && a.Type == posix.TypeFile {
			b, err := tx.Get(chunkKey(ino, 0))
			switch {
			case errors.Is(err, kv.ErrNotFound):
			case err != nil:
				return err
			default:
				if out.Chunk0, err = decodeSlices(b); err != nil {
					return err
				}
				return loadInline(tx, out.Chunk0)
			}
		}
		return nil
	})
	return out, err
}
