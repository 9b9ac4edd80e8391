package s3fs

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Multipart uploads are staged under .cairn/uploads/<bucket>/<upload id>/:
// the directory carries the upload's description (uploadXattr), each part is
// a file named by its zero-padded number carrying its own object metadata.
// Complete joins the parts into a temporary file by reference (no bytes are
// copied) and renames it into place.

const uploadXattr = "cairn.s3.upload"

// MaxParts is the highest part number.
const MaxParts = 10000

type uploadInfo struct {
	Key       string            `json:"key"`
	Initiated int64             `json:"t"`
	Owner     uint32            `json:"uid"`
	CT        string            `json:"ct,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Headers   map[string]string `json:"hdr,omitempty"`
	Tags      []Tag             `json:"tags,omitempty"`
	Algorithm string            `json:"alg,omitempty"`
	// CType is the checksum type of the whole object: "COMPOSITE" (the
	// checksum of the parts' checksums, "-N") or "FULL_OBJECT".
	CType string `json:"ctype,omitempty"`
	// Done is set once the upload completed: its parts are gone, and a
	// repeated CompleteMultipartUpload (an SDK retrying after a lost
	// response) answers as the first did until ReclaimCompletedUploads
	// drops the record, keepCompleted later.
	Done *completedUpload `json:"done,omitempty"`
	// Object lock asked for at creation.
	LockMode  string `json:"lm,omitempty"`
	LockUntil int64  `json:"lu,omitempty"`
	LegalHold string `json:"lh,omitempty"`
	// ACL is the object's ACL asked for at creation (nil: the default).
	ACL *ACL `json:"acl,omitempty"`
}

// s3Owner is the upload's owner as S3 shows it: the owner of the ACL it
// was created with, else its creator.
func (u uploadInfo) s3Owner() uint32 {
	if u.ACL != nil {
		return u.ACL.Owner
	}
	return u.Owner
}

// lockOptions are the object lock headers the upload was created with.
func (u uploadInfo) lockOptions() PutOptions {
	o := PutOptions{LockMode: u.LockMode, LegalHold: u.LegalHold}
	if u.LockUntil != 0 {
		o.LockUntil = time.Unix(0, u.LockUntil)
	}
	return o
}

// completedUpload is what a completed upload answered.
type completedUpload struct {
	ETag      string    `json:"etag"` // quoted
	Size      int64     `json:"sz"`
	Mtime     int64     `json:"mt"`
	Checksums Checksums `json:"ck,omitempty"`
	At        int64     `json:"at"` // completion time, Unix ns
	VersionID string    `json:"vid,omitempty"`
}

// keepCompleted is how long a completed upload's answer is kept for
// repeated CompleteMultipartUpload requests.
const keepCompleted = time.Hour

func partName(n int) string { return fmt.Sprintf("%05d", n) }

// bucketUploads returns the staging directory of a bucket's uploads,
// creating it when create is set.
func (f *FS) bucketUploads(ctx context.Context, bucket string, create bool) (posix.Ino, error) {
	_, up, err := f.systemDirs(ctx)
	if err != nil {
		return 0, err
	}
	if create {
		return f.mkdirAll(ctx, posix.Root, up, bucket, 0o1777)
	}
	e, err := f.v.Lookup(ctx, posix.Root, up, bucket)
	if errors.Is(err, syscall.ENOENT) {
		return 0, ErrNoSuchUpload
	}
	return e.Ino, err
}

// CreateMultipartUpload starts an upload and returns its id.
// mayCreate checks, before an upload is staged in the volume's shared
// directories, that cred could create the key where it goes: search all
// the way, and write and search in the deepest of its directories that
// exists.
func (f *FS) mayCreate(ctx context.Context, cred posix.Cred, bucket string, segs []string) error {
	names := append([]string{bucket}, segs[:len(segs)-1]...)
	r, err := f.v.Walk(ctx, cred, posix.RootIno, vfs.WalkRequest{Names: names, FirstAsRoot: true})
	switch {
	case len(r.Path) == 0 && (err == nil || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR)):
		return ErrNoSuchBucket
	case err != nil && !errors.Is(err, syscall.ENOENT):
		return err
	}
	return f.v.Access(ctx, cred, r.Path[len(r.Path)-1], posix.MayWrite|posix.MayExec)
}

func (f *FS) CreateMultipartUpload(ctx context.Context, cred posix.Cred, bucket, key string, opt PutOptions) (string, error) {
	segs, dir, err := splitKey(key)
	if err != nil {
		return "", err
	}
	if dir {
		return "", fmt.Errorf("%w: a key ending in / cannot hold data", ErrInvalidKey)
	}
	if err := f.mayCreate(ctx, cred, bucket, segs); err != nil {
		return "", err
	}
	if opt.LockMode != "" || opt.LegalHold != "" {
		if c, err := f.bucketLock(ctx, bucket); err != nil {
			return "", err
		} else if !c.Enabled {
			return "", ErrNoObjectLock
		}
	}
	up, err := f.bucketUploads(ctx, bucket, true)
	if err != nil {
		return "", err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c := cred
	c.Umask = 0o077
	e, err := f.v.Mkdir(ctx, c, up, id, 0o700)
	if err != nil {
		return "", err
	}
	info := uploadInfo{Key: key, Initiated: f.now().UnixNano(), Owner: cred.UID, CT: opt.ContentType,
		Meta: opt.UserMeta, Headers: opt.Headers, Tags: opt.Tags, LockMode: opt.LockMode, LegalHold: opt.LegalHold, ACL: opt.ACL}
	if !opt.LockUntil.IsZero() {
		info.LockUntil = opt.LockUntil.UnixNano()
	}
	if len(opt.Compute) > 0 {
		info.Algorithm = strings.ToUpper(opt.Compute[0])
		info.CType = DefaultChecksumType(info.Algorithm)
		if opt.ChecksumType != "" {
			info.CType = opt.ChecksumType
		}
	}
	js, err := json.Marshal(info)
	if err != nil {
		return "", err
	}
	if err := f.v.SetInternalXattr(ctx, e.Ino, uploadXattr, js); err != nil {
		return "", err
	}
	return id, nil
}

// upload resolves an upload in progress and checks it belongs to key.
func (f *FS) upload(ctx context.Context, cred posix.Cred, bucket, key, id string) (posix.Ino, uploadInfo, error) {
	ino, info, err := f.uploadRecord(ctx, cred, bucket, key, id)
	if err == nil && info.Done != nil {
		return 0, info, ErrNoSuchUpload
	}
	return ino, info, err
}

// uploadRecord resolves an upload directory, in progress or completed,
// and checks it belongs to key.
func (f *FS) uploadRecord(ctx context.Context, cred posix.Cred, bucket, key, id string) (posix.Ino, uploadInfo, error) {
	var info uploadInfo
	if _, err := f.bucketIno(ctx, cred, bucket); err != nil {
		return 0, info, err
	}
	up, err := f.bucketUploads(ctx, bucket, false)
	if err != nil {
		return 0, info, err
	}
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." || len(id) > 255 {
		return 0, info, ErrNoSuchUpload
	}
	e, err := f.v.Lookup(ctx, cred, up, id)
	if errors.Is(err, syscall.ENOENT) {
		return 0, info, ErrNoSuchUpload
	}
	if err != nil {
		return 0, info, err
	}
	b, err := f.v.GetInternalXattr(ctx, e.Ino, uploadXattr)
	if err != nil {
		return 0, info, ErrNoSuchUpload
	}
	if json.Unmarshal(b, &info) != nil || info.Key != key {
		return 0, info, ErrNoSuchUpload
	}
	return e.Ino, info, nil
}

// UploadPart stores one part (1..10000), replacing an earlier upload of
// the same number.
func (f *FS) UploadPart(ctx context.Context, cred posix.Cred, bucket, key, uploadID string, part int, body io.Reader, opt PutOptions) (Part, error) {
	if part < 1 || part > MaxParts {
		return Part{}, ErrInvalidPart
	}
	dir, info, err := f.upload(ctx, cred, bucket, key, uploadID)
	if err != nil {
		return Part{}, err
	}
	if err := f.checkQuotaAhead(ctx, bucket, "", opt.Size); err != nil {
		return Part{}, err // a part the bucket could not take even alone
	}
	if info.Algorithm != "" {
		// The whole object's checksum is made from the parts'.
		opt.Compute = append(opt.Compute, info.Algorithm)
	}
	tmp, m, err := f.writeTemp(ctx, cred, body, opt)
	if err != nil {
		return Part{}, err
	}
	return f.placePart(ctx, cred, tmp, m, dir, part)
}

func (f *FS) placePart(ctx context.Context, cred posix.Cred, tmp tempFile, m *objMeta, dir posix.Ino, part int) (Part, error) {
	if err := f.v.Rename(ctx, cred, tmp.dir, tmp.name, dir, partName(part), 0); err != nil {
		f.dropTemp(ctx, cred, tmp)
		if errors.Is(err, syscall.ENOENT) {
			return Part{}, ErrNoSuchUpload // aborted meanwhile
		}
		return Part{}, err
	}
	return Part{Number: part, ETag: quoteETag(m.ETag), Size: int64(tmp.attr.Length),
		ModTime: time.Unix(0, tmp.attr.Mtime).UTC(), Checksums: m.Checksums}, nil
}

// UploadPartCopy makes a part from (a range of) an existing object, by
// reference. Its ETag is the MD5 of the bytes, which are read once for it.
func (f *FS) UploadPartCopy(ctx context.Context, cred posix.Cred, bucket, key, uploadID string, part int, srcBucket, srcKey string, opt CopyOptions) (Part, error) {
	if part < 1 || part > MaxParts {
		return Part{}, ErrInvalidPart
	}
	dir, info, err := f.upload(ctx, cred, bucket, key, uploadID)
	if err != nil {
		return Part{}, err
	}
	sr, sm, err := f.lookupVersion(ctx, opt.sourceCred(cred), srcBucket, srcKey, opt.SourceVersionID, 0, false)
	se := sr.Entry
	if err != nil {
		return Part{}, err
	}
	if err := checkCopyConditions(f.info(srcBucket, srcKey, se.Attr, sm), opt.Source); err != nil {
		return Part{}, err
	}
	off, n := int64(0), int64(se.Attr.Length)
	if opt.Range != nil {
		// Unlike a GET range, a copy range is not clamped to the object:
		// it must lie within it.
		r := *opt.Range
		if r.Start < 0 || r.Open || r.End < r.Start || r.End >= n {
			return Part{}, fmt.Errorf("%w: bytes=%d-%d of %d bytes", ErrInvalidCopyRange, r.Start, r.End, n)
		}
		off, n = r.Start, r.End-r.Start+1
	}
	tmp, err := f.cloneToTemp(ctx, cred, opt.sourceCred(cred), se.Ino, off, n)
	if err != nil {
		return Part{}, err
	}
	var compute []string
	if info.Algorithm != "" {
		compute = []string{info.Algorithm}
	}
	etag, sums, err := f.hashFile(ctx, tmp.ino, compute)
	m := &objMeta{ETag: etag, Checksums: sums}
	if err == nil {
		err = f.finishTemp(ctx, &tmp, m)
	}
	if err != nil {
		f.dropTemp(ctx, cred, tmp)
		return Part{}, err
	}
	return f.placePart(ctx, cred, tmp, m, dir, part)
}

// partsOf lists the parts stored for an upload, in number order.
func (f *FS) partsOf(ctx context.Context, cred posix.Cred, dir posix.Ino) ([]Part, []posix.Ino, error) {
	var parts []Part
	var inos []posix.Ino
	after := ""
	for {
		ents, err := f.v.ReadDir(ctx, cred, dir, vfs.ReadDirOptions{After: after, Limit: 1000, WithAttr: true})
		if err != nil {
			return nil, nil, err
		}
		for _, e := range ents {
			var n int
			if _, err := fmt.Sscanf(e.Name, "%05d", &n); err != nil || partName(n) != e.Name {
				continue
			}
			m, err := f.loadMeta(ctx, e.Ino)
			if err != nil || m == nil {
				continue
			}
			parts = append(parts, Part{Number: n, ETag: quoteETag(m.ETag), Size: int64(e.Attr.Length),
				ModTime: time.Unix(0, e.Attr.Mtime).UTC(), Checksums: m.Checksums})
			inos = append(inos, e.Ino)
		}
		if len(ents) < 1000 {
			return parts, inos, nil
		}
		after = ents[len(ents)-1].Name
	}
}

// CompleteMultipartUpload joins the listed parts, in ascending order, into
// the object. Every part but the last must be at least MinPartSize.
func (f *FS) CompleteMultipartUpload(ctx context.Context, cred posix.Cred, bucket, key, uploadID string, parts []CompletePart, opt PutOptions) (ObjectInfo, error) {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	dir, info, err := f.uploadRecord(ctx, cred, bucket, key, uploadID)
	if err != nil {
		return ObjectInfo{}, err
	}
	if d := info.Done; d != nil {
		// Completed already: the same answer again.
		oi := ObjectInfo{Bucket: bucket, Key: key, ETag: d.ETag, Size: d.Size, ModTime: time.Unix(0, d.Mtime).UTC(),
			Checksums: d.Checksums, StorageClass: "STANDARD", VersionID: d.VersionID}
		return oi, nil
	}
	if len(parts) == 0 {
		return ObjectInfo{}, ErrInvalidPart
	}
	stored, inos, err := f.partsOf(ctx, cred, dir)
	if err != nil {
		return ObjectInfo{}, err
	}
	byNum := map[int]int{}
	for i, p := range stored {
		byNum[p.Number] = i
	}
	chosen := make([]int, len(parts))
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			return ObjectInfo{}, ErrInvalidPartOrder
		}
	}
	for i, p := range parts {
		j, ok := byNum[p.Number]
		if !ok || TrimETag(p.ETag) != TrimETag(stored[j].ETag) {
			return ObjectInfo{}, fmt.Errorf("%w: part %d", ErrInvalidPart, p.Number)
		}
		// A part checksum named in the request must be the one the part
		// was uploaded with.
		for _, alg := range allAlgs {
			if v := p.Checksums.Get(alg); v != "" && v != stored[j].Checksums.Get(alg) {
				return ObjectInfo{}, fmt.Errorf("%w: part %d: %s checksum does not match", ErrInvalidPart, p.Number, alg)
			}
		}
		if i < len(parts)-1 && stored[j].Size < MinPartSize {
			return ObjectInfo{}, ErrEntityTooSmall
		}
		chosen[i] = j
	}
	segs, _, err := splitKey(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	parent, err := f.makeParents(ctx, cred, b.Ino, segs[:len(segs)-1])
	if err != nil {
		return ObjectInfo{}, err
	}
	at, rc, err := f.checkReplace(ctx, cred, b.Ino, parent, segs[len(segs)-1], opt)
	if err != nil {
		return ObjectInfo{}, err
	}
	tmp, m, err := f.joinParts(ctx, cred, stored, inos, chosen)
	if err != nil {
		return ObjectInfo{}, err
	}
	m.ContentType, m.UserMeta, m.Headers, m.Tags = info.CT, info.Meta, info.Headers, info.Tags
	if err := f.setACL(ctx, bucket, m, info.ACL, cred.UID); err != nil {
		f.dropTemp(ctx, cred, tmp)
		return ObjectInfo{}, err
	}
	if info.Algorithm != "" {
		for _, j := range chosen {
			m.PartChecksums = append(m.PartChecksums, stored[j].Checksums)
		}
		if m.Checksums, err = wholeChecksum(info, stored, chosen); err != nil {
			f.dropTemp(ctx, cred, tmp)
			return ObjectInfo{}, err
		}
	}
	for _, alg := range allAlgs {
		// A whole-object checksum the client states must be the one the
		// parts make (with or without the "-N" of a composite one).
		want := opt.Expect.Get(alg)
		if want == "" {
			continue
		}
		got := m.Checksums.Get(alg)
		if got == "" || (want != got && want != strings.Split(got, "-")[0]) {
			f.dropTemp(ctx, cred, tmp)
			return ObjectInfo{}, fmt.Errorf("%w: the stated %s of the whole object is not the parts'", ErrChecksumMismatch, alg)
		}
	}
	if err := f.finishTemp(ctx, &tmp, m); err != nil {
		f.dropTemp(ctx, cred, tmp)
		return ObjectInfo{}, err
	}
	oi, err := f.publish(ctx, cred, tmp, m, at, rc, bucket, key, opt.IfNoneMatch == "*", info.lockOptions())
	if err != nil {
		return oi, err
	}
	info.Done = &completedUpload{ETag: oi.ETag, Size: oi.Size, Mtime: oi.ModTime.UnixNano(), Checksums: oi.Checksums, At: f.now().UnixNano(), VersionID: oi.VersionID}
	if err := f.completeUpload(ctx, dir, info); err != nil {
		// The object is in place; only a retry's answer is lost.
		f.log.Warn("keeping a completed upload's answer failed", "bucket", bucket, "upload", uploadID, "err", err)
		f.removeUpload(ctx, cred, bucket, uploadID, dir)
	}
	return oi, nil
}

// completeUpload records a completed upload's answer on its directory,
// then removes its parts.
func (f *FS) completeUpload(ctx context.Context, dir posix.Ino, info uploadInfo) error {
	ctx = context.WithoutCancel(ctx)
	js, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := f.v.SetInternalXattr(ctx, dir, uploadXattr, js); err != nil {
		return err
	}
	return f.emptyUploadDir(ctx, dir)
}

// ReclaimCompletedUploads drops the answers of uploads completed more
// than keepCompleted ago, and returns how many it dropped.
func (f *FS) ReclaimCompletedUploads(ctx context.Context) (int, error) {
	_, upRoot, err := f.systemDirs(ctx)
	if err != nil {
		return 0, err
	}
	buckets, err := f.v.ReadDir(ctx, posix.Root, upRoot, vfs.ReadDirOptions{SkipPerm: true})
	if err != nil {
		return 0, err
	}
	cutoff := f.now().Add(-keepCompleted).UnixNano()
	n := 0
	for _, b := range buckets {
		ents, err := f.v.ReadDir(ctx, posix.Root, b.Ino, vfs.ReadDirOptions{SkipPerm: true})
		if err != nil {
			continue // the bucket went meanwhile
		}
		for _, e := range ents {
			raw, err := f.v.GetInternalXattr(ctx, e.Ino, uploadXattr)
			var info uploadInfo
			if err != nil || json.Unmarshal(raw, &info) != nil || info.Done == nil || info.Done.At > cutoff {
				continue
			}
			if err := f.v.Rmdir(ctx, posix.Root, b.Ino, e.Name); err == nil {
				n++
			}
		}
	}
	return n, nil
}

// joinParts references the chosen parts, in order, from a new temp file
// and computes the multipart ETag (MD5 of the parts' MD5s, "-N").
func (f *FS) joinParts(ctx context.Context, cred posix.Cred, stored []Part, inos []posix.Ino, chosen []int) (tempFile, *objMeta, error) {
	tmpDir, _, err := f.systemDirs(ctx)
	if err != nil {
		return tempFile{}, nil, err
	}
	t := tempFile{dir: tmpDir, name: f.tempName()}
	c := cred
	c.Umask = 0o022
	out, e, err := f.v.Create(ctx, c, tmpDir, t.name, f.fileMode, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL)
	if err != nil {
		return t, nil, err
	}
	t.ino = e.Ino
	sum := md5.New()
	m := &objMeta{Parts: len(chosen)}
	var off int64
	for _, j := range chosen {
		p := stored[j]
		raw, _ := hex.DecodeString(TrimETag(p.ETag))
		sum.Write(raw)
		if p.Size > 0 {
			if err = f.copyPart(ctx, cred, inos[j], out, off, p.Size); err != nil {
				break
			}
		}
		off += p.Size
		m.PartSizes = append(m.PartSizes, p.Size)
	}
	if rerr := f.v.Release(ctx, out); err == nil {
		err = rerr
	}
	if err != nil {
		f.dropTemp(ctx, cred, t)
		return t, nil, err
	}
	m.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(sum.Sum(nil)), len(chosen))
	return t, m, nil
}

func (f *FS) copyPart(ctx context.Context, cred posix.Cred, part posix.Ino, out vfs.Handle, off, n int64) error {
	in, _, err := f.v.Open(ctx, cred, part, syscall.O_RDONLY)
	if err != nil {
		return err
	}
	defer f.v.Release(ctx, in)
	_, err = f.v.CopyFileRange(ctx, cred, in, 0, out, off, uint64(n))
	return err
}

// AbortMultipartUpload discards an upload and its parts.
func (f *FS) AbortMultipartUpload(ctx context.Context, cred posix.Cred, bucket, key, uploadID string) error {
	dir, _, err := f.upload(ctx, cred, bucket, key, uploadID)
	if err != nil {
		return err
	}
	return f.removeUpload(ctx, cred, bucket, uploadID, dir)
}

func (f *FS) removeUpload(ctx context.Context, cred posix.Cred, bucket, id string, dir posix.Ino) error {
	ctx = context.WithoutCancel(ctx)
	if err := f.emptyUploadDir(ctx, dir); err != nil {
		return err
	}
	up, err := f.bucketUploads(ctx, bucket, false)
	if err != nil {
		return err
	}
	err = f.v.Rmdir(ctx, posix.Root, up, id)
	if errors.Is(err, syscall.ENOENT) {
		return ErrNoSuchUpload
	}
	return err
}

// emptyUploadDir removes an upload's parts.
func (f *FS) emptyUploadDir(ctx context.Context, dir posix.Ino) error {
	for {
		ents, err := f.v.ReadDir(ctx, posix.Root, dir, vfs.ReadDirOptions{Limit: 1000})
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := f.v.Unlink(ctx, posix.Root, dir, e.Name); err != nil && !errors.Is(err, syscall.ENOENT) {
				return err
			}
		}
		if len(ents) < 1000 {
			return nil
		}
	}
}

// dropBucketUploads removes every staged upload of a deleted bucket.
func (f *FS) dropBucketUploads(ctx context.Context, bucket string) {
	up, err := f.bucketUploads(ctx, bucket, false)
	if err != nil {
		return
	}
	ents, err := f.v.ReadDir(ctx, posix.Root, up, vfs.ReadDirOptions{})
	if err != nil {
		return
	}
	for _, e := range ents {
		_ = f.removeUpload(ctx, posix.Root, bucket, e.Name, e.Ino)
	}
	_, upRoot, err := f.systemDirs(ctx)
	if err == nil {
		_ = f.v.Rmdir(ctx, posix.Root, upRoot, bucket)
	}
}

// ListParts returns the parts of an upload after marker, up to max.
func (f *FS) ListParts(ctx context.Context, cred posix.Cred, bucket, key, uploadID string, marker, max int) (ListPartsResult, error) {
	dir, info, err := f.upload(ctx, cred, bucket, key, uploadID)
	if err != nil {
		return ListPartsResult{}, err
	}
	if max <= 0 || max > 1000 {
		max = 1000
	}
	parts, _, err := f.partsOf(ctx, cred, dir)
	if err != nil {
		return ListPartsResult{}, err
	}
	res := ListPartsResult{Upload: Upload{Bucket: bucket, Key: key, UploadID: uploadID,
		Initiated: time.Unix(0, info.Initiated).UTC(), OwnerUID: info.s3Owner()}}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(res.Parts) == max {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, p)
		res.NextPartNumberMarker = p.Number
	}
	return res, nil
}

// ListMultipartUploads lists a bucket's uploads in progress, by key then
// initiation time.
func (f *FS) ListMultipartUploads(ctx context.Context, cred posix.Cred, bucket string, opt ListUploadsOptions) (ListUploadsResult, error) {
	if _, err := f.bucketIno(ctx, cred, bucket); err != nil {
		return ListUploadsResult{}, err
	}
	var res ListUploadsResult
	up, err := f.bucketUploads(ctx, bucket, false)
	if errors.Is(err, ErrNoSuchUpload) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	ents, err := f.v.ReadDir(ctx, posix.Root, up, vfs.ReadDirOptions{})
	if err != nil {
		return res, err
	}
	var all []Upload
	for _, e := range ents {
		b, err := f.v.GetInternalXattr(ctx, e.Ino, uploadXattr)
		var info uploadInfo
		if err != nil || json.Unmarshal(b, &info) != nil || info.Done != nil || !strings.HasPrefix(info.Key, opt.Prefix) {
			continue
		}
		all = append(all, Upload{Bucket: bucket, Key: info.Key, UploadID: e.Name,
			Initiated: time.Unix(0, info.Initiated).UTC(), OwnerUID: info.s3Owner()})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Key != all[j].Key {
			return all[i].Key < all[j].Key
		}
		return all[i].Initiated.Before(all[j].Initiated)
	})
	max := opt.MaxUploads
	if max <= 0 || max > 1000 {
		max = 1000
	}
	lastCP := ""
	for _, u := range all {
		if u.Key < opt.KeyMarker || (u.Key == opt.KeyMarker && (opt.UploadIDMarker == "" || u.UploadID <= opt.UploadIDMarker)) {
			continue
		}
		if opt.Delimiter != "" {
			if i := strings.Index(u.Key[len(opt.Prefix):], opt.Delimiter); i >= 0 {
				cp := u.Key[:len(opt.Prefix)+i+len(opt.Delimiter)]
				if cp == lastCP || cp <= opt.KeyMarker {
					continue
				}
				if len(res.Uploads)+len(res.CommonPrefixes) == max {
					res.IsTruncated = true
					break
				}
				lastCP = cp
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				res.NextKeyMarker = cp
				continue
			}
		}
		if len(res.Uploads)+len(res.CommonPrefixes) == max {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, u)
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.UploadID
	}
	return res, nil
}

// DefaultChecksumType is the checksum type S3 gives a multipart upload
// created with alg and no x-amz-checksum-type: FULL_OBJECT for CRC64NVME,
// COMPOSITE for the others.
func DefaultChecksumType(alg string) string {
	if strings.ToUpper(alg) == AlgCRC64NVME {
		return "FULL_OBJECT"
	}
	return "COMPOSITE"
}

// ValidChecksumType reports whether a multipart upload may combine alg and
// typ: FULL_OBJECT needs a CRC, COMPOSITE anything but CRC64NVME.
func ValidChecksumType(alg, typ string) bool {
	switch strings.ToUpper(alg) {
	case AlgCRC32, AlgCRC32C:
		return typ == "COMPOSITE" || typ == "FULL_OBJECT"
	case AlgCRC64NVME:
		return typ == "FULL_OBJECT"
	case AlgSHA1, AlgSHA256:
		return typ == "COMPOSITE"
	}
	return false
}

// wholeChecksum derives a completed upload's checksum from its parts'
// (each part was hashed with the upload's algorithm as it arrived):
// COMPOSITE is the checksum of the concatenated binary part checksums
// followed by "-N"; FULL_OBJECT is the CRC of the whole object, combined
// from the parts' CRCs and sizes without reading any data.
func wholeChecksum(info uploadInfo, stored []Part, chosen []int) (Checksums, error) {
	alg := info.Algorithm
	raws := make([][]byte, len(chosen))
	for i, j := range chosen {
		raw, err := base64.StdEncoding.DecodeString(stored[j].Checksums.Get(alg))
		if err != nil || len(raw) == 0 {
			return Checksums{}, fmt.Errorf("%w: part %d has no %s checksum", ErrInvalidPart, stored[j].Number, alg)
		}
		raws[i] = raw
	}
	var c Checksums
	c.Type = info.CType
	if info.CType == "FULL_OBJECT" {
		var poly uint64
		width := 32
		switch alg {
		case AlgCRC32:
			poly = 0xEDB88320
		case AlgCRC32C:
			poly = 0x82F63B78
		case AlgCRC64NVME:
			poly, width = 0x9A6C9329AC4BC9B5, 64
		default:
			return Checksums{}, fmt.Errorf("%w: %s cannot be a full-object checksum", ErrInvalidPart, alg)
		}
		var crc uint64
		for i, j := range chosen {
			part := beUint(raws[i])
			if i == 0 {
				crc = part
			} else {
				crc = crcCombine(crc, part, stored[j].Size, poly, width)
			}
		}
		out := make([]byte, width/8)
		for k := range out {
			out[k] = byte(crc >> (8 * (len(out) - 1 - k)))
		}
		c.Set(alg, base64.StdEncoding.EncodeToString(out))
		return c, nil
	}
	h := newChecksum(alg)
	for _, r := range raws {
		h.Write(r)
	}
	c.Set(alg, base64.StdEncoding.EncodeToString(h.Sum(nil))+"-"+strconv.Itoa(len(chosen)))
	return c, nil
}

// beUint reads a big-endian unsigned integer of up to 8 bytes.
func beUint(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}
