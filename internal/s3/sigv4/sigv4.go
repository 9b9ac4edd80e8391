// Package sigv4 authenticates S3 requests: AWS Signature Version 4 in the
// Authorization header or in a presigned URL's query, aws-chunked streaming
// bodies (signed, unsigned, with trailing checksums), and the older
// Signature Version 2 (header and presigned query), which real clients
// still send. It is pure: the caller supplies the secret lookup and the
// clock. Every comparison of secrets is constant-time.
package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"cairn/internal/s3/s3err"
)

// Payload hash values of x-amz-content-sha256.
const (
	UnsignedPayload          = "UNSIGNED-PAYLOAD"
	StreamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	emptySHA256              = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	algorithm  = "AWS4-HMAC-SHA256"
	timeFormat = "20060102T150405Z"
	dateFormat = "20060102"
)

// MaxSkew is how far a request's time may be from the server's.
const MaxSkew = 15 * time.Minute

// MaxPresignExpiry is the longest a presigned URL may live (7 days).
const MaxPresignExpiry = 7 * 24 * time.Hour

// ErrUnknownKey is what a Lookup returns for an access key it does not know.
var ErrUnknownKey = errors.New("sigv4: unknown access key")

// Lookup returns the secret of an access key, or ErrUnknownKey.
type Lookup func(accessKey string) (secret string, err error)

// Options tune Verify.
type Options struct {
	// Bucket is the bucket named by a virtual-host-style Host header; SigV2
	// signs "/bucket/key" whichever style the request used.
	Bucket string
	// Service is the credential scope's service (default "s3"; "sts" for
	// the STS endpoint).
	Service string
	// Region, when set, is the only region a credential scope may name:
	// AWS refuses a request signed for another region with
	// AuthorizationHeaderMalformed naming the region it expects.
	Region string
}

// Verified is an authenticated request.
type Verified struct {
	// AccessKey is the signer; empty for an anonymous request.
	AccessKey string
	// Anonymous is set when the request carries no signature.
	Anonymous bool
	// Version is 2 or 4 (0 when anonymous).
	Version int
	// Presigned is set for query-string authentication.
	Presigned bool
	// Body replaces the request body: it verifies x-amz-content-sha256 at
	// EOF, or decodes and verifies an aws-chunked stream. It is the
	// request's own body when there is nothing to verify.
	Body *Body
	// DecodedLength is the object's length for aws-chunked bodies
	// (x-amz-decoded-content-length), else the request's ContentLength.
	DecodedLength int64
}

// Verify authenticates r. An unsigned request is Verified{Anonymous: true};
// the caller decides whether anonymous access is allowed. Errors are
// *s3err.Error values.
func Verify(r *http.Request, lookup Lookup, now time.Time, opt Options) (*Verified, error) {
	q := r.URL.Query()
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, algorithm+" "):
		return verifyHeader(r, auth, lookup, now, opt)
	case strings.HasPrefix(auth, "AWS "):
		return verifyV2Header(r, auth, lookup, now, opt)
	case auth != "":
		return nil, s3err.Newf(s3err.AuthorizationHeaderMalformed, "Unsupported authorization type.")
	case q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential"):
		return verifyPresigned(r, q, lookup, now, opt)
	case q.Has("AWSAccessKeyId") || q.Has("Signature"):
		return verifyV2Presigned(r, q, lookup, now, opt)
	}
	return &Verified{Anonymous: true, Body: plainBody(r), DecodedLength: r.ContentLength}, nil
}

// credential is the parsed Credential of SigV4.
type credential struct {
	accessKey string
	date      string
	region    string
	service   string
}

func (c credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/aws4_request"
}

