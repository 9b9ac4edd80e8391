package s3fs

import (
	"container/heap"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Listing. S3 lists keys in byte order; the namespace keeps each
// directory's entries in name order, and a directory "a" holds keys that
// sort as "a/...". Names between "a" and "a/" ("a-b", "a.txt") must come
// before a's keys, so directories wait in a small heap keyed by name+"/"
// until the scan passes that point. Each directory is read in pages by
// range scans starting at the first name that can matter, so a page deep
// inside a huge bucket costs about what the first page does.

// listPage is how many entries are read from a directory at a time, at
// most; minDirRead at least (a page's last entries may be directories
// or non-objects, which count nothing).
const (
	listPage   = 1000
	minDirRead = 32
)

// maxListETagCompute is the largest file whose missing ETag a listing
// computes; bigger files written through a mount get a stand-in ETag in
// listings until a HEAD or GET computes the real one.
const maxListETagCompute = 8 << 20

// ListObjects returns a page of bucket's keys (v1 and v2 both use it).
func (f *FS) ListObjects(ctx context.Context, cred posix.Cred, bucket string, opt ListOptions) (ListResult, error) {
	if e, err := f.takeAhead(ctx, aheadKey(cred, bucket, opt)); err != nil || e != nil {
		if err != nil {
			return ListResult{}, err
		}
		f.readAhead(cred, bucket, opt, e.res)
		return e.res, nil
	}
	res, err := f.listObjects(ctx, cred, bucket, opt)
	if err == nil {
		f.readAhead(cred, bucket, opt, res)
	}
	return res, err
}

// Listing read-ahead. A client walking a big listing asks for page N+1
// only after parsing page N; computing N+1 meanwhile overlaps the two. A
// page computed ahead is used only if nothing changed in between: the
// volume's change-feed head (every namespace change, by any client,
// advances it) and this FS's own write generation (which also counts the
// changes of S3 metadata alone) must both be what they were when its
// computation started, and it must be younger than aheadTTL.
const (
	aheadTTL     = 2 * time.Second
	aheadEntries = 64
	aheadRunning = 2 // pages computed ahead at once
)

type aheadEntry struct {
	done    chan struct{}
	res     ListResult
	vres    ListVersionsResult // for a version listing
	err     error
	gen     uint64
	head    uint64
	started time.Time
}

type aheadCache struct {
	mu      sync.Mutex
	m       map[string]*aheadEntry
	running int
}

func aheadKey(cred posix.Cred, bucket string, opt ListOptions) string {
	return fmt.Sprintf("%d/%d/%v\x00%s\x00%+v", cred.UID, cred.GID, cred.Groups, bucket, opt)
}

// take removes and returns the entry for key, if fresh.
func (c *aheadCache) take(key string) *aheadEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	delete(c.m, key)
	if e != nil && time.Since(e.started) > aheadTTL {
		return nil
	}
	return e
}

// start registers a computation for key, or returns nil when too many run
// or one is registered already.
func (c *aheadCache) start(key string) *aheadEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*aheadEntry{}
	}
	if _, ok := c.m[key]; ok || c.running >= aheadRunning {
		return nil
	}
	if len(c.m) >= aheadEntries {
		for k, e := range c.m { // drop stale entries, or one entry
			if time.Since(e.started) > aheadTTL || len(c.m) >= aheadEntries {
				delete(c.m, k)
			}
		}
	}
	e := &aheadEntry{done: make(chan struct{}), started: time.Now()}
	c.m[key] = e
	c.running++
	return e
}

func (c *aheadCache) finish() {
	c.mu.Lock()
	c.running--
	c.mu.Unlock()
}

// readAhead starts computing the page after res in the background.
func (f *FS) readAhead(cred posix.Cred, bucket string, opt ListOptions, res ListResult) {
	if !res.IsTruncated || res.NextMarker == "" {
		return
	}
	next := opt
	next.StartAfter = res.NextMarker
	f.computeAhead(aheadKey(cred, bucket, next), func(ctx context.Context, e *aheadEntry) (err error) {
		e.res, err = f.listObjects(ctx, cred, bucket, next)
		return err
	})
}

