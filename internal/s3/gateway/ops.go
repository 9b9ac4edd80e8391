package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"cairn/internal/s3/s3fs"
)

// level is what the path of a request names.
type level uint8

const (
	serviceLevel level = iota // "/"
	bucketLevel               // "/bucket"
	objectLevel               // "/bucket/key"
)

func (l level) String() string {
	return [...]string{"service", "bucket", "object"}[l]
}

// An operation is one row of the operation table: how a request is
// recognised, the IAM action it needs, and the handler that serves it.
type operation struct {
	// name is the S3 API's name of the operation: the metrics label, the
	// access log's op and the name docs/s3.md lists.
	name   string
	method string
	level  level
	// query lists the query parameters the request must have, each "k"
	// (present, any value) or "k=v".
	query []string
	// header is a header the request must have (non-empty).
	header string
	// action is the IAM action authorized before the handler runs, on the
	// resource the path names (the bucket for bucketLevel, the object for
	// objectLevel). Handlers that touch other resources (the source of a
	// copy, each key of DeleteObjects) authorize those themselves.
	action string
	// versionAction replaces action when the request names a versionId.
	versionAction string
	// fn serves the request: it returns its answer, or an error with
	// the headers that go with it (a nil response: none); respond writes
	// either. Handlers never touch the ResponseWriter. nil answers
	// NotImplemented without authenticating.
	fn func(*request) (*response, error)
	// public operations are served without authentication or
	// authorization (CORS preflight requests, which browsers send
	// without credentials).
	public bool
	// formAuth operations authenticate and authorize in their handler,
	// from a form in the body (PostObject).
	formAuth bool
	// acl is the S3 ACL permission that grants the operation to whom no
	// policy allows it (AWS's mapping of ACL permissions to actions).
	acl aclNeed
}

