package meta

import (
	"context"
	"errors"
	"syscall"

	"cairn/internal/acl"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Unlink removes the entry name (not a directory) from parent. When the
// last link goes, the inode's data is freed — or, if the inode is open in
// this client, kept until the last handle is released.
func (m *FS) Unlink(ctx context.Context, cred posix.Cred, parent posix.Ino, name string) error {
	defer m.dirs.lock(parent)()
	return m.remove(ctx, cred, parent, name, false, nil)
}

// UnlinkEmptied is Unlink that also tells whether parent was left without
// entries, read in the same transaction: the S3 gateway removes the
// directories a deleted key leaves empty, and most deletes leave their
// directory in use, which this answers without a read transaction of its
// own.
func (m *FS) UnlinkEmptied(ctx context.Context, cred posix.Cred, parent posix.Ino, name string) (bool, error) {
	var emptied bool
	err := m.remove(ctx, cred, parent, name, false, &emptied)
	return emptied && err == nil, err
}

// Rmdir removes the empty directory name from parent.
func (m *FS) Rmdir(ctx context.Context, cred posix.Cred, parent posix.Ino, name string) error {
	defer m.dirs.lock(parent)()
	return m.remove(ctx, cred, parent, name, true, nil)
}

// remove unlinks or (dir) removes name; with emptied, it also reports
// whether parent has no entry left.
func (m *FS) remove(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, dir bool, emptied *bool) error {
	switch {
	case name == "." && dir:
		return syscall.EINVAL
	case name == ".." && dir:
		return syscall.ENOTEMPTY
	case name == "." || name == "..":
		return syscall.EISDIR
	case len(name) > MaxNameLen:
		return syscall.ENAMETOOLONG
	}
	return m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		pa, b, err := m.writableDirEntry(tx, cred, parent, name)
		if err != nil {
			return err
		}
		if b == nil {
			return syscall.ENOENT
		}
		typ, ino, err := decodeDentry(b)
		if err != nil {
			return err
		}
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if dir && typ != posix.TypeDir {
			return syscall.ENOTDIR
		}
		if !dir && typ == posix.TypeDir {
			return syscall.EISDIR
		}
		if err := m.checkVictim(tx, cred, &pa, &a); err != nil {
			return err
		}
		if dir {
			if err := checkEmpty(tx, ino); err != nil {
				return err
			}
		}
		now := m.now()
		if err := tx.Delete(dentryKey(parent, name)); err != nil {
			return err
		}
		if emptied != nil {
			err := checkEmpty(tx, parent)
			if err != nil && !errors.Is(err, syscall.ENOTEMPTY) {
				return err
			}
			*emptied = err == nil
		}
		pa.Mtime, pa.Ctime = now, now
		if dir {
			pa.Nlink--
		}
		if err := putAttr(tx, parent, &pa); err != nil {
			return err
		}
		if err := m.dropLink(tx, ino, &a, Link{parent, name}, now); err != nil {
			return err
		}
		rec.set(map[bool]Op{true: OpRmdir, false: OpUnlink}[dir], ino, &a)
		rec.Parent, rec.Name = parent, name
		return nil
	})
}

// checkVictim applies the rules for removing or replacing an entry of dir:
// immutable or append-only flags, and the sticky bit.
func (m *FS) checkVictim(tx kv.Tx, cred posix.Cred, dir, victim *posix.Attr) error {
	return m.checkVictimFlags(tx, cred, dir, victim, true)
}

// checkVictimFlags is checkVictim with the flag rules only when flags.
func (m *FS) checkVictimFlags(tx kv.Tx, cred posix.Cred, dir, victim *posix.Attr, flags bool) error {
	if flags && (dir.Flags&posix.FlagAppend != 0 || victim.Flags&(posix.FlagImmutable|posix.FlagAppend) != 0) {
		return syscall.EPERM
	}
	return posix.CheckSticky(cred, dir, victim)
}

// checkEmpty fails with ENOTEMPTY when directory ino has an entry.
func checkEmpty(tx kv.Tx, ino posix.Ino) error {
	prefix := dentryPrefix(ino)
	empty := true
	err := tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{Limit: 1, KeysOnly: true}, func(_, _ []byte) bool {
		empty = false
		return false
	})
	if err == nil && !empty {
		err = syscall.ENOTEMPTY
	}
	return err
}

// dropLink removes the link from of ino (its entry is already gone), and
// frees the inode when no link is left and it is not open here.
func (m *FS) dropLink(tx kv.Tx, ino posix.Ino, a *posix.Attr, from Link, now int64) error {
	a.Ctime = now
	if a.Type == posix.TypeDir {
		a.Nlink = 0
	} else if a.Nlink > 0 {
		a.Nlink--
	}
	if err := forgetLink(tx, ino, a, from); err != nil {
		return err
	}
	if a.Nlink > 0 {
		return putAttr(tx, ino, a)
	}
	if a.Type == posix.TypeFile && m.keepOpen(tx, ino) {
		// Keep the inode (and its data) for the open handles; the session
		// record lets another client clean up if this one dies.
		if err := putAttr(tx, ino, a); err != nil {
			return err
		}
		m.opens.mu.Lock()
		if m.opens.unlinked == nil {
			m.opens.unlinked = make(map[posix.Ino]bool)
		}
		m.opens.unlinked[ino] = true
		m.opens.mu.Unlock()
		if err := tx.Put(unlinkedKey(ino), putU64(uint64(now))); err != nil {
			return err
		}
		return tx.Put(openKey(m.SessionID(), ino), nil)
	}
	return m.deleteInode(tx, ino, a)
}

// deleteInode removes an inode with no links: attributes, xattrs, symlink
// target, and its data (slices go to the delayed-delete queue).
func (m *FS) deleteInode(tx kv.Tx, ino posix.Ino, a *posix.Attr) error {
	if err := tx.Delete(attrKey(ino)); err != nil {
		return err
	}
	if err := tx.Delete(nameKey(ino)); err != nil {
		return err
	}
	if err := deletePrefix(tx, xattrPrefix(ino)); err != nil {
		return err
	}
	switch a.Type {
	case posix.TypeSymlink:
		if err := tx.Delete(symlinkKey(ino)); err != nil {
			return err
		}
	case posix.TypeFile:
		if err := m.freeChunks(tx, ino, 0); err != nil {
			return err
		}
		if err := m.addUsage(tx, a.Quota, int64(align4k(0))-int64(align4k(a.Length))); err != nil {
			return err
		}
	}
	if err := tx.Delete(unlinkedKey(ino)); err != nil {
		return err
	}
	return m.addInodes(tx, a.Quota, -1)
}

// deletePrefix deletes every key that starts with prefix.
func deletePrefix(tx kv.Tx, prefix []byte) error {
	return tx.DeleteRange(prefix, kv.PrefixEnd(prefix))
}

// loadRule returns the ACL with id (nil for 0).
func (m *FS) loadRule(tx kv.Tx, id uint32) (*acl.Rule, error) {
	if id == 0 {
		return nil, nil
	}
	return m.loadACL(tx, id)
}

// errIsNotFound reports whether err is kv.ErrNotFound.
func errIsNotFound(err error) bool { return errors.Is(err, kv.ErrNotFound) }
