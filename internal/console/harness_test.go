package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"cairn/internal/adminapi"
	"cairn/internal/chunk"
	"cairn/internal/console"
	"cairn/internal/iam"
	"cairn/internal/meta"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object/mem"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
	"cairn/internal/vfs"
)

var bg = context.Background()

const (
	rootAK, rootSK     = "rootkey", "rootsecret123"
	readerAK, readerSK = "reader", "readersecret1"
)

// clock is a settable time for session lifetimes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a real gateway over an in-memory volume with users, and the
// console in front of it on the same address, as `cairn server` serves
// them.
type env struct {
	url   string
	s3    *s3.Client // root's, straight to the gateway
	clock *clock
	ids   *iam.Identities
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store := memkv.New()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "console", Storage: "mem", EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(bg, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := vfs.New(m, chunk.New(mem.New(), chunk.Options{}), vfs.Options{SweepInterval: -1})
	ids, err := iam.Open(bg, store, iam.MasterKey{1}, iam.Credentials{AccessKey: rootAK, SecretKey: rootSK},
		iam.Options{LockoutThreshold: 3, LockoutDuration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ids.Close() })
	if err := ids.CreateUser(bg, readerAK, readerSK, iam.UserOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ids.AttachPolicy(bg, iam.Target{User: readerAK}, "readonly"); err != nil {
		t.Fatal(err)
	}
	backend := s3fs.New(v, s3fs.Options{})
	gw := gateway.New(gateway.Options{Backend: backend, Identity: ids, Version: "test", Metrics: gateway.NewMetrics(prometheus.NewRegistry()),
		Ready: func(context.Context) error { return nil }})
	quotaErr := func(err error) error {
		switch {
		case errors.Is(err, s3fs.ErrNoSuchQuota):
			return adminapi.ErrNoQuota
		case errors.Is(err, s3fs.ErrNoSuchBucket):
			return adminapi.ErrNoSuchBucket
		}
		return err
	}
	admin := adminapi.New(adminapi.Options{Identities: ids, Region: "us-east-1",
		GetBucketQuota: func(ctx context.Context, bucket string) (adminapi.BucketQuota, error) {
			q, err := backend.GetBucketQuota(ctx, bucket)
			return adminapi.BucketQuota(q), quotaErr(err)
		},
		SetBucketQuota: func(ctx context.Context, bucket string, maxBytes, maxObjects uint64) error {
			return quotaErr(backend.SetBucketQuota(ctx, bucket, maxBytes, maxObjects))
		},
		ServerInfo: func(ctx context.Context) (adminapi.ServerInfo, error) {
			st, err := m.StatFS(ctx)
			if err != nil {
				return adminapi.ServerInfo{}, err
			}
			ss, err := m.ListSessions(ctx)
			if err != nil {
				return adminapi.ServerInfo{}, err
			}
			info := adminapi.ServerInfo{Version: "test", Volume: "console", UsedBytes: st.Used, UsedInodes: st.UsedInodes}
			for _, x := range ss {
				info.Sessions = append(info.Sessions, adminapi.Session{ID: x.ID, Host: x.Host, PID: x.PID, Process: x.Process})
			}
			return info, nil
		}})
	e := &env{clock: &clock{t: time.Now()}, ids: ids}
	var con *console.Console
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, adminapi.Prefix) {
			admin.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/console") && r.Header.Get("Authorization") == "" && !r.URL.Query().Has("X-Amz-Signature") {
			con.ServeHTTP(w, r)
			return
		}
		gw.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	con, err = console.New(console.Options{Endpoint: srv.URL, Version: "test", Now: e.clock.now,
		Lifetime: 12 * time.Hour, IdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(con.Close)
	e.url = srv.URL
	e.s3 = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(rootAK, rootSK, "")})
	return e
}

// browser is a client with its own cookies, like one browser.
type browser struct {
	t    *testing.T
	e    *env
	hc   *http.Client
	csrf string
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, hc: &http.Client{Jar: jar}}
}

var (
	preRE  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	metaRE = regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`)
)

// get fetches a console path and returns its status and body.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.hc.Get(b.e.url + path)
	return b.page(res, err)
}

// page reads an answer, keeping the CSRF token of the page it holds.
func (b *browser) page(res *http.Response, err error) (int, string) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := metaRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return res.StatusCode, string(body)
}

// post submits a form (with the page's CSRF token unless form has one).
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	return b.page(b.hc.PostForm(b.e.url+path, form))
}

// rootBrowser returns a new env and a browser signed in as root, with
// the buckets made.
func rootBrowser(t *testing.T, buckets ...string) (*env, *browser) {
	t.Helper()
	e := newEnv(t)
	b := e.browser(t)
	b.signIn(rootAK, rootSK)
	for _, name := range buckets {
		if code, body := b.post("/console/buckets", url.Values{"bucket": {name}}); code != http.StatusOK {
			t.Fatalf("create bucket %s: %d %s", name, code, body)
		}
	}
	return e, b
}

// signIn signs in and fails the test if that does not work.
func (b *browser) signIn(ak, sk string) {
	b.t.Helper()
	if code, body := b.trySignIn(ak, sk, ""); code != http.StatusOK || !strings.Contains(body, "Sign out") {
		b.t.Fatalf("sign-in as %s: %d %s", ak, code, body)
	}
}

func (b *browser) trySignIn(ak, sk, next string) (int, string) {
	b.t.Helper()
	_, page := b.get("/console/signin")
	m := preRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no form token in the sign-in page: %s", page)
	}
	return b.post("/console/signin", url.Values{"csrf": {m[1]}, "accessKey": {ak}, "secretKey": {sk}, "next": {next}})
}

// api calls a JSON endpoint with the session's CSRF token.
func (b *browser) api(method, path string, body io.Reader, out any) int {
	b.t.Helper()
	req, err := http.NewRequest(method, b.e.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("X-Csrf-Token", b.csrf)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatalf("%s %s: %d %q: %v", method, path, res.StatusCode, data, err)
		}
	}
	return res.StatusCode
}

var regexpNext = regexp.MustCompile(`data-next="([^"]*)"`)

func htmlUnescape(s string) string { return html.UnescapeString(s) }

func decodeJSON(t *testing.T, res *http.Response, out any) {
	t.Helper()
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("%d: %v", res.StatusCode, err)
	}
}

// upload sends data as the browser's script does.
func upload(t *testing.T, b *browser, bucket, key string, data []byte) {
	t.Helper()
	req, _ := http.NewRequest("PUT", b.e.url+"/console/api/upload?"+url.Values{"bucket": {bucket}, "key": {key}}.Encode(), bytes.NewReader(data))
	req.Header.Set("X-Csrf-Token", b.csrf)
	req.Header.Set("Content-Type", "text/plain")
	res, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	decodeJSON(t, res, &out)
	if res.StatusCode != http.StatusOK || out["size"] != float64(len(data)) {
		t.Fatalf("upload %q: %d %v", key, res.StatusCode, out)
	}
}

// download fetches a console download address.
func download(t *testing.T, b *browser, href string) []byte {
	t.Helper()
	res, err := b.hc.Get(b.e.url + href)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("download %s: %d %v %q", href, res.StatusCode, err, data[:min(len(data), 200)])
	}
	return data
}
