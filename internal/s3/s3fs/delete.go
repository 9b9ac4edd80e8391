package s3fs

import (
	"context"
	"errors"
	"syscall"

	"cairn/internal/posix"
)

// DeleteObject removes bucket/key. A missing key is not an error (S3
// answers 204 either way). Directories left empty by the removal are
// removed too, up to the bucket, unless they are explicit directory
// markers, so that a deleted key leaves no phantom prefix. cred needs
// write permission on the parent directory (and the sticky rules apply).
func (f *FS) DeleteObject(ctx context.Context, cred posix.Cred, bucket, key string) error {
	segs, dir, err := splitKey(key)
	if err != nil {
		if errors.Is(err, ErrInvalidKey) {
			return nil
		}
		return err
	}
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return err
	}
	chain := []posix.Ino{b.Ino}
	for _, s := range segs[:len(segs)-1] {
		e, err := f.v.Lookup(ctx, cred, chain[len(chain)-1], s)
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) || (err == nil && !e.Attr.IsDir()) {
			return nil
		}
		if err != nil {
			return err
		}
		chain = append(chain, e.Ino)
	}
	name := segs[len(segs)-1]
	parent := chain[len(chain)-1]
	e, err := f.v.Lookup(ctx, cred, parent, name)
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if dir {
		if !e.Attr.IsDir() {
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
	} else {
		if e.Attr.IsDir() {
			return nil // "a" when only "a/..." keys exist: no such object
		}
		err = f.v.Unlink(ctx, cred, parent, name)
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
		m, err := f.loadMeta(ctx, chain[i])
		if err != nil || (m != nil && m.DirMarker) {
			return
		}
		if err := f.v.Rmdir(ctx, cred, chain[i-1], segs[i-1]); err != nil {
			return
		}
	}
}
