package s3fs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Object lock. A bucket created with object lock (versioning on, for good)
// can give its object versions a retention (GOVERNANCE or COMPLIANCE, until
// a date) and a legal hold; both live in the version's S3 metadata. While
// either holds, the version cannot be deleted over S3 (a delete without a
// version id still adds a delete marker, as in S3), and its file carries
// the immutable inode flag, so that on a mount it cannot be unlinked,
// renamed over, truncated or written either (EPERM), and no other path
// into the volume changes it. The S3 layer itself moves locked files
// (kept versions, restored versions) with trusted renames, and clears the
// flag when a version's lock ends by an S3 request (a legal hold lifted
// with no retention left, a governance retention removed with the bypass
// permission, a delete of an expired version).

// Retention modes.
const (
	RetentionGovernance = "GOVERNANCE"
	RetentionCompliance = "COMPLIANCE"
)

// Errors of object lock.
var (
	// ErrObjectLocked is a change a version's retention or legal hold
	// forbids (AccessDenied in S3).
	ErrObjectLocked = errors.New("s3fs: the object version is locked")
	// ErrNoObjectLock is an object lock request on a bucket without object
	// lock (InvalidRequest).
	ErrNoObjectLock = errors.New("s3fs: the bucket does not have object lock enabled")
	// ErrNoObjectLockConfig is a bucket without object lock
	// (ObjectLockConfigurationNotFoundError).
	ErrNoObjectLockConfig = errors.New("s3fs: the bucket has no object lock configuration")
	// ErrNoLockOnObject is a version without retention or legal hold
	// (NoSuchObjectLockConfiguration).
	ErrNoLockOnObject = errors.New("s3fs: the object version has no lock")
	// ErrInvalidBucketState is a change the bucket's state forbids.
	ErrInvalidBucketState = errors.New("s3fs: invalid bucket state")
	// ErrInvalidRetention is a retention date that is not in the future,
	// or a default retention period out of range.
	ErrInvalidRetention = errors.New("s3fs: invalid retention period")
)

// objectLockXattr holds a bucket's object lock configuration.
const objectLockXattr = "cairn.s3.lock"

// ObjectLockConfig is a bucket's object lock configuration: enabled, and
// an optional default retention for new versions (Mode with Days or
// Years).
type ObjectLockConfig struct {
	Enabled bool   `json:"enabled"`
	Mode    string `json:"mode,omitempty"`
	Days    int    `json:"days,omitempty"`
	Years   int    `json:"years,omitempty"`
}

// Retention is a version's retention.
type Retention struct {
	Mode  string
	Until time.Time
}

// ValidRetentionMode reports whether m is GOVERNANCE or COMPLIANCE.
func ValidRetentionMode(m string) bool {
	return m == RetentionGovernance || m == RetentionCompliance
}

// ValidateLockConfig checks a default retention as AWS does.
func ValidateLockConfig(c ObjectLockConfig) error {
	if c.Mode == "" && c.Days == 0 && c.Years == 0 {
		return nil
	}
	if !ValidRetentionMode(c.Mode) {
		return fmt.Errorf("%w: retention mode %q", ErrInvalidArgument, c.Mode)
	}
	switch {
	case c.Days != 0 && c.Years != 0:
		return fmt.Errorf("%w: a default retention has Days or Years, not both", ErrInvalidArgument)
	case c.Days < 0 || c.Years < 0 || c.Days == 0 && c.Years == 0:
		return fmt.Errorf("%w: the default retention period must be a positive number of days or years", ErrInvalidRetention)
	case c.Days > 36500 || c.Years > 100:
		return fmt.Errorf("%w: the default retention period is longer than 100 years", ErrInvalidRetention)
	}
	return nil
}

// ObjectLockConfiguration returns the bucket's object lock configuration.
func (f *FS) ObjectLockConfiguration(ctx context.Context, bucket string) (ObjectLockConfig, error) {
	var c ObjectLockConfig
	err := f.bucketConfig(ctx, bucket, objectLockXattr, &c)
	if errors.Is(err, errNoConfig) || err == nil && !c.Enabled {
		return ObjectLockConfig{}, ErrNoObjectLockConfig
	}
	return c, err
}

// PutObjectLockConfiguration sets the bucket's object lock configuration.
// Enabling object lock on an existing bucket needs versioning enabled; it
// cannot be disabled.
func (f *FS) PutObjectLockConfiguration(ctx context.Context, cred posix.Cred, bucket string, c ObjectLockConfig) error {
	if !c.Enabled {
		return fmt.Errorf("%w: object lock cannot be disabled", ErrInvalidArgument)
	}
	if err := ValidateLockConfig(c); err != nil {
		return err
	}
	if _, err := f.ObjectLockConfiguration(ctx, bucket); errors.Is(err, ErrNoObjectLockConfig) {
		status, err := f.Versioning(ctx, bucket)
		if err != nil {
			return err
		}
		if status != VersioningEnabled {
			return fmt.Errorf("%w: object lock needs versioning enabled", ErrInvalidBucketState)
		}
	} else if err != nil {
		return err
	}
	if err := f.setBucketConfig(ctx, cred, bucket, objectLockXattr, c); err != nil {
		return err
	}
	f.versions.forget(bucket)
	return nil
}

