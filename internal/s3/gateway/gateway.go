package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"cairn/internal/iam"
	"cairn/internal/iam/policy"
	"cairn/internal/posix"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
	"cairn/internal/s3/sigv4"
)

// Identity resolves access keys and authorizes requests (an
// *iam.Identities).
type Identity interface {
	// Lookup returns the principal of accessKey with its secret, or an
	// error (iam.ErrUnknownKey, iam.ErrExpired, iam.ErrDisabled).
	Lookup(ctx context.Context, accessKey string) (*iam.Principal, string, error)
	// Authorize decides request r of p (nil: anonymous) under the
	// bucket's policy (nil: none): which policies allowed it, or
	// iam.ErrAccessDenied.
	Authorize(ctx context.Context, p *iam.Principal, r *policy.Request, bucket *policy.Policy) (iam.Grant, error)
	// Failed and Succeeded count authentications for the lockout.
	Failed(accessKey, source string)
	Succeeded(accessKey string)
	// AssumeRole issues temporary credentials (the STS endpoint).
	AssumeRole(ctx context.Context, p *iam.Principal, d time.Duration, sessionPolicy []byte) (iam.SessionCredentials, error)
	// BucketPolicy is a bucket's compiled policy (nil: none), cached;
	// the others manage the documents (iam.ErrNoSuchBucketPolicy).
	BucketPolicy(ctx context.Context, bucket string) (*policy.Policy, error)
	PutBucketPolicy(ctx context.Context, bucket string, doc []byte) error
	GetBucketPolicy(ctx context.Context, bucket string) ([]byte, error)
	DeleteBucketPolicy(ctx context.Context, bucket string) error
	// UserName is the name of the user with uid (ok false: none).
	UserName(ctx context.Context, uid uint32) (name string, ok bool, err error)
}

