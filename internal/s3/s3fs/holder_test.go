package s3fs

import (
	"strings"
	"testing"
)

// checkHolderNames: a key segment's holder name and prefix-directory name
// decode back to it, and compare as the keys they stand for compare (the
// segment alone, and the segment followed by "/").
func checkHolderNames(t *testing.T, a, b string) {
	for _, s := range []string{a, b} {
		if strings.ContainsAny(s, "/\x00") || s == "" {
			return
		}
	}
	for _, s := range []string{a, b} {
		if seg, prefix, ok := decName(encSeg(s)); !ok || prefix || seg != s {
			t.Fatalf("holder %q decodes to %q %v %v", s, seg, prefix, ok)
		}
		if seg, prefix, ok := decName(encSeg(s) + ".0"); !ok || !prefix || seg != s {
			t.Fatalf("prefix %q decodes to %q %v %v", s, seg, prefix, ok)
		}
	}
	// Every pairing of key forms: seg, seg + "/".
	for _, x := range [][2]string{{a, encSeg(a)}, {a + "/", encSeg(a) + ".0"}} {
		for _, y := range [][2]string{{b, encSeg(b)}, {b + "/", encSeg(b) + ".0"}} {
			if strings.Compare(x[0], y[0]) != strings.Compare(x[1], y[1]) {
				t.Fatalf("keys %q, %q compare unlike their names %q, %q", x[0], y[0], x[1], y[1])
			}
		}
	}
}

func FuzzHolderNames(f *testing.F) {
	for _, s := range [][2]string{{"a", "a-b"}, {"a.", "a.0"}, {"a..b", "a.b"}, {"x.0", "x"}, {"0", "."}, {"a", "a0"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(checkHolderNames)
}

func TestVersionIDs(t *testing.T) {
	a, b := newVersionID(1000), newVersionID(2000)
	if !ValidVersionID(a) || !ValidVersionID(b) || b >= a {
		t.Fatalf("ids %q %q: newer must sort first", a, b)
	}
	if versionTime(a) != 1000 || nameVersion(holderName("", 5)) != NullVersion || versionTime(holderName("", 5)) != 5 {
		t.Fatal("times and null names do not round-trip")
	}
	for _, bad := range []string{"", "nul", "0123456789abcdef0123456", "0123456789ABCDEF01234567", "0123456789abcdef0123456g"} {
		if ValidVersionID(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
