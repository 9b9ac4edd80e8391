// Package rediskv implements kv.Store on Redis (5.0 or later; Lua
// scripting on).
//
// # Layout
//
// A store named P (the URL's prefix parameter, "cairn" by default) keeps
// key K's value in the Redis string "{P}:K" and every key in one sorted
// set "{P}i" with score 0, which Redis orders by the members' bytes
// (ZRANGEBYLEX): the contract's order, for ranged scans. The braces are a
// Redis Cluster hash tag, so a store's keys share one slot and a script
// may touch them all.
//
// # Transactions
//
// Transactions are optimistic. Reads go to Redis as they come (a Get, a
// Gets, a page of a scan: each one command or script, so each is atomic)
// and the transaction remembers what it saw: a SHA-1 of each value read
// (or that it was absent) and, for each range it scanned, a SHA-1 of the
// keys Redis held in the part of the range it visited. Writes stay in the
// transaction, which reads its own. Commit is one Lua script, atomic on
// the server: it checks every remembered value and range against the
// current state and applies the writes only when nothing changed, so a
// transaction commits only if it would have read the same running alone
// at the moment of commit (serializable; a concurrent insert into a
// scanned range is a conflict, not a phantom). Otherwise Update runs the
// closure again. A View checks the same way at its end unless it made a
// single read, which is a snapshot by itself; a closure that fails is
// checked too, so that an error caused by a torn read becomes a rerun.
// Add and Append read nothing: the commit script adds to the counter, or
// numbers the appended values from it, as it applies the writes, so
// transactions that only share counters do not conflict, and appended
// values are numbered in commit order.
//
// Optimism alone can starve a transaction whose reads keep being changed
// by faster ones (a View of two keys that a loop rewrites). After a few
// conflicts a transaction takes the store's commit lock ("{P}L", with an
// expiry, so a crashed holder frees it): while it is held every other
// commit answers "conflict" and backs off, so the holder's next run sees
// a still store and commits.
//
// # Failover
//
// On Sentinel and Cluster (see Open), a transaction that meets a master
// unreachable or failing over runs again for up to 30 seconds. A commit
// whose answer was lost may have been applied, so each applying commit
// leaves a token for a minute ("{P}t:..."), which a commit that failed
// that way looks for before running again. With wait=N a commit counts
// only once N replicas have it (WAIT).
//
// # Durability
//
// A commit is acknowledged once Redis has applied it; it survives a power
// cut only if the server was told so (appendonly yes, appendfsync
// always), and a failover only if a replica had it (wait=N).
// Store.Persistence reports the setting.
package rediskv

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"cairn/internal/meta/kv"
)

// Store is a kv.Store on one Redis database.
type Store struct {
	rdb    redis.UniversalClient
	kind   string // "server", "sentinel" or "cluster"
	prefix string // "{P}:": a value key is prefix + key
	index  string // "{P}i": the sorted set of every key
	lock   string // "{P}L": the commit lock
	token  string // "{P}t:": commit tokens (see commit)
	wait   int    // replicas each commit waits for
	closed atomic.Bool
}

var _ kv.Store = (*Store)(nil)

