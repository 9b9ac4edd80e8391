package meta

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// MaxInline is the largest file PutFile stores inline in the metadata
// engine (PutFileRequest.Inline).
const MaxInline = 64 << 10

// PutFileRequest describes a regular file created whole, with its data
// already stored as slices: what an S3 PUT of a small object needs.
type PutFileRequest struct {
	// Mode holds the permission bits asked for, before the umask.
	Mode  uint32
	Umask uint32
	// Length is the file's size; Slices cover its data.
	Length uint64
	Slices []WriteRequest
	// Inline, when not empty, is the whole file's data (Length bytes, at
	// most MaxInline, Slices empty), stored in the metadata engine as one
	// inline slice in the same transaction: no object store round trip.
	Inline []byte
	// Xattrs are stored on the new file as they are, without permission
	// checks (the caller's internal attributes).
	Xattrs map[string][]byte
	// NoReplace fails with EEXIST when name exists.
	NoReplace bool
	// Mtime, when set, is the new file's atime, mtime and ctime (ns), so
	// that the caller knows it before the transaction (the S3 layer keeps
	// it with the object's metadata).
	Mtime int64
	// Dirs, when set, are directory names walked from parent inside the
	// transaction, with the search-permission checks of a lookup (Dirs[0]
	// as root when FirstAsRoot, as in WalkRequest): the file is created in
	// the last. A missing component or a non-directory fails with a
	// *WalkError. The S3 layer stores an object under bucket/a/b/ this way
	// in one transaction on the writer, instead of lookups in read
	// transactions first, whose page cache every commit empties.
	Dirs        []string
	FirstAsRoot bool
	// Keep, when set, keeps a replaced file under another name (Keep).
	Keep *Keep
	// Flags are the new file's inode flags (posix.FlagImmutable: a
	// locked object version is immutable from its creation on).
	Flags uint8
}

// WalkError is PutFile's failure to walk its Dirs: Dirs[Found] is missing
// (ENOENT), or the component before it is not a directory (ENOTDIR).
type WalkError struct {
	Found int
	Err   error
}

func (e *WalkError) Error() string {
	return fmt.Sprintf("meta: walking to the parent, component %d: %v", e.Found, e.Err)
}

func (e *WalkError) Unwrap() error { return e.Err }

// walkDirs resolves names from dir inside tx as Walk does, and returns the
// last directory.
func (m *FS) walkDirs(tx kv.Tx, cred posix.Cred, dir posix.Ino, names []string, firstAsRoot bool) (posix.Ino, error) {
	a, err := getAttr(tx, dir)
	if err != nil {
		return 0, err
	}
	for i, name := range names {
		if a.Type != posix.TypeDir {
			return 0, &WalkError{Found: i, Err: syscall.ENOTDIR}
		}
		c := cred
		if i == 0 && firstAsRoot {
			c = posix.Root
		}
		if err := m.access(tx, c, &a, posix.MayExec); err != nil {
			return 0, err
		}
		_, ino, err := lookupEntry(tx, dir, name)
		if errors.Is(err, syscall.ENOENT) {
			return 0, &WalkError{Found: i, Err: err}
		}
		if err != nil {
			return 0, err
		}
		if a, err = getAttr(tx, ino); err != nil {
			return 0, err
		}
		dir = ino
	}
	if a.Type != posix.TypeDir {
		return 0, &WalkError{Found: len(names), Err: syscall.ENOTDIR}
	}
	return dir, nil
}

