package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/nats"
	"cairn/internal/s3/notify/redis"
	"cairn/internal/s3/notify/sqltarget"
	"cairn/internal/s3/notify/webhook"
	"cairn/internal/s3/s3fs"
)

// notifyTargets builds the notification targets the environment defines
// (MinIO's MINIO_NOTIFY_* variables, or CAIRN_NOTIFY_*).
func notifyTargets(environ []string) ([]notify.Target, error) {
	cfgs, err := notify.TargetsFromEnv(environ)
	if err != nil {
		return nil, err
	}
	var out []notify.Target
	for _, c := range cfgs {
		t, err := newTarget(c)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("notification target %s: %w", c.ARN(), err)
		}
		out = append(out, t)
	}
	return out, nil
}

func newTarget(c notify.TargetConfig) (notify.Target, error) {
	p := c.Params
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
		return sqltarget.New(sqltarget.Config{ID: c.ID, Engine: "postgres", DSN: p["connection_string"], Table: p["table"], Format: p["format"], MaxOpen: atoi(p["max_open_connections"])})
	case "mysql":
		return sqltarget.New(sqltarget.Config{ID: c.ID, Engine: "mysql", DSN: p["dsn_string"], Table: p["table"], Format: p["format"], MaxOpen: atoi(p["max_open_connections"])})
	case "nats":
		return nats.New(nats.Config{ID: c.ID, Address: p["address"], Subject: p["subject"], Username: p["username"], Password: p["password"],
			Token: p["token"], JetStream: notify.On(p["jetstream"])})
	}
	return nil, fmt.Errorf("cairn does not deliver to %s targets (it delivers to webhook, redis, postgres, mysql and nats)", c.Type)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// notifier is the server's event delivery: its targets' ARNs (for the
// gateway to accept in bucket configurations), their state (nil without
// targets) and the function that stops it.
type notifier struct {
	arns   []string
	status func() []notify.Status
	stop   func()
}

// startNotify starts delivering bucket events to the environment's
// targets.
func startNotify(ctx context.Context, v *volume, backend *s3fs.FS, region string, reg prometheus.Registerer, log *slog.Logger) (notifier, error) {
	// go-redis reports its connection retries itself: to the log, at
	// debug (the dispatcher logs each failed delivery).
	goredis.SetLogger(redisLog{log})
	targets, err := notifyTargets(os.Environ())
	if err != nil || len(targets) == 0 {
		return notifier{stop: func() {}}, err
	}
	var arns []string
	for _, t := range targets {
		arns = append(arns, t.ARN())
	}
	d := notify.New(v.meta, backend.BucketNotification, targets, notify.Options{Region: region, Log: log})
	reg.MustRegister(notifyCollector{d})
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx) })
	log.Info("delivering bucket events", "targets", arns)
	return notifier{arns: arns, status: d.Status, stop: func() { cancel(); wg.Wait() }}, nil
}

// notifyCollector exports each target's delivery state as metrics.
type notifyCollector struct{ d *notify.Dispatcher }

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
	st := c.d.Status()
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
