package gateway

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"cairn/internal/iam"
	"cairn/internal/posix"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// S3 ACLs on the wire: canned ACLs and x-amz-grant-* headers on the
// requests that create buckets and objects, Get/Put Bucket/Object ACL
// with an AccessControlPolicy document, and the object ownership
// controls. What they mean, and how a grant is honoured, is s3fs's (see
// s3fs/acl.go) and aclGrant's. A user is named by its canonical id, the
// decimal uid of the cairn user; its display name is the user's name.

// accessControlPolicy is the body of Put/GetBucketAcl and
// Put/GetObjectAcl (decoded; the answer is written by aclXML).
type accessControlPolicy struct {
	XMLName xml.Name   `xml:"AccessControlPolicy"`
	Owner   owner      `xml:"Owner"`
	Grants  []aclGrant `xml:"AccessControlList>Grant"`
}

type aclGrant struct {
	Grantee struct {
		Type  string `xml:"type,attr"`
		ID    string `xml:"ID"`
		URI   string `xml:"URI"`
		Email string `xml:"EmailAddress"`
	} `xml:"Grantee"`
	Permission string `xml:"Permission"`
}

// Group grantees' URIs.
const (
	groupURIPrefix = "http://acs.amazonaws.com/groups/"
	allUsersURI    = groupURIPrefix + "global/AllUsers"
	authUsersURI   = groupURIPrefix + "global/AuthenticatedUsers"
	logDeliveryURI = groupURIPrefix + "s3/LogDelivery"
)

func groupURI(g string) string {
	switch g {
	case s3fs.GroupAllUsers:
		return allUsersURI
	case s3fs.GroupAuthenticatedUsers:
		return authUsersURI
	}
	return logDeliveryURI
}

func uriGroup(uri string) (string, bool) {
	switch uri {
	case allUsersURI:
		return s3fs.GroupAllUsers, true
	case authUsersURI:
		return s3fs.GroupAuthenticatedUsers, true
	case logDeliveryURI:
		return s3fs.GroupLogDelivery, true
	}
	return "", false
}

var errACLsDisabled = s3err.Newf(s3err.AccessControlListNotSupported, "The bucket does not allow ACLs: its object ownership is BucketOwnerEnforced.")

// owner is the S3 owner of uid: its canonical id and the name of the
// user it belongs to (the id when no user has it).
func (q *request) owner(uid uint32) owner {
	id := strconv.FormatUint(uint64(uid), 10)
	name, ok, err := q.g.opt.Identity.UserName(q.ctx, uid)
	if err != nil || !ok {
		name = id
	}
	return owner{ID: id, DisplayName: name}
}

// aclXML is acl as an AccessControlPolicy document. (Written by hand:
// encoding/xml cannot write the xsi:type attribute S3 clients expect.)
func (q *request) aclXML(acl s3fs.ACL) []byte {
	var b strings.Builder
	esc := func(s string) { xml.EscapeText(&b, []byte(s)) }
	o := q.owner(acl.Owner)
	b.WriteString(xml.Header)
	b.WriteString(`<AccessControlPolicy xmlns="` + s3NS + `"><Owner><ID>`)
	esc(o.ID)
	b.WriteString(`</ID><DisplayName>`)
	esc(o.DisplayName)
	b.WriteString(`</DisplayName></Owner><AccessControlList>`)
	for _, g := range acl.Grants {
		b.WriteString(`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" `)
		if g.Group != "" {
			b.WriteString(`xsi:type="Group"><URI>`)
			esc(groupURI(g.Group))
			b.WriteString(`</URI>`)
		} else {
			u := q.owner(g.UID)
			b.WriteString(`xsi:type="CanonicalUser"><ID>`)
			esc(u.ID)
			b.WriteString(`</ID><DisplayName>`)
			esc(u.DisplayName)
			b.WriteString(`</DisplayName>`)
		}
		b.WriteString(`</Grantee><Permission>`)
		esc(g.Permission)
		b.WriteString(`</Permission></Grant>`)
	}
	b.WriteString(`</AccessControlList></AccessControlPolicy>`)
	return []byte(b.String())
}

// aclResponse answers acl (its document, with no Content-Length).
func (q *request) aclResponse(acl s3fs.ACL) *response {
	return rawResponse("application/xml", q.aclXML(acl))
}

