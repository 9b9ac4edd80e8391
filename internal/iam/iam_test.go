package iam

import (
	"context"
	"errors"
	"os"
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
	p, s, err := ids.Lookup(ctx, "admin")
	if err != nil || s != "password123" || p.Kind != KindRoot || !p.Cred.IsRoot() {
		t.Fatalf("Lookup: %+v %v", p, err)
	}
	if _, _, err := ids.Lookup(ctx, "other"); !errors.Is(err, ErrUnknownKey) {
		t.Fatal("unknown key")
	}
}

// A master key file others may read is refused, as ssh refuses such a
// private key; made private again, it loads.
func TestMasterKeyPermissions(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "master.key")
	k, err := LoadOrCreateMasterKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created with %v %v, want 0600", fi.Mode().Perm(), err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(keyPath, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateMasterKey(keyPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %04o: %v, want a refusal that says how to fix it", mode, err)
		}
	}
	if err := os.Chmod(keyPath, 0o400); err != nil {
		t.Fatal(err)
	}
	if k2, err := LoadOrCreateMasterKey(keyPath); err != nil || k2 != k {
		t.Fatalf("mode 0400: %v", err)
	}
}
