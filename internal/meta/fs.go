package meta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"cairn/internal/acl"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// ChunkSize is the span of file offsets one chunk covers.
const ChunkSize = 64 << 20

// MaxNameLen is the longest name a directory entry may have, in bytes.
const MaxNameLen = 255

// MaxSymlinkLen is the longest symlink target, in bytes (PATH_MAX).
const MaxSymlinkLen = 4096

// Format describes a volume; it is written once by Format and read by every
// client that opens the volume.
type Format struct {
	Name    string `json:"name"`
	UUID    string `json:"uuid"`
	Storage string `json:"storage"`          // object store kind: "file", "mem", "s3"
	Bucket  string `json:"bucket,omitempty"` // object store location
	// AccessKey and SecretKey sign an s3 store's requests when given at
	// format time (else they come from the environment at every start).
	AccessKey string `json:"access_key,omitempty"`
	SecretKey string `json:"secret_key,omitempty"`
	BlockSize int    `json:"block_size"` // bytes per stored block
	// Capacity and Inodes limit the volume; 0 means unlimited.
	Capacity  uint64    `json:"capacity,omitempty"`
	Inodes    uint64    `json:"inodes,omitempty"`
	EnableACL bool      `json:"enable_acl"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
}

// Redacted returns f without its secret, for printing.
func (f Format) Redacted() Format {
	if f.SecretKey != "" {
		f.SecretKey = "(set)"
	}
	return f
}

// formatVersion is the metadata layout version this code writes.
const formatVersion = 1

// Sentinel errors.
var (
	// ErrNotFormatted means the store holds no volume.
	ErrNotFormatted = errors.New("meta: store holds no volume (run cairn format)")
	// ErrFormatted means Format found an existing volume.
	ErrFormatted = errors.New("meta: store already holds a volume")
	// ErrFeedTruncated means a change-feed consumer asked for records that
	// retention has already removed.
	ErrFeedTruncated = errors.New("meta: change feed position is older than the retained records")
)

// Options configure an FS. The zero value gives the documented defaults.
type Options struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Tests inject a clock.
	Now func() time.Time
	// SliceDeleteDelay is how long freed slices wait before their blocks are
	// deleted (so readers that resolved them a moment ago still succeed).
	// Default 10 minutes; negative means delete at the next sweep.
	SliceDeleteDelay time.Duration
	// FeedRetention is the number of change-feed records kept; default
	// 1,000,000.
	FeedRetention uint64
	// IDBatch is how many inode numbers or slice ids one client reserves at
	// a time; default 1000.
	IDBatch uint64
	// SessionTimeout is how long this client's session may miss
	// heartbeats before the other clients clean it up (it beats every
	// fifth of it, at most every 12 s); default DefaultSessionTimeout.
	SessionTimeout time.Duration
	// ProcessGone, when set, reports whether the process of a session
	// (its host, pid and pid space as recorded) is known to have ended: such a
	// session is cleaned up at once instead of after SessionTimeout (a
	// restarted server reclaims what its killed predecessor left at
	// once). It must answer false when it cannot tell.
	ProcessGone func(s SessionInfo) bool
	// RenewLostSession registers a client whose session the others ended
	// (it missed heartbeats) again under a new session, for clients that
	// buffer nothing across requests (a gateway). Off, such a client's
	// data changes fail with ErrSessionLost until it is restarted.
	RenewLostSession bool
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SliceDeleteDelay == 0 {
		o.SliceDeleteDelay = 10 * time.Minute
	}
	if o.FeedRetention == 0 {
		o.FeedRetention = 1_000_000
	}
	if o.IDBatch == 0 {
		o.IDBatch = 1000
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
}

// DefaultSessionTimeout is a session's timeout when its client sets none,
// and that of sessions recorded without one.
const DefaultSessionTimeout = 5 * time.Minute

// FS is the volume's metadata: every POSIX namespace operation, written once
// over a kv.Store. It is safe for concurrent use.
type FS struct {
	store kv.Store
	fmt   Format
	opts  Options
	log   *slog.Logger

	inodes idAllocator
	slices idAllocator

	aclMu      sync.RWMutex
	aclCache   map[uint32]*acl.Rule
	aclIDs     map[string]uint32 // canonical encoding -> id of committed ACLs
	aclChmod   map[uint64]uint32 // (id, permission bits) -> id after chmod
	aclInherit map[uint64]uint32 // (default ACL id, mode bits) -> id of the access ACL a new inode gets

	sessMu sync.Mutex
	sess   *session

	opens openTable
	// shards hands out the counter shards of transactions in flight.
	shards *shardPool
	// dirs queues this client's changes to one directory (nil: not on
	// an engine with one writer; see dirlock.go).
	dirs *dirLocks
}

// FormatVolume writes a new volume's settings and root directory into store. It
// fails with ErrFormatted when the store already holds a volume.
func FormatVolume(ctx context.Context, store kv.Store, f Format) (Format, error) {
	if f.Name == "" {
		return f, fmt.Errorf("meta: volume name is empty: %w", syscall.EINVAL)
	}
	if f.BlockSize == 0 {
		f.BlockSize = 4 << 20
	}
	if f.BlockSize < 64<<10 || f.BlockSize > 16<<20 || f.BlockSize&(f.BlockSize-1) != 0 {
		return f, fmt.Errorf("meta: block size %d must be a power of two between 64 KiB and 16 MiB: %w", f.BlockSize, syscall.EINVAL)
	}
	if f.UUID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return f, err
		}
		f.UUID = hex.EncodeToString(b[:])
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now().UTC()
	}
	f.Version = formatVersion
	enc, err := json.Marshal(f)
	if err != nil {
		return f, err
	}
	now := f.CreatedAt.UnixNano()
	root := posix.Attr{Type: posix.TypeDir, Mode: 0o777, Nlink: 2, Length: 4096,
		Atime: now, Mtime: now, Ctime: now, Parent: posix.RootIno}
	err = store.Update(ctx, func(tx kv.Tx) error {
		if _, err := tx.Get(configKey(cfgFormat)); err == nil {
			return ErrFormatted
		} else if !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		if err := tx.Put(configKey(cfgFormat), enc); err != nil {
			return err
		}
		if _, err := tx.Incr(configKey(cfgNextInode), int64(posix.RootIno)); err != nil {
			return err
		}
		if _, err := tx.Incr(configKey(cfgInodes), 1); err != nil {
			return err
		}
		return tx.Put(attrKey(posix.RootIno), encodeAttr(&root))
	})
	return f, err
}

// ReadFormat returns the settings of the volume in store.
func ReadFormat(ctx context.Context, store kv.Store) (Format, error) {
	var f Format
	err := store.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(configKey(cfgFormat))
		if errors.Is(err, kv.ErrNotFound) {
			return ErrNotFormatted
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &f)
	})
	if err == nil && f.Version > formatVersion {
		err = fmt.Errorf("meta: volume layout version %d is newer than this cairn understands (%d)", f.Version, formatVersion)
	}
	return f, err
}

// Open opens the volume in store. The caller must Close the FS.
func Open(ctx context.Context, store kv.Store, opts Options) (*FS, error) {
	opts.setDefaults()
	f, err := ReadFormat(ctx, store)
	if err != nil {
		return nil, err
	}
	m := &FS{store: store, fmt: f, opts: opts, log: opts.Logger, aclCache: make(map[uint32]*acl.Rule), aclIDs: make(map[string]uint32), aclChmod: make(map[uint64]uint32), aclInherit: make(map[uint64]uint32), shards: newShardPool()}
	if sw, ok := store.(interface{ SerialWriter() bool }); !ok || !sw.SerialWriter() {
		m.dirs = &dirLocks{m: map[posix.Ino]*dirLock{}}
	}
	m.inodes = idAllocator{key: configKey(cfgNextInode), batch: opts.IDBatch}
	m.slices = idAllocator{key: configKey(cfgNextSlice), batch: opts.IDBatch,
		record: func(tx kv.Tx, start, end uint64) error { return recordSliceRange(tx, m.SessionID(), start, end) }}
	return m, nil
}

// Format returns the volume's settings.
func (m *FS) Format() Format { return m.fmt }

// Store returns the kv.Store the volume lives in, for subsystems that keep
// their own state under their own key prefixes.
func (m *FS) Store() kv.Store { return m.store }

// Close ends the client's session (if any) and stops background work.
func (m *FS) Close() error {
	return m.CloseSession(context.Background())
}

func (m *FS) now() int64 { return m.opts.Now().UnixNano() }

// idAllocator hands out ids from batches reserved with one kv Incr each.
type idAllocator struct {
	key   []byte
	batch uint64
	// record, when set, runs in the reserving transaction with the
	// batch reserved, [start, end).
	record func(tx kv.Tx, start, end uint64) error
	mu     sync.Mutex
	next   uint64 // next id to hand out
	end    uint64 // first id not reserved
}

func (a *idAllocator) alloc(ctx context.Context, store kv.Store) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next < a.end {
		id := a.next
		a.next++
		return id, nil
	}
	var last int64
	err := store.Update(ctx, func(tx kv.Tx) error {
		var err error
		if last, err = tx.Incr(a.key, int64(a.batch)); err != nil || a.record == nil {
			return err
		}
		return a.record(tx, uint64(last)+1-a.batch, uint64(last)+1)
	})
	if err != nil {
		return 0, err
	}
	a.end = uint64(last) + 1
	a.next = a.end - a.batch
	id := a.next
	a.next++
	return id, nil
}

// NewSliceID reserves a volume-wide unique slice id.
func (m *FS) NewSliceID(ctx context.Context) (uint64, error) {
	return m.slices.alloc(ctx, m.store)
}

func (m *FS) newInode(ctx context.Context) (posix.Ino, error) {
	id, err := m.inodes.alloc(ctx, m.store)
	return posix.Ino(id), err
}

// getAttr reads an inode's attributes inside tx; a missing inode is ENOENT.
func getAttr(tx kv.Tx, ino posix.Ino) (posix.Attr, error) {
	b, err := tx.Get(attrKey(ino))
	if errors.Is(err, kv.ErrNotFound) {
		return posix.Attr{}, syscall.ENOENT
	}
	if err != nil {
		return posix.Attr{}, err
	}
	return decodeAttr(b)
}

func putAttr(tx kv.Tx, ino posix.Ino, a *posix.Attr) error {
	return tx.Put(attrKey(ino), encodeAttr(a))
}

// GetAttr returns the attributes of ino. No permission is needed (stat needs
// search permission on the path, which the caller checked while resolving).
func (m *FS) GetAttr(ctx context.Context, ino posix.Ino) (posix.Attr, error) {
	var a posix.Attr
	err := m.store.View(ctx, func(tx kv.Tx) error {
		var err error
		a, err = getAttr(tx, ino)
		return err
	})
	return a, err
}

// Entry is the result of a lookup or create: the inode and its attributes.
type Entry struct {
	Ino  posix.Ino
	Attr posix.Attr
}

// Lookup resolves name in directory parent. The caller needs search (x)
// permission on parent. "." and ".." are resolved too.
func (m *FS) Lookup(ctx context.Context, cred posix.Cred, parent posix.Ino, name string) (Entry, error) {
	var e Entry
	err := m.store.View(ctx, func(tx kv.Tx) error {
		pa, err := getAttr(tx, parent)
		if err != nil {
			return err
		}
		if pa.Type != posix.TypeDir {
			return syscall.ENOTDIR
		}
		if err := m.access(tx, cred, &pa, posix.MayExec); err != nil {
			return err
		}
		switch name {
		case ".":
			e = Entry{parent, pa}
			return nil
		case "..":
			e.Ino = pa.Parent
			if parent == posix.RootIno {
				e.Ino = posix.RootIno
			}
			e.Attr, err = getAttr(tx, e.Ino)
			return err
		}
		if len(name) > MaxNameLen {
			return syscall.ENAMETOOLONG
		}
		_, ino, err := lookupEntry(tx, parent, name)
		if err != nil {
			return err
		}
		e.Ino = ino
		e.Attr, err = getAttr(tx, ino)
		return err
	})
	return e, err
}

func lookupEntry(tx kv.Tx, parent posix.Ino, name string) (posix.FileType, posix.Ino, error) {
	b, err := tx.Get(dentryKey(parent, name))
	if errors.Is(err, kv.ErrNotFound) {
		return 0, 0, syscall.ENOENT
	}
	if err != nil {
		return 0, 0, err
	}
	return decodeDentry(b)
}

// Access checks whether cred may access ino with the rights in want
// (posix.MayRead|MayWrite|MayExec), as access(2) does. want 0 checks only
// existence.
func (m *FS) Access(ctx context.Context, cred posix.Cred, ino posix.Ino, want uint16) error {
	return m.store.View(ctx, func(tx kv.Tx) error {
		a, err := getAttr(tx, ino)
		if err != nil || want == 0 {
			return err
		}
		return m.access(tx, cred, &a, want)
	})
}

// access applies the permission rules to an inode inside tx.
func (m *FS) access(tx kv.Tx, cred posix.Cred, a *posix.Attr, want uint16) error {
	var rule *acl.Rule
	if a.AccessACL != 0 {
		var err error
		if rule, err = m.loadACL(tx, a.AccessACL); err != nil {
			return err
		}
	}
	return posix.Access(cred, a, rule, want)
}
