package testsrv

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Etcd is a three-member etcd cluster on loopback (Debian's etcd-server),
// with the limits cairn's transactions need.
type Etcd struct {
	Members []*EtcdMember
}

// EtcdMember is one member of an Etcd cluster.
type EtcdMember struct {
	Name, Client string // client address host:port
	cmd          *exec.Cmd
	args         []string
}

// StartEtcd starts the three members and waits until they serve.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	bin := Need(t, "etcd")
	e := &Etcd{}
	var cluster []string
	peers := map[string]string{}
	for i := range 3 {
		name := fmt.Sprintf("m%d", i+1)
		peer := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		peers[name] = peer
		cluster = append(cluster, name+"=http://"+peer)
		e.Members = append(e.Members, &EtcdMember{Name: name, Client: fmt.Sprintf("127.0.0.1:%d", FreePort(t))})
	}
	for _, m := range e.Members {
		m.args = []string{"--name", m.Name, "--data-dir", t.TempDir(),
			"--listen-client-urls", "http://" + m.Client, "--advertise-client-urls", "http://" + m.Client,
			"--listen-peer-urls", "http://" + peers[m.Name], "--initial-advertise-peer-urls", "http://" + peers[m.Name],
			"--initial-cluster", strings.Join(cluster, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "cairn-test",
			"--max-txn-ops", "20000", "--max-request-bytes", "16777216",
			"--heartbeat-interval", "100", "--election-timeout", "1000",
			"--logger", "zap", "--log-level", "error"}
		m.cmd = exec.Command(bin, m.args...)
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Stop)
	}
	for _, m := range e.Members {
		waitTCP(t, "etcd", m.Client, m.cmd)
	}
	e.waitHealthy(t)
	return e
}

// Endpoints is the members' client addresses, comma-separated.
func (e *Etcd) Endpoints() string {
	var a []string
	for _, m := range e.Members {
		a = append(a, m.Client)
	}
	return strings.Join(a, ",")
}

func (e *Etcd) waitHealthy(t testing.TB) {
	t.Helper()
	ctl, err := exec.LookPath("etcdctl")
	if err != nil {
		time.Sleep(2 * time.Second) // no etcdctl: give the election time
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command(ctl, "--endpoints", e.Endpoints(), "endpoint", "health").CombinedOutput()
		if err == nil && strings.Count(string(out), "is healthy") >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not become healthy: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop kills the member.
func (m *EtcdMember) Stop() {
	if m.cmd.Process != nil && m.cmd.ProcessState == nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
	}
}

// Restart starts a stopped member again on its data.
func (m *EtcdMember) Restart(t testing.TB) {
	t.Helper()
	m.Stop()
	m.cmd = exec.Command(m.cmd.Path, m.args...)
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitTCP(t, "etcd", m.Client, m.cmd)
}

// KillAndRestart kills a member (the first), waits two seconds (an
// election if it led) and starts it again.
func (e *Etcd) KillAndRestart(t testing.TB) {
	t.Helper()
	e.Members[0].Stop()
	time.Sleep(2 * time.Second)
	e.Members[0].Restart(t)
	e.waitHealthy(t)
}
