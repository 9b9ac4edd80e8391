package adminapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"cairn/internal/s3/sigv4"
)

// A Client calls the admin API of a cairn server (or of MinIO, for the
// calls both serve), as `cairn admin` does.
type Client struct {
	// Endpoint is the server's URL: http://host:port.
	Endpoint             string
	AccessKey, SecretKey string
	// HTTP is the client used (nil: http.DefaultClient).
	HTTP *http.Client
}

// An Error is an admin API error answer.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message + " (" + e.Code + ")" }

// call makes one admin call: body is sent sealed when seal is set; out, if
// not nil, receives the JSON answer (opened first when it is sealed).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body []byte, sealIt bool, out any) error {
	if sealIt {
		var err error
		if body, err = seal(c.SecretKey, body); err != nil {
			return err
		}
	}
	u := strings.TrimRight(c.Endpoint, "/") + Prefix + "v3/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	r, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	sigv4.SignHeader(r, c.AccessKey, c.SecretKey, "", hex.EncodeToString(sum[:]), time.Now())
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			e.Code, e.Message = resp.Status, strings.TrimSpace(string(b))
		}
		return e
	}
	if out == nil {
		return nil
	}
	if resp.Header.Get("Content-Type") == "application/octet-stream" {
		if b, err = open(c.SecretKey, b); err != nil {
			return fmt.Errorf("the answer does not open with this secret: %w", err)
		}
	}
	return json.Unmarshal(b, out)
}

func qv(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// UserInfo is a user as the admin API shows it.
type UserInfo struct {
	PolicyName string    `json:"policyName,omitempty"`
	Status     string    `json:"status"`
	MemberOf   []string  `json:"memberOf,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero"`
	UID        uint32    `json:"uid"`
	GID        uint32    `json:"gid"`
	// Expires is when the user's keys stop working (zero: never).
	Expires time.Time `json:"expires,omitzero"`
}

// AddUser creates user name (or sets its secret).
func (c *Client) AddUser(ctx context.Context, name, secret string) error {
	b, _ := json.Marshal(addUserReq{SecretKey: secret, Status: "enabled"})
	return c.call(ctx, http.MethodPut, "add-user", qv("accessKey", name), b, true, nil)
}

// RemoveUser deletes user name.
func (c *Client) RemoveUser(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "remove-user", qv("accessKey", name), nil, false, nil)
}

// ListUsers returns every user by name.
func (c *Client) ListUsers(ctx context.Context) (map[string]UserInfo, error) {
	var out map[string]UserInfo
	return out, c.call(ctx, http.MethodGet, "list-users", nil, nil, false, &out)
}

// UserInfo returns user name.
func (c *Client) UserInfo(ctx context.Context, name string) (UserInfo, error) {
	var out UserInfo
	return out, c.call(ctx, http.MethodGet, "user-info", qv("accessKey", name), nil, false, &out)
}

// SetUserStatus enables ("enabled") or disables ("disabled") user name.
func (c *Client) SetUserStatus(ctx context.Context, name, status string) error {
	return c.call(ctx, http.MethodPut, "set-user-status", qv("accessKey", name, "status", status), nil, false, nil)
}

// SetUserExpiry sets when user name's keys stop working (zero: never).
func (c *Client) SetUserExpiry(ctx context.Context, name string, t time.Time) error {
	e := "never"
	if !t.IsZero() {
		e = t.UTC().Format(time.RFC3339)
	}
	return c.call(ctx, http.MethodPut, "cairn/set-user-expiry", qv("accessKey", name, "expires", e), nil, false, nil)
}

// SetUserPOSIX sets the uid and gid user name's requests run as (cairn's
// own call).
func (c *Client) SetUserPOSIX(ctx context.Context, name string, uid, gid uint32) error {
	return c.call(ctx, http.MethodPut, "cairn/set-user-posix", qv("accessKey", name, "uid", fmt.Sprint(uid), "gid", fmt.Sprint(gid)), nil, false, nil)
}

