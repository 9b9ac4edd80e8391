package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/iam"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/sigv4"
)

func TestAuthMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	h.put(t, "bkt", "k", "secret")
	// Anonymous requests of every kind are refused and change nothing.
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/", ""},
		{http.MethodPut, "/newbucket", ""},
		{http.MethodPut, "/bkt/anon", "data"},
		{http.MethodDelete, "/bkt/k", ""},
		{http.MethodGet, "/bkt?list-type=2", ""},
		{http.MethodPost, "/bkt?delete", "<Delete><Object><Key>k</Key></Object></Delete>"},
	} {
		resp, b := h.do(t, false, c.method, c.path, nil, c.body)
		errorBody(t, resp, b, 403, "AccessDenied")
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "k" {
		t.Fatalf("anonymous requests changed the bucket: %v", got)
	}
	if _, err := h.s3.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("newbucket")}); httpStatus(err) != 404 {
		t.Fatalf("anonymous create bucket: %v", err)
	}
	// A tampered signature, and a signed request whose body changed.
	req, _ := http.NewRequest(http.MethodGet, h.url+"/bkt/k", nil)
	sigv4.SignHeader(req, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
	req.URL.Path = "/bkt/other"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	errorBody(t, resp, b, 403, "SignatureDoesNotMatch")
	req, _ = http.NewRequest(http.MethodPut, h.url+"/bkt/k", strings.NewReader("tampered"))
	sum := sha256.Sum256([]byte("original"))
	sigv4.SignHeader(req, testAK, testSecret, "us-east-1", hex.EncodeToString(sum[:]), time.Now())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("body not matching x-amz-content-sha256: %d", resp.StatusCode)
	}
	if b, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); b != "secret" {
		t.Fatalf("tampered body stored: %q", b)
	}
	// A request signed too far in the past.
	req, _ = http.NewRequest(http.MethodGet, h.url+"/bkt/k", nil)
	sigv4.SignHeader(req, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now().Add(-time.Hour))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	errorBody(t, resp, b, 403, "RequestTimeTooSkewed")
	// minio-go with a wrong secret and an unknown key.
	badmc, _ := minio.New(strings.TrimPrefix(h.url, "http://"), &minio.Options{Creds: mcreds.NewStaticV4(testAK, "nope", ""), Region: "us-east-1"})
	if _, err := badmc.ListBuckets(bg); code(err) != "SignatureDoesNotMatch" {
		t.Fatalf("minio wrong secret: %v", err)
	}
	unk, _ := minio.New(strings.TrimPrefix(h.url, "http://"), &minio.Options{Creds: mcreds.NewStaticV4("NOBODY", testSecret, ""), Region: "us-east-1"})
	var me minio.ErrorResponse
	if _, err := unk.StatObject(bg, "bkt", "k", minio.StatObjectOptions{}); !errors.As(err, &me) || me.StatusCode != 403 {
		t.Fatalf("minio HEAD with an unknown key: %v", err)
	}
	if _, err := unk.ListBuckets(bg); code(err) != "InvalidAccessKeyId" {
		t.Fatalf("minio unknown key: %v", err)
	}
	// Raw: the error body for an unknown key.
	req, _ = http.NewRequest(http.MethodGet, h.url+"/", nil)
	sigv4.SignHeader(req, "NOBODY", testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
	resp, _ = http.DefaultClient.Do(req)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	errorBody(t, resp, b, 403, "InvalidAccessKeyId")
	// Presigned URLs made by minio-go, and by cairn's own sigv4.Presign.
	u, err := h.mc.PresignedGetObject(bg, "bkt", "k", time.Minute, url.Values{"response-content-type": {"text/presigned"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "secret" || resp.Header.Get("Content-Type") != "text/presigned" {
		t.Fatalf("minio presigned GET: %d %q %q", resp.StatusCode, b, resp.Header.Get("Content-Type"))
	}
	u, err = h.mc.PresignedPutObject(bg, "bkt", "mcput", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	preq, _ := http.NewRequest(http.MethodPut, u.String(), strings.NewReader("minio url"))
	resp, err = http.DefaultClient.Do(preq)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("minio presigned PUT: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	if b, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("mcput")}); b != "minio url" {
		t.Fatalf("minio presigned PUT stored %q", b)
	}
	// A presigned GET used for a PUT does not verify.
	pu, err := s3.NewPresignClient(h.s3).PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	preq, _ = http.NewRequest(http.MethodPut, pu.URL, strings.NewReader("overwrite"))
	resp, _ = http.DefaultClient.Do(preq)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	errorBody(t, resp, b, 403, "SignatureDoesNotMatch")
	// Expired: signed two minutes ago for one minute.
	old, err := sigv4.Presign(http.MethodGet, h.url+"/bkt/k", testAK, testSecret, "us-east-1", time.Now().Add(-2*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = http.Get(old)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	errorBody(t, resp, b, 403, "AccessDenied")
	fresh, _ := sigv4.Presign(http.MethodGet, h.url+"/bkt/k", testAK, testSecret, "us-east-1", time.Now().Add(-2*time.Minute), 5*time.Minute)
	resp, _ = http.Get(fresh)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "secret" {
		t.Fatalf("unexpired presigned URL: %d %s", resp.StatusCode, b)
	}
}

func TestBadKeys(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	h.put(t, "bkt", "ok", "ok")
	long := strings.Repeat("k", 1025)
	for _, c := range []struct{ key, code string }{
		{"a/../b", "InvalidArgument"},
		{"../escape", "InvalidArgument"},
		{"a/..", "InvalidArgument"},
		{"./a", "InvalidArgument"},
		{"a/./b", "InvalidArgument"},
		{"a//b", "InvalidArgument"},
		{long, "KeyTooLongError"},
		{"d/" + strings.Repeat("n", 300), "KeyTooLongError"},
	} {
		_, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(c.key), Body: strings.NewReader("x")})
		if code(err) != c.code || httpStatus(err) != 400 {
			t.Errorf("PUT %.30q: %v, want %s", c.key, err, c.code)
		}
		_, err = h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(c.key)})
		if httpStatus(err) != 400 {
			t.Errorf("create upload %.30q: %v", c.key, err)
		}
		_, err = h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String(c.key), CopySource: aws.String("bkt/ok")})
		if httpStatus(err) != 400 {
			t.Errorf("copy to %.30q: %v", c.key, err)
		}
		resp, _ := h.do(t, true, http.MethodDelete, "/bkt/"+c.key, nil, "")
		if resp.StatusCode != 400 && resp.StatusCode != 204 { // a key that cannot exist is absent
			t.Errorf("DELETE %.30q: %d", c.key, resp.StatusCode)
		}
		_, err = h.s3.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(c.key)})
		if st := httpStatus(err); st != 400 && st != 404 {
			t.Errorf("GET %.30q: %v", c.key, err)
		}
	}
	// A raw path with ".." is not cleaned into another key.
	resp, b := h.do(t, true, http.MethodPut, "/bkt/x/../ok", nil, "overwritten?")
	errorBody(t, resp, b, 400, "InvalidArgument")
	resp, b = h.do(t, true, http.MethodPut, "/bkt/"+long, nil, "x")
	errorBody(t, resp, b, 400, "KeyTooLongError")
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "ok" {
		t.Fatalf("bad keys created objects: %v", got)
	}
	if b, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ok")}); b != "ok" {
		t.Fatalf("ok changed: %q", b)
	}
	lu, _ := h.s3.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	if len(lu.Uploads) != 0 {
		t.Fatalf("bad keys created uploads: %+v", lu.Uploads)
	}
	// A key of exactly 1024 bytes (in segments of at most 255) is fine.
	k1024 := strings.Repeat(strings.Repeat("s", 200)+"/", 5) + strings.Repeat("t", 19)
	if len(k1024) != 1024 {
		t.Fatalf("test key is %d bytes", len(k1024))
	}
	h.put(t, "bkt", k1024, "max")
	if b, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k1024)}); b != "max" || err != nil {
		t.Fatalf("1024-byte key: %q %v", b, err)
	}
}

