package gateway_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"cairn/internal/chunk"
	"cairn/internal/iam"
	"cairn/internal/meta"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object"
	"cairn/internal/object/mem"
	"cairn/internal/posix"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
	"cairn/internal/vfs"
)

// harness is a gateway over an in-memory volume, with clients of it.
type harness struct {
	url   string
	s3    *s3.Client
	mc    *minio.Client
	fs    *s3fs.FS
	vfs   *vfs.FS
	srv   *httptest.Server
	reg   *prometheus.Registry
	panic string // key whose GetObject panics
}

// panicky wraps the real backend and panics on one key, to test recovery.
type panicky struct {
	gateway.Backend
	h *harness
}

func (p panicky) GetObject(ctx context.Context, cred posix.Cred, bucket, key string, opt s3fs.GetOptions) (*s3fs.Object, error) {
	if key == p.h.panic {
		panic("boom")
	}
	return p.Backend.GetObject(ctx, cred, bucket, key, opt)
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessOn(t, mem.New())
}

// newHarnessOn is newHarness with blocks kept in obj, and the gateway's
// options changed by opts.
func newHarnessOn(t testing.TB, obj object.Store, opts ...func(*gateway.Options)) *harness {
	t.Helper()
	store := memkv.New()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "gw", Storage: "mem", EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(bg, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := chunk.New(obj, chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	h := &harness{fs: s3fs.New(v, s3fs.Options{}), vfs: v, reg: prometheus.NewRegistry()}
	gopt := gateway.Options{
		Backend:  panicky{Backend: h.fs, h: h},
		Identity: iam.NewIdentities(iam.Credentials{AccessKey: testAK, SecretKey: testSecret}),
		Version:  "test",
		Metrics:  gateway.NewMetrics(h.reg),
		Ready:    func(ctx context.Context) error { return nil },
		// The tests read metrics without a token (TestServiceEndpoints
		// covers their authentication).
		MetricsPublic: true,
	}
	for _, o := range opts {
		o(&gopt)
	}
	g := gateway.New(gopt)
	h.srv = httptest.NewServer(g)
	h.url = h.srv.URL
	t.Cleanup(func() {
		h.srv.Close()
		v.Close()
		c.Close()
		m.Close()
		store.Close()
	})
	h.s3 = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(h.url),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testAK, testSecret, ""),
	})
	h.mc, err = minio.New(strings.TrimPrefix(h.url, "http://"), &minio.Options{Creds: mcreds.NewStaticV4(testAK, testSecret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}
