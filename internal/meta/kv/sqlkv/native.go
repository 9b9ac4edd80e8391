package sqlkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"

	"cairn/internal/meta/kv"
)

// Transactions run on connections driven through the driver's own API,
// each with its prepared statements, reading rows in place. A lookup, the
// bulk of an S3 GET or HEAD and of a listing page, then costs the SQLite
// work and little else (database/sql adds locking, context plumbing,
// value conversion and an allocation per column per row).

// readPool hands out read-only SQLite connections, most recently used
// first: each connection has its own page cache, so a sequential reader
// (a listing walking a directory) keeps finding its pages warm.
type readPool struct {
	path    string
	pragmas []string
	sem     chan struct{} // one token per connection in use

	mu   sync.Mutex
	idle []*rconn
	shut bool
}

// rconn is one connection with its cached statements.
type rconn struct {
	c              *sqlite3.Conn
	get, getX      *sqlite3.Stmt
	put, putX, del *sqlite3.Stmt // the writer's only
	delRange       *sqlite3.Stmt
	scans          map[string]*scanStmt
	ctl            map[string]*sqlite3.Stmt // BEGIN, COMMIT, SAVEPOINT...
}

// exec runs a statement without parameters or rows (transaction control)
// from a statement prepared once: parsing "BEGIN" and "ROLLBACK" for every
// read transaction, and a SAVEPOINT and RELEASE for every write of a group
// commit, cost as much as a short lookup.
func (rc *rconn) exec(sql string) error {
	st := rc.ctl[sql]
	if st == nil {
		var err error
		if st, _, err = rc.c.Prepare(sql); err != nil {
			return err
		}
		rc.ctl[sql] = st
	}
	return st.Exec()
}

type scanStmt struct {
	st   *sqlite3.Stmt
	busy bool // in use by a scan whose callback is running
}

func newReadPool(path string, pragmas []string, max int) *readPool {
	return &readPool{path: path, pragmas: pragmas, sem: make(chan struct{}, max)}
}

func (p *readPool) acquire(ctx context.Context) (*rconn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if p.shut {
		p.mu.Unlock()
		<-p.sem
		return nil, fmt.Errorf("sqlkv: store closed: %w", kv.ErrClosed)
	}
	if n := len(p.idle); n > 0 {
		rc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return rc, nil
	}
	p.mu.Unlock()
	rc, err := p.dial()
	if err != nil {
		<-p.sem
	}
	return rc, err
}

// release returns rc to the pool, or closes it when the pool is shut.
func (p *readPool) release(rc *rconn) {
	p.mu.Lock()
	if p.shut {
		rc.close()
	} else {
		p.idle = append(p.idle, rc)
	}
	p.mu.Unlock()
	<-p.sem
}

func (rc *rconn) close() error {
	for _, s := range rc.scans {
		s.st.Close()
	}
	for _, st := range rc.ctl {
		st.Close()
	}
	for _, st := range []*sqlite3.Stmt{rc.get, rc.getX, rc.put, rc.putX, rc.del, rc.delRange} {
		if st != nil {
			st.Close()
		}
	}
	return rc.c.Close()
}

func (p *readPool) dial() (*rconn, error) {
	// Read-write open with query_only: a read-only open of a WAL
	// database needs its -shm file to exist already.
	return dialSQLite(p.path, p.pragmas, false)
}

