package adminapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cairn/internal/iam"
	"cairn/internal/iam/policy"
)

// The JSON shapes below are those of MinIO's admin API (madmin), field
// for field, so that `mc` reads them.

// userInfo is madmin's, with cairn's uid and gid added (mc ignores them).
type userInfo = UserInfo

func toUserInfo(u iam.User) userInfo {
	return userInfo{PolicyName: strings.Join(u.Policies, ","), Status: string(u.Status), MemberOf: u.Groups, UpdatedAt: u.Created, UID: u.UID, GID: u.GID,
		Expires: u.Expires}
}

type addUserReq struct {
	SecretKey string `json:"secretKey,omitempty"`
	Policy    string `json:"policy,omitempty"`
	Status    string `json:"status"`
}

func (c *call) addUser() (any, error) {
	name := c.query("accessKey")
	var req addUserReq
	if err := c.decodeSealed(&req); err != nil {
		return nil, err
	}
	if name == c.p.User && c.p.Kind != iam.KindRoot {
		return nil, fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "a user cannot replace its own secret here")
	}
	if err := c.a.opt.Identities.CreateUser(c.ctx, name, req.SecretKey, iam.UserOptions{}); err != nil {
		return nil, err
	}
	if req.Status == string(iam.Disabled) {
		if err := c.a.opt.Identities.SetUserStatus(c.ctx, name, iam.Disabled); err != nil {
			return nil, err
		}
	}
	if req.Policy != "" {
		if err := c.a.opt.Identities.AttachPolicy(c.ctx, iam.Target{User: name}, strings.Split(req.Policy, ",")...); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (c *call) removeUser() (any, error) {
	return nil, c.a.opt.Identities.DeleteUser(c.ctx, c.query("accessKey"))
}

func (c *call) listUsers() (any, error) {
	users, err := c.a.opt.Identities.ListUsers(c.ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]userInfo, len(users))
	for _, u := range users {
		out[u.Name] = toUserInfo(u)
	}
	return sealedJSON{out}, nil
}

func (c *call) aboutSelf() bool { return c.query("accessKey") == c.p.User }

func (c *call) userInfo() (any, error) {
	u, err := c.a.opt.Identities.GetUser(c.ctx, c.query("accessKey"))
	if err != nil {
		return nil, err
	}
	return toUserInfo(u), nil
}

func (c *call) setUserStatus() (any, error) {
	s, action := iam.Status(c.query("status")), "admin:EnableUser"
	if s == iam.Disabled {
		action = "admin:DisableUser"
	}
	if err := c.authorize(action); err != nil {
		return nil, err
	}
	return nil, c.a.opt.Identities.SetUserStatus(c.ctx, c.query("accessKey"), s)
}

type groupAddRemove struct {
	Group    string   `json:"group"`
	Members  []string `json:"members"`
	Status   string   `json:"groupStatus"`
	IsRemove bool     `json:"isRemove"`
}

func (c *call) updateGroupMembers() (any, error) {
	var req groupAddRemove
	if err := json.Unmarshal(c.body, &req); err != nil {
		return nil, fail(http.StatusBadRequest, "XMinioAdminConfigBadJSON", "%v", err)
	}
	ids := c.a.opt.Identities
	if req.IsRemove {
		if err := c.authorize("admin:RemoveUserFromGroup"); err != nil {
			return nil, err
		}
		if len(req.Members) == 0 { // remove the group itself, which must be empty
			return nil, ids.DeleteGroup(c.ctx, req.Group)
		}
		return nil, ids.RemoveGroupMembers(c.ctx, req.Group, req.Members...)
	}
	if err := c.authorize("admin:AddUserToGroup"); err != nil {
		return nil, err
	}
	return nil, ids.AddGroupMembers(c.ctx, req.Group, req.Members...)
}

// groupDesc is madmin's, with cairn's gid added.
type groupDesc = GroupInfo

func (c *call) groupInfo() (any, error) {
	g, err := c.a.opt.Identities.GetGroup(c.ctx, c.query("group"))
	if err != nil {
		return nil, err
	}
	members := g.Members
	if members == nil {
		members = []string{}
	}
	return groupDesc{Name: g.Name, Status: string(g.Status), Members: members, Policy: strings.Join(g.Policies, ","), GID: g.GID}, nil
}

