package gateway

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"syscall"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// toS3 maps an error from the backend or the request parsing to an S3
// error. Anything unknown is InternalError (and logged by the caller).
func toS3(err error) (*s3err.Error, bool) {
	var se *s3err.Error
	if errors.As(err, &se) {
		c := *se
		return &c, true
	}
	known := true
	var code s3err.Code
	var dm *s3fs.DeleteMarkerError
	switch {
	case errors.As(err, &dm) && dm.Method:
		code = s3err.MethodNotAllowed
	case errors.Is(err, s3fs.ErrObjectLocked):
		return s3err.Newf(s3err.AccessDenied, "Access Denied because object protected by object lock."), true
	case errors.Is(err, s3fs.ErrNoObjectLock):
		return s3err.Newf(s3err.InvalidRequest, "Bucket is missing Object Lock Configuration"), true
	case errors.Is(err, s3fs.ErrNoObjectLockConfig):
		code = s3err.ObjectLockConfigurationNotFound
	case errors.Is(err, s3fs.ErrNoLockOnObject):
		code = s3err.NoSuchObjectLockConfiguration
	case errors.Is(err, s3fs.ErrInvalidBucketState):
		return s3err.Newf(s3err.InvalidBucketState, strings.TrimPrefix(err.Error(), s3fs.ErrInvalidBucketState.Error()+": ")), true
	case errors.Is(err, s3fs.ErrInvalidRetention):
		return s3err.Newf(s3err.InvalidRetentionPeriod, strings.TrimPrefix(err.Error(), s3fs.ErrInvalidRetention.Error()+": ")), true
	case errors.Is(err, s3fs.ErrNoSuchLifecycle):
		code = s3err.NoSuchLifecycleConfiguration
	case errors.Is(err, s3fs.ErrNoSuchVersion):
		code = s3err.NoSuchVersion
	case errors.Is(err, s3fs.ErrInvalidVersion):
		return s3err.Newf(s3err.InvalidArgument, "Invalid version id specified"), true
	case errors.Is(err, s3fs.ErrInvalidArgument):
		return s3err.Newf(s3err.InvalidArgument, strings.TrimPrefix(err.Error(), s3fs.ErrInvalidArgument.Error()+": ")), true
	case errors.Is(err, s3fs.ErrNoSuchBucket):
		code = s3err.NoSuchBucket
	case errors.Is(err, s3fs.ErrBucketExists):
		code = s3err.BucketAlreadyExists
	case errors.Is(err, s3fs.ErrBucketNotEmpty):
		code = s3err.BucketNotEmpty
	case errors.Is(err, s3fs.ErrInvalidBucketName):
		code = s3err.InvalidBucketName
	case errors.Is(err, s3fs.ErrNoSuchKey):
		code = s3err.NoSuchKey
	case errors.Is(err, s3fs.ErrKeyTooLong):
		code = s3err.KeyTooLongError
	case errors.Is(err, s3fs.ErrInvalidKey):
		return s3err.Newf(s3err.InvalidArgument, err.Error()), true
	case errors.Is(err, s3fs.ErrKeyConflict):
		code = s3err.KeyConflict
	case errors.Is(err, s3fs.ErrNoSuchUpload):
		code = s3err.NoSuchUpload
	case errors.Is(err, s3fs.ErrInvalidPart):
		code = s3err.InvalidPart
	case errors.Is(err, s3fs.ErrInvalidPartOrder):
		code = s3err.InvalidPartOrder
	case errors.Is(err, s3fs.ErrEntityTooSmall):
		code = s3err.EntityTooSmall
	case errors.Is(err, s3fs.ErrEntityTooLarge):
		code = s3err.EntityTooLarge
	case errors.Is(err, s3fs.ErrPreconditionFailed):
		code = s3err.PreconditionFailed
	case errors.Is(err, s3fs.ErrNotModified):
		code = s3err.NotModified
	case errors.Is(err, s3fs.ErrInvalidRange):
		code = s3err.InvalidRange
	case errors.Is(err, s3fs.ErrBadDigest):
		code = s3err.BadDigest
	case errors.Is(err, s3fs.ErrChecksumMismatch):
		return s3err.Newf(s3err.BadDigest, "The checksum you specified did not match the calculated checksum."), true
	case errors.Is(err, s3fs.ErrIncompleteBody):
		code = s3err.IncompleteBody
	case errors.Is(err, s3fs.ErrMetadataTooLarge):
		code = s3err.MetadataTooLarge
	case errors.Is(err, s3fs.ErrInvalidCopySource):
		return s3err.Newf(s3err.InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."), true
	case errors.Is(err, s3fs.ErrInvalidCopyRange):
		return s3err.Newf(s3err.InvalidArgument, "The x-amz-copy-source-range value is not valid for the size of the source object."), true
	case errors.Is(err, s3fs.ErrInvalidTag):
		return s3err.Newf(s3err.InvalidTag, strings.TrimPrefix(err.Error(), s3fs.ErrInvalidTag.Error()+": ")), true
	case errors.Is(err, s3fs.ErrInvalidCORS):
		return s3err.Newf(s3err.InvalidRequest, strings.TrimPrefix(err.Error(), s3fs.ErrInvalidCORS.Error()+": ")), true
	case errors.Is(err, s3fs.ErrNoSuchCORS):
		code = s3err.NoSuchCORSConfiguration
	case errors.Is(err, s3fs.ErrNoSuchTagSet):
		code = s3err.NoSuchTagSet
	case errors.Is(err, s3fs.ErrACLsDisabled):
		code = s3err.AccessControlListNotSupported
	case errors.Is(err, s3fs.ErrPublicACLWithEnforced):
		code = s3err.InvalidBucketAclWithObjectOwnership
	case errors.Is(err, syscall.ENOENT):
		code = s3err.NoSuchKey
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		code = s3err.AccessDenied
	case errors.Is(err, syscall.ENAMETOOLONG):
		code = s3err.KeyTooLongError
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EEXIST), errors.Is(err, syscall.ENOTEMPTY):
		code = s3err.KeyConflict
	case errors.Is(err, syscall.EDQUOT):
		code = s3err.BucketQuotaExceeded // a bucket's (or a directory's) quota, as MinIO answers
	case errors.Is(err, s3fs.ErrNoSuchQuota):
		return s3err.Newf(s3err.NoSuchKey, "No quota configuration found"), true
	case errors.Is(err, syscall.ENOSPC):
		return s3err.Newf(s3err.EntityTooLarge, "The volume is out of space or inodes."), true
	case errors.Is(err, syscall.EINVAL):
		code = s3err.InvalidArgument
	case errors.Is(err, context.Canceled):
		code = s3err.BadRequest
	case errors.Is(err, os.ErrDeadlineExceeded):
		code = s3err.RequestTimeout
	default:
		code, known = s3err.InternalError, false
	}
	return s3err.New(code), known
}

// statusOf returns the HTTP status an error is answered with.
func statusOf(err error) int {
	e, _ := toS3(err)
	if e == nil {
		return http.StatusInternalServerError
	}
	return e.Status()
}
