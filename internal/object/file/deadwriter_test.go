package file

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A temporary file of a process of this host that has ended goes at the
// first sweep, however fresh; one of a live process (or of another host)
// waits for the idle limit.
func TestSweepTempOfDeadWriters(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if !processGone(dead) {
		t.Skip("the pid of the ended process was reused at once")
	}
	sub := filepath.Join(dir, "chunks", "0a")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{ // name -> removed by the sweep
		"1_0_5" + tmpSuffix + "1" + tempOwner(dead):         true,
		"2_0_5" + tmpSuffix + "2" + tempOwner(os.Getppid()): false, // alive
		"3_0_5" + tmpSuffix + "3-" + "12345-otherhost":      false, // another host
		"4_0_5" + tmpSuffix + "9f8e7d":                      false, // older layout
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(sub, name), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.SweepTemp(context.Background(), time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("SweepTemp = %d, %v; want 1", n, err)
	}
	for name, gone := range files {
		_, err := os.Stat(filepath.Join(sub, name))
		if gone != os.IsNotExist(err) {
			t.Errorf("%s: removed=%v, want %v", name, os.IsNotExist(err), gone)
		}
	}
}
