package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cairn/internal/iam"
	"cairn/internal/meta/kv/memkv"
)

// list-access-keys-bulk: a user lists its own keys; listing another's, or
// everyone's, needs admin:ListServiceAccounts.
func TestListAccessKeysBulk(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{"alice", "bob"} {
		if err := e.ids.CreateUser(bg, u, u+"-secret", iam.UserOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := e.ids.CreateServiceAccount(bg, "alice", iam.ServiceAccountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, b := e.do(t, "alice", "alice-secret", http.MethodGet, "list-access-keys-bulk?users=alice&listType=all", nil, false)
	if st != 200 || !strings.Contains(string(b), sa.AccessKey) {
		t.Fatalf("alice's own keys: %d %s", st, b)
	}
	if st, b := e.do(t, "alice", "alice-secret", http.MethodGet, "list-access-keys-bulk?users=bob&listType=all", nil, false); st != 403 {
		t.Fatalf("alice lists bob's keys: %d %s", st, b)
	}
	if st, _ := e.do(t, "bob", "bob-secret", http.MethodGet, "list-access-keys-bulk?all=true&listType=all", nil, false); st != 403 {
		t.Fatalf("bob lists everyone's keys: %d", st)
	}
	st, b = e.do(t, "root", "root-secret", http.MethodGet, "list-access-keys-bulk?all=true&listType=all", nil, false)
	var got map[string]struct {
		ServiceAccounts []serviceAccountInfo `json:"serviceAccounts"`
	}
	if st != 200 || json.Unmarshal(b, &got) != nil || len(got["alice"].ServiceAccounts) != 1 || len(got["bob"].ServiceAccounts) != 0 {
		t.Fatalf("root lists everyone's keys: %d %s", st, b)
	}
}

// The bucket quota calls (mc quota's) reach the store they are given;
// only admins may make them.
func TestBucketQuotaCalls(t *testing.T) {
	var k iam.MasterKey
	ids, err := iam.Open(bg, memkv.New(), k, iam.Credentials{AccessKey: "root", SecretKey: "root-secret"}, iam.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	quotas := map[string]BucketQuota{}
	srv := httptest.NewServer(New(Options{Identities: ids,
		GetBucketQuota: func(_ context.Context, b string) (BucketQuota, error) {
			if b == "gone" {
				return BucketQuota{}, ErrNoSuchBucket
			}
			q, ok := quotas[b]
			if !ok {
				return q, ErrNoQuota
			}
			return q, nil
		},
		SetBucketQuota: func(_ context.Context, b string, size, objects uint64) error {
			if size == 0 && objects == 0 {
				delete(quotas, b)
				return nil
			}
			quotas[b] = BucketQuota{MaxBytes: size, MaxObjects: objects}
			return nil
		}}))
	t.Cleanup(func() { srv.Close(); ids.Close() })
	if err := ids.CreateUser(bg, "alice", "alice-secret", iam.UserOptions{}); err != nil {
		t.Fatal(err)
	}
	root := &Client{Endpoint: srv.URL, AccessKey: "root", SecretKey: "root-secret"}
	if err := root.SetBucketQuota(bg, "b", 1<<20, 7); err != nil {
		t.Fatal(err)
	}
	if q, err := root.GetBucketQuota(bg, "b"); err != nil || q.MaxBytes != 1<<20 || q.MaxObjects != 7 {
		t.Fatalf("the quota: %+v %v", q, err)
	}
	if err := root.SetBucketQuota(bg, "b", 0, 0); err != nil {
		t.Fatal(err)
	}
	if q, err := root.GetBucketQuota(bg, "b"); err != nil || q.MaxBytes != 0 {
		t.Fatalf("a cleared quota: %+v %v", q, err)
	}
	if _, err := root.GetBucketQuota(bg, "gone"); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("a missing bucket: %v", err)
	}
	alice := &Client{Endpoint: srv.URL, AccessKey: "alice", SecretKey: "alice-secret"}
	if err := alice.SetBucketQuota(bg, "b", 1, 0); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("a user sets a quota: %v", err)
	}
}