func parseCredential(s string, opt Options) (credential, error) {
	service := opt.Service
	if service == "" {
		service = "s3"
	}
	// The access key itself may not contain "/", the other four fields
	// are fixed.
	parts := strings.Split(s, "/")
	if len(parts) != 5 || parts[0] == "" || parts[4] != "aws4_request" || parts[3] != service {
		return credential{}, s3err.Newf(s3err.AuthorizationHeaderMalformed, fmt.Sprintf("The credential %q is malformed; expected \"<YOUR-AKID>/YYYYMMDD/REGION/%s/aws4_request\".", s, service))
	}
	if opt.Region != "" && parts[2] != opt.Region && parts[2] != "" { // MinIO's admin client signs with no region
		return credential{}, s3err.Newf(s3err.AuthorizationHeaderMalformed, fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", parts[2], opt.Region)).With("Region", opt.Region)
	}
	if _, err := time.Parse(dateFormat, parts[1]); err != nil {
		return credential{}, s3err.Newf(s3err.AuthorizationHeaderMalformed, "Invalid credential date "+strconv.Quote(parts[1])+".")
	}
	return credential{accessKey: parts[0], date: parts[1], region: parts[2], service: parts[3]}, nil
}

func verifyHeader(r *http.Request, auth string, lookup Lookup, now time.Time, opt Options) (*Verified, error) {
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(auth, algorithm+" "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return nil, s3err.New(s3err.AuthorizationHeaderMalformed)
		}
		fields[k] = v
	}
	cred, err := parseCredential(fields["Credential"], opt)
	if err != nil {
		return nil, err
	}
	signed := fields["SignedHeaders"]
	sig := fields["Signature"]
	if signed == "" || len(sig) != 64 {
		return nil, s3err.New(s3err.AuthorizationHeaderMalformed)
	}
	t, err := requestTime(r, now, parseAmzDate)
	if err != nil {
		return nil, err
	}
	if t.UTC().Format(dateFormat) != cred.date {
		return nil, s3err.Newf(s3err.SignatureDoesNotMatch, "The credential date does not match the request date.")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" && opt.Service != "" && opt.Service != "s3" {
		// Services other than S3 (STS) sign the body's hash without
		// sending it: the body is a small form, hashed here.
		if payload, err = hashSmallBody(r); err != nil {
			return nil, err
		}
	}
	if payload == "" {
		return nil, s3err.Newf(s3err.InvalidRequest, "Missing required header for this request: x-amz-content-sha256")
	}
	if !validPayloadHash(payload) {
		return nil, s3err.New(s3err.XAmzContentSHA256Mismatch)
	}
	if !headerListed(signed, "host") {
		return nil, s3err.Newf(s3err.AuthorizationHeaderMalformed, "The host header must be signed.")
	}
	secret, err := lookupSecret(lookup, cred.accessKey)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	creq := canonicalRequest(r, q, signed, payload, "")
	key := signingKey(secret, cred)
	sts := stringToSign(amzDate2(t), cred.scope(), creq)
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(want), []byte(sig)) && repeatedUnsorted(q) {
		creq = canonicalRequestOrder(r, q, signed, payload, "", true)
		want = hex.EncodeToString(hmacSHA256(key, stringToSign(amzDate2(t), cred.scope(), creq)))
	}
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return nil, s3err.New(s3err.SignatureDoesNotMatch)
	}
	v := &Verified{AccessKey: cred.accessKey, Version: 4, DecodedLength: r.ContentLength}
	return v, attachBody(r, v, payload, streamState{key: key, scope: cred.scope(), date: amzDate2(t), prev: sig})
}

// MaxFormBody is the largest body hashSmallBody reads.
const MaxFormBody = 64 << 10

// hashSmallBody reads r's body (at most MaxFormBody bytes), puts it back
// and returns its SHA-256 in hex.
func hashSmallBody(r *http.Request) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxFormBody+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxFormBody {
		return "", s3err.Newf(s3err.InvalidRequest, "The request body is too large.")
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func validPayloadHash(p string) bool {
	switch p {
	case UnsignedPayload, StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer:
		return true
	}
	if len(p) != 64 {
		return false
	}
	_, err := hex.DecodeString(p)
	return err == nil
}

// attachBody sets v.Body for the payload mode.
func attachBody(r *http.Request, v *Verified, payload string, st streamState) error {
	switch payload {
	case UnsignedPayload:
		v.Body = plainBody(r)
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer:
		n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return s3err.New(s3err.MissingContentLength)
		}
		v.DecodedLength = n
		st.signed = payload != StreamingUnsignedTrailer
		st.trailer = payload != StreamingPayload
		st.declaredTrailers = trailerNames(r.Header.Get("X-Amz-Trailer"))
		v.Body = newChunkedBody(r.Body, n, st)
	default:
		want, _ := hex.DecodeString(payload)
		v.Body = hashedBody(r, want)
	}
	return nil
}

