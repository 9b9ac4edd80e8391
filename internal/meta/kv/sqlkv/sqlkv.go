// Package sqlkv implements kv.Store over a SQL database: one table of
// (key BLOB primary key, value BLOB) rows, ordered by the key's bytes. The
// embedded default is SQLite in WAL mode (sqlite3://PATH); the dialect
// struct keeps what differs between databases in one place.
package sqlkv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"cairn/internal/meta/kv"
)

// dialect holds the SQL that differs between databases.
type dialect struct {
	name       string
	schema     []string
	get        string
	put        string
	del        string
	isConflict func(error) bool
}

// Store is a kv.Store over database/sql. Writes go through a pool of one
// connection that begins IMMEDIATE transactions, so writers in this process
// queue instead of failing; reads use their own pool and, in WAL mode, run
// beside the writer on a snapshot.
type Store struct {
	d      *dialect
	writer *sql.DB
	reader *sql.DB
	stmts  map[*sql.DB]*stmts
	rpool  *readPool // SQLite: read transactions without database/sql
	wconn  *rconn    // SQLite: the writer's connection, used by group leaders

	// Group commit: concurrent Updates queue here; one of them leads and
	// runs a whole queue in one database transaction.
	gmu     sync.Mutex
	queue   []*pending
	leading bool
	closed  bool
}

// pending is an Update waiting for a group commit.
type pending struct {
	ctx  context.Context
	fn   func(kv.Tx) error
	done chan error
}

// errLead tells a waiting Update that it now leads the next group.
var errLead = errors.New("sqlkv: lead the next group")

type stmts struct {
	get, put, del *sql.Stmt
}

// Open opens the store a META-URL names: sqlite3://PATH (relative or
// absolute; the file is created when missing).
func Open(ctx context.Context, metaURL string) (*Store, error) {
	scheme, rest, ok := strings.Cut(metaURL, "://")
	if !ok {
		return nil, fmt.Errorf("sqlkv: %q is not a META-URL (want sqlite3://PATH)", metaURL)
	}
	switch scheme {
	case "sqlite3", "sqlite":
		return openSQLite(ctx, rest)
	}
	return nil, fmt.Errorf("sqlkv: unsupported scheme %q", scheme)
}

func (s *Store) init(ctx context.Context) error {
	for _, q := range s.d.schema {
		if _, err := s.writer.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlkv: schema: %w", err)
		}
	}
	s.stmts = make(map[*sql.DB]*stmts)
	for _, db := range []*sql.DB{s.writer, s.reader} {
		var st stmts
		var err error
		if st.get, err = db.PrepareContext(ctx, s.d.get); err != nil {
			return err
		}
		if db == s.writer {
			if st.put, err = db.PrepareContext(ctx, s.d.put); err != nil {
				return err
			}
			if st.del, err = db.PrepareContext(ctx, s.d.del); err != nil {
				return err
			}
		}
		s.stmts[db] = &st
	}
	return nil
}

// maxRetries bounds the reruns of a conflicting transaction.
const maxRetries = 50

