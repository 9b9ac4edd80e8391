package gateway

import (
	"net/http"
	"net/url"
)

// operation is a routed S3 operation; fn nil means NotImplemented.
type operation struct {
	name string
	fn   func(*request) error
}

// Sub-resources cairn does not implement yet, by level. A request naming
// one of them is answered NotImplemented rather than served as the plain
// operation (which would silently do something else).
var (
	bucketSubresources = []string{"acl", "policy", "policyStatus", "cors", "lifecycle", "tagging", "website", "notification",
		"encryption", "object-lock", "logging", "replication", "versions", "ownershipControls", "publicAccessBlock",
		"accelerate", "requestPayment", "intelligent-tiering", "inventory", "metrics", "analytics", "session"}
	objectSubresources = []string{"acl", "tagging", "retention", "legal-hold", "torrent", "attributes", "restore", "select", "renameObject"}
)

func firstSub(q url.Values, subs []string) string {
	for _, s := range subs {
		if q.Has(s) {
			return s
		}
	}
	return ""
}

// route maps a request to its operation: the routing table of the S3 API
// as cairn serves it.
func route(method, bucket, key string, q url.Values, h http.Header) operation {
	switch {
	case bucket == "":
		if method == http.MethodGet {
			return operation{"ListBuckets", (*request).listBuckets}
		}
		return operation{"MethodNotAllowed", (*request).methodNotAllowed}
	case key == "":
		return bucketRoute(method, q)
	}
	return objectRoute(method, q, h)
}

func bucketRoute(method string, q url.Values) operation {
	sub := firstSub(q, bucketSubresources)
	switch method {
	case http.MethodGet:
		switch {
		case q.Has("location"):
			return operation{"GetBucketLocation", (*request).getBucketLocation}
		case q.Has("versioning"):
			return operation{"GetBucketVersioning", (*request).getBucketVersioning}
		case q.Has("uploads"):
			return operation{"ListMultipartUploads", (*request).listMultipartUploads}
		case sub != "":
			return operation{"GetBucket-" + sub, nil}
		case q.Get("list-type") == "2":
			return operation{"ListObjectsV2", (*request).listObjectsV2}
		}
		return operation{"ListObjects", (*request).listObjectsV1}
	case http.MethodHead:
		return operation{"HeadBucket", (*request).headBucket}
	case http.MethodPut:
		if sub != "" || q.Has("versioning") {
			return operation{"PutBucket-" + firstNonEmpty(sub, "versioning"), nil}
		}
		return operation{"CreateBucket", (*request).createBucket}
	case http.MethodDelete:
		if sub != "" {
			return operation{"DeleteBucket-" + sub, nil}
		}
		return operation{"DeleteBucket", (*request).deleteBucket}
	case http.MethodPost:
		if q.Has("delete") {
			return operation{"DeleteObjects", (*request).deleteObjects}
		}
		return operation{"PostObject", nil}
	}
	return operation{"MethodNotAllowed", (*request).methodNotAllowed}
}

func objectRoute(method string, q url.Values, h http.Header) operation {
	sub := firstSub(q, objectSubresources)
	switch method {
	case http.MethodGet:
		switch {
		case q.Has("uploadId"):
			return operation{"ListParts", (*request).listParts}
		case sub != "":
			return operation{"GetObject-" + sub, nil}
		}
		return operation{"GetObject", (*request).getObject}
	case http.MethodHead:
		return operation{"HeadObject", (*request).headObject}
	case http.MethodPut:
		switch {
		case sub != "":
			return operation{"PutObject-" + sub, nil}
		case q.Has("uploadId") && q.Has("partNumber"):
			if h.Get("X-Amz-Copy-Source") != "" {
				return operation{"UploadPartCopy", (*request).uploadPartCopy}
			}
			return operation{"UploadPart", (*request).uploadPart}
		case h.Get("X-Amz-Copy-Source") != "":
			return operation{"CopyObject", (*request).copyObject}
		}
		return operation{"PutObject", (*request).putObject}
	case http.MethodDelete:
		switch {
		case q.Has("uploadId"):
			return operation{"AbortMultipartUpload", (*request).abortMultipartUpload}
		case sub != "":
			return operation{"DeleteObject-" + sub, nil}
		}
		return operation{"DeleteObject", (*request).deleteObject}
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return operation{"CreateMultipartUpload", (*request).createMultipartUpload}
		case q.Has("uploadId"):
			return operation{"CompleteMultipartUpload", (*request).completeMultipartUpload}
		}
		return operation{"PostObject-" + firstNonEmpty(sub, "unknown"), nil}
	}
	return operation{"MethodNotAllowed", (*request).methodNotAllowed}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
