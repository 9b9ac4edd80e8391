package s3fs

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"mime"
	"path"
	"strings"
	"syscall"
	"time"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// objectMeta returns the S3 metadata of a file, computing the ETag (MD5 of
// the content) when the file has none or was changed through a mount since
// it was stored, and caching the result.
func (f *FS) objectMeta(ctx context.Context, e vfs.Entry) (*objMeta, error) {
	b, err := f.v.GetInternalXattr(ctx, e.Ino, metaXattr)
	if err != nil && !errors.Is(err, syscall.ENODATA) {
		return nil, err
	}
	return f.objectMetaFrom(ctx, e, b)
}

// objectMetaFrom is objectMeta with the stored metadata b (nil: none)
// already read.
func (f *FS) objectMetaFrom(ctx context.Context, e vfs.Entry, b []byte) (*objMeta, error) {
	m := f.decodeMeta(e.Ino, b)
	if e.Attr.IsDir() {
		if m == nil || !m.DirMarker {
			return nil, ErrNoSuchKey
		}
		return m, nil
	}
	if m != nil && m.Size == e.Attr.Length && m.Mtime == e.Attr.Mtime {
		return m, nil
	}
	etag, err := f.md5File(ctx, e.Ino)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = &objMeta{}
	} else {
		// The content changed under the stored metadata: keep the
		// descriptive fields, drop what described the old bytes.
		m.Checksums, m.Parts, m.PartSizes, m.PartChecksums = Checksums{}, 0, nil, nil
	}
	m.ETag, m.Size, m.Mtime = etag, e.Attr.Length, e.Attr.Mtime
	if err := f.storeMeta(ctx, e.Ino, m); err != nil {
		f.log.Warn("caching a computed ETag failed", "ino", e.Ino, "err", err)
	}
	return m, nil
}

// md5File reads a whole file (as root: the caller was allowed to see the
// object) and returns its MD5 in hex.
func (f *FS) md5File(ctx context.Context, ino posix.Ino) (string, error) {
	etag, _, err := f.hashFile(ctx, ino, nil)
	return etag, err
}

// hashFile is md5File that also computes the checksums of compute.
func (f *FS) hashFile(ctx context.Context, ino posix.Ino, compute []string) (string, Checksums, error) {
	fh, _, err := f.v.Open(ctx, posix.Root, ino, syscall.O_RDONLY)
	if err != nil {
		return "", Checksums{}, err
	}
	defer f.v.Release(ctx, fh)
	h := newHasher(Checksums{}, compute, 0) // crypto/md5: one stream
	defer h.close()
	if _, err := io.Copy(h, &fileReader{ctx: ctx, v: f.v, fh: fh, end: -1}); err != nil {
		return "", Checksums{}, err
	}
	return hex.EncodeToString(h.md5.Sum(nil)), h.result(), nil
}

// info builds the ObjectInfo of a file or directory marker.
func (f *FS) info(bucket, key string, a posix.Attr, m *objMeta) ObjectInfo {
	oi := baseInfo(bucket, key, a)
	if m != nil {
		oi.ETag = quoteETag(m.ETag)
		oi.ContentType, oi.UserMeta, oi.Headers = m.ContentType, m.UserMeta, m.Headers
		oi.Checksums, oi.PartsCount, oi.TagCount, oi.PartSizes, oi.PartChecksums = m.Checksums, m.Parts, len(m.Tags), m.PartSizes, m.PartChecksums
		oi.VersionID, oi.IsDeleteMarker, oi.Tags, oi.ACL = m.VersionID, m.DeleteMarker, m.Tags, m.ACL
		if m.LockMode != "" {
			oi.LockMode, oi.LockUntil = m.LockMode, time.Unix(0, m.LockUntil).UTC()
		}
		switch {
		case m.LegalHold:
			oi.LegalHold = "ON"
		case m.HoldSet:
			oi.LegalHold = "OFF"
		}
		if m.MarkerData {
			oi.Size = int64(m.Size)
		}
	}
	if oi.ContentType == "" {
		oi.ContentType = defaultContentType(key)
	}
	return oi
}

// baseInfo is what the attributes of key's file (or directory marker) say
// of it: all a listing needs besides the ETag.
func baseInfo(bucket, key string, a posix.Attr) ObjectInfo {
	oi := ObjectInfo{Bucket: bucket, Key: key, Size: int64(a.Length), ModTime: time.Unix(0, a.Mtime).UTC(),
		OwnerUID: a.UID, OwnerGID: a.GID, Mode: a.Mode & posix.ModeMask, StorageClass: "STANDARD"}
	if a.IsDir() {
		oi.Size, oi.IsDirMarker = 0, true
	}
	return oi
}

