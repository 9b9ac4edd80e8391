package s3fs

import (
	"context"
	"errors"
	"syscall"

	"cairn/internal/posix"
)

// Bucket quotas. A bucket is a directory, so its quota is the volume's
// directory quota on it (meta): usage counted in the same transaction as
// every write, whichever way it comes (S3, a mount, another gateway), and
// a write that would pass a limit refused (EDQUOT, which the gateway
// answers as MinIO does). The object count is the tree's inodes less the
// bucket's own directory: prefix directories (and directory markers)
// count as objects too. Noncurrent versions stay charged to their bucket
// until they are deleted.

// BucketQuota is a bucket's quota (0: no limit) and its usage.
type BucketQuota struct {
	MaxBytes, MaxObjects   uint64
	UsedBytes, UsedObjects uint64
}

// ErrNoSuchQuota is a bucket without a quota.
var ErrNoSuchQuota = errors.New("s3fs: the bucket has no quota")

// GetBucketQuota returns the bucket's quota and usage.
func (f *FS) GetBucketQuota(ctx context.Context, bucket string) (BucketQuota, error) {
	b, err := f.bucketIno(ctx, posix.Root, bucket)
	if err != nil {
		return BucketQuota{}, err
	}
	q, err := f.v.GetQuota(ctx, b.Ino)
	if errors.Is(err, syscall.ENOENT) {
		return BucketQuota{}, ErrNoSuchQuota
	}
	if err != nil {
		return BucketQuota{}, err
	}
	out := BucketQuota{MaxBytes: q.MaxSpace, UsedBytes: q.UsedSpace}
	if q.MaxInodes > 0 {
		out.MaxObjects = q.MaxInodes - 1
	}
	if q.UsedInodes > 0 {
		out.UsedObjects = q.UsedInodes - 1
	}
	return out, nil
}

// SetBucketQuota sets the bucket's quota (both limits 0: removes it). The
// caller authorized it (an admin's call).
func (f *FS) SetBucketQuota(ctx context.Context, bucket string, maxBytes, maxObjects uint64) error {
	b, err := f.bucketIno(ctx, posix.Root, bucket)
	if err != nil {
		return err
	}
	if maxBytes == 0 && maxObjects == 0 {
		defer f.versions.forget(bucket)
		err := f.v.RemoveQuota(ctx, posix.Root, b.Ino)
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return err
	}
	maxInodes := uint64(0)
	if maxObjects > 0 {
		maxInodes = maxObjects + 1 // the bucket's directory
	}
	defer f.versions.forget(bucket)
	return f.v.SetQuota(ctx, posix.Root, b.Ino, maxBytes, maxInodes)
}

// checkQuotaAhead refuses, before any byte of it is stored, a write of
// size bytes to key that its bucket's quota cannot take (EDQUOT): the
// usage, less what an unversioned object it replaces holds, plus the new
// object passes the limit. The write's own transaction checks exactly
// again; this only spares the upload of what would be refused at its
// end. Buckets without a quota pay a cached flag.
func (f *FS) checkQuotaAhead(ctx context.Context, bucket, key string, size int64) error {
	if size <= 0 {
		return nil
	}
	status, err := f.Versioning(ctx, bucket) // fills the cache
	if err != nil {
		return err
	}
	if !f.versions.hasQuota(bucket) {
		return nil
	}
	q, err := f.GetBucketQuota(ctx, bucket)
	if err != nil || q.MaxBytes == 0 {
		return nil // none (any more): the transaction decides
	}
	need := (uint64(size) + 4095) &^ 4095
	if q.UsedBytes+need <= q.MaxBytes {
		return nil
	}
	if status == "" {
		if oi, err := f.HeadObject(ctx, posix.Root, bucket, key, GetOptions{}); err == nil {
			freed := (uint64(oi.Size) + 4095) &^ 4095
			if q.UsedBytes-min(freed, q.UsedBytes)+need <= q.MaxBytes {
				return nil
			}
		}
	}
	return syscall.EDQUOT
}
