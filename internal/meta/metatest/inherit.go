package metatest

import (
	"testing"

	"cairn/internal/acl"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// testDefaultACL: what new inodes inherit from a directory's default ACL,
// created again and again (the client remembers the answer per default
// ACL and mode bits) and by a second client, in plain and setgid
// directories, against posix.CreateAttr's rules computed directly.
func testDefaultACL(t *testing.T, ns func(t *testing.T) kv.Store) {
	store := ns(t)
	m := newFSOn(t, store, meta.Format{EnableACL: true})
	m2 := openFS(t, store)
	def, err := acl.Parse("u::rwx,u:2001:rwx,u:2002:r-x,g::r-x,g:3001:rwx,m::rwx,o::r-x", nil)
	if err != nil {
		t.Fatal(err)
	}
	minimal := acl.FromMode(0o750)
	user := posix.Cred{UID: 1000, GID: 1000, Umask: 0o022}
	for _, c := range []struct {
		name string
		rule *acl.Rule
		mode uint32 // of the directory
	}{{"named", def, 0o755}, {"setgid", def, 0o2775}, {"minimal", minimal, 0o755}} {
		d := mk(t, m, posix.Root, posix.RootIno, c.name, posix.TypeDir, c.mode)
		if _, err := m.SetAttr(bg, posix.Root, d.Ino, meta.SetAttrRequest{Valid: meta.SetUID | meta.SetGID | meta.SetMode, UID: 1000, GID: 50, Mode: c.mode}); err != nil {
			t.Fatal(err)
		}
		if err := m.SetACL(bg, user, d.Ino, meta.ACLDefault, c.rule.Clone()); err != nil {
			t.Fatal(err)
		}
		pa, err := m.GetAttr(bg, d.Ino)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for _, fs := range []*meta.FS{m, m2, m, m2} {
			for _, k := range []struct {
				typ  posix.FileType
				mode uint32
			}{{posix.TypeFile, 0o640}, {posix.TypeFile, 0o666}, {posix.TypeFile, 0o2771}, {posix.TypeDir, 0o750}, {posix.TypeDir, 0o777}, {posix.TypeSymlink, 0o777}} {
				i++
				name := string(rune('a'+i%26)) + string(rune('a'+i/26))
				e := mk(t, fs, user, d.Ino, name, k.typ, k.mode)
				var want posix.Created
				if k.typ == posix.TypeSymlink {
					want = posix.CreateAttr(user, &pa, k.typ, 0o777, user.Umask, nil)
					want.Mode = 0o777
				} else {
					want = posix.CreateAttr(user, &pa, k.typ, k.mode, user.Umask, c.rule)
				}
				got, err := fs.GetAttr(bg, e.Ino)
				if err != nil {
					t.Fatal(err)
				}
				what := c.name + "/" + name
				if got.Mode&posix.ModeMask != want.Mode || got.GID != want.GID {
					t.Errorf("%s (%v %o): mode %o gid %d, want %o %d", what, k.typ, k.mode, got.Mode&posix.ModeMask, got.GID, want.Mode, want.GID)
				}
				acc, err := fs.GetACL(bg, e.Ino, meta.ACLAccess)
				if err != nil {
					t.Fatal(err)
				}
				if (acc == nil) != (want.Access == nil) || acc != nil && !acc.Equal(want.Access) {
					t.Errorf("%s (%v %o): access ACL %v, want %v", what, k.typ, k.mode, acc, want.Access)
				}
				dacl, err := fs.GetACL(bg, e.Ino, meta.ACLDefault)
				if err != nil {
					t.Fatal(err)
				}
				if (dacl == nil) != (want.Default == nil) || dacl != nil && !dacl.Equal(want.Default) {
					t.Errorf("%s (%v %o): default ACL %v, want %v", what, k.typ, k.mode, dacl, want.Default)
				}
			}
		}
	}
}
