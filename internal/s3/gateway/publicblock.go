package gateway

import (
	"encoding/xml"
	"errors"
	"net/http"

	"cairn/internal/iam"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// publicAccessBlockConfiguration is the body of Put/GetPublicAccessBlock.
type publicAccessBlockConfiguration struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	NS                    string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

func (q *request) getPublicAccessBlock() (*response, error) {
	b, err := q.g.opt.Backend.GetPublicAccessBlock(q.ctx, q.cred, q.bucket)
	if errors.Is(err, s3fs.ErrNoSuchPublicAccessBlock) {
		return nil, s3err.New(s3err.NoSuchPublicAccessBlockConfiguration).With("BucketName", q.bucket)
	}
	if err != nil {
		return nil, err
	}
	return xmlResponse(publicAccessBlockConfiguration{NS: s3NS, BlockPublicAcls: b.BlockPublicAcls,
		IgnorePublicAcls: b.IgnorePublicAcls, BlockPublicPolicy: b.BlockPublicPolicy, RestrictPublicBuckets: b.RestrictPublicBuckets}), nil
}

func (q *request) putPublicAccessBlock() (*response, error) {
	var c publicAccessBlockConfiguration
	if err := q.readXML(16<<10, &c); err != nil {
		return nil, err
	}
	b := s3fs.PublicAccessBlock{BlockPublicAcls: c.BlockPublicAcls, IgnorePublicAcls: c.IgnorePublicAcls,
		BlockPublicPolicy: c.BlockPublicPolicy, RestrictPublicBuckets: c.RestrictPublicBuckets}
	if err := q.g.opt.Backend.PutPublicAccessBlock(q.ctx, q.cred, q.bucket, b); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

func (q *request) deletePublicAccessBlock() (*response, error) {
	if err := q.g.opt.Backend.DeletePublicAccessBlock(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

// publicBlock is the bucket's public access block (the zero value when it
// has none).
func (q *request) publicBlock() (s3fs.PublicAccessBlock, error) {
	b, err := q.g.opt.Backend.BucketPublicAccessBlock(q.ctx, q.bucket)
	if errors.Is(err, s3fs.ErrNoSuchPublicAccessBlock) {
		return b, nil
	}
	return b, err
}

// refusePublicACL answers a request that sets a public canned ACL
// (x-amz-acl) on a bucket that blocks public ACLs with AccessDenied, as
// AWS does before anything else is decided.
func (q *request) refusePublicACL() error {
	switch q.r.Header.Get("X-Amz-Acl") {
	case "public-read", "public-read-write", "authenticated-read":
	default:
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

// restrictPublic refuses what a public bucket policy grants to anonymous
// callers when the bucket restricts public buckets.
func (q *request) restrictPublic() error {
	if q.principal != nil || q.bucket == "" {
		return nil
	}
	b, err := q.publicBlock()
	if err != nil || !b.RestrictPublicBuckets {
		return err
	}
	p, err := q.g.opt.Identity.BucketPolicy(q.ctx, q.bucket)
	if err != nil {
		return err
	}
	if iam.IsPublic(p) {
		return s3err.Newf(s3err.AccessDenied, "The bucket's public access block restricts its public policy to its own account.")
	}
	return nil
}