func (c *call) listGroups() (any, error) {
	gs, err := c.a.opt.Identities.ListGroups(c.ctx)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, g := range gs {
		names = append(names, g.Name)
	}
	return names, nil
}

func (c *call) setGroupStatus() (any, error) {
	s, action := iam.Status(c.query("status")), "admin:EnableGroup"
	if s == iam.Disabled {
		action = "admin:DisableGroup"
	}
	if err := c.authorize(action); err != nil {
		return nil, err
	}
	return nil, c.a.opt.Identities.SetGroupStatus(c.ctx, c.query("group"), s)
}

func (c *call) addPolicy() (any, error) {
	if len(c.body) == 0 {
		return nil, fail(http.StatusBadRequest, "XMinioMalformedIAMPolicy", "the policy document is empty")
	}
	return nil, c.a.opt.Identities.PutPolicy(c.ctx, c.query("name"), c.body)
}

func (c *call) removePolicy() (any, error) {
	return nil, c.a.opt.Identities.DeletePolicy(c.ctx, c.query("name"))
}

type policyInfo struct {
	PolicyName string
	Policy     json.RawMessage
}

func (c *call) policyInfo() (any, error) {
	name := c.query("name")
	doc, err := c.a.opt.Identities.GetPolicy(c.ctx, name)
	if err != nil {
		return nil, err
	}
	doc = compactJSON(doc)
	if c.query("v") != "2" {
		return doc, nil
	}
	return policyInfo{PolicyName: name, Policy: doc}, nil
}

// compactJSON returns doc as a JSON value that embeds (MyFSIO's simple
// form is a list; both are valid JSON).
func compactJSON(doc []byte) json.RawMessage {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return json.RawMessage(`null`)
	}
	b, _ := json.Marshal(v)
	return b
}

func (c *call) listPolicies() (any, error) {
	all, err := c.a.opt.Identities.ListPolicies(c.ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(all))
	for n, d := range all {
		out[n] = compactJSON(d)
	}
	return out, nil
}

type policyAssociationReq struct {
	Policies []string `json:"policies"`
	User     string   `json:"user,omitempty"`
	Group    string   `json:"group,omitempty"`
}

