package adminapi

import (
	"context"
	"net/http"

	"cairn/internal/s3/notify"
)

// notifyStatus answers each notification target's delivery state (cairn
// admin notify status): its position, backlog, deliveries, failures and
// last error, and whether this server delivers.
func (c *call) notifyStatus() (any, error) {
	if c.a.opt.NotifyStatus == nil {
		return []notify.Status{}, nil // no targets
	}
	return c.a.opt.NotifyStatus(), nil
}

// NotifyStatus returns the server's notification targets and their
// delivery state.
func (c *Client) NotifyStatus(ctx context.Context) ([]notify.Status, error) {
	var out []notify.Status
	err := c.call(ctx, http.MethodGet, "cairn/notify-status", nil, nil, false, &out)
	return out, err
}
