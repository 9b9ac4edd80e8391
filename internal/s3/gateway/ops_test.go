package gateway_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/iam"
	"cairn/internal/posix"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
	"cairn/internal/s3/sigv4"
)

// s3Error is the XML body of an S3 error response.
type s3Error struct {
	Code       string
	Message    string
	Key        string
	BucketName string
	Resource   string
	RequestID  string `xml:"RequestId"`
}

// do sends a request signed with the root credentials (or unsigned when
// sign is false) and returns the response with its body read.
func (h *harness) do(t testing.TB, sign bool, method, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if sign {
		sigv4.SignHeader(req, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// errorBody checks that an error response carries a request id, and that
// its XML body has the same RequestId and the given code.
func errorBody(t testing.TB, resp *http.Response, b []byte, status int, code string) s3Error {
	t.Helper()
	var e s3Error
	if err := xml.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s %s: error body is not XML: %v\n%s", resp.Request.Method, resp.Request.URL, err, b)
	}
	id := resp.Header.Get("x-amz-request-id")
	if resp.StatusCode != status || e.Code != code || id == "" || e.RequestID != id || e.Message == "" {
		t.Fatalf("%s %s: %d %+v (request id header %q), want %d %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, e, id, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
		t.Fatalf("error Content-Type %q", ct)
	}
	return e
}

// keys lists every key of a bucket through the backend.
func (h *harness) keys(t testing.TB, bucket string) []string {
	t.Helper()
	var out []string
	after := ""
	for {
		lr, err := h.fs.ListObjects(bg, posix.Root, bucket, s3fs.ListOptions{StartAfter: after, MaxKeys: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range lr.Objects {
			out = append(out, o.Key)
		}
		if !lr.IsTruncated {
			return out
		}
		after = lr.NextMarker
	}
}

func crc32b64(tab *crc32.Table, b []byte) string {
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], crc32.Checksum(b, tab))
	return base64.StdEncoding.EncodeToString(s[:])
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestSharedConfigClient builds the SDK client the way applications do,
// with config.LoadDefaultConfig, isolated from the environment.
func TestSharedConfigClient(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, v := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"} {
		t.Setenv(v, "")
	}
	cfg, err := config.LoadDefaultConfig(bg, config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAK, testSecret, "")),
		config.WithBaseEndpoint(h.url))
	if err != nil {
		t.Fatal(err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("cfg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("cfg"), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	lb, err := c.ListBuckets(bg, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 1 || *lb.Buckets[0].Name != "cfg" || lb.Owner == nil || lb.Owner.ID == nil {
		t.Fatalf("list buckets: %+v %v", lb, err)
	}
	if got := h.keys(t, "cfg"); !slices.Equal(got, []string{"k"}) {
		t.Fatalf("stored keys %v", got)
	}
}

func TestBucketsMore(t *testing.T) {
	h := newHarness(t)
	// Empty listing is an empty list, not an error.
	lb, err := h.s3.ListBuckets(bg, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 0 {
		t.Fatalf("empty list: %+v %v", lb, err)
	}
	for _, bad := range []string{strings.Repeat("a", 64), "ab", "xn--abc", "a-.b", "end-", "UPPER"} {
		_, err := h.s3.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(bad)})
		if code(err) != "InvalidBucketName" || httpStatus(err) != 400 {
			t.Errorf("create %q: %v", bad, err)
		}
	}
	// minio-go checks names itself; send one through raw.
	resp, b := h.do(t, true, http.MethodPut, "/Bad_Name", nil, "")
	errorBody(t, resp, b, 400, "InvalidBucketName")
	for _, n := range []string{"a-b.c", "zzz", "m00"} {
		h.mb(t, n)
	}
	// CreateBucket with a location constraint body.
	if _, err := h.s3.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("with-cfg"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}}); err != nil {
		t.Fatalf("create with configuration: %v", err)
	}
	lb, err = h.s3.ListBuckets(bg, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range lb.Buckets {
		got = append(got, *b.Name)
		if b.CreationDate == nil || time.Since(*b.CreationDate) > time.Minute || time.Until(*b.CreationDate) > time.Minute {
			t.Errorf("bucket %s created %v", *b.Name, b.CreationDate)
		}
	}
	if strings.Join(got, ",") != "a-b.c,m00,with-cfg,zzz" {
		t.Fatalf("buckets %v", got)
	}
	// Re-creating one's own bucket in us-east-1 succeeds and changes
	// nothing, as on AWS (minio-go too).
	h.put(t, "zzz", "kept", "x")
	if err := h.mc.MakeBucket(bg, "zzz", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("minio re-create: %v", err)
	}
	if got := h.keys(t, "zzz"); strings.Join(got, ",") != "kept" {
		t.Fatalf("re-create changed the bucket: %v", got)
	}
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("zzz"), Key: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	// HeadBucket: the region header; missing bucket 404 with minio too.
	hb, err := h.s3.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("zzz")})
	if err != nil || hb.BucketRegion == nil || *hb.BucketRegion != "us-east-1" {
		t.Fatalf("head bucket: %+v %v", hb, err)
	}
	ok, err := h.mc.BucketExists(bg, "missing-bucket")
	if err != nil || ok {
		t.Fatalf("minio BucketExists on a missing bucket: %v %v", ok, err)
	}
	resp, b = h.do(t, true, http.MethodHead, "/missing-bucket", nil, "")
	if resp.StatusCode != 404 || len(b) != 0 || resp.Header.Get("x-amz-request-id") == "" {
		t.Fatalf("raw HEAD of a missing bucket: %d %q", resp.StatusCode, b)
	}
	// GetBucketLocation with minio, and of a missing bucket.
	loc, err := h.mc.GetBucketLocation(bg, "zzz")
	if err != nil || loc != "us-east-1" {
		t.Fatalf("minio location: %q %v", loc, err)
	}
	_, err = h.s3.GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: aws.String("missing-bucket")})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("location of a missing bucket: %v", err)
	}
	// GetBucketVersioning answers "never enabled".
	ver, err := h.s3.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: aws.String("zzz")})
	if err != nil || ver.Status != "" {
		t.Fatalf("versioning: %+v %v", ver, err)
	}
	// DeleteBucket: non-empty with minio, then empty.
	h.put(t, "zzz", "dir/obj", "x")
	err = h.mc.RemoveBucket(bg, "zzz")
	if code(err) != "BucketNotEmpty" {
		t.Fatalf("minio remove non-empty bucket: %v", err)
	}
	resp, b = h.do(t, true, http.MethodDelete, "/zzz", nil, "")
	if e := errorBody(t, resp, b, 409, "BucketNotEmpty"); e.BucketName != "zzz" {
		t.Fatalf("BucketNotEmpty names %q", e.BucketName)
	}
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("zzz"), Key: aws.String("dir/obj")}); err != nil {
		t.Fatal(err)
	}
	if err := h.mc.RemoveBucket(bg, "zzz"); err != nil {
		t.Fatalf("remove emptied bucket: %v", err)
	}
	if _, err := h.s3.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("zzz")}); httpStatus(err) != 404 {
		t.Fatalf("head of a deleted bucket: %v", err)
	}
	// An object operation on a missing bucket.
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("zzz"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("put into a deleted bucket: %v", err)
	}
}