func defaultContentType(key string) string {
	if strings.HasSuffix(key, "/") {
		return "application/x-directory"
	}
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// lookupObject resolves bucket/key to a file (or a directory marker) and
// its stored metadata, in one metadata transaction. want, when not zero,
// is the access cred needs on the object; data also loads the first chunk
// for OpenWalked.
func (f *FS) lookupObject(ctx context.Context, cred posix.Cred, bucket, key string, want uint16, data bool) (vfs.WalkResult, *objMeta, error) {
	segs, dir, err := splitKey(key)
	if err != nil {
		if errors.Is(err, ErrInvalidKey) {
			return vfs.WalkResult{}, nil, ErrNoSuchKey
		}
		return vfs.WalkResult{}, nil, err
	}
	if !ValidBucketName(bucket) {
		return vfs.WalkResult{}, nil, ErrNoSuchBucket
	}
	names := make([]string, 0, len(segs)+1)
	names = append(append(names, bucket), segs...)
	r, err := f.v.Walk(ctx, cred, posix.RootIno, vfs.WalkRequest{Names: names, FirstAsRoot: true, Want: want, Xattr: metaXattr, Chunk0: data})
	e := r.Entry
	switch {
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR):
		if r.Found == 0 || (r.Found == 1 && errors.Is(err, syscall.ENOTDIR)) {
			return r, nil, ErrNoSuchBucket
		}
		return r, nil, ErrNoSuchKey
	case errors.Is(err, syscall.EACCES) && r.Found == len(names):
		// Denied on the object itself: a name that is not an object is
		// still NoSuchKey.
		if e.Attr.IsDir() && !dir && len(r.Path) > 0 {
			return f.lookupFolded(ctx, cred, r.Path[0], e.Ino, want, data)
		}
		if e.Attr.IsDir() != dir || (e.Attr.Type != posix.TypeFile && !e.Attr.IsDir()) {
			return r, nil, ErrNoSuchKey
		}
		return r, nil, err
	case err != nil:
		return r, nil, err
	}
	if e.Attr.IsDir() && !dir {
		// The key is also a prefix: its object, if any, is folded.
		return f.lookupFolded(ctx, cred, r.Path[0], e.Ino, want, data)
	}
	if e.Attr.IsDir() != dir || (e.Attr.Type != posix.TypeFile && !e.Attr.IsDir()) {
		return r, nil, ErrNoSuchKey
	}
	m, err := f.objectMetaFrom(ctx, e, r.Xattr)
	return r, m, err
}

// lookupVersion is lookupObject for version vid of the key ("": the
// current one). A version that is not the current one is read from the
// key's holder; a delete marker is a *DeleteMarkerError (also when, with
// no version asked for, a delete marker is the key's latest version).
func (f *FS) lookupVersion(ctx context.Context, cred posix.Cred, bucket, key, vid string, want uint16, data bool) (vfs.WalkResult, *objMeta, error) {
	r, m, err := f.lookupObject(ctx, cred, bucket, key, want, data)
	if vid == "" {
		if errors.Is(err, ErrNoSuchKey) {
			if status, _ := f.Versioning(ctx, bucket); status != "" {
				if ent, ok := f.latestKept(ctx, bucket, key); ok {
					if lm := f.decodeMeta(ent.Ino, ent.Xattr); lm != nil && lm.DeleteMarker {
						return r, nil, &DeleteMarkerError{VersionID: lm.VersionID}
					}
				}
			}
		}
		return r, m, err
	}
	if !ValidVersionID(vid) {
		return r, nil, ErrInvalidVersion
	}
	if err == nil && (m.VersionID == vid || isNull(m.VersionID) && vid == NullVersion) {
		return r, m, nil
	}
	if err != nil && !errors.Is(err, ErrNoSuchKey) {
		return r, nil, err
	}
	segs, dir, err := splitKey(key)
	if err != nil || dir {
		return r, nil, ErrNoSuchVersion
	}
	b, err := f.bucketIno(ctx, posix.Root, bucket)
	if err != nil {
		return r, nil, err
	}
	holder, err := f.holderDir(ctx, b.Ino, segs, false)
	if err != nil || holder == 0 {
		return r, nil, cmp.Or(err, ErrNoSuchVersion)
	}
	ent, found, err := f.findVersion(ctx, holder, vid)
	if err != nil || !found {
		return r, nil, cmp.Or(err, ErrNoSuchVersion)
	}
	if vm := f.decodeMeta(ent.Ino, ent.Xattr); vm != nil && vm.DeleteMarker {
		return r, nil, &DeleteMarkerError{VersionID: vid, Method: true}
	}
	if want != 0 {
		if err := f.v.Access(ctx, cred, ent.Ino, want); err != nil {
			return r, nil, err
		}
	}
	r, err = f.v.Walk(ctx, posix.Root, holder, vfs.WalkRequest{Names: []string{ent.Name}, Xattr: metaXattr, Chunk0: data})
	if err != nil {
		return r, nil, cmp.Or(ignoreENOENT(err), ErrNoSuchVersion)
	}
	m, err = f.objectMetaFrom(ctx, r.Entry, r.Xattr)
	return r, m, err
}

