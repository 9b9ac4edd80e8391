package testsrv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster is a Redis Cluster on loopback: three masters with a
// replica each, persistence on (appendonly, fsync always), failing over
// one second after a master stops answering.
type RedisCluster struct {
	Nodes []*Redis
	cli   string
}

// StartRedisCluster starts the six servers and creates the cluster.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	bin := Need(t, "redis-server")
	c := &RedisCluster{cli: Need(t, "redis-cli")}
	var addrs []string
	for range 6 {
		port := FreePort(t)
		r := &Redis{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
		r.args = []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir(),
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0"}
		r.cmd = exec.Command(bin, r.args...)
		r.start(t)
		t.Cleanup(r.Stop)
		c.Nodes = append(c.Nodes, r)
		addrs = append(addrs, r.Addr)
	}
	out, err := exec.Command(c.cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitOK(t)
	return c
}

// Addrs is the nodes' addresses, comma-separated, for a redis:// URL.
func (c *RedisCluster) Addrs() string {
	var a []string
	for _, n := range c.Nodes {
		a = append(a, n.Addr)
	}
	return strings.Join(a, ",")
}

func (c *RedisCluster) run(addr string, args ...string) (string, error) {
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command(c.cli, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// waitOK waits until every running node sees the cluster as ok, with
// every slot served.
func (c *RedisCluster) waitOK(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok := true
		for _, n := range c.Nodes {
			if !n.running() {
				continue
			}
			info, err := c.run(n.Addr, "cluster", "info")
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the Redis Cluster did not become ok within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// MasterOf returns the node now serving key's slot, nil while none does
// (a failover under way).
func (c *RedisCluster) MasterOf(t testing.TB, key string) *Redis {
	t.Helper()
	for _, n := range c.Nodes {
		if !n.running() {
			continue
		}
		s, err := c.run(n.Addr, "cluster", "keyslot", key)
		if err != nil {
			continue
		}
		slot, _ := strconv.Atoi(s)
		nodes, err := c.run(n.Addr, "cluster", "nodes")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
				continue
			}
			for _, r := range f[8:] {
				lo, hi, found := strings.Cut(r, "-")
				if !found {
					hi = lo
				}
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if err1 == nil && err2 == nil && slot >= a && slot <= b {
					addr, _, _ := strings.Cut(f[1], "@")
					for _, m := range c.Nodes {
						if m.Addr == addr {
							return m
						}
					}
				}
			}
		}
	}
	return nil
}

// Failover kills the master serving key's slot, waits until its replica
// has taken over, and starts it again (it rejoins as a replica).
func (c *RedisCluster) Failover(t testing.TB, key string) {
	t.Helper()
	m := c.MasterOf(t, key)
	if m == nil {
		t.Fatalf("no master serves the slot of %q", key)
	}
	m.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for now := c.MasterOf(t, key); now == nil || now == m; now = c.MasterOf(t, key) {
		if time.Now().After(deadline) {
			t.Fatal("no replica took over within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.Restart(t)
	c.waitOK(t)
}

func (r *Redis) running() bool { return r.cmd.Process != nil && r.cmd.ProcessState == nil }

// RedisSentinel is a Redis master with a replica, watched by three
// sentinels that fail over one second after the master stops answering.
type RedisSentinel struct {
	Name      string // the master's name
	Servers   []*Redis
	Sentinels []*Redis
	cli       string
}

// StartRedisSentinel starts the master, its replica and the sentinels.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	bin := Need(t, "redis-server")
	s := &RedisSentinel{Name: "cairnmaster", cli: Need(t, "redis-cli")}
	master := StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	mhost, mport, _ := strings.Cut(master.Addr, ":")
	replica := StartRedis(t, "--appendonly", "yes", "--appendfsync", "always", "--replicaof", mhost, mport)
	s.Servers = []*Redis{master, replica}
	host, port, _ := strings.Cut(master.Addr, ":")
	for range 3 {
		p := FreePort(t)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 2\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\n",
			p, dir, s.Name, host, port, s.Name, s.Name)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &Redis{Addr: fmt.Sprintf("127.0.0.1:%d", p), args: []string{conf, "--sentinel"}}
		r.cmd = exec.Command(bin, r.args...)
		r.start(t)
		t.Cleanup(r.Stop)
		s.Sentinels = append(s.Sentinels, r)
	}
	// Wait until the sentinels know the replica (they learn it from the
	// master) and each other.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := s.ask(s.Sentinels[0].Addr, "sentinel", "master", s.Name)
		if err == nil && strings.Contains(out, "num-slaves\n1") && strings.Contains(out, "num-other-sentinels\n2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinels did not learn the replica and each other: %s %v", out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

// URLHosts is the host part of a Sentinel redis:// URL: the master's name
// and the sentinels' addresses.
func (s *RedisSentinel) URLHosts() string {
	h := []string{s.Name}
	for _, r := range s.Sentinels {
		h = append(h, r.Addr)
	}
	return strings.Join(h, ",")
}

func (s *RedisSentinel) ask(addr string, args ...string) (string, error) {
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command(s.cli, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// master returns the server the sentinels name as master (nil: none).
func (s *RedisSentinel) master(t testing.TB) *Redis {
	t.Helper()
	for _, sn := range s.Sentinels {
		out, err := s.ask(sn.Addr, "sentinel", "get-master-addr-by-name", s.Name)
		if err != nil {
			continue
		}
		f := strings.Fields(out)
		if len(f) == 2 {
			for _, r := range s.Servers {
				if r.Addr == f[0]+":"+f[1] {
					return r
				}
			}
		}
	}
	return nil
}

// Failover kills the master, waits until the sentinels have promoted the
// replica, and starts the old master again (they make it a replica).
func (s *RedisSentinel) Failover(t testing.TB) {
	t.Helper()
	m := s.master(t)
	if m == nil {
		t.Fatal("no sentinel names a master")
	}
	m.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for cur := s.master(t); cur == nil || cur == m; cur = s.master(t) {
		if time.Now().After(deadline) {
			t.Fatal("the sentinels did not promote the replica within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.Restart(t)
	// The sentinels make the restarted server a replica (of whichever
	// server they now name master): wait until the pair is whole again,
	// a master with one replica in sync, since commits that wait for a
	// replica wait until then.
	for {
		if cur := s.master(t); cur != nil {
			out, _ := s.ask(cur.Addr, "info", "replication")
			if strings.Contains(out, "role:master") && strings.Contains(out, "connected_slaves:1") && strings.Contains(out, "state=online") {
				return
			}
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatal("the master and its replica did not pair again after the failover")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
