package metatest

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// testPublish: a publish rides with the first change that commits under
// its ctx, in the same transaction (its record follows the change's), and
// with no later one; in UnlinkMany, each follows its entry's removal.
func testPublish(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o755)
	mk(t, m, posix.Root, d.Ino, "f", posix.TypeFile, 0o644)
	head0, _ := m.FeedHead(bg)

	ctx := meta.WithOrigin(bg, meta.Origin{Principal: "alice", Agent: "s3", Op: "PutObject"})
	ctx = meta.WithPublish(ctx, meta.Publish{Event: "ObjectCreated:Put", Bucket: "d", Key: "g", Size: 3, ETag: "e"})
	// A change that fails records nothing: the publish waits for the next.
	if _, err := m.Create(ctx, posix.Root, d.Ino, "f", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true}); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("create over f: %v", err)
	}
	if _, err := m.Create(ctx, posix.Root, d.Ino, "g", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true}); err != nil {
		t.Fatal(err)
	}
	// The same ctx again: the publish is spent.
	if _, err := m.Create(ctx, posix.Root, d.Ino, "h", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true}); err != nil {
		t.Fatal(err)
	}
	// An event that changes nothing, in a transaction of its own.
	if err := m.AppendPublish(bg, meta.Publish{Event: "ObjectAccessed:Get", Bucket: "d", Key: "g"}); err != nil {
		t.Fatal(err)
	}
	// Several removals: each publish after its own entry's record.
	mk(t, m, posix.Root, d.Ino, "i", posix.TypeFile, 0o644)
	dctx := meta.WithPublish(bg,
		meta.Publish{Event: "ObjectRemoved:Delete", Bucket: "d", Key: "i", Name: "i"},
		meta.Publish{Event: "ObjectRemoved:Delete", Bucket: "d", Key: "nx", Name: "nx"},
		meta.Publish{Event: "ObjectRemoved:Delete", Bucket: "d", Key: "f", Name: "f"})
	if _, _, err := m.UnlinkMany(dctx, posix.Root, d.Ino, []string{"f", "nx", "i"}); err != nil {
		t.Fatal(err)
	}
	recs, err := m.ReadFeed(bg, head0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		s := string(r.Op) + ":" + r.Name
		if r.Op == meta.OpPublish {
			s = "publish:" + r.S3.Event + ":" + r.S3.Key
		}
		got = append(got, s)
	}
	want := "create:g,publish:ObjectCreated:Put:g,create:h,publish:ObjectAccessed:Get:g,create:i,unlink:f,publish:ObjectRemoved:Delete:f,unlink:i,publish:ObjectRemoved:Delete:i"
	if strings.Join(got, ",") != want {
		t.Fatalf("feed:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	// Only the publish records, the others skipped undecoded; the last
	// record looked at is where to go on from.
	pubs, last, err := m.ReadFeedOps(bg, head0, 100, []meta.Op{meta.OpPublish})
	if err != nil || len(pubs) != 4 || last != recs[len(recs)-1].Seq || pubs[0].S3.Key != "g" || pubs[3].S3.Key != "i" {
		t.Fatalf("publish records only: %d, last %d of %d (%v)", len(pubs), last, recs[len(recs)-1].Seq, err)
	}
	if none, last2, err := m.ReadFeedOps(bg, last, 100, []meta.Op{meta.OpPublish}); err != nil || len(none) != 0 || last2 != last {
		t.Fatalf("after the head: %d records, last %d (%v)", len(none), last2, err)
	}
	p := recs[1]
	if p.S3.Size != 3 || p.S3.ETag != "e" || p.S3.Bucket != "d" || p.Origin.Op != "PutObject" || p.Origin.Principal != "alice" || p.Ino != recs[0].Ino || p.S3.Name != "" {
		t.Fatalf("publish record %+v (s3 %+v)", p, *p.S3)
	}
	if recs[1].Seq != recs[0].Seq+1 {
		t.Fatalf("publish not in the change's transaction order: %d after %d", recs[1].Seq, recs[0].Seq)
	}
}

// testLease: one client holds a lease while it renews it; another takes it
// once it lapses or is dropped.
func testLease(t *testing.T, ns func(t *testing.T) kv.Store) {
	store := ns(t)
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "l", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	a, err := meta.Open(bg, store, meta.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	b, err := meta.Open(bg, store, meta.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close(); store.Close() })
	if _, err := a.TakeLease(bg, "notify", time.Second); err == nil {
		t.Fatal("a lease without a session")
	}
	for _, m := range []*meta.FS{a, b} {
		if _, err := m.NewSession(bg, meta.SessionInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	take := func(m *meta.FS, want bool, what string) {
		t.Helper()
		held, err := m.TakeLease(bg, "notify", 10*time.Second)
		if err != nil || held != want {
			t.Fatalf("%s: held %v (%v), want %v", what, held, err, want)
		}
	}
	take(a, true, "a first")
	take(b, false, "b while a holds it")
	now = now.Add(8 * time.Second)
	take(a, true, "a renews")
	now = now.Add(8 * time.Second)
	take(b, false, "b within the renewed term")
	now = now.Add(3 * time.Second)
	take(b, true, "b once a's lease lapsed")
	take(a, false, "a after losing it")
	if err := b.DropLease(bg, "notify"); err != nil {
		t.Fatal(err)
	}
	take(a, true, "a after b dropped it")
	if err := b.DropLease(bg, "notify"); err != nil { // not b's: a keeps it
		t.Fatal(err)
	}
	take(b, false, "b after dropping a lease it did not hold")
}
