package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// newBenchSinkCmd is `cairn bench webhook-sink`: a webhook endpoint for
// measuring bucket notifications (bench/notify.sh). It counts the event
// records it receives and how long each took to arrive after its
// eventTime, and answers GET / with the count and the median, 90th and
// 99th percentile delays in milliseconds (GET /?reset also starts over).
func newBenchSinkCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "webhook-sink",
		Short: "Receive bucket events as a webhook and report how late they arrived (for bench/notify.sh)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "webhook sink on http://%s/\n", ln.Addr())
			srv := &http.Server{Handler: &eventSink{}, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				srv.Shutdown(context.Background())
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "address", "127.0.0.1:9919", "address to listen on")
	return cmd
}

// eventSink keeps the delays of the event records it receives.
type eventSink struct {
	mu   sync.Mutex
	lags []float64 // ms
}

func (s *eventSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		s.stats(w, r.URL.Query().Has("reset"))
		return
	}
	now := time.Now()
	b, _ := io.ReadAll(r.Body)
	var doc struct {
		Records []struct {
			EventTime string `json:"eventTime"`
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, rec := range doc.Records {
		if t, err := time.Parse(time.RFC3339Nano, rec.EventTime); err == nil {
			s.lags = append(s.lags, float64(now.Sub(t).Microseconds())/1000)
		}
	}
	s.mu.Unlock()
}

func (s *eventSink) stats(w http.ResponseWriter, reset bool) {
	s.mu.Lock()
	l := append([]float64(nil), s.lags...)
	if reset {
		s.lags = s.lags[:0]
	}
	s.mu.Unlock()
	sort.Float64s(l)
	q := func(p float64) float64 {
		if len(l) == 0 {
			return 0
		}
		return l[min(len(l)-1, int(p*float64(len(l))))]
	}
	json.NewEncoder(w).Encode(map[string]float64{"count": float64(len(l)), "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99)})
}
