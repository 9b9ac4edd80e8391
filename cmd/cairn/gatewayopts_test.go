package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func TestCORSFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if r, err := corsFromEnv(env(nil)); err != nil || r != nil {
		t.Fatalf("unset: %v %v", r, err)
	}
	r, err := corsFromEnv(env(map[string]string{"CAIRN_CORS_ORIGINS": "https://a.example, https://*.b.example", "CAIRN_CORS_METHODS": "get,put", "CAIRN_CORS_MAX_AGE": "300"}))
	if err != nil || len(r) != 1 || len(r[0].AllowedOrigins) != 2 || r[0].AllowedMethods[1] != "PUT" || r[0].MaxAgeSeconds != 300 || r[0].AllowedHeaders[0] != "*" {
		t.Fatalf("rule: %+v %v", r, err)
	}
	for _, bad := range []map[string]string{
		{"CAIRN_CORS_ORIGINS": "*", "CAIRN_CORS_METHODS": "PATCH"},
		{"CAIRN_CORS_ORIGINS": "*", "CAIRN_CORS_MAX_AGE": "soon"},
		{"CAIRN_CORS_ORIGINS": "**"},
	} {
		if _, err := corsFromEnv(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// The connection limit keeps the TCP connection's ReadFrom, through which
// net/http sends block files with sendfile(2), and passes the bytes on.
func TestLimitedConnReadFrom(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := limitListener(ln, 2)
	defer lim.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		if string(b) != "block bytes" {
			t.Errorf("received %q", b)
		}
	}()
	c, err := lim.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rf, ok := c.(io.ReaderFrom)
	if !ok {
		t.Fatal("the limited connection hides ReadFrom: no sendfile for GETs")
	}
	f, err := os.CreateTemp(t.TempDir(), "blk")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("block bytes")
	f.Seek(0, io.SeekStart)
	if n, err := rf.ReadFrom(&io.LimitedReader{R: f, N: 11}); err != nil || n != 11 {
		t.Fatalf("ReadFrom: %d %v", n, err)
	}
	c.Close()
	<-done
}

// Unsigned requests under /console go to the console; signed and
// presigned ones (a bucket named console) and everything else to S3.
func TestRouteRequests(t *testing.T) {
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	h := routeRequests(mark("s3"), mark("admin"), mark("console"))
	off := routeRequests(mark("s3"), mark("admin"), nil)
	for _, tc := range []struct {
		target, auth, want, wantOff string
	}{
		{"/console/", "", "console", "s3"},
		{"/console", "", "console", "s3"},
		{"/console/browse?bucket=a", "", "console", "s3"},
		{"/console/key", "AWS4-HMAC-SHA256 Credential=x", "s3", "s3"},
		{"/console/key?X-Amz-Credential=x&X-Amz-Signature=y", "", "s3", "s3"},
		{"/console/key?AWSAccessKeyId=x&Signature=y", "", "s3", "s3"},
		{"/consolex/key", "", "s3", "s3"},
		{"/minio/admin/v3/info", "", "admin", "admin"},
		{"/photos/cat.jpg", "", "s3", "s3"},
	} {
		for _, c := range []struct {
			h    http.Handler
			want string
		}{{h, tc.want}, {off, tc.wantOff}} {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, r)
			if got := w.Body.String(); got != c.want {
				t.Errorf("%s (auth %q): %s, want %s", tc.target, tc.auth, got, c.want)
			}
		}
	}
}

func TestQuantile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5}
	for q, want := range map[float64]float64{0: 1, 0.25: 2, 0.5: 3, 0.75: 4, 1: 5, 0.125: 1.5} {
		if got := quantile(v, q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if got := quantile([]float64{7}, 0.5); got != 7 {
		t.Errorf("one value: %v", got)
	}
	if got := quantile([]float64{1, 2}, 0.5); got != 1.5 {
		t.Errorf("two values: %v", got)
	}
}
