package fusefs_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"cairn/internal/fusefs"
)

// sparse makes the same sparse file at p on any file system: data, holes
// between, a run in the second 64 MiB chunk, a punched hole and a hole at
// the end; then answers SEEK_DATA and SEEK_HOLE from many offsets.
func sparse(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const mib = 1 << 20
	for _, w := range []struct{ off, n int64 }{{0, 8 << 10}, {mib, 4 << 10}, {64*mib + 8<<10, 4 << 10}} {
		if _, err := f.WriteAt(bytes.Repeat([]byte{'d'}, int(w.n)), w.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(70 * mib); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 4<<10, 4<<10); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, off := range []int64{0, 2 << 10, 4 << 10, 8 << 10, 100 << 10, mib, mib + 4<<10, 64 * mib, 64*mib + 8<<10, 64*mib + 12<<10, 70*mib - 1, 70 * mib, 80 * mib} {
		for _, w := range []struct {
			name   string
			whence int
		}{{"data", unix.SEEK_DATA}, {"hole", unix.SEEK_HOLE}} {
			r, err := unix.Seek(int(f.Fd()), off, w.whence)
			if err != nil {
				fmt.Fprintf(&out, "%s from %d: %s\n", w.name, off, errName(err))
			} else {
				fmt.Fprintf(&out, "%s from %d: %d\n", w.name, off, r)
			}
		}
	}
	return out.String()
}

// SEEK_DATA and SEEK_HOLE give the local file system's answers.
func TestSeekDataHole(t *testing.T) {
	want := sparse(t, filepath.Join(t.TempDir(), "local"))
	mnt := mount(t, newVolume(t), fusefs.Options{})
	t.Logf("local:\n%s", want)
	if got := sparse(t, filepath.Join(mnt, "sparse")); got != want {
		t.Fatalf("cairn:\n%s\nlocal file system:\n%s", got, want)
	}
}