type policyAssociationResp struct {
	PoliciesAttached []string  `json:"policiesAttached,omitempty"`
	PoliciesDetached []string  `json:"policiesDetached,omitempty"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

func (c *call) attachPolicy() (any, error) { return c.associate(true) }
func (c *call) detachPolicy() (any, error) { return c.associate(false) }

func (c *call) associate(attach bool) (any, error) {
	var req policyAssociationReq
	if err := c.decodeSealed(&req); err != nil {
		return nil, err
	}
	t := iam.Target{User: req.User, Group: req.Group}
	ids := c.a.opt.Identities
	resp := policyAssociationResp{UpdatedAt: c.a.opt.Now().UTC()}
	var err error
	if attach {
		err, resp.PoliciesAttached = ids.AttachPolicy(c.ctx, t, req.Policies...), req.Policies
	} else {
		err, resp.PoliciesDetached = ids.DetachPolicy(c.ctx, t, req.Policies...), req.Policies
	}
	if err != nil {
		return nil, err
	}
	return sealedJSON{resp}, nil
}

type policyEntitiesResult struct {
	Timestamp      time.Time             `json:"timestamp"`
	UserMappings   []userPolicyEntities  `json:"userMappings,omitempty"`
	GroupMappings  []groupPolicyEntities `json:"groupMappings,omitempty"`
	PolicyMappings []policyEntities      `json:"policyMappings,omitempty"`
}

type userPolicyEntities struct {
	User             string                `json:"user"`
	Policies         []string              `json:"policies"`
	MemberOfMappings []groupPolicyEntities `json:"memberOfMappings,omitempty"`
}

type groupPolicyEntities struct {
	Group    string   `json:"group"`
	Policies []string `json:"policies"`
}

type policyEntities struct {
	Policy string   `json:"policy"`
	Users  []string `json:"users"`
	Groups []string `json:"groups"`
}

func (c *call) policyEntities() (any, error) {
	ids := c.a.opt.Identities
	q := c.r.URL.Query()
	res := policyEntitiesResult{Timestamp: c.a.opt.Now().UTC()}
	policies := q["policy"]
	if len(q["user"])+len(q["group"])+len(policies) == 0 {
		all, err := ids.ListPolicies(c.ctx)
		if err != nil {
			return nil, err
		}
		for n := range all {
			policies = append(policies, n)
		}
	}
	for _, p := range policies {
		users, groups, err := ids.PolicyEntities(c.ctx, p)
		if err != nil {
			return nil, err
		}
		if len(users)+len(groups) > 0 || len(q["policy"]) > 0 {
			res.PolicyMappings = append(res.PolicyMappings, policyEntities{Policy: p, Users: users, Groups: groups})
		}
	}
	for _, name := range q["user"] {
		u, err := ids.GetUser(c.ctx, name)
		if err != nil {
			return nil, err
		}
		m := userPolicyEntities{User: name, Policies: u.Policies}
		for _, g := range u.Groups {
			if gr, err := ids.GetGroup(c.ctx, g); err == nil && len(gr.Policies) > 0 {
				m.MemberOfMappings = append(m.MemberOfMappings, groupPolicyEntities{Group: g, Policies: gr.Policies})
			}
		}
		res.UserMappings = append(res.UserMappings, m)
	}
	for _, name := range q["group"] {
		g, err := ids.GetGroup(c.ctx, name)
		if err != nil {
			return nil, err
		}
		res.GroupMappings = append(res.GroupMappings, groupPolicyEntities{Group: name, Policies: g.Policies})
	}
	return sealedJSON{res}, nil
}

// ownServiceAccount: a user manages its own service accounts.
func (c *call) ownServiceAccount() bool {
	if c.p.Kind != iam.KindUser && c.p.Kind != iam.KindRoot {
		return false // a service account or a session makes none
	}
	switch {
	case strings.HasSuffix(c.r.URL.Path, "/add-service-account"):
		var req addServiceAccountReq
		if c.decodeSealed(&req) != nil {
			return false
		}
		return req.TargetUser == "" || req.TargetUser == c.p.User
	case strings.HasSuffix(c.r.URL.Path, "/list-service-accounts"):
		u := c.query("user")
		return u == "" || u == c.p.User
	}
	sa, err := c.a.opt.Identities.GetServiceAccount(c.ctx, c.query("accessKey"))
	return err == nil && sa.Parent == c.p.User
}

type addServiceAccountReq struct {
	Policy      json.RawMessage `json:"policy,omitempty"`
	TargetUser  string          `json:"targetUser,omitempty"`
	AccessKey   string          `json:"accessKey,omitempty"`
	SecretKey   string          `json:"secretKey,omitempty"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Expiration  *time.Time      `json:"expiration,omitempty"`
}

type credentials struct {
	AccessKey    string    `json:"accessKey,omitempty"`
	SecretKey    string    `json:"secretKey,omitempty"`
	SessionToken string    `json:"sessionToken,omitempty"`
	Expiration   time.Time `json:"expiration,omitzero"`
}

func policyBytes(raw json.RawMessage) []byte {
	if s := strings.TrimSpace(string(raw)); s == "" || s == "null" || s == `""` {
		return nil
	}
	// madmin may send the document as a JSON string.
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return []byte(str)
	}
	return raw
}

func expiry(t *time.Time) time.Time {
	if t == nil || t.IsZero() || t.Equal(time.Unix(0, 0)) {
		return time.Time{}
	}
	return *t
}

func (c *call) addServiceAccount() (any, error) {
	var req addServiceAccountReq
	if err := c.decodeSealed(&req); err != nil {
		return nil, err
	}
	parent := req.TargetUser
	if parent == "" {
		parent = c.p.User
	}
	cr, err := c.a.opt.Identities.CreateServiceAccount(c.ctx, parent, iam.ServiceAccountOptions{
		AccessKey: req.AccessKey, SecretKey: req.SecretKey, Name: req.Name, Description: req.Description,
		Policy: policyBytes(req.Policy), Expires: expiry(req.Expiration)})
	if err != nil {
		return nil, err
	}
	return sealedJSON{struct {
		Credentials credentials `json:"credentials"`
	}{credentials{AccessKey: cr.AccessKey, SecretKey: cr.SecretKey, Expiration: expiry(req.Expiration)}}}, nil
}

type updateServiceAccountReq struct {
	NewPolicy      json.RawMessage `json:"newPolicy,omitempty"`
	NewSecretKey   string          `json:"newSecretKey,omitempty"`
	NewStatus      string          `json:"newStatus,omitempty"`
	NewName        string          `json:"newName,omitempty"`
	NewDescription string          `json:"newDescription,omitempty"`
	NewExpiration  *time.Time      `json:"newExpiration,omitempty"`
}

