// Package metatest is the POSIX-semantics suite of package meta, run over
// any kv.Store engine: namespace, permissions, ACLs, rename, hard links,
// xattrs, locks, sessions, the change feed and data bookkeeping, as
// independent subtests, plus scenario scripts in testdata/.
package metatest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"cairn/internal/acl"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Run runs the whole suite; newStore returns a new, empty store.
func Run(t *testing.T, newStore func(t *testing.T) kv.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, func(t *testing.T) kv.Store)
	}{
		{"Names", testNames},
		{"FileTypes", testFileTypes},
		{"ACLStoredOnce", testACLStoredOnce},
		{"DefaultACL", testDefaultACL},
		{"StatFSLimits", testStatFSLimits},
		{"Locks", testLocks},
		{"DeadSessionCleanup", testDeadSession},
		{"OpenUnlinked", testOpenUnlinked},
		{"ChangeFeed", testChangeFeed},
		{"Publish", testPublish},
		{"Lease", testLease},
		{"InodePath", testInodePath},
		{"RecordedPaths", testRecordedPaths},
		{"RepairNames", testRepairNames},
		{"Data", testData},
		{"ReadDirCursor", testReadDirCursor},
		{"ConcurrentCreates", testConcurrentCreates},
		{"IndependentClients", testIndependentClients},
		{"LostSession", testLostSession},
		{"OneDirectory", testOneDirectory},
		{"PutFile", testPutFile},
		{"InlineData", testInlineData},
		{"ReadDirPlus", testReadDirPlus},
		{"UnlinkEmptied", testUnlinkEmptied},
		{"UnlinkMany", testUnlinkMany},
		{"PutFileDirs", testPutFileDirs},
		{"KeepReplaced", testKeepReplaced},
		{"Quota", testQuota},
		{"Fold", testFold},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
	t.Run("Scripts", func(t *testing.T) { runScripts(t, newStore) })
}

var bg = context.Background()

func newFS(t *testing.T, newStore func(t *testing.T) kv.Store, f meta.Format) *meta.FS {
	t.Helper()
	return newFSOn(t, newStore(t), f)
}

// newFSOn formats store with f and opens a client on it; the store is
// closed when the test ends.
func newFSOn(t *testing.T, store kv.Store, f meta.Format) *meta.FS {
	t.Helper()
	t.Cleanup(func() { store.Close() })
	f.Name, f.Storage = "test", "mem"
	if _, err := meta.FormatVolume(bg, store, f); err != nil {
		t.Fatal(err)
	}
	return openFS(t, store)
}