// Open opens the store a META-URL names:
//
//	redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?prefix=P&...]           one server
//	redis://[[USER]:PASSWORD@]MASTER,SENTINEL[,SENTINEL...][:PORT][/DB]  Sentinel
//	redis://[[USER]:PASSWORD@]HOST:PORT,HOST:PORT[,...][?prefix=P]       Cluster
//
// (rediss:// for TLS; JuiceFS's forms). With Sentinel the first name is
// the master's, and sentinels without a port take the last one's (26379
// by default); the password is the master's. Several addresses without a
// master name are a Redis Cluster's nodes. A single server's other query
// parameters are go-redis's (dial_timeout, pool_size, ...); every form
// takes wait=N: each commit waits until N replicas have it (Redis WAIT),
// so that a failover to a replica cannot lose it. Several volumes may
// share a database under different prefixes. The caller must Close the
// store.
func Open(ctx context.Context, metaURL string) (*Store, error) {
	u, err := url.Parse(metaURL)
	if err != nil {
		return nil, fmt.Errorf("redis: bad META-URL: %v", redactText(metaURL, err.Error()))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redis: %q is not a redis:// or rediss:// URL", redact(metaURL))
	}
	q := u.Query()
	prefix := q.Get("prefix")
	if prefix == "" {
		prefix = "cairn"
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redis: prefix %q may not contain braces", prefix)
	}
	q.Del("prefix")
	s := &Store{prefix: "{" + prefix + "}:", index: "{" + prefix + "}i", lock: "{" + prefix + "}L", token: "{" + prefix + "}t:"}
	if w := q.Get("wait"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("redis: bad META-URL: wait=%q is not a number of replicas", w)
		}
		s.wait = n
		q.Del("wait")
	}
	u.RawQuery = q.Encode()
	if strings.Contains(u.Host, ",") {
		s.rdb, s.kind, err = multiHostClient(u)
	} else {
		var opt *redis.Options
		if opt, err = redis.ParseURL(u.String()); err == nil {
			s.rdb, s.kind = redis.NewClient(opt), "server"
		}
	}
	if err != nil {
		return nil, fmt.Errorf("redis: bad META-URL: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.rdb.Ping(cctx).Err(); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("redis: cannot reach the metadata store at %s: %w", redact(metaURL), err)
	}
	return s, nil
}

// multiHostClient is the Sentinel or Cluster client of a URL whose host
// part lists several names.
func multiHostClient(u *url.URL) (redis.UniversalClient, string, error) {
	parts := strings.Split(u.Host, ",")
	master := ""
	if !strings.Contains(parts[0], ":") {
		master, parts = parts[0], parts[1:]
	}
	if len(parts) == 0 || parts[0] == "" {
		return nil, "", errors.New("no address after the master's name")
	}
	// Addresses without a port take the last one's.
	port := "26379"
	if master == "" {
		port = "6379"
	}
	if _, p, err := net.SplitHostPort(parts[len(parts)-1]); err == nil {
		port = p
	}
	for i, a := range parts {
		if _, _, err := net.SplitHostPort(a); err != nil {
			parts[i] = net.JoinHostPort(a, port)
		}
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	var tlsConf *tls.Config
	if u.Scheme == "rediss" {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, "", fmt.Errorf("database %q is not a number", p)
		}
		db = n
	}
	if u.RawQuery != "" {
		return nil, "", fmt.Errorf("a Sentinel or Cluster URL takes only prefix and wait, not %q", u.RawQuery)
	}
	if master != "" {
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: parts,
			Username: user, Password: pass, DB: db, TLSConfig: tlsConf}), "sentinel", nil
	}
	if db != 0 {
		return nil, "", errors.New("a Redis Cluster has only database 0")
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: parts, Username: user, Password: pass, TLSConfig: tlsConf}), "cluster", nil
}

// redact drops a password from a URL for messages.
func redact(metaURL string) string {
	if u, err := url.Parse(metaURL); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return metaURL
}

// redactText drops the user information of metaURL from msg.
func redactText(metaURL, msg string) string {
	if i := strings.Index(metaURL, "://"); i >= 0 {
		if j := strings.LastIndex(metaURL, "@"); j > i+3 {
			msg = strings.ReplaceAll(msg, metaURL[i+3:j], "xxxxx")
		}
	}
	return msg
}

// Persistence reports the server's append-only-file settings: durable is
// true when every write is on stable storage before Redis answers
// (appendonly yes, appendfsync always).
func (s *Store) Persistence(ctx context.Context) (durable bool, setting string, err error) {
	check := func(ctx context.Context, c *redis.Client) (bool, string, error) {
		v := map[string]string{}
		for _, name := range []string{"appendonly", "appendfsync"} {
			r, err := c.ConfigGet(ctx, name).Result()
			if err != nil {
				return false, "", err
			}
			v[name] = r[name]
		}
		return v["appendonly"] == "yes" && v["appendfsync"] == "always",
			fmt.Sprintf("appendonly %s, appendfsync %s", v["appendonly"], v["appendfsync"]), nil
	}
	switch c := s.rdb.(type) {
	case *redis.Client:
		durable, setting, err = check(ctx, c)
		if err != nil || s.kind == "server" {
			return durable, setting, err
		}
	case *redis.ClusterClient:
		var mu sync.Mutex
		durable = true
		err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			d, st, err := check(ctx, m)
			mu.Lock()
			defer mu.Unlock()
			if !d {
				durable, setting = false, st+" on "+m.Options().Addr
			} else if setting == "" {
				setting = st
			}
			return err
		})
		if err != nil {
			return false, "", err
		}
	default:
		return false, "", fmt.Errorf("redis: unknown client %T", c)
	}
	// A failover promotes a replica, which has only what was replicated
	// to it: a commit is safe from it only once a replica has it.
	if durable && s.wait == 0 {
		return false, setting + ", and commits do not wait for a replica (add wait=1 to the URL)", nil
	}
	return durable, setting, nil
}

