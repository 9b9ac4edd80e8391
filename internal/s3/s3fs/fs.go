package s3fs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// SystemDir is the hidden top-level directory where s3fs keeps temporary
// files of uploads in progress and multipart staging. Its name is not a
// valid bucket name, so it never shows as a bucket.
const SystemDir = ".cairn"

// metaXattr holds an object's S3 metadata as JSON (objMeta).
const metaXattr = "cairn.s3"

// Options configure an FS.
type Options struct {
	// FileMode and DirMode are the modes of the objects and directories
	// (buckets included) created over S3 (defaults 0644 and 0755); the
	// creator owns them. A request's own mode (PutOptions.Mode) wins.
	FileMode, DirMode uint32
	Logger            *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LifecycleDay is the length of a lifecycle rule's day (default 24
	// hours; tests shorten it).
	LifecycleDay time.Duration
}

// FS maps the S3 object model onto a vfs.FS: buckets are directories under
// the root, keys are paths, object metadata lives in internal xattrs. Every
// call runs as the given posix.Cred, so modes and ACLs apply.
type FS struct {
	v   *vfs.FS
	log *slog.Logger
	now func() time.Time

	fileMode, dirMode uint32
	lifecycleDay      time.Duration

	sysOnce sync.Mutex
	tmpIno  posix.Ino // .cairn/tmp
	upIno   posix.Ino // .cairn/uploads
	verIno  posix.Ino // .cairn/versions
	foldIno posix.Ino // .cairn/folded

	versions versionCache // buckets' versioning states
	lcTotals lifecycleTotals

	// gen counts this FS's writes (bumped before and after each), for
	// listing read-ahead; ahead holds the pages computed ahead.
	gen       atomic.Uint64
	ahead     aheadCache
	aheadHits atomic.Uint64 // pages served from read-ahead (tests)
}

// New returns an FS over v.
func New(v *vfs.FS, opts Options) *FS {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FileMode == 0 {
		opts.FileMode = 0o644
	}
	if opts.DirMode == 0 {
		opts.DirMode = 0o755
	}
	if opts.LifecycleDay <= 0 {
		opts.LifecycleDay = 24 * time.Hour
	}
	return &FS{v: v, log: opts.Logger, now: opts.Now, fileMode: opts.FileMode & 0o7777, dirMode: opts.DirMode & 0o7777,
		lifecycleDay: opts.LifecycleDay}
}

// objMeta is the stored S3 view of a file. Size and Mtime record the file
// state it describes: when the file is changed through a mount they no
// longer match and the ETag is recomputed.
type objMeta struct {
	ETag        string            `json:"etag"`
	ContentType string            `json:"ct,omitempty"`
	UserMeta    map[string]string `json:"meta,omitempty"`
	Headers     map[string]string `json:"hdr,omitempty"`
	Checksums   Checksums         `json:"ck,omitempty"`
	Parts       int               `json:"parts,omitempty"`
	PartSizes   []int64           `json:"psz,omitempty"`
	// PartChecksums are the parts' own checksums, for an upload made
	// with a checksum algorithm (GetObjectAttributes lists them).
	PartChecksums []Checksums `json:"pck,omitempty"`
	Size          uint64      `json:"sz"`
	Mtime         int64       `json:"mt"`
	DirMarker     bool        `json:"dir,omitempty"`
	Tags          []Tag       `json:"tags,omitempty"`
	// VersionID is the object's version id: "" for objects written
	// without versioning, "null" under suspended versioning.
	VersionID string `json:"vid,omitempty"`
	// DeleteMarker marks a delete marker (kept with noncurrent versions).
	DeleteMarker bool `json:"dm,omitempty"`
	// Object lock: retention mode and end (ns), legal hold (HoldSet: it
	// was ever set, so that GetObjectLegalHold answers OFF).
	LockMode  string `json:"lm,omitempty"`
	LockUntil int64  `json:"lu,omitempty"`
	LegalHold bool   `json:"lh,omitempty"`
	HoldSet   bool   `json:"lhs,omitempty"`
	// ACL is the object's S3 ACL; nil for the default, its file owner's
	// full control.
	ACL *ACL `json:"acl,omitempty"`
	// Folded, on a directory, tells that an object may be folded for it
	// (see fold.go).
	Folded bool `json:"fold,omitempty"`
	// MarkerData, on a directory marker, tells that the marker ("a/")
	// holds bytes, kept in its bucket's fold directory (see fold.go).
	MarkerData bool `json:"mdata,omitempty"`
}

// systemDirs makes sure .cairn/tmp (mode 1777, like /tmp) and
// .cairn/uploads (1777) exist and returns their inodes.
func (f *FS) systemDirs(ctx context.Context) (tmp, uploads posix.Ino, err error) {
	f.sysOnce.Lock()
	defer f.sysOnce.Unlock()
	if f.tmpIno != 0 {
		return f.tmpIno, f.upIno, nil
	}
	root := posix.Root
	sys, err := f.mkdirAll(ctx, root, posix.RootIno, SystemDir, 0o755)
	if err != nil {
		return 0, 0, err
	}
	if f.tmpIno, err = f.mkdirAll(ctx, root, sys, "tmp", 0o1777); err != nil {
		return 0, 0, err
	}
	if f.upIno, err = f.mkdirAll(ctx, root, sys, "uploads", 0o1777); err != nil {
		return 0, 0, err
	}
	return f.tmpIno, f.upIno, nil
}

