package s3fs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"

	"cairn/internal/posix"
)

// A bucket's configurations (tags, CORS rules, ...) are JSON documents in
// internal xattrs of its directory: they live in the volume's metadata
// engine with the bucket, go with it, and cost no read unless asked for.

// errNoConfig is a configuration the bucket does not have.
var errNoConfig = errors.New("s3fs: no such bucket configuration")

// bucketConfig reads the configuration name of bucket into v, or
// errNoConfig. Any caller may read it (the gateway authorized the
// request; a preflight request is anonymous by design).
func (f *FS) bucketConfig(ctx context.Context, bucket, name string, v any) error {
	b, err := f.bucketIno(ctx, posix.Root, bucket)
	if err != nil {
		return err
	}
	return f.configAt(ctx, b.Ino, bucket, name, v)
}

// configAt is bucketConfig for the bucket directory ino, already
// resolved.
func (f *FS) configAt(ctx context.Context, ino posix.Ino, bucket, name string, v any) error {
	raw, err := f.v.GetInternalXattr(ctx, ino, name)
	if errors.Is(err, syscall.ENODATA) {
		return errNoConfig
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("s3fs: the %s of bucket %s is corrupt: %w", name, bucket, err)
	}
	return nil
}

// setBucketConfig stores v as the configuration name of bucket; v nil
// removes it. Only the bucket's owner (or root) may change it.
func (f *FS) setBucketConfig(ctx context.Context, cred posix.Cred, bucket, name string, v any) error {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return err
	}
	if cred.UID != 0 && cred.UID != b.Attr.UID {
		return syscall.EPERM
	}
	if v == nil {
		err := f.v.RemoveInternalXattr(ctx, b.Ino, name)
		if errors.Is(err, syscall.ENODATA) {
			err = nil
		}
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return f.v.SetInternalXattr(ctx, b.Ino, name, raw)
}