// Close implements kv.Store.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.rdb.Close()
}

// maxRetries bounds the reruns of a conflicting transaction.
const maxRetries = 100

// Update implements kv.Store.
func (s *Store) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return s.retry(ctx, false, fn)
}

// View implements kv.Store.
func (s *Store) View(ctx context.Context, fn func(kv.Tx) error) error {
	return s.retry(ctx, true, fn)
}

// lockAfter is the conflicts after which a transaction takes the commit
// lock, and lockTTL how long the lock lasts unless released.
const (
	lockAfter = 3
	lockTTL   = 5 * time.Second
)

// outageLimit is how long an Update or View waits out a server that is
// unreachable or failing over before it reports the error.
const outageLimit = 30 * time.Second

func (s *Store) retry(ctx context.Context, ro bool, fn func(kv.Tx) error) error {
	var err error
	var outage time.Time // when the current run of transient failures began
	for attempt := 0; attempt < maxRetries; attempt++ {
		if s.closed.Load() {
			return fmt.Errorf("redis: %w", kv.ErrClosed)
		}
		if err = ctx.Err(); err != nil {
			return err
		}
		token := ""
		if attempt >= lockAfter {
			token = s.takeLock(ctx)
		}
		err = s.once(ctx, ro, token, fn)
		if token != "" {
			s.releaseLock(token)
		}
		if transient(err) && !s.closed.Load() {
			// A server restarting, a failover under way: wait it out.
			if outage.IsZero() {
				outage = time.Now()
			}
			if time.Since(outage) > outageLimit {
				return err
			}
			attempt-- // not a conflict
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(100+rand.IntN(200)) * time.Millisecond):
			}
			continue
		}
		outage = time.Time{}
		if !errors.Is(err, kv.ErrConflict) {
			return err
		}
		d := time.Duration(1+rand.IntN(1<<min(attempt, 8))) * 100 * time.Microsecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return fmt.Errorf("redis: gave up after %d attempts: %w", maxRetries, err)
}

// transient reports a failure that a later attempt may not meet: the
// connection lost or refused, a cluster or a master failing over, a
// server loading its data.
func transient(err error) bool {
	if err == nil {
		return false
	}
	var ee *engineError
	if !errors.As(err, &ee) {
		if !errors.As(err, new(redis.Error)) && !errors.As(err, new(net.Error)) {
			return false // the closure's own error (an errno...), or none
		}
	}
	if errors.Is(err, kv.ErrConflict) || errors.Is(err, kv.ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno == syscall.ECONNREFUSED || errno == syscall.ECONNRESET || errno == syscall.EPIPE
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"CLUSTERDOWN", "TRYAGAIN", "LOADING", "READONLY", "MASTERDOWN", "NOREPLICAS", "UNBLOCKED", "MOVED", "ASK "} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return strings.Contains(msg, "sentinel") || strings.Contains(msg, "connection pool timeout") ||
		strings.Contains(msg, "use of closed network connection")
}

// takeLock tries to take the commit lock, returning its token, or "" when
// another transaction holds it.
func (s *Store) takeLock(ctx context.Context) string {
	token := strconv.FormatUint(rand.Uint64(), 36)
	ok, err := s.rdb.SetNX(ctx, s.lock, token, lockTTL).Result()
	if err != nil || !ok {
		return ""
	}
	return token
}

