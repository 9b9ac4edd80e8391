package vfs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"cairn/internal/acl"
	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/posix"
)

// Options configure an FS. The zero value gives the documented defaults.
type Options struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// SweepInterval is how often freed slices are deleted from the object
	// store; default 1 minute; negative disables the sweeper (tests call
	// Sweep themselves).
	SweepInterval time.Duration
	// InlineMax is the size up to which PutFile keeps a file's bytes in
	// the metadata engine instead of the object store: one transaction
	// instead of a transaction and an object per small file. Default
	// DefaultInlineMax; negative disables inlining; at most
	// meta.MaxInline.
	InlineMax int
}

// DefaultInlineMax is Options.InlineMax's default.
const DefaultInlineMax = 16 << 10

// FS serves one volume. It is safe for concurrent use.
type FS struct {
	meta   *meta.FS
	chunks *chunk.Store
	log    *slog.Logger
	inline int // Options.InlineMax, resolved

	mu      sync.Mutex
	handles map[uint64]*handle
	inodes  map[posix.Ino]*inode
	nextFh  uint64

	stop chan struct{}
	done chan struct{}
}

// New returns an FS over a volume's metadata and data. Close stops its
// background work; it does not close m or c.
func New(m *meta.FS, c *chunk.Store, opts Options) *FS {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = time.Minute
	}
	switch {
	case opts.InlineMax == 0:
		opts.InlineMax = DefaultInlineMax
	case opts.InlineMax < 0:
		opts.InlineMax = 0
	}
	opts.InlineMax = min(opts.InlineMax, meta.MaxInline)
	fs := &FS{meta: m, chunks: c, log: opts.Logger, inline: opts.InlineMax, handles: map[uint64]*handle{},
		inodes: map[posix.Ino]*inode{}, stop: make(chan struct{}), done: make(chan struct{})}
	if opts.SweepInterval > 0 {
		go fs.sweeper(opts.SweepInterval)
	} else {
		close(fs.done)
	}
	return fs
}

// Meta returns the volume's metadata layer.
func (fs *FS) Meta() *meta.FS { return fs.meta }

// Close flushes every open handle and stops the sweeper.
func (fs *FS) Close() error {
	fs.mu.Lock()
	var inos []*inode
	for _, in := range fs.inodes {
		inos = append(inos, in)
	}
	fs.mu.Unlock()
	var first error
	for _, in := range inos {
		if err := in.flush(context.Background()); err != nil && first == nil {
			first = err
		}
	}
	select {
	case <-fs.stop:
	default:
		close(fs.stop)
	}
	<-fs.done
	return first
}

func (fs *FS) sweeper(every time.Duration) {
	defer close(fs.done)
	t := time.NewTicker(every)
	defer t.Stop()
	var lastTemp time.Time
	for first := true; ; first = false {
		if !first {
			select {
			case <-fs.stop:
				return
			case <-t.C:
			}
		}
		ctx := context.Background()
		if first {
			// A restart after a crash: the dead predecessor's session
			// goes first, so that its leftovers are reclaimed now.
			if _, err := fs.meta.CleanDeadSessions(ctx); err != nil {
				fs.log.Warn("cleaning dead sessions failed", "err", err)
			}
		} else if _, err := fs.Sweep(ctx); err != nil {
			fs.log.Warn("deleting freed slices failed", "err", err)
		}
		left, err := fs.ReclaimLeftovers(ctx)
		if err != nil {
			fs.log.Warn("reclaiming blocks left by dead writers failed", "err", err)
		} else if left.Blocks > 0 {
			fs.log.Info("reclaimed blocks left by dead writers", "blocks", left.Blocks, "bytes", left.Bytes)
		}
		if left.Ranges > 0 || time.Since(lastTemp) >= tempSweepEvery {
			lastTemp = time.Now()
			n, err := fs.chunks.SweepTemp(ctx, tempMaxIdle)
			if err != nil {
				fs.log.Warn("removing abandoned block files failed", "err", err)
			} else if n > 0 {
				fs.log.Info("removed abandoned block files", "files", n)
			}
		}
	}
}

