package s3fs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// ListVersionsOptions shape ListObjectVersions.
type ListVersionsOptions struct {
	Prefix, Delimiter string
	// KeyMarker and VersionIDMarker: the listing resumes after that
	// version of that key, or after the key when VersionIDMarker is "".
	KeyMarker, VersionIDMarker string
	MaxKeys                    int
}

// ListVersionsResult is one page of ListObjectVersions: versions and
// delete markers (IsDeleteMarker) in key order, newest first within a
// key, and common prefixes.
type ListVersionsResult struct {
	Versions       []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextKeyMarker and NextVersionIDMarker resume a truncated listing.
	NextKeyMarker, NextVersionIDMarker string
}

// ListObjectVersions lists the versions of bucket's keys. The current
// versions come from a listing of the bucket (as ListObjects), the
// noncurrent ones and delete markers from a walk of the bucket's versions
// tree in the same key order, and the two are merged key by key; a key's
// versions are its current one (the latest) and then its holder's, which
// are stored newest first.
func (f *FS) ListObjectVersions(ctx context.Context, cred posix.Cred, bucket string, opt ListVersionsOptions) (ListVersionsResult, error) {
	// The next page is computed while the client reads this one, as for
	// ListObjects (see aheadCache).
	if e, err := f.takeAhead(ctx, versionsAheadKey(cred, bucket, opt)); err != nil || e != nil {
		if err != nil {
			return ListVersionsResult{}, err
		}
		f.readAheadVersions(cred, bucket, opt, e.vres)
		return e.vres, nil
	}
	res, err := f.listObjectVersions(ctx, cred, bucket, opt)
	if err == nil {
		f.readAheadVersions(cred, bucket, opt, res)
	}
	return res, err
}

func versionsAheadKey(cred posix.Cred, bucket string, opt ListVersionsOptions) string {
	return fmt.Sprintf("v\x00%d/%d/%v\x00%s\x00%+v", cred.UID, cred.GID, cred.Groups, bucket, opt)
}

// readAheadVersions starts computing the version listing page after res.
func (f *FS) readAheadVersions(cred posix.Cred, bucket string, opt ListVersionsOptions, res ListVersionsResult) {
	if !res.IsTruncated {
		return
	}
	next := opt
	next.KeyMarker, next.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	f.computeAhead(versionsAheadKey(cred, bucket, next), func(ctx context.Context, e *aheadEntry) (err error) {
		e.vres, err = f.listObjectVersions(ctx, cred, bucket, next)
		return err
	})
}

func (f *FS) listObjectVersions(ctx context.Context, cred posix.Cred, bucket string, opt ListVersionsOptions) (ListVersionsResult, error) {
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return ListVersionsResult{}, err
	}
	if err := f.v.Access(ctx, cred, b.Ino, posix.MayRead|posix.MayExec); err != nil {
		return ListVersionsResult{}, err
	}
	max := opt.MaxKeys
	if max <= 0 || max > 1000 {
		max = 1000
	}
	vroot, err := f.bucketVersions(ctx, b.Ino, false)
	if err != nil {
		return ListVersionsResult{}, err
	}
	vl := &versionLister{f: f, ctx: ctx, cred: cred, bucket: bucket, bucketIno: b.Ino, vroot: vroot, max: max, opt: opt}
	vl.res.Versions = make([]ObjectInfo, 0, min(max, 128)) // grown once the first listing says how many
	err = vl.run()
	if errors.Is(err, errStop) {
		err = nil
	}
	return vl.res, err
}

type versionLister struct {
	f         *FS
	ctx       context.Context
	cred      posix.Cred
	bucket    string
	bucketIno posix.Ino
	vroot     posix.Ino
	max       int
	opt       ListVersionsOptions
	count     int
	res       ListVersionsResult
	lastCP    string
	last      string // the last key or common prefix listed
	lastWasCP bool
}

// cutCP returns the common prefix key rolls up into, or "".
func (vl *versionLister) cutCP(key string) string {
	p, d := vl.opt.Prefix, vl.opt.Delimiter
	if d == "" || !strings.HasPrefix(key, p) {
		return ""
	}
	if i := strings.Index(key[len(p):], d); i >= 0 {
		return key[:len(p)+i+len(d)]
	}
	return ""
}

func (vl *versionLister) full(nextKey, nextVID string) error {
	vl.res.IsTruncated = true
	vl.res.NextKeyMarker, vl.res.NextVersionIDMarker = nextKey, nextVID
	return errStop
}

func (vl *versionLister) commonPrefix(cp string) error {
	if cp == vl.lastCP {
		return nil
	}
	if vl.count >= vl.max {
		return vl.full(vl.lastKey(), vl.lastVID())
	}
	vl.count++
	vl.lastCP = cp
	vl.res.CommonPrefixes = append(vl.res.CommonPrefixes, cp)
	vl.lastWasCP = true
	vl.last = cp
	return nil
}

func (vl *versionLister) lastKey() string { return vl.last }

func (vl *versionLister) lastVID() string {
	if vl.lastWasCP || len(vl.res.Versions) == 0 {
		return ""
	}
	return vl.res.Versions[len(vl.res.Versions)-1].VersionID
}