func ignoreENOENT(err error) error {
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return err
}

// latestKept returns the newest entry of the key's holder.
func (f *FS) latestKept(ctx context.Context, bucket, key string) (vfs.DirEntry, bool) {
	segs, dir, err := splitKey(key)
	if err != nil || dir {
		return vfs.DirEntry{}, false
	}
	b, err := f.bucketIno(ctx, posix.Root, bucket)
	if err != nil {
		return vfs.DirEntry{}, false
	}
	holder, err := f.holderDir(ctx, b.Ino, segs, false)
	if err != nil || holder == 0 {
		return vfs.DirEntry{}, false
	}
	ents, err := f.holderEntries(ctx, holder, "", 1)
	if err != nil || len(ents) == 0 {
		return vfs.DirEntry{}, false
	}
	return ents[0], true
}

// HeadObject returns an object's metadata after checking conditions.
// cred needs read permission on the file.
func (f *FS) HeadObject(ctx context.Context, cred posix.Cred, bucket, key string, opt GetOptions) (ObjectInfo, error) {
	r, m, err := f.lookupVersion(ctx, cred, bucket, key, opt.VersionID, posix.MayRead, false)
	if err != nil {
		return ObjectInfo{}, err
	}
	oi := f.info(bucket, key, r.Entry.Attr, m)
	if r.Entry.Attr.AccessACL != 0 { // distinct ACLs are few and cached: no store read
		rule, err := f.v.GetACL(ctx, r.Entry.Ino, vfs.ACLAccess)
		if err != nil {
			return ObjectInfo{}, err
		}
		if rule != nil {
			oi.POSIXACL = rule.String()
		}
	}
	return oi, checkConditions(oi, opt)
}

// GetObject opens an object for reading (a range of it with opt.Range or
// opt.PartNumber). The caller must Close Body.
func (f *FS) GetObject(ctx context.Context, cred posix.Cred, bucket, key string, opt GetOptions) (*Object, error) {
	r, m, err := f.lookupVersion(ctx, cred, bucket, key, opt.VersionID, posix.MayRead, true)
	if err != nil {
		return nil, err
	}
	e := r.Entry
	oi := f.info(bucket, key, e.Attr, m)
	if e.Attr.IsDir() && m != nil && m.MarkerData && len(r.Path) > 0 {
		// A marker with bytes: they are in its bucket's fold directory.
		if r, err = f.markerFile(ctx, r.Path[0], e.Ino); err != nil {
			return nil, err
		}
		e = r.Entry
	}
	if e.Attr.IsDir() {
		if err := checkConditions(oi, opt); err != nil {
			return nil, err
		}
		return &Object{Info: oi, Body: io.NopCloser(strings.NewReader(""))}, nil
	}
	if err := checkConditions(oi, opt); err != nil {
		return nil, err
	}
	off, length, err := objectRange(oi, m, opt)
	if err != nil {
		return nil, err
	}
	fh := f.v.OpenWalked(cred, r)
	body := &fileReader{ctx: ctx, v: f.v, fh: fh, off: off, end: off + length, release: true}
	return &Object{Info: oi, Offset: off, Length: length, Body: body}, nil
}

// objectRange returns the byte range a GET returns.
func objectRange(oi ObjectInfo, m *objMeta, opt GetOptions) (off, length int64, err error) {
	size := oi.Size
	if opt.PartNumber > 0 {
		if m == nil || len(m.PartSizes) == 0 {
			if opt.PartNumber == 1 {
				return 0, size, nil
			}
			return 0, 0, ErrInvalidRange
		}
		if opt.PartNumber > len(m.PartSizes) {
			return 0, 0, ErrInvalidRange
		}
		for _, s := range m.PartSizes[:opt.PartNumber-1] {
			off += s
		}
		return off, m.PartSizes[opt.PartNumber-1], nil
	}
	if opt.Range == nil {
		return 0, size, nil
	}
	return ResolveRange(*opt.Range, size)
}