// Blocks half-written by a process that was killed stay behind under
// temporary names in a file object store. The sweeper removes those of
// processes of this host that ended at its first round, after a crash was
// noticed (a dead session) and every tempSweepEvery (the walk reads every
// block directory); other hosts' once untouched for tempMaxIdle.
const (
	tempSweepEvery = 24 * time.Hour
	tempMaxIdle    = 24 * time.Hour
)

// Sweep deletes the blocks of freed slices whose delay has passed and
// returns how many slices it deleted.
func (fs *FS) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		var removed []chunk.Block
		remove := func(ctx context.Context, id uint64, size uint32) error {
			removed = append(removed, fs.chunks.Blocks(id, size)...)
			return fs.chunks.Remove(ctx, id, size)
		}
		durable := func(ctx context.Context) error { return fs.chunks.SyncRemoved(ctx, removed) }
		n, err := fs.meta.SweepDeletedSlices(ctx, 1000, remove, durable)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// Lookup resolves name in parent.
func (fs *FS) Lookup(ctx context.Context, cred posix.Cred, parent posix.Ino, name string) (meta.Entry, error) {
	e, err := fs.meta.Lookup(ctx, cred, parent, name)
	if err == nil {
		fs.patchLength(&e)
	}
	return e, err
}

// Walk resolves a path below dir in one metadata transaction (meta.Walk),
// with the length of writes this process has not committed yet.
func (fs *FS) Walk(ctx context.Context, cred posix.Cred, dir posix.Ino, req meta.WalkRequest) (meta.WalkResult, error) {
	r, err := fs.meta.Walk(ctx, cred, dir, req)
	if err == nil {
		fs.patchLength(&r.Entry)
	}
	return r, err
}

// OpenWalked opens for reading a regular file that Walk found with
// WalkRequest.Want including posix.MayRead and Chunk0 set, without another
// metadata read: the walk's first chunk becomes the handle's view of it.
func (fs *FS) OpenWalked(cred posix.Cred, r meta.WalkResult) Handle {
	fs.meta.OpenCreated(r.Entry.Ino)
	fh, h := fs.newHandle(r.Entry.Ino, syscall.O_RDONLY, cred)
	h.in.reopen(r.Entry.Attr.Length)
	h.in.prime(0, r.Chunk0)
	return fh
}

// GetAttr returns ino's attributes, including the length of writes this
// process has not committed yet.
func (fs *FS) GetAttr(ctx context.Context, ino posix.Ino) (posix.Attr, error) {
	a, err := fs.meta.GetAttr(ctx, ino)
	if err == nil {
		e := meta.Entry{Ino: ino, Attr: a}
		fs.patchLength(&e)
		a = e.Attr
	}
	return a, err
}

// patchLength raises a file's length to what pending local writes reach.
func (fs *FS) patchLength(e *meta.Entry) {
	fs.mu.Lock()
	in := fs.inodes[e.Ino]
	fs.mu.Unlock()
	if in == nil {
		return
	}
	if l := in.pendingLength(); l > e.Attr.Length {
		e.Attr.Length = l
	}
}

// Chmod sets ino's mode (permission bits, setuid, setgid, sticky) with
// chmod's rules: SetAttr of the mode alone.
func (fs *FS) Chmod(ctx context.Context, cred posix.Cred, ino posix.Ino, mode uint32) (posix.Attr, error) {
	return fs.SetAttr(ctx, cred, ino, meta.SetAttrRequest{Valid: meta.SetMode, Mode: mode})
}

// SetFlags sets a file's inode flags (chattr; the caller must be root).
func (fs *FS) SetFlags(ctx context.Context, cred posix.Cred, ino posix.Ino, flags uint8) (posix.Attr, error) {
	return fs.SetAttr(ctx, cred, ino, meta.SetAttrRequest{Valid: meta.SetFlags, Flags: flags})
}

// Chown changes a file's owner and group.
func (fs *FS) Chown(ctx context.Context, cred posix.Cred, ino posix.Ino, uid, gid uint32) (posix.Attr, error) {
	return fs.SetAttr(ctx, cred, ino, meta.SetAttrRequest{Valid: meta.SetUID | meta.SetGID, UID: uid, GID: gid})
}

