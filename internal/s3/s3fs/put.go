package s3fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// ioBufSize is the size of the copy buffer between a request body and a
// file: large enough that one write fills a good part of a block.
const ioBufSize = 1 << 20

// PutObject stores body as bucket/key. The bytes go to a hidden temporary
// file that is renamed into place once complete and verified, so readers
// see the old object or the new one, never a mix, and a failed or
// truncated upload leaves nothing behind. Missing parent directories are
// created as cred. The caller needs write permission on the parent (and on
// an existing object it replaces).
func (f *FS) PutObject(ctx context.Context, cred posix.Cred, bucket, key string, body io.Reader, opt PutOptions) (ObjectInfo, error) {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	segs, dir, err := splitKey(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	if opt.Size > smallPut && ValidBucketName(bucket) {
		if err := f.checkQuotaAhead(ctx, bucket, key, opt.Size); err != nil {
			return ObjectInfo{}, err
		}
	}
	if !dir && opt.Size >= 0 && opt.Size <= smallPut && opt.IfMatch == "" {
		if !ValidBucketName(bucket) {
			return ObjectInfo{}, ErrNoSuchBucket
		}
		return f.putSmall(ctx, cred, bucket, key, segs, body, opt)
	}
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	if dir {
		return f.putDirMarker(ctx, cred, b.Ino, bucket, key, segs, body, opt)
	}
	return f.putViaTemp(ctx, cred, b.Ino, bucket, key, segs, body, opt)
}

// putViaTemp stores an object through a temporary file renamed into
// place (objects too large for putSmall, and folded ones).
func (f *FS) putViaTemp(ctx context.Context, cred posix.Cred, b posix.Ino, bucket, key string, segs []string, body io.Reader, opt PutOptions) (ObjectInfo, error) {
	parent, err := f.makeParents(ctx, cred, b, segs[:len(segs)-1])
	if err != nil {
		return ObjectInfo{}, err
	}
	at, rc, err := f.checkReplace(ctx, cred, b, parent, segs[len(segs)-1], opt)
	if err != nil {
		return ObjectInfo{}, err
	}
	tmp, m, err := f.writeTemp(ctx, cred, body, opt)
	if err == nil && m.ACL != nil {
		if err = f.markObjectACLs(ctx, bucket); err != nil {
			f.dropTemp(ctx, cred, tmp)
		}
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	return f.publish(ctx, cred, tmp, m, at, rc, bucket, key, opt.IfNoneMatch == "*", opt)
}

// smallPut is the largest object stored by putSmall.
const smallPut = 1 << 20

// putSmall stores an object whose bytes fit in memory: read and verified
// whole, stored as one slice, and created (replacing any old object) in
// one metadata transaction, without a temporary file. Readers still see
// the old object or the new one, and a failed upload leaves nothing. The
// bucket and the key's directories are resolved in that transaction too;
// only when one is missing are they created first (as cred), and the
// object stored in a second transaction.
func (f *FS) putSmall(ctx context.Context, cred posix.Cred, bucket, key string, segs []string, body io.Reader, opt PutOptions) (ObjectInfo, error) {
	buf := make([]byte, opt.Size+1)
	n, err := io.ReadFull(body, buf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
	case err != nil:
		return ObjectInfo{}, err
	default:
		return ObjectInfo{}, ErrIncompleteBody // longer than announced
	}
	data := buf[:n]
	h := newHasher(opt.Expect, opt.Compute, int64(n))
	defer h.close()
	h.Write(data)
	if err := checkBody(h, int64(n), opt); err != nil {
		return ObjectInfo{}, err
	}
	status, err := f.Versioning(ctx, bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	m := &objMeta{ETag: hex.EncodeToString(h.md5.Sum(nil)), ContentType: opt.ContentType,
		UserMeta: opt.UserMeta, Headers: opt.Headers, Tags: opt.Tags, Checksums: h.result(), Size: uint64(n)}
	if err := f.setACL(ctx, bucket, m, opt.ACL, cred.UID); err != nil {
		return ObjectInfo{}, err
	}
	mode := opt.Mode
	if mode == 0 {
		mode = f.fileMode
	}
	c := cred
	c.Umask = 0 // the configured mode, exactly
	// The metadata describes the file state it was computed for (size and
	// mtime), so the mtime is chosen here and given to the transaction.
	m.Mtime = f.now().UnixNano()
	f.stampVersion(m, status)
	var iflags uint8
	if status != "" {
		if iflags, err = f.applyLock(ctx, bucket, m, opt); err != nil {
			return ObjectInfo{}, err
		}
	} else if opt.LockMode != "" || opt.LegalHold != "" {
		return ObjectInfo{}, ErrNoObjectLock
	}
	enc := m.encode()
	name := segs[len(segs)-1]
	popt := vfs.PutFileOptions{Mode: mode, Xattrs: map[string][]byte{metaXattr: enc},
		NoReplace: opt.IfNoneMatch == "*", Mtime: m.Mtime, Flags: iflags,
		Dirs: append([]string{bucket}, segs[:len(segs)-1]...), FirstAsRoot: true}
	var bucketDir, parent posix.Ino
	pctx := created(ctx, bucket, key, int64(n), m)
	put := func() (vfs.Entry, error) {
		if parent != 0 {
			return f.v.PutFile(pctx, c, parent, name, data, popt)
		}
		e, err := f.v.PutFile(pctx, c, posix.RootIno, name, data, popt)
		if we := (*vfs.WalkError)(nil); errors.As(err, &we) {
			// The first object under a new prefix (or no such bucket).
			b, berr := f.bucketIno(ctx, cred, bucket)
			if berr != nil {
				return e, berr
			}
			bucketDir = b.Ino
			p, perr := f.makeParents(ctx, cred, b.Ino, segs[:len(segs)-1])
			if perr != nil {
				return e, perr
			}
			parent = p
			popt.Dirs, popt.FirstAsRoot = nil, false
			e, err = f.v.PutFile(pctx, c, parent, name, data, popt)
		}
		return e, err
	}
	var e vfs.Entry
	if status == "" || popt.NoReplace {
		e, err = put()
	} else {
		// A new key costs nothing more than without versioning; one that
		// has a current version keeps it as a noncurrent one.
		popt.NoReplace = true
		e, err = put()
		if errors.Is(err, syscall.EEXIST) {
			if bucketDir == 0 {
				b, berr := f.bucketIno(ctx, cred, bucket)
				if berr != nil {
					return ObjectInfo{}, berr
				}
				bucketDir = b.Ino
			}
			holder, herr := f.holderDir(ctx, bucketDir, segs, true)
			if herr != nil {
				return ObjectInfo{}, herr
			}
			popt.NoReplace, popt.Keep = false, keepVersion(holder, status)
			e, err = put()
			if err == nil {
				f.afterVersionedPut(ctx, bucketDir, segs, status)
			}
		}
	}
	if errors.Is(err, syscall.EEXIST) && opt.IfNoneMatch == "*" {
		// The name may be a prefix's directory rather than an object.
		names := append([]string{bucket}, segs...)
		if r, lerr := f.v.Walk(ctx, posix.Root, posix.RootIno, vfs.WalkRequest{Names: names}); lerr == nil && r.Entry.Attr.IsDir() {
			err = syscall.EISDIR
		}
	}
	switch {
	case errors.Is(err, syscall.EEXIST) && opt.IfNoneMatch == "*":
		return ObjectInfo{}, ErrPreconditionFailed
	case errors.Is(err, syscall.EISDIR):
		// The key is also a prefix: its object is folded, through a
		// temporary file.
		b, berr := f.bucketIno(ctx, cred, bucket)
		if berr != nil {
			return ObjectInfo{}, berr
		}
		opt.Size = int64(len(data))
		return f.putViaTemp(ctx, cred, b.Ino, bucket, key, segs, bytes.NewReader(data), opt)
	case err != nil:
		return ObjectInfo{}, err
	}
	return f.info(bucket, key, e.Attr, m), nil
}

// publish renames a finished temporary file into place. In a bucket with
// versioning, m gets its version id first, and a replaced current version
// is kept as a noncurrent one.
func (f *FS) publish(ctx context.Context, cred posix.Cred, tmp tempFile, m *objMeta, at keySlot, rc posix.Cred, bucket, key string, noReplace bool, lock PutOptions) (ObjectInfo, error) {
	parent, name := at.parent, at.name
	status, err := f.Versioning(ctx, bucket)
	var iflags uint8
	if err == nil && status != "" {
		f.stampVersion(m, status)
		if iflags, err = f.applyLock(ctx, bucket, m, lock); err == nil {
			err = f.storeMeta(ctx, tmp.ino, m)
		}
	} else if err == nil && (lock.LockMode != "" || lock.LegalHold != "") {
		err = ErrNoObjectLock
	}
	flags := uint32(0)
	if noReplace || status != "" {
		flags = vfs.RenameNoReplace
	}
	if err == nil && iflags != 0 {
		// A locked version is immutable before anyone can reach it; its
		// mode is final first (publish's chmod below would be refused).
		if want := f.fileMode; want&0o022 != 0 {
			_, _ = f.v.Chmod(ctx, cred, tmp.ino, want)
		}
		if tmp.attr, err = f.v.SetFlags(ctx, posix.Root, tmp.ino, iflags); err == nil {
			flags |= vfs.RenameTrusted
		}
	}
	pctx := created(ctx, bucket, key, int64(tmp.attr.Length), m)
	if err == nil {
		err = f.v.Rename(pctx, rc, tmp.dir, tmp.name, parent, name, flags)
	}
	var bucketDir posix.Ino
	var segs []string
	if errors.Is(err, syscall.EEXIST) && !noReplace && status != "" {
		var holder posix.Ino
		segs, _, err = splitKey(key)
		if err == nil {
			var b vfs.Entry
			if b, err = f.bucketIno(ctx, cred, bucket); err == nil {
				bucketDir = b.Ino
				holder, err = f.holderDir(ctx, bucketDir, segs, true)
			}
		}
		if err == nil {
			err = f.v.RenameKeep(pctx, rc, tmp.dir, tmp.name, parent, name, flags&vfs.RenameTrusted, keepVersion(holder, status))
		}
		if err == nil {
			f.afterVersionedPut(ctx, bucketDir, segs, status)
		}
	}
	if err != nil {
		if iflags != 0 {
			_ = f.unlock(ctx, tmp.ino, tmp.attr)
		}
		f.dropTemp(ctx, cred, tmp)
		switch {
		case errors.Is(err, syscall.EEXIST) && noReplace:
			return ObjectInfo{}, ErrPreconditionFailed
		case errors.Is(err, syscall.EISDIR):
			return ObjectInfo{}, fmt.Errorf("%w: %s is a prefix of other keys", ErrKeyConflict, key)
		}
		return ObjectInfo{}, err
	}
	// Staged files are created without group and other write (others
	// can reach the shared staging directory); a configured mode that has
	// them is set once the object is in place.
	if want := f.fileMode; want&0o022 != 0 && iflags == 0 {
		if e, err := f.v.Lookup(ctx, rc, parent, name); err == nil {
			if a, err := f.v.Chmod(ctx, cred, e.Ino, want); err == nil {
				tmp.attr = a
			}
		}
	}
	return f.info(bucket, key, tmp.attr, m), nil
}

// checkReplace finds where a PUT of the key named name in directory
// parent (of bucket directory b) puts its object — there, or folded when
// the name is a directory — and the credential that writes it there, and
// applies the conditions and permissions on the object it would replace.
func (f *FS) checkReplace(ctx context.Context, cred posix.Cred, b, parent posix.Ino, name string, opt PutOptions) (keySlot, posix.Cred, error) {
	at, e, err, serr := f.objectSlotEntry(ctx, cred, b, parent, name)
	if serr != nil {
		return at, cred, serr
	}
	rc := cred
	if at.folded != 0 {
		// The fold directory is root's: cred must be able to write the
		// key's own directory.
		if err := f.v.Access(ctx, cred, parent, posix.MayWrite|posix.MayExec); err != nil {
			return at, cred, err
		}
		rc = posix.Root
		e, err = f.v.Lookup(ctx, rc, at.parent, at.name)
	}
	if errors.Is(err, syscall.ENOENT) {
		if opt.IfMatch != "" {
			return at, rc, ErrNoSuchKey
		}
		return at, rc, nil
	}
	if err != nil {
		return at, rc, err
	}
	if e.Attr.IsDir() {
		return at, rc, fmt.Errorf("%w: %s is a prefix of other keys", ErrKeyConflict, name)
	}
	if opt.IfNoneMatch == "*" {
		return at, rc, ErrPreconditionFailed
	}
	if opt.IfMatch != "" {
		m, err := f.objectMeta(ctx, e)
		if err != nil {
			return at, rc, err
		}
		if !etagMatches(opt.IfMatch, m.ETag) {
			return at, rc, ErrPreconditionFailed
		}
	}
	return at, rc, f.v.Access(ctx, cred, e.Ino, posix.MayWrite)
}

// makeParents resolves (creating as cred where missing) the directories of
// a key below the bucket directory.
func (f *FS) makeParents(ctx context.Context, cred posix.Cred, dir posix.Ino, segs []string) (posix.Ino, error) {
	b := dir
	for _, s := range segs {
		ino, err := f.mkdirAll(ctx, cred, dir, s, f.dirMode)
		if errors.Is(err, ErrKeyConflict) {
			// An object where the prefix needs a directory: it folds.
			ino, err = f.foldParent(ctx, cred, b, dir, s)
		}
		if err != nil {
			return 0, err
		}
		dir = ino
	}
	return dir, nil
}

// tempFile is a finished upload waiting to be renamed into place.
type tempFile struct {
	dir  posix.Ino
	name string
	ino  posix.Ino
	attr posix.Attr
}

// writeTemp streams body into a new temporary file, verifies it and stores
// its object metadata; on any failure the file is removed.
func (f *FS) writeTemp(ctx context.Context, cred posix.Cred, body io.Reader, opt PutOptions) (tempFile, *objMeta, error) {
	if opt.Size > MaxPutSize {
		return tempFile{}, nil, ErrEntityTooLarge
	}
	tmpDir, _, err := f.systemDirs(ctx)
	if err != nil {
		return tempFile{}, nil, err
	}
	t := tempFile{dir: tmpDir, name: f.tempName()}
	mode := opt.Mode
	if mode == 0 {
		mode = f.fileMode
	}
	c := cred
	c.Umask = 0o022
	fh, e, err := f.v.Create(ctx, c, tmpDir, t.name, mode, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL)
	if err != nil {
		return t, nil, err
	}
	t.ino = e.Ino
	h := newHasher(opt.Expect, opt.Compute, opt.Size)
	defer h.close()
	n, err := f.copyIn(ctx, fh, body, h, opt.Size)
	if rerr := f.v.Release(ctx, fh); err == nil {
		err = rerr
	}
	if err == nil {
		err = checkBody(h, n, opt)
	}
	var m *objMeta
	if err == nil {
		m = &objMeta{ETag: hex.EncodeToString(h.md5.Sum(nil)), ContentType: opt.ContentType,
			UserMeta: opt.UserMeta, Headers: opt.Headers, Tags: opt.Tags, Checksums: h.result()}
		m.ACL = storedACL(opt.ACL, cred.UID) // the bucket is marked by the caller
		err = f.finishTemp(ctx, &t, m)
	}
	if err != nil {
		f.dropTemp(ctx, cred, t)
		return t, nil, err
	}
	return t, m, nil
}

// finishTemp records the file state in m and stores m on the temp file.
func (f *FS) finishTemp(ctx context.Context, t *tempFile, m *objMeta) error {
	a, err := f.v.GetAttr(ctx, t.ino)
	if err != nil {
		return err
	}
	t.attr = a
	m.Size, m.Mtime = a.Length, a.Mtime
	return f.storeMeta(ctx, t.ino, m)
}

// checkBody verifies length, Content-MD5 and checksums of a written body.
// VerifyBody checks a request body read whole (the XML of DeleteObjects)
// against the digests its request carries (opt.ContentMD5, opt.Expect,
// opt.Trailer), as a PUT's body is checked: ErrBadDigest or
// ErrChecksumMismatch.
func VerifyBody(b []byte, opt PutOptions) error {
	h := newHasher(opt.Expect, opt.Compute, int64(len(b)))
	defer h.close()
	h.Write(b)
	opt.Size = int64(len(b))
	return checkBody(h, int64(len(b)), opt)
}

func checkBody(h *hasher, n int64, opt PutOptions) error {
	if opt.Size >= 0 && n != opt.Size {
		return ErrIncompleteBody
	}
	if len(opt.ContentMD5) > 0 && !bytes.Equal(opt.ContentMD5, h.md5.Sum(nil)) {
		return ErrBadDigest
	}
	expect := opt.Expect
	if opt.Trailer != nil {
		tr := opt.Trailer()
		for _, a := range allAlgs {
			if v := tr.Get(a); v != "" {
				expect.Set(a, v)
			}
		}
	}
	return verifyChecksums(expect, h.result())
}

// copyIn copies body into the open file, hashing it, and returns the bytes
// written. A body that ends early is ErrIncompleteBody.
func (f *FS) copyIn(ctx context.Context, fh vfs.Handle, body io.Reader, h *hasher, size int64) (int64, error) {
	// A small object needs a small buffer: one byte more than its size,
	// so that a body longer than announced is noticed.
	bufSize := int64(ioBufSize)
	if size >= 0 && size < bufSize {
		bufSize = size + 1
	}
	buf := make([]byte, bufSize)
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return off, err
		}
		n, rerr := io.ReadFull(body, buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, err := f.v.Write(ctx, fh, buf[:n], off); err != nil {
				return off, err
			}
			off += int64(n)
			if size >= 0 && off > size {
				return off, ErrIncompleteBody
			}
			if off > MaxPutSize {
				return off, ErrEntityTooLarge
			}
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return off, nil
		case rerr != nil:
			return off, rerr
		}
	}
}

func (f *FS) dropTemp(ctx context.Context, cred posix.Cred, t tempFile) {
	ctx = context.WithoutCancel(ctx)
	if err := f.v.Unlink(ctx, cred, t.dir, t.name); err != nil && !errors.Is(err, syscall.ENOENT) {
		if err2 := f.v.Unlink(ctx, posix.Root, t.dir, t.name); err2 != nil && !errors.Is(err2, syscall.ENOENT) {
			f.log.Warn("removing a temporary upload file failed", "name", t.name, "err", err2)
		}
	}
}

// tempName names a new temporary file of this client: "s<session>-" then
// the time and a random part, so that what a dead client left behind is
// known by its name (ReclaimTemp).
func (f *FS) tempName() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("s%d-%d-%s", f.v.SessionID(), time.Now().UnixNano(), hex.EncodeToString(b[:]))
}