// takeAhead returns the page computed ahead for key when it may be served
// (nothing changed since it was computed), else nil.
func (f *FS) takeAhead(ctx context.Context, key string) (*aheadEntry, error) {
	e := f.ahead.take(key)
	if e == nil {
		return nil, nil
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil || !f.unchangedSince(ctx, e.gen, e.head) {
		return nil, nil
	}
	f.aheadHits.Add(1)
	return e, nil
}

// computeAhead computes the page for key in the background with fill,
// noting what it must be checked against when taken.
func (f *FS) computeAhead(key string, fill func(ctx context.Context, e *aheadEntry) error) {
	e := f.ahead.start(key)
	if e == nil {
		return
	}
	go func() {
		defer f.ahead.finish()
		defer close(e.done)
		ctx, cancel := context.WithTimeout(context.Background(), aheadTTL)
		defer cancel()
		e.gen = f.gen.Load()
		if e.head, e.err = f.v.Meta().FeedHead(ctx); e.err != nil {
			return
		}
		e.err = fill(ctx, e)
	}()
}

// unchangedSince reports whether nothing changed since a read-ahead page
// was started at write generation gen and feed head head.
func (f *FS) unchangedSince(ctx context.Context, gen, head uint64) bool {
	if f.gen.Load() != gen {
		return false
	}
	now, err := f.v.Meta().FeedHead(ctx)
	return err == nil && now == head
}

func (f *FS) listObjects(ctx context.Context, cred posix.Cred, bucket string, opt ListOptions) (ListResult, error) {
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return ListResult{}, err
	}
	if err := f.v.Access(ctx, cred, b.Ino, posix.MayRead|posix.MayExec); err != nil {
		return ListResult{}, err
	}
	// The gateway turns max-keys=0 into an empty answer before calling.
	max := opt.MaxKeys
	if max <= 0 || max > 1000 {
		max = 1000
	}
	l := &lister{f: f, ctx: ctx, cred: cred, bucket: bucket, bucketIno: b.Ino, prefix: opt.Prefix, delim: opt.Delimiter,
		after: opt.StartAfter, max: max}
	l.native = opt.Delimiter == "/"
	i := strings.LastIndexByte(opt.Prefix, '/')
	dirPart, namePrefix := opt.Prefix[:i+1], opt.Prefix[i+1:]
	base := b.Ino
	if dirPart != "" {
		segs, _, err := splitKey(dirPart)
		if err != nil {
			return ListResult{}, nil // no key can have this prefix
		}
		e, err := f.resolve(ctx, cred, b.Ino, segs)
		if errors.Is(err, ErrNoSuchKey) || errors.Is(err, syscall.EACCES) || (err == nil && !e.Attr.IsDir()) {
			return ListResult{}, nil
		}
		if err != nil {
			return ListResult{}, err
		}
		base = e.Ino
		if namePrefix == "" {
			// The marker object of the prefix directory itself sorts first.
			if m, _ := f.loadMeta(ctx, base); m != nil && m.DirMarker {
				l.object(dirPart, markerAttr(e.Attr, m), quoteETag(m.ETag), "")
			}
		}
	}
	if _, err := l.walk(base, dirPart, namePrefix); err != nil && !errors.Is(err, errStop) {
		return ListResult{}, err
	}
	return l.res, nil
}

var errStop = errors.New("s3fs: listing page full")

type lister struct {
	f         *FS
	ctx       context.Context
	cred      posix.Cred
	bucket    string
	bucketIno posix.Ino
	prefix    string
	delim     string
	native    bool // delimiter "/": directories become common prefixes
	after     string
	max       int
	count     int
	lastCP    string
	res       ListResult
}

// add counts one result; it fails with errStop when the page is full,
// marking it truncated.
func (l *lister) add() error {
	if l.count >= l.max {
		l.res.IsTruncated = true
		return errStop
	}
	l.count++
	return nil
}