// openFS opens a client on a formatted store, closed when the test ends.
func openFS(t *testing.T, store kv.Store) *meta.FS {
	t.Helper()
	m, err := meta.Open(bg, store, meta.Options{SliceDeleteDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mk(t *testing.T, m *meta.FS, cred posix.Cred, parent posix.Ino, name string, typ posix.FileType, mode uint32) meta.Entry {
	t.Helper()
	r, err := m.Create(bg, cred, parent, name, meta.CreateRequest{Type: typ, Mode: mode, Exclusive: true, Target: "target"})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return r.Entry
}

func is(t *testing.T, err error, want error, what string) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func testNames(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	for _, c := range []struct {
		name string
		want error
	}{
		{"", syscall.EINVAL}, {".", syscall.EEXIST}, {"..", syscall.EEXIST}, {"a/b", syscall.EINVAL},
		{strings.Repeat("n", 256), syscall.ENAMETOOLONG}, {strings.Repeat("n", 255), nil}, {"nul\x00", syscall.EINVAL},
	} {
		_, err := m.Create(bg, posix.Root, posix.RootIno, c.name, meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
		if c.want == nil && err != nil || c.want != nil && err == nil {
			t.Errorf("create %q: %v, want %v", c.name, err, c.want)
		}
	}
	f := mk(t, m, posix.Root, posix.RootIno, "file", posix.TypeFile, 0o644)
	_, err := m.Create(bg, posix.Root, f.Ino, "x", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644})
	is(t, err, syscall.ENOTDIR, "create under a file")
	_, err = m.Lookup(bg, posix.Root, posix.RootIno, "missing")
	is(t, err, syscall.ENOENT, "lookup of a missing name")
	big := make([]byte, meta.MaxXattrValueLen)
	is(t, m.SetXattr(bg, posix.Root, f.Ino, "user.big", big, meta.XattrOptions{}), nil, "64 KiB xattr value")
	is(t, m.SetXattr(bg, posix.Root, f.Ino, "user.big", append(big, 0), meta.XattrOptions{}), syscall.E2BIG, "xattr value over 64 KiB")
	r, err := m.Create(bg, posix.Root, posix.RootIno, "file", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o600})
	if err != nil || !r.Existed || r.Entry.Ino != f.Ino {
		t.Fatalf("O_CREAT without O_EXCL on an existing file: %+v %v", r, err)
	}
}

func testFileTypes(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	for name, typ := range map[string]posix.FileType{"f": posix.TypeFile, "d": posix.TypeDir, "l": posix.TypeSymlink,
		"p": posix.TypeFIFO, "c": posix.TypeCharDev, "b": posix.TypeBlockDev, "s": posix.TypeSocket} {
		e := mk(t, m, posix.Root, posix.RootIno, name, typ, 0o640)
		a, err := m.GetAttr(bg, e.Ino)
		if err != nil || a.Type != typ {
			t.Fatalf("%s: type %d, want %d (%v)", name, a.Type, typ, err)
		}
		switch typ {
		case posix.TypeDir:
			if a.Nlink != 2 {
				t.Errorf("new directory nlink %d", a.Nlink)
			}
		case posix.TypeSymlink:
			if a.Mode&0o777 != 0o777 || a.Length != uint64(len("target")) {
				t.Errorf("symlink attr %+v", a)
			}
		default:
			if a.Mode&0o777 != 0o640 {
				t.Errorf("%s mode %o", name, a.Mode)
			}
		}
	}
	root, _ := m.GetAttr(bg, posix.RootIno)
	if root.Nlink != 3 {
		t.Errorf("root nlink %d after one subdirectory", root.Nlink)
	}
}

func testACLStoredOnce(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{EnableACL: true})
	r, _ := acl.Parse("u::rw-,u:1000:rw-,g::r--,m::rw-,o::---", nil)
	a := mk(t, m, posix.Root, posix.RootIno, "a", posix.TypeFile, 0o644)
	b := mk(t, m, posix.Root, posix.RootIno, "b", posix.TypeFile, 0o644)
	for _, ino := range []posix.Ino{a.Ino, b.Ino} {
		if err := m.SetACL(bg, posix.Root, ino, meta.ACLAccess, r.Clone()); err != nil {
			t.Fatal(err)
		}
	}
	aa, _ := m.GetAttr(bg, a.Ino)
	ba, _ := m.GetAttr(bg, b.Ino)
	if aa.AccessACL == 0 || aa.AccessACL != ba.AccessACL {
		t.Fatalf("equal ACLs got ids %d and %d", aa.AccessACL, ba.AccessACL)
	}
	if aa.Mode&0o777 != 0o660 {
		t.Fatalf("mode after setfacl: %o", aa.Mode)
	}
	// A minimal ACL is not stored: the mode holds it.
	if err := m.SetACL(bg, posix.Root, a.Ino, meta.ACLAccess, acl.FromMode(0o640)); err != nil {
		t.Fatal(err)
	}
	aa, _ = m.GetAttr(bg, a.Ino)
	if aa.AccessACL != 0 || aa.Mode&0o777 != 0o640 {
		t.Fatalf("minimal ACL stored: id %d mode %o", aa.AccessACL, aa.Mode)
	}
	if got, _ := m.GetACL(bg, a.Ino, meta.ACLAccess); got != nil {
		t.Fatalf("GetACL of a minimal ACL: %v", got)
	}
	// chmod rewrites the mask, giving a new id.
	if _, err := m.SetAttr(bg, posix.Root, b.Ino, meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o640}); err != nil {
		t.Fatal(err)
	}
	got, _ := m.GetACL(bg, b.Ino, meta.ACLAccess)
	if got == nil || got.Mask != 4 || got.Users[0].Perm != 6 {
		t.Fatalf("chmod 640 with an ACL: %v", got)
	}
	if err := m.SetACL(bg, posix.Root, b.Ino, meta.ACLDefault, r); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("default ACL on a file: %v", err)
	}
	if err := m.SetACL(bg, posix.Cred{UID: 5, GID: 5}, b.Ino, meta.ACLAccess, r); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("setfacl by a non-owner: %v", err)
	}
	off := newFS(t, ns, meta.Format{})
	x := mk(t, off, posix.Root, posix.RootIno, "x", posix.TypeFile, 0o644)
	if err := off.SetACL(bg, posix.Root, x.Ino, meta.ACLAccess, r); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("setfacl on a volume without ACLs: %v", err)
	}
}

