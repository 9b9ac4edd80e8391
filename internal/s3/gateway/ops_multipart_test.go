package gateway_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/s3/sigv4"
)

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
		if tc.alg == types.ChecksumAlgorithmSha256 {
			// A stated whole-object checksum that is not the parts' is
			// refused, and the upload stays to be completed.
			_, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key),
				UploadId: cr.UploadId, ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(s1[:])), MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
			if code(err) != "BadDigest" {
				t.Fatalf("a wrong whole-object checksum: %v", err)
			}
		}
		in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key),
			UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
		if tc.alg == types.ChecksumAlgorithmSha256 {
			in.ChecksumSHA256 = aws.String(strings.TrimSuffix(tc.want, "-2")) // the right one
		}
		co, err := h.s3.CompleteMultipartUpload(bg, in)
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