func trailerNames(h string) []string {
	var out []string
	for _, n := range strings.Split(h, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func verifyPresigned(r *http.Request, q url.Values, lookup Lookup, now time.Time, opt Options) (*Verified, error) {
	if q.Get("X-Amz-Algorithm") != algorithm {
		return nil, s3err.Newf(s3err.AuthorizationQueryParametersError, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".")
	}
	cred, err := parseCredential(q.Get("X-Amz-Credential"), opt)
	if err != nil {
		return nil, s3err.Newf(s3err.AuthorizationQueryParametersError, err.(*s3err.Error).Message)
	}
	t, err := time.Parse(timeFormat, q.Get("X-Amz-Date"))
	if err != nil {
		return nil, s3err.Newf(s3err.AuthorizationQueryParametersError, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
	}
	exp, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || exp < 0 {
		return nil, s3err.Newf(s3err.AuthorizationQueryParametersError, "X-Amz-Expires should be a number.")
	}
	if exp > int64(MaxPresignExpiry/time.Second) { // compared in seconds: a huge value must not overflow a Duration
		return nil, s3err.Newf(s3err.AuthorizationQueryParametersError, "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds.")
	}
	if t.Sub(now) > MaxSkew {
		return nil, s3err.Newf(s3err.AccessDenied, "Request is not valid yet.")
	}
	if now.After(t.Add(time.Duration(exp) * time.Second)) {
		return nil, s3err.Newf(s3err.AccessDenied, "Request has expired.")
	}
	if t.UTC().Format(dateFormat) != cred.date {
		return nil, s3err.New(s3err.SignatureDoesNotMatch)
	}
	signed := q.Get("X-Amz-SignedHeaders")
	sig := q.Get("X-Amz-Signature")
	if signed == "" || len(sig) != 64 {
		return nil, s3err.Newf(s3err.AuthorizationQueryParametersError, "Query-string authentication requires the X-Amz-SignedHeaders and X-Amz-Signature parameters.")
	}
	secret, err := lookupSecret(lookup, cred.accessKey)
	if err != nil {
		return nil, err
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = UnsignedPayload
	}
	creq := canonicalRequest(r, q, signed, payload, "X-Amz-Signature")
	key := signingKey(secret, cred)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign(q.Get("X-Amz-Date"), cred.scope(), creq)))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return nil, s3err.New(s3err.SignatureDoesNotMatch)
	}
	v := &Verified{AccessKey: cred.accessKey, Version: 4, Presigned: true, DecodedLength: r.ContentLength}
	if payload != UnsignedPayload && validPayloadHash(payload) && len(payload) == 64 {
		want, _ := hex.DecodeString(payload)
		v.Body = hashedBody(r, want)
	} else {
		v.Body = plainBody(r)
	}
	return v, nil
}

func lookupSecret(lookup Lookup, ak string) (string, error) {
	secret, err := lookup(ak)
	if errors.Is(err, ErrUnknownKey) {
		return "", s3err.New(s3err.InvalidAccessKeyID)
	}
	if err != nil {
		return "", s3err.Newf(s3err.InternalError, "credential lookup failed")
	}
	return secret, nil
}

