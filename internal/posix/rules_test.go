package posix

import (
	"errors"
	"syscall"
	"testing"

	"cairn/internal/acl"
)

func user(uid, gid uint32, groups ...uint32) Cred { return Cred{UID: uid, GID: gid, Groups: groups} }

func file(mode, uid, gid uint32) *Attr { return &Attr{Type: TypeFile, Mode: mode, UID: uid, GID: gid} }
func dir(mode, uid, gid uint32) *Attr  { return &Attr{Type: TypeDir, Mode: mode, UID: uid, GID: gid} }

func TestAccessMode(t *testing.T) {
	cases := []struct {
		name string
		c    Cred
		a    *Attr
		want uint16
		err  error
	}{
		{"owner rw", user(10, 10), file(0o600, 10, 20), MayRead | MayWrite, nil},
		{"owner class only", user(10, 20), file(0o070, 10, 20), MayRead, syscall.EACCES},
		{"group via primary", user(11, 20), file(0o040, 10, 20), MayRead, nil},
		{"group via supplementary", user(11, 30, 40, 20), file(0o040, 10, 20), MayRead, nil},
		{"group class only", user(11, 20), file(0o407, 10, 20), MayRead, syscall.EACCES},
		{"other", user(12, 30), file(0o004, 10, 20), MayRead, nil},
		{"other denied write", user(12, 30), file(0o665, 10, 20), MayWrite, syscall.EACCES},
		{"root reads 000", Root, file(0, 10, 20), MayRead | MayWrite, nil},
		{"root exec needs an x bit", Root, file(0o666, 10, 20), MayExec, syscall.EACCES},
		{"root exec any x bit", Root, file(0o001, 10, 20), MayExec, nil},
		{"root searches any dir", Root, dir(0, 10, 20), MayExec, nil},
		{"nothing asked", user(12, 30), file(0, 10, 20), 0, nil},
	}
	for _, c := range cases {
		if err := Access(c.c, c.a, nil, c.want); !errors.Is(err, c.err) && !(err == nil && c.err == nil) {
			t.Errorf("%s: Access = %v, want %v", c.name, err, c.err)
		}
	}
}

