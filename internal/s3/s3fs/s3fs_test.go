package s3fs_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object/mem"
	"cairn/internal/posix"
	"cairn/internal/s3/s3fs"
	"cairn/internal/vfs"
)

func newFS(t *testing.T) (*s3fs.FS, *vfs.FS) {
	t.Helper()
	ctx := context.Background()
	store := memkv.New()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "test", Storage: "mem", EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := chunk.New(mem.New(), chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	t.Cleanup(func() {
		v.Close()
		c.Close()
		m.Close()
		store.Close()
	})
	return s3fs.New(v, s3fs.Options{}), v
}

var root = posix.Root

func put(t *testing.T, f *s3fs.FS, bucket, key, body string) s3fs.ObjectInfo {
	t.Helper()
	oi, err := f.PutObject(context.Background(), root, bucket, key, strings.NewReader(body), s3fs.PutOptions{Size: int64(len(body))})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return oi
}

func get(t *testing.T, f *s3fs.FS, bucket, key string, opt s3fs.GetOptions) (string, error) {
	t.Helper()
	o, err := f.GetObject(context.Background(), root, bucket, key, opt)
	if err != nil {
		return "", err
	}
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	return string(b), err
}

func TestPutGetDelete(t *testing.T) {
	f, _ := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	if err := f.CreateBucket(ctx, root, "bkt"); !errors.Is(err, s3fs.ErrBucketExists) {
		t.Fatalf("second create: %v", err)
	}
	oi := put(t, f, "bkt", "dir/sub/file.txt", "hello world")
	if oi.ETag != `"5eb63bbbe01eeed093cb22bb8f5acdc3"` {
		t.Fatalf("etag %s", oi.ETag)
	}
	got, err := get(t, f, "bkt", "dir/sub/file.txt", s3fs.GetOptions{})
	if err != nil || got != "hello world" {
		t.Fatalf("get: %q %v", got, err)
	}
	got, err = get(t, f, "bkt", "dir/sub/file.txt", s3fs.GetOptions{Range: &s3fs.Range{Start: -5}})
	if err != nil || got != "world" {
		t.Fatalf("suffix range: %q %v", got, err)
	}
	if _, err := get(t, f, "bkt", "dir/sub", s3fs.GetOptions{}); !errors.Is(err, s3fs.ErrNoSuchKey) {
		t.Fatalf("get of a prefix: %v", err)
	}
	// A key that is also a prefix (folded: see TestFolded).
	put(t, f, "bkt", "dir/sub", "x")
	if got, err := get(t, f, "bkt", "dir/sub", s3fs.GetOptions{}); err != nil || got != "x" {
		t.Fatalf("get of a key that is also a prefix: %q %v", got, err)
	}
	if err := f.DeleteObject(ctx, root, "bkt", "dir/sub"); err != nil {
		t.Fatal(err)
	}
	// Small PUTs resolve the key's directories in their own transaction:
	// into an existing prefix, a new one, through an object, into no
	// bucket, and through a directory the caller may not search.
	put(t, f, "bkt", "dir/sub/two.txt", "2")
	put(t, f, "bkt", "dir/new/deeper/three.txt", "3")
	if got, err := get(t, f, "bkt", "dir/new/deeper/three.txt", s3fs.GetOptions{}); err != nil || got != "3" {
		t.Fatalf("get from a new prefix: %q %v", got, err)
	}
	put(t, f, "bkt", "dir/sub/file.txt/x", "below")
	if got, err := get(t, f, "bkt", "dir/sub/file.txt", s3fs.GetOptions{}); err != nil || got != "hello world" {
		t.Fatalf("an object a key was put below: %q %v", got, err)
	}
	if err := f.DeleteObject(ctx, root, "bkt", "dir/sub/file.txt/x"); err != nil {
		t.Fatal(err)
	}
	if got, err := get(t, f, "bkt", "dir/sub/file.txt", s3fs.GetOptions{}); err != nil || got != "hello world" {
		t.Fatalf("the object unfolded: %q %v", got, err)
	}
	if _, err := f.PutObject(ctx, root, "nobkt", "a/b", strings.NewReader("x"), s3fs.PutOptions{Size: 1}); !errors.Is(err, s3fs.ErrNoSuchBucket) {
		t.Fatalf("put into a missing bucket: %v", err)
	}
	if _, err := f.PutObject(ctx, posix.Cred{UID: 4242, GID: 4242}, "bkt", "dir/sub/theirs", strings.NewReader("x"), s3fs.PutOptions{Size: 1}); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("put by a stranger into root's 0755 directory: %v", err)
	}
	for _, k := range []string{"dir/sub/two.txt", "dir/new/deeper/three.txt"} {
		if err := f.DeleteObject(ctx, root, "bkt", k); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"a/../b", "a//b", "/a", "./a", strings.Repeat("k", 1025)} {
		if _, err := f.PutObject(ctx, root, "bkt", bad, strings.NewReader("x"), s3fs.PutOptions{Size: 1}); err == nil {
			t.Errorf("put %q: no error", bad)
		}
	}
	if err := f.DeleteBucket(ctx, root, "bkt"); !errors.Is(err, s3fs.ErrBucketNotEmpty) {
		t.Fatalf("delete non-empty bucket: %v", err)
	}
	if err := f.DeleteObject(ctx, root, "bkt", "dir/sub/file.txt"); err != nil {
		t.Fatal(err)
	}
	res, err := f.ListObjects(ctx, root, "bkt", s3fs.ListOptions{})
	if err != nil || len(res.Objects)+len(res.CommonPrefixes) != 0 {
		t.Fatalf("after delete: %+v %v (empty implicit directories must go)", res, err)
	}
	if err := f.DeleteBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedBodyStoresNothing(t *testing.T) {
	f, _ := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	put(t, f, "bkt", "k", "old")
	_, err := f.PutObject(ctx, root, "bkt", "k", strings.NewReader("new but short"), s3fs.PutOptions{Size: 100})
	if !errors.Is(err, s3fs.ErrIncompleteBody) {
		t.Fatalf("short body: %v", err)
	}
	_, err = f.PutObject(ctx, root, "bkt", "k", strings.NewReader("abc"), s3fs.PutOptions{Size: 3, ContentMD5: bytes.Repeat([]byte{1}, 16)})
	if !errors.Is(err, s3fs.ErrBadDigest) {
		t.Fatalf("bad md5: %v", err)
	}
	_, err = f.PutObject(ctx, root, "bkt", "k", strings.NewReader("abc"), s3fs.PutOptions{Size: 3, Expect: s3fs.Checksums{CRC32: "AAAAAA=="}})
	if !errors.Is(err, s3fs.ErrChecksumMismatch) {
		t.Fatalf("bad crc32: %v", err)
	}
	if got, err := get(t, f, "bkt", "k", s3fs.GetOptions{}); got != "old" || err != nil {
		t.Fatalf("object after failed puts: %q %v", got, err)
	}
}

func TestChecksums(t *testing.T) {
	f, _ := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	oi, err := f.PutObject(ctx, root, "bkt", "k", strings.NewReader("123456789"), s3fs.PutOptions{Size: 9,
		Compute: []string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}})
	if err != nil {
		t.Fatal(err)
	}
	// Check values: CRC-32 0xCBF43926, CRC-32C 0xE3069283, CRC-64/NVME 0xAE8B14860A799888.
	want := s3fs.Checksums{CRC32: "y/Q5Jg==", CRC32C: "4waSgw==", CRC64NVME: "rosUhgp5mIg=",
		SHA1: "98O8HYCOBHMq32eZZczDTKeuNEE=", SHA256: "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=", Type: "FULL_OBJECT"}
	if oi.Checksums != want {
		t.Fatalf("checksums\n got %+v\nwant %+v", oi.Checksums, want)
	}
}

