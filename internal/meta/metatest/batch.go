package metatest

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// The batch operations the S3 gateway uses: UnlinkEmptied, UnlinkMany
// and PutFile's directory walk.

// testUnlinkEmptied: UnlinkEmptied tells whether the unlink left the
// directory without entries, and fails as Unlink does.
func testUnlinkEmptied(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o755)
	mk(t, m, posix.Root, d.Ino, "a", posix.TypeFile, 0o644)
	mk(t, m, posix.Root, d.Ino, "b", posix.TypeFile, 0o644)
	mk(t, m, posix.Root, d.Ino, "sub", posix.TypeDir, 0o755)
	for _, c := range []struct {
		name    string
		emptied bool
		err     error
	}{
		{"a", false, nil},
		{"missing", false, syscall.ENOENT},
		{"sub", false, syscall.EISDIR},
		{"b", false, nil}, // "sub" is still there
	} {
		got, err := m.UnlinkEmptied(bg, posix.Root, d.Ino, c.name)
		is(t, err, c.err, "unlink "+c.name)
		if got != c.emptied {
			t.Fatalf("unlink %s: emptied = %v, want %v", c.name, got, c.emptied)
		}
	}
	is(t, m.Rmdir(bg, posix.Root, d.Ino, "sub"), nil, "rmdir sub")
	mk(t, m, posix.Root, d.Ino, "last", posix.TypeFile, 0o644)
	if got, err := m.UnlinkEmptied(bg, posix.Root, d.Ino, "last"); err != nil || !got {
		t.Fatalf("unlink of the last entry: emptied = %v, %v; want true", got, err)
	}
}

// testUnlinkMany: UnlinkMany gives each name Unlink's outcome in one
// transaction — files with inline and block data, xattrs, symlinks, hard
// links, missing names, directories, the sticky rule — leaves the counters,
// slices and change feed as Unlink one by one would, reports an emptied
// directory, and removes nothing when the parent refuses the caller.
func testUnlinkMany(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	check := func(what string) {
		t.Helper()
		rep, err := m.Check(bg)
		if err != nil || len(rep.Problems) > 0 {
			t.Fatalf("check %s: %v %v", what, rep.Problems, err)
		}
	}
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o1777)
	inl, err := m.PutFile(bg, posix.Root, d.Ino, "inline", meta.PutFileRequest{Mode: 0o644, Length: 5, Inline: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	is(t, m.SetXattr(bg, posix.Root, inl.Ino, "user.a", []byte("1"), meta.XattrOptions{}), nil, "xattr")
	blk := mk(t, m, posix.Root, d.Ino, "block", posix.TypeFile, 0o644)
	id, _ := m.NewSliceID(bg)
	if _, err := m.Write(bg, posix.Root, blk.Ino, meta.WriteRequest{Index: 1, Slice: meta.Slice{ID: id, Size: 9000, Len: 9000}}); err != nil {
		t.Fatal(err)
	}
	mk(t, m, posix.Root, d.Ino, "link", posix.TypeSymlink, 0o777)
	h := mk(t, m, posix.Root, d.Ino, "h1", posix.TypeFile, 0o644)
	if _, err := m.Link(bg, posix.Root, h.Ino, d.Ino, "h2"); err != nil {
		t.Fatal(err)
	}
	mk(t, m, posix.Root, d.Ino, "sub", posix.TypeDir, 0o755)
	bob := posix.Cred{UID: 1001, GID: 1001}
	mk(t, m, bob, d.Ino, "bobs", posix.TypeFile, 0o644)
	before, _ := m.StatFS(bg)
	head, _ := m.FeedHead(bg)
	check("before")

	// bob, in the sticky directory: his own file goes, root's do not.
	errs, emptied, err := m.UnlinkMany(bg, bob, d.Ino, []string{"bobs", "inline", "missing"})
	if err != nil || emptied {
		t.Fatalf("bob's UnlinkMany: %v emptied=%v", err, emptied)
	}
	is(t, errs[0], nil, "bob removes his file")
	is(t, errs[1], syscall.EPERM, "bob removes root's file in a sticky directory")
	is(t, errs[2], syscall.ENOENT, "a missing name")

	at0, _ := m.GetAttr(bg, d.Ino)
	time.Sleep(2 * time.Millisecond)
	names := []string{"inline", "missing", "sub", "block", "h1", "link", "inline", "..", strings.Repeat("n", 256)}
	errs, emptied, err = m.UnlinkMany(bg, posix.Root, d.Ino, names)
	if err != nil || emptied {
		t.Fatalf("UnlinkMany: %v emptied=%v", err, emptied)
	}
	for i, want := range []error{nil, syscall.ENOENT, syscall.EISDIR, nil, nil, nil, syscall.ENOENT, syscall.EISDIR, syscall.ENAMETOOLONG} {
		is(t, errs[i], want, "UnlinkMany "+names[i][:min(len(names[i]), 10)])
	}
	check("after")
	for _, n := range []string{"inline", "block", "h1", "link", "bobs"} {
		if _, err := m.Lookup(bg, posix.Root, d.Ino, n); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("%s still there: %v", n, err)
		}
	}
	for _, ino := range []posix.Ino{inl.Ino, blk.Ino} {
		if _, err := m.GetAttr(bg, ino); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("inode %d survived its last link: %v", ino, err)
		}
	}
	if _, err := m.GetXattr(bg, posix.Root, inl.Ino, "user.a", meta.XattrOptions{}); err == nil {
		t.Fatal("a removed inode's xattr survived")
	}
	if a, err := m.GetAttr(bg, h.Ino); err != nil || a.Nlink != 1 {
		t.Fatalf("hard link h2 after removing h1: %+v %v", a, err)
	}
	if at, _ := m.GetAttr(bg, d.Ino); at.Mtime <= at0.Mtime || at.Ctime <= at0.Ctime {
		t.Fatalf("parent times not updated: %+v then %+v", at0, at)
	}
	after, _ := m.StatFS(bg)
	if after.UsedInodes != before.UsedInodes-4 || after.Used != before.Used-4096-(1<<26+12288) {
		t.Fatalf("counters: before %+v, after %+v", before, after)
	}
	recs, err := m.ReadFeed(bg, head, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, r := range recs {
		got = append(got, fmt.Sprintf("%s %s %d", r.Op, r.Name, r.Nlink))
		if r.Seq != head+uint64(i)+1 {
			t.Fatalf("feed sequence %d at %d after %d", r.Seq, i, head)
		}
	}
	if strings.Join(got, ",") != "unlink bobs 0,unlink inline 0,unlink block 0,unlink h1 1,unlink link 0" {
		t.Fatalf("feed: %v", got)
	}

	// Refused by the parent: nothing goes.
	ro := mk(t, m, posix.Root, posix.RootIno, "ro", posix.TypeDir, 0o755)
	mk(t, m, posix.Root, ro.Ino, "f", posix.TypeFile, 0o666)
	errs, _, err = m.UnlinkMany(bg, posix.Cred{UID: 7, GID: 7}, ro.Ino, []string{"f"})
	if !errors.Is(err, syscall.EACCES) || errs != nil {
		t.Fatalf("UnlinkMany in a directory the caller cannot write: %v %v", errs, err)
	}
	if _, err := m.Lookup(bg, posix.Root, ro.Ino, "f"); err != nil {
		t.Fatalf("a refused UnlinkMany removed f: %v", err)
	}
	_, _, err = m.UnlinkMany(bg, posix.Root, h.Ino, []string{"x"})
	is(t, err, syscall.ENOTDIR, "UnlinkMany in a file")

	is(t, m.Rmdir(bg, posix.Root, d.Ino, "sub"), nil, "rmdir sub")
	errs, emptied, err = m.UnlinkMany(bg, posix.Root, d.Ino, []string{"h2"})
	if err != nil || errs[0] != nil || !emptied {
		t.Fatalf("removing the last entry: %v %v emptied=%v", errs, err, emptied)
	}
	check("at the end")
}

