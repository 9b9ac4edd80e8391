package gateway_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"

	"cairn/internal/posix"
	"cairn/internal/s3/s3fs"
)

const (
	testAK     = "AKIDTEST"
	testSecret = "secret-key-123"
)

var bg = context.Background()

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	var me minio.ErrorResponse
	if errors.As(err, &me) {
		return me.Code
	}
	if err == nil {
		return ""
	}
	return "?" + err.Error()
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func (h *harness) mb(t testing.TB, b string) {
	t.Helper()
	if _, err := h.s3.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
		t.Fatalf("create bucket %s: %v", b, err)
	}
}

func (h *harness) put(t testing.TB, b, k, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(k), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
	return out
}

func (h *harness) get(t *testing.T, in *s3.GetObjectInput) (string, *s3.GetObjectOutput, error) {
	t.Helper()
	out, err := h.s3.GetObject(bg, in)
	if err != nil {
		return "", nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), out, err
}

func TestBuckets(t *testing.T) {
	h := newHarness(t)
	for _, bad := range []string{"AB", "a", "bad_name", "-start", "a..b", "192.168.1.1"} {
		_, err := h.s3.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(bad)})
		if code(err) != "InvalidBucketName" {
			t.Errorf("create %q: %v", bad, err)
		}
	}
	h.mb(t, "alpha")
	h.mb(t, "beta")
	// us-east-1: re-creating one's own bucket is a no-op success.
	if _, err := h.s3.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatalf("re-create: %v", err)
	}
	lb, err := h.s3.ListBuckets(bg, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 2 || *lb.Buckets[0].Name != "alpha" || lb.Buckets[0].CreationDate == nil {
		t.Fatalf("list buckets: %+v %v", lb, err)
	}
	if _, err := h.s3.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("gamma")}); httpStatus(err) != 404 {
		t.Fatalf("head missing bucket: %v", err)
	}
	loc, err := h.s3.GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("location: %+v %v", loc, err)
	}
	h.put(t, "beta", "x", "y")
	_, err = h.s3.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("beta")})
	if code(err) != "BucketNotEmpty" {
		t.Fatalf("delete non-empty: %v", err)
	}
	if _, err := h.s3.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.s3.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("delete missing: %v", err)
	}
	// minio-go agrees.
	ok, err := h.mc.BucketExists(bg, "beta")
	if err != nil || !ok {
		t.Fatalf("minio BucketExists: %v %v", ok, err)
	}
	if err := h.mc.MakeBucket(bg, "gamma", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	bs, err := h.mc.ListBuckets(bg)
	if err != nil || len(bs) != 2 {
		t.Fatalf("minio ListBuckets: %v %v", bs, err)
	}
}

func TestObjectRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	_, err := h.s3.PutObject(bg, &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("dir/ob ject é.txt"), Body: strings.NewReader("hello, world"),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"color": "blue", "Mixed-Case": "v"},
		CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String(`attachment; filename="a.txt"`),
		ContentLanguage: aws.String("en"),
	})
	if err != nil {
		t.Fatal(err)
	}
	body, out, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/ob ject é.txt")})
	if err != nil || body != "hello, world" {
		t.Fatalf("get: %q %v", body, err)
	}
	sum := md5.Sum([]byte("hello, world"))
	if *out.ETag != `"`+hex.EncodeToString(sum[:])+`"` || *out.ContentType != "text/plain" || out.Metadata["color"] != "blue" ||
		out.Metadata["mixed-case"] != "v" || *out.CacheControl != "max-age=60" || *out.ContentLanguage != "en" || *out.ContentLength != 12 {
		t.Fatalf("get headers: etag %s type %s meta %v", *out.ETag, *out.ContentType, out.Metadata)
	}
	head, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/ob ject é.txt")})
	if err != nil || *head.ContentLength != 12 || *head.ETag != *out.ETag || head.LastModified == nil {
		t.Fatalf("head: %+v %v", head, err)
	}
	_, err = h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("nope")})
	if httpStatus(err) != 404 {
		t.Fatalf("head missing: %v", err)
	}
	_, _, err = h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("nope")})
	if code(err) != "NoSuchKey" {
		t.Fatalf("get missing: %v", err)
	}
	_, _, err = h.get(t, &s3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("get from missing bucket: %v", err)
	}
	// Override headers on GET.
	_, out, err = h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/ob ject é.txt"), ResponseContentType: aws.String("application/x-test")})
	if err != nil || *out.ContentType != "application/x-test" {
		t.Fatalf("response-content-type: %v", err)
	}
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/ob ject é.txt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/ob ject é.txt")}); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
	// The emptied directory is gone: no phantom prefix.
	lo, _ := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Delimiter: aws.String("/")})
	if len(lo.CommonPrefixes) != 0 || len(lo.Contents) != 0 {
		t.Fatalf("listing after delete: %+v", lo)
	}
	// minio-go round trip with metadata.
	data := bytes.Repeat([]byte("m"), 100000)
	if _, err := h.mc.PutObject(bg, "bkt", "mc/obj", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ContentType: "app/x", UserMetadata: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	o, err := h.mc.GetObject(bg, "bkt", "mc/obj", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(o)
	st, _ := o.Stat()
	if !bytes.Equal(got, data) || st.ContentType != "app/x" || st.UserMetadata["K"] != "v" {
		t.Fatalf("minio get: %d bytes, %+v", len(got), st)
	}
	if err := h.mc.RemoveObject(bg, "bkt", "mc/obj", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRangesAndConditions(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	pout := h.put(t, "bkt", "k", "0123456789abcdefghij")
	etag := *pout.ETag
	for _, c := range []struct{ rng, want, cr string }{
		{"bytes=0-9", "0123456789", "bytes 0-9/20"},
		{"bytes=-5", "fghij", "bytes 15-19/20"},
		{"bytes=10-", "abcdefghij", "bytes 10-19/20"},
		{"bytes=15-100", "fghij", "bytes 15-19/20"},
	} {
		body, out, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Range: aws.String(c.rng)})
		if err != nil || body != c.want || *out.ContentRange != c.cr {
			t.Errorf("%s: %q %v %v", c.rng, body, out, err)
		}
	}
	_, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Range: aws.String("bytes=20-30")})
	if code(err) != "InvalidRange" || httpStatus(err) != 416 {
		t.Fatalf("unsatisfiable range: %v", err)
	}
	cond := []struct {
		in     s3.GetObjectInput
		status int
	}{
		{s3.GetObjectInput{IfMatch: aws.String(`"nope"`)}, 412},
		{s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, 304},
		{s3.GetObjectInput{IfModifiedSince: aws.Time(time.Now().Add(time.Hour))}, 304},
		{s3.GetObjectInput{IfUnmodifiedSince: aws.Time(time.Now().Add(-time.Hour))}, 412},
		{s3.GetObjectInput{IfMatch: aws.String(etag)}, 200},
	}
	for i, c := range cond {
		in := c.in
		in.Bucket, in.Key = aws.String("bkt"), aws.String("k")
		_, _, err := h.get(t, &in)
		st := 200
		if err != nil {
			st = httpStatus(err)
		}
		if st != c.status {
			t.Errorf("condition %d: status %d (%v), want %d", i, st, err, c.status)
		}
	}
	_, err = h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), IfNoneMatch: aws.String(etag)})
	if httpStatus(err) != 304 {
		t.Fatalf("HEAD If-None-Match: %v", err)
	}
	// If-None-Match: * on PUT refuses to overwrite.
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("new"), IfNoneMatch: aws.String("*")})
	if httpStatus(err) != 412 {
		t.Fatalf("If-None-Match * on an existing key: %v", err)
	}
	if body, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); body != "0123456789abcdefghij" {
		t.Fatalf("object changed by a failed conditional put: %q", body)
	}
}

