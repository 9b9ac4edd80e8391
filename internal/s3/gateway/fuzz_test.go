package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"cairn/internal/s3/sigv4"
)

// FuzzRequest sends arbitrary requests (method, path, query, headers, a
// body) through the gateway, signed in one of several ways or not at all:
// whatever they say, the answer is never a 500, which would mean a failed
// invariant or a panic caught by the handler's recover.
//
// headers holds "Name:value" lines separated by "\n". mode selects the
// authentication: 0 SigV4 header with UNSIGNED-PAYLOAD; 1 SigV4 header with
// the payload hash given in an X-Amz-Content-Sha256 header (e.g. a
// STREAMING-* value, so the body is parsed as aws-chunked) or else the
// body's SHA-256; 2 unsigned, the headers as given (Authorization
// included); 3 a presigned URL.
//
//	go test -run XXX -fuzz FuzzRequest -fuzztime 30s ./internal/s3/gateway/
func FuzzRequest(f *testing.F) {
	seeds := []struct {
		mode                              uint8
		method, path, query, header, body string
	}{
		{0, "PUT", "/bkt", "", "", ""},
		{0, "PUT", "/bkt/a/b", "", "Content-Md5:xxx", "data"},
		{0, "POST", "/bkt", "delete", "", "<Delete><Object><Key>a</Key></Object></Delete>"},
		{0, "POST", "/bkt", "delete", "", "<Delete><Quiet>true</Quiet><Object><Key>../x</Key></Object></Delete>"},
		{0, "POST", "/bkt/k", "uploads", "", ""},
		{0, "PUT", "/bkt/k", "tagging", "", "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"},
		{0, "PUT", "/bkt/k", "", "X-Amz-Tagging:a=1&b=%zz&a", "x"},
		{0, "PUT", "/bkt", "tagging", "", "<Tagging><TagSet><Tag><Key></Key></Tag></TagSet></Tagging>"},
		{0, "GET", "/bkt/k", "tagging&versionId=x", "", ""},
		{0, "PUT", "/bkt", "cors", "", "<CORSConfiguration><CORSRule><AllowedOrigin>*a*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>"},
		{2, "OPTIONS", "/bkt/k", "", "Origin:x\nAccess-Control-Request-Method:GET\nAccess-Control-Request-Headers:a,,b", ""},
		{0, "POST", "/bkt/k", "uploadId=zzz", "", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"},
		{0, "GET", "/bkt", "list-type=2&max-keys=-1&continuation-token=%%%", "", ""},
		{0, "GET", "/bkt", "list-type=2&delimiter=/&encoding-type=url&start-after=k&fetch-owner=true", "", ""},
		{0, "GET", "/bkt", "marker=a&max-keys=1&delimiter=%2F&prefix=k", "", ""},
		{0, "GET", "/bkt/k", "partNumber=0", "Range:bytes=5-1", ""},
		{0, "GET", "/bkt/k", "partNumber=1&response-content-type=x", "If-None-Match:*\nIf-Modified-Since:Mon, 02 Jan 2006 15:04:05 GMT", ""},
		{0, "HEAD", "/bkt/k", "", "Range:bytes=-0", ""},
		{0, "GET", "/bkt/k", "", "Range:bytes=9223372036854775807-", ""},
		{0, "PUT", "/bkt/k2", "partNumber=1&uploadId=x", "X-Amz-Copy-Source:/bkt/../k", ""},
		{0, "PUT", "/bkt/k2", "partNumber=1&uploadId=x", "X-Amz-Copy-Source:/bkt/k\nX-Amz-Copy-Source-Range:bytes=0-99999999999", ""},
		{0, "PUT", "/bkt/k3", "", "X-Amz-Copy-Source:bkt/k?versionId=3", ""},
		{0, "PUT", "/bkt/k3", "", "X-Amz-Copy-Source:bkt/k\nX-Amz-Metadata-Directive:REPLACE\nX-Amz-Copy-Source-If-None-Match:*", ""},
		{0, "GET", "/bkt", "uploads&max-uploads=x", "", ""},
		{0, "GET", "/bkt/k", "uploadId=x&max-parts=1&part-number-marker=-1", "", ""},
		{0, "DELETE", "/bkt/../x", "", "", ""},
		{0, "DELETE", "/bkt/k", "uploadId=", "", ""},
		{0, "HEAD", "/bkt/%00", "", "If-Modified-Since:garbage", ""},
		{0, "PUT", "/bkt/t", "", "X-Amz-Trailer:x-amz-checksum-bogus", "1"},
		{0, "PUT", "/bkt/c", "", "X-Amz-Checksum-Algorithm:MD5", "abc"},
		{0, "PUT", "/bkt/c", "", "X-Amz-Checksum-Crc32:AAAAAA==\nX-Amz-Meta-A:b", "abc"},
		{0, "PUT", "/bkt/k", "", "If-None-Match:*", "abc"},
		{0, "PUT", "/bkt/dir/", "", "", ""},
		{0, "GET", "/bkt", "location", "", ""},
		{0, "GET", "/bkt", "versioning", "", ""},
		{0, "PUT", "/bkt", "versioning", "", "<VersioningConfiguration><Status>Enabled</Status><MfaDelete>x</MfaDelete></VersioningConfiguration>"},
		{0, "GET", "/bkt", "versions&key-marker=k&version-id-marker=null&max-keys=1&delimiter=/", "", ""},
		{0, "DELETE", "/bkt/k", "versionId=00000000000000000000000", "", ""},
		{0, "GET", "/bkt/k", "versionId=ffffffffffffffffffffffff", "", ""},
		{0, "POST", "/bkt", "delete", "", "<Delete><Object><Key>k</Key><VersionId>null</VersionId></Object></Delete>"},
		{0, "PUT", "/bkt", "object-lock", "", "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>-1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>"},
		{0, "PUT", "/bkt/k", "retention", "X-Amz-Bypass-Governance-Retention:true", "<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2999-01-01T00:00:00Z</RetainUntilDate></Retention>"},
		{0, "PUT", "/bkt/k", "legal-hold", "", "<LegalHold><Status>ON</Status></LegalHold>"},
		{0, "PUT", "/bkt/l", "", "X-Amz-Object-Lock-Mode:GOVERNANCE\nX-Amz-Object-Lock-Retain-Until-Date:2020-13-45", "x"},
		{0, "PUT", "/bkt", "lifecycle", "", "<LifecycleConfiguration><Rule><ID>a</ID><Filter><And><Prefix>p</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan><ObjectSizeLessThan>3</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Date>2020-01-01T00:00:00Z</Date></Expiration><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>500</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule></LifecycleConfiguration>"},
		{0, "PUT", "/bkt", "lifecycle", "", "<LifecycleConfiguration><Rule><Status>Enabled</Status><Transition><Date>x</Date><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>"},
		{0, "PUT", "/bkt2", "", "", "<CreateBucketConfiguration><LocationConstraint>x</LocationConstraint></CreateBucketConfiguration>"},
		{0, "DELETE", "/bkt2", "", "", ""},
		{1, "PUT", "/bkt/s", "", "X-Amz-Content-Sha256:STREAMING-UNSIGNED-PAYLOAD-TRAILER\nX-Amz-Decoded-Content-Length:3\nX-Amz-Trailer:x-amz-checksum-crc32\nContent-Encoding:aws-chunked",
			"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n"},
		{1, "PUT", "/bkt/s", "", "X-Amz-Content-Sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD\nX-Amz-Decoded-Content-Length:3",
			"3;chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\r\nabc\r\n"},
		{1, "PUT", "/bkt/s", "", "X-Amz-Content-Sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER\nX-Amz-Decoded-Content-Length:-1", "ffffffffffffffff\r\n"},
		{1, "PUT", "/bkt/h", "", "X-Amz-Content-Sha256:0000", "body"},
		{1, "PUT", "/bkt/h", "", "", "hashed body"},
		{2, "GET", "/bkt/k", "", "Authorization:AWS4-HMAC-SHA256 Credential=AKIDTEST/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00", ""},
		{2, "GET", "/bkt/k", "", "Authorization:AWS AKIDTEST:c2lnbmF0dXJl\nDate:Mon, 02 Jan 2006 15:04:05 GMT", ""},
		{2, "GET", "/bkt/k", "", "Authorization:AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=", ""},
		{2, "GET", "/bkt/k", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F2020&X-Amz-Date=x&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "", ""},
		{2, "GET", "/bkt/k", "AWSAccessKeyId=AKIDTEST&Expires=1&Signature=abc", "", ""},
		{2, "GET", "/health/ready", "", "", ""},
		{2, "GET", "/metrics", "", "", ""},
		{0, "PUT", "/bkt/k", "acl", "X-Amz-Grant-Read:id=\"0\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\", emailAddress=x", ""},
		{0, "PUT", "/bkt", "acl", "", `<AccessControlPolicy><Owner><ID>0</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI></Grantee><Permission>WRITE</Permission></Grant></AccessControlList></AccessControlPolicy>`},
		{0, "PUT", "/bkt/k4", "", "X-Amz-Acl:public-read-write\nX-Amz-Grant-Full-Control:id=1", "x"},
		{0, "PUT", "/bkt", "ownershipControls", "", "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>"},
		{0, "PUT", "/bkt", "quota", "", `{"max_size_bytes": 18446744073709551615, "max_objects": -1}`},
		{0, "GET", "/bkt", "quota", "", ""},
		{3, "GET", "/bkt/k", "response-cache-control=no", "", ""},
		{3, "PUT", "/bkt/p", "", "", "presigned"},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.method, s.path, s.query, s.header, s.body)
	}
	h := newHarness(f)
	h.mb(f, "bkt")
	h.put(f, "bkt", "k", "0123456789")
	handler := h.srv.Config.Handler
	f.Fuzz(func(t *testing.T, mode uint8, method, path, query, header, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") {
			return
		}
		u, err := url.Parse("http://localhost" + path)
		if err != nil {
			return
		}
		u.RawQuery = query
		target := u.String()
		if mode%4 == 3 {
			if target, err = sigv4.Presign(method, target, testAK, testSecret, "us-east-1", time.Now(), time.Minute); err != nil {
				return
			}
		}
		req, err := http.NewRequest(method, target, strings.NewReader(body))
		if err != nil {
			return
		}
		for _, line := range strings.Split(header, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && k != "" && !strings.ContainsAny(k+v, "\r\x00") {
				req.Header.Add(k, v)
			}
		}
		req.ContentLength = int64(len(body))
		switch mode % 4 {
		case 0:
			sigv4.SignHeader(req, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
		case 1:
			hash := req.Header.Get("X-Amz-Content-Sha256")
			if hash == "" {
				s := sha256.Sum256([]byte(body))
				hash = hex.EncodeToString(s[:])
			}
			sigv4.SignHeader(req, testAK, testSecret, "us-east-1", hash, time.Now())
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("mode %d %s %s?%s [%q]: %d\n%s", mode%4, method, path, query, header, rec.Code, rec.Body.String())
		}
	})
}
