package gateway_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// postForm POSTs fields (in order) and a file as multipart/form-data.
func postForm(t *testing.T, url string, fields [][2]string, filename string, file []byte) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		w.WriteField(f[0], f[1])
	}
	fw, _ := w.CreateFormFile("file", filename)
	fw.Write(file)
	w.WriteField("after-the-file", "ignored")
	w.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Post(url, w.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPostObject: browser form uploads signed with SigV4 (minio-go's
// presigned POST policy) and SigV2; the policy's conditions, expiry and
// size range; the success status and redirect; anonymous forms allowed
// only by a bucket policy.
func TestPostObject(t *testing.T) {
	h := newIAMHarness(t)
	if _, err := h.root.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("forms")}); err != nil {
		t.Fatal(err)
	}
	mc, err := minio.New(strings.TrimPrefix(h.url, "http://"), &minio.Options{Creds: mcreds.NewStaticV4(testAK, testSecret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	keys := func() string {
		out, err := h.root.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("forms")})
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, o := range out.Contents {
			ks = append(ks, *o.Key)
		}
		return strings.Join(ks, ",")
	}
	p := minio.NewPostPolicy()
	p.SetBucket("forms")
	p.SetKeyStartsWith("uploads/")
	p.SetExpires(time.Now().Add(time.Hour))
	p.SetContentLengthRange(1, 100)
	p.SetContentType("text/plain")
	p.SetUserMetadata("origin", "form")
	u, data, err := mc.PresignedPostPolicy(bg, p)
	if err != nil {
		t.Fatal(err)
	}
	form := func(key string, extra ...[2]string) [][2]string {
		var fs [][2]string
		for k, v := range data {
			if k != "key" {
				fs = append(fs, [2]string{k, v})
			}
		}
		return append(append(fs, [2]string{"key", key}), extra...)
	}
	resp, body := postForm(t, u.String(), form("uploads/${filename}"), "hello.txt", []byte("hi there"))
	if resp.StatusCode != 204 || resp.Header.Get("ETag") == "" {
		t.Fatalf("SigV4 POST: %d %s", resp.StatusCode, body)
	}
	hd, err := h.root.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String("uploads/hello.txt")})
	if err != nil || aws.ToInt64(hd.ContentLength) != 8 || aws.ToString(hd.ContentType) != "text/plain" || hd.Metadata["origin"] != "form" {
		t.Fatalf("the posted object: %+v %v", hd, err)
	}
	if got, err := h.getAs(h.root, "forms", "uploads/hello.txt", ""); err != nil || got != "hi there" {
		t.Fatalf("the posted object's body: %q %v", got, err)
	}
	// Conditions: a key outside the prefix, a file too large, an extra
	// field; nothing is stored.
	for _, c := range []struct {
		key    string
		file   string
		extra  [][2]string
		status int
		code   string
	}{
		{"other/x", "x", nil, 403, "AccessDenied"},
		{"uploads/big", strings.Repeat("x", 101), nil, 400, "EntityTooLarge"},
		{"uploads/empty", "", nil, 400, "EntityTooSmall"},
		{"uploads/extra", "x", [][2]string{{"x-amz-meta-sneaky", "1"}}, 403, "AccessDenied"},
	} {
		resp, body := postForm(t, u.String(), append(form(c.key), c.extra...), "f", []byte(c.file))
		if resp.StatusCode != c.status || !strings.Contains(body, "<Code>"+c.code+"</Code>") {
			t.Fatalf("POST %s: %d %s, want %d %s", c.key, resp.StatusCode, body, c.status, c.code)
		}
	}
	if got := keys(); got != "uploads/hello.txt" {
		t.Fatalf("refused forms stored objects: %v", got)
	}

	// A checksum field is checked against the file (and needs no
	// condition).
	resp, body = postForm(t, u.String(), form("uploads/sum", [2]string{"x-amz-checksum-sha256", "wrong"}), "s", []byte("sum"))
	if resp.StatusCode != 400 {
		t.Fatalf("POST with a wrong checksum: %d %s", resp.StatusCode, body)
	}
	resp, body = postForm(t, u.String(), form("uploads/sum", [2]string{"x-amz-checksum-sha256", "CfX/7ygwmFMmXEqY0OVuG+UitrQC2Bk1lP0FEDBk/Go="}), "s", []byte("sum"))
	if resp.StatusCode != 204 {
		t.Fatalf("POST with its checksum: %d %s", resp.StatusCode, body)
	}

	// SigV2: signature = base64(HMAC-SHA1(secret, policy)); a 201 answers
	// XML, a redirect 303.
	pol := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`{"expiration":%q,"conditions":[{"bucket":"forms"},["starts-with","$key","v2/"],{"success_action_status":"201"},["starts-with","$success_action_redirect",""]]}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))))
	m := hmac.New(sha1.New, []byte(testSecret))
	m.Write([]byte(pol))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	v2 := [][2]string{{"key", "v2/a"}, {"AWSAccessKeyId", testAK}, {"policy", pol}, {"signature", sig}, {"success_action_status", "201"}}
	resp, body = postForm(t, h.url+"/forms", v2, "a", []byte("v2 body"))
	if resp.StatusCode != 201 || !strings.Contains(body, "<Key>v2/a</Key>") {
		t.Fatalf("SigV2 POST: %d %s", resp.StatusCode, body)
	}
	v2[3][1] = base64.StdEncoding.EncodeToString([]byte("not the signature"))
	if resp, body := postForm(t, h.url+"/forms", v2, "a", []byte("x")); resp.StatusCode != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Fatalf("bad signature: %d %s", resp.StatusCode, body)
	}
	v2[3][1] = sig
	v2 = append(v2, [2]string{"success_action_redirect", "http://example.com/done?x=1"})
	v2[0][1] = "v2/b"
	// A redirect wins over the success status, as on AWS.
	resp, _ = postForm(t, h.url+"/forms", v2, "b", []byte("b"))
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "http://example.com/done?") ||
		!strings.Contains(resp.Header.Get("Location"), "key=v2%2Fb") {
		t.Fatalf("redirect: %d %v", resp.StatusCode, resp.Header)
	}
	// An expired policy.
	old := base64.StdEncoding.EncodeToString([]byte(`{"expiration":"2020-01-01T00:00:00Z","conditions":[{"bucket":"forms"}]}`))
	m = hmac.New(sha1.New, []byte(testSecret))
	m.Write([]byte(old))
	resp, body = postForm(t, h.url+"/forms", [][2]string{{"key", "late"}, {"AWSAccessKeyId", testAK}, {"policy", old},
		{"signature", base64.StdEncoding.EncodeToString(m.Sum(nil))}}, "l", []byte("l"))
	if resp.StatusCode != 403 || !strings.Contains(body, "expired") {
		t.Fatalf("expired policy: %d %s", resp.StatusCode, body)
	}

	// Anonymous: refused, until a bucket policy allows PutObject.
	if resp, _ := postForm(t, h.url+"/forms", [][2]string{{"key", "anon"}}, "n", []byte("n")); resp.StatusCode != 403 {
		t.Fatalf("anonymous POST: %d", resp.StatusCode)
	}
	if _, err := h.root.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("forms"), Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::forms/drop/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if resp, body := postForm(t, h.url+"/forms", [][2]string{{"key", "drop/anon"}}, "n", []byte("anonymous")); resp.StatusCode != 204 {
		t.Fatalf("anonymous POST under a bucket policy: %d %s", resp.StatusCode, body)
	}
	if resp, _ := postForm(t, h.url+"/forms", [][2]string{{"key", "elsewhere"}}, "n", []byte("n")); resp.StatusCode != 403 {
		t.Fatalf("anonymous POST outside the policy: %d", resp.StatusCode)
	}
	// Not a form.
	resp2, err := http.Post(h.url+"/forms", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 400 {
		t.Fatalf("POST of a non-form: %d", resp2.StatusCode)
	}
}