func TestIntegrity(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	h.put(t, "bkt", "k", "original")
	wrong := md5.Sum([]byte("other"))
	_, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("replacement"),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:]))})
	if code(err) != "BadDigest" {
		t.Fatalf("Content-MD5 mismatch: %v", err)
	}
	if body, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); body != "original" {
		t.Fatalf("object changed by a bad upload: %q", body)
	}
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmSha1} {
		key := "sum-" + string(alg)
		out, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: strings.NewReader("checksummed body"), ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatalf("%s put: %v", alg, err)
		}
		_, got, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		sent := map[types.ChecksumAlgorithm]*string{types.ChecksumAlgorithmCrc32: out.ChecksumCRC32, types.ChecksumAlgorithmCrc32c: out.ChecksumCRC32C,
			types.ChecksumAlgorithmSha256: out.ChecksumSHA256, types.ChecksumAlgorithmSha1: out.ChecksumSHA1}[alg]
		back := map[types.ChecksumAlgorithm]*string{types.ChecksumAlgorithmCrc32: got.ChecksumCRC32, types.ChecksumAlgorithmCrc32c: got.ChecksumCRC32C,
			types.ChecksumAlgorithmSha256: got.ChecksumSHA256, types.ChecksumAlgorithmSha1: got.ChecksumSHA1}[alg]
		if sent == nil || back == nil || *sent != *back {
			t.Fatalf("%s: sent %v, stored %v", alg, sent, back)
		}
	}
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("badsum"), Body: strings.NewReader("data"),
		ChecksumCRC32: aws.String("AAAAAA==")})
	if err == nil {
		t.Fatal("wrong x-amz-checksum-crc32 accepted")
	}
	if _, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("badsum")}); httpStatus(err) != 404 {
		t.Fatalf("object stored despite a bad checksum: %v", err)
	}
}

func TestDeleteObjectsAndCopy(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	for _, k := range []string{"a", "b/c", "d"} {
		h.put(t, "bkt", k, "v-"+k)
	}
	out, err := h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b/c")}, {Key: aws.String("missing")}}}})
	if err != nil || len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Fatalf("delete objects: %+v %v", out, err)
	}
	out, err = h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Quiet: aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("d")}}}})
	if err != nil || len(out.Deleted) != 0 {
		t.Fatalf("quiet delete: %+v %v", out, err)
	}
	lo, _ := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if len(lo.Contents) != 0 {
		t.Fatalf("left after delete: %+v", lo.Contents)
	}
	h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("src"), Body: strings.NewReader("source"),
		ContentType: aws.String("text/a"), Metadata: map[string]string{"m": "1"}})
	cp, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), CopySource: aws.String("bkt/src")})
	if err != nil || cp.CopyObjectResult.ETag == nil {
		t.Fatalf("copy: %v", err)
	}
	body, got, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst")})
	if body != "source" || *got.ContentType != "text/a" || got.Metadata["m"] != "1" {
		t.Fatalf("copy COPY: %q %v", body, got.Metadata)
	}
	_, err = h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst2"), CopySource: aws.String("bkt/src"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/b"), Metadata: map[string]string{"n": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	_, got, _ = h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst2")})
	if *got.ContentType != "text/b" || got.Metadata["n"] != "2" || got.Metadata["m"] != "" {
		t.Fatalf("copy REPLACE: %v %v", *got.ContentType, got.Metadata)
	}
	_, err = h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst3"), CopySource: aws.String("bkt/src"), CopySourceIfMatch: aws.String(`"zzz"`)})
	if httpStatus(err) != 412 {
		t.Fatalf("copy-source-if-match: %v", err)
	}
	_, err = h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst3"), CopySource: aws.String("bkt/missing")})
	if code(err) != "NoSuchKey" {
		t.Fatalf("copy of a missing source: %v", err)
	}
	// minio-go copy.
	if _, err := h.mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "bkt", Object: "mcdst"}, minio.CopySrcOptions{Bucket: "bkt", Object: "src"}); err != nil {
		t.Fatalf("minio copy: %v", err)
	}
}

