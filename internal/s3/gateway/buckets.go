package gateway

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

func (q *request) methodNotAllowed() (*response, error) {
	return nil, s3err.New(s3err.MethodNotAllowed)
}

// listBuckets answers the buckets the caller may see, in name order; with
// max-buckets, a page of them and a continuation token (AWS's
// ListBuckets pagination), and prefix filters them.
func (q *request) listBuckets() (*response, error) {
	v := q.r.URL.Query()
	max := 0
	if s := v.Get("max-buckets"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return nil, s3err.Newf(s3err.InvalidArgument, "max-buckets must be an integer between 1 and 10000")
		}
		max = n
	}
	after := ""
	if v.Has("continuation-token") {
		b, err := base64.RawURLEncoding.DecodeString(v.Get("continuation-token"))
		if err != nil || len(b) == 0 {
			return nil, s3err.Newf(s3err.InvalidArgument, "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	prefix := v.Get("prefix")
	bs, err := q.g.opt.Backend.ListBuckets(q.ctx, q.cred)
	if err != nil {
		return nil, err
	}
	res := listAllMyBucketsResult{NS: s3NS, Owner: q.owner(q.cred.UID), Buckets: []bucketElem{}, Prefix: prefix}
	for _, b := range bs {
		if b.Name <= after || !strings.HasPrefix(b.Name, prefix) {
			continue
		}
		if max > 0 && len(res.Buckets) == max {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets[max-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, bucketElem{Name: b.Name, CreationDate: isoTime(b.Created)})
	}
	return xmlResponse(res), nil
}

func (q *request) createBucket() (*response, error) {
	if contains(ReservedBucketNames, q.bucket) {
		return nil, s3err.Newf(s3err.InvalidBucketName, "The bucket name "+q.bucket+" is reserved: the server's own endpoints live under /"+q.bucket+"/.")
	}
	if q.length > 0 {
		var cfg createBucketConfiguration
		if err := q.readXML(64<<10, &cfg); err != nil {
			return nil, err
		}
	}
	lock := strings.EqualFold(q.r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled"), "true")
	ownership := q.r.Header.Get("X-Amz-Object-Ownership")
	switch ownership {
	case "":
		ownership = q.g.opt.ObjectOwnership
	case s3fs.OwnershipEnforced, s3fs.OwnershipPreferred, s3fs.OwnershipObjectWriter:
	default:
		return nil, s3err.Newf(s3err.InvalidArgument, "Invalid x-amz-object-ownership header: "+ownership)
	}
	acl, err := q.headerACL(q.cred.UID, func() (uint32, error) { return q.cred.UID, nil })
	if err != nil {
		return nil, err
	}
	if acl != nil && ownership == s3fs.OwnershipEnforced {
		if a, _ := s3fs.CannedACL("private", q.cred.UID, q.cred.UID); !slices.Equal(acl.Grants, a.Grants) {
			return nil, s3err.New(s3err.InvalidBucketAclWithObjectOwnership)
		}
		acl = nil
	}
	err = q.g.opt.Backend.CreateBucket(q.ctx, q.cred, q.bucket)
	if err == nil && lock {
		err = q.g.opt.Backend.EnableObjectLock(q.ctx, q.cred, q.bucket)
	}
	if err == nil && ownership != "" {
		err = q.g.opt.Backend.PutOwnershipControls(q.ctx, q.cred, q.bucket, ownership)
	}
	if err == nil && acl != nil {
		err = q.g.opt.Backend.PutBucketACL(q.ctx, q.cred, q.bucket, *acl)
	}
	if errors.Is(err, s3fs.ErrBucketExists) {
		if uid, _, oerr := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket); oerr == nil && uid == q.cred.UID {
			// As AWS: in us-east-1, re-creating one's own bucket succeeds
			// and changes nothing; in every other region it is an error.
			if q.g.opt.Region == "us-east-1" {
				return q.created(), nil
			}
			return nil, s3err.New(s3err.BucketAlreadyOwnedByYou)
		}
		return nil, s3err.New(s3err.BucketAlreadyExists)
	}
	if err != nil {
		return nil, err
	}
	if err := q.g.opt.Identity.DeleteBucketPolicy(q.ctx, q.bucket); err != nil {
		return nil, err
	}
	return q.created(), nil
}

// created is CreateBucket's answer: the new bucket's Location.
func (q *request) created() *response {
	res := empty(http.StatusOK)
	res.hdr().Set("Location", "/"+q.bucket)
	return res
}

func (q *request) headBucket() (*response, error) {
	if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	res := empty(http.StatusOK)
	res.hdr().Set("x-amz-bucket-region", q.g.opt.Region)
	return res, nil
}

func (q *request) deleteBucket() (*response, error) {
	if err := q.g.opt.Backend.DeleteBucket(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	// The bucket's policy goes with it (and a new bucket of that name
	// drops any left by a process that died in between).
	if err := q.g.opt.Identity.DeleteBucketPolicy(q.ctx, q.bucket); err != nil {
		q.g.log.Error("deleting a deleted bucket's policy failed; it goes when a bucket of that name is created", "bucket", q.bucket, "err", err)
	}
	return empty(http.StatusNoContent), nil
}

func (q *request) getBucketLocation() (*response, error) {
	if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	loc := q.g.opt.Region
	if loc == "us-east-1" {
		loc = ""
	}
	return xmlResponse(locationConstraint{NS: s3NS, Value: loc}), nil
}

// getBucketVersioning answers the bucket's versioning state (no Status
// when versioning was never enabled).
func (q *request) getBucketVersioning() (*response, error) {
	if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	status, err := q.g.opt.Backend.Versioning(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	return xmlResponse(versioningConfiguration{NS: s3NS, Status: status}), nil
}

// putBucketVersioning enables or suspends versioning. MFA delete is not
// supported (cairn has no MFA devices): asking for it is an error.
func (q *request) putBucketVersioning() (*response, error) {
	var c versioningConfiguration
	if err := q.readXML(64<<10, &c); err != nil {
		return nil, err
	}
	if c.MfaDelete == "Enabled" {
		return nil, s3err.Newf(s3err.NotImplemented, "MFA delete is not supported.")
	}
	if c.MfaDelete != "" && c.MfaDelete != "Disabled" {
		return nil, s3err.New(s3err.MalformedXML)
	}
	if c.Status != s3fs.VersioningEnabled && c.Status != s3fs.VersioningSuspended {
		return nil, s3err.New(s3err.MalformedXML)
	}
	if err := q.g.opt.Backend.PutBucketVersioning(q.ctx, q.cred, q.bucket, c.Status); err != nil {
		return nil, err
	}
	return empty(http.StatusOK), nil
}

// listParams are the parameters shared by ListObjects v1 and v2.
type listParams struct {
	prefix, delim, encoding string
	maxKeys                 int
}

func (q *request) listParams() (listParams, error) {
	v := q.r.URL.Query()
	p := listParams{prefix: v.Get("prefix"), delim: v.Get("delimiter"), encoding: v.Get("encoding-type"), maxKeys: 1000}
	if p.encoding != "" && p.encoding != "url" {
		return p, s3err.Newf(s3err.InvalidArgument, "Invalid Encoding Method specified in Request")
	}
	if s := v.Get("max-keys"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, s3err.Newf(s3err.InvalidArgument, "Provided max-keys not an integer or within integer range")
		}
		p.maxKeys = min(n, 1000)
	}
	return p, nil
}

// enc applies encoding-type=url: percent-encoding (a space is %20, a
// "+" %2B), slashes kept.
func (p listParams) enc(s string) string {
	if p.encoding == "url" {
		return strings.NewReplacer("%2F", "/", "+", "%20").Replace(url.QueryEscape(s))
	}
	return s
}

func (q *request) list(p listParams, after string, fetchOwner bool) (s3fs.ListResult, error) {
	if p.maxKeys == 0 {
		if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
			return s3fs.ListResult{}, err
		}
		return s3fs.ListResult{}, nil
	}
	return q.g.opt.Backend.ListObjects(q.ctx, q.cred, q.bucket, s3fs.ListOptions{
		Prefix: p.prefix, Delimiter: p.delim, StartAfter: after, MaxKeys: p.maxKeys, FetchOwner: fetchOwner})
}

func (q *request) fillListing(res *listBucketResult, p listParams, lr s3fs.ListResult, withOwner bool) {
	res.Contents, res.CommonPrefixes = []objectElem{}, []prefixElem{}
	for _, o := range lr.Objects {
		e := objectElem{Key: p.enc(o.Key), LastModified: isoTime(o.ModTime), ETag: o.ETag, Size: o.Size, StorageClass: "STANDARD"}
		if withOwner {
			ow := q.owner(o.OwnerUID)
			e.Owner = &ow
		}
		res.Contents = append(res.Contents, e)
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixElem{Prefix: p.enc(cp)})
	}
	res.IsTruncated = lr.IsTruncated
}

func (q *request) listObjectsV1() (*response, error) {
	p, err := q.listParams()
	if err != nil {
		return nil, err
	}
	marker := q.r.URL.Query().Get("marker")
	lr, err := q.list(p, marker, true)
	if err != nil {
		return nil, err
	}
	res := listBucketResult{NS: s3NS, Name: q.bucket, Prefix: p.enc(p.prefix), Marker: ptr(p.enc(marker)),
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delim), EncodingType: p.encoding}
	q.fillListing(&res, p, lr, true)
	if lr.IsTruncated && p.delim != "" {
		res.NextMarker = p.enc(lr.NextMarker)
	}
	return xmlResponse(res), nil
}

func (q *request) listObjectsV2() (*response, error) {
	p, err := q.listParams()
	if err != nil {
		return nil, err
	}
	v := q.r.URL.Query()
	after := v.Get("start-after")
	token := v.Get("continuation-token")
	if v.Has("continuation-token") {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || token == "" {
			return nil, s3err.Newf(s3err.InvalidArgument, "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	fetchOwner := v.Get("fetch-owner") == "true"
	lr, err := q.list(p, after, fetchOwner)
	if err != nil {
		return nil, err
	}
	res := listBucketResult{NS: s3NS, Name: q.bucket, Prefix: p.enc(p.prefix), StartAfter: p.enc(v.Get("start-after")),
		ContinuationToken: token, MaxKeys: p.maxKeys, Delimiter: p.enc(p.delim), EncodingType: p.encoding}
	q.fillListing(&res, p, lr, fetchOwner)
	n := len(res.Contents) + len(res.CommonPrefixes)
	res.KeyCount = &n
	if lr.IsTruncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(lr.NextMarker))
	}
	return xmlResponse(res), nil
}

func ptr[T any](v T) *T { return &v }
