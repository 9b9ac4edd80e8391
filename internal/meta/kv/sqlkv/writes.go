package sqlkv

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"cairn/internal/meta/kv"
)

// The writes of an Update on a database server wait in the transaction
// (writes) and go to the server together: in one call of a stored
// function on PostgreSQL, with the change feed's appends (see
// postgresFlush), in a few multi-row statements on MySQL. A file create
// puts four keys and adds to a counter: five round trips to the server,
// each a statement to parse and plan on a machine whose cores the server
// shares with its clients, became one. The transaction reads its own
// pending writes from here; a scan, a range deletion or a read of a key
// with a pending Add sends them first, so the server's answer includes
// them. Conflicts are the server's as before: a serializable transaction
// conflicts over what it read and wrote, whenever in the transaction the
// write reached the server.

// pendKind is what an Update left for a key.
type pendKind uint8

const (
	pendPut pendKind = iota + 1
	pendDelete
	pendAdd // a delta for the server to add to whatever is stored
)

type pendOp struct {
	kind  pendKind
	val   []byte // pendPut
	delta int64  // pendAdd
}

// writes is a transaction's writes not yet sent, one per key: a later
// write to a key replaces or (Add on a known value) updates the earlier.
type writes map[string]pendOp

func (p *writes) set(key []byte, op pendOp) {
	if *p == nil {
		*p = make(writes)
	}
	(*p)[string(key)] = op
}

func (p *writes) put(key, value []byte) {
	v := make([]byte, len(value))
	copy(v, value)
	p.set(key, pendOp{kind: pendPut, val: v})
}

func (p *writes) del(key []byte) { p.set(key, pendOp{kind: pendDelete}) }

// add records delta for key. Over a pending Put it adds to that value;
// over a pending Delete the key starts again from 0.
func (p *writes) add(key []byte, delta int64) error {
	old, ok := (*p)[string(key)]
	switch {
	case !ok:
		p.set(key, pendOp{kind: pendAdd, delta: delta})
	case old.kind == pendAdd:
		p.set(key, pendOp{kind: pendAdd, delta: old.delta + delta})
	case old.kind == pendDelete:
		p.set(key, pendOp{kind: pendPut, val: binary.BigEndian.AppendUint64(nil, uint64(delta))})
	default:
		if len(old.val) != 8 {
			return fmt.Errorf("kv: counter %q holds %d bytes", key, len(old.val))
		}
		n := int64(binary.BigEndian.Uint64(old.val)) + delta
		p.set(key, pendOp{kind: pendPut, val: binary.BigEndian.AppendUint64(nil, uint64(n))})
	}
	return nil
}

// batch is writes sorted by key and split by kind: sorted, so that two
// transactions writing the same keys lock them in one order.
type batch struct {
	putK, putV [][]byte
	delK       [][]byte
	addK       [][]byte
	addD       []int64
}

func (p writes) batch() batch {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b batch
	for _, k := range keys {
		op := p[k]
		switch op.kind {
		case pendPut:
			b.putK, b.putV = append(b.putK, []byte(k)), append(b.putV, op.val)
		case pendDelete:
			b.delK = append(b.delK, []byte(k))
		case pendAdd:
			b.addK, b.addD = append(b.addK, []byte(k)), append(b.addD, op.delta)
		}
	}
	return b
}

// postgresFlushFn is the stored function that applies a transaction's
// writes and, when it appends, numbers and inserts the values, in one
// call: upserts, deletions, additions (a bigint's big-endian bytes, as
// int8send writes them), then the numbering under the counter's advisory
// lock (see the comment above lockID), so that the lock is taken as late as it can be. It
// returns the last number taken, or 0. The name carries a version: a
// changed body gets a new name, and processes running the old binary
// keep theirs.
const postgresFlushFn = "cairn_flush_v1"

const postgresFlushDDL = `CREATE FUNCTION ` + postgresFlushFn + `(pk bytea[], pv bytea[], dk bytea[], ak bytea[], ad bigint[], lk bigint, seq text, prefix bytea, vals bytea[])
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  last bigint := 0;
  n bigint := coalesce(cardinality(vals), 0);
BEGIN
  IF cardinality(pk) > 0 THEN
    INSERT INTO cairn_kv (k, v) SELECT * FROM unnest(pk, pv)
      ON CONFLICT (k) DO UPDATE SET v = excluded.v;
  END IF;
  IF cardinality(dk) > 0 THEN
    DELETE FROM cairn_kv WHERE k = ANY(dk);
  END IF;
  IF cardinality(ak) > 0 THEN
    INSERT INTO cairn_kv (k, v) SELECT t.k, int8send(t.d) FROM unnest(ak, ad) AS t(k, d)
      ON CONFLICT (k) DO UPDATE SET v = int8send(('x' || encode(cairn_kv.v, 'hex'))::bit(64)::bigint + ('x' || encode(excluded.v, 'hex'))::bit(64)::bigint);
  END IF;
  IF n > 0 THEN
    PERFORM pg_advisory_xact_lock(lk);
    last := setval(seq::regclass, nextval(seq::regclass) + n - 1);
    INSERT INTO cairn_kv (k, v) SELECT prefix || int8send(last - n + t.i), t.v FROM unnest(vals) WITH ORDINALITY AS t(v, i);
  END IF;
  RETURN last;
END
$fn$`

// mysqlRows is the most rows, and mysqlBytes about the most bytes, of one
// multi-row statement on MySQL (its packets are at most 64 MiB here).
const (
	mysqlRows  = 500
	mysqlBytes = 4 << 20
)

