package meta

import (
	"context"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Rename flags, as renameat2(2).
const (
	RenameNoReplace uint32 = 1 << 0
	RenameExchange  uint32 = 1 << 1
	RenameWhiteout  uint32 = 1 << 2
	// RenameTrusted is no renameat2 flag: the caller (the S3 layer moving
	// its own files, never a FUSE request) renames files that are
	// immutable or append-only, which rename(2) refuses (EPERM).
	RenameTrusted uint32 = 1 << 8
)

// renameSide is one end of a rename: a directory entry and what it names.
type renameSide struct {
	parent posix.Ino
	name   string
	pa     *posix.Attr // the parent directory; shared when both sides have one parent
	ino    posix.Ino   // 0 when the entry does not exist
	typ    posix.FileType
	a      posix.Attr
}

// Rename moves parent/name to newParent/newName with renameat2 semantics:
// an existing target is replaced (a directory only by a directory, which
// must be empty) unless RenameNoReplace; RenameExchange swaps the two
// entries, which must both exist. Renaming onto another link of the same
// inode does nothing. A directory cannot move into its own subtree
// (EINVAL).
func (m *FS) Rename(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, newParent posix.Ino, newName string, flags uint32) error {
	defer m.dirs.lock(parent, newParent)()
	return m.RenameKeep(ctx, cred, parent, name, newParent, newName, flags, nil)
}

// RenameKeep is Rename that, when it replaces a regular file and keep is
// not nil, keeps the replaced file as keep says (see Keep).
func (m *FS) RenameKeep(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, newParent posix.Ino, newName string, flags uint32, keep *Keep) error {
	if flags&^(RenameNoReplace|RenameExchange|RenameTrusted) != 0 || flags&(RenameNoReplace|RenameExchange) == RenameNoReplace|RenameExchange {
		return syscall.EINVAL
	}
	for _, n := range []string{name, newName} {
		if n == "" {
			return syscall.ENOENT
		}
		if n == "." || n == ".." {
			return syscall.EBUSY
		}
		if len(n) > MaxNameLen {
			return syscall.ENAMETOOLONG
		}
	}
	if err := checkName(newName); err != nil {
		return err
	}
	return m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		src, dst, err := m.loadRename(tx, cred, parent, name, newParent, newName)
		if err != nil {
			return err
		}
		if err := m.checkRename(tx, cred, src, dst, flags, keep); err != nil {
			if err == errRenameNoop {
				return nil
			}
			return err
		}
		now := m.now()
		if flags&RenameExchange != 0 {
			err = m.exchange(tx, src, dst, now)
		} else {
			err = m.moveEntry(tx, src, dst, now, keep)
		}
		if err != nil {
			return err
		}
		rec.set(OpRename, src.ino, &src.a)
		rec.Parent, rec.Name, rec.NewParent, rec.NewName = parent, name, newParent, newName
		return nil
	})
}

var errRenameNoop = syscall.Errno(0xFFFF) // internal marker, never returned

func (m *FS) loadRename(tx kv.Tx, cred posix.Cred, parent posix.Ino, name string, newParent posix.Ino, newName string) (*renameSide, *renameSide, error) {
	src := &renameSide{parent: parent, name: name}
	dst := &renameSide{parent: newParent, name: newName}
	pa, err := m.writableDir(tx, cred, parent)
	if err != nil {
		return nil, nil, err
	}
	src.pa = &pa
	if newParent == parent {
		dst.pa = src.pa
	} else {
		npa, err := m.writableDir(tx, cred, newParent)
		if err != nil {
			return nil, nil, err
		}
		dst.pa = &npa
	}
	if src.typ, src.ino, err = lookupEntry(tx, parent, name); err != nil {
		return nil, nil, err
	}
	if src.a, err = getAttr(tx, src.ino); err != nil {
		return nil, nil, err
	}
	dst.typ, dst.ino, err = lookupEntry(tx, newParent, newName)
	if err == syscall.ENOENT {
		dst.ino, err = 0, nil
	} else if err == nil {
		dst.a, err = getAttr(tx, dst.ino)
	}
	return src, dst, err
}

func (m *FS) checkRename(tx kv.Tx, cred posix.Cred, src, dst *renameSide, flags uint32, keep *Keep) error {
	exchange := flags&RenameExchange != 0
	if dst.ino == 0 && exchange {
		return syscall.ENOENT
	}
	if dst.ino != 0 && flags&RenameNoReplace != 0 {
		return syscall.EEXIST
	}
	if dst.ino == src.ino {
		return errRenameNoop // same inode (or same entry): nothing to do
	}
	if !exchange && dst.ino != 0 {
		if src.typ == posix.TypeDir && dst.typ != posix.TypeDir {
			return syscall.ENOTDIR
		}
		if src.typ != posix.TypeDir && dst.typ == posix.TypeDir {
			return syscall.EISDIR
		}
	}
	// A trusted rename moves immutable files; a replaced file that Keep
	// keeps is not removed: for them, only the sticky rules apply.
	trusted := flags&RenameTrusted != 0
	if err := m.checkVictimFlags(tx, cred, src.pa, &src.a, !trusted); err != nil {
		return err
	}
	if dst.ino != 0 {
		kept := keep != nil && dst.typ == posix.TypeFile
		if err := m.checkVictimFlags(tx, cred, dst.pa, &dst.a, !trusted && !kept); err != nil {
			return err
		}
	}
	if src.parent != dst.parent {
		// Moving a directory rewrites its "..": the kernel asks for write
		// permission on the directory itself.
		for _, s := range []*renameSide{src, dst} {
			if s.ino != 0 && s.typ == posix.TypeDir && (s == src || exchange) {
				if err := m.access(tx, cred, &s.a, posix.MayWrite); err != nil {
					return err
				}
			}
		}
		if src.typ == posix.TypeDir {
			if err := isAncestor(tx, src.ino, dst.parent); err != nil {
				return err
			}
		}
		if exchange && dst.typ == posix.TypeDir {
			if err := isAncestor(tx, dst.ino, src.parent); err != nil {
				return err
			}
		}
	}
	if src.parent != dst.parent {
		if err := checkQuotaMove(tx, src, dst.pa.Quota, exchange); err != nil {
			return err
		}
		if exchange {
			if err := checkQuotaMove(tx, dst, src.pa.Quota, true); err != nil {
				return err
			}
		}
	}
	if !exchange && dst.typ == posix.TypeDir && dst.ino != 0 {
		return checkEmpty(tx, dst.ino)
	}
	return nil
}

