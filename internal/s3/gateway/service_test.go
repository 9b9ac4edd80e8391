package gateway_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"cairn/internal/chunk"
	"cairn/internal/iam"
	"cairn/internal/meta"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object/mem"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
	"cairn/internal/s3/sigv4"
	"cairn/internal/vfs"
)

func serviceGateway(t *testing.T, mods ...func(*gateway.Options)) (*iamHarness, *httptest.Server) {
	t.Helper()
	store := memkv.New()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "gw", Storage: "mem", EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(bg, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := chunk.New(mem.New(), chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	var key iam.MasterKey
	ids, err := iam.Open(bg, store, key, iam.Credentials{AccessKey: testAK, SecretKey: testSecret}, iam.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	opt := gateway.Options{Backend: s3fs.New(v, s3fs.Options{}), Identity: ids,
		Metrics: gateway.NewMetrics(prometheus.NewRegistry()), BodyIdleTimeout: 300 * time.Millisecond,
		Ready: func(context.Context) error { return nil }}
	for _, m := range mods {
		m(&opt)
	}
	srv := httptest.NewServer(gateway.New(opt))
	t.Cleanup(func() { srv.Close(); ids.Close(); v.Close(); c.Close(); m.Close() })
	h := &iamHarness{url: srv.URL, store: store, ids: ids, vfs: v}
	h.root = h.client(testAK, testSecret, "")
	return h, srv
}

func getStatus(t *testing.T, r *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func signed(method, url, ak, sk string) *http.Request {
	r, _ := http.NewRequest(method, url, nil)
	sigv4.SignHeader(r, ak, sk, "us-east-1", sigv4.UnsignedPayload, time.Now())
	return r
}

func jwt(sub, secret string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	head := enc([]byte(`{"alg":"HS512","typ":"JWT"}`))
	claims := enc([]byte(fmt.Sprintf(`{"exp":%d,"sub":%q,"iss":"prometheus"}`, exp.Unix(), sub)))
	mac := hmac.New(sha512.New, []byte(secret))
	mac.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc(mac.Sum(nil))
}

func TestServiceEndpoints(t *testing.T) {
	h, _ := serviceGateway(t)
	for _, p := range []string{"/minio/health/live", "/minio/health/ready", "/cairn/health/live", "/cairn/health/ready", "/health/ready"} {
		r, _ := http.NewRequest("GET", h.url+p, nil)
		if code, _ := getStatus(t, r); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
	// Metrics need a token or a signature, of a principal allowed
	// admin:Prometheus.
	mp := h.url + "/minio/v2/metrics/cluster"
	r, _ := http.NewRequest("GET", mp, nil)
	if code, body := getStatus(t, r); code != 403 || !strings.Contains(body, "AccessDenied") {
		t.Fatalf("anonymous scrape: %d %s", code, body)
	}
	if code, body := getStatus(t, signed("GET", mp, testAK, testSecret)); code != 200 || !strings.Contains(body, "cairn_s3_inflight_requests") {
		t.Fatalf("signed scrape: %d", code)
	}
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"root token", jwt(testAK, testSecret, time.Now().Add(time.Hour)), 200},
		{"forged", jwt(testAK, "not-the-secret", time.Now().Add(time.Hour)), 403},
		{"expired", jwt(testAK, testSecret, time.Now().Add(-time.Hour)), 400},
		{"garbage", "a.b.c", 403},
		{"alice without admin:Prometheus", jwt("alice", "alice-secret", time.Now().Add(time.Hour)), 403},
	} {
		if tc.name == "alice without admin:Prometheus" {
			h.user(t, "alice", "readwrite")
		}
		r, _ := http.NewRequest("GET", h.url+"/cairn/metrics", nil)
		r.Header.Set("Authorization", "Bearer "+tc.token)
		if code, _ := getStatus(t, r); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
	// Old paths give way to buckets of their names.
	if code, body := getStatus(t, signed("GET", h.url+"/metrics", testAK, testSecret)); code != 200 || !strings.Contains(body, "cairn_s3_inflight_requests") {
		t.Fatalf("legacy /metrics: %d", code)
	}
	for _, b := range []string{"metrics", "health"} {
		if _, err := h.root.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("bucket %s: %v", b, err)
		}
	}
	if code, body := getStatus(t, signed("GET", h.url+"/metrics", testAK, testSecret)); code != 200 || !strings.Contains(body, "ListBucketResult") {
		t.Fatalf("/metrics with a bucket of that name: %d %s", code, body)
	}
	r, _ = http.NewRequest("GET", h.url+"/health/ready", nil)
	if code, _ := getStatus(t, r); code != 403 {
		t.Fatalf("/health/ready with a bucket \"health\": %d (want the bucket's AccessDenied)", code)
	}
	// Reserved names, empty bucket segments.
	for _, b := range gateway.ReservedBucketNames {
		if _, err := h.root.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(b)}); code(err) != "InvalidBucketName" || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("bucket %s: %v", b, err)
		}
	}
	if code, body := getStatus(t, signed("GET", h.url+"//metrics/k", testAK, testSecret)); code != 400 || !strings.Contains(body, "InvalidURI") {
		t.Fatalf("//bucket/key: %d %s", code, body)
	}
}

