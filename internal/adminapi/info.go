package adminapi

import (
	"runtime"
	"time"

	"cairn/internal/iam"
)

// What mc admin accesskey and mc admin info ask for.

// ServerInfo is what the server tells of itself (mc admin info).
type ServerInfo struct {
	Endpoint string    `json:"endpoint"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
	Buckets  uint64    `json:"buckets"`
	// UsedBytes and UsedInodes are the volume's usage; CapacityBytes and
	// InodeLimit its limits (0: none set).
	UsedBytes     uint64 `json:"usedBytes"`
	UsedInodes    uint64 `json:"usedInodes"`
	CapacityBytes uint64 `json:"capacityBytes"`
	InodeLimit    uint64 `json:"inodeLimit"`
	DeploymentID  string `json:"deploymentID"`
	Volume        string `json:"volume"`
	// Sessions are the volume's live clients: mounts and gateways on every
	// host (cairn status).
	Sessions []Session `json:"sessions"`
}

// A Session is one client of the volume.
type Session struct {
	ID         uint64    `json:"id"`
	Host       string    `json:"host"`
	PID        int       `json:"pid"`
	Version    string    `json:"version,omitempty"`
	Process    string    `json:"process,omitempty"`
	Mountpoint string    `json:"mountpoint,omitempty"`
	Started    time.Time `json:"started"`
	Heartbeat  time.Time `json:"heartbeat"`
}

// status answers cairn's own description of the server and its volume
// (the web console's status panel).
func (c *call) status() (any, error) {
	if c.a.opt.ServerInfo == nil {
		return nil, fail(501, "XMinioAdminNotImplemented", "this server does not describe itself")
	}
	return c.a.opt.ServerInfo(c.ctx)
}

// listAccessKeysBulk lists the service accounts of the users named (or of
// every user with all=true; a caller's own without the action): mc admin
// accesskey ls. cairn issues no long-lived STS keys to list.
func (c *call) listAccessKeysBulk() (any, error) {
	q := c.r.URL.Query()
	users := q["users"]
	if q.Get("all") == "true" {
		all, err := c.a.opt.Identities.ListUsers(c.ctx)
		if err != nil {
			return nil, err
		}
		users = users[:0]
		for _, u := range all {
			users = append(users, u.Name)
		}
	}
	if len(users) == 0 {
		users = []string{c.p.User}
	}
	for _, u := range users {
		if u != c.p.User || (c.p.Kind != iam.KindUser && c.p.Kind != iam.KindRoot) {
			if err := c.authorize("admin:ListServiceAccounts"); err != nil {
				return nil, err
			}
			break
		}
	}
	type keys struct {
		ServiceAccounts []serviceAccountInfo `json:"serviceAccounts"`
		STSKeys         []serviceAccountInfo `json:"stsKeys"`
	}
	out := map[string]keys{}
	listType := q.Get("listType")
	for _, u := range users {
		k := keys{ServiceAccounts: []serviceAccountInfo{}, STSKeys: []serviceAccountInfo{}}
		if listType != "sts-only" && listType != "users-only" {
			list, err := c.a.opt.Identities.ListServiceAccounts(c.ctx, u)
			if err != nil {
				return nil, err
			}
			for _, sa := range list {
				k.ServiceAccounts = append(k.ServiceAccounts, serviceAccountInfo{ParentUser: sa.Parent, AccountStatus: accountStatus(sa.Status),
					ImpliedPolicy: len(sa.Policy) == 0, AccessKey: sa.AccessKey, Name: sa.Name, Description: sa.Description, Expiration: exp(sa.Expires)})
			}
		}
		out[u] = k
	}
	return sealedJSON{out}, nil
}

// serverInfo answers mc admin info: one server, online, with the volume's
// usage.
func (c *call) serverInfo() (any, error) {
	if c.a.opt.ServerInfo == nil {
		return nil, fail(501, "XMinioAdminNotImplemented", "this server does not describe itself")
	}
	si, err := c.a.opt.ServerInfo(c.ctx)
	if err != nil {
		return nil, err
	}
	type disk struct {
		Endpoint   string `json:"endpoint"`
		State      string `json:"state"`
		TotalSpace uint64 `json:"totalspace"`
		UsedSpace  uint64 `json:"usedspace"`
		UsedInodes uint64 `json:"used_inodes"`
	}
	type server struct {
		State          string `json:"state"`
		Endpoint       string `json:"endpoint"`
		Uptime         int64  `json:"uptime"`
		Version        string `json:"version"`
		Drives         []disk `json:"drives"`
		NumCPU         int    `json:"num_cpu"`
		RuntimeVersion string `json:"runtime_version"`
		Edition        string `json:"edition"`
	}
	return struct {
		Mode         string `json:"mode"`
		Region       string `json:"region,omitempty"`
		DeploymentID string `json:"deploymentID,omitempty"`
		Buckets      struct {
			Count uint64 `json:"count"`
		} `json:"buckets"`
		Usage struct {
			Size uint64 `json:"size"`
		} `json:"usage"`
		Backend struct {
			Type string `json:"backendType"`
		} `json:"backend"`
		Servers []server `json:"servers"`
	}{
		Mode: "online", Region: c.a.opt.Region, DeploymentID: si.DeploymentID,
		Buckets: struct {
			Count uint64 `json:"count"`
		}{si.Buckets},
		Usage: struct {
			Size uint64 `json:"size"`
		}{si.UsedBytes},
		Backend: struct {
			Type string `json:"backendType"`
		}{"FS"},
		Servers: []server{{State: "online", Endpoint: si.Endpoint, Uptime: int64(time.Since(si.Started).Seconds()), Version: si.Version,
			Drives: []disk{{Endpoint: "volume", State: "ok", TotalSpace: si.CapacityBytes, UsedSpace: si.UsedBytes, UsedInodes: si.UsedInodes}},
			NumCPU: runtime.NumCPU(), RuntimeVersion: runtime.Version(), Edition: "cairn"}},
	}, nil
}