// putDirMarker creates the directory a key ending in "/" names and marks it
// as an explicit object. Such keys hold no data.
func (f *FS) putDirMarker(ctx context.Context, cred posix.Cred, bucketDir posix.Ino, bucket, key string, segs []string, body io.Reader, opt PutOptions) (ObjectInfo, error) {
	var one [1]byte
	n, _ := io.ReadFull(body, one[:])
	ino, err := f.makeParents(ctx, cred, bucketDir, segs)
	if err != nil {
		return ObjectInfo{}, err
	}
	a, err := f.v.GetAttr(ctx, ino)
	if err != nil {
		return ObjectInfo{}, err
	}
	m := &objMeta{ETag: emptyETag, ContentType: opt.ContentType, UserMeta: opt.UserMeta, Headers: opt.Headers, Tags: opt.Tags, DirMarker: true, Mtime: a.Mtime}
	if n > 0 || opt.Size > 0 {
		// A marker with bytes (S3 allows them): they go to the fold,
		// through a temporary file, and the marker describes them.
		if err := f.v.Access(ctx, cred, ino, posix.MayWrite|posix.MayExec); err != nil {
			return ObjectInfo{}, err
		}
		tmp, fm, err := f.writeTemp(ctx, cred, io.MultiReader(bytes.NewReader(one[:n]), body), opt)
		if err != nil {
			return ObjectInfo{}, err
		}
		folds, err := f.bucketFolds(ctx, bucketDir, true)
		if err == nil {
			err = f.v.Rename(ctx, posix.Root, tmp.dir, tmp.name, folds, markerName(ino), 0)
		}
		if err != nil {
			f.dropTemp(ctx, cred, tmp)
			return ObjectInfo{}, err
		}
		m = fm
		m.DirMarker, m.MarkerData, m.Mtime = true, true, tmp.attr.Mtime
	}
	old, err := f.loadMeta(ctx, ino)
	if err == nil && old != nil {
		m.Folded = old.Folded // an object may be folded for the directory
		if old.MarkerData && !m.MarkerData {
			if err := f.dropMarkerData(ctx, bucketDir, ino); err != nil {
				return ObjectInfo{}, err
			}
		}
	}
	if err := f.setACL(ctx, bucket, m, opt.ACL, a.UID); err != nil {
		return ObjectInfo{}, err
	}
	if err := f.storeMeta(created(ctx, bucket, key, int64(m.Size), m), ino, m); err != nil {
		return ObjectInfo{}, err
	}
	return f.info(bucket, key, a, m), nil
}

// emptyETag is the MD5 of no bytes.
const emptyETag = "d41d8cd98f00b204e9800998ecf8427e"
