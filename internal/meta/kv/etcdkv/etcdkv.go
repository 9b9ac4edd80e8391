// Package etcdkv implements kv.Store on etcd (v3 API; 3.4 or later).
//
// # Layout
//
// Key K of a store with prefix P is the etcd key P + "/" + K; etcd orders
// keys by their bytes, the contract's order, so a scan is one ranged read.
//
// # Transactions
//
// Transactions are optimistic and read one snapshot: the first read fixes
// a revision R (the store's revision when it answered) and every later
// read asks for R. Writes stay in the transaction, which reads its own.
// The commit is one etcd Txn whose conditions say that nothing the
// transaction read changed after R: for each key read, its modification
// revision is the one seen (0: still absent); for each range scanned, no
// key in it was modified or created after R (a range comparison), and each
// key the scan saw is still there unmodified (deletions). If they hold,
// the writes apply atomically; if not, Update runs the closure again. A
// View needs no check: reads at one revision are a snapshot. A revision
// compacted away meanwhile is a conflict too.
//
// etcd bounds a Txn's conditions and operations (--max-txn-ops, 128 by
// default) and a request's size (--max-request-bytes, 1.5 MiB by
// default); cairn's largest transactions need more: run the members with
// --max-txn-ops 20000 and --max-request-bytes 16777216 (docs/scaling.md).
//
// # Durability
//
// etcd acknowledges a write once a majority of the members have it in
// their fsynced Raft log: durable across a power cut and a member's loss.
package etcdkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"cairn/internal/meta/kv"
)

// Store is a kv.Store on an etcd cluster.
type Store struct {
	cli    *clientv3.Client
	prefix string
	closed atomic.Bool

	// Commit tokens (see commit) live under a lease of a minute, taken
	// anew every half minute.
	leaseMu sync.Mutex
	lease   clientv3.LeaseID
	leaseAt time.Time
}

var _ kv.Store = (*Store)(nil)

// Open opens the store a META-URL names:
//
//	etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][/PREFIX]
//
// (JuiceFS's form). PREFIX ("cairn" by default) keeps several volumes in
// one cluster. The caller must Close the store.
func Open(ctx context.Context, metaURL string) (*Store, error) {
	u, err := url.Parse(metaURL)
	if err != nil {
		return nil, fmt.Errorf("etcd: bad META-URL: %v", kv.RedactText(metaURL, err.Error()))
	}
	if u.Scheme != "etcd" {
		return nil, fmt.Errorf("etcd: %q is not an etcd:// URL", kv.RedactURL(metaURL))
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix == "" {
		prefix = "cairn"
	}
	// Values reach 4 MiB (and a transaction carries several): the
	// client allows what the members are told to (--max-request-bytes).
	cfg := clientv3.Config{DialTimeout: 5 * time.Second, Context: context.Background(),
		MaxCallSendMsgSize: 16 << 20, MaxCallRecvMsgSize: 256 << 20}
	for _, h := range strings.Split(u.Host, ",") {
		cfg.Endpoints = append(cfg.Endpoints, "http://"+h)
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: cannot reach the metadata store at %s: %w", kv.RedactURL(metaURL), err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cli.Get(cctx, prefix+"/", clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd: cannot reach the metadata store at %s: %w", kv.RedactURL(metaURL), err)
	}
	return &Store{cli: cli, prefix: prefix + "/"}, nil
}

// Close implements kv.Store.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.cli.Close()
}

// Engine names the engine.
func (s *Store) Engine() string { return "etcd" }

const (
	maxRetries  = 200
	outageLimit = 30 * time.Second
)

// Update implements kv.Store.
func (s *Store) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return s.retry(ctx, false, fn)
}

// View implements kv.Store.
func (s *Store) View(ctx context.Context, fn func(kv.Tx) error) error { return s.retry(ctx, true, fn) }

