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
	return q.authorize(action, res)
}

// authorize decides action on resource for the request's principal, with
// the policy of the resource's bucket: nil, or AccessDenied. The root
// user is never refused and pays for no request context. An anonymous
// request that a bucket policy allows runs from then on as the owner of
// the request's bucket (the policy is the owner's grant).
func (q *request) authorize(action, resource string) error {
	p := q.principal
	if p != nil && p.Kind == iam.KindRoot {
		return nil
	}
	var bp *policy.Policy
	if b := bucketOf(resource); b != "" {
		var err error
		if bp, err = q.g.opt.Identity.BucketPolicy(q.ctx, b); err != nil {
			return err
		}
	}
	r := &policy.Request{Action: action, Resource: resource}
	q.conditionKeys(r)
	err := q.g.opt.Identity.Authorize(q.ctx, p, r, bp)
	if errors.Is(err, iam.ErrAccessDenied) {
		return s3err.New(s3err.AccessDenied)
	}
	if err != nil || p != nil || q.anonOwner {
		return err
	}
	uid, gid, err := q.g.opt.Backend.BucketOwner(q.ctx, q.bucket)
	if err != nil {
		return err
	}
	q.cred, q.anonOwner = posix.Cred{UID: uid, GID: gid}, true
	return nil
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

// conditionKeys fills the condition keys the request gives a policy.
func (q *request) conditionKeys(r *policy.Request) {
	h := q.r.Header
	now := q.g.opt.Now().UTC()
	r.Set("aws:CurrentTime", now.Format(time.RFC3339))
	r.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	r.Set("aws:SecureTransport", strconv.FormatBool(q.r.TLS != nil))
	if host, _, err := net.SplitHostPort(q.r.RemoteAddr); err == nil {
		r.Set("aws:SourceIp", host)
	}
	if ua := q.r.UserAgent(); ua != "" {
		r.Set("aws:UserAgent", ua)
	}
	if ref := h.Get("Referer"); ref != "" {
		r.Set("aws:Referer", ref)
	}
	switch {
	case q.sigVer == 2:
		r.Set("s3:signatureversion", "AWS")
	case q.sigVer == 4:
		r.Set("s3:signatureversion", "AWS4-HMAC-SHA256")
	}
	if q.sigVer != 0 {
		if q.presigned {
			r.Set("s3:authType", "REST-QUERY-STRING")
		} else {
			r.Set("s3:authType", "REST-HEADER")
		}
	}
	query := q.r.URL.Query()
	for _, k := range [...]string{"prefix", "delimiter", "max-keys", "versionId"} {
		if query.Has(k) {
			r.Set("s3:"+k, query.Get(k))
		}
	}
	for _, k := range [...]string{"x-amz-acl", "x-amz-copy-source", "x-amz-metadata-directive",
		"x-amz-server-side-encryption", "x-amz-storage-class", "x-amz-content-sha256",
		"x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
		"x-amz-grant-full-control", "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date",
		"x-amz-object-lock-legal-hold", "x-amz-website-redirect-location"} {
		if v := h.Get(k); v != "" {
			name := "s3:" + k
			switch k {
			case "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold":
				name = "s3:" + k[len("x-amz-"):]
			}
			r.Set(name, v)
		}
	}
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
