package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"cairn/internal/iam"
	"cairn/internal/iam/policy"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/sigv4"
)

// Prefix is where the admin API is served.
const Prefix = "/minio/admin/"

// Options configure an API.
type Options struct {
	Identities *iam.Identities
	// Region is the gateway's region: the only one a credential scope
	// may name ("" accepts any).
	Region string
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// RunLifecycle applies a bucket's lifecycle rules now and returns
	// what it did (cairn admin lifecycle run); nil: not served.
	RunLifecycle func(ctx context.Context, bucket string) (map[string]int64, error)
	// GetBucketQuota and SetBucketQuota manage buckets' quotas (mc
	// quota, cairn admin quota; both limits 0 removes a quota); nil: not
	// served. GetBucketQuota answers ErrNoQuota for a bucket without one.
	GetBucketQuota func(ctx context.Context, bucket string) (BucketQuota, error)
	SetBucketQuota func(ctx context.Context, bucket string, maxBytes, maxObjects uint64) error
	// Notify manages the notification targets and the volume-wide rules
	// (cairn admin notify, mc admin config set notify_*); nil: the server
	// delivers no events.
	Notify Notify
	// ServerInfo describes the server (mc admin info); nil: not served.
	ServerInfo func(ctx context.Context) (ServerInfo, error)
}

// BucketQuota is a bucket's quota (0: no limit) and its usage.
type BucketQuota struct {
	MaxBytes    uint64 `json:"max_bytes"`
	MaxObjects  uint64 `json:"max_objects"`
	UsedBytes   uint64 `json:"used_bytes"`
	UsedObjects uint64 `json:"used_objects"`
}

// ErrNoQuota is a bucket without a quota; ErrNoSuchBucket a bucket that
// does not exist.
var (
	ErrNoQuota      = errors.New("adminapi: the bucket has no quota")
	ErrNoSuchBucket = errors.New("the bucket does not exist")
)

// API serves the admin API. It is an http.Handler for paths under Prefix.
type API struct {
	opt Options
	log *slog.Logger
}

// New returns an API.
func New(opt Options) *API {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &API{opt: opt, log: opt.Logger}
}

// A call is one admin request being served.
type call struct {
	a      *API
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context
	p      *iam.Principal
	secret string // the caller's, which seals payloads
	body   []byte
	plain  []byte // body opened, once
}

// A route is one admin operation: the method and path (after the
// version), the admin action it needs (see self), and its handler.
type route struct {
	method, path string
	action       string
	// self lets a caller do this to itself (its own user info, its own
	// service accounts) without the action.
	self func(c *call) bool
	fn   func(c *call) (any, error)
}

