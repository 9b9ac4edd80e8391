package gateway_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/s3/s3fs"
	"cairn/internal/s3/sigv4"
)

// raw sends a signed request with the given body and headers.
func (h *harness) raw(t *testing.T, method, path string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	r, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	sigv4.SignHeader(r, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// What the conformance suite found in operations that exist: 304s carry
// the ETag, bytes=-0 is unsatisfiable, keys are UTF-8, user metadata is
// bounded, and a DeleteObjects list whose digest is wrong deletes nothing.
func TestConformanceDetails(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "conf")
	out := h.put(t, "conf", "k", "hello")

	// 304 with ETag and Last-Modified, on GET and HEAD.
	for _, m := range []string{"GET", "HEAD"} {
		resp := h.raw(t, m, "/conf/k", nil, map[string]string{"If-None-Match": aws.ToString(out.ETag)})
		if resp.StatusCode != 304 || resp.Header.Get("ETag") != aws.ToString(out.ETag) || resp.Header.Get("Last-Modified") == "" {
			t.Errorf("%s If-None-Match: %d ETag %q Last-Modified %q", m, resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"))
		}
	}

	// bytes=-0 asks for no byte: 416.
	if resp := h.raw(t, "GET", "/conf/k", nil, map[string]string{"Range": "bytes=-0"}); resp.StatusCode != 416 {
		t.Errorf("bytes=-0: %d", resp.StatusCode)
	}
	if resp := h.raw(t, "GET", "/conf/k", nil, map[string]string{"Range": "bytes=-2"}); resp.StatusCode != 206 {
		t.Errorf("bytes=-2: %d", resp.StatusCode)
	}

	// A key that is not UTF-8 is refused and stores nothing.
	if resp := h.raw(t, "PUT", "/conf/bad%FFkey", []byte("x"), nil); resp.StatusCode != 400 {
		t.Errorf("non-UTF-8 key: %d", resp.StatusCode)
	}

	// User metadata: 2 KiB of names and values at most.
	meta := func(n int) map[string]string { return map[string]string{"a": strings.Repeat("v", n)} }
	if _, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("conf"), Key: aws.String("m1"), Body: strings.NewReader("x"), Metadata: meta(2047)}); err != nil {
		t.Errorf("2 KiB of metadata: %v", err)
	}
	if _, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("conf"), Key: aws.String("m2"), Body: strings.NewReader("x"), Metadata: meta(2048)}); code(err) != "MetadataTooLarge" {
		t.Errorf("2 KiB + 1 of metadata: %v", err)
	}

	// DeleteObjects with a wrong Content-MD5 deletes nothing.
	list := []byte(`<Delete><Object><Key>k</Key></Object></Delete>`)
	wrong := md5.Sum([]byte("something else"))
	resp := h.raw(t, "POST", "/conf?delete", list, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(wrong[:])})
	if resp.StatusCode != 400 {
		t.Errorf("DeleteObjects with a wrong Content-MD5: %d", resp.StatusCode)
	}
	resp = h.raw(t, "POST", "/conf?delete", list, map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="})
	if resp.StatusCode != 400 {
		t.Errorf("DeleteObjects with a wrong CRC32: %d", resp.StatusCode)
	}
	if body, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("conf"), Key: aws.String("k")}); err != nil || body != "hello" {
		t.Fatalf("the key went with a wrong digest: %q %v", body, err)
	}
	right := md5.Sum(list)
	resp = h.raw(t, "POST", "/conf?delete", list, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(right[:])})
	if resp.StatusCode != 200 {
		t.Errorf("DeleteObjects with the right Content-MD5: %d", resp.StatusCode)
	}
	if _, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("conf"), Key: aws.String("k")}); code(err) != "NoSuchKey" {
		t.Fatalf("the key is still there: %v", err)
	}
}

// GetObjectAttributes: the attributes asked for, parts paged by marker.
func TestGetObjectAttributes(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "attrs")
	all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts,
		types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}
	put, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("attrs"), Key: aws.String("one"), Body: strings.NewReader("foo"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	a, err := h.s3.GetObjectAttributes(bg, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("one"), ObjectAttributes: all})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(a.ObjectSize) != 3 || "\""+aws.ToString(a.ETag)+"\"" != aws.ToString(put.ETag) || a.StorageClass != types.StorageClassStandard ||
		a.ObjectParts != nil || a.Checksum == nil || aws.ToString(a.Checksum.ChecksumSHA256) != aws.ToString(put.ChecksumSHA256) {
		t.Fatalf("attributes of a plain object: %+v", a)
	}
	only, err := h.s3.GetObjectAttributes(bg, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("one"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}})
	if err != nil || only.ETag != nil || aws.ToInt64(only.ObjectSize) != 3 {
		t.Fatalf("size alone: %+v %v", only, err)
	}

	// A multipart object of four parts, paged two at a time after part 1.
	up, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	sizes := []int{s3fs.MinPartSize, s3fs.MinPartSize, s3fs.MinPartSize, 100}
	for i, n := range sizes {
		p, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("attrs"), Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(make([]byte, n))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: p.ETag})
	}
	if _, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("mp"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	m, err := h.s3.GetObjectAttributes(bg, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("mp"), ObjectAttributes: all,
		MaxParts: aws.Int32(2), PartNumberMarker: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	op := m.ObjectParts
	if op == nil || aws.ToInt32(op.TotalPartsCount) != 4 || !aws.ToBool(op.IsTruncated) || len(op.Parts) != 2 ||
		aws.ToInt32(op.Parts[0].PartNumber) != 2 || aws.ToInt64(op.Parts[1].Size) != int64(s3fs.MinPartSize) || aws.ToString(op.NextPartNumberMarker) != "3" {
		t.Fatalf("parts: %+v", op)
	}
	if op.Parts[0].ChecksumSHA256 != nil {
		t.Fatalf("a part checksum for an upload without an algorithm: %+v", op.Parts[0])
	}

	// An upload with an algorithm: each part's own checksum is listed.
	up2, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("ck"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	var parts2 []types.CompletedPart
	var sums []string
	for i, n := range []int{s3fs.MinPartSize, 10} {
		p, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("attrs"), Key: aws.String("ck"), UploadId: up2.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, n)), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, aws.ToString(p.ChecksumSHA256))
		parts2 = append(parts2, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: p.ETag, ChecksumSHA256: p.ChecksumSHA256})
	}
	done, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("ck"),
		UploadId: up2.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts2}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.s3.GetObjectAttributes(bg, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("ck"), ObjectAttributes: all})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(c.Checksum.ChecksumSHA256) != aws.ToString(done.ChecksumSHA256) || len(c.ObjectParts.Parts) != 2 ||
		aws.ToString(c.ObjectParts.Parts[0].ChecksumSHA256) != sums[0] || aws.ToString(c.ObjectParts.Parts[1].ChecksumSHA256) != sums[1] || sums[0] == "" {
		t.Fatalf("checksums: %+v %+v, parts %v, whole %v", c.Checksum, c.ObjectParts.Parts, sums, aws.ToString(done.ChecksumSHA256))
	}
	if _, err := h.s3.GetObjectAttributes(bg, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("missing"), ObjectAttributes: all}); code(err) != "NoSuchKey" {
		t.Fatalf("missing key: %v", err)
	}
}
