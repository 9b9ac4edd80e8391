package s3fs

import (
	"errors"
	"io"
	"time"

	"cairn/internal/posix"
)

// Sentinel errors. Everything else s3fs returns wraps a syscall.Errno
// (ENOENT for a missing key, EACCES for a POSIX refusal, ...).
var (
	ErrNoSuchBucket       = errors.New("s3fs: no such bucket")
	ErrBucketExists       = errors.New("s3fs: bucket already exists")
	ErrBucketNotEmpty     = errors.New("s3fs: bucket not empty")
	ErrInvalidBucketName  = errors.New("s3fs: invalid bucket name")
	ErrNoSuchKey          = errors.New("s3fs: no such key")
	ErrInvalidKey         = errors.New("s3fs: key cannot be stored as a path")
	ErrKeyTooLong         = errors.New("s3fs: key longer than 1024 bytes")
	ErrKeyConflict        = errors.New("s3fs: key conflicts with an existing object or prefix")
	ErrNoSuchUpload       = errors.New("s3fs: no such upload")
	ErrInvalidPart        = errors.New("s3fs: invalid part")
	ErrInvalidPartOrder   = errors.New("s3fs: parts not in ascending order")
	ErrEntityTooSmall     = errors.New("s3fs: part smaller than the minimum")
	ErrPreconditionFailed = errors.New("s3fs: precondition failed")
	ErrNotModified        = errors.New("s3fs: not modified")
	ErrInvalidRange       = errors.New("s3fs: range not satisfiable")
	ErrBadDigest          = errors.New("s3fs: Content-MD5 does not match")
	ErrChecksumMismatch   = errors.New("s3fs: checksum does not match")
	ErrIncompleteBody     = errors.New("s3fs: body shorter than Content-Length")
	ErrEntityTooLarge     = errors.New("s3fs: object larger than the maximum")
	ErrMetadataTooLarge   = errors.New("s3fs: metadata headers exceed 2 KiB")
	ErrInvalidCopySource  = errors.New("s3fs: copy source is the destination without changes")
	ErrInvalidCopyRange   = errors.New("s3fs: copy source range outside the source object")
	ErrInvalidArgument    = errors.New("s3fs: invalid argument")
)

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
}

