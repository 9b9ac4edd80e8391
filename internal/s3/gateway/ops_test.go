package gateway_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"hash/crc32"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"cairn/internal/posix"
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