// routes is the admin API as cairn serves it.
var routes = []route{
	{http.MethodPut, "add-user", "admin:CreateUser", nil, (*call).addUser},
	{http.MethodDelete, "remove-user", "admin:DeleteUser", nil, (*call).removeUser},
	{http.MethodGet, "list-users", "admin:ListUsers", nil, (*call).listUsers},
	{http.MethodGet, "user-info", "admin:GetUser", (*call).aboutSelf, (*call).userInfo},
	{http.MethodPut, "set-user-status", "", nil, (*call).setUserStatus}, // admin:EnableUser or admin:DisableUser
	{http.MethodPut, "cairn/set-user-posix", "admin:CreateUser", nil, (*call).setUserPOSIX},
	{http.MethodPut, "cairn/set-user-expiry", "admin:CreateUser", nil, (*call).setUserExpiry},
	{http.MethodPut, "cairn/add-access-key", "admin:CreateUser", (*call).aboutSelf, (*call).addAccessKey},
	{http.MethodDelete, "cairn/remove-access-key", "admin:CreateUser", (*call).aboutSelf, (*call).removeAccessKey},
	{http.MethodPut, "update-group-members", "", nil, (*call).updateGroupMembers},
	{http.MethodGet, "group", "admin:GetGroup", nil, (*call).groupInfo},
	{http.MethodGet, "groups", "admin:ListGroups", nil, (*call).listGroups},
	{http.MethodPut, "set-group-status", "", nil, (*call).setGroupStatus},
	{http.MethodPut, "add-canned-policy", "admin:CreatePolicy", nil, (*call).addPolicy},
	{http.MethodDelete, "remove-canned-policy", "admin:DeletePolicy", nil, (*call).removePolicy},
	{http.MethodGet, "info-canned-policy", "admin:GetPolicy", nil, (*call).policyInfo},
	{http.MethodGet, "list-canned-policies", "admin:ListUserPolicies", nil, (*call).listPolicies},
	{http.MethodPost, "idp/builtin/policy/attach", "admin:AttachUserOrGroupPolicy", nil, (*call).attachPolicy},
	{http.MethodPost, "idp/builtin/policy/detach", "admin:AttachUserOrGroupPolicy", nil, (*call).detachPolicy},
	{http.MethodGet, "idp/builtin/policy-entities", "admin:GetPolicy", nil, (*call).policyEntities},
	{http.MethodPut, "add-service-account", "admin:CreateServiceAccount", (*call).ownServiceAccount, (*call).addServiceAccount},
	{http.MethodPost, "update-service-account", "admin:UpdateServiceAccount", (*call).ownServiceAccount, (*call).updateServiceAccount},
	{http.MethodDelete, "delete-service-account", "admin:RemoveServiceAccount", (*call).ownServiceAccount, (*call).deleteServiceAccount},
	{http.MethodGet, "list-service-accounts", "admin:ListServiceAccounts", (*call).ownServiceAccount, (*call).listServiceAccounts},
	{http.MethodGet, "info-service-account", "admin:ListServiceAccounts", (*call).ownServiceAccount, (*call).infoServiceAccount},
	{http.MethodPost, "cairn/lifecycle-run", "admin:LifecycleRun", nil, (*call).runLifecycle},
	{http.MethodPut, "set-bucket-quota", "admin:SetBucketQuota", nil, (*call).setBucketQuota},
	{http.MethodGet, "get-bucket-quota", "admin:GetBucketQuota", nil, (*call).getBucketQuota},
	{http.MethodGet, "list-access-keys-bulk", "", nil, (*call).listAccessKeysBulk}, // authorizes per user
	{http.MethodGet, "info", "admin:ServerInfo", nil, (*call).serverInfo},
	{http.MethodGet, "cairn/status", "admin:ServerInfo", nil, (*call).status},
	{http.MethodGet, "cairn/notify-status", "admin:ServerInfo", nil, (*call).notifyStatus},
	{http.MethodGet, "cairn/notify-targets", "admin:ConfigUpdate", nil, (*call).notifyTargets},
	{http.MethodPut, "cairn/notify-target", "admin:ConfigUpdate", nil, (*call).setNotifyTarget},
	{http.MethodDelete, "cairn/notify-target", "admin:ConfigUpdate", nil, (*call).removeNotifyTarget},
	{http.MethodGet, "cairn/notify-rules", "admin:ConfigUpdate", nil, (*call).notifyRules},
	{http.MethodPut, "cairn/notify-rules", "admin:ConfigUpdate", nil, (*call).setNotifyRules},
	{http.MethodPut, "set-config-kv", "admin:ConfigUpdate", nil, (*call).setConfigKV},
	{http.MethodGet, "get-config-kv", "admin:ConfigUpdate", nil, (*call).getConfigKV},
	{http.MethodDelete, "del-config-kv", "admin:ConfigUpdate", nil, (*call).delConfigKV},
}

// apiError is an admin API error: madmin reads its JSON.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func fail(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{a: a, w: w, r: r, ctx: r.Context()}
	out, err := c.serve()
	if err != nil {
		c.writeError(err)
		return
	}
	c.write(out)
}

func (c *call) serve() (any, error) {
	rest, ok := strings.CutPrefix(c.r.URL.Path, Prefix)
	version, path, _ := strings.Cut(rest, "/")
	if !ok || (version != "v3" && version != "v4") {
		return nil, fail(http.StatusNotFound, "XMinioAdminVersionMismatch", "cairn serves the admin API v3 (and the same routes under v4)")
	}
	var rt *route
	for i := range routes {
		if routes[i].path == path {
			if routes[i].method != c.r.Method {
				continue
			}
			rt = &routes[i]
			break
		}
	}
	if rt == nil {
		return nil, fail(http.StatusNotImplemented, "NotImplemented", "cairn does not serve the admin call %s %s", c.r.Method, path)
	}
	if err := c.authenticate(); err != nil {
		return nil, err
	}
	if rt.action != "" && !(rt.self != nil && rt.self(c)) {
		if err := c.authorize(rt.action); err != nil {
			return nil, err
		}
	}
	return rt.fn(c)
}

func (c *call) authenticate() error {
	type keyOf struct {
		p      *iam.Principal
		secret string // seals the answers
	}
	v, who, lookupErr, err := sigv4.VerifyAs(c.r, func(ak string) (keyOf, string, error) {
		p, secret, err := c.a.opt.Identities.Lookup(c.ctx, ak)
		return keyOf{p, secret}, secret, err
	}, c.a.opt.Now(), sigv4.Options{Region: c.a.opt.Region})
	c.p, c.secret = who.p, who.secret
	switch {
	case errors.Is(lookupErr, iam.ErrLockedOut), errors.Is(lookupErr, iam.ErrDisabled):
		return fail(http.StatusForbidden, "AccessDenied", "%v", lookupErr)
	case errors.Is(lookupErr, iam.ErrExpired):
		return fail(http.StatusBadRequest, "ExpiredToken", "The provided token has expired.")
	case err != nil:
		ae := fail(http.StatusForbidden, "SignatureDoesNotMatch", "%v", err)
		var se *s3err.Error
		if errors.As(err, &se) {
			ae = fail(se.Status(), string(se.Code), "%s", se.Message)
		}
		if ae.Code == "SignatureDoesNotMatch" || ae.Code == "InvalidAccessKeyId" {
			if ak := accessKeyOf(c.r); ak != "" {
				c.a.opt.Identities.Failed(ak, c.r.RemoteAddr)
			}
		}
		c.a.log.Info("admin API authentication failed", "source", c.r.RemoteAddr, "code", ae.Code)
		return ae
	case v.Anonymous:
		return fail(http.StatusForbidden, "AccessDenied", "The admin API needs a signed request.")
	}
	if !c.p.CheckToken(c.r.Header.Get("X-Amz-Security-Token")) {
		return fail(http.StatusForbidden, "InvalidToken", "The provided token is malformed or otherwise invalid.")
	}
	body, err := io.ReadAll(io.LimitReader(v.Body, maxPayload+64<<10))
	if err != nil {
		return fail(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "%v", err)
	}
	c.body = body
	c.a.opt.Identities.Succeeded(v.AccessKey)
	return nil
}