func TestObjectHeaders(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	in := &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("h"), Body: strings.NewReader("header body"),
		ContentType: aws.String("text/x-test; charset=utf-8"), CacheControl: aws.String("no-cache"),
		ContentDisposition: aws.String(`inline; filename="h.txt"`), ContentEncoding: aws.String("x-custom"),
		ContentLanguage: aws.String("de-CH"), Expires: aws.Time(exp),
		Metadata: map[string]string{"alpha": "1", "beta-two": "zwei drei"}}
	put, err := h.s3.PutObject(bg, in)
	if err != nil {
		t.Fatal(err)
	}
	if *put.ETag != `"`+md5hex([]byte("header body"))+`"` {
		t.Fatalf("put etag %s", *put.ETag)
	}
	check := func(what string, ct, cc, cd, ce, cl, ex *string, meta map[string]string, n *int64, etag *string) {
		t.Helper()
		if aws.ToString(ct) != "text/x-test; charset=utf-8" || aws.ToString(cc) != "no-cache" || aws.ToString(cd) != `inline; filename="h.txt"` ||
			aws.ToString(ce) != "x-custom" || aws.ToString(cl) != "de-CH" || aws.ToString(ex) != exp.Format(http.TimeFormat) ||
			len(meta) != 2 || meta["alpha"] != "1" || meta["beta-two"] != "zwei drei" || aws.ToInt64(n) != 11 || aws.ToString(etag) != *put.ETag {
			t.Fatalf("%s: type %q cache %q disp %q enc %q lang %q expires %q meta %v len %d etag %s", what, aws.ToString(ct), aws.ToString(cc),
				aws.ToString(cd), aws.ToString(ce), aws.ToString(cl), aws.ToString(ex), meta, aws.ToInt64(n), aws.ToString(etag))
		}
	}
	body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("h")})
	if err != nil || body != "header body" {
		t.Fatalf("get: %q %v", body, err)
	}
	check("GET", g.ContentType, g.CacheControl, g.ContentDisposition, g.ContentEncoding, g.ContentLanguage, g.ExpiresString, g.Metadata, g.ContentLength, g.ETag)
	if g.LastModified == nil || time.Since(*g.LastModified) > time.Minute || *g.AcceptRanges != "bytes" {
		t.Fatalf("last modified %v, accept ranges %v", g.LastModified, g.AcceptRanges)
	}
	hd, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("h")})
	if err != nil {
		t.Fatal(err)
	}
	check("HEAD", hd.ContentType, hd.CacheControl, hd.ContentDisposition, hd.ContentEncoding, hd.ContentLanguage, hd.ExpiresString, hd.Metadata, hd.ContentLength, hd.ETag)
	// Every response-* override.
	_, g, err = h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("h"),
		ResponseContentType: aws.String("application/json"), ResponseCacheControl: aws.String("max-age=1"),
		ResponseContentDisposition: aws.String("attachment"), ResponseContentLanguage: aws.String("fr"),
		ResponseContentEncoding: aws.String("x-other"), ResponseExpires: aws.Time(exp.Add(time.Hour))})
	if err != nil || *g.ContentType != "application/json" || *g.CacheControl != "max-age=1" || *g.ContentDisposition != "attachment" ||
		*g.ContentLanguage != "fr" || *g.ContentEncoding != "x-other" || *g.ExpiresString != exp.Add(time.Hour).Format(http.TimeFormat) {
		t.Fatalf("overrides: %+v %v", g, err)
	}
	// The overrides do not change the stored object.
	hd, _ = h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("h")})
	check("HEAD after override", hd.ContentType, hd.CacheControl, hd.ContentDisposition, hd.ContentEncoding, hd.ContentLanguage, hd.ExpiresString, hd.Metadata, hd.ContentLength, hd.ETag)
	// No Content-Type stored: guessed from the extension, as for files written through POSIX.
	for k, ct := range map[string]string{"plain": "application/octet-stream", "page.html": "text/html; charset=utf-8"} {
		if resp, _ := h.do(t, true, http.MethodPut, "/bkt/"+k, nil, "p"); resp.StatusCode != 200 {
			t.Fatalf("raw put: %d", resp.StatusCode)
		}
		resp, _ := h.do(t, true, http.MethodGet, "/bkt/"+k, nil, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
			t.Fatalf("default content type of %s: %d %q", k, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// Overwrite replaces body and metadata.
	if _, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("h"), Body: strings.NewReader("v2"), Metadata: map[string]string{"gamma": "3"}}); err != nil {
		t.Fatal(err)
	}
	body, g, err = h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("h")})
	if err != nil || body != "v2" || len(g.Metadata) != 1 || g.Metadata["gamma"] != "3" || g.CacheControl != nil {
		t.Fatalf("overwrite: %q %v %v", body, g.Metadata, err)
	}
	// An empty object.
	h.put(t, "bkt", "empty", "")
	body, g, err = h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("empty")})
	if err != nil || body != "" || *g.ContentLength != 0 || *g.ETag != `"d41d8cd98f00b204e9800998ecf8427e"` {
		t.Fatalf("empty object: %v %v", g, err)
	}

	// minio-go: the same headers through its options.
	data := []byte("minio headers")
	_, err = h.mc.PutObject(bg, "bkt", "m/h", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType: "text/m", CacheControl: "private", ContentDisposition: "attachment; filename=m", ContentLanguage: "it",
		ContentEncoding: "x-m", Expires: exp, UserMetadata: map[string]string{"One": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := h.mc.StatObject(bg, "bkt", "m/h", minio.StatObjectOptions{})
	if err != nil || st.Size != int64(len(data)) || st.ContentType != "text/m" || st.Metadata.Get("Cache-Control") != "private" ||
		st.Metadata.Get("Content-Disposition") != "attachment; filename=m" || st.Metadata.Get("Content-Language") != "it" ||
		st.Metadata.Get("Content-Encoding") != "x-m" || !st.Expires.Equal(exp) || st.UserMetadata["One"] != "1" || st.ETag != md5hex(data) {
		t.Fatalf("minio stat: %+v %v", st, err)
	}
	_, err = h.mc.StatObject(bg, "bkt", "m/none", minio.StatObjectOptions{})
	if code(err) != "NoSuchKey" {
		t.Fatalf("minio stat of a missing key: %v", err)
	}
	o, err := h.mc.GetObject(bg, "bkt", "m/h", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	o.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("minio get: %q %v", got, err)
	}
	if err := h.mc.RemoveObject(bg, "bkt", "m/h", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.mc.StatObject(bg, "bkt", "m/h", minio.StatObjectOptions{}); code(err) != "NoSuchKey" {
		t.Fatalf("stat after minio remove: %v", err)
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "empty,h,page.html,plain" {
		t.Fatalf("keys left: %v", got)
	}
}

func TestRangesConditionsMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	const data = "0123456789abcdefghij"
	etag := *h.put(t, "bkt", "k", data).ETag
	// HEAD with a range answers 206 and the range's length.
	hd, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Range: aws.String("bytes=2-4")})
	if err != nil || *hd.ContentLength != 3 || *hd.ContentRange != "bytes 2-4/20" {
		t.Fatalf("HEAD range: %+v %v", hd, err)
	}
	// Status codes of ranged GETs, raw.
	for _, c := range []struct {
		rng    string
		status int
		body   string
	}{
		{"bytes=0-9", 206, "0123456789"},
		{"bytes=-5", 206, "fghij"},
		{"bytes=10-", 206, "abcdefghij"},
		{"bytes=19-19", 206, "j"},
		{"bytes=-100", 206, data},
		{"bytes=5-1", 200, data},     // invalid: ignored
		{"items=0-1", 200, data},     // other unit: ignored
		{"bytes=0-1,3-4", 200, data}, // several ranges: whole object
	} {
		resp, b := h.do(t, true, http.MethodGet, "/bkt/k", map[string]string{"Range": c.rng}, "")
		if resp.StatusCode != c.status || string(b) != c.body || resp.Header.Get("Content-Length") != strconv.Itoa(len(c.body)) {
			t.Errorf("%s: %d %q", c.rng, resp.StatusCode, b)
		}
	}
	resp, b := h.do(t, true, http.MethodGet, "/bkt/k", map[string]string{"Range": "bytes=20-"}, "")
	errorBody(t, resp, b, 416, "InvalidRange")
	// Range together with partNumber is refused.
	resp, b = h.do(t, true, http.MethodGet, "/bkt/k?partNumber=1", map[string]string{"Range": "bytes=0-1"}, "")
	errorBody(t, resp, b, 400, "InvalidRequest")
	// partNumber=1 of a simple object is the whole object.
	body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), PartNumber: aws.Int32(1)})
	if err != nil || body != data {
		t.Fatalf("partNumber 1 of a simple object: %q %v %v", body, g, err)
	}
	// HEAD conditions.
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for i, c := range []struct {
		in     s3.HeadObjectInput
		status int
	}{
		{s3.HeadObjectInput{IfMatch: aws.String(`"nope"`)}, 412},
		{s3.HeadObjectInput{IfMatch: aws.String(etag)}, 200},
		{s3.HeadObjectInput{IfMatch: aws.String("*")}, 200},
		{s3.HeadObjectInput{IfNoneMatch: aws.String(`"other"`)}, 200},
		{s3.HeadObjectInput{IfModifiedSince: aws.Time(future)}, 304},
		{s3.HeadObjectInput{IfModifiedSince: aws.Time(past)}, 200},
		{s3.HeadObjectInput{IfUnmodifiedSince: aws.Time(past)}, 412},
		{s3.HeadObjectInput{IfUnmodifiedSince: aws.Time(future)}, 200},
		// If-Match wins over If-Unmodified-Since, If-None-Match over If-Modified-Since (RFC 7232).
		{s3.HeadObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(past)}, 200},
		{s3.HeadObjectInput{IfNoneMatch: aws.String(etag), IfModifiedSince: aws.Time(past)}, 304},
	} {
		in := c.in
		in.Bucket, in.Key = aws.String("bkt"), aws.String("k")
		_, err := h.s3.HeadObject(bg, &in)
		st := 200
		if err != nil {
			st = httpStatus(err)
		}
		if st != c.status {
			t.Errorf("HEAD condition %d: %d (%v), want %d", i, st, err, c.status)
		}
	}
	// A 304 carries the ETag and no body; a 412 is PreconditionFailed.
	resp, b = h.do(t, true, http.MethodGet, "/bkt/k", map[string]string{"If-None-Match": etag}, "")
	if resp.StatusCode != 304 || len(b) != 0 {
		t.Fatalf("304: %d %q", resp.StatusCode, b)
	}
	resp, b = h.do(t, true, http.MethodGet, "/bkt/k", map[string]string{"If-Match": `"x"`}, "")
	errorBody(t, resp, b, 412, "PreconditionFailed")

	// minio-go ranges and conditions.
	mget := func(opt minio.GetObjectOptions) (string, error) {
		o, err := h.mc.GetObject(bg, "bkt", "k", opt)
		if err != nil {
			return "", err
		}
		defer o.Close()
		b, err := io.ReadAll(o)
		return string(b), err
	}
	for _, c := range []struct {
		start, end int64
		want       string
	}{{0, 9, "0123456789"}, {0, -5, "fghij"}, {10, 0, "abcdefghij"}} {
		var opt minio.GetObjectOptions
		if err := opt.SetRange(c.start, c.end); err != nil {
			t.Fatal(err)
		}
		if got, err := mget(opt); err != nil || got != c.want {
			t.Errorf("minio range %d,%d: %q %v", c.start, c.end, got, err)
		}
	}
	var opt minio.GetObjectOptions
	opt.SetRange(100, 200)
	if _, err := mget(opt); code(err) != "InvalidRange" {
		t.Fatalf("minio unsatisfiable range: %v", err)
	}
	opt = minio.GetObjectOptions{}
	opt.SetMatchETag("nope")
	if _, err := mget(opt); code(err) != "PreconditionFailed" {
		t.Fatalf("minio If-Match: %v", err)
	}
	opt = minio.GetObjectOptions{}
	opt.SetUnmodified(past)
	if _, err := mget(opt); code(err) != "PreconditionFailed" {
		t.Fatalf("minio If-Unmodified-Since: %v", err)
	}
	opt = minio.GetObjectOptions{}
	opt.SetMatchETagExcept(strings.Trim(etag, `"`))
	if _, err := h.mc.StatObject(bg, "bkt", "k", minio.StatObjectOptions(opt)); err == nil {
		t.Fatal("minio If-None-Match on a matching ETag succeeded")
	}

	// Conditional writes: If-None-Match * creates only; If-Match replaces only a matching object.
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("fresh"), Body: strings.NewReader("1"), IfNoneMatch: aws.String("*")})
	if err != nil {
		t.Fatalf("If-None-Match * on a new key: %v", err)
	}
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("fresh"), Body: strings.NewReader("2"), IfNoneMatch: aws.String("*")})
	if code(err) != "PreconditionFailed" {
		t.Fatalf("If-None-Match * on an existing key: %v", err)
	}
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("fresh"), Body: strings.NewReader("3"), IfMatch: aws.String(`"nope"`)})
	if httpStatus(err) != 412 {
		t.Fatalf("If-Match mismatch on PUT: %v", err)
	}
	if b, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("fresh")}); b != "1" {
		t.Fatalf("conditional puts changed the object: %q", b)
	}
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("fresh"), Body: strings.NewReader("4"), IfMatch: aws.String(`"` + md5hex([]byte("1")) + `"`)})
	if err != nil {
		t.Fatalf("If-Match on PUT with the current ETag: %v", err)
	}
	if b, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("fresh")}); b != "4" {
		t.Fatalf("If-Match PUT stored %q", b)
	}
}

func TestChecksumsMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	data := []byte(strings.Repeat("checksum me ", 1000))
	sha := sha256.Sum256(data)
	want := map[types.ChecksumAlgorithm]string{
		types.ChecksumAlgorithmCrc32:  crc32b64(crc32.IEEETable, data),
		types.ChecksumAlgorithmCrc32c: crc32b64(crc32.MakeTable(crc32.Castagnoli), data),
		types.ChecksumAlgorithmSha256: base64.StdEncoding.EncodeToString(sha[:]),
	}
	pick := func(alg types.ChecksumAlgorithm, crc, crcc, s256 *string) string {
		return aws.ToString(map[types.ChecksumAlgorithm]*string{types.ChecksumAlgorithmCrc32: crc, types.ChecksumAlgorithmCrc32c: crcc, types.ChecksumAlgorithmSha256: s256}[alg])
	}
	for alg, sum := range want {
		key := "c/" + string(alg)
		put, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if got := pick(alg, put.ChecksumCRC32, put.ChecksumCRC32C, put.ChecksumSHA256); got != sum {
			t.Errorf("%s: PUT answered %q, want %q", alg, got, sum)
		}
		body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || body != string(data) {
			t.Fatalf("%s: get %v", alg, err)
		}
		if got := pick(alg, g.ChecksumCRC32, g.ChecksumCRC32C, g.ChecksumSHA256); got != sum {
			t.Errorf("%s: GET answered %q, want %q", alg, got, sum)
		}
		hd, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || pick(alg, hd.ChecksumCRC32, hd.ChecksumCRC32C, hd.ChecksumSHA256) != sum {
			t.Errorf("%s: HEAD %+v %v", alg, hd, err)
		}
		// Without checksum mode, no checksum headers.
		resp, _ := h.do(t, true, http.MethodHead, "/bkt/"+key, nil, "")
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				t.Errorf("%s: HEAD without checksum mode sent %s", alg, k)
			}
		}
	}
	// A checksum header given by value (not computed by the SDK), right and wrong.
	if _, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("given"), Body: bytes.NewReader(data),
		ChecksumSHA256: aws.String(want[types.ChecksumAlgorithmSha256])}); err != nil {
		t.Fatalf("right sha256: %v", err)
	}
	h.put(t, "bkt", "keep", "keep me")
	for _, in := range []*s3.PutObjectInput{
		{ChecksumCRC32: aws.String(want[types.ChecksumAlgorithmCrc32c])},
		{ChecksumCRC32C: aws.String(want[types.ChecksumAlgorithmCrc32])},
		{ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(make([]byte, 32)))},
	} {
		for _, key := range []string{"bad", "keep"} {
			in.Bucket, in.Key, in.Body = aws.String("bkt"), aws.String(key), bytes.NewReader(data)
			_, err := h.s3.PutObject(bg, in)
			if code(err) != "BadDigest" || httpStatus(err) != 400 {
				t.Errorf("wrong checksum on %s: %v", key, err)
			}
		}
	}
	if b, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("keep")}); b != "keep me" {
		t.Fatalf("object replaced by a bad upload: %q", b)
	}
	// Content-MD5: right is accepted; malformed is InvalidDigest; wrong leaves nothing behind.
	sum := md5.Sum(data)
	if _, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("md5"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))}); err != nil {
		t.Fatalf("right Content-MD5: %v", err)
	}
	resp, b := h.do(t, true, http.MethodPut, "/bkt/md5bad", map[string]string{"Content-MD5": "not base64!"}, "x")
	errorBody(t, resp, b, 400, "InvalidDigest")
	resp, b = h.do(t, true, http.MethodPut, "/bkt/md5bad", map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])}, "x")
	errorBody(t, resp, b, 400, "BadDigest")
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "c/CRC32,c/CRC32C,c/SHA256,given,keep,md5" {
		t.Fatalf("keys after failed uploads: %v", got)
	}
	// Multipart with CRC32C: each part verified and answered; the completion
	// must name the parts' own checksums.
	mp, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mpsum"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
	if err != nil {
		t.Fatal(err)
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var done []types.CompletedPart
	for i, p := range [][]byte{bytes.Repeat([]byte("p"), 5<<20), []byte("last part")} {
		n := aws.Int32(int32(i + 1))
		up, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mpsum"), UploadId: mp.UploadId, PartNumber: n,
			Body: bytes.NewReader(p), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(up.ChecksumCRC32C) != crc32b64(castagnoli, p) {
			t.Fatalf("part %d checksum %v", i+1, aws.ToString(up.ChecksumCRC32C))
		}
		done = append(done, types.CompletedPart{PartNumber: n, ETag: up.ETag, ChecksumCRC32C: up.ChecksumCRC32C})
	}
	// A wrong part checksum in the completion is refused.
	bad := slices.Clone(done)
	bad[1].ChecksumCRC32C = aws.String(crc32b64(castagnoli, []byte("other")))
	if _, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mpsum"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: bad}}); code(err) != "InvalidPart" {
		t.Fatalf("completion with a wrong part checksum: %v", err)
	}
	if _, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mpsum"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	hd, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("mpsum")})
	if err != nil || *hd.ContentLength != 5<<20+9 || !strings.HasSuffix(*hd.ETag, `-2"`) {
		t.Fatalf("multipart object with checksums: %+v %v", hd, err)
	}
}

func TestDeleteObjectsMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	for _, k := range []string{"a", "b", "d/e", "d/f", "keep"} {
		h.put(t, "bkt", k, k)
	}
	// Quiet mode with existing and missing keys: no Deleted entries, no errors.
	out, err := h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Quiet: aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("nope")}, {Key: aws.String("d/e")}, {Key: aws.String("x/y/z")}}}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet: %+v %v", out, err)
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "b,d/f,keep" {
		t.Fatalf("after quiet delete: %v", got)
	}
	// Verbose: every key is reported deleted, in order, missing ones too.
	out, err = h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("b")}, {Key: aws.String("gone")}, {Key: aws.String("d/f")}}}})
	if err != nil || len(out.Errors) != 0 || len(out.Deleted) != 3 {
		t.Fatalf("verbose: %+v %v", out, err)
	}
	for i, k := range []string{"b", "gone", "d/f"} {
		if *out.Deleted[i].Key != k {
			t.Errorf("deleted[%d] = %s, want %s", i, *out.Deleted[i].Key, k)
		}
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "keep" {
		t.Fatalf("after verbose delete: %v", got)
	}
	// DeleteObjects on a missing bucket.
	_, err = h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("nobkt"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("a")}}}})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("delete objects in a missing bucket: %v", err)
	}
	// More than 1000 keys is malformed.
	var many []types.ObjectIdentifier
	for i := 0; i < 1001; i++ {
		many = append(many, types.ObjectIdentifier{Key: aws.String(fmt.Sprint(i))})
	}
	_, err = h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Objects: many}})
	if code(err) != "MalformedXML" {
		t.Fatalf("1001 keys: %v", err)
	}
	resp, b := h.do(t, true, http.MethodPost, "/bkt?delete", nil, "<Delete><Object>")
	errorBody(t, resp, b, 400, "MalformedXML")

	// minio-go RemoveObjects, existing and missing.
	for _, k := range []string{"m/1", "m/2", "m/3"} {
		h.put(t, "bkt", k, k)
	}
	ch := make(chan minio.ObjectInfo, 4)
	for _, k := range []string{"m/1", "m/missing", "m/3"} {
		ch <- minio.ObjectInfo{Key: k}
	}
	close(ch)
	for e := range h.mc.RemoveObjects(bg, "bkt", ch, minio.RemoveObjectsOptions{}) {
		t.Errorf("minio RemoveObjects: %s %v", e.ObjectName, e.Err)
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "keep,m/2" {
		t.Fatalf("after minio RemoveObjects: %v", got)
	}
}

func TestCopyMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "src")
	h.mb(t, "dst")
	srcKey := "dir/a file é+x"
	put, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), Body: strings.NewReader("copy me"),
		ContentType: aws.String("text/src"), CacheControl: aws.String("max-age=5"), Metadata: map[string]string{"orig": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	csrc := aws.String("src/" + strings.ReplaceAll(url.PathEscape(srcKey), "%2F", "/"))
	// COPY across buckets, with a key needing escapes: body, ETag, metadata and headers kept.
	cp, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: csrc})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if *cp.CopyObjectResult.ETag != *put.ETag || cp.CopyObjectResult.LastModified == nil {
		t.Fatalf("copy result %+v, source ETag %s", cp.CopyObjectResult, *put.ETag)
	}
	body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if err != nil || body != "copy me" || *g.ContentType != "text/src" || *g.CacheControl != "max-age=5" || g.Metadata["orig"] != "yes" || *g.ETag != *put.ETag {
		t.Fatalf("COPY: %q %+v %v", body, g, err)
	}
	// COPY ignores metadata sent with the request.
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: csrc,
		MetadataDirective: types.MetadataDirectiveCopy, Metadata: map[string]string{"new": "no"}, ContentType: aws.String("text/ignored")}); err != nil {
		t.Fatal(err)
	}
	_, g, _ = h.get(t, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2")})
	if g.Metadata["new"] != "" || g.Metadata["orig"] != "yes" || *g.ContentType != "text/src" {
		t.Fatalf("COPY directive took request metadata: %v %s", g.Metadata, *g.ContentType)
	}
	// REPLACE: only the request's metadata and headers.
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3"), CopySource: csrc,
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"new": "yes"}, ContentType: aws.String("text/new")}); err != nil {
		t.Fatal(err)
	}
	body, g, _ = h.get(t, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3")})
	if body != "copy me" || len(g.Metadata) != 1 || g.Metadata["new"] != "yes" || *g.ContentType != "text/new" || g.CacheControl != nil {
		t.Fatalf("REPLACE: %q %v %s %v", body, g.Metadata, *g.ContentType, g.CacheControl)
	}
	// Copy onto itself: refused without REPLACE, allowed with it.
	_, err = h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), CopySource: csrc})
	if code(err) != "InvalidRequest" {
		t.Fatalf("copy onto itself: %v", err)
	}
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), CopySource: csrc,
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"orig": "replaced"}}); err != nil {
		t.Fatalf("copy onto itself with REPLACE: %v", err)
	}
	body, g, _ = h.get(t, &s3.GetObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey)})
	if body != "copy me" || g.Metadata["orig"] != "replaced" {
		t.Fatalf("self copy: %q %v", body, g.Metadata)
	}
	// Copy-source conditions.
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for i, c := range []struct {
		in s3.CopyObjectInput
		ok bool
	}{
		{s3.CopyObjectInput{CopySourceIfMatch: put.ETag}, true},
		{s3.CopyObjectInput{CopySourceIfMatch: aws.String(`"zz"`)}, false},
		{s3.CopyObjectInput{CopySourceIfNoneMatch: put.ETag}, false},
		{s3.CopyObjectInput{CopySourceIfNoneMatch: aws.String(`"zz"`)}, true},
		{s3.CopyObjectInput{CopySourceIfModifiedSince: aws.Time(future)}, false},
		{s3.CopyObjectInput{CopySourceIfModifiedSince: aws.Time(past)}, true},
		{s3.CopyObjectInput{CopySourceIfUnmodifiedSince: aws.Time(past)}, false},
		{s3.CopyObjectInput{CopySourceIfUnmodifiedSince: aws.Time(future)}, true},
	} {
		in := c.in
		key := fmt.Sprintf("cond-%d", i)
		in.Bucket, in.Key, in.CopySource = aws.String("dst"), aws.String(key), csrc
		_, err := h.s3.CopyObject(bg, &in)
		if c.ok && err != nil || !c.ok && (code(err) != "PreconditionFailed" || httpStatus(err) != 412) {
			t.Errorf("condition %d: %v", i, err)
		}
		_, herr := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String(key)})
		if (herr == nil) != c.ok {
			t.Errorf("condition %d: destination exists %v", i, herr == nil)
		}
	}
	// Bad sources.
	for _, c := range []struct{ src, code string }{
		{"src/missing", "NoSuchKey"},
		{"nobucket/x", "NoSuchBucket"},
		{"src", "InvalidArgument"},
		{"src/" + url.PathEscape(srcKey) + "?versionId=3", "InvalidArgument"},
	} {
		_, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("bad"), CopySource: aws.String(c.src)})
		if code(err) != c.code {
			t.Errorf("copy source %q: %v, want %s", c.src, err, c.code)
		}
	}
	resp, b := h.do(t, true, http.MethodPut, "/dst/bad", map[string]string{"X-Amz-Copy-Source": "src/x", "X-Amz-Metadata-Directive": "MERGE"}, "")
	errorBody(t, resp, b, 400, "InvalidArgument")
	// minio-go: copy with and without replaced metadata.
	_, err = h.mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "dst", Object: "mc1"}, minio.CopySrcOptions{Bucket: "src", Object: srcKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "dst", Object: "mc2", ReplaceMetadata: true, UserMetadata: map[string]string{"Via": "minio"}},
		minio.CopySrcOptions{Bucket: "src", Object: srcKey})
	if err != nil {
		t.Fatal(err)
	}
	st1, err1 := h.mc.StatObject(bg, "dst", "mc1", minio.StatObjectOptions{})
	st2, err2 := h.mc.StatObject(bg, "dst", "mc2", minio.StatObjectOptions{})
	if err1 != nil || err2 != nil || st1.UserMetadata["Orig"] != "replaced" || st2.UserMetadata["Via"] != "minio" || st2.UserMetadata["Orig"] != "" || st1.Size != 7 {
		t.Fatalf("minio copies: %v %v / %v %v", st1.UserMetadata, err1, st2.UserMetadata, err2)
	}
	_, err = h.mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "dst", Object: "mc3"}, minio.CopySrcOptions{Bucket: "src", Object: srcKey, MatchETag: "zzz"})
	if code(err) != "PreconditionFailed" {
		t.Fatalf("minio copy with a failing condition: %v", err)
	}
}

func TestListingMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	keys := []string{"a b/c d", "a b/e", "plain", "q+r", "x/y", "x/é ü/1", "x/é ü/2", "zeta%20"} // in byte order
	for _, k := range keys {
		h.put(t, "bkt", k, "v")
	}
	// encoding-type=url, raw: the XML carries the encoded names, spaces as '+', slashes kept.
	v2, err := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/"), Prefix: aws.String("x/")})
	if err != nil || len(v2.Contents) != 1 || *v2.Contents[0].Key != "x/y" || len(v2.CommonPrefixes) != 1 || *v2.CommonPrefixes[0].Prefix != "x/%C3%A9+%C3%BC/" {
		t.Fatalf("encoded v2 with delimiter: %+v %v", v2, err)
	}
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), EncodingType: types.EncodingTypeUrl, StartAfter: aws.String("a b/e")})
	if err != nil || *v2.StartAfter != "a+b/e" || v2.EncodingType != types.EncodingTypeUrl {
		t.Fatalf("encoded start-after: %+v %v", v2, err)
	}
	var enc []string
	for _, o := range v2.Contents {
		enc = append(enc, *o.Key)
	}
	// Byte order: "x/y" sorts before "x/\xc3...".
	if strings.Join(enc, ",") != "plain,q%2Br,x/y,x/%C3%A9+%C3%BC/1,x/%C3%A9+%C3%BC/2,zeta%2520" {
		t.Fatalf("encoded keys: %v", enc)
	}
	v1, err := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	enc = nil
	for _, o := range v1.Contents {
		enc = append(enc, *o.Key)
	}
	for _, p := range v1.CommonPrefixes {
		enc = append(enc, *p.Prefix)
	}
	if strings.Join(enc, ",") != "plain,q%2Br,zeta%2520,a+b/,x/" {
		t.Fatalf("encoded v1: %v", enc)
	}
	// Without encoding the names are verbatim.
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("x/é ü/")})
	if err != nil || len(v2.Contents) != 2 || *v2.Contents[0].Key != "x/é ü/1" || *v2.Prefix != "x/é ü/" {
		t.Fatalf("unencoded: %+v %v", v2, err)
	}
	// fetch-owner: absent unless asked for in v2; always in v1.
	v2, _ = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if v2.Contents[0].Owner != nil {
		t.Fatalf("v2 owner without fetch-owner: %+v", v2.Contents[0].Owner)
	}
	v2, _ = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), FetchOwner: aws.Bool(true)})
	if o := v2.Contents[0].Owner; o == nil || aws.ToString(o.ID) != "0" {
		t.Fatalf("v2 owner with fetch-owner: %+v", o)
	}
	if *v2.KeyCount != int32(len(keys)) || *v2.MaxKeys != 1000 || *v2.IsTruncated || *v2.Name != "bkt" {
		t.Fatalf("v2 counts: %d %d %v", *v2.KeyCount, *v2.MaxKeys, *v2.IsTruncated)
	}
	// v1 paging with a delimiter follows NextMarker, and sees prefixes once.
	var seen []string
	marker := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("v1 paging does not end")
		}
		p, err := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), Marker: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(p.Contents) + len(p.CommonPrefixes); n > 2 || n == 0 {
			t.Fatalf("v1 page of %d", n)
		}
		for _, o := range p.Contents {
			seen = append(seen, *o.Key)
		}
		for _, c := range p.CommonPrefixes {
			seen = append(seen, *c.Prefix)
		}
		if !*p.IsTruncated {
			if p.NextMarker != nil {
				t.Fatalf("NextMarker on the last page: %s", *p.NextMarker)
			}
			break
		}
		if p.NextMarker == nil {
			t.Fatal("truncated v1 page with a delimiter and no NextMarker")
		}
		marker = *p.NextMarker
	}
	slices.Sort(seen)
	if strings.Join(seen, ",") != "a b/,plain,q+r,x/,zeta%20" {
		t.Fatalf("v1 paged with delimiter: %v", seen)
	}
	// v2 paging with a delimiter through continuation tokens.
	seen = nil
	p2 := s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	for page := 0; p2.HasMorePages(); page++ {
		pg, err := p2.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			seen = append(seen, *o.Key)
		}
		for _, c := range pg.CommonPrefixes {
			seen = append(seen, *c.Prefix)
		}
		if (page > 0) != (pg.ContinuationToken != nil) || *pg.KeyCount != 1 {
			t.Fatalf("page %d: token %v, %d keys", page, pg.ContinuationToken, *pg.KeyCount)
		}
	}
	if strings.Join(seen, ",") != "a b/,plain,q+r,x/,zeta%20" {
		t.Fatalf("v2 paged with delimiter: %v", seen)
	}
	// max-keys 0, start-after past the end, a prefix matching nothing, bad parameters.
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(0)})
	if err != nil || len(v2.Contents) != 0 || *v2.KeyCount != 0 {
		t.Fatalf("max-keys 0: %+v %v", v2, err)
	}
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), StartAfter: aws.String("zz")})
	if err != nil || len(v2.Contents) != 0 || *v2.IsTruncated {
		t.Fatalf("start-after past the end: %+v %v", v2, err)
	}
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("nothing/")})
	if err != nil || len(v2.Contents) != 0 || len(v2.CommonPrefixes) != 0 {
		t.Fatalf("prefix matching nothing: %+v %v", v2, err)
	}
	for _, q := range []string{"list-type=2&max-keys=-1", "max-keys=abc", "list-type=2&encoding-type=base64", "list-type=2&continuation-token="} {
		resp, b := h.do(t, true, http.MethodGet, "/bkt?"+q, nil, "")
		errorBody(t, resp, b, 400, "InvalidArgument")
	}
	_, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("nobkt")})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("list a missing bucket: %v", err)
	}
	// minio-go v1 and v2 listings with and without recursion.
	for _, v1 := range []bool{false, true} {
		var got []string
		for o := range h.mc.ListObjects(bg, "bkt", minio.ListObjectsOptions{UseV1: v1, Prefix: "x/"}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			got = append(got, o.Key)
		}
		slices.Sort(got)
		if strings.Join(got, ",") != "x/y,x/é ü/" {
			t.Errorf("minio (v1 %v) non-recursive: %v", v1, got)
		}
		got = nil
		for o := range h.mc.ListObjects(bg, "bkt", minio.ListObjectsOptions{UseV1: v1, Recursive: true, WithMetadata: false}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			got = append(got, o.Key)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("minio (v1 %v) recursive: %v", v1, got)
		}
	}
}

