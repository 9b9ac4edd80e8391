package console

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"cairn/internal/adminapi"
)

// The identity pages manage users, groups, policies and service accounts
// through the admin API, as the signed-in user: they show only to users
// whose keys may list users, and every change is the admin API's own
// decision.

// adminClient returns an admin API client that signs as the session.
func (c *Console) adminClient(se *session) *adminapi.Client {
	return &adminapi.Client{Endpoint: c.opt.Endpoint, AccessKey: se.accessKey, SecretKey: se.secretKey, HTTP: c.opt.HTTP}
}

// iamTabs are the identity page's tabs.
var iamTabs = []struct{ ID, Label string }{
	{"users", "Users"}, {"groups", "Groups"}, {"policies", "Policies"}, {"accounts", "Service accounts"},
}

// A userRow is one user of the users tab.
type userRow struct {
	Name     string
	Info     adminapi.UserInfo
	Policies []string
}

// policyRow is one policy of the policies tab.
type policyRow struct {
	Name           string
	Doc            string
	Users, Groups  []string
	BuiltIn        bool
	EntitiesFailed bool
}

// policyTemplates fill the new-policy editor. BUCKET is replaced by the
// bucket the user names.
var policyTemplates = []struct{ ID, Label, Doc string }{
	{"bucket-read", "Read one bucket", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket","s3:GetBucketLocation"],"Resource":["arn:aws:s3:::BUCKET","arn:aws:s3:::BUCKET/*"]}]}`},
	{"bucket-write", "Read and write one bucket", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::BUCKET","arn:aws:s3:::BUCKET/*"]}]}`},
	{"prefix-home", "Read and write one folder of a bucket", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::BUCKET"],"Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*"]}}},{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":["arn:aws:s3:::BUCKET/home/${aws:username}/*"]}]}`},
}

// builtinPolicies are the policies every volume has (and that cannot be
// removed).
var builtinPolicies = []string{"consoleAdmin", "diagnostics", "readonly", "readwrite", "writeonly"}

func (c *Console) iamPage(k *call) error {
	return c.showIAM(k, k.r.FormValue("tab"), http.StatusOK, k.se.takeFlash(), nil)
}

// showIAM renders one tab of the identity page; extra adds to its data
// (a secret to show once, the text of a refused form).
func (c *Console) showIAM(k *call, tab string, status int, msg string, extra map[string]any) error {
	ctx, ac := k.r.Context(), c.adminClient(k.se)
	if tab == "" {
		tab = "users"
	}
	data := map[string]any{"Title": "Identity", "Tab": tab, "Tabs": iamTabs, "Expiries": expiryPresets}
	for key, v := range extra {
		data[key] = v
	}
	users, err := ac.ListUsers(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	slices.Sort(names)
	data["UserNames"] = names
	pols, err := ac.ListPolicies(ctx)
	if err != nil {
		return err
	}
	var polNames []string
	for n := range pols {
		polNames = append(polNames, n)
	}
	slices.Sort(polNames)
	data["PolicyNames"] = polNames
	switch tab {
	case "users":
		var rows []userRow
		for _, n := range names {
			u := users[n]
			var ps []string
			for p := range strings.SplitSeq(u.PolicyName, ",") {
				if p = strings.TrimSpace(p); p != "" {
					ps = append(ps, p)
				}
			}
			rows = append(rows, userRow{Name: n, Info: u, Policies: ps})
		}
		data["Users"] = rows
	case "groups":
		groups, err := ac.ListGroups(ctx)
		if err != nil {
			return err
		}
		slices.Sort(groups)
		var infos []adminapi.GroupInfo
		for _, g := range groups {
			gi, err := ac.GroupInfo(ctx, g)
			if err != nil {
				return err
			}
			infos = append(infos, gi)
		}
		data["Groups"] = infos
	case "policies":
		var rows []policyRow
		for _, n := range polNames {
			row := policyRow{Name: n, Doc: indentJSON(string(pols[n])), BuiltIn: slices.Contains(builtinPolicies, n)}
			row.Users, row.Groups, err = ac.PolicyEntities(ctx, n)
			row.EntitiesFailed = err != nil
			rows = append(rows, row)
		}
		data["Policies"] = rows
		data["Templates"] = policyTemplates
	case "accounts":
		user := k.r.FormValue("user")
		if user == "" && len(names) > 0 {
			user = names[0]
		}
		data["AccountsUser"] = user
		if user != "" {
			accts, err := ac.ListServiceAccounts(ctx, user)
			if err != nil {
				return err
			}
			data["Accounts"] = accts
		}
	default:
		return badRequest("No identity tab %q.", tab)
	}
	if status >= 400 {
		data["Error"] = msg
		k.w.WriteHeader(status)
	} else {
		data["Message"] = msg
	}
	c.render(k, "iam", data)
	return nil
}

// iamOps are the identity page's changes, by the form's op field.
var iamOps = map[string]func(c *Console, k *call, ac *adminapi.Client) (tab, msg string, extra map[string]any, err error){
	"create-user": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		f := k.r.PostFormValue
		name, secret := strings.TrimSpace(f("name")), f("secret")
		generated := secret == ""
		if generated {
			secret = newSecret()
		}
		if err := ac.AddUser(k.r.Context(), name, secret); err != nil {
			return "users", "", nil, err
		}
		if e := f("expires"); e != "" && e != "never" {
			t, err := c.expiryOf(e)
			if err == nil {
				err = ac.SetUserExpiry(k.r.Context(), name, t)
			}
			if err != nil {
				return "users", "", nil, err
			}
		}
		if p := f("policy"); p != "" {
			if err := ac.AttachPolicy(k.r.Context(), name, "", []string{p}, false); err != nil {
				return "users", "", nil, err
			}
		}
		extra := map[string]any{}
		if generated {
			extra["Secret"] = map[string]string{"AccessKey": name, "SecretKey": secret}
		}
		return "users", "User " + name + " created.", extra, nil
	},
	"user-expiry": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		name := k.r.PostFormValue("name")
		t, err := c.expiryOf(k.r.PostFormValue("expires"))
		if err != nil {
			return "users", "", nil, err
		}
		msg := "User " + name + " never expires."
		if !t.IsZero() {
			msg = "User " + name + " expires " + t.Format(time.RFC1123) + "."
		}
		return "users", msg, nil, ac.SetUserExpiry(k.r.Context(), name, t)
	},
	"rotate": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		name, secret := k.r.PostFormValue("name"), newSecret()
		if name == k.se.accessKey {
			return "users", "", nil, badRequest("Sign in as another administrator to change your own secret here.")
		}
		if err := ac.AddUser(k.r.Context(), name, secret); err != nil {
			return "users", "", nil, err
		}
		return "users", "New secret of " + name + " made.", map[string]any{"Secret": map[string]string{"AccessKey": name, "SecretKey": secret}}, nil
	},
	"user-status": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		name, st := k.r.PostFormValue("name"), k.r.PostFormValue("status")
		return "users", "User " + name + " " + st + ".", nil, ac.SetUserStatus(k.r.Context(), name, st)
	},
	"delete-user": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		name := k.r.PostFormValue("name")
		return "users", "User " + name + " deleted.", nil, ac.RemoveUser(k.r.Context(), name)
	},
	"set-posix": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		name := k.r.PostFormValue("name")
		uid, err1 := strconv.ParseUint(k.r.PostFormValue("uid"), 10, 32)
		gid, err2 := strconv.ParseUint(k.r.PostFormValue("gid"), 10, 32)
		if err1 != nil || err2 != nil {
			return "users", "", nil, badRequest("A uid and a gid are whole numbers.")
		}
		return "users", fmt.Sprintf("%s is uid %d, gid %d.", name, uid, gid), nil, ac.SetUserPOSIX(k.r.Context(), name, uint32(uid), uint32(gid))
	},
	"group-members": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		f := k.r.PostFormValue
		group, remove := strings.TrimSpace(f("group")), f("remove") == "on"
		var members []string
		for m := range strings.SplitSeq(f("members"), ",") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		if group == "" {
			return "groups", "", nil, badRequest("Name the group.")
		}
		verb := "updated"
		if remove {
			verb = "members removed"
		}
		return "groups", "Group " + group + " " + verb + ".", nil, ac.UpdateGroupMembers(k.r.Context(), group, members, remove)
	},
	"group-status": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		group, st := k.r.PostFormValue("group"), k.r.PostFormValue("status")
		return "groups", "Group " + group + " " + st + ".", nil, ac.SetGroupStatus(k.r.Context(), group, st)
	},
	"create-policy": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		name, doc := strings.TrimSpace(k.r.PostFormValue("name")), strings.TrimSpace(k.r.PostFormValue("text"))
		if !json.Valid([]byte(doc)) {
			return "policies", "", map[string]any{"Text": doc, "Name": name}, badRequest("The policy is not valid JSON.")
		}
		if err := ac.AddPolicy(k.r.Context(), name, []byte(doc)); err != nil {
			return "policies", "", map[string]any{"Text": doc, "Name": name}, err
		}
		return "policies", "Policy " + name + " saved.", nil, nil
	},
	"delete-policy": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		name := k.r.PostFormValue("name")
		return "policies", "Policy " + name + " deleted.", nil, ac.RemovePolicy(k.r.Context(), name)
	},
	"attach": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		return attachOp(k, ac, false)
	},
	"detach": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		return attachOp(k, ac, true)
	},
	"create-account": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		user := k.r.PostFormValue("user")
		ak, sk, err := ac.AddServiceAccount(k.r.Context(), user, "", "", nil)
		if err != nil {
			return "accounts", "", nil, err
		}
		return "accounts", "Service account of " + user + " created.", map[string]any{"Secret": map[string]string{"AccessKey": ak, "SecretKey": sk}}, nil
	},
	"account-status": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		key, st := k.r.PostFormValue("key"), k.r.PostFormValue("status")
		return "accounts", "Service account " + key + " " + st + ".", nil, ac.SetServiceAccountStatus(k.r.Context(), key, st)
	},
	"delete-account": func(c *Console, k *call, ac *adminapi.Client) (string, string, map[string]any, error) {
		key := k.r.PostFormValue("key")
		return "accounts", "Service account " + key + " deleted.", nil, ac.RemoveServiceAccount(k.r.Context(), key)
	},
}

func attachOp(k *call, ac *adminapi.Client, detach bool) (string, string, map[string]any, error) {
	f := k.r.PostFormValue
	policy, who := f("policy"), strings.TrimSpace(f("who"))
	kind, name, ok := strings.Cut(who, ":")
	if !ok || name == "" || (kind != "user" && kind != "group") {
		return "policies", "", nil, badRequest("Name a user (user:NAME) or a group (group:NAME).")
	}
	user, group := name, ""
	if kind == "group" {
		user, group = "", name
	}
	verb := "attached to"
	if detach {
		verb = "detached from"
	}
	return "policies", fmt.Sprintf("Policy %s %s %s %s.", policy, verb, kind, name), nil,
		ac.AttachPolicy(k.r.Context(), user, group, []string{policy}, detach)
}

func (c *Console) iamChange(k *call) error {
	op, ok := iamOps[k.r.PostFormValue("op")]
	if !ok {
		return badRequest("No such change: %q.", k.r.PostFormValue("op"))
	}
	tab, msg, extra, err := op(c, k, c.adminClient(k.se))
	if err != nil {
		status, m := c.describe(err)
		return c.showIAM(k, tab, status, m, extra)
	}
	if extra != nil { // a secret is shown once, in this answer, never in an address
		return c.showIAM(k, tab, http.StatusOK, msg, extra)
	}
	k.se.setFlash(msg)
	q := url.Values{"tab": {tab}}
	if tab == "accounts" {
		q.Set("user", k.r.PostFormValue("user"))
	}
	http.Redirect(k.w, k.r, Prefix+"iam?"+q.Encode(), http.StatusSeeOther)
	return nil
}

// expiryPresets are the choices of a user's lifetime.
var expiryPresets = []struct{ ID, Label string }{
	{"never", "never"}, {"1h", "in 1 hour"}, {"24h", "in 1 day"}, {"168h", "in 7 days"}, {"720h", "in 30 days"}, {"2160h", "in 90 days"},
}

// expiryOf turns a preset into a time (zero: never).
func (c *Console) expiryOf(preset string) (time.Time, error) {
	for _, p := range expiryPresets {
		if p.ID == preset {
			if preset == "never" {
				return time.Time{}, nil
			}
			d, _ := time.ParseDuration(preset)
			return c.opt.Now().Add(d), nil
		}
	}
	return time.Time{}, badRequest("No expiry %q.", preset)
}

// newSecret returns a random secret key (130 bits).
func newSecret() string { return rand.Text() }
