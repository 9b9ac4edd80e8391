package gateway_test

// Benchmarks of the gateway's hot paths: small PUT, GET, HEAD, a
// ListObjectsV2 page, DELETE and DeleteObjects, each request served by the
// real gateway handler (real SigV4 verification, metrics on) over SQLite
// metadata in a temporary directory (default, durable options). There is no
// network and no SDK: requests are built and signed before the timer runs
// and handed to ServeHTTP with an httptest.ResponseRecorder, so ns/op,
// B/op and allocs/op are the server's (plus a few allocations per request
// for the *http.Request, its header and the recorder, which net/http would
// also make). Compare a change with benchstat:
//
//	go test -run XXX -bench Hot -benchmem -count 6 ./internal/s3/gateway > old.txt
//	# apply the change
//	go test -run XXX -bench Hot -benchmem -count 6 ./internal/s3/gateway > new.txt
//	benchstat old.txt new.txt
//
// Requests are signed with the wall clock when they are built, so one run
// of a benchmark (one b.N) must finish within sigv4.MaxSkew (15 minutes).

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cairn/internal/chunk"
	"cairn/internal/iam"
	"cairn/internal/meta"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/object/mem"
	"cairn/internal/posix"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
	"cairn/internal/s3/sigv4"
	"cairn/internal/vfs"
)

const (
	hotBucket   = "hot"
	hotRegion   = "us-east-1"
	hotHost     = "cairn.test:9000"
	hotObjSize  = 4 << 10
	hotListKeys = 2000 // keys under the listed prefix
	hotListPage = 1000 // max-keys of a listing page
	hotBatch    = 100  // keys per DeleteObjects request
)

// hotEnv is a gateway over SQLite metadata with one bucket, hotBucket.
type hotEnv struct {
	handler    http.Handler
	fs         *s3fs.FS // the backend, for setup
	accessKey  string
	secret     string
	objectBody []byte // hotObjSize bytes
	bodySHA256 string // hex SHA-256 of objectBody
}

// hotGateway builds the gateway as newHarnessOn does (same options, ACLs
// on, metrics on), but on SQLite metadata in b.TempDir() and without a
// listener: the handler is called directly.
func hotGateway(b *testing.B) *hotEnv { return hotGatewayAs(b, false) }

