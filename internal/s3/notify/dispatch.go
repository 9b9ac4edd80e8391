package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"cairn/internal/meta"
)

// Feed is the volume's change feed as a Dispatcher uses it (*meta.FS).
type Feed interface {
	FeedHead(ctx context.Context) (uint64, error)
	FeedOldest(ctx context.Context) (uint64, error)
	ReadFeedOps(ctx context.Context, after uint64, limit int, ops []meta.Op) ([]meta.Record, uint64, error)
	FeedPosition(ctx context.Context, name string) (uint64, bool, error)
	SetFeedPosition(ctx context.Context, name string, seq uint64) error
	TakeLease(ctx context.Context, name string, ttl time.Duration) (bool, error)
	DropLease(ctx context.Context, name string) error
}

// A Target receives the messages routed to it, one at a time.
type Target interface {
	// ARN names the target in bucket configurations.
	ARN() string
	// Send delivers m; an error wrapping ErrRejected says the target
	// refused this message (retrying will not help), any other that it
	// could not be reached.
	Send(ctx context.Context, m *Message) error
	Close() error
}

// A BatchTarget also takes several messages at once, in order (a Redis
// pipeline, one SQL transaction). An error means none of them may count
// as delivered: they are sent again one by one.
type BatchTarget interface {
	Target
	SendBatch(ctx context.Context, ms []*Message) error
}

// ErrRejected marks a delivery the target refused (a webhook's 4xx).
var ErrRejected = errors.New("notify: the target rejected the event")

// ConfigSource returns a bucket's notification configuration as stored
// (Config's JSON), or nil when it has none or no longer exists.
type ConfigSource func(ctx context.Context, bucket string) ([]byte, error)

// Options configure a Dispatcher.
type Options struct {
	Region string // awsRegion of the records; default us-east-1
	// VolumeRules returns the volume-wide rules (Config's JSON, nil:
	// none), which route the events of every bucket, s3:BucketCreated
	// and s3:BucketRemoved included; nil: none.
	VolumeRules func(ctx context.Context) ([]byte, error)
	// Retries is how many times an event a target rejects is sent before
	// it is skipped (logged with its sequence); default 3. Targets that
	// cannot be reached are retried for as long as they fail.
	Retries int
	// MinBackoff and MaxBackoff bound the wait between attempts (doubling
	// from the first to the second); defaults 100 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often a caught-up target looks for new records; default
	// 20 ms.
	Poll time.Duration
	// Workers is how many messages a target that takes them one at a
	// time (a webhook) is sent at once, each worker keeping the order of
	// the keys it has; default 8, 1 for strictly one at a time.
	Workers int
	// SaveEvery is how often a target's position is kept in the volume
	// while it delivers (a crash delivers again what followed the last
	// save; a stop saves at once); default 1 s.
	SaveEvery time.Duration
	// LeaseTerm is how long the delivery lease lasts without renewal: a
	// dispatcher that dies is replaced within it; default 10 s.
	LeaseTerm time.Duration
	Log       *slog.Logger
}

