package s3fs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cairn/internal/posix"
)

// CORSRule is one rule of a bucket's CORS configuration.
type CORSRule struct {
	ID             string   `json:"id,omitempty"`
	AllowedOrigins []string `json:"origins"`
	AllowedMethods []string `json:"methods"`
	AllowedHeaders []string `json:"headers,omitempty"`
	ExposeHeaders  []string `json:"expose,omitempty"`
	MaxAgeSeconds  int      `json:"max_age,omitempty"`
}

// MaxCORSRules is AWS's bound on a bucket's CORS rules.
const MaxCORSRules = 100

// ErrInvalidCORS is a CORS configuration that breaks a rule; ErrNoSuchCORS
// is a bucket without one.
var (
	ErrInvalidCORS = errors.New("s3fs: invalid CORS configuration")
	ErrNoSuchCORS  = errors.New("s3fs: the bucket has no CORS configuration")
)

var corsMethods = []string{"GET", "PUT", "HEAD", "POST", "DELETE"}

// ValidateCORS checks rules as AWS does: 1 to 100 rules, each with
// origins and methods, methods among GET PUT HEAD POST DELETE, at most
// one wildcard in an origin or an allowed header.
func ValidateCORS(rules []CORSRule) error {
	if len(rules) == 0 || len(rules) > MaxCORSRules {
		return fmt.Errorf("%w: %d rules; 1 to %d are allowed", ErrInvalidCORS, len(rules), MaxCORSRules)
	}
	for i, r := range rules {
		if len(r.AllowedOrigins) == 0 || len(r.AllowedMethods) == 0 {
			return fmt.Errorf("%w: rule %d needs an AllowedOrigin and an AllowedMethod", ErrInvalidCORS, i+1)
		}
		for _, m := range r.AllowedMethods {
			if !slices.Contains(corsMethods, m) {
				return fmt.Errorf("%w: Found unsupported HTTP method in CORS config. Unsupported method is %s", ErrInvalidCORS, m)
			}
		}
		for _, o := range r.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return fmt.Errorf("%w: AllowedOrigin %q can not have more than one wildcard.", ErrInvalidCORS, o)
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return fmt.Errorf("%w: AllowedHeader %q can not have more than one wildcard.", ErrInvalidCORS, h)
			}
		}
		if r.MaxAgeSeconds < 0 {
			return fmt.Errorf("%w: rule %d has a negative MaxAgeSeconds", ErrInvalidCORS, i+1)
		}
	}
	return nil
}

// MatchCORS returns the first rule that allows a request from origin with
// method and (for a preflight) the request headers headers, or nil.
func MatchCORS(rules []CORSRule, origin, method string, headers []string) *CORSRule {
	for i := range rules {
		r := &rules[i]
		if !slices.Contains(r.AllowedMethods, method) {
			continue
		}
		originOK := false
		for _, o := range r.AllowedOrigins {
			if wildMatch(o, origin) {
				originOK = true
				break
			}
		}
		if !originOK {
			continue
		}
		headersOK := true
		for _, h := range headers {
			ok := false
			for _, a := range r.AllowedHeaders {
				if wildMatch(strings.ToLower(a), strings.ToLower(h)) {
					ok = true
					break
				}
			}
			if !ok {
				headersOK = false
				break
			}
		}
		if headersOK {
			return r
		}
	}
	return nil
}

// wildMatch matches s against a pattern with at most one '*', which
// stands for any run of characters (none included).
func wildMatch(pattern, s string) bool {
	before, after, wild := strings.Cut(pattern, "*")
	if !wild {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// corsXattr holds a bucket's CORS rules (JSON []CORSRule).
const corsXattr = "cairn.s3.cors"

// GetBucketCors returns a bucket's CORS rules, or ErrNoSuchCORS.
func (f *FS) GetBucketCors(ctx context.Context, cred posix.Cred, bucket string) ([]CORSRule, error) {
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return nil, err
	}
	var rules []CORSRule
	err = f.configAt(ctx, b.Ino, bucket, corsXattr, &rules)
	if errors.Is(err, errNoConfig) {
		return nil, ErrNoSuchCORS
	}
	return rules, err
}

// BucketCORS returns a bucket's CORS rules for deciding a request (no
// permission is needed: preflight requests are anonymous), or
// ErrNoSuchCORS.
func (f *FS) BucketCORS(ctx context.Context, bucket string) ([]CORSRule, error) {
	var rules []CORSRule
	err := f.bucketConfig(ctx, bucket, corsXattr, &rules)
	if errors.Is(err, errNoConfig) {
		return nil, ErrNoSuchCORS
	}
	return rules, err
}

// PutBucketCors replaces a bucket's CORS rules (its owner or root).
func (f *FS) PutBucketCors(ctx context.Context, cred posix.Cred, bucket string, rules []CORSRule) error {
	if err := ValidateCORS(rules); err != nil {
		return err
	}
	return f.setBucketConfig(ctx, cred, bucket, corsXattr, rules)
}

// DeleteBucketCors removes a bucket's CORS rules.
func (f *FS) DeleteBucketCors(ctx context.Context, cred posix.Cred, bucket string) error {
	return f.setBucketConfig(ctx, cred, bucket, corsXattr, nil)
}
