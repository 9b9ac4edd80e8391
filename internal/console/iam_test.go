package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var (
	newAKRE = regexp.MustCompile(`id="new-access-key">([^<]+)<`)
	newSKRE = regexp.MustCompile(`id="new-secret-key">([^<]+)<`)
)

func (b *browser) iam(op string, form url.Values) (int, string) {
	b.t.Helper()
	form.Set("op", op)
	return b.post("/console/iam", form)
}

// canList tells whether keys are accepted by the gateway.
func canList(e *env, ak, sk string) error {
	cl := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
	_, err := cl.ListBuckets(bg, &s3.ListBucketsInput{})
	return err
}

func TestIdentity(t *testing.T) {
	e, b := rootBrowser(t)
	if _, body := b.get("/console/buckets"); !strings.Contains(body, `href="/console/iam"`) {
		t.Fatal("root has no Identity link")
	}

	// A user with a made-up secret, shown once.
	code, body := b.iam("create-user", url.Values{"name": {"alice"}, "policy": {"readwrite"}})
	m := newSKRE.FindStringSubmatch(body)
	if code != 200 || m == nil || newAKRE.FindStringSubmatch(body)[1] != "alice" {
		t.Fatalf("create user: %d %s", code, body)
	}
	secret := htmlUnescape(m[1])
	if err := canList(e, "alice", secret); err != nil {
		t.Fatalf("alice with the shown secret: %v", err)
	}
	if _, body := b.get("/console/iam?tab=users"); strings.Contains(body, secret) {
		t.Fatal("the secret is shown again")
	}
	a := e.browser(t)
	a.signIn("alice", secret)
	if _, body := a.get("/console/buckets"); strings.Contains(body, `href="/console/iam"`) {
		t.Fatal("alice (readwrite, no admin rights) has an Identity link")
	}
	if code, body := a.get("/console/iam"); code != http.StatusForbidden || !strings.Contains(body, "AccessDenied") {
		t.Fatalf("alice's identity page: %d", code)
	}
	// Forged admin changes by a user who is not an admin change nothing.
	if code, _ := a.iam("create-user", url.Values{"name": {"mallory"}, "secret": {"mallory-secret"}}); code != http.StatusForbidden {
		t.Fatalf("alice creating a user: %d", code)
	}
	if canList(e, "mallory", "mallory-secret") == nil {
		t.Fatal("alice made a user")
	}

	// Disable, enable, a new secret.
	b.iam("user-status", url.Values{"name": {"alice"}, "status": {"disabled"}})
	if canList(e, "alice", secret) == nil {
		t.Fatal("a disabled user still works")
	}
	b.iam("user-status", url.Values{"name": {"alice"}, "status": {"enabled"}})
	code, body = b.iam("rotate", url.Values{"name": {"alice"}})
	m = newSKRE.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if canList(e, "alice", secret) == nil || canList(e, "alice", htmlUnescape(m[1])) != nil {
		t.Fatal("after a new secret the old one works or the new one does not")
	}
	secret = htmlUnescape(m[1])

	// POSIX identity.
	if code, body := b.iam("set-posix", url.Values{"name": {"alice"}, "uid": {"2345"}, "gid": {"2346"}}); code != 200 || !strings.Contains(body, "2345:2346") {
		t.Fatalf("set-posix: %d %s", code, body)
	}

	// Expiry.
	if code, body := b.iam("user-expiry", url.Values{"name": {"alice"}, "expires": {"24h"}}); code != 200 || !strings.Contains(body, "expires") {
		t.Fatalf("expiry: %d", code)
	}
	if u, err := e.ids.GetUser(bg, "alice"); err != nil || u.Expires.Sub(e.clock.now().Add(24*time.Hour)).Abs() > time.Minute {
		t.Fatalf("alice expires %v (%v), want in a day", u.Expires, err)
	}
	if code, _ := b.iam("user-expiry", url.Values{"name": {"alice"}, "expires": {"soon"}}); code != http.StatusBadRequest {
		t.Fatalf("a bad expiry: %d", code)
	}
	b.iam("user-expiry", url.Values{"name": {"alice"}, "expires": {"never"}})
	if u, _ := e.ids.GetUser(bg, "alice"); !u.Expires.IsZero() {
		t.Fatalf("alice still expires %v", u.Expires)
	}

	// Groups.
	if code, body := b.iam("group-members", url.Values{"group": {"team"}, "members": {"alice"}}); code != 200 || !strings.Contains(body, "<td>team</td>") {
		t.Fatalf("group: %d %s", code, body)
	}

	b.iam("group-status", url.Values{"group": {"team"}, "status": {"disabled"}})
	if _, body := b.get("/console/iam?tab=groups"); !strings.Contains(body, "<td>team</td><td>disabled</td>") {
		t.Fatal("the group was not disabled")
	}
	b.iam("group-status", url.Values{"group": {"team"}, "status": {"enabled"}})

	// Policies: refused JSON keeps the text; a template-made one is saved,
	// attached to the group, listed with it, detached and deleted.
	code, body = b.iam("create-policy", url.Values{"name": {"photos-read"}, "text": {`{"Version":`}})
	if code != http.StatusBadRequest || !strings.Contains(body, "not valid JSON") || !strings.Contains(body, `{&#34;Version&#34;:`) {
		t.Fatalf("bad policy: %d %s", code, body)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}]}`
	if code, body := b.iam("create-policy", url.Values{"name": {"photos-read"}, "text": {doc}}); code != 200 || !strings.Contains(body, "photos-read") {
		t.Fatalf("policy: %d %s", code, body)
	}
	if code, body := b.iam("attach", url.Values{"policy": {"photos-read"}, "who": {"group:team"}}); code != 200 || !regexp.MustCompile(`photos-read</summary>[\s\S]*?<td></td>\s*<td>team</td>`).MatchString(body) {
		t.Fatalf("attach: %d %s", code, body)
	}
	if code, _ := b.iam("attach", url.Values{"policy": {"photos-read"}, "who": {"team"}}); code != http.StatusBadRequest {
		t.Fatalf("attach to a name without its kind: %d", code)
	}
	b.iam("detach", url.Values{"policy": {"photos-read"}, "who": {"group:team"}})
	if code, body := b.iam("delete-policy", url.Values{"name": {"photos-read"}}); code != 200 || strings.Contains(body, "photos-read</summary>") {
		t.Fatalf("delete policy: %d", code)
	}

	// Service accounts: keys shown once, working, then deleted.
	code, body = b.iam("create-account", url.Values{"user": {"alice"}})
	ak, sk := newAKRE.FindStringSubmatch(body), newSKRE.FindStringSubmatch(body)
	if code != 200 || ak == nil || sk == nil || !strings.Contains(body, "New service account for alice") {
		t.Fatalf("service account: %d %s", code, body)
	}
	ak[1], sk[1] = htmlUnescape(ak[1]), htmlUnescape(sk[1]) // as a browser shows them
	if err := canList(e, ak[1], sk[1]); err != nil {
		t.Fatalf("the service account's keys: %v", err)
	}
	if _, body := b.get("/console/iam?tab=accounts&user=alice"); !strings.Contains(body, ak[1]) {
		t.Fatal("the service account is not listed")
	}
	b.iam("account-status", url.Values{"user": {"alice"}, "key": {ak[1]}, "status": {"off"}})
	if canList(e, ak[1], sk[1]) == nil {
		t.Fatal("a disabled service account still works")
	}
	b.iam("account-status", url.Values{"user": {"alice"}, "key": {ak[1]}, "status": {"on"}})
	if err := canList(e, ak[1], sk[1]); err != nil {
		t.Fatalf("a service account enabled again: %v", err)
	}
	b.iam("delete-account", url.Values{"user": {"alice"}, "key": {ak[1]}})
	if canList(e, ak[1], sk[1]) == nil {
		t.Fatal("a deleted service account still works")
	}

	b.iam("delete-user", url.Values{"name": {"alice"}})
	if canList(e, "alice", secret) == nil {
		t.Fatal("a deleted user still works")
	}
}