// Keys that are both an object and a prefix, in either order, as S3
// allows them: read back, listed in S3's order (V1, V2 with and without a
// delimiter, minio-go), and deleted either way.
func TestKeysBothObjectAndPrefix(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	for _, k := range []string{"f/g", "f", "f!", "ok", "ok/child", "ok/child/deeper", "dir", "x_$folder$", "x/data"} {
		h.put(t, "bkt", k, "v:"+k)
	}
	h.put(t, "bkt", "dir/", "") // a marker holds no data
	for _, k := range []string{"f/g", "f", "ok", "ok/child", "ok/child/deeper", "dir"} {
		if b, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k)}); b != "v:"+k || err != nil {
			t.Fatalf("%s: %q %v", k, b, err)
		}
	}
	all := []string{"dir", "dir/", "f", "f!", "f/g", "ok", "ok/child", "ok/child/deeper", "x/data", "x_$folder$"}
	out, err := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, " ") != strings.Join(all, " ") {
		t.Fatalf("ListObjectsV2: %q, want %q", keys, all)
	}
	// Page by page, one key at a time.
	var paged []string
	var token *string
	for {
		p, err := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(1), ContinuationToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Contents {
			paged = append(paged, aws.ToString(o.Key))
		}
		if !aws.ToBool(p.IsTruncated) {
			break
		}
		token = p.NextContinuationToken
	}
	if strings.Join(paged, " ") != strings.Join(all, " ") {
		t.Fatalf("paged: %q", paged)
	}
	d, err := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	keys = keys[:0]
	for _, o := range d.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	var cps []string
	for _, p := range d.CommonPrefixes {
		cps = append(cps, aws.ToString(p.Prefix))
	}
	if strings.Join(keys, " ") != "dir f f! ok x_$folder$" || strings.Join(cps, " ") != "dir/ f/ ok/ x/" {
		t.Fatalf("with a delimiter: %q %q", keys, cps)
	}
	n := 0
	for o := range h.mc.ListObjects(bg, "bkt", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != len(all) {
		t.Fatalf("minio-go listed %d keys, want %d", n, len(all))
	}
	// Deleting either side leaves the other.
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ok/child")}); err != nil {
		t.Fatal(err)
	}
	if b, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ok/child/deeper")}); b != "v:ok/child/deeper" || err != nil {
		t.Fatalf("ok/child/deeper: %q %v", b, err)
	}
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("f/g")}); err != nil {
		t.Fatal(err)
	}
	if b, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("f")}); b != "v:f" || err != nil {
		t.Fatalf("f: %q %v", b, err)
	}
}

