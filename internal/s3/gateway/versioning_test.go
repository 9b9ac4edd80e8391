package gateway_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// versionsOf lists every version and delete marker of bucket in the
// order of the ListObjectVersions XML as "key@version[*][D]" (* latest,
// D delete marker), paging with max-keys n and the key and version-id
// markers.
func (h *harness) versionsOf(t *testing.T, bucket string, n int) []string {
	t.Helper()
	var out []string
	q := url.Values{"versions": {""}, "max-keys": {fmt.Sprint(n)}}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("ListObjectVersions does not end")
		}
		resp, body := h.do(t, true, http.MethodGet, "/"+bucket+"?"+q.Encode(), nil, "")
		if resp.StatusCode != 200 {
			t.Fatalf("ListObjectVersions: %d %s", resp.StatusCode, body)
		}
		var res struct {
			IsTruncated         bool
			NextKeyMarker       string
			NextVersionIdMarker string
			Entries             []struct {
				XMLName   xml.Name
				Key       string
				VersionId string
				IsLatest  bool
			} `xml:",any"`
		}
		if err := xml.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, e := range res.Entries {
			if e.XMLName.Local != "Version" && e.XMLName.Local != "DeleteMarker" {
				continue
			}
			s := e.Key + "@" + e.VersionId
			if e.IsLatest {
				s += "*"
			}
			if e.XMLName.Local == "DeleteMarker" {
				s += "D"
			}
			out = append(out, s)
			got++
		}
		if got > n {
			t.Fatalf("page of %d entries for max-keys %d", got, n)
		}
		if !res.IsTruncated {
			return out
		}
		q.Set("key-marker", res.NextKeyMarker)
		q.Set("version-id-marker", res.NextVersionIdMarker)
	}
}

func (h *harness) getVersion(t *testing.T, b, k, v string) (string, error) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(k)}
	if v != "" {
		in.VersionId = aws.String(v)
	}
	body, _, err := h.get(t, in)
	return body, err
}