func (c *call) updateServiceAccount() (any, error) {
	var req updateServiceAccountReq
	if err := c.decodeSealed(&req); err != nil {
		return nil, err
	}
	var u iam.ServiceAccountUpdate
	if req.NewSecretKey != "" {
		u.SecretKey = &req.NewSecretKey
	}
	if req.NewStatus != "" {
		s := iam.Status(req.NewStatus)
		if s == "on" {
			s = iam.Enabled
		} else if s == "off" {
			s = iam.Disabled
		}
		u.Status = &s
	}
	if len(req.NewPolicy) > 0 {
		p := policyBytes(req.NewPolicy)
		u.Policy = &p
	}
	if req.NewName != "" {
		u.Name = &req.NewName
	}
	if req.NewDescription != "" {
		u.Description = &req.NewDescription
	}
	if req.NewExpiration != nil {
		e := expiry(req.NewExpiration)
		u.Expires = &e
	}
	if err := c.a.opt.Identities.UpdateServiceAccount(c.ctx, c.query("accessKey"), u); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (c *call) deleteServiceAccount() (any, error) {
	if err := c.a.opt.Identities.DeleteServiceAccount(c.ctx, c.query("accessKey")); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

type serviceAccountInfo struct {
	ParentUser    string     `json:"parentUser"`
	AccountStatus string     `json:"accountStatus"`
	ImpliedPolicy bool       `json:"impliedPolicy"`
	AccessKey     string     `json:"accessKey"`
	Name          string     `json:"name,omitempty"`
	Description   string     `json:"description,omitempty"`
	Expiration    *time.Time `json:"expiration,omitempty"`
}

// exp is an expiry as MinIO sends it: never is the Unix epoch (mc reads
// the field without a nil check).
func exp(t time.Time) *time.Time {
	if t.IsZero() {
		t = time.Unix(0, 0).UTC()
	}
	return &t
}

func (c *call) listServiceAccounts() (any, error) {
	user := c.query("user")
	if user == "" {
		user = c.p.User
	}
	list, err := c.a.opt.Identities.ListServiceAccounts(c.ctx, user)
	if err != nil {
		return nil, err
	}
	out := struct {
		Accounts []serviceAccountInfo `json:"accounts"`
	}{Accounts: []serviceAccountInfo{}}
	for _, sa := range list {
		out.Accounts = append(out.Accounts, serviceAccountInfo{ParentUser: sa.Parent, AccountStatus: accountStatus(sa.Status),
			ImpliedPolicy: len(sa.Policy) == 0, AccessKey: sa.AccessKey, Name: sa.Name, Description: sa.Description, Expiration: exp(sa.Expires)})
	}
	return sealedJSON{out}, nil
}

// accountStatus is MinIO's word for a service account's status.
func accountStatus(s iam.Status) string {
	if s == iam.Disabled {
		return "off"
	}
	return "on"
}

func (c *call) infoServiceAccount() (any, error) {
	sa, err := c.a.opt.Identities.GetServiceAccount(c.ctx, c.query("accessKey"))
	if err != nil {
		return nil, err
	}
	doc := string(sa.Policy)
	if doc == "" {
		// The implied policy: the parent's, which MinIO shows combined.
		doc = `{"Version":"2012-10-17","Statement":[]}`
		if sa.Parent == iam.RootName {
			p, _ := policy.Builtin("consoleAdmin")
			doc = string(compactJSON(p.JSON()))
		}
	}
	out := struct {
		ParentUser    string     `json:"parentUser"`
		AccountStatus string     `json:"accountStatus"`
		ImpliedPolicy bool       `json:"impliedPolicy"`
		Policy        string     `json:"policy"`
		Name          string     `json:"name,omitempty"`
		Description   string     `json:"description,omitempty"`
		Expiration    *time.Time `json:"expiration,omitempty"`
	}{sa.Parent, accountStatus(sa.Status), len(sa.Policy) == 0, doc, sa.Name, sa.Description, nil}
	if !sa.Expires.IsZero() {
		out.Expiration = &sa.Expires
	}
	return sealedJSON{out}, nil
}

func (c *call) setUserPOSIX() (any, error) {
	uid, err1 := strconv.ParseUint(c.query("uid"), 10, 32)
	gid, err2 := strconv.ParseUint(c.query("gid"), 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "uid and gid must be numbers")
	}
	return nil, c.a.opt.Identities.SetUserPOSIX(c.ctx, c.query("accessKey"), uint32(uid), uint32(gid))
}

// setUserExpiry sets when a user's keys stop working: expires is a time
// in RFC 3339 or "never".
func (c *call) setUserExpiry() (any, error) {
	var t time.Time
	if e := c.query("expires"); e != "never" {
		var err error
		if t, err = time.Parse(time.RFC3339, e); err != nil {
			return nil, fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "expires: a time in RFC 3339 (2026-12-31T00:00:00Z) or never")
		}
	}
	return nil, c.a.opt.Identities.SetUserExpiry(c.ctx, c.query("accessKey"), t)
}

