package s3fs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Applying lifecycle rules. Expired objects go through the same delete
// paths as S3 requests (a delete marker in a versioned bucket, the lock
// rules, the change feed), as root. One worker per volume runs the rules,
// however many gateways serve it: the one whose client holds the flock of
// .cairn/lifecycle, a lease that the volume releases when that client's
// session ends (or dies and is cleaned up).

// LifecycleStats counts what applying lifecycle rules did.
type LifecycleStats struct {
	Scanned           int64 // objects, versions and uploads looked at
	Expired           int64 // current versions expired
	NoncurrentExpired int64 // noncurrent versions removed
	MarkersRemoved    int64 // expired delete markers removed
	UploadsAborted    int64 // incomplete multipart uploads aborted
	Errors            int64 // deletes that failed (locked versions among them)
}

func (s *LifecycleStats) add(o LifecycleStats) {
	s.Scanned += o.Scanned
	s.Expired += o.Expired
	s.NoncurrentExpired += o.NoncurrentExpired
	s.MarkersRemoved += o.MarkersRemoved
	s.UploadsAborted += o.UploadsAborted
	s.Errors += o.Errors
}

// lifecycleTotals are the counters of every run by this FS (Prometheus).
type lifecycleTotals struct {
	mu sync.Mutex
	s  LifecycleStats
}

// LifecycleTotals returns what this FS's lifecycle runs did so far.
func (f *FS) LifecycleTotals() LifecycleStats {
	f.lcTotals.mu.Lock()
	defer f.lcTotals.mu.Unlock()
	return f.lcTotals.s
}