// UpdateGroupMembers adds members to group (creating it), or removes
// them (remove; with none, removes the empty group itself).
func (c *Client) UpdateGroupMembers(ctx context.Context, group string, members []string, remove bool) error {
	b, _ := json.Marshal(groupAddRemove{Group: group, Members: members, IsRemove: remove})
	return c.call(ctx, http.MethodPut, "update-group-members", nil, b, false, nil)
}

// GroupInfo is a group as the admin API shows it.
type GroupInfo struct {
	Name    string   `json:"name"`
	Status  string   `json:"status"`
	Members []string `json:"members"`
	Policy  string   `json:"policy"`
	GID     uint32   `json:"gid"`
}

// GroupInfo returns group.
func (c *Client) GroupInfo(ctx context.Context, group string) (GroupInfo, error) {
	var out GroupInfo
	return out, c.call(ctx, http.MethodGet, "group", qv("group", group), nil, false, &out)
}

// ListGroups returns the names of every group.
func (c *Client) ListGroups(ctx context.Context) ([]string, error) {
	var out []string
	return out, c.call(ctx, http.MethodGet, "groups", nil, nil, false, &out)
}

// SetGroupStatus enables or disables group.
func (c *Client) SetGroupStatus(ctx context.Context, group, status string) error {
	return c.call(ctx, http.MethodPut, "set-group-status", qv("group", group, "status", status), nil, false, nil)
}

// AddPolicy stores policy name.
func (c *Client) AddPolicy(ctx context.Context, name string, doc []byte) error {
	return c.call(ctx, http.MethodPut, "add-canned-policy", qv("name", name), doc, false, nil)
}

// RemovePolicy deletes policy name.
func (c *Client) RemovePolicy(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "remove-canned-policy", qv("name", name), nil, false, nil)
}

// PolicyInfo returns the document of policy name.
func (c *Client) PolicyInfo(ctx context.Context, name string) (json.RawMessage, error) {
	var out policyInfo
	return out.Policy, c.call(ctx, http.MethodGet, "info-canned-policy", qv("name", name, "v", "2"), nil, false, &out)
}

// ListPolicies returns every policy's document by name.
func (c *Client) ListPolicies(ctx context.Context) (map[string]json.RawMessage, error) {
	var out map[string]json.RawMessage
	return out, c.call(ctx, http.MethodGet, "list-canned-policies", nil, nil, false, &out)
}

// AttachPolicy attaches (or, with detach, detaches) policies to the user
// or the group.
func (c *Client) AttachPolicy(ctx context.Context, user, group string, policies []string, detach bool) error {
	b, _ := json.Marshal(policyAssociationReq{Policies: policies, User: user, Group: group})
	path := "idp/builtin/policy/attach"
	if detach {
		path = "idp/builtin/policy/detach"
	}
	var out policyAssociationResp
	return c.call(ctx, http.MethodPost, path, nil, b, true, &out)
}

// PolicyEntities returns the users and groups policy is attached to.
func (c *Client) PolicyEntities(ctx context.Context, policy string) (users, groups []string, err error) {
	var out policyEntitiesResult
	if err := c.call(ctx, http.MethodGet, "idp/builtin/policy-entities", qv("policy", policy), nil, false, &out); err != nil {
		return nil, nil, err
	}
	for _, m := range out.PolicyMappings {
		users, groups = append(users, m.Users...), append(groups, m.Groups...)
	}
	return users, groups, nil
}

// ServiceAccount is a service account as the admin API lists it.
type ServiceAccount = serviceAccountInfo

// AddServiceAccount makes a service account of user (random keys unless
// given), bounded by doc when given; it returns the keys.
func (c *Client) AddServiceAccount(ctx context.Context, user, accessKey, secretKey string, doc []byte) (string, string, error) {
	b, _ := json.Marshal(addServiceAccountReq{TargetUser: user, AccessKey: accessKey, SecretKey: secretKey, Policy: json.RawMessage(doc)})
	var out struct {
		Credentials credentials `json:"credentials"`
	}
	err := c.call(ctx, http.MethodPut, "add-service-account", nil, b, true, &out)
	return out.Credentials.AccessKey, out.Credentials.SecretKey, err
}