// Checksums holds the additional checksums of an object, base64 as S3
// shows them; empty fields are absent.
type Checksums struct {
	CRC32     string `json:"crc32,omitempty"`
	CRC32C    string `json:"crc32c,omitempty"`
	CRC64NVME string `json:"crc64nvme,omitempty"`
	SHA1      string `json:"sha1,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	// Type is "FULL_OBJECT" or "COMPOSITE" (multipart).
	Type string `json:"type,omitempty"`
}

// ObjectInfo describes an object.
type ObjectInfo struct {
	Bucket      string
	Key         string
	Size        int64
	ModTime     time.Time
	ETag        string // quoted, as S3 returns it
	ContentType string
	UserMeta    map[string]string // x-amz-meta-* without the prefix, lower-case names
	Headers     map[string]string // Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires
	Checksums   Checksums
	PartsCount  int
	IsDirMarker bool
	OwnerUID    uint32
	OwnerGID    uint32
	// Mode is the file's permission bits (with setuid, setgid, sticky);
	// POSIXACL its POSIX access ACL in the short text form (HEAD only; ""
	// when it has none). They are what a mount's stat and getfacl show.
	Mode         uint32
	POSIXACL     string
	StorageClass string
	TagCount     int   // x-amz-tagging-count
	Tags         []Tag // the tags (GET and HEAD; not in listings)
	// PartSizes are the sizes of a multipart object's parts, in order
	// (GetObjectAttributes).
	PartSizes []int64
	// PartChecksums are the parts' checksums, when the upload had an
	// algorithm (else nil).
	PartChecksums []Checksums
	// VersionID is the version's id: "" for an object written without
	// versioning (the null version), "null" for one written while
	// versioning was suspended.
	VersionID string
	// IsLatest and IsDeleteMarker describe versions in
	// ListObjectVersions.
	IsLatest, IsDeleteMarker bool
	// Object lock: retention mode and end, legal hold ("ON", "OFF" or ""
	// when never set).
	LockMode  string
	LockUntil time.Time
	LegalHold string
	// ACL is the object's own S3 ACL; nil when it has none (its file
	// owner's full control).
	ACL *ACL
}

// PutOptions describe a PutObject (and CompleteMultipartUpload's result).
type PutOptions struct {
	// Size is the body length; -1 when unknown (chunked without a decoded
	// length).
	Size        int64
	ContentType string
	UserMeta    map[string]string
	Headers     map[string]string
	// Tags are the object's tags (x-amz-tagging), checked by the caller
	// with ValidateTags.
	Tags []Tag
	// ContentMD5 is the raw 16-byte digest the client sent, if any.
	ContentMD5 []byte
	// Expect holds checksums the client sent (base64): verified against
	// the body; a mismatch is ErrChecksumMismatch and nothing is stored.
	Expect Checksums
	// Compute asks for these additional algorithms to be computed and
	// stored even when not sent ("CRC32", "SHA256", ...).
	Compute []string
	// ChecksumType is the x-amz-checksum-type of a multipart upload
	// ("COMPOSITE" or "FULL_OBJECT"; empty: the algorithm's default).
	ChecksumType string
	// Trailer supplies checksums that arrive in a trailer after the body:
	// called after the body is read.
	Trailer func() Checksums
	// Conditions on the existing object (If-Match, If-None-Match: *).
	IfMatch     string
	IfNoneMatch string
	Mode        uint32 // file mode for new objects, default 0644
	// Object lock of the new version (x-amz-object-lock-*), checked by
	// the caller with CheckLockHeaders.
	LockMode  string
	LockUntil time.Time
	LegalHold string // "ON", "OFF" or ""
	// ACL is the object's S3 ACL (nil: none asked for, its owner's full
	// control); the gateway checked it against the bucket's ownership.
	ACL *ACL
}

// Range is a byte range of an object, resolved against its size by
// ResolveRange.
type Range struct {
	Start, End int64 // inclusive; Start < 0 means a suffix of -Start bytes
	Open       bool  // "bytes=N-": to the end
	// Suffix marks "bytes=-N" even when N is 0 (never satisfiable).
	Suffix bool
}

// GetOptions condition and shape a GetObject/HeadObject.
type GetOptions struct {
	// VersionID, when set, selects a version other than the current one.
	VersionID         string
	Range             *Range
	PartNumber        int
	IfMatch           string
	IfNoneMatch       string
	IfModifiedSince   time.Time
	IfUnmodifiedSince time.Time
}

// Object is an open object: read it, then Close it.
type Object struct {
	Info ObjectInfo
	// Offset and Length are the byte range being returned.
	Offset, Length int64
	Body           io.ReadCloser
}

// ListOptions shape ListObjects (v1 and v2).
type ListOptions struct {
	Prefix     string
	Delimiter  string
	StartAfter string // exclusive: marker, continuation token or start-after
	MaxKeys    int
	FetchOwner bool
}

// ListResult is one page of a listing.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextMarker is the last key or common prefix returned when truncated.
	NextMarker string
}

// CopyOptions describe a CopyObject.
type CopyOptions struct {
	// SourceVersionID selects a version of the source other than the
	// current one.
	SourceVersionID string
	// ReplaceMetadata takes ContentType/UserMeta/Headers from Put instead of
	// the source (x-amz-metadata-directive: REPLACE).
	ReplaceMetadata bool
	// ReplaceTags takes the tags from Put instead of the source
	// (x-amz-tagging-directive: REPLACE).
	ReplaceTags bool
	Put         PutOptions
	// Source conditions (x-amz-copy-source-if-*).
	Source GetOptions
	// Range copies part of the source (UploadPartCopy).
	Range *Range
	// SourceCred, when set, is the identity the source is read as (the
	// owner of the source's bucket, when its policy granted the read);
	// nil reads it as the caller.
	SourceCred *posix.Cred
}

// Upload describes a multipart upload in progress.
type Upload struct {
	Bucket    string
	Key       string
	UploadID  string
	Initiated time.Time
	OwnerUID  uint32
}

// Part describes an uploaded part.
type Part struct {
	Number    int
	ETag      string
	Size      int64
	ModTime   time.Time
	Checksums Checksums
}

// CompletePart names a part in CompleteMultipartUpload.
type CompletePart struct {
	Number    int
	ETag      string
	Checksums Checksums
}

// ListUploadsOptions shape ListMultipartUploads.
type ListUploadsOptions struct {
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int
}

// ListUploadsResult is a page of ListMultipartUploads.
type ListUploadsResult struct {
	Uploads            []Upload
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// ListPartsResult is a page of ListParts.
type ListPartsResult struct {
	Upload               Upload
	Parts                []Part
	IsTruncated          bool
	NextPartNumberMarker int
}

// MinPartSize is the smallest size of a part other than the last.
const MinPartSize = 5 << 20

// MaxObjectSize is the largest object PutObject accepts in one request (5 GiB).
const MaxPutSize = 5 << 30
