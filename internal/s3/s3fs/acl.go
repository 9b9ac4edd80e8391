package s3fs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"cairn/internal/posix"
)

// S3 access control lists.
//
// An S3 ACL is a list of grants an S3 owner makes on a bucket or an
// object: a permission (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL)
// to a user or to a group (everyone, every authenticated user). It is a
// different thing from the POSIX ACL of the file or directory under it:
// the S3 ACL is a grant the gateway honours, like a bucket policy, and a
// request it allows runs with the permissions of the resource's owner
// (the bucket's owner for a bucket's ACL, the file's owner for an
// object's); POSIX modes and ACLs decide everything done under a user's
// own identity, over S3 and on mounts alike (docs/s3.md, docs/iam.md).
//
// A bucket's object ownership setting decides whether ACLs count at all:
// BucketOwnerEnforced disables them (as AWS creates buckets since 2023),
// BucketOwnerPreferred and ObjectWriter (and a bucket with no setting,
// as buckets were before) honour them. Users are named by uid: the S3
// canonical user id of a cairn user is its uid in decimal.

// ACL permissions.
const (
	PermFullControl = "FULL_CONTROL"
	PermRead        = "READ"
	PermWrite       = "WRITE"
	PermReadACP     = "READ_ACP"
	PermWriteACP    = "WRITE_ACP"
)

// Grantee groups (the last segment of their URI).
const (
	GroupAllUsers           = "AllUsers"
	GroupAuthenticatedUsers = "AuthenticatedUsers"
	GroupLogDelivery        = "LogDelivery"
)

// Object ownership settings.
const (
	OwnershipEnforced     = "BucketOwnerEnforced"
	OwnershipPreferred    = "BucketOwnerPreferred"
	OwnershipObjectWriter = "ObjectWriter"
)

// ErrNoOwnershipControls is a bucket without an object ownership setting.
var ErrNoOwnershipControls = errors.New("s3fs: the bucket has no ownership controls")

// ErrACLsDisabled is an ACL on a bucket whose ownership is
// BucketOwnerEnforced.
var ErrACLsDisabled = errors.New("s3fs: the bucket does not allow ACLs")

// ErrPublicACLWithEnforced is BucketOwnerEnforced asked of a bucket whose
// own ACL grants more than its owner's full control.
var ErrPublicACLWithEnforced = errors.New("s3fs: the bucket's ACL grants others access")

// A Grant gives one permission to a user (by uid) or to a group.
type Grant struct {
	UID        uint32 `json:"u,omitempty"`
	Group      string `json:"g,omitempty"` // set: the grantee is this group
	Permission string `json:"p"`
}

// An ACL is an owner and its grants.
type ACL struct {
	Owner  uint32  `json:"o"`
	Grants []Grant `json:"gr,omitempty"`
}

// OwnerOnly returns the ACL of a resource that owner alone may use.
func OwnerOnly(owner uint32) ACL {
	return ACL{Owner: owner, Grants: []Grant{{UID: owner, Permission: PermFullControl}}}
}

// ValidPermission reports whether p is an ACL permission.
func ValidPermission(p string) bool {
	switch p {
	case PermFullControl, PermRead, PermWrite, PermReadACP, PermWriteACP:
		return true
	}
	return false
}

// CannedACL returns canned ACL name for a resource of owner in a bucket
// of bucketOwner; ErrInvalidArgument for an unknown name. Grants to
// groups come first and the owner's full control after them, in the
// order Ceph RGW lists them (some clients compare the lists in order).
func CannedACL(name string, owner, bucketOwner uint32) (ACL, error) {
	var g []Grant
	switch name {
	case "private", "", "bucket-owner-read", "bucket-owner-full-control":
	case "public-read":
		g = []Grant{{Group: GroupAllUsers, Permission: PermRead}}
	case "public-read-write":
		g = []Grant{{Group: GroupAllUsers, Permission: PermRead}, {Group: GroupAllUsers, Permission: PermWrite}}
	case "authenticated-read":
		g = []Grant{{Group: GroupAuthenticatedUsers, Permission: PermRead}}
	case "log-delivery-write":
		g = []Grant{{Group: GroupLogDelivery, Permission: PermWrite}, {Group: GroupLogDelivery, Permission: PermReadACP}}
	default:
		return ACL{}, fmt.Errorf("%w: unknown canned ACL %q", ErrInvalidArgument, name)
	}
	g = append(g, Grant{UID: owner, Permission: PermFullControl})
	if bucketOwner != owner {
		switch name {
		case "bucket-owner-read":
			g = append(g, Grant{UID: bucketOwner, Permission: PermRead})
		case "bucket-owner-full-control":
			g = append(g, Grant{UID: bucketOwner, Permission: PermFullControl})
		}
	}
	return ACL{Owner: owner, Grants: g}, nil
}

