package metatest

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// testKeepReplaced: PutFile and rename that replace a file keep the
// replaced inode under the name Keep gives it, in the same transaction;
// an empty name drops it; a clash with another inode fails the whole
// operation; the kept inode's data and attributes stay.
func testKeepReplaced(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	d := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o777)
	keepDir := mk(t, m, posix.Root, posix.RootIno, "keep", posix.TypeDir, 0o700)
	user := posix.Cred{UID: 1000, GID: 1000}
	req := meta.PutFileRequest{Mode: 0o644, Inline: []byte("v1"), Length: 2, Xattrs: map[string][]byte{"cairn.s3": []byte("id1")}}
	v1, err := m.PutFile(bg, user, d.Ino, "obj", req)
	if err != nil {
		t.Fatal(err)
	}
	keep := &meta.Keep{Dir: keepDir.Ino, Xattr: "cairn.s3", Name: func(a posix.Attr, x []byte) string {
		return fmt.Sprintf("kept-%s-%d", x, a.Length)
	}}
	req.Inline, req.Xattrs, req.Keep = []byte("v2"), map[string][]byte{"cairn.s3": []byte("id2")}, keep
	v2, err := m.PutFile(bg, user, d.Ino, "obj", req)
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.Lookup(bg, posix.Root, keepDir.Ino, "kept-id1-2")
	if err != nil || k.Ino != v1.Ino || k.Attr.Nlink != 1 || k.Attr.Parent != keepDir.Ino {
		t.Fatalf("kept v1: %+v %v", k, err)
	}
	if ss, _ := m.ReadChunk(bg, v1.Ino, 0); len(ss) != 1 {
		t.Fatalf("kept v1 lost its data: %+v", ss)
	}
	// A rename over v2 keeps it too.
	tmp := mk(t, m, user, d.Ino, "tmp", posix.TypeFile, 0o644)
	if err := m.SetXattr(bg, posix.Root, tmp.Ino, "cairn.s3", []byte("id3"), meta.XattrOptions{Internal: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.RenameKeep(bg, user, d.Ino, "tmp", d.Ino, "obj", 0, keep); err != nil {
		t.Fatal(err)
	}
	if k, err := m.Lookup(bg, posix.Root, keepDir.Ino, "kept-id2-2"); err != nil || k.Ino != v2.Ino {
		t.Fatalf("kept v2: %+v %v", k, err)
	}
	// A name already taken by another inode: nothing happens.
	other := mk(t, m, posix.Root, keepDir.Ino, "kept-id3-0", posix.TypeFile, 0o600)
	req.Xattrs = map[string][]byte{"cairn.s3": []byte("id4")}
	_, err = m.PutFile(bg, user, d.Ino, "obj", req)
	is(t, err, syscall.EEXIST, "keeping under a taken name")
	if cur, _ := m.Lookup(bg, posix.Root, d.Ino, "obj"); cur.Ino != tmp.Ino {
		t.Fatalf("a failed keep replaced the file: %+v", cur)
	}
	if err := m.Unlink(bg, posix.Root, keepDir.Ino, "kept-id3-0"); err != nil {
		t.Fatal(err)
	}
	_ = other
	// An empty name drops the replaced file as without Keep.
	drop := &meta.Keep{Dir: keepDir.Ino, Name: func(posix.Attr, []byte) string { return "" }}
	req.Keep = drop
	if _, err := m.PutFile(bg, user, d.Ino, "obj", req); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetAttr(bg, tmp.Ino); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("dropped inode survives: %v", err)
	}
	// Keeping into the operation's own directory is refused.
	req.Keep = &meta.Keep{Dir: d.Ino, Name: func(posix.Attr, []byte) string { return "x" }}
	_, err = m.PutFile(bg, user, d.Ino, "obj", req)
	is(t, err, syscall.EINVAL, "keeping into the parent")
	if rep, _ := m.Check(bg); len(rep.Problems) > 0 {
		t.Fatalf("check: %v", rep.Problems)
	}
}