func TestAccessACL(t *testing.T) {
	r, err := acl.Parse("u::rw-,u:1000:rwx,g::r--,m::r-x,o::---", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := file(r.Mode(), 10, 20)
	if err := Access(user(1000, 1000), a, r, MayWrite); err != syscall.EACCES {
		t.Errorf("masked named user write: %v", err)
	}
	if err := Access(user(1000, 1000), a, r, MayRead|MayExec); err != nil {
		t.Errorf("named user rx: %v", err)
	}
	if err := Access(user(5, 5), a, r, MayRead); err != syscall.EACCES {
		t.Errorf("other: %v", err)
	}
}

func TestCheckSticky(t *testing.T) {
	d := dir(0o1777, 1, 1)
	v := file(0o644, 2, 2)
	for _, c := range []struct {
		c   Cred
		err error
	}{{Root, nil}, {user(1, 9), nil}, {user(2, 9), nil}, {user(3, 9), syscall.EPERM}} {
		if err := CheckSticky(c.c, d, v); err != c.err {
			t.Errorf("uid %d: %v, want %v", c.c.UID, err, c.err)
		}
	}
	if err := CheckSticky(user(3, 9), dir(0o777, 1, 1), v); err != nil {
		t.Errorf("non-sticky dir: %v", err)
	}
}

func TestCreateAttr(t *testing.T) {
	c := user(10, 10, 30)
	got := CreateAttr(c, dir(0o755, 0, 0), TypeFile, 0o666, 0o022, nil)
	if got.Mode != 0o644 || got.GID != 10 || got.Access != nil {
		t.Errorf("plain create: %+v", got)
	}
	got = CreateAttr(c, dir(0o2775, 0, 50), TypeDir, 0o777, 0o002, nil)
	if got.Mode != 0o2775 || got.GID != 50 {
		t.Errorf("setgid dir inheritance: %o gid %d", got.Mode, got.GID)
	}
	got = CreateAttr(c, dir(0o2775, 0, 50), TypeFile, 0o2755, 0, nil)
	if got.Mode != 0o755 || got.GID != 50 {
		t.Errorf("setgid file outside group: %o", got.Mode)
	}
	got = CreateAttr(c, dir(0o2775, 0, 30), TypeFile, 0o2755, 0, nil)
	if got.Mode != 0o2755 {
		t.Errorf("setgid file in group kept: %o", got.Mode)
	}
	def, _ := acl.Parse("u::rwx,u:1000:rwx,g::r-x,m::rwx,o::r-x", nil)
	got = CreateAttr(c, dir(0o755, 0, 0), TypeFile, 0o666, 0o077, def)
	if got.Mode != 0o664 || got.Access == nil || got.Access.Mask != 6 || got.Default != nil {
		t.Errorf("default ACL create (umask ignored): %o %+v", got.Mode, got.Access)
	}
	got = CreateAttr(c, dir(0o755, 0, 0), TypeDir, 0o750, 0o077, def)
	if got.Mode != 0o750 || got.Default != def || got.Access.Mask != 5 {
		t.Errorf("default ACL mkdir: %o %+v", got.Mode, got)
	}
	minimal, _ := acl.Parse("u::rwx,g::r-x,o::---", nil)
	got = CreateAttr(c, dir(0o755, 0, 0), TypeFile, 0o666, 0o022, minimal)
	if got.Mode != 0o640 || got.Access != nil {
		t.Errorf("minimal default ACL: %o %+v", got.Mode, got.Access)
	}
}

func TestChmod(t *testing.T) {
	a := file(0o644, 10, 20)
	if _, err := Chmod(user(11, 20), a, 0o777); err != syscall.EPERM {
		t.Errorf("non-owner chmod: %v", err)
	}
	if m, err := Chmod(user(10, 10), a, 0o2755); err != nil || m != 0o755 {
		t.Errorf("owner outside group sets setgid: %o %v", m, err)
	}
	if m, err := Chmod(user(10, 10, 20), a, 0o6755); err != nil || m != 0o6755 {
		t.Errorf("owner in group: %o %v", m, err)
	}
	if m, err := Chmod(Root, a, 0o7777); err != nil || m != 0o7777 {
		t.Errorf("root: %o %v", m, err)
	}
	if m, err := Chmod(user(10, 10), file(0o644, 10, 20), 0o1644); err != nil || m != 0o1644 {
		t.Errorf("sticky on a file: %o %v", m, err)
	}
}

func TestChown(t *testing.T) {
	a := file(0o6555, 10, 20)
	cases := []struct {
		name     string
		c        Cred
		uid, gid int64
		mode     uint32
		err      error
	}{
		{"root gives away, clears suid/sgid", Root, 65534, 65533, 0o555, nil},
		{"owner to own group", user(10, 10, 30), -1, 30, 0o555, nil},
		{"owner to foreign group", user(10, 10), -1, 30, 0, syscall.EPERM},
		{"owner gives away", user(10, 10), 11, -1, 0, syscall.EPERM},
		{"owner keeps uid", user(10, 10), 10, -1, 0o555, nil},
		{"owner keeps gid", user(10, 10), -1, 20, 0o555, nil},
		{"non-owner same ids", user(11, 20), 10, 20, 0, syscall.EPERM},
		{"non-owner -1 -1", user(11, 20), -1, -1, 0o555, nil},
	}
	for _, c := range cases {
		m, err := Chown(c.c, a, c.uid, c.gid)
		if err != c.err || (err == nil && m != c.mode) {
			t.Errorf("%s: mode %o err %v, want %o %v", c.name, m, err, c.mode, c.err)
		}
	}
	if m, _ := Chown(Root, dir(0o6755, 1, 1), 2, 2); m != 0o6755 {
		t.Errorf("directory keeps special bits: %o", m)
	}
	if m, _ := Chown(Root, file(0o2644, 1, 1), 2, 2); m != 0o2644 {
		t.Errorf("setgid without group exec (locking) kept: %o", m)
	}
}

func TestKillSuidOnWrite(t *testing.T) {
	if m, ch := KillSuidOnWrite(user(5, 5), file(0o6755, 1, 1)); m != 0o755 || !ch {
		t.Errorf("write clears: %o %v", m, ch)
	}
	if m, ch := KillSuidOnWrite(Root, file(0o6755, 1, 1)); m != 0o6755 || ch {
		t.Errorf("root keeps: %o %v", m, ch)
	}
	if m, ch := KillSuidOnWrite(user(5, 5), file(0o2644, 1, 1)); m != 0o2644 || ch {
		t.Errorf("mandatory-locking setgid kept: %o %v", m, ch)
	}
}

func TestCheckUtimes(t *testing.T) {
	a := file(0o666, 10, 20)
	if err := CheckUtimes(user(11, 11), a, nil, true); err != syscall.EPERM {
		t.Errorf("explicit by non-owner: %v", err)
	}
	if err := CheckUtimes(user(11, 11), a, nil, false); err != nil {
		t.Errorf("now by writer: %v", err)
	}
	if err := CheckUtimes(user(11, 11), file(0o644, 10, 20), nil, false); err != syscall.EACCES {
		t.Errorf("now by non-writer: %v", err)
	}
	if err := CheckUtimes(user(10, 10), file(0, 10, 20), nil, true); err != nil {
		t.Errorf("owner: %v", err)
	}
}

func TestSquash(t *testing.T) {
	id, err := ParseIdent("65534:65533")
	if err != nil || id != (Ident{65534, 65533}) {
		t.Fatalf("ParseIdent: %v %v", id, err)
	}
	for _, bad := range []string{"", "x:1", "1:y", "-1:2", "1:2:3"} {
		if _, err := ParseIdent(bad); err == nil {
			t.Errorf("ParseIdent(%q) accepted", bad)
		}
	}
	s := Squash{Root: &id}
	if c := s.Apply(Cred{UID: 0, GID: 0, Groups: []uint32{1}, Umask: 0o22}); c.UID != 65534 || c.GID != 65533 || c.Groups != nil || c.Umask != 0o22 {
		t.Errorf("root squash: %+v", c)
	}
	if c := s.Apply(user(5, 6)); c.UID != 5 {
		t.Errorf("root squash changed a user: %+v", c)
	}
	all := Ident{1, 2}
	if c := (Squash{All: &all}).Apply(user(5, 6, 7)); c.UID != 1 || c.GID != 2 || c.Groups != nil {
		t.Errorf("all squash: %+v", c)
	}
}

func TestStatMode(t *testing.T) {
	a := &Attr{Type: TypeDir, Mode: 0o1755}
	if got := a.StatMode(); got != 0o41755 {
		t.Errorf("StatMode = %o", got)
	}
	for typ := TypeFile; typ <= TypeSocket; typ++ {
		if TypeFromMode((&Attr{Type: typ}).StatMode()) != typ {
			t.Errorf("TypeFromMode round trip for %d", typ)
		}
	}
}

// CreateInherited gives CreateAttr's mode and group for every mode, type,
// setgid parent and caller.
func TestCreateInherited(t *testing.T) {
	def, _ := acl.Parse("u::rwx,u:1000:rwx,g::r-x,m::rw-,o::r-x", nil)
	for _, c := range []Cred{user(10, 10, 30), user(0, 0), user(10, 10)} {
		for _, p := range []*Attr{dir(0o755, 0, 0), dir(0o2775, 0, 30), dir(0o2775, 0, 50)} {
			for _, typ := range []FileType{TypeFile, TypeDir} {
				for mode := uint32(0); mode <= 0o7777; mode += 0o11 {
					want := CreateAttr(c, p, typ, mode, 0o022, def)
					got := CreateInherited(c, p, typ, mode, def.InheritPerm(mode))
					if got.Mode != want.Mode || got.GID != want.GID {
						t.Fatalf("%+v in %o, %v %o: %o %d, want %o %d", c, p.Mode, typ, mode, got.Mode, got.GID, want.Mode, want.GID)
					}
				}
			}
		}
	}
}
