package s3fs

import (
	"context"
	"encoding/json"

	"cairn/internal/posix"
)

// notificationXattr holds a bucket's notification configuration: a JSON
// document the notification package defines (s3fs stores it as it is).
const notificationXattr = "cairn.s3.notification"

// BucketNotification returns the bucket's notification configuration as
// stored, or nil when it has none. It is read with the bucket's other
// states and cached with them: a change made through another gateway
// applies within a few seconds.
func (f *FS) BucketNotification(ctx context.Context, bucket string) ([]byte, error) {
	if raw, ok := f.versions.notification(bucket); ok {
		return raw, nil
	}
	if _, err := f.Versioning(ctx, bucket); err != nil {
		return nil, err
	}
	raw, _ := f.versions.notification(bucket)
	return raw, nil
}

// PutBucketNotification stores the bucket's notification configuration;
// nil removes it. Only the bucket's owner (or root) may change it.
func (f *FS) PutBucketNotification(ctx context.Context, cred posix.Cred, bucket string, raw []byte) error {
	defer f.versions.forget(bucket)
	if raw == nil {
		return f.setBucketConfig(ctx, cred, bucket, notificationXattr, nil)
	}
	return f.setBucketConfig(ctx, cred, bucket, notificationXattr, json.RawMessage(raw))
}
