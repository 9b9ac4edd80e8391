package metatest

import (
	"encoding/binary"
	"errors"
	"sort"
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

// testInodePath: an inode with one link knows its path through every
// change that moves it; one with several links has no one path but knows
// all of them through every link added, moved or removed; a removed
// inode's name goes with it.
func testInodePath(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	path := func(ino posix.Ino) string {
		t.Helper()
		p, err := m.InodePath(bg, ino)
		if err != nil {
			return "error: " + err.Error()
		}
		return p
	}
	a := mk(t, m, posix.Root, posix.RootIno, "a", posix.TypeDir, 0o755)
	b := mk(t, m, posix.Root, a.Ino, "b", posix.TypeDir, 0o755)
	f := mk(t, m, posix.Root, b.Ino, "f.txt", posix.TypeFile, 0o644)
	if got := path(f.Ino); got != "a/b/f.txt" {
		t.Fatalf("created: %s", got)
	}
	if got := path(posix.RootIno); got != "" {
		t.Fatalf("root: %q", got)
	}
	// Renamed in its directory, then into another, then its directory.
	if err := m.Rename(bg, posix.Root, b.Ino, "f.txt", b.Ino, "g.txt", 0); err != nil {
		t.Fatal(err)
	}
	if got := path(f.Ino); got != "a/b/g.txt" {
		t.Fatalf("renamed in place: %s", got)
	}
	if err := m.Rename(bg, posix.Root, b.Ino, "g.txt", a.Ino, "h.txt", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename(bg, posix.Root, a.Ino, "b", posix.RootIno, "c", 0); err != nil {
		t.Fatal(err)
	}
	if got := path(f.Ino) + " " + path(b.Ino); got != "a/h.txt c" {
		t.Fatalf("moved: %s", got)
	}
	// An exchange swaps the names.
	g := mk(t, m, posix.Root, b.Ino, "x", posix.TypeFile, 0o644)
	if err := m.Rename(bg, posix.Root, a.Ino, "h.txt", b.Ino, "x", meta.RenameExchange); err != nil {
		t.Fatal(err)
	}
	if got := path(f.Ino) + " " + path(g.Ino); got != "c/x a/h.txt" {
		t.Fatalf("exchanged: %s", got)
	}
	// A created-whole file (the S3 layer's PutFile) has its path too.
	e, err := m.PutFile(bg, posix.Root, a.Ino, "put.bin", meta.PutFileRequest{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if got := path(e.Ino); got != "a/put.bin" {
		t.Fatalf("put: %s", got)
	}
	// A second link: no one path, two paths.
	if _, err := m.Link(bg, posix.Root, f.Ino, a.Ino, "link"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InodePath(bg, f.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("hard-linked: %v", err)
	}
	paths := func(ino posix.Ino) string {
		t.Helper()
		ps, err := m.InodePaths(bg, ino)
		if err != nil {
			return "error: " + err.Error()
		}
		sort.Strings(ps)
		return strings.Join(ps, " ")
	}
	if got := paths(f.Ino); got != "a/link c/x" {
		t.Fatalf("two links: %s", got)
	}
	// A third, then links renamed, exchanged, replaced and removed.
	if _, err := m.Link(bg, posix.Root, f.Ino, b.Ino, "third"); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename(bg, posix.Root, a.Ino, "link", posix.RootIno, "top", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename(bg, posix.Root, b.Ino, "third", a.Ino, "h.txt", meta.RenameExchange); err != nil {
		t.Fatal(err)
	}
	if got := paths(f.Ino) + " | " + path(g.Ino); got != "a/h.txt c/x top | c/third" {
		t.Fatalf("three links moved: %s", got)
	}
	if err := m.Rename(bg, posix.Root, b.Ino, "third", posix.RootIno, "top", 0); err != nil { // g replaces a link of f
		t.Fatal(err)
	}
	if got := paths(f.Ino) + " | " + path(g.Ino); got != "a/h.txt c/x | top" {
		t.Fatalf("a link replaced: %s", got)
	}
	if err := m.Unlink(bg, posix.Root, b.Ino, "x"); err != nil {
		t.Fatal(err)
	}
	if got := path(f.Ino) + " | " + paths(f.Ino); got != "a/h.txt | a/h.txt" {
		t.Fatalf("one link left: %s", got)
	}
	// Removed: nothing left of it.
	if err := m.Unlink(bg, posix.Root, a.Ino, "put.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InodePath(bg, e.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("removed: %v", err)
	}
}

// testRecordedPaths: with WithPaths, a file's writes, truncations by
// path, links, unlinks and renames record its paths in their own
// transaction; without, none; a write to a file with several links
// records all of them.
func testRecordedPaths(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	ctx := meta.WithPaths(bg)
	b := mk(t, m, posix.Root, posix.RootIno, "bkt", posix.TypeDir, 0o755)
	d := mk(t, m, posix.Root, b.Ino, "d", posix.TypeDir, 0o755)
	head, _ := m.FeedHead(bg)
	f, err := m.Create(ctx, posix.Root, d.Ino, "f.txt", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.NoteWritten(ctx, f.Entry.Ino); err != nil {
		t.Fatal(err)
	}
	if err := m.NoteWritten(bg, f.Entry.Ino); err != nil { // without: no path
		t.Fatal(err)
	}
	if err := m.Rename(ctx, posix.Root, d.Ino, "f.txt", b.Ino, "g.txt", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Link(ctx, posix.Root, f.Entry.Ino, b.Ino, "h.txt"); err != nil {
		t.Fatal(err)
	}
	if err := m.NoteWritten(ctx, f.Entry.Ino); err != nil { // two links: both paths
		t.Fatal(err)
	}
	if err := m.Unlink(ctx, posix.Root, b.Ino, "h.txt"); err != nil {
		t.Fatal(err)
	}
	// A truncation by path records the path; one through a handle leaves
	// it to the handle's close.
	if _, err := m.SetAttr(ctx, posix.Root, f.Entry.Ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetAttr(ctx, posix.Root, f.Entry.Ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: 1, ByHandle: true}); err != nil {
		t.Fatal(err)
	}
	recs, err := m.ReadFeed(bg, head, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, strings.TrimSpace(string(r.Op)+" "+r.Path+" "+r.NewPath+" "+strings.Join(r.Paths, ",")))
	}
	want := "create|write bkt/d/f.txt|write|rename bkt/d/f.txt bkt/g.txt|link bkt/h.txt|write   bkt/g.txt,bkt/h.txt|unlink bkt/h.txt|truncate bkt/g.txt|truncate"
	if strings.Join(got, "|") != want {
		t.Fatalf("records:\n got %q\nwant %q", strings.Join(got, "|"), want)
	}
}

// testRepairNames: Check finds inodes whose name record is missing (made
// before names were kept) and RepairNames writes them, after which they
// have their paths again.
func testRepairNames(t *testing.T, ns func(t *testing.T) kv.Store) {
	store := ns(t)
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "n", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(bg, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { m.Close(); store.Close() }()
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o755)
	f := mk(t, m, posix.Root, d.Ino, "f", posix.TypeFile, 0o644)
	h := mk(t, m, posix.Root, d.Ino, "h", posix.TypeFile, 0o644)
	if _, err := m.Link(bg, posix.Root, h.Ino, posix.RootIno, "h2"); err != nil {
		t.Fatal(err)
	}
	// An older volume: no name records, no link sets.
	inodeKey := func(ino posix.Ino, sub byte) []byte { // meta's key schema: 'A' ino sub
		return append(binary.BigEndian.AppendUint64([]byte{'A'}, uint64(ino)), sub)
	}
	for _, key := range [][]byte{inodeKey(d.Ino, 'B'), inodeKey(f.Ino, 'B')} {
		if err := store.Update(bg, func(tx kv.Tx) error { return tx.Delete(key) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Update(bg, func(tx kv.Tx) error {
		k := inodeKey(h.Ino, 'L')
		return tx.DeleteRange(k, kv.PrefixEnd(k))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InodePath(bg, f.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("without names: %v", err)
	}
	if _, err := m.InodePaths(bg, h.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("without a link set: %v", err)
	}
	rep, err := m.Check(bg)
	if err != nil || len(rep.Problems) != 0 || len(rep.Names) != 2 || rep.Names[f.Ino] != "f" || rep.Names[d.Ino] != "d" ||
		len(rep.LinkSets) != 1 || len(rep.LinkSets[h.Ino]) != 2 {
		t.Fatalf("check: %+v %v", rep, err)
	}
	if n, err := m.RepairNames(bg, rep); err != nil || n != 3 {
		t.Fatalf("repair: %d %v", n, err)
	}
	if p, err := m.InodePath(bg, f.Ino); err != nil || p != "d/f" {
		t.Fatalf("after repair: %q %v", p, err)
	}
	if ps, err := m.InodePaths(bg, h.Ino); err != nil || len(ps) != 2 {
		t.Fatalf("links after repair: %q %v", ps, err)
	}
	if rep, err := m.Check(bg); err != nil || len(rep.Names) != 0 || len(rep.LinkSets) != 0 {
		t.Fatalf("check after repair: %+v %+v %v", rep.Names, rep.LinkSets, err)
	}
}