// TestPaginators lists 2,500 keys with every paging scheme: each key is
// seen exactly once, in order.
func TestPaginators(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "many")
	var want []string
	for i := 0; i < 2500; i++ {
		k := fmt.Sprintf("p%d/%05d", i%3, i)
		if _, err := h.fs.PutObject(bg, posix.Root, "many", k, strings.NewReader("x"), s3fs.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	slices.Sort(want)
	// v2 paginator.
	var got []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("many"), MaxKeys: aws.Int32(1000)})
	for p.HasMorePages() {
		pg, err := p.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range pg.Contents {
			got = append(got, *o.Key)
		}
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("v2 paginator: %d keys in %d pages", len(got), pages)
	}
	// v2 with start-after in the middle.
	got = nil
	p = s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("many"), MaxKeys: aws.Int32(333), StartAfter: aws.String(want[1249])})
	for p.HasMorePages() {
		pg, err := p.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			got = append(got, *o.Key)
		}
	}
	if !slices.Equal(got, want[1250:]) {
		t.Fatalf("v2 from start-after: %d keys", len(got))
	}
	// v1 with markers: the last key of a page when there is no delimiter.
	got = nil
	marker := ""
	for {
		pg, err := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("many"), MaxKeys: aws.Int32(700), Marker: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			got = append(got, *o.Key)
		}
		if !*pg.IsTruncated {
			break
		}
		marker = *pg.Contents[len(pg.Contents)-1].Key
	}
	if !slices.Equal(got, want) {
		t.Fatalf("v1 marker paging: %d keys", len(got))
	}
	// A prefix paginated: one third.
	got = nil
	p = s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("many"), Prefix: aws.String("p1/"), MaxKeys: aws.Int32(100)})
	for p.HasMorePages() {
		pg, err := p.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			got = append(got, *o.Key)
		}
	}
	var p1 []string
	for _, k := range want {
		if strings.HasPrefix(k, "p1/") {
			p1 = append(p1, k)
		}
	}
	if !slices.Equal(got, p1) {
		t.Fatalf("prefix p1/: %d keys, want %d", len(got), len(p1))
	}
	// minio-go walks it all too.
	got = nil
	for o := range h.mc.ListObjects(bg, "many", minio.ListObjectsOptions{Recursive: true, MaxKeys: 400}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		got = append(got, o.Key)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("minio listing: %d keys", len(got))
	}
}

