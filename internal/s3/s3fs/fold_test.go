package s3fs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"cairn/internal/posix"
	"cairn/internal/s3/s3fs"
)

func listKeys(t *testing.T, f *s3fs.FS, bucket string, opt s3fs.ListOptions) ([]string, []string) {
	t.Helper()
	res, err := f.ListObjects(context.Background(), root, bucket, opt)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	return keys, res.CommonPrefixes
}

// Keys that are both an object and a prefix: either order of writing,
// reads, listings in S3's order with and without a delimiter, overwrites,
// deletes of either side, the mount's view (the directory holds the
// name; the object's file is whole in the fold), and the object taking
// its name back when the last key below it goes.
func TestFolded(t *testing.T) {
	ctx := context.Background()
	f, v := newFS(t)
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	want := func(key, body string) {
		t.Helper()
		if got, err := get(t, f, "bkt", key, s3fs.GetOptions{}); err != nil || got != body {
			t.Fatalf("get %s: %q %v, want %q", key, got, err, body)
		}
	}
	// Prefix first, then the object.
	put(t, f, "bkt", "a/b/c", "c")
	put(t, f, "bkt", "a/b", "b")
	put(t, f, "bkt", "a/b!", "bang")
	want("a/b", "b")
	want("a/b/c", "c")
	if keys, _ := listKeys(t, f, "bkt", s3fs.ListOptions{}); !slices.Equal(keys, []string{"a/b", "a/b!", "a/b/c"}) {
		t.Fatalf("listing: %q", keys)
	}
	if keys, cps := listKeys(t, f, "bkt", s3fs.ListOptions{Prefix: "a/", Delimiter: "/"}); !slices.Equal(keys, []string{"a/b", "a/b!"}) || !slices.Equal(cps, []string{"a/b/"}) {
		t.Fatalf("listing with a delimiter: %q %q", keys, cps)
	}
	if keys, _ := listKeys(t, f, "bkt", s3fs.ListOptions{StartAfter: "a/b"}); !slices.Equal(keys, []string{"a/b!", "a/b/c"}) {
		t.Fatalf("listing after the folded key: %q", keys)
	}
	if keys, _ := listKeys(t, f, "bkt", s3fs.ListOptions{Prefix: "a/b"}); !slices.Equal(keys, []string{"a/b", "a/b!", "a/b/c"}) {
		t.Fatalf("listing by a prefix that is the folded key: %q", keys)
	}
	oi := put(t, f, "bkt", "a/b", "b2")
	want("a/b", "b2")
	if oi.Size != 2 {
		t.Fatalf("overwrite: %+v", oi)
	}
	// The mount's view: a/b is the directory.
	b, _ := v.Lookup(ctx, root, posix.RootIno, "bkt")
	a, _ := v.Lookup(ctx, root, b.Ino, "a")
	ab, err := v.Lookup(ctx, root, a.Ino, "b")
	if err != nil || !ab.Attr.IsDir() {
		t.Fatalf("a/b on the file system: %+v %v", ab, err)
	}

	// Object first, then a key below it: the object folds, whole.
	put(t, f, "bkt", "x", "xx")
	x0, _ := v.Lookup(ctx, root, b.Ino, "x")
	put(t, f, "bkt", "x/y", "y")
	want("x", "xx")
	want("x/y", "y")
	if e, _ := v.Lookup(ctx, root, b.Ino, "x"); !e.Attr.IsDir() {
		t.Fatalf("x did not become a directory: %+v", e)
	}
	// ... and takes its name back, the same file, when x/y goes.
	if err := f.DeleteObject(ctx, root, "bkt", "x/y"); err != nil {
		t.Fatal(err)
	}
	if e, err := v.Lookup(ctx, root, b.Ino, "x"); err != nil || e.Ino != x0.Ino || e.Attr.IsDir() {
		t.Fatalf("x after the last key below it went: %+v %v (was inode %d)", e, err, x0.Ino)
	}
	want("x", "xx")

	// Deleting the folded object leaves the keys below it.
	if err := f.DeleteObject(ctx, root, "bkt", "a/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, f, "bkt", "a/b", s3fs.GetOptions{}); !errors.Is(err, s3fs.ErrNoSuchKey) {
		t.Fatalf("a deleted folded object: %v", err)
	}
	want("a/b/c", "c")
	if keys, _ := listKeys(t, f, "bkt", s3fs.ListOptions{Prefix: "a/b"}); !slices.Equal(keys, []string{"a/b!", "a/b/c"}) {
		t.Fatalf("listing after deleting the folded object: %q", keys)
	}
	// DeleteObjects reaches a folded object too; a marker "p/" over it
	// keeps it.
	put(t, f, "bkt", "p/q", "q")
	put(t, f, "bkt", "p", "p")
	put(t, f, "bkt", "p/", "")
	if err := f.DeleteObject(ctx, root, "bkt", "p/"); err != nil {
		t.Fatal(err)
	}
	want("p", "p")
	for _, e := range f.DeleteObjects(ctx, root, "bkt", []string{"p", "p/q"}) {
		if e != nil {
			t.Fatal(e)
		}
	}
	if keys, _ := listKeys(t, f, "bkt", s3fs.ListOptions{Prefix: "p"}); len(keys) != 0 {
		t.Fatalf("after DeleteObjects: %q", keys)
	}
	// Permissions are the folded file's own.
	stranger := posix.Cred{UID: 4242, GID: 4242}
	if _, err := f.PutObject(ctx, root, "bkt", "s/t", strings.NewReader("t"), s3fs.PutOptions{Size: 1, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutObject(ctx, root, "bkt", "s", strings.NewReader("secret"), s3fs.PutOptions{Size: 6, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetObject(ctx, stranger, "bkt", "s", s3fs.GetOptions{}); err == nil {
		t.Fatalf("a stranger read a 0600 folded object")
	}
	if _, err := f.PutObject(ctx, stranger, "bkt", "s", strings.NewReader("mine"), s3fs.PutOptions{Size: 4}); err == nil {
		t.Fatalf("a stranger replaced a folded object in root's directory")
	}
	if err := f.DeleteObject(ctx, stranger, "bkt", "s"); err == nil {
		t.Fatalf("a stranger deleted a folded object in root's directory")
	}
	want("s", "secret")
}

// A folded key's versions: kept, listed, deleted behind a marker and
// restored into the fold; the key unfolds when the keys below it are gone
// (their versions kept).
func TestFoldedVersions(t *testing.T) {
	ctx := context.Background()
	f, v := newFS(t)
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	if err := f.PutBucketVersioning(ctx, root, "bkt", s3fs.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	put(t, f, "bkt", "k/1", "one")
	v1 := put(t, f, "bkt", "k", "v1").VersionID
	v2 := put(t, f, "bkt", "k", "v2").VersionID
	want := func(key, vid, body string) {
		t.Helper()
		if got, err := get(t, f, "bkt", key, s3fs.GetOptions{VersionID: vid}); err != nil || got != body {
			t.Fatalf("get %s@%s: %q %v, want %q", key, vid, got, err, body)
		}
	}
	want("k", "", "v2")
	want("k", v1, "v1")
	res, err := f.ListObjectVersions(ctx, root, "bkt", s3fs.ListVersionsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Versions {
		got = append(got, o.Key+"@"+o.VersionID)
	}
	if !slices.Equal(got, []string{"k@" + v2, "k@" + v1, "k/1@" + res.Versions[2].VersionID}) {
		t.Fatalf("versions: %q", got)
	}
	// A delete marker hides it; deleting the marker brings it back.
	dm, err := f.DeleteObjectVersion(ctx, root, "bkt", "k", "", false)
	if err != nil || !dm.DeleteMarker {
		t.Fatalf("delete: %+v %v", dm, err)
	}
	if _, err := get(t, f, "bkt", "k", s3fs.GetOptions{}); !errors.Is(err, s3fs.ErrNoSuchKey) {
		t.Fatalf("behind a marker: %v", err)
	}
	want("k/1", "", "one")
	if _, err := f.DeleteObjectVersion(ctx, root, "bkt", "k", dm.VersionID, false); err != nil {
		t.Fatal(err)
	}
	want("k", "", "v2")
	// Deleting the current version promotes the previous one.
	if _, err := f.DeleteObjectVersion(ctx, root, "bkt", "k", v2, false); err != nil {
		t.Fatal(err)
	}
	want("k", "", "v1")
	// The key below goes behind a marker: k takes its name back.
	if _, err := f.DeleteObjectVersion(ctx, root, "bkt", "k/1", "", false); err != nil {
		t.Fatal(err)
	}
	b, _ := v.Lookup(ctx, root, posix.RootIno, "bkt")
	if e, err := v.Lookup(ctx, root, b.Ino, "k"); err != nil || e.Attr.IsDir() {
		t.Fatalf("k after the keys below it went: %+v %v", e, err)
	}
	want("k", "", "v1")
}

// rmdir on a mount knows nothing of folds: the folded object's file is
// left without its directory, and the temporary-file sweep reclaims it.
func TestFoldOrphanReclaimed(t *testing.T) {
	ctx := context.Background()
	f, v := newFS(t)
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	put(t, f, "bkt", "d", "object")
	put(t, f, "bkt", "d/e", "below")
	b, _ := v.Lookup(ctx, root, posix.RootIno, "bkt")
	d, _ := v.Lookup(ctx, root, b.Ino, "d")
	if err := v.Unlink(ctx, root, d.Ino, "e"); err != nil {
		t.Fatal(err)
	}
	if err := v.Rmdir(ctx, root, b.Ino, "d"); err != nil {
		t.Fatal(err)
	}
	n, err := f.ReclaimTemp(ctx)
	if err != nil || n != 1 {
		t.Fatalf("reclaimed %d: %v", n, err)
	}
	if n, err := f.ReclaimTemp(ctx); err != nil || n != 0 {
		t.Fatalf("reclaimed %d more: %v", n, err)
	}
}

// A key ending in "/" may hold bytes: its directory's marker describes
// them, and they live in the fold; GET, HEAD, listings, overwrite with
// nothing, delete, and the sweep of a directory removed on a mount.
func TestMarkerWithData(t *testing.T) {
	ctx := context.Background()
	f, v := newFS(t)
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	put(t, f, "bkt", "m/", "marker bytes")
	put(t, f, "bkt", "m/inner", "inner")
	if got, err := get(t, f, "bkt", "m/", s3fs.GetOptions{}); err != nil || got != "marker bytes" {
		t.Fatalf("get m/: %q %v", got, err)
	}
	if got, err := get(t, f, "bkt", "m/", s3fs.GetOptions{Range: &s3fs.Range{Start: -5}}); err != nil || got != "bytes" {
		t.Fatalf("a range of m/: %q %v", got, err)
	}
	oi, err := f.HeadObject(ctx, root, "bkt", "m/", s3fs.GetOptions{})
	if err != nil || oi.Size != 12 {
		t.Fatalf("head m/: %+v %v", oi, err)
	}
	res, err := f.ListObjects(ctx, root, "bkt", s3fs.ListOptions{})
	if err != nil || len(res.Objects) != 2 || res.Objects[0].Key != "m/" || res.Objects[0].Size != 12 || res.Objects[0].ETag != oi.ETag {
		t.Fatalf("listing: %+v %v", res.Objects, err)
	}
	// Overwritten with no bytes: a plain marker again.
	put(t, f, "bkt", "m/", "")
	if got, err := get(t, f, "bkt", "m/", s3fs.GetOptions{}); err != nil || got != "" {
		t.Fatalf("get of the emptied marker: %q %v", got, err)
	}
	put(t, f, "bkt", "m/", "again")
	if err := f.DeleteObject(ctx, root, "bkt", "m/"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, f, "bkt", "m/", s3fs.GetOptions{}); !errors.Is(err, s3fs.ErrNoSuchKey) {
		t.Fatalf("a deleted marker: %v", err)
	}
	if got, err := get(t, f, "bkt", "m/inner", s3fs.GetOptions{}); err != nil || got != "inner" {
		t.Fatalf("the key below: %q %v", got, err)
	}
	// The fold holds nothing more; a marker whose directory a mount
	// removes leaves its bytes to the sweep.
	put(t, f, "bkt", "n/", "n bytes")
	b, _ := v.Lookup(ctx, root, posix.RootIno, "bkt")
	if err := v.Rmdir(ctx, root, b.Ino, "n"); err != nil {
		t.Fatal(err)
	}
	if n, err := f.ReclaimTemp(ctx); err != nil || n != 1 {
		t.Fatalf("reclaimed %d: %v", n, err)
	}
}

// A folded key and the last key below it deleted at once (in one
// DeleteObjects, or two concurrent DeleteObject calls): whichever way the
// unfold and the delete of the folded object interleave, both keys are
// gone afterwards and nothing is left in the folds.
func TestFoldedDeleteRace(t *testing.T) {
	ctx := context.Background()
	f, _ := newFS(t)
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		put(t, f, "bkt", "k/x", "x")
		put(t, f, "bkt", "k", "k")
		if i%2 == 0 {
			for j, err := range f.DeleteObjects(ctx, root, "bkt", []string{"k/x", "k"}) {
				if err != nil {
					t.Fatalf("round %d: DeleteObjects key %d: %v", i, j, err)
				}
			}
		} else {
			errs := make(chan error, 2)
			for _, key := range []string{"k", "k/x"} {
				go func() { errs <- f.DeleteObject(ctx, root, "bkt", key) }()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatalf("round %d: DeleteObject: %v", i, err)
				}
			}
		}
		if keys, _ := listKeys(t, f, "bkt", s3fs.ListOptions{}); len(keys) != 0 {
			t.Fatalf("round %d: keys left after deleting both: %q", i, keys)
		}
		if _, err := get(t, f, "bkt", "k", s3fs.GetOptions{}); !errors.Is(err, s3fs.ErrNoSuchKey) {
			t.Fatalf("round %d: the folded key after its delete: %v", i, err)
		}
	}
}
