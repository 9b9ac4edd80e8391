package sqlkv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/driver"
)

// The SQLite driver is github.com/ncruces/go-sqlite3 (SQLite compiled to
// WebAssembly, run by wazero): measured with `cairn bench meta` against
// modernc.org/sqlite (C translated to Go) and github.com/mattn/go-sqlite3
// (cgo), it was the fastest on 10 of 12 operations (5-12 % over modernc,
// level with mattn) while needing no cgo; see docs/benchmarks.md.

// SQLite settings: WAL so readers never block the writer; synchronous=NORMAL,
// which in WAL mode loses no committed transaction when the process dies
// (only on power loss may the last ones roll back, never corrupting the
// database); a busy timeout so that other processes' writers are waited
// for before a conflict is reported.
var sqlitePragmas = []string{
	"journal_mode(WAL)",
	"synchronous(NORMAL)",
	"busy_timeout(10000)",
	"foreign_keys(0)",
	"cache_size(-65536)",
}

var sqliteDialect = &dialect{
	name: "sqlite",
	schema: []string{
		`CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`,
	},
	get: `SELECT v FROM kv WHERE k = ?`,
	put: `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`,
	del: `DELETE FROM kv WHERE k = ?`,
	isConflict: func(err error) bool {
		return errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED)
	},
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlkv: sqlite3:// needs a file path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlkv: %w", err)
		}
	}
	dsn := func(txlock string) string {
		q := "file:" + path + "?_txlock=" + txlock
		for _, p := range sqlitePragmas {
			q += "&_pragma=" + queryEscape(p)
		}
		return q
	}
	writer, err := sql.Open("sqlite3", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlkv: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	reader, err := sql.Open("sqlite3", dsn("deferred"))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlkv: %w", err)
	}
	reader.SetMaxOpenConns(8)
	reader.SetMaxIdleConns(8)
	reader.SetConnMaxIdleTime(0)
	reader.SetConnMaxLifetime(0)
	s := &Store{d: sqliteDialect, writer: writer, reader: reader,
		rpool: newReadPool(path, []string{"cache_size(-65536)", "query_only(1)"}, 8)}
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlkv: open %s: %w", path, err)
	}
	// The writer's own page cache is kept small: at every COMMIT SQLite
	// walks the writer's page-cache hash table (pager_end_transaction ->
	// pcache1TruncateUnsafe, a scan whose length grows with the cache),
	// which was 14 % of the server's CPU in a 4 KiB DELETE phase with
	// 64 MiB. With 8 MiB (still every interior page of a 500 MB database)
	// DELETE went from 2,047–2,061 to 2,243–2,488 ops/s, PUT unchanged;
	// 2 MiB was no better. Reads have their own connections and caches.
	if s.wconn, err = dialSQLite(path, append(sqlitePragmas[:len(sqlitePragmas):len(sqlitePragmas)], "cache_size(-8192)"), true); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlkv: open %s: %w", path, err)
	}
	return s, nil
}
