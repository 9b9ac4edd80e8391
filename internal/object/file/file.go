// Package file is an object.Store over a local directory: each key is a
// file under the root (key "a/b" is ROOT/a/b). Puts write a temporary file
// in the same directory, fsync it, rename it into place and sync the
// directory (shared by concurrent Puts), so a crash never leaves a partial
// object under a key and a Put that returned survives a power cut.
// Objects and directories are readable by the owner only.
package file

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cairn/internal/object"
)

// Store is a directory of objects.
type Store struct {
	root string
	// NoSync skips fsync of objects and directories (benchmarks, tests).
	noSync bool
	direct bool
	seq    atomic.Uint64 // temporary names, with pid: unique per process
	pid    string
	owner  string   // "-<pid>-<host>" ending every temporary name of this process
	live   sync.Map // temporary files this process is writing: never swept
	dirs   dirSyncs // directory syncs shared by concurrent Puts
}

// Options tune a Store.
type Options struct {
	// NoSync skips the fsync of objects and of their directories.
	// Objects then survive a process crash but not a power loss.
	NoSync bool
	// DirectIO writes whole in-memory objects with O_DIRECT. That skips
	// the page-cache copy and the kernel's write-back work, so writes need
	// far less CPU (large S3 PUTs 1.2x faster here). Once synced, the
	// kernel is asked to read the object into the page cache in the
	// background (a DMA read, next to no CPU), so that fresh data is
	// still read from memory; see docs/benchmarks.md. The store then
	// refuses Append. Off: buffered writes followed by fsync.
	DirectIO bool
}

// New returns a store rooted at dir, creating it when missing.
func New(dir string, opt Options) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := mkdirAll("", abs, opt.NoSync); err != nil {
		return nil, fmt.Errorf("object/file: %w", err)
	}
	return &Store{root: abs, noSync: opt.NoSync, direct: opt.DirectIO, pid: strconv.Itoa(os.Getpid()), owner: tempOwner(os.Getpid())}, nil
}

const tmpSuffix = ".tmp-"

func (s *Store) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\x00") {
		return "", fmt.Errorf("object/file: invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.Contains(seg, tmpSuffix) {
			return "", fmt.Errorf("object/file: invalid key %q", key)
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Get implements object.Store.
func (s *Store) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	f, err := s.OpenFile(ctx, key)
	if err != nil {
		return nil, err
	}
	if length < 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, length), f}, nil
}

// Put implements object.Store.
func (s *Store) Put(ctx context.Context, key string, body io.Reader) error {
	return s.put(ctx, key, body, !s.noSync)
}

// PutUnsynced implements object.BatchSyncer: Put without the fsync.
func (s *Store) PutUnsynced(ctx context.Context, key string, body io.Reader) error {
	return s.put(ctx, key, body, false)
}

// Sync implements object.BatchSyncer: fdatasync of each key's file, eight
// at a time, so that their writeback and journal commits overlap.
func (s *Store) Sync(ctx context.Context, keys []string) error {
	if s.noSync || len(keys) == 0 {
		return nil
	}
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(keys))
	for _, k := range keys {
		p, err := s.path(k)
		if err != nil {
			return err
		}
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			f, err := os.Open(p)
			if err == nil {
				err = datasync(f)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				err = fmt.Errorf("object/file: sync %s: %w", k, err)
			}
			errs <- err
		}()
	}
	var first error
	for range keys {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return s.syncDirs(keys)
}

// SyncRemoved implements object.RemoveSyncer: it syncs the directories
// that held keys, each once.
func (s *Store) SyncRemoved(ctx context.Context, keys []string) error {
	return s.syncDirs(keys)
}