// A body that stalls is cut after BodyIdleTimeout; a client that goes
// away mid-body is counted with status 499, not as a server error.
func TestStalledAndAbandonedBodies(t *testing.T) {
	h, srv := serviceGateway(t)
	if _, err := h.root.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	raw := func(n int) (net.Conn, *bufio.Reader) {
		r, _ := http.NewRequest("PUT", h.url+"/bkt/stall", nil)
		r.ContentLength = 100
		sigv4.SignHeader(r, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "PUT /bkt/stall HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n", r.Host)
		for k, v := range r.Header {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v[0])
		}
		b.WriteString("\r\n" + strings.Repeat("x", n))
		conn.Write([]byte(b.String()))
		return conn, bufio.NewReader(conn)
	}
	conn, br := raw(10)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	conn.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "RequestTimeout") || time.Since(start) > 5*time.Second {
		t.Fatalf("stalled body: %d %s after %v", resp.StatusCode, body, time.Since(start))
	}
	conn, _ = raw(10)
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, m := getStatus(t, signed("GET", h.url+"/cairn/metrics", testAK, testSecret))
		if strings.Contains(m, `cairn_s3_requests_total{op="PutObject",status="499"} 1`) {
			if strings.Contains(m, `op="PutObject",status="500"`) {
				t.Fatal("an abandoned upload counted as a server error")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 499 for an abandoned upload:\n%s", grepLines(m, "PutObject"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := h.root.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("stall")}); httpStatus(err) != 404 {
		t.Fatalf("a cut upload left an object: %v", err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRequestLimits(t *testing.T) {
	h, _ := serviceGateway(t, func(o *gateway.Options) {
		o.ClientRate = gateway.RateLimit{N: 50, Per: time.Minute}
		o.KeyRate = gateway.RateLimit{N: 5, Per: time.Minute}
		o.MaxHeaderBytes = 4096
	})
	r := signed("GET", h.url+"/", testAK, testSecret)
	r.Header.Set("X-Amz-Meta-Big", strings.Repeat("b", 5000))
	if code, body := getStatus(t, r); code != 400 || !strings.Contains(body, "RequestHeaderSectionTooLarge") {
		t.Fatalf("large header: %d %s", code, body)
	}
	// The key's limit: 5 a minute (the oversized request above was refused
	// before authentication and used none).
	n := 0
	for range 10 {
		code, body := getStatus(t, signed("GET", h.url+"/", testAK, testSecret))
		if code == 503 {
			if !strings.Contains(body, "SlowDown") {
				t.Fatalf("503 without SlowDown: %s", body)
			}
			break
		}
		n++
	}
	if n != 5 {
		t.Fatalf("%d requests of one key passed a limit of 5 a minute", n)
	}
	// Another key still passes (until the client's limit of 50).
	h.user(t, "alice", "readwrite")
	if code, _ := getStatus(t, signed("GET", h.url+"/", "alice", "alice-secret")); code != 200 {
		t.Fatalf("another key: %d", code)
	}
}
