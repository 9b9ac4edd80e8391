package acl

// NoMask is Rule.Mask when the ACL has no mask entry (a minimal ACL).
const NoMask uint16 = 0xFFFF

// Entry is a named-user or named-group entry.
type Entry struct {
	ID   uint32
	Perm uint16 // rwx bits: 4 read, 2 write, 1 exec
}

// Rule is one POSIX.1e ACL (access or default). The owner, owning-group and
// other entries are always present; Mask is NoMask when absent; Users and
// Groups are the named entries, sorted by ID with no duplicates.
//
// A Rule is a value: once stored under an id it is never modified, so code
// that changes an ACL works on a copy (Clone).
type Rule struct {
	Owner  uint16
	Group  uint16
	Mask   uint16
	Other  uint16
	Users  []Entry
	Groups []Entry
}

// Clone returns a deep copy of r.
func (r *Rule) Clone() *Rule {
	c := *r
	c.Users = append([]Entry(nil), r.Users...)
	c.Groups = append([]Entry(nil), r.Groups...)
	return &c
}
