package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"cairn/internal/adminapi"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/nats"
	"cairn/internal/s3/notify/redis"
	"cairn/internal/s3/notify/sqltarget"
	"cairn/internal/s3/notify/webhook"
	"cairn/internal/s3/s3fs"
)

// envTargets reads the notification targets the environment defines
// (MinIO's MINIO_NOTIFY_* variables, or CAIRN_NOTIFY_*), each checked by
// building it (which reaches nothing).
func envTargets(environ []string) ([]notify.TargetConfig, error) {
	cfgs, err := notify.TargetsFromEnv(environ)
	if err != nil {
		return nil, err
	}
	for _, c := range cfgs {
		t, err := newTarget(c)
		if err != nil {
			return nil, fmt.Errorf("notification target %s: %w", c.ARN(), err)
		}
		t.Close()
	}
	return cfgs, nil
}

func newTarget(c notify.TargetConfig) (notify.Target, error) {
	p := c.Params
	maxOpen := 0
	if v := p["max_open_connections"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("max_open_connections %q: a number of connections, 0 for no limit", v)
		}
		maxOpen = n
	}
	switch c.Type {
	case "webhook":
		cfg := webhook.Config{ID: c.ID, Endpoint: p["endpoint"], AuthToken: p["auth_token"]}
		if p["client_cert"] != "" || p["client_key"] != "" {
			cert, err := tls.LoadX509KeyPair(p["client_cert"], p["client_key"])
			if err != nil {
				return nil, fmt.Errorf("client certificate: %w", err)
			}
			cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		return webhook.New(cfg)
	case "redis":
		return redis.New(redis.Config{ID: c.ID, Address: p["address"], Key: p["key"], Format: p["format"], User: p["user"], Password: p["password"]})
	case "postgres":
		return sqltarget.New(sqltarget.Config{ID: c.ID, Engine: "postgres", DSN: p["connection_string"], Table: p["table"], Format: p["format"], MaxOpen: maxOpen})
	case "mysql":
		return sqltarget.New(sqltarget.Config{ID: c.ID, Engine: "mysql", DSN: p["dsn_string"], Table: p["table"], Format: p["format"], MaxOpen: maxOpen})
	case "nats":
		return nats.New(nats.Config{ID: c.ID, Address: p["address"], Subject: p["subject"], Username: p["username"], Password: p["password"],
			Token: p["token"], JetStream: notify.On(p["jetstream"])})
	}
	return nil, fmt.Errorf("cairn does not deliver to %s targets (it delivers to webhook, redis, postgres, mysql and nats)", c.Type)
}

// notifier is the server's event delivery: the targets the environment
// defines, and those an administrator adds at run time (kept in the
// volume, so every gateway on it delivers to the same ones), with the
// volume-wide rules. It runs one dispatcher over all of them, started
// again when the stored targets change (positions are kept in the
// volume, so nothing is delivered twice or skipped by the restart).
type notifier struct {
	env     []notify.TargetConfig
	store   *notify.Store
	feed    notify.Feed
	configs notify.ConfigSource
	region  string
	log     *slog.Logger

	arns  atomic.Pointer[[]string]
	rules atomic.Pointer[volumeRules]

	mu      sync.Mutex // the running dispatcher
	d       *notify.Dispatcher
	stopD   func()
	running string // the stored targets it runs with (their JSON)
	stop    func()
}

// volumeRules are the volume-wide rules as last read.
type volumeRules struct {
	raw         []byte
	wantsAccess bool
}

// notifyReload is how often a gateway looks for targets and rules
// another gateway (or admin call) changed.
const notifyReload = 2 * time.Second

// startNotify starts delivering bucket events to the environment's and
// the volume's targets.
func startNotify(ctx context.Context, v *volume, backend *s3fs.FS, region string, reg prometheus.Registerer, log *slog.Logger) (*notifier, error) {
	// go-redis reports its connection retries itself: to the log, at
	// debug (the dispatcher logs each failed delivery).
	goredis.SetLogger(redisLog{log})
	env, err := envTargets(os.Environ())
	if err != nil {
		return nil, err
	}
	n := &notifier{env: env, store: notify.NewStore(v.store), feed: v.meta, region: region, log: log}
	n.configs = backend.BucketNotification
	n.rules.Store(&volumeRules{})
	n.arns.Store(&[]string{})
	if err := n.reload(ctx); err != nil {
		return nil, err
	}
	reg.MustRegister(notifyCollector{n.Status})
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(notifyReload)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := n.reload(ctx); err != nil && ctx.Err() == nil {
				log.Warn("reading the notification targets failed", "err", err)
			}
		}
	})
	n.stop = func() {
		cancel()
		wg.Wait()
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.stopD != nil {
			n.stopD()
		}
	}
	return n, nil
}

