package etcdkv_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/etcdkv"
	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/testsrv"
)

// TestConformance runs kvtest on a three-member cluster, one of whose
// members is killed a second in and started again two seconds later.
func TestConformance(t *testing.T) {
	e := testsrv.StartEtcd(t)
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Second)
		e.KillAndRestart(t)
	}()
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := etcdkv.Open(context.Background(), fmt.Sprintf("etcd://%s/v%d", e.Endpoints(), n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	<-done
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range []struct{ url, want string }{
		{"etcd://u:secret@127.0.0.1:1/v", "etcd: cannot reach"},
		{"redis://x/y", "not an etcd://"},
	} {
		s, err := etcdkv.Open(ctx, c.url)
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
