package gateway

import (
	"encoding/xml"
	"net/http"
	"strings"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// S3 ACLs. cairn's buckets are what AWS creates by default since 2023:
// object ownership BucketOwnerEnforced, ACLs disabled. Access is decided
// by IAM and bucket policies, then by the POSIX modes and ACLs of the
// files (docs/iam.md). So an ACL read answers the owner's FULL_CONTROL,
// and an ACL write is accepted only when it grants nothing else (private,
// bucket-owner-full-control, or the owner's FULL_CONTROL alone); any
// other grant is AccessControlListNotSupported, as AWS answers on such a
// bucket.

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

// aclXML is the ACL of a resource owned by o: o's FULL_CONTROL. (Written
// by hand: encoding/xml cannot write the xsi:type attribute S3 clients
// expect.)
func aclXML(o owner) []byte {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<AccessControlPolicy xmlns="` + s3NS + `"><Owner><ID>`)
	xml.EscapeText(&b, []byte(o.ID))
	b.WriteString(`</ID><DisplayName>`)
	xml.EscapeText(&b, []byte(o.DisplayName))
	b.WriteString(`</DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>`)
	xml.EscapeText(&b, []byte(o.ID))
	b.WriteString(`</ID><DisplayName>`)
	xml.EscapeText(&b, []byte(o.DisplayName))
	b.WriteString(`</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`)
	return []byte(b.String())
}

func (q *request) writeACL(o owner) error {
	out := aclXML(o)
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.WriteHeader(http.StatusOK)
	q.w.Write(out)
	return nil
}

var errACLsDisabled = s3err.Newf(s3err.AccessControlListNotSupported, "The bucket does not allow ACLs: access is decided by policies and by the files' POSIX permissions.")

// checkOwnerOnlyACL accepts an ACL write that grants only what the owner
// (whose canonical ID is ownerID) has anyway.
func (q *request) checkOwnerOnlyACL(ownerID string, object bool) error {
	if err := q.refusePublicACL(); err != nil {
		return err
	}
	h := q.r.Header
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-grant-") {
			return errACLsDisabled
		}
	}
	if canned := h.Get("X-Amz-Acl"); canned != "" {
		if canned == "private" || (object && canned == "bucket-owner-full-control") {
			return nil
		}
		return errACLsDisabled
	}
	var acp accessControlPolicy
	if err := q.readXML(64<<10, &acp); err != nil {
		return err
	}
	for _, g := range acp.Grants {
		if g.Grantee.ID != ownerID || g.Permission != "FULL_CONTROL" || g.Grantee.URI != "" || g.Grantee.Email != "" {
			return errACLsDisabled
		}
	}
	return nil
}

func (q *request) getBucketAcl() error {
	uid, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
	if err != nil {
		return err
	}
	return q.writeACL(uidOwner(uid))
}

func (q *request) putBucketAcl() error {
	uid, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
	if err != nil {
		return err
	}
	if err := q.checkOwnerOnlyACL(uidOwner(uid).ID, false); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) getObjectAcl() error {
	oi, err := q.g.opt.Backend.HeadObject(q.ctx, q.cred, q.bucket, q.key, s3fs.GetOptions{VersionID: q.versionID()})
	if err != nil {
		return err
	}
	return q.writeACL(uidOwner(oi.OwnerUID))
}

func (q *request) putObjectAcl() error {
	oi, err := q.g.opt.Backend.HeadObject(q.ctx, q.cred, q.bucket, q.key, s3fs.GetOptions{VersionID: q.versionID()})
	if err != nil {
		return err
	}
	if err := q.checkOwnerOnlyACL(uidOwner(oi.OwnerUID).ID, true); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// ownershipControls is the body of Put/GetBucketOwnershipControls.
type ownershipControls struct {
	XMLName xml.Name `xml:"OwnershipControls"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Rules   []struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	} `xml:"Rule"`
}

func (q *request) getBucketOwnershipControls() error {
	if _, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket); err != nil {
		return err
	}
	out := ownershipControls{NS: s3NS}
	out.Rules = append(out.Rules, struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	}{"BucketOwnerEnforced"})
	return q.writeXML(http.StatusOK, out)
}

func (q *request) putBucketOwnershipControls() error {
	if _, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket); err != nil {
		return err
	}
	var oc ownershipControls
	if err := q.readXML(16<<10, &oc); err != nil {
		return err
	}
	if len(oc.Rules) != 1 {
		return s3err.New(s3err.MalformedXML)
	}
	switch oc.Rules[0].ObjectOwnership {
	case "BucketOwnerEnforced":
		q.w.WriteHeader(http.StatusOK)
		return nil
	case "BucketOwnerPreferred", "ObjectWriter":
		return s3err.Newf(s3err.NotImplemented, "cairn buckets are BucketOwnerEnforced: S3 ACLs are not supported; use bucket policies and POSIX permissions.")
	}
	return s3err.New(s3err.MalformedXML)
}
