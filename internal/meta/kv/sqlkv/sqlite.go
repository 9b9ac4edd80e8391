package sqlkv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

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
		var e *sqlite.Error
		if errors.As(err, &e) {
			switch e.Code() & 0xff {
			case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
				return true
			}
		}
		return false
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
	writer, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlkv: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	reader, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlkv: %w", err)
	}
	reader.SetMaxOpenConns(8)
	reader.SetMaxIdleConns(8)
	reader.SetConnMaxIdleTime(0)
	reader.SetConnMaxLifetime(0)
	s := &Store{d: sqliteDialect, writer: writer, reader: reader}
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlkv: open %s: %w", path, err)
	}
	return s, nil
}
