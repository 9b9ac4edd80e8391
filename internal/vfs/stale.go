package vfs

import (
	"context"
	"errors"

	"cairn/internal/meta"
	"cairn/internal/posix"
)

// Stale is what one change of the volume leaves out of date in another
// client's caches: attributes (and the ACLs that come with them), cached
// data, and directory entries (names added, removed or replaced). A
// client that caches (a mount's kernel) follows the changes others make
// with StaleSince and drops what they say, rather than waiting for its
// cache timeouts.
type Stale struct {
	Seq    uint64
	Origin Origin
	// Attrs are the inodes whose attributes changed.
	Attrs []posix.Ino
	// Data is the inode whose contents changed (0: none).
	Data posix.Ino
	// Names are the directory entries that appeared, went or changed.
	Names []Name
}

// Name is a directory entry.
type Name struct {
	Parent posix.Ino
	Name   string
}

// ChangeHead is the newest change's number: a follower starts after it.
func (fs *FS) ChangeHead(ctx context.Context) (uint64, error) {
	return fs.meta.FeedHead(ctx)
}

// ErrChangesLost is StaleSince's error for a position whose changes were
// already dropped (the change feed's retention): the follower has
// missed changes and should drop everything it caches.
var ErrChangesLost = meta.ErrFeedTruncated

// StaleSince returns what the changes after position after (up to limit
// of them) leave stale, and the position to go on from.
func (fs *FS) StaleSince(ctx context.Context, after uint64, limit int) ([]Stale, uint64, error) {
	recs, last, err := fs.meta.ReadFeedOps(ctx, after, limit, nil)
	if err != nil {
		return nil, after, err
	}
	out := make([]Stale, 0, len(recs))
	for i := range recs {
		if s, ok := staleOf(&recs[i]); ok {
			out = append(out, s)
		}
	}
	return out, last, nil
}

// staleOf maps a change-feed record to what it makes stale.
func staleOf(r *meta.Record) (Stale, bool) {
	s := Stale{Seq: r.Seq, Origin: r.Origin}
	switch r.Op {
	case meta.OpSetAttr, meta.OpSetXattr, meta.OpRemoveXattr, meta.OpSetACL:
		s.Attrs = []posix.Ino{r.Ino}
	case meta.OpWrite, meta.OpTruncate, meta.OpCopy:
		s.Attrs, s.Data = []posix.Ino{r.Ino}, r.Ino
	case meta.OpCreate, meta.OpMkdir, meta.OpMknod, meta.OpSymlink:
		s.Attrs = []posix.Ino{r.Parent}
		s.Names = []Name{{r.Parent, r.Name}}
	case meta.OpLink, meta.OpUnlink, meta.OpRmdir:
		s.Attrs = []posix.Ino{r.Parent, r.Ino}
		s.Names = []Name{{r.Parent, r.Name}}
	case meta.OpRename:
		s.Attrs = []posix.Ino{r.Parent, r.Ino}
		s.Names = []Name{{r.Parent, r.Name}}
		if r.NewParent != 0 {
			if r.NewParent != r.Parent {
				s.Attrs = append(s.Attrs, r.NewParent)
			}
			s.Names = append(s.Names, Name{r.NewParent, r.NewName})
		}
	default: // publish records and others: nothing cached changes
		return s, false
	}
	return s, true
}

// IsChangesLost reports whether err is ErrChangesLost.
func IsChangesLost(err error) bool { return errors.Is(err, ErrChangesLost) }