func (s *Store) retry(ctx context.Context, ro bool, fn func(kv.Tx) error) error {
	var err error
	var outage time.Time
	for attempt := 0; attempt < maxRetries; attempt++ {
		if s.closed.Load() {
			return fmt.Errorf("etcd: %w", kv.ErrClosed)
		}
		if err = ctx.Err(); err != nil {
			return err
		}
		err = s.once(ctx, ro, fn)
		if err != nil && ctx.Err() == nil && strings.Contains(err.Error(), "context deadline exceeded") {
			// The cluster saw the request's deadline (sent with it) pass
			// a moment before this side's timer fires.
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Second {
				sleep(ctx, time.Until(dl)+10*time.Millisecond)
			}
		}
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			// The caller's ctx ended during the attempt: that is the
			// cause, whatever form the client gave it (a gRPC status
			// "Unknown: context deadline exceeded" wraps no ctx error).
			return fmt.Errorf("etcd: %v: %w", err, ctx.Err())
		}
		if transient(err) && !s.closed.Load() {
			if outage.IsZero() {
				outage = time.Now()
			}
			if time.Since(outage) > outageLimit {
				return err
			}
			attempt--
			if err := sleep(ctx, time.Duration(100+rand.IntN(200))*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		outage = time.Time{}
		if !errors.Is(err, kv.ErrConflict) {
			return err
		}
		if err := sleep(ctx, time.Duration(1+rand.IntN(1<<min(attempt, 8)))*100*time.Microsecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("etcd: gave up after %d attempts: %w", maxRetries, err)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// engineError is a failure of etcd or of the way to it.
type engineError struct{ err error }

func (e *engineError) Error() string { return "etcd: " + e.err.Error() }
func (e *engineError) Unwrap() error { return e.err }

// transient reports an engine failure a later attempt may not meet: no
// leader, a member unreachable, the request timed out in the cluster.
func transient(err error) bool {
	var ee *engineError
	if err == nil || !errors.As(err, &ee) || errors.Is(err, context.Canceled) {
		return false
	}
	switch {
	case errors.Is(err, rpctypes.ErrNoLeader), errors.Is(err, rpctypes.ErrLeaderChanged),
		errors.Is(err, rpctypes.ErrTimeout), errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail),
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost), errors.Is(err, rpctypes.ErrTooManyRequests):
		return true
	}
	msg := err.Error()
	for _, p := range []string{"Unavailable", "connection refused", "connection reset", "transport is closing", "no leader", "leader changed", "timed out", "EOF"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "etcdserver"):
		return err
	case errors.Is(err, rpctypes.ErrCompacted), errors.Is(err, rpctypes.ErrFutureRev):
		return fmt.Errorf("etcd: %v: %w", err, kv.ErrConflict)
	case s.closed.Load():
		return fmt.Errorf("etcd: %v: %w", err, kv.ErrClosed)
	}
	return &engineError{err}
}

func (s *Store) once(ctx context.Context, ro bool, fn func(kv.Tx) error) error {
	t := &tx{s: s, ctx: ctx, ro: ro, reads: map[string]int64{}, vals: map[string][]byte{}, writes: map[string]*write{}}
	if err := kv.RunClosure("etcd", fn, t); err != nil {
		if t.err != nil {
			return t.err
		}
		return err
	}
	if t.err != nil {
		return t.err
	}
	if ro || len(t.writes)+len(t.staged) == 0 {
		return nil // reads at one revision: a snapshot
	}
	return t.commit()
}

type write struct {
	val []byte
	del bool
}

// scanned is a range the transaction visited ([lo, hi); hi "" means to
// the end of the store's keys) and the keys it saw there, with their
// modification revisions.
type scanned struct {
	lo, hi string
	seen   map[string]int64
}

type tx struct {
	s       *Store
	ctx     context.Context
	ro      bool
	rev     int64            // the snapshot's revision (0: no read yet)
	reads   map[string]int64 // key -> modification revision seen (0: absent)
	vals    map[string][]byte
	writes  map[string]*write
	staged  []stagedValue // Append's values (append.go)
	stageID string        // and the name they share
	ranges  []scanned
	err     error
}

func (t *tx) fail(err error) error {
	err = t.s.wrap(err)
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *tx) opts(extra ...clientv3.OpOption) []clientv3.OpOption {
	if t.rev > 0 {
		extra = append(extra, clientv3.WithRev(t.rev))
	}
	return extra
}

func (t *tx) get(key string, extra ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	resp, err := t.s.cli.Get(t.ctx, t.s.prefix+key, t.opts(extra...)...)
	if err != nil {
		return nil, t.fail(err)
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	return resp, nil
}

func (t *tx) Get(key []byte) ([]byte, error) {
	k := string(key)
	if w, ok := t.writes[k]; ok {
		if w.del {
			return nil, kv.ErrNotFound
		}
		return w.val, nil
	}
	if rev, ok := t.reads[k]; ok {
		if rev == 0 {
			return nil, kv.ErrNotFound
		}
		return t.vals[k], nil
	}
	resp, err := t.get(k)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		t.reads[k] = 0
		return nil, kv.ErrNotFound
	}
	v := resp.Kvs[0].Value
	if v == nil {
		v = []byte{}
	}
	t.reads[k], t.vals[k] = resp.Kvs[0].ModRevision, v
	return v, nil
}

func (t *tx) Gets(keys ...[]byte) ([][]byte, error) { return kv.GetsWithGet(t, keys...) }

func (t *tx) Put(key, value []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	t.writes[string(key)] = &write{val: v}
	return nil
}

func (t *tx) Delete(key []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	t.writes[string(key)] = &write{del: true}
	return nil
}

func (t *tx) DeleteRange(begin, end []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	return kv.DeleteRangeWithScan(t, begin, end)
}

func (t *tx) Incr(key []byte, delta int64) (int64, error) {
	if t.ro {
		return 0, kv.ErrReadOnly
	}
	return kv.IncrWithGetPut(t, key, delta)
}

// Add implements kv.Tx with Incr: the key is read and checked at commit,
// which for a counter shard of this transaction's own costs no conflict.
func (t *tx) Add(key []byte, delta int64) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	return kv.AddWithIncr(t, key, delta)
}

