package sqlkv_test

import (
	"context"
	"path/filepath"
	"testing"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/meta/kv/sqlkv"
)

func TestSQLiteConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := sqlkv.Open(context.Background(), "sqlite3://"+filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSQLitePersists(t *testing.T) {
	ctx := context.Background()
	url := "sqlite3://" + filepath.Join(t.TempDir(), "sub", "meta.db")
	s, err := sqlkv.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx kv.Tx) error { return tx.Put([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlkv.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v []byte
	if err := s.View(ctx, func(tx kv.Tx) (err error) { v, err = tx.Get([]byte("k")); return }); err != nil || string(v) != "v" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, u := range []string{"", "meta.db", "bogus://x", "sqlite3://"} {
		if s, err := sqlkv.Open(context.Background(), u); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}