// operations is the S3 API as cairn routes it. For a method and level,
// the first row whose query and header requirements hold is the
// operation; a row without requirements comes last. Rows with a nil
// handler are operations cairn does not serve yet: naming their
// sub-resource must never fall through to the plain operation (a GET of
// ?tagging is not a GetObject).
var operations = []operation{
	// MinIO's live event streams (mc event listen, mc watch).
	{name: "ListenNotification", method: http.MethodGet, level: serviceLevel, query: q("events"), action: "s3:ListenNotification", fn: (*request).listen},
	{name: "ListBuckets", method: http.MethodGet, level: serviceLevel, action: "s3:ListAllMyBuckets", fn: (*request).listBuckets},
	// STS (a form in the body, signed for service "sts"). Any principal may
	// have temporary credentials of itself, which grant no more than it
	// has, as MinIO's AssumeRole: no action is authorized.
	{name: "AssumeRole", method: http.MethodPost, level: serviceLevel, fn: (*request).assumeRole},

	// Bucket level, GET.
	{name: "GetBucketLocation", method: http.MethodGet, level: bucketLevel, query: q("location"), action: "s3:GetBucketLocation", fn: (*request).getBucketLocation},
	{name: "GetBucketVersioning", method: http.MethodGet, level: bucketLevel, query: q("versioning"), action: "s3:GetBucketVersioning", fn: (*request).getBucketVersioning},
	{name: "ListMultipartUploads", method: http.MethodGet, level: bucketLevel, query: q("uploads"), action: "s3:ListBucketMultipartUploads", acl: onBucket(s3fs.PermRead), fn: (*request).listMultipartUploads},
	{name: "ListObjectVersions", method: http.MethodGet, level: bucketLevel, query: q("versions"), action: "s3:ListBucketVersions", acl: onBucket(s3fs.PermRead), fn: (*request).listObjectVersions},
	{name: "GetBucketAcl", method: http.MethodGet, level: bucketLevel, query: q("acl"), action: "s3:GetBucketAcl", acl: onBucket(s3fs.PermReadACP), fn: (*request).getBucketAcl},
	{name: "GetBucketPolicy", method: http.MethodGet, level: bucketLevel, query: q("policy"), action: "s3:GetBucketPolicy", fn: (*request).getBucketPolicy},
	{name: "GetBucketPolicyStatus", method: http.MethodGet, level: bucketLevel, query: q("policyStatus"), action: "s3:GetBucketPolicyStatus", fn: (*request).getBucketPolicyStatus},
	{name: "GetBucketCors", method: http.MethodGet, level: bucketLevel, query: q("cors"), action: "s3:GetBucketCORS", fn: (*request).getBucketCors},
	{name: "GetBucketLifecycleConfiguration", method: http.MethodGet, level: bucketLevel, query: q("lifecycle"), action: "s3:GetLifecycleConfiguration", fn: (*request).getBucketLifecycle},
	{name: "GetBucketTagging", method: http.MethodGet, level: bucketLevel, query: q("tagging"), action: "s3:GetBucketTagging", fn: (*request).getBucketTagging},
	{name: "GetBucketWebsite", method: http.MethodGet, level: bucketLevel, query: q("website"), action: "s3:GetBucketWebsite"},
	{name: "GetBucketNotificationConfiguration", method: http.MethodGet, level: bucketLevel, query: q("notification"), action: "s3:GetBucketNotification", fn: (*request).getBucketNotification},
	{name: "GetBucketEncryption", method: http.MethodGet, level: bucketLevel, query: q("encryption"), action: "s3:GetEncryptionConfiguration"},
	{name: "GetObjectLockConfiguration", method: http.MethodGet, level: bucketLevel, query: q("object-lock"), action: "s3:GetBucketObjectLockConfiguration", fn: (*request).getObjectLockConfiguration},
	{name: "GetBucketLogging", method: http.MethodGet, level: bucketLevel, query: q("logging"), action: "s3:GetBucketLogging"},
	{name: "GetBucketReplication", method: http.MethodGet, level: bucketLevel, query: q("replication"), action: "s3:GetReplicationConfiguration"},
	{name: "GetBucketQuota", method: http.MethodGet, level: bucketLevel, query: q("quota"), action: "admin:GetBucketQuota", fn: (*request).getBucketQuota},
	{name: "GetBucketOwnershipControls", method: http.MethodGet, level: bucketLevel, query: q("ownershipControls"), action: "s3:GetBucketOwnershipControls", fn: (*request).getBucketOwnershipControls},
	{name: "GetPublicAccessBlock", method: http.MethodGet, level: bucketLevel, query: q("publicAccessBlock"), action: "s3:GetBucketPublicAccessBlock", fn: (*request).getPublicAccessBlock},
	{name: "GetBucketAccelerateConfiguration", method: http.MethodGet, level: bucketLevel, query: q("accelerate"), action: "s3:GetAccelerateConfiguration"},
	{name: "GetBucketRequestPayment", method: http.MethodGet, level: bucketLevel, query: q("requestPayment"), action: "s3:GetBucketRequestPayment"},
	{name: "GetBucketIntelligentTieringConfiguration", method: http.MethodGet, level: bucketLevel, query: q("intelligent-tiering"), action: "s3:GetIntelligentTieringConfiguration"},
	{name: "GetBucketInventoryConfiguration", method: http.MethodGet, level: bucketLevel, query: q("inventory"), action: "s3:GetInventoryConfiguration"},
	{name: "GetBucketMetricsConfiguration", method: http.MethodGet, level: bucketLevel, query: q("metrics"), action: "s3:GetMetricsConfiguration"},
	{name: "GetBucketAnalyticsConfiguration", method: http.MethodGet, level: bucketLevel, query: q("analytics"), action: "s3:GetAnalyticsConfiguration"},
	{name: "CreateSession", method: http.MethodGet, level: bucketLevel, query: q("session")},
	{name: "ListenBucketNotification", method: http.MethodGet, level: bucketLevel, query: q("events"), action: "s3:ListenBucketNotification", fn: (*request).listen},
	{name: "ListObjectsV2", method: http.MethodGet, level: bucketLevel, query: q("list-type=2"), action: "s3:ListBucket", acl: onBucket(s3fs.PermRead), fn: (*request).listObjectsV2},
	{name: "ListObjects", method: http.MethodGet, level: bucketLevel, action: "s3:ListBucket", acl: onBucket(s3fs.PermRead), fn: (*request).listObjectsV1},

	// Bucket level, HEAD, PUT, DELETE, POST.
	{name: "HeadBucket", method: http.MethodHead, level: bucketLevel, action: "s3:ListBucket", acl: onBucket(s3fs.PermRead), fn: (*request).headBucket},
	{name: "PutBucketVersioning", method: http.MethodPut, level: bucketLevel, query: q("versioning"), action: "s3:PutBucketVersioning", fn: (*request).putBucketVersioning},
	{name: "PutBucketAcl", method: http.MethodPut, level: bucketLevel, query: q("acl"), action: "s3:PutBucketAcl", acl: onBucket(s3fs.PermWriteACP), fn: (*request).putBucketAcl},
	{name: "PutBucketPolicy", method: http.MethodPut, level: bucketLevel, query: q("policy"), action: "s3:PutBucketPolicy", fn: (*request).putBucketPolicy},
	{name: "PutBucketCors", method: http.MethodPut, level: bucketLevel, query: q("cors"), action: "s3:PutBucketCORS", fn: (*request).putBucketCors},
	{name: "PutBucketLifecycleConfiguration", method: http.MethodPut, level: bucketLevel, query: q("lifecycle"), action: "s3:PutLifecycleConfiguration", fn: (*request).putBucketLifecycle},
	{name: "PutBucketTagging", method: http.MethodPut, level: bucketLevel, query: q("tagging"), action: "s3:PutBucketTagging", fn: (*request).putBucketTagging},
	{name: "PutBucketWebsite", method: http.MethodPut, level: bucketLevel, query: q("website"), action: "s3:PutBucketWebsite"},
	{name: "PutBucketNotificationConfiguration", method: http.MethodPut, level: bucketLevel, query: q("notification"), action: "s3:PutBucketNotification", fn: (*request).putBucketNotification},
	{name: "PutBucketEncryption", method: http.MethodPut, level: bucketLevel, query: q("encryption"), action: "s3:PutEncryptionConfiguration"},
	{name: "PutObjectLockConfiguration", method: http.MethodPut, level: bucketLevel, query: q("object-lock"), action: "s3:PutBucketObjectLockConfiguration", fn: (*request).putObjectLockConfiguration},
	{name: "PutBucketLogging", method: http.MethodPut, level: bucketLevel, query: q("logging"), action: "s3:PutBucketLogging"},
	{name: "PutBucketReplication", method: http.MethodPut, level: bucketLevel, query: q("replication"), action: "s3:PutReplicationConfiguration"},
	{name: "PutBucketQuota", method: http.MethodPut, level: bucketLevel, query: q("quota"), action: "admin:SetBucketQuota", fn: (*request).putBucketQuota},
	{name: "PutBucketOwnershipControls", method: http.MethodPut, level: bucketLevel, query: q("ownershipControls"), action: "s3:PutBucketOwnershipControls", fn: (*request).putBucketOwnershipControls},
	{name: "PutPublicAccessBlock", method: http.MethodPut, level: bucketLevel, query: q("publicAccessBlock"), action: "s3:PutBucketPublicAccessBlock", fn: (*request).putPublicAccessBlock},
	{name: "PutBucketAccelerateConfiguration", method: http.MethodPut, level: bucketLevel, query: q("accelerate"), action: "s3:PutAccelerateConfiguration"},
	{name: "PutBucketRequestPayment", method: http.MethodPut, level: bucketLevel, query: q("requestPayment"), action: "s3:PutBucketRequestPayment"},
	{name: "PutBucketIntelligentTieringConfiguration", method: http.MethodPut, level: bucketLevel, query: q("intelligent-tiering"), action: "s3:PutIntelligentTieringConfiguration"},
	{name: "PutBucketInventoryConfiguration", method: http.MethodPut, level: bucketLevel, query: q("inventory"), action: "s3:PutInventoryConfiguration"},
	{name: "PutBucketMetricsConfiguration", method: http.MethodPut, level: bucketLevel, query: q("metrics"), action: "s3:PutMetricsConfiguration"},
	{name: "PutBucketAnalyticsConfiguration", method: http.MethodPut, level: bucketLevel, query: q("analytics"), action: "s3:PutAnalyticsConfiguration"},
	{name: "CreateBucket", method: http.MethodPut, level: bucketLevel, action: "s3:CreateBucket", fn: (*request).createBucket},
	{name: "DeleteBucketPolicy", method: http.MethodDelete, level: bucketLevel, query: q("policy"), action: "s3:DeleteBucketPolicy", fn: (*request).deleteBucketPolicy},
	{name: "DeleteBucketCors", method: http.MethodDelete, level: bucketLevel, query: q("cors"), action: "s3:PutBucketCORS", fn: (*request).deleteBucketCors},
	{name: "DeleteBucketLifecycle", method: http.MethodDelete, level: bucketLevel, query: q("lifecycle"), action: "s3:PutLifecycleConfiguration", fn: (*request).deleteBucketLifecycle},
	{name: "DeleteBucketTagging", method: http.MethodDelete, level: bucketLevel, query: q("tagging"), action: "s3:PutBucketTagging", fn: (*request).deleteBucketTagging},
	{name: "DeleteBucketWebsite", method: http.MethodDelete, level: bucketLevel, query: q("website"), action: "s3:DeleteBucketWebsite"},
	{name: "DeleteBucketEncryption", method: http.MethodDelete, level: bucketLevel, query: q("encryption"), action: "s3:PutEncryptionConfiguration"},
	{name: "DeleteBucketReplication", method: http.MethodDelete, level: bucketLevel, query: q("replication"), action: "s3:PutReplicationConfiguration"},
	{name: "DeleteBucketQuota", method: http.MethodDelete, level: bucketLevel, query: q("quota"), action: "admin:SetBucketQuota", fn: (*request).deleteBucketQuota},
	{name: "DeleteBucketOwnershipControls", method: http.MethodDelete, level: bucketLevel, query: q("ownershipControls"), action: "s3:PutBucketOwnershipControls", fn: (*request).deleteBucketOwnershipControls},
	{name: "DeletePublicAccessBlock", method: http.MethodDelete, level: bucketLevel, query: q("publicAccessBlock"), action: "s3:PutBucketPublicAccessBlock", fn: (*request).deletePublicAccessBlock},
	{name: "DeleteBucketIntelligentTieringConfiguration", method: http.MethodDelete, level: bucketLevel, query: q("intelligent-tiering"), action: "s3:PutIntelligentTieringConfiguration"},
	{name: "DeleteBucketInventoryConfiguration", method: http.MethodDelete, level: bucketLevel, query: q("inventory"), action: "s3:PutInventoryConfiguration"},
	{name: "DeleteBucketMetricsConfiguration", method: http.MethodDelete, level: bucketLevel, query: q("metrics"), action: "s3:PutMetricsConfiguration"},
	{name: "DeleteBucketAnalyticsConfiguration", method: http.MethodDelete, level: bucketLevel, query: q("analytics"), action: "s3:PutAnalyticsConfiguration"},
	{name: "DeleteBucket", method: http.MethodDelete, level: bucketLevel, action: "s3:DeleteBucket", fn: (*request).deleteBucket},
	// DeleteObjects authorizes s3:DeleteObject for each key, as AWS does.
	{name: "DeleteObjects", method: http.MethodPost, level: bucketLevel, query: q("delete"), fn: (*request).deleteObjects},
	// PostObject authenticates by its form (a signed policy) and
	// authorizes s3:PutObject on the key the form names, in its handler.
	{name: "PostObject", method: http.MethodPost, level: bucketLevel, action: "s3:PutObject", fn: (*request).postObject, formAuth: true},
	// CORS preflight, decided by the bucket's rules alone.
	{name: "PreflightBucket", method: http.MethodOptions, level: bucketLevel, fn: (*request).preflight, public: true},

	// Object level.
	{name: "ListParts", method: http.MethodGet, level: objectLevel, query: q("uploadId"), action: "s3:ListMultipartUploadParts", acl: onBucket(s3fs.PermWrite), fn: (*request).listParts},
	{name: "GetObjectAcl", method: http.MethodGet, level: objectLevel, query: q("acl"), action: "s3:GetObjectAcl", versionAction: "s3:GetObjectVersionAcl", acl: onObject(s3fs.PermReadACP), fn: (*request).getObjectAcl},
	{name: "GetObjectTagging", method: http.MethodGet, level: objectLevel, query: q("tagging"), action: "s3:GetObjectTagging", versionAction: "s3:GetObjectVersionTagging", fn: (*request).getObjectTagging},
	{name: "GetObjectRetention", method: http.MethodGet, level: objectLevel, query: q("retention"), action: "s3:GetObjectRetention", fn: (*request).getObjectRetention},
	{name: "GetObjectLegalHold", method: http.MethodGet, level: objectLevel, query: q("legal-hold"), action: "s3:GetObjectLegalHold", fn: (*request).getObjectLegalHold},
	{name: "GetObjectTorrent", method: http.MethodGet, level: objectLevel, query: q("torrent"), action: "s3:GetObjectTorrent"},
	{name: "GetObjectAttributes", method: http.MethodGet, level: objectLevel, query: q("attributes"), action: "s3:GetObjectAttributes", versionAction: "s3:GetObjectVersionAttributes", fn: (*request).getObjectAttributes},
	{name: "GetObject", method: http.MethodGet, level: objectLevel, action: "s3:GetObject", versionAction: "s3:GetObjectVersion", acl: onObject(s3fs.PermRead), fn: (*request).getObject},
	{name: "HeadObject", method: http.MethodHead, level: objectLevel, action: "s3:GetObject", versionAction: "s3:GetObjectVersion", acl: onObject(s3fs.PermRead), fn: (*request).headObject},
	{name: "PutObjectAcl", method: http.MethodPut, level: objectLevel, query: q("acl"), action: "s3:PutObjectAcl", versionAction: "s3:PutObjectVersionAcl", acl: onObject(s3fs.PermWriteACP), fn: (*request).putObjectAcl},
	{name: "PutObjectTagging", method: http.MethodPut, level: objectLevel, query: q("tagging"), action: "s3:PutObjectTagging", versionAction: "s3:PutObjectVersionTagging", fn: (*request).putObjectTagging},
	{name: "PutObjectRetention", method: http.MethodPut, level: objectLevel, query: q("retention"), action: "s3:PutObjectRetention", fn: (*request).putObjectRetention},
	{name: "PutObjectLegalHold", method: http.MethodPut, level: objectLevel, query: q("legal-hold"), action: "s3:PutObjectLegalHold", fn: (*request).putObjectLegalHold},
	{name: "RenameObject", method: http.MethodPut, level: objectLevel, query: q("renameObject")},
	// UploadPartCopy and CopyObject also authorize s3:GetObject on the source.
	{name: "UploadPartCopy", method: http.MethodPut, level: objectLevel, query: q("uploadId", "partNumber"), header: "X-Amz-Copy-Source", action: "s3:PutObject", acl: onBucket(s3fs.PermWrite), fn: (*request).uploadPartCopy},
	{name: "UploadPart", method: http.MethodPut, level: objectLevel, query: q("uploadId", "partNumber"), action: "s3:PutObject", acl: onBucket(s3fs.PermWrite), fn: (*request).uploadPart},
	{name: "CopyObject", method: http.MethodPut, level: objectLevel, header: "X-Amz-Copy-Source", action: "s3:PutObject", acl: onBucket(s3fs.PermWrite), fn: (*request).copyObject},
	{name: "PutObject", method: http.MethodPut, level: objectLevel, action: "s3:PutObject", acl: onBucket(s3fs.PermWrite), fn: (*request).putObject},
	{name: "AbortMultipartUpload", method: http.MethodDelete, level: objectLevel, query: q("uploadId"), action: "s3:AbortMultipartUpload", acl: onBucket(s3fs.PermWrite), fn: (*request).abortMultipartUpload},
	{name: "DeleteObjectTagging", method: http.MethodDelete, level: objectLevel, query: q("tagging"), action: "s3:DeleteObjectTagging", versionAction: "s3:DeleteObjectVersionTagging", fn: (*request).deleteObjectTagging},
	{name: "DeleteObject", method: http.MethodDelete, level: objectLevel, action: "s3:DeleteObject", versionAction: "s3:DeleteObjectVersion", acl: onBucket(s3fs.PermWrite), fn: (*request).deleteObject},
	{name: "CreateMultipartUpload", method: http.MethodPost, level: objectLevel, query: q("uploads"), action: "s3:PutObject", acl: onBucket(s3fs.PermWrite), fn: (*request).createMultipartUpload},
	{name: "CompleteMultipartUpload", method: http.MethodPost, level: objectLevel, query: q("uploadId"), action: "s3:PutObject", acl: onBucket(s3fs.PermWrite), fn: (*request).completeMultipartUpload},
	{name: "RestoreObject", method: http.MethodPost, level: objectLevel, query: q("restore"), action: "s3:RestoreObject"},
	{name: "SelectObjectContent", method: http.MethodPost, level: objectLevel, query: q("select"), action: "s3:GetObject"},
	{name: "PreflightObject", method: http.MethodOptions, level: objectLevel, fn: (*request).preflight, public: true},
}

func q(params ...string) []string { return params }

// methodNotAllowed answers a method no row has at the request's level.
var methodNotAllowed = operation{name: "MethodNotAllowed", fn: (*request).methodNotAllowed}

// route finds the operation of a request.
func route(method string, lvl level, query url.Values, h http.Header) *operation {
	for i := range operations {
		op := &operations[i]
		if op.method == method && op.level == lvl && op.matches(query, h) {
			return op
		}
	}
	return &methodNotAllowed
}

func (op *operation) matches(query url.Values, h http.Header) bool {
	for _, p := range op.query {
		k, v, hasValue := strings.Cut(p, "=")
		if !query.Has(k) || (hasValue && query.Get(k) != v) {
			return false
		}
	}
	return op.header == "" || h.Get(op.header) != ""
}

// levelOf is the level a bucket and key name.
func levelOf(bucket, key string) level {
	switch {
	case bucket == "":
		return serviceLevel
	case key == "":
		return bucketLevel
	}
	return objectLevel
}
