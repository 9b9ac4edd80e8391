package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIAMWithMC drives the admin API with MinIO's own client and checks
// the effects with the aws CLI (testdata/iam.sh).
func TestIAMWithMC(t *testing.T) {
	needTool(t, "mc", "aws", "bash")
	if out, _ := exec.Command("mc", "--version").CombinedOutput(); !strings.Contains(string(out), "MinIO") {
		t.Fatalf("the mc on PATH is not MinIO's client (.ci/run installs it): %s", out)
	}
	bin := buildCairn(t)
	url, _ := startServer(t, bin, t.TempDir(), "CAIRN_ROOT_USER=iamroot", "CAIRN_ROOT_PASSWORD=iam-root-secret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	script, _ := filepath.Abs("testdata/iam.sh")
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "ENDPOINT="+url, "WORK="+t.TempDir(), "ROOT_USER=iamroot", "ROOT_PASSWORD=iam-root-secret", "CAIRN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iam.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
