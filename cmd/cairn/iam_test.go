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
	cmd.Env = append(os.Environ(), "ENDPOINT="+url, "WORK="+t.TempDir(), "ROOT_USER=iamroot", "ROOT_PASSWORD=iam-root-secret", "CAIRN="+bin, "HOOK="+hook.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iam.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	// The events of the script's bucket "evts" reached the webhook target
	// of the environment (IAM), and those the script routed to the one it
	// defined at run time (live): an object's, through the bucket's rule,
	// and a bucket's creation, through the volume-wide rules.
	deadline := time.Now().Add(10 * time.Second)
	for sink.count("hook.txt") < 2 || sink.count("live/one.txt") < 1 || !sink.has("BucketCreated bucket made-later") {
		if time.Now().After(deadline) {
			t.Fatalf("webhook events: %d of evts/hook.txt (want a put and a delete), %d of live/one.txt (want 1), a BucketCreated of made-later: %v",
				sink.count("hook.txt"), sink.count("live/one.txt"), sink.has("BucketCreated bucket made-later"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sink.count("live/two.txt") > 0 {
		t.Fatal("an event reached the target after mc admin config reset removed it")
	}
}