// Update implements kv.Store.
//
// Concurrent Updates are committed in groups: the first to arrive runs
// every closure queued meanwhile in one SQLite transaction, each inside its
// own savepoint (a closure that fails is rolled back alone), and commits
// once. Closures run one after the other, so the group is serializable;
// a failed commit makes every closure of the group retry.
func (s *Store) Update(ctx context.Context, fn func(kv.Tx) error) error {
	var err error
	for attempt := 0; attempt < maxRetries; attempt++ {
		if err = ctx.Err(); err != nil {
			return err
		}
		err = s.group(ctx, fn)
		if !errors.Is(err, kv.ErrConflict) {
			return err
		}
		backoff := time.Duration(1+rand.IntN(1<<min(attempt, 8))) * 100 * time.Microsecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
	return fmt.Errorf("sqlkv: gave up after %d attempts: %w", maxRetries, err)
}

// group queues fn for the next group commit and returns its outcome.
func (s *Store) group(ctx context.Context, fn func(kv.Tx) error) error {
	p := &pending{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.gmu.Lock()
	if s.closed {
		s.gmu.Unlock()
		return fmt.Errorf("sqlkv: store closed: %w", kv.ErrClosed)
	}
	s.queue = append(s.queue, p)
	lead := !s.leading
	if lead {
		s.leading = true
	}
	s.gmu.Unlock()
	if !lead {
		if err := <-p.done; err != errLead {
			return err
		}
	}
	s.gmu.Lock()
	batch := s.queue
	s.queue = nil
	s.gmu.Unlock()
	s.runGroup(batch)
	// Hand the lead to the first Update that queued meanwhile.
	s.gmu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		s.gmu.Unlock()
		next.done <- errLead
	} else {
		s.leading = false
		s.gmu.Unlock()
	}
	return <-p.done
}

// maxGroup bounds the closures of one group commit.
const maxGroup = 64

// runGroup runs the closures of batch in one transaction (in chunks of
// maxGroup) and delivers each outcome.
func (s *Store) runGroup(batch []*pending) {
	for len(batch) > 0 {
		n := min(len(batch), maxGroup)
		s.runChunk(batch[:n])
		batch = batch[n:]
	}
}

func (s *Store) runChunk(batch []*pending) {
	if s.wconn != nil {
		s.runChunkNative(batch)
		return
	}
	ctx := context.Background()
	results := make([]error, len(batch))
	sqlTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		for _, p := range batch {
			p.done <- s.wrap(err)
		}
		return
	}
	committed := 0
	for i, p := range batch {
		if err := p.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		sp := "g" + strconv.Itoa(i)
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
			results[i] = s.wrap(err)
			continue
		}
		t := &tx{s: s, tx: sqlTx, st: s.stmts[s.writer], ctx: ctx}
		err := callClosure(p.fn, t)
		if err == nil && t.err != nil {
			err = t.err
		}
		if err != nil {
			_, rerr := sqlTx.ExecContext(ctx, "ROLLBACK TO "+sp)
			if rerr == nil {
				_, rerr = sqlTx.ExecContext(ctx, "RELEASE "+sp)
			}
			if rerr != nil {
				// The transaction is in an unknown state: fail the group.
				_ = sqlTx.Rollback()
				for j, q := range batch {
					if j == i {
						q.done <- err
					} else {
						q.done <- fmt.Errorf("sqlkv: group rollback: %v: %w", rerr, kv.ErrConflict)
					}
				}
				return
			}
			results[i] = err
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "RELEASE "+sp); err != nil {
			results[i] = s.wrap(err)
			continue
		}
		committed++
	}
	var cerr error
	if committed > 0 {
		cerr = s.wrap(sqlTx.Commit())
	} else {
		_ = sqlTx.Rollback()
	}
	for i, p := range batch {
		if results[i] == nil && cerr != nil {
			results[i] = cerr
		}
		p.done <- results[i]
	}
}

// callClosure runs fn, turning a panic into an error so that one closure
// cannot take the others of its group down.
func callClosure(fn func(kv.Tx) error, t kv.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlkv: transaction closure panicked: %v", r)
		}
	}()
	return fn(t)
}