// testPutFileDirs: PutFile with Dirs walks them in its transaction with a
// lookup's permission checks (the first as root with FirstAsRoot), creates
// the file in the last, and fails with a *WalkError, creating nothing, at
// a missing component or a non-directory.
func testPutFileDirs(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	top := mk(t, m, posix.Root, posix.RootIno, "top", posix.TypeDir, 0o700)
	b := mk(t, m, posix.Root, top.Ino, "b", posix.TypeDir, 0o777)
	c := mk(t, m, posix.Root, b.Ino, "c", posix.TypeDir, 0o777)
	mk(t, m, posix.Root, b.Ino, "file", posix.TypeFile, 0o644)
	user := posix.Cred{UID: 1000, GID: 1000}
	req := func(dirs ...string) meta.PutFileRequest {
		return meta.PutFileRequest{Mode: 0o644, Length: 2, Inline: []byte("hi"), Dirs: dirs, FirstAsRoot: true}
	}
	e, err := m.PutFile(bg, user, top.Ino, "obj", req("b", "c"))
	if err != nil || e.Attr.Parent != c.Ino || e.Attr.UID != 1000 {
		t.Fatalf("PutFile through b/c: %+v %v", e, err)
	}
	if got, err := m.Lookup(bg, posix.Root, c.Ino, "obj"); err != nil || got.Ino != e.Ino {
		t.Fatalf("lookup of the new file: %+v %v", got, err)
	}
	// Without FirstAsRoot the user may not search top (0700, root's).
	r := req("b", "c")
	r.FirstAsRoot = false
	_, err = m.PutFile(bg, user, top.Ino, "obj2", r)
	is(t, err, syscall.EACCES, "PutFile through a directory the caller may not search")
	var we *meta.WalkError
	for _, tc := range []struct {
		dirs  []string
		found int
		err   error
	}{
		{[]string{"b", "missing", "c"}, 1, syscall.ENOENT},
		{[]string{"missing"}, 0, syscall.ENOENT},
		{[]string{"b", "file", "c"}, 2, syscall.ENOTDIR},
		{[]string{"b", "file"}, 2, syscall.ENOTDIR},
	} {
		_, err := m.PutFile(bg, user, top.Ino, "obj3", req(tc.dirs...))
		if !errors.As(err, &we) || we.Found != tc.found || !errors.Is(err, tc.err) {
			t.Fatalf("PutFile through %v: %v, want a WalkError at %d (%v)", tc.dirs, err, tc.found, tc.err)
		}
	}
	_, err = m.PutFile(bg, user, top.Ino, "obj4", req("b", ".."))
	is(t, err, syscall.EINVAL, "PutFile through ..")
	rep, err := m.Check(bg)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
	if st, _ := m.StatFS(bg); st.UsedInodes != 6 {
		t.Fatalf("%d inodes in use, want 6 (failed PutFiles created some)", st.UsedInodes)
	}
}
