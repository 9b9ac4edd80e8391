package gateway

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// corsConfiguration is the body of Put/GetBucketCors.
type corsConfiguration struct {
	XMLName xml.Name   `xml:"CORSConfiguration"`
	NS      string     `xml:"xmlns,attr,omitempty"`
	Rules   []corsRule `xml:"CORSRule"`
}

type corsRule struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds"`
}

func (q *request) getBucketCors() (*response, error) {
	rules, err := q.g.opt.Backend.GetBucketCors(q.ctx, q.cred, q.bucket)
	if errors.Is(err, s3fs.ErrNoSuchCORS) {
		return nil, s3err.New(s3err.NoSuchCORSConfiguration).With("BucketName", q.bucket)
	}
	if err != nil {
		return nil, err
	}
	out := corsConfiguration{NS: s3NS}
	for _, r := range rules {
		cr := corsRule{ID: r.ID, AllowedOrigins: r.AllowedOrigins, AllowedMethods: r.AllowedMethods,
			AllowedHeaders: r.AllowedHeaders, ExposeHeaders: r.ExposeHeaders}
		if r.MaxAgeSeconds > 0 {
			cr.MaxAgeSeconds = &r.MaxAgeSeconds
		}
		out.Rules = append(out.Rules, cr)
	}
	return xmlResponse(out), nil
}

func (q *request) putBucketCors() (*response, error) {
	var cfg corsConfiguration
	if err := q.readXML(64<<10, &cfg); err != nil {
		return nil, err
	}
	rules := make([]s3fs.CORSRule, 0, len(cfg.Rules))
	for _, r := range cfg.Rules {
		rule := s3fs.CORSRule{ID: r.ID, AllowedOrigins: r.AllowedOrigins, AllowedMethods: r.AllowedMethods,
			AllowedHeaders: r.AllowedHeaders, ExposeHeaders: r.ExposeHeaders}
		if r.MaxAgeSeconds != nil {
			rule.MaxAgeSeconds = *r.MaxAgeSeconds
		}
		rules = append(rules, rule)
	}
	if err := q.g.opt.Backend.PutBucketCors(q.ctx, q.cred, q.bucket, rules); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

func (q *request) deleteBucketCors() (*response, error) {
	if err := q.g.opt.Backend.DeleteBucketCors(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

// bucketCORS is the CORS rules that decide a request on bucket: its own,
// or the server's default (Options.CORS) when it has none.
func (q *request) bucketCORS() ([]s3fs.CORSRule, error) {
	rules, err := q.g.opt.Backend.BucketCORS(q.ctx, q.bucket)
	if errors.Is(err, s3fs.ErrNoSuchCORS) && len(q.g.opt.CORS) > 0 {
		return q.g.opt.CORS, nil
	}
	return rules, err
}

// preflight answers a CORS preflight request (OPTIONS), which browsers
// send without credentials: from the bucket's rules alone.
func (q *request) preflight() (*response, error) {
	origin := q.r.Header.Get("Origin")
	method := q.r.Header.Get("Access-Control-Request-Method")
	if origin == "" {
		return nil, s3err.Newf(s3err.BadRequest, "Insufficient information. Origin request header needed.")
	}
	if method == "" {
		return nil, s3err.Newf(s3err.BadRequest, "Invalid Access-Control-Request-Method: the header is missing.")
	}
	rules, err := q.bucketCORS()
	if errors.Is(err, s3fs.ErrNoSuchCORS) {
		return nil, s3err.Newf(s3err.AccessForbidden, "CORSResponse: CORS is not enabled for this bucket.")
	}
	if err != nil {
		return nil, err
	}
	headers := requestHeaders(q.r.Header.Get("Access-Control-Request-Headers"))
	r := s3fs.MatchCORS(rules, origin, method, headers)
	if r == nil {
		return nil, s3err.Newf(s3err.AccessForbidden, "CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
	}
	res := empty(http.StatusOK)
	setCORSHeaders(res.hdr(), r, origin, headers)
	return res, nil
}

// corsHeaders adds the CORS headers to the answer of a browser's request
// (one with an Origin header) that a rule allows, errors included, so
// that scripts can read them. The method is the one a preflight would
// name (Access-Control-Request-Method), else the request's.
func (q *request) corsHeaders() {
	origin := q.r.Header.Get("Origin")
	if origin == "" || q.bucket == "" {
		return
	}
	rules, err := q.bucketCORS()
	if err != nil {
		return
	}
	method := q.r.Header.Get("Access-Control-Request-Method")
	if method == "" {
		method = q.r.Method
	}
	if r := s3fs.MatchCORS(rules, origin, method, nil); r != nil {
		setCORSHeaders(q.w.Header(), r, origin, nil)
	}
}

func setCORSHeaders(h http.Header, r *s3fs.CORSRule, origin string, headers []string) {
	allowOrigin := origin
	for _, o := range r.AllowedOrigins {
		if o == "*" {
			allowOrigin = "*"
		}
	}
	h.Set("Access-Control-Allow-Origin", allowOrigin)
	if allowOrigin != "*" {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(r.MaxAgeSeconds))
	}
	h.Add("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

// requestHeaders splits Access-Control-Request-Headers.
func requestHeaders(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}