func TestMultipartMore(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	const key = "mp/obj"
	create, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key),
		Metadata: map[string]string{"mp": "yes"}, CacheControl: aws.String("no-store")})
	if err != nil || *create.Bucket != "bkt" || *create.Key != key || *create.UploadId == "" {
		t.Fatalf("create: %+v %v", create, err)
	}
	id := create.UploadId
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<20), bytes.Repeat([]byte("b"), 5<<20+17), []byte("c-tail")}
	etags := map[int32]string{}
	for i, p := range parts {
		n := int32(i + 1)
		out, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(n), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		if *out.ETag != `"`+md5hex(p)+`"` {
			t.Fatalf("part %d ETag %s", n, *out.ETag)
		}
		etags[n] = *out.ETag
	}
	// Re-uploading a part replaces it.
	out, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(3), Body: strings.NewReader("c-tail2")})
	if err != nil {
		t.Fatal(err)
	}
	etags[3] = *out.ETag
	parts[2] = []byte("c-tail2")
	// A part number out of range.
	resp, b := h.do(t, true, http.MethodPut, "/bkt/"+key+"?partNumber=10001&uploadId="+url.QueryEscape(*id), nil, "x")
	errorBody(t, resp, b, 400, "InvalidArgument")
	// ListParts, paged one at a time.
	var listed []types.Part
	var marker *string
	for {
		lp, err := h.s3.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: id, MaxParts: aws.Int32(1), PartNumberMarker: marker})
		if err != nil {
			t.Fatal(err)
		}
		if *lp.UploadId != *id || len(lp.Parts) != 1 || lp.Initiator == nil || lp.Owner == nil {
			t.Fatalf("list parts page: %+v", lp)
		}
		listed = append(listed, lp.Parts...)
		if !*lp.IsTruncated {
			break
		}
		marker = lp.NextPartNumberMarker
	}
	if len(listed) != 3 {
		t.Fatalf("listed %d parts", len(listed))
	}
	for i, p := range listed {
		n := int32(i + 1)
		if *p.PartNumber != n || *p.ETag != etags[n] || *p.Size != int64(len(parts[i])) || p.LastModified == nil {
			t.Errorf("part %d: %+v", n, p)
		}
	}
	// ListMultipartUploads with several uploads, prefix and delimiter.
	other, _ := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("other/x")})
	lu, err := h.s3.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	if err != nil || len(lu.Uploads) != 2 || *lu.Uploads[0].Key != key || *lu.Uploads[1].Key != "other/x" || lu.Uploads[0].Initiated == nil {
		t.Fatalf("list uploads: %+v %v", lu, err)
	}
	lu, err = h.s3.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt"), Prefix: aws.String("other/")})
	if err != nil || len(lu.Uploads) != 1 || *lu.Uploads[0].UploadId != *other.UploadId {
		t.Fatalf("list uploads with prefix: %+v %v", lu, err)
	}
	lu, err = h.s3.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt"), Delimiter: aws.String("/")})
	if err != nil || len(lu.Uploads) != 0 || len(lu.CommonPrefixes) != 2 || *lu.CommonPrefixes[0].Prefix != "mp/" {
		t.Fatalf("list uploads with delimiter: %+v %v", lu, err)
	}
	// Invalid completions leave the upload in place.
	cp := func(n int32, etag string) types.CompletedPart {
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)}
	}
	complete := func(parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	for _, c := range []struct {
		parts []types.CompletedPart
		code  string
	}{
		{[]types.CompletedPart{cp(1, etags[1]), cp(3, etags[3]), cp(2, etags[2])}, "InvalidPartOrder"},
		{[]types.CompletedPart{cp(1, etags[1]), cp(1, etags[1])}, "InvalidPartOrder"},
		{[]types.CompletedPart{cp(1, etags[1]), cp(4, etags[3])}, "InvalidPart"},
		{[]types.CompletedPart{cp(1, etags[2])}, "InvalidPart"},
		{[]types.CompletedPart{cp(1, etags[1]), cp(3, etags[3]), cp(2, etags[2])}, "InvalidPartOrder"},
	} {
		_, err := complete(c.parts...)
		if code(err) != c.code || httpStatus(err) != 400 {
			t.Errorf("complete %v: %v, want %s", c.parts, err, c.code)
		}
	}
	// Small middle part: 3 (7 bytes) between 1 and a copied part.
	h.put(t, "bkt", "copysrc", strings.Repeat("S", 6<<20))
	cpy, err := h.s3.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(4),
		CopySource: aws.String("bkt/copysrc"), CopySourceRange: aws.String("bytes=100-5242979")})
	if err != nil {
		t.Fatal(err)
	}
	copied := bytes.Repeat([]byte("S"), 5242880)
	if *cpy.CopyPartResult.ETag != `"`+md5hex(copied)+`"` {
		t.Fatalf("copied part ETag %s", *cpy.CopyPartResult.ETag)
	}
	if _, err := complete(cp(1, etags[1]), cp(3, etags[3]), cp(4, *cpy.CopyPartResult.ETag)); code(err) != "EntityTooSmall" {
		t.Fatalf("small middle part: %v", err)
	}
	// A copy range is not clamped to the source as a GET range is.
	for _, rng := range []string{"bytes=10-", "bytes=-10", "bytes=5-1", "bytes=0-6291456", "bytes=6291456-6291457"} {
		_, err := h.s3.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(5),
			CopySource: aws.String("bkt/copysrc"), CopySourceRange: aws.String(rng)})
		if code(err) != "InvalidArgument" {
			t.Errorf("copy range %s: %v", rng, err)
		}
	}
	_, err = h.s3.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(5),
		CopySource: aws.String("bkt/copysrc"), CopySourceIfMatch: aws.String(`"nope"`)})
	if code(err) != "PreconditionFailed" {
		t.Fatalf("part copy with a failing condition: %v", err)
	}
	// The object does not exist until completion.
	if _, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)}); httpStatus(err) != 404 {
		t.Fatalf("object visible before completion: %v", err)
	}
	// Complete 1, 2, 4 (skipping 3): ETag is md5 of the part md5s, -3.
	done, err := complete(cp(1, etags[1]), cp(2, etags[2]), cp(4, *cpy.CopyPartResult.ETag))
	if err != nil {
		t.Fatal(err)
	}
	var cat []byte
	for _, p := range [][]byte{parts[0], parts[1], copied} {
		s := md5.Sum(p)
		cat = append(cat, s[:]...)
	}
	wantETag := `"` + md5hex(cat) + `-3"`
	if !regexp.MustCompile(`^"[0-9a-f]{32}-3"$`).MatchString(*done.ETag) || *done.ETag != wantETag || *done.Key != key || *done.Bucket != "bkt" {
		t.Fatalf("complete: %+v, want ETag %s", done, wantETag)
	}
	whole := append(append(append([]byte{}, parts[0]...), parts[1]...), copied...)
	body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
	if err != nil || body != string(whole) || *g.ETag != wantETag || g.Metadata["mp"] != "yes" || *g.CacheControl != "no-store" {
		t.Fatalf("completed object: %d bytes %+v %v", len(body), g, err)
	}
	// partNumber GET and HEAD on the multipart object.
	for n, p := range [][]byte{parts[0], parts[1], copied} {
		body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), PartNumber: aws.Int32(int32(n + 1))})
		start := int64(0)
		for _, q := range [][]byte{parts[0], parts[1], copied}[:n] {
			start += int64(len(q))
		}
		cr := fmt.Sprintf("bytes %d-%d/%d", start, start+int64(len(p))-1, len(whole))
		if err != nil || body != string(p) || *g.PartsCount != 3 || *g.ContentRange != cr {
			t.Errorf("part %d: %d bytes, %v %v", n+1, len(body), g.ContentRange, err)
		}
	}
	hd, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), PartNumber: aws.Int32(2)})
	if err != nil || *hd.ContentLength != int64(len(parts[1])) || *hd.PartsCount != 3 {
		t.Fatalf("HEAD partNumber: %+v %v", hd, err)
	}
	if _, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), PartNumber: aws.Int32(4)}); code(err) != "InvalidPart" && code(err) != "InvalidRange" {
		t.Fatalf("partNumber past the last part: %v", err)
	}
	// The completed upload is gone.
	lu, _ = h.s3.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	if len(lu.Uploads) != 1 || *lu.Uploads[0].Key != "other/x" {
		t.Fatalf("uploads after completion: %+v", lu.Uploads)
	}
	// A repeated completion (an SDK's retry after a lost answer) gets
	// the first answer.
	if again, err := complete(cp(1, etags[1]), cp(2, etags[2]), cp(4, *cpy.CopyPartResult.ETag)); err != nil || aws.ToString(again.ETag) != aws.ToString(done.ETag) {
		t.Fatalf("second completion: %v %v, first %v", again, err, aws.ToString(done.ETag))
	}
	if _, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: id,
		PartNumber: aws.Int32(5), Body: strings.NewReader("late")}); code(err) != "NoSuchUpload" {
		t.Fatalf("a part of a completed upload: %v", err)
	}
	// Abort: the upload is gone for every operation.
	if _, err := h.s3.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("other/x"), UploadId: other.UploadId}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("other/x"), UploadId: other.UploadId}); code(err) != "NoSuchUpload" || httpStatus(err) != 404 {
		t.Fatalf("list parts of an aborted upload: %v", err)
	}
	if _, err := h.s3.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("other/x"), UploadId: other.UploadId}); code(err) != "NoSuchUpload" {
		t.Fatalf("second abort: %v", err)
	}
	_, err = h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("other/x"), UploadId: other.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{cp(1, etags[1])}}})
	if code(err) != "NoSuchUpload" {
		t.Fatalf("complete an aborted upload: %v", err)
	}
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "copysrc,"+key {
		t.Fatalf("keys: %v", got)
	}
	// A made-up upload id.
	_, err = h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: aws.String("no-such-id"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	if code(err) != "NoSuchUpload" {
		t.Fatalf("made-up upload id: %v", err)
	}

	// minio-go Core: the same protocol step by step.
	core := minio.Core{Client: h.mc}
	uid, err := core.NewMultipartUpload(bg, "bkt", "core/obj", minio.PutObjectOptions{ContentType: "app/core"})
	if err != nil {
		t.Fatal(err)
	}
	var cparts []minio.CompletePart
	for i, p := range [][]byte{parts[0], []byte("core tail")} {
		op, err := core.PutObjectPart(bg, "bkt", "core/obj", uid, i+1, bytes.NewReader(p), int64(len(p)), minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cparts = append(cparts, minio.CompletePart{PartNumber: op.PartNumber, ETag: op.ETag})
	}
	lp, err := core.ListObjectParts(bg, "bkt", "core/obj", uid, 0, 1000)
	if err != nil || len(lp.ObjectParts) != 2 || lp.ObjectParts[1].Size != 9 {
		t.Fatalf("minio list parts: %+v %v", lp, err)
	}
	mu, err := core.ListMultipartUploads(bg, "bkt", "core/", "", "", "", 100)
	if err != nil || len(mu.Uploads) != 1 || mu.Uploads[0].UploadID != uid {
		t.Fatalf("minio list uploads: %+v %v", mu, err)
	}
	info, err := core.CompleteMultipartUpload(bg, "bkt", "core/obj", uid, cparts, minio.PutObjectOptions{})
	if err != nil || !strings.HasSuffix(info.ETag, "-2") {
		t.Fatalf("minio complete: %+v %v", info, err)
	}
	st, err := h.mc.StatObject(bg, "bkt", "core/obj", minio.StatObjectOptions{})
	if err != nil || st.Size != int64(len(parts[0])+9) || st.ContentType != "app/core" {
		t.Fatalf("minio multipart object: %+v %v", st, err)
	}
	uid, err = core.NewMultipartUpload(bg, "bkt", "core/aborted", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.AbortMultipartUpload(bg, "bkt", "core/aborted", uid); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ListObjectParts(bg, "bkt", "core/aborted", uid, 0, 1000); code(err) != "NoSuchUpload" {
		t.Fatalf("minio list parts of an aborted upload: %v", err)
	}
}

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
	// A key that is a prefix of existing keys, and the other way round.
	h.put(t, "bkt", "f/g", "1")
	_, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("f"), Body: strings.NewReader("x")})
	if code(err) != "XCairnKeyConflict" || httpStatus(err) != 409 {
		t.Fatalf("object over a prefix: %v", err)
	}
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ok/child"), Body: strings.NewReader("x")})
	if code(err) != "XCairnKeyConflict" || httpStatus(err) != 409 {
		t.Fatalf("object under an object: %v", err)
	}
	if b, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("f/g")}); b != "1" {
		t.Fatalf("f/g: %q", b)
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

// TestStreamingChecksums covers aws-chunked uploads with trailing
// checksums: the SDK sends them over TLS (STREAMING-UNSIGNED-PAYLOAD-TRAILER),
// and a raw request carries a wrong one.
func TestStreamingChecksums(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	var seen sync.Map
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Amz-Content-Sha256"), true)
		h.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(testAK, testSecret, ""), HTTPClient: srv.Client()})
	data := strings.Repeat("streamed with a trailer ", 5000)
	sha := sha256.Sum256([]byte(data))
	for alg, want := range map[types.ChecksumAlgorithm]string{
		types.ChecksumAlgorithmCrc32:  crc32b64(crc32.IEEETable, []byte(data)),
		types.ChecksumAlgorithmSha256: base64.StdEncoding.EncodeToString(sha[:]),
	} {
		key := "s/" + string(alg)
		// An unseekable body: the SDK can only stream it, with the checksum in a trailer.
		out, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: struct{ io.Reader }{strings.NewReader(data)},
			ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		got := aws.ToString(out.ChecksumCRC32) + aws.ToString(out.ChecksumSHA256)
		if got != want || *out.ETag != `"`+md5hex([]byte(data))+`"` {
			t.Fatalf("%s: PUT answered %q %s, want %q", alg, got, *out.ETag, want)
		}
		body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || body != data || aws.ToString(g.ChecksumCRC32)+aws.ToString(g.ChecksumSHA256) != want {
			t.Fatalf("%s: stored %d bytes, checksum %v %v: %v", alg, len(body), g.ChecksumCRC32, g.ChecksumSHA256, err)
		}
		// Content-Encoding aws-chunked is not stored.
		if g.ContentEncoding != nil {
			t.Fatalf("%s: Content-Encoding %q stored", alg, *g.ContentEncoding)
		}
	}
	// minio-go with TrailingHeaders ends its trailer lines with a bare LF.
	mtr := srv.Client().Transport
	mc, err := minio.New(strings.TrimPrefix(srv.URL, "https://"), &minio.Options{Creds: mcreds.NewStaticV4(testAK, testSecret, ""),
		Region: "us-east-1", Secure: true, Transport: mtr, TrailingHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	seen.Delete("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	if _, err := mc.PutObject(bg, "bkt", "s/minio", strings.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		Checksum: minio.ChecksumCRC32C, DisableMultipart: true}); err != nil {
		t.Fatalf("minio-go with trailing headers: %v", err)
	}
	if _, ok := seen.Load("STREAMING-UNSIGNED-PAYLOAD-TRAILER"); !ok {
		t.Fatal("minio-go did not stream with a trailer")
	}
	body, g, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("s/minio"), ChecksumMode: types.ChecksumModeEnabled})
	if want := crc32b64(crc32.MakeTable(crc32.Castagnoli), []byte(data)); err != nil || body != data || aws.ToString(g.ChecksumCRC32C) != want {
		t.Fatalf("minio-go upload: %d bytes, CRC32C %v (want %s): %v", len(body), g.ChecksumCRC32C, want, err)
	}
	if _, ok := seen.Load("STREAMING-UNSIGNED-PAYLOAD-TRAILER"); !ok {
		var all []string
		seen.Range(func(k, _ any) bool { all = append(all, k.(string)); return true })
		t.Fatalf("the SDK never streamed with a trailer: %v", all)
	}
	// Raw trailer uploads: right and wrong CRC32 of "abc".
	send := func(key, sum string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPut, h.url+"/bkt/"+key, strings.NewReader("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:"+sum+"\r\n\r\n"))
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", "3")
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		sigv4.SignHeader(req, testAK, testSecret, "us-east-1", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, b := send("good", crc32b64(crc32.IEEETable, []byte("abc"))); resp.StatusCode != 200 || resp.Header.Get("x-amz-checksum-crc32") != "NSRBwg==" {
		t.Fatalf("right trailer: %d %s", resp.StatusCode, b)
	}
	resp, b := send("bad", "AAAAAA==")
	errorBody(t, resp, b, 400, "BadDigest")
	if got := h.keys(t, "bkt"); strings.Join(got, ",") != "good,s/CRC32,s/SHA256,s/minio" {
		t.Fatalf("keys: %v", got)
	}
	if body, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("good")}); body != "abc" {
		t.Fatalf("decoded body %q", body)
	}
}