// syncDirs syncs the directories holding keys, each once, side by side.
func (s *Store) syncDirs(keys []string) error {
	if s.noSync {
		return nil
	}
	seen := make(map[string]bool, len(keys))
	var dirs []string
	for _, k := range keys {
		p, err := s.path(k)
		if err != nil {
			return err
		}
		if d := filepath.Dir(p); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 1 {
		return s.syncDir(dirs[0])
	}
	errs := make(chan error, len(dirs))
	for _, d := range dirs {
		go func() { errs <- s.syncDir(d) }()
	}
	var first error
	for range dirs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// syncDir makes the entries of dir durable (shared with concurrent
// callers), unless NoSync.
func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	if err := s.dirs.sync(dir); err != nil {
		return fmt.Errorf("object/file: sync directory %s: %w", dir, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, key string, body io.Reader, sync bool) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if bb, ok := body.(*object.BytesBody); ok && s.direct {
		if done, err := s.putDirect(dir, p, bb.Bytes(), sync); done {
			if err != nil {
				return fmt.Errorf("object/file: put %s: %w", key, err)
			}
			if sync {
				return s.syncDir(dir)
			}
			return nil
		}
	}
	f, err := s.createTemp(p)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer s.live.Delete(tmp)
	_, err = io.Copy(f, body)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && !sync && !s.noSync {
		// A batch Sync follows: start the write-back now, so that the
		// disk writes this block while the next ones are received.
		startWriteback(f, 0, 0)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("object/file: put %s: %w", key, err)
	}
	if sync {
		return s.syncDir(dir)
	}
	return nil
}

// putDirect writes an in-memory body with O_DIRECT to a temporary name and
// renames it into place; done=false means it could not be used.
func (s *Store) putDirect(dir, p string, b []byte, sync bool) (done bool, err error) {
	tmp := s.tempPath(p)
	s.live.Store(tmp, struct{}{})
	defer s.live.Delete(tmp)
	done, err = writeDirect(tmp, b, sync)
	if errors.Is(err, fs.ErrNotExist) {
		if err = mkdirAll(s.root, dir, s.noSync); err == nil {
			done, err = writeDirect(tmp, b, sync)
		}
	}
	if !done || err != nil {
		return done, err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return true, err
	}
	return true, nil
}

// ReadFull implements object.FullReader: the whole object into p, asking
// the kernel to read all of it ahead first.
func (s *Store) ReadFull(ctx context.Context, key string, p []byte, each func(off int, piece []byte)) (int, error) {
	path, err := s.path(key)
	if err != nil {
		return 0, err
	}
	n, ok, err := readWhole(path, p, each)
	if ok {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, object.ErrNotExist
		}
		return n, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, object.ErrNotExist
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return object.ReadPieces(f, p, each)
}

// writebackStep is how many bytes an appended object takes before their
// write-back to the disk is started.
const writebackStep = 1 << 20

// Append implements object.Appender: a temporary file in hint's
// directory, renamed to its key by Commit. The write-back of its pages is
// started every writebackStep bytes, so that the disk writes the object
// while the rest of it arrives, and a sync at the end has little left.
func (s *Store) Append(ctx context.Context, hint string) (object.ObjectWriter, error) {
	if s.direct {
		return nil, object.ErrNoAppend
	}
	p, err := s.path(hint)
	if err != nil {
		return nil, err
	}
	f, err := s.createTemp(p)
	if err != nil {
		return nil, err
	}
	return &appendFile{s: s, f: f}, nil
}

// createTemp creates a temporary file beside path p (a name List skips),
// creating its directory when missing, and registers it as live until the
// caller removes it from s.live.
func (s *Store) createTemp(p string) (*os.File, error) {
	dir := filepath.Dir(p)
	tmp := s.tempPath(p)
	create := func() (*os.File, error) { return os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) }
	f, err := create()
	if errors.Is(err, fs.ErrNotExist) {
		if err = mkdirAll(s.root, dir, s.noSync); err == nil {
			f, err = create()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("object/file: %w", err)
	}
	s.live.Store(f.Name(), struct{}{})
	return f, nil
}

type appendFile struct {
	s       *Store
	f       *os.File
	n       int64 // bytes written
	started int64 // bytes whose write-back was started
	err     error
}

func (a *appendFile) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	n, err := a.f.Write(p)
	a.n += int64(n)
	if err != nil {
		a.err = fmt.Errorf("object/file: %w", err)
		return n, a.err
	}
	if !a.s.noSync && a.n-a.started >= writebackStep {
		startWriteback(a.f, a.started, a.n-a.started)
		a.started = a.n
	}
	return n, nil
}

func (a *appendFile) Commit(key string, sync bool) error {
	p, err := a.s.path(key)
	if err == nil {
		err = a.err
	}
	if err == nil && !a.s.noSync {
		if sync {
			err = a.f.Sync()
		} else if a.n > a.started {
			startWriteback(a.f, a.started, a.n-a.started)
		}
	}
	tmp := a.f.Name()
	defer a.s.live.Delete(tmp)
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Rename(tmp, p); errors.Is(err, fs.ErrNotExist) {
			if err = mkdirAll(a.s.root, filepath.Dir(p), a.s.noSync); err == nil {
				err = os.Rename(tmp, p)
			}
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("object/file: commit %s: %w", key, err)
	}
	if sync {
		return a.s.syncDir(filepath.Dir(p))
	}
	return nil
}

func (a *appendFile) Abort() {
	a.f.Close()
	os.Remove(a.f.Name())
	a.s.live.Delete(a.f.Name())
}

// SweepTemp implements object.TempSweeper: it removes the temporary files
// of writers that died (a killed process leaves its half-written objects
// under temporary names, which nothing else removes). A temporary name
// ends with its writer's pid and host: one of a process of this host that
// no longer exists goes at once; any other (another host's, or one whose
// pid now names another process) once it has not been written for
// olderThan. Temporary files this process is writing are never removed,
// whatever their age; another live process's file idle for longer than
// olderThan would be (its commit then fails: nothing is lost that was
// stored).
func (s *Store) SweepTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	n := 0
	err := filepath.WalkDir(s.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.Contains(d.Name(), tmpSuffix) {
			return nil
		}
		if _, live := s.live.Load(path); live {
			return nil
		}
		if !s.writerGone(d.Name()) {
			fi, err := d.Info()
			if err != nil || !fi.ModTime().Before(cutoff) {
				return nil
			}
		}
		if err := os.Remove(path); err == nil {
			n++
		}
		return nil
	})
	return n, err
}

