package s3fs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// staleTemp is how old a temporary file whose writer cannot be told (a
// name of an older layout, or written without a session) must be before
// ReclaimTemp removes it.
const staleTemp = 24 * time.Hour

// ReclaimTemp removes the temporary files (uploads being received, copies,
// parts and objects being assembled) that clients which died left in the
// system directory, and returns how many it removed. A temporary name
// carries its client's session: those of sessions that no longer exist go
// at once, so it is safe beside live writers (theirs are kept); names
// without a session go once staleTemp old. Their data then follows the
// usual delayed deletion of freed slices. Folded objects whose key's
// directory was removed on a mount go too.
func (f *FS) ReclaimTemp(ctx context.Context) (int, error) {
	tmpDir, _, err := f.systemDirs(ctx)
	if err != nil {
		return 0, err
	}
	live, err := f.v.LiveSessions(ctx)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	n := 0
	after := ""
	for {
		ents, err := f.v.ReadDir(ctx, posix.Root, tmpDir, vfs.ReadDirOptions{After: after, Limit: 1000, SkipPerm: true})
		if err != nil {
			return n, err
		}
		for _, e := range ents {
			after = e.Name
			if !tempDead(e.Name, live, f.v.SessionID(), now) {
				continue
			}
			if err := f.v.Unlink(ctx, posix.Root, tmpDir, e.Name); err != nil && !errors.Is(err, syscall.ENOENT) {
				return n, err
			}
			n++
		}
		if len(ents) < 1000 {
			folds, err := f.reclaimFolds(ctx)
			return n + folds, err
		}
	}
}

// tempDead reports whether the temporary file name belongs to no live
// writer: its session (s<id>-<ns>-<random>) is gone, or, with no session
// to tell (id 0, or the older <ns>-<random> layout), it is staleTemp old.
func tempDead(name string, live map[uint64]bool, self uint64, now time.Time) bool {
	parts := strings.Split(name, "-")
	var sid uint64
	var tsPart string
	switch {
	case len(parts) == 3 && strings.HasPrefix(parts[0], "s"):
		id, err := strconv.ParseUint(parts[0][1:], 10, 64)
		if err != nil {
			return false
		}
		sid, tsPart = id, parts[1]
	case len(parts) == 2:
		tsPart = parts[0]
	default:
		return false // not a name of ours: left alone
	}
	if sid != 0 {
		return sid != self && !live[sid]
	}
	ns, err := strconv.ParseInt(tsPart, 10, 64)
	return err == nil && now.Sub(time.Unix(0, ns)) > staleTemp
}
