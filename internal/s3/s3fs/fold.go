package s3fs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Keys that are both an object and a prefix.
//
// S3 allows "a/b" and "a/b/c" together; a file system cannot have a file
// and a directory of one name. The directory wins the name (a mount sees
// a/b as the directory of a/b/c), and the object a/b is folded: its file,
// unchanged (inode, bytes, owner, mode, S3 metadata), lives in
// .cairn/folded/<bucket inode>/<directory inode>, and the directory's S3
// metadata carries a hint (objMeta.Folded) so that a listing, which reads
// that metadata with the directory entry anyway, knows to look. The file's
// existence is the truth; the hint only says where to look.
//
// A key becomes folded in one metadata transaction (meta's FoldFile: the
// directory takes the name, the file moves) when a key below it is first
// written, or is written folded when its directory already exists; it
// unfolds, also in one transaction (UnfoldDir), when the last key below it
// goes, so that a name that is only an object is always a plain file.
// Reads, writes, deletes, versions, tags, ACLs and locks of a folded
// object act on its file there; permissions are the file's own, reached
// through the directories of its key.

// foldsBase returns .cairn/folded, creating it.
func (f *FS) foldsBase(ctx context.Context) (posix.Ino, error) {
	return f.systemSubdir(ctx, "folded", &f.foldIno)
}

// bucketFolds returns the fold directory of bucket directory b (creating
// it when create; 0 when it does not exist).
func (f *FS) bucketFolds(ctx context.Context, b posix.Ino, create bool) (posix.Ino, error) {
	base, err := f.foldsBase(ctx)
	if err != nil {
		return 0, err
	}
	return f.bucketSubdir(ctx, base, b, create)
}

// foldName is the name of the file folded for directory dir.
func foldName(dir posix.Ino) string { return fmt.Sprint(uint64(dir)) }

// lookupFolded is lookupObject for the object folded for directory dir of
// bucket directory b: ErrNoSuchKey when none. cred needs want on the file.
func (f *FS) lookupFolded(ctx context.Context, cred posix.Cred, b, dir posix.Ino, want uint16, data bool) (vfs.WalkResult, *objMeta, error) {
	folds, err := f.bucketFolds(ctx, b, false)
	if err != nil || folds == 0 {
		if err == nil {
			err = ErrNoSuchKey
		}
		return vfs.WalkResult{}, nil, err
	}
	r, err := f.v.Walk(ctx, posix.Root, folds, vfs.WalkRequest{Names: []string{foldName(dir)}, Xattr: metaXattr, Chunk0: data})
	if errors.Is(err, syscall.ENOENT) {
		return r, nil, ErrNoSuchKey
	}
	if err != nil {
		return r, nil, err
	}
	if r.Entry.Attr.Type != posix.TypeFile {
		return r, nil, ErrNoSuchKey
	}
	if want != 0 {
		if err := f.v.Access(ctx, cred, r.Entry.Ino, want); err != nil {
			return r, nil, err
		}
	}
	m, err := f.objectMetaFrom(ctx, r.Entry, r.Xattr)
	return r, m, err
}

// setFoldHint marks directory dir as one an object may be folded for
// (keeping its directory-marker metadata).
func (f *FS) setFoldHint(ctx context.Context, dir posix.Ino) error {
	m, err := f.loadMeta(ctx, dir)
	if err != nil {
		return err
	}
	if m != nil && m.Folded {
		return nil
	}
	if m == nil {
		m = &objMeta{}
	}
	m.Folded = true
	return f.storeMeta(ctx, dir, m)
}

// foldHintMeta is the metadata of a new directory an object is folded for.
func foldHintMeta() map[string][]byte {
	return map[string][]byte{metaXattr: (&objMeta{Folded: true}).encode()}
}

// foldSlot returns where the object of a key whose last segment's name is
// a directory lives: its bucket's fold directory (created) and the
// name there, after marking the directory.
func (f *FS) foldSlot(ctx context.Context, b, dir posix.Ino) (posix.Ino, string, error) {
	folds, err := f.bucketFolds(ctx, b, true)
	if err != nil {
		return 0, "", err
	}
	if err := f.setFoldHint(ctx, dir); err != nil {
		return 0, "", err
	}
	return folds, foldName(dir), nil
}