// releaseScript deletes the lock if it is still the caller's.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("DEL", KEYS[1]) end
return 0
`)

func (s *Store) releaseLock(token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	releaseScript.Run(ctx, s.rdb, []string{s.lock}, token)
}

// once runs one attempt; token is the commit lock's when it is held.
func (s *Store) once(ctx context.Context, ro bool, token string, fn func(kv.Tx) error) error {
	t := &tx{s: s, ctx: ctx, ro: ro, token: token, reads: map[string]read{}, writes: map[string]*write{}}
	if err := callClosure(fn, t); err != nil {
		if t.err != nil {
			return t.err
		}
		// An error may come from a torn read: if what was read has
		// changed, run again rather than report it.
		if ok, verr := t.commit(false); verr == nil && !ok {
			return fmt.Errorf("redis: %w", kv.ErrConflict)
		}
		return err
	}
	if t.err != nil {
		return t.err
	}
	apply := !ro && (len(t.writes) > 0 || len(t.appends) > 0 || len(t.adds) > 0)
	if !apply && t.ops <= 1 {
		return nil // one atomic read, or none
	}
	ok, err := t.commit(apply)
	if err != nil {
		return s.wrap(err)
	}
	if !ok {
		return fmt.Errorf("redis: %w", kv.ErrConflict)
	}
	return nil
}

func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, redis.ErrClosed), s.closed.Load():
		return fmt.Errorf("redis: %v: %w", err, kv.ErrClosed)
	}
	return &engineError{err}
}

// engineError is a failure of Redis or of the way to it (as opposed to an
// error of the transaction's closure), which transient classifies.
type engineError struct{ err error }

func (e *engineError) Error() string { return "redis: " + e.err.Error() }
func (e *engineError) Unwrap() error { return e.err }

// callClosure runs fn, turning a panic into an error.
func callClosure(fn func(kv.Tx) error, t kv.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("redis: transaction closure panicked: %v", r)
		}
	}()
	return fn(t)
}

// read is a key's value as the transaction first saw it.
type read struct {
	val    []byte
	absent bool
}

// write is a pending change of a key: a value, or a deletion.
type write struct {
	val []byte
	del bool
}

// scanned is a range the transaction visited: the keys Redis held in it,
// as bounds for ZRANGEBYLEX and a digest.
type scanned struct {
	lo, hi string
	sum    string
}

// tx is one attempt of a transaction.
type tx struct {
	s      *Store
	ctx    context.Context
	ro     bool
	token  string // the commit lock's, when this attempt holds it
	ops    int    // reads sent to Redis
	reads  map[string]read
	writes map[string]*write
	ranges []scanned
	// appends are the transaction's Appends, numbered by the commit
	// script.
	appends []appendOp
	// adds are the transaction's blind Adds, in order.
	adds []addOp
	err  error // the first engine failure, reported whatever fn returns
}

type addOp struct {
	key   string
	delta int64
}

type appendOp struct {
	counter, prefix string
	vals            [][]byte
}

func (t *tx) fail(err error) error {
	err = t.s.wrap(err)
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if w, ok := t.writes[string(key)]; ok {
		if w.del {
			return nil, kv.ErrNotFound
		}
		return w.val, nil
	}
	if r, ok := t.reads[string(key)]; ok {
		if r.absent {
			return nil, kv.ErrNotFound
		}
		return r.val, nil
	}
	t.ops++
	v, err := t.s.rdb.Get(t.ctx, t.s.prefix+string(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		t.reads[string(key)] = read{absent: true}
		return nil, kv.ErrNotFound
	}
	if err != nil {
		return nil, t.fail(err)
	}
	t.reads[string(key)] = read{val: v}
	return v, nil
}

func (t *tx) Gets(keys ...[]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	var ask []string
	for _, k := range keys {
		_, w := t.writes[string(k)]
		_, r := t.reads[string(k)]
		if !w && !r {
			ask = append(ask, t.s.prefix+string(k))
		}
	}
	if len(ask) > 0 {
		t.ops++
		vs, err := t.s.rdb.MGet(t.ctx, ask...).Result()
		if err != nil {
			return nil, t.fail(err)
		}
		for i, v := range vs {
			k := ask[i][len(t.s.prefix):]
			if s, ok := v.(string); ok {
				t.reads[k] = read{val: []byte(s)}
			} else {
				t.reads[k] = read{absent: true}
			}
		}
	}
	for i, k := range keys {
		v, err := t.Get(k)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (t *tx) Put(key, value []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	t.dropAdds(key)
	t.writes[string(key)] = &write{val: bytes.Clone(value)}
	if t.writes[string(key)].val == nil {
		t.writes[string(key)].val = []byte{}
	}
	return nil
}

func (t *tx) Delete(key []byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	t.dropAdds(key)
	t.writes[string(key)] = &write{del: true}
	return nil
}

// dropAdds forgets the pending adds to a key the transaction then writes.
func (t *tx) dropAdds(key []byte) {
	t.adds = slices.DeleteFunc(t.adds, func(a addOp) bool { return a.key == string(key) })
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

// Add implements kv.Tx: the commit script adds delta without the
// transaction having read the counter, so transactions adding to one
// counter do not conflict over it. A key the transaction already read or
// wrote is moved with Incr instead, so that what it saw stays
// consistent.
func (t *tx) Add(key []byte, delta int64) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	_, w := t.writes[string(key)]
	_, r := t.reads[string(key)]
	if w || r {
		_, err := kv.IncrWithGetPut(t, key, delta)
		return err
	}
	t.adds = append(t.adds, addOp{key: string(key), delta: delta})
	return nil
}

// Append implements kv.Tx: the commit script numbers the values from the
// counter, so transactions that append do not read it and do not
// conflict over it, and their numbers follow the order the scripts run
// in, which is commit order.
func (t *tx) Append(counter, prefix []byte, values ...[]byte) error {
	if t.ro {
		return kv.ErrReadOnly
	}
	if len(values) == 0 {
		return nil
	}
	vals := make([][]byte, len(values))
	for i, v := range values {
		vals[i] = bytes.Clone(v)
		if vals[i] == nil {
			vals[i] = []byte{}
		}
	}
	t.appends = append(t.appends, appendOp{counter: string(counter), prefix: string(prefix), vals: vals})
	return nil
}

// scanPage is the most keys one scan script returns.
const scanPage = 256

// Scan merges Redis's keys in the range, a page at a time, with the
// transaction's own writes.
func (t *tx) Scan(begin, end []byte, opt kv.ScanOptions, fn func(key, value []byte) bool) error {
	if begin == nil {
		begin = []byte{}
	}
	// The transaction's writes in the range, in the scan's order.
	var mine []string
	for k := range t.writes {
		if k >= string(begin) && (end == nil || k < string(end)) {
			mine = append(mine, k)
		}
	}
	slices.Sort(mine)
	if opt.Reverse {
		slices.Reverse(mine)
	}
	// The part of the range not yet fetched from Redis, as ZRANGEBYLEX
	// bounds: [lo, hi) forward, moving lo; the same in reverse, moving hi.
	lo, hi := "["+string(begin), "+"
	if end != nil {
		hi = "(" + string(end)
	}
	var (
		page    []string // keys of the current page not yet merged
		vals    [][]byte
		more    = true // Redis may hold more keys past the page
		seen    []string
		visited int
		stopped bool
	)
	for !stopped {
		if len(page) == 0 && more {
			ks, vs, err := t.scanPage(lo, hi, opt.Reverse, opt.KeysOnly)
			if err != nil {
				return err
			}
			page, vals, more = ks, vs, len(ks) == scanPage
			if len(ks) > 0 {
				if opt.Reverse {
					hi = "(" + ks[len(ks)-1]
				} else {
					lo = "(" + ks[len(ks)-1]
				}
			}
		}
		// The next key: Redis's or the transaction's, whichever comes first.
		var k string
		fromRedis := false
		switch {
		case len(page) > 0 && len(mine) > 0:
			if page[0] == mine[0] || before(page[0], mine[0], opt.Reverse) {
				k, fromRedis = page[0], true
			} else {
				k = mine[0]
			}
		case len(page) > 0:
			k, fromRedis = page[0], true
		case len(mine) > 0:
			k = mine[0]
		default:
			stopped = true
			continue
		}
		var v []byte
		if fromRedis {
			v = vals[0]
			page, vals = page[1:], vals[1:]
			seen = append(seen, k)
			if len(mine) > 0 && mine[0] == k {
				mine = mine[1:]
			}
			if _, ok := t.reads[k]; !ok && !opt.KeysOnly {
				t.reads[k] = read{val: v}
			}
		} else {
			mine = mine[1:]
		}
		if w, ok := t.writes[k]; ok {
			if w.del {
				continue
			}
			v = w.val
		} else if r, ok := t.reads[k]; ok && !opt.KeysOnly {
			v = r.val // a value read before stays what this transaction saw
		}
		if opt.KeysOnly {
			v = nil
		}
		visited++
		if !fn([]byte(k), v) || (opt.Limit > 0 && visited >= opt.Limit) {
			// The visited part ends at k; Redis's keys up to k were seen.
			t.remember(begin, end, k, true, seen, opt.Reverse)
			return nil
		}
	}
	t.remember(begin, end, "", false, seen, opt.Reverse)
	return nil
}

// before reports whether a comes before b in the scan's order.
func before(a, b string, reverse bool) bool {
	if reverse {
		return a > b
	}
	return a < b
}

// remember records a visited range: [begin, stop] (forward) or
// [stop, end) (reverse) when the scan stopped at stop, else [begin, end).
func (t *tx) remember(begin, end []byte, stop string, stopped bool, seen []string, reverse bool) {
	lo, hi := "["+string(begin), "+"
	if end != nil {
		hi = "(" + string(end)
	}
	if stopped {
		if reverse {
			lo = "[" + stop
		} else {
			hi = "[" + stop
		}
	}
	if reverse {
		slices.Reverse(seen)
	}
	t.ranges = append(t.ranges, scanned{lo: lo, hi: hi, sum: keysDigest(seen)})
}

// keysDigest is the digest the commit script computes over the keys of a
// range: SHA-1 of each key's length, ':', and the key, concatenated.
func keysDigest(keys []string) string {
	h := sha1.New()
	for _, k := range keys {
		h.Write([]byte(strconv.Itoa(len(k))))
		h.Write([]byte{':'})
		h.Write([]byte(k))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// scanPageScript returns up to ARGV[4] keys of the index between ARGV[2]
// and ARGV[3] (ZRANGEBYLEX bounds) in order (reversed when ARGV[5] is
// "1"), then, unless ARGV[6] is "1", their values: one atomic read.
var scanPageScript = redis.NewScript(`
local ks
if ARGV[5] == "1" then
  ks = redis.call("ZREVRANGEBYLEX", KEYS[1], ARGV[3], ARGV[2], "LIMIT", 0, tonumber(ARGV[4]))