// requestTime reads the request's time from x-amz-date or Date with parse
// and checks it is within MaxSkew of now.
func requestTime(r *http.Request, now time.Time, parse func(string) (time.Time, error)) (time.Time, error) {
	date := r.Header.Get("X-Amz-Date")
	if date == "" {
		date = r.Header.Get("Date")
	}
	t, err := parse(date)
	if err != nil {
		return t, s3err.Newf(s3err.AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return t, s3err.New(s3err.RequestTimeTooSkewed)
	}
	return t, nil
}

func parseAmzDate(s string) (time.Time, error) {
	if t, err := time.Parse(timeFormat, s); err == nil {
		return t, nil
	}
	return parseHTTPDate(s)
}

func amzDate2(t time.Time) string { return t.UTC().Format(timeFormat) }

func headerListed(signed, name string) bool {
	for _, h := range strings.Split(signed, ";") {
		if h == name {
			return true
		}
	}
	return false
}

// canonicalRequest builds SigV4's canonical request. skip names a query
// parameter left out (the signature of a presigned URL).
func canonicalRequest(r *http.Request, q url.Values, signed, payload, skip string) string {
	return canonicalRequestOrder(r, q, signed, payload, skip, false)
}

// repeatedUnsorted reports whether a query parameter of q appears more
// than once with its values out of order: SigV4 sorts them, MinIO's
// clients (minio-go, mc) sign them in the order sent.
func repeatedUnsorted(q url.Values) bool {
	for _, vs := range q {
		if len(vs) > 1 && !sort.StringsAreSorted(vs) {
			return true
		}
	}
	return false
}

// canonicalRequestOrder is canonicalRequest; asSent keeps the values of a
// repeated parameter in the order sent instead of sorting them (how
// minio-go signs ListenBucketNotification's several "events").
func canonicalRequestOrder(r *http.Request, q url.Values, signed, payload, skip string, asSent bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(encodePath(r.URL.Path))
	b.WriteByte('\n')
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != skip {
			keys = append(keys, k)
		}
	}
	type pair struct{ k, v string }
	var pairs []pair
	for _, k := range keys {
		for _, v := range q[k] {
			pairs = append(pairs, pair{encode(k), encode(v)})
		}
	}
	sort.SliceStable(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k || asSent {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	b.WriteByte('\n')
	for _, h := range strings.Split(signed, ";") {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signed)
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// headerValue returns a header's canonical value: the values joined by ",",
// each trimmed, runs of spaces collapsed.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		if r.ContentLength >= 0 && r.Header.Get("Content-Length") == "" {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		} else {
			vals = r.Header.Values(name)
		}
	case "transfer-encoding":
		vals = r.TransferEncoding
		if len(vals) == 0 {
			vals = r.Header.Values(name)
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func stringToSign(date, scope, creq string) string {
	h := sha256.Sum256([]byte(creq))
	return algorithm + "\n" + date + "\n" + scope + "\n" + hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func signingKey(secret string, c credential) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), c.date)
	k = hmacSHA256(k, c.region)
	k = hmacSHA256(k, c.service)
	return hmacSHA256(k, "aws4_request")
}

// encode percent-encodes s as SigV4 requires: everything but A-Z a-z 0-9
// - _ . ~ is %XX with upper-case hex.
func encode(s string) string { return encodeExcept(s, false) }

// encodePath encodes a path, keeping the slashes.
func encodePath(p string) string {
	if p == "" {
		return "/"
	}
	return encodeExcept(p, true)
}

func encodeExcept(s string, keepSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

// Presign returns the query of a SigV4 presigned URL for method and the
// request's URL and host (the rest of r is ignored). Used by tests and
// tools.
func Presign(method, rawURL, accessKey, secret, region string, t time.Time, expires time.Duration) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	cred := credential{accessKey: accessKey, date: t.UTC().Format(dateFormat), region: region, service: "s3"}
	q := u.Query()
	q.Set("X-Amz-Algorithm", algorithm)
	q.Set("X-Amz-Credential", accessKey+"/"+cred.scope())
	q.Set("X-Amz-Date", amzDate2(t))
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(expires/time.Second), 10))
	q.Set("X-Amz-SignedHeaders", "host")
	r := &http.Request{Method: method, URL: u, Host: u.Host, Header: http.Header{}}
	creq := canonicalRequest(r, q, "host", UnsignedPayload, "")
	sig := hex.EncodeToString(hmacSHA256(signingKey(secret, cred), stringToSign(amzDate2(t), cred.scope(), creq)))
	q.Set("X-Amz-Signature", sig)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SignHeader signs r in place with an Authorization header (SigV4,
// payload hash as given). Used by tests and tools.
func SignHeader(r *http.Request, accessKey, secret, region, payloadHash string, t time.Time) {
	cred := credential{accessKey: accessKey, date: t.UTC().Format(dateFormat), region: region, service: "s3"}
	r.Header.Set("X-Amz-Date", amzDate2(t))
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	var names []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if lk == "authorization" || lk == "user-agent" {
			continue
		}
		names = append(names, lk)
	}
	names = append(names, "host")
	sort.Strings(names)
	signed := strings.Join(names, ";")
	creq := canonicalRequest(r, r.URL.Query(), signed, payloadHash, "")
	sig := hex.EncodeToString(hmacSHA256(signingKey(secret, cred), stringToSign(amzDate2(t), cred.scope(), creq)))
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s", algorithm, accessKey, cred.scope(), signed, sig))
}

// VerifyAs is Verify for callers whose access keys belong to principals of
// type P: lookup returns a key's principal and secret, or an error for a
// key that is unknown, disabled, expired or locked out (Verify sees any
// such error as ErrUnknownKey). It returns the verified key's principal
// (the zero P when the request is anonymous or fails) and the lookup's own
// error, so that the caller answers each case as it should. The one way
// every endpoint (S3, admin, metrics) looks keys up while verifying.
func VerifyAs[P any](r *http.Request, lookup func(accessKey string) (P, string, error), now time.Time, opt Options) (v *Verified, p P, lookupErr error, err error) {
	var found P
	v, err = Verify(r, func(ak string) (string, error) {
		var secret string
		found, secret, lookupErr = lookup(ak)
		if lookupErr != nil {
			return "", ErrUnknownKey
		}
		return secret, nil
	}, now, opt)
	if err == nil && !v.Anonymous {
		p = found
	}
	return v, p, lookupErr, err
}
