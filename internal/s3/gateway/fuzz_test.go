package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"cairn/internal/s3/sigv4"
)

// FuzzRequest sends arbitrary, correctly signed requests (method, path,
// query, a header, a body) through the gateway: whatever they say, the
// answer is never a 500, which would mean a failed invariant or a panic.
func FuzzRequest(f *testing.F) {
	seeds := [][5]string{
		{"PUT", "/bkt", "", "", ""},
		{"PUT", "/bkt/a/b", "", "Content-Md5:xxx", "data"},
		{"POST", "/bkt", "delete", "", "<Delete><Object><Key>a</Key></Object></Delete>"},
		{"POST", "/bkt/k", "uploads", "", ""},
		{"POST", "/bkt/k", "uploadId=zzz", "", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"},
		{"GET", "/bkt", "list-type=2&max-keys=-1&continuation-token=%%%", "", ""},
		{"GET", "/bkt/k", "partNumber=0", "Range:bytes=5-1", ""},
		{"PUT", "/bkt/k2", "partNumber=1&uploadId=x", "X-Amz-Copy-Source:/bkt/../k", ""},
		{"PUT", "/bkt/k3", "", "X-Amz-Copy-Source:bkt/k?versionId=3", ""},
		{"GET", "/bkt", "uploads&max-uploads=x", "", ""},
		{"DELETE", "/bkt/../x", "", "", ""},
		{"HEAD", "/bkt/%00", "", "If-Modified-Since:garbage", ""},
		{"PUT", "/bkt/t", "", "X-Amz-Trailer:x-amz-checksum-bogus", "1"},
		{"PUT", "/bkt/c", "", "X-Amz-Checksum-Algorithm:MD5", "abc"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	h := newHarness(f)
	h.mb(f, "bkt")
	h.put(f, "bkt", "k", "0123456789")
	handler := h.srv.Config.Handler
	f.Fuzz(func(t *testing.T, method, path, query, header, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") {
			return
		}
		u, err := url.Parse("http://localhost" + path)
		if err != nil {
			return
		}
		u.RawQuery = query
		req, err := http.NewRequest(method, u.String(), strings.NewReader(body))
		if err != nil {
			return
		}
		if k, v, ok := strings.Cut(header, ":"); ok && k != "" && !strings.ContainsAny(k+v, "\r\n\x00") {
			req.Header.Set(k, v)
		}
		req.ContentLength = int64(len(body))
		sigv4.SignHeader(req, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s?%s [%s]: %d\n%s", method, path, query, header, rec.Code, rec.Body.String())
		}
	})
}
