package sigv4_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"cairn/internal/s3/sigv4"
)

// VerifyAs hands back the verified key's principal, and the lookup's own
// error when the key was refused.
func TestVerifyAs(t *testing.T) {
	now := time.Now()
	errDisabled := errors.New("disabled")
	lookup := func(ak string) (string, string, error) {
		switch ak {
		case "alice":
			return "principal alice", "alice-secret", nil
		case "bob":
			return "", "", errDisabled
		}
		return "", "", errors.New("unknown")
	}
	sign := func(ak, sk string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://h/b/k", nil)
		sigv4.SignHeader(r, ak, sk, "us-east-1", sigv4.UnsignedPayload, now)
		return r
	}
	v, p, lerr, err := sigv4.VerifyAs(sign("alice", "alice-secret"), lookup, now, sigv4.Options{Region: "us-east-1"})
	if err != nil || lerr != nil || p != "principal alice" || v.AccessKey != "alice" {
		t.Fatalf("a good signature: %v %q %v %v", v, p, lerr, err)
	}
	if _, p, _, err := sigv4.VerifyAs(sign("alice", "wrong"), lookup, now, sigv4.Options{Region: "us-east-1"}); err == nil || p != "" {
		t.Fatalf("a bad signature: %q %v", p, err)
	}
	if _, p, lerr, err := sigv4.VerifyAs(sign("bob", "x"), lookup, now, sigv4.Options{Region: "us-east-1"}); err == nil || !errors.Is(lerr, errDisabled) || p != "" {
		t.Fatalf("a refused key: %q %v %v", p, lerr, err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://h/b/k", nil)
	if v, p, _, err := sigv4.VerifyAs(r, lookup, now, sigv4.Options{}); err != nil || !v.Anonymous || p != "" {
		t.Fatalf("an anonymous request: %v %q %v", v, p, err)
	}
}