// PutFile creates a complete regular file as name in parent in one
// transaction, atomically replacing a regular file of that name as a
// rename over it would: readers see the old file or the new one. The
// caller needs write and search permission on parent, write permission on
// a replaced file, and the sticky rules apply; a directory at name is
// EISDIR. The change feed records one create.
func (m *FS) PutFile(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, req PutFileRequest) (Entry, error) {
	defer m.dirs.lock(parent)()
	if err := checkName(name); err != nil {
		return Entry{}, err
	}
	for _, d := range req.Dirs {
		if d == "." || d == ".." {
			return Entry{}, syscall.EINVAL
		}
		if err := checkName(d); err != nil {
			return Entry{}, err
		}
	}
	for _, s := range req.Slices {
		if uint64(s.Slice.Pos)+uint64(s.Slice.Len) > ChunkSize {
			return Entry{}, syscall.EINVAL
		}
	}
	for x, v := range req.Xattrs {
		if len(x) > MaxXattrNameLen || len(v) > MaxXattrValueLen {
			return Entry{}, syscall.E2BIG
		}
	}
	var inline Slice
	if len(req.Inline) > 0 {
		if len(req.Inline) > MaxInline || len(req.Slices) > 0 || uint64(len(req.Inline)) != req.Length {
			return Entry{}, syscall.EINVAL
		}
		id, err := m.NewSliceID(ctx)
		if err != nil {
			return Entry{}, err
		}
		n := uint32(len(req.Inline))
		inline = Slice{ID: id | InlineBit, Size: n, Len: n}
	}
	ino, err := m.newInode(ctx)
	if err != nil {
		return Entry{}, err
	}
	var out Entry
	err = m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		p := parent
		if len(req.Dirs) > 0 {
			var err error
			if p, err = m.walkDirs(tx, cred, parent, req.Dirs, req.FirstAsRoot); err != nil {
				return err
			}
		}
		pa, b, err := m.writableDirEntry(tx, cred, p, name)
		if err != nil {
			return err
		}
		now := m.now()
		if b != nil {
			if req.NoReplace {
				return syscall.EEXIST
			}
			typ, old, err := decodeDentry(b)
			if err != nil {
				return err
			}
			if typ == posix.TypeDir {
				return syscall.EISDIR
			}
			oa, err := getAttr(tx, old)
			if err != nil {
				return err
			}
			if err := m.access(tx, cred, &oa, posix.MayWrite); err != nil {
				return err
			}
			kept, err := m.keepReplaced(tx, req.Keep, old, &oa, Link{p, name}, now, p)
			if err != nil {
				return err
			}
			// A kept file is not removed: only the sticky rules apply.
			if err := m.checkVictimFlags(tx, cred, &pa, &oa, !kept); err != nil {
				return err
			}
			if !kept {
				if err := m.dropLink(tx, old, &oa, Link{p, name}, now); err != nil {
					return err
				}
			}
		}
		if err := m.checkInodeQuota(tx); err != nil {
			return err
		}
		a, err := m.newAttr(tx, cred, &pa, CreateRequest{Type: posix.TypeFile, Mode: req.Mode, Umask: req.Umask})
		if err != nil {
			return err
		}
		a.Parent, a.Length, a.Flags = p, req.Length, req.Flags
		if req.Mtime != 0 {
			a.Atime, a.Mtime, a.Ctime = req.Mtime, req.Mtime, req.Mtime
		}
		for _, s := range req.Slices {
			if err := appendChunk(tx, ino, s.Index, s.Slice); err != nil {
				return err
			}
		}
		if inline.ID != 0 {
			if err := tx.Put(inlineKey(inline.ID), req.Inline); err != nil {
				return err
			}
			if err := appendChunk(tx, ino, 0, inline); err != nil {
				return err
			}
		}
		if err := m.addUsage(tx, a.Quota, int64(align4k(req.Length))); err != nil {
			return err
		}
		for x, v := range req.Xattrs {
			if err := tx.Put(xattrKey(ino, x), v); err != nil {
				return err
			}
		}
		if err := putAttr(tx, ino, &a); err != nil {
			return err
		}
		if err := setName(tx, ino, name); err != nil {
			return err
		}
		if err := tx.Put(dentryKey(p, name), encodeDentry(posix.TypeFile, ino)); err != nil {
			return err
		}
		pa.Mtime, pa.Ctime = now, now
		if err := putAttr(tx, p, &pa); err != nil {
			return err
		}
		if err := m.addInodes(tx, a.Quota, 1); err != nil {
			return err
		}
		out = Entry{Ino: ino, Attr: a}
		rec.set(OpCreate, ino, &a)
		rec.Parent, rec.Name = p, name
		return nil
	})
	return out, err
}

// Keep asks a rename or PutFile that replaces a regular file to keep the
// replaced inode, linked as Dir/Name(...), instead of dropping its link —
// in the same transaction, so no reader ever sees it in neither place and
// no byte is copied. The S3 layer keeps the noncurrent versions of an
// object this way. Dir must exist and differ from the operation's
// parent directories; no permission check applies to it (it
// is the caller's internal directory). Name receives the replaced inode's
// attributes and its extended attribute named Xattr (nil when absent) and
// returns the name to keep it under, or "" to drop it as usual. An
// existing entry of that name fails the transaction with EEXIST, unless it
// already names the replaced inode.
type Keep struct {
	Dir   posix.Ino
	Xattr string
	Name  func(a posix.Attr, xattr []byte) string
}

// keepReplaced links the replaced inode ino (attributes a, taken from tx)
// into k.Dir when k names it; it reports whether it did, in which case the
// caller must not drop the replaced link.
func (m *FS) keepReplaced(tx kv.Tx, k *Keep, ino posix.Ino, a *posix.Attr, from Link, now int64, parents ...posix.Ino) (bool, error) {
	if k == nil || a.Type != posix.TypeFile {
		return false, nil
	}
	for _, p := range parents {
		if p == k.Dir {
			return false, syscall.EINVAL // the caller's parent attributes would be stale
		}
	}
	var xv []byte
	if k.Xattr != "" {
		b, err := tx.Get(xattrKey(ino, k.Xattr))
		switch {
		case err == nil:
			xv = b
		case !errors.Is(err, kv.ErrNotFound):
			return false, err
		}
	}
	name := k.Name(*a, xv)
	if name == "" {
		if a.Flags&(posix.FlagImmutable|posix.FlagAppend) != 0 {
			return false, syscall.EPERM // dropping it would remove it
		}
		return false, nil
	}
	if err := checkName(name); err != nil {
		return false, err
	}
	da, err := getAttr(tx, k.Dir)
	if err != nil {
		return false, err
	}
	if da.Type != posix.TypeDir {
		return false, syscall.ENOTDIR
	}
	b, err := tx.Get(dentryKey(k.Dir, name))
	switch {
	case err == nil:
		if _, other, derr := decodeDentry(b); derr != nil || other != ino {
			return false, syscall.EEXIST
		}
		// Already kept there (a retried step): the replaced link goes.
		return false, nil
	case !errors.Is(err, kv.ErrNotFound):
		return false, err
	}
	if err := tx.Put(dentryKey(k.Dir, name), encodeDentry(posix.TypeFile, ino)); err != nil {
		return false, err
	}
	a.Ctime = now
	if err := moveLink(tx, ino, a, from, Link{k.Dir, name}); err != nil {
		return false, err
	}
	if err := putAttr(tx, ino, a); err != nil {
		return false, err
	}
	da.Mtime, da.Ctime = now, now
	return true, putAttr(tx, k.Dir, &da)
}
