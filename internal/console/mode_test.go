package console

import "testing"

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
