package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"cairn/internal/s3/s3err"
)

// v2SubResources are the query parameters SigV2 includes in the
// canonicalized resource.
var v2SubResources = map[string]bool{
	"acl": true, "cors": true, "delete": true, "lifecycle": true, "location": true, "logging": true,
	"notification": true, "partNumber": true, "policy": true, "requestPayment": true, "restore": true,
	"tagging": true, "torrent": true, "uploadId": true, "uploads": true, "versionId": true,
	"versioning": true, "versions": true, "website": true, "object-lock": true, "retention": true,
	"legal-hold": true, "encryption": true, "replication": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"response-content-language": true, "response-content-type": true, "response-expires": true,
}

func verifyV2Header(r *http.Request, auth string, lookup Lookup, now time.Time, opt Options) (*Verified, error) {
	ak, sig, ok := strings.Cut(strings.TrimPrefix(auth, "AWS "), ":")
	if !ok || ak == "" || sig == "" {
		return nil, s3err.New(s3err.AuthorizationHeaderMalformed)
	}
	if _, err := requestTime(r, now, parseHTTPDate); err != nil {
		return nil, err
	}
	secret, err := lookupSecret(lookup, ak)
	if err != nil {
		return nil, err
	}
	dateLine := r.Header.Get("Date")
	if r.Header.Get("X-Amz-Date") != "" {
		dateLine = ""
	}
	if !v2Matches(r, secret, dateLine, opt.Bucket, sig) {
		return nil, s3err.New(s3err.SignatureDoesNotMatch)
	}
	return &Verified{AccessKey: ak, Version: 2, Body: plainBody(r), DecodedLength: r.ContentLength}, nil
}

func verifyV2Presigned(r *http.Request, q url.Values, lookup Lookup, now time.Time, opt Options) (*Verified, error) {
	ak, sig, expires := q.Get("AWSAccessKeyId"), q.Get("Signature"), q.Get("Expires")
	if ak == "" || sig == "" || expires == "" {
		return nil, s3err.Newf(s3err.AccessDenied, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return nil, s3err.Newf(s3err.AccessDenied, "Invalid Expires parameter.")
	}
	if now.Unix() > exp {
		return nil, s3err.Newf(s3err.AccessDenied, "Request has expired")
	}
	if time.Unix(exp, 0).Sub(now) > MaxPresignExpiry+MaxSkew {
		return nil, s3err.Newf(s3err.AccessDenied, "Expires must be less than a week away.")
	}
	secret, err := lookupSecret(lookup, ak)
	if err != nil {
		return nil, err
	}
	if !v2Matches(r, secret, expires, opt.Bucket, sig) {
		return nil, s3err.New(s3err.SignatureDoesNotMatch)
	}
	return &Verified{AccessKey: ak, Version: 2, Presigned: true, Body: plainBody(r), DecodedLength: r.ContentLength}, nil
}

// v2Matches checks sig against the request's string to sign. botocore's
// SigV2 signer (HmacV1) signs a bucket-only path as "/bucket/" while it
// sends "/bucket": that resource is accepted too, and means the same.
func v2Matches(r *http.Request, secret, dateLine, bucket, sig string) bool {
	sts := v2StringToSign(r, dateLine, bucket)
	if v2Equal(secret, sts, sig) {
		return true
	}
	p := r.URL.EscapedPath()
	if bucket == "" && len(p) > 1 && !strings.Contains(p[1:], "/") {
		u := *r.URL
		u.RawPath, u.Path = "", p+"/"
		alt := *r
		alt.URL = &u
		return v2Equal(secret, v2StringToSign(&alt, dateLine, bucket), sig)
	}
	return false
}

func v2Equal(secret, sts, sig string) bool {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(want), []byte(sig))
}

// v2StringToSign builds SigV2's string to sign; dateLine is the Date
// header (empty when x-amz-date is used) or a presigned URL's Expires.
func v2StringToSign(r *http.Request, dateLine, bucket string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(r.Header.Get("Content-Md5") + "\n")
	b.WriteString(r.Header.Get("Content-Type") + "\n")
	b.WriteString(dateLine + "\n")
	var amz []string
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			amz = append(amz, lk)
		}
	}
	sort.Strings(amz)
	for _, k := range amz {
		vals := r.Header.Values(k)
		for i, v := range vals {
			vals[i] = strings.TrimSpace(v)
		}
		b.WriteString(k + ":" + strings.Join(vals, ",") + "\n")
	}
	path := r.URL.EscapedPath()
	if bucket != "" {
		path = "/" + bucket + path
	}
	b.WriteString(path)
	q := r.URL.Query()
	var subs []string
	for k := range q {
		if v2SubResources[k] {
			subs = append(subs, k)
		}
	}
	sort.Strings(subs)
	for i, k := range subs {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k)
		if v := q.Get(k); v != "" {
			b.WriteString("=" + v)
		}
	}
	return b.String()
}

func v2Sign(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// parseHTTPDate accepts the date forms clients send in Date headers,
// including RFC 1123 with a numeric zone.
func parseHTTPDate(s string) (time.Time, error) {
	if t, err := http.ParseTime(s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC1123Z, s)
}
