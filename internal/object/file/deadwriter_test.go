package file

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
		// The same pid, gone here, of a writer in another PID namespace
		// of this host (a container with the host's name).
		"5_0_5" + tmpSuffix + "5" + otherSpace(dead): false,
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

// otherSpace is tempOwner(pid) as a process of this host's name but of
// another PID namespace would have it.
func otherSpace(pid int) string {
	host, _ := os.Hostname()
	h := fnv.New32a()
	h.Write([]byte(host + "\x00" + "00000000-0000-0000-0000-000000000000/pid:[1]"))
	return "-" + strconv.Itoa(pid) + "-" + strconv.FormatUint(uint64(h.Sum32()), 36)
}

// TestTempOwnerPIDNamespace: a process of this host in another PID
// namespace (a container with the host's name) names its temporary files
// apart from this namespace's process of the same pid, so that a sweep
// here never takes its live writes for a dead writer's.
func TestTempOwnerPIDNamespace(t *testing.T) {
	if os.Getenv("CAIRN_TEMP_OWNER_HELPER") != "" {
		os.Stdout.WriteString(strconv.Itoa(os.Getpid()) + " " + tempOwner(os.Getpid()))
		os.Exit(0)
	}
	if _, err := exec.LookPath("unshare"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("needs root and unshare(1)")
		}
		t.Skip("needs root and unshare(1)")
	}
	cmd := exec.Command("unshare", "--pid", "--fork", os.Args[0], "-test.run=^TestTempOwnerPIDNamespace$")
	cmd.Env = append(os.Environ(), "CAIRN_TEMP_OWNER_HELPER=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var pid int
	var owner string
	if _, err := fmt.Sscan(string(out), &pid, &owner); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if pid != 1 {
		t.Fatalf("the helper ran as pid %d, not in a PID namespace of its own", pid)
	}
	if owner == tempOwner(pid) {
		t.Fatalf("pid %d of another PID namespace names its temporary files %q, as pid %d of this one would", pid, owner, pid)
	}
}
