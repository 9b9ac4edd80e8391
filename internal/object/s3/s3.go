// Package s3 keeps a volume's blocks in a bucket of any S3-compatible
// service (AWS S3, MinIO, Ceph RGW, another cairn, ...), through minio-go.
//
// Each block is one object, written with one PUT (blocks are at most
// 16 MiB, under S3's 5 GiB single-PUT limit) and read with ranged GETs, so
// a partial read fetches only the bytes it needs. Connections are kept
// and reused; every request has a deadline (Config.Timeout for the
// answer's headers). Retries with backoff are WithRetry's: the volume
// wraps the store in it, and minio-go's own are off.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/object"
)

// Config locates a bucket.
type Config struct {
	// URL is http(s)://HOST[:PORT]/BUCKET[/PREFIX][?region=R&lookup=dns]:
	// objects go under PREFIX in BUCKET. lookup=dns addresses the bucket
	// as BUCKET.HOST (virtual-host style) instead of HOST/BUCKET.
	URL string
	// AccessKey and SecretKey sign requests; both empty: anonymous.
	AccessKey, SecretKey, SessionToken string
	// Timeout bounds each request's wait for an answer (default 60 s).
	Timeout time.Duration
}

// Store is an object.Store on one bucket.
type Store struct {
	core   *minio.Core
	bucket string
	prefix string // "" or ending in "/"
	name   string // for String: no secrets
}

var _ object.Store = (*Store)(nil)

// ParseURL splits a bucket URL into its parts.
func ParseURL(raw string) (endpoint string, secure bool, bucket, prefix, region string, dns bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, "", "", "", false, fmt.Errorf("bad bucket URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "http":
	case "https":
		secure = true
	default:
		return "", false, "", "", "", false, fmt.Errorf("bad bucket URL %q: want http(s)://HOST[:PORT]/BUCKET[/PREFIX]", raw)
	}
	if u.Host == "" {
		return "", false, "", "", "", false, fmt.Errorf("bad bucket URL %q: no host", raw)
	}
	path := strings.Trim(u.Path, "/")
	bucket, prefix, _ = strings.Cut(path, "/")
	if bucket == "" {
		return "", false, "", "", "", false, fmt.Errorf("bad bucket URL %q: no bucket (http(s)://HOST[:PORT]/BUCKET)", raw)
	}
	if prefix != "" {
		prefix += "/"
	}
	q := u.Query()
	region = q.Get("region")
	switch q.Get("lookup") {
	case "", "path":
	case "dns":
		dns = true
	default:
		return "", false, "", "", "", false, fmt.Errorf("bad bucket URL %q: lookup is path or dns", raw)
	}
	return u.Host, secure, bucket, prefix, region, dns, nil
}

// New opens the bucket cfg names and checks that it can be reached.
func New(ctx context.Context, cfg Config) (*Store, error) {
	endpoint, secure, bucket, prefix, region, dns, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		// Blocks are compressed or random already: no gzip round trip.
		DisableCompression: true,
	}
	lookup := minio.BucketLookupPath
	if dns {
		lookup = minio.BucketLookupDNS
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		creds = credentials.New(&credentials.Static{}) // anonymous
	}
	core, err := minio.NewCore(endpoint, &minio.Options{
		Creds: creds, Secure: secure, Region: region, BucketLookup: lookup, Transport: tr,
		// One try per call: WithRetry retries, so that a hung service
		// costs attempts × Timeout rather than that times minio-go's ten.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %v", cfg.URL, err)
	}
	s := &Store{core: core, bucket: bucket, prefix: prefix}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	s.name = fmt.Sprintf("s3 %s://%s/%s/%s", scheme, endpoint, bucket, prefix)
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	ok, err := core.BucketExists(cctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, describe(err))
	}
	if !ok {
		return nil, fmt.Errorf("%s: the bucket does not exist (create it first)", s.name)
	}
	return s, nil
}

// describe turns an S3 error answer into one line naming its code.
func describe(err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.Code != "" {
		return fmt.Errorf("%s: %s", er.Code, er.Message)
	}
	return err
}

// notFound reports whether err is an S3 "no such key" answer.
func notFound(err error) bool {
	er := minio.ToErrorResponse(err)
	return er.Code == "NoSuchKey" || er.Code == "NotFound" || er.StatusCode == http.StatusNotFound && er.Code != "NoSuchBucket"
}

func (s *Store) String() string { return s.name }

func (s *Store) wrap(op, key string, err error) error {
	if notFound(err) {
		return fmt.Errorf("%s %s: %w", op, key, object.ErrNotExist)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s: %s %s: %w", s.name, op, key, describe(err))
}

// Get implements object.Store with a ranged GET.
func (s *Store) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if length == 0 {
		if _, err := s.Head(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	opts := minio.GetObjectOptions{}
	switch {
	case length > 0:
		if err := opts.SetRange(off, off+length-1); err != nil {
			return nil, err
		}
	case off > 0:
		if err := opts.SetRange(off, 0); err != nil {
			return nil, err
		}
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, s.prefix+key, opts)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "InvalidRange" {
			// A range past the end: the object exists (else NoSuchKey)
			// and has nothing there.
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, s.wrap("get", key, err)
	}
	return rc, nil
}

// Put implements object.Store with one PUT of the whole body.
func (s *Store) Put(ctx context.Context, key string, body io.Reader) error {
	var b []byte
	if bb, ok := body.(*object.BytesBody); ok {
		b = bb.Bytes()
	} else {
		var err error
		if b, err = io.ReadAll(body); err != nil {
			return fmt.Errorf("%s: put %s: reading the body: %w", s.name, key, err)
		}
	}
	_, err := s.core.PutObject(ctx, s.bucket, s.prefix+key, bytes.NewReader(b), int64(len(b)), "", "",
		minio.PutObjectOptions{DisableMultipart: true, SendContentMd5: true})
	if err != nil {
		return s.wrap("put", key, err)
	}
	return nil
}

// Head implements object.Store.
func (s *Store) Head(ctx context.Context, key string) (object.Info, error) {
	oi, err := s.core.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return object.Info{}, s.wrap("head", key, err)
	}
	return object.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete implements object.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.core.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !notFound(err) {
		return s.wrap("delete", key, err)
	}
	return nil
}

// List implements object.Store with ListObjectsV2.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) ([]object.Info, bool, error) {
	if limit <= 0 {
		limit = 1000
	}
	after := ""
	if startAfter != "" {
		after = s.prefix + startAfter
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing once limit+1 objects are in
	var objs []object.Info
	for c := range s.core.Client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{
		Prefix: s.prefix + prefix, StartAfter: after, Recursive: true, MaxKeys: min(limit+1, 1000),
	}) {
		if c.Err != nil {
			return nil, false, s.wrap("list", prefix, c.Err)
		}
		if len(objs) == limit {
			return objs, true, nil
		}
		objs = append(objs, object.Info{Key: strings.TrimPrefix(c.Key, s.prefix), Size: c.Size, ModTime: c.LastModified})
	}
	return objs, false, ctx.Err()
}
