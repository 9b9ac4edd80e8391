package gateway

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"cairn/internal/iam/policy"
	"cairn/internal/posix"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

var checksumAlgs = []string{s3fs.AlgCRC32, s3fs.AlgCRC32C, s3fs.AlgCRC64NVME, s3fs.AlgSHA1, s3fs.AlgSHA256}

// standardHeaders are stored with an object and returned by GET/HEAD.
var standardHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// maxUserMeta is AWS's bound on an object's user metadata: the names
// (without x-amz-meta-) and values of its x-amz-meta-* headers, in bytes.
const maxUserMeta = 2 << 10

// putOptions reads the headers of a PUT, UploadPart or
// CreateMultipartUpload.
func (q *request) putOptions() (s3fs.PutOptions, error) {
	h := q.r.Header
	if err := q.refusePublicACL(); err != nil {
		return s3fs.PutOptions{}, err
	}
	opt := s3fs.PutOptions{Size: q.length, ContentType: h.Get("Content-Type"), IfMatch: h.Get("If-Match"), IfNoneMatch: h.Get("If-None-Match")}
	if s := h.Get("Content-Md5"); s != "" {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != 16 {
			return opt, s3err.New(s3err.InvalidDigest)
		}
		opt.ContentMD5 = b
	}
	metaSize := 0
	for name, vals := range h {
		if m, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-"); ok && m != "" {
			if opt.UserMeta == nil {
				opt.UserMeta = map[string]string{}
			}
			opt.UserMeta[m] = strings.Join(vals, ",")
			metaSize += len(m) + len(opt.UserMeta[m])
		}
	}
	if metaSize > maxUserMeta {
		return opt, s3err.New(s3err.MetadataTooLarge)
	}
	for _, n := range standardHeaders {
		v := h.Get(n)
		if n == "Content-Encoding" {
			v = stripAWSChunked(v)
		}
		if v != "" {
			if opt.Headers == nil {
				opt.Headers = map[string]string{}
			}
			opt.Headers[n] = v
		}
	}
	tags, err := headerTags(h)
	if err != nil {
		return opt, err
	}
	opt.Tags = tags
	if err := lockHeaders(h, &opt); err != nil {
		return opt, err
	}
	for _, alg := range checksumAlgs {
		if v := h.Get("X-Amz-Checksum-" + alg); v != "" {
			opt.Expect.Set(alg, v)
		}
	}
	if t := strings.ToUpper(h.Get("X-Amz-Checksum-Type")); t != "" {
		if t != "COMPOSITE" && t != "FULL_OBJECT" {
			return opt, s3err.Newf(s3err.InvalidRequest, "Value for x-amz-checksum-type header is invalid.")
		}
		opt.ChecksumType = t
	}
	for _, hn := range []string{"X-Amz-Checksum-Algorithm", "X-Amz-Sdk-Checksum-Algorithm"} {
		if alg := strings.ToUpper(h.Get(hn)); alg != "" {
			if !s3fs.ValidAlgorithm(alg) {
				return opt, s3err.Newf(s3err.InvalidRequest, "Value for x-amz-checksum-algorithm header is invalid.")
			}
			opt.Compute = append(opt.Compute, alg)
		}
	}
	if tr := h.Get("X-Amz-Trailer"); tr != "" && q.body != nil {
		body := q.body
		for _, name := range strings.Split(tr, ",") {
			alg := strings.ToUpper(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "x-amz-checksum-"))
			if !s3fs.ValidAlgorithm(alg) {
				return opt, s3err.Newf(s3err.InvalidRequest, "The value specified in the x-amz-trailer header is not supported")
			}
			opt.Compute = append(opt.Compute, alg)
		}
		opt.Trailer = func() s3fs.Checksums {
			var c s3fs.Checksums
			for name, v := range body.Trailers() {
				if alg, ok := strings.CutPrefix(name, "x-amz-checksum-"); ok {
					c.Set(strings.ToUpper(alg), v)
				}
			}
			return c
		}
	}
	return opt, nil
}

func stripAWSChunked(v string) string {
	parts := strings.Split(v, ",")
	kept := parts[:0]
	for _, p := range parts {
		if t := strings.TrimSpace(p); t != "" && !strings.EqualFold(t, "aws-chunked") {
			kept = append(kept, p)
		}
	}
	if len(kept) == len(parts) {
		return v // as the client wrote it
	}
	for i := range kept {
		kept[i] = strings.TrimSpace(kept[i])
	}
	return strings.Join(kept, ", ")
}

