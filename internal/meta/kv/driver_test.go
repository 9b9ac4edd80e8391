package kv

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://cairn:s3cret@db/cairn":          "postgres://cairn:xxxxx@db/cairn",
		"redis://:s3cret@127.0.0.1:6379/1":          "redis://:xxxxx@127.0.0.1:6379/1",
		"mysql://cairn:s3cret@(127.0.0.1:3306)/vol": "mysql://cairn:xxxxx@(127.0.0.1:3306)/vol",
		"mysql://cairn@(127.0.0.1:3306)/vol":        "mysql://cairn@(127.0.0.1:3306)/vol",
		"sqlite3:///var/lib/cairn/meta.db":          "sqlite3:///var/lib/cairn/meta.db",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	msg := RedactText("redis://u:s3cret@h:1/2", "dial redis://u:s3cret@h:1/2: refused")
	if strings.Contains(msg, "s3cret") {
		t.Errorf("RedactText left the password in %q", msg)
	}
}

func TestRunClosure(t *testing.T) {
	err := RunClosure("e", func(Tx) error { panic("boom") }, nil)
	if err == nil || !strings.Contains(err.Error(), "e: transaction closure panicked: boom") {
		t.Fatalf("panic became %v", err)
	}
	want := errors.New("x")
	if err := RunClosure("e", func(Tx) error { return want }, nil); err != want {
		t.Fatalf("error became %v", err)
	}
}

func TestMergePending(t *testing.T) {
	engine := []string{"a", "c", "d", "f", "g", "h"}
	pending := []string{"b", "d", "e", "i"}
	for _, reverse := range []bool{false, true} {
		for _, pageSize := range []int{1, 2, 10} {
			eng, pend := slices.Clone(engine), slices.Clone(pending)
			if reverse {
				slices.Reverse(eng)
				slices.Reverse(pend)
			}
			rest := eng
			next := func() (Page, error) {
				n := min(pageSize, len(rest))
				p := Page{Keys: rest[:n], More: n == pageSize}
				for _, k := range rest[:n] {
					p.Vals = append(p.Vals, []byte("v"+k))
				}
				rest = rest[n:]
				return p, nil
			}
			var got []string
			err := MergePending(pend, reverse, next, func(k string, v []byte, in bool) bool {
				if in != (string(v) == "v"+k) {
					t.Errorf("%s: inEngine %v with value %q", k, in, v)
				}
				got = append(got, k)
				return k != "f"
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"a", "b", "c", "d", "e", "f"}
			if reverse {
				want = []string{"i", "h", "g", "f"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("reverse %v, pages of %d: visited %v, want %v", reverse, pageSize, got, want)
			}
		}
	}
	fail := errors.New("down")
	if err := MergePending(nil, false, func() (Page, error) { return Page{}, fail }, func(string, []byte, bool) bool { return true }); err != fail {
		t.Fatalf("a failing page gave %v", err)
	}
}
