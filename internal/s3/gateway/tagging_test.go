package gateway_test

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/tags"
)

func tagMap(ts []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func tagSet(kv ...string) []types.Tag {
	var ts []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		ts = append(ts, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return ts
}

func (h *harness) objectTags(t *testing.T, b, k string) map[string]string {
	t.Helper()
	out, err := h.s3.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: &b, Key: &k})
	if err != nil {
		t.Fatalf("GetObjectTagging %s: %v", k, err)
	}
	return tagMap(out.TagSet)
}

// Object tags: on PUT, by PutObjectTagging, counted on GET and HEAD,
// copied or replaced by CopyObject, kept through multipart uploads, and
// AWS's limits.
func TestObjectTagging(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "tagb")
	_, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("tagb"), Key: aws.String("a"),
		Body: strings.NewReader("x"), Tagging: aws.String("project=cairn&team=storage%20core")})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.objectTags(t, "tagb", "a"); len(got) != 2 || got["project"] != "cairn" || got["team"] != "storage core" {
		t.Fatalf("tags after PUT: %v", got)
	}
	head, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("tagb"), Key: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	_, gout, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("tagb"), Key: aws.String("a")})
	if err != nil || aws.ToInt32(gout.TagCount) != 2 {
		t.Fatalf("GET tag count: %v %v", gout, err)
	}
	_ = head

	// Replace, then delete.
	if _, err := h.s3.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: aws.String("tagb"), Key: aws.String("a"),
		Tagging: &types.Tagging{TagSet: tagSet("k", "v")}}); err != nil {
		t.Fatal(err)
	}
	if got := h.objectTags(t, "tagb", "a"); len(got) != 1 || got["k"] != "v" {
		t.Fatalf("tags after PutObjectTagging: %v", got)
	}
	// The object itself is unchanged.
	if body, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("tagb"), Key: aws.String("a")}); err != nil || body != "x" {
		t.Fatalf("body after tagging: %q %v", body, err)
	}

	// Copy: the source's tags by default, the request's with REPLACE.
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("tagb"), Key: aws.String("c1"), CopySource: aws.String("tagb/a")}); err != nil {
		t.Fatal(err)
	}
	if got := h.objectTags(t, "tagb", "c1"); got["k"] != "v" || len(got) != 1 {
		t.Fatalf("copied tags: %v", got)
	}
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("tagb"), Key: aws.String("c2"), CopySource: aws.String("tagb/a"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("new=1")}); err != nil {
		t.Fatal(err)
	}
	if got := h.objectTags(t, "tagb", "c2"); got["new"] != "1" || len(got) != 1 {
		t.Fatalf("replaced tags: %v", got)
	}

	if _, err := h.s3.DeleteObjectTagging(bg, &s3.DeleteObjectTaggingInput{Bucket: aws.String("tagb"), Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	if got := h.objectTags(t, "tagb", "a"); len(got) != 0 {
		t.Fatalf("tags after delete: %v", got)
	}
	head, err = h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("tagb"), Key: aws.String("a")})
	if err != nil || head.ETag == nil {
		t.Fatal(err)
	}

	// Limits: 10 tags, keys of 128 and values of 256 characters, no key
	// twice, no aws: keys.
	var ten, eleven []types.Tag
	for i := range 11 {
		tg := types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
		if i < 10 {
			ten = append(ten, tg)
		}
		eleven = append(eleven, tg)
	}
	bad := map[string][]types.Tag{
		"eleven":    eleven,
		"long key":  tagSet(strings.Repeat("k", 129), "v"),
		"long val":  tagSet("k", strings.Repeat("v", 257)),
		"twice":     tagSet("k", "1", "k", "2"),
		"aws:":      tagSet("aws:x", "1"),
		"bad chars": tagSet("k", "a<b"),
	}
	for name, ts := range bad {
		_, err := h.s3.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: aws.String("tagb"), Key: aws.String("a"), Tagging: &types.Tagging{TagSet: ts}})
		if code(err) != "InvalidTag" {
			t.Errorf("%s: %v, want InvalidTag", name, err)
		}
	}
	if got := h.objectTags(t, "tagb", "a"); len(got) != 0 {
		t.Fatalf("a refused tagging changed the tags: %v", got)
	}
	_, err = h.s3.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: aws.String("tagb"), Key: aws.String("a"), Tagging: &types.Tagging{TagSet: tagSet("aws:x", "1")}})
	if msg := err.Error(); !strings.Contains(msg, `the tag key "aws:x" is in the reserved aws: namespace`) || strings.Contains(msg, "s3fs") {
		t.Errorf("InvalidTag message: %s", msg)
	}
	max := []types.Tag{{Key: aws.String(strings.Repeat("k", 128)), Value: aws.String(strings.Repeat("é", 256))}}
	for name, ts := range map[string][]types.Tag{"ten": ten, "longest": max} {
		if _, err := h.s3.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: aws.String("tagb"), Key: aws.String("a"), Tagging: &types.Tagging{TagSet: ts}}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("tagb"), Key: aws.String("b"), Body: strings.NewReader("x"), Tagging: aws.String("a=1&a=2")})
	if code(err) != "InvalidArgument" {
		t.Fatalf("PUT with a key twice in x-amz-tagging: %v", err)
	}
	if _, err := h.s3.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: aws.String("tagb"), Key: aws.String("missing")}); code(err) != "NoSuchKey" {
		t.Fatalf("tags of a missing key: %v", err)
	}
	if _, err := h.s3.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: aws.String("tagb"), Key: aws.String("a"), VersionId: aws.String("0123456789abcdef01234567")}); code(err) != "NoSuchVersion" {
		t.Fatalf("tags of an unknown version: %v", err)
	}

	// Multipart: the tags given at creation, on the completed object.
	up, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("tagb"), Key: aws.String("mp"), Tagging: aws.String("mp=yes")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("tagb"), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("tagb"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	if got := h.objectTags(t, "tagb", "mp"); got["mp"] != "yes" {
		t.Fatalf("multipart tags: %v", got)
	}

	// minio-go (mc tag set|list|remove use these calls).
	ot, err := tags.NewTags(map[string]string{"via": "minio-go"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.mc.PutObjectTagging(bg, "tagb", "c1", ot, minio.PutObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := h.mc.GetObjectTagging(bg, "tagb", "c1", minio.GetObjectTaggingOptions{})
	if err != nil || got.ToMap()["via"] != "minio-go" {
		t.Fatalf("minio-go tags: %v %v", got, err)
	}
	if err := h.mc.RemoveObjectTagging(bg, "tagb", "c1", minio.RemoveObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Bucket tags: NoSuchTagSet until set, up to 50, removed by delete.
func TestBucketTagging(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "btags")
	if _, err := h.s3.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: aws.String("btags")}); code(err) != "NoSuchTagSet" {
		t.Fatalf("untagged bucket: %v", err)
	}
	var fifty []types.Tag
	for i := range 50 {
		fifty = append(fifty, types.Tag{Key: aws.String(fmt.Sprintf("k%02d", i)), Value: aws.String("v")})
	}
	if _, err := h.s3.PutBucketTagging(bg, &s3.PutBucketTaggingInput{Bucket: aws.String("btags"), Tagging: &types.Tagging{TagSet: fifty}}); err != nil {
		t.Fatal(err)
	}
	out, err := h.s3.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: aws.String("btags")})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for _, tg := range out.TagSet {
		keys = append(keys, aws.ToString(tg.Key))
	}
	sort.Strings(keys)
	if len(keys) != 50 || keys[0] != "k00" || keys[49] != "k49" {
		t.Fatalf("bucket tags: %v", keys)
	}
	fifty = append(fifty, types.Tag{Key: aws.String("k50"), Value: aws.String("v")})
	if _, err := h.s3.PutBucketTagging(bg, &s3.PutBucketTaggingInput{Bucket: aws.String("btags"), Tagging: &types.Tagging{TagSet: fifty}}); code(err) != "InvalidTag" {
		t.Fatalf("51 bucket tags: %v", err)
	}
	if _, err := h.s3.DeleteBucketTagging(bg, &s3.DeleteBucketTaggingInput{Bucket: aws.String("btags")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: aws.String("btags")}); code(err) != "NoSuchTagSet" {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := h.s3.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: aws.String("nob")}); code(err) != "NoSuchBucket" {
		t.Fatalf("missing bucket: %v", err)
	}
}
