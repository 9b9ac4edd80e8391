package webhook_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/webhook"
)

// TestSendReusesConnections sends events from eight goroutines at once,
// as the dispatcher's workers do: the connections must be kept between
// events, none closed (with http.Transport's default of two idle
// connections per host, those beyond two are closed after each event and
// dialled again).
func TestSendReusesConnections(t *testing.T) {
	var conns, closed, posts atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		time.Sleep(time.Millisecond) // the senders overlap
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tg, err := webhook.New(webhook.Config{ID: "t", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if err := tg.Send(context.Background(), &notify.Message{Body: []byte(`{"Records":[]}`)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if posts.Load() != workers*each {
		t.Fatalf("%d events arrived, want %d", posts.Load(), workers*each)
	}
	if n := closed.Load(); n > 0 {
		t.Errorf("%d of %d connections closed while %d senders sent %d events: connections are not kept", n, conns.Load(), workers, workers*each)
	}
}