// TestVersioning: the life of a key in a versioned bucket — versions
// kept on overwrite (small and large PUTs, copies, multipart), read by
// id, delete markers and undelete, deleting the current version brings
// back the previous one, suspended versioning's null version, listings
// and their markers, version-specific tags, and a bucket that is not
// empty while it has versions.
func TestVersioning(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "ver")
	b := aws.String("ver")
	if out := h.put(t, "ver", "k", "v0"); out.VersionId != nil {
		t.Fatalf("version id before versioning: %q", *out.VersionId)
	}
	st, err := h.s3.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: b})
	if err != nil || st.Status != "" {
		t.Fatalf("versioning before: %+v %v", st, err)
	}
	_, err = h.s3.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: "Sideways"}})
	if code(err) != "MalformedXML" {
		t.Fatalf("bad status: %v", err)
	}
	if _, err := h.s3.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.s3.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: b}); st.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning: %+v", st)
	}
	v1 := aws.ToString(h.put(t, "ver", "k", "v1").VersionId)
	v2 := aws.ToString(h.put(t, "ver", "k", "v2").VersionId)
	if len(v1) != 24 || len(v2) != 24 || v1 == v2 {
		t.Fatalf("version ids %q %q", v1, v2)
	}
	want := []string{"k@" + v2 + "*", "k@" + v1, "k@null"}
	for _, n := range []int{1000, 1, 2} {
		if got := h.versionsOf(t, "ver", n); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("versions (max-keys %d): %v, want %v", n, got, want)
		}
	}
	for v, body := range map[string]string{"": "v2", v2: "v2", v1: "v1", "null": "v0"} {
		if got, err := h.getVersion(t, "ver", "k", v); err != nil || got != body {
			t.Fatalf("GET version %q: %q %v", v, got, err)
		}
	}
	hd, err := h.s3.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1)})
	if err != nil || aws.ToString(hd.VersionId) != v1 || aws.ToInt64(hd.ContentLength) != 2 {
		t.Fatalf("HEAD v1: %+v %v", hd, err)
	}
	if _, err := h.getVersion(t, "ver", "k", "0123456789abcdef01234567"); code(err) != "NoSuchVersion" {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := h.getVersion(t, "ver", "k", "not-a-version"); code(err) != "InvalidArgument" {
		t.Fatalf("malformed version: %v", err)
	}

	// A delete adds a marker; the key is gone from listings and GET.
	del, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || len(aws.ToString(del.VersionId)) != 24 {
		t.Fatalf("delete: %+v %v", del, err)
	}
	m1 := *del.VersionId
	if got := h.keys(t, "ver"); len(got) != 0 {
		t.Fatalf("keys after delete: %v", got)
	}
	resp, _ := h.do(t, true, http.MethodGet, "/ver/k", nil, "")
	if resp.StatusCode != 404 || resp.Header.Get("x-amz-delete-marker") != "true" || resp.Header.Get("x-amz-version-id") != m1 {
		t.Fatalf("GET after delete: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = h.do(t, true, http.MethodHead, "/ver/k?versionId="+m1, nil, "")
	if resp.StatusCode != 405 || resp.Header.Get("x-amz-delete-marker") != "true" {
		t.Fatalf("HEAD of a delete marker: %d %v", resp.StatusCode, resp.Header)
	}
	want = []string{"k@" + m1 + "*D", "k@" + v2, "k@" + v1, "k@null"}
	got := h.versionsOf(t, "ver", 1000)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("versions after delete: %v", got)
	}
	// Deleting the marker undeletes; deleting the current version brings
	// back the one before it.
	del, err = h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(m1)})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) != m1 {
		t.Fatalf("delete marker: %+v %v", del, err)
	}
	if body, err := h.getVersion(t, "ver", "k", ""); body != "v2" || err != nil {
		t.Fatalf("after undelete: %q %v", body, err)
	}
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	if body, err := h.getVersion(t, "ver", "k", ""); body != "v1" || err != nil {
		t.Fatalf("after deleting the current version: %q %v", body, err)
	}
	if got := h.versionsOf(t, "ver", 1000); strings.Join(got, " ") != "k@"+v1+"* k@null" {
		t.Fatalf("versions: %v", got)
	}

	// Tags of one version.
	if _, err := h.s3.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String("null"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("old"), Value: aws.String("yes")}}}}); err != nil {
		t.Fatal(err)
	}
	tg, err := h.s3.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String("null")})
	if err != nil || len(tg.TagSet) != 1 || aws.ToString(tg.VersionId) != "null" {
		t.Fatalf("tags of the null version: %+v %v", tg, err)
	}
	if tg, _ := h.s3.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k")}); len(tg.TagSet) != 0 {
		t.Fatalf("the current version got the tags: %+v", tg.TagSet)
	}

	// Copy from an old version; the copy is a new version of its key.
	cp, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("ver/k?versionId=null")})
	if err != nil || len(aws.ToString(cp.VersionId)) != 24 || aws.ToString(cp.CopySourceVersionId) != "null" {
		t.Fatalf("copy of the null version: %+v %v", cp, err)
	}
	if body, _ := h.getVersion(t, "ver", "copy", ""); body != "v0" {
		t.Fatalf("copy: %q", body)
	}
	// Restoring an old version by copying it onto its own key.
	if _, err := h.s3.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("k"), CopySource: aws.String("ver/k?versionId=null")}); err != nil {
		t.Fatalf("restore by copy: %v", err)
	}
	if body, _ := h.getVersion(t, "ver", "k", ""); body != "v0" {
		t.Fatalf("restored: %q", body)
	}

	// Large objects (the streamed path) and multipart keep versions too.
	big1, big2 := bytes.Repeat([]byte("a"), 3<<20), bytes.Repeat([]byte("b"), 3<<20)
	var bigIDs []string
	for _, body := range [][]byte{big1, big2} {
		out, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("dir/big"), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		bigIDs = append(bigIDs, aws.ToString(out.VersionId))
	}
	up, err := h.s3.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("dir/big")})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := h.s3.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("dir/big"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("mp")})
	if err != nil {
		t.Fatal(err)
	}
	done, err := h.s3.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("dir/big"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: pt.ETag, PartNumber: aws.Int32(1)}}}})
	if err != nil || len(aws.ToString(done.VersionId)) != 24 {
		t.Fatalf("complete: %+v %v", done, err)
	}
	for v, body := range map[string][]byte{bigIDs[0]: big1, bigIDs[1]: big2, *done.VersionId: []byte("mp")} {
		if got, err := h.getVersion(t, "ver", "dir/big", v); err != nil || got != string(body) {
			t.Fatalf("big version %s: %d bytes, %v", v, len(got), err)
		}
	}

	// Suspended: new writes are the null version, which replaces the
	// previous null version wherever it is; other versions stay.
	if _, err := h.s3.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}); err != nil {
		t.Fatal(err)
	}
	if out := h.put(t, "ver", "k", "s1"); out.VersionId != nil {
		t.Fatalf("suspended PUT answered version %q", *out.VersionId)
	}
	got = h.versionsOf(t, "ver", 1000)
	var kv []string
	for _, v := range got {
		if strings.HasPrefix(v, "k@") {
			kv = append(kv, v)
		}
	}
	if len(kv) != 3 || kv[0] != "k@null*" || strings.Contains(strings.Join(kv[1:], " "), "null") {
		t.Fatalf("versions of k after a suspended PUT: %v", kv)
	}
	if body, _ := h.getVersion(t, "ver", "k", "null"); body != "s1" {
		t.Fatalf("null version: %q", body)
	}
	del, err = h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) != "null" {
		t.Fatalf("suspended delete: %+v %v", del, err)
	}

	// A bucket with versions is not empty; DeleteObjects with version ids
	// empties it (as S3 tools do), then it can go.
	if _, err := h.s3.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: b}); code(err) != "BucketNotEmpty" {
		t.Fatalf("delete bucket with versions: %v", err)
	}
	all, err := h.s3.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	var ids []types.ObjectIdentifier
	for _, v := range all.Versions {
		ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	for _, v := range all.DeleteMarkers {
		ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	dr, err := h.s3.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: ids}})
	if err != nil || len(dr.Errors) != 0 || len(dr.Deleted) != len(ids) {
		t.Fatalf("DeleteObjects of versions: %+v %v", dr, err)
	}
	if got := h.versionsOf(t, "ver", 1000); len(got) != 0 {
		t.Fatalf("versions left: %v", got)
	}
	if _, err := h.s3.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatalf("delete emptied bucket: %v", err)
	}
	// Nothing is left of the versions in the volume.
	if e, err := h.vfs.Lookup(bg, posix.Root, posix.RootIno, ".cairn"); err == nil {
		if v, err := h.vfs.Lookup(bg, posix.Root, e.Ino, "versions"); err == nil {
			ents, _ := h.vfs.ReadDir(bg, posix.Root, v.Ino, vfs.ReadDirOptions{Limit: 100, SkipPerm: true})
			if len(ents) != 0 {
				t.Fatalf("versions tree left behind: %+v", ents)
			}
		}
	}
}

