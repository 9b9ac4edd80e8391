package meta

import (
	"context"
	"strconv"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Folding: a name that must become a directory while a regular file holds
// it. The S3 layer needs it for a key that is both an object and a prefix
// ("a/b" and "a/b/c"): the directory takes the name, and the file moves,
// untouched (its inode, data, owner and metadata), into a directory of
// folded files under the new directory's inode number. Each direction is
// one transaction, so no reader ever finds neither.

// FoldName is the name a file folded for directory dir has in its fold
// directory.
func FoldName(dir posix.Ino) string { return strconv.FormatUint(uint64(dir), 10) }

// FoldFile replaces the regular file parent/name with a new directory
// (mode and umask as Create takes them, made as cred makes directories:
// cred needs write and search permission on parent, and the sticky rules
// apply to the file it displaces) and moves the file to foldDir under
// FoldName of the new directory; xattrs are set on the directory. When
// parent/name is a directory already, FoldFile returns it and changes
// nothing; ENOTDIR when it is neither.
func (m *FS) FoldFile(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, foldDir posix.Ino, mode, umask uint32, xattrs map[string][]byte) (Entry, error) {
	ino, err := m.newInode(ctx)
	if err != nil {
		return Entry{}, err
	}
	var out Entry
	err = m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		pa, err := m.writableDir(tx, cred, parent)
		if err != nil {
			return err
		}
		typ, fileIno, err := lookupEntry(tx, parent, name)
		if err != nil {
			return err
		}
		if typ == posix.TypeDir {
			out.Ino = fileIno
			out.Attr, err = getAttr(tx, fileIno)
			return err
		}
		if typ != posix.TypeFile {
			return syscall.ENOTDIR
		}
		fa, err := getAttr(tx, fileIno)
		if err != nil {
			return err
		}
		// The file keeps its flags (a locked object stays locked): only
		// the sticky rules apply to moving it.
		if err := m.checkVictimFlags(tx, cred, &pa, &fa, false); err != nil {
			return err
		}
		fda, err := getAttr(tx, foldDir)
		if err != nil {
			return err
		}
		if !fda.IsDir() {
			return syscall.ENOTDIR
		}
		if err := m.checkInodeQuota(tx); err != nil {
			return err
		}
		a, err := m.newAttr(tx, cred, &pa, CreateRequest{Type: posix.TypeDir, Mode: mode, Umask: umask})
		if err != nil {
			return err
		}
		a.Parent = parent
		if err := putAttr(tx, ino, &a); err != nil {
			return err
		}
		if err := setName(tx, ino, name); err != nil {
			return err
		}
		for k, v := range xattrs {
			if err := tx.Put(xattrKey(ino, k), v); err != nil {
				return err
			}
		}
		if err := tx.Put(dentryKey(parent, name), encodeDentry(posix.TypeDir, ino)); err != nil {
			return err
		}
		foldName := FoldName(ino)
		if _, err := tx.Get(dentryKey(foldDir, foldName)); err == nil {
			return syscall.EEXIST // inode numbers are never reused: a damaged fold directory
		}
		if err := tx.Put(dentryKey(foldDir, foldName), encodeDentry(posix.TypeFile, fileIno)); err != nil {
			return err
		}
		now := a.Mtime
		if err := moveLink(tx, fileIno, &fa, Link{parent, name}, Link{foldDir, foldName}); err != nil {
			return err
		}
		fa.Ctime = now
		if err := putAttr(tx, fileIno, &fa); err != nil {
			return err
		}
		pa.Nlink++
		pa.Mtime, pa.Ctime = now, now
		if err := putAttr(tx, parent, &pa); err != nil {
			return err
		}
		fda.Mtime, fda.Ctime = now, now
		if err := putAttr(tx, foldDir, &fda); err != nil {
			return err
		}
		if err := m.addInodes(tx, a.Quota, 1); err != nil {
			return err
		}
		out = Entry{Ino: ino, Attr: a}
		rec.set(OpMkdir, ino, &a)
		rec.Parent, rec.Name = parent, name
		return nil
	})
	return out, err
}

// UnfoldDir undoes FoldFile: the empty directory parent/name goes, and
// the file folded for it in foldDir takes its name back. ENOTEMPTY when
// the directory has entries, ENOENT when no file is folded for it (or
// the name is not a directory). cred needs write and search permission
// on parent.
func (m *FS) UnfoldDir(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, foldDir posix.Ino) error {
	return m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		pa, err := m.writableDir(tx, cred, parent)
		if err != nil {
			return err
		}
		typ, dirIno, err := lookupEntry(tx, parent, name)
		if err != nil {
			return err
		}
		if typ != posix.TypeDir {
			return syscall.ENOENT
		}
		da, err := getAttr(tx, dirIno)
		if err != nil {
			return err
		}
		if err := m.checkVictim(tx, cred, &pa, &da); err != nil {
			return err
		}
		if err := checkEmpty(tx, dirIno); err != nil {
			return err
		}
		foldName := FoldName(dirIno)
		ftyp, fileIno, err := lookupEntry(tx, foldDir, foldName)
		if err != nil {
			return err
		}
		if ftyp != posix.TypeFile {
			return syscall.ENOENT
		}
		fa, err := getAttr(tx, fileIno)
		if err != nil {
			return err
		}
		fda, err := getAttr(tx, foldDir)
		if err != nil {
			return err
		}
		now := m.now()
		if err := tx.Delete(dentryKey(foldDir, foldName)); err != nil {
			return err
		}
		if err := tx.Put(dentryKey(parent, name), encodeDentry(posix.TypeFile, fileIno)); err != nil {
			return err
		}
		if err := m.deleteInode(tx, dirIno, &da); err != nil {
			return err
		}
		if err := moveLink(tx, fileIno, &fa, Link{foldDir, foldName}, Link{parent, name}); err != nil {
			return err
		}
		fa.Ctime = now
		if err := putAttr(tx, fileIno, &fa); err != nil {
			return err
		}
		pa.Nlink--
		pa.Mtime, pa.Ctime = now, now
		if err := putAttr(tx, parent, &pa); err != nil {
			return err
		}
		fda.Mtime, fda.Ctime = now, now
		if err := putAttr(tx, foldDir, &fda); err != nil {
			return err
		}
		rec.set(OpRmdir, dirIno, &da)
		rec.Parent, rec.Name = parent, name
		return nil
	})
}
