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
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

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
		return nil, fmt.Errorf("redis: bad META-URL: %v", kv.RedactText(metaURL, err.Error()))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redis: %q is not a redis:// or rediss:// URL", kv.RedactURL(metaURL))
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
			opt.MaintNotificationsConfig = noMaintNotifications()
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
		return nil, fmt.Errorf("redis: cannot reach the metadata store at %s: %w", kv.RedactURL(metaURL), err)
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
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: parts, Username: user, Password: pass, TLSConfig: tlsConf,
		MaintNotificationsConfig: noMaintNotifications()}), "cluster", nil
}

// noMaintNotifications turns off go-redis's maintenance notifications (a
// Redis Cloud/Enterprise handshake). Left on "auto", a server without
// them (any Debian redis-server) makes go-redis v9.23 switch them off on
// the first connection by writing shared options while another
// connection made by Conn() reads them: a data race the race detector
// reports under load.
func noMaintNotifications() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
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
	if err := kv.RunClosure("redis", fn, t); err != nil {
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