// grantHeaders are the x-amz-grant-* headers and the permission of each.
var grantHeaders = []struct{ header, perm string }{
	{"X-Amz-Grant-Full-Control", s3fs.PermFullControl},
	{"X-Amz-Grant-Read", s3fs.PermRead},
	{"X-Amz-Grant-Write", s3fs.PermWrite},
	{"X-Amz-Grant-Read-Acp", s3fs.PermReadACP},
	{"X-Amz-Grant-Write-Acp", s3fs.PermWriteACP},
}

// hasACLHeaders reports whether the request sets an ACL by header.
func (q *request) hasACLHeaders() bool {
	if q.r.Header.Get("X-Amz-Acl") != "" {
		return true
	}
	for _, g := range grantHeaders {
		if q.r.Header.Get(g.header) != "" {
			return true
		}
	}
	return false
}

// headerACL is the ACL the request's x-amz-acl or x-amz-grant-* headers
// give a resource of owner in a bucket of bucketOwner (read only when a
// canned ACL needs it); nil when they give none.
func (q *request) headerACL(owner uint32, bucketOwner func() (uint32, error)) (*s3fs.ACL, error) {
	h := q.r.Header
	canned := h.Get("X-Amz-Acl")
	acl := &s3fs.ACL{Owner: owner}
	for _, gh := range grantHeaders {
		v := h.Get(gh.header)
		if v == "" {
			continue
		}
		if canned != "" {
			return nil, s3err.Newf(s3err.InvalidRequest, "Specifying both Canned ACLs and Header Grants is not allowed")
		}
		for _, item := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok {
				return nil, s3err.Newf(s3err.InvalidArgument, "Invalid grantee in "+gh.header)
			}
			g, err := q.grantee(strings.ToLower(strings.TrimSpace(k)), strings.Trim(strings.TrimSpace(val), `"`))
			if err != nil {
				return nil, err
			}
			g.Permission = gh.perm
			acl.Grants = append(acl.Grants, g)
		}
	}
	if canned == "" {
		if len(acl.Grants) == 0 {
			return nil, nil
		}
		acl.Normalize()
		return acl, nil
	}
	bo := owner
	if strings.HasPrefix(canned, "bucket-owner-") {
		var err error
		if bo, err = bucketOwner(); err != nil {
			return nil, err
		}
	}
	a, err := s3fs.CannedACL(canned, owner, bo)
	if err != nil {
		return nil, s3err.Newf(s3err.InvalidArgument, "Unknown canned ACL "+canned)
	}
	return &a, nil
}

// grantee resolves a grantee named by kind "id", "uri" or
// "emailaddress" (header grants; documents use the same rules).
func (q *request) grantee(kind, v string) (s3fs.Grant, error) {
	switch kind {
	case "id":
		uid, err := strconv.ParseUint(v, 10, 32)
		if err == nil {
			_, ok, lerr := q.g.opt.Identity.UserName(q.ctx, uint32(uid))
			if lerr != nil {
				return s3fs.Grant{}, lerr
			}
			if ok {
				return s3fs.Grant{UID: uint32(uid)}, nil
			}
		}
		return s3fs.Grant{}, s3err.Newf(s3err.InvalidArgument, "Invalid id: no user has canonical id "+v)
	case "uri":
		if g, ok := uriGroup(v); ok {
			return s3fs.Grant{Group: g}, nil
		}
		return s3fs.Grant{}, s3err.Newf(s3err.InvalidArgument, "Invalid group uri "+v)
	case "emailaddress":
		return s3fs.Grant{}, s3err.New(s3err.UnresolvableGrantByEmailAddress)
	}
	return s3fs.Grant{}, s3err.Newf(s3err.InvalidArgument, "Invalid grantee type "+kind)
}

