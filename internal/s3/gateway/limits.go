package gateway

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"cairn/internal/s3/s3err"
)

// A RateLimit is N requests per Per, with bursts of up to N: MyFSIO's
// "5000 per minute" form. The zero value is no limit.
type RateLimit struct {
	N   int
	Per time.Duration
}

// ParseRateLimit parses "N per second|minute|hour|day" (or s, m, h, d),
// or "N/SECONDS"; "" and "0" are no limit.
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "0" {
		return RateLimit{}, nil
	}
	bad := fmt.Errorf("rate limit %q is not of the form \"5000 per minute\" or \"100/1\"", s)
	if n, secs, ok := strings.Cut(s, "/"); ok {
		nv, err1 := strconv.Atoi(strings.TrimSpace(n))
		sv, err2 := strconv.ParseFloat(strings.TrimSpace(secs), 64)
		if err1 != nil || err2 != nil || nv <= 0 || sv <= 0 {
			return RateLimit{}, bad
		}
		return RateLimit{N: nv, Per: time.Duration(sv * float64(time.Second))}, nil
	}
	f := strings.Fields(s)
	if len(f) != 3 || f[1] != "per" {
		return RateLimit{}, bad
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 {
		return RateLimit{}, bad
	}
	per := map[string]time.Duration{"s": time.Second, "second": time.Second, "m": time.Minute, "minute": time.Minute,
		"h": time.Hour, "hour": time.Hour, "d": 24 * time.Hour, "day": 24 * time.Hour}[f[2]]
	if per == 0 {
		return RateLimit{}, bad
	}
	return RateLimit{N: n, Per: per}, nil
}

// limiter holds one token bucket per key (client address or access key).
type limiter struct {
	rate    RateLimit
	mu      sync.Mutex
	buckets map[string]*tokens
	swept   time.Time
}

type tokens struct {
	n    float64
	last time.Time
}

func newLimiter(r RateLimit) *limiter {
	if r.N <= 0 {
		return nil
	}
	return &limiter{rate: r, buckets: map[string]*tokens{}}
}

// allow takes a token of key's bucket, if it has one.
func (l *limiter) allow(key string, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.rate.Per {
		// Forget full buckets: a key idle for a whole period has refilled.
		for k, b := range l.buckets {
			if now.Sub(b.last) > l.rate.Per {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &tokens{n: float64(l.rate.N), last: now}
		l.buckets[key] = b
	}
	b.n = min(float64(l.rate.N), b.n+now.Sub(b.last).Seconds()*float64(l.rate.N)/l.rate.Per.Seconds())
	b.last = now
	if b.n < 1 {
		return false
	}
	b.n--
	return true
}

var errSlowDown = s3err.Newf(s3err.SlowDown, "Please reduce your request rate.")

// clientKey is the address a request's rate is counted by.
func clientKey(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// headerSize is the size of a request's header section: the request line
// and every header line, as sent.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