const scanPage = 256

// Scan reads the range a page at a time at the snapshot's revision and
// merges the transaction's own writes.
func (t *tx) Scan(begin, end []byte, opt kv.ScanOptions, fn func(key, value []byte) bool) error {
	if begin == nil {
		begin = []byte{}
	}
	lo, hi := string(begin), ""
	if end != nil {
		hi = string(end)
		if hi <= lo {
			return nil
		}
	}
	var mine []string
	for k := range t.writes {
		if k >= lo && (hi == "" || k < hi) {
			mine = append(mine, k)
		}
	}
	slices.Sort(mine)
	if opt.Reverse {
		slices.Reverse(mine)
	}
	rng := scanned{lo: lo, hi: hi, seen: map[string]int64{}}
	defer func() { t.ranges = append(t.ranges, rng) }()
	pageLo, pageHi := lo, hi // what is still to fetch: [pageLo, pageHi)
	next := func() (kv.Page, error) {
		ks, vs, revs, err := t.scanPage(pageLo, pageHi, opt)
		if err != nil {
			return kv.Page{}, err
		}
		for i, k := range ks {
			rng.seen[k] = revs[i]
		}
		if len(ks) > 0 {
			if opt.Reverse {
				pageHi = ks[len(ks)-1]
			} else {
				pageLo = ks[len(ks)-1] + "\x00"
			}
		}
		return kv.Page{Keys: ks, Vals: vs, More: len(ks) == scanPage}, nil
	}
	visited := 0
	return kv.MergePending(mine, opt.Reverse, next, func(k string, v []byte, _ bool) bool {
		if w, ok := t.writes[k]; ok {
			if w.del {
				return true
			}
			v = w.val
		}
		if opt.KeysOnly {
			v = nil
		} else if v == nil {
			v = []byte{}
		}
		visited++
		if fn([]byte(k), v) && (opt.Limit == 0 || visited < opt.Limit) {
			return true
		}
		// The visited part ends at k.
		if opt.Reverse {
			rng.lo = k
		} else {
			rng.hi = k + "\x00"
		}
		for sk := range rng.seen {
			if sk < rng.lo || (rng.hi != "" && sk >= rng.hi) {
				delete(rng.seen, sk)
			}
		}
		return false
	})
}

