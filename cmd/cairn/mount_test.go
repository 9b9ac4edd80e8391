package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"cairn/internal/meta"
)

// needFuse fails in CI when a FUSE mount cannot be made (CI runs as root
// with fuse3 installed) and skips elsewhere.
func needFuse(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := os.Stat("/dev/fuse"); err != nil {
		why = "/dev/fuse is missing"
	} else if _, err := exec.LookPath("fusermount3"); err != nil {
		why = "fusermount3 is not installed"
	} else if os.Geteuid() != 0 {
		why = "mount tests run as root"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

type cli struct {
	t   *testing.T
	bin string
}

func (c cli) run(args ...string) (string, error) {
	out, err := exec.Command(c.bin, args...).CombinedOutput()
	return string(out), err
}

func (c cli) ok(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("cairn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c cli) fails(want string, args ...string) {
	c.t.Helper()
	out, err := c.run(args...)
	if err == nil || !strings.Contains(out, want) {
		c.t.Fatalf("cairn %s: want a failure saying %q, got %v\n%s", strings.Join(args, " "), want, err, out)
	}
}

func formatted(t *testing.T, c cli) (metaURL string) {
	dir := t.TempDir()
	metaURL = "sqlite3://" + filepath.Join(dir, "meta.db")
	c.ok("format", metaURL, "vol", "--bucket", filepath.Join(dir, "blocks"))
	return metaURL
}

func mounted(mp string) bool { return isMountpoint(mp) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// forceUnmount clears a mount a failed test left.
func forceUnmount(mp string) {
	if mounted(mp) {
		unix.Unmount(mp, unix.MNT_DETACH)
	}
}

func sessions(t *testing.T, c cli, metaURL string) []meta.SessionInfo {
	t.Helper()
	var r statusReport
	if err := json.Unmarshal([]byte(c.ok("status", metaURL)), &r); err != nil {
		t.Fatal(err)
	}
	return r.Sessions
}

// `cairn mount -d` returns once the volume is mounted; the mount is a
// session in `cairn status`; ACLs work through the kernel; `cairn umount`
// waits for the process to exit. (A second mount on the same directory
// takes the mount over: TestSmoothRemount.)
func TestMountCommand(t *testing.T) {
	needFuse(t)
	needTool(t, "setfacl", "getfacl")
	c := cli{t, buildCairn(t)}
	metaURL := formatted(t, c)
	mp := t.TempDir()
	t.Cleanup(func() { forceUnmount(mp) })

	out := c.ok("mount", metaURL, mp, "-d", "-o", "allow_other,attr_timeout=0,entry_timeout=0")
	if !strings.Contains(out, "running in the background") || !mounted(mp) {
		t.Fatalf("mount -d: %s", out)
	}
	pidFile, _ := mountState(mp)
	pid, err := readPid(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(mp, "f"), []byte("bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "f")); err != nil || string(b) != "bytes" {
		t.Fatalf("read back: %q %v", b, err)
	}
	if out, err := exec.Command("setfacl", "-m", "u:4321:rw", filepath.Join(mp, "f")).CombinedOutput(); err != nil {
		t.Fatalf("setfacl: %v\n%s", err, out)
	}
	if out, _ := exec.Command("getfacl", "-n", filepath.Join(mp, "f")).Output(); !strings.Contains(string(out), "user:4321:rw-") {
		t.Fatalf("getfacl: %s", out)
	}
	if out, _ := exec.Command("ls", "-l", filepath.Join(mp, "f")).Output(); !strings.HasPrefix(string(out), "-rw-rw-r--+") {
		t.Fatalf("ls -l shows no ACL: %s", out)
	}
	ss := sessions(t, c, metaURL)
	if i := slices.IndexFunc(ss, func(s meta.SessionInfo) bool { return s.Mountpoint == mp }); i < 0 || ss[i].PID != pid || ss[i].Host == "" || ss[i].Started.IsZero() {
		t.Fatalf("cairn status shows no session for the mount: %+v", ss)
	}

	// Busy: refused, the mount stays.
	f, err := os.Open(filepath.Join(mp, "f"))
	if err != nil {
		t.Fatal(err)
	}
	c.fails("busy", "umount", mp)
	if !mounted(mp) {
		t.Fatal("a refused umount unmounted")
	}
	f.Close()
	c.ok("umount", mp)
	if mounted(mp) || syscall.Kill(pid, 0) == nil {
		t.Fatalf("after umount: mounted %v, process alive %v", mounted(mp), syscall.Kill(pid, 0) == nil)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("the pid file outlived the mount: %v", err)
	}
	c.fails("not mounted", "umount", mp)
	if len(sessions(t, c, metaURL)) != 0 {
		t.Fatal("the session outlived the mount")
	}

	// What was written is there on the next mount.
	c.ok("mount", metaURL, mp, "-d", "--read-only")
	if b, err := os.ReadFile(filepath.Join(mp, "f")); err != nil || string(b) != "bytes" {
		t.Fatalf("after remount: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(mp, "g"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write on a read-only mount: %v", err)
	}
	c.ok("umount", mp)
}

// The foreground mount stops cleanly on SIGTERM, and a busy one is
// detached and served until its last file closes.
func TestMountSIGTERM(t *testing.T) {
	needFuse(t)
	c := cli{t, buildCairn(t)}
	metaURL := formatted(t, c)
	mp := t.TempDir()
	t.Cleanup(func() { forceUnmount(mp) })
	for _, busy := range []bool{false, true} {
		cmd := exec.Command(c.bin, "mount", metaURL, mp)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the mount", func() bool { return mounted(mp) })
		var f *os.File
		if busy {
			var err error
			if f, err = os.Create(filepath.Join(mp, "open")); err != nil {
				t.Fatal(err)
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if busy {
			waitFor(t, "the detach", func() bool { return !mounted(mp) })
			if _, err := f.Write([]byte("still served")); err != nil {
				t.Fatalf("an open file of a detached mount: %v", err)
			}
			select {
			case err := <-exited:
				t.Fatalf("the mount process exited with a file open: %v\n%s", err, log.String())
			case <-time.After(200 * time.Millisecond):
			}
			f.Close()
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("SIGTERM did not stop the mount\n%s", log.String())
		}
		if mounted(mp) || !strings.Contains(log.String(), "unmounted") {
			t.Fatalf("after SIGTERM: mounted %v\n%s", mounted(mp), log.String())
		}
	}
	c.ok("mount", metaURL, mp, "-d")
	if b, err := os.ReadFile(filepath.Join(mp, "open")); err != nil || string(b) != "still served" {
		t.Fatalf("what the detached mount served: %q %v", b, err)
	}
	c.ok("umount", mp)
}

// A mount whose process was killed is cleared with umount --force, and
// the volume mounts again with nothing lost.
func TestMountKilled(t *testing.T) {
	needFuse(t)
	c := cli{t, buildCairn(t)}
	metaURL := formatted(t, c)
	mp := t.TempDir()
	t.Cleanup(func() { forceUnmount(mp) })
	c.ok("mount", metaURL, mp, "-d")
	if err := os.WriteFile(filepath.Join(mp, "kept"), []byte("closed before the kill"), 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile, _ := mountState(mp)
	pid, _ := readPid(pidFile)
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "the process to die", func() bool { return syscall.Kill(pid, 0) != nil })
	if _, err := os.Stat(mp); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("a dead mount: %v", err)
	}
	c.fails("umount --force", "mount", metaURL, mp)
	c.ok("umount", "--force", mp)
	if mounted(mp) {
		t.Fatal("still mounted")
	}
	c.ok("mount", metaURL, mp, "-d")
	if b, err := os.ReadFile(filepath.Join(mp, "kept")); err != nil || string(b) != "closed before the kill" {
		t.Fatalf("after the kill: %q %v", b, err)
	}
	c.ok("umount", mp)
	rep := fsckReport(t, c.bin, filepath.Dir(strings.TrimPrefix(metaURL, "sqlite3://")))
	if !rep.Consistent() || rep.Missing+rep.Corrupt > 0 {
		t.Fatalf("fsck after a killed mount: %+v", rep)
	}
}

// Bad options are refused before anything is mounted.
func TestMountBadOptions(t *testing.T) {
	c := cli{t, buildCairn(t)}
	metaURL := formatted(t, c)
	mp := t.TempDir()
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"unknown mount option", []string{"-o", "bogus"}},
		{"needs a value", []string{"-o", "attr_timeout"}},
		{"want UID:GID", []string{"--root-squash", "root"}},
		{"exclude each other", []string{"--root-squash", "1:1", "--all-squash", "2:2"}},
		{"max-write", []string{"-o", "max_write=16M"}},
		{"invalid", []string{"-o", "attr_timeout=soon"}},
		{"needs the kernel's permission checks", []string{"-o", "writeback_cache,all_squash=1:1"}},
	} {
		c.fails(tc.want, append([]string{"mount", metaURL, mp}, tc.args...)...)
	}
	c.fails("not a directory", "mount", metaURL, filepath.Join(metaURL[len("sqlite3://"):]))
	c.fails("holds no volume", "mount", "sqlite3://"+filepath.Join(t.TempDir(), "none.db"), mp)
	if mounted(mp) {
		t.Fatal("a refused mount mounted")
	}
}

// -o options map to flags; mount(8)'s generic ones are ignored.
func TestApplyMountOptions(t *testing.T) {
	var m mountFlags
	fl := pflag.NewFlagSet("t", pflag.ContinueOnError)
	m.register(fl)
	if err := applyMountOptions(fl, []string{"rw,noatime,_netdev,allow_other", "ro,root_squash=1000:100,attr_timeout=5s,x-systemd.automount,max_write=128K"}); err != nil {
		t.Fatal(err)
	}
	if !m.readOnly || !m.allowOther || m.rootSquash != "1000:100" || m.attrTimeout != 5*time.Second || m.maxWrite != 128<<10 {
		t.Fatalf("%+v", m)
	}
	o, err := m.options(nil, "x")
	if err != nil || o.Squash.Root == nil || o.Squash.Root.UID != 1000 || o.Squash.Root.GID != 100 || o.NegativeTimeout >= 0 {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range []string{"nope", "read_only=maybe", "options=x"} {
		if err := applyMountOptions(fl, []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// mount(8) runs its helper as SOURCE DIR [-sfnv] [-o OPTS] [-t TYPE].
func TestHelperArgs(t *testing.T) {
	got, err := helperArgs([]string{"sqlite3:///v/meta.db", "/mnt/x", "-n", "-o", "rw,allow_other", "-t", "fuse.cairn"})
	want := []string{"mount", "sqlite3:///v/meta.db", "/mnt/x", "-d", "-o", "rw,allow_other"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range [][]string{{"only-one"}, {"a", "b", "-o"}, {"a", "b", "--weird"}} {
		if _, err := helperArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s := unescapeMountinfo(`/tmp/a\040b`); s != "/tmp/a b" {
		t.Errorf("unescape: %q", s)
	}
}

// `mount -t fuse.cairn` and an fstab line go through the helper that
// install-mount-helper links into /sbin.
func TestMountHelper(t *testing.T) {
	needFuse(t)
	c := cli{t, buildCairn(t)}
	metaURL := formatted(t, c)
	mp := t.TempDir()
	t.Cleanup(func() { forceUnmount(mp) })
	dir := t.TempDir()
	c.ok("install-mount-helper", "--dir", dir)
	// As mount(8) calls it.
	helper := filepath.Join(dir, "mount.fuse.cairn")
	if out, err := exec.Command(helper, metaURL, mp, "-n", "-o", "rw,nodev,allow_other").CombinedOutput(); err != nil || !mounted(mp) {
		t.Fatalf("%s: %v\n%s", helper, err, out)
	}
	c.ok("umount", mp)
	if os.Getenv("CI") == "" {
		return // mount(8) itself looks for helpers in /sbin only
	}
	c.ok("install-mount-helper")
	t.Cleanup(func() {
		for _, n := range mountHelperNames {
			os.Remove(filepath.Join("/sbin", n))
		}
	})
	if out, err := exec.Command("mount", "-t", "fuse.cairn", metaURL, mp, "-o", "allow_other,ro").CombinedOutput(); err != nil || !mounted(mp) {
		t.Fatalf("mount -t fuse.cairn: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(mp, "x"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("-o ro through mount(8): %v", err)
	}
	if out, err := exec.Command("umount", mp).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v\n%s", err, out)
	}
}

// `cairn server --mount` serves one volume over S3 and on a mount in one
// process: what one side writes the other reads at once.
func TestServerMount(t *testing.T) {
	needFuse(t)
	needTool(t, "aws")
	bin := buildCairn(t)
	dir := t.TempDir()
	mp := t.TempDir()
	t.Cleanup(func() { forceUnmount(mp) })
	addr := freePort(t)
	cmd := exec.Command(bin, "server", dir, "--address", addr, "--mount", mp, "--mount-options", "attr_timeout=0,entry_timeout=0")
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	cmd.Env = append(os.Environ(), "CAIRN_ROOT_USER=mountroot", "CAIRN_ROOT_PASSWORD=mount-secret-1",
		"MINIO_NOTIFY_WEBHOOK_ENABLE_M=on", "MINIO_NOTIFY_WEBHOOK_ENDPOINT_M="+hook.URL)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	waitReady(t, url)
	if !mounted(mp) {
		t.Fatalf("not mounted\n%s", log.String())
	}
	aws := func(stdin string, args ...string) string {
		t.Helper()
		c := exec.Command("aws", append([]string{"--endpoint-url", url}, args...)...)
		c.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=mountroot", "AWS_SECRET_ACCESS_KEY=mount-secret-1", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	aws("", "s3", "mb", "s3://shared")
	aws("", "s3api", "put-bucket-notification-configuration", "--bucket", "shared", "--notification-configuration",
		`{"QueueConfigurations":[{"QueueArn":"arn:minio:sqs::M:webhook","Events":["s3:ObjectCreated:*","s3:ObjectRemoved:*"]}]}`)
	aws("from s3\n", "s3", "cp", "-", "s3://shared/dir/a.txt")
	if b, err := os.ReadFile(filepath.Join(mp, "shared/dir/a.txt")); err != nil || string(b) != "from s3\n" {
		t.Fatalf("an S3 object on the mount: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(mp, "shared/b.txt"), []byte("from the mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := aws("", "s3", "cp", "s3://shared/b.txt", "-"); out != "from the mount\n" {
		t.Fatalf("a mount file over S3: %q", out)
	}
	// The mount's changes are bucket events, as the S3 client's are, made
	// by the caller's uid (root here), not the file's owner.
	if err := os.Chown(filepath.Join(mp, "shared/b.txt"), 4321, 4321); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(mp, "shared/b.txt"), filepath.Join(mp, "shared/dir/c.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mp, "shared/dir/c.txt")); err != nil {
		t.Fatal(err)
	}
	// A hard link is a new key; a write to a file with two links changes
	// both keys.
	if err := os.Link(filepath.Join(mp, "shared/dir/a.txt"), filepath.Join(mp, "shared/ln.txt")); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(mp, "shared/ln.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("and the mount\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if out := aws("", "s3", "cp", "s3://shared/dir/a.txt", "-"); out != "from s3\nand the mount\n" {
		t.Fatalf("a file written through its other link, over S3: %q", out)
	}
	// truncate(1) changes the object too; ftruncate through a file open
	// for writing is reported once, at its close.
	if err := os.Truncate(filepath.Join(mp, "shared/dir/a.txt"), 4); err != nil {
		t.Fatal(err)
	}
	if f, err = os.OpenFile(filepath.Join(mp, "shared/t.txt"), os.O_WRONLY|os.O_CREATE, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"ObjectCreated:Put b.txt", "ObjectCreated:Put dir/a.txt", "ObjectCreated:Put dir/a.txt", "ObjectCreated:Put dir/a.txt", "ObjectCreated:Put dir/c.txt",
		"ObjectCreated:Put ln.txt", "ObjectCreated:Put ln.txt", "ObjectCreated:Put ln.txt", "ObjectCreated:Put t.txt", "ObjectRemoved:Delete b.txt", "ObjectRemoved:Delete dir/c.txt"}
	deadline := time.Now().Add(10 * time.Second)
	for got := sink.sorted(); fmt.Sprint(got) != fmt.Sprint(want); got = sink.sorted() {
		if time.Now().After(deadline) {
			t.Fatalf("events %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, line := range []string{"ObjectCreated:Put b.txt", "ObjectCreated:Put dir/c.txt", "ObjectCreated:Put ln.txt", "ObjectCreated:Put t.txt", "ObjectRemoved:Delete b.txt", "ObjectRemoved:Delete dir/c.txt"} { // the mount's
		if who := sink.principal(line); who != "uid:0" {
			t.Errorf("%s: principalId %q, want uid:0 (the caller)", line, who)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, log.String())
	}
	if mounted(mp) {
		t.Fatal("the server left its mount behind")
	}
}

// testdata/mount.sh: ACLs with setfacl/getfacl as users made with
// useradd, root and all squash, setcap/getcap, SELinux labels.
func TestMountScript(t *testing.T) {
	needFuse(t)
	needTool(t, "bash", "setfacl", "getfacl", "setfattr", "getfattr", "setcap", "getcap", "runuser", "useradd")
	bin := buildCairn(t)
	work := t.TempDir()
	os.Chmod(filepath.Dir(work), 0o755)
	t.Cleanup(func() { forceUnmount(filepath.Join(work, "mnt")) })
	script, _ := filepath.Abs("testdata/mount.sh")
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "CAIRN="+bin, "WORK="+work)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mount.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// `cairn bench fs` runs every operation on any directory and leaves
// nothing behind.
func TestBenchFS(t *testing.T) {
	dir := t.TempDir()
	rep, err := runBenchFS(dir, benchFSOptions{files: 40, threads: 2, smallN: 4, smallSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range fsOps {
		if rep.OpsPerS[op] <= 0 {
			t.Errorf("%s not measured: %+v", op, rep.OpsPerS)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
