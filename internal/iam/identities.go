package iam

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"cairn/internal/iam/policy"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// More errors.
var (
	ErrNoSuchUser    = errors.New("iam: no such user")
	ErrNoSuchGroup   = errors.New("iam: no such group")
	ErrNoSuchPolicy  = errors.New("iam: no such policy")
	ErrNoSuchKey     = errors.New("iam: no such service account or access key")
	ErrExists        = errors.New("iam: already exists")
	ErrInvalid       = errors.New("iam: invalid argument")
	ErrGroupNotEmpty = errors.New("iam: the group has members")
	ErrPolicyInUse   = errors.New("iam: the policy is attached")
	// ErrLockedOut is a key refused after too many failed
	// authentications, until its lockout ends.
	ErrLockedOut = errors.New("iam: too many failed authentications; try again later")
)

// Options configure an Identities. The zero value means the defaults.
type Options struct {
	// IDBase is the first uid and gid handed to users and groups (default
	// 10000): each user gets a uid and a private primary group with the
	// same number, each group a gid, from one counter.
	IDBase uint32
	// PollInterval is how often changes made by other processes are
	// looked for (default 500 ms); negative disables polling.
	PollInterval time.Duration
	// LockoutThreshold failed authentications of one key lock it out for
	// LockoutDuration (defaults 5 and 15 minutes); a negative threshold
	// disables lockout.
	LockoutThreshold int
	LockoutDuration  time.Duration
	// RequireBoth makes a request by a user that a bucket policy covers
	// need an allow from the user's policies and from the bucket's (as
	// MyFSIO decides); by default, within one account as AWS decides,
	// either allow suffices. An explicit deny wins either way.
	RequireBoth bool
	// OneIdentity, when set, is the POSIX identity every principal but
	// root runs as, for deployments that do not map users to uids.
	OneIdentity *posix.Cred
	Logger      *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Identities resolves access keys to principals, authorizes their
// requests and manages users, groups, keys and policies. It is safe for
// concurrent use; Close stops its polling.
type Identities struct {
	store kv.Store // nil: root only (NewIdentities)
	key   MasterKey
	root  *Principal
	opt   Options
	log   *slog.Logger

	mu       sync.Mutex
	gen      int64                     // the change counter the cache is of
	cache    map[string]*cachedKey     // by access key
	policies map[string]*policy.Policy // compiled, by name
	buckets  map[string]*policy.Policy // bucket policies (nil: none), by bucket
	names    map[uint32]string         // user names by uid (nil: not read yet)
	failures map[string]*failures      // by access key

	stop chan struct{}
	done chan struct{}
}

type cachedKey struct {
	p      *Principal
	secret string
	err    error // a key known to be unusable (disabled), kept as well
}

type failures struct {
	count int
	until time.Time
}

// NewIdentities returns the identities of a volume that has only its root
// user, with credentials c (tests, and tools that need no users).
func NewIdentities(root Credentials) *Identities {
	return &Identities{root: rootPrincipal(root), opt: Options{LockoutThreshold: -1, Now: time.Now}, log: slog.New(slog.DiscardHandler)}
}

func rootPrincipal(c Credentials) *Principal {
	return &Principal{AccessKey: c.AccessKey, Kind: KindRoot, User: RootName, Cred: posix.Root, secret: c.SecretKey}
}

// Open returns the identities stored in store, sealed with key, whose
// root user has credentials root (from SetupRoot).
func Open(ctx context.Context, store kv.Store, key MasterKey, root Credentials, opt Options) (*Identities, error) {
	if opt.IDBase == 0 {
		opt.IDBase = 10000
	}
	if opt.PollInterval == 0 {
		opt.PollInterval = 500 * time.Millisecond
	}
	if opt.LockoutThreshold == 0 {
		opt.LockoutThreshold = 5
	}
	if opt.LockoutDuration == 0 {
		opt.LockoutDuration = 15 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	i := &Identities{store: store, key: key, root: rootPrincipal(root), opt: opt, log: opt.Logger,
		stop: make(chan struct{}), done: make(chan struct{})}
	gen, err := i.readGen(ctx)
	if err != nil {
		return nil, err
	}
	i.reset(gen)
	if err := i.loadLockouts(ctx); err != nil {
		return nil, err
	}
	if opt.PollInterval > 0 {
		go i.poll()
	} else {
		close(i.done)
	}
	return i, nil
}

// Close stops watching for changes.
func (i *Identities) Close() error {
	if i.stop != nil {
		select {
		case <-i.stop:
		default:
			close(i.stop)
		}
		<-i.done
	}
	return nil
}

func (i *Identities) readGen(ctx context.Context) (int64, error) {
	var gen int64
	err := i.store.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(genKey)
		if errors.Is(err, kv.ErrNotFound) {
			gen = 0
			return nil
		}
		if err != nil {
			return err
		}
		gen, err = decodeCounter(b)
		return err
	})
	return gen, err
}

