package acl

import (
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) *Rule {
	t.Helper()
	r, err := Parse(s, nil)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return r
}

func TestParseFormatRoundTrip(t *testing.T) {
	for _, s := range []string{
		"user::rwx,group::r-x,other::r--",
		"user::rw-,user:1000:rwx,group::r--,group:50:-w-,mask::rwx,other::---",
		"user::---,user:1:r--,user:2:-w-,group::--x,mask::r--,other::rwx",
	} {
		r := mustParse(t, s)
		if got := r.String(); got != s {
			t.Errorf("round trip %q -> %q", s, got)
		}
		r2 := mustParse(t, r.Format("", nil))
		if !r.Equal(r2) {
			t.Errorf("Format/Parse changed %q", s)
		}
	}
}

// The JuiceFS ACL article's example: `setfacl -m m::-wx` on a file whose
// group entry is r-x makes getfacl show "#effective:--x".
func TestEffectiveMask(t *testing.T) {
	r := mustParse(t, "u::rwx,u:1001:rw-,g::r-x,m::rwx,o::r--")
	r.Mask = mustPerm(t, "-wx")
	out := r.Format("", nil)
	for _, want := range []string{"group::r-x\t#effective:--x", "user:1001:rw-\t#effective:-w-", "mask::-wx"} {
		if !strings.Contains(out, want) {
			t.Errorf("Format missing %q:\n%s", want, out)
		}
	}
	if got := r.Mode(); got != 0o734 {
		t.Errorf("Mode = %o, want 734", got)
	}
}

