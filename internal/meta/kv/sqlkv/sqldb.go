package sqlkv

import (
	"bytes"
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"cairn/internal/meta/kv"
)

// PostgreSQL and MySQL (MariaDB) engines.
//
// Both keep the volume in one table, cairn_kv (k, v), whose primary key is
// the key's bytes (bytea and VARBINARY compare as unsigned bytes, the
// contract's order), through database/sql with a dialect for the few
// statements that differ. An Update is one SERIALIZABLE transaction: the
// server detects conflicts itself (PostgreSQL's serializable snapshot
// isolation, predicate locks included, so phantoms conflict; InnoDB's
// next-key locks, so a scanned range blocks inserts into it) and a
// serialization failure, deadlock or lock wait timeout is kv.ErrConflict,
// which Update retries. A View is a read-only REPEATABLE READ transaction:
// one snapshot, never a conflict. Add and Append keep counters and the
// change feed's numbering out of the conflicts (see their methods).
//
// Durability is the server's: PostgreSQL commits with synchronous_commit
// on (Options.Relaxed turns it off for the store's sessions), InnoDB with
// innodb_flush_log_at_trx_commit=1 unless its administrator chose
// otherwise.

// dialect is what differs between the SQL servers.
type dialect struct {
	name   string // for messages: "postgres", "mysql"
	schema []string
	// ph returns the n-th (1-based) placeholder.
	ph func(n int) string
	// conflict reports a failure that a rerun may not meet.
	conflict func(error) bool
	// lockReads is appended to the reads of an Update: InnoDB's
	// SERIALIZABLE reads take shared locks, and two transactions that
	// read a row and then write it deadlock on the upgrade; exclusive
	// locks from the start make the second wait for the first instead.
	lockReads string
	// flush sends an Update's pending writes and, when a is not nil, numbers
	// and inserts an Append's values, under a lock held until the
	// transaction ends (see postgresFlushFn and mysqlNumber).
	flush func(t *dbtx, b batch, a *appendOp) error
	// blindAdd: Add is left for the server to apply at the flush, without
	// the transaction reading the row; otherwise it is Incr.
	blindAdd bool
}

var postgresDialect = dialect{
	name: "postgres",
	schema: []string{
		`CREATE TABLE IF NOT EXISTS cairn_kv (k bytea PRIMARY KEY, v bytea NOT NULL) WITH (fillfactor = 70)`,
	},
	ph:       func(n int) string { return fmt.Sprintf("$%d", n) },
	flush:    postgresFlush,
	blindAdd: true,
	conflict: func(err error) bool {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			switch pe.Code {
			case "40001", "40P01", "23505": // serialization failure, deadlock, a racing insert
				return true
			}
		}
		return false
	},
}

var mysqlDialect = dialect{
	name: "mysql",
	// A key is at most 3,072 bytes (InnoDB's index limit); cairn's are
	// names of at most 255 bytes and a few ids.
	schema: []string{
		`CREATE TABLE IF NOT EXISTS cairn_kv (k VARBINARY(3072) NOT NULL PRIMARY KEY, v LONGBLOB NOT NULL) ENGINE=InnoDB ROW_FORMAT=DYNAMIC`,
	},
	ph:        func(int) string { return "?" },
	lockReads: " FOR UPDATE",
	flush:     mysqlFlushAll,
	conflict: func(err error) bool {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			switch me.Number {
			case 1213, 1205, 1020: // deadlock, lock wait timeout, record changed since read
				return true
			}
		}
		return false
	},
}

// DB is a kv.Store on a PostgreSQL or MySQL server.
type DB struct {
	db *sql.DB
	d  *dialect
	// gate is held shared by each Update's attempt, and alone by the
	// attempts of one that conflicted soloAfter times.
	gate sync.RWMutex
	// schema is PostgreSQL's current schema, which names the store's
	// advisory locks; seqs the counters whose sequence this process
	// has checked (see pgSequence).
	schema string
	seqs   sync.Map
	admin  *sql.DB // PostgreSQL: the connections pgSequence uses
}

var _ kv.Store = (*DB)(nil)

