package meta

import (
	"context"
	"sync"
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

// TestSessionTimeoutKept: each session is judged by the timeout its own
// client keeps, whatever the judge's: a client with a short timeout does
// not end the session of one that beats every 12 s, and a client with a
// long one ends a short-lived session's as soon as that one's passed.
func TestSessionTimeoutKept(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	if _, err := FormatVolume(ctx, store, Format{Name: "s", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	open := func(timeout time.Duration) (*FS, uint64) {
		m, err := Open(ctx, store, Options{Now: clock, SessionTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		id, err := m.NewSession(ctx, SessionInfo{Host: "h"})
		if err != nil {
			t.Fatal(err)
		}
		return m, id
	}
	long, longID := open(time.Hour)
	short, shortID := open(10 * time.Second)
	alive := func(id uint64) bool {
		ss, err := long.ListSessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if s.ID == id {
				return true
			}
		}
		return false
	}
	// A minute without beats (the clock moves, the tickers do not fire
	// in time): past the short timeout, far within the long one.
	advance(time.Minute)
	if _, err := short.CleanDeadSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if !alive(longID) {
		t.Fatal("a client with a 10 s timeout ended a session that keeps an hour's")
	}
	if _, err := long.CleanDeadSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(shortID) {
		t.Fatal("a session that keeps 10 s outlived a minute without heartbeats")
	}
}
