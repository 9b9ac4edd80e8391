// Package webhook is the notification target that POSTs each event to an
// HTTP endpoint, as MinIO's webhook target does.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"cairn/internal/s3/notify"
)

// Config is a webhook target's settings.
type Config struct {
	ID       string
	Endpoint string // http:// or https:// URL
	// AuthToken is sent as the Authorization header: as it is when it
	// holds a scheme ("Bearer x", "Basic …"), else as a bearer token.
	AuthToken string
	// Timeout bounds one delivery; default 10 s.
	Timeout time.Duration
	// TLS is the client configuration for https endpoints (client
	// certificates, roots); nil uses the system's.
	TLS *tls.Config
}

// maxConns is the most idle connections kept to the endpoint.
const maxConns = 64

// Target delivers to a webhook.
type Target struct {
	cfg    Config
	arn    string
	client *http.Client
}

// New returns the webhook target cfg describes.
func New(cfg Config) (*Target, error) {
	if !strings.HasPrefix(cfg.Endpoint, "http://") && !strings.HasPrefix(cfg.Endpoint, "https://") {
		return nil, fmt.Errorf("webhook %s: endpoint %q is not an http(s) URL", cfg.ID, cfg.Endpoint)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The dispatcher sends several events at once (notify.Options.
	// Workers): keep a connection for each, where the default keeps two
	// and opens and closes the others for every event.
	tr.MaxIdleConnsPerHost = maxConns
	if cfg.TLS != nil {
		tr.TLSClientConfig = cfg.TLS
	}
	return &Target{
		cfg:    cfg,
		arn:    notify.ARN{ID: cfg.ID, Type: "webhook"}.String(),
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout},
	}, nil
}

// ARN implements notify.Target.
func (t *Target) ARN() string { return t.arn }

// Send implements notify.Target: a 2xx answer delivers; 4xx (but 408 and
// 429) rejects the event; anything else is a failure to retry.
func (t *Target) Send(ctx context.Context, m *notify.Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.Endpoint, bytes.NewReader(m.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok := t.cfg.AuthToken; tok != "" {
		if !strings.Contains(tok, " ") {
			tok = "Bearer " + tok
		}
		req.Header.Set("Authorization", tok)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s answered %s", notify.ErrRejected, t.cfg.Endpoint, resp.Status)
	default:
		return fmt.Errorf("webhook %s answered %s", t.cfg.Endpoint, resp.Status)
	}
}

// Close implements notify.Target.
func (t *Target) Close() error {
	t.client.CloseIdleConnections()
	return nil
}
