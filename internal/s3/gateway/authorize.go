package gateway

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cairn/internal/iam"
	"cairn/internal/iam/policy"
	"cairn/internal/posix"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// authorizeOp is the request's authorize step: the operation's action on
// the resource its path names.
func (q *request) authorizeOp(op *operation) error {
	if op.action == "" {
		return nil
	}
	action := op.action
	if op.versionAction != "" && q.r.URL.Query().Has("versionId") {
		action = op.versionAction
	}
	var res string
	switch op.level {
	case serviceLevel:
		res = policy.ServiceARN
	case bucketLevel:
		res = policy.BucketARN(q.bucket)
	default:
		res = policy.ObjectARN(q.bucket, q.key)
	}
	return q.authorizeMain(action, res, op.acl)
}

// authorize decides action on resource for the request's principal, with
// the policy of the resource's bucket: nil, or AccessDenied. The root
// user is never refused and pays for no request context.
func (q *request) authorize(action, resource string) error {
	_, err := q.decide(action, resource)
	return err
}

// authorizeMain is authorize for the resource the request is about. What
// a bucket policy allows is the bucket owner's grant, made with the
// owner's file permissions: a request that its bucket's policy allows
// runs from then on as the owner of the bucket, as objects written under
// a bucket policy belong to the bucket's owner on AWS
// (BucketOwnerEnforced). Only the owner (or root) may set a bucket's
// policy. When no policy denies the request, an S3 ACL may grant it
// (need: the ACL permission that would; see aclGrant).
func (q *request) authorizeMain(action, resource string, need aclNeed) error {
	byBucket, err := q.decide(action, resource)
	if err != nil && !errors.As(err, new(notAllowed)) {
		return err
	}
	if err == nil && byBucket {
		if q.granted || q.bucket == "" {
			return nil
		}
		uid, gid, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
		if err != nil {
			return err
		}
		q.cred, q.granted = posix.Cred{UID: uid, GID: gid}, true
		return nil
	}
	if !q.granted && (err != nil || !need.object) {
		// (An object's ACL matters to a request the policies allow only
		// when its file permissions refuse it: see lendByACL.)
		if cred := q.aclGrant(q.bucket, q.key, q.versionID(), need, err == nil); cred != nil {
			q.cred, q.granted = *cred, true
			return nil
		}
	}
	if err != nil && q.bucket != "" && need.perm != "" {
		// Who may list a bucket learns that a key (or the bucket) is
		// missing, as on AWS, rather than AccessDenied.
		if _, _, berr := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket); errors.Is(berr, s3fs.ErrNoSuchBucket) {
			return berr
		}
		if need.object {
			if missing := q.missingForLister(); missing != nil {
				return missing
			}
		}
	}
	return err
}

// missingForLister is the NoSuchKey a refused object request answers
// instead of AccessDenied when the bucket's owner lets the requester list
// the bucket under the key (its bucket policy's s3:ListBucket, with
// s3:prefix the key, or a READ grant of its ACL) and the object does not
// exist, as AWS answers; nil otherwise. What the requester's own policies
// allow does not count: listing is then its file permissions' to allow.
func (q *request) missingForLister() error {
	if q.key == "" {
		return nil
	}
	if q.aclGrant(q.bucket, "", "", onBucket(s3fs.PermRead), false) == nil {
		key := q.key
		q.asPrefix = &key
		byBucket, err := q.decide("s3:ListBucket", policy.BucketARN(q.bucket))
		q.asPrefix = nil
		if err != nil || !byBucket {
			return nil
		}
	}
	_, err := q.g.opt.Backend.HeadObject(q.ctx, posix.Root, q.bucket, q.key, s3fs.GetOptions{VersionID: q.versionID()})
	if errors.Is(err, s3fs.ErrNoSuchKey) {
		return err
	}
	return nil
}

// lendByACL decides whether a request the policies allowed, which its
// file permissions refused, is one an object's ACL grants (or its S3
// owner makes); then it lends the request the ACL's credential and tells
// to run the handler again. So a GET costs no read of the object's ACL
// unless it is refused first. Only object operations qualify (their
// first answer, not yet written, is dropped).
func (q *request) lendByACL(op *operation, err error) bool {
	if q.granted || !op.acl.object {
		return false
	}
	if e, ok := toS3(err); !ok || e.Code != s3err.AccessDenied {
		return false
	}
	cred := q.aclGrant(q.bucket, q.key, q.versionID(), op.acl, true)
	if cred == nil {
		return false
	}
	q.cred, q.granted = *cred, true
	return true
}

// checkExpectedOwner answers AccessDenied when the request's
// x-amz-expected-bucket-owner names another owner than its bucket's.
func (q *request) checkExpectedOwner() error {
	want := q.r.Header.Get("X-Amz-Expected-Bucket-Owner")
	if want == "" || q.bucket == "" {
		return nil
	}
	uid, _, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
	if err != nil {
		return err
	}
	if strconv.FormatUint(uint64(uid), 10) != want {
		return s3err.Newf(s3err.AccessDenied, "The bucket is owned by another account than x-amz-expected-bucket-owner names.")
	}
	return nil
}

// notAllowed is the AccessDenied of a request no policy allows and none
// denies: an S3 ACL may still grant it.
type notAllowed struct{ e *s3err.Error }

func (n notAllowed) Error() string { return n.e.Error() }
func (n notAllowed) Unwrap() error { return n.e }

