package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"cairn/internal/adminapi"
	"cairn/internal/console"
	"cairn/internal/fusefs"
	"cairn/internal/iam"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/s3fs"
)

// serveOptions are the flags shared by `cairn gateway` and `cairn server`.
type serveOptions struct {
	address       string
	domain        string
	region        string
	ownership     string // object ownership of new buckets
	masterKeyFile string
	accessLog     bool
	logJSON       bool
	cacheSize     sizeValue
	directIO      bool
	durable       durability
	checkConfig   bool
	pprof         string
	runOptions
	mapUsers      string
	idBase        uint32
	lockout       int
	lockoutFor    time.Duration
	policyBoth    bool
	metricsPublic bool
	bodyIdle      time.Duration
	fileMode      string
	dirMode       string
	maxConns      int
	maxHeader     sizeValue
	clientRate    string
	keyRate       string
	mount         string   // server only: mount the volume here too
	mountOpts     []string // -o style options of that mount
	lcInterval    time.Duration
	lcDay         time.Duration
	console       consoleOptions
}

func (o *serveOptions) flags(cmd *cobra.Command, defaultAddr bool) {
	o.runOptions.flags(cmd)
	o.console.flags(cmd)
	fl := cmd.Flags()
	if defaultAddr {
		fl.StringVar(&o.address, "address", "127.0.0.1:9000", "address to listen on")
	}
	fl.StringVar(&o.domain, "domain", "", "domain for virtual-host-style requests (BUCKET.DOMAIN); path style always works")
	fl.StringVar(&o.region, "region", "us-east-1", "the gateway's region: reported to clients, and the only region a SigV4 credential scope may name")
	fl.StringVar(&o.ownership, "object-ownership", "", "object ownership of new buckets that ask for none: BucketOwnerEnforced (S3 ACLs off, as AWS creates buckets), BucketOwnerPreferred or ObjectWriter; empty leaves them without a setting (ACLs on, objects owned by their writers)")
	fl.StringVar(&o.masterKeyFile, "master-key-file", "", "file holding the key that seals credentials stored in the volume (created when missing)")
	fl.BoolVar(&o.accessLog, "access-log", false, "log every request (structured, to stderr)")
	fl.BoolVar(&o.logJSON, "log-json", false, "write logs as JSON")
	o.cacheSize = sizeValue(256 << 20)
	fl.Var(&o.cacheSize, "cache-size", "memory block cache size")
	fl.BoolVar(&o.directIO, "direct-io", true, "write blocks of a file block store with O_DIRECT, then have the kernel read them into the page cache in the background (less CPU per written byte); false writes through the page cache")
	fl.Var(&o.durable, "durability", durabilityUsage)
	fl.BoolVar(&o.checkConfig, "check-config", false, "validate the configuration and exit")
	fl.StringVar(&o.mapUsers, "map-users", "", "run every S3 user's requests as this one UID:GID instead of each user's own (root stays root)")
	fl.Uint32Var(&o.idBase, "id-base", 10000, "first uid and gid handed to new users and groups")
	fl.IntVar(&o.lockout, "lockout-attempts", 5, "failed authentications in a row that lock an access key out (0: never)")
	fl.DurationVar(&o.lockoutFor, "lockout-duration", 15*time.Minute, "how long a locked-out access key is refused")
	fl.BoolVar(&o.policyBoth, "bucket-policy-both", false, "a user's request that a bucket policy covers needs an allow from the user's policies and from the bucket's (MyFSIO's rule); by default either suffices, as on AWS")
	fl.BoolVar(&o.metricsPublic, "metrics-public", false, "serve Prometheus metrics without authentication (by default a scrape needs a bearer token from `mc admin prometheus generate` or a signed request)")
	fl.DurationVar(&o.bodyIdle, "body-idle-timeout", time.Minute, "cut a request whose body sends nothing for this long (RequestTimeout)")
	fl.StringVar(&o.fileMode, "s3-file-mode", "0644", "mode (octal) of the objects S3 requests create; the creator owns them")
	fl.StringVar(&o.dirMode, "s3-dir-mode", "0755", "mode (octal) of the buckets and directories S3 requests create")
	fl.IntVar(&o.maxConns, "max-connections", 10000, "connections served at once; more wait to be accepted (0: no limit)")
	o.maxHeader = sizeValue(64 << 10)
	fl.Var(&o.maxHeader, "max-header-size", "largest request header section (RequestHeaderSectionTooLarge beyond)")
	fl.StringVar(&o.clientRate, "rate-limit-client", "", `requests one client address may make, such as "5000 per minute" (MyFSIO's form; empty: no limit)`)
	fl.StringVar(&o.keyRate, "rate-limit-key", "", `requests one access key may make, such as "1000 per second" (empty: no limit)`)
	fl.StringVar(&o.pprof, "pprof", "", "serve Go's profiles (/debug/pprof/, with mutex and block profiling on) on this address, for example 127.0.0.1:6060; never expose it")
	fl.DurationVar(&o.lcInterval, "lifecycle-interval", time.Hour, "how often buckets' lifecycle rules are applied (by one gateway of the volume at a time; 0: never)")
	fl.DurationVar(&o.lcDay, "lifecycle-day", 24*time.Hour, "the length of a lifecycle rule's day (shorter only to try rules out)")
}

