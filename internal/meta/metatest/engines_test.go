package metatest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/etcdkv"
	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/meta/kv/rediskv"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/meta/metatest"
	"cairn/internal/testsrv"
)

func TestMemKV(t *testing.T) {
	metatest.Run(t, func(t *testing.T) kv.Store { return memkv.New() })
}

func TestSQLite(t *testing.T) {
	metatest.Run(t, func(t *testing.T) kv.Store {
		s, err := sqlkv.Open(context.Background(), "sqlite3://"+filepath.Join(t.TempDir(), "meta.db"), sqlkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPostgres(t *testing.T) {
	srv := testsrv.StartPostgres(t)
	metatest.Run(t, func(t *testing.T) kv.Store {
		s, err := sqlkv.OpenDB(context.Background(), srv.NewSchema(t), sqlkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMariaDB(t *testing.T) {
	srv := testsrv.StartMariaDB(t)
	metatest.Run(t, func(t *testing.T) kv.Store {
		s, err := sqlkv.OpenDB(context.Background(), srv.NewDatabase(t), sqlkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRedis(t *testing.T) {
	srv := testsrv.StartRedis(t)
	n := 0
	metatest.Run(t, func(t *testing.T) kv.Store {
		n++
		s, err := rediskv.Open(context.Background(), fmt.Sprintf("redis://%s/0?prefix=v%d", srv.Addr, n))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestRedisCluster runs the suite on a Redis Cluster, whose master for
// the first volume's slot is killed a second in and started again once
// its replica has taken over.
func TestRedisCluster(t *testing.T) {
	c := testsrv.StartRedisCluster(t)
	kvtest.DuringFault(t, func() { c.Failover(t, "{v1}") }, metatest.Run, func(n int64) (kv.Store, error) {
		return rediskv.Open(context.Background(), fmt.Sprintf("redis://%s?prefix=v%d&wait=1", c.Addrs(), n))
	})
}

// TestEtcd runs the suite on a three-member etcd cluster, one of whose
// members is killed a second in and started again two seconds later.
func TestEtcd(t *testing.T) {
	e := testsrv.StartEtcd(t)
	kvtest.DuringFault(t, func() { e.KillAndRestart(t) }, metatest.Run, func(n int64) (kv.Store, error) {
		return etcdkv.Open(context.Background(), fmt.Sprintf("etcd://%s/v%d", e.Endpoints(), n))
	})
}
