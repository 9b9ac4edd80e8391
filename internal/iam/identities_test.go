package iam

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cairn/internal/iam/policy"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/meta/kv/memkv"
)

var bg = context.Background()

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

var rootCreds = Credentials{AccessKey: "rootkey", SecretKey: "rootsecret"}

func newIDs(t *testing.T, store kv.Store, c *clock, opt Options) *Identities {
	t.Helper()
	if c != nil {
		opt.Now = c.now
	}
	var k MasterKey
	k[0] = 7
	ids, err := Open(bg, store, k, rootCreds, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ids.Close() })
	return ids
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// allowed asks whether accessKey may do action on resource.
func allowed(t *testing.T, ids *Identities, accessKey, action, resource string) bool {
	t.Helper()
	p, _, err := ids.Lookup(bg, accessKey)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", accessKey, err)
	}
	_, err = ids.Authorize(bg, p, &policy.Request{Action: action, Resource: resource}, nil)
	if err != nil && !errors.Is(err, ErrAccessDenied) {
		t.Fatal(err)
	}
	return err == nil
}

func TestUsersAndPolicies(t *testing.T) {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	store := memkv.New()
	ids := newIDs(t, store, c, Options{PollInterval: -1})
	if _, _, err := ids.Lookup(bg, "alice"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown user: %v", err)
	}
	must(t, ids.CreateUser(bg, "alice", "alice-secret", UserOptions{}))
	p, secret, err := ids.Lookup(bg, "alice")
	if err != nil || secret != "alice-secret" || p.Kind != KindUser || p.Cred.UID != 10000 || p.Cred.GID != 10000 {
		t.Fatalf("alice: %+v %q %v", p, secret, err)
	}
	// A new user may do nothing.
	if allowed(t, ids, "alice", "s3:GetObject", policy.ObjectARN("b", "k")) {
		t.Fatal("a user without policies was allowed")
	}
	must(t, ids.PutPolicy(bg, "read-b", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`)))
	must(t, ids.AttachPolicy(bg, Target{User: "alice"}, "read-b"))
	if !allowed(t, ids, "alice", "s3:GetObject", policy.ObjectARN("b", "k")) {
		t.Fatal("attached policy not applied")
	}
	if allowed(t, ids, "alice", "s3:PutObject", policy.ObjectARN("b", "k")) {
		t.Fatal("put allowed by a read policy")
	}
	// Groups: policies through the group, gids as supplementary groups.
	must(t, ids.CreateUser(bg, "bob", "bob-secret", UserOptions{}))
	must(t, ids.AddGroupMembers(bg, "writers", "alice", "bob"))
	must(t, ids.AttachPolicy(bg, Target{Group: "writers"}, "writeonly"))
	if !allowed(t, ids, "bob", "s3:PutObject", policy.ObjectARN("x", "k")) {
		t.Fatal("group policy not applied")
	}
	p, _, _ = ids.Lookup(bg, "alice")
	g, _ := ids.GetGroup(bg, "writers")
	if len(p.Cred.Groups) != 1 || p.Cred.Groups[0] != g.GID || g.GID == p.Cred.GID {
		t.Fatalf("alice's groups %v, writers %d", p.Cred.Groups, g.GID)
	}
	must(t, ids.SetGroupStatus(bg, "writers", Disabled))
	if allowed(t, ids, "bob", "s3:PutObject", policy.ObjectARN("x", "k")) {
		t.Fatal("a disabled group's policy applied")
	}
	// An explicit deny in any attached policy wins.
	must(t, ids.SetGroupStatus(bg, "writers", Enabled))
	must(t, ids.PutPolicy(bg, "no-b", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`)))
	must(t, ids.AttachPolicy(bg, Target{Group: "writers"}, "no-b"))
	if allowed(t, ids, "alice", "s3:GetObject", policy.ObjectARN("b", "k")) {
		t.Fatal("deny did not win")
	}
	if err := ids.DeletePolicy(bg, "no-b"); !errors.Is(err, ErrPolicyInUse) {
		t.Fatalf("delete attached policy: %v", err)
	}
	if users, groups, err := ids.PolicyEntities(bg, "no-b"); err != nil || len(users) != 0 || strings.Join(groups, ",") != "writers" {
		t.Fatalf("entities: %v %v %v", users, groups, err)
	}
	must(t, ids.DetachPolicy(bg, Target{Group: "writers"}, "no-b"))
	must(t, ids.DeletePolicy(bg, "no-b"))
	if !allowed(t, ids, "alice", "s3:GetObject", policy.ObjectARN("b", "k")) {
		t.Fatal("detached deny still applies")
	}
	if err := ids.DeleteGroup(bg, "writers"); !errors.Is(err, ErrGroupNotEmpty) {
		t.Fatalf("delete group with members: %v", err)
	}
	// Disabled and expired users.
	must(t, ids.SetUserStatus(bg, "bob", Disabled))
	if _, _, err := ids.Lookup(bg, "bob"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	must(t, ids.SetUserStatus(bg, "bob", Enabled))
	must(t, ids.CreateUser(bg, "bob", "bob-secret2", UserOptions{Expires: c.now().Add(time.Hour)}))
	if _, s, err := ids.Lookup(bg, "bob"); err != nil || s != "bob-secret2" {
		t.Fatalf("new secret: %q %v", s, err)
	}
	c.advance(2 * time.Hour)
	if _, _, err := ids.Lookup(bg, "bob"); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	// Deleting a user removes its memberships and keys.
	must(t, ids.DeleteUser(bg, "bob"))
	if _, _, err := ids.Lookup(bg, "bob"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("deleted: %v", err)
	}
	g, _ = ids.GetGroup(bg, "writers")
	if strings.Join(g.Members, ",") != "alice" {
		t.Fatalf("members after delete: %v", g.Members)
	}
	// Bad input.
	for _, err := range []error{
		ids.CreateUser(bg, "ab", "long-enough", UserOptions{}),
		ids.CreateUser(bg, "a/b", "long-enough", UserOptions{}),
		ids.CreateUser(bg, "carol", "short", UserOptions{}),
		ids.CreateUser(bg, "rootkey", "long-enough", UserOptions{}),
		ids.PutPolicy(bg, "readonly", []byte(`{}`)),
		ids.AttachPolicy(bg, Target{User: "alice"}, "missing"),
	} {
		if err == nil {
			t.Error("bad input accepted")
		}
	}
	var pe *policy.Error
	if err := ids.PutPolicy(bg, "bad", []byte(`{"Statement":[{"Effect":"Allow","Action":"s3:Nope","Resource":"*"}]}`)); !errors.As(err, &pe) || pe.Statement != 1 {
		t.Fatalf("bad policy: %v", err)
	}
	// Secrets are not stored in the clear.
	store.View(bg, func(tx kv.Tx) error {
		return tx.Scan([]byte("I"), []byte("J"), kv.ScanOptions{}, func(k, v []byte) bool {
			if strings.Contains(string(v), "alice-secret") {
				t.Errorf("%q holds a secret in the clear", k)
			}
			return true
		})
	})
}

