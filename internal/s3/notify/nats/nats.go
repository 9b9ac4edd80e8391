// Package nats is the notification target that publishes each event to a
// NATS subject, as MinIO's NATS target does: with JetStream, each event
// is acknowledged by the stream that stores it; without, it is delivered
// once the server has received it (subscribers that are away miss it, as
// with any core NATS message).
package nats

import (
	"context"
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cairn/internal/s3/notify"
)

// Config is a NATS target's settings.
type Config struct {
	ID       string
	Address  string // host:port or nats:// URL
	Subject  string
	Username string
	Password string
	Token    string
	// JetStream publishes to a stream (which must exist, capturing
	// Subject), each event acknowledged.
	JetStream bool
	Timeout   time.Duration
}

// Target delivers to NATS.
type Target struct {
	cfg Config
	arn string
	nc  *natsgo.Conn
	js  jetstream.JetStream
}

// New returns the NATS target cfg describes (it connects on first use).
func New(cfg Config) (*Target, error) {
	if cfg.Address == "" || cfg.Subject == "" {
		return nil, fmt.Errorf("nats %s: an address and a subject are required", cfg.ID)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Target{cfg: cfg, arn: notify.ARN{ID: cfg.ID, Type: "nats"}.String()}, nil
}

// ARN implements notify.Target.
func (t *Target) ARN() string { return t.arn }

func (t *Target) connect() error {
	if t.nc != nil && !t.nc.IsClosed() {
		return nil
	}
	opts := []natsgo.Option{natsgo.Timeout(t.cfg.Timeout), natsgo.MaxReconnects(-1), natsgo.Name("cairn notify " + t.cfg.ID)}
	if t.cfg.Username != "" {
		opts = append(opts, natsgo.UserInfo(t.cfg.Username, t.cfg.Password))
	}
	if t.cfg.Token != "" {
		opts = append(opts, natsgo.Token(t.cfg.Token))
	}
	nc, err := natsgo.Connect(t.cfg.Address, opts...)
	if err != nil {
		return err
	}
	t.nc = nc
	if t.cfg.JetStream {
		if t.js, err = jetstream.New(nc); err != nil {
			nc.Close()
			t.nc = nil
			return err
		}
	}
	return nil
}

// Send implements notify.Target.
func (t *Target) Send(ctx context.Context, m *notify.Message) error {
	if err := t.connect(); err != nil {
		return err
	}
	if t.js != nil {
		_, err := t.js.Publish(ctx, t.cfg.Subject, m.Body)
		return err
	}
	if err := t.nc.Publish(t.cfg.Subject, m.Body); err != nil {
		return err
	}
	return t.nc.FlushTimeout(t.cfg.Timeout)
}

// Close implements notify.Target.
func (t *Target) Close() error {
	if t.nc != nil {
		t.nc.Close()
	}
	return nil
}
