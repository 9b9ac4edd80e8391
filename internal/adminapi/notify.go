package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"cairn/internal/s3/notify"
)

// Notify is the server's event delivery as the admin API manages it.
type Notify interface {
	// Status returns each target's delivery state.
	Status() []notify.Status
	// Targets lists the targets, secrets hidden.
	Targets(ctx context.Context) ([]NotifyTarget, error)
	// SetTarget adds or replaces a target an administrator defines (with
	// merge, c's settings are laid over the target's stored ones). A
	// definition that cannot be used is a *notify.TargetError.
	SetTarget(ctx context.Context, c notify.TargetConfig, merge bool) error
	// RemoveTarget removes one (notify.ErrNoSuchTarget: none).
	RemoveTarget(ctx context.Context, typ, id string) error
	// Rules and SetRules read and replace the volume-wide rules, as
	// NotificationConfiguration XML.
	Rules(ctx context.Context) ([]byte, error)
	SetRules(ctx context.Context, doc []byte) error
}

// NotifyTarget is a notification target as the admin API lists it.
type NotifyTarget struct {
	ARN    string            `json:"arn"`
	Type   string            `json:"type"`
	ID     string            `json:"id"`
	Params map[string]string `json:"params"` // secrets hidden
	// FromEnv says the server's environment defines it (it is changed
	// there, not through the API).
	FromEnv bool `json:"from_env,omitempty"`
}

// notifyRules carries the volume-wide rules (XML) in JSON.
type notifyRules struct {
	XML string `json:"xml"`
}

// notifyErr maps the notifier's errors to admin API errors.
func notifyErr(err error) error {
	var te *notify.TargetError
	var ce *notify.ConfigError
	switch {
	case errors.As(err, &te):
		return fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "%s", te.Msg)
	case errors.As(err, &ce):
		return fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "%s", ce.Msg)
	case errors.Is(err, notify.ErrMalformed):
		return fail(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
	case errors.Is(err, notify.ErrNoSuchTarget):
		return fail(http.StatusNotFound, "XMinioAdminNoSuchTarget", "%v", err)
	}
	return err
}

func (c *call) notifier() (Notify, error) {
	if c.a.opt.Notify == nil {
		return nil, fail(http.StatusNotImplemented, "NotImplemented", "this server does not deliver bucket events")
	}
	return c.a.opt.Notify, nil
}

// notifyStatus answers each notification target's delivery state (cairn
// admin notify status): its position, backlog, deliveries, failures and
// last error, and whether this server delivers.
func (c *call) notifyStatus() (any, error) {
	if c.a.opt.Notify == nil {
		return []notify.Status{}, nil // no targets
	}
	return c.a.opt.Notify.Status(), nil
}

func (c *call) notifyTargets() (any, error) {
	n, err := c.notifier()
	if err != nil {
		return nil, err
	}
	ts, err := n.Targets(c.ctx)
	if ts == nil {
		ts = []NotifyTarget{}
	}
	return sealedJSON{ts}, err
}

// setNotifyTarget adds or replaces a target: a sealed JSON body (its
// settings may hold passwords).
func (c *call) setNotifyTarget() (any, error) {
	n, err := c.notifier()
	if err != nil {
		return nil, err
	}
	var t NotifyTarget
	if err := c.decodeSealed(&t); err != nil {
		return nil, err
	}
	return nil, notifyErr(n.SetTarget(c.ctx, notify.TargetConfig{Type: t.Type, ID: t.ID, Params: t.Params}, false))
}

func (c *call) removeNotifyTarget() (any, error) {
	n, err := c.notifier()
	if err != nil {
		return nil, err
	}
	a, err := notify.ParseARN(c.query("arn"))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "arn %q: arn:minio:sqs::ID:TYPE", c.query("arn"))
	}
	return nil, notifyErr(n.RemoveTarget(c.ctx, a.Type, a.ID))
}

func (c *call) notifyRules() (any, error) {
	n, err := c.notifier()
	if err != nil {
		return nil, err
	}
	doc, err := n.Rules(c.ctx)
	return notifyRules{XML: string(doc)}, err
}

func (c *call) setNotifyRules() (any, error) {
	n, err := c.notifier()
	if err != nil {
		return nil, err
	}
	return nil, notifyErr(n.SetRules(c.ctx, c.body))
}

// NotifyStatus returns the server's notification targets and their
// delivery state.
func (c *Client) NotifyStatus(ctx context.Context) ([]notify.Status, error) {
	var out []notify.Status
	err := c.call(ctx, http.MethodGet, "cairn/notify-status", nil, nil, false, &out)
	return out, err
}

// NotifyTargets lists the server's notification targets.
func (c *Client) NotifyTargets(ctx context.Context) ([]NotifyTarget, error) {
	var out []NotifyTarget
	err := c.call(ctx, http.MethodGet, "cairn/notify-targets", nil, nil, false, &out)
	return out, err
}

// SetNotifyTarget adds or replaces a target of the given type and ID.
func (c *Client) SetNotifyTarget(ctx context.Context, typ, id string, params map[string]string) error {
	b, _ := json.Marshal(NotifyTarget{Type: typ, ID: id, Params: params})
	return c.call(ctx, http.MethodPut, "cairn/notify-target", nil, b, true, nil)
}

// RemoveNotifyTarget removes the target arn names.
func (c *Client) RemoveNotifyTarget(ctx context.Context, arn string) error {
	return c.call(ctx, http.MethodDelete, "cairn/notify-target", url.Values{"arn": {arn}}, nil, false, nil)
}

// NotifyRules returns the volume-wide rules (NotificationConfiguration
// XML).
func (c *Client) NotifyRules(ctx context.Context) ([]byte, error) {
	var out notifyRules
	err := c.call(ctx, http.MethodGet, "cairn/notify-rules", nil, nil, false, &out)
	return []byte(out.XML), err
}

// SetNotifyRules replaces the volume-wide rules.
func (c *Client) SetNotifyRules(ctx context.Context, doc []byte) error {
	return c.call(ctx, http.MethodPut, "cairn/notify-rules", nil, doc, false, nil)
}
