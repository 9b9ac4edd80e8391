package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/etcdkv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/meta/kv/rediskv"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/object"
	"cairn/internal/object/file"
	"cairn/internal/object/mem"
	s3store "cairn/internal/object/s3"
	"cairn/internal/vfs"
)

// openStore opens the metadata engine a META-URL names, committing with
// durability d (the zero value is full).
func openStore(ctx context.Context, metaURL string, d durability) (kv.Store, error) {
	scheme, _, ok := strings.Cut(metaURL, "://")
	if !ok {
		return nil, fmt.Errorf("%q is not a META-URL; use sqlite3://PATH (for example sqlite3://data/meta.db), postgres://, mysql://, redis:// or etcd://", metaURL)
	}
	switch scheme {
	case "sqlite3", "sqlite":
		return sqlkv.Open(ctx, metaURL, sqlkv.Options{Relaxed: d.relaxed()})
	case "mem", "memkv":
		return memkv.New(), nil
	case "postgres", "postgresql", "mysql":
		return sqlkv.OpenDB(ctx, metaURL, sqlkv.Options{Relaxed: d.relaxed()})
	case "redis", "rediss":
		s, err := rediskv.Open(ctx, metaURL)
		if err != nil {
			return nil, err
		}
		if !d.relaxed() {
			// Redis acknowledges a write before it is on disk unless
			// told otherwise: refuse to promise what it will not keep.
			durable, setting, err := s.Persistence(ctx)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("redis: cannot read the server's persistence settings (CONFIG GET): %v; pass --durability relaxed to run without checking", err)
			}
			if !durable {
				s.Close()
				return nil, fmt.Errorf("redis: the server keeps writes with %s, so an acknowledged write can be lost on power loss; set appendonly yes and appendfsync always in redis.conf (or CONFIG SET), or pass --durability relaxed to accept that", setting)
			}
		}
		return s, nil
	case "etcd":
		// etcd acknowledges a write once a majority has it fsynced.
		return etcdkv.Open(ctx, metaURL)
	case "tikv", "fdb":
		return nil, fmt.Errorf("metadata engine %q is not available in this version; docs/scaling.md says what it would take", scheme)
	}
	return nil, fmt.Errorf("unknown metadata engine %q in %q; use sqlite3://, postgres://, mysql://, redis:// or etcd://", scheme, kv.RedactURL(metaURL))
}