// decide runs the policies; byBucket tells that the bucket's policy
// allows the request. An implicit deny is a notAllowed.
func (q *request) decide(action, resource string) (byBucket bool, err error) {
	p := q.principal
	if p != nil && p.Kind == iam.KindRoot {
		return false, nil
	}
	var bp *policy.Policy
	if b := bucketOf(resource); b != "" {
		if bp, err = q.g.opt.Identity.BucketPolicy(q.ctx, b); err != nil {
			return false, err
		}
	}
	r := &policy.Request{Action: action, Resource: resource, Resolve: q.conditionKey}
	grant, err := q.g.opt.Identity.Authorize(q.ctx, p, r, bp)
	if errors.Is(err, iam.ErrNotAllowed) {
		return false, notAllowed{s3err.New(s3err.AccessDenied)}
	}
	if errors.Is(err, iam.ErrAccessDenied) {
		return false, s3err.New(s3err.AccessDenied)
	}
	if err != nil {
		return false, err
	}
	if grant.Bucket && p == nil {
		// Only a bucket policy grants anything to anonymous callers;
		// a public access block may take that back.
		if err := q.restrictPublic(); err != nil {
			return false, err
		}
	}
	return grant.Bucket, nil
}

// bucketOf is the bucket an S3 ARN names ("" for none).
func bucketOf(arn string) string {
	rest, ok := strings.CutPrefix(arn, policy.BucketARN(""))
	if !ok {
		return ""
	}
	b, _, _ := strings.Cut(rest, "/")
	return b
}

// conditionKey gives the condition keys of the request a policy asks
// for (canonical names), computed only then.
func (q *request) conditionKey(k string) []string {
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	switch k {
	case "aws:currenttime":
		return one(q.g.opt.Now().UTC().Format(time.RFC3339))
	case "aws:epochtime":
		return one(strconv.FormatInt(q.g.opt.Now().Unix(), 10))
	case "aws:securetransport":
		return one(strconv.FormatBool(q.r.TLS != nil))
	case "aws:sourceip":
		if host, _, err := net.SplitHostPort(q.r.RemoteAddr); err == nil {
			return one(host)
		}
		return nil
	case "aws:useragent":
		return one(q.r.UserAgent())
	case "aws:referer":
		return one(q.r.Header.Get("Referer"))
	case "s3:signatureversion":
		switch q.sigVer {
		case 2:
			return one("AWS")
		case 4:
			return one("AWS4-HMAC-SHA256")
		}
		return nil
	case "s3:authtype":
		switch {
		case q.sigVer == 0:
			return nil
		case q.presigned:
			return one("REST-QUERY-STRING")
		}
		return one("REST-HEADER")
	case "s3:prefix", "s3:delimiter", "s3:max-keys":
		if q.asPrefix != nil {
			if k == "s3:prefix" {
				return []string{*q.asPrefix}
			}
			return nil
		}
		if vs, ok := q.r.URL.Query()[k[3:]]; ok && len(vs) > 0 {
			return []string{vs[0]} // present, even empty
		}
		return nil
	case "s3:versionid":
		return one(q.r.URL.Query().Get("versionId"))
	case "s3:object-lock-mode", "s3:object-lock-retain-until-date", "s3:object-lock-legal-hold":
		return one(q.r.Header.Get("x-amz-" + k[3:]))
	}
	if name, ok := strings.CutPrefix(k, "s3:existingobjecttag/"); ok && q.key != "" {
		// The object's tags, read (as root: this is the authorization)
		// only when a policy asks for them.
		tags, err := q.g.opt.Backend.GetObjectTagging(q.ctx, posix.Root, q.bucket, q.key, q.versionID())
		if err != nil {
			return nil
		}
		return tagValue(tags, name)
	}
	if name, ok := strings.CutPrefix(k, "s3:requestobjecttag/"); ok {
		tags, _ := headerTags(q.r.Header)
		return tagValue(tags, name)
	}
	if k == "s3:requestobjecttagkeys" {
		tags, _ := headerTags(q.r.Header)
		var keys []string
		for _, t := range tags {
			keys = append(keys, t.Key)
		}
		return keys
	}
	if h, ok := strings.CutPrefix(k, "s3:x-amz-"); ok && !strings.ContainsRune(h, '/') {
		return one(q.r.Header.Get("x-amz-" + h))
	}
	return nil
}

// tagValue is the value of tag name, as condition values.
func tagValue(tags []s3fs.Tag, name string) []string {
	for _, t := range tags {
		if t.Key == name {
			return []string{t.Value}
		}
	}
	return nil
}

// credentialKey is the access key a request claims to be signed with
// (SigV4 header or query, SigV2 header or query), for the lockout and
// the log; "" when it names none.
func credentialKey(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if cred, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 "); ok {
		if i := strings.Index(cred, "Credential="); i >= 0 {
			ak, _, _ := strings.Cut(cred[i+len("Credential="):], "/")
			return ak
		}
		return ""
	}
	if v2, ok := strings.CutPrefix(auth, "AWS "); ok {
		ak, _, _ := strings.Cut(v2, ":")
		return ak
	}
	q := r.URL.Query()
	if c := q.Get("X-Amz-Credential"); c != "" {
		ak, _, _ := strings.Cut(c, "/")
		return ak
	}
	return q.Get("AWSAccessKeyId")
}

// securityToken is the session token a request carries.
func securityToken(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Security-Token"); t != "" {
		return t
	}
	return r.URL.Query().Get("X-Amz-Security-Token")
}