// TestMultipartWholeObjectChecksums: an upload created with a checksum
// algorithm reports the whole object's checksum as S3 does — COMPOSITE:
// the checksum of the parts' binary checksums with "-N"; FULL_OBJECT: the
// CRC of all the bytes — on Complete and on HEAD/GET with checksum mode;
// impossible combinations are InvalidRequest.
func TestMultipartWholeObjectChecksums(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	part1 := bytes.Repeat([]byte("first part. "), (5<<20)/12+1)
	part2 := []byte("the second and last part")
	whole := append(append([]byte(nil), part1...), part2...)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	crcRaw := func(tab *crc32.Table, b []byte) []byte {
		return binary.BigEndian.AppendUint32(nil, crc32.Checksum(b, tab))
	}
	compositeC := func() string {
		inner := append(crcRaw(castagnoli, part1), crcRaw(castagnoli, part2)...)
		return base64.StdEncoding.EncodeToString(crcRaw(castagnoli, inner)) + "-2"
	}()
	s1, s2 := sha256.Sum256(part1), sha256.Sum256(part2)
	shaAll := sha256.Sum256(append(s1[:], s2[:]...))
	cases := []struct {
		alg  types.ChecksumAlgorithm
		typ  types.ChecksumType
		want string
		kind types.ChecksumType
	}{
		{types.ChecksumAlgorithmCrc32c, "", compositeC, types.ChecksumTypeComposite},
		{types.ChecksumAlgorithmSha256, types.ChecksumTypeComposite, base64.StdEncoding.EncodeToString(shaAll[:]) + "-2", types.ChecksumTypeComposite},
		{types.ChecksumAlgorithmCrc32, types.ChecksumTypeFullObject, crc32b64(crc32.IEEETable, whole), types.ChecksumTypeFullObject},
		{types.ChecksumAlgorithmCrc64nvme, "", base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, crc64.Checksum(whole, crc64.MakeTable(0x9A6C9329AC4BC9B5)))), types.ChecksumTypeFullObject},
	}
	for _, tc := range cases {
		key := "mp/" + string(tc.alg)
		cr, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key),
			ChecksumAlgorithm: tc.alg, ChecksumType: tc.typ})
		if err != nil {
			t.Fatalf("%s: create: %v", tc.alg, err)
		}
		var done []types.CompletedPart
		for i, p := range [][]byte{part1, part2} {
			up, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: cr.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: tc.alg})
			if err != nil {
				t.Fatalf("%s: part %d: %v", tc.alg, i+1, err)
			}
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag,
				ChecksumCRC32: up.ChecksumCRC32, ChecksumCRC32C: up.ChecksumCRC32C, ChecksumCRC64NVME: up.ChecksumCRC64NVME,
				ChecksumSHA256: up.ChecksumSHA256})
		}
		co, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key),
			UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		if err != nil {
			t.Fatalf("%s: complete: %v", tc.alg, err)
		}
		got := aws.ToString(co.ChecksumCRC32) + aws.ToString(co.ChecksumCRC32C) + aws.ToString(co.ChecksumCRC64NVME) + aws.ToString(co.ChecksumSHA256)
		if got != tc.want || co.ChecksumType != tc.kind {
			t.Fatalf("%s: Complete reported %q %q, want %q %q", tc.alg, got, co.ChecksumType, tc.want, tc.kind)
		}
		ho, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		got = aws.ToString(ho.ChecksumCRC32) + aws.ToString(ho.ChecksumCRC32C) + aws.ToString(ho.ChecksumCRC64NVME) + aws.ToString(ho.ChecksumSHA256)
		if got != tc.want || ho.ChecksumType != tc.kind {
			t.Fatalf("%s: HEAD reported %q %q, want %q %q", tc.alg, got, ho.ChecksumType, tc.want, tc.kind)
		}
	}
	for _, bad := range []struct {
		alg types.ChecksumAlgorithm
		typ types.ChecksumType
	}{{types.ChecksumAlgorithmSha256, types.ChecksumTypeFullObject}, {types.ChecksumAlgorithmCrc64nvme, types.ChecksumTypeComposite}} {
		_, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp/bad"),
			ChecksumAlgorithm: bad.alg, ChecksumType: bad.typ})
		if code(err) != "InvalidRequest" {
			t.Fatalf("%s with %s: %v", bad.alg, bad.typ, err)
		}
	}
}
