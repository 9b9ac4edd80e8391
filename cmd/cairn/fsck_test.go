package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cairn/internal/chunk"
)

// TestFsckCommand uses `cairn fsck` as a user would: a sound volume
// passes (exit 0), a leftover block is listed and removed by --repair, a
// damaged block makes it exit 1 naming the block, and bad input is a
// clear error.
func TestFsckCommand(t *testing.T) {
	bin := buildCairn(t)
	dir := t.TempDir()
	url, srv := startServer(t, bin, dir, crashEnv...)
	createCrashBucket(t, url)
	m := newLoadModel()
	c := crashClient(url)
	for i, size := range []int{5 << 20, 300 << 10, 100} {
		key := []string{"a", "b", "c"}[i]
		if err := putObject(t.Context(), c, m, key, content(key, 0, size), "put"); err != nil {
			t.Fatal(err)
		}
	}
	stopServer(t, srv)
	meta := "sqlite3://" + filepath.Join(dir, "meta.db")
	fsck := func(args ...string) (string, int) {
		out, err := exec.Command(bin, append([]string{"fsck"}, args...)...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := fsck(meta); code != 0 || !strings.Contains(out, "the volume is consistent") {
		t.Fatalf("sound volume: exit %d\n%s", code, out)
	}
	// A leftover: a block file of a slice nothing references.
	var block string
	filepath.WalkDir(filepath.Join(dir, "blocks"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && block == "" {
			block = p
		}
		return nil
	})
	b, err := os.ReadFile(block)
	if err != nil {
		t.Fatal(err)
	}
	size, err := strconv.Atoi(strings.Split(filepath.Base(block), "_")[2])
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "blocks", filepath.FromSlash(chunk.Key(999999999, 0, size)))
	os.MkdirAll(filepath.Dir(left), 0o700)
	if err := os.WriteFile(left, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := fsck(meta); code != 0 || !strings.Contains(out, "leftovers: 1 blocks") {
		t.Fatalf("with a leftover: exit %d\n%s", code, out)
	}
	if out, code := fsck(meta, "--repair"); code != 0 || !strings.Contains(out, "1 removed") {
		t.Fatalf("--repair: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("leftover still there: %v", err)
	}
	// Damage a referenced block.
	b[10] ^= 0xff
	if err := os.WriteFile(block, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := fsck(meta)
	if code != 1 || !strings.Contains(out, "problem:") || !strings.Contains(out, filepath.Base(block)) {
		t.Fatalf("damaged block: exit %d\n%s", code, out)
	}
	if out, code := fsck(meta, "--json"); code != 1 || !strings.Contains(out, `"corrupt": 1`) {
		t.Fatalf("--json: exit %d\n%s", code, out)
	}
	if out, code := fsck("sqlite3://" + filepath.Join(dir, "none.db")); code == 0 || !strings.Contains(out, "cairn:") {
		t.Fatalf("no volume: exit %d\n%s", code, out)
	}
	// A durability that does not exist is refused, naming the choices.
	bad, err := exec.Command(bin, "server", t.TempDir(), "--durability", "sometimes", "--check-config").CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "full") || !strings.Contains(string(bad), "relaxed") {
		t.Fatalf("--durability sometimes: %v\n%s", err, bad)
	}
	if out, err := exec.Command(bin, "server", t.TempDir(), "--durability", "relaxed", "--check-config").CombinedOutput(); err != nil {
		t.Fatalf("--durability relaxed: %v\n%s", err, out)
	}
}
