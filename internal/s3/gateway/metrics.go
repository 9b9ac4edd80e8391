package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the gateway's Prometheus metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
	inflight prometheus.Gauge
	handler  http.Handler
}

// NewMetrics registers the gateway metrics on reg and serves reg (and the
// Go runtime collectors registered there) at /metrics.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_s3_requests_total", Help: "S3 requests by operation and HTTP status."}, []string{"op", "status"}),
		errors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_s3_errors_total", Help: "S3 error answers by S3 error code."}, []string{"code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cairn_s3_request_duration_seconds", Help: "S3 request latency by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"op"}),
		bytesIn:  prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_s3_received_bytes_total", Help: "Request body bytes received."}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_s3_sent_bytes_total", Help: "Response body bytes sent."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_s3_inflight_requests", Help: "S3 requests being served."}),
	}
	reg.MustRegister(m.requests, m.errors, m.latency, m.bytesIn, m.bytesOut, m.inflight)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

func (m *Metrics) observe(op string, status int, d time.Duration, in, out int64) {
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(op).Observe(d.Seconds())
	m.bytesIn.Add(float64(in))
	m.bytesOut.Add(float64(out))
}