// documentACL reads an AccessControlPolicy body: the grants of a
// resource of owner.
func (q *request) documentACL(owner uint32) (s3fs.ACL, error) {
	var acp accessControlPolicy
	if err := q.readXML(64<<10, &acp); err != nil {
		return s3fs.ACL{}, err
	}
	acl := s3fs.ACL{Owner: owner, Grants: []s3fs.Grant{}}
	if acp.Owner.ID != "" && acp.Owner.ID != strconv.FormatUint(uint64(owner), 10) {
		return s3fs.ACL{}, s3err.Newf(s3err.AccessDenied, "An ACL cannot change the owner.")
	}
	for _, ag := range acp.Grants {
		var g s3fs.Grant
		var err error
		switch ge := ag.Grantee; {
		case ge.Type == "CanonicalUser" || (ge.Type == "" && ge.ID != ""):
			g, err = q.grantee("id", ge.ID)
		case ge.Type == "Group" || (ge.Type == "" && ge.URI != ""):
			g, err = q.grantee("uri", ge.URI)
		case ge.Type == "AmazonCustomerByEmail" || (ge.Type == "" && ge.Email != ""):
			g, err = q.grantee("emailaddress", ge.Email)
		default:
			err = s3err.Newf(s3err.MalformedACLError, "The grantee has no type cairn knows.")
		}
		if err != nil {
			return s3fs.ACL{}, err
		}
		if !s3fs.ValidPermission(ag.Permission) {
			return s3fs.ACL{}, s3err.Newf(s3err.MalformedACLError, "Unknown permission "+ag.Permission)
		}
		g.Permission = ag.Permission
		acl.Grants = append(acl.Grants, g)
	}
	acl.Normalize()
	return acl, nil
}

// requestACL is the ACL an ACL write asks for: from its headers, else
// from its body.
func (q *request) requestACL(owner uint32, bucketOwner func() (uint32, error)) (s3fs.ACL, error) {
	if q.hasACLHeaders() {
		a, err := q.headerACL(owner, bucketOwner)
		if err != nil || a == nil {
			return s3fs.ACL{}, err
		}
		return *a, nil
	}
	return q.documentACL(owner)
}

// aclToPut is the ACL a Put…Acl request of a resource of owner asks for,
// once the bucket's ownership allows ACLs and its public access block
// allows it.
func (q *request) aclToPut(owner uint32, bucketOwner func() (uint32, error)) (s3fs.ACL, error) {
	st, err := q.g.opt.Backend.BucketACL(q.ctx, q.bucket)
	if err != nil {
		return s3fs.ACL{}, err
	}
	if !st.Enabled() {
		return s3fs.ACL{}, errACLsDisabled
	}
	if err := q.refusePublicACL(); err != nil {
		return s3fs.ACL{}, err
	}
	acl, err := q.requestACL(owner, bucketOwner)
	if err != nil {
		return s3fs.ACL{}, err
	}
	return acl, q.checkPublicACL(&acl)
}

// checkPublicACL refuses a public ACL in a bucket whose public access
// block refuses them.
func (q *request) checkPublicACL(acl *s3fs.ACL) error {
	if acl == nil || !acl.Public() {
		return nil
	}
	b, err := q.publicBlock()
	if err != nil {
		return err
	}
	if b.BlockPublicAcls {
		return s3err.Newf(s3err.AccessDenied, "The bucket's public access block refuses public ACLs.")
	}
	return nil
}

// requester is the uid the request is made by (nobody for an anonymous
// one) and whether it is authenticated.
func (q *request) requester() (uint32, bool) {
	if q.principal == nil {
		return nobody, false
	}
	return q.principal.Cred.UID, true
}

// bucketOwnerUID returns a function that reads the bucket's owner once.
func (q *request) bucketOwnerUID(bucket string) func() (uint32, error) {
	return func() (uint32, error) {
		uid, _, err := q.g.opt.Backend.BucketOwner(q.ctx, bucket)
		return uid, err
	}
}

