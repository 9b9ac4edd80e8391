package main

import (
	"context"
	"net/http/httptest"
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
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	url, _ := startServer(t, bin, t.TempDir(), "CAIRN_ROOT_USER=iamroot", "CAIRN_ROOT_PASSWORD=iam-root-secret",
		"MINIO_NOTIFY_WEBHOOK_ENABLE_IAM=on", "MINIO_NOTIFY_WEBHOOK_ENDPOINT_IAM="+hook.URL)
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
	// The events of the script's bucket "evts" reached the webhook target.
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.missing([]string{"hook.txt"})) > 0 || sink.count("hook.txt") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("webhook events of evts/hook.txt: %d, want a put and a delete", sink.count("hook.txt"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