// addAccessKey gives a user one more access key (key rotation); a user
// may rotate its own. The new secret travels sealed.
func (c *call) addAccessKey() (any, error) {
	cr, err := c.a.opt.Identities.AddAccessKey(c.ctx, c.query("accessKey"))
	if err != nil {
		return nil, err
	}
	return sealedJSON{credentials{AccessKey: cr.AccessKey, SecretKey: cr.SecretKey}}, nil
}

func (c *call) removeAccessKey() (any, error) {
	return nil, c.a.opt.Identities.RemoveAccessKey(c.ctx, c.query("accessKey"), c.query("key"))
}

// runLifecycle applies a bucket's lifecycle rules now.
func (c *call) runLifecycle() (any, error) {
	if c.a.opt.RunLifecycle == nil {
		return nil, fail(http.StatusNotImplemented, "XMinioAdminNotImplemented", "this server does not run lifecycle rules")
	}
	b := c.query("bucket")
	if b == "" {
		return nil, fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "name a bucket")
	}
	return c.a.opt.RunLifecycle(c.ctx, b)
}

// quotaDoc is a bucket quota as madmin's BucketQuota has it ("quota" is
// its older name of "size"), with cairn's object limit and the usage.
type quotaDoc struct {
	Quota       uint64 `json:"quota"`
	Size        uint64 `json:"size"`
	Rate        uint64 `json:"rate"`
	Requests    uint64 `json:"requests"`
	Type        string `json:"quotatype,omitempty"`
	Objects     uint64 `json:"objects,omitempty"`
	UsedBytes   uint64 `json:"used_bytes"`
	UsedObjects uint64 `json:"used_objects"`
}

// setBucketQuota sets (size and objects 0: removes) a bucket's quota:
// mc quota set|clear.
func (c *call) setBucketQuota() (any, error) {
	if c.a.opt.SetBucketQuota == nil {
		return nil, fail(http.StatusNotImplemented, "XMinioAdminNotImplemented", "this server keeps no bucket quotas")
	}
	b := c.query("bucket")
	if b == "" {
		return nil, fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "name a bucket")
	}
	var d quotaDoc
	if len(c.body) > 0 {
		if err := json.Unmarshal(c.body, &d); err != nil {
			return nil, fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "the quota is not a JSON document: %v", err)
		}
	}
	if d.Type != "" && d.Type != "hard" {
		return nil, fail(http.StatusBadRequest, "XMinioAdminInvalidArgument", "quota type %q: only hard quotas exist", d.Type)
	}
	if d.Rate != 0 || d.Requests != 0 {
		return nil, fail(http.StatusNotImplemented, "XMinioAdminNotImplemented", "request-rate quotas are not kept")
	}
	size := d.Size
	if size == 0 {
		size = d.Quota
	}
	return nil, c.a.opt.SetBucketQuota(c.ctx, b, size, d.Objects)
}

// getBucketQuota answers a bucket's quota with its usage: mc quota info.
func (c *call) getBucketQuota() (any, error) {
	if c.a.opt.GetBucketQuota == nil {
		return nil, fail(http.StatusNotImplemented, "XMinioAdminNotImplemented", "this server keeps no bucket quotas")
	}
	q, err := c.a.opt.GetBucketQuota(c.ctx, c.query("bucket"))
	if err != nil {
		return nil, err
	}
	d := quotaDoc{Quota: q.MaxBytes, Size: q.MaxBytes, Objects: q.MaxObjects, UsedBytes: q.UsedBytes, UsedObjects: q.UsedObjects}
	if q.MaxBytes > 0 || q.MaxObjects > 0 {
		d.Type = "hard"
	}
	return d, nil
}
