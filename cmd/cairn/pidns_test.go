package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cairn/internal/meta"
	"cairn/internal/testsrv"
)

// TestProcessGone: a session's process counts as ended only when it ran
// on this host, in this PID namespace, and its pid is free here.
func TestProcessGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if unix.Kill(dead, 0) != unix.ESRCH {
		t.Skip("the pid of the ended process was reused at once")
	}
	host, _ := os.Hostname()
	if pidSpace() == "" {
		t.Fatal("no PID namespace read from /proc")
	}
	for _, c := range []struct {
		s    meta.SessionInfo
		gone bool
	}{
		{meta.SessionInfo{Host: host, PID: dead, PIDSpace: pidSpace()}, true},
		{meta.SessionInfo{Host: host, PID: os.Getppid(), PIDSpace: pidSpace()}, false},
		{meta.SessionInfo{Host: host, PID: dead, PIDSpace: "other-boot/pid:[4026531836]"}, false},
		{meta.SessionInfo{Host: host, PID: dead}, false}, // a client that did not say
		{meta.SessionInfo{Host: host + "-other", PID: dead, PIDSpace: pidSpace()}, false},
	} {
		if got := processGone(c.s); got != c.gone {
			t.Errorf("processGone(%+v) = %v", c.s, got)
		}
	}
}

// TestSessionsAcrossPIDNamespaces: a mount in a PID namespace of its own
// (a container with the host's name) and a gateway on the host share a
// volume; neither takes the other's session for a dead process's, though
// each one's pid is free in the other's namespace.
func TestSessionsAcrossPIDNamespaces(t *testing.T) {
	needFuse(t)
	needTool(t, "unshare")
	bin := buildCairn(t)
	c := cli{t, bin}
	redis := testsrv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	url := "redis://" + redis.Addr + "/4"
	c.ok("format", url, "pidns", "--bucket", filepath.Join(t.TempDir(), "blocks"))
	// The mount's pid in its namespace: one that is free in this one.
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	last := pidMax - 100
	for unix.Kill(last+1, 0) != unix.ESRCH {
		last--
	}
	mp := t.TempDir()
	t.Cleanup(func() { forceUnmount(mp) })
	mount := exec.Command("unshare", "--pid", "--fork", "sh", "-c",
		"echo "+strconv.Itoa(last)+" > /proc/sys/kernel/ns_last_pid && \"$0\" mount \"$1\" \"$2\"", bin, url, mp)
	startLogged(t, "mount", mount)
	waitFor(t, "the mount", func() bool { return mounted(mp) })
	startGateway(t, bin, []string{"CAIRN_ROOT_USER=pidnsroot", "CAIRN_ROOT_PASSWORD=pidns-secret"}, url, freePort(t),
		filepath.Join(t.TempDir(), "master.key"))
	before := sessions(t, c, url)
	var inNS meta.SessionInfo
	for _, s := range before {
		if s.Mountpoint == mp {
			inNS = s
		}
	}
	if len(before) != 2 || inNS.PID != last+1 || inNS.PIDSpace == "" || inNS.PIDSpace == pidSpace() {
		t.Fatalf("sessions %+v: want the mount's, pid %d of another PID namespace, and the gateway's", before, last+1)
	}
	if unix.Kill(inNS.PID, 0) != unix.ESRCH {
		t.Fatalf("pid %d is taken in this namespace too", inNS.PID)
	}
	// Both clients beat (and look for dead sessions) every 12 s.
	time.Sleep(13 * time.Second)
	after := sessions(t, c, url)
	if len(after) != 2 || after[0].ID != before[0].ID || after[1].ID != before[1].ID {
		t.Fatalf("sessions after a heartbeat %+v, before %+v", after, before)
	}
	if err := os.WriteFile(filepath.Join(mp, "still"), []byte("here"), 0o644); err != nil {
		t.Fatalf("the mount after the gateway's heartbeat: %v", err)
	}
	c.ok("umount", mp)
	if err := mount.Wait(); err != nil {
		t.Fatalf("the mount ended with %v", err)
	}
}
