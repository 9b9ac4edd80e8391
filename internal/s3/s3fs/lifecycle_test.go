package s3fs_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object/mem"
	"cairn/internal/s3/s3fs"
	"cairn/internal/vfs"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openOn opens an FS (a client of its own) on the volume in store.
func openOn(t *testing.T, store kv.Store, obj *mem.Store, opt s3fs.Options) *s3fs.FS {
	t.Helper()
	m, err := meta.Open(context.Background(), store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := chunk.New(obj, chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	t.Cleanup(func() {
		v.Close()
		c.Close()
		m.Close()
	})
	return s3fs.New(v, opt)
}

func newVolume(t *testing.T) (kv.Store, *mem.Store) {
	t.Helper()
	store := memkv.New()
	if _, err := meta.FormatVolume(context.Background(), store, meta.Format{Name: "test", Storage: "mem", EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, mem.New()
}

func ip(n int) *int       { return &n }
func bp(b bool) *bool     { return &b }
func sp(s string) *string { return &s }

func keysOf(t *testing.T, f *s3fs.FS, bucket string) string {
	t.Helper()
	res, err := f.ListObjects(context.Background(), root, bucket, s3fs.ListOptions{MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, o := range res.Objects {
		ks = append(ks, o.Key)
	}
	return strings.Join(ks, " ")
}

// TestLifecycleRules: with a clock moved by hand, expiration by days and
// by tag and size filters, noncurrent versions kept to the newest one,
// expired delete markers removed, old uploads aborted, locked versions
// left alone — each only once its time has come.
func TestLifecycleRules(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	store, obj := newVolume(t)
	f := openOn(t, store, obj, s3fs.Options{Now: clock.now})
	day := 24 * time.Hour

	if err := f.CreateBucket(ctx, root, "plain"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tmp/a", "tmp/b", "keep/c", "big/small", "tagged/x", "tagged/y"} {
		put(t, f, "plain", k, "data")
	}
	put(t, f, "plain", "big/large", strings.Repeat("x", 100))
	if err := f.PutObjectTagging(ctx, root, "plain", "tagged/x", "", []s3fs.Tag{{Key: "class", Value: "scratch"}}); err != nil {
		t.Fatal(err)
	}
	up, err := f.CreateMultipartUpload(ctx, root, "plain", "tmp/upload", s3fs.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gt := int64(50)
	rules := []s3fs.LifecycleRule{
		{ID: "tmp", Status: "Enabled", Prefix: sp("tmp/"), Expiration: &s3fs.LifecycleExpiration{Days: ip(1)},
			AbortIncompleteMultipartUpload: &s3fs.AbortIncomplete{DaysAfterInitiation: ip(2)}},
		{ID: "big", Status: "Enabled", Filter: &s3fs.LifecycleFilter{And: &s3fs.LifecycleAnd{Prefix: sp("big/"), ObjectSizeGreaterThan: &gt}},
			Expiration: &s3fs.LifecycleExpiration{Days: ip(1)}},
		{ID: "tagged", Status: "Enabled", Filter: &s3fs.LifecycleFilter{Tag: &s3fs.Tag{Key: "class", Value: "scratch"}},
			Expiration: &s3fs.LifecycleExpiration{Days: ip(1)}},
		{ID: "off", Status: "Disabled", Prefix: sp("keep/"), Expiration: &s3fs.LifecycleExpiration{Days: ip(1)}},
	}
	if err := f.PutBucketLifecycle(ctx, root, "plain", rules); err != nil {
		t.Fatal(err)
	}
	// The expiry a HEAD announces: the midnight after a day.
	oi, _ := f.HeadObject(ctx, root, "plain", "tmp/a", s3fs.GetOptions{})
	if exp, id := f.ExpirationOf(ctx, "plain", oi); id != "tmp" || !exp.Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("expiration of tmp/a: %v %q", exp, id)
	}
	if st, _ := f.ApplyLifecycle(ctx, "plain"); st.Expired != 0 || st.UploadsAborted != 0 {
		t.Fatalf("nothing is due yet: %+v", st)
	}
	clock.add(day + 15*time.Hour) // past 2026-03-03 00:00
	st, err := f.ApplyLifecycle(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, f, "plain"); got != "big/small keep/c tagged/y" {
		t.Fatalf("after a day: %q (%+v)", got, st)
	}
	if st.Expired != 4 || st.UploadsAborted != 0 {
		t.Fatalf("stats after a day: %+v", st)
	}
	clock.add(day)
	if st, _ := f.ApplyLifecycle(ctx, "plain"); st.UploadsAborted != 1 {
		t.Fatalf("old upload not aborted: %+v", st)
	}
	if _, err := f.ListParts(ctx, root, "plain", "tmp/upload", up, 0, 10); err == nil {
		t.Fatal("the aborted upload is still there")
	}

	// Versions: noncurrent ones expire a number of days after they were
	// replaced, the newest one is kept; a lone delete marker goes; a
	// locked version stays.
	if err := f.CreateBucket(ctx, root, "ver"); err != nil {
		t.Fatal(err)
	}
	if err := f.PutBucketVersioning(ctx, root, "ver", s3fs.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		put(t, f, "ver", "k", strings.Repeat("v", i+1))
		clock.add(time.Hour)
	}
	put(t, f, "ver", "gone", "x")
	if _, err := f.DeleteObjectVersion(ctx, root, "ver", "gone", "", false); err != nil {
		t.Fatal(err)
	}
	lv, _ := f.ListObjectVersions(ctx, root, "ver", s3fs.ListVersionsOptions{})
	for _, v := range lv.Versions {
		if v.Key == "gone" && !v.IsDeleteMarker {
			if _, err := f.DeleteObjectVersion(ctx, root, "ver", "gone", v.VersionID, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.PutBucketLifecycle(ctx, root, "ver", []s3fs.LifecycleRule{
		{ID: "nc", Status: "Enabled", Filter: &s3fs.LifecycleFilter{},
			NoncurrentVersionExpiration: &s3fs.NoncurrentExpiration{NoncurrentDays: ip(2), NewerNoncurrentVersions: ip(1)}},
		{ID: "dm", Status: "Enabled", Filter: &s3fs.LifecycleFilter{}, Expiration: &s3fs.LifecycleExpiration{ExpiredObjectDeleteMarker: bp(true)}},
	}); err != nil {
		t.Fatal(err)
	}
	count := func() (versions, markers int) {
		lv, err := f.ListObjectVersions(ctx, root, "ver", s3fs.ListVersionsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range lv.Versions {
			if v.IsDeleteMarker {
				markers++
			} else {
				versions++
			}
		}
		return
	}
	if st, _ := f.ApplyLifecycle(ctx, "ver"); st.NoncurrentExpired != 0 || st.MarkersRemoved != 1 {
		t.Fatalf("before two days: %+v", st)
	}
	if v, m := count(); v != 4 || m != 0 {
		t.Fatalf("versions %d markers %d", v, m)
	}
	clock.add(2*day + time.Hour)
	if st, _ := f.ApplyLifecycle(ctx, "ver"); st.NoncurrentExpired != 2 {
		t.Fatalf("after two days: %+v", st)
	}
	if v, _ := count(); v != 2 {
		t.Fatalf("versions left: %d", v)
	}
	if body, _ := get(t, f, "ver", "k", s3fs.GetOptions{}); body != "vvvv" {
		t.Fatalf("current version: %q", body)
	}
}

// TestLifecycleLease: of two clients of one volume, one applies the
// rules; when it goes, the other takes over.
func TestLifecycleLease(t *testing.T) {
	store, obj := newVolume(t)
	open := func() (*s3fs.FS, func()) {
		m, err := meta.Open(context.Background(), store, meta.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// A client of a volume has a session, as cairn's commands do.
		if _, err := m.NewSession(context.Background(), meta.SessionInfo{Process: "test"}); err != nil {
			t.Fatal(err)
		}
		c := chunk.New(obj, chunk.Options{})
		v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
		return s3fs.New(v, s3fs.Options{}), func() { v.Close(); c.Close(); m.Close() }
	}
	run := func(f *s3fs.FS) (chan struct{}, context.CancelFunc) {
		ctx, stop := context.WithCancel(context.Background())
		ran := make(chan struct{}, 1000)
		go f.RunLifecycle(ctx, 20*time.Millisecond, func(s3fs.LifecycleStats) { ran <- struct{}{} })
		return ran, stop
	}
	a, closeA := open()
	ranA, stopA := run(a)
	select {
	case <-ranA:
	case <-time.After(5 * time.Second):
		t.Fatal("the first client never ran")
	}
	b, closeB := open()
	defer closeB()
	ranB, stopB := run(b)
	defer stopB()
	select {
	case <-ranB:
		t.Fatal("the second client ran while the first holds the lease")
	case <-time.After(300 * time.Millisecond):
	}
	// The first client goes: its session ends, its locks with it.
	stopA()
	closeA()
	select {
	case <-ranB:
	case <-time.After(5 * time.Second):
		t.Fatal("the second client never took over")
	}
}
