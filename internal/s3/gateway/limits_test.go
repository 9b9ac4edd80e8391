package gateway

import (
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	for in, want := range map[string]RateLimit{
		"":                {},
		"0":               {},
		"5000 per minute": {5000, time.Minute},
		"10 per s":        {10, time.Second},
		"3 per Hour":      {3, time.Hour},
		"100/1":           {100, time.Second},
		"1/0.5":           {1, 500 * time.Millisecond},
	} {
		if got, err := ParseRateLimit(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"fast", "10 per fortnight", "-1 per s", "10 every s", "x/1", "1/0"} {
		if _, err := ParseRateLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(RateLimit{N: 3, Per: time.Second})
	now := time.Unix(1000, 0)
	for i := range 3 {
		if !l.allow("a", now) {
			t.Fatalf("request %d refused", i)
		}
	}
	if l.allow("a", now) {
		t.Fatal("a 4th request in the same instant allowed")
	}
	if !l.allow("b", now) {
		t.Fatal("another client refused")
	}
	if !l.allow("a", now.Add(400*time.Millisecond)) { // 1.2 tokens back
		t.Fatal("a refilled token refused")
	}
	if l.allow("a", now.Add(400*time.Millisecond)) {
		t.Fatal("more than the refill allowed")
	}
	if newLimiter(RateLimit{}) != nil || !(*limiter)(nil).allow("x", now) {
		t.Fatal("no limit limits")
	}
}
