package fusefs

import (
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"cairn/internal/acl"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Extended attributes. POSIX ACLs travel as system.posix_acl_access and
// system.posix_acl_default in Linux's binary form and are stored as ACLs
// (one copy per distinct ACL in the volume), not as attributes; file
// capabilities and SELinux labels are ordinary security.* attributes when
// enabled, and absent otherwise.

const (
	xattrCapability = "security.capability"
	xattrSELinux    = "security.selinux"
)

// aclXattrs are the two ACL attributes and the ACL each stands for.
var aclXattrs = [...]struct {
	name string
	typ  vfs.ACLType
}{{acl.XattrAccess, vfs.ACLAccess}, {acl.XattrDefault, vfs.ACLDefault}}

func aclType(name string) (vfs.ACLType, bool) {
	for _, x := range aclXattrs {
		if x.name == name {
			return x.typ, true
		}
	}
	return 0, false
}

// disabled reports whether name is a security attribute this mount does
// not keep.
func (f *rawFS) disabled(name string) bool {
	return name == xattrCapability && !f.opts.EnableCap || name == xattrSELinux && !f.opts.EnableSELinux
}

// putXattr copies v to dest as getxattr(2) does: the size alone for an
// empty buffer, ERANGE for a short one.
func putXattr(dest, v []byte) (uint32, fuse.Status) {
	if len(dest) == 0 {
		return uint32(len(v)), fuse.OK
	}
	if len(dest) < len(v) {
		return uint32(len(v)), fuse.ERANGE
	}
	return uint32(copy(dest, v)), fuse.OK
}

func (f *rawFS) GetXAttr(_ <-chan struct{}, h *fuse.InHeader, name string, dest []byte) (uint32, fuse.Status) {
	ino := posix.Ino(h.NodeId)
	if typ, ok := aclType(name); ok {
		r, err := f.v.GetACL(f.ctx, ino, typ)
		if err != nil {
			return 0, f.status("getxattr", err)
		}
		if r == nil {
			return 0, fuse.ENODATA
		}
		return putXattr(dest, r.MarshalXattr())
	}
	if f.disabled(name) {
		return 0, fuse.ENODATA
	}
	v, err := f.v.GetXattr(f.ctx, f.cred(h), ino, name)
	if err != nil {
		return 0, f.status("getxattr", err)
	}
	return putXattr(dest, v)
}

func (f *rawFS) ListXAttr(_ <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	ino := posix.Ino(h.NodeId)
	names, err := f.v.ListXattr(f.ctx, f.cred(h), ino)
	if err != nil {
		return 0, f.status("listxattr", err)
	}
	var b strings.Builder
	for _, x := range aclXattrs {
		r, err := f.v.GetACL(f.ctx, ino, x.typ)
		if err != nil {
			return 0, f.status("listxattr", err)
		}
		if r != nil {
			b.WriteString(x.name)
			b.WriteByte(0)
		}
	}
	for _, n := range names {
		if f.disabled(n) {
			continue
		}
		b.WriteString(n)
		b.WriteByte(0)
	}
	return putXattr(dest, []byte(b.String()))
}

func (f *rawFS) SetXAttr(_ <-chan struct{}, in *fuse.SetXAttrIn, name string, data []byte) fuse.Status {
	if st := f.readOnly(); !st.Ok() {
		return st
	}
	ino := posix.Ino(in.NodeId)
	cred := f.cred(&in.InHeader)
	if typ, ok := aclType(name); ok {
		r := new(acl.Rule)
		if err := r.UnmarshalXattr(data); err != nil {
			return fuse.EINVAL
		}
		return f.status("setxattr", f.v.SetACL(f.ctx, cred, ino, typ, r))
	}
	if f.disabled(name) {
		return fuse.Status(syscall.EOPNOTSUPP)
	}
	if in.Flags&^(vfs.XattrCreate|vfs.XattrReplace) != 0 {
		return fuse.EINVAL
	}
	return f.status("setxattr", f.v.SetXattr(f.ctx, cred, ino, name, data, in.Flags))
}

func (f *rawFS) RemoveXAttr(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if st := f.readOnly(); !st.Ok() {
		return st
	}
	ino := posix.Ino(h.NodeId)
	cred := f.cred(h)
	if typ, ok := aclType(name); ok {
		r, err := f.v.GetACL(f.ctx, ino, typ)
		if err != nil {
			return f.status("removexattr", err)
		}
		if r == nil {
			return fuse.ENODATA
		}
		return f.status("removexattr", f.v.SetACL(f.ctx, cred, ino, typ, nil))
	}
	if f.disabled(name) {
		return fuse.ENODATA
	}
	return f.status("removexattr", f.v.RemoveXattr(f.ctx, cred, ino, name))
}