// decodeCounter reads a kv counter's value (8 bytes big-endian, as
// kv.Tx.Incr stores it).
func decodeCounter(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("iam: change counter of %d bytes", len(b))
	}
	var n int64
	for _, c := range b {
		n = n<<8 | int64(c)
	}
	return n, nil
}

// reset drops the caches, now of generation gen.
func (i *Identities) reset(gen int64) {
	i.mu.Lock()
	i.gen = gen
	i.cache = map[string]*cachedKey{}
	i.policies = map[string]*policy.Policy{}
	i.buckets = map[string]*policy.Policy{}
	i.names = nil
	i.mu.Unlock()
}

func (i *Identities) poll() {
	defer close(i.done)
	t := time.NewTicker(i.opt.PollInterval)
	defer t.Stop()
	// A read under way ends with Close: an engine that does not answer
	// must not hold up the shutdown for the read's whole timeout.
	stopped, stopAll := context.WithCancel(context.Background())
	defer stopAll()
	go func() {
		select {
		case <-i.stop:
			stopAll()
		case <-stopped.Done():
		}
	}()
	for {
		select {
		case <-i.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(stopped, 10*time.Second)
		gen, err := i.readGen(ctx)
		cancel()
		if err != nil {
			i.log.Warn("iam: cannot read the change counter", "err", err)
			continue
		}
		i.mu.Lock()
		stale := gen != i.gen
		i.mu.Unlock()
		if stale {
			i.reset(gen)
			ctx, cancel := context.WithTimeout(stopped, 10*time.Second)
			if err := i.loadLockouts(ctx); err != nil {
				i.log.Warn("iam: cannot read the shared lockouts", "err", err)
			}
			cancel()
		}
	}
}

// Lookup returns the principal whose access key is accessKey, and its
// secret: ErrUnknownKey when there is none, ErrDisabled, ErrExpired,
// ErrLockedOut.
func (i *Identities) Lookup(ctx context.Context, accessKey string) (*Principal, string, error) {
	if err := i.lockedOut(accessKey); err != nil {
		return nil, "", err
	}
	if subtle.ConstantTimeCompare([]byte(accessKey), []byte(i.root.AccessKey)) == 1 {
		return i.root, i.root.secret, nil
	}
	if i.store == nil {
		return nil, "", ErrUnknownKey
	}
	i.mu.Lock()
	c, ok := i.cache[accessKey]
	gen := i.gen
	i.mu.Unlock()
	if !ok {
		c = &cachedKey{}
		c.p, c.secret, c.err = i.load(ctx, accessKey)
		if c.err != nil && !errors.Is(c.err, ErrUnknownKey) && !errors.Is(c.err, ErrDisabled) {
			return nil, "", c.err // the store failed: nothing to keep
		}
		i.mu.Lock()
		if i.gen == gen {
			i.cache[accessKey] = c
		}
		i.mu.Unlock()
	}
	if c.err != nil {
		return nil, "", c.err
	}
	if !c.p.Expires.IsZero() && !i.opt.Now().Before(c.p.Expires) {
		return nil, "", ErrExpired
	}
	return c.p, c.secret, nil
}

// Failed records a failed authentication with accessKey from source; the
// key is locked out once it has failed LockoutThreshold times in a row,
// here and, through the store, on every gateway of the volume.
func (i *Identities) Failed(accessKey, source string) {
	rec, share := i.countFailure(accessKey, source)
	if !share {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := i.shareLockout(ctx, rec); err != nil {
		i.log.Warn("iam: cannot share a lockout with the other gateways", "access_key", accessKey, "err", err)
	}
}

// countFailure counts one failure of accessKey and tells whether it
// locked the key out in a way to share with the other gateways.
func (i *Identities) countFailure(accessKey, source string) (lockRecord, bool) {
	if i.opt.LockoutThreshold < 0 || accessKey == "" {
		return lockRecord{}, false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.failures == nil {
		i.failures = map[string]*failures{}
	}
	f := i.failures[accessKey]
	if f == nil {
		if len(i.failures) > 100_000 { // a flood of made-up keys: forget the oldest news
			clear(i.failures)
		}
		f = &failures{}
		i.failures[accessKey] = f
	}
	f.count++
	if f.count < i.opt.LockoutThreshold {
		return lockRecord{}, false
	}
	f.until = i.opt.Now().Add(i.opt.LockoutDuration)
	f.count = 0
	i.log.Warn("iam: access key locked out after failed authentications", "access_key", accessKey, "source", source, "until", f.until)
	// Only keys that exist are shared: a flood of made-up keys writes
	// nothing to the store.
	c, cached := i.cache[accessKey]
	known := (cached && c.err == nil) || accessKey == i.root.AccessKey
	return lockRecord{AccessKey: accessKey, Until: f.until, Source: source}, i.store != nil && known
}

// shareLockout stores a lockout (dropping those that ended) and moves the
// change counter, so that every gateway polling it refuses the key too.
func (i *Identities) shareLockout(ctx context.Context, rec lockRecord) error {
	now := i.opt.Now()
	return i.update(ctx, func(tx kv.Tx) error {
		var ended [][]byte
		if err := scanRecords(tx, famLock, func(r lockRecord) {
			if !now.Before(r.Until) && r.AccessKey != rec.AccessKey {
				ended = append(ended, ikey(famLock, r.AccessKey))
			}
		}); err != nil {
			return err
		}
		for _, k := range ended {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return putJSON(tx, ikey(famLock, rec.AccessKey), rec)
	})
}

// loadLockouts adopts the lockouts other gateways stored that have not
// ended.
func (i *Identities) loadLockouts(ctx context.Context) error {
	if i.store == nil || i.opt.LockoutThreshold < 0 {
		return nil
	}
	var recs []lockRecord
	err := i.store.View(ctx, func(tx kv.Tx) error {
		recs = recs[:0]
		return scanRecords(tx, famLock, func(r lockRecord) { recs = append(recs, r) })
	})
	if err != nil {
		return err
	}
	now := i.opt.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, r := range recs {
		if !now.Before(r.Until) {
			continue
		}
		if i.failures == nil {
			i.failures = map[string]*failures{}
		}
		f := i.failures[r.AccessKey]
		if f == nil {
			f = &failures{}
			i.failures[r.AccessKey] = f
		}
		if r.Until.After(f.until) {
			f.until, f.count = r.Until, 0
		}
	}
	return nil
}

// Succeeded clears accessKey's failed authentications.
func (i *Identities) Succeeded(accessKey string) {
	i.mu.Lock()
	if f := i.failures[accessKey]; f != nil && f.until.IsZero() {
		delete(i.failures, accessKey)
	}
	i.mu.Unlock()
}

func (i *Identities) lockedOut(accessKey string) error {
	if i.opt.LockoutThreshold < 0 {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	f := i.failures[accessKey]
	if f == nil || f.until.IsZero() {
		return nil
	}
	if i.opt.Now().Before(f.until) {
		return ErrLockedOut
	}
	delete(i.failures, accessKey)
	return nil
}

// load builds the principal of accessKey from the store.
func (i *Identities) load(ctx context.Context, accessKey string) (*Principal, string, error) {
	var (
		k      keyRecord
		u      userRecord
		groups []groupRecord
		docs   = map[string][]byte{}
	)
	err := i.store.View(ctx, func(tx kv.Tx) error {
		groups = groups[:0]
		clear(docs)
		if err := getOr(tx, ikey(famKey, accessKey), &k, ErrUnknownKey); err != nil {
			return err
		}
		if k.User == RootName {
			return nil
		}
		if err := getOr(tx, ikey(famUser, k.User), &u, ErrUnknownKey); err != nil {
			return err
		}
		names := append([]string(nil), u.Policies...)
		for _, g := range u.Groups {
			var gr groupRecord
			if err := getJSON(tx, ikey(famGroup, g), &gr); err != nil {
				if errors.Is(err, kv.ErrNotFound) {
					continue
				}
				return err
			}
			groups = append(groups, gr)
			if gr.Status != Disabled {
				names = append(names, gr.Policies...)
			}
		}
		for _, n := range names {
			if _, ok := policy.Builtin(n); ok {
				continue
			}
			if _, ok := docs[n]; ok {
				continue
			}
			b, err := tx.Get(ikey(famPolicy, n))
			if errors.Is(err, kv.ErrNotFound) {
				continue // detached meanwhile
			}
			if err != nil {
				return err
			}
			docs[n] = b
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	secret, err := i.key.open(k.Sealed, ikey(famKey, accessKey))
	if err != nil {
		return nil, "", err
	}
	p := &Principal{AccessKey: accessKey, Kind: k.Kind, User: k.User, Expires: k.Expires, secret: secret}
	if k.Status == Disabled {
		return nil, "", ErrDisabled
	}
	if len(k.Policy) > 0 {
		if p.narrow, err = policy.Parse(k.Policy); err != nil {
			return nil, "", fmt.Errorf("iam: the stored policy of %s does not parse: %w", accessKey, err)
		}
	}
	if k.TokenSealed != "" {
		if p.token, err = i.key.open(k.TokenSealed, append(ikey(famKey, accessKey), '#')); err != nil {
			return nil, "", err
		}
	}
	if k.User == RootName { // a service account or session of the root user
		p.Cred = posix.Root
		admin, _ := policy.Builtin("consoleAdmin")
		p.policies = []*policy.Policy{admin}
		return p, secret, nil
	}
	if u.Status == Disabled {
		return nil, "", ErrDisabled
	}
	if !u.Expires.IsZero() && (p.Expires.IsZero() || u.Expires.Before(p.Expires)) {
		p.Expires = u.Expires
	}
	p.Cred = posix.Cred{UID: u.UID, GID: u.GID}
	for _, g := range groups {
		p.Cred.Groups = append(p.Cred.Groups, g.GID)
	}
	if o := i.opt.OneIdentity; o != nil {
		p.Cred = *o
	}
	names := append([]string(nil), u.Policies...)
	for _, g := range groups {
		if g.Status != Disabled {
			names = append(names, g.Policies...)
		}
	}
	for _, n := range names {
		if pol, err := i.compiled(n, docs[n]); err == nil && pol != nil {
			p.policies = append(p.policies, pol)
		} else if err != nil {
			i.log.Error("iam: a stored policy does not parse; it grants nothing", "policy", n, "err", err)
		}
	}
	return p, secret, nil
}

// compiled returns policy name, compiled once per cache generation.
func (i *Identities) compiled(name string, doc []byte) (*policy.Policy, error) {
	if p, ok := policy.Builtin(name); ok {
		return p, nil
	}
	if doc == nil {
		return nil, nil
	}
	i.mu.Lock()
	p, ok := i.policies[name]
	i.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := policy.ParseAny(doc)
	if err != nil {
		return nil, err
	}
	i.mu.Lock()
	i.policies[name] = p
	i.mu.Unlock()
	return p, nil
}

// update runs fn in a write transaction that also moves the change
// counter, and drops this process's cache once it committed.
func (i *Identities) update(ctx context.Context, fn func(tx kv.Tx) error) error {
	if i.store == nil {
		return fmt.Errorf("iam: this gateway has no identity store")
	}
	var gen int64
	err := i.store.Update(ctx, func(tx kv.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		n, err := tx.Incr(genKey, 1)
		gen = n
		return err
	})
	if err == nil {
		i.reset(gen)
	}
	return err
}
