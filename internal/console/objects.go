package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// newS3 returns an S3 client of the gateway signing with the given keys.
func (c *Console) newS3(ak, sk string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     c.opt.Region,
		BaseEndpoint:               aws.String(c.opt.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient:                 c.opt.HTTP,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// unsignedPayload sends a body without hashing it first: the console
// streams what the browser sends, and the connection to the gateway is
// the server's own.
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// An entry is one row of a listing: a folder (common prefix) or an object.
type entry struct {
	Name     string    `json:"name"` // the part after the listed prefix
	Key      string    `json:"key"`
	Folder   bool      `json:"folder,omitempty"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified,omitzero"`
	ETag     string    `json:"etag,omitempty"`
	// Href opens a folder or downloads an object.
	Href string `json:"href"`
}

// A listPage is one page of a listing and the token of the next.
type listPage struct {
	Entries []entry `json:"entries"`
	Next    string  `json:"next,omitempty"`
}

func pageSize(r *http.Request) int {
	n, err := strconv.Atoi(r.FormValue("size"))
	if err != nil {
		return 100
	}
	return min(max(n, 50), 250)
}

// list lists one page of the folder prefix of bucket, names that start
// with filter only.
func (c *Console) list(k *call, bucket, prefix, filter, token string, size int) (listPage, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + filter), Delimiter: aws.String("/"),
		MaxKeys: aws.Int32(int32(size))}
	if token != "" {
		in.ContinuationToken = aws.String(token)
	}
	out, err := k.se.s3.ListObjectsV2(k.r.Context(), in)
	if err != nil {
		return listPage{}, err
	}
	p := listPage{Entries: make([]entry, 0, len(out.CommonPrefixes)+len(out.Contents))}
	for _, cp := range out.CommonPrefixes {
		key := aws.ToString(cp.Prefix)
		p.Entries = append(p.Entries, entry{Name: strings.TrimPrefix(key, prefix), Key: key, Folder: true, Href: browseURL(bucket, key)})
	}
	for _, o := range out.Contents {
		key := aws.ToString(o.Key)
		if key == prefix { // the folder's own marker object
			continue
		}
		p.Entries = append(p.Entries, entry{Name: strings.TrimPrefix(key, prefix), Key: key, Size: aws.ToInt64(o.Size),
			Modified: aws.ToTime(o.LastModified), ETag: strings.Trim(aws.ToString(o.ETag), `"`),
			Href: Prefix + "download?" + url.Values{"bucket": {bucket}, "key": {key}}.Encode()})
	}
	if aws.ToBool(out.IsTruncated) {
		p.Next = aws.ToString(out.NextContinuationToken)
	}
	return p, nil
}

func (c *Console) listAPI(k *call) error {
	bucket, prefix := k.r.FormValue("bucket"), k.r.FormValue("prefix")
	if err := checkName(bucket, prefix); err != nil {
		return err
	}
	p, err := c.list(k, bucket, prefix, k.r.FormValue("filter"), k.r.FormValue("token"), pageSize(k.r))
	if err != nil {
		return err
	}
	writeJSON(k.w, http.StatusOK, p)
	return nil
}

// details is what the details panel shows of one object.
type details struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	Modified     time.Time         `json:"modified"`
	ETag         string            `json:"etag"`
	ContentType  string            `json:"contentType"`
	VersionID    string            `json:"versionId,omitempty"`
	Metadata     map[string]string `json:"metadata"`
	Tags         map[string]string `json:"tags"`
	Versions     []version         `json:"versions,omitempty"`
	Versioning   string            `json:"versioning,omitempty"`
	Retention    string            `json:"retention,omitempty"`
	RetainUntil  *time.Time        `json:"retainUntil,omitempty"`
	LegalHold    string            `json:"legalHold,omitempty"`
	StorageClass string            `json:"storageClass,omitempty"`
	// The file behind the object: owner and group (with the names of the
	// users that have those ids, when the viewer may list users), mode
	// and POSIX ACL, as a mount shows them.
	Owner string `json:"owner,omitempty"`
	Mode  string `json:"mode,omitempty"`
	ACL   string `json:"acl,omitempty"`
}

type version struct {
	ID           string    `json:"id"`
	Modified     time.Time `json:"modified"`
	Size         int64     `json:"size"`
	Latest       bool      `json:"latest"`
	DeleteMarker bool      `json:"deleteMarker"`
}

