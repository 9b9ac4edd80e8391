package iam

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"cairn/internal/meta/kv"
)

// validName reports whether s may name a user, group, policy or access
// key: 1 to 128 of the characters AWS allows in IAM names.
func validName(s string, min int) bool {
	if len(s) < min || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '_' || c == '-':
		default:
			return false
		}
	}
	return true
}

// A User is a user as the admin API shows it.
type User struct {
	Name     string
	Status   Status
	UID, GID uint32
	Groups   []string
	Policies []string
	// AccessKeys are the user's own keys (not its service accounts).
	AccessKeys []string
	Created    time.Time
	Expires    time.Time
}

func (u *userRecord) public(keys []string) User {
	return User{Name: u.Name, Status: u.Status, UID: u.UID, GID: u.GID, Groups: u.Groups,
		Policies: u.Policies, AccessKeys: keys, Created: u.Created, Expires: u.Expires}
}

// UserOptions are the optional settings of a new user.
type UserOptions struct {
	Expires time.Time // zero: never
	// UID and GID, when non-zero, are used instead of new ones.
	UID, GID uint32
}

// CreateUser creates user name with an access key of the same name and
// secret (as `mc admin user add` does); a new user has no policy, so it
// may do nothing until one is attached. An existing user keeps its
// settings and gets the new secret and, when given, expiry.
func (i *Identities) CreateUser(ctx context.Context, name, secret string, o UserOptions) error {
	if name == RootName || name == i.root.AccessKey {
		return fmt.Errorf("%w: %q is the root user", ErrInvalid, name)
	}
	if err := (Credentials{AccessKey: name, SecretKey: secret}).Validate(); err != nil || !validName(name, 3) {
		return fmt.Errorf("%w: a user name is 3 to 128 letters, digits and +=,.@_- and its secret 8 to 128 characters", ErrInvalid)
	}
	now := i.opt.Now().UTC()
	return i.update(ctx, func(tx kv.Tx) error {
		var u userRecord
		err := getJSON(tx, ikey(famUser, name), &u)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			u = userRecord{Name: name, Status: Enabled, Created: now, UID: o.UID, GID: o.GID}
			if u.UID == 0 {
				if u.UID, err = nextID(tx, i.opt.IDBase); err != nil {
					return err
				}
			}
			if u.GID == 0 {
				u.GID = u.UID
			}
		case err != nil:
			return err
		}
		var owner keyRecord
		if err := getJSON(tx, ikey(famKey, name), &owner); err == nil && owner.User != name {
			return fmt.Errorf("%w: access key %q belongs to %s", ErrExists, name, owner.User)
		}
		if !o.Expires.IsZero() {
			u.Expires = o.Expires
		}
		if !contains(u.Keys, name) {
			u.Keys = append(u.Keys, name)
		}
		if err := i.putKey(tx, keyRecord{AccessKey: name, Kind: KindUser, User: name, Status: Enabled, Created: now}, secret); err != nil {
			return err
		}
		return putJSON(tx, ikey(famUser, name), &u)
	})
}

// putKey stores k with its secret sealed.
func (i *Identities) putKey(tx kv.Tx, k keyRecord, secret string) error {
	sealed, err := i.key.seal(secret, ikey(famKey, k.AccessKey))
	if err != nil {
		return err
	}
	k.Sealed = sealed
	return putJSON(tx, ikey(famKey, k.AccessKey), &k)
}

// AddAccessKey gives user name one more access key (random), for key
// rotation: the old key keeps working until RemoveAccessKey.
func (i *Identities) AddAccessKey(ctx context.Context, name string) (Credentials, error) {
	c := RandomCredentials()
	err := i.update(ctx, func(tx kv.Tx) error {
		var u userRecord
		if err := getOr(tx, ikey(famUser, name), &u, ErrNoSuchUser); err != nil {
			return err
		}
		u.Keys = append(u.Keys, c.AccessKey)
		if err := i.putKey(tx, keyRecord{AccessKey: c.AccessKey, Kind: KindUser, User: name, Status: Enabled, Created: i.opt.Now().UTC()}, c.SecretKey); err != nil {
			return err
		}
		return putJSON(tx, ikey(famUser, name), &u)
	})
	return c, err
}

// RemoveAccessKey deletes one of user name's own access keys.
func (i *Identities) RemoveAccessKey(ctx context.Context, name, accessKey string) error {
	return i.update(ctx, func(tx kv.Tx) error {
		var u userRecord
		if err := getOr(tx, ikey(famUser, name), &u, ErrNoSuchUser); err != nil {
			return err
		}
		if !contains(u.Keys, accessKey) {
			return ErrNoSuchKey
		}
		u.Keys = remove(u.Keys, accessKey)
		if err := tx.Delete(ikey(famKey, accessKey)); err != nil {
			return err
		}
		return putJSON(tx, ikey(famUser, name), &u)
	})
}