// reload reads the stored targets and rules and, when the targets
// changed, starts the dispatcher again with them.
func (n *notifier) reload(ctx context.Context) error {
	stored, err := n.store.Targets(ctx)
	if err != nil {
		return err
	}
	raw, err := n.store.Rules(ctx)
	if err != nil {
		return err
	}
	vr := &volumeRules{raw: raw}
	if raw != nil {
		var c notify.Config
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("the volume-wide notification rules: %w", err)
		}
		vr.wantsAccess = c.Wants("ObjectAccessed:")
	}
	n.rules.Store(vr)
	sig, _ := json.Marshal(stored)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.d != nil && string(sig) == n.running {
		return nil
	}
	var targets []notify.Target
	var arns []string
	for _, c := range append(slices.Clone(n.env), stored...) {
		if !enabled(c) {
			continue
		}
		t, err := newTarget(c)
		if err != nil {
			// Stored targets were built once when they were added: this
			// one refers to something gone (a certificate file).
			n.log.Error("a notification target cannot be used; its events wait", "target", c.ARN(), "err", err)
			continue
		}
		targets = append(targets, t)
		arns = append(arns, t.ARN())
	}
	if n.stopD != nil {
		n.stopD() // saves its positions and gives up the lease
		n.d, n.stopD = nil, nil
	}
	n.running = string(sig)
	n.arns.Store(&arns)
	d := notify.New(n.feed, n.configs, targets, notify.Options{Region: n.region, Log: n.log,
		VolumeRules: func(context.Context) ([]byte, error) { return n.rules.Load().raw, nil }})
	dctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(dctx) })
	n.d, n.stopD = d, func() { cancel(); wg.Wait() }
	if len(arns) > 0 {
		n.log.Info("delivering bucket events", "targets", arns)
	}
	return nil
}

// ARNs returns the targets' ARNs (gateway.Notify).
func (n *notifier) ARNs() []string { return *n.arns.Load() }

// WantsAccess reports whether the volume-wide rules ask for
// ObjectAccessed events (gateway.Notify).
func (n *notifier) WantsAccess() bool { return n.rules.Load().wantsAccess }

// Status returns each target's delivery state.
func (n *notifier) Status() []notify.Status {
	n.mu.Lock()
	d := n.d
	n.mu.Unlock()
	if d == nil {
		return []notify.Status{}
	}
	return d.Status()
}

// Targets lists the targets, secrets hidden: the environment's first.
func (n *notifier) Targets(ctx context.Context) ([]adminapi.NotifyTarget, error) {
	stored, err := n.store.Targets(ctx)
	if err != nil {
		return nil, err
	}
	var out []adminapi.NotifyTarget
	for _, c := range n.env {
		out = append(out, adminapi.NotifyTarget{ARN: c.ARN(), Type: c.Type, ID: c.ID, Params: c.Redacted().Params, FromEnv: true})
	}
	for _, c := range stored {
		out = append(out, adminapi.NotifyTarget{ARN: c.ARN(), Type: c.Type, ID: c.ID, Params: c.Redacted().Params})
	}
	return out, nil
}