// accessKeyOf is the access key a SigV4 Authorization header names.
func accessKeyOf(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	ak, _, _ := strings.Cut(cred, "/")
	return ak
}

// authorize checks action for the caller.
func (c *call) authorize(action string) error {
	r := &policy.Request{Action: action, Resource: policy.ServiceARN}
	if _, err := c.a.opt.Identities.Authorize(c.ctx, c.p, r, nil); err != nil {
		return fail(http.StatusForbidden, "AccessDenied", "Access Denied.")
	}
	return nil
}

// write answers out: nil (200, empty), []byte (as is), sealed (sealed
// JSON) or anything else as JSON.
func (c *call) write(out any) {
	var b []byte
	var err error
	switch v := out.(type) {
	case nil:
		c.w.WriteHeader(http.StatusOK)
		return
	case noContent:
		c.w.WriteHeader(http.StatusNoContent)
		return
	case configApplied:
		c.w.Header().Set("X-Minio-Config-Applied", "true")
		c.w.WriteHeader(http.StatusOK)
		return
	case sealedBytes:
		b, err = seal(c.secret, []byte(v))
		c.w.Header().Set("Content-Type", "application/octet-stream")
	case sealedJSON:
		if b, err = json.Marshal(v.v); err == nil {
			b, err = seal(c.secret, b)
		}
		c.w.Header().Set("Content-Type", "application/octet-stream")
	default:
		b, err = json.Marshal(v)
		c.w.Header().Set("Content-Type", "application/json")
	}
	if err != nil {
		c.writeError(err)
		return
	}
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(b)
}

// noContent answers 204, as madmin expects of some calls.
type noContent struct{}

// sealedJSON is a response sealed with the caller's secret.
type sealedJSON struct{ v any }

func (c *call) writeError(err error) {
	var ae *apiError
	var pe *policy.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &pe):
		ae = fail(http.StatusBadRequest, "XMinioMalformedIAMPolicy", "%s", pe.Error())
	case errors.Is(err, iam.ErrNoSuchUser):
		ae = fail(http.StatusNotFound, "XMinioAdminNoSuchUser", "%s", err.Error())
	case errors.Is(err, iam.ErrNoSuchGroup):
		ae = fail(http.StatusNotFound, "XMinioAdminNoSuchGroup", "%s", err.Error())
	case errors.Is(err, iam.ErrNoSuchPolicy):
		ae = fail(http.StatusNotFound, "XMinioAdminNoSuchPolicy", "%s", err.Error())
	case errors.Is(err, iam.ErrNoSuchKey):
		ae = fail(http.StatusNotFound, "XMinioAdminNoSuchServiceAccount", "%s", err.Error())
	case errors.Is(err, iam.ErrGroupNotEmpty):
		ae = fail(http.StatusBadRequest, "XMinioAdminGroupNotEmpty", "%s", err.Error())
	case errors.Is(err, iam.ErrPolicyInUse):
		ae = fail(http.StatusBadRequest, "XMinioAdminPolicyInUse", "%s", err.Error())
	case errors.Is(err, ErrNoQuota):
		ae = fail(http.StatusNotFound, "XMinioAdminNoSuchQuotaConfiguration", "The quota configuration does not exist")
	case errors.Is(err, ErrNoSuchBucket):
		ae = fail(http.StatusNotFound, "NoSuchBucket", "%s", err.Error())
	case errors.Is(err, iam.ErrExists), errors.Is(err, iam.ErrInvalid):
		ae = fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "%s", err.Error())
	default:
		c.a.log.Error("admin API call failed", "path", c.r.URL.Path, "err", err)
		ae = fail(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	}
	b, _ := json.Marshal(ae)
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(ae.Status)
	c.w.Write(b)
}

// opened is the request body opened with the caller's secret.
func (c *call) opened() ([]byte, error) {
	if c.plain != nil {
		return c.plain, nil
	}
	b, err := open(c.secret, c.body)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "XMinioAdminConfigBadJSON", "%v", err)
	}
	c.plain = b
	return b, nil
}

func (c *call) decodeSealed(v any) error {
	b, err := c.opened()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fail(http.StatusBadRequest, "XMinioAdminConfigBadJSON", "the request is not the JSON expected: %v", err)
	}
	return nil
}

func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }
