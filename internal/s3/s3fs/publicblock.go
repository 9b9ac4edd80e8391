package s3fs

import (
	"context"
	"errors"

	"cairn/internal/posix"
)

// PublicAccessBlock is a bucket's public access block configuration.
type PublicAccessBlock struct {
	BlockPublicAcls       bool `json:"block_acls"`
	IgnorePublicAcls      bool `json:"ignore_acls"`
	BlockPublicPolicy     bool `json:"block_policy"`
	RestrictPublicBuckets bool `json:"restrict"`
}

// ErrNoSuchPublicAccessBlock is a bucket without the configuration.
var ErrNoSuchPublicAccessBlock = errors.New("s3fs: the bucket has no public access block configuration")

const publicBlockXattr = "cairn.s3.pab"

// GetPublicAccessBlock returns a bucket's configuration, or
// ErrNoSuchPublicAccessBlock.
func (f *FS) GetPublicAccessBlock(ctx context.Context, cred posix.Cred, bucket string) (PublicAccessBlock, error) {
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return PublicAccessBlock{}, err
	}
	var pab PublicAccessBlock
	err = f.configAt(ctx, b.Ino, bucket, publicBlockXattr, &pab)
	if errors.Is(err, errNoConfig) {
		return pab, ErrNoSuchPublicAccessBlock
	}
	return pab, err
}

// BucketPublicAccessBlock is GetPublicAccessBlock for deciding a request
// (no caller).
func (f *FS) BucketPublicAccessBlock(ctx context.Context, bucket string) (PublicAccessBlock, error) {
	var b PublicAccessBlock
	err := f.bucketConfig(ctx, bucket, publicBlockXattr, &b)
	if errors.Is(err, errNoConfig) {
		return b, ErrNoSuchPublicAccessBlock
	}
	return b, err
}

// PutPublicAccessBlock sets a bucket's configuration (its owner or root).
func (f *FS) PutPublicAccessBlock(ctx context.Context, cred posix.Cred, bucket string, b PublicAccessBlock) error {
	return f.setBucketConfig(ctx, cred, bucket, publicBlockXattr, b)
}

// DeletePublicAccessBlock removes it.
func (f *FS) DeletePublicAccessBlock(ctx context.Context, cred posix.Cred, bucket string) error {
	return f.setBucketConfig(ctx, cred, bucket, publicBlockXattr, nil)
}