// openObjects opens the object store a volume's format names.
func openObjects(ctx context.Context, f meta.Format, directIO bool) (object.Store, error) {
	switch f.Storage {
	case "file":
		s, err := file.New(f.Bucket, file.Options{DirectIO: directIO})
		if err != nil {
			return nil, err
		}
		return object.WithRetry(s, object.RetryOptions{}), nil
	case "mem":
		return mem.New(), nil
	case "s3":
		cfg := s3store.Config{URL: f.Bucket, AccessKey: f.AccessKey, SecretKey: f.SecretKey}
		if cfg.AccessKey == "" {
			cfg.AccessKey = firstEnv("CAIRN_STORAGE_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
			cfg.SecretKey = firstEnv("CAIRN_STORAGE_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")
			cfg.SessionToken = os.Getenv("AWS_SESSION_TOKEN")
		}
		s, err := s3store.New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		// Six tries over about six seconds: a restarting or throttling
		// service is waited for; a dead one is an error (EIO, S3
		// InternalError) rather than a hang.
		return object.WithRetry(s, object.RetryOptions{Attempts: 6, Base: 100 * time.Millisecond}), nil
	}
	return nil, fmt.Errorf("storage %q is not available in this version (use file or s3)", f.Storage)
}

// firstEnv returns the first of the variables that is set.
func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// volume is an opened volume with every layer wired.
type volume struct {
	store  kv.Store
	meta   *meta.FS
	chunks *chunk.Store
	vfs    *vfs.FS
}

type volumeOptions struct {
	logger     *slog.Logger
	session    string // process description; empty: no session
	mountpoint string // where the process mounts the volume, if it does
	// renewSession: a session the others ended is registered again
	// (meta.Options.RenewLostSession).
	renewSession bool
	// sessionTimeout: meta.Options.SessionTimeout (0: the default).
	sessionTimeout time.Duration
	cache          int64
	directIO       bool // file block store: O_DIRECT writes
	durable        durability
	// noSweeper: no background deletion or reclaiming (fsck reports
	// the volume as it is).
	noSweeper bool
}

func openVolume(ctx context.Context, metaURL string, opt volumeOptions) (*volume, error) {
	if opt.sessionTimeout != 0 && opt.sessionTimeout < minSessionTimeout {
		return nil, fmt.Errorf("--session-timeout %s: at least %s", opt.sessionTimeout, minSessionTimeout)
	}
	store, err := openStore(ctx, metaURL, opt.durable)
	if err != nil {
		return nil, err
	}
	m, err := meta.Open(ctx, store, meta.Options{Logger: opt.logger, ProcessGone: processGone,
		RenewLostSession: opt.renewSession, SessionTimeout: opt.sessionTimeout})
	if err != nil {
		store.Close()
		if errors.Is(err, meta.ErrNotFormatted) {
			return nil, fmt.Errorf("%s holds no volume; create one with: cairn format %s NAME", metaURL, metaURL)
		}
		return nil, err
	}
	objs, err := openObjects(ctx, m.Format(), opt.directIO)
	if err != nil {
		m.Close()
		store.Close()
		return nil, err
	}
	c := chunk.New(objs, chunk.Options{BlockSize: m.Format().BlockSize, CacheSize: opt.cache, Logger: opt.logger})
	v := &volume{store: store, meta: m, chunks: c}
	if opt.session != "" {
		if _, err := m.NewSession(ctx, sessionInfo(opt.session, opt.mountpoint)); err != nil {
			v.close(ctx)
			return nil, err
		}
	}
	vo := vfs.Options{Logger: opt.logger}
	if opt.noSweeper {
		vo.SweepInterval = -1
	}
	v.vfs = vfs.New(m, c, vo)
	return v, nil
}

// minSessionTimeout is the shortest --session-timeout: a heartbeat every
// second.
const minSessionTimeout = 5 * time.Second

// sessionCloseTimeout bounds how long a client's shutdown waits for the
// metadata engine to take the end of its session.
const sessionCloseTimeout = 10 * time.Second

func (v *volume) close(ctx context.Context) error {
	var errs []error
	if v.vfs != nil {
		errs = append(errs, v.vfs.Close())
	}
	if v.meta.SessionID() != 0 {
		// A session left behind when the engine does not answer is
		// cleaned up by the other clients after the session timeout:
		// the close does not wait for the engine longer than this.
		cctx, cancel := context.WithTimeout(ctx, sessionCloseTimeout)
		if err := v.meta.CloseSession(cctx); err != nil {
			errs = append(errs, fmt.Errorf("ending the session: %w", err))
		}
		cancel()
	}
	errs = append(errs, v.chunks.Close(), v.meta.Close(), v.store.Close())
	return errors.Join(errs...)
}

// defaultBucket is where a file-backed volume keeps its blocks when
// --bucket is not given: next to the SQLite database, else ./blocks.
func defaultBucket(metaURL string) string {
	if p, ok := strings.CutPrefix(metaURL, "sqlite3://"); ok {
		return filepath.Join(filepath.Dir(p), "blocks")
	}
	return "blocks"
}

// sessionInfo describes this process's session: process says what it is
// ("mount /mnt/x", "gateway :9000").
func sessionInfo(process, mountpoint string) meta.SessionInfo {
	host, _ := os.Hostname()
	return meta.SessionInfo{Host: host, PID: os.Getpid(), PIDSpace: pidSpace(), Version: version, Process: process, Mountpoint: mountpoint}
}

// pidSpace names the PID namespace of this process and the boot of its
// kernel: two processes can compare pids only when it is the same for
// both. "" when /proc does not tell.
func pidSpace() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

// processGone reports whether a session's process is known to have ended:
// it ran on this host, in this PID namespace, and no process has its pid
// now. A session of another namespace (a container, even one with this
// host's name) or of a client that did not record its namespace is left
// to its heartbeat's timeout, and so is one whose pid another process
// took.
func processGone(s meta.SessionInfo) bool {
	self, err := os.Hostname()
	if err != nil || s.Host != self || s.PID <= 0 || s.PID == os.Getpid() || s.PIDSpace == "" || s.PIDSpace != pidSpace() {
		return false
	}
	return unix.Kill(s.PID, 0) == unix.ESRCH
}