// SetTarget adds or replaces a stored target (with merge, c's settings
// are laid over the stored ones), and delivers to it from now on unless
// its enable setting is off.
func (n *notifier) SetTarget(ctx context.Context, c notify.TargetConfig, merge bool) error {
	if n.fromEnv(c.Type, c.ID) {
		return &notify.TargetError{Msg: fmt.Sprintf("%s is defined by the server's environment; change it there", c.ARN())}
	}
	if merge {
		stored, err := n.store.Targets(ctx)
		if err != nil {
			return err
		}
		for _, o := range stored {
			if o.Type == c.Type && o.ID == c.ID {
				p := maps.Clone(o.Params)
				maps.Copy(p, c.Params)
				c.Params = p
			}
		}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if enabled(c) {
		t, err := newTarget(c)
		if err != nil {
			return &notify.TargetError{Msg: err.Error()}
		}
		t.Close()
	}
	if err := n.store.PutTarget(ctx, c); err != nil {
		return err
	}
	return n.reload(ctx)
}

// enabled reports whether a stored target is delivered to: unless its
// enable setting says off.
func enabled(c notify.TargetConfig) bool {
	e, ok := c.Params["enable"]
	return !ok || notify.On(e)
}

// RemoveTarget removes a stored target.
func (n *notifier) RemoveTarget(ctx context.Context, typ, id string) error {
	if n.fromEnv(typ, id) {
		return &notify.TargetError{Msg: fmt.Sprintf("%s is defined by the server's environment; remove it there", notify.ARN{ID: id, Type: typ})}
	}
	if err := n.store.DeleteTarget(ctx, typ, id); err != nil {
		return err
	}
	return n.reload(ctx)
}

func (n *notifier) fromEnv(typ, id string) bool {
	return slices.ContainsFunc(n.env, func(c notify.TargetConfig) bool { return c.Type == typ && c.ID == id })
}

// Rules returns the volume-wide rules as NotificationConfiguration XML.
func (n *notifier) Rules(ctx context.Context) ([]byte, error) {
	raw, err := n.store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, nil // no rules
	}
	var c notify.Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return c.XML()
}

// SetRules replaces the volume-wide rules with a NotificationConfiguration
// document (no rules: none).
func (n *notifier) SetRules(ctx context.Context, doc []byte) error {
	known := func(arn string) bool {
		a, err := notify.ParseARN(arn)
		return err == nil && slices.ContainsFunc(n.ARNs(), func(t string) bool {
			b, err := notify.ParseARN(t)
			return err == nil && a.ID == b.ID && a.Type == b.Type
		})
	}
	c, err := notify.ParseXML(doc, known)
	if err != nil {
		return err
	}
	if err := n.store.SetRules(ctx, c); err != nil {
		return err
	}
	return n.reload(ctx)
}

// notifyCollector exports each target's delivery state as metrics.
type notifyCollector struct{ status func() []notify.Status }

var (
	notifyDelivered = prometheus.NewDesc("cairn_notify_events_delivered_total", "Events delivered to the target.", []string{"target"}, nil)
	notifyFailed    = prometheus.NewDesc("cairn_notify_delivery_failures_total", "Failed delivery attempts (retried).", []string{"target"}, nil)
	notifySkipped   = prometheus.NewDesc("cairn_notify_events_skipped_total", "Events the target rejected, skipped after the retries.", []string{"target"}, nil)
	notifyDropped   = prometheus.NewDesc("cairn_notify_records_dropped_total", "Change-feed records lost to retention before the target got them.", []string{"target"}, nil)
	notifyBacklog   = prometheus.NewDesc("cairn_notify_backlog_records", "Change-feed records the target has yet to look at.", []string{"target"}, nil)
	notifyLag       = prometheus.NewDesc("cairn_notify_lag_seconds", "Delay of the last delivered event after its change.", []string{"target"}, nil)
	notifyActive    = prometheus.NewDesc("cairn_notify_active", "1 when this gateway holds the volume's delivery lease.", nil, nil)
)

func (c notifyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{notifyDelivered, notifyFailed, notifySkipped, notifyDropped, notifyBacklog, notifyLag, notifyActive} {
		ch <- d
	}
}

func (c notifyCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	active := 0.0
	for _, s := range st {
		ch <- prometheus.MustNewConstMetric(notifyDelivered, prometheus.CounterValue, float64(s.Delivered), s.ARN)
		ch <- prometheus.MustNewConstMetric(notifyFailed, prometheus.CounterValue, float64(s.Failed), s.ARN)
		ch <- prometheus.MustNewConstMetric(notifySkipped, prometheus.CounterValue, float64(s.Skipped), s.ARN)
		ch <- prometheus.MustNewConstMetric(notifyDropped, prometheus.CounterValue, float64(s.Dropped), s.ARN)
		ch <- prometheus.MustNewConstMetric(notifyBacklog, prometheus.GaugeValue, float64(s.Backlog()), s.ARN)
		ch <- prometheus.MustNewConstMetric(notifyLag, prometheus.GaugeValue, s.Lag.Seconds(), s.ARN)
		if s.Active {
			active = 1
		}
	}
	ch <- prometheus.MustNewConstMetric(notifyActive, prometheus.GaugeValue, active)
}

// redisLog is go-redis's logger, writing to cairn's log at debug level.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