func TestMultipartByReference(t *testing.T) {
	f, _ := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	id, err := f.CreateMultipartUpload(ctx, root, "bkt", "big", s3fs.PutOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	p1 := make([]byte, s3fs.MinPartSize+123)
	p2 := make([]byte, 1000)
	rng.Read(p1)
	rng.Read(p2)
	a, err := f.UploadPart(ctx, root, "bkt", "big", id, 1, bytes.NewReader(p1), s3fs.PutOptions{Size: int64(len(p1))})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.UploadPart(ctx, root, "bkt", "big", id, 2, bytes.NewReader(p2), s3fs.PutOptions{Size: int64(len(p2))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.CompleteMultipartUpload(ctx, root, "bkt", "big", id, []s3fs.CompletePart{{Number: 2, ETag: b.ETag}, {Number: 1, ETag: a.ETag}}, s3fs.PutOptions{}); !errors.Is(err, s3fs.ErrInvalidPartOrder) {
		t.Fatalf("wrong order: %v", err)
	}
	oi, err := f.CompleteMultipartUpload(ctx, root, "bkt", "big", id, []s3fs.CompletePart{{Number: 1, ETag: a.ETag}, {Number: 2, ETag: b.ETag}}, s3fs.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(oi.ETag, `-2"`) || oi.Size != int64(len(p1)+len(p2)) {
		t.Fatalf("completed %+v", oi)
	}
	got, err := get(t, f, "bkt", "big", s3fs.GetOptions{})
	if err != nil || got != string(p1)+string(p2) {
		t.Fatalf("content differs: %v", err)
	}
	got, err = get(t, f, "bkt", "big", s3fs.GetOptions{PartNumber: 2})
	if err != nil || got != string(p2) {
		t.Fatalf("part 2 differs: %v", err)
	}
	if err := f.AbortMultipartUpload(ctx, root, "bkt", "big", id); !errors.Is(err, s3fs.ErrNoSuchUpload) {
		t.Fatalf("abort after complete: %v", err)
	}
}

// TestListingOrderMatchesS3 compares listings with a model: the sorted key
// list, with tricky names whose order differs between path order and key
// order ("a-b" < "a/x" < "a0").
func TestListingOrderMatchesS3(t *testing.T) {
	f, _ := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "a-b", "a.txt", "a/x", "a/y/z", "a!/q", "a0", "b/c/d/e", "b/c/d-", "b/c/d.", "b/c0",
		"c ", "c/ ", "c/!", "d/", "d/e", "z"}
	// "a" cannot be both a file and a prefix: drop the file.
	keys = keys[1:]
	for _, k := range keys {
		body := "v:" + k
		if strings.HasSuffix(k, "/") {
			body = "" // a directory marker holds no data
		}
		put(t, f, "bkt", k, body)
	}
	sort.Strings(keys)
	for _, prefix := range []string{"", "a", "a/", "b/c/", "b/c/d", "c", "d/", "zz"} {
		for _, delim := range []string{"", "/", "c"} {
			for _, maxKeys := range []int{1, 2, 3, 1000} {
				name := fmt.Sprintf("prefix=%q,delim=%q,max=%d", prefix, delim, maxKeys)
				want := model(keys, prefix, delim)
				got := listAll(t, f, "bkt", prefix, delim, maxKeys)
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s\n got %q\nwant %q", name, got, want)
				}
			}
		}
	}
}

// model lists keys (sorted) as S3 would: keys and common prefixes, merged
// in order.
func model(keys []string, prefix, delim string) []string {
	var out []string
	last := ""
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if cp != last {
					out = append(out, "P:"+cp)
					last = cp
				}
				continue
			}
		}
		out = append(out, "K:"+k)
	}
	return out
}