// View implements kv.Store.
func (s *Store) View(ctx context.Context, fn func(kv.Tx) error) error {
	if s.rpool != nil {
		return s.retry(ctx, func() error { return s.viewNative(ctx, fn) })
	}
	return s.run(ctx, s.reader, true, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, readOnly bool, fn func(kv.Tx) error) error {
	return s.retry(ctx, func() error { return s.once(ctx, db, readOnly, fn) })
}

// retry runs once until it does not fail with kv.ErrConflict, backing off
// between attempts.
func (s *Store) retry(ctx context.Context, once func() error) error {
	var err error
	for attempt := 0; attempt < maxRetries; attempt++ {
		if err = ctx.Err(); err != nil {
			return err
		}
		err = once()
		if !errors.Is(err, kv.ErrConflict) {
			return err
		}
		backoff := time.Duration(1+rand.IntN(1<<min(attempt, 8))) * 100 * time.Microsecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
	return fmt.Errorf("sqlkv: gave up after %d attempts: %w", maxRetries, err)
}

func (s *Store) once(ctx context.Context, db *sql.DB, readOnly bool, fn func(kv.Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	t := &tx{s: s, tx: sqlTx, st: s.stmts[db], ctx: ctx, readOnly: readOnly}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if t.err != nil {
		_ = sqlTx.Rollback()
		return t.err
	}
	if readOnly {
		return s.wrap(sqlTx.Rollback())
	}
	return s.wrap(sqlTx.Commit())
}

// wrap maps the database's busy and serialization failures to
// kv.ErrConflict, and a closed pool to kv.ErrClosed.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrConnDone), strings.Contains(err.Error(), "database is closed"):
		return fmt.Errorf("sqlkv: %v: %w", err, kv.ErrClosed)
	case s.d.isConflict(err):
		return fmt.Errorf("sqlkv: %v: %w", err, kv.ErrConflict)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("sqlkv: %w", err)
}

// Close implements kv.Store.
func (s *Store) Close() error {
	var perr, werr error
	if s.rpool != nil {
		perr = s.rpool.close()
	}
	if s.wconn != nil {
		// No group starts from now on; wait for the one running.
		s.gmu.Lock()
		s.closed = true
		for s.leading {
			s.gmu.Unlock()
			time.Sleep(time.Millisecond)
			s.gmu.Lock()
		}
		s.gmu.Unlock()
		werr = s.wconn.close()
	}
	return errors.Join(perr, werr, s.reader.Close(), s.writer.Close())
}

type tx struct {
	s        *Store
	tx       *sql.Tx
	st       *stmts
	ctx      context.Context
	readOnly bool
	err      error // sticky failure: the transaction must not commit
}

func (t *tx) fail(err error) error {
	err = t.s.wrap(err)
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *tx) Get(key []byte) ([]byte, error) {
	var v []byte
	err := t.tx.StmtContext(t.ctx, t.st.get).QueryRowContext(t.ctx, key).Scan(&v)
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

// Gets reads many keys with one query per 256 keys (k IN (...)), which
// costs far less than a query per key for listings.
func (t *tx) Gets(keys ...[]byte) ([][]byte, error) {
	if len(keys) <= 2 {
		return kv.GetsWithGet(t, keys...)
	}
	out := make([][]byte, len(keys))
	pos := make(map[string][]int, len(keys))
	var distinct [][]byte
	for i, k := range keys {
		if _, ok := pos[string(k)]; !ok {
			distinct = append(distinct, k)
		}
		pos[string(k)] = append(pos[string(k)], i)
	}
	const batch = 256
	for lo := 0; lo < len(distinct); lo += batch {
		part := distinct[lo:min(lo+batch, len(distinct))]
		q := "SELECT k, v FROM kv WHERE k IN (?" + strings.Repeat(",?", len(part)-1) + ")"
		args := make([]any, len(part))
		for i, k := range part {
			args[i] = k
		}
		rows, err := t.tx.QueryContext(t.ctx, q, args...)
		if err != nil {
			return nil, t.fail(err)
		}
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return nil, t.fail(err)
			}
			if v == nil {
				v = []byte{}
			}
			for _, i := range pos[string(k)] {
				out[i] = v
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, t.fail(err)
		}
	}
	return out, nil
}

func (t *tx) Put(key, value []byte) error {
	if t.readOnly {
		return kv.ErrReadOnly
	}
	if value == nil {
		value = []byte{}
	}
	if _, err := t.tx.StmtContext(t.ctx, t.st.put).ExecContext(t.ctx, key, value); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *tx) Delete(key []byte) error {
	if t.readOnly {
		return kv.ErrReadOnly
	}
	if _, err := t.tx.StmtContext(t.ctx, t.st.del).ExecContext(t.ctx, key); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *tx) Incr(key []byte, delta int64) (int64, error) {
	return kv.IncrWithGetPut(t, key, delta)
}

// Scan reads the range in pages so that fn never runs with a result set
// open and a scan that stops early reads little more than it used.
func (t *tx) Scan(begin, end []byte, opt kv.ScanOptions, fn func(k, v []byte) bool) error {
	if end != nil && bytes.Compare(begin, end) >= 0 {
		return nil
	}
	lo, hi := bytes.Clone(begin), bytes.Clone(end)
	loIncl := true
	visited := 0
	page := 256
	if opt.Limit > 0 && opt.Limit < page {
		page = opt.Limit
	}
	for {
		n := page
		if opt.Limit > 0 {
			n = min(n, opt.Limit-visited)
		}
		keys, vals, err := t.page(lo, loIncl, hi, opt, n)
		if err != nil {
			return t.fail(err)
		}
		for i := range keys {
			visited++
			if !fn(keys[i], vals[i]) || (opt.Limit > 0 && visited >= opt.Limit) {
				return nil
			}
		}
		if len(keys) < n {
			return nil
		}
		last := keys[len(keys)-1]
		if opt.Reverse {
			hi = last
		} else {
			lo, loIncl = last, false
		}
		page = min(page*4, 4096)
	}
}

func (t *tx) page(lo []byte, loIncl bool, hi []byte, opt kv.ScanOptions, n int) ([][]byte, [][]byte, error) {
	cols := "k, v"
	if opt.KeysOnly {
		cols = "k"
	}
	var q strings.Builder
	q.WriteString("SELECT " + cols + " FROM kv WHERE k ")
	if loIncl {
		q.WriteString(">= ?")
	} else {
		q.WriteString("> ?")
	}
	args := []any{lo}
	if hi != nil {
		q.WriteString(" AND k < ?")
		args = append(args, hi)
	}
	if opt.Reverse {
		q.WriteString(" ORDER BY k DESC")
	} else {
		q.WriteString(" ORDER BY k")
	}
	fmt.Fprintf(&q, " LIMIT %d", n)
	rows, err := t.tx.QueryContext(t.ctx, q.String(), args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var keys, vals [][]byte
	for rows.Next() {
		var k, v []byte
		if opt.KeysOnly {
			err = rows.Scan(&k)
		} else {
			err = rows.Scan(&k, &v)
			if v == nil {
				v = []byte{}
			}
		}
		if err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, rows.Err()
}

// queryEscape is used to build DSNs.
var queryEscape = url.QueryEscape
