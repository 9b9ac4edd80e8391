package s3fs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// DeleteObject removes bucket/key. A missing key is not an error (S3
// answers 204 either way). Directories left empty by the removal are
// removed too, up to the bucket, unless they are explicit directory
// markers, so that a deleted key leaves no phantom prefix. cred needs
// write permission on the parent directory (and the sticky rules apply).
func (f *FS) DeleteObject(ctx context.Context, cred posix.Cred, bucket, key string) error {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	segs, dir, err := splitKey(key)
	if err != nil {
		if errors.Is(err, ErrInvalidKey) {
			return nil
		}
		return err
	}
	if !ValidBucketName(bucket) {
		return ErrNoSuchBucket
	}
	chain, err := f.keyDirs(ctx, cred, bucket, segs)
	if err != nil || chain == nil {
		return err
	}
	return f.deleteIn(removed(ctx, bucket, key, "", false), cred, chain, segs, dir)
}

// keyDirs resolves the bucket and the directories of a key (segs), in
// one metadata read, into the chain of their inodes. A chain of nil with
// no error means that a directory is missing: no such key.
func (f *FS) keyDirs(ctx context.Context, cred posix.Cred, bucket string, segs []string) ([]posix.Ino, error) {
	names := append([]string{bucket}, segs[:len(segs)-1]...)
	r, err := f.v.Walk(ctx, cred, posix.RootIno, vfs.WalkRequest{Names: names, FirstAsRoot: true})
	switch {
	case err == nil && !r.Entry.Attr.IsDir():
		if len(names) == 1 {
			return nil, ErrNoSuchBucket
		}
		return nil, nil
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR):
		if r.Found == 0 || (r.Found == 1 && errors.Is(err, syscall.ENOTDIR)) {
			return nil, ErrNoSuchBucket
		}
		return nil, nil
	case err != nil:
		return nil, err
	}
	return r.Path, nil
}

// errUnfolded: a folded object got its name back while it was being
// deleted (deleteIn tries again).
var errUnfolded = errors.New("s3fs: the object was unfolded meanwhile")

// deleteIn removes the key segs (a directory marker when dir) whose
// directories chain holds. Its first change removes the object: the one
// a publish in ctx goes with.
func (f *FS) deleteIn(ctx context.Context, cred posix.Cred, chain []posix.Ino, segs []string, dir bool) error {
	name := segs[len(segs)-1]
	parent := chain[len(chain)-1]
	if !dir {
		// unlink(2) answers EISDIR for a directory: "a" when only "a/..."
		// keys exist is no such object, and needs no lookup first.
		emptied, err := f.v.UnlinkEmptied(ctx, cred, parent, name)
		for try := 0; errors.Is(err, syscall.EISDIR) && try < 3; try++ {
			// The object, if any, is folded — unless a concurrent delete
			// of the last key below empties the directory and gives the
			// object its name back first: then it is unlinked after all.
			if err = f.deleteFolded(ctx, cred, chain, segs); !errors.Is(err, errUnfolded) {
				return err
			}
			emptied, err = f.v.UnlinkEmptied(ctx, cred, parent, name)
		}
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
		if emptied { // most deletes leave their directory in use
			f.pruneEmptyDirs(ctx, cred, chain, segs)
		}
		return nil
	}
	e, err := f.v.Lookup(ctx, cred, parent, name)
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if !e.Attr.IsDir() {
		return nil
	}
	m, err := f.loadMeta(ctx, e.Ino)
	if err != nil {
		return err
	}
	if m != nil && m.MarkerData {
		// The marker's bytes go first (the marker then holds none).
		if err := f.v.Access(ctx, cred, parent, posix.MayWrite|posix.MayExec); err != nil {
			return err
		}
		if err := f.dropMarkerData(ctx, chain[0], e.Ino); err != nil {
			return err
		}
	}
	if m != nil && m.Folded {
		// An object may be folded for the directory: the marker goes, the
		// hint stays, and an emptied directory gives the object its name.
		if err := f.v.Access(ctx, cred, parent, posix.MayWrite|posix.MayExec); err != nil {
			return err
		}
		if err := f.storeMeta(ctx, e.Ino, &objMeta{Folded: true}); err != nil {
			return err
		}
		f.pruneEmptyDirs(ctx, cred, append(chain[:len(chain):len(chain)], e.Ino), segs)
		return nil
	}
	err = f.v.Rmdir(ctx, cred, parent, name)
	if errors.Is(err, syscall.ENOTEMPTY) {
		// A marker over other keys: the marker goes, the keys stay.
		err = f.v.RemoveInternalXattr(ctx, e.Ino, metaXattr)
		if errors.Is(err, syscall.ENODATA) {
			err = nil
		}
		return err
	}
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	f.pruneEmptyDirs(ctx, cred, chain, segs)
	return nil
}

