package iam

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
)

func TestRootLifecycle(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	keyPath := filepath.Join(t.TempDir(), "master.key")
	k, err := LoadOrCreateMasterKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateMasterKey(keyPath)
	if err != nil || k2 != k {
		t.Fatalf("reloaded key differs: %v", err)
	}
	c, gen, err := SetupRoot(ctx, store, k, nil)
	if err != nil || !gen || len(c.AccessKey) != 20 || len(c.SecretKey) != 40 {
		t.Fatalf("first start: %+v %v %v", c, gen, err)
	}
	again, gen, err := SetupRoot(ctx, store, k, nil)
	if err != nil || gen || again != c {
		t.Fatalf("second start: %+v %v %v", again, gen, err)
	}
	// The secret is not stored in the clear.
	store.View(ctx, func(tx kv.Tx) error {
		b, _ := tx.Get(rootKey)
		if strings.Contains(string(b), c.SecretKey) {
			t.Error("secret stored in the clear")
		}
		return nil
	})
	var wrong MasterKey
	if _, _, err := SetupRoot(ctx, store, wrong, nil); !errors.Is(err, ErrMasterKey) {
		t.Fatalf("wrong master key: %v", err)
	}
	given := Credentials{AccessKey: "admin", SecretKey: "password123"}
	c, gen, err = SetupRoot(ctx, store, k, &given)
	if err != nil || gen || c != given {
		t.Fatalf("given credentials: %+v %v", c, err)
	}
	if _, _, err := SetupRoot(ctx, store, k, &Credentials{AccessKey: "a", SecretKey: "short"}); err == nil {
		t.Fatal("too short credentials accepted")
	}
	ids := NewIdentities(given)
	if s, err := ids.Secret("admin"); err != nil || s != "password123" {
		t.Fatal("Secret")
	}
	if _, err := ids.Secret("other"); !errors.Is(err, ErrUnknownKey) {
		t.Fatal("unknown key")
	}
	if cr, err := ids.Cred("admin"); err != nil || !cr.IsRoot() {
		t.Fatal("root cred")
	}
}