func (c *Console) objectAPI(k *call) error {
	ctx, cl := k.r.Context(), k.se.s3
	bucket, key := k.r.FormValue("bucket"), k.r.FormValue("key")
	if err := checkName(bucket, key); err != nil {
		return err
	}
	h, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return err
	}
	d := details{Key: key, Size: aws.ToInt64(h.ContentLength), Modified: aws.ToTime(h.LastModified),
		ETag: strings.Trim(aws.ToString(h.ETag), `"`), ContentType: aws.ToString(h.ContentType),
		VersionID: aws.ToString(h.VersionId), Metadata: h.Metadata, Tags: map[string]string{},
		StorageClass: string(h.StorageClass), Retention: string(h.ObjectLockMode), RetainUntil: h.ObjectLockRetainUntilDate,
		LegalHold: string(h.ObjectLockLegalHoldStatus)}
	if raw, ok := awsmiddleware.GetRawResponse(h.ResultMetadata).(*smithyhttp.Response); ok {
		d.Owner, d.Mode, d.ACL = c.posixView(k, raw.Header)
	}
	if tg, err := cl.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &bucket, Key: &key}); err == nil {
		for _, t := range tg.TagSet {
			d.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	} else if !denied(err) {
		return err
	}
	if v, err := cl.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket}); err == nil {
		d.Versioning = string(v.Status)
	}
	if d.Versioning != "" {
		if d.Versions, err = c.versions(ctx, cl, bucket, key); err != nil && !denied(err) {
			return err
		}
	}
	writeJSON(k.w, http.StatusOK, d)
	return nil
}

// versions lists the versions of key (at most 100, newest first).
func (c *Console) versions(ctx context.Context, cl *s3.Client, bucket, key string) ([]version, error) {
	out, err := cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: &key, MaxKeys: aws.Int32(100)})
	if err != nil {
		return nil, err
	}
	var vs []version
	for _, v := range out.Versions {
		if aws.ToString(v.Key) == key {
			vs = append(vs, version{ID: aws.ToString(v.VersionId), Modified: aws.ToTime(v.LastModified), Size: aws.ToInt64(v.Size),
				Latest: aws.ToBool(v.IsLatest)})
		}
	}
	for _, m := range out.DeleteMarkers {
		if aws.ToString(m.Key) == key {
			vs = append(vs, version{ID: aws.ToString(m.VersionId), Modified: aws.ToTime(m.LastModified),
				Latest: aws.ToBool(m.IsLatest), DeleteMarker: true})
		}
	}
	return vs, nil
}

// denied tells whether err is the gateway refusing (or not serving) an
// optional part of a page.
func denied(err error) bool {
	return errorCode(err) == "AccessDenied" || errorCode(err) == "NotImplemented"
}

// errorCode is the S3 error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// download streams one object (or one version of it) to the browser.
func (c *Console) download(k *call) error {
	bucket, key := k.r.FormValue("bucket"), k.r.FormValue("key")
	if err := checkName(bucket, key); err != nil {
		return err
	}
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	if v := k.r.FormValue("versionId"); v != "" {
		in.VersionId = &v
	}
	out, err := k.se.s3.GetObject(k.r.Context(), in)
	if err != nil {
		return err
	}
	defer out.Body.Close()
	h := k.w.Header()
	ct := aws.ToString(out.ContentType)
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	if out.ContentLength != nil {
		h.Set("Content-Length", strconv.FormatInt(*out.ContentLength, 10))
	}
	h.Set("ETag", aws.ToString(out.ETag))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)}))
	h.Set("Cache-Control", "no-store")
	if _, err := io.Copy(k.w, out.Body); err != nil {
		// Too late for an error page: the browser sees a cut download.
		c.log.Warn("console: download cut", "bucket", bucket, "key", key, "err", err)
	}
	return nil
}

// deleteRequest names what to delete: keys (a key ending in "/" is a
// folder: everything under it), or versions of one key.
type deleteRequest struct {
	Bucket   string   `json:"bucket"`
	Keys     []string `json:"keys"`
	Key      string   `json:"key"`
	Versions []string `json:"versions"`
}

// A deleteFailure is one object that was not deleted.
type deleteFailure struct {
	Key     string `json:"key"`
	Message string `json:"message"`
}

