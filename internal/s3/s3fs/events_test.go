package s3fs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cairn/internal/meta"
	"cairn/internal/s3/s3fs"
	"cairn/internal/vfs"
)

// publishes returns the publish records the feed gained after head, as
// "event bucket/key size etag vid" lines.
func publishes(t *testing.T, v *vfs.FS, head uint64) []string {
	t.Helper()
	recs, err := v.Meta().ReadFeed(context.Background(), head, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Op != meta.OpPublish {
			continue
		}
		p := r.S3
		out = append(out, fmt.Sprintf("%s %s/%s %d %s %s", p.Event, p.Bucket, p.Key, p.Size, p.ETag, p.VersionID))
	}
	return out
}

func feedHead(t *testing.T, v *vfs.FS) uint64 {
	t.Helper()
	h, err := v.Meta().FeedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestEventsRecorded: every S3 change records one publish record saying
// what it did, whichever path it takes (small and large PUTs, folded keys,
// markers, copies, multipart, deletes one by one and in bulk, delete
// markers and versions, tagging, buckets), and nothing more.
func TestEventsRecorded(t *testing.T) {
	ctx := context.Background()
	f, v := newFS(t)
	op := func(name string) context.Context {
		return vfs.WithOrigin(ctx, vfs.Origin{Agent: "s3", Op: name, Principal: "alice"})
	}
	check := func(t *testing.T, head uint64, want ...string) {
		t.Helper()
		got := publishes(t, v, head)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("publish records:\n got %q\nwant %q", got, want)
		}
	}
	h := feedHead(t, v)
	if err := f.CreateBucket(op("CreateBucket"), root, "bk1"); err != nil {
		t.Fatal(err)
	}
	check(t, h, "BucketCreated bk1/ 0  ")

	h = feedHead(t, v)
	small := put(t, f, "bk1", "dir/small", "hello")
	big := strings.Repeat("x", 2<<20)
	bigInfo, err := f.PutObject(op("PostObject"), root, "bk1", "big", strings.NewReader(big), s3fs.PutOptions{Size: int64(len(big))})
	if err != nil {
		t.Fatal(err)
	}
	marker, err := f.PutObject(op("PutObject"), root, "bk1", "dir/", strings.NewReader(""), s3fs.PutOptions{Size: 0})
	if err != nil {
		t.Fatal(err)
	}
	// A key that is also a prefix: folded.
	folded, err := f.PutObject(op("PutObject"), root, "bk1", "dir", strings.NewReader("f"), s3fs.PutOptions{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := f.CopyObject(op("CopyObject"), root, "bk1", "dir/small", "bk1", "copy", s3fs.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr := func(s string) string { return strings.Trim(s, `"`) }
	check(t, h,
		"ObjectCreated:Put bk1/dir/small 5 "+tr(small.ETag)+" ",
		"ObjectCreated:Post bk1/big 2097152 "+tr(bigInfo.ETag)+" ",
		"ObjectCreated:Put bk1/dir/ 0 "+tr(marker.ETag)+" ",
		"ObjectCreated:Put bk1/dir 1 "+tr(folded.ETag)+" ",
		"ObjectCreated:Copy bk1/copy 5 "+tr(cp.ETag)+" ")

	h = feedHead(t, v)
	id, err := f.CreateMultipartUpload(ctx, root, "bk1", "mp", s3fs.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := f.UploadPart(ctx, root, "bk1", "mp", id, 1, strings.NewReader("part"), s3fs.PutOptions{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := f.CompleteMultipartUpload(op("CompleteMultipartUpload"), root, "bk1", "mp", id, []s3fs.CompletePart{{Number: 1, ETag: p1.ETag}}, s3fs.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, h, "ObjectCreated:CompleteMultipartUpload bk1/mp 4 "+tr(mp.ETag)+" ")

	h = feedHead(t, v)
	if err := f.PutObjectTagging(ctx, root, "bk1", "mp", "", []s3fs.Tag{{Key: "k", Value: "v"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteObjectTagging(ctx, root, "bk1", "mp", ""); err != nil {
		t.Fatal(err)
	}
	check(t, h, "ObjectTagging:Put bk1/mp 0  ", "ObjectTagging:Delete bk1/mp 0  ")

	// Deletes: one (its emptied directories go without events), a missing
	// key (no change, no event), in bulk, a marker, a folded key.
	h = feedHead(t, v)
	if err := f.DeleteObject(ctx, root, "bk1", "mp"); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteObject(ctx, root, "bk1", "nothing"); err != nil {
		t.Fatal(err)
	}
	// The folded key first, while its directory still holds keys (in one
	// request, deleting the last key below it may unfold it meanwhile).
	for _, keys := range [][]string{{"copy", "nx", "dir", "big"}, {"dir/small", "dir/"}} {
		for i, err := range f.DeleteObjects(ctx, root, "bk1", keys) {
			if err != nil {
				t.Fatalf("DeleteObjects %s: %v", keys[i], err)
			}
		}
	}
	got := publishes(t, v, h)
	want := []string{"ObjectRemoved:Delete bk1/mp 0  ", "ObjectRemoved:Delete bk1/copy 0  ", "ObjectRemoved:Delete bk1/dir/small 0  ",
		"ObjectRemoved:Delete bk1/dir/ 0  ", "ObjectRemoved:Delete bk1/dir 0  ", "ObjectRemoved:Delete bk1/big 0  "}
	if len(got) != len(want) || got[0] != want[0] {
		t.Fatalf("deletes: got %q want %q (any order after the first)", got, want)
	}
	for _, w := range want[1:] {
		found := false
		for _, g := range got[1:] {
			found = found || g == w
		}
		if !found {
			t.Fatalf("deletes: %q missing from %q", w, got)
		}
	}

	// Versioning: a delete marker, then a version deleted for good.
	if err := f.PutBucketVersioning(ctx, root, "bk1", s3fs.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	h = feedHead(t, v)
	v1 := put(t, f, "bk1", "v", "one")
	dm, err := f.DeleteObjectVersion(ctx, root, "bk1", "v", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeleteObjectVersion(ctx, root, "bk1", "v", v1.VersionID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeleteObjectVersion(ctx, root, "bk1", "v", dm.VersionID, false); err != nil {
		t.Fatal(err)
	}
	check(t, h,
		"ObjectCreated:Put bk1/v 3 "+tr(v1.ETag)+" "+v1.VersionID,
		"ObjectRemoved:DeleteMarkerCreated bk1/v 0  "+dm.VersionID,
		"ObjectRemoved:Delete bk1/v 0  "+v1.VersionID,
		"ObjectRemoved:Delete bk1/v 0  "+dm.VersionID)

	// The bucket goes (versions first: suspend and it is empty).
	h = feedHead(t, v)
	if err := f.DeleteBucket(op("DeleteBucket"), root, "bk1"); err != nil {
		t.Fatal(err)
	}
	check(t, h, "BucketRemoved bk1/ 0  ")
}
