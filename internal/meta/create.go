package meta

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"cairn/internal/acl"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// checkName validates a new directory entry name.
func checkName(name string) error {
	if len(name) > MaxNameLen {
		return syscall.ENAMETOOLONG
	}
	if name == "" {
		return syscall.ENOENT // as for an empty path
	}
	if name == "." || name == ".." {
		return syscall.EEXIST
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return syscall.EINVAL
		}
	}
	return nil
}

// CreateRequest describes a new inode.
type CreateRequest struct {
	Type posix.FileType
	// Mode holds the permission and special bits asked for, before the umask.
	Mode uint32
	// Umask is applied unless the parent has a default ACL.
	Umask uint32
	Rdev  uint32
	// Target is a symlink's target.
	Target string
	// Exclusive fails with EEXIST when the name exists (O_EXCL, mkdir,
	// mknod, symlink). Without it, Create on an existing regular file
	// returns that file (O_CREAT without O_EXCL) with Existed set.
	Exclusive bool
}

// CreateResult is the created (or, for a non-exclusive create, found) inode.
type CreateResult struct {
	Entry
	Existed bool
}

// Create makes a new inode of any type in parent. The caller needs write and
// search permission on parent. Mode, group and ACLs follow the kernel's
// rules: setgid directories pass on their group (and setgid to
// subdirectories), a default ACL on parent is inherited with the umask
// ignored, otherwise the umask applies.
func (m *FS) Create(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, req CreateRequest) (CreateResult, error) {
	defer m.dirs.lock(parent)()
	if err := checkName(name); err != nil {
		return CreateResult{}, err
	}
	switch req.Type {
	case posix.TypeSymlink:
		if len(req.Target) == 0 {
			return CreateResult{}, fmt.Errorf("empty symlink target: %w", syscall.ENOENT)
		}
		if len(req.Target) > MaxSymlinkLen {
			return CreateResult{}, fmt.Errorf("symlink target of %d bytes: %w", len(req.Target), syscall.ENAMETOOLONG)
		}
	case posix.TypeFile, posix.TypeDir, posix.TypeFIFO, posix.TypeSocket, posix.TypeBlockDev, posix.TypeCharDev:
	default:
		return CreateResult{}, syscall.EINVAL
	}
	ino, err := m.newInode(ctx)
	if err != nil {
		return CreateResult{}, err
	}
	var res CreateResult
	err = m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		res = CreateResult{}
		pa, b, err := m.writableDirEntry(tx, cred, parent, name)
		if err != nil {
			return err
		}
		if b != nil {
			typ, old, err := decodeDentry(b)
			if err != nil {
				return err
			}
			if req.Exclusive || req.Type != posix.TypeFile {
				return syscall.EEXIST
			}
			if typ == posix.TypeDir {
				return syscall.EISDIR
			}
			res.Existed, res.Ino = true, old
			res.Attr, err = getAttr(tx, old)
			return err
		}
		if err := m.checkInodeQuota(tx); err != nil {
			return err
		}
		a, err := m.newAttr(tx, cred, &pa, req)
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
		if req.Type == posix.TypeSymlink {
			if err := tx.Put(symlinkKey(ino), []byte(req.Target)); err != nil {
				return err
			}
		}
		if err := tx.Put(dentryKey(parent, name), encodeDentry(req.Type, ino)); err != nil {
			return err
		}
		if req.Type == posix.TypeDir {
			pa.Nlink++
		}
		pa.Mtime, pa.Ctime = a.Mtime, a.Mtime
		if err := putAttr(tx, parent, &pa); err != nil {
			return err
		}
		if err := m.addInodes(tx, a.Quota, 1); err != nil {
			return err
		}
		res.Ino, res.Attr = ino, a
		rec.set(createOp(req.Type), ino, &a)
		rec.Parent, rec.Name = parent, name
		return nil
	})
	return res, err
}