func (o *serveOptions) logger() (*slog.Logger, error) { return newLogger(&o.runOptions, o.logJSON) }

// rootFromEnv returns root credentials given in the environment, if any.
func rootFromEnv() (*iam.Credentials, error) {
	for _, pair := range [][2]string{{"CAIRN_ROOT_USER", "CAIRN_ROOT_PASSWORD"}, {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}} {
		u, uok := os.LookupEnv(pair[0])
		p, pok := os.LookupEnv(pair[1])
		if uok != pok {
			return nil, fmt.Errorf("set both %s and %s, or neither", pair[0], pair[1])
		}
		if uok {
			c := &iam.Credentials{AccessKey: u, SecretKey: p}
			if err := c.Validate(); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", pair[0], pair[1], err)
			}
			return c, nil
		}
	}
	return nil, nil
}

func newGatewayCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "gateway META-URL ADDRESS",
		Short: "Serve an existing volume over S3",
		Long: `Serves the volume at META-URL as an S3 endpoint on ADDRESS (for example
127.0.0.1:9000). The root user's credentials come from CAIRN_ROOT_USER and
CAIRN_ROOT_PASSWORD (or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD); without
them the credentials stored in the volume are used, or new ones are
generated and printed once. Stored secrets are sealed with the key in
--master-key-file (default: master.key next to a SQLite database).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.daemon && os.Getenv(daemonChildEnv) == "" {
				return daemonize(cmd, &o.runOptions, "cairn-gateway.log", "cairn-gateway.pid")
			}
			o.address = args[1]
			keyFile := o.masterKeyFile
			if keyFile == "" {
				keyFile = filepath.Join(filepath.Dir(defaultBucket(args[0])), "master.key")
			}
			return serve(cmd.Context(), args[0], keyFile, o, cmd)
		},
	}
	o.flags(cmd, false)
	return cmd
}

func newServerCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "server [DIR]",
		Short: "Serve an embedded volume in DIR over S3 (formats it on first start)",
		Long: `The zero-setup default: on first start, formats a volume in DIR (default
./data) with SQLite metadata (DIR/meta.db) and blocks in DIR/blocks, then
serves it over S3 on --address. Root credentials come from CAIRN_ROOT_USER
and CAIRN_ROOT_PASSWORD (or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD), or are
generated on first start and printed once; DIR/master.key seals them in the
volume.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "data"
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if o.daemon && os.Getenv(daemonChildEnv) == "" {
				if err := os.MkdirAll(abs, 0o755); err != nil {
					return err
				}
				return daemonize(cmd, &o.runOptions, filepath.Join(abs, "cairn.log"), filepath.Join(abs, "cairn.pid"))
			}
			metaURL := "sqlite3://" + filepath.Join(abs, "meta.db")
			if !o.checkConfig {
				if err := ensureFormatted(cmd.Context(), metaURL, filepath.Base(abs), filepath.Join(abs, "blocks")); err != nil {
					return err
				}
			}
			keyFile := o.masterKeyFile
			if keyFile == "" {
				keyFile = filepath.Join(abs, "master.key")
			}
			return serve(cmd.Context(), metaURL, keyFile, o, cmd)
		},
	}
	o.flags(cmd, true)
	cmd.Flags().StringVar(&o.mount, "mount", "", "also mount the volume on this directory (FUSE), in the same process")
	cmd.Flags().StringSliceVar(&o.mountOpts, "mount-options", nil, "options of --mount, as cairn mount -o takes them (allow_other, ro, root_squash=U:G, attr_timeout=5s, …)")
	return cmd
}