// tempPath returns a new temporary name beside p: p.tmp-SEQ-PID-HOST.
func (s *Store) tempPath(p string) string {
	return p + tmpSuffix + strconv.FormatUint(s.seq.Add(1), 36) + s.owner
}

// tempOwner is the end of the temporary names of process pid of this
// host: "-PID-HOST", HOST a hash of the host name and of the PID
// namespace (pidSpace): a writer in another namespace — another
// container on this host, even one with the host's name — has another
// HOST, so its pid is never looked for in this one.
func tempOwner(pid int) string {
	host, _ := os.Hostname()
	h := fnv.New32a()
	h.Write([]byte(host + "\x00" + pidSpace()))
	return "-" + strconv.Itoa(pid) + "-" + strconv.FormatUint(uint64(h.Sum32()), 36)
}

// writerGone reports whether the temporary file name was written by a
// process of this host that has ended.
func (s *Store) writerGone(name string) bool {
	i := strings.LastIndex(name, tmpSuffix)
	parts := strings.Split(name[i+len(tmpSuffix):], "-")
	if len(parts) != 3 {
		return false // another layout (an older version): age decides
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 || tempOwner(pid) != "-"+parts[1]+"-"+parts[2] {
		return false
	}
	return pid != os.Getpid() && processGone(pid)
}

// OpenFile implements object.LocalFiles.
func (s *Store) OpenFile(ctx context.Context, key string) (*os.File, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, object.ErrNotExist
	}
	return f, err
}

// Head implements object.Store.
func (s *Store) Head(ctx context.Context, key string) (object.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return object.Info{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
		return object.Info{}, object.ErrNotExist
	}
	if err != nil {
		return object.Info{}, err
	}
	return object.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements object.Store. Emptied directories are left in place;
// they are few (hash prefixes) and reused.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("object/file: %w", err)
	}
	return nil
}

// List implements object.Store. It walks the directories that can hold
// keys with prefix in key order, skipping subtrees entirely before
// startAfter.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) ([]object.Info, bool, error) {
	var out []object.Info
	more := false
	errStop := errors.New("stop")
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		names := make([]string, 0, len(ents))
		isDir := make(map[string]bool, len(ents))
		for _, e := range ents {
			n := e.Name()
			if strings.Contains(n, tmpSuffix) {
				continue
			}
			key := rel + n
			if e.IsDir() {
				key += "/"
				isDir[key] = true
			}
			names = append(names, key)
		}
		sort.Strings(names)
		for _, key := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			if isDir[key] {
				if !strings.HasPrefix(key, prefix) && !strings.HasPrefix(prefix, key) {
					continue
				}
				if startAfter >= key && !strings.HasPrefix(startAfter, key) {
					continue
				}
				if err := walk(filepath.Join(dir, filepath.Base(key)), key); err != nil {
					return err
				}
				continue
			}
			if !strings.HasPrefix(key, prefix) || key <= startAfter {
				continue
			}
			if limit > 0 && len(out) == limit {
				more = true
				return errStop
			}
			fi, err := os.Stat(filepath.Join(dir, filepath.Base(key)))
			if err != nil {
				continue // deleted meanwhile
			}
			out = append(out, object.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		return nil
	}
	if err := walk(s.root, ""); err != nil && err != errStop {
		return nil, false, err
	}
	return out, more, nil
}

// String implements object.Store.
func (s *Store) String() string { return "file://" + s.root }

// The capabilities of the file backend.
var (
	_ object.Store        = (*Store)(nil)
	_ object.BatchSyncer  = (*Store)(nil)
	_ object.FullReader   = (*Store)(nil)
	_ object.Appender     = (*Store)(nil)
	_ object.LocalFiles   = (*Store)(nil)
	_ object.TempSweeper  = (*Store)(nil)
	_ object.RemoveSyncer = (*Store)(nil)
)
