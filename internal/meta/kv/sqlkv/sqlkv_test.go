package sqlkv_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/meta/kv/sqlkv"
)

func TestSQLiteConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := sqlkv.Open(context.Background(), "sqlite3://"+filepath.Join(t.TempDir(), "meta.db"), sqlkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSQLitePersists(t *testing.T) {
	ctx := context.Background()
	url := "sqlite3://" + filepath.Join(t.TempDir(), "sub", "meta.db")
	s, err := sqlkv.Open(ctx, url, sqlkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx kv.Tx) error { return tx.Put([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlkv.Open(ctx, url, sqlkv.Options{})
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
		if s, err := sqlkv.Open(context.Background(), u, sqlkv.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

// TestNestedReads: a read transaction's scan callback may read and scan
// again (SQLite read transactions run on the store's own connections with
// cached statements: a nested scan must get a statement of its own), and
// a closed store's reads fail with kv.ErrClosed.
func TestNestedReads(t *testing.T) {
	ctx := context.Background()
	s, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(t.TempDir(), "meta.db"), sqlkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx kv.Tx) error {
		for _, k := range []string{"a1", "a2", "a3", "b1", "b2"} {
			if err := tx.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return tx.Put([]byte("empty"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = s.View(ctx, func(tx kv.Tx) error {
		return tx.Scan([]byte("a"), []byte("b"), kv.ScanOptions{}, func(k, v []byte) bool {
			got = append(got, string(k)+"="+string(v))
			inner := 0
			if err := tx.Scan([]byte("b"), nil, kv.ScanOptions{Limit: 2}, func(k, _ []byte) bool { inner++; return true }); err != nil || inner != 2 {
				t.Errorf("inner scan: %d keys, %v", inner, err)
			}
			if e, err := tx.Get([]byte("empty")); err != nil || e == nil || len(e) != 0 {
				t.Errorf("empty value inside a scan: %q %v", e, err)
			}
			return true
		})
	})
	if err != nil || strings.Join(got, ",") != "a1=va1,a2=va2,a3=va3" {
		t.Fatalf("outer scan: %v %v", got, err)
	}
	s.Close()
	err = s.View(ctx, func(tx kv.Tx) error { _, err := tx.Get([]byte("a1")); return err })
	if !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("View after Close: %v", err)
	}
}
