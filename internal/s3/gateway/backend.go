package gateway

import (
	"context"
	"io"
	"time"

	"cairn/internal/posix"
	"cairn/internal/s3/s3fs"
)

// Backend is what the gateway needs of the object model; *s3fs.FS
// implements it.
type Backend interface {
	ListBuckets(ctx context.Context, cred posix.Cred) ([]s3fs.BucketInfo, error)
	CreateBucket(ctx context.Context, cred posix.Cred, bucket string) error
	HeadBucket(ctx context.Context, cred posix.Cred, bucket string) (s3fs.BucketInfo, error)
	DeleteBucket(ctx context.Context, cred posix.Cred, bucket string) error
	BucketOwner(ctx context.Context, bucket string) (uid, gid uint32, err error)

	PutObject(ctx context.Context, cred posix.Cred, bucket, key string, body io.Reader, opt s3fs.PutOptions) (s3fs.ObjectInfo, error)
	GetObject(ctx context.Context, cred posix.Cred, bucket, key string, opt s3fs.GetOptions) (*s3fs.Object, error)
	HeadObject(ctx context.Context, cred posix.Cred, bucket, key string, opt s3fs.GetOptions) (s3fs.ObjectInfo, error)
	DeleteObject(ctx context.Context, cred posix.Cred, bucket, key string) error
	DeleteObjectVersion(ctx context.Context, cred posix.Cred, bucket, key, versionID string, bypassGovernance bool) (s3fs.DeleteResult, error)
	DeleteObjects(ctx context.Context, cred posix.Cred, bucket string, keys []string) []error
	CopyObject(ctx context.Context, cred posix.Cred, srcBucket, srcKey, dstBucket, dstKey string, opt s3fs.CopyOptions) (s3fs.ObjectInfo, error)
	ListObjects(ctx context.Context, cred posix.Cred, bucket string, opt s3fs.ListOptions) (s3fs.ListResult, error)
	ListObjectVersions(ctx context.Context, cred posix.Cred, bucket string, opt s3fs.ListVersionsOptions) (s3fs.ListVersionsResult, error)
	Versioning(ctx context.Context, bucket string) (string, error)
	GetBucketLifecycle(ctx context.Context, cred posix.Cred, bucket string) ([]s3fs.LifecycleRule, error)
	PutBucketLifecycle(ctx context.Context, cred posix.Cred, bucket string, rules []s3fs.LifecycleRule) error
	DeleteBucketLifecycle(ctx context.Context, cred posix.Cred, bucket string) error
	// ExpirationOf is when the bucket's lifecycle expires an object, and
	// by which rule (zero time: never).
	ExpirationOf(ctx context.Context, bucket string, oi s3fs.ObjectInfo) (time.Time, string)
	ObjectLockConfiguration(ctx context.Context, bucket string) (s3fs.ObjectLockConfig, error)
	PutObjectLockConfiguration(ctx context.Context, cred posix.Cred, bucket string, c s3fs.ObjectLockConfig) error
	EnableObjectLock(ctx context.Context, cred posix.Cred, bucket string) error
	GetObjectRetention(ctx context.Context, cred posix.Cred, bucket, key, versionID string) (s3fs.Retention, error)
	PutObjectRetention(ctx context.Context, cred posix.Cred, bucket, key, versionID string, r s3fs.Retention, bypassGovernance bool) error
	GetObjectLegalHold(ctx context.Context, cred posix.Cred, bucket, key, versionID string) (bool, error)
	PutObjectLegalHold(ctx context.Context, cred posix.Cred, bucket, key, versionID string, on bool) error
	PutBucketVersioning(ctx context.Context, cred posix.Cred, bucket, status string) error

	CreateMultipartUpload(ctx context.Context, cred posix.Cred, bucket, key string, opt s3fs.PutOptions) (string, error)
	UploadPart(ctx context.Context, cred posix.Cred, bucket, key, uploadID string, part int, body io.Reader, opt s3fs.PutOptions) (s3fs.Part, error)
	UploadPartCopy(ctx context.Context, cred posix.Cred, bucket, key, uploadID string, part int, srcBucket, srcKey string, opt s3fs.CopyOptions) (s3fs.Part, error)
	CompleteMultipartUpload(ctx context.Context, cred posix.Cred, bucket, key, uploadID string, parts []s3fs.CompletePart, opt s3fs.PutOptions) (s3fs.ObjectInfo, error)
	AbortMultipartUpload(ctx context.Context, cred posix.Cred, bucket, key, uploadID string) error
	ListParts(ctx context.Context, cred posix.Cred, bucket, key, uploadID string, marker, max int) (s3fs.ListPartsResult, error)
	ListMultipartUploads(ctx context.Context, cred posix.Cred, bucket string, opt s3fs.ListUploadsOptions) (s3fs.ListUploadsResult, error)

	GetObjectTagging(ctx context.Context, cred posix.Cred, bucket, key, versionID string) ([]s3fs.Tag, error)
	PutObjectTagging(ctx context.Context, cred posix.Cred, bucket, key, versionID string, tags []s3fs.Tag) error
	DeleteObjectTagging(ctx context.Context, cred posix.Cred, bucket, key, versionID string) error
	GetBucketTagging(ctx context.Context, cred posix.Cred, bucket string) ([]s3fs.Tag, error)
	PutBucketTagging(ctx context.Context, cred posix.Cred, bucket string, tags []s3fs.Tag) error
	DeleteBucketTagging(ctx context.Context, cred posix.Cred, bucket string) error

	GetBucketCors(ctx context.Context, cred posix.Cred, bucket string) ([]s3fs.CORSRule, error)
	BucketNotification(ctx context.Context, bucket string) ([]byte, error)
	PutBucketNotification(ctx context.Context, cred posix.Cred, bucket string, raw []byte) error
	RecordEvent(ctx context.Context, ev, bucket, key string, oi s3fs.ObjectInfo) error
	PutBucketCors(ctx context.Context, cred posix.Cred, bucket string, rules []s3fs.CORSRule) error
	DeleteBucketCors(ctx context.Context, cred posix.Cred, bucket string) error
	// BucketCORS is the rules that decide a browser's request, read
	// without a caller (preflight requests carry no credentials).
	BucketCORS(ctx context.Context, bucket string) ([]s3fs.CORSRule, error)

	GetPublicAccessBlock(ctx context.Context, cred posix.Cred, bucket string) (s3fs.PublicAccessBlock, error)
	PutPublicAccessBlock(ctx context.Context, cred posix.Cred, bucket string, b s3fs.PublicAccessBlock) error
	DeletePublicAccessBlock(ctx context.Context, cred posix.Cred, bucket string) error
	// BucketPublicAccessBlock is the configuration that decides a request.
	BucketPublicAccessBlock(ctx context.Context, bucket string) (s3fs.PublicAccessBlock, error)

	// S3 ACLs: the bucket's state (cached), its ACL and ownership, an
	// object version's ACL with its file's owner (read as root, to
	// decide), and setting it.
	BucketACL(ctx context.Context, bucket string) (s3fs.BucketACLState, error)
	PutBucketACL(ctx context.Context, cred posix.Cred, bucket string, acl s3fs.ACL) error
	PutOwnershipControls(ctx context.Context, cred posix.Cred, bucket, ownership string) error
	ObjectACL(ctx context.Context, bucket, key, versionID string) (s3fs.ACL, posix.Cred, error)
	PutObjectACL(ctx context.Context, cred posix.Cred, bucket, key, versionID string, acl s3fs.ACL) error

	// Bucket quotas (authorized by the caller: admin actions).
	GetBucketQuota(ctx context.Context, bucket string) (s3fs.BucketQuota, error)
	SetBucketQuota(ctx context.Context, bucket string, maxBytes, maxObjects uint64) error
}

var _ Backend = (*s3fs.FS)(nil)