func createOp(t posix.FileType) Op {
	switch t {
	case posix.TypeFile:
		return OpCreate
	case posix.TypeDir:
		return OpMkdir
	case posix.TypeSymlink:
		return OpSymlink
	}
	return OpMknod
}

// writableDir loads parent and checks that cred may add or remove entries.
func (m *FS) writableDir(tx kv.Tx, cred posix.Cred, parent posix.Ino) (posix.Attr, error) {
	pa, err := getAttr(tx, parent)
	if err != nil {
		return pa, err
	}
	return pa, m.checkWritableDir(tx, cred, &pa)
}

// writableDirEntry is writableDir that also reads parent's entry name,
// in the same request to the engine (a round trip to a database server
// fewer): the entry's value, or nil when there is none.
func (m *FS) writableDirEntry(tx kv.Tx, cred posix.Cred, parent posix.Ino, name string) (posix.Attr, []byte, error) {
	vals, err := tx.Gets(attrKey(parent), dentryKey(parent, name))
	if err != nil {
		return posix.Attr{}, nil, err
	}
	if vals[0] == nil {
		return posix.Attr{}, nil, syscall.ENOENT
	}
	pa, err := decodeAttr(vals[0])
	if err != nil {
		return pa, nil, err
	}
	if err := m.checkWritableDir(tx, cred, &pa); err != nil {
		return pa, nil, err
	}
	return pa, vals[1], nil
}

// checkWritableDir checks that cred may add or remove entries in the
// directory whose attributes are pa.
func (m *FS) checkWritableDir(tx kv.Tx, cred posix.Cred, pa *posix.Attr) error {
	if pa.Type != posix.TypeDir {
		return syscall.ENOTDIR
	}
	if pa.Nlink == 0 {
		return syscall.ENOENT // removed while a handle was open
	}
	if err := m.access(tx, cred, pa, posix.MayWrite|posix.MayExec); err != nil {
		return err
	}
	if pa.Flags&posix.FlagImmutable != 0 {
		return syscall.EPERM
	}
	return nil
}

// newAttr computes a new inode's attributes (mode, owner, ACLs) under parent.
func (m *FS) newAttr(tx kv.Tx, cred posix.Cred, pa *posix.Attr, req CreateRequest) (posix.Attr, error) {
	now := m.now()
	a := posix.Attr{Type: req.Type, UID: cred.UID, Nlink: 1, Atime: now, Mtime: now, Ctime: now, Quota: pa.Quota}
	var dflt *acl.Rule
	if m.fmt.EnableACL && pa.DefaultACL != 0 {
		var err error
		if dflt, err = m.loadACL(tx, pa.DefaultACL); err != nil {
			return a, err
		}
	}
	mode := req.Mode & posix.ModeMask
	if req.Type == posix.TypeSymlink {
		mode, dflt = 0o777, nil
	}
	if dflt != nil {
		if err := m.inheritACL(tx, cred, pa, req.Type, mode, dflt, &a); err != nil {
			return a, err
		}
	} else {
		c := posix.CreateAttr(cred, pa, req.Type, mode, req.Umask, nil)
		a.Mode, a.GID = c.Mode, c.GID
	}
	if req.Type == posix.TypeSymlink {
		a.Mode = 0o777
	}
	switch req.Type {
	case posix.TypeDir:
		a.Nlink, a.Length = 2, 4096
	case posix.TypeSymlink:
		a.Length = uint64(len(req.Target))
	case posix.TypeBlockDev, posix.TypeCharDev:
		a.Rdev = req.Rdev
	}
	return a, nil
}

