package vfs

import (
	"context"
	"syscall"

	"cairn/internal/meta"
	"cairn/internal/posix"
)

// The metadata types that vfs callers use, re-exported so that layers above
// vfs (fusefs, s3fs) need not import meta.
type (
	Entry          = meta.Entry
	WalkRequest    = meta.WalkRequest
	WalkResult     = meta.WalkResult
	WalkError      = meta.WalkError
	DirEntry       = meta.DirEntry
	ReadDirOptions = meta.ReadDirOptions
	SetAttrRequest = meta.SetAttrRequest
	StatFS         = meta.StatFS
	ACLType        = meta.ACLType
	Origin         = meta.Origin
	Publish        = meta.Publish
)

// Constants re-exported from meta.
const (
	SetMode     = meta.SetMode
	SetUID      = meta.SetUID
	SetGID      = meta.SetGID
	SetSize     = meta.SetSize
	SetAtime    = meta.SetAtime
	SetMtime    = meta.SetMtime
	SetAtimeNow = meta.SetAtimeNow
	SetMtimeNow = meta.SetMtimeNow
	SetCtime    = meta.SetCtime

	RenameNoReplace = meta.RenameNoReplace
	RenameExchange  = meta.RenameExchange
	RenameTrusted   = meta.RenameTrusted // not from FUSE: see meta.RenameTrusted

	XattrCreate  = meta.XattrCreate
	XattrReplace = meta.XattrReplace

	ACLAccess  = meta.ACLAccess
	ACLDefault = meta.ACLDefault

	ChunkSize  = meta.ChunkSize
	MaxNameLen = meta.MaxNameLen
)

// WithOrigin returns a ctx whose changes the change feed attributes to o.
func WithOrigin(ctx context.Context, o Origin) context.Context { return meta.WithOrigin(ctx, o) }

// WithPaths returns a ctx whose changes to files record the files' paths
// in the change feed (see meta.WithPaths): a mount's, so that they become
// bucket events.
func WithPaths(ctx context.Context) context.Context { return meta.WithPaths(ctx) }

// OriginFrom returns the Origin attached to ctx, if any.
func OriginFrom(ctx context.Context) (Origin, bool) { return meta.OriginFrom(ctx) }

// WithPublish returns a ctx whose next change records p beside it in the
// change feed, in the same transaction (see meta.WithPublish).
func WithPublish(ctx context.Context, p ...Publish) context.Context {
	return meta.WithPublish(ctx, p...)
}

// AppendPublish records p in the change feed on its own: an event that
// changes nothing (an object read).
func (fs *FS) AppendPublish(ctx context.Context, p Publish) error {
	return fs.meta.AppendPublish(ctx, p)
}

// InternalXattrs returns the cairn.* attributes of ino whose names start
// with prefix (which must itself start with "cairn."), without permission
// checks: for the S3 layer's object metadata.
func (fs *FS) InternalXattrs(ctx context.Context, ino posix.Ino, prefix string) (map[string][]byte, error) {
	return fs.meta.GetXattrs(ctx, ino, prefix)
}

// GetInternalXattr returns one cairn.* attribute (ENODATA if absent).
func (fs *FS) GetInternalXattr(ctx context.Context, ino posix.Ino, name string) ([]byte, error) {
	return fs.meta.GetXattr(ctx, posix.Root, ino, name, meta.XattrOptions{Internal: true})
}

// SetInternalXattr sets a cairn.* attribute without permission checks or a
// change-feed record.
func (fs *FS) SetInternalXattr(ctx context.Context, ino posix.Ino, name string, value []byte) error {
	return fs.meta.SetXattr(ctx, posix.Root, ino, name, value, meta.XattrOptions{Internal: true})
}

// RemoveInternalXattr removes a cairn.* attribute.
func (fs *FS) RemoveInternalXattr(ctx context.Context, ino posix.Ino, name string) error {
	return fs.meta.RemoveXattr(ctx, posix.Root, ino, name, meta.XattrOptions{Internal: true})
}

// InternalXattrMany returns one cairn.* attribute of many inodes at once
// (nil where absent), without permission checks.
func (fs *FS) InternalXattrMany(ctx context.Context, inos []posix.Ino, name string) ([][]byte, error) {
	return fs.meta.GetXattrMany(ctx, inos, name)
}

