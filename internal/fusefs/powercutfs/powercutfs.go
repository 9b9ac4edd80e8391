//go:build linux

package powercutfs

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
)

// ErrClosed is returned by Cut and Unmount once either has run.
var ErrClosed = errors.New("powercutfs: already cut or unmounted")

// Options configure Mount. The zero value is ready to use.
type Options struct {
	// Logger receives diagnostics: failures that become EIO, anomalies (a
	// name in lower not made through the mount, a directory with two
	// durable names), and the server process's own output. Nil discards
	// (the server's crash output then goes to this process's stderr).
	Logger *slog.Logger

	// ShadowDir is where Mount makes its private directory of durable
	// copies of changed files; Cut and Unmount remove it. Default:
	// os.TempDir(). On lower's file system, removing the last name of a
	// file from before the mount costs a hard link instead of a copy, and
	// Cut moves shadows into place instead of copying them.
	ShadowDir string

	// InProcess serves the mount from this process instead of a server
	// process. Only safe when this process never touches the mount by
	// memory mapping (SQLite's WAL index, mmapped reads) nor starts
	// children with their directory on it: a page fault or a forked
	// child waiting on the mount while the Go runtime stops the world
	// deadlocks the process. See the package documentation.
	InProcess bool

	// Debug logs every FUSE request and reply (go-fuse's debug output)
	// to Logger at level Debug.
	Debug bool
}

// Stats count what the FS saw.
type Stats struct {
	Syncs            int64 // fsync and fdatasync of files, and writes to O_SYNC/O_DSYNC files
	DirSyncs         int64 // fsync of directories
	SyncedBytes      int64 // bytes copied into shadow files at syncs
	SavedBytes       int64 // bytes copied to save a file from before the mount before its first change
	ForgottenBytes   int64 // set by Cut: bytes written since their file's last sync
	ForgottenEntries int64 // set by Cut: directory entries changed since their directory's last fsync
}

// server is what serves a mount: an engine in this process, or a server
// process.
type server interface {
	cut() error
	unmount() error
	statsNow() Stats
}

// FS is a mounted pass-through of a lower directory that can forget
// everything not made durable; see the package documentation. Its methods
// are safe for concurrent use with each other and with the file system's
// users.
type FS struct {
	srv  server
	done atomic.Bool // Cut or Unmount has started
}

// Mount mounts a pass-through of lower at mountpoint; both must be existing
// directories, and lower must not change except through the mount until
// Cut or Unmount. Everything in lower at the time of the call counts as
// durable. Unless opt.InProcess, the mount is served by a new process
// running this program's executable (see the package documentation). The
// caller must end the FS with Cut or Unmount. An error matching
// fs.ErrPermission (or saying "permission denied") means FUSE is not
// available to this process.
func Mount(lower, mountpoint string, opt Options) (*FS, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := config{
		Lower: lower, Mountpoint: mountpoint, ShadowDir: opt.ShadowDir,
		Debug: opt.Debug, Level: leastLevel(log),
	}
	var srv server
	var err error
	if opt.InProcess {
		srv, err = mountEngine(cfg, log)
	} else {
		srv, err = startServer(cfg, log, opt.Logger == nil)
	}
	if err != nil {
		return nil, err
	}
	return &FS{srv: srv}, nil
}

// Cut simulates a power cut. It aborts the FUSE connection at once, so that
// every later operation on the mount (including on descriptors already
// open) fails and nothing more reaches lower; waits for operations already
// running in the server; removes the mount (lazily, so open files do not
// stop it); and rewrites lower to its durable state before it returns.
// After Cut the FS is unusable: Mount again for the next round. An error
// means lower may be only partly rewritten.
func (f *FS) Cut() error {
	if f.done.Swap(true) {
		return ErrClosed
	}
	return f.srv.cut()
}

// Unmount unmounts cleanly and keeps lower as it is (nothing is forgotten).
// If files are still open on the mount, the connection is aborted and the
// mount removed lazily instead, as in Cut but without rewriting lower.
func (f *FS) Unmount() error {
	if f.done.Swap(true) {
		return ErrClosed
	}
	return f.srv.unmount()
}

// Stats returns the counters so far; after Cut or Unmount, their final
// values.
func (f *FS) Stats() Stats { return f.srv.statsNow() }

// leastLevel is the least severe level log takes, so that a server process
// only sends what will be kept.
func leastLevel(log *slog.Logger) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if log.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError + 4
}
