// Package fusefs serves a vfs.FS as a FUSE file system with go-fuse's raw
// API (fuse.RawFileSystem).
//
// FUSE node ids are the volume's inode numbers and generations are 0
// (numbers are never reused), so no node table grows with the file system
// and Forget has nothing to do. Each request's caller (uid, gid, pid) becomes
// a posix.Cred; its supplementary groups are read from /proc/PID/status and
// cached for a second, so that vfs decides group membership as the kernel
// does.
//
// # Permission checks
//
// Without squashing, the mount uses the kernel's checks (the
// default_permissions mount option) with FUSE POSIX ACL support, so the
// kernel evaluates mode bits and ACLs and setfacl/getfacl work through the
// system.posix_acl_* attributes. vfs checks every request again with the
// same rules, which costs nothing extra (it reads the inode anyway) and
// keeps a bug in one from widening access. With Options.Squash or
// Options.UserspaceChecks the kernel checks nothing and vfs alone decides,
// after mapping the caller through the squash.
//
// # Errors
//
// Every error from vfs is turned into an errno once, in status: a
// syscall.Errno anywhere in the chain is returned as it is; anything else
// (a metadata engine or object store failure) is logged and becomes EIO.
package fusefs
