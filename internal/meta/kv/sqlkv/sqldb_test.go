package sqlkv_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/kvtest"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/testsrv"
)

// dbStores returns a constructor of empty stores at the URLs fresh makes.
func dbStores(fresh func(testing.TB) string) func(t *testing.T) kv.Store {
	return func(t *testing.T) kv.Store {
		s, err := sqlkv.OpenDB(context.Background(), fresh(t), sqlkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestPostgresConformance(t *testing.T) {
	kvtest.Run(t, dbStores(testsrv.StartPostgres(t).NewSchema))
}

func TestMariaDBConformance(t *testing.T) {
	kvtest.Run(t, dbStores(testsrv.StartMariaDB(t).NewDatabase))
}

func TestOpenDBErrors(t *testing.T) {
	ctx := context.Background()
	srv := testsrv.StartPostgres(t)
	for _, c := range []struct{ url, want string }{
		{"postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "postgres: cannot open"},
		{"postgres://postgres@127.0.0.1:" + fmt.Sprint(srv.Port) + "/nosuchdb?sslmode=disable", "nosuchdb"},
		{"postgres://[::1", "postgres: bad META-URL"},
		{"mysql://root@127.0.0.1:1/", "no database name"},
		{"mysql://root:secret@127.0.0.1:1/x?timeout=2s", "xxxxx"},
		{"redis://x", "not a postgres:// or mysql:// URL"},
	} {
		s, err := sqlkv.OpenDB(ctx, c.url, sqlkv.Options{})
		if err == nil {
			s.Close()
			t.Errorf("OpenDB(%q) succeeded", c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("OpenDB(%q) = %v, want it to say %q (and no password)", c.url, err, c.want)
		}
	}
}

// TestOpenDBConcurrently opens one new PostgreSQL store from several
// processes' worth of connections at once: each creates what is missing
// (the table, the flush function) or finds the others', and all write.
func TestOpenDBConcurrently(t *testing.T) {
	url := testsrv.StartPostgres(t).NewSchema(t)
	const n = 6
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			s, err := sqlkv.OpenDB(context.Background(), url, sqlkv.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			errs <- s.Update(context.Background(), func(tx kv.Tx) error {
				if err := tx.Put([]byte(fmt.Sprint("k", i)), []byte("v")); err != nil {
					return err
				}
				return tx.Append([]byte("c"), []byte("f"), []byte(fmt.Sprint(i)))
			})
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