// checkQuotaMove refuses with EXDEV to move s where the quota to charges
// new inodes, when that is not the one that charges s now: a directory
// (its whole tree would move), or anything in an exchange. A file may
// move; moveEntry moves its usage.
func checkQuotaMove(tx kv.Tx, s *renameSide, to posix.Ino, exchange bool) error {
	q := s.a.Quota
	if q == to {
		return nil
	}
	if q == s.ino {
		// A directory with a quota of its own stays under the one above.
		r, ok, err := getQuotaRecord(tx, q)
		if err != nil || (ok && r.parent == to) {
			return err
		}
		return syscall.EXDEV
	}
	if s.typ == posix.TypeDir || exchange {
		return syscall.EXDEV
	}
	return nil
}

// isAncestor fails with EINVAL when dir is ino or one of its ancestors.
func isAncestor(tx kv.Tx, dir, ino posix.Ino) error {
	for i := 0; i < 100000; i++ {
		if ino == dir {
			return syscall.EINVAL
		}
		if ino == posix.RootIno {
			return nil
		}
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		ino = a.Parent
	}
	return syscall.ELOOP
}

// moveEntry moves src to dst, replacing what dst named.
func (m *FS) moveEntry(tx kv.Tx, src, dst *renameSide, now int64, keep *Keep) error {
	if dst.ino != 0 {
		kept, err := m.keepReplaced(tx, keep, dst.ino, &dst.a, Link{dst.parent, dst.name}, now, src.parent, dst.parent)
		if err != nil {
			return err
		}
		if !kept {
			if err := m.dropLink(tx, dst.ino, &dst.a, Link{dst.parent, dst.name}, now); err != nil {
				return err
			}
		}
		if dst.typ == posix.TypeDir {
			dst.pa.Nlink--
		}
	}
	if err := tx.Delete(dentryKey(src.parent, src.name)); err != nil {
		return err
	}
	if err := tx.Put(dentryKey(dst.parent, dst.name), encodeDentry(src.typ, src.ino)); err != nil {
		return err
	}
	src.a.Ctime = now
	if src.typ != posix.TypeDir && src.a.Quota != dst.pa.Quota && src.a.Quota != src.ino {
		// A file into another quota's tree: its usage goes with it.
		u := inodeUsage(&src.a)
		if err := charge(tx, src.a.Quota, -u, -1); err != nil {
			return err
		}
		if err := charge(tx, dst.pa.Quota, u, 1); err != nil {
			return err
		}
		src.a.Quota = dst.pa.Quota
	}
	if src.parent != dst.parent && src.typ == posix.TypeDir {
		src.pa.Nlink--
		dst.pa.Nlink++
	}
	if err := moveLink(tx, src.ino, &src.a, Link{src.parent, src.name}, Link{dst.parent, dst.name}); err != nil {
		return err
	}
	if err := putAttr(tx, src.ino, &src.a); err != nil {
		return err
	}
	return putParents(tx, src, dst, now)
}

// exchange swaps the inodes that src and dst name.
func (m *FS) exchange(tx kv.Tx, src, dst *renameSide, now int64) error {
	if err := tx.Put(dentryKey(src.parent, src.name), encodeDentry(dst.typ, dst.ino)); err != nil {
		return err
	}
	if err := tx.Put(dentryKey(dst.parent, dst.name), encodeDentry(src.typ, src.ino)); err != nil {
		return err
	}
	src.a.Ctime, dst.a.Ctime = now, now
	if src.parent != dst.parent {
		if src.typ == posix.TypeDir {
			src.pa.Nlink--
			dst.pa.Nlink++
		}
		if dst.typ == posix.TypeDir {
			dst.pa.Nlink--
			src.pa.Nlink++
		}
	}
	if err := moveLink(tx, src.ino, &src.a, Link{src.parent, src.name}, Link{dst.parent, dst.name}); err != nil {
		return err
	}
	if err := moveLink(tx, dst.ino, &dst.a, Link{dst.parent, dst.name}, Link{src.parent, src.name}); err != nil {
		return err
	}
	if err := putAttr(tx, src.ino, &src.a); err != nil {
		return err
	}
	if err := putAttr(tx, dst.ino, &dst.a); err != nil {
		return err
	}
	return putParents(tx, src, dst, now)
}

func putParents(tx kv.Tx, src, dst *renameSide, now int64) error {
	src.pa.Mtime, src.pa.Ctime = now, now
	dst.pa.Mtime, dst.pa.Ctime = now, now
	if err := putAttr(tx, src.parent, src.pa); err != nil {
		return err
	}
	if src.parent == dst.parent {
		return nil
	}
	return putAttr(tx, dst.parent, dst.pa)
}