func listAll(t *testing.T, f *s3fs.FS, bucket, prefix, delim string, maxKeys int) []string {
	t.Helper()
	var out []string
	after := ""
	for i := 0; i < 100; i++ {
		res, err := f.ListObjects(context.Background(), root, bucket, s3fs.ListOptions{Prefix: prefix, Delimiter: delim, StartAfter: after, MaxKeys: maxKeys})
		if err != nil {
			t.Fatal(err)
		}
		// Merge this page's keys and prefixes in order.
		var page []string
		for _, o := range res.Objects {
			page = append(page, "K:"+o.Key)
		}
		for _, p := range res.CommonPrefixes {
			page = append(page, "P:"+p)
		}
		sort.Slice(page, func(i, j int) bool { return page[i][2:] < page[j][2:] })
		out = append(out, page...)
		if len(page) > maxKeys {
			t.Fatalf("page of %d entries with max-keys %d", len(page), maxKeys)
		}
		if !res.IsTruncated {
			return out
		}
		after = res.NextMarker
	}
	t.Fatal("listing did not end")
	return nil
}

func TestPermissionsApplyToS3(t *testing.T) {
	f, v := newFS(t)
	ctx := context.Background()
	alice := posix.Cred{UID: 1000, GID: 1000}
	bob := posix.Cred{UID: 2000, GID: 2000}
	if err := f.CreateBucket(ctx, alice, "shared"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutObject(ctx, alice, "shared", "secret", strings.NewReader("s"), s3fs.PutOptions{Size: 1, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetObject(ctx, bob, "shared", "secret", s3fs.GetOptions{}); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("bob reads alice's 0600 object: %v", err)
	}
	if _, err := f.PutObject(ctx, bob, "shared", "x", strings.NewReader("x"), s3fs.PutOptions{Size: 1}); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("bob writes into alice's 0755 bucket: %v", err)
	}
	_ = v
}

// TestLargeETags checks the MD5 ETag of bodies on both hashing paths
// (crypto/md5 below 1 MiB, the shared md5-simd server above), with known
// and unknown sizes and several uploads at once sharing the server.
func TestLargeETags(t *testing.T) {
	f, _ := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 1<<20 - 1, 1 << 20, 3<<20 + 17, 9 << 20}
	errs := make(chan error, 2*len(sizes))
	for i, n := range sizes {
		for _, known := range []bool{true, false} {
			go func() {
				data := make([]byte, n)
				rand.New(rand.NewSource(int64(i))).Read(data)
				size := int64(n)
				if !known {
					size = -1
				}
				key := fmt.Sprintf("o-%d-%v", n, known)
				oi, err := f.PutObject(ctx, root, "bkt", key, bytes.NewReader(data), s3fs.PutOptions{Size: size})
				if err == nil && oi.ETag != fmt.Sprintf(`"%x"`, md5.Sum(data)) {
					err = fmt.Errorf("%s: etag %s, want %x", key, oi.ETag, md5.Sum(data))
				}
				errs <- err
			}()
		}
	}
	for range 2 * len(sizes) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := s3fs.LargeMD5s(); n != 0 {
		t.Errorf("%d large-body hashers still counted after every upload ended", n)
	}
}

