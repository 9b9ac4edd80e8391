package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/testsrv"
)

// TestEngines runs the commands on each metadata engine: format (blocks
// in MinIO for one of them, in a directory for the others), two gateways
// of one volume (a bucket and an object made through one are seen
// through the other), status listing both sessions, fsck; then dump and
// load carry one volume through every engine, byte for byte.
func TestEngines(t *testing.T) {
	bin := buildCairn(t)
	redis := testsrv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	pg := testsrv.StartPostgres(t)
	maria := testsrv.StartMariaDB(t)
	etcd := testsrv.StartEtcd(t)
	minioSrv := testsrv.StartMinIO(t)
	mc, err := minio.New(strings.TrimPrefix(minioSrv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(minioSrv.AccessKey, minioSrv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	blocks := t.TempDir()
	for _, c := range []struct {
		name, url string
		s3        bool
	}{
		{"redis", "redis://" + redis.Addr + "/3", false},
		{"postgres", pg.NewSchema(t), true},
		{"mariadb", maria.NewDatabase(t), false},
		{"etcd", "etcd://" + etcd.Endpoints() + "/engines", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			run := func(env []string, args ...string) string {
				t.Helper()
				cmd := exec.Command(bin, args...)
				cmd.Env = append(os.Environ(), env...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("cairn %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			format := []string{"format", c.url, "vol-" + c.name}
			var env []string
			if c.s3 {
				var err error
				for i := 0; i < 100; i++ { // MinIO's IAM loads after it answers
					if err = mc.MakeBucket(context.Background(), "blocks", minio.MakeBucketOptions{}); err == nil {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if err != nil {
					t.Fatal(err)
				}
				format = append(format, "--storage", "s3", "--bucket", minioSrv.Endpoint+"/blocks/"+c.name)
				env = []string{"CAIRN_STORAGE_ACCESS_KEY=" + minioSrv.AccessKey, "CAIRN_STORAGE_SECRET_KEY=" + minioSrv.SecretKey}
			} else {
				// Blocks outlive the subtest: dump-load checks them.
				format = append(format, "--bucket", filepath.Join(blocks, c.name))
			}
			run(env, format...)
			env = append(env, "CAIRN_ROOT_USER=enginesroot", "CAIRN_ROOT_PASSWORD=engines-secret")
			key := filepath.Join(dir, "master.key")
			var clients []*minio.Client
			var addrs []string
			for i := 0; i < 2; i++ {
				addr := freePort(t)
				addrs = append(addrs, addr)
				startGateway(t, bin, env, c.url, addr, key)
				cl, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("enginesroot", "engines-secret", "")})
				if err != nil {
					t.Fatal(err)
				}
				clients = append(clients, cl)
			}
			ctx := context.Background()
			if err := clients[0].MakeBucket(ctx, "shared", minio.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			body := bytes.Repeat([]byte(c.name), 300000) // several blocks
			if _, err := clients[0].PutObject(ctx, "shared", "dir/obj", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			o, err := clients[1].GetObject(ctx, "shared", "dir/obj", minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(o)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read through the other gateway: %d bytes, %v", len(got), err)
			}
			// Identity and bucket changes made through one gateway hold at
			// the other within a second.
			admin := func(gw int, args ...string) {
				t.Helper()
				a := append([]string{"admin", "--endpoint", "http://" + addrs[gw], "--access-key", "enginesroot", "--secret-key", "engines-secret"}, args...)
				if out, err := exec.Command(bin, a...).CombinedOutput(); err != nil {
					t.Fatalf("cairn %s: %v\n%s", strings.Join(a, " "), err, out)
				}
			}
			// (Polled 4 times a second: faster, a key still unknown
			// would be locked out after five failures in a row.)
			var lastErr error
			within := func(what string, ok func() bool) {
				t.Helper()
				start := time.Now()
				for !ok() {
					if time.Since(start) > time.Second {
						t.Fatalf("%s: not within 1 s (%v)", what, lastErr)
					}
					time.Sleep(250 * time.Millisecond)
				}
				t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
			}
			admin(0, "user", "add", "alice", "alice-secret-1")
			admin(0, "policy", "attach", "readwrite", "--user", "alice")
			alice, err := minio.New(addrs[1], &minio.Options{Creds: credentials.NewStaticV4("alice", "alice-secret-1", "")})
			if err != nil {
				t.Fatal(err)
			}
			// (alice writes in a bucket of her own: "shared" is root's
			// directory, mode 755, which her uid may not write in.)
			putAs := func(cl *minio.Client) error {
				_, err := cl.PutObject(ctx, "alice-bucket", "alice.txt", strings.NewReader("a"), 1, minio.PutObjectOptions{})
				return err
			}
			within("a user made on gateway 0 known to gateway 1", func() bool {
				_, lastErr = alice.ListBuckets(ctx)
				return lastErr == nil
			})
			if err := alice.MakeBucket(ctx, "alice-bucket", minio.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := putAs(alice); err != nil {
				t.Fatal(err)
			}
			admin(1, "user", "disable", "alice")
			alice0, _ := minio.New(addrs[0], &minio.Options{Creds: credentials.NewStaticV4("alice", "alice-secret-1", "")})
			within("a user disabled on gateway 1 refused by gateway 0", func() bool { return putAs(alice0) != nil })
			if err := clients[0].SetBucketVersioning(ctx, "shared", minio.BucketVersioningConfiguration{Status: "Enabled"}); err != nil {
				t.Fatal(err)
			}
			within("versioning enabled on gateway 0 seen by gateway 1", func() bool {
				v, err := clients[1].GetBucketVersioning(ctx, "shared")
				return err == nil && v.Status == "Enabled"
			})
			if c.s3 {
				n := 0
				for obj := range mc.ListObjects(ctx, "blocks", minio.ListObjectsOptions{Prefix: c.name + "/", Recursive: true}) {
					if obj.Err != nil {
						t.Fatal(obj.Err)
					}
					n++
				}
				if n == 0 {
					t.Fatal("no block reached the MinIO bucket")
				}
			}
			st := run(env, "status", c.url)
			if strings.Count(st, `"pid"`) != 2 {
				t.Fatalf("status does not list two gateway sessions:\n%s", st)
			}
			if out := run(env, "fsck", c.url); !strings.Contains(out, "consistent") {
				t.Fatalf("fsck: %s", out)
			}
		})
	}
	// The Redis volume moves through every engine and back to SQLite;
	// each dump is the same bytes.
	t.Run("dump-load", func(t *testing.T) {
		dir := t.TempDir()
		first := filepath.Join(dir, "0.json")
		if out, err := exec.Command(bin, "dump", "redis://"+redis.Addr+"/3", first).CombinedOutput(); err == nil || !strings.Contains(string(out), "live sessions") {
			t.Fatalf("dump of a volume in use: %v\n%s", err, out)
		}
		if out, err := exec.Command(bin, "dump", "redis://"+redis.Addr+"/3", first, "--force").CombinedOutput(); err != nil {
			t.Fatalf("dump: %v\n%s", err, out)
		}
		want, err := os.ReadFile(first)
		if err != nil {
			t.Fatal(err)
		}
		prev := first
		for i, url := range []string{pg.NewSchema(t), maria.NewDatabase(t), "etcd://" + etcd.Endpoints() + "/loaded", "redis://" + redis.Addr + "/4", "sqlite3://" + filepath.Join(dir, "meta.db")} {
			if out, err := exec.Command(bin, "load", url, prev).CombinedOutput(); err != nil {
				t.Fatalf("load %s: %v\n%s", url, err, out)
			}
			next := filepath.Join(dir, fmt.Sprintf("%d.json", i+1))
			if out, err := exec.Command(bin, "dump", url, next).CombinedOutput(); err != nil {
				t.Fatalf("dump %s: %v\n%s", url, err, out)
			}
			got, _ := os.ReadFile(next)
			if !bytes.Equal(got, want) {
				t.Fatalf("the dump of %s differs from the first (%d and %d bytes)", url, len(got), len(want))
			}
			prev = next
		}
		if out, err := exec.Command(bin, "load", "sqlite3://"+filepath.Join(dir, "meta.db"), first).CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
			t.Fatalf("load into a volume: %v\n%s", err, out)
		}
		if out, err := exec.Command(bin, "fsck", "sqlite3://"+filepath.Join(dir, "meta.db")).CombinedOutput(); err != nil || !strings.Contains(string(out), "consistent") {
			t.Fatalf("fsck of the loaded volume: %v\n%s", err, out)
		}
	})
}

// makeBucketRetry creates a bucket on MinIO, which refuses requests
// until its IAM has loaded.
func makeBucketRetry(t *testing.T, mc *minio.Client, bucket string) {
	t.Helper()
	var err error
	for i := 0; i < 100; i++ {
		if err = mc.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(err)
}

// startGateway runs `cairn gateway` until the test ends.
func startGateway(t *testing.T, bin string, env []string, url, addr, masterKey string) {
	t.Helper()
	cmd := exec.Command(bin, "gateway", url, addr, "--master-key-file", masterKey)
	cmd.Env = append(os.Environ(), env...)
	startLogged(t, "gateway "+addr, cmd)
	waitUp(t, "http://"+addr+"/health/ready")
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(fmt.Sprintf("%s did not become ready", url))
}

// TestEngineRestart: a gateway on a Redis volume and one on a PostgreSQL
// volume keep serving after their engine restarts; requests made while it
// is down fail with an S3 error, never with lost data.
func TestEngineRestart(t *testing.T) {
	bin := buildCairn(t)
	redis := testsrv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	pg := testsrv.StartPostgres(t)
	for _, c := range []struct {
		name, url string
		restart   func()
	}{
		{"redis", "redis://" + redis.Addr + "/1", func() { redis.Restart(t) }},
		{"postgres", pg.NewSchema(t), func() { pg.Restart(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if out, err := exec.Command(bin, "format", c.url, "v", "--bucket", filepath.Join(dir, "blocks")).CombinedOutput(); err != nil {
				t.Fatalf("format: %v\n%s", err, out)
			}
			addr := freePort(t)
			startGateway(t, bin, []string{"CAIRN_ROOT_USER=restartroot", "CAIRN_ROOT_PASSWORD=restart-secret"}, c.url, addr, filepath.Join(dir, "master.key"))
			cl, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("restartroot", "restart-secret", "")})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := cl.MakeBucket(ctx, "bkt", minio.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			put := func(key string) error {
				_, err := cl.PutObject(ctx, "bkt", key, strings.NewReader(key), int64(len(key)), minio.PutObjectOptions{})
				return err
			}
			if err := put("before"); err != nil {
				t.Fatal(err)
			}
			c.restart()
			// The first requests may meet connections the restart cut;
			// within a few seconds everything works again.
			deadline := time.Now().Add(20 * time.Second)
			for put("after") != nil {
				if time.Now().After(deadline) {
					t.Fatal("the gateway did not recover from the engine's restart")
				}
				time.Sleep(100 * time.Millisecond)
			}
			for _, k := range []string{"before", "after"} {
				o, err := cl.GetObject(ctx, "bkt", k, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(o)
				if err != nil || string(got) != k {
					t.Fatalf("%s after the restart: %q %v", k, got, err)
				}
			}
		})
	}
}