// ListServiceAccounts returns user's service accounts.
func (c *Client) ListServiceAccounts(ctx context.Context, user string) ([]ServiceAccount, error) {
	var out struct {
		Accounts []serviceAccountInfo `json:"accounts"`
	}
	err := c.call(ctx, http.MethodGet, "list-service-accounts", qv("user", user), nil, false, &out)
	return out.Accounts, err
}

// SetServiceAccountStatus turns a service account "on" or "off".
func (c *Client) SetServiceAccountStatus(ctx context.Context, accessKey, status string) error {
	b, _ := json.Marshal(updateServiceAccountReq{NewStatus: status})
	return c.call(ctx, http.MethodPost, "update-service-account", qv("accessKey", accessKey), b, true, nil)
}

// RemoveServiceAccount deletes a service account.
func (c *Client) RemoveServiceAccount(ctx context.Context, accessKey string) error {
	return c.call(ctx, http.MethodDelete, "delete-service-account", qv("accessKey", accessKey), nil, false, nil)
}

// AddAccessKey gives user one more access key and returns it.
func (c *Client) AddAccessKey(ctx context.Context, user string) (string, string, error) {
	var out credentials
	err := c.call(ctx, http.MethodPut, "cairn/add-access-key", qv("accessKey", user), nil, false, &out)
	return out.AccessKey, out.SecretKey, err
}

// RemoveAccessKey deletes one of user's own access keys.
func (c *Client) RemoveAccessKey(ctx context.Context, user, key string) error {
	return c.call(ctx, http.MethodDelete, "cairn/remove-access-key", qv("accessKey", user, "key", key), nil, false, nil)
}

// RunLifecycle applies bucket's lifecycle rules now and returns the
// counts of what it did (cairn's own call).
func (c *Client) RunLifecycle(ctx context.Context, bucket string) (map[string]int64, error) {
	var out map[string]int64
	err := c.call(ctx, http.MethodPost, "cairn/lifecycle-run", qv("bucket", bucket), nil, false, &out)
	return out, err
}

// SetBucketQuota sets bucket's quota (MinIO's call, as mc quota set
// makes it, with cairn's object limit); both 0 removes it.
func (c *Client) SetBucketQuota(ctx context.Context, bucket string, maxBytes, maxObjects uint64) error {
	d := quotaDoc{Quota: maxBytes, Size: maxBytes, Objects: maxObjects}
	if maxBytes > 0 || maxObjects > 0 {
		d.Type = "hard"
	}
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return c.call(ctx, http.MethodPut, "set-bucket-quota", qv("bucket", bucket), body, false, nil)
}

// GetBucketQuota returns bucket's quota and usage (zero limits: none).
func (c *Client) GetBucketQuota(ctx context.Context, bucket string) (BucketQuota, error) {
	var d quotaDoc
	err := c.call(ctx, http.MethodGet, "get-bucket-quota", qv("bucket", bucket), nil, false, &d)
	if ae := (*Error)(nil); errors.As(err, &ae) && ae.Code == "XMinioAdminNoSuchQuotaConfiguration" {
		return BucketQuota{}, nil
	}
	if err != nil {
		return BucketQuota{}, err
	}
	size := d.Size
	if size == 0 {
		size = d.Quota
	}
	return BucketQuota{MaxBytes: size, MaxObjects: d.Objects, UsedBytes: d.UsedBytes, UsedObjects: d.UsedObjects}, nil
}

// Status returns the server's description: its version, its volume's use
// and limits, and the volume's live sessions.
func (c *Client) Status(ctx context.Context) (ServerInfo, error) {
	var out ServerInfo
	return out, c.call(ctx, http.MethodGet, "cairn/status", nil, nil, false, &out)
}