func TestNotImplemented(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	h.put(t, "bkt", "k", "v")
	b := aws.String("bkt")
	k := aws.String("k")
	calls := map[string]func() error{
		"GetBucketWebsite": func() error {
			_, err := h.s3.GetBucketWebsite(bg, &s3.GetBucketWebsiteInput{Bucket: b})
			return err
		},
		"GetBucketEncryption": func() error {
			_, err := h.s3.GetBucketEncryption(bg, &s3.GetBucketEncryptionInput{Bucket: b})
			return err
		},
		"GetBucketReplication": func() error {
			_, err := h.s3.GetBucketReplication(bg, &s3.GetBucketReplicationInput{Bucket: b})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); code(err) != "NotImplemented" || httpStatus(err) != 501 {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The object and bucket are untouched.
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "k" {
		t.Fatalf("keys: %v", got)
	}
	if body, _, _ := h.get(t, &s3.GetObjectInput{Bucket: b, Key: k}); body != "v" {
		t.Fatalf("object changed: %q", body)
	}
	// Raw: the error body names the operation; POST of an object's restore is not implemented either.
	resp, body := h.do(t, true, http.MethodGet, "/bkt?website", nil, "")
	if e := errorBody(t, resp, body, 501, "NotImplemented"); !strings.Contains(e.Message, "GetBucketWebsite") {
		t.Fatalf("message %q", e.Message)
	}
	resp, body = h.do(t, true, http.MethodPost, "/bkt/k?restore", nil, "")
	errorBody(t, resp, body, 501, "NotImplemented")
	// Unknown methods.
	resp, body = h.do(t, true, "PATCH", "/bkt/k", nil, "")
	errorBody(t, resp, body, 405, "MethodNotAllowed")
	resp, body = h.do(t, true, http.MethodDelete, "/", nil, "")
	errorBody(t, resp, body, 405, "MethodNotAllowed")
}

func TestErrorResponses(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	ids := map[string]bool{}
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/bkt/missing", 404, "NoSuchKey"},
		{http.MethodGet, "/nobkt/k", 404, "NoSuchBucket"},
		{http.MethodGet, "/nobkt", 404, "NoSuchBucket"},
		{http.MethodGet, "/bkt/k?uploadId=nope", 404, "NoSuchUpload"},
		{http.MethodGet, "/bkt/missing?versionId=123", 400, "InvalidArgument"},
		{http.MethodGet, "/bkt/missing?partNumber=0", 400, "InvalidArgument"},
	} {
		resp, b := h.do(t, true, c.method, c.path, nil, "")
		e := errorBody(t, resp, b, c.status, c.code)
		if ids[e.RequestID] {
			t.Errorf("request id %s used twice", e.RequestID)
		}
		ids[e.RequestID] = true
		if p, _, _ := strings.Cut(c.path, "?"); e.Resource != p {
			t.Errorf("%s: Resource %q", c.path, e.Resource)
		}
		switch c.code {
		case "NoSuchKey":
			if e.Key != "missing" {
				t.Errorf("NoSuchKey without the key: %+v", e)
			}
		case "NoSuchBucket", "BucketAlreadyOwnedByYou":
			if e.BucketName == "" {
				t.Errorf("%s without the bucket: %+v", c.code, e)
			}
		}
	}
	// HEAD errors carry the status and request id but no body.
	resp, b := h.do(t, true, http.MethodHead, "/bkt/missing", nil, "")
	if resp.StatusCode != 404 || len(b) != 0 || resp.Header.Get("x-amz-request-id") == "" {
		t.Fatalf("HEAD error: %d %q", resp.StatusCode, b)
	}
	// Successful responses have request ids too.
	resp, _ = h.do(t, true, http.MethodGet, "/", nil, "")
	if resp.StatusCode != 200 || resp.Header.Get("x-amz-request-id") == "" || ids[resp.Header.Get("x-amz-request-id")] {
		t.Fatalf("ListBuckets: %d id %q", resp.StatusCode, resp.Header.Get("x-amz-request-id"))
	}
	// The SDK's view of an error: the request id is available.
	_, err := h.s3.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) || re.ServiceRequestID() == "" {
		t.Fatalf("SDK error without a request id: %v", err)
	}
	var me minio.ErrorResponse
	_, err = h.mc.StatObject(bg, "bkt", "missing", minio.StatObjectOptions{})
	if !errors.As(err, &me) || me.RequestID == "" || me.StatusCode != 404 {
		t.Fatalf("minio error without a request id: %+v", me)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/health/live", "/health/ready", "/minio/health/live", "/minio/health/ready"} {
		resp, err := http.Get(h.url + p)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || body["version"] != "test" || body["status"] != "ok" || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %v %v", p, resp.StatusCode, body, err)
		}
	}
	// A volume that does not answer: ready fails, live does not.
	g := gateway.New(gateway.Options{Backend: h.fs, Identity: iam.NewIdentities(iam.Credentials{AccessKey: testAK, SecretKey: testSecret}),
		Version: "v9", Ready: func(context.Context) error { return errors.New("volume unreachable") }})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/ready", nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 503 || body["status"] != "unavailable" || body["error"] != "volume unreachable" || body["version"] != "v9" {
		t.Fatalf("ready with a failing volume: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/live", nil))
	if rec.Code != 200 {
		t.Fatalf("live with a failing volume: %d", rec.Code)
	}
	// Without metrics configured, /metrics is an S3 path (bucket "metrics",
	// which does not exist: NoSuchBucket, as AWS answers anyone).
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "NoSuchBucket") {
		t.Fatalf("/metrics without metrics: %d", rec.Code)
	}

	// Counters count exactly.
	h.mb(t, "bkt")
	for i := 0; i < 3; i++ {
		h.put(t, "bkt", fmt.Sprint(i), "abcd")
	}
	for i := 0; i < 2; i++ {
		h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("0")})
	}
	h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	h.do(t, false, http.MethodGet, "/bkt", nil, "")
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`cairn_s3_requests_total{op="CreateBucket",status="200"} 1`,
		`cairn_s3_requests_total{op="PutObject",status="200"} 3`,
		`cairn_s3_requests_total{op="GetObject",status="200"} 2`,
		`cairn_s3_requests_total{op="HeadObject",status="404"} 1`,
		`cairn_s3_requests_total{op="ListObjects",status="403"} 1`,
		`cairn_s3_errors_total{code="AccessDenied"} 1`,
		`cairn_s3_errors_total{code="NoSuchKey"} 1`,
		`cairn_s3_request_duration_seconds_count{op="PutObject"} 3`,
		`cairn_s3_received_bytes_total 12`,
		`cairn_s3_sent_bytes_total `,
		`cairn_s3_inflight_requests 0`,
	} {
		if !strings.Contains(string(m), want) || !strings.HasSuffix(want, " ") && !strings.Contains(string(m), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(m), `op="metrics"`) || strings.Contains(string(m), `op="Health`) {
		t.Error("health or metrics requests counted as S3 requests")
	}
}