func (vl *versionLister) version(oi ObjectInfo) error {
	if vl.count >= vl.max {
		return vl.full(vl.lastKey(), vl.lastVID())
	}
	vl.count++
	vl.res.Versions = append(vl.res.Versions, oi)
	vl.lastWasCP = false
	vl.last = oi.Key
	return nil
}

// versionItem is one key (or common prefix) of the merged listing.
type versionItem struct {
	key    string
	cp     bool
	cur    *ObjectInfo
	holder posix.Ino
}

func (vl *versionLister) run() error {
	after := vl.opt.KeyMarker
	if vl.opt.VersionIDMarker != "" && after != "" && strings.HasPrefix(after, vl.opt.Prefix) && vl.cutCP(after) == "" {
		// The rest of the marker key's versions first.
		if err := vl.markerKey(after, vl.opt.VersionIDMarker); err != nil {
			return err
		}
	}
	for {
		want := vl.max - vl.count + 1
		cur, err := vl.f.listObjects(vl.ctx, vl.cred, vl.bucket, ListOptions{Prefix: vl.opt.Prefix, Delimiter: vl.opt.Delimiter,
			StartAfter: after, MaxKeys: min(want, 1000)})
		if err != nil {
			return err
		}
		hs, hTrunc, err := vl.holders(after, want)
		if err != nil {
			return err
		}
		// Items up to bound are complete in both lists.
		bound, bounded := "", false
		if cur.IsTruncated {
			bound, bounded = cur.NextMarker, true
		}
		if hTrunc && len(hs) > 0 {
			if l := hs[len(hs)-1].key; !bounded || l < bound {
				bound, bounded = l, true
			}
		}
		items := mergeVersionItems(cur, hs)
		vl.res.Versions = slices.Grow(vl.res.Versions, min(len(items), vl.max-vl.count))
		for _, it := range items {
			if bounded && it.key > bound {
				break
			}
			if it.cp {
				if err := vl.commonPrefix(it.key); err != nil {
					return err
				}
				continue
			}
			if err := vl.keyVersions(it, ""); err != nil {
				return err
			}
		}
		if !bounded {
			return nil
		}
		if vl.count >= vl.max {
			// The page is full and keys beyond bound exist: no need to
			// list them to know it is truncated.
			return vl.full(vl.lastKey(), vl.lastVID())
		}
		after = bound
	}
}

// mergeVersionItems merges a listing of current objects and common
// prefixes with the holders' keys and prefixes, in key order.
func mergeVersionItems(cur ListResult, hs []versionItem) []versionItem {
	a := make([]versionItem, 0, len(cur.Objects)+len(cur.CommonPrefixes))
	i, j := 0, 0
	for i < len(cur.Objects) || j < len(cur.CommonPrefixes) {
		if j >= len(cur.CommonPrefixes) || i < len(cur.Objects) && cur.Objects[i].Key < cur.CommonPrefixes[j] {
			a = append(a, versionItem{key: cur.Objects[i].Key, cur: &cur.Objects[i]})
			i++
		} else {
			a = append(a, versionItem{key: cur.CommonPrefixes[j], cp: true})
			j++
		}
	}
	out := make([]versionItem, 0, len(a)+len(hs))
	i, j = 0, 0
	for i < len(a) || j < len(hs) {
		switch {
		case j >= len(hs) || i < len(a) && a[i].key < hs[j].key:
			out = append(out, a[i])
			i++
		case i >= len(a) || hs[j].key < a[i].key:
			out = append(out, hs[j])
			j++
		default: // the same key or prefix in both
			it := a[i]
			if !it.cp {
				it.holder = hs[j].holder
			}
			out = append(out, it)
			i++
			j++
		}
	}
	return out
}

// markerKey lists the versions of key after version vid.
func (vl *versionLister) markerKey(key, vid string) error {
	it := versionItem{key: key}
	r, m, err := vl.f.lookupObject(vl.ctx, vl.cred, vl.bucket, key, 0, false)
	if err == nil && !r.Entry.Attr.IsDir() {
		oi := vl.f.info(vl.bucket, key, r.Entry.Attr, m)
		it.cur = &oi
	}
	if segs, dir, err := splitKey(key); err == nil && !dir {
		if it.holder, err = vl.f.holderDir(vl.ctx, vl.bucketIno, segs, false); err != nil {
			return err
		}
	}
	return vl.keyVersions(it, vid)
}

