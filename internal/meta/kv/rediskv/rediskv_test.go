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