// dialSQLite opens a connection with its statements; write also creates
// the table when missing and prepares the writer's statements.
func dialSQLite(path string, pragmas []string, write bool) (*rconn, error) {
	c, err := sqlite3.Open(path)
	if err != nil {
		return nil, err
	}
	if err := c.BusyTimeout(10 * time.Second); err != nil {
		c.Close()
		return nil, err
	}
	for _, pr := range pragmas {
		if err := c.Exec("PRAGMA " + pr); err != nil {
			c.Close()
			return nil, fmt.Errorf("PRAGMA %s: %w", pr, err)
		}
	}
	if write {
		if err := migrate(c); err != nil {
			c.Close()
			return nil, fmt.Errorf("schema: %w", err)
		}
	}
	rc := &rconn{c: c, scans: map[string]*scanStmt{}, ctl: map[string]*sqlite3.Stmt{}}
	prep := func(q string) *sqlite3.Stmt {
		st, _, perr := c.Prepare(q)
		if perr != nil && err == nil {
			err = perr
		}
		return st
	}
	// A value out of line is read by a second statement when x says so:
	// a LEFT JOIN cost every row a probe of kvx.
	rc.get = prep(`SELECT v, x FROM kv WHERE k = ?`)
	rc.getX = prep(`SELECT v FROM kvx WHERE id = ?`)
	if write {
		rc.put = prep(`INSERT INTO kv (k, v, x) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, x = excluded.x`)
		rc.putX = prep(`INSERT INTO kvx (v) VALUES (?)`)
		rc.del = prep(`DELETE FROM kv WHERE k = ?`)
		rc.delRange = prep(`DELETE FROM kv WHERE k >= ? AND k < ?`)
	}
	if err != nil {
		rc.close()
		return nil, err
	}
	return rc, nil
}

// close closes the idle connections; those in use close when released.
func (p *readPool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shut = true
	var errs []error
	for _, rc := range p.idle {
		errs = append(errs, rc.close())
	}
	p.idle = nil
	return errors.Join(errs...)
}

// view runs fn in a read transaction on a pooled connection.
func (s *Store) view(ctx context.Context, fn func(kv.Tx) error) error {
	rc, err := s.rpool.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.rpool.release(rc)
	if err := rc.exec("BEGIN"); err != nil {
		return s.wrap(err)
	}
	t := &rtx{s: s, rc: rc, ctx: ctx}
	err = fn(t)
	if err == nil {
		err = t.err
	}
	if rerr := rc.exec("ROLLBACK"); rerr != nil && err == nil {
		err = s.wrap(rerr)
	}
	return err
}

// rtx is a transaction on a native connection: read-only unless on the
// writer's connection.
type rtx struct {
	s     *Store
	rc    *rconn
	ctx   context.Context
	write bool
	err   error // sticky failure
}

func (t *rtx) fail(err error) error {
	err = t.s.wrap(err)
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *rtx) Get(key []byte) ([]byte, error) {
	if t.write {
		if v, err, ok := t.s.counters.cachedGet(key); ok {
			return v, err
		}
	}
	return t.get(key)
}

// get reads key's row.
func (t *rtx) get(key []byte) ([]byte, error) {
	if err := t.ctx.Err(); err != nil {
		return nil, t.fail(err)
	}
	st := t.rc.get
	defer st.Reset()
	if err := st.BindBlob(1, key); err != nil {
		return nil, t.fail(err)
	}
	if !st.Step() {
		if err := st.Err(); err != nil {
			return nil, t.fail(err)
		}
		return nil, kv.ErrNotFound
	}
	if st.ColumnType(1) != sqlite3.NULL {
		return t.getX(st.ColumnInt64(1))
	}
	return cloneBlob(st.ColumnRawBlob(0)), nil
}

// getX reads a value kept out of line (see bigValue).
func (t *rtx) getX(id int64) ([]byte, error) {
	st := t.rc.getX
	defer st.Reset()
	if err := st.BindInt64(1, id); err != nil {
		return nil, t.fail(err)
	}
	if !st.Step() {
		if err := st.Err(); err != nil {
			return nil, t.fail(err)
		}
		return nil, t.fail(fmt.Errorf("out-of-line value %d is missing: %w", id, sqlite3.CORRUPT))
	}
	return cloneBlob(st.ColumnRawBlob(0)), nil
}

func (t *rtx) Gets(keys ...[]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := t.Get(k)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (t *rtx) Put(key, value []byte) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	t.s.counters.drop(key)
	return t.put(key, value)
}

