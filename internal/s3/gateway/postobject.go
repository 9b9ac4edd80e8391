package gateway

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"cairn/internal/iam"
	"cairn/internal/iam/policy"
	"cairn/internal/posix"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// PostObject: browser form uploads. A multipart/form-data POST to a bucket
// carries the key and the object's headers as fields, a policy document
// (base64 JSON: an expiration and conditions every other field must meet)
// signed with SigV4 (x-amz-signature over the policy) or SigV2 (signature,
// AWSAccessKeyId), and the file as the last part, which is streamed into
// the object, never held whole. Without a policy the request is
// anonymous, and only a bucket policy can allow it. The object is then
// written as a PUT is: same checks, versions, locks.

// maxFormFields bounds the bytes of the fields before the file part.
const maxFormFields = 1 << 20

// formFields are a POST form's fields, names folded to lower case (AWS
// matches them without case), values as sent.
type formFields map[string]string

type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func policyError(format string, args ...any) error {
	return s3err.Newf(s3err.AccessDenied, "Invalid according to Policy: "+fmt.Sprintf(format, args...))
}

// readForm reads the fields up to the file part, which it returns open.
func (q *request) readForm() (formFields, *multipart.Part, error) {
	mt, params, err := mime.ParseMediaType(q.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, s3err.Newf(s3err.InvalidArgument, "POST requires exactly one file upload per request, in a multipart/form-data body.")
	}
	mr := multipart.NewReader(q.r.Body, params["boundary"])
	fields := formFields{}
	total := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, nil, s3err.Newf(s3err.InvalidArgument, "POST requires exactly one file upload per request.")
		}
		if err != nil {
			return nil, nil, s3err.New(s3err.MalformedPOSTRequest)
		}
		name := strings.ToLower(p.FormName())
		if name == "file" {
			return fields, p, nil
		}
		b, err := io.ReadAll(io.LimitReader(p, maxFormFields-int64(total)+1))
		if err != nil {
			return nil, nil, s3err.New(s3err.MalformedPOSTRequest)
		}
		total += len(b) + len(name)
		if total > maxFormFields {
			return nil, nil, s3err.Newf(s3err.MaxPostPreDataLengthExceeded, "Your POST request fields preceding the upload file were too large.")
		}
		if _, dup := fields[name]; !dup {
			fields[name] = string(b)
		}
	}
}

// postPolicy is a decoded policy document.
type postPolicy struct {
	expiration time.Time
	conds      []postCondition
	minLen     int64
	maxLen     int64 // -1: no bound
}

type postCondition struct {
	op    string // eq or starts-with
	field string // lower case, without "$"
	value string
}

