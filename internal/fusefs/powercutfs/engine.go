//go:build linux

package powercutfs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// config is what an engine needs to mount; it crosses to a server process
// as JSON.
type config struct {
	Lower      string
	Mountpoint string
	ShadowDir  string
	Debug      bool
	Level      slog.Level // the least severe level the caller's logger takes
}

// engine is the file system itself: the FUSE server, the records of what
// is durable, and the cut. It runs in the process that serves the mount.
type engine struct {
	lower      string // absolute, symlinks resolved
	mountpoint string
	shadowDir  string
	sameFS     bool // shadowDir and lower are on one file system
	log        *slog.Logger

	server  *fuse.Server
	rootOps *node
	connDev uint64 // st_dev of the mount; its minor names the fusectl connection

	// opMu is held shared by every FUSE operation while it runs, and
	// exclusively by drain to wait for those in flight; dead, set first,
	// makes every later operation fail with EIO.
	opMu sync.RWMutex
	dead atomic.Bool

	// nsMu guards the namespace: recs, nextID, every dirState, and
	// makes each namespace operation on lower atomic with its update.
	nsMu   sync.Mutex
	nextID uint64
	recs   map[uint64]*record
	root   *record

	// hmu guards handles: the open lower descriptors, closed at the end.
	hmu     sync.Mutex
	handles map[*handle]struct{}

	stats struct {
		syncs, dirSyncs, synced, saved, forgottenBytes, forgottenEntries atomic.Int64
	}
}

// mountEngine scans cfg.Lower and mounts it at cfg.Mountpoint.
func mountEngine(cfg config, log *slog.Logger) (*engine, error) {
	abs, err := filepath.Abs(cfg.Lower)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("powercutfs: lower %s: %w", cfg.Lower, err)
	}
	base := cfg.ShadowDir
	if base == "" {
		base = os.TempDir()
	}
	shadow, err := os.MkdirTemp(base, "powercutfs-shadow-")
	if err != nil {
		return nil, fmt.Errorf("powercutfs: shadow dir: %w", err)
	}
	f := &engine{
		lower: abs, mountpoint: cfg.Mountpoint, shadowDir: shadow,
		sameFS: sameDevice(abs, shadow), log: log,
		recs: map[uint64]*record{}, handles: map[*handle]struct{}{},
	}
	if err := f.scan(); err != nil {
		os.RemoveAll(shadow)
		return nil, err
	}
	if err := f.mount(cfg.Debug); err != nil {
		os.RemoveAll(shadow)
		return nil, err
	}
	return f, nil
}

// mount starts the FUSE server on f.mountpoint.
func (f *engine) mount(debug bool) error {
	f.rootOps = &node{fsys: f, rec: f.root}
	timeout := time.Second
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:      f.lower,
			Name:        "powercutfs",
			MaxWrite:    fuse.MAX_KERNEL_WRITE,
			DirectMount: true,
			Debug:       debug,
			Logger:      slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
		},
		EntryTimeout:   &timeout,
		AttrTimeout:    &timeout,
		RootStableAttr: &fs.StableAttr{Ino: f.root.id, Gen: 1},
		Logger:         slog.NewLogLogger(f.log.Handler(), slog.LevelWarn),
	}
	server, err := fs.Mount(f.mountpoint, f.rootOps, opts)
	if err != nil {
		return fmt.Errorf("powercutfs: mount %s: %w", f.mountpoint, err)
	}
	f.server = server
	var st syscall.Stat_t
	if err := syscall.Stat(f.mountpoint, &st); err != nil {
		f.log.Warn("powercutfs: stat of mount failed; Cut cannot abort the connection", "err", err)
	} else {
		f.connDev = st.Dev
	}
	ensureFusectl(f.log)
	return nil
}

// cut is FS.Cut in the serving process.
func (f *engine) cut() error {
	f.dead.Store(true)
	abortErr := f.abort()
	if abortErr != nil {
		f.log.Warn("powercutfs: abort failed; relying on the dead flag", "err", abortErr)
	}
	f.drain()
	f.closeHandles()
	f.noteForgotten()
	err := f.detach()
	f.waitServer(abortErr == nil)
	err = errors.Join(err, f.rebuild())
	return errors.Join(err, os.RemoveAll(f.shadowDir))
}

// unmount is FS.Unmount in the serving process.
func (f *engine) unmount() error {
	err := f.server.Unmount()
	if err != nil {
		f.log.Info("powercutfs: clean unmount failed; aborting", "err", err)
		f.dead.Store(true)
		abortErr := f.abort()
		err = f.detach()
		f.waitServer(abortErr == nil)
	}
	f.dead.Store(true)
	f.drain()
	f.closeHandles()
	return errors.Join(err, os.RemoveAll(f.shadowDir))
}

func (f *engine) statsNow() Stats {
	return Stats{
		Syncs:            f.stats.syncs.Load(),
		DirSyncs:         f.stats.dirSyncs.Load(),
		SyncedBytes:      f.stats.synced.Load(),
		SavedBytes:       f.stats.saved.Load(),
		ForgottenBytes:   f.stats.forgottenBytes.Load(),
		ForgottenEntries: f.stats.forgottenEntries.Load(),
	}
}

// enter starts an operation; false means the engine is dead and the
// operation must fail with EIO without touching lower. Every true is
// paired with exit.
func (f *engine) enter() bool {
	f.opMu.RLock()
	if f.dead.Load() {
		f.opMu.RUnlock()
		return false
	}
	return true
}

func (f *engine) exit() { f.opMu.RUnlock() }

// drainLimit bounds how long a cut waits for operations in flight. Only
// an operation blocked in lower (opening a FIFO with no writer, say) takes
// long; the cut then goes on without it.
const drainLimit = 30 * time.Second

// drain waits for the operations in flight to end, once dead is set: they
// hold opMu shared, and later ones fail when they see dead.
func (f *engine) drain() {
	done := make(chan struct{})
	go func() {
		f.opMu.Lock()
		f.opMu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(drainLimit):
		f.log.Error("powercutfs: operations still running in lower; cutting anyway", "waited", drainLimit)
	}
}

// noteForgotten records in the stats what the cut throws away.
func (f *engine) noteForgotten() {
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	var bytes, entries int64
	for _, r := range f.recs {
		switch r.kind {
		case kindDir:
			entries += r.dir.forgotten()
		case kindFile:
			r.mu.Lock()
			bytes += r.data.unsynced
			r.mu.Unlock()
		}
	}
	f.stats.forgottenBytes.Store(bytes)
	f.stats.forgottenEntries.Store(entries)
}

func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev
}

// errnoOf converts an error from a system call to the errno FUSE returns;
// anything that is not an errno becomes EIO.
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}
