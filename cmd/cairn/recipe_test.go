package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/testsrv"
)

// TestScalingRecipe follows the README's "Scaling out": a Redis volume
// with its blocks in an S3 store (MinIO), two gateways behind nginx with
// docs/nginx-cairn.conf, a mount for each "host". The aws CLI talks to
// nginx only: a multipart upload whose parts land on both gateways, a
// listing, a download; the object is a file on both mounts, and a file
// written on a mount is an object through nginx.
func TestScalingRecipe(t *testing.T) {
	needFuse(t)
	needTool(t, "aws")
	nginx := testsrv.Need(t, "nginx", "/usr/sbin/nginx")
	bin := buildCairn(t)
	c := cli{t, bin}
	redis := testsrv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	store := testsrv.StartMinIO(t)
	mc, err := minio.New(strings.TrimPrefix(store.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(store.AccessKey, store.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	makeBucketRetry(t, mc, "cairn-blocks")
	url := "redis://" + redis.Addr + "/2"
	c.ok("format", url, "myvol", "--storage", "s3", "--bucket", store.Endpoint+"/cairn-blocks",
		"--access-key", store.AccessKey, "--secret-key", store.SecretKey)
	dir := t.TempDir()
	env := []string{"CAIRN_ROOT_USER=reciperoot", "CAIRN_ROOT_PASSWORD=recipe-secret"}
	var gws []string
	for i := 0; i < 2; i++ {
		addr := freePort(t)
		startGateway(t, bin, env, url, addr, filepath.Join(dir, "master.key"))
		gws = append(gws, addr)
	}
	// nginx with the documented configuration, the addresses replaced.
	conf, err := os.ReadFile("../../docs/nginx-cairn.conf")
	if err != nil {
		t.Fatal(err)
	}
	front := freePort(t)
	_, port, _ := strings.Cut(front, ":")
	s := strings.Replace(string(conf), "10.0.0.1:9000", gws[0], 1)
	s = strings.Replace(s, "10.0.0.2:9000", gws[1], 1)
	s = strings.Replace(s, "listen 9000;", "listen 127.0.0.1:"+port+";", 1)
	s = strings.Replace(s, "events {}", "pid "+filepath.Join(dir, "nginx.pid")+";\nevents {}", 1)
	s = strings.Replace(s, "http {", "http {\n    log_format up '$upstream_addr';\n    access_log "+filepath.Join(dir, "access.log")+" up;\n    client_body_temp_path "+dir+"/body;\n    proxy_temp_path "+dir+"/proxy;", 1)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	ng := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	if err := ng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ng.Process.Kill(); ng.Wait() })
	waitUp(t, "http://"+front+"/health/ready")
	// A mount on each "host".
	mounts := []string{t.TempDir(), t.TempDir()}
	for _, mp := range mounts {
		t.Cleanup(func() { forceUnmount(mp) })
		c.ok("mount", url, mp, "-d")
	}
	aws := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("aws", append([]string{"--endpoint-url", "http://" + front}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=reciperoot", "AWS_SECRET_ACCESS_KEY=recipe-secret",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	photo := make([]byte, 20<<20) // multipart: 8 MiB parts
	rand.Read(photo)
	src := filepath.Join(dir, "cat.jpg")
	os.WriteFile(src, photo, 0o644)
	aws("s3", "mb", "s3://photos")
	aws("s3", "cp", src, "s3://photos/2026/cat.jpg")
	if out := aws("s3", "ls", "s3://photos", "--recursive"); !strings.Contains(out, "2026/cat.jpg") {
		t.Fatalf("ls: %s", out)
	}
	back := filepath.Join(dir, "back.jpg")
	aws("s3", "cp", "s3://photos/2026/cat.jpg", back)
	if b, _ := os.ReadFile(back); !bytes.Equal(b, photo) {
		t.Fatal("the download differs")
	}
	for i, mp := range mounts {
		if b, err := os.ReadFile(filepath.Join(mp, "photos/2026/cat.jpg")); err != nil || !bytes.Equal(b, photo) {
			t.Fatalf("mount %d: %d bytes, %v", i, len(b), err)
		}
	}
	if err := os.WriteFile(filepath.Join(mounts[1], "photos/2026/note.txt"), []byte("from a mount"), 0o644); err != nil {
		t.Fatal(err)
	}
	note := filepath.Join(dir, "note.txt")
	aws("s3", "cp", "s3://photos/2026/note.txt", note)
	if b, _ := os.ReadFile(note); string(b) != "from a mount" {
		t.Fatalf("note through nginx: %q", b)
	}
	// Both gateways served requests.
	logb, _ := os.ReadFile(filepath.Join(dir, "access.log"))
	for _, gw := range gws {
		if !strings.Contains(string(logb), gw) {
			t.Fatalf("nginx sent nothing to gateway %s:\n%s", gw, logb)
		}
	}
	for _, mp := range mounts {
		c.ok("umount", mp)
	}
	if out := c.ok("fsck", url); !strings.Contains(out, "consistent") {
		t.Fatalf("fsck: %s", out)
	}
}
