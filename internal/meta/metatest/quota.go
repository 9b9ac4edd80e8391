package metatest

import (
	"syscall"
	"testing"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// testQuota: a directory quota counts its tree exactly (set on a tree
// with content, then through creates, writes, truncates, PutFile, renames
// in and out, unlinks), refuses growth past a limit with EDQUOT and no
// change, nests, refuses to move directories or links across quotas
// (EXDEV), and gives its tree back to the quota above when removed.
func testQuota(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	user := posix.Cred{UID: 1000, GID: 1000}
	q := mk(t, m, posix.Root, posix.RootIno, "q", posix.TypeDir, 0o777)
	old := mk(t, m, user, q.Ino, "old", posix.TypeFile, 0o644)
	size := func(ino posix.Ino, n uint64) error {
		_, err := m.SetAttr(bg, posix.Root, ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: n})
		return err
	}
	if err := size(old.Ino, 5000); err != nil {
		t.Fatal(err)
	}
	is(t, m.SetQuota(bg, user, q.Ino, 1, 1), syscall.EPERM, "a user sets a quota")
	if err := m.SetQuota(bg, posix.Root, q.Ino, 64<<10, 5); err != nil {
		t.Fatal(err)
	}
	want := func(what string, space, inodes uint64) {
		t.Helper()
		got, err := m.GetQuota(bg, q.Ino)
		if err != nil || got.UsedSpace != space || got.UsedInodes != inodes {
			t.Fatalf("%s: %+v %v, want %d bytes %d inodes", what, got, err, space, inodes)
		}
	}
	want("set on a tree", 8192, 2) // q itself and old (5000 bytes: two 4 KiB units)

	sub := mk(t, m, user, q.Ino, "sub", posix.TypeDir, 0o777)
	f := mk(t, m, user, sub.Ino, "f", posix.TypeFile, 0o644)
	want("created", 8192, 4)
	if _, err := m.Write(bg, user, f.Ino, meta.WriteRequest{Slice: meta.Slice{ID: 1, Size: 10000, Len: 10000}}); err != nil {
		t.Fatal(err)
	}
	want("written", 8192+12288, 4)
	// Growth past the space limit fails whole.
	_, err := m.Write(bg, user, f.Ino, meta.WriteRequest{Index: 1, Slice: meta.Slice{ID: 2, Size: 4096, Len: 4096}})
	is(t, err, syscall.EDQUOT, "a write past the space limit")
	is(t, size(f.Ino, 1<<20), syscall.EDQUOT, "a truncate past the space limit")
	if a, _ := m.GetAttr(bg, f.Ino); a.Length != 10000 {
		t.Fatalf("a refused write changed the file: length %d", a.Length)
	}
	want("after refusals", 8192+12288, 4)
	if err := size(f.Ino, 0); err != nil {
		t.Fatal(err)
	}
	want("truncated", 8192, 4)
	// PutFile counts, and the inode limit holds.
	if _, err := m.PutFile(bg, user, sub.Ino, "p", meta.PutFileRequest{Mode: 0o644, Inline: []byte("xy"), Length: 2}); err != nil {
		t.Fatal(err)
	}
	want("PutFile", 12288, 5)
	_, err = m.Create(bg, user, q.Ino, "one-too-many", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644})
	is(t, err, syscall.EDQUOT, "a create past the inode limit")
	// A file moves in and out with its usage; a directory may not.
	out := mk(t, m, user, posix.RootIno, "out", posix.TypeFile, 0o644)
	if err := size(out.Ino, 100); err != nil {
		t.Fatal(err)
	}
	is(t, m.Rename(bg, user, posix.RootIno, "out", q.Ino, "in", 0), syscall.EDQUOT, "a file into a full quota")
	if err := m.Unlink(bg, user, sub.Ino, "p"); err != nil {
		t.Fatal(err)
	}
	want("unlinked", 8192, 4)
	if err := m.Rename(bg, user, posix.RootIno, "out", q.Ino, "in", 0); err != nil {
		t.Fatal(err)
	}
	want("a file moved in", 12288, 5)
	if err := m.Rename(bg, user, q.Ino, "in", posix.RootIno, "out", 0); err != nil {
		t.Fatal(err)
	}
	want("a file moved out", 8192, 4)
	mk(t, m, user, posix.RootIno, "d", posix.TypeDir, 0o777)
	is(t, m.Rename(bg, user, posix.RootIno, "d", q.Ino, "d", 0), syscall.EXDEV, "a directory into a quota")
	is(t, m.Rename(bg, user, q.Ino, "sub", posix.RootIno, "sub", 0), syscall.EXDEV, "a directory out of a quota")
	_, err = m.Link(bg, user, out.Ino, q.Ino, "link")
	is(t, err, syscall.EXDEV, "a link into a quota")
	if err := m.Rename(bg, user, q.Ino, "sub", q.Ino, "sub2", 0); err != nil {
		t.Fatalf("a directory within its quota: %v", err)
	}

	// A quota within a quota charges both.
	if err := m.SetQuota(bg, posix.Root, q.Ino, 1<<30, 100); err != nil {
		t.Fatal(err)
	}
	if err := m.SetQuota(bg, posix.Root, sub.Ino, 4096, 0); err != nil {
		t.Fatal(err)
	}
	inner, err := m.GetQuota(bg, sub.Ino)
	if err != nil || inner.UsedInodes != 2 || inner.UsedSpace != 0 {
		t.Fatalf("the inner quota: %+v %v", inner, err)
	}
	if err := size(f.Ino, 4096); err != nil {
		t.Fatal(err)
	}
	is(t, size(f.Ino, 4097), syscall.EDQUOT, "past the inner quota")
	want("through the inner quota", 8192+4096, 4)
	is(t, m.Rename(bg, user, q.Ino, "sub2", posix.RootIno, "sub2", 0), syscall.EXDEV, "an inner quota out of its outer one")
	// Removing the outer quota leaves the inner one on its own.
	if err := m.RemoveQuota(bg, posix.Root, q.Ino); err != nil {
		t.Fatal(err)
	}
	_, err = m.GetQuota(bg, q.Ino)
	is(t, err, syscall.ENOENT, "a removed quota")
	if a, _ := m.GetAttr(bg, old.Ino); a.Quota != 0 {
		t.Fatalf("a file keeps a removed quota: %d", a.Quota)
	}
	if a, _ := m.GetAttr(bg, f.Ino); a.Quota != sub.Ino {
		t.Fatalf("the inner tree lost its quota: %d", a.Quota)
	}
	is(t, size(f.Ino, 8192), syscall.EDQUOT, "the inner quota alone")
	if err := m.Rename(bg, user, q.Ino, "sub2", posix.RootIno, "sub2", 0); err != nil {
		t.Fatalf("the inner quota's directory, now under none: %v", err)
	}
	// The volume's fsck agrees with the counters.
	rep, err := m.Check(bg)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}