func TestListing(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	keys := []string{"a.txt", "dir/one", "dir/two", "dir/sub/three", "dir a/x", "é/ü", "z"}
	for _, k := range keys {
		h.put(t, "bkt", k, k)
	}
	v1, err := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range v1.Contents {
		got = append(got, *o.Key)
	}
	for _, p := range v1.CommonPrefixes {
		got = append(got, *p.Prefix)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "a.txt,dir a/,dir/,z,é/" {
		t.Fatalf("v1 with delimiter: %v", got)
	}
	if v1.Contents[0].Owner == nil {
		t.Fatal("v1 listing without owner")
	}
	v2, err := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("dir/"), Delimiter: aws.String("/"), FetchOwner: aws.Bool(true)})
	if err != nil || len(v2.Contents) != 2 || len(v2.CommonPrefixes) != 1 || *v2.CommonPrefixes[0].Prefix != "dir/sub/" || *v2.KeyCount != 3 || v2.Contents[0].Owner == nil {
		t.Fatalf("v2 prefix+delimiter: %+v %v", v2, err)
	}
	// URL encoding of keys with spaces and non-ASCII characters.
	v2, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), EncodingType: types.EncodingTypeUrl})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, o := range v2.Contents {
		if strings.Contains(*o.Key, " ") || strings.Contains(*o.Key, "é") {
			t.Fatalf("key not encoded: %q", *o.Key)
		}
		k, err := url.QueryUnescape(*o.Key)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, k)
	}
	if strings.Join(all, ",") != "a.txt,dir a/x,dir/one,dir/sub/three,dir/two,z,é/ü" {
		t.Fatalf("encoded listing decoded by the SDK: %v", all)
	}
	// Paging with max-keys, start-after and markers.
	page, _ := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2), StartAfter: aws.String("dir a/x")})
	if len(page.Contents) != 2 || *page.Contents[0].Key != "dir/one" || !*page.IsTruncated || page.NextContinuationToken == nil {
		t.Fatalf("start-after page: %+v", page)
	}
	next, _ := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2), ContinuationToken: page.NextContinuationToken})
	if *next.Contents[0].Key != "dir/two" {
		t.Fatalf("continuation: %+v", next.Contents)
	}
	m1, _ := h.s3.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(3), Marker: aws.String("dir/one")})
	if len(m1.Contents) != 3 || *m1.Contents[0].Key != "dir/sub/three" || !*m1.IsTruncated {
		t.Fatalf("v1 marker: %+v", m1.Contents)
	}
	_, err = h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), ContinuationToken: aws.String("!!!")})
	if code(err) != "InvalidArgument" {
		t.Fatalf("bad continuation token: %v", err)
	}
	// A paginator over 2,500 keys sees every key once, in order.
	h.mb(t, "many")
	for i := 0; i < 2500; i++ {
		if err := h.fs.CreateBucket(bg, posix.Root, "many"); err != nil && !errors.Is(err, s3fs.ErrBucketExists) {
			t.Fatal(err)
		}
		k := fmt.Sprintf("k/%02d/%04d", i%7, i)
		if _, err := h.fs.PutObject(bg, posix.Root, "many", k, strings.NewReader("x"), s3fs.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	p := s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: aws.String("many"), MaxKeys: aws.Int32(300)})
	var seen []string
	for p.HasMorePages() {
		pg, err := p.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Contents {
			seen = append(seen, *o.Key)
		}
	}
	if len(seen) != 2500 || !sort.StringsAreSorted(seen) {
		t.Fatalf("paginator saw %d keys (sorted: %v)", len(seen), sort.StringsAreSorted(seen))
	}
	// minio-go listing.
	n := 0
	for o := range h.mc.ListObjects(bg, "many", minio.ListObjectsOptions{Prefix: "k/03/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != 357 {
		t.Fatalf("minio listed %d keys under k/03/", n)
	}
}

