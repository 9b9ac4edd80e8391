package s3fs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// ListBuckets returns the directories under the volume root whose names
// are valid bucket names and that cred may enter, in name order.
func (f *FS) ListBuckets(ctx context.Context, cred posix.Cred) ([]BucketInfo, error) {
	var out []BucketInfo
	after := ""
	for {
		ents, err := f.v.ReadDir(ctx, posix.Root, posix.RootIno, vfs.ReadDirOptions{After: after, Limit: 1000, WithAttr: true})
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Type != posix.TypeDir || !ValidBucketName(e.Name) {
				continue
			}
			// A bucket is listed to those who may enter its directory: one
			// made private (mode 0700, or an ACL) is not shown to others.
			if !cred.IsRoot() && f.v.Access(ctx, cred, e.Ino, posix.MayExec) != nil {
				continue
			}
			out = append(out, BucketInfo{Name: e.Name, Created: time.Unix(0, e.Attr.Ctime).UTC()})
		}
		if len(ents) < 1000 {
			return out, nil
		}
		after = ents[len(ents)-1].Name
	}
}

// CreateBucket makes the bucket's directory, owned by cred, with the
// configured directory mode (0755 by default).
// An existing bucket is ErrBucketExists; the gateway tells "owned by you"
// from HeadBucket's owner.
func (f *FS) CreateBucket(ctx context.Context, cred posix.Cred, bucket string) error {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	if !ValidBucketName(bucket) {
		return ErrInvalidBucketName
	}
	c := cred
	c.Umask = 0 // the configured mode, exactly
	_, err := f.v.Mkdir(event(ctx, "BucketCreated", bucket, "", ""), c, posix.RootIno, bucket, f.dirMode)
	f.versions.forget(bucket)
	if errors.Is(err, syscall.EEXIST) {
		return ErrBucketExists
	}
	return err
}

// BucketOwner returns the owner and group of the bucket's directory.
func (f *FS) BucketOwner(ctx context.Context, bucket string) (uid, gid uint32, err error) {
	e, err := f.bucketIno(ctx, posix.Root, bucket)
	return e.Attr.UID, e.Attr.GID, err
}

// HeadBucket checks that the bucket exists and that cred may search it.
func (f *FS) HeadBucket(ctx context.Context, cred posix.Cred, bucket string) (BucketInfo, error) {
	e, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return BucketInfo{}, err
	}
	if err := f.v.Access(ctx, cred, e.Ino, posix.MayExec); err != nil {
		return BucketInfo{}, err
	}
	return BucketInfo{Name: bucket, Created: time.Unix(0, e.Attr.Ctime).UTC()}, nil
}

// DeleteBucket removes an empty bucket (ErrBucketNotEmpty otherwise) and
// any multipart uploads still staged for it.
func (f *FS) DeleteBucket(ctx context.Context, cred posix.Cred, bucket string) error {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return err
	}
	// Noncurrent versions and delete markers count: a bucket with any is
	// not empty (as in S3).
	vroot, err := f.bucketVersions(ctx, b.Ino, false)
	if err != nil {
		return err
	}
	if vroot != 0 {
		empty, err := f.versionsEmpty(ctx, vroot)
		if err != nil {
			return err
		}
		if !empty {
			return ErrBucketNotEmpty
		}
	}
	err = f.v.Rmdir(event(ctx, "BucketRemoved", bucket, "", ""), cred, posix.RootIno, bucket)
	if errors.Is(err, syscall.ENOTEMPTY) {
		return ErrBucketNotEmpty
	}
	if err != nil {
		return err
	}
	f.versions.forget(bucket)
	if vroot != 0 {
		if base, err := f.versionsBase(ctx); err == nil {
			_ = f.v.Rmdir(ctx, posix.Root, base, fmt.Sprint(uint64(b.Ino)))
		}
	}
	f.dropBucketUploads(ctx, bucket)
	if base, err := f.foldsBase(ctx); err == nil {
		// Empty once the bucket is (a fold holds an object of a key that
		// was also a prefix).
		_ = f.v.Rmdir(ctx, posix.Root, base, fmt.Sprint(uint64(b.Ino)))
	}
	return nil
}
