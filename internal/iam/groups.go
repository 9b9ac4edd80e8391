package iam

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"cairn/internal/meta/kv"
)

// A Group is a group as the admin API shows it.
type Group struct {
	Name     string
	Status   Status
	GID      uint32
	Members  []string
	Policies []string
}

// AddGroupMembers adds users to group, creating the group (with a new
// gid, enabled) if it does not exist; every user must exist.
func (i *Identities) AddGroupMembers(ctx context.Context, group string, users ...string) error {
	if !validName(group, 1) {
		return fmt.Errorf("%w: a group name is 1 to 128 letters, digits and +=,.@_-", ErrInvalid)
	}
	return i.update(ctx, func(tx kv.Tx) error {
		var g groupRecord
		err := getJSON(tx, ikey(famGroup, group), &g)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			g = groupRecord{Name: group, Status: Enabled}
			if g.GID, err = nextID(tx, i.opt.IDBase); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		for _, name := range users {
			var u userRecord
			if err := getOr(tx, ikey(famUser, name), &u, fmt.Errorf("%w: %s", ErrNoSuchUser, name)); err != nil {
				return err
			}
			if !contains(u.Groups, group) {
				u.Groups = append(u.Groups, group)
				if err := putJSON(tx, ikey(famUser, name), &u); err != nil {
					return err
				}
			}
			if !contains(g.Members, name) {
				g.Members = append(g.Members, name)
			}
		}
		return putJSON(tx, ikey(famGroup, group), &g)
	})
}

// RemoveGroupMembers removes users from group.
func (i *Identities) RemoveGroupMembers(ctx context.Context, group string, users ...string) error {
	return i.update(ctx, func(tx kv.Tx) error {
		var g groupRecord
		if err := getOr(tx, ikey(famGroup, group), &g, ErrNoSuchGroup); err != nil {
			return err
		}
		for _, name := range users {
			if !contains(g.Members, name) {
				return fmt.Errorf("%w: %s is not a member of %s", ErrNoSuchUser, name, group)
			}
			g.Members = remove(g.Members, name)
			var u userRecord
			if err := getJSON(tx, ikey(famUser, name), &u); err == nil {
				u.Groups = remove(u.Groups, group)
				if err := putJSON(tx, ikey(famUser, name), &u); err != nil {
					return err
				}
			} else if !errors.Is(err, kv.ErrNotFound) {
				return err
			}
		}
		return putJSON(tx, ikey(famGroup, group), &g)
	})
}

// DeleteGroup deletes group, which must have no members.
func (i *Identities) DeleteGroup(ctx context.Context, group string) error {
	return i.update(ctx, func(tx kv.Tx) error {
		var g groupRecord
		if err := getOr(tx, ikey(famGroup, group), &g, ErrNoSuchGroup); err != nil {
			return err
		}
		if len(g.Members) > 0 {
			return ErrGroupNotEmpty
		}
		return tx.Delete(ikey(famGroup, group))
	})
}

// SetGroupStatus enables or disables group: a disabled group's policies
// grant nothing (its gid stays among its members' groups).
func (i *Identities) SetGroupStatus(ctx context.Context, group string, s Status) error {
	if s != Enabled && s != Disabled {
		return fmt.Errorf("%w: status %q", ErrInvalid, s)
	}
	return i.updateGroup(ctx, group, func(g *groupRecord) error { g.Status = s; return nil })
}

// SetGroupGID changes the gid of group.
func (i *Identities) SetGroupGID(ctx context.Context, group string, gid uint32) error {
	return i.updateGroup(ctx, group, func(g *groupRecord) error { g.GID = gid; return nil })
}

func (i *Identities) updateGroup(ctx context.Context, group string, fn func(*groupRecord) error) error {
	return i.update(ctx, func(tx kv.Tx) error {
		var g groupRecord
		if err := getOr(tx, ikey(famGroup, group), &g, ErrNoSuchGroup); err != nil {
			return err
		}
		if err := fn(&g); err != nil {
			return err
		}
		return putJSON(tx, ikey(famGroup, group), &g)
	})
}

// GetGroup returns group.
func (i *Identities) GetGroup(ctx context.Context, group string) (Group, error) {
	var out Group
	err := i.view(ctx, func(tx kv.Tx) error {
		var g groupRecord
		if err := getOr(tx, ikey(famGroup, group), &g, ErrNoSuchGroup); err != nil {
			return err
		}
		out = Group(g)
		return nil
	})
	return out, err
}

// ListGroups returns every group, by name.
func (i *Identities) ListGroups(ctx context.Context) ([]Group, error) {
	var out []Group
	err := i.view(ctx, func(tx kv.Tx) error {
		out = out[:0]
		return scanRecords(tx, famGroup, func(g groupRecord) { out = append(out, Group(g)) })
	})
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, err
}
