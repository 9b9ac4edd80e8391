package console

import (
	"net/url"
	"strings"
	"testing"
)

func TestModeString(t *testing.T) {
	for _, tc := range []struct {
		mode uint32
		want string
	}{
		{0o644, "rw-r--r--"}, {0o755, "rwxr-xr-x"}, {0, "---------"}, {0o4755, "rwsr-xr-x"}, {0o4644, "rwSr--r--"},
		{0o2750, "rwxr-s---"}, {0o2740, "rwxr-S---"}, {0o1777, "rwxrwxrwt"}, {0o1666, "rw-rw-rwT"},
	} {
		if got := modeString(tc.mode); got != tc.want {
			t.Errorf("%04o: %s, want %s", tc.mode, got, tc.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/console/browse?bucket=a": "/console/browse?bucket=a", "https://evil.example/console/x": "/console/x",
		"//evil.example/console/": "/console/", "/elsewhere": "/console/", "": "/console/", `/console/\evil`: "/console/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLocalPath: whatever a sign-in link carries as its next page, the
// console sends the user to one of its own pages.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/console/buckets", "https://evil.example/", "//evil.example/console/", "/console/../x", `/console/\\evil`, "javascript:alert(1)", "/console/browse?bucket=a&prefix=b%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := localPath(in)
		u, err := url.Parse(out)
		if !strings.HasPrefix(out, Prefix) || err != nil || u.Host != "" || u.Scheme != "" || strings.HasPrefix(out, "//") || strings.Contains(out, `\`) {
			t.Fatalf("localPath(%q) = %q", in, out)
		}
	})
}

// FuzzParseTags: the Tags tab's lines read back as what was written.
func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"team=web\nstage = prod\n", "", "novalue=", "=x", "a=b=c", "\n\n k = v \n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		set, err := parseTags(text)
		if err != nil {
			return
		}
		var lines []string
		for _, tg := range set {
			if *tg.Key == "" || strings.ContainsRune(*tg.Key, '\n') {
				t.Fatalf("%q gave key %q", text, *tg.Key)
			}
			lines = append(lines, *tg.Key+"="+*tg.Value)
		}
		again, err := parseTags(strings.Join(lines, "\n"))
		if err != nil || len(again) != len(set) {
			t.Fatalf("%q: %v, %d tags then %d", text, err, len(set), len(again))
		}
		for i := range set {
			if *again[i].Key != *set[i].Key || *again[i].Value != *set[i].Value {
				t.Fatalf("%q: tag %d reads back as %q=%q", text, i, *again[i].Key, *again[i].Value)
			}
		}
	})
}