// Allows reports whether the ACL gives perm to a requester: the user uid
// when authenticated, else anonymous. ignorePublic leaves out the grants
// to everyone and to every authenticated user (a public access block's
// IgnorePublicAcls). The owner is given nothing it was not granted (its
// full control is a grant of the default ACL).
func (a *ACL) Allows(perm string, uid uint32, authenticated, ignorePublic bool) bool {
	for _, g := range a.Grants {
		if g.Permission != perm && g.Permission != PermFullControl {
			continue
		}
		switch g.Group {
		case "":
			if authenticated && g.UID == uid {
				return true
			}
		case GroupAllUsers:
			if !ignorePublic {
				return true
			}
		case GroupAuthenticatedUsers:
			if authenticated && !ignorePublic {
				return true
			}
		}
	}
	return false
}

// Normalize puts the grants to groups first, keeping the order of each
// kind, as Ceph RGW lists them.
func (a *ACL) Normalize() {
	slices.SortStableFunc(a.Grants, func(x, y Grant) int {
		switch {
		case x.Group != "" && y.Group == "":
			return -1
		case x.Group == "" && y.Group != "":
			return 1
		}
		return 0
	})
}

// Public reports whether the ACL grants anything to everyone or to every
// authenticated user.
func (a *ACL) Public() bool {
	for _, g := range a.Grants {
		if g.Group == GroupAllUsers || g.Group == GroupAuthenticatedUsers {
			return true
		}
	}
	return false
}

// isDefault reports whether the ACL is its owner's full control alone.
func (a *ACL) isDefault() bool {
	return len(a.Grants) == 1 && a.Grants[0] == Grant{UID: a.Owner, Permission: PermFullControl}
}

// grantsOthers reports whether the ACL grants anything to anyone but its
// owner.
func (a *ACL) grantsOthers() bool {
	for _, g := range a.Grants {
		if g.Group != "" || g.UID != a.Owner {
			return true
		}
	}
	return false
}

// BucketACLState is what decides S3 ACLs in a bucket, cached with its
// versioning state.
type BucketACLState struct {
	// Ownership is the object ownership setting ("" for none).
	Ownership string
	// ACL is the bucket's ACL; nil when it has none of its own (its
	// owner's full control).
	ACL *ACL
	// ObjectACLs tells that some object of the bucket has had an ACL of
	// its own: until then, requests read no object ACL.
	ObjectACLs bool
}

// Enabled reports whether ACLs count in the bucket.
func (s BucketACLState) Enabled() bool { return s.Ownership != OwnershipEnforced }

// Internal xattrs of a bucket's directory.
const (
	bucketACLXattr       = "cairn.s3.acl"
	bucketOwnershipXattr = "cairn.s3.ownership"
	bucketObjACLsXattr   = "cairn.s3.objacls"
)

// readACLState reads the bucket's ACL state from its directory ino.
func (f *FS) readACLState(ctx context.Context, ino posix.Ino, bucket string) (BucketACLState, error) {
	var s BucketACLState
	var acl ACL
	switch err := f.configAt(ctx, ino, bucket, bucketACLXattr, &acl); {
	case err == nil:
		s.ACL = &acl
	case !errors.Is(err, errNoConfig):
		return s, err
	}
	if err := f.configAt(ctx, ino, bucket, bucketOwnershipXattr, &s.Ownership); err != nil && !errors.Is(err, errNoConfig) {
		return s, err
	}
	if err := f.configAt(ctx, ino, bucket, bucketObjACLsXattr, &s.ObjectACLs); err != nil && !errors.Is(err, errNoConfig) {
		return s, err
	}
	return s, nil
}

// BucketACL returns the bucket's ACL state, cached for a moment as its
// versioning state is.
func (f *FS) BucketACL(ctx context.Context, bucket string) (BucketACLState, error) {
	if s, ok := f.versions.acl(bucket); ok {
		return s, nil
	}
	if _, err := f.Versioning(ctx, bucket); err != nil {
		return BucketACLState{}, err
	}
	s, _ := f.versions.acl(bucket)
	return s, nil
}