func parsePostPolicy(b64 string) (*postPolicy, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, s3err.Newf(s3err.InvalidPolicyDocument, "Invalid Policy: Invalid base64 encoding.")
	}
	// The document's own member names are matched exactly (encoding/json
	// would match "EXPIRATION" too).
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, s3err.Newf(s3err.InvalidPolicyDocument, "Invalid Policy: Invalid JSON.")
	}
	var expiration string
	var conditions []json.RawMessage
	if e, ok := top["expiration"]; !ok || json.Unmarshal(e, &expiration) != nil {
		return nil, s3err.Newf(s3err.InvalidPolicyDocument, "Invalid Policy: Policy missing expiration.")
	}
	if c, ok := top["conditions"]; !ok || json.Unmarshal(c, &conditions) != nil {
		return nil, s3err.Newf(s3err.InvalidPolicyDocument, "Invalid Policy: Policy missing conditions.")
	}
	p := &postPolicy{maxLen: -1}
	if p.expiration, err = time.Parse(time.RFC3339Nano, expiration); err != nil {
		return nil, s3err.Newf(s3err.InvalidPolicyDocument, fmt.Sprintf("Invalid Policy: Invalid 'expiration' value: '%s'", expiration))
	}
	for _, c := range conditions {
		var obj map[string]any
		if json.Unmarshal(c, &obj) == nil {
			if len(obj) != 1 {
				return nil, s3err.Newf(s3err.InvalidPolicyDocument, "Invalid Policy: A simple condition names one field.")
			}
			for k, v := range obj {
				s, ok := v.(string)
				if !ok {
					return nil, s3err.Newf(s3err.InvalidPolicyDocument, fmt.Sprintf("Invalid Policy: Invalid simple condition for %q.", k))
				}
				p.conds = append(p.conds, postCondition{op: "eq", field: strings.ToLower(strings.TrimPrefix(k, "$")), value: s})
			}
			continue
		}
		var arr []any
		if err := json.Unmarshal(c, &arr); err != nil || len(arr) != 3 {
			return nil, s3err.Newf(s3err.InvalidPolicyDocument, fmt.Sprintf("Invalid Policy: Invalid condition: %s", c))
		}
		op, _ := arr[0].(string)
		op = strings.ToLower(op) // operator names match without case, as on AWS
		switch op {
		case "content-length-range":
			lo, ok1 := arr[1].(float64)
			hi, ok2 := arr[2].(float64)
			if !ok1 || !ok2 || lo < 0 || hi < lo {
				return nil, s3err.Newf(s3err.InvalidPolicyDocument, "Invalid Policy: Invalid content-length-range.")
			}
			p.minLen, p.maxLen = int64(lo), int64(hi)
		case "eq", "starts-with":
			f, ok1 := arr[1].(string)
			v, ok2 := arr[2].(string)
			if !ok1 || !ok2 || !strings.HasPrefix(f, "$") {
				return nil, s3err.Newf(s3err.InvalidPolicyDocument, fmt.Sprintf("Invalid Policy: Invalid %s condition.", op))
			}
			p.conds = append(p.conds, postCondition{op: op, field: strings.ToLower(f[1:]), value: v})
		default:
			return nil, s3err.Newf(s3err.InvalidPolicyDocument, fmt.Sprintf("Invalid Policy: Invalid condition operator %q.", op))
		}
	}
	return p, nil
}

// formExempt are fields a policy need not name.
func formExempt(name string) bool {
	switch name {
	case "policy", "signature", "awsaccesskeyid", "x-amz-signature", "file", "x-amz-security-token":
		return true
	}
	// A checksum of the file is checked against the file, not the policy.
	return strings.HasPrefix(name, "x-ignore-") || strings.HasPrefix(name, "x-amz-checksum-")
}

// check applies the policy's conditions to the fields: each condition
// holds, and each field is covered by one.
func (p *postPolicy) check(fields formFields, bucket string, now time.Time) error {
	if !now.Before(p.expiration) {
		return policyError("Policy expired.")
	}
	covered := map[string]bool{}
	for _, c := range p.conds {
		v, ok := fields[c.field]
		if c.field == "bucket" {
			v, ok = bucket, true
		}
		covered[c.field] = true
		switch {
		case !ok && !(c.op == "starts-with" && c.value == ""):
			return policyError("Policy Condition failed: [%q, \"$%s\", %q]", c.op, c.field, c.value)
		case c.op == "eq" && v != c.value:
			return policyError("Policy Condition failed: [\"eq\", \"$%s\", %q]", c.field, c.value)
		case c.op == "starts-with" && !strings.HasPrefix(v, c.value):
			return policyError("Policy Condition failed: [\"starts-with\", \"$%s\", %q]", c.field, c.value)
		}
	}
	for name := range fields {
		if !formExempt(name) && !covered[name] {
			return policyError("Extra input fields: %s", name)
		}
	}
	return nil
}

