package sqlkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ncruces/go-sqlite3"
)

// The SQLite driver is github.com/ncruces/go-sqlite3 (SQLite compiled to
// WebAssembly, run by wazero): measured with `cairn bench meta` against
// modernc.org/sqlite (C translated to Go) and github.com/mattn/go-sqlite3
// (cgo), it was the fastest on 10 of 12 operations (5-12 % over modernc,
// level with mattn) while needing no cgo; see docs/benchmarks.md. Its
// Linux VFS syncs with fdatasync, and syncs the directory after creating
// a WAL or journal file.

// Large values live out of line. kv is a WITHOUT ROWID table (the key is
// the B-tree's key), and a row longer than about 1,000 bytes spills into
// overflow pages; a seek that passes such a row on its binary search
// through a leaf reads the whole row, overflow pages included, to compare
// its key. A 4 KiB inline object made every seek near it read pages of
// other objects' bytes: three quarters of the writer's time in a DELETE
// of 4 KiB objects was such reads. A value over bigValue bytes is kept in
// kvx (a rowid table, whose seeks compare integers) and its kv row holds
// an empty v and kvx's id in x; triggers drop the kvx row when its kv row
// is deleted or its value replaced.
const (
	schema = `CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kvx (id INTEGER PRIMARY KEY, v BLOB NOT NULL)`
	schemaX  = `ALTER TABLE kv ADD COLUMN x INTEGER`
	triggers = `CREATE TRIGGER IF NOT EXISTS kvx_delete AFTER DELETE ON kv WHEN old.x IS NOT NULL
BEGIN DELETE FROM kvx WHERE id = old.x; END;
CREATE TRIGGER IF NOT EXISTS kvx_replace AFTER UPDATE OF x ON kv WHEN old.x IS NOT NULL AND old.x IS NOT new.x
BEGIN DELETE FROM kvx WHERE id = old.x; END`
	// storeVersion is PRAGMA user_version of a database in this layout;
	// a newer one is refused rather than misread.
	storeVersion = 1
	bigValue     = 900
)

// migrate creates or upgrades the schema, in one write transaction so
// that two processes opening a database at once do not both alter it.
func migrate(c *sqlite3.Conn) error {
	if err := c.Exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err := func() error {
		if err := c.Exec(schema); err != nil {
			return err
		}
		st, _, err := c.Prepare(`SELECT (SELECT count(*) FROM pragma_table_info('kv') WHERE name = 'x'), (SELECT user_version FROM pragma_user_version)`)
		if err != nil {
			return err
		}
		var hasX bool
		var version int64
		if st.Step() {
			hasX, version = st.ColumnInt64(0) > 0, st.ColumnInt64(1)
		}
		if err := errors.Join(st.Err(), st.Close()); err != nil {
			return err
		}
		if version > storeVersion {
			return fmt.Errorf("the database is in store format %d, newer than this cairn's %d", version, storeVersion)
		}
		if !hasX {
			if err := c.Exec(schemaX); err != nil {
				return err
			}
		}
		if err := c.Exec(triggers); err != nil {
			return err
		}
		return c.Exec(fmt.Sprintf("PRAGMA user_version = %d", storeVersion))
	}()
	if err != nil {
		_ = c.Exec("ROLLBACK")
		return err
	}
	return c.Exec("COMMIT")
}

// pragmas are the writer's settings: WAL so readers never block the
// writer; synchronous FULL (every commit synced: durable when Update
// returns) or NORMAL (Options.Relaxed: in WAL mode no committed
// transaction is lost when the process dies, only the last ones on power
// loss, never corrupting the database); a busy timeout so that other
// processes' writers are waited for before a conflict is reported.
func pragmas(opt Options) []string {
	sync := "synchronous(FULL)"
	if opt.Relaxed {
		sync = "synchronous(NORMAL)"
	}
	return []string{
		"journal_mode(WAL)",
		sync,
		"busy_timeout(10000)",
		"foreign_keys(0)",
		// The writer's own page cache is kept small: at every COMMIT
		// SQLite walks the writer's page-cache hash table
		// (pager_end_transaction -> pcache1TruncateUnsafe, a scan whose
		// length grows with the cache), which was 14 % of the server's
		// CPU in a 4 KiB DELETE phase with 64 MiB. With 8 MiB (still
		// every interior page of a 500 MB database) DELETE went from
		// 2,047–2,061 to 2,243–2,488 ops/s, PUT unchanged; 2 MiB was no
		// better. Reads have their own connections and caches.
		"cache_size(-8192)",
		// Every write of a group commit is a SAVEPOINT, and the first
		// change of a page within one copies the page to the sub-
		// journal, so that the write can be rolled back alone. The sub-
		// journal is a temporary file once it passes 64 KiB: two
		// pwrite(2) calls per page (its number, then its bytes), 24 %
		// of the server's CPU in warp's 4 KiB DELETE phase. Temporary
		// files in memory make them copies; the sub-journal only ever
		// holds the pages one write changed.
		"temp_store(MEMORY)",
	}
}

func isConflict(err error) bool {
	return errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED)
}

func openSQLite(ctx context.Context, path string, opt Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlkv: sqlite3:// needs a file path")
	}
	if err := createOwnerOnly(path); err != nil {
		return nil, fmt.Errorf("sqlkv: %w", err)
	}
	s := &Store{rpool: newReadPool(path, []string{"cache_size(-65536)", "query_only(1)"}, 8)}
	var err error
	if s.wconn, err = dialSQLite(path, pragmas(opt), true); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlkv: open %s: %w", path, err)
	}
	if s.ckpt, err = startCheckpointer(path, opt, s.wconn.c); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlkv: open %s: %w", path, err)
	}
	// SQLite creates the -wal and -shm files (0644) when the first
	// connection opens a WAL database, and removes them when the last
	// one closes: take their group and other bits off now that they
	// exist. Their directory, 0700 when created here, closes the window.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := ownerOnly(p); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlkv: %w", err)
		}
	}
	return s, nil
}

// createOwnerOnly creates the database file's directory (0700) and the
// file itself (0600) when missing, before SQLite would create it with
// 0644: it holds inline object bytes.
func createOwnerOnly(path string) error {
	if err := mkdirDurable(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// ownerOnly takes the group's and others' permission bits off file p, if
// it exists.
func ownerOnly(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		err = os.Chmod(p, fi.Mode().Perm()&^0o077)
	}
	return err
}

// mkdirDurable creates dir and its missing parents (0700) and syncs the
// parent of each directory it created: SQLite syncs the directory of its
// WAL when it creates it, but not that directory's own entry, and a data
// directory created by a first start and lost at a power cut would take
// the whole volume with it.
func mkdirDurable(dir string) error {
	var created []string
	for p := dir; p != filepath.Dir(p); p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		created = append(created, p)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, p := range created {
		d, err := os.Open(filepath.Dir(p))
		if err != nil {
			return err
		}
		err = d.Sync()
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