func mustPerm(t *testing.T, s string) uint16 {
	p, err := parsePerm(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"", "user::rwx", "user::rwx,group::r-x", // missing entries
		"user::rwx,group::r-x,other::r--,user::r--", // repeated
		"user::rwz,group::r-x,other::r--",           // bad perm
		"bogus::rwx,group::r-x,other::r--",          // bad tag
		"user:nosuchuser:rwx,user::rwx,group::r-x,other::r--",
		"user::rwx,group::r-x,other:5:r--",
		"user::rwx:extra,group::r-x,other::r--",
		"user:99999999999:rwx,user::rwx,group::r-x,other::r--",
	} {
		if _, err := Parse(s, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestParseComputesMask(t *testing.T) {
	r := mustParse(t, "u::rw,u:7:r,g::x,g:9:w,o::-")
	if r.Mask != 7 {
		t.Errorf("mask = %o, want 7 (union of group class)", r.Mask)
	}
	r = mustParse(t, "u::6,g::4,o::4")
	if !r.IsMinimal() || r.Mode() != 0o644 {
		t.Errorf("minimal ACL: %+v mode %o", r, r.Mode())
	}
}

func TestCheck(t *testing.T) {
	r := mustParse(t, "u::rw-,u:1000:rwx,g::r--,g:50:-w-,g:60:r-x,m::r-x,o::---")
	const owner, group = 10, 20
	cases := []struct {
		name string
		uid  uint32
		gids []uint32
		want uint16
		ok   bool
	}{
		{"owner read", owner, nil, 4, true},
		{"owner exec denied", owner, nil, 1, false},
		{"owner ignores named entry", owner, []uint32{60}, 1, false},
		{"named user masked write", 1000, nil, 2, false},
		{"named user read", 1000, nil, 4, true},
		{"named user exec", 1000, nil, 5, true},
		{"named user does not fall to groups", 1000, []uint32{60}, 2, false},
		{"owning group read", 1, []uint32{group}, 4, true},
		{"owning group write denied", 1, []uint32{group}, 2, false},
		{"named group masked", 1, []uint32{50}, 2, false},
		{"any group grants", 1, []uint32{group, 60}, 5, true},
		{"groups must grant all in one entry", 1, []uint32{group, 50}, 6, false},
		{"matched group never falls to other", 1, []uint32{50}, 4, false},
		{"other", 1, []uint32{99}, 4, false},
	}
	for _, c := range cases {
		if got := r.Check(c.uid, c.gids, owner, group, c.want); got != c.ok {
			t.Errorf("%s: Check = %v, want %v", c.name, got, c.ok)
		}
	}
	open := mustParse(t, "u::---,g::---,o::rwx")
	if !open.Check(1, []uint32{2}, 3, 4, 7) {
		t.Error("other rwx should grant a stranger")
	}
	if open.Check(1, []uint32{4}, 3, 4, 4) {
		t.Error("owning group --- should deny even though other is rwx")
	}
}

func TestSetModeAndInherit(t *testing.T) {
	r := mustParse(t, "u::rwx,u:5:rwx,g::r-x,m::rwx,o::r-x")
	r.SetMode(0o640)
	if r.Owner != 6 || r.Mask != 4 || r.Group != 5 || r.Other != 0 {
		t.Errorf("SetMode with mask: %+v", r)
	}
	m := FromMode(0o751)
	if m.Owner != 7 || m.Group != 5 || m.Other != 1 || m.Mode() != 0o751 {
		t.Errorf("FromMode: %+v", m)
	}
	def := mustParse(t, "u::rwx,u:5:rwx,g::r-x,g:9:rwx,m::rwx,o::r-x")
	acc, mode := def.Inherit(0o640)
	if mode != 0o640 || acc.Mask != 4 || acc.Group != 5 || acc.Owner != 6 || acc.Other != 0 {
		t.Errorf("Inherit(0640) = %+v mode %o", acc, mode)
	}
	if def.Mask != 7 {
		t.Error("Inherit modified the default ACL")
	}
	minimal := FromMode(0o755)
	acc, mode = minimal.Inherit(0o666)
	if mode != 0o644 || !acc.IsMinimal() {
		t.Errorf("Inherit minimal: %+v %o", acc, mode)
	}
}

func TestXattrCodec(t *testing.T) {
	r := mustParse(t, "u::rw-,u:1000:rwx,u:1001:r--,g::r--,g:50:-w-,m::rwx,o::---")
	b := r.MarshalXattr()
	if len(b) != 4+8*7 {
		t.Fatalf("len = %d", len(b))
	}
	// version 2, then user_obj tag 1 perm 6 id undefined.
	want := []byte{2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 7, 0, 0xe8, 3, 0, 0}
	if string(b[:len(want)]) != string(want) {
		t.Errorf("encoding = % x", b[:len(want)])
	}
	var r2 Rule
	if err := r2.UnmarshalXattr(b); err != nil || !r.Equal(&r2) {
		t.Fatalf("decode: %v %+v", err, r2)
	}
	for _, bad := range [][]byte{
		nil, {2, 0, 0}, {1, 0, 0, 0},
		append([]byte{2, 0, 0, 0}, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff), // only user_obj
		append(append([]byte{}, b...), 0x40, 0, 0, 0, 0, 0, 0, 0),      // unknown tag
		append(append([]byte{}, b...), 1, 0, 0, 0, 0, 0, 0, 0),         // repeated user_obj
		append(append([]byte{}, b...), 2, 0, 9, 0, 0, 0, 0, 0),         // perm 9
	} {
		if err := r2.UnmarshalXattr(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("UnmarshalXattr(% x) = %v", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"u::rwx,g::r-x,o::r--", "user::rw-\nuser:1:r--\tgroup::r--\nmask::r--\nother::---", "u:1:7,u::0,g::0,o::0,m::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s, nil)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid rule: %v", err)
		}
		r2, err := Parse(r.Format("", nil), nil)
		if err != nil || !r.Equal(r2) {
			t.Fatalf("Format/Parse round trip of %q: %v", s, err)
		}
	})
}

func FuzzXattr(f *testing.F) {
	f.Add(mustParseF("u::rw-,u:1000:rwx,g::r--,m::rwx,o::---").MarshalXattr())
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Rule
		if err := r.UnmarshalXattr(b); err != nil {
			return
		}
		var r2 Rule
		if err := r2.UnmarshalXattr(r.MarshalXattr()); err != nil || !r.Equal(&r2) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func mustParseF(s string) *Rule {
	r, err := Parse(s, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func TestInheritPerm(t *testing.T) {
	for _, text := range []string{"u::rwx,u:5:rwx,g::r-x,g:9:rwx,m::rw-,o::r-x", "u::rw-,g::r--,o::---", "u::r-x,g::rwx,o::rwx"} {
		def := mustParse(t, text)
		for mode := uint32(0); mode <= 0o7777; mode++ {
			if _, want := def.Inherit(mode); def.InheritPerm(mode) != want {
				t.Fatalf("%s: InheritPerm(%o) = %o, Inherit gives %o", text, mode, def.InheritPerm(mode), want)
			}
		}
	}
}