else
  ks = redis.call("ZRANGEBYLEX", KEYS[1], ARGV[2], ARGV[3], "LIMIT", 0, tonumber(ARGV[4]))
end
if ARGV[6] == "1" or #ks == 0 then
  return {ks, {}}
end
local names = {}
for i, k in ipairs(ks) do names[i] = ARGV[1] .. k end
local vs = redis.call("MGET", unpack(names))
for i = 1, #vs do if not vs[i] then vs[i] = "" end end
return {ks, vs}
`)

func (t *tx) scanPage(lo, hi string, reverse, keysOnly bool) ([]string, [][]byte, error) {
	t.ops++
	res, err := scanPageScript.Run(t.ctx, t.s.rdb, []string{t.s.index},
		t.s.prefix, lo, hi, scanPage, flag(reverse), flag(keysOnly)).Slice()
	if err != nil {
		return nil, nil, t.fail(err)
	}
	if len(res) != 2 {
		return nil, nil, t.fail(fmt.Errorf("scan script answered %d items", len(res)))
	}
	ksAny, _ := res[0].([]any)
	vsAny, _ := res[1].([]any)
	ks := make([]string, len(ksAny))
	vs := make([][]byte, len(ksAny))
	for i := range ksAny {
		ks[i], _ = ksAny[i].(string)
		if !keysOnly && i < len(vsAny) {
			s, _ := vsAny[i].(string)
			vs[i] = []byte(s)
		}
	}
	return ks, vs, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// commitScript checks what a transaction read and, when nothing changed,
// applies its writes. KEYS: the index and the commit lock. ARGV: the
// value-key prefix; the lock's token if the caller holds it; the key of the
// commit's token, set for a minute when it applies (or ""); the number of values
// read, then for each its key and its SHA-1 ("" when it was absent); the
// number of ranges, then for each its ZRANGEBYLEX bounds and the digest of
// its keys; the number of writes, then for each "p" key value or "d" key;
// the number of blind adds, then for each its counter and its delta in
// decimal; the number of appends, then for each its counter, its prefix, the number
// of values and the values (numbered from the counter, which moves past
// them; a counter that is not 8 bytes fails the script before it writes).
// It answers 1 when it applied the writes, 0 on a conflict (or while
// another transaction holds the lock).
var commitScript = redis.NewScript(commitSource)

const commitSource = `
local p, idx = ARGV[1], KEYS[1]
local held = redis.call("GET", KEYS[2])
if held and held ~= ARGV[2] then return 0 end
local i = 4
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local v = redis.call("GET", p .. ARGV[i])
  if ARGV[i+1] == "" then
    if v then return 0 end
  elseif not v or redis.sha1hex(v) ~= ARGV[i+1] then
    return 0
  end
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local ks = redis.call("ZRANGEBYLEX", idx, ARGV[i], ARGV[i+1])
  local parts = {}
  for j, k in ipairs(ks) do parts[j] = #k .. ":" .. k end
  if redis.sha1hex(table.concat(parts)) ~= ARGV[i+2] then return 0 end
  i = i + 3
