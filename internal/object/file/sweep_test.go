package file_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cairn/internal/object"
	"cairn/internal/object/file"
)

// TestSweepTemp: temporary files left by dead writers go once idle long
// enough; fresh ones and those this process is still writing stay, and
// the writer still commits.
func TestSweepTemp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := file.New(dir, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "chunks/0/1_0", bytes.NewReader([]byte("kept"))); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	leftover := filepath.Join(dir, "chunks", "0", "2_0.tmp-123")
	fresh := filepath.Join(dir, "chunks", "0", "3_0.tmp-456")
	for _, p := range []string{leftover, fresh} {
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(leftover, old, old); err != nil {
		t.Fatal(err)
	}
	// A block this process is writing, idle for two days.
	w, err := object.AppenderOf(s).Append(ctx, "chunks/0/4_0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("live")); err != nil {
		t.Fatal(err)
	}
	var liveTemp string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "4_0.tmp-") {
			liveTemp = p
		}
		return nil
	})
	if liveTemp == "" {
		t.Fatal("the appended block has no temporary file")
	}
	if err := os.Chtimes(liveTemp, old, old); err != nil {
		t.Fatal(err)
	}

	n, err := object.TempSweeperOf(s).SweepTemp(ctx, 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("SweepTemp = %d, %v; want 1 file removed", n, err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover temporary file still there: %v", err)
	}
	for _, p := range []string{fresh, liveTemp} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if err := w.Commit("chunks/0/4_0", true); err != nil {
		t.Fatalf("commit after a sweep: %v", err)
	}
	for key, want := range map[string]string{"chunks/0/1_0": "kept", "chunks/0/4_0": "live"} {
		buf := make([]byte, len(want))
		n, err := object.ReadFull(ctx, s, key, buf, nil)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("%s = %q, %v; want %q", key, buf[:n], err, want)
		}
	}
	// Committed: no longer live, but no longer temporary either.
	if n, err := object.TempSweeperOf(s).SweepTemp(ctx, 0); err != nil || n != 1 {
		t.Errorf("second sweep with no age limit = %d, %v; want only the fresh leftover", n, err)
	}
}
