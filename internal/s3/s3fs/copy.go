package s3fs

import (
	"context"
	"errors"
	"syscall"

	"cairn/internal/posix"
)

// CopyObject copies srcBucket/srcKey to dstBucket/dstKey by reference: the
// new object shares the source's slices, no bytes are copied. Metadata is
// the source's unless opt.ReplaceMetadata. cred needs read permission on
// the source and write permission where the destination goes.
func (f *FS) CopyObject(ctx context.Context, cred posix.Cred, srcBucket, srcKey, dstBucket, dstKey string, opt CopyOptions) (ObjectInfo, error) {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	sr, sm, err := f.lookupVersion(ctx, opt.sourceCred(cred), srcBucket, srcKey, opt.SourceVersionID, 0, false)
	se := sr.Entry
	if err != nil {
		return ObjectInfo{}, err
	}
	if se.Attr.IsDir() {
		return ObjectInfo{}, ErrInvalidKey
	}
	soi := f.info(srcBucket, srcKey, se.Attr, sm)
	if err := checkCopyConditions(soi, opt.Source); err != nil {
		return ObjectInfo{}, err
	}
	if srcBucket == dstBucket && srcKey == dstKey && !opt.ReplaceMetadata && opt.SourceVersionID == "" {
		return ObjectInfo{}, ErrInvalidCopySource
	}
	segs, dir, err := splitKey(dstKey)
	if err != nil {
		return ObjectInfo{}, err
	}
	if dir {
		return ObjectInfo{}, ErrInvalidKey
	}
	db, err := f.bucketIno(ctx, cred, dstBucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	parent, err := f.makeParents(ctx, cred, db.Ino, segs[:len(segs)-1])
	if err != nil {
		return ObjectInfo{}, err
	}
	at, rc, err := f.checkReplace(ctx, cred, db.Ino, parent, segs[len(segs)-1], opt.Put)
	if err != nil {
		return ObjectInfo{}, err
	}
	tmp, err := f.cloneToTemp(ctx, cred, opt.sourceCred(cred), se.Ino, 0, int64(se.Attr.Length))
	if err != nil {
		return ObjectInfo{}, err
	}
	m := &objMeta{ETag: sm.ETag, ContentType: sm.ContentType, UserMeta: sm.UserMeta, Headers: sm.Headers,
		Checksums: sm.Checksums, Parts: sm.Parts, PartSizes: sm.PartSizes, PartChecksums: sm.PartChecksums, Tags: sm.Tags}
	if opt.ReplaceMetadata {
		m.ContentType, m.UserMeta, m.Headers = opt.Put.ContentType, opt.Put.UserMeta, opt.Put.Headers
	}
	if opt.ReplaceTags {
		m.Tags = opt.Put.Tags
	}
	if err := f.setACL(ctx, dstBucket, m, opt.Put.ACL, cred.UID); err != nil {
		f.dropTemp(ctx, cred, tmp)
		return ObjectInfo{}, err
	}
	if err := f.finishTemp(ctx, &tmp, m); err != nil {
		f.dropTemp(ctx, cred, tmp)
		return ObjectInfo{}, err
	}
	return f.publish(ctx, cred, tmp, m, at, rc, dstBucket, dstKey, opt.Put.IfNoneMatch == "*", opt.Put)
}

// checkCopyConditions applies x-amz-copy-source-if-*: a failed condition
// is PreconditionFailed (never 304) for copies.
func checkCopyConditions(oi ObjectInfo, c GetOptions) error {
	err := checkConditions(oi, c)
	if errors.Is(err, ErrNotModified) {
		return ErrPreconditionFailed
	}
	return err
}

// cloneToTemp makes a temporary file whose content references bytes
// [off, off+n) of src.
func (o *CopyOptions) sourceCred(cred posix.Cred) posix.Cred {
	if o.SourceCred != nil {
		return *o.SourceCred
	}
	return cred
}

// cloneToTemp copies n bytes at off of src (opened as srcCred) into a new
// temporary file of cred's.
func (f *FS) cloneToTemp(ctx context.Context, cred, srcCred posix.Cred, src posix.Ino, off, n int64) (tempFile, error) {
	tmpDir, _, err := f.systemDirs(ctx)
	if err != nil {
		return tempFile{}, err
	}
	in, _, err := f.v.Open(ctx, srcCred, src, syscall.O_RDONLY)
	if err != nil {
		return tempFile{}, err
	}
	defer f.v.Release(ctx, in)
	t := tempFile{dir: tmpDir, name: f.tempName()}
	c := cred
	c.Umask = 0o022
	out, e, err := f.v.Create(ctx, c, tmpDir, t.name, f.fileMode, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL)
	if err != nil {
		return t, err
	}
	t.ino = e.Ino
	if n > 0 {
		_, err = f.v.CopyFileRange(ctx, cred, in, off, out, 0, uint64(n))
	}
	if rerr := f.v.Release(ctx, out); err == nil {
		err = rerr
	}
	if err != nil {
		f.dropTemp(ctx, cred, t)
		return t, err
	}
	return t, nil
}