func (c *Console) deleteObjects(k *call) error {
	var req deleteRequest
	if err := json.NewDecoder(io.LimitReader(k.r.Body, 4<<20)).Decode(&req); err != nil {
		return badRequest("The request could not be read: %v.", err)
	}
	if err := checkName(req.Bucket, ""); err != nil {
		return err
	}
	var ids []types.ObjectIdentifier
	for _, v := range req.Versions {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(req.Key), VersionId: aws.String(v)})
	}
	ctx, cl := k.r.Context(), k.se.s3
	for _, key := range req.Keys {
		if err := checkName(req.Bucket, key); err != nil {
			return err
		}
		if !strings.HasSuffix(key, "/") {
			ids = append(ids, types.ObjectIdentifier{Key: aws.String(key)})
			continue
		}
		p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &req.Bucket, Prefix: aws.String(key)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, o := range page.Contents {
				ids = append(ids, types.ObjectIdentifier{Key: o.Key})
			}
		}
	}
	deleted, failed := 0, []deleteFailure{}
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		out, err := cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &req.Bucket,
			Delete: &types.Delete{Objects: ids[:n], Quiet: aws.Bool(true)}})
		if err != nil {
			return err
		}
		for _, e := range out.Errors {
			_, msg := c.describe(&smithy.GenericAPIError{Code: aws.ToString(e.Code), Message: aws.ToString(e.Message)})
			failed = append(failed, deleteFailure{Key: aws.ToString(e.Key), Message: msg})
		}
		deleted += n - len(out.Errors)
		ids = ids[n:]
	}
	writeJSON(k.w, http.StatusOK, map[string]any{"deleted": deleted, "failed": failed})
	return nil
}

// share answers a presigned GET address of an object, valid for the
// chosen time (at most 7 days, as SigV4 allows), for the host the browser
// reached the console at.
func (c *Console) share(k *call) error {
	var req struct {
		Bucket, Key, VersionID string
		Seconds                int64
	}
	if err := json.NewDecoder(io.LimitReader(k.r.Body, 64<<10)).Decode(&req); err != nil {
		return badRequest("The request could not be read: %v.", err)
	}
	if err := checkName(req.Bucket, req.Key); err != nil {
		return err
	}
	if req.Seconds < 60 || req.Seconds > 7*24*3600 {
		return badRequest("A link lasts from one minute to seven days.")
	}
	endpoint := c.opt.Endpoint
	if c.opt.PublicEndpoint != nil {
		endpoint = c.opt.PublicEndpoint(k.r)
	}
	ps := s3.NewPresignClient(s3.New(s3.Options{Region: c.opt.Region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.se.accessKey, k.se.secretKey, "")}),
		s3.WithPresignExpires(time.Duration(req.Seconds)*time.Second))
	in := &s3.GetObjectInput{Bucket: &req.Bucket, Key: &req.Key}
	if req.VersionID != "" {
		in.VersionId = &req.VersionID
	}
	u, err := ps.PresignGetObject(k.r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(k.w, http.StatusOK, map[string]any{"url": u.URL, "expires": c.opt.Now().Add(time.Duration(req.Seconds) * time.Second)})
	return nil
}

// posixView describes the file behind an object from the gateway's
// X-Cairn-* headers.
func (c *Console) posixView(k *call, h http.Header) (owner, mode, acl string) {
	names := c.userNames(k)
	named := func(id string) string {
		if n, ok := names[id]; ok {
			return id + " (" + n + ")"
		}
		return id
	}
	if o := h.Get("X-Cairn-Owner"); o != "" {
		uid, gid, _ := strings.Cut(o, ":")
		owner = "uid " + named(uid) + ", gid " + gid
	}
	if m := h.Get("X-Cairn-Mode"); m != "" {
		if n, err := strconv.ParseUint(m, 8, 32); err == nil {
			mode = modeString(uint32(n)) + " (" + m + ")"
		}
	}
	acl = h.Get("X-Cairn-Acl")
	return owner, mode, acl
}

// modeString writes permission bits as ls -l does (rwxr-x--- with s, S,
// t and T for setuid, setgid and sticky).
func modeString(m uint32) string {
	b := []byte("rwxrwxrwx")
	for i := range 9 {
		if m&(1<<(8-i)) == 0 {
			b[i] = '-'
		}
	}
	special := func(bit uint32, at int, set, unset byte) {
		if m&bit != 0 {
			if b[at] == '-' {
				b[at] = unset
			} else {
				b[at] = set
			}
		}
	}
	special(0o4000, 2, 's', 'S')
	special(0o2000, 5, 's', 'S')
	special(0o1000, 8, 't', 'T')
	return string(b)
}

// userNames maps uids to user names for an administrator's session (just
// root for others), kept for a minute: the admin API's answers are sealed
// with a deliberately slow key derivation.
func (c *Console) userNames(k *call) map[string]string {
	se := k.se
	se.namesMu.Lock()
	names, at := se.names, se.namesAt
	se.namesMu.Unlock()
	if names != nil && c.opt.Now().Sub(at) < time.Minute {
		return names
	}
	names = map[string]string{"0": "root"}
	if se.admin {
		if users, err := c.adminClient(se).ListUsers(k.r.Context()); err == nil {
			for n, u := range users {
				names[strconv.FormatUint(uint64(u.UID), 10)] = n
			}
		}
	}
	se.namesMu.Lock()
	se.names, se.namesAt = names, c.opt.Now()
	se.namesMu.Unlock()
	return names
}
