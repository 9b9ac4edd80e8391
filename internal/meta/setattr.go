package meta

import (
	"context"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Bits of SetAttrRequest.Valid: which attributes to change.
const (
	SetMode uint32 = 1 << iota
	SetUID
	SetGID
	SetSize
	SetAtime
	SetMtime
	SetAtimeNow // set atime to the current time (UTIME_NOW)
	SetMtimeNow
	SetCtime
	SetFlags
)

// SetAttrRequest is a setattr call: chmod, chown, truncate, utimens, chattr.
type SetAttrRequest struct {
	Valid        uint32
	Mode         uint32
	UID, GID     uint32
	Size         uint64
	Atime, Mtime int64 // ns since the epoch
	Ctime        int64
	Flags        uint8
	// ByHandle marks ftruncate and friends on a handle opened for writing:
	// the write permission was checked at open.
	ByHandle bool
}

// SetAttr applies req to ino with the kernel's permission rules and
// returns the new attributes:
//   - chmod: owner or root (EPERM); setgid dropped for non-members;
//   - chown: root, or the owner changing the group to one of his (EPERM);
//     clears setuid/setgid on non-directories;
//   - truncate: write permission (EACCES) unless ByHandle; clears setuid
//     and setgid for non-root; fails on directories (EISDIR);
//   - times: explicit times need owner or root (EPERM), "now" also allows
//     anyone with write permission (EACCES).
func (m *FS) SetAttr(ctx context.Context, cred posix.Cred, ino posix.Ino, req SetAttrRequest) (posix.Attr, error) {
	var out posix.Attr
	if req.Valid&SetSize != 0 {
		if err := m.checkLease(ctx); err != nil {
			return out, err
		}
	}
	err := m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		op, err := m.applySetAttr(tx, cred, ino, &a, &req)
		if err != nil {
			return err
		}
		if err := putAttr(tx, ino, &a); err != nil {
			return err
		}
		out = a
		rec.set(op, ino, &a)
		rec.Handle = op == OpTruncate && req.ByHandle
		return nil
	})
	return out, err
}

func (m *FS) applySetAttr(tx kv.Tx, cred posix.Cred, ino posix.Ino, a *posix.Attr, req *SetAttrRequest) (Op, error) {
	now := m.now()
	op := OpSetAttr
	if req.Valid&SetFlags != 0 {
		if !cred.IsRoot() {
			return op, syscall.EPERM // chattr +i/+a needs CAP_LINUX_IMMUTABLE
		}
		a.Flags = req.Flags
	} else if a.Flags&posix.FlagImmutable != 0 && req.Valid != 0 {
		return op, syscall.EPERM
	}
	if req.Valid&(SetUID|SetGID) != 0 {
		uid, gid := int64(-1), int64(-1)
		if req.Valid&SetUID != 0 {
			uid = int64(req.UID)
		}
		if req.Valid&SetGID != 0 {
			gid = int64(req.GID)
		}
		mode, err := posix.Chown(cred, a, uid, gid)
		if err != nil {
			return op, err
		}
		if uid >= 0 {
			a.UID = uint32(uid)
		}
		if gid >= 0 {
			a.GID = uint32(gid)
		}
		a.Mode = mode
		if err := m.syncACLMode(tx, a); err != nil {
			return op, err
		}
	}
	if req.Valid&SetMode != 0 {
		mode, err := posix.Chmod(cred, a, req.Mode&posix.ModeMask)
		if err != nil {
			return op, err
		}
		a.Mode = mode
		if err := m.syncACLMode(tx, a); err != nil {
			return op, err
		}
	}
	if req.Valid&SetSize != 0 {
		if err := m.checkTruncate(tx, cred, a, req.ByHandle); err != nil {
			return op, err
		}
		if err := m.truncate(tx, ino, a, req.Size); err != nil {
			return op, err
		}
		if !cred.IsRoot() {
			a.Mode, _ = posix.KillSuidOnWrite(cred, a)
		}
		a.Mtime = now
		op = OpTruncate
	}
	if err := m.setTimes(tx, cred, a, req, now); err != nil {
		return op, err
	}
	if req.Valid&SetCtime != 0 {
		a.Ctime = req.Ctime
	} else if req.Valid != 0 {
		a.Ctime = now
	}
	return op, nil
}

func (m *FS) checkTruncate(tx kv.Tx, cred posix.Cred, a *posix.Attr, byHandle bool) error {
	switch a.Type {
	case posix.TypeDir:
		return syscall.EISDIR
	case posix.TypeFile:
	default:
		return syscall.EINVAL
	}
	if a.Flags&posix.FlagAppend != 0 {
		return syscall.EPERM
	}
	if byHandle {
		return nil
	}
	return m.access(tx, cred, a, posix.MayWrite)
}

func (m *FS) setTimes(tx kv.Tx, cred posix.Cred, a *posix.Attr, req *SetAttrRequest, now int64) error {
	v := req.Valid
	if v&(SetAtime|SetMtime|SetAtimeNow|SetMtimeNow) == 0 {
		return nil
	}
	explicit := v&(SetAtime|SetMtime) != 0
	var rule = a.AccessACL
	r, err := m.loadRule(tx, rule)
	if err != nil {
		return err
	}
	if err := posix.CheckUtimes(cred, a, r, explicit); err != nil {
		return err
	}
	switch {
	case v&SetAtimeNow != 0:
		a.Atime = now
	case v&SetAtime != 0:
		a.Atime = req.Atime
	}
	switch {
	case v&SetMtimeNow != 0:
		a.Mtime = now
	case v&SetMtime != 0:
		a.Mtime = req.Mtime
	}
	return nil
}

// syncACLMode keeps an inode's access ACL in step with its mode after chmod:
// owner, mask (or group) and other entries take the mode's bits.
func (m *FS) syncACLMode(tx kv.Tx, a *posix.Attr) error {
	if a.AccessACL == 0 {
		return nil
	}
	r, err := m.loadACL(tx, a.AccessACL)
	if err != nil {
		return err
	}
	if r.Mode() == a.Mode&posix.ModePerm {
		return nil
	}
	// The same ACL chmodded to the same bits always gives the same ACL, so
	// the committed answer is remembered by (id, bits).
	key := uint64(a.AccessACL)<<16 | uint64(a.Mode&posix.ModePerm)
	m.aclMu.RLock()
	id, ok := m.aclChmod[key]
	m.aclMu.RUnlock()
	if ok {
		a.AccessACL = id
		return nil
	}
	nr := r.Clone()
	nr.SetMode(a.Mode)
	if id, err = m.storeACL(tx, nr, false); err != nil {
		return err
	}
	if !createdIn(tx, id) {
		m.aclMu.Lock()
		m.aclChmod[key] = id
		m.aclMu.Unlock()
	}
	a.AccessACL = id
	return nil
}