// mkdirAll returns the directory name in parent, creating it with mode
// when missing (mode applied exactly, umask ignored).
func (f *FS) mkdirAll(ctx context.Context, cred posix.Cred, parent posix.Ino, name string, mode uint32) (posix.Ino, error) {
	e, err := f.v.Lookup(ctx, cred, parent, name)
	if err == nil {
		if !e.Attr.IsDir() {
			return 0, fmt.Errorf("%w: %q is a file", ErrKeyConflict, name)
		}
		return e.Ino, nil
	}
	if !errors.Is(err, syscall.ENOENT) {
		return 0, err
	}
	c := cred
	c.Umask = 0
	e, err = f.v.Mkdir(ctx, c, parent, name, mode)
	if errors.Is(err, syscall.EEXIST) {
		e, err = f.v.Lookup(ctx, cred, parent, name)
		if err == nil && !e.Attr.IsDir() {
			return 0, fmt.Errorf("%w: %q is a file", ErrKeyConflict, name)
		}
	}
	return e.Ino, err
}

// ValidBucketName reports whether name follows S3's bucket naming rules.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' || c == '.':
			if i == 0 || i == len(name)-1 {
				return false
			}
		default:
			return false
		}
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	if net.ParseIP(name) != nil {
		return false
	}
	return !strings.HasPrefix(name, "xn--") && !strings.HasSuffix(name, "-s3alias")
}

// splitKey validates key and returns its path segments; dir is set when
// key ends in "/" (a directory marker).
func splitKey(key string) (segs []string, dir bool, err error) {
	if key == "" {
		return nil, false, ErrInvalidKey
	}
	if len(key) > 1024 {
		return nil, false, ErrKeyTooLong
	}
	if strings.IndexByte(key, 0) >= 0 || !utf8.ValidString(key) {
		return nil, false, fmt.Errorf("%w: keys are UTF-8 without NUL", ErrInvalidKey)
	}
	if strings.HasSuffix(key, "/") {
		dir = true
		key = key[:len(key)-1]
	}
	segs = strings.Split(key, "/")
	for _, s := range segs {
		switch {
		case s == "" || s == "." || s == "..":
			return nil, false, fmt.Errorf("%w: %q", ErrInvalidKey, key)
		case len(s) > vfs.MaxNameLen:
			return nil, false, ErrKeyTooLong
		}
	}
	return segs, dir, nil
}

// bucketIno resolves a bucket to its directory inode.
func (f *FS) bucketIno(ctx context.Context, cred posix.Cred, bucket string) (vfs.Entry, error) {
	if !ValidBucketName(bucket) {
		return vfs.Entry{}, ErrNoSuchBucket
	}
	e, err := f.v.Lookup(ctx, posix.Root, posix.RootIno, bucket)
	if errors.Is(err, syscall.ENOENT) || (err == nil && !e.Attr.IsDir()) {
		return vfs.Entry{}, ErrNoSuchBucket
	}
	return e, err
}

// resolve walks segs below the bucket directory as cred. A missing
// component, or a file where a directory is needed, is ErrNoSuchKey.
func (f *FS) resolve(ctx context.Context, cred posix.Cred, dir posix.Ino, segs []string) (vfs.Entry, error) {
	var e vfs.Entry
	for i, s := range segs {
		var err error
		e, err = f.v.Lookup(ctx, cred, dir, s)
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
			return e, ErrNoSuchKey
		}
		if err != nil {
			return e, err
		}
		if i < len(segs)-1 && !e.Attr.IsDir() {
			return e, ErrNoSuchKey
		}
		dir = e.Ino
	}
	return e, nil
}

// loadMeta reads an inode's stored S3 metadata (nil when it has none).
func (f *FS) loadMeta(ctx context.Context, ino posix.Ino) (*objMeta, error) {
	b, err := f.v.GetInternalXattr(ctx, ino, metaXattr)
	if errors.Is(err, syscall.ENODATA) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return f.decodeMeta(ino, b), nil
}

// decodeMeta decodes stored object metadata; nil for none or corrupt.
func (f *FS) decodeMeta(ino posix.Ino, b []byte) *objMeta {
	if b == nil {
		return nil
	}
	m, err := decodeObjMeta(b)
	if err != nil {
		f.log.Warn("ignoring corrupt object metadata", "ino", ino, "err", err)
		return nil
	}
	return m
}

func (f *FS) storeMeta(ctx context.Context, ino posix.Ino, m *objMeta) error {
	return f.v.SetInternalXattr(ctx, ino, metaXattr, m.encode())
}

func quoteETag(s string) string { return `"` + s + `"` }

// TrimETag removes quotes and a W/ prefix from a client-supplied ETag.
func TrimETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}
