package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// --pprof serves the runtime's profiles on a listener of its own, with
// mutex and block profiling on, and refuses an address it cannot use.
func TestProfilingListener(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr, stop, err := startProfiling("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for path, want := range map[string]string{
		"/debug/pprof/":                  "goroutine",
		"/debug/pprof/mutex?debug=1":     "sampling period=100",
		"/debug/pprof/block?debug=1":     "--- contention:",
		"/debug/pprof/cmdline":           "",
		"/debug/pprof/heap?debug=1":      "heap profile",
		"/debug/pprof/profile?seconds=1": "", // a CPU profile of one second
	} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %.200q, want %q in it", path, resp.StatusCode, b, want)
		}
	}
	if _, _, err := startProfiling("127.0.0.1:nonsense", log); err == nil || !strings.Contains(err.Error(), "--pprof") {
		t.Fatalf("bad address: %v", err)
	}
}
