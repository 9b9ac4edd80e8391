package meta

import (
	"context"
	"testing"
	"time"

	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/meta/kv/memkv"
)

// TestCloseSessionEngineGone closes a session while its heartbeat waits
// on an engine that no longer answers: the close must end with the
// caller's context, not wait out the beat's own timeout.
func TestCloseSessionEngineGone(t *testing.T) {
	ctx := context.Background()
	store := &kvtest.Stuck{Store: memkv.New()}
	if _, err := FormatVolume(ctx, store, Format{Name: "s", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	// A beat every 4 s, each allowed 4 s.
	m, err := Open(ctx, store, Options{SessionTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.NewSession(ctx, SessionInfo{Host: "h", PID: 1}); err != nil {
		t.Fatal(err)
	}
	store.Stuck.Store(true)
	defer store.Stuck.Store(false)
	time.Sleep(4500 * time.Millisecond) // the first beat is under way, stuck
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = m.CloseSession(cctx)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("CloseSession took %v with the engine gone and 200 ms given", took)
	}
	if err == nil {
		t.Fatal("CloseSession reported nothing with the engine gone")
	}
}