func (o *Options) defaults() {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Retries <= 0 {
		o.Retries = 3
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.SaveEvery <= 0 {
		o.SaveEvery = time.Second
	}
	if o.LeaseTerm <= 0 {
		o.LeaseTerm = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// A Dispatcher delivers each target's events from the change feed. With
// several gateways on one volume, the one holding the volume's delivery
// lease delivers; another takes over within Options.LeaseTerm of its end.
type Dispatcher struct {
	feed    Feed
	configs *configCache
	targets []*targetState
	opt     Options
	held    atomic.Bool
	window  window // the last records read, shared by the targets (read)
}

// targetState is one target's delivery and its figures.
type targetState struct {
	t Target
	// Figures (Status).
	pos, head         atomic.Uint64
	delivered, failed atomic.Uint64
	skipped, dropped  atomic.Uint64
	lastTime          atomic.Int64 // unix ns of the last delivered event
	lagNs             atomic.Int64 // its delay from the change
	mu                sync.Mutex
	lastErr           string
}

// New returns a Dispatcher for targets; Run starts it.
func New(feed Feed, configs ConfigSource, targets []Target, opt Options) *Dispatcher {
	opt.defaults()
	src := func(ctx context.Context, bucket string) ([]byte, error) {
		if bucket != "" {
			return configs(ctx, bucket)
		}
		if opt.VolumeRules == nil {
			return nil, nil
		}
		return opt.VolumeRules(ctx)
	}
	d := &Dispatcher{feed: feed, configs: newConfigCache(src), opt: opt}
	for _, t := range targets {
		d.targets = append(d.targets, &targetState{t: t})
	}
	return d
}

// posName is where a target's position is kept.
func posName(arn string) string { return "notify:" + arn }

// Run delivers until ctx ends, then gives up the lease and closes the
// targets.
func (d *Dispatcher) Run(ctx context.Context) {
	if len(d.targets) == 0 {
		return
	}
	// A target new to the volume gets the events from now on: its
	// position is the head as the first dispatcher to see it starts.
	for _, ts := range d.targets {
		for ctx.Err() == nil {
			p, err := d.startPosition(ctx, posName(ts.t.ARN()))
			if err == nil {
				ts.pos.Store(p)
				break
			}
			d.fail(ts, err)
			sleep(ctx, d.opt.MaxBackoff/10)
		}
	}
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, ts := range d.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.deliver(lctx, ts)
		}()
	}
	d.keepLease(ctx)
	stop()
	wg.Wait()
	bg, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if d.held.Load() {
		_ = d.feed.DropLease(bg, "notify")
	}
	for _, ts := range d.targets {
		_ = ts.t.Close()
	}
}

// keepLease takes and renews the delivery lease until ctx ends.
func (d *Dispatcher) keepLease(ctx context.Context) {
	t := time.NewTicker(d.opt.LeaseTerm / 4)
	defer t.Stop()
	for {
		held, err := d.feed.TakeLease(ctx, "notify", d.opt.LeaseTerm)
		if err != nil && ctx.Err() == nil {
			d.opt.Log.Warn("notify: renewing the delivery lease failed", "err", err)
			held = false
		}
		if held != d.held.Load() {
			if held {
				d.opt.Log.Info("notify: this gateway delivers the volume's events")
			} else {
				d.opt.Log.Info("notify: another gateway delivers the volume's events")
			}
		}
		d.held.Store(held)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deliver runs one target's delivery while the lease is held.
func (d *Dispatcher) deliver(ctx context.Context, ts *targetState) {
	name := posName(ts.t.ARN())
	loaded := false
	var pos, saved uint64
	var savedAt time.Time
	// save keeps the position in the volume: every Options.SaveEvery while
	// delivering (a crash delivers again at most what followed), and at
	// once when this dispatcher stops or loses the lease, so that whoever
	// goes on does not deliver again what was.
	save := func(now bool) {
		if !loaded || pos == saved || (!now && time.Since(savedAt) < d.opt.SaveEvery) {
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := d.feed.SetFeedPosition(sctx, name, pos); err != nil {
			d.fail(ts, err)
			return
		}
		saved, savedAt = pos, time.Now()
	}
	defer func() { save(true) }()
	for ctx.Err() == nil {
		if !d.held.Load() {
			save(true)
			loaded = false // another gateway may move it
			sleep(ctx, d.opt.Poll*5)
			continue
		}
		if !loaded {
			p, _, err := d.feed.FeedPosition(ctx, name)
			if err != nil {
				d.fail(ts, err)
				sleep(ctx, d.opt.MaxBackoff/10)
				continue
			}
			pos, saved, savedAt, loaded = p, p, time.Now(), true
			ts.pos.Store(pos)
		}
		recs, last, err := d.read(ctx, pos)
		if errors.Is(err, meta.ErrFeedTruncated) {
			pos = d.truncated(ctx, ts, pos)
			continue
		}
		if err != nil {
			d.fail(ts, err)
			sleep(ctx, d.opt.MaxBackoff/10)
			continue
		}
		if last == pos {
			if h, err := d.feed.FeedHead(ctx); err == nil {
				ts.head.Store(h)
			}
			save(false)
			sleep(ctx, d.opt.Poll)
			continue
		}
		ts.head.Store(max(ts.head.Load(), last))
		pos = d.deliverBatch(ctx, ts, recs, pos, last)
		ts.pos.Store(pos)
		save(false)
	}
}

// read returns the publish records after position after, with a mount's
// changes to files as the events they make (fsEvents), and the last
// record looked at. Targets share their reads: the records read last stay
// in a window (window) from which a target behind another takes what it
// needs, so that the feed is read and decoded once for all targets while
// they keep up.
func (d *Dispatcher) read(ctx context.Context, after uint64) ([]meta.Record, uint64, error) {
	if recs, last, ok := d.window.from(after); ok {
		return recs, last, nil
	}
	recs, last, err := d.feed.ReadFeedOps(ctx, after, readLimit, feedOps)
	recs = fsEvents(recs)
	if err == nil && last > after {
		lo := after
		for _, ts := range d.targets {
			lo = min(lo, ts.pos.Load())
		}
		d.window.add(after, last, recs, lo)
	}
	return recs, last, err
}

// readLimit is how many feed records one read looks at.
const readLimit = 1000

// windowMax bounds the records a window keeps.
const windowMax = 4 * readLimit

// window is the span of the change feed read last, (after, last]: recs
// holds every record of it a dispatcher wants (read's result), in order.
type window struct {
	mu          sync.Mutex
	after, last uint64
	recs        []meta.Record
}

// from returns the records after position p and the window's last, if the
// window covers p.
func (w *window) from(p uint64) ([]meta.Record, uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p < w.after || p >= w.last {
		return nil, 0, false
	}
	i, _ := slices.BinarySearchFunc(w.recs, p+1, func(r meta.Record, seq uint64) int { return cmp.Compare(r.Seq, seq) })
	return w.recs[i:len(w.recs):len(w.recs)], w.last, true
}

// add puts the records of (after, last] in the window: after the ones it
// has when they follow them, else in their place. Records at or before
// lo, the position of the target furthest behind, are dropped, and the
// oldest beyond windowMax.
func (w *window) add(after, last uint64, recs []meta.Record, lo uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if after == w.last && w.last > w.after {
		// Appending writes past the end of every slice from has given.
		w.recs = append(w.recs, recs...)
	} else {
		w.after, w.recs = after, recs
	}
	w.last = last
	if n := len(w.recs) - windowMax; n > 0 {
		lo = max(lo, w.recs[n-1].Seq)
	}
	if lo > w.after {
		i, _ := slices.BinarySearchFunc(w.recs, lo+1, func(r meta.Record, seq uint64) int { return cmp.Compare(r.Seq, seq) })
		w.after, w.recs = min(lo, w.last), w.recs[i:]
	}
}

// startPosition is where a target resumes: its stored position, or, for
// a target new to the volume, the feed's head, stored.
func (d *Dispatcher) startPosition(ctx context.Context, name string) (uint64, error) {
	p, ok, err := d.feed.FeedPosition(ctx, name)
	if err != nil || ok {
		return p, err
	}
	h, err := d.feed.FeedHead(ctx)
	if err != nil {
		return 0, err
	}
	return h, d.feed.SetFeedPosition(ctx, name, h)
}

// truncated handles a position the feed's retention passed: the events in
// between are lost, and said so.
func (d *Dispatcher) truncated(ctx context.Context, ts *targetState, pos uint64) uint64 {
	oldest, err := d.feed.FeedOldest(ctx)
	if err != nil {
		d.fail(ts, err)
		sleep(ctx, d.opt.MaxBackoff/10)
		return pos
	}
	lost := oldest - 1 - pos
	ts.dropped.Add(lost)
	msg := fmt.Sprintf("the change feed's retention passed this target's backlog: records %d to %d dropped", pos+1, oldest-1)
	d.opt.Log.Error("notify: "+msg, "target", ts.t.ARN())
	ts.setErr(msg)
	return oldest - 1
}

// maxBatch bounds the messages given to a BatchTarget at once.
const maxBatch = 256

// deliverBatch delivers what recs (the publish records up to last) hold
// for ts, in order, and returns the new position: the last record done
// with (delivered, skipped, or not for ts), last when all are. It stops early when the dispatcher stops or loses the lease.
// Messages go to a BatchTarget up to maxBatch at a time (a backlog drains
// in few round trips; a live stream has one at a time anyway).
func (d *Dispatcher) deliverBatch(ctx context.Context, ts *targetState, recs []meta.Record, pos, last uint64) uint64 {
	var batch []*Message
	var end uint64 // the last record the batch covers
	flush := func() bool {
		done, ok := d.sendAll(ctx, ts, batch)
		if ok {
			pos = end
		} else if done > pos {
			pos = done
		}
		batch = batch[:0]
		return ok
	}
	for i := range recs {
		if !d.held.Load() || ctx.Err() != nil {
			return pos
		}
		m, ok := d.message(ctx, ts, &recs[i])
		if !ok {
			return pos
		}
		if m != nil {
			batch = append(batch, m)
		}
		end = recs[i].Seq
		if len(batch) == maxBatch && !flush() {
			return pos
		}
	}
	if end = last; !flush() {
		return pos
	}
	return last
}

// sendAll delivers ms in order: at once when ts takes batches, one by one
// (with send's retries) otherwise or when the batch failed. It returns
// whether all are done with, and if not, the sequence of the last one
// that is.
func (d *Dispatcher) sendAll(ctx context.Context, ts *targetState, ms []*Message) (uint64, bool) {
	if len(ms) == 0 {
		return 0, true
	}
	if bt, ok := ts.t.(BatchTarget); ok && len(ms) > 1 {
		sctx, done := drainCtx(ctx)
		err := bt.SendBatch(sctx, ms)
		done()
		if err == nil {
			ts.delivered.Add(uint64(len(ms)))
			last := ms[len(ms)-1]
			ts.lastTime.Store(last.Time.UnixNano())
			ts.lagNs.Store(time.Since(last.Time).Nanoseconds())
			return last.Seq, true
		}
		if ctx.Err() != nil {
			return 0, false
		}
		d.fail(ts, err) // then one by one, each with its retries
	}
	if len(ms) == 1 || d.opt.Workers == 1 {
		var done uint64
		for _, m := range ms {
			if !d.send(ctx, ts, m) {
				return done, false
			}
			done = m.Seq
		}
		return done, true
	}
	// Several at a time: each worker takes the messages of some keys, in
	// order, so events of one key still arrive in the order they happened.
	w := min(d.opt.Workers, len(ms))
	ok := make([]bool, len(ms))
	var wg sync.WaitGroup
	for i := range w {
		wg.Go(func() {
			for j, m := range ms {
				if int(keyHash(m.Path)%uint32(w)) != i {
					continue
				}
				if !d.send(ctx, ts, m) {
					return
				}
				ok[j] = true
			}
		})
	}
	wg.Wait()
	var done uint64
	for j, m := range ms {
		if !ok[j] {
			return done, false
		}
		done = m.Seq
	}
	return done, true
}

// drainGrace is how long a send under way may still take once the
// dispatcher stops.
const drainGrace = 5 * time.Second

// drainCtx returns the context of one send: it ends drainGrace after ctx
// does, so that a send the target may already have received when the
// dispatcher stops can finish and count, and the position saved at the
// stop includes it (else whoever goes on sends it again).
func drainCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var timer *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = time.AfterFunc(drainGrace, cancel)
		mu.Unlock()
	})
	return sctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// keyHash spreads keys over workers (FNV-1a).
func keyHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// message returns the message of rec for ts, or nil if no rule of its
// bucket, nor of the volume-wide rules, routes it there. It reports
// false when the dispatcher stopped before it could tell.
func (d *Dispatcher) message(ctx context.Context, ts *targetState, rec *meta.Record) (*Message, bool) {
	if rec.S3 == nil {
		return nil, true
	}
	rule, ok := d.rule(ctx, ts, rec.S3.Bucket, rec)
	if rule == nil && ok {
		rule, ok = d.rule(ctx, ts, "", rec)
	}
	if rule == nil {
		return nil, ok
	}
	m, err := NewMessage(rec, d.opt.Region, rule.ID)
	if err != nil {
		d.opt.Log.Error("notify: an event could not be encoded; skipped", "target", ts.t.ARN(), "seq", rec.Seq, "err", err)
		ts.skipped.Add(1)
		return nil, true
	}
	return &m, true
}

// rule returns the rule of bucket's configuration ("": the volume-wide
// rules, Options.VolumeRules) that routes rec to ts, if one does; false if the dispatcher
// stopped before it could tell.
func (d *Dispatcher) rule(ctx context.Context, ts *targetState, bucket string, rec *meta.Record) (*Rule, bool) {
	cfg, err := d.configs.get(ctx, bucket)
	for err != nil {
		if ctx.Err() != nil {
			return nil, false
		}
		d.fail(ts, err)
		sleep(ctx, d.opt.MinBackoff)
		cfg, err = d.configs.get(ctx, bucket)
	}
	if cfg == nil {
		return nil, true
	}
	return cfg.ruleFor(rec.S3.Event, rec.S3.Key, ts.t.ARN()), true
}

// send delivers m, retrying with backoff: without end while the target
// cannot be reached, Options.Retries times when it rejects m. It reports
// whether m is done with (false: the dispatcher stopped first).
func (d *Dispatcher) send(ctx context.Context, ts *targetState, m *Message) bool {
	wait := d.opt.MinBackoff
	rejected := 0
	for ctx.Err() == nil && d.held.Load() {
		sctx, done := drainCtx(ctx)
		err := ts.t.Send(sctx, m)
		done()
		if err == nil {
			ts.delivered.Add(1)
			ts.lastTime.Store(m.Time.UnixNano())
			ts.lagNs.Store(time.Since(m.Time).Nanoseconds())
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		d.fail(ts, err)
		if errors.Is(err, ErrRejected) {
			if rejected++; rejected >= d.opt.Retries {
				ts.skipped.Add(1)
				d.opt.Log.Error("notify: the target rejected an event; skipped", "target", ts.t.ARN(), "seq", m.Seq, "event", m.Event, "bucket", m.Bucket, "key", m.Key, "err", err)
				return true
			}
		}
		sleep(ctx, wait)
		wait = min(wait*2, d.opt.MaxBackoff)
	}
	return false
}

func (d *Dispatcher) fail(ts *targetState, err error) {
	ts.failed.Add(1)
	ts.setErr(err.Error())
	d.opt.Log.Warn("notify: delivery failed", "target", ts.t.ARN(), "err", err)
}

func (ts *targetState) setErr(s string) {
	ts.mu.Lock()
	ts.lastErr = s
	ts.mu.Unlock()
}

// Status is a target's delivery state.
type Status struct {
	ARN string `json:"arn"`
	// Position is the last feed record handled; Head the newest seen.
	Position  uint64 `json:"position"`
	Head      uint64 `json:"head"`
	Delivered uint64 `json:"delivered"`
	// Failed counts failed attempts; Skipped events given up after the
	// target rejected them; Dropped feed records lost to retention.
	Failed  uint64 `json:"failed"`
	Skipped uint64 `json:"skipped"`
	Dropped uint64 `json:"dropped"`
	// Lag is the delay of the last delivered event after its change.
	Lag       time.Duration `json:"lag_ns"`
	LastError string        `json:"last_error,omitempty"`
	// Active says this gateway holds the delivery lease.
	Active bool `json:"active"`
}

// Backlog is the number of feed records the target has yet to look at.
func (s Status) Backlog() uint64 { return s.Head - min(s.Position, s.Head) }

// Status returns each target's delivery state.
func (d *Dispatcher) Status() []Status {
	out := make([]Status, 0, len(d.targets))
	for _, ts := range d.targets {
		ts.mu.Lock()
		e := ts.lastErr
		ts.mu.Unlock()
		out = append(out, Status{ARN: ts.t.ARN(), Position: ts.pos.Load(), Head: ts.head.Load(),
			Delivered: ts.delivered.Load(), Failed: ts.failed.Load(), Skipped: ts.skipped.Load(), Dropped: ts.dropped.Load(),
			Lag: time.Duration(ts.lagNs.Load()), LastError: e, Active: d.held.Load()})
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// configCache keeps each bucket's parsed configuration while its stored
// form stays the same.
type configCache struct {
	src ConfigSource
	mu  sync.Mutex
	m   map[string]cachedConfig
}

type cachedConfig struct {
	raw string
	cfg *Config
}

func newConfigCache(src ConfigSource) *configCache {
	return &configCache{src: src, m: map[string]cachedConfig{}}
}

func (c *configCache) get(ctx context.Context, bucket string) (*Config, error) {
	raw, err := c.src(ctx, bucket)
	if err != nil || raw == nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[bucket]; ok && e.raw == string(raw) {
		return e.cfg, nil
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("notify: bucket %s: stored configuration: %w", bucket, err)
	}
	c.m[bucket] = cachedConfig{raw: string(raw), cfg: &cfg}
	return &cfg, nil
}
