// Package redis is the notification target that keeps events in Redis, in
// MinIO's two formats: "namespace" (a hash with one field per object,
// set on each change and deleted with the object) and "access" (a list to
// which every event is appended).
package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"cairn/internal/s3/notify"
)

// Config is a Redis target's settings.
type Config struct {
	ID       string
	Address  string // host:port
	User     string
	Password string
	DB       int
	Key      string // the hash or list
	Format   string // "namespace" (default) or "access"
	Timeout  time.Duration
}

// Target delivers to Redis.
type Target struct {
	cfg Config
	arn string
	c   *goredis.Client
}

// New returns the Redis target cfg describes (it connects on first use).
func New(cfg Config) (*Target, error) {
	if cfg.Address == "" || cfg.Key == "" {
		return nil, fmt.Errorf("redis %s: an address and a key are required", cfg.ID)
	}
	switch cfg.Format {
	case "":
		cfg.Format = "namespace"
	case "namespace", "access":
	default:
		return nil, fmt.Errorf("redis %s: format %q: namespace or access", cfg.ID, cfg.Format)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	c := goredis.NewClient(&goredis.Options{Addr: cfg.Address, Username: cfg.User, Password: cfg.Password, DB: cfg.DB,
		DialTimeout: cfg.Timeout, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout, MaxRetries: -1,
		// Off, as in the metadata engine's client: on "auto" go-redis v9.23
		// writes its shared options when a server lacks them (a race).
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	return &Target{cfg: cfg, arn: notify.ARN{ID: cfg.ID, Type: "redis"}.String(), c: c}, nil
}

// ARN implements notify.Target.
func (t *Target) ARN() string { return t.arn }

// accessEntry is one element of an access-format list.
type accessEntry struct {
	Event     []json.RawMessage `json:"Event"`
	EventTime string            `json:"EventTime"`
}

// Send implements notify.Target.
func (t *Target) Send(ctx context.Context, m *notify.Message) error {
	return t.SendBatch(ctx, []*notify.Message{m})
}

// SendBatch implements notify.BatchTarget: the messages go in one
// pipeline (MULTI/EXEC: all or none), in order.
func (t *Target) SendBatch(ctx context.Context, ms []*notify.Message) error {
	_, err := t.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for _, m := range ms {
			if err := t.queue(ctx, p, m); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

func (t *Target) queue(ctx context.Context, p goredis.Pipeliner, m *notify.Message) error {
	if t.cfg.Format == "access" {
		b, err := json.Marshal([]accessEntry{{Event: []json.RawMessage{m.Record}, EventTime: m.Time.Format(time.RFC3339Nano)}})
		if err != nil {
			return err
		}
		p.RPush(ctx, t.cfg.Key, b)
		return nil
	}
	if m.Removal() {
		p.HDel(ctx, t.cfg.Key, m.Path)
		return nil
	}
	p.HSet(ctx, t.cfg.Key, m.Path, m.Doc)
	return nil
}

// Close implements notify.Target.
func (t *Target) Close() error { return t.c.Close() }
