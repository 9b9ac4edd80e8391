package posix

import (
	"syscall"

	"cairn/internal/acl"
)

// Access reports whether cred may have every right in want (MayRead,
// MayWrite, MayExec) on an inode with attributes a and access ACL r (nil
// when the mode alone decides), by the kernel's generic_permission rules:
// root may read and write anything and may execute anything that is a
// directory or has at least one execute bit; anyone else is judged by the
// ACL, or by the owner, group (primary or supplementary) and other classes
// of the mode. It returns EACCES when the access is denied.
func Access(c Cred, a *Attr, r *acl.Rule, want uint16) error {
	want &= MayRead | MayWrite | MayExec
	if want == 0 {
		return nil
	}
	if c.IsRoot() {
		if want&MayExec != 0 && a.Type != TypeDir && a.Mode&0o111 == 0 {
			return syscall.EACCES
		}
		return nil
	}
	if r != nil {
		if r.Check(c.UID, c.AllGroups(), a.UID, a.GID, want) {
			return nil
		}
		return syscall.EACCES
	}
	var perm uint32
	switch {
	case c.UID == a.UID:
		perm = a.Mode >> 6
	case c.InGroup(a.GID):
		perm = a.Mode >> 3
	default:
		perm = a.Mode
	}
	if uint16(perm&7)&want == want {
		return nil
	}
	return syscall.EACCES
}

// CheckSticky applies the sticky-directory rule to removing or renaming
// victim out of dir: when dir has the sticky bit, only root, the owner of
// dir or the owner of victim may do so (EPERM otherwise). The caller has
// already checked write and search permission on dir.
func CheckSticky(c Cred, dir, victim *Attr) error {
	if dir.Mode&ModeSticky == 0 || c.IsRoot() || c.UID == dir.UID || c.UID == victim.UID {
		return nil
	}
	return syscall.EPERM
}

// Created is the outcome of CreateAttr: the new inode's mode bits and group,
// and the access and default ACLs it gets (nil for none).
type Created struct {
	Mode    uint32
	GID     uint32
	Access  *acl.Rule
	Default *acl.Rule
}

// CreateAttr computes the mode, group and ACLs of an inode of type typ that
// cred creates with mode in the directory parent, whose default ACL is def
// (nil when it has none):
//   - with a default ACL, the access ACL is the default ACL masked by mode
//     and the umask is ignored; a new directory inherits the default ACL;
//     a resulting minimal ACL is not kept (the mode holds it);
//   - without one, mode &^ umask;
//   - in a setgid directory the group is the directory's, and a new
//     directory is setgid too; otherwise the group is the caller's;
//   - a non-directory asking for setgid in a group the caller is not in
//     loses setgid unless the caller is root (inode_init_owner).
func CreateAttr(c Cred, parent *Attr, typ FileType, mode, umask uint32, def *acl.Rule) Created {
	mode &= ModeMask
	if def == nil {
		return createMode(c, parent, typ, mode&^(umask&ModePerm))
	}
	r, perm := def.Inherit(mode)
	out := createMode(c, parent, typ, mode&^ModePerm|perm)
	if !r.IsMinimal() {
		out.Access = r
	}
	if typ == TypeDir {
		out.Default = def
	}
	return out
}

// CreateInherited is CreateAttr under a default ACL for a caller that
// knows what the inode inherits (it caches acl.Rule.Inherit's answers):
// perm is the permission bits inherited (acl.Rule.InheritPerm). It
// computes the mode and group only; Access and Default are left nil.
func CreateInherited(c Cred, parent *Attr, typ FileType, mode, perm uint32) Created {
	return createMode(c, parent, typ, mode&ModeMask&^ModePerm|perm&ModePerm)
}

// createMode finishes CreateAttr: the group and the setgid bit.
func createMode(c Cred, parent *Attr, typ FileType, mode uint32) Created {
	out := Created{Mode: mode, GID: c.GID}
	if parent.Mode&ModeSetgid != 0 {
		out.GID = parent.GID
		if typ == TypeDir {
			out.Mode |= ModeSetgid
		}
	}
	if typ != TypeDir && out.Mode&ModeSetgid != 0 && out.Mode&0o010 != 0 &&
		!c.IsRoot() && !c.InGroup(out.GID) {
		out.Mode &^= ModeSetgid
	}
	return out
}

// Chmod checks that cred may set the mode of a to mode (only the owner or
// root, EPERM otherwise) and returns the mode to store: a non-root caller
// outside the file's group cannot set setgid, which is dropped silently as
// Linux does.
func Chmod(c Cred, a *Attr, mode uint32) (uint32, error) {
	if !c.IsRoot() && c.UID != a.UID {
		return 0, syscall.EPERM
	}
	mode &= ModeMask
	if !c.IsRoot() && mode&ModeSetgid != 0 && !c.InGroup(a.GID) {
		mode &^= ModeSetgid
	}
	return mode, nil
}

// Chown checks that cred may change the owner of a to uid and its group to
// gid (-1 leaves either unchanged) and returns the mode to store. Root may
// do anything. Anyone else may not change the owner (setting it to its
// current value is allowed) and may change the group only on a file it
// owns, to a group it belongs to (EPERM otherwise). A successful chown of
// a non-directory clears setuid, and setgid when group execute is set, as
// Linux's chown does even for root and even with both ids -1.
func Chown(c Cred, a *Attr, uid, gid int64) (uint32, error) {
	if !c.IsRoot() {
		if uid >= 0 && uint32(uid) != a.UID {
			return 0, syscall.EPERM
		}
		if gid >= 0 && uint32(gid) != a.GID && (c.UID != a.UID || !c.InGroup(uint32(gid))) {
			return 0, syscall.EPERM
		}
		if (uid >= 0 || gid >= 0) && c.UID != a.UID {
			return 0, syscall.EPERM
		}
	}
	mode := a.Mode
	if a.Type != TypeDir {
		mode = killSuid(mode)
	}
	return mode, nil
}

// KillSuidOnWrite returns the mode a file must have after cred writes to it
// or truncates it, and whether it changed: a caller other than root clears
// setuid, and setgid when group execute is set (a setgid file without group
// execute marks mandatory locking and keeps the bit).
func KillSuidOnWrite(c Cred, a *Attr) (uint32, bool) {
	if c.IsRoot() || a.Type != TypeFile {
		return a.Mode, false
	}
	m := killSuid(a.Mode)
	return m, m != a.Mode
}

func killSuid(mode uint32) uint32 {
	mode &^= ModeSetuid
	if mode&0o010 != 0 {
		mode &^= ModeSetgid
	}
	return mode
}

// CheckUtimes checks that cred may set the times of a: explicit times only
// for the owner or root (EPERM); setting both to the current time also for
// anyone with write permission (EACCES otherwise). r is a's access ACL.
func CheckUtimes(c Cred, a *Attr, r *acl.Rule, explicit bool) error {
	if c.IsRoot() || c.UID == a.UID {
		return nil
	}
	if explicit {
		return syscall.EPERM
	}
	return Access(c, a, r, MayWrite)
}