// mysqlFlush sends b in multi-row upserts and deletions. Additions do not
// reach it: on MySQL, Add is Incr, a read and a Put.
func mysqlFlush(t *dbtx, b batch) error {
	for i := 0; i < len(b.putK); {
		var q strings.Builder
		q.WriteString("INSERT INTO cairn_kv (k, v) VALUES ")
		var args []any
		size := 0
		for ; i < len(b.putK) && len(args) < 2*mysqlRows && (size < mysqlBytes || len(args) == 0); i++ {
			if len(args) > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?)")
			args = append(args, b.putK[i], b.putV[i])
			size += len(b.putK[i]) + len(b.putV[i])
		}
		q.WriteString(" ON DUPLICATE KEY UPDATE v = VALUES(v)")
		if _, err := t.tx.ExecContext(t.ctx, q.String(), args...); err != nil {
			return t.fail(err)
		}
	}
	for i := 0; i < len(b.delK); {
		var q strings.Builder
		q.WriteString("DELETE FROM cairn_kv WHERE k IN (")
		var args []any
		for ; i < len(b.delK) && len(args) < mysqlRows; i++ {
			if len(args) > 0 {
				q.WriteString(", ")
			}
			q.WriteString("?")
			args = append(args, b.delK[i])
		}
		q.WriteString(")")
		if _, err := t.tx.ExecContext(t.ctx, q.String(), args...); err != nil {
			return t.fail(err)
		}
	}
	if len(b.addK) > 0 {
		return fmt.Errorf("sqlkv: %d additions pending on mysql", len(b.addK))
	}
	return nil
}

// postgresFlushSig is postgresFlushFn with its argument types, as
// to_regprocedure reads it.
const postgresFlushSig = postgresFlushFn + "(bytea[], bytea[], bytea[], bytea[], bigint[], bigint, text, bytea, bytea[])"

// ensureFlushFn creates postgresFlushFn in the current schema when the
// search path does not already lead to it. Two processes opening a new
// store at once may both try: the loser finds the winner's.
func (s *DB) ensureFlushFn(ctx context.Context) error {
	exists := func() (bool, error) {
		var ok bool
		err := s.db.QueryRowContext(ctx, "SELECT to_regprocedure($1) IS NOT NULL", postgresFlushSig).Scan(&ok)
		return ok, err
	}
	if ok, err := exists(); err != nil || ok {
		return err
	}
	_, cerr := s.db.ExecContext(ctx, postgresFlushDDL)
	if cerr == nil {
		return nil
	}
	if ok, err := exists(); err == nil && ok {
		return nil
	}
	return cerr
}

// pendingGet answers a read of key from the transaction's pending
// writes (ok), or sends them first when key has a pending Add, whose
// sum only the server knows.
func (t *dbtx) pendingGet(key []byte) (v []byte, err error, ok bool) {
	op, found := t.pend[string(key)]
	switch {
	case !found:
		return nil, nil, false
	case op.kind == pendPut:
		return op.val, nil, true
	case op.kind == pendDelete:
		return nil, kv.ErrNotFound, true
	}
	if err := t.flushWrites(); err != nil {
		return nil, err, true
	}
	return nil, nil, false
}

// flushWrites sends the pending writes, so that the server's answer to
// the next statement includes them.
func (t *dbtx) flushWrites() error {
	if len(t.pend) == 0 {
		return nil
	}
	b := t.pend.batch()
	t.pend = nil
	return t.s.d.flush(t, b, nil)
}

// flushAll sends the pending writes and the appends, just before COMMIT.
func (t *dbtx) flushAll() error {
	b := t.pend.batch()
	t.pend = nil
	if len(t.appends) == 0 {
		if len(b.putK)+len(b.delK)+len(b.addK) == 0 {
			return nil
		}
		return t.s.d.flush(t, b, nil)
	}
	for i := range t.appends {
		if err := t.s.d.flush(t, b, &t.appends[i]); err != nil {
			return err
		}
		b = batch{}
	}
	return nil
}

// mysqlFlushAll sends b and numbers and inserts a on MySQL.
func mysqlFlushAll(t *dbtx, b batch, a *appendOp) error {
	if err := mysqlFlush(t, b); err != nil {
		return err
	}
	if a == nil {
		return nil
	}
	last, err := mysqlNumber(t, a)
	if err != nil {
		return err
	}
	first := last - uint64(len(a.vals)) + 1
	var q strings.Builder
	q.WriteString("INSERT INTO cairn_kv (k, v) VALUES ")
	args := make([]any, 0, 2*len(a.vals))
	for j, v := range a.vals {
		if j > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
		args = append(args, kv.SeqKey(a.prefix, first+uint64(j)), v)
	}
	if _, err := t.tx.ExecContext(t.ctx, q.String(), args...); err != nil {
		return t.fail(err)
	}
	return nil
}

// postgresFlush sends b and, when a is not nil, numbers and inserts a, in
// one call of postgresFlushFn.
func postgresFlush(t *dbtx, b batch, a *appendOp) error {
	var (
		lk   int64
		seq  string
		pre  []byte
		vals [][]byte
	)
	if a != nil {
		var err error
		if seq, err = t.s.pgSequence(t.ctx, a.counter, a.prefix); err != nil {
			return err
		}
		lk, pre, vals = t.s.lockID(a.counter), a.prefix, a.vals
	}
	_, err := t.tx.ExecContext(t.ctx, "SELECT "+postgresFlushFn+"($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bigint[], $6, $7, $8, $9::bytea[])",
		b.putK, b.putV, b.delK, b.addK, b.addD, lk, seq, pre, vals)
	if err != nil {
		return t.fail(err)
	}
	return nil
}
