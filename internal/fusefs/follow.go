package fusefs

import (
	"context"
	"time"

	"cairn/internal/vfs"
)

// Following other clients' changes.
//
// The kernel caches attributes, names and file pages for the timeouts of
// the mount's options, and would show another client's change only once
// they run out. A mount follows the volume's change feed instead (every
// FollowInterval), and for each change made elsewhere (another mount, a
// gateway, this process's own gateway) tells the kernel to drop what it
// makes stale: the attributes and ACLs of the inodes it touched, the
// pages of a file written, the directory entries it added, removed or
// renamed. Its own changes it skips: the kernel made them. The feed is
// read from where it stood at mount; a mount that fell behind its
// retention drops nothing it cannot name and goes on from the head.

const defaultFollowInterval = 200 * time.Millisecond

// followPage is the most changes read at once.
const followPage = 1000

// follow runs until stop is closed.
func (f *rawFS) follow(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	pos, err := f.v.ChangeHead(ctx)
	if err != nil {
		f.log.Warn("following other clients' changes: cannot read the change feed's head", "err", err)
	}
	t := time.NewTicker(f.followEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for {
			stale, last, err := f.v.StaleSince(ctx, pos, followPage)
			if vfs.IsChangesLost(err) {
				f.log.Warn("following other clients' changes: fell behind the change feed's retention; cached names and attributes may be stale until they time out")
				if pos, err = f.v.ChangeHead(ctx); err != nil {
					break
				}
				continue
			}
			if err != nil {
				if ctx.Err() == nil {
					f.log.Warn("following other clients' changes", "err", err)
				}
				break
			}
			for i := range stale {
				f.drop(&stale[i])
			}
			if last == pos {
				break // nothing more
			}
			pos = last
		}
	}
}

// drop tells the kernel to forget what s makes stale, unless this mount
// made the change. A node or name the kernel does not hold is not an
// error.
func (f *rawFS) drop(s *vfs.Stale) {
	if s.Origin.Agent == "fuse" && s.Origin.Session == f.sess && f.sess != 0 {
		return
	}
	if f.srv == nil {
		return
	}
	for _, n := range s.Names {
		f.srv.EntryNotify(uint64(n.Parent), n.Name)
	}
	for _, ino := range s.Attrs {
		if ino != 0 && ino != s.Data {
			f.srv.InodeNotify(uint64(ino), -1, 0) // attributes (and ACLs) only
		}
	}
	if s.Data != 0 {
		f.srv.InodeNotify(uint64(s.Data), 0, 0) // attributes and every page
		f.keep.forget(s.Data)
	}
}