// foldParent turns the file at parent/name (a key's prefix segment) into
// the directory keys below it need, folding the file's object; the
// directory, when it is one already.
func (f *FS) foldParent(ctx context.Context, cred posix.Cred, b, parent posix.Ino, name string) (posix.Ino, error) {
	folds, err := f.bucketFolds(ctx, b, true)
	if err != nil {
		return 0, err
	}
	c := cred
	c.Umask = 0
	e, err := f.v.FoldFile(ctx, c, parent, name, folds, f.dirMode, 0, foldHintMeta())
	if err != nil {
		return 0, err
	}
	return e.Ino, nil
}

// unfold gives the object folded for the now empty directory parent/name
// its name back: true when it did.
func (f *FS) unfold(ctx context.Context, cred posix.Cred, b, parent posix.Ino, name string) bool {
	folds, err := f.bucketFolds(ctx, b, false)
	if err != nil || folds == 0 {
		return false
	}
	return f.v.UnfoldDir(ctx, cred, parent, name, folds) == nil
}

// keySlot is where a key's object file is: a name in a directory, the
// key's own (folded 0) or its bucket's fold directory (folded: the
// directory the object is folded for).
type keySlot struct {
	parent posix.Ino
	name   string
	folded posix.Ino
}

// removeCred is the credential that removes or replaces the file at slot
// for cred: cred itself at the key's path; root in the fold directory,
// once cred may change the key's own directory (write and search
// permission on it, the sticky rules against the file).
func (f *FS) removeCred(ctx context.Context, cred posix.Cred, at keySlot, keyDir posix.Ino, file posix.Attr) (posix.Cred, error) {
	if at.folded == 0 {
		return cred, nil
	}
	if err := f.v.Access(ctx, cred, keyDir, posix.MayWrite|posix.MayExec); err != nil {
		return cred, err
	}
	d, err := f.v.GetAttr(ctx, keyDir)
	if err != nil {
		return cred, err
	}
	if err := posix.CheckSticky(cred, &d, &file); err != nil {
		return cred, err
	}
	return posix.Root, nil
}

// chain is the key's directory chain for pruning after its object at the
// slot went: with the directory the object was folded for, which may now
// be empty.
func (at keySlot) chain(keyDirs []posix.Ino) []posix.Ino {
	if at.folded == 0 {
		return keyDirs
	}
	return append(keyDirs[:len(keyDirs):len(keyDirs)], at.folded)
}

// objectSlot returns where the object named name in directory parent (of
// bucket directory b) is written: there, or, when that name is a
// directory (the key is also a prefix), folded.
func (f *FS) objectSlot(ctx context.Context, cred posix.Cred, b, parent posix.Ino, name string) (keySlot, error) {
	at, _, _, err := f.objectSlotEntry(ctx, cred, b, parent, name)
	return at, err
}

// objectSlotEntry is objectSlot that also returns what the lookup of
// parent/name found when the object is not folded (e, lerr), so that the
// caller need not look again.
func (f *FS) objectSlotEntry(ctx context.Context, cred posix.Cred, b, parent posix.Ino, name string) (keySlot, vfs.Entry, error, error) {
	at := keySlot{parent: parent, name: name}
	e, lerr := f.v.Lookup(ctx, cred, parent, name)
	if lerr != nil || !e.Attr.IsDir() {
		return at, e, lerr, nil // missing, a file, or unreadable: the write decides
	}
	folds, n, err := f.foldSlot(ctx, b, e.Ino)
	if err != nil {
		return at, e, lerr, err
	}
	return keySlot{parent: folds, name: n, folded: e.Ino}, vfs.Entry{}, nil, nil
}

// deleteFolded removes the object folded for the directory that the key
// segs names (none: nothing to do) in an unversioned bucket, then the
// directory if that left it empty.
func (f *FS) deleteFolded(ctx context.Context, cred posix.Cred, chain []posix.Ino, segs []string) error {
	dir, err := f.v.Lookup(ctx, cred, chain[len(chain)-1], segs[len(segs)-1])
	if err != nil {
		return nil
	}
	if !dir.Attr.IsDir() {
		return errUnfolded // its directory went meanwhile: the object has its name back
	}
	r, m, err := f.lookupFolded(ctx, cred, chain[0], dir.Ino, 0, false)
	if errors.Is(err, ErrNoSuchKey) {
		return f.unfoldedMeanwhile(ctx, cred, chain, segs, dir.Ino)
	}
	if err != nil {
		return err
	}
	folds, err := f.bucketFolds(ctx, chain[0], false)
	if err != nil {
		return err
	}
	at := keySlot{parent: folds, name: foldName(dir.Ino), folded: dir.Ino}
	rc, err := f.removeCred(ctx, cred, at, chain[len(chain)-1], r.Entry.Attr)
	if err != nil {
		return err
	}
	if m != nil {
		if err := m.mayDelete(f.now(), false); err != nil {
			return err
		}
	}
	if err := f.v.Unlink(ctx, rc, at.parent, at.name); errors.Is(err, syscall.ENOENT) {
		return f.unfoldedMeanwhile(ctx, cred, chain, segs, dir.Ino)
	} else if err != nil {
		return err
	}
	f.pruneEmptyDirs(ctx, cred, at.chain(chain), segs)
	return nil
}