// OpenDB opens the store a META-URL names on a database server:
//
//	postgres://[USER[:PASSWORD]@]HOST[:PORT]/DB[?PARAMS]   (also postgresql://)
//	mysql://[USER[:PASSWORD]@]HOST[:PORT]/DB[?PARAMS]
//	mysql://USER[:PASSWORD]@(HOST:PORT)/DB                   (JuiceFS's form)
//
// PostgreSQL's PARAMS are libpq's (sslmode, search_path to keep several
// volumes in one database, ...); MySQL's are the Go driver's (tls, ...).
// The table is created when missing. The caller must Close the store.
func OpenDB(ctx context.Context, metaURL string, opt Options) (*DB, error) {
	scheme, _, _ := strings.Cut(metaURL, "://")
	var s *DB
	switch scheme {
	case "postgres", "postgresql":
		cfg, err := pgx.ParseConfig(metaURL)
		if err != nil {
			return nil, fmt.Errorf("postgres: bad META-URL: %v", err)
		}
		if opt.Relaxed {
			cfg.RuntimeParams["synchronous_commit"] = "off"
		}
		cfg.RuntimeParams["enable_seqscan"] = "off"
		s = &DB{db: stdlib.OpenDB(*cfg), d: &postgresDialect, admin: stdlib.OpenDB(*cfg)}
		// The sequences' setup runs while the transaction that needs it
		// holds a connection of the main pool, which every concurrent
		// Update may have taken: it gets a pool of its own.
		s.admin.SetMaxOpenConns(2)
	case "mysql":
		cfg, err := mysqlConfig(metaURL)
		if err != nil {
			return nil, fmt.Errorf("mysql: bad META-URL: %v", err)
		}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("mysql: %v", err)
		}
		s = &DB{db: sql.OpenDB(c), d: &mysqlDialect}
	default:
		return nil, fmt.Errorf("sqlkv: %q is not a postgres:// or mysql:// URL", metaURL)
	}
	s.db.SetMaxOpenConns(64)
	s.db.SetMaxIdleConns(64)
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if s.d == &postgresDialect {
		if err := s.db.QueryRowContext(cctx, "SELECT current_schema()").Scan(&s.schema); err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: cannot open the metadata store at %s: %w", s.d.name, kv.RedactURL(metaURL), err)
		}
	}
	for _, q := range s.d.schema {
		if _, err := s.db.ExecContext(cctx, q); err != nil {
			// Two processes creating the table at once: the other won.
			// PostgreSQL may say so as a racing insert into its catalog,
			// or as the table's row type (42710) or the table (42P07)
			// already existing.
			if s.d.conflict(err) || isCode(err, "42710") || isCode(err, "42P07") {
				continue
			}
			s.Close()
			return nil, fmt.Errorf("%s: cannot open the metadata store at %s: %w", s.d.name, kv.RedactURL(metaURL), err)
		}
	}
	if s.d == &postgresDialect {
		if err := s.ensureFlushFn(cctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: cannot open the metadata store at %s: %w", s.d.name, kv.RedactURL(metaURL), err)
		}
	}
	return s, nil
}

