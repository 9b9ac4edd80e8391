package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/iam"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
)

// unsigned sends a request without credentials, as a browser's preflight.
func unsigned(t *testing.T, method, url string, hdr map[string]string) *http.Response {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func checkCORS(t *testing.T, what string, resp *http.Response, status int, origin, methods string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Allow-Methods") != methods {
		t.Errorf("%s: %d %q %q, want %d %q %q", what, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"),
			resp.Header.Get("Access-Control-Allow-Methods"), status, origin, methods)
	}
}

// CORS: the configuration round trip, preflight requests decided by the
// bucket's rules (origins with a wildcard, methods, request headers), the
// headers on browsers' actual requests, errors included.
func TestCORS(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "web")
	h.put(t, "web", "obj", "x")
	if _, err := h.s3.GetBucketCors(bg, &s3.GetBucketCorsInput{Bucket: aws.String("web")}); code(err) != "NoSuchCORSConfiguration" || httpStatus(err) != 404 {
		t.Fatalf("no rules yet: %v", err)
	}
	// Preflight before any rule: 403; without Origin or method: 400.
	checkCORS(t, "preflight, no rules", unsigned(t, "OPTIONS", h.url+"/web/obj", map[string]string{"Origin": "a.suffix", "Access-Control-Request-Method": "GET"}), 403, "", "")
	checkCORS(t, "preflight without Origin", unsigned(t, "OPTIONS", h.url+"/web", nil), 400, "", "")
	checkCORS(t, "preflight without method", unsigned(t, "OPTIONS", h.url+"/web", map[string]string{"Origin": "a.suffix"}), 400, "", "")

	cfg := &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*suffix"}},
		{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"start*end"}},
		{AllowedMethods: []string{"PUT"}, AllowedOrigins: []string{"*.put"}, AllowedHeaders: []string{"x-amz-meta-*"},
			ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(600)},
	}}
	if _, err := h.s3.PutBucketCors(bg, &s3.PutBucketCorsInput{Bucket: aws.String("web"), CORSConfiguration: cfg}); err != nil {
		t.Fatal(err)
	}
	got, err := h.s3.GetBucketCors(bg, &s3.GetBucketCorsInput{Bucket: aws.String("web")})
	if err != nil || len(got.CORSRules) != 3 || got.CORSRules[1].AllowedOrigins[0] != "start*end" || aws.ToInt32(got.CORSRules[2].MaxAgeSeconds) != 600 {
		t.Fatalf("rules read back: %+v %v", got, err)
	}

	pre := func(origin, method, headers string) *http.Response {
		hdr := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			hdr["Access-Control-Request-Headers"] = headers
		}
		return unsigned(t, "OPTIONS", h.url+"/web/obj", hdr)
	}
	checkCORS(t, "suffix", pre("foo.suffix", "GET", ""), 200, "foo.suffix", "GET")
	checkCORS(t, "start*end", pre("start12end", "GET", ""), 200, "start12end", "GET")
	checkCORS(t, "startend", pre("startend", "GET", ""), 200, "startend", "GET")
	checkCORS(t, "0start12end", pre("0start12end", "GET", ""), 403, "", "")
	checkCORS(t, "wrong method", pre("foo.suffix", "DELETE", ""), 403, "", "")
	checkCORS(t, "put", pre("a.put", "PUT", "X-Amz-Meta-Color"), 200, "a.put", "PUT")
	checkCORS(t, "header not allowed", pre("a.put", "PUT", "x-other"), 403, "", "")
	r := pre("a.put", "PUT", "x-amz-meta-a")
	if r.Header.Get("Access-Control-Max-Age") != "600" || r.Header.Get("Access-Control-Expose-Headers") != "ETag" || r.Header.Get("Access-Control-Allow-Headers") != "x-amz-meta-a" {
		t.Errorf("preflight headers: %v", r.Header)
	}

	// Actual requests from a browser: the headers when a rule allows,
	// on errors too (a missing key, an anonymous refusal).
	get := func(path, origin string, extra map[string]string) *http.Response {
		hdr := map[string]string{"Origin": origin}
		for k, v := range extra {
			hdr[k] = v
		}
		return h.raw(t, "GET", path, nil, hdr)
	}
	checkCORS(t, "GET allowed", get("/web/obj", "foo.suffix", nil), 200, "foo.suffix", "GET")
	checkCORS(t, "GET of a missing key", get("/web/missing", "foo.suffix", nil), 404, "foo.suffix", "GET")
	checkCORS(t, "GET from another origin", get("/web/obj", "foo.bar", nil), 200, "", "")
	checkCORS(t, "anonymous PUT", unsigned(t, "PUT", h.url+"/web/new", map[string]string{"Origin": "foo.put"}), 403, "foo.put", "PUT")

	if _, err := h.s3.DeleteBucketCors(bg, &s3.DeleteBucketCorsInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	checkCORS(t, "after delete", pre("foo.suffix", "GET", ""), 403, "", "")

	// Invalid rules: nothing stored.
	bad := &types.CORSConfiguration{CORSRules: []types.CORSRule{{AllowedMethods: []string{"PATCH"}, AllowedOrigins: []string{"*"}}}}
	if _, err := h.s3.PutBucketCors(bg, &s3.PutBucketCorsInput{Bucket: aws.String("web"), CORSConfiguration: bad}); code(err) != "InvalidRequest" {
		t.Fatalf("PATCH: %v", err)
	}
	if _, err := h.s3.GetBucketCors(bg, &s3.GetBucketCorsInput{Bucket: aws.String("web")}); code(err) != "NoSuchCORSConfiguration" {
		t.Fatalf("a refused configuration was stored: %v", err)
	}
}

// The server's default rules (CAIRN_CORS_*) decide for buckets without
// rules of their own; a bucket's own rules replace them.
func TestCORSDefault(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "dflt")
	g := gateway.New(gateway.Options{Backend: h.fs, Identity: iam.NewIdentities(iam.Credentials{AccessKey: testAK, SecretKey: testSecret}),
		CORS: []s3fs.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "PUT"}, AllowedHeaders: []string{"*"}}}})
	srv := httptest.NewServer(g)
	defer srv.Close()
	checkCORS(t, "default rule", unsigned(t, "OPTIONS", srv.URL+"/dflt/k", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
		"Access-Control-Request-Headers": "content-type"}), 200, "*", "GET, PUT")
	if _, err := h.s3.PutBucketCors(bg, &s3.PutBucketCorsInput{Bucket: aws.String("dflt"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://only.example"}}}}}); err != nil {
		t.Fatal(err)
	}
	checkCORS(t, "own rule", unsigned(t, "OPTIONS", srv.URL+"/dflt/k", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}), 403, "", "")
	checkCORS(t, "own rule allows", unsigned(t, "OPTIONS", srv.URL+"/dflt/k", map[string]string{"Origin": "https://only.example", "Access-Control-Request-Method": "GET"}), 200, "https://only.example", "GET")
}
