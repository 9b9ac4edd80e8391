package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"cairn/internal/adminapi"
)

// metricsPath is where the gateway serves its Prometheus metrics.
const metricsPath = "/minio/v2/metrics/cluster"

// A snapshot is the gateway's counters at one moment. The page's script
// keeps the last ones and draws rates from their differences.
type snapshot struct {
	Time     time.Time          `json:"time"`
	Requests float64            `json:"requests"`
	Failed   float64            `json:"failed"` // answers with a status of 400 or more
	Errors   map[string]float64 `json:"errors"` // by S3 error code
	BytesIn  float64            `json:"bytesIn"`
	BytesOut float64            `json:"bytesOut"`
	Inflight float64            `json:"inflight"`
	// Latency is the request-latency histogram over every operation:
	// cumulative counts by upper bound in seconds.
	Latency []bucket `json:"latency"`
	// Status is the server and its volume (nil: not allowed).
	Status *adminapi.ServerInfo `json:"status,omitempty"`
}

type bucket struct {
	LE    float64 `json:"le"` // +Inf is sent as -1
	Count float64 `json:"count"`
}

// scrape reads the gateway's metrics as the session's user (who needs
// admin:Prometheus, as any scraper does).
func (c *Console) scrape(ctx context.Context, se *session) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.opt.Endpoint+metricsPath, nil)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(nil)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: se.accessKey, SecretAccessKey: se.secretKey},
		req, hash, "s3", c.opt.Region, c.opt.Now()); err != nil {
		return nil, err
	}
	res, err := c.opt.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		if res.StatusCode == http.StatusForbidden {
			return nil, &userError{status: http.StatusForbidden, msg: "Your access key may not read the server's metrics (admin:Prometheus)."}
		}
		return nil, fmt.Errorf("metrics: %s", res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(res.Body)
}

func (c *Console) metricsAPI(k *call) error {
	fams, err := c.scrape(k.r.Context(), k.se)
	if err != nil {
		return err
	}
	s := snapshot{Time: c.opt.Now(), Errors: map[string]float64{}}
	if f := fams["cairn_s3_requests_total"]; f != nil {
		for _, m := range f.Metric {
			v := m.GetCounter().GetValue()
			s.Requests += v
			for _, l := range m.Label {
				if l.GetName() == "status" && len(l.GetValue()) == 3 && l.GetValue() >= "400" {
					s.Failed += v
				}
			}
		}
	}
	if f := fams["cairn_s3_errors_total"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "code" {
					s.Errors[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	one := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.Metric) == 0 {
			return 0
		}
		m := f.Metric[0]
		if m.Counter != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	s.BytesIn, s.BytesOut, s.Inflight = one("cairn_s3_received_bytes_total"), one("cairn_s3_sent_bytes_total"), one("cairn_s3_inflight_requests")
	if f := fams["cairn_s3_request_duration_seconds"]; f != nil {
		byLE := map[float64]float64{}
		for _, m := range f.Metric {
			h := m.GetHistogram()
			for _, b := range h.Bucket { // the last is +Inf
				byLE[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
		}
		for le, n := range byLE {
			if math.IsInf(le, 1) {
				le = -1
			}
			s.Latency = append(s.Latency, bucket{LE: le, Count: n})
		}
	}
	if st, err := c.adminClient(k.se).Status(k.r.Context()); err == nil {
		s.Status = &st
	}
	writeJSON(k.w, http.StatusOK, s)
	return nil
}

// metricsPage shows the dashboard; ?every=MS reads more or less often
// than every 5 s (1 s to 1 min).
func (c *Console) metricsPage(k *call) error {
	every := 5000
	if n, err := strconv.Atoi(k.r.FormValue("every")); err == nil {
		every = min(max(n, 1000), 60000)
	}
	c.render(k, "metrics", map[string]any{"Title": "Metrics", "Every": every, "EverySeconds": strconv.FormatFloat(float64(every)/1000, 'f', -1, 64)})
	return nil
}