// object lists key, a file or directory marker with attributes a and the
// quoted ETag etag.
func (l *lister) object(key string, a posix.Attr, etag, vid string) error {
	if key <= l.after || !strings.HasPrefix(key, l.prefix) {
		return nil
	}
	if l.delim != "" && !l.native {
		if i := strings.Index(key[len(l.prefix):], l.delim); i >= 0 {
			return l.commonPrefix(key[:len(l.prefix)+i+len(l.delim)])
		}
	}
	if err := l.add(); err != nil {
		return err
	}
	if l.res.Objects == nil {
		l.res.Objects = make([]ObjectInfo, 0, min(l.max, 128)) // most listings are short
	}
	oi := baseInfo(l.bucket, key, a)
	oi.ETag, oi.VersionID = etag, vid
	l.res.Objects = append(l.res.Objects, oi)
	l.res.NextMarker = key
	return nil
}

func (l *lister) commonPrefix(cp string) error {
	if cp <= l.after || cp == l.lastCP {
		return nil
	}
	if err := l.add(); err != nil {
		return err
	}
	l.lastCP = cp
	l.res.CommonPrefixes = append(l.res.CommonPrefixes, cp)
	l.res.NextMarker = cp
	return nil
}

// walk lists directory ino, whose keys start with keyPrefix, limited to
// names starting with namePrefix.
func (l *lister) walk(ino posix.Ino, keyPrefix, namePrefix string) (bool, error) {
	from, held := l.startName(ino, keyPrefix, namePrefix)
	h := &dirHeap{}
	for _, d := range held {
		heap.Push(h, d)
	}
	after := ""
	for {
		// Read no more than the page can still take (and one more, to
		// know whether it is truncated): a client asking for 100 keys at
		// a time would otherwise have 1,000 entries read, with their
		// attributes and metadata, for every 100 it gets.
		limit := min(listPage, max(l.max-l.count+1, minDirRead))
		opt := vfs.ReadDirOptions{After: after, From: from, Limit: limit, WithAttr: true, Xattr: metaXattr}
		ents, err := l.f.v.ReadDir(l.ctx, l.cred, ino, opt)
		if errors.Is(err, syscall.EACCES) {
			return false, nil // unreadable subtree: skipped, as find(1) would
		}
		if err != nil {
			return false, err
		}
		// Room for the page's objects at once: growing by doubling
		// copied each (large) ObjectInfo up to three times.
		l.res.Objects = slices.Grow(l.res.Objects, max(0, min(len(ents), l.max-l.count)))
		for _, e := range ents {
			if !strings.HasPrefix(e.Name, namePrefix) {
				ents = nil
				break
			}
			sk := e.Name
			if e.Type == posix.TypeDir {
				if m := l.f.decodeMeta(e.Ino, e.Xattr); m != nil && m.Folded {
					// The object folded for it sorts at its own name,
					// before what sorts between it and its keys.
					for h.Len() > 0 && (*h)[0].sortKey < sk {
						if err := l.dir(heap.Pop(h).(vfs.DirEntry), keyPrefix); err != nil {
							return false, err
						}
					}
					if err := l.folded(e, keyPrefix); err != nil {
						return false, err
					}
				}
				sk += "/"
			}
			for h.Len() > 0 && (*h)[0].sortKey < sk {
				if err := l.dir(heap.Pop(h).(vfs.DirEntry), keyPrefix); err != nil {
					return false, err
				}
			}
			if e.Type == posix.TypeDir {
				heap.Push(h, e)
				continue
			}
			if err := l.file(e, keyPrefix); err != nil {
				return false, err
			}
		}
		if len(ents) < limit {
			break
		}
		after, from = ents[len(ents)-1].Name, ""
	}
	for h.Len() > 0 {
		if err := l.dir(heap.Pop(h).(vfs.DirEntry), keyPrefix); err != nil {
			return false, err
		}
	}
	return true, nil
}

// startName returns where a directory's scan can start, given the
// start-after key, and the directories before that point that still sort
// after it (names that are a proper prefix of the start component followed
// by a byte below '/').
func (l *lister) startName(ino posix.Ino, keyPrefix, namePrefix string) (string, []vfs.DirEntry) {
	from := namePrefix
	if !strings.HasPrefix(l.after, keyPrefix) {
		return from, nil
	}
	rest := l.after[len(keyPrefix):]
	c := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		c = rest[:i]
	}
	if c <= from {
		return from, nil
	}
	var held []vfs.DirEntry
	if strings.HasPrefix(c, namePrefix) {
		for i := max(len(namePrefix), 1); i < len(c); i++ {
			if c[i] >= '/' {
				continue
			}
			e, err := l.f.v.Lookup(l.ctx, l.cred, ino, c[:i])
			if err == nil && e.Attr.IsDir() {
				held = append(held, vfs.DirEntry{Name: c[:i], Ino: e.Ino, Type: posix.TypeDir, Attr: e.Attr})
			}
		}
	}
	return c, held
}