// SetAttr changes attributes (chmod, chown, truncate, utimens). A size
// change first commits pending writes of the file.
func (fs *FS) SetAttr(ctx context.Context, cred posix.Cred, ino posix.Ino, req meta.SetAttrRequest) (posix.Attr, error) {
	in := fs.inodeIfOpen(ino)
	if in != nil && req.Valid&meta.SetSize != 0 {
		if err := in.flush(ctx); err != nil {
			return posix.Attr{}, err
		}
	}
	a, err := fs.meta.SetAttr(ctx, cred, ino, req)
	if in != nil && err == nil {
		in.invalidate(a.Length)
	}
	return a, err
}

// Access checks permissions as access(2).
func (fs *FS) Access(ctx context.Context, cred posix.Cred, ino posix.Ino, want uint16) error {
	return fs.meta.Access(ctx, cred, ino, want)
}

// Mkdir creates a directory.
func (fs *FS) Mkdir(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, mode uint32) (meta.Entry, error) {
	r, err := fs.meta.Create(ctx, cred, parent, name, meta.CreateRequest{Type: posix.TypeDir, Mode: mode, Umask: cred.Umask, Exclusive: true})
	return r.Entry, err
}

// Mknod creates a file of any type but directory and symlink.
func (fs *FS) Mknod(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, typ posix.FileType, mode, rdev uint32) (meta.Entry, error) {
	if typ == posix.TypeDir || typ == posix.TypeSymlink {
		return meta.Entry{}, syscall.EINVAL
	}
	r, err := fs.meta.Create(ctx, cred, parent, name, meta.CreateRequest{Type: typ, Mode: mode, Umask: cred.Umask, Rdev: rdev, Exclusive: true})
	return r.Entry, err
}

// Symlink creates a symbolic link to target.
func (fs *FS) Symlink(ctx context.Context, cred posix.Cred, parent posix.Ino, name, target string) (meta.Entry, error) {
	r, err := fs.meta.Create(ctx, cred, parent, name, meta.CreateRequest{Type: posix.TypeSymlink, Target: target, Exclusive: true})
	return r.Entry, err
}

// Readlink returns a symlink's target.
func (fs *FS) Readlink(ctx context.Context, ino posix.Ino) (string, error) {
	return fs.meta.Readlink(ctx, ino)
}

// Link adds a hard link to ino.
func (fs *FS) Link(ctx context.Context, cred posix.Cred, ino, parent posix.Ino, name string) (meta.Entry, error) {
	return fs.meta.Link(ctx, cred, ino, parent, name)
}

// Unlink removes a name of a non-directory.
func (fs *FS) Unlink(ctx context.Context, cred posix.Cred, parent posix.Ino, name string) error {
	return fs.meta.Unlink(ctx, cred, parent, name)
}

// UnlinkEmptied is Unlink that also tells whether parent was left empty
// (see meta.UnlinkEmptied).
func (fs *FS) UnlinkEmptied(ctx context.Context, cred posix.Cred, parent posix.Ino, name string) (bool, error) {
	return fs.meta.UnlinkEmptied(ctx, cred, parent, name)
}

// UnlinkMany removes several names of parent in one metadata
// transaction (see meta.UnlinkMany).
func (fs *FS) UnlinkMany(ctx context.Context, cred posix.Cred, parent posix.Ino, names []string) ([]error, bool, error) {
	return fs.meta.UnlinkMany(ctx, cred, parent, names)
}

// Rmdir removes an empty directory.
func (fs *FS) Rmdir(ctx context.Context, cred posix.Cred, parent posix.Ino, name string) error {
	return fs.meta.Rmdir(ctx, cred, parent, name)
}

// Rename renames with renameat2 flags (meta.RenameNoReplace, RenameExchange).
func (fs *FS) Rename(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, newParent posix.Ino, newName string, flags uint32) error {
	return fs.meta.Rename(ctx, cred, parent, name, newParent, newName, flags)
}

// RenameKeep is Rename that keeps a replaced regular file as keep says
// (meta.RenameKeep).
func (fs *FS) RenameKeep(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, newParent posix.Ino, newName string, flags uint32, keep *Keep) error {
	return fs.meta.RenameKeep(ctx, cred, parent, name, newParent, newName, flags, keep)
}