// pace sleeps after a unit of lifecycle work that took d, so that the
// worker uses at most about half of one core's time for the metadata
// engine and never starves requests.
func pace(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// ApplyLifecycle applies the bucket's lifecycle rules once, now (cairn
// admin lifecycle run, and the worker).
func (f *FS) ApplyLifecycle(ctx context.Context, bucket string) (LifecycleStats, error) {
	// Its removals are LifecycleExpiration events.
	o, _ := vfs.OriginFrom(ctx)
	o.Op, o.Agent = OpLifecycle, "lifecycle"
	ctx = vfs.WithOrigin(ctx, o)
	rules, err := f.GetBucketLifecycle(ctx, posix.Root, bucket)
	if errors.Is(err, ErrNoSuchLifecycle) {
		return LifecycleStats{}, nil
	}
	if err != nil {
		return LifecycleStats{}, err
	}
	status, err := f.Versioning(ctx, bucket)
	if err != nil {
		return LifecycleStats{}, err
	}
	var st LifecycleStats
	defer func() {
		f.lcTotals.mu.Lock()
		f.lcTotals.s.add(st)
		f.lcTotals.mu.Unlock()
	}()
	now := f.now()
	for i := range rules {
		r := &rules[i]
		if r.Status != "Enabled" {
			continue
		}
		if e := r.Expiration; e != nil && (e.Days != nil || e.Date != nil) {
			if err := f.expireCurrent(ctx, bucket, r, status, now, &st); err != nil {
				return st, err
			}
		}
		if status != "" && (r.NoncurrentVersionExpiration != nil || r.Expiration != nil && r.Expiration.ExpiredObjectDeleteMarker != nil && *r.Expiration.ExpiredObjectDeleteMarker) {
			if err := f.expireVersions(ctx, bucket, r, now, &st); err != nil {
				return st, err
			}
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil && a.DaysAfterInitiation != nil {
			if err := f.abortOldUploads(ctx, bucket, r, now, &st); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

func (f *FS) expireCurrent(ctx context.Context, bucket string, r *LifecycleRule, status string, now time.Time, st *LifecycleStats) error {
	opt := ListOptions{Prefix: r.prefix(), MaxKeys: 1000}
	for {
		start := time.Now()
		res, err := f.listObjects(ctx, posix.Root, bucket, opt)
		if err != nil {
			return err
		}
		for _, o := range res.Objects {
			st.Scanned++
			if o.IsDirMarker || !r.matchesUntagged(o.Key, o.Size) {
				continue
			}
			exp := r.expiry(o.ModTime, f.lifecycleDay)
			if exp.IsZero() || exp.After(now) {
				continue
			}
			if r.needsTags() {
				tags, err := f.GetObjectTagging(ctx, posix.Root, bucket, o.Key, "")
				if err != nil || !r.matches(o.Key, o.Size, tags) {
					continue
				}
			}
			if status == "" {
				err = f.DeleteObject(ctx, posix.Root, bucket, o.Key)
			} else {
				_, err = f.DeleteObjectVersion(ctx, posix.Root, bucket, o.Key, "", false)
			}
			if err != nil {
				st.Errors++
				f.log.Warn("lifecycle: expiring an object failed", "bucket", bucket, "key", o.Key, "err", err)
				continue
			}
			st.Expired++
		}
		if !res.IsTruncated {
			return nil
		}
		opt.StartAfter = res.NextMarker
		pace(ctx, time.Since(start))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// expireVersions applies NoncurrentVersionExpiration and
// ExpiredObjectDeleteMarker to the versions under the rule's prefix.
func (f *FS) expireVersions(ctx context.Context, bucket string, r *LifecycleRule, now time.Time, st *LifecycleStats) error {
	opt := ListVersionsOptions{Prefix: r.prefix(), MaxKeys: 1000}
	var key string
	var versions []ObjectInfo // of key, newest first
	flush := func() {
		if len(versions) > 0 {
			f.expireKeyVersions(ctx, bucket, r, versions, now, st)
		}
		versions = versions[:0]
	}
	for {
		start := time.Now()
		res, err := f.ListObjectVersions(ctx, posix.Root, bucket, opt)
		if err != nil {
			return err
		}
		for _, v := range res.Versions {
			st.Scanned++
			if v.Key != key {
				flush()
				key = v.Key
			}
			versions = append(versions, v)
		}
		if !res.IsTruncated {
			flush()
			return nil
		}
		opt.KeyMarker, opt.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
		pace(ctx, time.Since(start))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// expireKeyVersions decides on one key's versions (newest first; a key
// cut by a page boundary is decided on each part, which only keeps more).
func (f *FS) expireKeyVersions(ctx context.Context, bucket string, r *LifecycleRule, vs []ObjectInfo, now time.Time, st *LifecycleStats) {
	if !strings.HasPrefix(vs[0].Key, r.prefix()) {
		return
	}
	del := func(v ObjectInfo, counter *int64) {
		if _, err := f.DeleteObjectVersion(ctx, posix.Root, bucket, v.Key, v.VersionID, false); err != nil {
			st.Errors++
			if !errors.Is(err, ErrObjectLocked) {
				f.log.Warn("lifecycle: removing a version failed", "bucket", bucket, "key", v.Key, "version", v.VersionID, "err", err)
			}
			return
		}
		*counter++
	}
	if e := r.Expiration; e != nil && e.ExpiredObjectDeleteMarker != nil && *e.ExpiredObjectDeleteMarker {
		if len(vs) == 1 && vs[0].IsLatest && vs[0].IsDeleteMarker {
			del(vs[0], &st.MarkersRemoved)
			return
		}
	}
	nc := r.NoncurrentVersionExpiration
	if nc == nil || nc.NoncurrentDays == nil {
		return
	}
	keep := 0
	if nc.NewerNoncurrentVersions != nil {
		keep = *nc.NewerNoncurrentVersions
	}
	seen := 0
	for i := 1; i < len(vs); i++ {
		if vs[i].IsLatest {
			continue
		}
		seen++
		if seen <= keep {
			continue
		}
		// Noncurrent since the next newer version was made.
		since := vs[i-1].ModTime
		if since.Add(time.Duration(*nc.NoncurrentDays) * f.lifecycleDay).After(now) {
			continue
		}
		if r.needsTags() || r.Filter != nil && (r.Filter.ObjectSizeGreaterThan != nil || r.Filter.ObjectSizeLessThan != nil ||
			r.Filter.And != nil && (r.Filter.And.ObjectSizeGreaterThan != nil || r.Filter.And.ObjectSizeLessThan != nil)) {
			var tags []Tag
			if r.needsTags() && !vs[i].IsDeleteMarker {
				tags, _ = f.GetObjectTagging(ctx, posix.Root, bucket, vs[i].Key, vs[i].VersionID)
			}
			if !r.matches(vs[i].Key, vs[i].Size, tags) {
				continue
			}
		}
		del(vs[i], &st.NoncurrentExpired)
	}
}

func (f *FS) abortOldUploads(ctx context.Context, bucket string, r *LifecycleRule, now time.Time, st *LifecycleStats) error {
	age := time.Duration(*r.AbortIncompleteMultipartUpload.DaysAfterInitiation) * f.lifecycleDay
	opt := ListUploadsOptions{Prefix: r.prefix(), MaxUploads: 1000}
	for {
		res, err := f.ListMultipartUploads(ctx, posix.Root, bucket, opt)
		if err != nil {
			return err
		}
		for _, u := range res.Uploads {
			st.Scanned++
			if u.Initiated.Add(age).After(now) {
				continue
			}
			if err := f.AbortMultipartUpload(ctx, posix.Root, bucket, u.Key, u.UploadID); err != nil && !errors.Is(err, ErrNoSuchUpload) {
				st.Errors++
				f.log.Warn("lifecycle: aborting an upload failed", "bucket", bucket, "upload", u.UploadID, "err", err)
				continue
			}
			st.UploadsAborted++
		}
		if !res.IsTruncated {
			return nil
		}
		opt.KeyMarker, opt.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// lifecycleLease is the owner id of the worker's flock.
const lifecycleLease = 0x6c6966656379636c // "lifecycl"

// RunLifecycle applies every bucket's lifecycle rules every interval
// until ctx ends, while this client holds the volume's lifecycle lease
// (others retry every interval). ran, when not nil, is told of each
// round's totals.
func (f *FS) RunLifecycle(ctx context.Context, interval time.Duration, ran func(LifecycleStats)) {
	var held atomic.Bool
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if !held.Load() {
			if ok, err := f.takeLifecycleLease(ctx); err != nil && ctx.Err() == nil {
				f.log.Warn("lifecycle: taking the lease failed", "err", err)
			} else if ok {
				held.Store(true)
				f.log.Info("lifecycle: this gateway applies the lifecycle rules of the volume")
			}
		}
		if held.Load() {
			var total LifecycleStats
			if bs, err := f.ListBuckets(ctx, posix.Root); err == nil {
				for _, b := range bs {
					st, err := f.ApplyLifecycle(ctx, b.Name)
					total.add(st)
					if err != nil && ctx.Err() == nil {
						f.log.Warn("lifecycle: applying the rules failed", "bucket", b.Name, "err", err)
					}
				}
			}
			if ran != nil {
				ran(total)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// takeLifecycleLease tries to take the flock of .cairn/lifecycle.
func (f *FS) takeLifecycleLease(ctx context.Context) (bool, error) {
	sys, err := f.mkdirAll(ctx, posix.Root, posix.RootIno, SystemDir, 0o755)
	if err != nil {
		return false, err
	}
	e, err := f.v.Lookup(ctx, posix.Root, sys, "lifecycle")
	if errors.Is(err, syscall.ENOENT) {
		var fh vfs.Handle
		fh, e, err = f.v.Create(ctx, posix.Root, sys, "lifecycle", 0o600, syscall.O_RDONLY|syscall.O_CREAT)
		if err == nil {
			_ = f.v.Release(ctx, fh)
		}
		if errors.Is(err, syscall.EEXIST) {
			e, err = f.v.Lookup(ctx, posix.Root, sys, "lifecycle")
		}
	}
	if err != nil {
		return false, err
	}
	err = f.v.Flock(ctx, e.Ino, lifecycleLease, vfs.LockWrite, false)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
