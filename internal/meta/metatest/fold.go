package metatest

import (
	"syscall"
	"testing"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// testFold: FoldFile puts a directory where a file was and moves the
// file, whole, to the fold directory in one step; UnfoldDir takes it back
// once the directory is empty; the counters and fsck agree throughout.
func testFold(t *testing.T, ns func(t *testing.T) kv.Store) {
	m := newFS(t, ns, meta.Format{})
	user := posix.Cred{UID: 1000, GID: 1000}
	top := mk(t, m, posix.Root, posix.RootIno, "d", posix.TypeDir, 0o777)
	d := mk(t, m, user, top.Ino, "mine", posix.TypeDir, 0o755)
	folds := mk(t, m, posix.Root, posix.RootIno, "folds", posix.TypeDir, 0o755)
	f, err := m.PutFile(bg, user, d.Ino, "k", meta.PutFileRequest{Mode: 0o644, Inline: []byte("obj"), Length: 3,
		Xattrs: map[string][]byte{"cairn.s3": []byte("meta")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.FoldFile(bg, posix.Cred{UID: 2000, GID: 2000}, d.Ino, "k", folds.Ino, 0o755, 0, nil)
	is(t, err, syscall.EACCES, "folding in a directory one may not write")
	dir, err := m.FoldFile(bg, user, d.Ino, "k", folds.Ino, 0o755, 0, map[string][]byte{"cairn.s3.hint": []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := m.Lookup(bg, posix.Root, d.Ino, "k"); err != nil || e.Ino != dir.Ino || !e.Attr.IsDir() || e.Attr.UID != 1000 {
		t.Fatalf("the new directory: %+v %v", e, err)
	}
	moved, err := m.Lookup(bg, posix.Root, folds.Ino, meta.FoldName(dir.Ino))
	if err != nil || moved.Ino != f.Ino || moved.Attr.Length != 3 {
		t.Fatalf("the folded file: %+v %v", moved, err)
	}
	if x, err := m.GetXattr(bg, posix.Root, f.Ino, "cairn.s3", meta.XattrOptions{Internal: true}); err != nil || string(x) != "meta" {
		t.Fatalf("the folded file's metadata: %q %v", x, err)
	}
	again, err := m.FoldFile(bg, user, d.Ino, "k", folds.Ino, 0o755, 0, nil)
	if err != nil || again.Ino != dir.Ino {
		t.Fatalf("folding a directory: %+v %v", again, err)
	}
	child := mk(t, m, user, dir.Ino, "c", posix.TypeFile, 0o644)
	is(t, m.UnfoldDir(bg, user, d.Ino, "k", folds.Ino), syscall.ENOTEMPTY, "unfolding a directory in use")
	if err := m.Unlink(bg, user, dir.Ino, "c"); err != nil {
		t.Fatal(err)
	}
	_ = child
	if err := m.UnfoldDir(bg, user, d.Ino, "k", folds.Ino); err != nil {
		t.Fatal(err)
	}
	if e, err := m.Lookup(bg, posix.Root, d.Ino, "k"); err != nil || e.Ino != f.Ino || e.Attr.Type != posix.TypeFile {
		t.Fatalf("the file back: %+v %v", e, err)
	}
	is(t, m.UnfoldDir(bg, user, d.Ino, "k", folds.Ino), syscall.ENOENT, "unfolding a file")
	other := mk(t, m, user, d.Ino, "plain", posix.TypeDir, 0o755)
	_ = other
	is(t, m.UnfoldDir(bg, user, d.Ino, "plain", folds.Ino), syscall.ENOENT, "unfolding a directory nothing was folded for")
	rep, err := m.Check(bg)
	if err != nil || len(rep.Problems) != 0 || rep.CountersWrong() {
		t.Fatalf("check: %+v %v", rep, err)
	}
}
