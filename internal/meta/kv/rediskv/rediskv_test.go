package rediskv_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

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

// The conformance suite on a Redis Cluster and on Sentinel, with a
// master (on a cluster, the one serving the first store's prefix) killed a
// second in and started again once its replica has taken over.
func TestClusterConformance(t *testing.T) {
	c := testsrv.StartRedisCluster(t)
	kvtest.DuringFault(t, func() { c.Failover(t, "{v1}") }, kvtest.Run, func(n int64) (kv.Store, error) {
		return rediskv.Open(context.Background(), fmt.Sprintf("redis://%s?prefix=v%d&wait=1", c.Addrs(), n))
	})
}

func TestSentinelConformance(t *testing.T) {
	s := testsrv.StartRedisSentinel(t)
	kvtest.DuringFault(t, func() { s.Failover(t) }, kvtest.Run, func(n int64) (kv.Store, error) {
		return rediskv.Open(context.Background(), fmt.Sprintf("redis://%s/0?prefix=v%d&wait=1", s.URLHosts(), n))
	})
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
