package etcdkv_test

import (
	"context"
	"fmt"
	"strings"
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
	kvtest.DuringFault(t, func() { e.KillAndRestart(t) }, kvtest.Run, func(n int64) (kv.Store, error) {
		return etcdkv.Open(context.Background(), fmt.Sprintf("etcd://%s/v%d", e.Endpoints(), n))
	})
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
