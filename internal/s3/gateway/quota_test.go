package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/posix"
	"cairn/internal/s3/sigv4"
)

// Bucket quotas: the write that would pass a limit is refused with
// MinIO's error and stores nothing, over S3 (PUT, multipart, versions
// kept) and through the volume as a mount writes; usage is exact after
// deletes; MyFSIO's ?quota endpoints set, read and remove it, for admins
// only.
func TestBucketQuota(t *testing.T) {
	h := newIAMHarness(t)
	user := h.user(t, "quser", "readwrite")
	if _, err := user.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("quo")}); err != nil {
		t.Fatal(err)
	}
	quota := func(c string, method, body string, want int) string {
		t.Helper()
		req, _ := http.NewRequest(method, h.url+"/quo?quota", strings.NewReader(body))
		req.ContentLength = int64(len(body))
		ak, sk := testAK, testSecret
		if c == "user" {
			ak, sk = "quser", "quser-secret"
		}
		sigv4.SignHeader(req, ak, sk, "us-east-1", sigv4.UnsignedPayload, time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s ?quota: %d %s, want %d", c, method, resp.StatusCode, b, want)
		}
		return string(b)
	}
	quota("user", http.MethodPut, `{"max_size_bytes": 1}`, 403)
	quota("root", http.MethodGet, "", 404)
	quota("root", http.MethodPut, `{}`, 400)
	quota("root", http.MethodPut, `{"max_size_bytes": 20000, "max_objects": 3}`, 200)

	putN := func(c *s3.Client, key string, n int) error {
		_, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("quo"), Key: aws.String(key), Body: bytes.NewReader(make([]byte, n))})
		return err
	}
	ok(t, "within the quota", putN(user, "a", 8000))
	if err := putN(user, "b", 16000); code(err) != "XMinioAdminBucketQuotaExceeded" || httpStatus(err) != 400 {
		t.Fatalf("past the space limit: %v", err)
	}
	if err := head(h.root, "quo", "b"); code(err) != "NotFound" {
		t.Errorf("a refused PUT left an object: %v", err)
	}
	// A multipart upload: a part the quota cannot take even alone is
	// refused at once; one that fits then, but not once the bucket filled
	// up, when the upload completes.
	mp, err := user.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("quo"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = user.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("quo"), Key: aws.String("mp"), UploadId: mp.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(make([]byte, 15000))})
	if code(err) != "XMinioAdminBucketQuotaExceeded" {
		t.Fatalf("a part larger than the room left: %v", err)
	}
	part, err := user.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("quo"), Key: aws.String("mp"), UploadId: mp.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(make([]byte, 8000))})
	if err != nil {
		t.Fatal(err)
	}
	ok(t, "filling up", putN(user, "fill", 8000))
	_, err = user.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("quo"), Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	if code(err) != "XMinioAdminBucketQuotaExceeded" {
		t.Fatalf("a multipart upload past the quota: %v", err)
	}
	if _, err := user.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("quo"), Key: aws.String("fill")}); err != nil {
		t.Fatal(err)
	}
	ok(t, "small ones", putN(user, "c", 10))
	ok(t, "small ones", putN(user, "d", 10))
	if err := putN(user, "e", 10); code(err) != "XMinioAdminBucketQuotaExceeded" {
		t.Fatalf("past the object limit: %v", err)
	}
	var doc struct {
		Quota struct {
			MaxSizeBytes uint64 `json:"max_size_bytes"`
			MaxObjects   uint64 `json:"max_objects"`
		} `json:"quota"`
		Usage struct{ Bytes, Objects uint64 } `json:"usage"`
	}
	if err := json.Unmarshal([]byte(quota("root", http.MethodGet, "", 200)), &doc); err != nil || doc.Usage.Objects != 3 || doc.Usage.Bytes != 8192+2*4096 {
		t.Fatalf("usage: %+v %v", doc, err)
	}
	// A PUT whose Content-Length the quota cannot take is refused before
	// its body is read: this one never sends it.
	req, _ := http.NewRequest(http.MethodPut, h.url+"/quo/huge", nil)
	req.ContentLength = 1 << 30
	sigv4.SignHeader(req, "quser", "quser-secret", "us-east-1", sigv4.UnsignedPayload, time.Now())
	conn, err := net.Dial("tcp", req.URL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The headers go, no body byte does.
	fmt.Fprintf(conn, "PUT /quo/huge HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.Host, req.ContentLength)
	for k, vs := range req.Header {
		fmt.Fprintf(conn, "%s: %s\r\n", k, vs[0])
	}
	fmt.Fprintf(conn, "\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(answer), "XMinioAdminBucketQuotaExceeded") {
		t.Fatalf("a 1 GiB PUT into a full bucket: %d %s", resp.StatusCode, answer)
	}

	// Deleting frees exactly what the object held.
	if _, err := user.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("quo"), Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	ok(t, "after a delete", putN(user, "b", 8000))

	// Noncurrent versions stay charged to the bucket.
	quota("root", http.MethodPut, `{"max_size_bytes": 40000}`, 200)
	if _, err := user.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: aws.String("quo"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	ok(t, "a version", putN(user, "b", 16000))
	if err := putN(user, "b", 16000); code(err) != "XMinioAdminBucketQuotaExceeded" {
		t.Fatalf("versions past the quota: %v", err)
	}

	// Through the volume, as a mount writes: EDQUOT.
	b, err := h.vfs.Lookup(bg, posix.Root, posix.RootIno, "quo")
	if err != nil {
		t.Fatal(err)
	}
	fh, _, err := h.vfs.Create(bg, posix.Root, b.Ino, "fromfs", 0o644, syscall.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := h.vfs.Write(bg, fh, make([]byte, 64<<10), 0)
	ferr := h.vfs.Flush(bg, fh)
	h.vfs.Release(bg, fh)
	if e := errors.Join(werr, ferr); !errors.Is(e, syscall.EDQUOT) {
		t.Errorf("a file write past the quota: %v, want EDQUOT", e)
	}
	quota("root", http.MethodDelete, "", 204)
	quota("root", http.MethodGet, "", 404)
	ok(t, "without a quota", putN(user, "big", 64000))
}

func head(c *s3.Client, bucket, key string) error {
	_, err := c.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err
}