func TestMultipart(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	create, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"), ContentType: aws.String("app/big")})
	if err != nil {
		t.Fatal(err)
	}
	id := create.UploadId
	part1 := bytes.Repeat([]byte("1"), 5<<20)
	part2 := bytes.Repeat([]byte("2"), 5<<20)
	part3 := []byte("tail")
	var etags []string
	for i, p := range [][]byte{part1, part2, part3} {
		out, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		etags = append(etags, *out.ETag)
	}
	h.put(t, "bkt", "src", "0123456789")
	cpy, err := h.s3.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, PartNumber: aws.Int32(4),
		CopySource: aws.String("bkt/src"), CopySourceRange: aws.String("bytes=2-5")})
	if err != nil {
		t.Fatalf("upload part copy: %v", err)
	}
	lp, err := h.s3.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id})
	if err != nil || len(lp.Parts) != 4 || *lp.Parts[0].Size != 5<<20 {
		t.Fatalf("list parts: %+v %v", lp, err)
	}
	lu, err := h.s3.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	if err != nil || len(lu.Uploads) != 1 || *lu.Uploads[0].UploadId != *id {
		t.Fatalf("list uploads: %+v %v", lu, err)
	}
	complete := func(parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	cp := func(n int32, etag string) types.CompletedPart {
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)}
	}
	if _, err := complete(cp(2, etags[1]), cp(1, etags[0])); code(err) != "InvalidPartOrder" {
		t.Fatalf("wrong order: %v", err)
	}
	if _, err := complete(cp(1, etags[0]), cp(3, etags[2]), cp(4, *cpy.CopyPartResult.ETag)); code(err) != "EntityTooSmall" {
		t.Fatalf("small middle part: %v", err)
	}
	if _, err := complete(cp(1, `"0123"`)); code(err) != "InvalidPart" {
		t.Fatalf("wrong etag: %v", err)
	}
	out, err := complete(cp(1, etags[0]), cp(2, etags[1]), cp(4, *cpy.CopyPartResult.ETag))
	if err != nil {
		t.Fatal(err)
	}
	// ETag: md5 of the concatenated part md5s, "-3".
	var cat []byte
	for _, p := range [][]byte{part1, part2, []byte("2345")} {
		s := md5.Sum(p)
		cat = append(cat, s[:]...)
	}
	s := md5.Sum(cat)
	if *out.ETag != `"`+hex.EncodeToString(s[:])+`-3"` {
		t.Fatalf("multipart etag %s", *out.ETag)
	}
	body, got, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
	if err != nil || body != string(part1)+string(part2)+"2345" || *got.ContentType != "app/big" {
		t.Fatalf("completed object: %d bytes %v", len(body), err)
	}
	body, got, err = h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), PartNumber: aws.Int32(3)})
	if err != nil || body != "2345" || *got.PartsCount != 3 {
		t.Fatalf("partNumber 3: %q %v", body, err)
	}
	// Abort.
	c2, _ := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("gone")})
	if _, err := h.s3.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("gone"), UploadId: c2.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("gone"), UploadId: c2.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	if code(err) != "NoSuchUpload" {
		t.Fatalf("upload to an aborted upload: %v", err)
	}
	// minio-go does multipart on its own above its part size.
	data := bytes.Repeat([]byte("mc"), 9<<20)
	if _, err := h.mc.PutObject(bg, "bkt", "mcbig", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{PartSize: 5 << 20}); err != nil {
		t.Fatalf("minio multipart: %v", err)
	}
	st, err := h.mc.StatObject(bg, "bkt", "mcbig", minio.StatObjectOptions{})
	if err != nil || st.Size != int64(len(data)) || !strings.HasSuffix(st.ETag, "-4") {
		t.Fatalf("minio multipart stat: %+v %v", st, err)
	}
}