func (t *tx) scanPage(lo, hi string, opt kv.ScanOptions) (keys []string, vals [][]byte, revs []int64, err error) {
	end := t.s.prefix + hi
	if hi == "" {
		end = clientv3.GetPrefixRangeEnd(t.s.prefix)
	}
	o := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(scanPage)}
	if opt.Reverse {
		o = append(o, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	} else {
		o = append(o, clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	}
	if opt.KeysOnly {
		o = append(o, clientv3.WithKeysOnly())
	}
	resp, err := t.get(lo, o...)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, kvp := range resp.Kvs {
		keys = append(keys, string(kvp.Key[len(t.s.prefix):]))
		vals = append(vals, kvp.Value)
		revs = append(revs, kvp.ModRevision)
	}
	return keys, vals, revs, nil
}

// tokenLease returns the lease commit tokens are written under.
func (s *Store) tokenLease(ctx context.Context) (clientv3.LeaseID, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.lease != 0 && time.Since(s.leaseAt) < 30*time.Second {
		return s.lease, nil
	}
	g, err := s.cli.Grant(ctx, 60)
	if err != nil {
		return 0, s.wrap(err)
	}
	s.lease, s.leaseAt = g.ID, time.Now()
	return s.lease, nil
}

// applied asks whether the commit that wrote token was applied, waiting
// out an outage for up to outageLimit.
func (s *Store) applied(ctx context.Context, token string) bool {
	deadline := time.Now().Add(outageLimit)
	for {
		resp, err := s.cli.Get(ctx, token, clientv3.WithCountOnly())
		if err == nil {
			return resp.Count > 0
		}
		if !transient(s.wrap(err)) || time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// commit applies the writes if nothing read changed after the snapshot.
// A commit whose answer was lost (a leader change, a member lost) may
// have been applied, and running the closure again would see its own
// writes; so the commit also writes a token (outside the store's keys,
// under a lease of a minute), which a commit that failed that way looks
// for before running again.
func (t *tx) commit() error {
	var cmps []clientv3.Cmp
	rev := t.rev
	checked := map[string]bool{}
	for k, r := range t.reads {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(t.s.prefix+k), "=", r))
		checked[k] = true
	}
	for _, r := range t.ranges {
		if rev > 0 {
			end := t.s.prefix + r.hi
			if r.hi == "" {
				end = clientv3.GetPrefixRangeEnd(t.s.prefix)
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(t.s.prefix+r.lo), "<", rev+1).WithRange(end))
		}
		for k, mr := range r.seen {
			if !checked[k] {
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(t.s.prefix+k), "=", mr))
				checked[k] = true
			}
		}
	}
	var ops []clientv3.Op
	for k, w := range t.writes {
		if w.del {
			ops = append(ops, clientv3.OpDelete(t.s.prefix+k))
		} else {
			ops = append(ops, clientv3.OpPut(t.s.prefix+k, string(w.val)))
		}
	}
	for _, v := range t.staged {
		ops = append(ops, clientv3.OpPut(v.key, string(v.val)))
	}
	lease, err := t.s.tokenLease(t.ctx)
	if err != nil {
		return err
	}
	token := strings.TrimSuffix(t.s.prefix, "/") + "\x00t/" + strconv.FormatUint(rand.Uint64(), 36)
	ops = append(ops, clientv3.OpPut(token, "", clientv3.WithLease(lease)))
	resp, err := t.s.cli.Txn(t.ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		err = t.s.wrap(err)
		if transient(err) && t.s.applied(t.ctx, token) {
			return nil
		}
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcd: %w", kv.ErrConflict)
	}
	return nil
}
