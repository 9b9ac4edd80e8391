package gateway

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cairn/internal/s3/notify"
	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// Bucket notifications: the configuration's operations, and the access
// events a GET or HEAD records for the buckets whose rules ask for them
// (other events are recorded by the changes themselves, in s3fs).

func (q *request) getBucketNotification() (*response, error) {
	if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
		return nil, err
	}
	raw, err := q.g.opt.Backend.BucketNotification(q.ctx, q.bucket)
	if err != nil {
		return nil, err
	}
	var cfg notify.Config
	if raw != nil {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
	}
	b, err := cfg.XML()
	if err != nil {
		return nil, err
	}
	return rawResponse("application/xml", append([]byte(xml.Header), b...)), nil
}

func (q *request) putBucketNotification() (*response, error) {
	body, err := q.readBody(1 << 20)
	if err != nil {
		return nil, err
	}
	cfg, err := notify.ParseXML(body, q.g.knownTarget)
	var ce *notify.ConfigError
	switch {
	case errors.Is(err, notify.ErrMalformed):
		return nil, s3err.New(s3err.MalformedXML)
	case errors.As(err, &ce):
		e := s3err.Newf(s3err.InvalidArgument, ce.Msg)
		if ce.Name != "" {
			e.With("ArgumentName", ce.Name).With("ArgumentValue", ce.Value)
		}
		return nil, e
	case err != nil:
		return nil, err
	}
	var raw []byte
	if len(cfg.Rules) > 0 {
		if raw, err = json.Marshal(cfg); err != nil {
			return nil, err
		}
	}
	if err := q.g.opt.Backend.PutBucketNotification(q.ctx, q.cred, q.bucket, raw); err != nil {
		return nil, err
	}
	q.g.access.forget(q.bucket)
	return empty(http.StatusOK), nil
}

// listen streams the events of the bucket (or, at the service level, of
// every bucket) as they happen, one JSON document per line: MinIO's
// ListenBucketNotification.
func (q *request) listen() (*response, error) {
	if q.g.opt.Listen == nil {
		return nil, s3err.Newf(s3err.NotImplemented, "This gateway serves no event streams.")
	}
	v := q.r.URL.Query()
	l := notify.Listener{Bucket: q.bucket, Prefix: v.Get("prefix"), Suffix: v.Get("suffix")}
	if n, err := strconv.Atoi(v.Get("ping")); err == nil && n > 0 {
		l.Ping = time.Duration(n) * time.Second
	}
	for _, e := range v["events"] {
		if e != "" {
			l.Events = append(l.Events, e)
		}
	}
	if err := l.Validate(); err != nil {
		return nil, s3err.Newf(s3err.InvalidArgument, err.(*notify.ConfigError).Msg)
	}
	if q.bucket == "" && !q.cred.IsRoot() {
		// Every bucket's keys, whatever their files' permissions say: the
		// root user's alone (policies may allow s3:ListenNotification to
		// users who could not read most of them).
		return nil, s3err.Newf(s3err.AccessDenied, "Only the root user may listen to the events of every bucket; listen to a bucket.")
	}
	if q.bucket != "" {
		if _, err := q.g.opt.Backend.HeadBucket(q.ctx, q.cred, q.bucket); err != nil {
			return nil, err
		}
	}
	reads := l.WantsAccess()
	res := &response{live: func(send func([]byte) error) error {
		if reads {
			// Reads record events while someone listens for them.
			q.g.access.listen(q.bucket, 1)
			defer q.g.access.listen(q.bucket, -1)
		}
		return q.g.opt.Listen(q.r.Context(), l, send)
	}}
	res.hdr().Set("Content-Type", "application/json")
	return res, nil
}

// Notify is the server's event delivery as the gateway sees it. Targets
// may come and go while the server runs.
type Notify interface {
	// ARNs are the targets' ARNs (arn:minio:sqs::ID:type).
	ARNs() []string
	// WantsAccess reports whether the volume-wide rules ask for
	// ObjectAccessed events (of every bucket).
	WantsAccess() bool
}

// knownTarget reports whether arn names a target of this gateway (by its
// ID and type: the region part is free).
func (g *Gateway) knownTarget(arn string) bool {
	a, err := notify.ParseARN(arn)
	if err != nil || g.opt.Notify == nil {
		return false
	}
	for _, t := range g.opt.Notify.ARNs() {
		if b, err := notify.ParseARN(t); err == nil && a.ID == b.ID && a.Type == b.Type {
			return true
		}
	}
	return false
}

// recordAccess records an ObjectAccessed event of a read that succeeded,
// when the bucket's rules ask for such events (reads cost nothing
// otherwise). A failure to record is logged: the read has happened.
func (q *request) recordAccess(ev string, oi s3fs.ObjectInfo) {
	if !q.g.access.listened(q.bucket) {
		n := q.g.opt.Notify
		if n == nil || len(n.ARNs()) == 0 {
			return
		}
		if !n.WantsAccess() {
			raw, err := q.g.opt.Backend.BucketNotification(q.ctx, q.bucket)
			if err != nil || raw == nil || !q.g.access.wants(q.bucket, raw) {
				return
			}
		}
	}
	if err := q.g.opt.Backend.RecordEvent(q.ctx, ev, q.bucket, q.key, oi); err != nil {
		q.g.log.Warn("recording an access event failed", "request_id", q.id, "bucket", q.bucket, "key", q.key, "err", err)
	}
}

// accessRules remembers, per bucket, whether its configuration (as last
// seen) asks for ObjectAccessed events, and counts the live listeners of
// this gateway that want them (by bucket; "" for every bucket).
type accessRules struct {
	mu        sync.Mutex
	m         map[string]accessEntry
	listeners map[string]int
	anyone    atomic.Int32 // listeners, of any bucket: reads skip the lock when 0
}

func (a *accessRules) listen(bucket string, delta int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.listeners == nil {
		a.listeners = map[string]int{}
	}
	a.listeners[bucket] += delta
	if a.listeners[bucket] == 0 {
		delete(a.listeners, bucket)
	}
	a.anyone.Add(int32(delta))
}

// listened reports whether a live listener wants bucket's reads.
func (a *accessRules) listened(bucket string) bool {
	if a.anyone.Load() == 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.listeners[bucket] > 0 || a.listeners[""] > 0
}

type accessEntry struct {
	raw   string
	wants bool
}

func (a *accessRules) wants(bucket string, raw []byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.m[bucket]; ok && e.raw == string(raw) {
		return e.wants
	}
	var cfg notify.Config
	wants := json.Unmarshal(raw, &cfg) == nil && cfg.Wants("ObjectAccessed:")
	if a.m == nil || len(a.m) > 10000 {
		a.m = map[string]accessEntry{}
	}
	a.m[bucket] = accessEntry{raw: string(raw), wants: wants}
	return wants
}

func (a *accessRules) forget(bucket string) {
	a.mu.Lock()
	delete(a.m, bucket)
	a.mu.Unlock()
}
