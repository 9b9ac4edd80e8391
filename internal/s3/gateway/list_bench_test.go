package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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

// BenchmarkListDirectory lists every key of one directory holding
// CAIRN_BENCH_KEYS objects (default 1,000,000) with ListObjectsV2 and
// delimiter "/", through the HTTP gateway on SQLite metadata:
//
//	go test -run XXX -bench ListDirectory -benchtime 1x -timeout 1h ./internal/s3/gateway
func BenchmarkListDirectory(b *testing.B) {
	n := 1000000
	if s := os.Getenv("CAIRN_BENCH_KEYS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(b.TempDir(), "meta.db"), sqlkv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "list", Storage: "mem"}); err != nil {
		b.Fatal(err)
	}
	m, _ := meta.Open(ctx, store, meta.Options{})
	c := chunk.New(mem.New(), chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	defer v.Close()
	fs := s3fs.New(v, s3fs.Options{})
	if err := fs.CreateBucket(ctx, posix.Root, "big"); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const workers = 8
	errs := make(chan error, workers)
	// Workers take the next key from a shared counter, as S3 clients
	// uploading a sorted list do (aws s3 sync, rclone, cairn bench s3).
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		go func(w int) {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if _, err := fs.PutObject(ctx, posix.Root, "big", fmt.Sprintf("dir/obj-%08d", i), strings.NewReader(""), s3fs.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("created %d objects in %s", n, time.Since(start))
	srv := httptest.NewServer(gateway.New(gateway.Options{Backend: fs,
		Identity: iam.NewIdentities(iam.Credentials{AccessKey: testAK, SecretKey: testSecret})}))
	defer srv.Close()
	cl := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(testAK, testSecret, "")})
	t1 := time.Now()
	after, direct := "", 0
	for {
		res, err := fs.ListObjects(ctx, posix.Root, "big", s3fs.ListOptions{Prefix: "dir/", Delimiter: "/", StartAfter: after, MaxKeys: 1000})
		if err != nil {
			b.Fatal(err)
		}
		direct += len(res.Objects)
		if !res.IsTruncated {
			break
		}
		after = res.NextMarker
	}
	b.Logf("s3fs.ListObjects alone: %d keys in %s", direct, time.Since(t1))
	// The server side over HTTP: signed requests, bodies read whole, only
	// the continuation token picked out (no XML parsing by the client).
	t2 := time.Now()
	token, pages := "", 0
	for {
		u := srv.URL + "/big?list-type=2&prefix=dir%2F&delimiter=%2F"
		if token != "" {
			u += "&continuation-token=" + url.QueryEscape(token)
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		sigv4.SignHeader(req, testAK, testSecret, "us-east-1", sigv4.UnsignedPayload, time.Now())
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("page %d: %d %v", pages, resp.StatusCode, err)
		}
		pages++
		_, rest, ok := bytes.Cut(body, []byte("<NextContinuationToken>"))
		if !ok {
			break
		}
		tok, _, _ := bytes.Cut(rest, []byte("<"))
		token = string(tok)
	}
	b.Logf("server side over HTTP (no client XML parsing): %d pages in %s", pages, time.Since(t2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String("big"), Prefix: aws.String("dir/"), Delimiter: aws.String("/")})
		keys := 0
		for p.HasMorePages() {
			pg, err := p.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			keys += len(pg.Contents)
		}
		if keys != n {
			b.Fatalf("listed %d keys, want %d", keys, n)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s/listing")
	}
}
