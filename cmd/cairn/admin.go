package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cairn/internal/adminapi"
)

// adminOptions are how `cairn admin` reaches a server.
type adminOptions struct {
	endpoint, accessKey, secretKey string
	json                           bool
}

func newAdminCmd() *cobra.Command {
	o := &adminOptions{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage the users, groups, policies and service accounts of a running server, its bucket quotas and notification targets, and run its lifecycle rules",
		Long: `Manage identities through a server's admin API (the one MinIO's mc admin speaks).
Credentials: --access-key/--secret-key (CAIRN_ACCESS_KEY, CAIRN_SECRET_KEY), else
CAIRN_ROOT_USER/CAIRN_ROOT_PASSWORD, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.endpoint, "endpoint", "http://127.0.0.1:9000", "the server's URL")
	pf.StringVar(&o.accessKey, "access-key", "", "access key to sign with")
	pf.StringVar(&o.secretKey, "secret-key", "", "its secret")
	pf.BoolVar(&o.json, "json", false, "print JSON (for scripts) instead of tables")
	cmd.AddCommand(adminUserCmd(o), adminGroupCmd(o), adminPolicyCmd(o), adminSvcacctCmd(o), adminLifecycleCmd(o), adminQuotaCmd(o), adminNotifyCmd(o))
	return cmd
}

func (o *adminOptions) client(cmd *cobra.Command) (*adminapi.Client, error) {
	ak, sk := o.accessKey, o.secretKey
	for _, pair := range [][2]string{{"CAIRN_ACCESS_KEY", "CAIRN_SECRET_KEY"}, {"CAIRN_ROOT_USER", "CAIRN_ROOT_PASSWORD"}, {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}} {
		if ak == "" && sk == "" {
			ak, sk = os.Getenv(pair[0]), os.Getenv(pair[1])
		}
	}
	if ak == "" || sk == "" {
		return nil, errors.New("no credentials: give --access-key and --secret-key (or set CAIRN_ACCESS_KEY and CAIRN_SECRET_KEY)")
	}
	return &adminapi.Client{Endpoint: o.endpoint, AccessKey: ak, SecretKey: sk}, nil
}

// run wraps an admin call: fn gets the client; what it returns is printed
// as JSON with --json, else by table (nil: nothing, or done says so).
func (o *adminOptions) run(fn func(c *adminapi.Client, cmd *cobra.Command, args []string) (any, func(w io.Writer), error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := o.client(cmd)
		if err != nil {
			return err
		}
		v, table, err := fn(c, cmd, args)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		switch {
		case o.json && v != nil:
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		case o.json:
			fmt.Fprintln(out, `{"status":"ok"}`)
		case table != nil:
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			table(tw)
			return tw.Flush()
		}
		return nil
	}
}

func done(format string, args ...any) func(io.Writer) {
	return func(w io.Writer) { fmt.Fprintf(w, format+"\n", args...) }
}

func adminUserCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Users"}
	cmd.AddCommand(
		&cobra.Command{Use: "add NAME SECRET", Short: "Create a user (or set its secret)", Args: cobra.ExactArgs(2),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("added user %s", a[0]), c.AddUser(cmd.Context(), a[0], a[1])
			})},
		&cobra.Command{Use: "ls", Short: "List users", Args: cobra.NoArgs,
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				users, err := c.ListUsers(cmd.Context())
				return users, func(w io.Writer) {
					fmt.Fprintln(w, "USER\tSTATUS\tUID\tGID\tPOLICIES\tGROUPS")
					for _, n := range sortedKeys(users) {
						u := users[n]
						fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", n, u.Status, u.UID, u.GID, u.PolicyName, strings.Join(u.MemberOf, ","))
					}
				}, err
			})},
		&cobra.Command{Use: "info NAME", Short: "Show a user", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				u, err := c.UserInfo(cmd.Context(), a[0])
				return u, func(w io.Writer) {
					fmt.Fprintf(w, "user:\t%s\nstatus:\t%s\nuid:gid:\t%d:%d\npolicies:\t%s\ngroups:\t%s\n", a[0], u.Status, u.UID, u.GID, u.PolicyName, strings.Join(u.MemberOf, ","))
				}, err
			})},
		statusCmd(o, "enable", "enabled", func(c *adminapi.Client) func(cmd *cobra.Command, n, s string) error {
			return func(cmd *cobra.Command, n, s string) error { return c.SetUserStatus(cmd.Context(), n, s) }
		}),
		statusCmd(o, "disable", "disabled", func(c *adminapi.Client) func(cmd *cobra.Command, n, s string) error {
			return func(cmd *cobra.Command, n, s string) error { return c.SetUserStatus(cmd.Context(), n, s) }
		}),
		&cobra.Command{Use: "rm NAME", Short: "Delete a user, its keys and service accounts", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("removed user %s", a[0]), c.RemoveUser(cmd.Context(), a[0])
			})},
		&cobra.Command{Use: "key-add NAME", Short: "Give a user one more access key (to rotate: add, switch, then key-rm the old)", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				k, s, err := c.AddAccessKey(cmd.Context(), a[0])
				return map[string]string{"accessKey": k, "secretKey": s}, done("access key:\t%s\nsecret key:\t%s", k, s), err
			})},
		&cobra.Command{Use: "key-rm NAME KEY", Short: "Remove one of a user's access keys", Args: cobra.ExactArgs(2),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("removed key %s of %s", a[1], a[0]), c.RemoveAccessKey(cmd.Context(), a[0], a[1])
			})},
		&cobra.Command{Use: "set-id NAME UID GID", Short: "Set the uid and primary gid a user's requests run as", Args: cobra.ExactArgs(3),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				var uid, gid uint32
				if _, err := fmt.Sscanf(a[1]+" "+a[2], "%d %d", &uid, &gid); err != nil {
					return nil, nil, fmt.Errorf("UID and GID must be numbers")
				}
				return nil, done("user %s runs as %d:%d", a[0], uid, gid), c.SetUserPOSIX(cmd.Context(), a[0], uid, gid)
			})},
		&cobra.Command{Use: "expire NAME (DURATION|TIME|never)", Short: "Set when a user's keys stop working: after a duration (72h), at a time (RFC 3339), or never",
			Args: cobra.ExactArgs(2),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				var t time.Time
				switch d, err := time.ParseDuration(a[1]); {
				case a[1] == "never":
				case err == nil && d > 0:
					t = time.Now().Add(d)
				default:
					if t, err = time.Parse(time.RFC3339, a[1]); err != nil {
						return nil, nil, fmt.Errorf("%q: give a duration such as 72h, a time such as 2027-01-31T00:00:00Z, or never", a[1])
					}
				}
				msg := done("user %s never expires", a[0])
				if !t.IsZero() {
					msg = done("user %s expires %s", a[0], t.UTC().Format(time.RFC3339))
				}
				return nil, msg, c.SetUserExpiry(cmd.Context(), a[0], t)
			})},
	)
	return cmd
}

func statusCmd(o *adminOptions, verb, status string, set func(*adminapi.Client) func(cmd *cobra.Command, name, status string) error) *cobra.Command {
	return &cobra.Command{Use: verb + " NAME", Short: strings.ToUpper(verb[:1]) + verb[1:], Args: cobra.ExactArgs(1),
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			return nil, done("%s %s", a[0], status), set(c)(cmd, a[0], status)
		})}
}

func adminGroupCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Groups"}
	cmd.AddCommand(
		&cobra.Command{Use: "add GROUP USER...", Short: "Add users to a group (made if needed)", Args: cobra.MinimumNArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("group %s: added %s", a[0], strings.Join(a[1:], ",")), c.UpdateGroupMembers(cmd.Context(), a[0], a[1:], false)
			})},
		&cobra.Command{Use: "rm GROUP [USER...]", Short: "Remove users from a group, or the (empty) group itself", Args: cobra.MinimumNArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("group %s: removed %s", a[0], strings.Join(a[1:], ",")), c.UpdateGroupMembers(cmd.Context(), a[0], a[1:], true)
			})},
		&cobra.Command{Use: "ls", Short: "List groups", Args: cobra.NoArgs,
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				gs, err := c.ListGroups(cmd.Context())
				return gs, func(w io.Writer) {
					for _, g := range gs {
						fmt.Fprintln(w, g)
					}
				}, err
			})},
		&cobra.Command{Use: "info GROUP", Short: "Show a group", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				g, err := c.GroupInfo(cmd.Context(), a[0])
				return g, func(w io.Writer) {
					fmt.Fprintf(w, "group:\t%s\nstatus:\t%s\ngid:\t%d\npolicies:\t%s\nmembers:\t%s\n", g.Name, g.Status, g.GID, g.Policy, strings.Join(g.Members, ","))
				}, err
			})},
		statusCmd(o, "enable", "enabled", func(c *adminapi.Client) func(cmd *cobra.Command, n, s string) error {
			return func(cmd *cobra.Command, n, s string) error { return c.SetGroupStatus(cmd.Context(), n, s) }
		}),
		statusCmd(o, "disable", "disabled", func(c *adminapi.Client) func(cmd *cobra.Command, n, s string) error {
			return func(cmd *cobra.Command, n, s string) error { return c.SetGroupStatus(cmd.Context(), n, s) }
		}),
	)
	return cmd
}

func adminPolicyCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Policies"}
	var user, group string
	attach := func(detach bool) *cobra.Command {
		verb := map[bool]string{false: "attach", true: "detach"}[detach]
		c := &cobra.Command{Use: verb + " POLICY... (--user USER | --group GROUP)", Short: strings.ToUpper(verb[:1]) + verb[1:] + " policies", Args: cobra.MinimumNArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				if (user == "") == (group == "") {
					return nil, nil, errors.New("give --user or --group")
				}
				return nil, done("%sed %s", verb, strings.Join(a, ",")), c.AttachPolicy(cmd.Context(), user, group, a, detach)
			})}
		c.Flags().StringVar(&user, "user", "", "the user")
		c.Flags().StringVar(&group, "group", "", "the group")
		return c
	}
	cmd.AddCommand(
		&cobra.Command{Use: "create NAME FILE", Short: "Store a policy (an AWS document or MyFSIO's list form)", Args: cobra.ExactArgs(2),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				doc, err := os.ReadFile(a[1])
				if err != nil {
					return nil, nil, err
				}
				return nil, done("created policy %s", a[0]), c.AddPolicy(cmd.Context(), a[0], doc)
			})},
		&cobra.Command{Use: "rm NAME", Short: "Delete a policy (attached to nothing)", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("removed policy %s", a[0]), c.RemovePolicy(cmd.Context(), a[0])
			})},
		&cobra.Command{Use: "ls", Short: "List policies", Args: cobra.NoArgs,
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				ps, err := c.ListPolicies(cmd.Context())
				return sortedKeys(ps), func(w io.Writer) {
					for _, n := range sortedKeys(ps) {
						fmt.Fprintln(w, n)
					}
				}, err
			})},
		&cobra.Command{Use: "info NAME", Short: "Show a policy's document", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				doc, err := c.PolicyInfo(cmd.Context(), a[0])
				return doc, func(w io.Writer) {
					var v any
					json.Unmarshal(doc, &v)
					b, _ := json.MarshalIndent(v, "", "  ")
					fmt.Fprintln(w, string(b))
				}, err
			})},
		&cobra.Command{Use: "entities NAME", Short: "Users and groups a policy is attached to", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				users, groups, err := c.PolicyEntities(cmd.Context(), a[0])
				return map[string][]string{"users": users, "groups": groups}, func(w io.Writer) {
					fmt.Fprintf(w, "users:\t%s\ngroups:\t%s\n", strings.Join(users, ","), strings.Join(groups, ","))
				}, err
			})},
		attach(false), attach(true),
	)
	return cmd
}

func adminSvcacctCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "svcacct", Short: "Service accounts (keys of a user, optionally narrowed)"}
	var ak, sk, policyFile string
	add := &cobra.Command{Use: "add USER", Short: "Make a service account of a user", Args: cobra.ExactArgs(1),
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			var doc []byte
			if policyFile != "" {
				var err error
				if doc, err = os.ReadFile(policyFile); err != nil {
					return nil, nil, err
				}
			}
			k, s, err := c.AddServiceAccount(cmd.Context(), a[0], ak, sk, doc)
			return map[string]string{"accessKey": k, "secretKey": s}, done("access key:\t%s\nsecret key:\t%s", k, s), err
		})}
	add.Flags().StringVar(&ak, "access-key", "", "the access key (default: random)")
	add.Flags().StringVar(&sk, "secret-key", "", "the secret (default: random)")
	add.Flags().StringVar(&policyFile, "policy", "", "a policy file that bounds the account")
	cmd.AddCommand(add,
		&cobra.Command{Use: "ls USER", Short: "List a user's service accounts", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				list, err := c.ListServiceAccounts(cmd.Context(), a[0])
				return list, func(w io.Writer) {
					fmt.Fprintln(w, "ACCESS KEY\tSTATUS\tNAME")
					for _, s := range list {
						fmt.Fprintf(w, "%s\t%s\t%s\n", s.AccessKey, s.AccountStatus, s.Name)
					}
				}, err
			})},
		&cobra.Command{Use: "disable KEY", Args: cobra.ExactArgs(1), Short: "Turn a service account off",
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("%s off", a[0]), c.SetServiceAccountStatus(cmd.Context(), a[0], "off")
			})},
		&cobra.Command{Use: "enable KEY", Args: cobra.ExactArgs(1), Short: "Turn a service account on",
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("%s on", a[0]), c.SetServiceAccountStatus(cmd.Context(), a[0], "on")
			})},
		&cobra.Command{Use: "rm KEY", Args: cobra.ExactArgs(1), Short: "Delete a service account",
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, done("removed %s", a[0]), c.RemoveServiceAccount(cmd.Context(), a[0])
			})},
	)
	return cmd
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func adminLifecycleCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "lifecycle", Short: "Buckets' lifecycle rules"}
	cmd.AddCommand(&cobra.Command{Use: "run BUCKET", Short: "Apply a bucket's lifecycle rules now", Args: cobra.ExactArgs(1),
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			st, err := c.RunLifecycle(cmd.Context(), a[0])
			if err != nil {
				return nil, nil, err
			}
			return st, func(w io.Writer) {
				for _, k := range []string{"scanned", "expired", "noncurrentExpired", "deleteMarkersRemoved", "uploadsAborted", "errors"} {
					fmt.Fprintf(w, "%s\t%d\n", k, st[k])
				}
			}, nil
		})})
	return cmd
}

func adminQuotaCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "quota", Short: "Buckets' quotas (bytes and objects; mc quota speaks the same call)"}
	var size sizeValue
	var objects uint64
	set := &cobra.Command{Use: "set BUCKET", Short: "Set a bucket's quota: --size, --objects or both", Args: cobra.ExactArgs(1),
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			if size == 0 && objects == 0 {
				return nil, nil, errors.New("give --size, --objects or both (cairn admin quota clear removes a quota)")
			}
			return nil, nil, c.SetBucketQuota(cmd.Context(), a[0], uint64(size), objects)
		})}
	set.Flags().Var(&size, "size", "most bytes the bucket may hold (e.g. 10G)")
	set.Flags().Uint64Var(&objects, "objects", 0, "most objects the bucket may hold (prefix directories count)")
	info := &cobra.Command{Use: "info BUCKET", Short: "Show a bucket's quota and usage", Args: cobra.ExactArgs(1),
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			q, err := c.GetBucketQuota(cmd.Context(), a[0])
			if err != nil {
				return nil, nil, err
			}
			return q, func(w io.Writer) {
				if q.MaxBytes == 0 && q.MaxObjects == 0 {
					fmt.Fprintf(w, "bucket %s has no quota\n", a[0])
					return
				}
				fmt.Fprintf(w, "bytes\t%d of %s\nobjects\t%d of %s\n", q.UsedBytes, limitText(q.MaxBytes), q.UsedObjects, limitText(q.MaxObjects))
			}, nil
		})}
	clear := &cobra.Command{Use: "clear BUCKET", Short: "Remove a bucket's quota", Args: cobra.ExactArgs(1),
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			return nil, nil, c.SetBucketQuota(cmd.Context(), a[0], 0, 0)
		})}
	cmd.AddCommand(set, info, clear)
	return cmd
}

func adminNotifyCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "notify", Short: "Bucket event notification targets and the volume-wide rules (see docs/notifications.md)"}
	cmd.AddCommand(adminNotifyTargetCmds(o)...)
	cmd.AddCommand(&cobra.Command{Use: "status", Short: "Each target's delivery: backlog, deliveries, failures, lag, last error", Args: cobra.NoArgs,
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			st, err := c.NotifyStatus(cmd.Context())
			if err != nil {
				return nil, nil, err
			}
			return st, func(w io.Writer) {
				if len(st) == 0 {
					fmt.Fprintln(w, "no notification targets (see docs/notifications.md)")
					return
				}
				fmt.Fprintln(w, "TARGET	ACTIVE	BACKLOG	DELIVERED	FAILED	SKIPPED	DROPPED	LAG	LAST ERROR")
				for _, s := range st {
					fmt.Fprintf(w, "%s	%v	%d	%d	%d	%d	%d	%s	%s\n", s.ARN, s.Active, s.Backlog(), s.Delivered, s.Failed, s.Skipped, s.Dropped,
						s.Lag.Round(time.Millisecond), s.LastError)
				}
			}, nil
		})})
	return cmd
}

func limitText(n uint64) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}
