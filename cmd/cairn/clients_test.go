package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// needTool fails the test in CI when a client is missing (CI installs
// them), and skips it elsewhere.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (.ci/run installs it)", n)
			}
			t.Skipf("%s is not installed", n)
		}
	}
}

// buildCairn builds the command once per test binary.
func buildCairn(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cairn")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startLogged starts cmd with its output in a log file, and kills it when
// the test ends, showing the log if the test failed.
func startLogged(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), "output.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", name, b)
		}
	})
}

// startServer runs `cairn server DIR` as the README says and waits until
// it is ready.
func startServer(t *testing.T, bin, dir string, env ...string) (string, *exec.Cmd) {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin, "server", dir, "--address", addr)
	cmd.Env = append(os.Environ(), env...)
	startLogged(t, "server", cmd)
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url, cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server did not become ready on %s", addr)
	return "", nil
}

func TestRealClients(t *testing.T) {
	needTool(t, "aws", "python3", "rclone", "curl", "bash")
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("boto3 is not installed")
		}
		t.Skip("boto3 is not installed")
	}
	bin := buildCairn(t)
	data := t.TempDir()
	url, _ := startServer(t, bin, data, "CAIRN_ROOT_USER=clientuser", "CAIRN_ROOT_PASSWORD=client-secret-1")
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	script, _ := filepath.Abs("testdata/clients.sh")
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "ENDPOINT="+url, "WORK="+work,
		"AWS_ACCESS_KEY_ID=clientuser", "AWS_SECRET_ACCESS_KEY=client-secret-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "RCLONE_CONFIG=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("clients.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestServerFirstStart checks the zero-setup path: generated credentials
// printed once, kept across restarts, and the configuration check.
func TestServerFirstStart(t *testing.T) {
	bin := buildCairn(t)
	dir := t.TempDir()
	out, err := exec.Command(bin, "server", dir, "--check-config").CombinedOutput()
	if err != nil {
		t.Fatalf("--check-config: %v %s", err, out)
	}
	if out, err := exec.Command(bin, "server", dir, "--address", "nonsense", "--check-config").CombinedOutput(); err == nil {
		t.Fatalf("bad address accepted: %s", out)
	}
	if out, err := exec.Command(bin, "server", dir, "--check-config", "--bogus").CombinedOutput(); err == nil {
		t.Fatalf("unknown flag accepted: %s", out)
	}
	env := []string{"CAIRN_ROOT_USER=", "CAIRN_ROOT_PASSWORD="}
	clean := func() []string {
		var e []string
		for _, kv := range os.Environ() {
			if !hasPrefixAny(kv, "CAIRN_ROOT_", "MINIO_ROOT_") {
				e = append(e, kv)
			}
		}
		return e
	}
	_ = env
	addr := freePort(t)
	cmd := exec.Command(bin, "server", dir, "--address", addr)
	cmd.Env = clean()
	logPath := filepath.Join(t.TempDir(), "log")
	logf, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, "http://"+addr)
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	b, _ := os.ReadFile(logPath)
	var user, pass string
	for _, line := range splitLines(string(b)) {
		fmt.Sscanf(line, "  RootUser: %s", &user)
		fmt.Sscanf(line, "  RootPass: %s", &pass)
	}
	if len(user) != 20 || len(pass) != 40 {
		t.Fatalf("no generated credentials printed:\n%s", b)
	}
	// Second start: nothing printed, same credentials stored.
	cmd = exec.Command(bin, "server", dir, "--address", addr)
	cmd.Env = clean()
	logf2, _ := os.Create(logPath + "2")
	cmd.Stdout, cmd.Stderr = logf2, logf2
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, "http://"+addr)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	b, _ = os.ReadFile(logPath + "2")
	for _, line := range splitLines(string(b)) {
		if len(line) > 0 && (contains(line, pass) || contains(line, "RootPass")) {
			t.Fatalf("credentials printed again: %s", line)
		}
	}
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil || len(key) == 0 {
		t.Fatalf("master key: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, "master.key"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("master.key mode %o", st.Mode().Perm())
	}
	db, _ := os.ReadFile(filepath.Join(dir, "meta.db"))
	if contains(string(db), pass) {
		t.Fatal("root password stored in the clear in meta.db")
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready", url)
}
