package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestMetrics(t *testing.T) {
	e, b := rootBrowser(t, "metrics-test")
	var before struct {
		Requests, Failed float64
		Errors           map[string]float64
		Latency          []struct{ LE, Count float64 }
		Status           *struct {
			Volume   string
			Sessions []struct{ Host string }
		}
	}
	if code := b.api("GET", "/console/api/metrics", nil, &before); code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	for range 3 {
		e.s3.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("metrics-test"), Key: aws.String("missing")})
	}
	e.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("metrics-test"), Key: aws.String("k"), Body: strings.NewReader("x")})
	after := before
	after.Errors = nil
	b.api("GET", "/console/api/metrics", nil, &after)
	if after.Requests-before.Requests < 4 || after.Failed-before.Failed < 3 || after.Errors["NoSuchKey"]-before.Errors["NoSuchKey"] != 3 {
		t.Fatalf("before %+v after %+v", before, after)
	}
	var inf, sum float64
	for _, l := range after.Latency {
		if l.LE == -1 {
			inf = l.Count
		}
		sum = max(sum, l.Count)
	}
	if inf != after.Requests || sum != inf {
		t.Fatalf("the latency histogram counts %v requests (largest bucket %v), the counter %v", inf, sum, after.Requests)
	}
	if len(after.Latency) == 0 || after.Status == nil || after.Status.Volume != "console" {
		t.Fatalf("latency buckets %d, status %+v", len(after.Latency), after.Status)
	}
	if code, body := b.get("/console/metrics?every=1000"); code != 200 || !strings.Contains(body, `data-interval="1000"`) {
		t.Fatalf("page: %d", code)
	}
	// A user without admin:Prometheus is told so.
	r := e.browser(t)
	r.signIn(readerAK, readerSK)
	var out map[string]string
	if code := r.api("GET", "/console/api/metrics", nil, &out); code != http.StatusForbidden || !strings.Contains(out["error"], "admin:Prometheus") {
		t.Fatalf("reader: %d %v", code, out)
	}
}
