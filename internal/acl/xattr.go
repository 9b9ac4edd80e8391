package acl

import (
	"encoding/binary"
	"fmt"
)

// Xattr names under which Linux exchanges ACLs with user space.
const (
	XattrAccess  = "system.posix_acl_access"
	XattrDefault = "system.posix_acl_default"
)

// Tags of the Linux xattr format (include/uapi/linux/posix_acl.h).
const (
	tagUserObj  = 0x01
	tagUser     = 0x02
	tagGroupObj = 0x04
	tagGroup    = 0x08
	tagMask     = 0x10
	tagOther    = 0x20

	xattrVersion = 2
	undefinedID  = 0xFFFFFFFF
)

// MarshalXattr encodes r in the binary form of the
// system.posix_acl_{access,default} xattrs: a little-endian version 2
// header, then (tag u16, perm u16, id u32) entries in canonical order.
func (r *Rule) MarshalXattr() []byte {
	n := 3 + len(r.Users) + len(r.Groups)
	if r.Mask != NoMask {
		n++
	}
	b := make([]byte, 4, 4+8*n)
	binary.LittleEndian.PutUint32(b, xattrVersion)
	put := func(tag, perm uint16, id uint32) {
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint16(b, perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	put(tagUserObj, r.Owner, undefinedID)
	for _, e := range r.Users {
		put(tagUser, e.Perm, e.ID)
	}
	put(tagGroupObj, r.Group, undefinedID)
	for _, e := range r.Groups {
		put(tagGroup, e.Perm, e.ID)
	}
	if r.Mask != NoMask {
		put(tagMask, r.Mask, undefinedID)
	}
	put(tagOther, r.Other, undefinedID)
	return b
}

// UnmarshalXattr decodes the xattr form. It accepts entries in any order
// (sorting named entries) but rejects unknown tags, missing or repeated
// base entries, duplicate ids and named entries without a mask.
func (r *Rule) UnmarshalXattr(b []byte) error {
	if len(b) < 4 || (len(b)-4)%8 != 0 {
		return fmt.Errorf("%w: xattr of %d bytes", ErrInvalid, len(b))
	}
	if v := binary.LittleEndian.Uint32(b); v != xattrVersion {
		return fmt.Errorf("%w: xattr version %d", ErrInvalid, v)
	}
	*r = Rule{Mask: NoMask}
	var seen uint16
	for p := b[4:]; len(p) > 0; p = p[8:] {
		tag := binary.LittleEndian.Uint16(p)
		perm := binary.LittleEndian.Uint16(p[2:])
		id := binary.LittleEndian.Uint32(p[4:])
		if perm > 7 {
			return fmt.Errorf("%w: permission %o out of range", ErrInvalid, perm)
		}
		switch tag {
		case tagUser:
			r.Users = append(r.Users, Entry{ID: id, Perm: perm})
			continue
		case tagGroup:
			r.Groups = append(r.Groups, Entry{ID: id, Perm: perm})
			continue
		case tagUserObj:
			r.Owner = perm
		case tagGroupObj:
			r.Group = perm
		case tagMask:
			r.Mask = perm
		case tagOther:
			r.Other = perm
		default:
			return fmt.Errorf("%w: unknown tag %#x", ErrInvalid, tag)
		}
		if seen&tag != 0 {
			return fmt.Errorf("%w: repeated entry %#x", ErrInvalid, tag)
		}
		seen |= tag
	}
	if seen&(tagUserObj|tagGroupObj|tagOther) != tagUserObj|tagGroupObj|tagOther {
		return fmt.Errorf("%w: missing user::, group:: or other:: entry", ErrInvalid)
	}
	sortEntries(r.Users)
	sortEntries(r.Groups)
	return r.Validate()
}

// MarshalBinary encodes r for storage in the volume (the xattr form).
func (r *Rule) MarshalBinary() ([]byte, error) { return r.MarshalXattr(), nil }

// UnmarshalBinary decodes what MarshalBinary produced.
func (r *Rule) UnmarshalBinary(b []byte) error { return r.UnmarshalXattr(b) }