func testStatFSLimits(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{Inodes: 3, Capacity: 1 << 20})
	st, err := m.StatFS(bg)
	if err != nil || st.Inodes != 3 || st.Capacity != 1<<20 || st.UsedInodes != 1 {
		t.Fatalf("statfs %+v %v", st, err)
	}
	mk(t, m, posix.Root, posix.RootIno, "a", posix.TypeFile, 0o644)
	mk(t, m, posix.Root, posix.RootIno, "b", posix.TypeFile, 0o644)
	_, err = m.Create(bg, posix.Root, posix.RootIno, "c", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("create past the inode limit: %v", err)
	}
	if err := m.Unlink(bg, posix.Root, posix.RootIno, "a"); err != nil {
		t.Fatal(err)
	}
	mk(t, m, posix.Root, posix.RootIno, "c", posix.TypeFile, 0o644)
}

func testLocks(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	if _, err := m.NewSession(bg, meta.SessionInfo{Process: "locks"}); err != nil {
		t.Fatal(err)
	}
	f := mk(t, m, posix.Root, posix.RootIno, "f", posix.TypeFile, 0o644)
	is(t, m.Flock(bg, f.Ino, 1, meta.LockRead, false), nil, "shared flock 1")
	is(t, m.Flock(bg, f.Ino, 2, meta.LockRead, false), nil, "shared flock 2")
	is(t, m.Flock(bg, f.Ino, 3, meta.LockWrite, false), syscall.EAGAIN, "exclusive flock over shared ones")
	is(t, m.Flock(bg, f.Ino, 1, meta.LockUnlock, false), nil, "unlock 1")
	is(t, m.Flock(bg, f.Ino, 2, meta.LockUnlock, false), nil, "unlock 2")
	is(t, m.Flock(bg, f.Ino, 3, meta.LockWrite, false), nil, "exclusive flock when free")
	// A blocking flock waits until the holder lets go.
	done := make(chan error, 1)
	go func() { done <- m.Flock(bg, f.Ino, 4, meta.LockWrite, true) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("blocking flock returned while held: %v", err)
	default:
	}
	is(t, m.Flock(bg, f.Ino, 3, meta.LockUnlock, false), nil, "unlock 3")
	if err := <-done; err != nil {
		t.Fatalf("blocking flock: %v", err)
	}
	ctx, cancel := context.WithTimeout(bg, 30*time.Millisecond)
	defer cancel()
	is(t, m.Flock(ctx, f.Ino, 5, meta.LockRead, true), syscall.EINTR, "blocking flock interrupted")

	// POSIX record locks: ranges, conflicts, F_GETLK, splitting.
	is(t, m.SetLk(bg, f.Ino, 10, false, meta.Lock{Type: meta.LockWrite, Start: 0, End: 99, PID: 10}), nil, "write lock 0-99")
	is(t, m.SetLk(bg, f.Ino, 11, false, meta.Lock{Type: meta.LockRead, Start: 100, End: 199, PID: 11}), nil, "read lock 100-199")
	is(t, m.SetLk(bg, f.Ino, 11, false, meta.Lock{Type: meta.LockRead, Start: 50, End: 60}), syscall.EAGAIN, "overlap with a write lock")
	got, err := m.GetLk(bg, f.Ino, 12, meta.Lock{Type: meta.LockWrite, Start: 150, End: 150})
	if err != nil || got.Type != meta.LockRead || got.PID != 11 {
		t.Fatalf("F_GETLK: %+v %v", got, err)
	}
	got, _ = m.GetLk(bg, f.Ino, 12, meta.Lock{Type: meta.LockRead, Start: 150, End: 150})
	if got.Type != meta.LockUnlock {
		t.Fatalf("F_GETLK of compatible read locks: %+v", got)
	}
	// Unlocking the middle of 0-99 leaves 0-39 and 61-99.
	is(t, m.SetLk(bg, f.Ino, 10, false, meta.Lock{Type: meta.LockUnlock, Start: 40, End: 60}), nil, "unlock 40-60")
	is(t, m.SetLk(bg, f.Ino, 12, false, meta.Lock{Type: meta.LockWrite, Start: 45, End: 55}), nil, "lock in the hole")
	is(t, m.SetLk(bg, f.Ino, 12, false, meta.Lock{Type: meta.LockWrite, Start: 30, End: 35}), syscall.EAGAIN, "lock over the left part")
	is(t, m.SetLk(bg, f.Ino, 12, false, meta.Lock{Type: meta.LockWrite, Start: 70, End: 75}), syscall.EAGAIN, "lock over the right part")
	is(t, m.ReleaseLocks(bg, f.Ino, 10), nil, "release owner 10")
	is(t, m.SetLk(bg, f.Ino, 12, false, meta.Lock{Type: meta.LockWrite, Start: 0, End: 40}), nil, "lock after release")
	is(t, m.SetLk(bg, f.Ino, 12, false, meta.Lock{Type: meta.LockWrite, Start: 9, End: 3}), syscall.EINVAL, "inverted range")
}

