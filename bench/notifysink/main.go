// Command notifysink is a webhook endpoint for bench/notify.sh: it counts
// the event records it receives and how long each took to arrive after
// its eventTime, and answers GET /stats with the count and the median,
// 90th and 99th percentile delays in milliseconds.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"sort"
	"sync"
	"time"
)

type sink struct {
	mu   sync.Mutex
	lags []float64 // ms
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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

func (s *sink) stats(w http.ResponseWriter, reset bool) {
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

func main() {
	addr := flag.String("address", "127.0.0.1:9919", "address to listen on")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, &sink{}))
}
