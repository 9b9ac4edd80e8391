package sqlkv_test

import (
	"context"
	"errors"
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

// Concurrent Updates of one process share commits, and each still gets its
// own outcome: every closure's write lands exactly once, a failing
// closure's not at all.
func TestGroupCommit(t *testing.T) {
	for name, fresh := range map[string]func(testing.TB) string{
		"postgres": testsrv.StartPostgres(t).NewSchema,
		"mariadb":  testsrv.StartMariaDB(t).NewDatabase,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := sqlkv.OpenDB(ctx, fresh(t), sqlkv.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const workers, rounds = 8, 25
			boom := errors.New("boom")
			kvtest.Parallel(t, workers, rounds, func(w, i int) error {
				err := s.Update(ctx, func(tx kv.Tx) error {
					if err := tx.Put([]byte(fmt.Sprintf("k/%d/%02d", w, i)), []byte("v")); err != nil {
						return err
					}
					if err := tx.Append([]byte("seq"), []byte("q/"), []byte(fmt.Sprint(w, i))); err != nil {
						return err
					}
					if i%5 == 4 {
						return boom
					}
					return nil
				})
				if i%5 == 4 && errors.Is(err, boom) {
					return nil
				}
				return err
			})
			var keys, vals int
			err = s.View(ctx, func(tx kv.Tx) error {
				keys, vals = 0, 0
				if err := tx.Scan([]byte("k/"), kv.PrefixEnd([]byte("k/")), kv.ScanOptions{KeysOnly: true}, func(k, _ []byte) bool { keys++; return true }); err != nil {
					return err
				}
				return tx.Scan([]byte("q/"), kv.PrefixEnd([]byte("q/")), kv.ScanOptions{}, func(k, _ []byte) bool { vals++; return true })
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := workers * rounds * 4 / 5; keys != want || vals != want {
				t.Fatalf("%d keys and %d appended values, want %d of each", keys, vals, want)
			}
			if s.Groups() == 0 {
				t.Fatalf("%d concurrent Updates made no group commit", workers*rounds)
			}
			t.Logf("%d Updates, %d group commits", workers*rounds, s.Groups())
		})
	}
}
