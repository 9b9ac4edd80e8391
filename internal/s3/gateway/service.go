package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"net/http"
	"strings"
	"time"

	"cairn/internal/iam"
	"cairn/internal/iam/policy"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/sigv4"
)

// The gateway's own endpoints live under prefixes no bucket can have
// (ReservedBucketNames): MinIO's, so that load balancers and Prometheus
// jobs set up for MinIO work unchanged, and cairn's own.
var (
	livePaths    = []string{"/minio/health/live", "/cairn/health/live"}
	readyPaths   = []string{"/minio/health/ready", "/minio/health/cluster", "/cairn/health/ready"}
	metricsPaths = []string{"/minio/v2/metrics/cluster", "/minio/v2/metrics/node", "/cairn/metrics"}
)

// ReservedBucketNames cannot be created: their paths are the server's.
var ReservedBucketNames = []string{"minio", "cairn"}

// serviceRoute returns the handler of a request for one of the gateway's
// own endpoints, or nil for an S3 request. The paths of older releases
// (/health/live, /health/ready, /metrics) still answer GET and HEAD, but
// only while no bucket of that name exists: a bucket is never shadowed.
func (g *Gateway) serviceRoute(r *http.Request) http.HandlerFunc {
	p := r.URL.Path
	switch {
	case contains(livePaths, p):
		return g.live
	case contains(readyPaths, p):
		return g.ready
	case contains(metricsPaths, p):
		if g.opt.Metrics != nil {
			return g.metrics
		}
		return nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil
	}
	var h http.HandlerFunc
	switch p {
	case "/health/live":
		h = g.live
	case "/health/ready":
		h = g.ready
	case "/metrics":
		if g.opt.Metrics != nil {
			h = g.metrics
		}
	}
	if h == nil {
		return nil
	}
	bucket, _, _ := strings.Cut(p[1:], "/")
	if _, _, err := g.opt.Backend.BucketOwner(r.Context(), bucket); err == nil {
		return nil // a bucket of that name: S3 it is
	}
	return h
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (g *Gateway) live(w http.ResponseWriter, r *http.Request) { g.health(w, r, nil) }

func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	var err error
	if g.opt.Ready != nil {
		err = g.opt.Ready(r.Context())
	}
	g.health(w, r, err)
}

func (g *Gateway) metrics(w http.ResponseWriter, r *http.Request) {
	if !g.opt.MetricsPublic {
		if err := g.metricsAllowed(r); err != nil {
			e, _ := toS3(err)
			e.Resource = r.URL.Path
			e.WriteXML(w, r.Method)
			return
		}
	}
	g.opt.Metrics.handler.ServeHTTP(w, r)
}

// metricsAllowed authenticates a scrape: a bearer token (a JWT signed
// with HMAC by the secret of its subject, as `mc admin prometheus
// generate` makes them) or a SigV4-signed request; the principal must be
// allowed admin:Prometheus.
func (g *Gateway) metricsAllowed(r *http.Request) error {
	var p *iam.Principal
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		var err error
		if p, err = g.bearer(r, tok); err != nil {
			return err
		}
	} else {
		var v *sigv4.Verified
		var err error
		v, p, _, err = sigv4.VerifyAs(r, func(ak string) (*iam.Principal, string, error) {
			return g.opt.Identity.Lookup(r.Context(), ak)
		}, g.opt.Now(), sigv4.Options{Region: g.opt.Region})
		switch {
		case err != nil:
			return err
		case v.Anonymous:
			return s3err.Newf(s3err.AccessDenied, "Metrics need a bearer token (mc admin prometheus generate) or a signed request; --metrics-public serves them to anyone.")
		}
	}
	if _, err := g.opt.Identity.Authorize(r.Context(), p, &policy.Request{Action: "admin:Prometheus", Resource: policy.ServiceARN}, nil); err != nil {
		return s3err.New(s3err.AccessDenied)
	}
	return nil
}

var errBadToken = s3err.Newf(s3err.AccessDenied, "The bearer token is not valid.")

// bearer verifies a JWT bearer token and returns its subject's principal.
func (g *Gateway) bearer(r *http.Request, tok string) (*iam.Principal, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errBadToken
	}
	var head struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil || json.Unmarshal(hb, &head) != nil || json.Unmarshal(cb, &claims) != nil {
		return nil, errBadToken
	}
	var h func() hash.Hash
	switch head.Alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		return nil, errBadToken
	}
	p, secret, err := g.opt.Identity.Lookup(r.Context(), claims.Sub)
	if err != nil {
		return nil, errBadToken
	}
	mac := hmac.New(h, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return nil, errBadToken
	}
	if claims.Exp != 0 && time.Unix(claims.Exp, 0).Before(g.opt.Now()) {
		return nil, s3err.Newf(s3err.ExpiredToken, "The bearer token has expired.")
	}
	return p, nil
}
