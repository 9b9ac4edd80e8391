package rediskv_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/meta/kv/rediskv"
	"cairn/internal/testsrv"
)

// stores returns a constructor of empty stores on one Redis server, each
// under a prefix of its own.
func stores(t *testing.T) func(t *testing.T) kv.Store {
	srv := testsrv.StartRedis(t)
	var n atomic.Int64
	return func(t *testing.T) kv.Store {
		s, err := rediskv.Open(context.Background(), fmt.Sprintf("redis://%s/0?prefix=v%d", srv.Addr, n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestConformance(t *testing.T) { kvtest.Run(t, stores(t)) }

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ url, want string }{
		{"redis://127.0.0.1:1/0?dial_timeout=1s", "redis: cannot reach"},
		{"redis://:secret@127.0.0.1:1/0?dial_timeout=1s", "xxxxx"},
		{"redis://127.0.0.1:1/0?prefix=a{b}", "braces"},
		{"redis://127.0.0.1:1/x", "bad META-URL"},
		{"postgres://x/y", "not a redis://"},
	} {
		s, err := rediskv.Open(ctx, c.url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) = %v, want it to say %q (and no password)", c.url, err, c.want)
		}
	}
}

// failoverDuring runs suite on stores made by open (each under a prefix
// of its own) while, a second in, fail kills a master (the one serving
// the first store's prefix, on a cluster) and starts it again once its
// replica has taken over: every test must pass all the same.
func failoverDuring(t *testing.T, open func(prefix string) string, fail func(t *testing.T, key string), suite func(*testing.T, func(t *testing.T) kv.Store)) {
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Second)
		fail(t, "{v1}")
	}()
	suite(t, func(t *testing.T) kv.Store {
		s, err := rediskv.Open(context.Background(), open(fmt.Sprintf("v%d", n.Add(1))))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	<-done
}

func TestClusterConformance(t *testing.T) {
	c := testsrv.StartRedisCluster(t)
	failoverDuring(t, func(p string) string { return "redis://" + c.Addrs() + "?prefix=" + p + "&wait=1" },
		func(t *testing.T, key string) { c.Failover(t, key) }, kvtest.Run)
}

func TestSentinelConformance(t *testing.T) {
	s := testsrv.StartRedisSentinel(t)
	failoverDuring(t, func(p string) string { return "redis://" + s.URLHosts() + "/0?prefix=" + p + "&wait=1" },
		func(t *testing.T, _ string) { s.Failover(t) }, kvtest.Run)
}

// The persistence a Sentinel or Cluster volume needs: fsync on every
// master, and commits that wait for a replica.
func TestReplicatedPersistence(t *testing.T) {
	c := testsrv.StartRedisCluster(t)
	ctx := context.Background()
	for _, c := range []struct {
		url     string
		durable bool
	}{
		{"redis://" + c.Addrs() + "?prefix=p", false},
		{"redis://" + c.Addrs() + "?prefix=p&wait=1", true},
	} {
		s, err := rediskv.Open(ctx, c.url)
		if err != nil {
			t.Fatal(err)
		}
		d, setting, err := s.Persistence(ctx)
		s.Close()
		if err != nil || d != c.durable {
			t.Errorf("%s: durable %v (%s), %v; want %v", c.url, d, setting, err, c.durable)
		}
	}
}
