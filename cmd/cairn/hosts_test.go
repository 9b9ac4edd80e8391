package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sys/unix"

	"cairn/internal/testsrv"
)

// host is a machine as far as namespaces make one on this one: a network
// namespace reached over a veth pair (its own loopback, its own address),
// and its own PID and UTS namespaces (its own pids, its own host name).
type host struct {
	name, netns string
	addr, peer  string // its address, and the engine's as it sees it
}

// newHosts makes n hosts, 10.N.i.2 each, the root namespace at 10.N.i.1.
func newHosts(t *testing.T, n int) []host {
	t.Helper()
	ip := testsrv.Need(t, "ip", "/usr/sbin/ip", "/sbin/ip")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	net := 100 + os.Getpid()%100 // apart from a run that left its own
	var hs []host
	for i := range n {
		h := host{name: fmt.Sprintf("host-%c", 'a'+i), netns: fmt.Sprintf("cairn%d-%d", os.Getpid(), i),
			addr: fmt.Sprintf("10.%d.%d.2", net, i), peer: fmt.Sprintf("10.%d.%d.1", net, i)}
		outer, inner := fmt.Sprintf("cv%d%c", os.Getpid()%100000, 'a'+i), "eth0"
		run("netns", "add", h.netns)
		t.Cleanup(func() { exec.Command(ip, "netns", "del", h.netns).Run() })
		run("link", "add", outer, "type", "veth", "peer", "name", "tmp"+outer)
		t.Cleanup(func() { exec.Command(ip, "link", "del", outer).Run() })
		run("link", "set", "tmp"+outer, "netns", h.netns)
		run("-n", h.netns, "link", "set", "tmp"+outer, "name", inner)
		run("addr", "add", h.peer+"/30", "dev", outer)
		run("link", "set", outer, "up")
		run("-n", h.netns, "addr", "add", h.addr+"/30", "dev", inner)
		run("-n", h.netns, "link", "set", inner, "up")
		run("-n", h.netns, "link", "set", "lo", "up")
		hs = append(hs, h)
	}
	return hs
}

// start runs script with sh as the first process of h's PID namespace,
// with $0 … the args; killing it (unshare, which kills sh) ends every
// process of h.
func (h host) start(t *testing.T, script string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + h.netns, "unshare", "--pid", "--fork", "--kill-child", "--uts",
		"sh", "-c", "hostname " + h.name + " && " + script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	startLogged(t, h.name, cmd)
	return cmd
}

// TestHostsInNamespaces: two hosts, each with a gateway and a mount, share
// a Redis volume over their own networks; each host's pids and name are
// its own. Both gateways and both mounts are sessions of their hosts; an
// object put through one gateway is read through the other and on both
// mounts, a file written on a mount through both gateways; a flock on one
// host's mount excludes the other's. When one host dies holding a flock,
// the other frees it once the dead host's session has missed its
// heartbeats for the timeout it kept (--session-timeout 6s there).
func TestHostsInNamespaces(t *testing.T) {
	needFuse(t)
	needTool(t, "nsenter", "unshare")
	hosts := newHosts(t, 2)
	bin := buildCairn(t)
	c := cli{t, bin}
	bind := "127.0.0.1"
	for _, h := range hosts {
		bind += " " + h.peer
	}
	redis := testsrv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always", "--bind", bind, "--protected-mode", "no")
	_, port, _ := strings.Cut(redis.Addr, ":")
	c.ok("format", "redis://"+redis.Addr+"/5", "hosts", "--bucket", filepath.Join(t.TempDir(), "blocks"))
	keyFile := filepath.Join(t.TempDir(), "master.key")
	env := []string{"CAIRN_ROOT_USER=hostsroot", "CAIRN_ROOT_PASSWORD=hosts-secret"}
	var mps []string
	var s3 []*minio.Client
	var procs []*exec.Cmd
	for i, h := range hosts {
		mp := t.TempDir()
		t.Cleanup(func() { forceUnmount(mp) })
		url := "redis://" + h.peer + ":" + port + "/5"
		timeout := []string{"5m", "6s"}[i]
		procs = append(procs, h.start(t, `"$0" gateway "$1" 0.0.0.0:9000 --master-key-file "$3" --session-timeout "$4" & `+
			`"$0" mount "$1" "$2" --session-timeout "$4"; wait`, env, bin, url, mp, keyFile, timeout))
		waitUp(t, "http://"+h.addr+":9000/health/ready")
		waitFor(t, h.name+"'s mount", func() bool { return mounted(mp) })
		cl, err := minio.New(h.addr+":9000", &minio.Options{Creds: credentials.NewStaticV4("hostsroot", "hosts-secret", "")})
		if err != nil {
			t.Fatal(err)
		}
		mps, s3 = append(mps, mp), append(s3, cl)
	}
	// Four sessions, two per host, each with its host's name.
	per := map[string]int{}
	ids := map[uint64]bool{}
	for _, s := range sessions(t, c, "redis://"+redis.Addr+"/5") {
		per[s.Host]++
		ids[s.ID] = true
	}
	if per["host-a"] != 2 || per["host-b"] != 2 || len(ids) != 4 {
		t.Fatalf("sessions per host %v, %d ids", per, len(ids))
	}
	ctx := context.Background()
	if err := s3[0].MakeBucket(ctx, "shared", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("across hosts "), 100000)
	if _, err := s3[0].PutObject(ctx, "shared", "dir/obj", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(cl *minio.Client, key string) []byte {
		t.Helper()
		o, err := cl.GetObject(ctx, "shared", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		b, err := io.ReadAll(o)
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		return b
	}
	if !bytes.Equal(get(s3[1], "dir/obj"), body) {
		t.Fatal("host-b's gateway reads other bytes than host-a's put")
	}
	for _, mp := range mps {
		if b, err := os.ReadFile(filepath.Join(mp, "shared", "dir", "obj")); err != nil || !bytes.Equal(b, body) {
			t.Fatalf("%s: %d bytes, %v", mp, len(b), err)
		}
	}
	if err := os.WriteFile(filepath.Join(mps[1], "shared", "from-b"), []byte("written on host-b"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cl := range s3 {
		if b := get(cl, "from-b"); string(b) != "written on host-b" {
			t.Fatalf("GET from-b: %q", b)
		}
	}
	fa, err := os.Open(filepath.Join(mps[0], "shared", "from-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(filepath.Join(mps[1], "shared", "from-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if err := unix.Flock(int(fa.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("flock on host-b while host-a holds it: %v", err)
	}
	unix.Flock(int(fa.Fd()), unix.LOCK_UN)
	waitFor(t, "host-b to get the flock", func() bool { return unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil })
	// host-b dies holding it: host-a's next heartbeat after host-b's
	// session has missed 6 s of them ends that session and its locks.
	procs[1].Process.Kill()
	procs[1].Wait()
	fb.Close()
	deadline := time.Now().Add(40 * time.Second)
	for unix.Flock(int(fa.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the dead host's flock was never freed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range sessions(t, c, "redis://"+redis.Addr+"/5") {
		if s.Host != "host-a" {
			t.Fatalf("the dead host's session %+v is still there", s)
		}
	}
	fa.Close()
	c.ok("umount", mps[0])
	c.ok("umount", "--force", mps[1])
}