// ReadDir lists a directory (see meta.ReadDir).
func (fs *FS) ReadDir(ctx context.Context, cred posix.Cred, ino posix.Ino, opt meta.ReadDirOptions) ([]meta.DirEntry, error) {
	ents, err := fs.meta.ReadDir(ctx, cred, ino, opt)
	if err == nil && opt.WithAttr {
		for i := range ents {
			e := meta.Entry{Ino: ents[i].Ino, Attr: ents[i].Attr}
			fs.patchLength(&e)
			ents[i].Attr = e.Attr
		}
	}
	return ents, err
}

// StatFS returns capacity and usage.
func (fs *FS) StatFS(ctx context.Context) (meta.StatFS, error) { return fs.meta.StatFS(ctx) }

// GetXattr returns an extended attribute.
func (fs *FS) GetXattr(ctx context.Context, cred posix.Cred, ino posix.Ino, name string) ([]byte, error) {
	return fs.meta.GetXattr(ctx, cred, ino, name, meta.XattrOptions{})
}

// SetXattr sets an extended attribute (flags meta.XattrCreate/XattrReplace).
func (fs *FS) SetXattr(ctx context.Context, cred posix.Cred, ino posix.Ino, name string, value []byte, flags uint32) error {
	return fs.meta.SetXattr(ctx, cred, ino, name, value, meta.XattrOptions{Flags: flags})
}

// ListXattr lists the extended attributes the caller may see.
func (fs *FS) ListXattr(ctx context.Context, cred posix.Cred, ino posix.Ino) ([]string, error) {
	return fs.meta.ListXattr(ctx, cred, ino, meta.XattrOptions{})
}

// RemoveXattr removes an extended attribute.
func (fs *FS) RemoveXattr(ctx context.Context, cred posix.Cred, ino posix.Ino, name string) error {
	return fs.meta.RemoveXattr(ctx, cred, ino, name, meta.XattrOptions{})
}

// GetACL returns ino's access or default ACL (nil: none).
func (fs *FS) GetACL(ctx context.Context, ino posix.Ino, typ meta.ACLType) (*acl.Rule, error) {
	return fs.meta.GetACL(ctx, ino, typ)
}

// SetACL sets or (nil) removes ino's access or default ACL.
func (fs *FS) SetACL(ctx context.Context, cred posix.Cred, ino posix.Ino, typ meta.ACLType, r *acl.Rule) error {
	return fs.meta.SetACL(ctx, cred, ino, typ, r)
}

// errBadHandle is returned for an unknown or released handle.
var errBadHandle = syscall.EBADF

func isNotFound(err error) bool { return errors.Is(err, syscall.ENOENT) }

// SetQuota, GetQuota and RemoveQuota manage a directory's quota (see
// meta's); ListQuotas returns every quota by directory.
func (fs *FS) SetQuota(ctx context.Context, cred posix.Cred, dir posix.Ino, maxSpace, maxInodes uint64) error {
	return fs.meta.SetQuota(ctx, cred, dir, maxSpace, maxInodes)
}

func (fs *FS) GetQuota(ctx context.Context, dir posix.Ino) (meta.Quota, error) {
	return fs.meta.GetQuota(ctx, dir)
}

func (fs *FS) RemoveQuota(ctx context.Context, cred posix.Cred, dir posix.Ino) error {
	return fs.meta.RemoveQuota(ctx, cred, dir)
}

func (fs *FS) ListQuotas(ctx context.Context) (map[posix.Ino]meta.Quota, error) {
	return fs.meta.ListQuotas(ctx)
}

// FoldFile and UnfoldDir turn a regular file's name into a directory,
// the file moving to foldDir, and back (see meta's).
func (fs *FS) FoldFile(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, foldDir posix.Ino, mode, umask uint32, xattrs map[string][]byte) (meta.Entry, error) {
	return fs.meta.FoldFile(ctx, cred, parent, name, foldDir, mode, umask, xattrs)
}

func (fs *FS) UnfoldDir(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, foldDir posix.Ino) error {
	return fs.meta.UnfoldDir(ctx, cred, parent, name, foldDir)
}
