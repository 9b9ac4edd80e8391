package iam

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"cairn/internal/iam/policy"
	"cairn/internal/meta/kv"
)

// PutPolicy stores identity policy name (an AWS document or MyFSIO's
// simple form), replacing one of that name; the built-in names are
// taken. Errors from the parser (*policy.Error) name the bad statement.
func (i *Identities) PutPolicy(ctx context.Context, name string, doc []byte) error {
	if !validName(name, 1) {
		return fmt.Errorf("%w: a policy name is 1 to 128 letters, digits and +=,.@_-", ErrInvalid)
	}
	if _, ok := policy.Builtin(name); ok {
		return fmt.Errorf("%w: %q is a built-in policy", ErrInvalid, name)
	}
	if _, err := policy.ParseAny(doc); err != nil {
		return err
	}
	return i.update(ctx, func(tx kv.Tx) error { return tx.Put(ikey(famPolicy, name), doc) })
}

// GetPolicy returns the document of policy name (built-in or stored).
func (i *Identities) GetPolicy(ctx context.Context, name string) ([]byte, error) {
	if p, ok := policy.Builtin(name); ok {
		return p.JSON(), nil
	}
	var doc []byte
	err := i.view(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(ikey(famPolicy, name))
		if errors.Is(err, kv.ErrNotFound) {
			return ErrNoSuchPolicy
		}
		doc = append([]byte(nil), b...)
		return err
	})
	return doc, err
}

// ListPolicies returns every policy's document by name, built-in ones
// included.
func (i *Identities) ListPolicies(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, n := range policy.BuiltinNames() {
		p, _ := policy.Builtin(n)
		out[n] = p.JSON()
	}
	err := i.view(ctx, func(tx kv.Tx) error {
		prefix := ikey(famPolicy, "")
		return tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{}, func(k, v []byte) bool {
			out[string(k[len(prefix):])] = append([]byte(nil), v...)
			return true
		})
	})
	return out, err
}

// DeletePolicy deletes policy name, which must be attached to no user
// or group.
func (i *Identities) DeletePolicy(ctx context.Context, name string) error {
	if _, ok := policy.Builtin(name); ok {
		return fmt.Errorf("%w: %q is a built-in policy", ErrInvalid, name)
	}
	return i.update(ctx, func(tx kv.Tx) error {
		if _, err := tx.Get(ikey(famPolicy, name)); errors.Is(err, kv.ErrNotFound) {
			return ErrNoSuchPolicy
		} else if err != nil {
			return err
		}
		users, groups, err := entities(tx, name)
		if err != nil {
			return err
		}
		if len(users)+len(groups) > 0 {
			return fmt.Errorf("%w: to users %v and groups %v", ErrPolicyInUse, users, groups)
		}
		return tx.Delete(ikey(famPolicy, name))
	})
}

// A Target is a user or a group that policies attach to.
type Target struct {
	User, Group string // one of them
}

// AttachPolicy attaches policies (which must exist) to t.
func (i *Identities) AttachPolicy(ctx context.Context, t Target, names ...string) error {
	return i.attach(ctx, t, names, true)
}

// DetachPolicy detaches policies from t.
func (i *Identities) DetachPolicy(ctx context.Context, t Target, names ...string) error {
	return i.attach(ctx, t, names, false)
}

func (i *Identities) attach(ctx context.Context, t Target, names []string, on bool) error {
	if (t.User == "") == (t.Group == "") {
		return fmt.Errorf("%w: name a user or a group", ErrInvalid)
	}
	return i.update(ctx, func(tx kv.Tx) error {
		var list *[]string
		var rec any
		var key []byte
		if t.User != "" {
			var u userRecord
			key = ikey(famUser, t.User)
			if err := getOr(tx, key, &u, ErrNoSuchUser); err != nil {
				return err
			}
			list, rec = &u.Policies, &u
		} else {
			var g groupRecord
			key = ikey(famGroup, t.Group)
			if err := getOr(tx, key, &g, ErrNoSuchGroup); err != nil {
				return err
			}
			list, rec = &g.Policies, &g
		}
		for _, n := range names {
			switch {
			case on && contains(*list, n):
			case on:
				if _, ok := policy.Builtin(n); !ok {
					if _, err := tx.Get(ikey(famPolicy, n)); errors.Is(err, kv.ErrNotFound) {
						return fmt.Errorf("%w: %s", ErrNoSuchPolicy, n)
					} else if err != nil {
						return err
					}
				}
				*list = append(*list, n)
			case !contains(*list, n):
				return fmt.Errorf("%w: %s is not attached", ErrNoSuchPolicy, n)
			default:
				*list = remove(*list, n)
			}
		}
		return putJSON(tx, key, rec)
	})
}

// PolicyEntities returns the users and groups policy name is attached
// to.
func (i *Identities) PolicyEntities(ctx context.Context, name string) (users, groups []string, err error) {
	err = i.view(ctx, func(tx kv.Tx) error {
		users, groups, err = entities(tx, name)
		return err
	})
	return users, groups, err
}

func entities(tx kv.Tx, name string) (users, groups []string, err error) {
	err = scanRecords(tx, famUser, func(u userRecord) {
		if contains(u.Policies, name) {
			users = append(users, u.Name)
		}
	})
	if err == nil {
		err = scanRecords(tx, famGroup, func(g groupRecord) {
			if contains(g.Policies, name) {
				groups = append(groups, g.Name)
			}
		})
	}
	sort.Strings(users)
	sort.Strings(groups)
	return users, groups, err
}