// TestListingReadAhead: the page after a truncated page is computed in the
// background and served when asked for, unless anything changed meanwhile
// — through this FS (an S3 PUT) or around it (a file created directly in
// the volume, as a mount would).
func TestListingReadAhead(t *testing.T) {
	f, v := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i += 2 {
		put(t, f, "bkt", fmt.Sprintf("k%02d", i), "x")
	}
	page := func(after string) s3fs.ListResult { return listPage(t, f, after) }
	settle := func() { time.Sleep(50 * time.Millisecond) } // let the read-ahead finish
	// Unchanged: page 2 comes from the read-ahead.
	p1 := page("")
	settle()
	hits := f.AheadHits()
	if p2 := page(p1.NextMarker); pageKeys(p2) != "k10,k12,k14,k16,k18" || f.AheadHits() != hits+1 {
		t.Fatalf("page 2 %q, read-ahead hits %d -> %d", pageKeys(p2), hits, f.AheadHits())
	}
	// A PUT through this FS between the pages.
	p1 = page("")
	settle()
	put(t, f, "bkt", "k11", "new")
	if p2 := page(p1.NextMarker); pageKeys(p2) != "k10,k11,k12,k14,k16" {
		t.Fatalf("page 2 after a PUT: %q", pageKeys(p2))
	}
	// A file created in the volume directly (a mount's write).
	p1 = page("")
	settle()
	b, err := v.Lookup(ctx, root, posix.RootIno, "bkt")
	if err != nil {
		t.Fatal(err)
	}
	fh, _, err := v.Create(ctx, root, b.Ino, "k13", 0o644, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	v.Release(ctx, fh)
	if p2 := page(p1.NextMarker); pageKeys(p2) != "k10,k11,k12,k13,k14" {
		t.Fatalf("page 2 after a file was created around the FS: %q", pageKeys(p2))
	}
	// A change of S3 metadata alone (a directory marker over other keys
	// deleted: only its marker attribute goes) must not be missed either.
	put(t, f, "bkt", "k09/", "")
	put(t, f, "bkt", "k09/x", "x")
	p1 = page("")
	settle()
	if err := f.DeleteObject(ctx, root, "bkt", "k09/"); err != nil {
		t.Fatal(err)
	}
	if p2 := page(p1.NextMarker); pageKeys(p2) != "k09/x,k10,k11,k12,k13" {
		t.Fatalf("page 2 after a marker was deleted: %q", pageKeys(p2))
	}
}

// A listing page reads a directory only as far as the page needs, in
// several reads when entries do not all become keys (directories, whose
// keys come from below): every page size still lists every key once, in
// order.
func TestListingShortDirectoryReads(t *testing.T) {
	f, _ := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 150 {
		k := fmt.Sprintf("p/%03d", i)
		if i%7 == 0 { // a directory instead of a file, holding two keys
			keys = append(keys, k+"/a", k+"/b")
		} else {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		put(t, f, "bkt", k, "v")
	}
	sort.Strings(keys)
	for _, delim := range []string{"", "/"} {
		for _, maxKeys := range []int{2, 7, 31, 32, 33, 100, 1000} {
			want := model(keys, "p/", delim)
			got := listAll(t, f, "bkt", "p/", delim, maxKeys)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("delim=%q max=%d\n got %q\nwant %q", delim, maxKeys, got, want)
			}
		}
	}
}

// DeleteObjects removes keys concurrently but answers for each key in
// the order asked, missing and invalid keys included.
func TestDeleteObjectsOutcomes(t *testing.T) {
	f, _ := newFS(t)
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 100 {
		k := fmt.Sprintf("d%d/k%03d", i%5, i)
		put(t, f, "bkt", k, "v")
		keys = append(keys, k)
	}
	// Markers and the keys below them: a marker "m/s/" lies in "m", as
	// "m/x" does, and "m/s/y" in "m/s".
	for _, k := range []string{"m/", "m/x", "m/s/", "m/s/y"} {
		body := "v"
		if strings.HasSuffix(k, "/") {
			body = ""
		}
		put(t, f, "bkt", k, body)
		keys = append(keys, k)
	}
	// One directory of more keys than one metadata transaction takes,
	// with a key twice.
	for i := range 300 {
		k := fmt.Sprintf("big/k%03d", i)
		put(t, f, "bkt", k, "v")
		keys = append(keys, k)
	}
	keys = append(keys, "big/k007", "missing", "", "nodir/a/b", "d0/k000/deeper")
	// Someone who may not write the directories: every key refused,
	// nothing gone.
	stranger := posix.Cred{UID: 4242, GID: 4242}
	for i, err := range f.DeleteObjects(ctx, stranger, "bkt", keys[:5]) {
		if !errors.Is(err, syscall.EACCES) {
			t.Fatalf("stranger deleting %q: %v", keys[i], err)
		}
	}
	if got := listAll(t, f, "bkt", "", "", 1000); len(got) != 404 {
		t.Fatalf("%d keys left after refused deletes, want 404", len(got))
	}
	errs := f.DeleteObjects(ctx, root, "bkt", keys)
	if len(errs) != len(keys) {
		t.Fatalf("%d outcomes for %d keys", len(errs), len(keys))
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("%q: %v", keys[i], err)
		}
	}
	if got := listAll(t, f, "bkt", "", "", 1000); len(got) != 0 {
		t.Fatalf("left: %q", got)
	}
	if errs := f.DeleteObjects(ctx, root, "nobkt", []string{"a", "b"}); !errors.Is(errs[0], s3fs.ErrNoSuchBucket) || !errors.Is(errs[1], s3fs.ErrNoSuchBucket) {
		t.Fatalf("missing bucket: %v", errs)
	}
}