// ensureFormatted formats an embedded volume unless one exists.
func ensureFormatted(ctx context.Context, metaURL, name, bucket string) error {
	store, err := openStore(ctx, metaURL, durabilityFull)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := meta.ReadFormat(ctx, store); err == nil {
		return nil
	} else if !errors.Is(err, meta.ErrNotFormatted) {
		return err
	}
	if name == "" || name == "." || name == "/" {
		name = "cairn"
	}
	_, err = meta.FormatVolume(ctx, store, meta.Format{Name: name, Storage: "file", Bucket: bucket, BlockSize: 4 << 20, EnableACL: true})
	return err
}

func serve(ctx context.Context, metaURL, keyFile string, o serveOptions, cmd *cobra.Command) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(o.address); err != nil {
		return fmt.Errorf("bad address %q: %w", o.address, err)
	}
	given, err := rootFromEnv()
	if err != nil {
		return err
	}
	if o.checkConfig {
		store, err := openStore(ctx, metaURL, durabilityFull)
		if err != nil {
			return err
		}
		defer store.Close()
		if _, err := meta.ReadFormat(ctx, store); err != nil && !errors.Is(err, meta.ErrNotFormatted) {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), "configuration OK")
		return nil
	}
	var mf mountFlags
	var fo fusefs.Options
	if o.mount != "" {
		if o.mount, err = filepath.Abs(o.mount); err != nil {
			return err
		}
		fl := pflag.NewFlagSet("mount-options", pflag.ContinueOnError)
		mf.register(fl)
		if err := applyMountOptions(fl, o.mountOpts); err != nil {
			return fmt.Errorf("--mount-options: %w", err)
		}
		if fo, err = mf.options(log, kv.RedactURL(metaURL)); err != nil {
			return fmt.Errorf("--mount-options: %w", err)
		}
		if err := checkMountpoint(o.mount); err != nil {
			return err
		}
	}
	// A gateway keeps nothing buffered across requests: cut off from the
	// others for longer than the session timeout, it goes on under a new
	// session. With a mount in the process it must not (its buffered
	// writes would outlive the session).
	v, err := openVolume(ctx, metaURL, volumeOptions{logger: log, session: cmd.Name() + " " + o.address, mountpoint: o.mount,
		cache: int64(o.cacheSize), directIO: o.directIO, durable: o.durable, renewSession: o.mount == "", sessionTimeout: o.sessionTimeout})
	if err != nil {
		return err
	}
	defer v.close(context.WithoutCancel(ctx))
	key, err := iam.LoadOrCreateMasterKey(keyFile)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	root, generated, err := iam.SetupRoot(ctx, v.store, key, given)
	if err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(cmd.OutOrStdout(), "Generated root credentials (shown only now; set CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD to choose your own):\n  RootUser: %s\n  RootPass: %s\n", root.AccessKey, root.SecretKey)
	}
	iopt := iam.Options{IDBase: o.idBase, LockoutThreshold: o.lockout, LockoutDuration: o.lockoutFor, RequireBoth: o.policyBoth, Logger: log}
	if o.lockout == 0 {
		iopt.LockoutThreshold = -1
	}
	if o.mapUsers != "" {
		c, err := parseUIDGID(o.mapUsers)
		if err != nil {
			return fmt.Errorf("--map-users: %w", err)
		}
		iopt.OneIdentity = &c
	}
	ids, err := iam.Open(ctx, v.store, key, root, iopt)
	if err != nil {
		return err
	}
	defer ids.Close()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var sweeping sync.WaitGroup
	sweeping.Go(func() { sweepSessions(sweepCtx, ids, log) })
	defer func() { stopSweep(); sweeping.Wait() }()
	fileMode, err1 := parseMode(o.fileMode)
	dirMode, err2 := parseMode(o.dirMode)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	clientRate, err1 := gateway.ParseRateLimit(o.clientRate)
	keyRate, err2 := gateway.ParseRateLimit(o.keyRate)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	switch o.ownership {
	case "", s3fs.OwnershipEnforced, s3fs.OwnershipPreferred, s3fs.OwnershipObjectWriter:
	default:
		return fmt.Errorf("--object-ownership %q: use BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter", o.ownership)
	}
	cors, err := corsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	backend := s3fs.New(v.vfs, s3fs.Options{Logger: log, FileMode: fileMode, DirMode: dirMode, LifecycleDay: o.lcDay})
	hk := startHousekeeping(ctx, v, backend, log)
	defer hk()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerLifecycleMetrics(reg, backend)
	if o.lcInterval > 0 {
		lcCtx, stopLC := context.WithCancel(ctx)
		var lc sync.WaitGroup
		lc.Go(func() { backend.RunLifecycle(lcCtx, o.lcInterval, nil) })
		defer func() { stopLC(); lc.Wait() }()
	}
	nt, err := startNotify(ctx, v, backend, o.region, reg, log)
	if err != nil {
		return err
	}
	defer nt.stop()
	started := time.Now()
	gopt := gateway.Options{
		Backend:  backend,
		Identity: ids,
		Domain:   o.domain,
		Region:   o.region,
		Version:  version,

		ObjectOwnership: o.ownership,
		Logger:          log,
		Metrics:         gateway.NewMetrics(reg),

		MetricsPublic:   o.metricsPublic,
		BodyIdleTimeout: o.bodyIdle,
		MaxHeaderBytes:  int(o.maxHeader),
		ClientRate:      clientRate,
		KeyRate:         keyRate,
		CORS:            cors,
		Notify:          nt,
		Listen: func(ctx context.Context, l notify.Listener, send func([]byte) error) error {
			return notify.Listen(ctx, v.meta, o.region, l, send)
		},
		Ready: func(ctx context.Context) error {
			_, err := v.meta.GetAttr(ctx, 1)
			return err
		},
	}
	if o.accessLog {
		gopt.AccessLog = log
	}
	admin := adminapi.New(adminapi.Options{Identities: ids, Region: o.region, Logger: log,
		RunLifecycle: func(ctx context.Context, bucket string) (map[string]int64, error) {
			st, err := backend.ApplyLifecycle(ctx, bucket)
			return lifecycleCounts(st), err
		},
		GetBucketQuota: func(ctx context.Context, bucket string) (adminapi.BucketQuota, error) {
			q, err := backend.GetBucketQuota(ctx, bucket)
			return adminapi.BucketQuota(q), adminQuotaErr(err)
		},
		SetBucketQuota: func(ctx context.Context, bucket string, maxBytes, maxObjects uint64) error {
			return adminQuotaErr(backend.SetBucketQuota(ctx, bucket, maxBytes, maxObjects))
		},
		Notify: nt,
		ServerInfo: func(ctx context.Context) (adminapi.ServerInfo, error) {
			bs, err := backend.ListBuckets(ctx, posix.Root)
			if err != nil {
				return adminapi.ServerInfo{}, err
			}
			st, err := v.meta.StatFS(ctx)
			if err != nil {
				return adminapi.ServerInfo{}, err
			}
			f := v.meta.Format()
			ss, err := v.meta.ListSessions(ctx)
			if err != nil {
				return adminapi.ServerInfo{}, err
			}
			sessions := make([]adminapi.Session, 0, len(ss))
			for _, x := range ss {
				sessions = append(sessions, adminapi.Session{ID: x.ID, Host: x.Host, PID: x.PID, Version: x.Version, Process: x.Process,
					Mountpoint: x.Mountpoint, Started: x.Started, Heartbeat: x.Heartbeat})
			}
			return adminapi.ServerInfo{Endpoint: o.address, Version: version, Started: started, Buckets: uint64(len(bs)),
				UsedBytes: st.Used, UsedInodes: st.UsedInodes, CapacityBytes: f.Capacity, InodeLimit: f.Inodes, DeploymentID: f.UUID,
				Volume: f.Name, Sessions: sessions}, nil
		}})
	ln, err := net.Listen("tcp", o.address)
	if err != nil {
		return err
	}
	if o.maxConns > 0 {
		ln = limitListener(ln, o.maxConns)
	}
	con, err := newConsole(o.console, ln.Addr(), o.region, log)
	if err != nil {
		ln.Close()
		return err
	}
	var conHandler http.Handler
	if con != nil {
		defer con.Close()
		conHandler = con
		gopt.SandboxObjects = o.console.address == "" // the console shares the S3 origin
		if o.console.address != "" {
			stop, err := serveConsole(ctx, o.console.address, con, log)
			if err != nil {
				ln.Close()
				return err
			}
			defer stop()
			conHandler = nil
		}
	}
	srv := &http.Server{
		Addr:              o.address,
		Handler:           routeRequests(gateway.New(gopt), admin, conHandler),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    int(o.maxHeader) + 64<<10, // the gateway answers oversized headers, in XML
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	removePid, err := writePidFile(o.pidFile)
	if err != nil {
		ln.Close()
		return err
	}
	defer removePid()
	if o.pprof != "" {
		_, stop, err := startProfiling(o.pprof, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if o.mount != "" {
		fsrv, err := fusefs.Mount(o.mount, v.vfs, fo)
		if err != nil {
			return err
		}
		log.Info("cairn mounted", "mountpoint", o.mount)
		mctx, stopMount := context.WithCancel(ctx)
		unmounted := make(chan struct{})
		go func() { serveUntilUnmounted(mctx, fsrv, log); close(unmounted) }()
		// Runs before v.close: the volume stays open until the mount is gone.
		defer func() { stopMount(); <-unmounted; log.Info("unmounted", "mountpoint", o.mount) }()
	}
	log.Info("cairn S3 endpoint ready", "address", "http://"+ln.Addr().String(), "volume", v.meta.Format().Name, "meta", kv.RedactURL(metaURL), "version", version)
	if con != nil && o.console.address == "" {
		log.Info("cairn console ready", "address", "http://"+ln.Addr().String()+console.Prefix)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// housekeepingEvery is how often the gateway looks for what dead clients
// left in the volume.
const housekeepingEvery = time.Minute

// startHousekeeping removes, at once and then every housekeepingEvery,
// what clients that died left behind in the S3 system directory (their
// temporary upload files), after cleaning up dead sessions. (Blocks they
// left are the vfs sweeper's.) The returned function stops it and waits.
func startHousekeeping(ctx context.Context, v *volume, b *s3fs.FS, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(housekeepingEvery)
		defer t.Stop()
		for {
			if _, err := v.meta.CleanDeadSessions(ctx); err != nil && ctx.Err() == nil {
				log.Warn("cleaning dead sessions failed", "err", err)
			}
			if n, err := b.ReclaimTemp(ctx); err != nil && ctx.Err() == nil {
				log.Warn("removing temporary files of dead clients failed", "err", err)
			} else if n > 0 {
				log.Info("removed temporary files of dead clients", "files", n)
			}
			if _, err := b.ReclaimCompletedUploads(ctx); err != nil && ctx.Err() == nil {
				log.Warn("dropping the answers of completed uploads failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// parseUIDGID parses "UID:GID".
func parseUIDGID(s string) (posix.Cred, error) {
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return posix.Cred{}, fmt.Errorf("%q is not UID:GID (two numbers)", s)
	}
	if uid == 0 {
		return posix.Cred{}, fmt.Errorf("uid 0 would give every user root's rights")
	}
	return posix.Cred{UID: uint32(uid), GID: uint32(gid)}, nil
}

// sweepSessions deletes expired sessions and service accounts every ten
// minutes until ctx ends (they are refused from their expiry on; this
// only reclaims their records).
func sweepSessions(ctx context.Context, ids *iam.Identities, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := ids.SweepExpired(ctx); err != nil {
			log.Warn("iam: sweeping expired keys failed", "err", err)
		} else if n > 0 {
			log.Info("iam: expired keys removed", "count", n)
		}
	}
}

// parseMode parses an octal file mode such as 0644.
func parseMode(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m == 0 || m > 0o7777 {
		return 0, fmt.Errorf("mode %q is not an octal mode between 1 and 7777, such as 0644", s)
	}
	return uint32(m), nil
}

// limitListener accepts at most n connections at once; the next wait in
// the kernel's backlog until one closes.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, n)}
}

type limitedListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// ReadFrom keeps the connection's own ReadFrom reachable: net/http sends
// a file given to a response's ReadFrom with sendfile(2) only when the
// connection has one (*net.TCPConn does; an embedded net.Conn hides it,
// and every GET of a block file was copied through user space).
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// corsFromEnv reads the server's default CORS rule, for buckets without
// rules of their own, from CAIRN_CORS_ORIGINS (comma-separated; unset:
// none), CAIRN_CORS_METHODS, CAIRN_CORS_ALLOW_HEADERS,
// CAIRN_CORS_EXPOSE_HEADERS and CAIRN_CORS_MAX_AGE (seconds).
func corsFromEnv(getenv func(string) string) ([]s3fs.CORSRule, error) {
	origins := splitList(getenv("CAIRN_CORS_ORIGINS"))
	if len(origins) == 0 {
		return nil, nil
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	r := s3fs.CORSRule{
		AllowedOrigins: origins,
		AllowedMethods: splitList(strings.ToUpper(or(getenv("CAIRN_CORS_METHODS"), "GET,PUT,POST,DELETE,HEAD"))),
		AllowedHeaders: splitList(or(getenv("CAIRN_CORS_ALLOW_HEADERS"), "*")),
		ExposeHeaders:  splitList(or(getenv("CAIRN_CORS_EXPOSE_HEADERS"), "ETag,x-amz-request-id,x-amz-version-id")),
	}
	if s := getenv("CAIRN_CORS_MAX_AGE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("CAIRN_CORS_MAX_AGE=%q: want a number of seconds", s)
		}
		r.MaxAgeSeconds = n
	}
	rules := []s3fs.CORSRule{r}
	if err := s3fs.ValidateCORS(rules); err != nil {
		return nil, fmt.Errorf("CAIRN_CORS_*: %w", err)
	}
	return rules, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// lifecycleCounts names what a lifecycle run did.
func lifecycleCounts(st s3fs.LifecycleStats) map[string]int64 {
	return map[string]int64{"scanned": st.Scanned, "expired": st.Expired, "noncurrentExpired": st.NoncurrentExpired,
		"deleteMarkersRemoved": st.MarkersRemoved, "uploadsAborted": st.UploadsAborted, "errors": st.Errors}
}

// registerLifecycleMetrics exposes the lifecycle counters of b.
func registerLifecycleMetrics(reg prometheus.Registerer, b *s3fs.FS) {
	for name, help := range map[string]string{
		"scanned":              "objects, versions and uploads lifecycle rules looked at",
		"expired":              "current object versions expired by lifecycle rules",
		"noncurrentExpired":    "noncurrent versions removed by lifecycle rules",
		"deleteMarkersRemoved": "expired delete markers removed by lifecycle rules",
		"uploadsAborted":       "incomplete multipart uploads aborted by lifecycle rules",
		"errors":               "lifecycle actions that failed (locked versions among them)",
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "cairn", Subsystem: "lifecycle", Name: snake(name) + "_total", Help: help,
		}, func() float64 { return float64(lifecycleCounts(b.LifecycleTotals())[name]) }))
	}
}

// snake turns a camelCase name into snake_case.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// adminQuotaErr gives the admin API the errors of s3fs's quota calls it
// knows.
func adminQuotaErr(err error) error {
	switch {
	case errors.Is(err, s3fs.ErrNoSuchQuota):
		return adminapi.ErrNoQuota
	case errors.Is(err, s3fs.ErrNoSuchBucket):
		return fmt.Errorf("%w: %v", adminapi.ErrNoSuchBucket, err)
	}
	return err
}
