package sqlkv

import (
	"context"
	"database/sql"
	"fmt"

	"cairn/internal/meta/kv"
)

// Group commit on a server. Every commit of a durable server waits for
// its WAL flush, and the commits of appending transactions also wait for
// each other (the feed's numbers follow commit order: see pgNumber and
// mysqlNumber), so a process's concurrent Updates are run together: the
// closures waiting when a group starts run one after another in one
// serializable transaction, each in a savepoint, and share one commit and
// one flush. A closure that fails is rolled back to its savepoint alone;
// a conflict or an engine failure ends the group, and every closure of it
// runs again (Update's retry), so the outcome is that of the closures run
// one at a time in the group's order.

// maxDBGroup bounds the closures of one group, and dbLeaders the groups
// of one process in flight at once: a second group runs its closures while
// the first waits for its flush.
const (
	maxDBGroup = 32
	dbLeaders  = 2
)

// dbPending is an Update waiting for its group.
type dbPending struct {
	ctx  context.Context
	fn   func(kv.Tx) error
	done chan error
}

// grouped runs fn in the next group and returns its outcome.
func (s *DB) grouped(ctx context.Context, fn func(kv.Tx) error) error {
	p := &dbPending{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.gmu.Lock()
	s.queue = append(s.queue, p)
	lead := s.leaders < dbLeaders
	if lead {
		s.leaders++
	}
	s.gmu.Unlock()
	if lead {
		go s.lead()
	}
	return <-p.done
}

// lead runs groups until none is waiting.
func (s *DB) lead() {
	for {
		s.gmu.Lock()
		n := min(len(s.queue), maxDBGroup)
		if n == 0 {
			s.leaders--
			s.gmu.Unlock()
			return
		}
		batch := make([]*dbPending, n)
		copy(batch, s.queue)
		s.queue = append(s.queue[:0], s.queue[n:]...)
		s.gmu.Unlock()
		s.gate.RLock()
		s.runGroup(batch)
		s.gate.RUnlock()
	}
}

// runGroup runs batch in one transaction and delivers each outcome.
func (s *DB) runGroup(batch []*dbPending) {
	if len(batch) == 1 {
		p := batch[0]
		p.done <- s.run(p.ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}, p.fn)
		return
	}
	results := make([]error, len(batch))
	deliver := func(all error) {
		for i, p := range batch {
			if results[i] == nil {
				results[i] = all
			}
			p.done <- results[i]
		}
	}
	sqltx, err := s.db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		deliver(s.wrap(err))
		return
	}
	// abort ends the group: the closure that met the failure gets it (a
	// conflict reruns it); those that had succeeded run again.
	abort := func(i int, err error) {
		sqltx.Rollback()
		results[i] = err
		deliver(fmt.Errorf("%s: group rolled back: %w", s.d.name, kv.ErrConflict))
	}
	var appends []appendOp
	committed := 0
	for i, p := range batch {
		if err := p.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := sqltx.ExecContext(context.Background(), "SAVEPOINT g"); err != nil {
			abort(i, s.wrap(err))
			return
		}
		t := &dbtx{s: s, tx: sqltx, ctx: p.ctx}
		err := kv.RunClosure("sqlkv", p.fn, t)
		if t.err != nil {
			abort(i, t.err) // a conflict: the transaction cannot go on
			return
		}
		if err != nil || p.ctx.Err() != nil {
			if err == nil {
				err = p.ctx.Err()
			}
			if _, rerr := sqltx.ExecContext(context.Background(), "ROLLBACK TO SAVEPOINT g"); rerr != nil {
				abort(i, err)
				return
			}
			results[i] = err
			continue
		}
		if _, err := sqltx.ExecContext(context.Background(), "RELEASE SAVEPOINT g"); err != nil {
			abort(i, s.wrap(err))
			return
		}
		appends = append(appends, t.appends...)
		committed++
	}
	if committed == 0 {
		sqltx.Rollback()
		deliver(nil)
		return
	}
	t := &dbtx{s: s, tx: sqltx, ctx: context.Background(), appends: appends}
	if err := t.flushAppends(); err != nil {
		sqltx.Rollback()
		deliver(err)
		return
	}
	err = s.wrap(sqltx.Commit())
	if err == nil {
		s.groups.Add(1)
	}
	deliver(err)
}