// PutFileOptions shape PutFile.
type PutFileOptions struct {
	Mode      uint32
	Xattrs    map[string][]byte // internal attributes of the new file
	NoReplace bool
	Mtime     int64 // ns; 0: now
	// Dirs, FirstAsRoot: directories walked from parent in the same
	// transaction (meta.PutFileRequest.Dirs); a *meta.WalkError when one
	// is missing.
	Dirs        []string
	FirstAsRoot bool
	// Keep, when set, keeps a replaced file under another name in the
	// same transaction (meta.Keep).
	Keep *Keep
	// Flags are the new file's inode flags (posix.FlagImmutable, ...).
	Flags uint8
}

// Keep tells a replacing PutFile or RenameKeep where to keep the replaced
// file (meta.Keep).
type Keep = meta.Keep

// PutFile stores data as one slice and creates the complete file as name
// in parent in one metadata transaction, atomically replacing a regular
// file there (meta.PutFile). For small files whose bytes are all in hand;
// data must be smaller than a chunk. Up to Options.InlineMax bytes go
// into the metadata transaction itself (an inline slice).
func (fs *FS) PutFile(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, data []byte, opt PutFileOptions) (meta.Entry, error) {
	if len(data) > meta.ChunkSize {
		return meta.Entry{}, syscall.EFBIG
	}
	req := meta.PutFileRequest{Mode: opt.Mode, Umask: cred.Umask, Length: uint64(len(data)), Xattrs: opt.Xattrs, NoReplace: opt.NoReplace, Mtime: opt.Mtime,
		Dirs: opt.Dirs, FirstAsRoot: opt.FirstAsRoot, Keep: opt.Keep, Flags: opt.Flags}
	var id uint64
	var size uint32
	if len(data) > 0 && len(data) <= fs.inline {
		req.Inline = data
		return fs.meta.PutFile(ctx, cred, parent, name, req)
	}
	if len(data) > 0 {
		var err error
		if id, err = fs.meta.NewSliceID(ctx); err != nil {
			return meta.Entry{}, err
		}
		w := fs.chunks.NewWriter(id)
		if _, err := w.Write(data); err != nil {
			w.Abort(context.WithoutCancel(ctx))
			return meta.Entry{}, toEIO(err)
		}
		if size, err = w.Finish(ctx); err != nil {
			return meta.Entry{}, toEIO(err)
		}
		req.Slices = []meta.WriteRequest{{Index: 0, Slice: meta.Slice{ID: id, Size: size, Len: size}}}
	}
	e, err := fs.meta.PutFile(ctx, cred, parent, name, req)
	if err != nil && id != 0 {
		_ = fs.chunks.Remove(context.WithoutCancel(ctx), id, size)
	}
	return e, err
}

// Lock is a POSIX record lock (meta.Lock); LockType its type.
type (
	Lock     = meta.Lock
	LockType = meta.LockType
)

// Lock types and fallocate modes, re-exported from meta.
const (
	LockUnlock = meta.LockUnlock
	LockRead   = meta.LockRead
	LockWrite  = meta.LockWrite

	FallocKeepSize  = meta.FallocKeepSize
	FallocPunchHole = meta.FallocPunchHole
	FallocZeroRange = meta.FallocZeroRange

	// SeekData and SeekHole are Seek's whence values (lseek's).
	SeekData = meta.SeekData
	SeekHole = meta.SeekHole
)

// Flock applies a BSD flock for owner, the open file description (see
// meta.Flock); block waits until ctx ends.
func (fs *FS) Flock(ctx context.Context, ino posix.Ino, owner uint64, typ LockType, block bool) error {
	return fs.meta.Flock(ctx, ino, owner, typ, block)
}

// GetLk reports the first POSIX lock conflicting with l (F_GETLK).
func (fs *FS) GetLk(ctx context.Context, ino posix.Ino, owner uint64, l Lock) (Lock, error) {
	return fs.meta.GetLk(ctx, ino, owner, l)
}

// SetLk acquires or releases a POSIX record lock (F_SETLK, F_SETLKW).
func (fs *FS) SetLk(ctx context.Context, ino posix.Ino, owner uint64, block bool, l Lock) error {
	return fs.meta.SetLk(ctx, ino, owner, block, l)
}

// ReleaseLocks drops every lock owner holds on ino in this process.
func (fs *FS) ReleaseLocks(ctx context.Context, ino posix.Ino, owner uint64) error {
	return fs.meta.ReleaseLocks(ctx, ino, owner)
}