// inheritACL sets the mode, group and ACLs of a new inode a under
// parent pa, whose default ACL is dflt. A new directory inherits the
// default ACL itself (same id). The access ACL depends only on the default
// ACL and the mode's permission bits, so the committed answer is
// remembered by (default ACL id, bits): with a large default ACL, making
// and encoding the access ACL again for every create would cost more than
// the rest of the create.
func (m *FS) inheritACL(tx kv.Tx, cred posix.Cred, pa *posix.Attr, typ posix.FileType, mode uint32, dflt *acl.Rule, a *posix.Attr) error {
	if typ == posix.TypeDir {
		a.DefaultACL = pa.DefaultACL
	}
	key := uint64(pa.DefaultACL)<<16 | uint64(mode&posix.ModePerm)
	m.aclMu.RLock()
	id, ok := m.aclInherit[key]
	m.aclMu.RUnlock()
	if ok {
		c := posix.CreateInherited(cred, pa, typ, mode, dflt.InheritPerm(mode))
		a.Mode, a.GID, a.AccessACL = c.Mode, c.GID, id
		return nil
	}
	c := posix.CreateAttr(cred, pa, typ, mode, 0, dflt)
	a.Mode, a.GID = c.Mode, c.GID
	var err error
	if a.AccessACL, err = m.storeACL(tx, c.Access, false); err != nil {
		return err
	}
	if !createdIn(tx, a.AccessACL) && !createdIn(tx, pa.DefaultACL) {
		m.aclMu.Lock()
		m.aclInherit[key] = a.AccessACL
		m.aclMu.Unlock()
	}
	return nil
}

// checkInodeQuota fails with ENOSPC when the volume's inode limit is reached.
func (m *FS) checkInodeQuota(tx kv.Tx) error {
	if m.fmt.Inodes == 0 {
		return nil
	}
	n, err := counterTotal(tx, cfgInodes)
	if err != nil {
		return err
	}
	if n >= 0 && uint64(n) >= m.fmt.Inodes {
		return syscall.ENOSPC
	}
	return nil
}

// Readlink returns a symlink's target.
func (m *FS) Readlink(ctx context.Context, ino posix.Ino) (string, error) {
	var target string
	err := m.store.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(symlinkKey(ino))
		if errors.Is(err, kv.ErrNotFound) {
			if _, err := getAttr(tx, ino); err != nil {
				return err
			}
			return syscall.EINVAL
		}
		target = string(b)
		return err
	})
	return target, err
}

// Link adds a hard link newName in newParent to ino. Directories cannot be
// linked (EPERM).
func (m *FS) Link(ctx context.Context, cred posix.Cred, ino, newParent posix.Ino, newName string) (Entry, error) {
	defer m.dirs.lock(newParent)()
	if err := checkName(newName); err != nil {
		return Entry{}, err
	}
	var e Entry
	err := m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		pa, err := m.writableDir(tx, cred, newParent)
		if err != nil {
			return err
		}
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if a.Type == posix.TypeDir {
			return syscall.EPERM
		}
		if a.Flags&(posix.FlagImmutable|posix.FlagAppend) != 0 {
			return syscall.EPERM
		}
		if a.Nlink == 0 {
			return syscall.ENOENT
		}
		if a.Nlink >= 65000 {
			return syscall.EMLINK
		}
		if a.Quota != pa.Quota {
			return syscall.EXDEV // a link into another quota's tree (as XFS)
		}
		if _, err := tx.Get(dentryKey(newParent, newName)); err == nil {
			return syscall.EEXIST
		} else if !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		now := m.now()
		a.Nlink++
		a.Ctime = now
		if err := addLink(tx, ino, &a, Link{newParent, newName}); err != nil {
			return err
		}
		pa.Mtime, pa.Ctime = now, now
		if err := tx.Put(dentryKey(newParent, newName), encodeDentry(a.Type, ino)); err != nil {
			return err
		}
		if err := putAttr(tx, ino, &a); err != nil {
			return err
		}
		if err := putAttr(tx, newParent, &pa); err != nil {
			return err
		}
		e = Entry{ino, a}
		rec.set(OpLink, ino, &a)
		rec.Parent, rec.Name = newParent, newName
		return nil
	})
	return e, err
}
