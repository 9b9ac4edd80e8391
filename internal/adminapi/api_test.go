package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cairn/internal/iam"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/s3/sigv4"
)

var bg = context.Background()

type env struct {
	url string
	ids *iam.Identities
}

func newEnv(t *testing.T) *env {
	t.Helper()
	var k iam.MasterKey
	ids, err := iam.Open(bg, memkv.New(), k, iam.Credentials{AccessKey: "root", SecretKey: "root-secret"}, iam.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Identities: ids, Region: "us-east-1"}))
	t.Cleanup(func() { srv.Close(); ids.Close() })
	return &env{url: srv.URL, ids: ids}
}

// do makes an admin call as ak/sk, sealing body when seal is set, and
// returns the status and the body (opened when it is sealed).
func (e *env) do(t *testing.T, ak, sk, method, path string, body []byte, sealIt bool) (int, []byte) {
	t.Helper()
	if sealIt {
		var err error
		if body, err = seal(sk, body); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := http.NewRequest(method, e.url+Prefix+"v3/"+path, bytes.NewReader(body))
	sigv4.SignHeader(r, ak, sk, "", sha256hex(body), time.Now())
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Type") == "application/octet-stream" {
		if b, err = open(sk, b); err != nil {
			t.Fatalf("%s: the response does not open: %v", path, err)
		}
	}
	return resp.StatusCode, b
}

func TestAdminCalls(t *testing.T) {
	e := newEnv(t)
	req, _ := json.Marshal(addUserReq{SecretKey: "alice-secret", Status: "enabled"})
	if code, b := e.do(t, "root", "root-secret", "PUT", "add-user?accessKey=alice", req, true); code != 200 {
		t.Fatalf("add-user: %d %s", code, b)
	}
	code, b := e.do(t, "root", "root-secret", "GET", "list-users", nil, false)
	var users map[string]userInfo
	if code != 200 || json.Unmarshal(b, &users) != nil || users["alice"].Status != "enabled" {
		t.Fatalf("list-users: %d %s", code, b)
	}
	// A body sealed with another secret is refused, and nothing changes.
	bad, _ := seal("not-the-secret", req)
	r, _ := http.NewRequest("PUT", e.url+Prefix+"v3/add-user?accessKey=mallory", bytes.NewReader(bad))
	sigv4.SignHeader(r, "root", "root-secret", "", sha256hex(bad), time.Now())
	if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode != 400 {
		t.Fatalf("foreign seal: %v %v", resp, err)
	}
	if _, err := e.ids.GetUser(bg, "mallory"); err == nil {
		t.Fatal("a user made from a payload that does not open")
	}
	// alice is no admin: refused, but her own info and service accounts are hers.
	if code, b := e.do(t, "alice", "alice-secret", "GET", "list-users", nil, false); code != 403 || !bytes.Contains(b, []byte("AccessDenied")) {
		t.Fatalf("alice list-users: %d %s", code, b)
	}
	if code, b := e.do(t, "alice", "alice-secret", "GET", "user-info?accessKey=alice", nil, false); code != 200 {
		t.Fatalf("alice's own info: %d %s", code, b)
	}
	sreq, _ := json.Marshal(addServiceAccountReq{AccessKey: "alicesvc", SecretKey: "svc-secret-1"})
	if code, b := e.do(t, "alice", "alice-secret", "PUT", "add-service-account", sreq, true); code != 200 || !bytes.Contains(b, []byte("alicesvc")) {
		t.Fatalf("alice's own service account: %d %s", code, b)
	}
	other, _ := json.Marshal(addServiceAccountReq{TargetUser: "root"})
	if code, _ := e.do(t, "alice", "alice-secret", "PUT", "add-service-account", other, true); code != 403 {
		t.Fatalf("alice made root a service account: %d", code)
	}
	// A user rotates its own keys: a second key works, then the first goes.
	cl := &Client{Endpoint: e.url, AccessKey: "alice", SecretKey: "alice-secret"}
	ak, sk, err := cl.AddAccessKey(bg, "alice")
	if err != nil || ak == "" || sk == "" {
		t.Fatalf("add access key: %q %v", ak, err)
	}
	if _, err := (&Client{Endpoint: e.url, AccessKey: ak, SecretKey: sk}).UserInfo(bg, "alice"); err != nil {
		t.Fatalf("the new key: %v", err)
	}
	if err := cl.RemoveAccessKey(bg, "alice", ak); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Client{Endpoint: e.url, AccessKey: ak, SecretKey: sk}).UserInfo(bg, "alice"); err == nil {
		t.Fatal("a removed key still works")
	}
	if _, _, err := cl.AddAccessKey(bg, "root"); err == nil {
		t.Fatal("alice added a key to another user")
	}
	// Unknown calls and versions, bad signatures.
	if code, _ := e.do(t, "root", "root-secret", "GET", "frobnicate", nil, false); code != 501 {
		t.Fatalf("unknown call: %d", code)
	}
	if code, _ := e.do(t, "root", "wrong-secret", "GET", "list-users", nil, false); code != 403 {
		t.Fatalf("bad signature: %d", code)
	}
	// A malformed policy names its statement.
	if code, b := e.do(t, "root", "root-secret", "PUT", "add-canned-policy?name=p", []byte(`{"Statement":[{"Effect":"Allow","Action":"s3:Nope","Resource":"*"}]}`), false); code != 400 || !bytes.Contains(b, []byte("statement 1")) {
		t.Fatalf("bad policy: %d %s", code, b)
	}
}

func TestUserExpiry(t *testing.T) {
	e := newEnv(t)
	root := &Client{Endpoint: e.url, AccessKey: "root", SecretKey: "root-secret"}
	if err := root.AddUser(bg, "carol", "carol-secret"); err != nil {
		t.Fatal(err)
	}
	carol := &Client{Endpoint: e.url, AccessKey: "carol", SecretKey: "carol-secret"}
	when := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	if err := root.SetUserExpiry(bg, "carol", when); err != nil {
		t.Fatal(err)
	}
	if u, err := root.UserInfo(bg, "carol"); err != nil || !u.Expires.Equal(when) {
		t.Fatalf("carol expires %v (%v), want %v", u.Expires, err, when)
	}
	if _, err := carol.UserInfo(bg, "carol"); err != nil {
		t.Fatalf("carol before her expiry: %v", err)
	}
	if err := root.SetUserExpiry(bg, "carol", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.UserInfo(bg, "carol"); err == nil {
		t.Fatal("an expired user's keys still work")
	}
	if err := root.SetUserExpiry(bg, "carol", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if u, _ := root.UserInfo(bg, "carol"); !u.Expires.IsZero() {
		t.Fatalf("never: %v", u.Expires)
	}
	if code, b := e.do(t, "root", "root-secret", "PUT", "cairn/set-user-expiry?accessKey=carol&expires=tomorrow", nil, false); code != 400 {
		t.Fatalf("a bad time: %d %s", code, b)
	}
	if code, _ := e.do(t, "carol", "carol-secret", "PUT", "cairn/set-user-expiry?accessKey=carol&expires=never", nil, false); code != 403 {
		t.Fatalf("carol set her own expiry: %d", code)
	}
}
