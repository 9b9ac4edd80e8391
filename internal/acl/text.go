package acl

import (
	"fmt"
	"strconv"
	"strings"
)

// Resolver maps user and group names in ACL text to ids and back. A nil
// Resolver accepts and prints numeric ids only.
type Resolver interface {
	UserID(name string) (uint32, bool)
	GroupID(name string) (uint32, bool)
	UserName(id uint32) (string, bool)
	GroupName(id uint32) (string, bool)
}

// Parse reads an ACL in the text forms setfacl accepts and getfacl prints:
// entries separated by commas or newlines, each "tag:qualifier:perms" with
// tags user/u, group/g, mask/m, other/o (mask and other may omit the empty
// qualifier), permissions as "rwx"/"r-x"/"" or an octal digit. "#" starts a
// comment (so getfacl's "#effective:" annotations are ignored) and a
// "default:"/"d:" prefix is rejected here (the caller splits access and
// default ACLs). Named entries without a mask get one computed as setfacl
// does: the union of the group-class entries.
func Parse(text string, res Resolver) (*Rule, error) {
	r := &Rule{Mask: NoMask}
	var seen [4]bool // owner, group, mask, other
	for _, line := range strings.FieldsFunc(text, func(c rune) bool { return c == ',' || c == '\n' }) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) == 2 && (parts[0] == "m" || parts[0] == "mask" || parts[0] == "o" || parts[0] == "other") {
			parts = []string{parts[0], "", parts[1]}
		}
		if len(parts) != 3 {
			return nil, fmt.Errorf("%w: entry %q is not tag:qualifier:perms", ErrInvalid, line)
		}
		tag, qual := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		perm, err := parsePerm(strings.TrimSpace(parts[2]))
		if err != nil {
			return nil, fmt.Errorf("%w in %q", err, line)
		}
		var slot int
		switch tag {
		case "u", "user":
			if qual != "" {
				id, err := parseID(qual, res, true)
				if err != nil {
					return nil, err
				}
				r.Users = append(r.Users, Entry{ID: id, Perm: perm})
				continue
			}
			slot, r.Owner = 0, perm
		case "g", "group":
			if qual != "" {
				id, err := parseID(qual, res, false)
				if err != nil {
					return nil, err
				}
				r.Groups = append(r.Groups, Entry{ID: id, Perm: perm})
				continue
			}
			slot, r.Group = 1, perm
		case "m", "mask":
			slot, r.Mask = 2, perm
		case "o", "other":
			slot, r.Other = 3, perm
		default:
			return nil, fmt.Errorf("%w: unknown tag %q", ErrInvalid, tag)
		}
		if qual != "" {
			return nil, fmt.Errorf("%w: %s entry takes no qualifier", ErrInvalid, tag)
		}
		if seen[slot] {
			return nil, fmt.Errorf("%w: repeated %s entry", ErrInvalid, tag)
		}
		seen[slot] = true
	}
	if !seen[0] || !seen[1] || !seen[3] {
		return nil, fmt.Errorf("%w: user::, group:: and other:: entries are required", ErrInvalid)
	}
	sortEntries(r.Users)
	sortEntries(r.Groups)
	if r.Mask == NoMask && (len(r.Users) > 0 || len(r.Groups) > 0) {
		r.Mask = r.GroupClass()
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// GroupClass returns the union of the owning-group, named-user and
// named-group permissions: the mask setfacl computes.
func (r *Rule) GroupClass() uint16 {
	m := r.Group
	for _, e := range r.Users {
		m |= e.Perm
	}
	for _, e := range r.Groups {
		m |= e.Perm
	}
	return m
}

func parsePerm(s string) (uint16, error) {
	if len(s) == 1 && s[0] >= '0' && s[0] <= '7' {
		return uint16(s[0] - '0'), nil
	}
	var p uint16
	for _, c := range s {
		switch c {
		case 'r':
			p |= 4
		case 'w':
			p |= 2
		case 'x', 'X':
			p |= 1
		case '-':
		default:
			return 0, fmt.Errorf("%w: bad permission %q", ErrInvalid, s)
		}
	}
	return p, nil
}

func parseID(q string, res Resolver, user bool) (uint32, error) {
	if n, err := strconv.ParseUint(q, 10, 32); err == nil {
		return uint32(n), nil
	}
	if res != nil {
		var id uint32
		var ok bool
		if user {
			id, ok = res.UserID(q)
		} else {
			id, ok = res.GroupID(q)
		}
		if ok {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown user or group %q", ErrInvalid, q)
}

// PermString prints rwx bits as getfacl does ("r-x").
func PermString(p uint16) string {
	b := []byte("---")
	if p&4 != 0 {
		b[0] = 'r'
	}
	if p&2 != 0 {
		b[1] = 'w'
	}
	if p&1 != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// Format prints r as getfacl does, one entry a line, with an
// "#effective:" note on every group-class entry the mask restricts. prefix
// ("default:" for a default ACL) starts each line.
func (r *Rule) Format(prefix string, res Resolver) string {
	var b strings.Builder
	line := func(tag, qual string, perm uint16, masked bool) {
		fmt.Fprintf(&b, "%s%s:%s:%s", prefix, tag, qual, PermString(perm))
		if masked && r.Mask != NoMask && perm&^r.Mask != 0 {
			fmt.Fprintf(&b, "\t#effective:%s", PermString(perm&r.Mask))
		}
		b.WriteByte('\n')
	}
	line("user", "", r.Owner, false)
	for _, e := range r.Users {
		line("user", name(e.ID, res, true), e.Perm, true)
	}
	line("group", "", r.Group, true)
	for _, e := range r.Groups {
		line("group", name(e.ID, res, false), e.Perm, true)
	}
	if r.Mask != NoMask {
		line("mask", "", r.Mask, false)
	}
	line("other", "", r.Other, false)
	return b.String()
}

// String returns the short text form ("user::rwx,group::r-x,other::r--").
func (r *Rule) String() string {
	return strings.ReplaceAll(strings.TrimSuffix(stripEffective(r.Format("", nil)), "\n"), "\n", ",")
}

func stripEffective(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.IndexByte(l, '\t'); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func name(id uint32, res Resolver, user bool) string {
	if res != nil {
		var n string
		var ok bool
		if user {
			n, ok = res.UserName(id)
		} else {
			n, ok = res.GroupName(id)
		}
		if ok {
			return n
		}
	}
	return strconv.FormatUint(uint64(id), 10)
}