// unfoldedMeanwhile tells, when the object folded for directory dir was
// not found, whether a concurrent delete of the last key below emptied
// dir and gave the object its name back (UnfoldDir: one transaction) —
// errUnfolded, so the caller deletes it by its name — or there was none
// (nil).
func (f *FS) unfoldedMeanwhile(ctx context.Context, cred posix.Cred, chain []posix.Ino, segs []string, dir posix.Ino) error {
	e, err := f.v.Lookup(ctx, cred, chain[len(chain)-1], segs[len(segs)-1])
	if err != nil || (e.Attr.IsDir() && e.Ino == dir) {
		return nil
	}
	return errUnfolded
}

// reclaimFolds removes the folded files whose directory is gone (removed
// on a mount with rmdir, which knows nothing of folds; S3 never leaves
// one): their objects went with their key's directory. It returns how
// many it removed.
func (f *FS) reclaimFolds(ctx context.Context) (int, error) {
	base, err := f.foldsBase(ctx)
	if err != nil {
		return 0, err
	}
	buckets, err := f.v.ReadDir(ctx, posix.Root, base, vfs.ReadDirOptions{Limit: 100000, SkipPerm: true})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range buckets {
		after := ""
		for {
			ents, err := f.v.ReadDir(ctx, posix.Root, b.Ino, vfs.ReadDirOptions{After: after, Limit: 1000, SkipPerm: true})
			if err != nil {
				return n, err
			}
			for _, e := range ents {
				after = e.Name
				dir, perr := strconv.ParseUint(strings.TrimSuffix(e.Name, "m"), 10, 64)
				if perr == nil {
					if a, err := f.v.GetAttr(ctx, posix.Ino(dir)); err == nil && a.IsDir() {
						continue
					} else if err != nil && !errors.Is(err, syscall.ENOENT) {
						return n, err
					}
				}
				if err := f.v.Unlink(ctx, posix.Root, b.Ino, e.Name); err != nil && !errors.Is(err, syscall.ENOENT) {
					return n, err
				}
				n++
			}
			if len(ents) < 1000 {
				break
			}
		}
	}
	return n, nil
}

// Directory markers with data. A key ending in "/" is its directory's
// marker (S3 metadata on the directory); the bytes of one that has any
// live in the bucket's fold directory, under the directory's inode number
// and "m", and the marker's metadata (which describes them: size, ETag)
// carries MarkerData.

// markerName is the name of the bytes of directory dir's marker.
func markerName(dir posix.Ino) string { return foldName(dir) + "m" }

// markerFile walks to the bytes of the marker of directory dir of bucket
// directory b, with its first chunk, for reading.
func (f *FS) markerFile(ctx context.Context, b, dir posix.Ino) (vfs.WalkResult, error) {
	folds, err := f.bucketFolds(ctx, b, false)
	if err != nil {
		return vfs.WalkResult{}, err
	}
	if folds == 0 {
		return vfs.WalkResult{}, ErrNoSuchKey
	}
	r, err := f.v.Walk(ctx, posix.Root, folds, vfs.WalkRequest{Names: []string{markerName(dir)}, Chunk0: true})
	if errors.Is(err, syscall.ENOENT) {
		return r, ErrNoSuchKey
	}
	return r, err
}

// dropMarkerData removes the bytes of directory dir's marker, if any.
func (f *FS) dropMarkerData(ctx context.Context, b, dir posix.Ino) error {
	folds, err := f.bucketFolds(ctx, b, false)
	if err != nil || folds == 0 {
		return err
	}
	err = f.v.Unlink(ctx, posix.Root, folds, markerName(dir))
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return err
}

// markerAttr is what a listing shows of directory marker m on a directory
// of attributes a: a marker with bytes is listed with their size.
func markerAttr(a posix.Attr, m *objMeta) posix.Attr {
	if m.MarkerData {
		a.Type, a.Length, a.Mtime = posix.TypeFile, m.Size, m.Mtime
	}
	return a
}