func TestAuthAndErrors(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "bkt")
	h.put(t, "bkt", "k", "secret")
	resp, err := http.Get(h.url + "/bkt/k")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") ||
		!strings.Contains(string(body), "<RequestId>") || resp.Header.Get("x-amz-request-id") == "" {
		t.Fatalf("anonymous GET: %d %s", resp.StatusCode, body)
	}
	bad := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(testAK, "wrong-secret", "")})
	if _, err := bad.ListBuckets(bg, &s3.ListBucketsInput{}); code(err) != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %v", err)
	}
	unknown := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("NOBODY", testSecret, "")})
	if _, err := unknown.ListBuckets(bg, &s3.ListBucketsInput{}); code(err) != "InvalidAccessKeyId" {
		t.Fatalf("unknown key: %v", err)
	}
	// Presigned GET and PUT.
	ps := s3.NewPresignClient(h.s3)
	preq, err := ps.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(preq.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "secret" {
		t.Fatalf("presigned GET: %d %s", resp.StatusCode, body)
	}
	pput, err := ps.PresignPutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("uploaded")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, pput.URL, strings.NewReader("via url"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	if b, _, _ := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("uploaded")}); b != "via url" {
		t.Fatalf("presigned PUT stored %q", b)
	}
	old, err := ps.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}, func(o *s3.PresignOptions) {
		o.Expires = time.Second
		o.Presigner = v4.NewSigner()
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	resp, _ = http.Get(old.URL)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("expired presigned URL: %d", resp.StatusCode)
	}
	// Keys that cannot be paths, and keys too long.
	for _, k := range []string{"a/../b", "a//b", strings.Repeat("k", 1025)} {
		_, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k), Body: strings.NewReader("x")})
		if httpStatus(err) != 400 {
			t.Errorf("key %.20q: %v", k, err)
		}
	}
	lo, _ := h.s3.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if len(lo.Contents) != 2 {
		t.Fatalf("bad keys left objects: %d", len(lo.Contents))
	}
	// Not implemented sub-resources.
	_, err = h.s3.GetBucketWebsite(bg, &s3.GetBucketWebsiteInput{Bucket: aws.String("bkt")})
	if code(err) != "NotImplemented" || httpStatus(err) != 501 {
		t.Fatalf("GetBucketWebsite: %v", err)
	}
	_, err = h.s3.GetBucketEncryption(bg, &s3.GetBucketEncryptionInput{Bucket: aws.String("bkt")})
	if code(err) != "NotImplemented" {
		t.Fatalf("GetBucketEncryption: %v", err)
	}
	// Malformed XML.
	_, err = h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{}}})
	if code(err) != "MalformedXML" {
		t.Fatalf("empty delete: %v", err)
	}
}

func TestOperability(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/health/live", "/health/ready"} {
		resp, err := http.Get(h.url + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"version":"test"`) {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
	h.mb(t, "bkt")
	h.put(t, "bkt", "boom", "x")
	h.panic = "boom"
	_, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("boom")})
	if code(err) != "InternalError" || httpStatus(err) != 500 {
		t.Fatalf("panicking handler: %v", err)
	}
	// The server survives it.
	if _, err := h.s3.ListBuckets(bg, &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`cairn_s3_requests_total{op="CreateBucket",status="200"} 1`, `cairn_s3_requests_total{op="GetObject",status="500"}`,
		"cairn_s3_request_duration_seconds_bucket", "cairn_s3_received_bytes_total", "cairn_s3_inflight_requests"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestListBucketsPaginated: max-buckets pages the bucket list with a
// continuation token, and prefix filters it (ListBuckets' pagination).
func TestListBucketsPaginated(t *testing.T) {
	h := newHarness(t)
	for _, b := range []string{"pg-a", "pg-b", "pg-c", "other"} {
		h.mb(t, b)
	}
	var got []string
	in := &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), Prefix: aws.String("pg-")}
	for pages := 0; ; pages++ {
		out, err := h.s3.ListBuckets(bg, in)
		if err != nil || pages > 5 || len(out.Buckets) > 2 {
			t.Fatalf("page %d: %+v %v", pages, out, err)
		}
		for _, b := range out.Buckets {
			got = append(got, *b.Name)
		}
		if out.ContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.ContinuationToken
	}
	if strings.Join(got, ",") != "pg-a,pg-b,pg-c" {
		t.Fatalf("buckets %v", got)
	}
	if _, err := h.s3.ListBuckets(bg, &s3.ListBucketsInput{ContinuationToken: aws.String("!!")}); code(err) != "InvalidArgument" {
		t.Fatalf("bad token: %v", err)
	}
}
