package acl

import (
	"errors"
	"fmt"
	"sort"
)

// ErrInvalid is returned (wrapped) for an ACL that breaks the POSIX.1e
// rules: permissions above 7, duplicate or unsorted named entries, or named
// entries without a mask.
var ErrInvalid = errors.New("acl: invalid ACL")

// Validate reports whether r is a well-formed ACL.
func (r *Rule) Validate() error {
	for _, p := range []uint16{r.Owner, r.Group, r.Other} {
		if p > 7 {
			return fmt.Errorf("%w: permission %o out of range", ErrInvalid, p)
		}
	}
	if r.Mask != NoMask && r.Mask > 7 {
		return fmt.Errorf("%w: mask %o out of range", ErrInvalid, r.Mask)
	}
	for _, es := range [][]Entry{r.Users, r.Groups} {
		for i, e := range es {
			if e.Perm > 7 {
				return fmt.Errorf("%w: permission %o out of range", ErrInvalid, e.Perm)
			}
			if i > 0 && es[i-1].ID >= e.ID {
				return fmt.Errorf("%w: duplicate or unsorted entry for id %d", ErrInvalid, e.ID)
			}
		}
	}
	if (len(r.Users) > 0 || len(r.Groups) > 0) && r.Mask == NoMask {
		return fmt.Errorf("%w: named entries need a mask entry", ErrInvalid)
	}
	return nil
}

// IsMinimal reports whether r is equivalent to a mode: no named entries and
// no mask. A minimal access ACL is never stored; the mode says it all.
func (r *Rule) IsMinimal() bool {
	return r.Mask == NoMask && len(r.Users) == 0 && len(r.Groups) == 0
}

// Mode returns the permission bits (0777) equivalent to r: owner, the mask
// (or the owning group when there is no mask), other.
func (r *Rule) Mode() uint32 {
	g := r.Group
	if r.Mask != NoMask {
		g = r.Mask
	}
	return uint32(r.Owner&7)<<6 | uint32(g&7)<<3 | uint32(r.Other&7)
}

// SetMode applies chmod's permission bits to r: owner and other entries
// take them, and the group bits go to the mask when there is one (the
// owning-group entry keeps its value), else to the owning group.
func (r *Rule) SetMode(mode uint32) {
	r.Owner = uint16(mode>>6) & 7
	if r.Mask != NoMask {
		r.Mask = uint16(mode>>3) & 7
	} else {
		r.Group = uint16(mode>>3) & 7
	}
	r.Other = uint16(mode) & 7
}

// FromMode returns the minimal ACL equivalent to mode.
func FromMode(mode uint32) *Rule {
	r := &Rule{Mask: NoMask}
	r.SetMode(mode)
	return r
}

// Check reports whether a caller with uid and groups gids may have every
// right in want (4 read, 2 write, 1 exec) on an object owned by owner:group,
// by the POSIX.1e access check algorithm as Linux implements it: the owner
// entry for the owner; else a named-user entry, masked; else every matching
// group entry (owning or named, masked), granted if any one grants all of
// want, denied if some matched but none did; else other.
func (r *Rule) Check(uid uint32, gids []uint32, owner, group uint32, want uint16) bool {
	want &= 7
	if uid == owner {
		return r.Owner&want == want
	}
	mask := r.Mask
	if mask == NoMask {
		mask = 7
	}
	if e, ok := find(r.Users, uid); ok {
		return e.Perm&mask&want == want
	}
	matched := false
	for _, g := range gids {
		if g == group {
			matched = true
			if r.Group&mask&want == want {
				return true
			}
		}
		if e, ok := find(r.Groups, g); ok {
			matched = true
			if e.Perm&mask&want == want {
				return true
			}
		}
	}
	if matched {
		return false
	}
	return r.Other&want == want
}

func find(es []Entry, id uint32) (Entry, bool) {
	i := sort.Search(len(es), func(i int) bool { return es[i].ID >= id })
	if i < len(es) && es[i].ID == id {
		return es[i], true
	}
	return Entry{}, false
}

// Inherit returns the access ACL of a new inode created with mode in a
// directory whose default ACL is def, and the new inode's permission bits:
// the default ACL with owner, mask (or owning group) and other each
// intersected with mode's bits, as Linux's posix_acl_create does. The umask
// is not applied when a default ACL exists. The special bits of mode are
// the caller's business.
func (def *Rule) Inherit(mode uint32) (*Rule, uint32) {
	r := def.Clone()
	r.Owner &= uint16(mode>>6) & 7
	if r.Mask != NoMask {
		r.Mask &= uint16(mode>>3) & 7
	} else {
		r.Group &= uint16(mode>>3) & 7
	}
	r.Other &= uint16(mode) & 7
	return r, r.Mode()
}

// InheritPerm returns the permission bits Inherit gives, without making
// the access ACL.
func (def *Rule) InheritPerm(mode uint32) uint32 {
	g := def.Group
	if def.Mask != NoMask {
		g = def.Mask
	}
	return uint32(def.Owner&uint16(mode>>6)&7)<<6 | uint32(g&uint16(mode>>3)&7)<<3 | uint32(def.Other&uint16(mode)&7)
}

// Equal reports whether r and o hold the same entries.
func (r *Rule) Equal(o *Rule) bool {
	if r.Owner != o.Owner || r.Group != o.Group || r.Mask != o.Mask || r.Other != o.Other ||
		len(r.Users) != len(o.Users) || len(r.Groups) != len(o.Groups) {
		return false
	}
	for i := range r.Users {
		if r.Users[i] != o.Users[i] {
			return false
		}
	}
	for i := range r.Groups {
		if r.Groups[i] != o.Groups[i] {
			return false
		}
	}
	return true
}

// sortEntries sorts named entries by id.
func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].ID < es[j].ID })
}
