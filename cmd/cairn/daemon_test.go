package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `cairn server -d` returns once the server runs in the background, with
// its log and pid files; a second one is refused; SIGTERM stops it and
// removes the pid file.
func TestServerDaemon(t *testing.T) {
	bin := buildCairn(t)
	dir := t.TempDir()
	addr := freePort(t)
	env := append(os.Environ(), "CAIRN_ROOT_USER=daemonroot", "CAIRN_ROOT_PASSWORD=daemon-secret")
	run := func(args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	out, err := run("server", dir, "--address", addr, "-d", "--log-level", "debug")
	if err != nil || !strings.Contains(out, "running in the background") {
		t.Fatalf("server -d: %v\n%s", err, out)
	}
	pidFile := filepath.Join(dir, "cairn.pid")
	pid, err := readPid(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	resp, err := http.Get("http://" + addr + "/minio/health/ready")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the background server does not answer: %v", err)
	}
	resp.Body.Close()
	log, _ := os.ReadFile(filepath.Join(dir, "cairn.log"))
	if !strings.Contains(string(log), "cairn S3 endpoint ready") {
		t.Fatalf("log file: %s", log)
	}
	if fi, err := os.Stat(filepath.Join(dir, "cairn.log")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log file mode: %v %v", fi.Mode().Perm(), err)
	}
	if out, err := run("server", dir, "--address", freePort(t), "-d"); err == nil || !strings.Contains(out, "already running") {
		t.Fatalf("a second server on the same directory: %v\n%s", err, out)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(pidFile); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pid file outlived the server")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A bad flag in the background process is reported by the foreground.
	if out, err := run("server", dir, "--address", "nonsense", "-d"); err == nil || !strings.Contains(out, "bad address") {
		t.Fatalf("a failing background start: %v\n%s", err, out)
	}
}

// The log file is rotated by size, keeping the newest files.
func TestRotatingLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	r, err := openRotating(path, 100, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("a", 39) + "\n"
	for range 10 {
		r.Write([]byte(line))
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 || len(b) > 100 {
			t.Fatalf("%s: %d bytes %v", p, len(b), err)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatal("more files kept than asked")
	}
}
