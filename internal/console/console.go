package console

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"
)

// Prefix is the path the console is served under.
const Prefix = "/console/"

//go:embed assets
var assets embed.FS

// Options configure a console.
type Options struct {
	// Endpoint is the URL of the S3 gateway the console calls on its
	// users' behalf, such as http://127.0.0.1:9000. The admin API is
	// reached at the same address.
	Endpoint string
	// PublicEndpoint gives the gateway's address as the browser of r
	// reaches it, for share links (nil: Endpoint).
	PublicEndpoint func(r *http.Request) string
	// Region is the gateway's region (signatures name it).
	Region string
	// Lifetime is how long a sign-in lasts at most (0: 12 hours);
	// IdleTimeout how long it lasts unused (0: 1 hour).
	Lifetime, IdleTimeout time.Duration
	// HTTP is the client that reaches Endpoint (nil: a client of its own).
	HTTP *http.Client
	// Version is shown in the page footer.
	Version string
	// Logger receives one line per failed sign-in and per server error.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// A Console serves the web console. It holds no privilege of its own:
// every action is a request to the gateway signed with the signed-in
// user's keys, so a user can do in the console exactly what the same keys
// may do with any S3 client.
type Console struct {
	opt      Options
	sessions *sessions
	pages    map[string]*template.Template
	static   http.Handler
	mux      *http.ServeMux
	log      *slog.Logger
	usage    usageCache
	buffers  *semaphore.Weighted // multipart upload part buffers, in bytes
}

// A route is one entry of the console's routing table.
type route struct {
	pattern string
	// signedIn routes need a live session; the others serve anyone.
	signedIn bool
	// api routes answer JSON (errors too) rather than pages.
	api    bool
	handle func(*Console, *call) error
}

// routes is the console's whole surface. Every route that changes
// anything is a POST, PUT or DELETE and is checked for CSRF before its
// handler runs.
var routes = []route{
	{pattern: "GET /console/{$}", handle: (*Console).home},
	{pattern: "GET /console/signin", handle: (*Console).signinPage},
	{pattern: "POST /console/signin", handle: (*Console).signin},
	{pattern: "POST /console/signout", signedIn: true, handle: (*Console).signout},
	{pattern: "GET /console/buckets", signedIn: true, handle: (*Console).bucketsPage},
	{pattern: "POST /console/buckets", signedIn: true, handle: (*Console).createBucket},
	{pattern: "POST /console/buckets/delete", signedIn: true, handle: (*Console).deleteBucket},
	{pattern: "GET /console/browse", signedIn: true, handle: (*Console).browsePage},
	{pattern: "GET /console/settings", signedIn: true, handle: (*Console).settingsPage},
	{pattern: "POST /console/settings", signedIn: true, handle: (*Console).applySettings},
	{pattern: "GET /console/iam", signedIn: true, handle: (*Console).iamPage},
	{pattern: "POST /console/iam", signedIn: true, handle: (*Console).iamChange},
	{pattern: "GET /console/metrics", signedIn: true, handle: (*Console).metricsPage},
	{pattern: "GET /console/api/metrics", signedIn: true, api: true, handle: (*Console).metricsAPI},
	{pattern: "GET /console/download", signedIn: true, handle: (*Console).download},
	{pattern: "GET /console/api/list", signedIn: true, api: true, handle: (*Console).listAPI},
	{pattern: "GET /console/api/usage", signedIn: true, api: true, handle: (*Console).usageAPI},
	{pattern: "GET /console/api/object", signedIn: true, api: true, handle: (*Console).objectAPI},
	{pattern: "PUT /console/api/upload", signedIn: true, api: true, handle: (*Console).upload},
	{pattern: "POST /console/api/delete", signedIn: true, api: true, handle: (*Console).deleteObjects},
	{pattern: "POST /console/zip", signedIn: true, handle: (*Console).zipDownload},
	{pattern: "POST /console/api/move", signedIn: true, api: true, handle: (*Console).move},
	{pattern: "POST /console/api/restore", signedIn: true, api: true, handle: (*Console).restore},
	{pattern: "/console/", handle: (*Console).notFound},
	{pattern: "POST /console/api/share", signedIn: true, api: true, handle: (*Console).share},
}

// New returns a console that calls the gateway at opt.Endpoint.
func New(opt Options) (*Console, error) {
	if opt.Endpoint == "" {
		return nil, errors.New("console: no gateway endpoint")
	}
	opt.Endpoint = strings.TrimRight(opt.Endpoint, "/")
	if opt.Region == "" {
		opt.Region = "us-east-1"
	}
	if opt.Lifetime <= 0 {
		opt.Lifetime = 12 * time.Hour
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.HTTP == nil {
		opt.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, err
	}
	c := &Console{opt: opt, buffers: semaphore.NewWeighted(uploadMemory), sessions: newSessions(opt.Lifetime, opt.IdleTimeout, opt.Now), pages: pages, log: opt.Logger,
		static: http.StripPrefix(Prefix+"static/", http.FileServerFS(static))}
	c.mux = http.NewServeMux()
	c.mux.Handle("GET "+Prefix+"static/", c.static)
	for _, rt := range routes {
		c.mux.Handle(rt.pattern, c.wrap(rt))
	}
	return c, nil
}

// ServeHTTP serves the console's paths (those under Prefix).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
	if r.URL.Path == "/console" {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// Close ends every session.
func (c *Console) Close() { c.sessions.clear() }