// EnableObjectLock turns on versioning and object lock on a new bucket
// (CreateBucket with x-amz-bucket-object-lock-enabled).
func (f *FS) EnableObjectLock(ctx context.Context, cred posix.Cred, bucket string) error {
	if err := f.PutBucketVersioning(ctx, cred, bucket, VersioningEnabled); err != nil {
		return err
	}
	return f.PutObjectLockConfiguration(ctx, cred, bucket, ObjectLockConfig{Enabled: true})
}

// bucketLock returns the bucket's object lock configuration (Enabled
// false: none), cached with its versioning state.
func (f *FS) bucketLock(ctx context.Context, bucket string) (ObjectLockConfig, error) {
	if _, err := f.Versioning(ctx, bucket); err != nil {
		return ObjectLockConfig{}, err
	}
	c, _ := f.versions.lock(bucket)
	return c, nil
}

// lockFor returns the lock a new version of bucket gets: what the request
// asks for, or the bucket's default retention. now is the version's
// creation time.
func (f *FS) lockFor(ctx context.Context, bucket string, opt PutOptions, now time.Time) (mode string, until int64, hold bool, err error) {
	asked := opt.LockMode != "" || !opt.LockUntil.IsZero() || opt.LegalHold != ""
	c, err := f.bucketLock(ctx, bucket)
	if err != nil {
		return "", 0, false, err
	}
	if !c.Enabled {
		if asked {
			return "", 0, false, ErrNoObjectLock
		}
		return "", 0, false, nil
	}
	hold = opt.LegalHold == "ON"
	if opt.LockMode != "" {
		return opt.LockMode, opt.LockUntil.UnixNano(), hold, nil
	}
	if c.Mode != "" {
		t := now.AddDate(c.Years, 0, c.Days)
		return c.Mode, t.UnixNano(), hold, nil
	}
	return "", 0, hold, nil
}

// CheckLockHeaders validates the object lock headers of a PUT, copy or
// CreateMultipartUpload: mode and date go together, the date is in the
// future, the legal hold is ON or OFF.
func CheckLockHeaders(opt PutOptions, now time.Time) error {
	switch {
	case opt.LockMode == "" && opt.LockUntil.IsZero():
	case opt.LockMode == "" || opt.LockUntil.IsZero():
		return fmt.Errorf("%w: x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must both be supplied", ErrInvalidArgument)
	case !ValidRetentionMode(opt.LockMode):
		return fmt.Errorf("%w: unknown wormMode directive", ErrInvalidArgument)
	case !opt.LockUntil.After(now):
		return fmt.Errorf("%w: the retain until date must be in the future", ErrInvalidArgument)
	}
	if opt.LegalHold != "" && opt.LegalHold != "ON" && opt.LegalHold != "OFF" {
		return fmt.Errorf("%w: legal hold status must be ON or OFF", ErrInvalidArgument)
	}
	return nil
}

// applyLock sets m's lock from the request and the bucket, and returns the
// inode flags the new file gets.
func (f *FS) applyLock(ctx context.Context, bucket string, m *objMeta, opt PutOptions) (uint8, error) {
	mode, until, hold, err := f.lockFor(ctx, bucket, opt, time.Unix(0, m.Mtime))
	if err != nil {
		return 0, err
	}
	m.LockMode, m.LockUntil, m.LegalHold = mode, until, hold
	if m.locked(f.now()) {
		return posix.FlagImmutable, nil
	}
	return 0, nil
}

// locked reports whether a retention or legal hold holds at now.
func (m *objMeta) locked(now time.Time) bool {
	return m.LegalHold || m.LockMode != "" && m.LockUntil > now.UnixNano()
}

// mayDelete tells whether version m may go: not while locked, unless by
// a governance retention and bypass.
func (m *objMeta) mayDelete(now time.Time, bypass bool) error {
	switch {
	case m == nil:
		return nil
	case m.LegalHold:
		return fmt.Errorf("%w: a legal hold is on", ErrObjectLocked)
	case m.LockMode == "" || m.LockUntil <= now.UnixNano():
		return nil
	case m.LockMode == RetentionGovernance && bypass:
		return nil
	}
	return fmt.Errorf("%w: under %s retention until %s", ErrObjectLocked, m.LockMode, time.Unix(0, m.LockUntil).UTC().Format(time.RFC3339))
}

// unlock clears the immutable flag of a version that may now change.
func (f *FS) unlock(ctx context.Context, ino posix.Ino, a posix.Attr) error {
	if a.Flags&posix.FlagImmutable == 0 {
		return nil
	}
	_, err := f.v.SetFlags(ctx, posix.Root, ino, a.Flags&^posix.FlagImmutable)
	return err
}

// relock makes a version's immutable flag follow its lock.
func (f *FS) relock(ctx context.Context, ino posix.Ino, a posix.Attr, m *objMeta) error {
	want := a.Flags &^ posix.FlagImmutable
	if m.locked(f.now()) {
		want |= posix.FlagImmutable
	}
	if want == a.Flags {
		return nil
	}
	_, err := f.v.SetFlags(ctx, posix.Root, ino, want)
	return err
}