func testDeadSession(t *testing.T, ns func(t *testing.T) kv.Store) {
	store := ns(t)
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "s", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	a, _ := meta.Open(bg, store, meta.Options{Now: clock, SessionTimeout: time.Hour})
	b, _ := meta.Open(bg, store, meta.Options{Now: func() time.Time { return now.Add(2 * time.Hour) }, SessionTimeout: time.Hour})
	defer a.Close()
	defer b.Close()
	defer store.Close()
	if _, err := a.NewSession(bg, meta.SessionInfo{Process: "a"}); err != nil {
		t.Fatal(err)
	}
	f := mk(t, a, posix.Root, posix.RootIno, "f", posix.TypeFile, 0o644)
	if err := a.Flock(bg, f.Ino, 1, meta.LockWrite, false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.OpenInode(bg, posix.Root, f.Ino, syscall.O_RDONLY); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlink(bg, posix.Root, posix.RootIno, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetAttr(bg, f.Ino); err != nil {
		t.Fatalf("open unlinked inode gone early: %v", err)
	}
	if _, err := b.NewSession(bg, meta.SessionInfo{Process: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Flock(bg, f.Ino, 2, meta.LockWrite, false); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("lock held by a live session: %v", err)
	}
	// Session a stops heartbeating; two hours later b finds it dead.
	n, err := b.CleanDeadSessions(bg)
	if err != nil || n != 1 {
		t.Fatalf("CleanDeadSessions = %d, %v", n, err)
	}
	if _, err := b.GetAttr(bg, f.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("dead session's open unlinked inode survives: %v", err)
	}
	sess, _ := b.ListSessions(bg)
	if len(sess) != 1 || sess[0].Process != "b" {
		t.Fatalf("sessions after cleanup: %+v", sess)
	}
}

func testOpenUnlinked(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	if _, err := m.NewSession(bg, meta.SessionInfo{}); err != nil {
		t.Fatal(err)
	}
	f := mk(t, m, posix.Root, posix.RootIno, "f", posix.TypeFile, 0o644)
	if _, err := m.OpenInode(bg, posix.Root, f.Ino, syscall.O_RDWR); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlink(bg, posix.Root, posix.RootIno, "f"); err != nil {
		t.Fatal(err)
	}
	a, err := m.GetAttr(bg, f.Ino)
	if err != nil || a.Nlink != 0 {
		t.Fatalf("open unlinked inode: %+v %v", a, err)
	}
	if err := m.Release(bg, f.Ino); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetAttr(bg, f.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("after the last release: %v", err)
	}
}

func testChangeFeed(t *testing.T, ns func(t *testing.T) kv.Store) {
	store := ns(t)
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "f", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(bg, store, meta.Options{FeedRetention: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	defer m.Close()
	head0, _ := m.FeedHead(bg)
	ctx := meta.WithOrigin(bg, meta.Origin{Principal: "alice", SourceIP: "10.0.0.1", RequestID: "R1", Agent: "s3"})
	d, err := m.Create(ctx, posix.Root, posix.RootIno, "d", meta.CreateRequest{Type: posix.TypeDir, Mode: 0o755, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, posix.Root, d.Entry.Ino, "f", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename(ctx, posix.Root, d.Entry.Ino, "f", d.Entry.Ino, "g", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlink(bg, posix.Root, d.Entry.Ino, "g"); err != nil {
		t.Fatal(err)
	}
	// A failed operation records nothing.
	_, _ = m.Create(ctx, posix.Root, d.Entry.Ino, strings.Repeat("x", 300), meta.CreateRequest{Type: posix.TypeFile, Exclusive: true})
	recs, err := m.ReadFeed(bg, head0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range recs {
		ops = append(ops, string(r.Op))
	}
	if strings.Join(ops, ",") != "mkdir,create,rename,unlink" {
		t.Fatalf("feed ops %v", ops)
	}
	if recs[1].Origin.Principal != "alice" || recs[1].Origin.RequestID != "R1" || recs[1].Name != "f" || recs[2].NewName != "g" {
		t.Fatalf("feed record %+v", recs[1])
	}
	if recs[3].Origin.Principal != "" {
		t.Fatalf("origin leaked into a later call: %+v", recs[3].Origin)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq != recs[i-1].Seq+1 {
			t.Fatalf("sequence gap: %d after %d", recs[i].Seq, recs[i-1].Seq)
		}
	}
	if _, ok, err := m.FeedPosition(bg, "notify"); ok || err != nil {
		t.Fatalf("a position before any was stored: %v %v", ok, err)
	}
	if err := m.SetFeedPosition(bg, "notify", recs[1].Seq); err != nil {
		t.Fatal(err)
	}
	if p, ok, _ := m.FeedPosition(bg, "notify"); p != recs[1].Seq || !ok {
		t.Fatalf("position %d", p)
	}
	for i := 0; i < 10; i++ {
		mk(t, m, posix.Root, d.Entry.Ino, "n"+strings.Repeat("x", i+1), posix.TypeFile, 0o644)
	}
	if _, err := m.TrimFeed(bg, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadFeed(bg, head0, 100); !errors.Is(err, meta.ErrFeedTruncated) {
		t.Fatalf("reading trimmed records: %v", err)
	}
	head, _ := m.FeedHead(bg)
	recs, err = m.ReadFeed(bg, head-3, 100)
	if err != nil || len(recs) != 3 {
		t.Fatalf("recent records: %d %v", len(recs), err)
	}
}

func testData(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	f := mk(t, m, posix.Root, posix.RootIno, "f", posix.TypeFile, 0o644)
	id1, _ := m.NewSliceID(bg)
	id2, _ := m.NewSliceID(bg)
	if id2 <= id1 {
		t.Fatalf("slice ids %d then %d", id1, id2)
	}
	a, err := m.Write(bg, posix.Root, f.Ino, meta.WriteRequest{Index: 0, Slice: meta.Slice{ID: id1, Size: 1000, Len: 1000, Pos: 0}})
	if err != nil || a.Length != 1000 {
		t.Fatalf("write: %+v %v", a, err)
	}
	a, _ = m.Write(bg, posix.Root, f.Ino, meta.WriteRequest{Index: 0, Slice: meta.Slice{ID: id2, Size: 100, Len: 100, Pos: 500}})
	ss, err := m.ReadChunk(bg, f.Ino, 0)
	if err != nil {
		t.Fatal(err)
	}
	v := meta.ResolveSlices(ss)
	// Newest wins: [0,500) of id1, [500,600) of id2, [600,1000) of id1.
	if len(v) != 3 || v[1].ID != id2 || v[0].Len != 500 || v[2].Off != 600 || v[2].Pos != 600 {
		t.Fatalf("resolved %+v", v)
	}
	g := mk(t, m, posix.Root, posix.RootIno, "g", posix.TypeFile, 0o644)
	n, err := m.CopyFileRange(bg, posix.Root, f.Ino, 400, g.Ino, 0, 300)
	if err != nil || n != 300 {
		t.Fatalf("copy: %d %v", n, err)
	}
	gs, _ := m.ReadChunk(bg, g.Ino, 0)
	ids := map[uint64]bool{}
	for _, s := range meta.ResolveSlices(gs) {
		ids[s.ID] = true
	}
	if !ids[id1] || !ids[id2] {
		t.Fatalf("copy does not reference the source slices: %+v", gs)
	}
	if _, err := m.SetAttr(bg, posix.Root, f.Ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: 10}); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Check(bg)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("check: %+v %v", rep.Problems, err)
	}
	if _, ok := rep.Slices[id1]; !ok {
		t.Fatal("slice shared by the copy not referenced after truncating the source")
	}
	user := posix.Cred{UID: 7, GID: 7}
	_, err = m.Write(bg, user, f.Ino, meta.WriteRequest{Index: 0, Slice: meta.Slice{ID: id1, Size: 1, Len: 1}})
	_ = err // writes are authorized at open; the call itself must not corrupt anything
	if rep, _ := m.Check(bg); len(rep.Problems) > 0 {
		t.Fatalf("check after a write: %v", rep.Problems)
	}
}

func testReadDirCursor(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o755)
	names := []string{"b", "a", "c", "a b", "A", "z", "é", "0"}
	for _, n := range names {
		mk(t, m, posix.Root, d.Ino, n, posix.TypeFile, 0o644)
	}
	var got []string
	after := ""
	for {
		ents, err := m.ReadDir(bg, posix.Root, d.Ino, meta.ReadDirOptions{After: after, Limit: 3, WithAttr: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Attr.Type != posix.TypeFile {
				t.Fatalf("%s: attr not loaded", e.Name)
			}
			got = append(got, e.Name)
		}
		if len(ents) < 3 {
			break
		}
		after = ents[len(ents)-1].Name
	}
	if strings.Join(got, "|") != "0|A|a|a b|b|c|z|é" {
		t.Fatalf("paged readdir: %q", got)
	}
	_, err := m.ReadDir(bg, posix.Cred{UID: 9, GID: 9}, d.Ino, meta.ReadDirOptions{})
	is(t, err, nil, "readdir of a 0755 directory by another user")
	if _, err := m.SetAttr(bg, posix.Root, d.Ino, meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o711}); err != nil {
		t.Fatal(err)
	}
	_, err = m.ReadDir(bg, posix.Cred{UID: 9, GID: 9}, d.Ino, meta.ReadDirOptions{})
	is(t, err, syscall.EACCES, "readdir of a 0711 directory by another user")
}

// testConcurrentCreates: many goroutines create the same names; each name
// is created exactly once, the rest see EEXIST, and nlink/entries agree.
func testConcurrentCreates(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o755)
	const workers, names = 4, 30
	wins := make(chan string, workers*names)
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < names; i++ {
				n := "n" + string(rune('a'+i%26)) + string(rune('a'+i/26))
				_, err := m.Create(bg, posix.Root, d.Ino, n, meta.CreateRequest{Type: posix.TypeDir, Mode: 0o755, Exclusive: true})
				switch {
				case err == nil:
					wins <- n
				case !errors.Is(err, syscall.EEXIST):
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(wins)
	seen := map[string]bool{}
	for n := range wins {
		if seen[n] {
			t.Fatalf("%s created twice", n)
		}
		seen[n] = true
	}
	a, _ := m.GetAttr(bg, d.Ino)
	if len(seen) != names || a.Nlink != 2+names {
		t.Fatalf("%d names created, nlink %d", len(seen), a.Nlink)
	}
}

// testPutFile: a whole file created in one transaction, replacing an old
// one atomically, with the permission rules of create plus rename.
func testPutFile(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o777)
	id, _ := m.NewSliceID(bg)
	req := meta.PutFileRequest{Mode: 0o644, Length: 10, Slices: []meta.WriteRequest{{Slice: meta.Slice{ID: id, Size: 10, Len: 10}}},
		Xattrs: map[string][]byte{"cairn.s3": []byte("m1")}, Mtime: 12345}
	user := posix.Cred{UID: 1000, GID: 1000}
	e, err := m.PutFile(bg, user, d.Ino, "obj", req)
	if err != nil || e.Attr.Length != 10 || e.Attr.Mtime != 12345 || e.Attr.UID != 1000 {
		t.Fatalf("PutFile: %+v %v", e, err)
	}
	v, err := m.GetXattr(bg, posix.Root, e.Ino, "cairn.s3", meta.XattrOptions{Internal: true})
	if err != nil || string(v) != "m1" {
		t.Fatalf("xattr: %q %v", v, err)
	}
	ss, _ := m.ReadChunk(bg, e.Ino, 0)
	if len(ss) != 1 || ss[0].ID != id {
		t.Fatalf("chunk: %+v", ss)
	}
	// Replacing: the old inode goes, the name points at the new one.
	req.Length, req.Slices = 0, nil
	e2, err := m.PutFile(bg, user, d.Ino, "obj", req)
	if err != nil || e2.Ino == e.Ino {
		t.Fatalf("replace: %+v %v", e2, err)
	}
	if _, err := m.GetAttr(bg, e.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("replaced inode survives: %v", err)
	}
	got, _ := m.Lookup(bg, posix.Root, d.Ino, "obj")
	if got.Ino != e2.Ino || got.Attr.Length != 0 {
		t.Fatalf("lookup after replace: %+v", got)
	}
	req.NoReplace = true
	_, err = m.PutFile(bg, user, d.Ino, "obj", req)
	is(t, err, syscall.EEXIST, "NoReplace over an existing file")
	req.NoReplace = false
	mk(t, m, posix.Root, d.Ino, "dir", posix.TypeDir, 0o755)
	_, err = m.PutFile(bg, user, d.Ino, "dir", req)
	is(t, err, syscall.EISDIR, "PutFile over a directory")
	// Another user may not replace a file it cannot write, and cannot
	// create in a directory it cannot write.
	other := posix.Cred{UID: 2000, GID: 2000}
	if _, err := m.SetAttr(bg, user, e2.Ino, meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	_, err = m.PutFile(bg, other, d.Ino, "obj", req)
	is(t, err, syscall.EACCES, "replace of a file without write permission")
	ro := mk(t, m, posix.Root, posix.RootIno, "ro", posix.TypeDir, 0o755)
	_, err = m.PutFile(bg, other, ro.Ino, "x", req)
	is(t, err, syscall.EACCES, "PutFile in a read-only directory")
	_, err = m.PutFile(bg, user, d.Ino, "bad/name", req)
	is(t, err, syscall.EINVAL, "PutFile with a slash in the name")
	if rep, _ := m.Check(bg); len(rep.Problems) > 0 {
		t.Fatalf("check: %v", rep.Problems)
	}
}

// testInlineData: a small file's bytes kept in the metadata engine come
// back with its slice list, are shared by reference like block slices, and
// are deleted with the last reference (Check reports leftovers and losses).
func testInlineData(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	check := func(what string) {
		t.Helper()
		rep, err := m.Check(bg)
		if err != nil || len(rep.Problems) > 0 {
			t.Fatalf("check %s: %v %v", what, rep.Problems, err)
		}
		for id := range rep.Slices {
			if meta.IsInline(id) {
				t.Fatalf("check %s lists inline slice %x among block slices", what, id)
			}
		}
	}
	data := []byte("hello, inline world")
	put := func(name string, b []byte) meta.Entry {
		t.Helper()
		e, err := m.PutFile(bg, posix.Root, posix.RootIno, name, meta.PutFileRequest{Mode: 0o644, Length: uint64(len(b)), Inline: b})
		if err != nil {
			t.Fatalf("PutFile %s: %v", name, err)
		}
		return e
	}
	chunk := func(ino posix.Ino) []meta.Slice {
		t.Helper()
		ss, err := m.ReadChunk(bg, ino, 0)
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	a := put("a", data)
	ss := chunk(a.Ino)
	if len(ss) != 1 || !meta.IsInline(ss[0].ID) || string(ss[0].Data) != string(data) || ss[0].Len != uint32(len(data)) {
		t.Fatalf("inline chunk: %+v", ss)
	}
	check("after put")
	// Shared by reference: the copy keeps the bytes after the original goes.
	b := mk(t, m, posix.Root, posix.RootIno, "b", posix.TypeFile, 0o644)
	if n, err := m.CopyFileRange(bg, posix.Root, a.Ino, 7, b.Ino, 0, 6); err != nil || n != 6 {
		t.Fatalf("copy: %d %v", n, err)
	}
	is(t, m.Unlink(bg, posix.Root, posix.RootIno, "a"), nil, "unlink a")
	check("after unlink of the original")
	view := meta.ResolveSlices(chunk(b.Ino))
	if len(view) != 1 || string(view[0].Data[view[0].Off:view[0].Off+view[0].Len]) != "inline" {
		t.Fatalf("copy's view: %+v", view)
	}
	// Replacing and unlinking free the bytes.
	put("b", []byte("x"))
	put("b", []byte("yy"))
	check("after replacing")
	is(t, m.Unlink(bg, posix.Root, posix.RootIno, "b"), nil, "unlink b")
	check("after the last unlink")
	// Bad requests.
	_, err := m.PutFile(bg, posix.Root, posix.RootIno, "big", meta.PutFileRequest{Mode: 0o644, Length: meta.MaxInline + 1, Inline: make([]byte, meta.MaxInline+1)})
	is(t, err, syscall.EINVAL, "inline data over MaxInline")
	_, err = m.PutFile(bg, posix.Root, posix.RootIno, "short", meta.PutFileRequest{Mode: 0o644, Length: 5, Inline: []byte("abc")})
	is(t, err, syscall.EINVAL, "inline data shorter than Length")
	if _, err := m.Lookup(bg, posix.Root, posix.RootIno, "big"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("failed PutFile left an entry: %v", err)
	}
	check("at the end")
}

// testReadDirPlus: ReadDir with attributes and an xattr returns what
// per-entry reads return, whether the page's inodes are dense (one range
// scan), interleaved with a big directory's records (the scan's budget runs
// out), or sparse (point reads), and for every name of a hard-linked inode.
func testReadDirPlus(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o755)
	var names []string
	var big meta.Entry
	for i := 0; i < 150; i++ {
		name := fmt.Sprintf("f%03d", i)
		if i == 40 {
			big = mk(t, m, posix.Root, d.Ino, "big", posix.TypeDir, 0o755)
			names = append(names, "big")
		}
		e := mk(t, m, posix.Root, d.Ino, name, posix.TypeFile, 0o600+uint32(i%8))
		if i%3 != 0 {
			if err := m.SetXattr(bg, posix.Root, e.Ino, "cairn.s3", []byte("meta-"+name), meta.XattrOptions{Internal: true}); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 0 { // attributes that sort before the one listed
			for j := 0; j < 5; j++ {
				if err := m.SetXattr(bg, posix.Root, e.Ino, fmt.Sprintf("cairn.a%d", j), []byte("x"), meta.XattrOptions{Internal: true}); err != nil {
					t.Fatal(err)
				}
			}
		}
		names = append(names, name)
		if i >= 10 && i < 14 {
			// Hard links: one inode listed under two names of the page.
			if _, err := m.Link(bg, posix.Root, e.Ino, d.Ino, name+"-link"); err != nil {
				t.Fatal(err)
			}
			names = append(names, name+"-link")
		}
		if i == 100 {
			// Sparse from here on: many inodes created elsewhere.
			for j := 0; j < 800; j++ {
				mk(t, m, posix.Root, posix.RootIno, fmt.Sprintf("gap%04d", j), posix.TypeFile, 0o644)
			}
		}
	}
	// The directory in the middle of the inode range gets many entries of
	// its own: their records lie inside the range a dense page scans.
	for j := 0; j < 1500; j++ {
		mk(t, m, posix.Root, big.Ino, fmt.Sprintf("x%04d", j), posix.TypeFile, 0o644)
	}
	for _, limit := range []int{0, 37, 120} {
		ents, err := m.ReadDir(bg, posix.Root, d.Ino, meta.ReadDirOptions{Limit: limit, WithAttr: true, Xattr: "cairn.s3"})
		if err != nil {
			t.Fatal(err)
		}
		want := len(names)
		if limit > 0 {
			want = limit
		}
		if len(ents) != want {
			t.Fatalf("limit %d: %d entries, want %d", limit, len(ents), want)
		}
		for _, e := range ents {
			a, err := m.GetAttr(bg, e.Ino)
			if err != nil || a != e.Attr {
				t.Fatalf("%s: attr %+v, GetAttr %+v %v", e.Name, e.Attr, a, err)
			}
			x, err := m.GetXattr(bg, posix.Root, e.Ino, "cairn.s3", meta.XattrOptions{Internal: true})
			if errors.Is(err, syscall.ENODATA) {
				x = nil
			} else if err != nil {
				t.Fatal(err)
			}
			if string(x) != string(e.Xattr) || (x == nil) != (e.Xattr == nil) {
				t.Fatalf("%s: xattr %q, GetXattr %q", e.Name, e.Xattr, x)
			}
		}
	}
}