// put writes key's row, and a large value out of line (see bigValue).
func (t *rtx) put(key, value []byte) error {
	var x int64
	if len(value) > bigValue {
		st := t.rc.putX
		if err := st.BindBlob(1, value); err != nil {
			st.Reset()
			return t.fail(err)
		}
		err := st.Exec()
		st.Reset()
		if err != nil {
			return t.fail(err)
		}
		x, value = t.rc.c.LastInsertRowID(), nil
	}
	st := t.rc.put
	defer st.Reset()
	if value == nil {
		value = []byte{}
	}
	if err := st.BindBlob(1, key); err != nil {
		return t.fail(err)
	}
	if err := st.BindBlob(2, value); err != nil {
		return t.fail(err)
	}
	var err error
	if x != 0 {
		err = st.BindInt64(3, x)
	} else {
		err = st.BindNull(3) // bindings outlive Reset
	}
	if err != nil {
		return t.fail(err)
	}
	if err := st.Exec(); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *rtx) Delete(key []byte) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	t.s.counters.drop(key)
	return t.del(key)
}

// del deletes key's row.
func (t *rtx) del(key []byte) error {
	st := t.rc.del
	defer st.Reset()
	if err := st.BindBlob(1, key); err != nil {
		return t.fail(err)
	}
	if err := st.Exec(); err != nil {
		return t.fail(err)
	}
	return nil
}

// DeleteRange is one DELETE over the range, whatever its size.
func (t *rtx) DeleteRange(begin, end []byte) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	if end == nil {
		return errors.New("sqlkv: DeleteRange needs an end")
	}
	if bytes.Compare(begin, end) >= 0 {
		return nil
	}
	if err := t.ctx.Err(); err != nil {
		return t.fail(err)
	}
	for k := range t.s.counters.m {
		if bytes.Compare([]byte(k), begin) >= 0 && bytes.Compare([]byte(k), end) < 0 {
			t.s.counters.drop([]byte(k))
		}
	}
	st := t.rc.delRange
	defer st.Reset()
	if err := st.BindBlob(1, begin); err != nil {
		return t.fail(err)
	}
	if err := st.BindBlob(2, end); err != nil {
		return t.fail(err)
	}
	if err := st.Exec(); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *rtx) Incr(key []byte, delta int64) (int64, error) {
	if !t.write {
		return 0, kv.ErrReadOnly
	}
	return t.incr(key, delta)
}

// Add implements kv.Tx: SQLite has one writer, and the group commit
// keeps counters in memory.
func (t *rtx) Add(key []byte, delta int64) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	_, err := t.incr(key, delta)
	return err
}

// Append implements kv.Tx: SQLite has one writer, whose group commit
// keeps the counter in memory.
func (t *rtx) Append(counter, prefix []byte, values ...[]byte) error {
	if !t.write {
		return kv.ErrReadOnly
	}
	return kv.AppendWithIncr(t, counter, prefix, values...)
}

