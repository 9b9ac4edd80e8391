package sigv4

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cairn/internal/s3/s3err"
)

const (
	testAK     = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func lookup(ak string) (string, error) {
	if ak == testAK {
		return testSecret, nil
	}
	return "", ErrUnknownKey
}

var awsTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func code(err error) s3err.Code {
	var e *s3err.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// The examples of the AWS S3 documentation "Signature Calculations for the
// Authorization Header" (examplebucket, 2013-05-24).
func TestAWSHeaderExamples(t *testing.T) {
	cases := []struct {
		name, method, target, body, signed, sig string
		headers                                 map[string]string
	}{
		{
			name: "GET object", method: "GET", target: "/test.txt",
			headers: map[string]string{"Range": "bytes=0-9", "x-amz-content-sha256": emptySHA256},
			signed:  "host;range;x-amz-content-sha256;x-amz-date",
			sig:     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		},
		{
			name: "PUT object", method: "PUT", target: "/test$file.text", body: "Welcome to Amazon S3.",
			headers: map[string]string{"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY",
				"x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
			signed: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
			sig:    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		},
		{
			name: "GET bucket lifecycle", method: "GET", target: "/?lifecycle",
			headers: map[string]string{"x-amz-content-sha256": emptySHA256},
			signed:  "host;x-amz-content-sha256;x-amz-date",
			sig:     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		},
		{
			name: "list objects", method: "GET", target: "/?max-keys=2&prefix=J",
			headers: map[string]string{"x-amz-content-sha256": emptySHA256},
			signed:  "host;x-amz-content-sha256;x-amz-date",
			sig:     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "http://examplebucket.s3.amazonaws.com"+c.target, strings.NewReader(c.body))
			r.Header.Set("x-amz-date", "20130524T000000Z")
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20130524/us-east-1/s3/aws4_request,SignedHeaders="+c.signed+",Signature="+c.sig)
			v, err := Verify(r, lookup, awsTime, Options{})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.AccessKey != testAK || v.Version != 4 {
				t.Fatalf("verified %+v", v)
			}
			got, err := io.ReadAll(v.Body)
			if err != nil || string(got) != c.body {
				t.Fatalf("body %q %v", got, err)
			}
			// One changed byte anywhere must break it.
			r.Header.Set("x-amz-date", "20130524T000001Z")
			if _, err := Verify(r, lookup, awsTime, Options{}); code(err) != s3err.SignatureDoesNotMatch {
				t.Fatalf("tampered date: %v", err)
			}
		})
	}
}

func TestPayloadHashMismatch(t *testing.T) {
	r := httptest.NewRequest("PUT", "http://examplebucket.s3.amazonaws.com/test$file.text", strings.NewReader("Welcome to Amazon S3!"))
	r.Header.Set("x-amz-date", "20130524T000000Z")
	r.Header.Set("Date", "Fri, 24 May 2013 00:00:00 GMT")
	r.Header.Set("x-amz-storage-class", "REDUCED_REDUNDANCY")
	r.Header.Set("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
	v, err := Verify(r, lookup, awsTime, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(v.Body); code(err) != s3err.XAmzContentSHA256Mismatch {
		t.Fatalf("altered body: %v", err)
	}
}

// The presigned URL example of the AWS documentation.
func TestAWSPresignedExample(t *testing.T) {
	u := "http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	r := httptest.NewRequest("GET", u, nil)
	if _, err := Verify(r, lookup, awsTime.Add(time.Hour), Options{}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := Verify(r, lookup, awsTime.Add(86401*time.Second), Options{}); code(err) != s3err.AccessDenied {
		t.Fatalf("expired: %v", err)
	}
	got, err := Presign("GET", "http://examplebucket.s3.amazonaws.com/test.txt", testAK, testSecret, "us-east-1", awsTime, 86400*time.Second)
	if err != nil || !strings.Contains(got, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") {
		t.Fatalf("Presign = %s, %v", got, err)
	}
	for _, exp := range []string{"604801", "9223372036854775807", "-1"} {
		long := strings.Replace(u, "X-Amz-Expires=86400", "X-Amz-Expires="+exp, 1)
		if _, err := Verify(httptest.NewRequest("GET", long, nil), lookup, awsTime, Options{}); code(err) != s3err.AuthorizationQueryParametersError {
			t.Fatalf("expiry %s: %v", exp, err)
		}
	}
}

// The aws-chunked example of the AWS documentation: 64 KiB + 1 KiB of 'a'.
func TestAWSChunkedExample(t *testing.T) {
	seed := "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	sigs := []string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	build := func(sigs []string, sizes []int) []byte {
		var b bytes.Buffer
		for i, n := range sizes {
			b.WriteString(strings.ToLower(strings.TrimLeft(strings.ToUpper(hexOf(n)), "")) + ";chunk-signature=" + sigs[i] + "\r\n")
			b.Write(bytes.Repeat([]byte{'a'}, n))
			b.WriteString("\r\n")
		}
		return b.Bytes()
	}
	mk := func(body []byte) *http.Request {
		r := httptest.NewRequest("PUT", "http://s3.amazonaws.com/examplebucket/chunkObject.txt", bytes.NewReader(body))
		r.Header.Set("x-amz-date", "20130524T000000Z")
		r.Header.Set("x-amz-storage-class", "REDUCED_REDUNDANCY")
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("Content-Length", "66824")
		r.Header.Set("x-amz-content-sha256", StreamingPayload)
		r.Header.Set("x-amz-decoded-content-length", "66560")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature="+seed)
		return r
	}
	body := build(sigs, []int{65536, 1024, 0})
	if len(body) != 66824 {
		t.Fatalf("example body is %d bytes", len(body))
	}
	v, err := Verify(mk(body), lookup, awsTime, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(v.Body)
	if err != nil || len(got) != 66560 || v.DecodedLength != 66560 {
		t.Fatalf("decoded %d bytes: %v", len(got), err)
	}
	// A flipped byte in the second chunk: the first chunk is delivered,
	// then the read fails before any byte of the bad chunk.
	bad := append([]byte(nil), body...)
	bad[len(bad)-200] = 'b'
	v, err = Verify(mk(bad), lookup, awsTime, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(v.Body)
	if code(err) != s3err.SignatureDoesNotMatch || len(got) != 65536 {
		t.Fatalf("tampered chunk: %d bytes, %v", len(got), err)
	}
	// Truncated stream.
	v, _ = Verify(mk(body[:40000]), lookup, awsTime, Options{})
	if _, err := io.ReadAll(v.Body); code(err) != s3err.IncompleteBody {
		t.Fatalf("truncated: %v", err)
	}
}

func hexOf(n int) string {
	const d = "0123456789abcdef"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 16 {
		b = append([]byte{d[n%16]}, b...)
	}
	return string(b)
}

func TestUnsignedTrailer(t *testing.T) {
	body := "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
	r := httptest.NewRequest("PUT", "http://localhost:9000/b/k", strings.NewReader(body))
	r.Header.Set("x-amz-decoded-content-length", "5")
	r.Header.Set("x-amz-trailer", "x-amz-checksum-crc32")
	r.Header.Set("Content-Encoding", "aws-chunked")
	SignHeader(r, testAK, testSecret, "us-east-1", StreamingUnsignedTrailer, time.Now())
	v, err := Verify(r, lookup, time.Now(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(v.Body)
	if err != nil || string(got) != "hello" || v.Body.Trailers()["x-amz-checksum-crc32"] != "NhCmhg==" {
		t.Fatalf("%q %v %v", got, err, v.Body.Trailers())
	}
	// minio-go (TrailingHeaders) ends a trailer line with a bare LF, then
	// CRLF CRLF; a bare LF in a chunk header stays malformed.
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\n\r\n\r\n", true},
		{"5\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\n\r\n\r\n", false},
	} {
		r = httptest.NewRequest("PUT", "http://localhost:9000/b/k", strings.NewReader(tc.body))
		r.Header.Set("x-amz-decoded-content-length", "5")
		r.Header.Set("x-amz-trailer", "x-amz-checksum-crc32")
		SignHeader(r, testAK, testSecret, "us-east-1", StreamingUnsignedTrailer, time.Now())
		v, err = Verify(r, lookup, time.Now(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(v.Body)
		if ok := err == nil && string(got) == "hello" && v.Body.Trailers()["x-amz-checksum-crc32"] == "NhCmhg=="; ok != tc.ok {
			t.Fatalf("%q: %q %v %v", tc.body, got, err, v.Body.Trailers())
		}
	}
	// A declared trailer that never comes.
	r = httptest.NewRequest("PUT", "http://localhost:9000/b/k", strings.NewReader("5\r\nhello\r\n0\r\n\r\n"))
	r.Header.Set("x-amz-decoded-content-length", "5")
	r.Header.Set("x-amz-trailer", "x-amz-checksum-crc32")
	SignHeader(r, testAK, testSecret, "us-east-1", StreamingUnsignedTrailer, time.Now())
	v, err = Verify(r, lookup, time.Now(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(v.Body); code(err) != s3err.InvalidRequest {
		t.Fatalf("missing trailer: %v", err)
	}
}

func TestHeaderErrors(t *testing.T) {
	now := time.Now()
	sign := func(mod func(r *http.Request)) error {
		r := httptest.NewRequest("GET", "http://localhost:9000/b/k?x=1", nil)
		SignHeader(r, testAK, testSecret, "us-east-1", emptySHA256, now)
		mod(r)
		_, err := Verify(r, lookup, now, Options{})
		return err
	}
	if err := sign(func(*http.Request) {}); err != nil {
		t.Fatalf("good request: %v", err)
	}
	cases := []struct {
		name string
		mod  func(r *http.Request)
		want s3err.Code
	}{
		{"unknown key", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAK, "NOPE", 1))
		}, s3err.InvalidAccessKeyID},
		{"query changed", func(r *http.Request) { r.URL.RawQuery = "x=2" }, s3err.SignatureDoesNotMatch},
		{"path changed", func(r *http.Request) { r.URL.Path = "/b/other" }, s3err.SignatureDoesNotMatch},
		{"malformed", func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 garbage") }, s3err.AuthorizationHeaderMalformed},
		{"bad credential", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/s3/", "/ec2/", 1))
		}, s3err.AuthorizationHeaderMalformed},
		{"missing payload hash", func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, s3err.InvalidRequest},
		{"skewed", func(r *http.Request) {
			old := now.Add(-20 * time.Minute)
			r.Header.Del("Authorization")
			SignHeader(r, testAK, testSecret, "us-east-1", emptySHA256, old)
		}, s3err.RequestTimeTooSkewed},
		{"unknown scheme", func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, s3err.AuthorizationHeaderMalformed},
	}
	for _, c := range cases {
		if err := sign(c.mod); code(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	v, err := Verify(httptest.NewRequest("GET", "http://localhost/b/k", nil), lookup, now, Options{})
	if err != nil || !v.Anonymous {
		t.Fatalf("anonymous: %+v %v", v, err)
	}
}

// The SigV2 example of the AWS documentation (GET /photos/puppy.jpg in
// bucket awsexamplebucket1, virtual-host style).
func TestV2Example(t *testing.T) {
	r := httptest.NewRequest("GET", "http://awsexamplebucket1.us-west-1.s3.amazonaws.com/photos/puppy.jpg", nil)
	r.Header.Set("Date", "Tue, 27 Mar 2007 19:36:42 +0000")
	r.Header.Set("Authorization", "AWS "+testAK+":qgk2+6Sv9/oM7G3qLEjTH1a1l1g=")
	now := time.Date(2007, 3, 27, 19, 40, 0, 0, time.UTC)
	if _, err := Verify(r, lookup, now, Options{Bucket: "awsexamplebucket1"}); err != nil {
		t.Fatalf("SigV2 header: %v", err)
	}
	if _, err := Verify(r, lookup, now, Options{}); code(err) != s3err.SignatureDoesNotMatch {
		t.Fatalf("SigV2 without the bucket: %v", err)
	}
}

func TestV2Presigned(t *testing.T) {
	// Build a presigned URL the way the aws CLI v1 does and verify it.
	exp := time.Now().Add(time.Hour).Unix()
	r := httptest.NewRequest("GET", "http://localhost:9000/b/some%20key", nil)
	sts := v2StringToSign(r, itoa(exp), "")
	sig := v2Sign(testSecret, sts)
	q := r.URL.Query()
	q.Set("AWSAccessKeyId", testAK)
	q.Set("Expires", itoa(exp))
	q.Set("Signature", sig)
	r.URL.RawQuery = q.Encode()
	if _, err := Verify(r, lookup, time.Now(), Options{}); err != nil {
		t.Fatalf("presigned v2: %v", err)
	}
	if _, err := Verify(r, lookup, time.Now().Add(2*time.Hour), Options{}); code(err) != s3err.AccessDenied {
		t.Fatalf("expired v2: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=0000000000000000000000000000000000000000000000000000000000000000", "x=1", "5;chunk-signature=00\r\nhello\r\n0\r\n\r\n")
	f.Add("AWS AKIAIOSFODNN7EXAMPLE:abc", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/b/c/s3/aws4_request", "")
	f.Fuzz(func(t *testing.T, auth, query, body string) {
		r := httptest.NewRequest("PUT", "http://localhost/b/k", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", "20130524T000000Z")
		r.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedTrailer)
		r.Header.Set("X-Amz-Decoded-Content-Length", "5")
		v, err := Verify(r, lookup, awsTime, Options{})
		if err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not an s3err: %v", err)
			}
			return
		}
		io.ReadAll(v.Body)
	})
}

func FuzzChunked(f *testing.F) {
	f.Add("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", int64(5))
	f.Add("ffffffff\r\n", int64(1))
	f.Fuzz(func(t *testing.T, body string, n int64) {
		b := newChunkedBody(io.NopCloser(strings.NewReader(body)), n, streamState{trailer: true})
		got, err := io.ReadAll(b)
		if err == nil && int64(len(got)) != n {
			t.Fatalf("decoded %d bytes, declared %d", len(got), n)
		}
	})
}

// A credential scope must name the gateway's region (when it has one)
// and the service asked for.
func TestScopeRegionAndService(t *testing.T) {
	now := time.Now()
	req := func(region string) *http.Request {
		r := httptest.NewRequest("GET", "http://localhost:9000/b/k", nil)
		SignHeader(r, testAK, testSecret, region, emptySHA256, now)
		return r
	}
	if _, err := Verify(req("us-east-1"), lookup, now, Options{Region: "us-east-1"}); err != nil {
		t.Fatalf("own region: %v", err)
	}
	if _, err := Verify(req("eu-west-3"), lookup, now, Options{}); err != nil {
		t.Fatalf("any region when none is set: %v", err)
	}
	_, err := Verify(req("eu-west-3"), lookup, now, Options{Region: "us-east-1"})
	var e *s3err.Error
	if !errors.As(err, &e) || e.Code != s3err.AuthorizationHeaderMalformed || !strings.Contains(e.Message, "expecting 'us-east-1'") {
		t.Fatalf("other region: %v", err)
	}
	if _, err := Verify(req("us-east-1"), lookup, now, Options{Service: "sts"}); code(err) != s3err.AuthorizationHeaderMalformed {
		t.Fatalf("an s3 scope at the sts endpoint: %v", err)
	}
}

// botocore's SigV2 signs a bucket-only path with a trailing slash and
// sends it without: both verify, for that path only.
func TestV2BucketTrailingSlash(t *testing.T) {
	now := time.Now()
	date := now.UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		path, signed string
		ok           bool
	}{
		{"/bucket", "/bucket/", true},
		{"/bucket", "/bucket", true},
		{"/bucket/key", "/bucket/key/", false},
	} {
		r := httptest.NewRequest("PUT", "http://localhost:9000"+tc.path, nil)
		r.Header.Set("Date", date)
		sts := "PUT\n\n\n" + date + "\n" + tc.signed
		r.Header.Set("Authorization", "AWS "+testAK+":"+v2Sign(testSecret, sts))
		_, err := Verify(r, lookup, now, Options{})
		if (err == nil) != tc.ok {
			t.Errorf("%s signed as %s: %v", tc.path, tc.signed, err)
		}
	}
}

// TestRepeatedParameterOrder: a parameter given several times is signed
// with its values sorted (SigV4) by the AWS SDKs, and in the order sent by
// minio-go (ListenBucketNotification's "events"); both verify, and
// neither order verifies a different set of values.
func TestRepeatedParameterOrder(t *testing.T) {
	sign := func(target string, asSent bool) *http.Request {
		r := httptest.NewRequest("GET", "http://examplebucket.s3.amazonaws.com"+target, nil)
		r.Header.Set("x-amz-date", "20130524T000000Z")
		r.Header.Set("x-amz-content-sha256", emptySHA256)
		cred := credential{accessKey: testAK, date: "20130524", region: "us-east-1", service: "s3"}
		signed := "host;x-amz-content-sha256;x-amz-date"
		creq := canonicalRequestOrder(r, r.URL.Query(), signed, emptySHA256, "", asSent)
		sig := hex.EncodeToString(hmacSHA256(signingKey(testSecret, cred), stringToSign("20130524T000000Z", cred.scope(), creq)))
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20130524/us-east-1/s3/aws4_request,SignedHeaders="+signed+",Signature="+sig)
		return r
	}
	const target = "/?events=s3%3AObjectRemoved%3A%2A&events=s3%3AObjectCreated%3A%2A&ping=10"
	for _, asSent := range []bool{false, true} {
		if _, err := Verify(sign(target, asSent), lookup, awsTime, Options{}); err != nil {
			t.Errorf("signed with values %s: %v", map[bool]string{false: "sorted", true: "as sent"}[asSent], err)
		}
	}
	// A signature of other values does not verify.
	r := sign(target, true)
	r.URL.RawQuery = "events=s3%3AObjectRemoved%3A%2A&events=s3%3AObjectAccessed%3A%2A&ping=10"
	if _, err := Verify(r, lookup, awsTime, Options{}); code(err) != s3err.SignatureDoesNotMatch {
		t.Errorf("changed values: %v", err)
	}
}