// ResolveRange turns a Range into an offset and length within size, or
// ErrInvalidRange when it is not satisfiable.
func ResolveRange(r Range, size int64) (off, length int64, err error) {
	switch {
	case r.Suffix || r.Start < 0: // suffix: the last -Start bytes
		n := -r.Start
		if size == 0 || n == 0 {
			return 0, 0, ErrInvalidRange
		}
		if n > size {
			n = size
		}
		return size - n, n, nil
	case r.Start >= size:
		return 0, 0, ErrInvalidRange
	case r.Open || r.End >= size:
		return r.Start, size - r.Start, nil
	case r.End < r.Start:
		return 0, 0, ErrInvalidRange
	}
	return r.Start, r.End - r.Start + 1, nil
}

// checkConditions evaluates If-* headers as S3 does: If-Match before
// If-Unmodified-Since, If-None-Match before If-Modified-Since.
func checkConditions(oi ObjectInfo, opt GetOptions) error {
	etag := TrimETag(oi.ETag)
	mtime := oi.ModTime.Truncate(time.Second)
	if opt.IfMatch != "" {
		if !etagMatches(opt.IfMatch, etag) {
			return ErrPreconditionFailed
		}
	} else if !opt.IfUnmodifiedSince.IsZero() && mtime.After(opt.IfUnmodifiedSince) {
		return ErrPreconditionFailed
	}
	if opt.IfNoneMatch != "" {
		if etagMatches(opt.IfNoneMatch, etag) {
			return &NotModifiedError{ETag: oi.ETag, ModTime: oi.ModTime}
		}
	} else if !opt.IfModifiedSince.IsZero() && !mtime.After(opt.IfModifiedSince) {
		return &NotModifiedError{ETag: oi.ETag, ModTime: oi.ModTime}
	}
	return nil
}

// NotModifiedError is ErrNotModified with what a 304 response still
// carries: the object's ETag and modification time.
type NotModifiedError struct {
	ETag    string // quoted
	ModTime time.Time
}

func (e *NotModifiedError) Error() string        { return ErrNotModified.Error() }
func (e *NotModifiedError) Is(target error) bool { return target == ErrNotModified }

// etagMatches compares a header list of ETags (or *) with etag.
func etagMatches(header, etag string) bool {
	for _, h := range strings.Split(header, ",") {
		h = TrimETag(h)
		if h == "*" || h == etag {
			return true
		}
	}
	return false
}

// fileReader reads an open vfs handle sequentially from off to end (end <
// 0: to EOF).
type fileReader struct {
	ctx      context.Context
	v        *vfs.FS
	fh       vfs.Handle
	off, end int64
	release  bool
	closed   bool
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.end >= 0 {
		if r.off >= r.end {
			return 0, io.EOF
		}
		if rem := r.end - r.off; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	n, err := r.v.Read(r.ctx, r.fh, p, r.off)
	r.off += int64(n)
	if err != nil {
		return n, err
	}
	if n == 0 {
		if r.end >= 0 && r.off < r.end {
			return 0, io.ErrUnexpectedEOF // the file shrank under the reader
		}
		return 0, io.EOF
	}
	return n, nil
}

// WriteTo implements io.WriterTo: the rest of the range goes to w without
// the copy into a caller's buffer that Read makes: from the block cache as
// it is, or, when w is an io.ReaderFrom (an HTTP response), by sendfile
// from the block files (vfs.FS.ReadTo).
func (r *fileReader) WriteTo(w io.Writer) (int64, error) {
	n := int64(math.MaxInt64)
	if r.end >= 0 {
		n = r.end - r.off
	}
	if n <= 0 {
		return 0, nil
	}
	done, err := r.v.ReadTo(r.ctx, r.fh, r.off, n, w)
	r.off += done
	if err == nil && r.end >= 0 && r.off < r.end {
		err = io.ErrUnexpectedEOF // the file shrank under the reader
	}
	return done, err
}

func (r *fileReader) Close() error {
	if r.closed || !r.release {
		return nil
	}
	r.closed = true
	return r.v.Release(context.WithoutCancel(r.ctx), r.fh)
}