// hotGatewayAs is hotGateway with, when asUser, the volume's identities in
// its store and the requests signed by a user with three attached policies
// and a group's (one with a condition, one with a variable), who owns the
// bucket: what authorization costs over the root user, whom it skips.
func hotGatewayAs(b *testing.B, asUser bool) *hotEnv {
	b.Helper()
	ctx := context.Background()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(b.TempDir(), "meta.db"), sqlkv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "hot", Storage: "mem", EnableACL: true}); err != nil {
		store.Close()
		b.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		store.Close()
		b.Fatal(err)
	}
	c := chunk.New(mem.New(), chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	b.Cleanup(func() {
		v.Close()
		c.Close()
		m.Close()
		store.Close()
	})
	fs := s3fs.New(v, s3fs.Options{})
	var ids gateway.Identity = iam.NewIdentities(iam.Credentials{AccessKey: testAK, SecretKey: testSecret})
	ak, sk, owner := testAK, testSecret, posix.Root
	if asUser {
		var key iam.MasterKey
		full, err := iam.Open(ctx, store, key, iam.Credentials{AccessKey: testAK, SecretKey: testSecret}, iam.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { full.Close() })
		ak, sk = "benchuser", "benchuser-secret"
		must := func(err error) {
			if err != nil {
				b.Fatal(err)
			}
		}
		must(full.CreateUser(ctx, ak, sk, iam.UserOptions{}))
		must(full.PutPolicy(ctx, "p1", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::`+hotBucket+`/*"}]}`)))
		must(full.PutPolicy(ctx, "p2", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","127.0.0.0/8"]}}}]}`)))
		must(full.PutPolicy(ctx, "p3", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::prod*"}]}`)))
		must(full.AttachPolicy(ctx, iam.Target{User: ak}, "readwrite", "p2", "p3"))
		must(full.AddGroupMembers(ctx, "benchers", ak))
		must(full.AttachPolicy(ctx, iam.Target{Group: "benchers"}, "p1"))
		u, err := full.GetUser(ctx, ak)
		must(err)
		owner = posix.Cred{UID: u.UID, GID: u.GID}
		ids = full
	}
	if err := fs.CreateBucket(ctx, owner, hotBucket); err != nil {
		b.Fatal(err)
	}
	g := gateway.New(gateway.Options{
		Backend:  fs,
		Identity: ids,
		Version:  "bench",
		Metrics:  gateway.NewMetrics(prometheus.NewRegistry()),
		Ready:    func(ctx context.Context) error { return nil },
	})
	body := make([]byte, hotObjSize)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	sum := sha256.Sum256(body)
	return &hotEnv{handler: g, fs: fs, accessKey: ak, secret: sk,
		objectBody: body, bodySHA256: hex.EncodeToString(sum[:])}
}

// hotFill stores n objects of the env's body, named fmt.Sprintf(format, i),
// straight through the backend, from several goroutines so that SQLite
// group commit batches them.
func hotFill(b *testing.B, e *hotEnv, format string, n int) {
	b.Helper()
	ctx := context.Background()
	const workers = 8
	errs := make(chan error, workers)
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		go func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				_, err := e.fs.PutObject(ctx, posix.Root, hotBucket, fmt.Sprintf(format, i), bytes.NewReader(e.objectBody),
					s3fs.PutOptions{Size: int64(len(e.objectBody)), ContentType: "application/octet-stream"})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// hotLeft reports how many objects are left under prefix (at most 1000).
func hotLeft(b *testing.B, e *hotEnv, prefix string) int {
	b.Helper()
	res, err := e.fs.ListObjects(context.Background(), posix.Root, hotBucket, s3fs.ListOptions{Prefix: prefix, MaxKeys: 1000})
	if err != nil {
		b.Fatal(err)
	}
	return len(res.Objects)
}

// hotReq is a signed request, replayed by request().
type hotReq struct {
	method string
	url    url.URL
	uri    string
	header http.Header
	body   []byte
}

// hotSign builds and signs (SigV4, Authorization header, time.Now) a
// request for target ("/bucket/key?query", already escaped) with the given
// extra headers and body; payloadHash is the x-amz-content-sha256 value.
func hotSign(b *testing.B, e *hotEnv, method, target string, hdr map[string]string, body []byte, payloadHash string) *hotReq {
	b.Helper()
	r, err := http.NewRequest(method, "http://"+hotHost+target, nil)
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if body != nil {
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	sigv4.SignHeader(r, e.accessKey, e.secret, hotRegion, payloadHash, time.Now())
	return &hotReq{method: method, url: *r.URL, uri: r.URL.RequestURI(), header: r.Header, body: body}
}

// request returns a fresh copy of the signed request, as net/http's server
// would hand it to the handler (the gateway replaces its Body).
func (q *hotReq) request() *http.Request {
	u := q.url
	r := &http.Request{
		Method:        q.method,
		URL:           &u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        q.header.Clone(),
		Body:          http.NoBody,
		ContentLength: int64(len(q.body)),
		Host:          hotHost,
		RemoteAddr:    "192.0.2.1:1234",
		RequestURI:    q.uri,
	}
	if q.body != nil {
		r.Body = io.NopCloser(bytes.NewReader(q.body))
	}
	return r
}

// hotServe serves one request and fails unless it answered want.
func hotServe(b *testing.B, e *hotEnv, q *hotReq, want int) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, q.request())
	if w.Code != want {
		b.Fatalf("%s %s: status %d, want %d: %s", q.method, q.uri, w.Code, want, w.Body.String())
	}
	return w
}

// hotPut signs a PUT of the env's body to key, as warp sends it (hex
// SHA-256 payload hash, Content-Length).
func hotPut(b *testing.B, e *hotEnv, key string) *hotReq {
	return hotSign(b, e, http.MethodPut, "/"+hotBucket+"/"+key,
		map[string]string{"Content-Type": "application/octet-stream"}, e.objectBody, e.bodySHA256)
}

func BenchmarkHotPutSmall(b *testing.B)     { benchPutSmall(b, false) }
func BenchmarkHotPutSmallUser(b *testing.B) { benchPutSmall(b, true) }

// BenchmarkHotPutSmallQuota is BenchmarkHotPutSmall into a bucket with a
// quota (bytes and objects), which every write charges in its
// transaction.
func BenchmarkHotPutSmallQuota(b *testing.B) {
	e := hotGatewayAs(b, false)
	if err := e.fs.SetBucketQuota(context.Background(), hotBucket, 1<<50, 1<<40); err != nil {
		b.Fatal(err)
	}
	reqs := make([]*hotReq, b.N)
	for i := range reqs {
		reqs[i] = hotPut(b, e, fmt.Sprintf("put/obj-%08d", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hotServe(b, e, reqs[i], http.StatusOK)
	}
}
func BenchmarkHotGetSmall(b *testing.B)     { benchGetSmall(b, false) }
func BenchmarkHotGetSmallUser(b *testing.B) { benchGetSmall(b, true) }

func benchPutSmall(b *testing.B, asUser bool) {
	e := hotGatewayAs(b, asUser)
	reqs := make([]*hotReq, b.N)
	for i := range reqs {
		reqs[i] = hotPut(b, e, fmt.Sprintf("put/obj-%08d", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hotServe(b, e, reqs[i], http.StatusOK)
	}
}

func benchGetSmall(b *testing.B, asUser bool) {
	e := hotGatewayAs(b, asUser)
	hotServe(b, e, hotPut(b, e, "get/obj"), http.StatusOK)
	q := hotSign(b, e, http.MethodGet, "/"+hotBucket+"/get/obj", nil, nil, sigv4.UnsignedPayload)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := hotServe(b, e, q, http.StatusOK)
		if !bytes.Equal(w.Body.Bytes(), e.objectBody) {
			b.Fatalf("GET returned %d bytes, not the object's %d", w.Body.Len(), len(e.objectBody))
		}
	}
}

func BenchmarkHotHead(b *testing.B) {
	e := hotGateway(b)
	hotServe(b, e, hotPut(b, e, "head/obj"), http.StatusOK)
	q := hotSign(b, e, http.MethodHead, "/"+hotBucket+"/head/obj", nil, nil, sigv4.UnsignedPayload)
	size := strconv.Itoa(hotObjSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := hotServe(b, e, q, http.StatusOK)
		if got := w.Header().Get("Content-Length"); got != size {
			b.Fatalf("HEAD Content-Length %q, want %s", got, size)
		}
	}
}

func BenchmarkHotListPage(b *testing.B) {
	e := hotGateway(b)
	hotFill(b, e, "dir/obj-%05d", hotListKeys)
	// encoding-type=url is what boto3, the AWS CLI and minio-go send.
	q := hotSign(b, e, http.MethodGet, "/"+hotBucket+"?list-type=2&prefix=dir%2F&max-keys="+strconv.Itoa(hotListPage)+"&encoding-type=url",
		nil, nil, sigv4.UnsignedPayload)
	keyCount := []byte("<KeyCount>" + strconv.Itoa(hotListPage) + "</KeyCount>")
	truncated := []byte("<IsTruncated>true</IsTruncated>")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := hotServe(b, e, q, http.StatusOK)
		if body := w.Body.Bytes(); !bytes.Contains(body, keyCount) || !bytes.Contains(body, truncated) {
			b.Fatalf("listing page is not %d keys of a truncated listing: %.500s", hotListPage, body)
		}
	}
}

func BenchmarkHotDelete(b *testing.B) {
	e := hotGateway(b)
	hotFill(b, e, "del/obj-%08d", b.N)
	reqs := make([]*hotReq, b.N)
	for i := range reqs {
		reqs[i] = hotSign(b, e, http.MethodDelete, fmt.Sprintf("/%s/del/obj-%08d", hotBucket, i), nil, nil, sigv4.UnsignedPayload)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hotServe(b, e, reqs[i], http.StatusNoContent)
	}
	b.StopTimer()
	// DELETE of a missing key is also 204: check the keys are gone.
	if n := hotLeft(b, e, "del/"); n != 0 {
		b.Fatalf("%d objects left after deleting all", n)
	}
}

func BenchmarkHotDeleteObjects(b *testing.B) {
	e := hotGateway(b)
	hotFill(b, e, "bulk/obj-%08d", b.N*hotBatch)
	// Built as minio-go's RemoveObjects sends it: verbose (not quiet),
	// Content-MD5 and a SHA-256 payload hash.
	reqs := make([]*hotReq, b.N)
	var x strings.Builder
	for i := range reqs {
		x.Reset()
		x.WriteString("<Delete><Quiet>false</Quiet>")
		for k := i * hotBatch; k < (i+1)*hotBatch; k++ {
			fmt.Fprintf(&x, "<Object><Key>bulk/obj-%08d</Key></Object>", k)
		}
		x.WriteString("</Delete>")
		body := []byte(x.String())
		sum := sha256.Sum256(body)
		md := md5.Sum(body)
		reqs[i] = hotSign(b, e, http.MethodPost, "/"+hotBucket+"?delete=",
			map[string]string{"Content-Type": "application/xml", "Content-Md5": base64.StdEncoding.EncodeToString(md[:])},
			body, hex.EncodeToString(sum[:]))
	}
	deleted, failed := []byte("<Deleted>"), []byte("<Error>")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := hotServe(b, e, reqs[i], http.StatusOK)
		if body := w.Body.Bytes(); bytes.Count(body, deleted) != hotBatch || bytes.Contains(body, failed) {
			b.Fatalf("DeleteObjects did not delete %d keys: %.1000s", hotBatch, body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*hotBatch)/b.Elapsed().Seconds(), "keys/s")
	if n := hotLeft(b, e, "bulk/"); n != 0 {
		b.Fatalf("%d objects left after deleting all", n)
	}
}