func (l *lister) file(e vfs.DirEntry, keyPrefix string) error {
	if e.Type != posix.TypeFile {
		return nil // symlinks, devices, fifos are not objects
	}
	key := keyPrefix + e.Name
	if key <= l.after {
		return nil
	}
	if l.count >= l.max {
		l.res.IsTruncated = true
		return errStop
	}
	// The object metadata came with the page (ReadDirOptions.Xattr); nil
	// means the file has none.
	lm, ok := l.f.listMeta(e.Ino, e.Xattr)
	if !ok || lm.size != e.Attr.Length || lm.mtime != e.Attr.Mtime {
		if e.Attr.Length <= maxListETagCompute {
			m, err := l.f.objectMeta(l.ctx, vfs.Entry{Ino: e.Ino, Attr: e.Attr})
			if err != nil {
				return err
			}
			lm.etag, lm.vid = quoteETag(m.ETag), m.VersionID
		} else {
			lm.etag = quoteETag(standInETag(e.Ino, e.Attr))
		}
	}
	return l.object(key, e.Attr, lm.etag, lm.vid)
}

// folded lists the object folded for directory d, if any.
func (l *lister) folded(d vfs.DirEntry, keyPrefix string) error {
	key := keyPrefix + d.Name
	if key <= l.after || !strings.HasPrefix(key, l.prefix) {
		return nil
	}
	r, m, err := l.f.lookupFolded(l.ctx, l.cred, l.bucketIno, d.Ino, 0, false)
	if errors.Is(err, ErrNoSuchKey) || errors.Is(err, syscall.EACCES) {
		return nil
	}
	if err != nil {
		return err
	}
	return l.object(key, r.Entry.Attr, quoteETag(m.ETag), m.VersionID)
}

func (l *lister) dir(d vfs.DirEntry, keyPrefix string) error {
	key := keyPrefix + d.Name + "/"
	if key <= l.after && !strings.HasPrefix(l.after, key) {
		return nil
	}
	if l.native {
		return l.commonPrefix(key)
	}
	if l.delim != "" && strings.HasPrefix(key, l.prefix) {
		if i := strings.Index(key[len(l.prefix):], l.delim); i >= 0 {
			// Every key below this directory has the same common prefix.
			return l.commonPrefix(key[:len(l.prefix)+i+len(l.delim)])
		}
	}
	if m, err := l.f.loadMeta(l.ctx, d.Ino); err == nil && m != nil && m.DirMarker {
		if err := l.object(key, markerAttr(d.Attr, m), quoteETag(m.ETag), ""); err != nil {
			return err
		}
	}
	_, err := l.walk(d.Ino, key, "")
	return err
}

// standInETag names a large file whose MD5 is not known yet. It has the
// multipart form ("-1"), so clients do not mistake it for an MD5.
func standInETag(ino posix.Ino, a posix.Attr) string {
	var b [24]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(uint64(ino) >> (8 * i))
		b[8+i] = byte(uint64(a.Mtime) >> (8 * i))
		b[16+i] = byte(a.Length >> (8 * i))
	}
	sum := md5.Sum(b[:])
	return hex.EncodeToString(sum[:]) + "-1"
}

// dirHeap orders held directories by name+"/".
type dirHeap []heldDir

type heldDir struct {
	vfs.DirEntry
	sortKey string
}

func (h dirHeap) Len() int           { return len(h) }
func (h dirHeap) Less(i, j int) bool { return h[i].sortKey < h[j].sortKey }
func (h dirHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dirHeap) Push(x any) {
	d := x.(vfs.DirEntry)
	*h = append(*h, heldDir{DirEntry: d, sortKey: d.Name + "/"})
}
func (h *dirHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d.DirEntry
}