// newObjectACL is the ACL a new object of the request gets, after the
// bucket's ownership setting: nil for the default.
func (q *request) newObjectACL() (*s3fs.ACL, error) {
	st, err := q.g.opt.Backend.BucketACL(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	canned := q.r.Header.Get("X-Amz-Acl")
	if !st.Enabled() {
		if q.hasACLHeaders() && canned != "bucket-owner-full-control" {
			return nil, errACLsDisabled
		}
		return nil, nil
	}
	if err := q.refusePublicACL(); err != nil {
		return nil, err
	}
	me, _ := q.requester()
	if st.Ownership == s3fs.OwnershipPreferred && canned == "bucket-owner-full-control" {
		bo, err := q.bucketOwnerUID(q.bucket)()
		if err != nil {
			return nil, err
		}
		a := s3fs.OwnerOnly(bo)
		return &a, nil
	}
	acl, err := q.headerACL(me, q.bucketOwnerUID(q.bucket))
	if err != nil {
		return nil, err
	}
	if acl == nil && me != q.cred.UID {
		// Written with a credential a grant lent: the S3 owner is still
		// the requester.
		a := s3fs.OwnerOnly(me)
		acl = &a
	}
	return acl, q.checkPublicACL(acl)
}

func (q *request) getBucketAcl() (*response, error) {
	uid, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	st, err := q.g.opt.Backend.BucketACL(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	if st.ACL != nil && st.Enabled() {
		return q.aclResponse(*st.ACL), nil
	}
	return q.aclResponse(s3fs.OwnerOnly(uid)), nil
}

func (q *request) putBucketAcl() (*response, error) {
	uid, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	acl, err := q.aclToPut(uid, func() (uint32, error) { return uid, nil })
	if err != nil {
		return nil, err
	}
	if err := q.g.opt.Backend.PutBucketACL(q.ctx, q.cred, q.bucket, acl); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

// objectACLOf is the ACL an object shows: its own, else its file owner's
// full control; under BucketOwnerEnforced, the bucket owner's.
func (q *request) objectACLOf(oi s3fs.ObjectInfo) (s3fs.ACL, error) {
	st, err := q.g.opt.Backend.BucketACL(q.ctx, q.bucket)
	if err != nil {
		return s3fs.ACL{}, err
	}
	switch {
	case !st.Enabled():
		uid, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
		return s3fs.OwnerOnly(uid), err
	case oi.ACL != nil:
		return *oi.ACL, nil
	}
	return s3fs.OwnerOnly(oi.OwnerUID), nil
}

func (q *request) getObjectAcl() (*response, error) {
	oi, err := q.g.opt.Backend.HeadObject(q.ctx, q.cred, q.bucket, q.key, s3fs.GetOptions{VersionID: q.versionID()})
	if err != nil {
		return nil, err
	}
	acl, err := q.objectACLOf(oi)
	if err != nil {
		return nil, err
	}
	if err := q.checkACP(oi, acl, s3fs.PermReadACP); err != nil {
		return nil, err
	}
	return q.aclResponse(acl), nil
}

// checkACP refuses an object's ACL to a requester that is neither its S3
// owner nor granted perm, when that owner is not its file's: the file's
// permissions, which let the request this far, are not the S3 owner's.
func (q *request) checkACP(oi s3fs.ObjectInfo, acl s3fs.ACL, perm string) error {
	me, authed := q.requester()
	if q.granted || oi.ACL == nil || acl.Owner == oi.OwnerUID || (q.principal != nil && q.principal.Kind == iam.KindRoot) {
		return nil
	}
	if (authed && me == acl.Owner) || q.aclAllows(&acl, perm, q.bucket) {
		return nil
	}
	return s3err.New(s3err.AccessDenied)
}

func (q *request) putObjectAcl() (*response, error) {
	oi, err := q.g.opt.Backend.HeadObject(q.ctx, q.cred, q.bucket, q.key, s3fs.GetOptions{VersionID: q.versionID()})
	if err != nil {
		return nil, err
	}
	cur, err := q.objectACLOf(oi)
	if err != nil {
		return nil, err
	}
	if err := q.checkACP(oi, cur, s3fs.PermWriteACP); err != nil {
		return nil, err
	}
	acl, err := q.aclToPut(cur.Owner, q.bucketOwnerUID(q.bucket))
	if err != nil {
		return nil, err
	}
	cred := q.cred
	if me, authed := q.requester(); q.granted || (authed && oi.ACL != nil && me == cur.Owner && me != oi.OwnerUID) {
		// WRITE_ACP granted by the object's ACL (the grant is the
		// owner's), or the S3 owner of a file someone else holds.
		cred = posix.Root
	}
	if err := q.g.opt.Backend.PutObjectACL(q.ctx, cred, q.bucket, q.key, q.versionID(), acl); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

// ownershipControls is the body of Put/GetBucketOwnershipControls.
type ownershipControls struct {
	XMLName xml.Name `xml:"OwnershipControls"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Rules   []struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	} `xml:"Rule"`
}

func (q *request) getBucketOwnershipControls() (*response, error) {
	st, err := q.g.opt.Backend.BucketACL(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	if st.Ownership == "" {
		return nil, s3err.New(s3err.OwnershipControlsNotFound).With("BucketName", q.bucket)
	}
	out := ownershipControls{NS: s3NS}
	out.Rules = append(out.Rules, struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	}{st.Ownership})
	return xmlResponse(out), nil
}

func (q *request) putBucketOwnershipControls() (*response, error) {
	var oc ownershipControls
	if err := q.readXML(16<<10, &oc); err != nil {
		return nil, err
	}
	if len(oc.Rules) != 1 {
		return nil, s3err.New(s3err.MalformedXML)
	}
	switch o := oc.Rules[0].ObjectOwnership; o {
	case s3fs.OwnershipEnforced, s3fs.OwnershipPreferred, s3fs.OwnershipObjectWriter:
		if err := q.setOwnership(o); err != nil {
			return nil, err
		}
		return empty(http.StatusOK), nil
	}
	return nil, s3err.New(s3err.MalformedXML)
}

func (q *request) deleteBucketOwnershipControls() (*response, error) {
	if err := q.setOwnership(""); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

func (q *request) setOwnership(o string) error {
	err := q.g.opt.Backend.PutOwnershipControls(q.ctx, q.cred, q.bucket, o)
	if errors.Is(err, s3fs.ErrPublicACLWithEnforced) {
		return s3err.New(s3err.InvalidBucketAclWithObjectOwnership)
	}
	return err
}

// aclNeed is the S3 ACL permission that allows an operation, on its
// bucket or on its object (the operation table's acl column).
type aclNeed struct {
	object bool
	perm   string
}

func onBucket(perm string) aclNeed { return aclNeed{perm: perm} }
func onObject(perm string) aclNeed { return aclNeed{object: true, perm: perm} }

// aclGrant is what an S3 ACL lends a request that no policy denied: the
// credential to run it with, or nil. allowed tells that a policy allowed
// the request already.
//
// A bucket's ACL grants others (never its owner, whom the policies
// govern, as a user without policies may do nothing) what it lists; a
// request so granted runs as the bucket's owner, as one a bucket policy
// allows. An object's ACL is read only in a bucket where some object has
// one of its own; what it grants others, and what the object's S3 owner
// may do when that is not its file's owner (an object written under a
// grant, or given to the bucket owner), runs as root: the grant is the
// object's owner's, and reaches the object whatever the directories above
// it allow, as on AWS. Nothing is granted when the bucket's ownership is
// BucketOwnerEnforced or to the root user (who needs nothing).
func (q *request) aclGrant(bucket, key, vid string, need aclNeed, allowed bool) *posix.Cred {
	if need.perm == "" || bucket == "" || (q.principal != nil && q.principal.Kind == iam.KindRoot) {
		return nil
	}
	st, err := q.g.opt.Backend.BucketACL(q.ctx, bucket)
	if err != nil || !st.Enabled() {
		return nil
	}
	me, authed := q.requester()
	if !need.object {
		if st.ACL == nil || (authed && me == st.ACL.Owner) || !q.aclAllows(st.ACL, need.perm, bucket) {
			return nil
		}
		uid, gid, err := q.g.opt.Backend.BucketOwner(q.ctx, bucket)
		if err != nil {
			return nil
		}
		return &posix.Cred{UID: uid, GID: gid}
	}
	if !st.ObjectACLs || key == "" {
		return nil
	}
	acl, fileOwner, err := q.g.opt.Backend.ObjectACL(q.ctx, bucket, key, vid)
	if err != nil {
		return nil
	}
	if authed && me == acl.Owner {
		if allowed && fileOwner.UID != me {
			return &posix.Root
		}
		return nil
	}
	if q.aclAllows(&acl, need.perm, bucket) {
		return &posix.Root
	}
	return nil
}

// aclAllows reports whether acl gives perm to the requester, leaving out
// public grants when the bucket's public access block ignores them.
func (q *request) aclAllows(acl *s3fs.ACL, perm, bucket string) bool {
	me, authed := q.requester()
	if acl.Allows(perm, me, authed, true) {
		return true
	}
	if !acl.Allows(perm, me, authed, false) {
		return false
	}
	b, err := q.g.opt.Backend.BucketPublicAccessBlock(q.ctx, bucket)
	if errors.Is(err, s3fs.ErrNoSuchPublicAccessBlock) {
		return true
	}
	return err == nil && !b.IgnorePublicAcls
}
