package vfs

import (
	"context"
	"errors"

	"cairn/internal/posix"
)

// Open handles handed to another process (a smooth remount of a mount):
// the old process commits every pending write and lists its handles; the
// new one, resuming the same session, takes them with the same numbers.

// HandleState is an open handle as another process takes it over.
type HandleState struct {
	FH        uint64     `json:"fh"`
	Ino       posix.Ino  `json:"ino"`
	Flags     int        `json:"flags"`
	Cred      posix.Cred `json:"cred"`
	Wrote     bool       `json:"wrote,omitempty"`
	KillPrivs bool       `json:"kill_privs,omitempty"`
}

// FlushAll commits the pending writes of every open file.
func (fs *FS) FlushAll(ctx context.Context) error {
	fs.mu.Lock()
	ins := make([]*inode, 0, len(fs.inodes))
	for _, in := range fs.inodes {
		ins = append(ins, in)
	}
	fs.mu.Unlock()
	var errs []error
	for _, in := range ins {
		errs = append(errs, in.flush(ctx))
	}
	return errors.Join(errs...)
}

// Handles lists the open handles.
func (fs *FS) Handles() []HandleState {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]HandleState, 0, len(fs.handles))
	for fh, h := range fs.handles {
		out = append(out, HandleState{FH: fh, Ino: h.ino, Flags: h.flags, Cred: h.cred, Wrote: h.wrote, KillPrivs: h.killPrivs.Load()})
	}
	return out
}

// RestoreHandles takes over handles another process had open on this
// client's (resumed) session, with their numbers; new handles are
// numbered after them.
func (fs *FS) RestoreHandles(ctx context.Context, hs []HandleState) error {
	for _, s := range hs {
		if err := fs.meta.RestoreOpen(ctx, s.Ino); err != nil {
			return err
		}
		a, err := fs.meta.GetAttr(ctx, s.Ino)
		if err != nil {
			return err
		}
		fs.mu.Lock()
		in := fs.inodes[s.Ino]
		if in == nil {
			in = newInode(fs, s.Ino)
			fs.inodes[s.Ino] = in
		}
		in.refs++
		in.reopen(a.Length) // the length as the other process committed it
		h := &handle{ino: s.Ino, in: in, flags: s.Flags, cred: s.Cred, wrote: s.Wrote}
		h.killPrivs.Store(s.KillPrivs)
		fs.handles[s.FH] = h
		fs.nextFh = max(fs.nextFh, s.FH)
		fs.mu.Unlock()
	}
	return nil
}