func TestServiceAccountsAndSessions(t *testing.T) {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	ids := newIDs(t, memkv.New(), c, Options{PollInterval: -1})
	must(t, ids.CreateUser(bg, "alice", "alice-secret", UserOptions{}))
	must(t, ids.AttachPolicy(bg, Target{User: "alice"}, "readwrite"))
	sa, err := ids.CreateServiceAccount(bg, "alice", ServiceAccountOptions{Name: "backup",
		Policy: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::backups/*"}]}`)})
	must(t, err)
	p, _, err := ids.Lookup(bg, sa.AccessKey)
	if err != nil || p.Kind != KindServiceAccount || p.User != "alice" || p.Cred.UID != 10000 {
		t.Fatalf("service account: %+v %v", p, err)
	}
	if !allowed(t, ids, sa.AccessKey, "s3:GetObject", policy.ObjectARN("backups", "x")) {
		t.Fatal("service account cannot do what both allow")
	}
	if allowed(t, ids, sa.AccessKey, "s3:PutObject", policy.ObjectARN("backups", "x")) {
		t.Fatal("service account not narrowed")
	}
	// It inherits its parent's state: a disabled parent disables it.
	must(t, ids.SetUserStatus(bg, "alice", Disabled))
	if _, _, err := ids.Lookup(bg, sa.AccessKey); !errors.Is(err, ErrDisabled) {
		t.Fatalf("service account of a disabled user: %v", err)
	}
	must(t, ids.SetUserStatus(bg, "alice", Enabled))
	list, err := ids.ListServiceAccounts(bg, "alice")
	if err != nil || len(list) != 1 || list[0].Name != "backup" {
		t.Fatalf("list: %+v %v", list, err)
	}
	off := Disabled
	must(t, ids.UpdateServiceAccount(bg, sa.AccessKey, ServiceAccountUpdate{Status: &off}))
	if _, _, err := ids.Lookup(bg, sa.AccessKey); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled service account: %v", err)
	}
	must(t, ids.DeleteServiceAccount(bg, sa.AccessKey))
	if _, _, err := ids.Lookup(bg, sa.AccessKey); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("deleted service account: %v", err)
	}

	// STS.
	alice, _, _ := ids.Lookup(bg, "alice")
	if _, err := ids.AssumeRole(bg, alice, 10*time.Minute, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("too short a session: %v", err)
	}
	sc, err := ids.AssumeRole(bg, alice, 15*time.Minute, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::*"}]}`))
	must(t, err)
	sp, secret, err := ids.Lookup(bg, sc.AccessKey)
	if err != nil || secret != sc.SecretKey || sp.Kind != KindSession || !strings.HasPrefix(sc.AccessKey, "ASIA") {
		t.Fatalf("session: %+v %v", sp, err)
	}
	if !sp.CheckToken(sc.SessionToken) || sp.CheckToken("") || sp.CheckToken(sc.SessionToken+"x") {
		t.Fatal("session token check")
	}
	if !alice.CheckToken("") {
		t.Fatal("a long-term key needs no token")
	}
	if !allowed(t, ids, sc.AccessKey, "s3:ListBucket", policy.BucketARN("b")) || allowed(t, ids, sc.AccessKey, "s3:GetObject", policy.ObjectARN("b", "k")) {
		t.Fatal("session policy not applied")
	}
	if _, err := ids.AssumeRole(bg, sp, time.Hour, nil); err == nil {
		t.Fatal("a session assumed a role")
	}
	c.advance(16 * time.Minute)
	if _, _, err := ids.Lookup(bg, sc.AccessKey); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired session: %v", err)
	}
	if n, err := ids.SweepExpired(bg); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if _, _, err := ids.Lookup(bg, sc.AccessKey); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("swept session: %v", err)
	}
}

func TestLockout(t *testing.T) {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	ids := newIDs(t, memkv.New(), c, Options{PollInterval: -1, LockoutThreshold: 3, LockoutDuration: time.Minute})
	must(t, ids.CreateUser(bg, "alice", "alice-secret", UserOptions{}))
	for range 2 {
		ids.Failed("alice", "10.0.0.1")
	}
	ids.Succeeded("alice") // a success resets the count
	for range 2 {
		ids.Failed("alice", "10.0.0.1")
	}
	if _, _, err := ids.Lookup(bg, "alice"); err != nil {
		t.Fatalf("locked out early: %v", err)
	}
	ids.Failed("alice", "10.0.0.1")
	if _, _, err := ids.Lookup(bg, "alice"); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("not locked out: %v", err)
	}
	if _, _, err := ids.Lookup(bg, "rootkey"); err != nil {
		t.Fatalf("another key locked out: %v", err)
	}
	c.advance(61 * time.Second)
	if _, _, err := ids.Lookup(bg, "alice"); err != nil {
		t.Fatalf("still locked out: %v", err)
	}
}

// A lockout on one gateway holds on every gateway of the volume, one
// opened later included; made-up keys are not written to the store.
func TestLockoutShared(t *testing.T) {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	store := memkv.New()
	opt := Options{PollInterval: 20 * time.Millisecond, LockoutThreshold: 3, LockoutDuration: time.Minute}
	a := newIDs(t, store, c, opt)
	b := newIDs(t, store, c, opt)
	must(t, a.CreateUser(bg, "alice", "alice-secret", UserOptions{}))
	for _, ak := range []string{"alice", "made-up"} {
		a.Lookup(bg, ak) // as an authentication does before it fails
		for range 3 {
			a.Failed(ak, "10.0.0.9")
		}
	}
	deadline := time.Now().Add(time.Second)
	for {
		_, _, err := b.Lookup(bg, "alice")
		if errors.Is(err, ErrLockedOut) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b still accepts alice a second after a locked her out: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, err := b.Lookup(bg, "made-up"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("made-up key on b: %v", err)
	}
	n := 0
	store.View(bg, func(tx kv.Tx) error {
		return scanRecords(tx, famLock, func(r lockRecord) {
			n++
			if r.AccessKey != "alice" || r.Source != "10.0.0.9" {
				t.Errorf("lock record %+v", r)
			}
		})
	})
	if n != 1 {
		t.Fatalf("%d lock records, want alice's alone", n)
	}
	late := newIDs(t, store, c, opt)
	if _, _, err := late.Lookup(bg, "alice"); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("a gateway opened during the lockout accepts alice: %v", err)
	}
	c.advance(61 * time.Second)
	for _, ids := range []*Identities{a, b, late} {
		if _, _, err := ids.Lookup(bg, "alice"); err != nil {
			t.Fatalf("still locked out after the lockout ended: %v", err)
		}
	}
}

// Two processes on one volume: a change made through one is enforced by
// the other within a second.
func TestChangesSeenByOthers(t *testing.T) {
	store := memkv.New()
	a := newIDs(t, store, nil, Options{PollInterval: 50 * time.Millisecond})
	b := newIDs(t, store, nil, Options{PollInterval: 50 * time.Millisecond})
	must(t, a.CreateUser(bg, "alice", "alice-secret", UserOptions{}))
	must(t, a.AttachPolicy(bg, Target{User: "alice"}, "readwrite"))
	if !allowed(t, b, "alice", "s3:PutObject", policy.ObjectARN("b", "k")) {
		t.Fatal("b does not see alice")
	}
	must(t, a.SetUserStatus(bg, "alice", Disabled))
	deadline := time.Now().Add(time.Second)
	for {
		_, _, err := b.Lookup(bg, "alice")
		if errors.Is(err, ErrDisabled) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b still accepts alice a second after she was disabled: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLegacyRootMoves(t *testing.T) {
	store := memkv.New()
	var k MasterKey
	c, _, err := SetupRoot(bg, store, k, nil)
	must(t, err)
	// Put the record back where older volumes have it.
	must(t, store.Update(bg, func(tx kv.Tx) error {
		b, err := tx.Get(rootKey)
		if err != nil {
			return err
		}
		if err := tx.Put(legacyRootKey, b); err != nil {
			return err
		}
		return tx.Delete(rootKey)
	}))
	again, gen, err := SetupRoot(bg, store, k, nil)
	if err != nil || gen || again != c {
		t.Fatalf("legacy root: %+v %v %v", again, gen, err)
	}
	store.View(bg, func(tx kv.Tx) error {
		if _, err := tx.Get(legacyRootKey); !errors.Is(err, kv.ErrNotFound) {
			t.Error("legacy record left behind")
		}
		return nil
	})
}

// Identity and bucket policies combine as AWS does within one account (an
// allow in either), or both must allow with RequireBoth (as MyFSIO).
func TestBucketPolicyCombination(t *testing.T) {
	for _, both := range []bool{false, true} {
		ids := newIDs(t, memkv.New(), nil, Options{PollInterval: -1, RequireBoth: both})
		must(t, ids.CreateUser(bg, "alice", "alice-secret", UserOptions{}))
		must(t, ids.AttachPolicy(bg, Target{User: "alice"}, "readonly"))
		must(t, ids.PutBucketPolicy(bg, "b", []byte(`{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}`)))
		bp, err := ids.BucketPolicy(bg, "b")
		must(t, err)
		p, _, _ := ids.Lookup(bg, "alice")
		var grant Grant
		try := func(action string) bool {
			var err error
			grant, err = ids.Authorize(bg, p, &policy.Request{Action: action, Resource: policy.ObjectARN("b", "k")}, bp)
			return err == nil
		}
		// PutObject: the bucket allows, alice's readonly does not.
		// GetObject: alice's policy allows, the bucket's says nothing.
		if got := try("s3:PutObject"); got == both {
			t.Errorf("both=%v: PutObject allowed=%v", both, got)
		} else if got && !grant.Bucket {
			t.Errorf("PutObject allowed by the bucket policy, grant %+v", grant)
		}
		if got := try("s3:GetObject"); got == both {
			t.Errorf("both=%v: GetObject allowed=%v", both, got)
		} else if got && grant.Bucket {
			t.Errorf("GetObject allowed by alice's policy alone, grant %+v", grant)
		}
		if none, _ := ids.BucketPolicy(bg, "other"); none != nil {
			t.Fatal("a policy for a bucket without one")
		}
		must(t, ids.DeleteBucketPolicy(bg, "b"))
		if _, err := ids.GetBucketPolicy(bg, "b"); !errors.Is(err, ErrNoSuchBucketPolicy) {
			t.Fatalf("deleted policy: %v", err)
		}
	}
}

// TestCloseEngineGone closes Identities while its poll waits on an
// engine that no longer answers: Close must not wait out the read's
// 10 s timeout.
func TestCloseEngineGone(t *testing.T) {
	store := &kvtest.Stuck{Store: memkv.New()}
	ids := newIDs(t, store, nil, Options{PollInterval: 50 * time.Millisecond})
	store.Stuck.Store(true)
	time.Sleep(200 * time.Millisecond) // a poll is under way, stuck
	start := time.Now()
	ids.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Close took %v with the engine gone", took)
	}
}