// TestListObjectVersionsOrder: keys that are prefixes of each other,
// directories and delimiters list in S3's byte order with their versions,
// and every page size gives the same listing.
func TestListObjectVersionsOrder(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "ord")
	if _, err := h.s3.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: aws.String("ord"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "a-b", "a.x", "a0", "b/c", "b/c.d", "b-c", "b/d/e", "c..d", "c.d"}
	for round := 0; round < 2; round++ {
		for _, k := range keys {
			h.put(t, "ord", strings.Replace(k, "a", "a", 1), fmt.Sprintf("%s-%d", k, round))
		}
	}
	// One key only noncurrent (deleted), one only in a directory that went.
	if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("ord"), Key: aws.String("b/d/e")}); err != nil {
		t.Fatal(err)
	}
	full := h.versionsOf(t, "ord", 1000)
	var order []string
	for _, v := range full {
		k, _, _ := strings.Cut(v, "@")
		if len(order) == 0 || order[len(order)-1] != k {
			order = append(order, k)
		}
	}
	if strings.Join(order, " ") != "a a-b a.x a0 b-c b/c b/c.d b/d/e c..d c.d" {
		t.Fatalf("key order: %v", order)
	}
	if len(full) != 21 {
		t.Fatalf("%d versions: %v", len(full), full)
	}
	for _, n := range []int{1, 2, 3, 7} {
		if got := h.versionsOf(t, "ord", n); strings.Join(got, " ") != strings.Join(full, " ") {
			t.Fatalf("max-keys %d: %v\nwant %v", n, got, full)
		}
	}
	res, err := h.s3.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: aws.String("ord"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CommonPrefixes) != 1 || aws.ToString(res.CommonPrefixes[0].Prefix) != "b/" {
		t.Fatalf("common prefixes: %+v", res.CommonPrefixes)
	}
	res, err = h.s3.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: aws.String("ord"), Prefix: aws.String("b/d/")})
	if err != nil || len(res.Versions) != 2 || len(res.DeleteMarkers) != 1 {
		t.Fatalf("prefix b/d/: %+v %v", res, err)
	}
	// minio-go's versions listing agrees.
	n := 0
	for o := range h.mc.ListObjects(bg, "ord", minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != 21 {
		t.Fatalf("minio-go listed %d versions", n)
	}
}

// TestVersioningConcurrent: concurrent overwrites keep every version, and
// concurrent deletes of all versions leave none.
func TestVersioningConcurrent(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "conc")
	if _, err := h.s3.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: aws.String("conc"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("conc"), Key: aws.String("k"), Body: strings.NewReader(fmt.Sprint(i))})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		vs := h.versionsOf(t, "conc", 1000)
		if len(vs) != 8 {
			t.Fatalf("round %d: %d versions after 8 concurrent PUTs: %v", round, len(vs), vs)
		}
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, v := range vs {
					k, id, _ := strings.Cut(strings.TrimSuffix(v, "*"), "@")
					if _, err := h.s3.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("conc"), Key: aws.String(k), VersionId: aws.String(id)}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if left := h.versionsOf(t, "conc", 1000); len(left) != 0 {
			t.Fatalf("round %d: versions left: %v", round, left)
		}
	}
}