// Options configure a Gateway.
type Options struct {
	Backend  Backend
	Identity Identity
	// Domain enables virtual-host-style requests: BUCKET.Domain.
	Domain string
	// Region is what GetBucketLocation answers (default us-east-1).
	Region string
	// ObjectOwnership is the object ownership a new bucket gets when its
	// CreateBucket names none ("": no setting, S3 ACLs honoured).
	ObjectOwnership string
	Version         string
	Logger          *slog.Logger
	// AccessLog receives one record per request; nil disables it.
	AccessLog *slog.Logger
	Metrics   *Metrics
	// MetricsPublic serves metrics to anyone; otherwise a scrape needs a
	// bearer token (`mc admin prometheus generate`) or a signed request of
	// a principal allowed admin:Prometheus.
	MetricsPublic bool
	// SandboxObjects serves every object (GET, HEAD) with a sandboxing
	// Content-Security-Policy and nosniff: set when a web console shares
	// the gateway's origin, so an uploaded HTML page runs in an opaque
	// origin of its own instead of the console's.
	SandboxObjects bool
	// BodyIdleTimeout cuts a request whose body sends nothing for this
	// long (default one minute) with RequestTimeout.
	BodyIdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header section (default 64 KiB):
	// a larger one is RequestHeaderSectionTooLarge, in S3's XML. (The
	// http.Server's own MaxHeaderBytes must be larger, or it answers
	// first, in plain text.)
	MaxHeaderBytes int
	// ClientRate and KeyRate limit the requests of one client address
	// and of one access key (zero: none); over it, SlowDown (503).
	ClientRate, KeyRate RateLimit
	// CORS are the rules for browsers' requests on buckets that have no
	// CORS configuration of their own (none: such requests get no CORS
	// headers).
	CORS []s3fs.CORSRule
	// Notify is the server's event delivery: the targets that bucket
	// configurations may name, and whether its volume-wide rules ask for
	// access events; nil: no targets.
	Notify Notify
	// Listen streams the events a listener wants until ctx ends
	// (notify.Listen on the volume's feed); nil: no event streams.
	Listen func(ctx context.Context, l notify.Listener, send func([]byte) error) error
	// Ready reports whether the volume answers, for the readiness probe.
	Ready func(ctx context.Context) error
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Gateway is the S3 API handler.
type Gateway struct {
	opt    Options
	log    *slog.Logger
	reqSeq atomic.Uint64
	prefix string

	clientRate, keyRate *limiter
	access              accessRules
}

// New returns a Gateway.
func New(opt Options) *Gateway {
	if opt.Region == "" {
		opt.Region = "us-east-1"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.BodyIdleTimeout == 0 {
		opt.BodyIdleTimeout = time.Minute
	}
	if opt.MaxHeaderBytes == 0 {
		opt.MaxHeaderBytes = 64 << 10
	}
	var b [4]byte
	rand.Read(b[:])
	return &Gateway{opt: opt, log: opt.Logger, prefix: strings.ToUpper(hex.EncodeToString(b[:])),
		clientRate: newLimiter(opt.ClientRate), keyRate: newLimiter(opt.KeyRate)}
}

// request is one S3 request being served.
type request struct {
	g         *Gateway
	r         *http.Request
	w         *recorder
	id        string
	op        string
	bucket    string
	key       string
	accessKey string
	principal *iam.Principal // nil: anonymous
	cred      posix.Cred
	sigVer    int  // 2 or 4 (s3:signatureversion)
	presigned bool // query-string authentication (s3:authType)
	// granted: the request runs with a credential a grant lent it (a
	// bucket policy's or an S3 ACL's), not its principal's own.
	granted bool
	// asPrefix, when set, is the s3:prefix condition key of a ListBucket
	// decided on behalf of an object request (see missingForLister).
	asPrefix *string
	body     *sigv4.Body
	length   int64 // decoded body length (-1 unknown)
	in       int64 // body bytes read
	ctx      context.Context
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.serviceRoute(r); h != nil {
		h(w, r)
		return
	}
	start := g.opt.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	q := &request{g: g, r: r, w: rec, id: g.requestID(), op: "Unknown", ctx: r.Context()}
	rec.Header().Set("x-amz-request-id", q.id)
	rec.Header().Set("x-amz-id-2", q.id)
	rec.Header().Set("Server", "cairn")
	if m := g.opt.Metrics; m != nil {
		m.inflight.Inc()
		defer m.inflight.Dec()
	}
	var bytesIn int64
	// The request's body is wrapped while it is served; net/http gets the
	// one it made back, which it then knows how to drop unread (a refused
	// upload's body is not read to its end).
	origBody := r.Body
	defer func() { r.Body = origBody }()
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("panic in S3 handler", "request_id", q.id, "op", q.op, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !rec.wrote {
				q.fail(s3err.New(s3err.InternalError))
			}
		}
		if q.body != nil {
			bytesIn = q.bodyRead()
		}
		g.finish(q, start, bytesIn)
	}()
	q.serve()
}

func (g *Gateway) requestID() string {
	return fmt.Sprintf("%s%08X", g.prefix, g.reqSeq.Add(1))
}

func (g *Gateway) health(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Content-Type", "application/json")
	body := map[string]string{"status": "ok", "version": g.opt.Version}
	if err != nil {
		body["status"], body["error"] = "unavailable", err.Error()
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	if r.Method != http.MethodHead {
		json.NewEncoder(w).Encode(body)
	}
}

// finish records metrics and the access log line of a request.
func (g *Gateway) finish(q *request, start time.Time, bytesIn int64) {
	d := g.opt.Now().Sub(start)
	if m := g.opt.Metrics; m != nil {
		m.observe(q.op, q.w.status, d, bytesIn, q.w.bytes)
	}
	if g.opt.AccessLog != nil {
		g.opt.AccessLog.LogAttrs(q.ctx, slog.LevelInfo, "s3 request",
			slog.String("request_id", q.id),
			slog.String("op", q.op),
			slog.String("method", q.r.Method),
			slog.String("bucket", q.bucket),
			slog.String("key", q.key),
			slog.Int("status", q.w.status),
			slog.Int64("bytes_in", bytesIn),
			slog.Int64("bytes_out", q.w.bytes),
			slog.Duration("duration", d),
			slog.String("remote", q.r.RemoteAddr),
			slog.String("access_key", q.accessKey),
			slog.String("user_agent", q.r.UserAgent()),
		)
	}
}

// recorder captures the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the ResponseWriter's own ReadFrom reachable: net/http
// sends a file given to it with sendfile.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	r.wrote = true
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(onlyWriter{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// fail writes err as the S3 error response. A client that went away
// mid-request is recorded with status 499 and logged at debug level:
// nothing is written, there is no one to read it.
func (q *request) fail(err error) {
	if !errors.Is(err, os.ErrDeadlineExceeded) && (q.r.Context().Err() != nil || errors.Is(err, io.ErrUnexpectedEOF)) {
		q.w.status = statusClientClosed
		if q.g.log.Enabled(q.ctx, slog.LevelDebug) {
			q.g.log.Debug("S3 client went away mid-request", "request_id", q.id, "op", q.op, "bucket", q.bucket, "key", q.key, "err", err)
		}
		return
	}
	e, known := toS3(err)
	if !known {
		q.g.log.Error("S3 request failed", "request_id", q.id, "op", q.op, "bucket", q.bucket, "key", q.key, "err", err)
	}
	e.RequestID = q.id
	if m := q.g.opt.Metrics; m != nil {
		m.errors.WithLabelValues(string(e.Code)).Inc()
	}
	if e.Resource == "" {
		e.Resource = q.r.URL.Path
	}
	switch e.Code {
	case s3err.NoSuchKey:
		e.With("Key", q.key)
	case s3err.NoSuchBucket, s3err.BucketNotEmpty, s3err.BucketAlreadyOwnedByYou, s3err.BucketAlreadyExists:
		e.With("BucketName", q.bucket)
	}
	if q.w.wrote {
		return // headers are gone; the client sees a short body
	}
	e.WriteXML(q.w, q.r.Method)
}

// serve authenticates, authorizes and dispatches: the operation's handler
// returns its answer, which respond writes. Nothing is written before
// then but the common headers, so a refused attempt can be dropped and
// the handler run again (lendByACL).
func (q *request) serve() {
	if headerSize(q.r) > q.g.opt.MaxHeaderBytes {
		q.fail(s3err.New(s3err.RequestHeaderSectionTooLarge))
		return
	}
	if !q.g.clientRate.allow(clientKey(q.r.RemoteAddr), time.Now()) {
		q.fail(errSlowDown)
		return
	}
	if err := q.parseTarget(); err != nil {
		q.fail(err)
		return
	}
	op := route(q.r.Method, levelOf(q.bucket, q.key), q.r.URL.Query(), q.r.Header)
	q.op = op.name
	if op.fn == nil {
		q.fail(s3err.Newf(s3err.NotImplemented, fmt.Sprintf("%s is not implemented by cairn yet.", op.name)))
		return
	}
	if op.public {
		q.respond(op.fn(q))
		return
	}
	q.corsHeaders()
	if op.formAuth {
		q.respond(op.fn(q))
		return
	}
	service := "s3"
	if op.name == "AssumeRole" {
		service = "sts"
	}
	if err := q.authenticate(service); err != nil {
		q.fail(err)
		return
	}
	if q.accessKey != "" && !q.g.keyRate.allow(q.accessKey, time.Now()) {
		q.fail(errSlowDown)
		return
	}
	if err := q.authorizeOp(op); err != nil {
		q.fail(err)
		return
	}
	if err := q.checkExpectedOwner(); err != nil {
		q.fail(err)
		return
	}
	q.attachOrigin()
	res, err := op.fn(q)
	if err != nil && q.lendByACL(op, err) {
		res.discard()
		res, err = op.fn(q) // once more, with what the object's ACL lends
	}
	if err != nil && op.acl == onObject(s3fs.PermRead) {
		if e, ok := toS3(err); ok && e.Code == s3err.AccessDenied {
			if missing := q.missingForLister(); missing != nil {
				err = missing
			}
		}
	}
	q.respond(res, err)
}

// attachOrigin gives the request's ctx its origin — the principal (its
// access key), the client's address, the request id and the S3
// operation — which the change feed records with every change the
// request makes, and event records show.
func (q *request) attachOrigin() {
	ip := q.r.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	principal := q.accessKey
	if principal == "" {
		principal = "anonymous"
	}
	q.ctx = s3fs.WithOrigin(q.ctx, s3fs.Origin{Principal: principal, SourceIP: ip, RequestID: q.id, Agent: "s3", Op: q.op})
}

// parseTarget finds the bucket and key, from the Host (virtual-host style,
// when a domain is set) or the path.
func (q *request) parseTarget() error {
	path := q.r.URL.Path
	if !strings.HasPrefix(path, "/") {
		return s3err.New(s3err.InvalidRequest)
	}
	if d := q.g.opt.Domain; d != "" {
		host := q.r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			q.bucket, q.key = b, path[1:]
			return nil
		}
	}
	rest := path[1:]
	q.bucket, q.key, _ = strings.Cut(rest, "/")
	if q.bucket == "" && q.key != "" {
		return s3err.Newf(s3err.InvalidURI, "The path has an empty bucket segment.") // "//bucket/key" is not ListBuckets
	}
	return nil
}

func (q *request) authenticate(service string) error {
	opt := sigv4.Options{Service: service, Region: q.g.opt.Region}
	if d := q.g.opt.Domain; d != "" && !strings.HasPrefix(q.r.URL.Path, "/"+q.bucket) {
		opt.Bucket = q.bucket
	}
	v, p, lookupErr, err := sigv4.VerifyAs(q.r, func(ak string) (*iam.Principal, string, error) {
		return q.g.opt.Identity.Lookup(q.ctx, ak)
	}, q.g.opt.Now(), opt)
	var se *s3err.Error
	switch {
	case errors.Is(lookupErr, iam.ErrLockedOut):
		q.g.log.Warn("S3 request with a locked-out access key", "request_id", q.id, "access_key", credentialKey(q.r), "source", q.r.RemoteAddr)
		return s3err.Newf(s3err.AccessDenied, "Too many failed authentications with this access key; try again later.")
	case errors.Is(lookupErr, iam.ErrExpired):
		return s3err.Newf(s3err.ExpiredToken, "The provided token has expired.")
	case errors.Is(lookupErr, iam.ErrDisabled):
		return s3err.Newf(s3err.AccessDenied, "The access key belongs to a disabled user.")
	case errors.As(err, &se) && (se.Code == s3err.SignatureDoesNotMatch || se.Code == s3err.InvalidAccessKeyID):
		if ak := credentialKey(q.r); ak != "" {
			q.g.opt.Identity.Failed(ak, q.r.RemoteAddr)
			q.g.log.Info("S3 authentication failed", "request_id", q.id, "access_key", ak, "source", q.r.RemoteAddr, "code", se.Code)
		}
		return err
	case err != nil:
		return err
	case v.Anonymous:
		// Only a bucket policy can allow it (the authorize step), and the
		// request then runs as the bucket's owner.
		q.body, q.length = v.Body, v.DecodedLength
		q.r.Body = &countReader{ReadCloser: v.Body, n: &q.in}
		q.cred = posix.Cred{UID: nobody, GID: nobody}
		return nil
	}
	if !p.CheckToken(securityToken(q.r)) {
		return s3err.Newf(s3err.InvalidToken, "The provided token is malformed or otherwise invalid.")
	}
	q.g.opt.Identity.Succeeded(v.AccessKey)
	q.accessKey, q.principal, q.cred, q.body, q.length = v.AccessKey, p, p.Cred, v.Body, v.DecodedLength
	q.sigVer, q.presigned = v.Version, v.Presigned
	q.r.Body = q.counted(v.Body)
	return nil
}

// statusClientClosed is the status metrics and the access log record for a
// request whose client disconnected (nginx's 499).
const statusClientClosed = 499

// nobody is the identity of an anonymous request until a bucket policy
// lets it run as the bucket's owner.
const nobody = 65534

// countReader counts the bytes read from a request body, and gives each
// read BodyIdleTimeout: a body that stalls longer is cut (its read fails
// with os.ErrDeadlineExceeded, answered RequestTimeout).
type countReader struct {
	io.ReadCloser
	n    *int64
	rc   *http.ResponseController
	idle time.Duration
}

func (q *request) counted(body io.ReadCloser) *countReader {
	return &countReader{ReadCloser: body, n: &q.in, rc: http.NewResponseController(q.w), idle: q.g.opt.BodyIdleTimeout}
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.idle > 0 {
		c.rc.SetReadDeadline(time.Now().Add(c.idle)) // fails only where there is no connection (tests)
	}
	n, err := c.ReadCloser.Read(p)
	*c.n += int64(n)
	return n, err
}

func (q *request) bodyRead() int64 { return q.in }

// readBody reads a request body of at most limit bytes (an XML
// document: a longer one is MalformedXML).
func (q *request) readBody(limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(q.r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, s3err.Newf(s3err.MalformedXML, "The XML body is too large.")
	}
	return b, nil
}

// readXML decodes a request body of at most limit bytes into v.
func (q *request) readXML(limit int64, v any) error {
	b, err := q.readBody(limit)
	if err != nil {
		return err
	}
	if err := xml.Unmarshal(b, v); err != nil {
		return s3err.New(s3err.MalformedXML)
	}
	return nil
}