// pruneEmptyDirs removes the implicit directories on a key's path that are
// now empty, deepest first. Failures are fine: the directory is in use.
func (f *FS) pruneEmptyDirs(ctx context.Context, cred posix.Cred, chain []posix.Ino, segs []string) {
	for i := len(chain) - 1; i >= 1; i-- {
		// Most directories still hold other keys: a read tells, and
		// spares a write transaction that would fail with ENOTEMPTY.
		ents, err := f.v.ReadDir(ctx, posix.Root, chain[i], vfs.ReadDirOptions{Limit: 1, SkipPerm: true})
		if err != nil || len(ents) > 0 {
			return
		}
		m, err := f.loadMeta(ctx, chain[i])
		if err != nil || (m != nil && m.DirMarker) {
			return
		}
		if m != nil && m.Folded && f.unfold(ctx, cred, chain[0], chain[i-1], segs[i-1]) {
			return // the object folded for it has its name back
		}
		if err := f.v.Rmdir(ctx, cred, chain[i-1], segs[i-1]); err != nil {
			return
		}
	}
}

// deleteParallel bounds the metadata transactions of one DeleteObjects
// run at once, and deleteBatch the keys of one directory removed in one.
const (
	deleteParallel = 16
	deleteBatch    = 128
)

// DeleteObjects removes keys of bucket as DeleteObject does, and returns
// one outcome per key, in order. The keys of one directory go together,
// up to deleteBatch in one metadata transaction (meta.UnlinkMany: the
// directory's attributes and the volume's counters are written once, not
// once per key), and such batches run up to deleteParallel at a time so
// that their commits are shared where the engine groups them, as
// SQLite's store does. Directory markers ("a/b/") go one by one. Each
// distinct directory of the request is resolved once. The order in which
// keys of one request go is not defined (as in S3).
func (f *FS) DeleteObjects(ctx context.Context, cred posix.Cred, bucket string, keys []string) []error {
	errs := make([]error, len(keys))
	if !ValidBucketName(bucket) {
		for i := range errs {
			errs[i] = ErrNoSuchBucket
		}
		return errs
	}
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	type group struct {
		segs []string // of its first key: the directories
		keys []int    // indexes into keys
		name []string // the keys' last segments
	}
	var groups []*group
	byDir := map[string]*group{}
	var markers []int
	for i, key := range keys {
		segs, dir, err := splitKey(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				errs[i] = err
			}
			continue
		}
		if dir {
			markers = append(markers, i)
			continue
		}
		dk := strings.Join(segs[:len(segs)-1], "/")
		g := byDir[dk]
		if g == nil {
			g = &group{segs: segs}
			byDir[dk] = g
			groups = append(groups, g)
		}
		g.keys = append(g.keys, i)
		g.name = append(g.name, segs[len(segs)-1])
	}
	// Work items: a batch of one directory's keys, or one marker. A
	// directory's chain is resolved by the first of its batches to run.
	type dirOf struct {
		once  sync.Once
		chain []posix.Ino
		err   error
	}
	chainOf := func(d *dirOf, segs []string) ([]posix.Ino, error) {
		d.once.Do(func() { d.chain, d.err = f.keyDirs(ctx, cred, bucket, segs) })
		return d.chain, d.err
	}
	var work []func()
	for _, g := range groups {
		d := &dirOf{}
		for lo := 0; lo < len(g.keys); lo += deleteBatch {
			hi := min(lo+deleteBatch, len(g.keys))
			work = append(work, func() {
				chain, err := chainOf(d, g.segs)
				if err != nil || chain == nil {
					for _, i := range g.keys[lo:hi] {
						errs[i] = err
					}
					return
				}
				pubs := make([]vfs.Publish, 0, hi-lo)
				for j, i := range g.keys[lo:hi] {
					p := removedEvent(ctx, bucket, keys[i], "", false)
					p.Name = g.name[lo+j]
					pubs = append(pubs, p)
				}
				out, emptied, err := f.v.UnlinkMany(vfs.WithPublish(ctx, pubs...), cred, chain[len(chain)-1], g.name[lo:hi])
				for j, i := range g.keys[lo:hi] {
					switch {
					case err == nil && errors.Is(out[j], syscall.EISDIR):
						// The key is also a prefix: its object, if any,
						// is folded.
						segs, _, _ := splitKey(keys[i])
						errs[i] = f.deleteIn(removed(ctx, bucket, keys[i], "", false), cred, chain, segs, false)
					case err == nil:
						errs[i] = unlinkOutcome(out[j])
					default:
						errs[i] = unlinkOutcome(err)
					}
				}
				if err == nil && emptied { // most deletes leave their directory in use
					f.pruneEmptyDirs(ctx, cred, chain, g.segs)
				}
			})
		}
	}
	markerDirs := map[string]*dirOf{}
	for _, i := range markers {
		segs, _, _ := splitKey(keys[i])
		dk := strings.Join(segs[:len(segs)-1], "/")
		d := markerDirs[dk]
		if d == nil {
			d = &dirOf{}
			markerDirs[dk] = d
		}
		work = append(work, func() {
			chain, err := chainOf(d, segs)
			if err != nil || chain == nil {
				errs[i] = err
				return
			}
			errs[i] = f.deleteIn(removed(ctx, bucket, keys[i], "", false), cred, chain, segs, true)
		})
	}
	next := make(chan func())
	var wg sync.WaitGroup
	for range min(deleteParallel, len(work)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range next {
				w()
			}
		}()
	}
	for _, w := range work {
		next <- w
	}
	close(next)
	wg.Wait()
	return errs
}

// unlinkOutcome is DeleteObject's answer for an unlink's result: a key
// that is missing, or names a directory (only "a/..." keys exist), or
// whose directory went meanwhile, is no such object, which S3 reports as
// deleted.
func unlinkOutcome(err error) error {
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	return err
}