// PutBucketACL replaces the bucket's ACL. Only its owner (or root) may;
// under BucketOwnerEnforced it is ErrACLsDisabled.
func (f *FS) PutBucketACL(ctx context.Context, cred posix.Cred, bucket string, acl ACL) error {
	s, err := f.freshACLState(ctx, bucket)
	if err != nil {
		return err
	}
	if !s.Enabled() {
		return ErrACLsDisabled
	}
	var v any = acl
	if acl.isDefault() {
		v = nil
	}
	err = f.setBucketConfig(ctx, cred, bucket, bucketACLXattr, v)
	f.versions.forget(bucket)
	return err
}

// freshACLState reads the bucket's ACL state past the cache (for
// changes).
func (f *FS) freshACLState(ctx context.Context, bucket string) (BucketACLState, error) {
	f.versions.forget(bucket)
	return f.BucketACL(ctx, bucket)
}

// PutOwnershipControls sets the bucket's object ownership ("" removes
// the setting). BucketOwnerEnforced is refused while the bucket's ACL
// grants others access.
func (f *FS) PutOwnershipControls(ctx context.Context, cred posix.Cred, bucket, ownership string) error {
	switch ownership {
	case "", OwnershipEnforced, OwnershipPreferred, OwnershipObjectWriter:
	default:
		return fmt.Errorf("%w: object ownership %q", ErrInvalidArgument, ownership)
	}
	if ownership == OwnershipEnforced {
		s, err := f.freshACLState(ctx, bucket)
		if err != nil {
			return err
		}
		if s.ACL != nil && s.ACL.grantsOthers() {
			return ErrPublicACLWithEnforced
		}
	}
	var v any = ownership
	if ownership == "" {
		v = nil
	}
	err := f.setBucketConfig(ctx, cred, bucket, bucketOwnershipXattr, v)
	f.versions.forget(bucket)
	return err
}

// markObjectACLs notes that an object of the bucket got an ACL of its
// own (see BucketACLState.ObjectACLs).
func (f *FS) markObjectACLs(ctx context.Context, bucket string) error {
	if s, err := f.BucketACL(ctx, bucket); err != nil || s.ObjectACLs {
		return err
	}
	if err := f.setBucketConfig(ctx, posix.Root, bucket, bucketObjACLsXattr, true); err != nil {
		return err
	}
	f.versions.forget(bucket)
	return nil
}

// storedACL is what an object keeps of acl: nothing when it is the
// default (its file's owner's full control).
func storedACL(acl *ACL, fileOwner uint32) *ACL {
	if acl == nil || (acl.Owner == fileOwner && acl.isDefault()) {
		return nil
	}
	return acl
}

// ObjectACL returns an object version's ACL (its file owner's full
// control when it has none of its own) and the file's owner, read as
// root: the gateway decides with it whether the ACL allows a request.
func (f *FS) ObjectACL(ctx context.Context, bucket, key, vid string) (ACL, posix.Cred, error) {
	r, m, err := f.lookupVersion(ctx, posix.Root, bucket, key, vid, 0, false)
	if err != nil {
		return ACL{}, posix.Cred{}, err
	}
	a := r.Entry.Attr
	owner := posix.Cred{UID: a.UID, GID: a.GID}
	if m != nil && m.ACL != nil {
		return *m.ACL, owner, nil
	}
	return OwnerOnly(a.UID), owner, nil
}

// PutObjectACL replaces an object version's ACL. Like chmod, only the
// file's owner (or root) may.
func (f *FS) PutObjectACL(ctx context.Context, cred posix.Cred, bucket, key, vid string, acl ACL) error {
	s, err := f.BucketACL(ctx, bucket)
	if err != nil {
		return err
	}
	if !s.Enabled() {
		return ErrACLsDisabled
	}
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	r, m, err := f.lookupVersion(ctx, cred, bucket, key, vid, 0, false)
	if err != nil {
		return err
	}
	if cred.UID != 0 && cred.UID != r.Entry.Attr.UID {
		return syscall.EPERM
	}
	if m == nil {
		m = &objMeta{}
	}
	m.ACL = storedACL(&acl, r.Entry.Attr.UID)
	if m.ACL != nil {
		if err := f.markObjectACLs(ctx, bucket); err != nil {
			return err
		}
	}
	return f.storeMeta(ctx, r.Entry.Ino, m)
}

// setACL gives m the ACL asked for (nil: the default) of an object whose
// file belongs to fileOwner.
func (f *FS) setACL(ctx context.Context, bucket string, m *objMeta, acl *ACL, fileOwner uint32) error {
	m.ACL = storedACL(acl, fileOwner)
	if m.ACL == nil {
		return nil
	}
	return f.markObjectACLs(ctx, bucket)
}