// SetUserStatus enables or disables user name: a disabled user's keys,
// service accounts and sessions are refused.
func (i *Identities) SetUserStatus(ctx context.Context, name string, s Status) error {
	if s != Enabled && s != Disabled {
		return fmt.Errorf("%w: status %q", ErrInvalid, s)
	}
	return i.updateUser(ctx, name, func(u *userRecord) error { u.Status = s; return nil })
}

// SetUserPOSIX changes the uid and primary gid user name's requests run
// as.
func (i *Identities) SetUserPOSIX(ctx context.Context, name string, uid, gid uint32) error {
	if uid == 0 {
		return fmt.Errorf("%w: uid 0 is the root user's", ErrInvalid)
	}
	return i.updateUser(ctx, name, func(u *userRecord) error { u.UID, u.GID = uid, gid; return nil })
}

// SetUserExpiry sets when user name's keys (and its service accounts'
// and sessions') stop working; the zero time is never.
func (i *Identities) SetUserExpiry(ctx context.Context, name string, t time.Time) error {
	return i.updateUser(ctx, name, func(u *userRecord) error { u.Expires = t.UTC(); return nil })
}

func (i *Identities) updateUser(ctx context.Context, name string, fn func(*userRecord) error) error {
	return i.update(ctx, func(tx kv.Tx) error {
		var u userRecord
		if err := getOr(tx, ikey(famUser, name), &u, ErrNoSuchUser); err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return err
		}
		return putJSON(tx, ikey(famUser, name), &u)
	})
}

// DeleteUser deletes user name, its keys, service accounts and sessions,
// and its group memberships.
func (i *Identities) DeleteUser(ctx context.Context, name string) error {
	return i.update(ctx, func(tx kv.Tx) error {
		var u userRecord
		if err := getOr(tx, ikey(famUser, name), &u, ErrNoSuchUser); err != nil {
			return err
		}
		for _, g := range u.Groups {
			var gr groupRecord
			if err := getJSON(tx, ikey(famGroup, g), &gr); err == nil {
				gr.Members = remove(gr.Members, name)
				if err := putJSON(tx, ikey(famGroup, g), &gr); err != nil {
					return err
				}
			} else if !errors.Is(err, kv.ErrNotFound) {
				return err
			}
		}
		keys, err := keysOf(tx, name)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(ikey(famKey, k.AccessKey)); err != nil {
				return err
			}
		}
		return tx.Delete(ikey(famUser, name))
	})
}

// keysOf returns every key owned by user name: its own, its service
// accounts', its sessions'.
func keysOf(tx kv.Tx, name string) ([]keyRecord, error) {
	var out []keyRecord
	err := scanRecords(tx, famKey, func(r keyRecord) {
		if r.User == name {
			out = append(out, r)
		}
	})
	return out, err
}

// GetUser returns user name.
func (i *Identities) GetUser(ctx context.Context, name string) (User, error) {
	var out User
	err := i.view(ctx, func(tx kv.Tx) error {
		var u userRecord
		if err := getOr(tx, ikey(famUser, name), &u, ErrNoSuchUser); err != nil {
			return err
		}
		out = u.public(u.Keys)
		return nil
	})
	return out, err
}

// ListUsers returns every user, by name.
func (i *Identities) ListUsers(ctx context.Context) ([]User, error) {
	var out []User
	err := i.view(ctx, func(tx kv.Tx) error {
		out = out[:0]
		return scanRecords(tx, famUser, func(u userRecord) { out = append(out, u.public(u.Keys)) })
	})
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, err
}

func (i *Identities) view(ctx context.Context, fn func(tx kv.Tx) error) error {
	if i.store == nil {
		return fmt.Errorf("iam: this gateway has no identity store")
	}
	return i.store.View(ctx, fn)
}

// UserName returns the name of the user whose uid is uid (the root user
// for 0), from a map read once per change of the identities; ok is false
// when no user has it.
func (i *Identities) UserName(ctx context.Context, uid uint32) (name string, ok bool, err error) {
	if uid == 0 {
		return RootName, true, nil
	}
	i.mu.Lock()
	names, gen := i.names, i.gen
	i.mu.Unlock()
	if names == nil {
		names = map[uint32]string{}
		if i.store != nil {
			users, err := i.ListUsers(ctx)
			if err != nil {
				return "", false, err
			}
			for _, u := range users {
				names[u.UID] = u.Name
			}
		}
		i.mu.Lock()
		if i.gen == gen {
			i.names = names
		}
		i.mu.Unlock()
	}
	name, ok = names[uid]
	return name, ok, nil
}