end
local function dec(c)
  if not c then return 0 end
  local neg = string.byte(c, 1) >= 128
  local n = 0
  for b = 1, 8 do
    local x = string.byte(c, b)
    if neg then x = 255 - x end
    n = n * 256 + x
  end
  if neg then n = -n - 1 end
  return n
end
local function enc(n)
  local neg = n < 0
  if neg then n = -n - 1 end
  local bs = {}
  for b = 8, 1, -1 do
    local x = n % 256
    if neg then x = 255 - x end
    bs[b] = string.char(x)
    n = math.floor(n / 256)
  end
  return table.concat(bs)
end
local function set(k, v)
  redis.call("SET", p .. k, v)
  redis.call("ZADD", idx, 0, k)
end
local nw = tonumber(ARGV[i])
local j = i + 1
for _ = 1, nw do
  if ARGV[j] == "p" then j = j + 3 else j = j + 2 end
end
local nd = tonumber(ARGV[j]); j = j + 1
local d = j
j = j + 2 * nd
local na = tonumber(ARGV[j]); j = j + 1
local c0 = {}
for x = d, d + 2 * nd - 1, 2 do c0[#c0 + 1] = ARGV[x] end
local a = j
for _ = 1, na do
  c0[#c0 + 1] = ARGV[a]
  a = a + 3 + tonumber(ARGV[a+2])
end
for _, k in ipairs(c0) do
  local c = redis.call("GET", p .. k)
  if c and #c ~= 8 then return redis.error_reply("counter holds " .. #c .. " bytes") end
end
i = i + 1
for _ = 1, nw do
  if ARGV[i] == "p" then
    set(ARGV[i+1], ARGV[i+2])
    i = i + 3
  else
    redis.call("DEL", p .. ARGV[i+1])
    redis.call("ZREM", idx, ARGV[i+1])
    i = i + 2
  end
end
for _ = 1, nd do
  set(ARGV[d], enc(dec(redis.call("GET", p .. ARGV[d])) + tonumber(ARGV[d+1])))
  d = d + 2
end
for _ = 1, na do
  local last = dec(redis.call("GET", p .. ARGV[j]))
  local cnt = tonumber(ARGV[j+2])
  for v = 1, cnt do
    set(ARGV[j+1] .. enc(last + v), ARGV[j+2+v])
  end
  set(ARGV[j], enc(last + cnt))
  j = j + 3 + cnt
end
if ARGV[3] ~= "" then redis.call("SET", ARGV[3], "1", "PX", 60000) end
return 1
`

// commit runs the commit script, with the writes when apply is set (else
// it only checks the reads). It reports whether nothing read had changed.
//
// A commit whose answer is lost (the connection dropped, the master
// failed over) may or may not have been applied; running the closure
// again could then see its own writes (a create finding its file). So an
// applying commit leaves a token that lives a minute, and a commit that
// failed for a transient reason asks whether its token is there: if it
// is, the commit was applied. With wait=N, the script and a WAIT go down
// one connection, and the commit counts only once N replicas have it.
func (t *tx) commit(apply bool) (bool, error) {
	tokenKey := ""
	if apply {
		tokenKey = t.s.token + strconv.FormatUint(rand.Uint64(), 36)
	}
	args := []any{t.s.prefix, t.token, tokenKey, len(t.reads)}
	for k, r := range t.reads {
		sum := ""
		if !r.absent {
			h := sha1.Sum(r.val)
			sum = hex.EncodeToString(h[:])
		}
		args = append(args, k, sum)
	}
	args = append(args, len(t.ranges))
	for _, r := range t.ranges {
		args = append(args, r.lo, r.hi, r.sum)
	}
	if apply {
		args = append(args, len(t.writes))
		for k, w := range t.writes {
			if w.del {
				args = append(args, "d", k)
			} else {
				args = append(args, "p", k, w.val)
			}
		}
		args = append(args, len(t.adds))
		for _, a := range t.adds {
			args = append(args, a.key, strconv.FormatInt(a.delta, 10))
		}
		args = append(args, len(t.appends))
		for _, a := range t.appends {
			args = append(args, a.counter, a.prefix, len(a.vals))
			for _, v := range a.vals {
				args = append(args, v)
			}
		}
	} else {
		args = append(args, 0, 0, 0)
	}
	keys := []string{t.s.index, t.s.lock}
	var n int
	var err error
	if apply && t.s.wait > 0 {
		n, err = t.s.commitAndWait(t.ctx, keys, args)
	} else {
		n, err = commitScript.Run(t.ctx, t.s.rdb, keys, args...).Int()
	}
	if err != nil && apply && transient(err) && !t.s.closed.Load() {
		if t.s.applied(t.ctx, tokenKey) {
			return true, nil
		}
	}
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// commitAndWait runs the commit script and a WAIT for the store's
// replicas on one connection to the master (WAIT counts the replicas that
// have the connection's last write), and answers the script's result once
// enough replicas have the commit, waiting up to outageLimit for them (a
// replica restarting after a failover). A commit applied on the master
// that no replica takes in that time is an error, not a conflict: it is
// not rerun.
func (s *Store) commitAndWait(ctx context.Context, keys []string, args []any) (int, error) {
	var node *redis.Client
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		var err error
		if node, err = c.MasterForKey(ctx, s.index); err != nil {
			return 0, err
		}
	case *redis.Client:
		node = c
	}
	conn := node.Conn()
	defer conn.Close()
	var res *redis.Cmd
	var wait *redis.Cmd
	_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		res = p.Eval(ctx, commitSource, keys, args...)
		wait = p.Do(ctx, "WAIT", s.wait, 1000)
		return nil
	})
	if res == nil || (err != nil && res.Err() == nil && wait.Err() == nil) {
		return 0, err
	}
	n, err := res.Int()
	if err != nil || n != 1 {
		return n, err
	}
	deadline := time.Now().Add(outageLimit)
	for {
		got, err := wait.Int()
		if err != nil {
			return 0, err
		}
		if got >= s.wait {
			return n, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("redis: a commit was applied on the master but %d replicas did not acknowledge it within %v (%d did)", s.wait, outageLimit, got)
		}
		wait = conn.Do(ctx, "WAIT", s.wait, 1000)
	}
}

// applied asks whether the commit that left tokenKey was applied,
// waiting out an outage for up to outageLimit.
func (s *Store) applied(ctx context.Context, tokenKey string) bool {
	deadline := time.Now().Add(outageLimit)
	for {
		n, err := s.rdb.Exists(ctx, tokenKey).Result()
		if err == nil {
			return n == 1
		}
		if !transient(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}