// formAuth authenticates a POST form: its principal (nil: anonymous) and
// its policy (nil without one).
func (q *request) formAuth(fields formFields) (*iam.Principal, *postPolicy, error) {
	b64, hasPolicy := fields["policy"]
	if !hasPolicy {
		if fields["awsaccesskeyid"] != "" || fields["x-amz-credential"] != "" {
			return nil, nil, s3err.Newf(s3err.InvalidArgument, "Bucket POST must contain a field named 'policy'.")
		}
		return nil, nil, nil
	}
	var ak, given string
	var sign func(secret string) string
	switch {
	case fields["x-amz-signature"] != "" || fields["x-amz-credential"] != "":
		if fields["x-amz-algorithm"] != "AWS4-HMAC-SHA256" {
			return nil, nil, s3err.Newf(s3err.InvalidArgument, "Only AWS4-HMAC-SHA256 is supported for x-amz-algorithm.")
		}
		parts := strings.Split(fields["x-amz-credential"], "/")
		if len(parts) != 5 || parts[3] != "s3" || parts[4] != "aws4_request" {
			return nil, nil, s3err.Newf(s3err.InvalidArgument, "Invalid x-amz-credential.")
		}
		if _, err := time.Parse("20060102T150405Z", fields["x-amz-date"]); err != nil {
			return nil, nil, s3err.Newf(s3err.InvalidArgument, "Invalid x-amz-date.")
		}
		ak, given = parts[0], fields["x-amz-signature"]
		sign = func(secret string) string {
			k := []byte("AWS4" + secret)
			for _, s := range parts[1:] {
				k = hmacSHA256(k, s)
			}
			return hex.EncodeToString(hmacSHA256(k, b64))
		}
	default:
		ak, given = fields["awsaccesskeyid"], fields["signature"]
		if ak == "" {
			return nil, nil, s3err.Newf(s3err.InvalidArgument, "Bucket POST must contain a field named 'AWSAccessKeyId'.")
		}
		sign = func(secret string) string {
			m := hmac.New(sha1.New, []byte(secret))
			m.Write([]byte(b64))
			return base64.StdEncoding.EncodeToString(m.Sum(nil))
		}
	}
	if given == "" {
		return nil, nil, s3err.Newf(s3err.InvalidArgument, "Bucket POST must contain a signature of its policy.")
	}
	p, secret, err := q.g.opt.Identity.Lookup(q.ctx, ak)
	switch {
	case errors.Is(err, iam.ErrLockedOut):
		return nil, nil, s3err.Newf(s3err.AccessDenied, "Too many failed authentications with this access key; try again later.")
	case errors.Is(err, iam.ErrExpired):
		return nil, nil, s3err.Newf(s3err.ExpiredToken, "The provided token has expired.")
	case errors.Is(err, iam.ErrDisabled):
		return nil, nil, s3err.Newf(s3err.AccessDenied, "The access key belongs to a disabled user.")
	case err != nil:
		q.g.opt.Identity.Failed(ak, q.r.RemoteAddr)
		return nil, nil, s3err.New(s3err.InvalidAccessKeyID)
	}
	if !hmac.Equal([]byte(sign(secret)), []byte(given)) {
		q.g.opt.Identity.Failed(ak, q.r.RemoteAddr)
		return nil, nil, s3err.New(s3err.SignatureDoesNotMatch)
	}
	if !p.CheckToken(fields["x-amz-security-token"]) {
		return nil, nil, s3err.Newf(s3err.InvalidToken, "The provided token is malformed or otherwise invalid.")
	}
	q.g.opt.Identity.Succeeded(ak)
	pol, err := parsePostPolicy(b64)
	if err != nil {
		return nil, nil, err
	}
	q.accessKey = ak
	return p, pol, nil
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// lengthChecked reads a form's file within content-length-range.
type lengthChecked struct {
	r        io.Reader
	n        int64
	min, max int64
}

func (l *lengthChecked) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.max >= 0 && l.n > l.max {
		return n, s3err.Newf(s3err.EntityTooLarge, "Your proposed upload exceeds the maximum allowed size.")
	}
	if err == io.EOF && l.n < l.min {
		return n, s3err.Newf(s3err.EntityTooSmall, "Your proposed upload is smaller than the minimum allowed size.")
	}
	return n, err
}