// Scan steps one statement over the range; fn runs between steps, and may
// use the transaction (another scan gets a statement of its own).
func (t *rtx) Scan(begin, end []byte, opt kv.ScanOptions, fn func(k, v []byte) bool) error {
	if begin == nil {
		begin = []byte{} // a NULL bound would match nothing
	}
	if end != nil && bytes.Compare(begin, end) >= 0 {
		return nil
	}
	if err := t.ctx.Err(); err != nil {
		return t.fail(err)
	}
	if t.write {
		if err := t.flushRange(begin, end); err != nil {
			return err
		}
	}
	q := "SELECT k, v, x FROM kv WHERE k >= ?"
	if opt.KeysOnly {
		q = "SELECT k FROM kv WHERE k >= ?"
	}
	if end != nil {
		q += " AND k < ?"
	}
	if opt.Reverse {
		q += " ORDER BY k DESC"
	} else {
		q += " ORDER BY k"
	}
	ss := t.rc.scans[q]
	if ss == nil {
		st, _, err := t.rc.c.Prepare(q)
		if err != nil {
			return t.fail(err)
		}
		ss = &scanStmt{st: st}
		t.rc.scans[q] = ss
	}
	st := ss.st
	if ss.busy { // a scan inside a scan's callback: a statement of its own
		var err error
		if st, _, err = t.rc.c.Prepare(q); err != nil {
			return t.fail(err)
		}
		defer st.Close()
	} else {
		ss.busy = true
		defer func() { ss.busy = false }()
	}
	defer st.Reset()
	n := 1
	if err := st.BindBlob(n, begin); err != nil {
		return t.fail(err)
	}
	if end != nil {
		n++
		if err := st.BindBlob(n, end); err != nil {
			return t.fail(err)
		}
	}
	// No LIMIT in the SQL: the loop stops stepping instead. A bound LIMIT
	// marks the statement for re-preparation whenever its value changes
	// (SQLite plans with the bound value), and a directory page (limit
	// 1,000) and its inodes' scan (8,000) alternate on one statement.
	for rows := 0; (opt.Limit <= 0 || rows < opt.Limit) && st.Step(); rows++ {
		if rows&255 == 255 {
			if err := t.ctx.Err(); err != nil {
				return t.fail(err)
			}
		}
		var k, v []byte
		switch {
		case !opt.KeysOnly && st.ColumnType(2) != sqlite3.NULL:
			if opt.Borrow {
				k = st.ColumnRawBlob(0)
			} else {
				k = cloneBlob(st.ColumnRawBlob(0))
			}
			var err error
			if v, err = t.getX(st.ColumnInt64(2)); err != nil {
				return err
			}
		case opt.Borrow:
			k = st.ColumnRawBlob(0)
			if !opt.KeysOnly {
				if v = st.ColumnRawBlob(1); v == nil {
					v = []byte{}
				}
			}
		default:
			k = cloneBlob(st.ColumnRawBlob(0))
			if !opt.KeysOnly {
				v = cloneBlob(st.ColumnRawBlob(1))
			}
		}
		if !fn(k, v) {
			return nil
		}
	}
	if err := st.Err(); err != nil {
		return t.fail(err)
	}
	return nil
}

// cloneBlob copies a value out of SQLite's memory; a zero-length blob is an
// empty, non-nil slice.
func cloneBlob(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// runGroup runs the closures of batch on the writer's connection, each in
// a savepoint of one transaction, commits once and delivers each outcome.
func (s *Store) runGroup(batch []*pending) {
	c := s.wconn
	results := make([]error, len(batch))
	if err := c.exec("BEGIN IMMEDIATE"); err != nil {
		for _, p := range batch {
			p.done <- s.wrap(err)
		}
		return
	}
	s.counters.reset()
	committed := 0
	for i, p := range batch {
		if err := p.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := c.exec("SAVEPOINT g"); err != nil {
			results[i] = s.wrap(err)
			continue
		}
		t := &rtx{s: s, rc: s.wconn, ctx: p.ctx, write: true}
		err := kv.RunClosure("sqlkv", p.fn, t)
		if err == nil && t.err != nil {
			err = t.err
		}
		s.counters.closureDone(err != nil)
		if err != nil {
			rerr := c.exec("ROLLBACK TO g")
			if rerr == nil {
				rerr = c.exec("RELEASE g")
			}
			if rerr != nil {
				// The transaction is in an unknown state: fail the group.
				_ = c.exec("ROLLBACK")
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
		if err := c.exec("RELEASE g"); err != nil {
			results[i] = s.wrap(err)
			continue
		}
		committed++
	}
	var cerr error
	if committed > 0 {
		t := &rtx{s: s, rc: s.wconn, ctx: context.Background(), write: true}
		if cerr = t.flushCounters(); cerr == nil {
			cerr = s.wrap(c.exec("COMMIT"))
		}
		if cerr != nil {
			_ = c.exec("ROLLBACK")
		}
	} else {
		_ = c.exec("ROLLBACK")
	}
	for i, p := range batch {
		if results[i] == nil && cerr != nil {
			results[i] = cerr
		}
		p.done <- results[i]
	}
}