// The modes of what S3 creates are configurable, and applied exactly
// (no umask), on the small and the staged (large, copied, multipart)
// paths alike; the creator owns it.
func TestConfiguredModes(t *testing.T) {
	_, v := newFS(t)
	f := s3fs.New(v, s3fs.Options{FileMode: 0o664, DirMode: 0o2775})
	ctx := context.Background()
	alice := posix.Cred{UID: 10000, GID: 10000}
	if err := f.CreateBucket(ctx, alice, "modes"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutObject(ctx, alice, "modes", "d/small", strings.NewReader("x"), s3fs.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("y", 2<<20)
	if _, err := f.PutObject(ctx, alice, "modes", "d/big", strings.NewReader(big), s3fs.PutOptions{Size: int64(len(big))}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CopyObject(ctx, alice, "modes", "d/big", "modes", "d/copy", s3fs.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := v.Lookup(ctx, root, posix.RootIno, "modes")
	if err != nil {
		t.Fatal(err)
	}
	d, err := v.Lookup(ctx, root, b.Ino, "d")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]posix.Attr{"bucket": b.Attr, "d/": d.Attr} {
		if got.Mode&0o7777 != 0o2775 || got.UID != alice.UID {
			t.Errorf("%s: mode %o owner %d", name, got.Mode&0o7777, got.UID)
		}
	}
	for _, k := range []string{"small", "big", "copy"} {
		e, err := v.Lookup(ctx, root, d.Ino, k)
		if err != nil || e.Attr.Mode&0o7777 != 0o664 || e.Attr.UID != alice.UID {
			t.Errorf("%s: mode %o owner %d %v", k, e.Attr.Mode&0o7777, e.Attr.UID, err)
		}
	}
}

// A repeated CompleteMultipartUpload (an SDK retrying after a lost
// response) answers as the first did; the completed upload is gone from
// every other call, and its answer is dropped keepCompleted later.
func TestCompleteMultipartUploadRepeated(t *testing.T) {
	_, v := newFS(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f := s3fs.New(v, s3fs.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	id, err := f.CreateMultipartUpload(ctx, root, "bkt", "k", s3fs.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.UploadPart(ctx, root, "bkt", "k", id, 1, strings.NewReader("data"), s3fs.PutOptions{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	parts := []s3fs.CompletePart{{Number: 1, ETag: p.ETag}}
	first, err := f.CompleteMultipartUpload(ctx, root, "bkt", "k", id, parts, s3fs.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.CompleteMultipartUpload(ctx, root, "bkt", "k", id, parts, s3fs.PutOptions{})
	if err != nil || again.ETag != first.ETag || again.Size != first.Size {
		t.Fatalf("repeated complete: %+v %v, first %+v", again, err, first)
	}
	if _, err := f.UploadPart(ctx, root, "bkt", "k", id, 2, strings.NewReader("x"), s3fs.PutOptions{Size: 1}); !errors.Is(err, s3fs.ErrNoSuchUpload) {
		t.Fatalf("part of a completed upload: %v", err)
	}
	if _, err := f.ListParts(ctx, root, "bkt", "k", id, 0, 0); !errors.Is(err, s3fs.ErrNoSuchUpload) {
		t.Fatalf("parts of a completed upload: %v", err)
	}
	ups, err := f.ListMultipartUploads(ctx, root, "bkt", s3fs.ListUploadsOptions{})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("completed upload listed: %+v %v", ups, err)
	}
	if _, err := f.CompleteMultipartUpload(ctx, root, "bkt", "other", id, parts, s3fs.PutOptions{}); !errors.Is(err, s3fs.ErrNoSuchUpload) {
		t.Fatalf("complete of another key: %v", err)
	}
	if n, err := f.ReclaimCompletedUploads(ctx); err != nil || n != 0 {
		t.Fatalf("reclaimed a fresh answer: %d %v", n, err)
	}
	now = now.Add(2 * time.Hour)
	if n, err := f.ReclaimCompletedUploads(ctx); err != nil || n != 1 {
		t.Fatalf("reclaim: %d %v", n, err)
	}
	if _, err := f.CompleteMultipartUpload(ctx, root, "bkt", "k", id, parts, s3fs.PutOptions{}); !errors.Is(err, s3fs.ErrNoSuchUpload) {
		t.Fatalf("complete after the answer was dropped: %v", err)
	}
	if got, err := get(t, f, "bkt", "k", s3fs.GetOptions{}); err != nil || got != "data" {
		t.Fatalf("object: %q %v", got, err)
	}
}

// gatewayOn is one more gateway process over store: its own meta, vfs and
// caches.
func gatewayOn(t *testing.T, store kv.Store) *s3fs.FS {
	t.Helper()
	ctx := context.Background()
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := chunk.New(mem.New(), chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	t.Cleanup(func() {
		v.Close()
		c.Close()
		m.Close()
	})
	return s3fs.New(v, s3fs.Options{})
}

// TestListingReadAheadAcrossGateways: a page computed ahead by one gateway
// is not served after another gateway of the volume changed what it
// shows, S3 metadata alone included (a directory marker deleted over the
// keys under it, or put back over them): every S3 change records a
// publish record in the change feed, whose head the page is checked
// against.
func TestListingReadAheadAcrossGateways(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	defer store.Close()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "test", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	a, b := gatewayOn(t, store), gatewayOn(t, store)
	if err := a.CreateBucket(ctx, root, "bkt"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i += 2 {
		put(t, a, "bkt", fmt.Sprintf("k%02d", i), "x")
	}
	put(t, b, "bkt", "k09/", "")
	put(t, b, "bkt", "k09/x", "x")
	page := func(after string) s3fs.ListResult { return listPage(t, a, after) }
	settle := func() { time.Sleep(50 * time.Millisecond) } // let the read-ahead finish
	// Nothing changed: gateway a serves page 2 from its read-ahead.
	p1 := page("")
	settle()
	hits := a.AheadHits()
	if p2 := page(p1.NextMarker); pageKeys(p2) != "k09/,k09/x,k10,k12,k14" || a.AheadHits() != hits+1 {
		t.Fatalf("page 2 %q, read-ahead hits %d -> %d", pageKeys(p2), hits, a.AheadHits())
	}
	for _, c := range []struct {
		name   string
		change func() error
		want   string
	}{
		{"a marker deleted over keys", func() error { return b.DeleteObject(ctx, root, "bkt", "k09/") }, "k09/x,k10,k12,k14,k16"},
		{"a marker put over keys", func() error {
			_, err := b.PutObject(ctx, root, "bkt", "k09/", strings.NewReader(""), s3fs.PutOptions{})
			return err
		}, "k09/,k09/x,k10,k12,k14"},
		{"an object put", func() error {
			_, err := b.PutObject(ctx, root, "bkt", "k11", strings.NewReader("new"), s3fs.PutOptions{Size: 3})
			return err
		}, "k09/,k09/x,k10,k11,k12"},
		{"an object's metadata replaced in place", func() error {
			_, err := b.CopyObject(ctx, root, "bkt", "k12", "bkt", "k12", s3fs.CopyOptions{ReplaceMetadata: true, Put: s3fs.PutOptions{ContentType: "text/plain"}})
			return err
		}, "k09/,k09/x,k10,k11,k12"},
	} {
		p1 := page("")
		settle()
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		hits := a.AheadHits()
		p2 := page(p1.NextMarker)
		if pageKeys(p2) != c.want || a.AheadHits() != hits {
			t.Fatalf("%s through gateway b: gateway a's page 2 %q (want %q), read-ahead hits %d -> %d", c.name, pageKeys(p2), c.want, hits, a.AheadHits())
		}
	}
}

// pageKeys is a listing page's keys, comma-separated.
func pageKeys(r s3fs.ListResult) string {
	var ks []string
	for _, o := range r.Objects {
		ks = append(ks, o.Key)
	}
	return strings.Join(ks, ",")
}

// listPage lists five keys of bkt after after, as root.
func listPage(t *testing.T, f *s3fs.FS, after string) s3fs.ListResult {
	t.Helper()
	r, err := f.ListObjects(context.Background(), root, "bkt", s3fs.ListOptions{MaxKeys: 5, StartAfter: after})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
