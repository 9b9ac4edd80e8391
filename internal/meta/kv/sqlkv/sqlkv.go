// Package sqlkv implements kv.Store on SQLite: one table of (key BLOB
// primary key, value BLOB) rows, ordered by the key's bytes, in WAL mode.
//
// # Connections
//
// Everything runs on the driver's own connection API (no database/sql):
// one writer connection that commits concurrent Updates in groups, and a
// pool of read-only connections whose transactions run beside the writer
// on a snapshot (WAL).
//
// # Durability
//
// With the default Options, an Update returns only once its transaction
// is on stable storage (synchronous=FULL: the WAL is synced at every
// commit), and a group of concurrent Updates shares one commit and so one
// sync. Options.Relaxed (synchronous=NORMAL) skips the sync at commit: no
// committed transaction is lost when the process dies, but on power loss
// the last ones may roll back (the database is never corrupted).
package sqlkv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"cairn/internal/meta/kv"
)

// Options configure a Store. The zero value is the durable default.
type Options struct {
	// Relaxed commits without waiting for the disk (SQLite
	// synchronous=NORMAL): faster small writes, but the last committed
	// transactions may be lost on power loss (never on a crash of the
	// process alone).
	Relaxed bool
}

// Store is a kv.Store over one SQLite database.
type Store struct {
	rpool *readPool // read transactions
	wconn *rconn    // the writer's connection, used by group leaders
	ckpt  *checkpointer

	counters counterCache // the writer's, for the group under way

	// Group commit: concurrent Updates queue here; one of them leads and
	// runs a whole queue in one database transaction.
	gmu     sync.Mutex
	queue   []*pending
	leading bool
	closed  bool
}

var _ kv.Store = (*Store)(nil)

// pending is an Update waiting for a group commit.
type pending struct {
	ctx  context.Context
	fn   func(kv.Tx) error
	done chan error
}

// errLead tells a waiting Update that it now leads the next group.
var errLead = errors.New("sqlkv: lead the next group")

// Open opens the store a META-URL names: sqlite3://PATH (relative or
// absolute; the file is created when missing, readable by its owner
// only). The caller must Close it.
func Open(ctx context.Context, metaURL string, opt Options) (*Store, error) {
	scheme, rest, ok := strings.Cut(metaURL, "://")
	if !ok {
		return nil, fmt.Errorf("sqlkv: %q is not a META-URL (want sqlite3://PATH)", metaURL)
	}
	switch scheme {
	case "sqlite3", "sqlite":
		return openSQLite(ctx, rest, opt)
	}
	return nil, fmt.Errorf("sqlkv: unsupported scheme %q", scheme)
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
	return s.retry(ctx, func() error { return s.group(ctx, fn) })
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
	for len(batch) > 0 {
		n := min(len(batch), maxGroup)
		s.runGroup(batch[:n])
		batch = batch[n:]
	}
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

// View implements kv.Store.
func (s *Store) View(ctx context.Context, fn func(kv.Tx) error) error {
	return s.retry(ctx, func() error { return s.view(ctx, fn) })
}

// retry runs once until it does not fail with kv.ErrConflict, backing off
// between attempts.
func (s *Store) retry(ctx context.Context, once func() error) error {
	return retryConflicts(ctx, "sqlkv", once)
}

// retryConflicts runs once until it does not fail with kv.ErrConflict, up
// to maxRetries times, backing off between attempts; name starts the
// message of the last failure.
func retryConflicts(ctx context.Context, name string, once func() error) error {
	var err error
	for attempt := 0; attempt < maxRetries; attempt++ {
		if err = ctx.Err(); err != nil {
			return err
		}
		err = once()
		if !errors.Is(err, kv.ErrConflict) {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s: gave up after %d attempts: %w", name, maxRetries, err)
}

// backoff waits before rerun attempt+1 of a conflicting transaction: a
// random time that grows with the attempts, so that transactions that
// met once are unlikely to meet again.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1+rand.IntN(1<<min(attempt, 8))) * 100 * time.Microsecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// wrap maps SQLite's busy and locked failures to kv.ErrConflict.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case isConflict(err):
		return fmt.Errorf("sqlkv: %v: %w", err, kv.ErrConflict)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("sqlkv: %w", err)
}

// SerialWriter reports that one writer commits at a time (in groups):
// concurrent transactions never conflict here.
func (s *Store) SerialWriter() bool { return true }

// Close implements kv.Store. It waits for the group commit under way;
// later Updates and Views fail with kv.ErrClosed.
func (s *Store) Close() error {
	perr := s.rpool.close()
	s.gmu.Lock()
	if s.closed {
		s.gmu.Unlock()
		return perr
	}
	s.closed = true
	for s.leading {
		s.gmu.Unlock()
		time.Sleep(time.Millisecond)
		s.gmu.Lock()
	}
	s.gmu.Unlock()
	if s.ckpt != nil {
		s.ckpt.stop()
	}
	var werr error
	if s.wconn != nil {
		werr = s.wconn.close()
	}
	return errors.Join(perr, werr)
}