// lockedVersion resolves a version for an object lock request on a
// bucket that must have object lock.
func (f *FS) lockedVersion(ctx context.Context, cred posix.Cred, bucket, key, vid string, want uint16) (vfs.Entry, *objMeta, error) {
	c, err := f.bucketLock(ctx, bucket)
	if err != nil {
		return vfs.Entry{}, nil, err
	}
	if !c.Enabled {
		return vfs.Entry{}, nil, ErrNoObjectLock
	}
	r, m, err := f.lookupVersion(ctx, cred, bucket, key, vid, want, false)
	if err != nil {
		return vfs.Entry{}, nil, err
	}
	if r.Entry.Attr.IsDir() {
		return vfs.Entry{}, nil, ErrNoSuchKey
	}
	return r.Entry, m, nil
}

// GetObjectRetention returns a version's retention.
func (f *FS) GetObjectRetention(ctx context.Context, cred posix.Cred, bucket, key, vid string) (Retention, error) {
	_, m, err := f.lockedVersion(ctx, cred, bucket, key, vid, posix.MayRead)
	if err != nil {
		return Retention{}, err
	}
	if m.LockMode == "" {
		return Retention{}, ErrNoLockOnObject
	}
	return Retention{Mode: m.LockMode, Until: time.Unix(0, m.LockUntil).UTC()}, nil
}

// PutObjectRetention sets a version's retention (Mode "": removes it).
// A COMPLIANCE retention can only be extended; a GOVERNANCE one can be
// shortened, removed or changed only with bypass (the caller holds
// s3:BypassGovernanceRetention).
func (f *FS) PutObjectRetention(ctx context.Context, cred posix.Cred, bucket, key, vid string, r Retention, bypass bool) error {
	if r.Mode != "" && !ValidRetentionMode(r.Mode) {
		return fmt.Errorf("%w: retention mode %q", ErrInvalidArgument, r.Mode)
	}
	now := f.now()
	if r.Mode != "" && !r.Until.After(now) {
		return fmt.Errorf("%w: the retain until date must be in the future", ErrInvalidArgument)
	}
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	e, m, err := f.lockedVersion(ctx, cred, bucket, key, vid, 0)
	if err != nil {
		return err
	}
	if err := f.mayChangeMeta(ctx, cred, e); err != nil {
		return err
	}
	if m.LockMode != "" && m.LockUntil > now.UnixNano() {
		until := r.Until.UnixNano()
		shorter := r.Mode == "" || until < m.LockUntil
		switch {
		case m.LockMode == RetentionCompliance && (r.Mode != RetentionCompliance || shorter):
			return fmt.Errorf("%w: a COMPLIANCE retention can only be extended", ErrObjectLocked)
		case m.LockMode == RetentionGovernance && (r.Mode != RetentionGovernance || shorter) && !bypass:
			return fmt.Errorf("%w: changing a GOVERNANCE retention other than by extending it needs the bypass", ErrObjectLocked)
		}
	}
	m.LockMode, m.LockUntil = r.Mode, 0
	if r.Mode != "" {
		m.LockUntil = r.Until.UnixNano()
	}
	if err := f.storeMeta(ctx, e.Ino, m); err != nil {
		return err
	}
	return f.relock(ctx, e.Ino, e.Attr, m)
}

// mayChangeMeta checks that cred may change a version's lock: its owner,
// root, or who may write it.
func (f *FS) mayChangeMeta(ctx context.Context, cred posix.Cred, e vfs.Entry) error {
	if cred.UID == 0 || cred.UID == e.Attr.UID {
		return nil
	}
	return f.v.Access(ctx, cred, e.Ino, posix.MayWrite)
}

// GetObjectLegalHold returns whether a version's legal hold is on.
func (f *FS) GetObjectLegalHold(ctx context.Context, cred posix.Cred, bucket, key, vid string) (bool, error) {
	_, m, err := f.lockedVersion(ctx, cred, bucket, key, vid, posix.MayRead)
	if err != nil {
		return false, err
	}
	if !m.LegalHold && !m.HoldSet {
		return false, ErrNoLockOnObject
	}
	return m.LegalHold, nil
}

// PutObjectLegalHold turns a version's legal hold on or off.
func (f *FS) PutObjectLegalHold(ctx context.Context, cred posix.Cred, bucket, key, vid string, on bool) error {
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	e, m, err := f.lockedVersion(ctx, cred, bucket, key, vid, 0)
	if err != nil {
		return err
	}
	if err := f.mayChangeMeta(ctx, cred, e); err != nil {
		return err
	}
	m.LegalHold, m.HoldSet = on, true
	if err := f.storeMeta(ctx, e.Ino, m); err != nil {
		return err
	}
	return f.relock(ctx, e.Ino, e.Attr, m)
}

// errIsLocked reports whether err is a refusal by the immutable flag.
func errIsLocked(err error) bool { return errors.Is(err, syscall.EPERM) }
