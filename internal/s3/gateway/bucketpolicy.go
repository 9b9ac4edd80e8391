package gateway

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"

	"cairn/internal/iam"
	"cairn/internal/iam/policy"
	"cairn/internal/s3/s3err"
)

// ownsBucket refuses a caller that is neither root nor the bucket's
// owner: a bucket policy is the owner's grant (requests it allows run
// with the owner's file permissions).
func (q *request) ownsBucket() error {
	if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
		return err
	}
	if q.principal != nil && q.principal.Kind == iam.KindRoot {
		return nil
	}
	uid, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
	if err != nil {
		return err
	}
	if q.principal == nil || uid != q.principal.Cred.UID { // the caller's own uid, not one a policy lent it
		return s3err.Newf(s3err.AccessDenied, "Only the bucket's owner may set or delete its policy.")
	}
	return nil
}

func (q *request) putBucketPolicy() (*response, error) {
	if err := q.ownsBucket(); err != nil {
		return nil, err
	}
	doc, err := io.ReadAll(io.LimitReader(q.r.Body, policy.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(doc) > policy.MaxSize {
		return nil, s3err.Newf(s3err.MalformedPolicy, "Policies must be no more than 20 KB.")
	}
	if p, perr := policy.ParseBucketPolicy(doc, q.bucket); perr == nil && iam.IsPublic(p) {
		b, err := q.publicBlock()
		if err != nil {
			return nil, err
		}
		if b.BlockPublicPolicy {
			return nil, s3err.Newf(s3err.AccessDenied, "The bucket's public access block refuses public bucket policies.")
		}
	}
	err = q.g.opt.Identity.PutBucketPolicy(q.ctx, q.bucket, doc)
	var pe *policy.Error
	if errors.As(err, &pe) {
		return nil, s3err.Newf(s3err.MalformedPolicy, pe.Error())
	}
	if err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

func (q *request) getBucketPolicy() (*response, error) {
	if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	doc, err := q.g.opt.Identity.GetBucketPolicy(q.ctx, q.bucket)
	if errors.Is(err, iam.ErrNoSuchBucketPolicy) {
		return nil, s3err.New(s3err.NoSuchBucketPolicy).With("BucketName", q.bucket)
	}
	if err != nil {
		return nil, err
	}
	return rawResponse("application/json", doc), nil
}

func (q *request) deleteBucketPolicy() (*response, error) {
	if err := q.ownsBucket(); err != nil {
		return nil, err
	}
	if err := q.g.opt.Identity.DeleteBucketPolicy(q.ctx, q.bucket); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

type policyStatus struct {
	XMLName  xml.Name `xml:"PolicyStatus"`
	NS       string   `xml:"xmlns,attr"`
	IsPublic bool     `xml:"IsPublic"`
}

func (q *request) getBucketPolicyStatus() (*response, error) {
	if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	p, err := q.g.opt.Identity.BucketPolicy(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	// A bucket without a policy is not public (as the conformance suite
	// has it; AWS answers NoSuchBucketPolicy); one whose ACL grants the
	// public groups is (as Ceph RGW answers).
	st, err := q.g.opt.Backend.BucketACL(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	public := iam.IsPublic(p) || (st.Enabled() && st.ACL != nil && st.ACL.Public())
	return xmlResponse(policyStatus{NS: s3NS, IsPublic: public}), nil
}
