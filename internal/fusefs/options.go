package fusefs

import (
	"log/slog"
	"time"

	"cairn/internal/posix"
)

// Options configure a mount. The zero value is a mount with the kernel's
// permission checks, 1 s attribute and entry caches and no negative cache.
type Options struct {
	// Squash maps callers before every check (root_squash, all_squash);
	// any squash turns on userspace checks.
	Squash posix.Squash
	// UserspaceChecks turns the kernel's permission checks off and leaves
	// them to vfs alone, without squashing (to compare the two).
	UserspaceChecks bool
	// ReadOnly mounts read-only: every change fails with EROFS.
	ReadOnly bool
	// AllowOther lets users other than the one who mounted use the mount
	// (FUSE allow_other; needs root or user_allow_other in fuse.conf).
	AllowOther bool
	// AttrTimeout and EntryTimeout are how long the kernel caches
	// attributes and names; 0 means the default (1 s), negative means no
	// caching. NegativeTimeout caches failed lookups (default none).
	AttrTimeout, EntryTimeout, NegativeTimeout time.Duration
	// FollowInterval is how often the mount reads the changes other
	// clients made and drops what they made stale from the kernel's
	// caches (see follow.go): 0 means 200 ms, negative never (the
	// caches then last their timeouts).
	FollowInterval time.Duration
	// MaxWrite is the largest read or write request (default 1 MiB);
	// MaxReadAhead the kernel's read-ahead window for the mount's files
	// (0: 4 MiB, a block; negative: the kernel's default, 128 KiB). A
	// window larger than the kernel's is set through sysfs, as root.
	MaxWrite, MaxReadAhead int
	// EnableCap stores file capabilities (security.capability, setcap);
	// they are cleared on write and chown, as Linux does. Off: getting
	// the attribute finds nothing and setting it fails with EOPNOTSUPP.
	EnableCap bool
	// EnableSELinux stores SELinux labels (security.selinux); off, they
	// behave as EnableCap's attribute does.
	EnableSELinux bool
	// WritebackCache lets the kernel keep writes in its page cache and
	// send them later, in larger requests (FUSE writeback cache). Only
	// with the kernel's permission checks. Writes reach the volume when
	// the kernel flushes them (close, fsync, memory pressure) rather than
	// as they are made; O_APPEND is placed by the kernel, at the end of
	// the file as this mount knows it.
	WritebackCache bool
	// FsName is the mount's source as mount(8) and df show it.
	FsName string
	// Logger receives errors that become EIO, and operational messages;
	// nil discards them.
	Logger *slog.Logger
	// Debug prints every FUSE request and reply to stderr (go-fuse's
	// debug output).
	Debug bool
}

const (
	defaultTimeout  = time.Second
	defaultMaxWrite = 1 << 20
)

func (o *Options) kernelChecks() bool {
	return !o.UserspaceChecks && o.Squash.Root == nil && o.Squash.All == nil
}

func timeoutOr(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return defaultTimeout
	case d < 0:
		return 0
	}
	return d
}