// mysqlConfig turns a mysql:// URL into the Go driver's configuration.
func mysqlConfig(metaURL string) (*mysql.Config, error) {
	rest := strings.TrimPrefix(metaURL, "mysql://")
	var cfg *mysql.Config
	if strings.Contains(rest, "@(") || strings.Contains(rest, "@tcp(") || strings.Contains(rest, "@unix(") {
		// The driver's own DSN, with JuiceFS's shorthand "@(host:port)".
		var err error
		if cfg, err = mysql.ParseDSN(strings.Replace(rest, "@(", "@tcp(", 1)); err != nil {
			return nil, err
		}
	} else {
		u, err := url.Parse(metaURL)
		if err != nil {
			return nil, err
		}
		cfg = mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net, cfg.Addr = "tcp", u.Host
		if u.Port() == "" {
			cfg.Addr = u.Hostname() + ":3306"
		}
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		q := u.Query()
		if v := q.Get("tls"); v != "" {
			cfg.TLSConfig = v
		}
	}
	if cfg.DBName == "" {
		return nil, errors.New("no database name (mysql://USER:PASSWORD@HOST:PORT/DB)")
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	// A lock wait is how InnoDB makes conflicting transactions meet: a
	// short one turns a long wait into a rerun.
	cfg.Params["innodb_lock_wait_timeout"] = "5"
	cfg.InterpolateParams = true
	cfg.MaxAllowedPacket = 64 << 20
	return cfg, nil
}

// soloAfter is the conflicts after which an Update runs alone in this
// process: the Updates that keep meeting another process's (or each
// other's) on the same rows are then retried one at a time here instead of
// starving each other.
const soloAfter = 3

// Update implements kv.Store.
func (s *DB) Update(ctx context.Context, fn func(kv.Tx) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = ctx.Err(); err != nil {
			return err
		}
		if attempt >= soloAfter {
			s.gate.Lock()
		} else {
			s.gate.RLock()
		}
		err = s.run(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}, fn)
		if attempt >= soloAfter {
			s.gate.Unlock()
		} else {
			s.gate.RUnlock()
		}
		if !errors.Is(err, kv.ErrConflict) {
			return err
		}
		if attempt == maxDBRetries {
			return fmt.Errorf("%s: gave up after %d attempts: %w", s.d.name, attempt+1, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// maxDBRetries bounds the reruns of a conflicting Update on a server.
const maxDBRetries = 200

// View implements kv.Store.
func (s *DB) View(ctx context.Context, fn func(kv.Tx) error) error {
	return s.retry(ctx, func() error {
		return s.run(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn)
	})
}

// run is one attempt of a transaction.
func (s *DB) run(ctx context.Context, opts *sql.TxOptions, fn func(kv.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sqltx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "sql: database is closed") {
			return fmt.Errorf("%s: %w", s.d.name, kv.ErrClosed)
		}
		return s.wrap(err)
	}
	t := &dbtx{s: s, tx: sqltx, ctx: ctx, ro: opts.ReadOnly}
	if err := kv.RunClosure("sqlkv", fn, t); err != nil {
		sqltx.Rollback()
		if t.err != nil {
			return t.err // the engine's failure behind the closure's error
		}
		return err
	}
	if t.err != nil {
		sqltx.Rollback()
		return t.err
	}
	if err := t.flushAll(); err != nil {
		sqltx.Rollback()
		return err
	}
	return s.wrap(sqltx.Commit())
}

func (s *DB) retry(ctx context.Context, once func() error) error {
	return retryConflicts(ctx, s.d.name, once)
}

func (s *DB) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case s.d.conflict(err):
		return fmt.Errorf("%s: %v: %w", s.d.name, err, kv.ErrConflict)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%s: %w", s.d.name, err)
}

// Close implements kv.Store.
func (s *DB) Close() error {
	if s.admin != nil {
		s.admin.Close()
	}
	return s.db.Close()
}

// Engine names the server: "postgres" or "mysql".
func (s *DB) Engine() string { return s.d.name }

// dbtx is one transaction on the server. The first engine failure is kept
// in err, so that a closure that hides it (turns it into its own error)
// still has the attempt retried when it was a conflict.
type dbtx struct {
	s       *DB
	tx      *sql.Tx
	ctx     context.Context
	ro      bool
	pend    writes
	appends []appendOp
	err     error
}

// appendOp is an Append waiting for the commit.
type appendOp struct {
	counter, prefix []byte
	vals            [][]byte
}

// lock is the suffix of the transaction's reads.
func (t *dbtx) lock() string {
	if t.ro {
		return ""
	}
	return t.s.d.lockReads
}

func (t *dbtx) fail(err error) error {
	err = t.s.wrap(err)
	if t.err == nil && errors.Is(err, kv.ErrConflict) {
		t.err = err
	}
	return err
}

func (t *dbtx) Get(key []byte) ([]byte, error) {
	if v, err, ok := t.pendingGet(key); ok {
		return v, err
	}
	var v []byte
	err := t.tx.QueryRowContext(t.ctx, "SELECT v FROM cairn_kv WHERE k = "+t.s.d.ph(1)+t.lock(), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kv.ErrNotFound
	}
	if err != nil {
		return nil, t.fail(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *dbtx) Gets(keys ...[]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	var q strings.Builder
	q.WriteString("SELECT k, v FROM cairn_kv WHERE k IN (")
	args := make([]any, 0, len(keys))
	for i, k := range keys {
		if v, err, ok := t.pendingGet(k); ok {
			if err == nil {
				out[i] = v
			} else if !errors.Is(err, kv.ErrNotFound) {
				return nil, err
			}
			continue
		}
		if len(args) > 0 {
			q.WriteString(", ")
		}
		args = append(args, k)
		q.WriteString(t.s.d.ph(len(args)))
	}
	if len(args) == 0 {
		return out, nil
	}
	q.WriteString(")" + t.lock())
	rows, err := t.tx.QueryContext(t.ctx, q.String(), args...)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, t.fail(err)
		}
		if v == nil {
			v = []byte{}
		}
		for i, want := range keys {
			if out[i] == nil && bytes.Equal(k, want) {
				out[i] = v
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(err)
	}
	return out, nil
}

func (t *dbtx) Put(key, value []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	t.pend.put(key, value)
	return nil
}

func (t *dbtx) Delete(key []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	t.pend.del(key)
	return nil
}

func (t *dbtx) DeleteRange(begin, end []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	if end == nil {
		return errors.New("kv: DeleteRange needs an end")
	}
	if begin == nil {
		begin = []byte{}
	}
	if err := t.flushWrites(); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM cairn_kv WHERE k >= "+t.s.d.ph(1)+" AND k < "+t.s.d.ph(2), begin, end); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *dbtx) Incr(key []byte, delta int64) (int64, error) {
	if t.ro {
		return 0, kv.ErrReadOnly
	}
	return kv.IncrWithGetPut(t, key, delta)
}

// Add implements kv.Tx. On PostgreSQL the delta waits with the other
// writes and the server adds it to the row without the transaction
// reading it: a serializable transaction takes predicate locks on the
// index pages it reads, and reading a counter's row would make every two
// transactions that move counters on one page (the shards of a sharded
// counter) conflict. On InnoDB, whose locks are per row, it is Incr.
func (t *dbtx) Add(key []byte, delta int64) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	if !t.s.d.blindAdd {
		_, err := kv.IncrWithGetPut(t, key, delta)
		return err
	}
	return t.pend.add(key, delta)
}

// Append implements kv.Tx: the values wait for the commit, where the
// dialect takes their numbers under a lock held until the transaction
// ends, so numbers follow commit order and appending transactions wait
// for each other only for the last statements of their commits, instead
// of conflicting over the counter.
func (t *dbtx) Append(counter, prefix []byte, values ...[]byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	if len(values) == 0 {
		return nil
	}
	a := appendOp{counter: bytes.Clone(counter), prefix: bytes.Clone(prefix), vals: make([][]byte, len(values))}
	for i, v := range values {
		a.vals[i] = bytes.Clone(v)
		if a.vals[i] == nil {
			a.vals[i] = []byte{}
		}
	}
	t.appends = append(t.appends, a)
	return nil
}

// On PostgreSQL, an append is numbered from a sequence (one per counter,
// in the store's schema; see pgSequence), under a transaction-scoped
// advisory lock that every appender to the counter takes
// (postgresFlushFn): the numbers are taken in the order the lock is
// granted, and each holder commits before the next gets it, so a reader
// that sees number n sees every lower number already committed. A
// sequence is not transactional, so a serializable transaction takes its
// numbers without reading a row others write: no conflict. The
// counter's row is left as it was.

// lockID is the advisory lock of a counter: advisory locks are
// database-wide, so the schema is part of it.
func (s *DB) lockID(counter []byte) int64 {
	h := fnv.New64a()
	h.Write([]byte(s.schema))
	h.Write([]byte{0})
	h.Write(counter)
	return int64(h.Sum64())
}

// pgSequence returns the name of counter's sequence, creating it the
// first time and, once per process, moving it past the counter's row and
// the last key under prefix (a volume loaded from a dump, or written
// before the sequence existed), under the advisory lock so that no
// appender holds numbers meanwhile.
func (s *DB) pgSequence(ctx context.Context, counter, prefix []byte) (string, error) {
	name := "cairn_seq_" + hex.EncodeToString(counter)
	if len(name) > 63 {
		sum := sha1.Sum(counter)
		name = "cairn_seq_" + hex.EncodeToString(sum[:16])
	}
	if _, ok := s.seqs.Load(name); ok {
		return name, nil
	}
	if _, err := s.admin.ExecContext(ctx, "CREATE SEQUENCE IF NOT EXISTS "+name+" MINVALUE 0 START 0"); err != nil && !s.d.conflict(err) && !isCode(err, "42P07") {
		return "", s.wrap(err)
	}
	err := func() error {
		tx, err := s.admin.BeginTx(ctx, nil) // READ COMMITTED: each statement sees the latest
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", s.lockID(counter)); err != nil {
			return err
		}
		var floor uint64
		var v []byte
		err = tx.QueryRowContext(ctx, "SELECT v FROM cairn_kv WHERE k = $1", counter).Scan(&v)
		if err == nil && len(v) == 8 {
			floor = binary.BigEndian.Uint64(v)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var k []byte
		q := "SELECT k FROM cairn_kv WHERE k >= $1"
		args := []any{prefix}
		if end := kv.PrefixEnd(prefix); end != nil {
			q += " AND k < $2"
			args = append(args, end)
		}
		err = tx.QueryRowContext(ctx, q+" ORDER BY k DESC LIMIT 1", args...).Scan(&k)
		if err == nil && len(k) == len(prefix)+8 {
			floor = max(floor, binary.BigEndian.Uint64(k[len(prefix):]))
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var cur int64
		var called bool
		if err := tx.QueryRowContext(ctx, "SELECT last_value, is_called FROM "+name).Scan(&cur, &called); err != nil {
			return err
		}
		if !called {
			cur-- // the next nextval returns last_value itself
		}
		if int64(floor) > cur {
			if _, err := tx.ExecContext(ctx, "SELECT setval('"+name+"', $1)", int64(floor)); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err != nil {
		return "", s.wrap(err)
	}
	s.seqs.Store(name, true)
	return name, nil
}

// isCode reports whether err is PostgreSQL's error code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// mysqlNumber numbers an append from the counter's row, read with a
// locking read (which InnoDB answers from the latest committed version,
// not the transaction's snapshot) as the transaction's last statements:
// the row lock, held until the transaction ends, orders the appenders,
// who wait for each other's commits rather than conflict.
func mysqlNumber(t *dbtx, a *appendOp) (uint64, error) {
	var v []byte
	var last uint64
	err := t.tx.QueryRowContext(t.ctx, "SELECT v FROM cairn_kv WHERE k = ? FOR UPDATE", a.counter).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, t.fail(err)
	case len(v) != 8:
		return 0, fmt.Errorf("kv: counter %q holds %d bytes", a.counter, len(v))
	default:
		last = binary.BigEndian.Uint64(v)
	}
	last += uint64(len(a.vals))
	if _, err := t.tx.ExecContext(t.ctx, "INSERT INTO cairn_kv (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)", a.counter, binary.BigEndian.AppendUint64(nil, last)); err != nil {
		return 0, t.fail(err)
	}
	return last, nil
}

// scanPage is the most rows a scan reads in one statement. Rows are read
// a page at a time and handed to fn after the statement is done, so that
// fn may use the transaction (a connection runs one statement at a time).
const scanPage = 256

func (t *dbtx) Scan(begin, end []byte, opt kv.ScanOptions, fn func(key, value []byte) bool) error {
	if begin == nil {
		begin = []byte{}
	}
	cols := "k, v"
	if opt.KeysOnly {
		cols = "k"
	}
	lo, hi := begin, end // the range still to read: [lo, hi)
	loIncl := true       // lo itself is in the range (false after a forward page)
	visited := 0
	for {
		n := scanPage
		if opt.Limit > 0 {
			n = min(n, opt.Limit-visited)
		}
		var q strings.Builder
		args := []any{lo}
		q.WriteString("SELECT " + cols + " FROM cairn_kv WHERE k ")
		if loIncl {
			q.WriteString(">= ")
		} else {
			q.WriteString("> ")
		}
		q.WriteString(t.s.d.ph(1))
		if hi != nil {
			q.WriteString(" AND k < " + t.s.d.ph(2))
			args = append(args, hi)
		}
		if opt.Reverse {
			q.WriteString(" ORDER BY k DESC")
		} else {
			q.WriteString(" ORDER BY k")
		}
		fmt.Fprintf(&q, " LIMIT %d%s", n, t.lock())
		// Writes fn made while the scan went on are sent too: the next
		// page sees them, as it would have had they been sent at once.
		if err := t.flushWrites(); err != nil {
			return err
		}
		keys, vals, err := t.page(q.String(), args, opt.KeysOnly)
		if err != nil {
			return err
		}
		for i := range keys {
			visited++
			if !fn(keys[i], vals[i]) {
				return nil
			}
		}
		if len(keys) < n || (opt.Limit > 0 && visited >= opt.Limit) {
			return nil
		}
		last := keys[len(keys)-1]
		if opt.Reverse {
			hi = last // k < last
		} else {
			lo, loIncl = last, false
		}
	}
}

func (t *dbtx) page(q string, args []any, keysOnly bool) (keys, vals [][]byte, err error) {
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, nil, t.fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if keysOnly {
			err = rows.Scan(&k)
		} else {
			err = rows.Scan(&k, &v)
			if err == nil && v == nil {
				v = []byte{}
			}
		}
		if err != nil {
			return nil, nil, t.fail(err)
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, t.fail(err)
	}
	return keys, vals, nil
}