// keyVersions lists one key's versions: the current one, then the
// holder's; after a version id, only those that follow it.
func (vl *versionLister) keyVersions(it versionItem, after string) error {
	skipping := after != ""
	latest := after == "" // nothing after a version is the latest
	curVID := ""
	if it.cur != nil {
		oi := *it.cur
		curVID = oi.VersionID
		if isNull(curVID) {
			curVID = NullVersion
		}
		oi.VersionID, oi.IsLatest = curVID, true
		latest = false
		if skipping {
			skipping = curVID != after
		} else if err := vl.version(oi); err != nil {
			return err
		}
	}
	if it.holder == 0 {
		return nil
	}
	from := ""
	if skipping && after != NullVersion {
		from, skipping = after, false
	}
	for {
		ents, err := vl.f.holderEntries(vl.ctx, it.holder, from, min(listPage, max(vl.max-vl.count+1, minDirRead)))
		if err != nil {
			return err
		}
		for _, e := range ents {
			vid := nameVersion(e.Name)
			if vid == curVID {
				continue // kept twice by an interrupted step: the current one counts
			}
			isLatest := latest
			latest = false
			if skipping {
				skipping = vid != after
				continue
			}
			if err := vl.version(vl.keptInfo(it.key, e, vid, isLatest)); err != nil {
				return err
			}
		}
		if len(ents) == 0 || len(ents) < min(listPage, max(vl.max-vl.count+1, minDirRead)) {
			return nil
		}
		from = ents[len(ents)-1].Name
	}
}

// keptInfo describes a version kept in a holder.
func (vl *versionLister) keptInfo(key string, e vfs.DirEntry, vid string, latest bool) ObjectInfo {
	oi := baseInfo(vl.bucket, key, e.Attr)
	oi.VersionID, oi.IsLatest = vid, latest
	m := vl.f.decodeMeta(e.Ino, e.Xattr)
	if m == nil {
		if mm, err := vl.f.objectMeta(vl.ctx, vfs.Entry{Ino: e.Ino, Attr: e.Attr}); err == nil {
			m = mm
		}
	}
	if m != nil {
		oi.ETag, oi.IsDeleteMarker = quoteETag(m.ETag), m.DeleteMarker
		if m.Mtime != 0 && m.DeleteMarker {
			oi.ModTime = baseInfo(vl.bucket, key, posix.Attr{Mtime: m.Mtime}).ModTime
		}
	}
	if oi.IsDeleteMarker {
		oi.ETag, oi.Size = "", 0
	}
	return oi
}

// holders walks the bucket's versions tree in key order and returns up
// to n keys with a holder (and common prefixes) after the key after;
// truncated when there are more.
func (vl *versionLister) holders(after string, n int) ([]versionItem, bool, error) {
	if vl.vroot == 0 {
		return nil, false, nil
	}
	w := &holderWalk{vl: vl, after: after, n: n}
	err := w.walk(vl.vroot, "")
	switch {
	case errors.Is(err, errStop):
		return w.out, true, nil
	case errors.Is(err, errPast):
		return w.out, false, nil
	}
	return w.out, false, err
}

type holderWalk struct {
	vl     *versionLister
	after  string
	n      int
	out    []versionItem
	lastCP string
}

var errPast = errors.New("s3fs: past the listing's prefix")

func (w *holderWalk) add(it versionItem) error {
	if it.cp && it.key == w.lastCP {
		return nil
	}
	if len(w.out) >= w.n {
		return errStop
	}
	if it.cp {
		w.lastCP = it.key
	}
	w.out = append(w.out, it)
	return nil
}

// from is where a directory of keys starting with keyPrefix can start
// being read: the first segment of the later of the marker and the
// listing's prefix.
func (w *holderWalk) from(keyPrefix string) string {
	start := ""
	for _, s := range []string{w.after, w.vl.opt.Prefix} {
		if strings.HasPrefix(s, keyPrefix) {
			rest := s[len(keyPrefix):]
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[:i]
			}
			if rest > start {
				start = rest
			}
		}
	}
	return encSeg(start)
}

func (w *holderWalk) walk(dir posix.Ino, keyPrefix string) error {
	prefix := w.vl.opt.Prefix
	from, last := w.from(keyPrefix), ""
	for {
		ents, err := w.vl.f.v.ReadDir(w.vl.ctx, posix.Root, dir, vfs.ReadDirOptions{After: last, From: from, Limit: listPage, SkipPerm: true})
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.Type != posix.TypeDir {
				continue
			}
			seg, isPrefix, ok := decName(e.Name)
			if !ok {
				continue
			}
			key := keyPrefix + seg
			if isPrefix {
				key += "/"
			}
			// Outside the listing's prefix (a directory above it is walked
			// into): skipped, or the end of the walk once past it.
			if !strings.HasPrefix(key, prefix) && !(isPrefix && strings.HasPrefix(prefix, key)) {
				if key > prefix {
					return errPast
				}
				continue
			}
			if cp := w.vl.cutCP(key); cp != "" {
				// Every key below rolls up into one common prefix.
				if cp > w.after {
					if err := w.add(versionItem{key: cp, cp: true}); err != nil {
						return err
					}
				}
				continue
			}
			if isPrefix {
				if key > w.after || strings.HasPrefix(w.after, key) {
					if err := w.walk(e.Ino, key); err != nil {
						return err
					}
				}
				continue
			}
			if key <= w.after {
				continue
			}
			if err := w.add(versionItem{key: key, holder: e.Ino}); err != nil {
				return err
			}
		}
		if len(ents) < listPage {
			return nil
		}
		last, from = ents[len(ents)-1].Name, ""
	}
}