func (q *request) needLength() error {
	if q.length < 0 {
		return s3err.New(s3err.MissingContentLength)
	}
	if q.length > s3fs.MaxPutSize {
		return s3err.New(s3err.EntityTooLarge)
	}
	return nil
}

func (q *request) putObject() (*response, error) {
	if err := q.needLength(); err != nil {
		return nil, err
	}
	opt, err := q.putOptions()
	if err == nil {
		opt.ACL, err = q.newObjectACL()
	}
	if err != nil {
		return nil, err
	}
	oi, err := q.g.opt.Backend.PutObject(q.ctx, q.cred, q.bucket, q.key, q.r.Body, opt)
	if err != nil {
		return nil, err
	}
	res := empty(http.StatusOK)
	h := res.hdr()
	lockResponseHeaders(h, oi)
	q.expirationHeader(h, oi)
	h.Set("ETag", oi.ETag)
	setChecksumHeaders(h, oi.Checksums)
	setNewVersionHeader(h, oi.VersionID)
	return res, nil
}

// versionID is the request's versionId parameter.
func (q *request) versionID() string { return q.r.URL.Query().Get("versionId") }

// setVersionHeader sets x-amz-version-id for a version id ("" means no
// versioning: no header).
func setVersionHeader(h http.Header, vid string) {
	if vid != "" {
		h.Set("x-amz-version-id", vid)
	}
}

// deleteMarker is the answer that goes with err, a read's error: the
// headers of a request that met a delete marker, when err says it did
// (nil otherwise).
func deleteMarker(err error) *response {
	var dm *s3fs.DeleteMarkerError
	res := &response{}
	switch {
	case errors.As(err, &dm):
		res.hdr().Set("x-amz-delete-marker", "true")
		setVersionHeader(res.hdr(), dm.VersionID)
	case errors.Is(err, s3fs.ErrNoSuchKey):
		res.hdr().Set("x-amz-delete-marker", "false")
	default:
		return nil
	}
	return res
}

// setNewVersionHeader is setVersionHeader for a version a request
// created: S3 names only real versions there, not "null".
func setNewVersionHeader(h http.Header, vid string) {
	if vid != s3fs.NullVersion {
		setVersionHeader(h, vid)
	}
}

func setChecksumHeaders(h http.Header, c s3fs.Checksums) {
	for _, alg := range checksumAlgs {
		if v := c.Get(alg); v != "" {
			h.Set("x-amz-checksum-"+strings.ToLower(alg), v)
		}
	}
	if c.Type != "" && (c.CRC32 != "" || c.CRC32C != "" || c.CRC64NVME != "" || c.SHA1 != "" || c.SHA256 != "") {
		h.Set("x-amz-checksum-type", c.Type)
	}
}

// parseRange reads a Range header: "bytes=A-B", "bytes=A-", "bytes=-N".
// Anything else (several ranges, other units, bad syntax) is ignored, as
// S3 does: the whole object is returned.
func parseRange(s string) *s3fs.Range {
	spec, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return nil
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return nil
		}
		return &s3fs.Range{Start: -n, Suffix: true}
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return nil
	}
	if b == "" {
		return &s3fs.Range{Start: start, Open: true}
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil || end < start {
		return nil
	}
	return &s3fs.Range{Start: start, End: end}
}

