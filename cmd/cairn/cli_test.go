package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVolumeCommands follows the README's volume section: format, status,
// bench meta (JSON), bench data, and the errors of bad input.
func TestVolumeCommands(t *testing.T) {
	bin := buildCairn(t)
	dir := t.TempDir()
	url := "sqlite3://" + filepath.Join(dir, "meta.db")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("format", url, "myvol", "--enable-acl", "--capacity", "1G", "--inodes", "100000"); err != nil {
		t.Fatalf("format: %v\n%s", err, out)
	}
	for _, bad := range [][]string{
		{"format", url, "again"},                 // already formatted
		{"format", "nonsense", "x"},              // not a META-URL
		{"format", "redis://127.0.0.1:1", "x"},   // no server there
		{"format", "tikv://127.0.0.1:2379", "x"}, // engine not available
		{"format", "sqlite3://" + filepath.Join(dir, "b.db"), "x", "--block-size", "3M"},
		{"format", "sqlite3://" + filepath.Join(dir, "c.db"), "x", "--capacity", "lots"},
		{"status", "sqlite3://" + filepath.Join(dir, "empty.db")}, // no volume
		{"bench", "meta", url, "--threads", "0"},
		{"bench", "meta", url, "--ops", "create,unlink"}, // unlink needs rename
		{"bench", "meta", url, "--ops", "mkdir,fsync"},
		{"bench", "meta", url, "--slices", "0"},
	} {
		if out, err := run(bad...); err == nil || !strings.Contains(out, "cairn:") {
			t.Errorf("%v succeeded or said nothing: %v\n%s", bad, err, out)
		}
	}
	out, err := run("status", url)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st struct {
		Setting struct {
			Name      string `json:"name"`
			EnableACL bool   `json:"enable_acl"`
			Capacity  uint64 `json:"capacity"`
		} `json:"setting"`
		Usage struct {
			Capacity uint64 `json:"capacity"`
		} `json:"usage"`
		Sessions []any `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Setting.Name != "myvol" || !st.Setting.EnableACL || st.Usage.Capacity != 1<<30 {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, err = run("bench", "meta", url, "--entries", "400", "--json")
	if err != nil {
		t.Fatalf("bench meta: %v\n%s", err, out)
	}
	var bm struct {
		Off map[string]float64 `json:"acl_off"`
		On  map[string]float64 `json:"acl_on"`
	}
	if err := json.Unmarshal([]byte(out), &bm); err != nil || len(bm.Off) != len(metaOps) || len(bm.On) != len(metaOps) {
		t.Fatalf("bench meta JSON: %v\n%s", err, out)
	}
	for _, op := range metaOps {
		if bm.Off[op] <= 0 || bm.On[op] <= 0 {
			t.Errorf("%s: %v / %v ops/s", op, bm.Off[op], bm.On[op])
		}
	}
	// The benchmark cleans up after itself.
	out, _ = run("status", url)
	if !strings.Contains(out, `"used_inodes": 1`) {
		t.Errorf("bench meta left inodes behind:\n%s", out)
	}
	// The seed's shape, small: entries spread over directories, a long
	// ACL, some operations only, the scratch trees kept.
	out, err = run("bench", "meta", url, "--entries", "400", "--files-per-dir", "50", "--acl-users", "40", "--acl-groups", "20",
		"--ops", "rename,create,mkdir,open_close,readdir", "--slices", "3", "--keep", "--json")
	bm.Off, bm.On = nil, nil
	if err := json.Unmarshal([]byte(out), &bm); err != nil || len(bm.Off) != 5 || len(bm.On) != 5 || bm.On["rename"] <= 0 || bm.On["readdir"] <= 0 {
		t.Fatalf("bench meta --ops: %v\n%s", err, out)
	}
	// The overhead is the median of the slices' pairs, with its quartiles.
	var ov struct {
		Med  map[string]float64 `json:"overhead_pct"`
		Low  map[string]float64 `json:"overhead_p25_pct"`
		High map[string]float64 `json:"overhead_p75_pct"`
	}
	json.Unmarshal([]byte(out), &ov)
	for _, op := range []string{"rename", "create", "mkdir", "open_close", "readdir"} {
		if _, ok := ov.Med[op]; !ok || ov.Low[op] > ov.Med[op] || ov.Med[op] > ov.High[op] {
			t.Errorf("%s overhead: %v (quartiles %v … %v)", op, ov.Med[op], ov.Low[op], ov.High[op])
		}
	}
	// Kept: per configuration the scratch directory, 4 worker directories
	// with 2 subdirectories of 50 entries each, 400 files and 400
	// directories; and the root.
	out, _ = run("status", url)
	if want := fmt.Sprintf(`"used_inodes": %d`, 1+2*(1+4+8+400+400)); !strings.Contains(out, want) {
		t.Errorf("bench meta --keep --files-per-dir 50: want %s in\n%s", want, out)
	}
	out, err = run("bench", "data", t.TempDir(), "--size", "64M", "--json")
	if err != nil || !strings.Contains(out, `"write_mib_s"`) {
		t.Fatalf("bench data: %v\n%s", err, out)
	}
}
