package meta

import (
	"context"
	"errors"
	"strings"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Extended attribute limits, as Linux's.
const (
	MaxXattrNameLen  = 255
	MaxXattrValueLen = 64 << 10
)

// Setxattr flags, as setxattr(2).
const (
	XattrCreate  uint32 = 1
	XattrReplace uint32 = 2
)

// InternalXattrPrefix names attributes that cairn keeps for itself (S3
// object metadata, ETags). They are invisible to and unsettable by file
// system callers; only calls with XattrOptions.Internal see them.
const InternalXattrPrefix = "cairn."

// XattrOptions modify an xattr call.
type XattrOptions struct {
	Flags uint32
	// Internal allows the cairn.* namespace and skips permission checks:
	// for the S3 layer, which checked the caller already.
	Internal bool
}

// checkXattr applies Linux's namespace rules (xattr_permission): user.*
// only on regular files and directories, by anyone with read/write access
// (writes in a sticky directory only by its owner); trusted.* only root;
// security.* writable by root; system.* is the ACL API's (EOPNOTSUPP here).
func (m *FS) checkXattr(tx kv.Tx, cred posix.Cred, a *posix.Attr, name string, write bool, opt XattrOptions) error {
	if len(name) == 0 {
		return syscall.EINVAL
	}
	if len(name) > MaxXattrNameLen {
		return syscall.ERANGE
	}
	if opt.Internal {
		return nil
	}
	if write && a.Flags&(posix.FlagImmutable|posix.FlagAppend) != 0 {
		return syscall.EPERM
	}
	want := posix.MayRead
	if write {
		want = posix.MayWrite
	}
	switch {
	case strings.HasPrefix(name, "user."):
		if a.Type != posix.TypeFile && a.Type != posix.TypeDir {
			if write {
				return syscall.EPERM
			}
			return syscall.ENODATA
		}
		if write && a.Type == posix.TypeDir && a.Mode&posix.ModeSticky != 0 && cred.UID != a.UID && !cred.IsRoot() {
			return syscall.EPERM
		}
		return m.access(tx, cred, a, want)
	case strings.HasPrefix(name, "trusted."):
		if !cred.IsRoot() {
			if write {
				return syscall.EPERM
			}
			return syscall.ENODATA
		}
		return nil
	case strings.HasPrefix(name, "security."):
		if write && !cred.IsRoot() {
			return syscall.EPERM
		}
		return nil
	}
	return syscall.EOPNOTSUPP
}

// GetXattr returns the value of attribute name of ino (ENODATA if absent).
func (m *FS) GetXattr(ctx context.Context, cred posix.Cred, ino posix.Ino, name string, opt XattrOptions) ([]byte, error) {
	var v []byte
	err := m.store.View(ctx, func(tx kv.Tx) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if err := m.checkXattr(tx, cred, &a, name, false, opt); err != nil {
			return err
		}
		v, err = tx.Get(xattrKey(ino, name))
		if errors.Is(err, kv.ErrNotFound) {
			return syscall.ENODATA
		}
		return err
	})
	return v, err
}

// SetXattr sets attribute name of ino. XattrCreate fails with EEXIST when it
// exists, XattrReplace with ENODATA when it does not. Values over 64 KiB
// are E2BIG.
func (m *FS) SetXattr(ctx context.Context, cred posix.Cred, ino posix.Ino, name string, value []byte, opt XattrOptions) error {
	if len(value) > MaxXattrValueLen {
		return syscall.E2BIG
	}
	if opt.Flags&^(XattrCreate|XattrReplace) != 0 || opt.Flags == XattrCreate|XattrReplace {
		return syscall.EINVAL
	}
	return m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if err := m.checkXattr(tx, cred, &a, name, true, opt); err != nil {
			return err
		}
		k := xattrKey(ino, name)
		_, err = tx.Get(k)
		exists := err == nil
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		if exists && opt.Flags&XattrCreate != 0 {
			return syscall.EEXIST
		}
		if !exists && opt.Flags&XattrReplace != 0 {
			return syscall.ENODATA
		}
		if err := tx.Put(k, value); err != nil {
			return err
		}
		if opt.Internal {
			return nil // bookkeeping of the S3 layer: no ctime change, no event
		}
		a.Ctime = m.now()
		rec.set(OpSetXattr, ino, &a)
		rec.Xattr = name
		return putAttr(tx, ino, &a)
	})
}

// RemoveXattr removes attribute name of ino (ENODATA if absent).
func (m *FS) RemoveXattr(ctx context.Context, cred posix.Cred, ino posix.Ino, name string, opt XattrOptions) error {
	return m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if err := m.checkXattr(tx, cred, &a, name, true, opt); err != nil {
			return err
		}
		k := xattrKey(ino, name)
		if _, err := tx.Get(k); errors.Is(err, kv.ErrNotFound) {
			return syscall.ENODATA
		} else if err != nil {
			return err
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
		if opt.Internal {
			return nil
		}
		a.Ctime = m.now()
		rec.set(OpRemoveXattr, ino, &a)
		rec.Xattr = name
		return putAttr(tx, ino, &a)
	})
}

// ListXattr returns the names of ino's attributes that the caller may see:
// trusted.* only for root, cairn.* only for internal callers.
func (m *FS) ListXattr(ctx context.Context, cred posix.Cred, ino posix.Ino, opt XattrOptions) ([]string, error) {
	var names []string
	err := m.store.View(ctx, func(tx kv.Tx) error {
		names = names[:0]
		if _, err := getAttr(tx, ino); err != nil {
			return err
		}
		prefix := xattrPrefix(ino)
		return tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{KeysOnly: true}, func(k, _ []byte) bool {
			n := string(k[len(prefix):])
			switch {
			case strings.HasPrefix(n, InternalXattrPrefix) && !opt.Internal:
			case strings.HasPrefix(n, "trusted.") && !cred.IsRoot() && !opt.Internal:
			default:
				names = append(names, n)
			}
			return true
		})
	})
	return names, err
}

// GetXattrs returns every attribute of ino whose name starts with prefix,
// without permission checks (for internal callers like the S3 layer).
func (m *FS) GetXattrs(ctx context.Context, ino posix.Ino, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := m.store.View(ctx, func(tx kv.Tx) error {
		clear(out)
		p := xattrKey(ino, prefix)
		base := len(xattrPrefix(ino))
		return tx.Scan(p, kv.PrefixEnd(p), kv.ScanOptions{}, func(k, v []byte) bool {
			out[string(k[base:])] = v
			return true
		})
	})
	return out, err
}

// GetXattrMany returns attribute name of each inode in inos (nil where it
// is absent or the inode is gone), in one transaction and without
// permission checks: for callers that list many inodes and have checked
// access to the directory (the S3 listing reads each object's metadata
// this way).
func (m *FS) GetXattrMany(ctx context.Context, inos []posix.Ino, name string) ([][]byte, error) {
	keys := make([][]byte, len(inos))
	for i, ino := range inos {
		keys[i] = xattrKey(ino, name)
	}
	var out [][]byte
	err := m.store.View(ctx, func(tx kv.Tx) error {
		var err error
		out, err = tx.Gets(keys...)
		return err
	})
	return out, err
}