func parseHTTPTime(s string) time.Time {
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (q *request) getOptions() (s3fs.GetOptions, error) {
	h := q.r.Header
	opt := s3fs.GetOptions{
		Range:             parseRange(h.Get("Range")),
		IfMatch:           h.Get("If-Match"),
		IfNoneMatch:       h.Get("If-None-Match"),
		IfModifiedSince:   parseHTTPTime(h.Get("If-Modified-Since")),
		IfUnmodifiedSince: parseHTTPTime(h.Get("If-Unmodified-Since")),
	}
	if s := q.r.URL.Query().Get("partNumber"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > s3fs.MaxParts {
			return opt, s3err.Newf(s3err.InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
		}
		if opt.Range != nil {
			return opt, s3err.Newf(s3err.InvalidRequest, "Cannot specify both Range header and partNumber query parameter")
		}
		opt.PartNumber = n
	}
	opt.VersionID = q.versionID()
	return opt, nil
}

// objectHeaders sets the metadata headers of GET and HEAD in h.
func (q *request) objectHeaders(h http.Header, oi s3fs.ObjectInfo, whole bool) {
	h.Set("ETag", oi.ETag)
	h.Set("Last-Modified", oi.ModTime.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	ct := oi.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	setTagCount(h, oi.TagCount)
	setVersionHeader(h, oi.VersionID)
	// The file behind the object, as a mount's stat and getfacl see it.
	h.Set("X-Cairn-Owner", strconv.FormatUint(uint64(oi.OwnerUID), 10)+":"+strconv.FormatUint(uint64(oi.OwnerGID), 10))
	h.Set("X-Cairn-Mode", fmt.Sprintf("%04o", oi.Mode))
	if oi.POSIXACL != "" {
		h.Set("X-Cairn-Acl", oi.POSIXACL)
	}
	lockResponseHeaders(h, oi)
	q.expirationHeader(h, oi)
	for k, v := range oi.Headers {
		h.Set(k, v)
	}
	for k, v := range oi.UserMeta {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	if oi.PartsCount > 0 && q.r.URL.Query().Has("partNumber") {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(oi.PartsCount))
	}
	if whole && strings.EqualFold(q.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		setChecksumHeaders(h, oi.Checksums)
	}
	v := q.r.URL.Query()
	for _, o := range [][2]string{
		{"response-content-type", "Content-Type"}, {"response-content-language", "Content-Language"},
		{"response-expires", "Expires"}, {"response-cache-control", "Cache-Control"},
		{"response-content-disposition", "Content-Disposition"}, {"response-content-encoding", "Content-Encoding"},
	} {
		if s := v.Get(o[0]); s != "" {
			h.Set(o[1], s)
		}
	}
	if q.g.opt.SandboxObjects {
		// Scripts may run, but in an origin of their own: no cookies or
		// same-origin requests of the console beside it.
		h.Set("Content-Security-Policy", "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads")
		h.Set("X-Content-Type-Options", "nosniff")
	}
}

// getObject answers the object's body as a stream, whole (200) or the
// range or part asked for (206, with its Content-Range).
func (q *request) getObject() (*response, error) {
	opt, err := q.getOptions()
	if err != nil {
		return nil, err
	}
	obj, err := q.g.opt.Backend.GetObject(q.ctx, q.cred, q.bucket, q.key, opt)
	if errors.Is(err, s3fs.ErrNotModified) {
		return notModified(err), nil
	}
	if err != nil {
		return deleteMarker(err), err
	}
	res := &response{status: http.StatusOK, stream: obj.Body, n: obj.Length}
	h := res.hdr()
	partial := opt.Range != nil || opt.PartNumber > 0
	q.objectHeaders(h, obj.Info, !partial)
	h.Set("Content-Length", strconv.FormatInt(obj.Length, 10))
	if partial && (opt.Range != nil || obj.Info.PartsCount > 0) {
		res.status = http.StatusPartialContent
		end := obj.Offset + obj.Length - 1
		if obj.Length == 0 {
			end = obj.Offset
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", obj.Offset, end, obj.Info.Size))
	}
	q.recordAccess("ObjectAccessed:Get", obj.Info)
	return res, nil
}

// headObject answers GET's headers, with the Content-Length of the
// body GET would send, and no body.
func (q *request) headObject() (*response, error) {
	opt, err := q.getOptions()
	if err != nil {
		return nil, err
	}
	if opt.Range != nil || opt.PartNumber > 0 {
		// HEAD with a range answers like GET without the body.
		obj, err := q.g.opt.Backend.GetObject(q.ctx, q.cred, q.bucket, q.key, opt)
		if err != nil {
			return deleteMarker(err), err
		}
		obj.Body.Close()
		res := empty(http.StatusPartialContent)
		h := res.hdr()
		q.objectHeaders(h, obj.Info, false)
		h.Set("Content-Length", strconv.FormatInt(obj.Length, 10))
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", obj.Offset, obj.Offset+max(obj.Length, 1)-1, obj.Info.Size))
		q.recordAccess("ObjectAccessed:Head", obj.Info)
		return res, nil
	}
	oi, err := q.g.opt.Backend.HeadObject(q.ctx, q.cred, q.bucket, q.key, opt)
	if errors.Is(err, s3fs.ErrNotModified) {
		return notModified(err), nil
	}
	if err != nil {
		return deleteMarker(err), err
	}
	res := empty(http.StatusOK)
	q.objectHeaders(res.hdr(), oi, true)
	res.hdr().Set("Content-Length", strconv.FormatInt(oi.Size, 10))
	q.recordAccess("ObjectAccessed:Head", oi)
	return res, nil
}

// notModified answers 304 with the headers RFC 9110 keeps on it: the
// ETag and Last-Modified of the object.
func notModified(err error) *response {
	res := empty(http.StatusNotModified)
	var nm *s3fs.NotModifiedError
	if errors.As(err, &nm) {
		h := res.hdr()
		h.Set("ETag", nm.ETag)
		h.Set("Last-Modified", nm.ModTime.UTC().Format(http.TimeFormat))
	}
	return res
}

func (q *request) deleteObject() (*response, error) {
	d, err := q.g.opt.Backend.DeleteObjectVersion(q.ctx, q.cred, q.bucket, q.key, q.versionID(), q.bypassGovernance())
	if err != nil && !errors.Is(err, s3fs.ErrNoSuchKey) {
		return nil, err
	}
	res := empty(http.StatusNoContent)
	if d.DeleteMarker {
		res.hdr().Set("x-amz-delete-marker", "true")
	}
	setVersionHeader(res.hdr(), d.VersionID)
	return res, nil
}

func (q *request) deleteObjects() (*response, error) {
	// The body's Content-MD5 or x-amz-checksum-* is checked before any
	// key goes: a damaged list must delete nothing.
	digests, err := q.putOptions()
	if err != nil {
		return nil, err
	}
	body, err := q.readBody(2 << 20)
	if err != nil {
		return nil, err
	}
	if err := s3fs.VerifyBody(body, digests); err != nil {
		return nil, err
	}
	var req deleteRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		return nil, s3err.New(s3err.MalformedXML)
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return nil, s3err.New(s3err.MalformedXML)
	}
	if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	res := deleteResult{NS: s3NS}
	versioned := false
	for _, o := range req.Objects {
		versioned = versioned || o.VersionID != ""
	}
	if !versioned {
		status, err := q.g.opt.Backend.Versioning(q.ctx, q.bucket)
		if err != nil {
			return nil, err
		}
		versioned = status != ""
	}
	// Each key is authorized on its own (s3:DeleteObject, or
	// s3:DeleteObjectVersion for a version), as AWS does: the keys refused
	// get AccessDenied and the others go.
	// A bucket ACL granting WRITE allows the keys no policy does, and the
	// batch then runs as the bucket's owner.
	denied := make([]error, len(req.Objects))
	keys := make([]string, 0, len(req.Objects))
	var aclCred *posix.Cred
	for i, o := range req.Objects {
		action := "s3:DeleteObject"
		if o.VersionID != "" {
			action = "s3:DeleteObjectVersion"
		}
		denied[i] = q.authorize(action, policy.ObjectARN(q.bucket, o.Key))
		if denied[i] != nil && errors.As(denied[i], new(notAllowed)) && !q.granted {
			if aclCred == nil {
				aclCred = q.aclGrant(q.bucket, "", "", onBucket(s3fs.PermWrite), false)
			}
			if aclCred != nil {
				denied[i] = nil
			}
		}
		if denied[i] == nil {
			keys = append(keys, o.Key)
		}
	}
	if aclCred != nil {
		q.cred, q.granted = *aclCred, true
	}
	if q.principal == nil && len(keys) == 0 {
		return nil, s3err.New(s3err.AccessDenied) // an anonymous caller no bucket policy lets delete
	}
	var errs []error
	var done []s3fs.DeleteResult
	if versioned {
		// With versions, each key is its own delete (a marker to add or a
		// version to remove).
		bypass := q.bypassGovernance()
		for i, o := range req.Objects {
			if denied[i] != nil {
				continue
			}
			r, err := q.g.opt.Backend.DeleteObjectVersion(q.ctx, q.cred, q.bucket, o.Key, o.VersionID, bypass)
			errs, done = append(errs, err), append(done, r)
		}
	} else {
		errs = q.g.opt.Backend.DeleteObjects(q.ctx, q.cred, q.bucket, keys)
		done = make([]s3fs.DeleteResult, len(errs))
	}
	next := 0
	for i, o := range req.Objects {
		err := denied[i]
		var d s3fs.DeleteResult
		if err == nil {
			err, d, next = errs[next], done[next], next+1
		}
		if err != nil && !errors.Is(err, s3fs.ErrNoSuchKey) && !errors.Is(err, s3fs.ErrInvalidKey) {
			e, _ := toS3(err)
			res.Errors = append(res.Errors, deleteErrorElem{Key: o.Key, VersionID: o.VersionID, Code: string(e.Code), Message: e.Message})
			continue
		}
		if !req.Quiet {
			de := deletedElem{Key: o.Key, VersionID: o.VersionID, DeleteMarker: d.DeleteMarker}
			if d.DeleteMarker && o.VersionID == "" {
				de.DeleteMarkerVersionID = d.VersionID
			}
			res.Deleted = append(res.Deleted, de)
		}
	}
	return xmlResponse(res), nil
}

// copySourceVersion is the versionId of x-amz-copy-source, if any.
func (q *request) copySourceVersion() string {
	_, query, _ := strings.Cut(q.r.Header.Get("X-Amz-Copy-Source"), "?")
	v, _ := url.ParseQuery(query)
	return v.Get("versionId")
}

// copySource parses x-amz-copy-source: "[/]bucket/key[?versionId=...]",
// URL-encoded.
func (q *request) copySource() (string, string, *posix.Cred, error) {
	src := q.r.Header.Get("X-Amz-Copy-Source")
	path, _, _ := strings.Cut(src, "?")
	if id := q.copySourceVersion(); id != "" && !s3fs.ValidVersionID(id) {
		return "", "", nil, s3err.Newf(s3err.InvalidArgument, "Invalid version id specified")
	}
	p, err := url.PathUnescape(path)
	if err != nil {
		return "", "", nil, s3err.Newf(s3err.InvalidArgument, "Invalid copy source encoding")
	}
	b, k, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok || b == "" || k == "" {
		return "", "", nil, s3err.Newf(s3err.InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	// Reading the source is the caller's to be allowed, as writing the
	// destination was (the authorize step); what the source bucket's
	// policy grants is read as that bucket's owner.
	action := "s3:GetObject"
	if q.copySourceVersion() != "" {
		action = "s3:GetObjectVersion"
	}
	byBucket, err := q.decide(action, policy.ObjectARN(b, k))
	if err != nil && !errors.As(err, new(notAllowed)) {
		return b, k, nil, err
	}
	if err != nil || !byBucket {
		// The source object's ACL may grant the read.
		if c := q.aclGrant(b, k, q.copySourceVersion(), onObject(s3fs.PermRead), err == nil); c != nil {
			return b, k, c, nil
		}
		return b, k, nil, err
	}
	uid, gid, err := q.g.opt.Backend.BucketOwner(q.ctx, b)
	if err != nil {
		return "", "", nil, err
	}
	return b, k, &posix.Cred{UID: uid, GID: gid}, nil
}

func (q *request) copyConditions() s3fs.GetOptions {
	h := q.r.Header
	return s3fs.GetOptions{
		IfMatch:           h.Get("X-Amz-Copy-Source-If-Match"),
		IfNoneMatch:       h.Get("X-Amz-Copy-Source-If-None-Match"),
		IfModifiedSince:   parseHTTPTime(h.Get("X-Amz-Copy-Source-If-Modified-Since")),
		IfUnmodifiedSince: parseHTTPTime(h.Get("X-Amz-Copy-Source-If-Unmodified-Since")),
	}
}

func (q *request) copyObject() (*response, error) {
	sb, sk, srcCred, err := q.copySource()
	if err != nil {
		return nil, err
	}
	dir := strings.ToUpper(q.r.Header.Get("X-Amz-Metadata-Directive"))
	if dir != "" && dir != "COPY" && dir != "REPLACE" {
		return nil, s3err.Newf(s3err.InvalidArgument, "Unknown metadata directive.")
	}
	tdir := strings.ToUpper(q.r.Header.Get("X-Amz-Tagging-Directive"))
	if tdir != "" && tdir != "COPY" && tdir != "REPLACE" {
		return nil, s3err.Newf(s3err.InvalidArgument, "Unknown tagging directive.")
	}
	put, err := q.putOptions()
	if err == nil {
		put.ACL, err = q.newObjectACL()
	}
	if err != nil {
		return nil, err
	}
	put.Size = -1
	opt := s3fs.CopyOptions{ReplaceMetadata: dir == "REPLACE", ReplaceTags: tdir == "REPLACE", Put: put, Source: q.copyConditions(), SourceCred: srcCred,
		SourceVersionID: q.copySourceVersion()}
	oi, err := q.g.opt.Backend.CopyObject(q.ctx, q.cred, sb, sk, q.bucket, q.key, opt)
	if errors.Is(err, s3fs.ErrNotModified) {
		err = s3fs.ErrPreconditionFailed // copy conditions fail with 412
	}
	if err != nil {
		return nil, err
	}
	res := xmlResponse(copyObjectResult{NS: s3NS, LastModified: isoTime(oi.ModTime), ETag: oi.ETag})
	if v := opt.SourceVersionID; v != "" {
		res.hdr().Set("x-amz-copy-source-version-id", v)
	}
	setNewVersionHeader(res.hdr(), oi.VersionID)
	return res, nil
}