func TestPanicRecovery(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	h.put(t, "bkt", "boom", "x")
	h.put(t, "bkt", "fine", "y")
	h.panic = "boom"
	resp, b := h.do(t, true, http.MethodGet, "/bkt/boom", nil, "")
	errorBody(t, resp, b, 500, "InternalError")
	// HEAD with a range also goes through GetObject.
	resp, b = h.do(t, true, http.MethodHead, "/bkt/boom", map[string]string{"Range": "bytes=0-0"}, "")
	if resp.StatusCode != 500 || len(b) != 0 {
		t.Fatalf("HEAD panic: %d %q", resp.StatusCode, b)
	}
	o, err := h.mc.GetObject(bg, "bkt", "boom", minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(o)
		o.Close()
	}
	if code(err) != "InternalError" {
		t.Fatalf("minio sees %v", err)
	}
	// Other keys and requests are served.
	if body, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("fine")}); err != nil || body != "y" {
		t.Fatalf("after the panic: %q %v", body, err)
	}
}

// TestVirtualHost routes BUCKET.domain requests, with the SDK in its
// default virtual-host addressing, through a dialer that sends every host
// to the test server.
func TestVirtualHost(t *testing.T) {
	h := newHarness(t)
	g := gateway.New(gateway.Options{Backend: h.fs, Identity: iam.NewIdentities(iam.Credentials{AccessKey: testAK, SecretKey: testSecret}), Domain: "s3.cairn.test"})
	srv := httptest.NewServer(g)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := strings.Cut(addr, ":")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) { return dial(ctx, network, addr) }
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.cairn.test:" + port),
		Credentials: credentials.NewStaticCredentialsProvider(testAK, testSecret, ""), HTTPClient: &http.Client{Transport: tr}})
	if _, err := c.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/k"), Body: strings.NewReader("vh")}); err != nil {
		t.Fatal(err)
	}
	lo, err := c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	if err != nil || len(lo.Contents) != 1 || *lo.Contents[0].Key != "dir/k" {
		t.Fatalf("virtual-host listing: %+v %v", lo, err)
	}
	if got := h.keys(t, "vhost"); strings.Join(got, ",") != "dir/k" {
		t.Fatalf("stored: %v", got)
	}
	// Path style still works on the same server.
	ps := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.cairn.test:" + port), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(testAK, testSecret, ""), HTTPClient: &http.Client{Transport: tr}})
	out, err := ps.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/k")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "vh" {
		t.Fatalf("path style on a domain server: %q", b)
	}
}