func (q *request) postObject() (*response, error) {
	fields, file, err := q.readForm()
	if err != nil {
		return nil, err
	}
	p, pol, err := q.formAuth(fields)
	if err != nil {
		return nil, err
	}
	key, ok := fields["key"]
	if !ok || key == "" {
		return nil, s3err.Newf(s3err.InvalidArgument, "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
	}
	key = strings.ReplaceAll(key, "${filename}", file.FileName())
	fields["key"] = key // the policy judges the key the object gets
	if pol != nil {
		if err := pol.check(fields, q.bucket, q.g.opt.Now()); err != nil {
			return nil, err
		}
	}
	q.key = key
	q.principal = p
	q.cred = posix.Cred{UID: nobody, GID: nobody}
	if p != nil {
		q.cred = p.Cred
	}
	if err := q.authorizeMain("s3:PutObject", policy.ObjectARN(q.bucket, key), onBucket(s3fs.PermWrite)); err != nil {
		return nil, err
	}
	q.attachOrigin()
	// The form's fields are the object's headers.
	h := http.Header{}
	for name, v := range fields {
		switch {
		case name == "content-type", name == "cache-control", name == "content-disposition", name == "content-encoding",
			name == "expires", strings.HasPrefix(name, "x-amz-meta-"), strings.HasPrefix(name, "x-amz-object-lock-"),
			strings.HasPrefix(name, "x-amz-checksum-"):
			h.Set(name, v)
		case name == "acl":
			h.Set("X-Amz-Acl", v)
		}
	}
	saved := q.r.Header
	q.r.Header = h
	opt, err := q.putOptions()
	if err == nil {
		opt.ACL, err = q.newObjectACL()
	}
	q.r.Header = saved
	if err != nil {
		return nil, err
	}
	if t, ok := fields["tagging"]; ok {
		var tg tagging
		if err := xml.Unmarshal([]byte(t), &tg); err != nil {
			return nil, s3err.New(s3err.MalformedXML)
		}
		for _, e := range tg.TagSet.Tags {
			opt.Tags = append(opt.Tags, s3fs.Tag(e))
		}
		if err := s3fs.ValidateTags(opt.Tags, s3fs.MaxObjectTags); err != nil {
			return nil, err
		}
	}
	opt.Size = -1
	body := io.Reader(file)
	if pol != nil {
		body = &lengthChecked{r: file, min: pol.minLen, max: pol.maxLen}
	}
	oi, err := q.g.opt.Backend.PutObject(q.ctx, q.cred, q.bucket, key, body, opt)
	var se *s3err.Error
	if errors.As(err, &se) {
		return nil, se
	}
	if err != nil {
		return nil, err
	}
	// The answer is success_action_redirect's 303, else the status
	// success_action_status names (201 with a PostResponse document),
	// else 204.
	res := empty(http.StatusNoContent)
	rh := res.hdr()
	setNewVersionHeader(rh, oi.VersionID)
	rh.Set("ETag", oi.ETag)
	loc := "/" + q.bucket + "/" + key
	if redirect := fields["success_action_redirect"]; redirect != "" {
		if u, err := url.Parse(redirect); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			v := u.Query()
			v.Set("bucket", q.bucket)
			v.Set("key", key)
			v.Set("etag", oi.ETag)
			u.RawQuery = v.Encode()
			rh.Set("Location", u.String())
			res.status = http.StatusSeeOther
			return res, nil
		}
	}
	rh.Set("Location", loc)
	switch st, _ := strconv.Atoi(fields["success_action_status"]); st {
	case http.StatusOK:
		res.status = http.StatusOK
	case http.StatusCreated:
		res.status = http.StatusCreated
		res.xml = postResponse{Location: loc, Bucket: q.bucket, Key: key, ETag: oi.ETag}
	}
	return res, nil
}
