package s3fs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Versioning.
//
// A bucket's versioning state ("" for never enabled, Enabled, Suspended)
// is a bucket configuration. The current version of a key is the file at
// the key's path, exactly as in an unversioned bucket: mounts see it and
// only it, and GET, HEAD and listings of current objects cost what they
// cost without versioning. Noncurrent versions and delete markers live in
// a hidden tree, .cairn/versions/<bucket inode>/, that mirrors the keys:
// key a/b/c keeps them in the directory a.0/b.0/c (its holder). Each
// segment has its dots doubled and the directory of a prefix ends in
// ".0", the encoding of "/"; the encoding keeps byte order, so one
// directory's names sort exactly as the keys they stand for, and a listing
// of versions is range scans in key order, as ListObjects is. In a holder,
// a version is a file named by its version id, whose first 16 hex digits
// are the bitwise complement of its creation time (names sort newest
// first); a "null" version is named by that time followed by "null". A
// delete marker is an empty file there with the marker flag in its
// metadata.
//
// A replaced current version moves into its holder in the same metadata
// transaction that puts the new one in place (vfs.Keep): no byte is
// copied, no reader sees the key without a current version, and the
// version's space stays counted until it is deleted, when the volume's
// delayed delete frees it.

// Versioning states and the id of the null version.
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
	NullVersion         = "null"
)

// ErrNoSuchVersion is a version id the key does not have.
var ErrNoSuchVersion = errors.New("s3fs: no such version")

// ErrInvalidVersion is a version id that cannot be one of ours.
var ErrInvalidVersion = errors.New("s3fs: invalid version id")

// DeleteMarkerError is a GET or HEAD that met a delete marker: of the
// version asked for (Method is set: 405 in S3) or, without a version id,
// as the key's latest version (404).
type DeleteMarkerError struct {
	VersionID string
	Method    bool
}

func (e *DeleteMarkerError) Error() string {
	return "s3fs: the version is a delete marker"
}

func (e *DeleteMarkerError) Is(target error) bool { return !e.Method && target == ErrNoSuchKey }

// versioningXattr holds a bucket's versioning state.
const versioningXattr = "cairn.s3.versioning"

type versioningConfig struct {
	Status string `json:"status"`
}

// Versioning returns the bucket's versioning state: "" (never enabled),
// VersioningEnabled or VersioningSuspended.
func (f *FS) Versioning(ctx context.Context, bucket string) (string, error) {
	if s, ok := f.versions.get(bucket); ok {
		return s, nil
	}
	b, err := f.bucketIno(ctx, posix.Root, bucket)
	if err != nil {
		return "", err
	}
	var c versioningConfig
	if err := f.configAt(ctx, b.Ino, bucket, versioningXattr, &c); err != nil && !errors.Is(err, errNoConfig) {
		return "", err
	}
	var lock ObjectLockConfig
	if c.Status != "" {
		if err := f.configAt(ctx, b.Ino, bucket, objectLockXattr, &lock); err != nil && !errors.Is(err, errNoConfig) {
			return "", err
		}
	}
	var rules []LifecycleRule
	if err := f.configAt(ctx, b.Ino, bucket, lifecycleXattr, &rules); err != nil && !errors.Is(err, errNoConfig) {
		return "", err
	}
	acl, err := f.readACLState(ctx, b.Ino, bucket)
	if err != nil {
		return "", err
	}
	_, qerr := f.v.GetQuota(ctx, b.Ino)
	var notify json.RawMessage
	if err := f.configAt(ctx, b.Ino, bucket, notificationXattr, &notify); err != nil && !errors.Is(err, errNoConfig) {
		return "", err
	}
	f.versions.put(bucket, versionState{status: c.Status, lock: lock, rules: rules, acl: acl, quota: qerr == nil, notify: notify})
	return c.Status, nil
}

// PutBucketVersioning sets the bucket's versioning state (Enabled or
// Suspended; a bucket that had versioning never goes back to none).
func (f *FS) PutBucketVersioning(ctx context.Context, cred posix.Cred, bucket, status string) error {
	if status != VersioningEnabled && status != VersioningSuspended {
		return fmt.Errorf("%w: versioning status %q", ErrInvalidArgument, status)
	}
	if status == VersioningSuspended {
		if c, err := f.bucketLock(ctx, bucket); err != nil {
			return err
		} else if c.Enabled {
			return fmt.Errorf("%w: versioning cannot be suspended on a bucket with object lock", ErrInvalidBucketState)
		}
	}
	if err := f.setBucketConfig(ctx, cred, bucket, versioningXattr, versioningConfig{Status: status}); err != nil {
		return err
	}
	f.versions.forget(bucket)
	return nil
}

// newVersionID returns a fresh version id for a version created at t.
func newVersionID(t int64) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%08x", ^uint64(t), binary.BigEndian.Uint32(r[:]))
}

// isNull reports whether vid names the null version ("" is what objects
// written without versioning carry).
func isNull(vid string) bool { return vid == "" || vid == NullVersion }

// ValidVersionID reports whether vid can be a version id of ours.
func ValidVersionID(vid string) bool {
	if vid == NullVersion {
		return true
	}
	if len(vid) != 24 {
		return false
	}
	for i := 0; i < len(vid); i++ {
		if c := vid[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// holderName is the name of a version in its holder.
func holderName(vid string, mtime int64) string {
	if isNull(vid) {
		return fmt.Sprintf("%016x", ^uint64(mtime)) + NullVersion
	}
	return vid
}

// nameVersion is the version id a holder entry name stands for.
func nameVersion(name string) string {
	if strings.HasSuffix(name, NullVersion) {
		return NullVersion
	}
	return name
}

// versionTime is the creation time a holder entry name records.
func versionTime(name string) int64 {
	var t uint64
	if len(name) < 16 {
		return 0
	}
	for i := 0; i < 16; i++ {
		c := name[i]
		switch {
		case c >= '0' && c <= '9':
			t = t<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			t = t<<4 | uint64(c-'a'+10)
		default:
			return 0
		}
	}
	return int64(^t)
}

// Holder names: a key segment with its dots doubled; a prefix directory
// adds ".0" (the encoding of "/").
func encSeg(s string) string { return strings.ReplaceAll(s, ".", "..") }

// decName decodes a versions-tree name into the key segment it stands
// for, and whether it is a prefix directory (seg + "/").
func decName(name string) (seg string, prefix bool, ok bool) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '.' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(name) {
			return "", false, false
		}
		switch name[i+1] {
		case '.':
			b.WriteByte('.')
			i++
		case '0':
			if i+2 != len(name) {
				return "", false, false
			}
			return b.String(), true, true
		default:
			return "", false, false
		}
	}
	return b.String(), false, true
}

// holderNames are the versions-tree names of a key's holder.
func holderNames(segs []string) ([]string, error) {
	names := make([]string, len(segs))
	for i, s := range segs {
		n := encSeg(s)
		if i < len(segs)-1 {
			n += ".0"
		}
		if len(n) > vfs.MaxNameLen {
			return nil, fmt.Errorf("%w: a key segment of %d bytes with its dots doubled cannot name a version holder", ErrKeyTooLong, len(s))
		}
		names[i] = n
	}
	return names, nil
}

// versionsBase returns .cairn/versions.
func (f *FS) versionsBase(ctx context.Context) (posix.Ino, error) {
	return f.systemSubdir(ctx, "versions", &f.verIno)
}

// bucketVersions returns the versions tree of the bucket directory b
// (creating it when create), or 0 when it has none.
func (f *FS) bucketVersions(ctx context.Context, b posix.Ino, create bool) (posix.Ino, error) {
	base, err := f.versionsBase(ctx)
	if err != nil {
		return 0, err
	}
	return f.bucketSubdir(ctx, base, b, create)
}

// systemSubdir returns .cairn/name (root's, 0700), creating it, and keeps
// its inode in *cached.
func (f *FS) systemSubdir(ctx context.Context, name string, cached *posix.Ino) (posix.Ino, error) {
	f.sysOnce.Lock()
	ino := *cached
	f.sysOnce.Unlock()
	if ino != 0 {
		return ino, nil
	}
	sys, err := f.mkdirAll(ctx, posix.Root, posix.RootIno, SystemDir, 0o755)
	if err != nil {
		return 0, err
	}
	if ino, err = f.mkdirAll(ctx, posix.Root, sys, name, 0o700); err != nil {
		return 0, err
	}
	f.sysOnce.Lock()
	*cached = ino
	f.sysOnce.Unlock()
	return ino, nil
}

// bucketSubdir returns base's directory for the bucket directory b, named
// by its inode (creating it when create), or 0 when there is none.
func (f *FS) bucketSubdir(ctx context.Context, base, b posix.Ino, create bool) (posix.Ino, error) {
	name := fmt.Sprint(uint64(b))
	if create {
		return f.mkdirAll(ctx, posix.Root, base, name, 0o700)
	}
	e, err := f.v.Lookup(ctx, posix.Root, base, name)
	if errors.Is(err, syscall.ENOENT) {
		return 0, nil
	}
	return e.Ino, err
}

// holderDir returns the holder of the key segs in bucket directory b
// (creating it and its parents when create), or 0 when it does not
// exist.
func (f *FS) holderDir(ctx context.Context, b posix.Ino, segs []string, create bool) (posix.Ino, error) {
	names, err := holderNames(segs)
	if err != nil {
		return 0, err
	}
	root, err := f.bucketVersions(ctx, b, create)
	if err != nil || root == 0 {
		return 0, err
	}
	if !create {
		r, err := f.v.Walk(ctx, posix.Root, root, vfs.WalkRequest{Names: names})
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return r.Entry.Ino, nil
	}
	dir := root
	for _, n := range names {
		if dir, err = f.mkdirAll(ctx, posix.Root, dir, n, 0o700); err != nil {
			return 0, err
		}
	}
	return dir, nil
}

// keepVersion tells a replacing PUT where the replaced current version
// goes: into holder, except a null version replaced under Suspended
// versioning (the new null version takes its place).
func keepVersion(holder posix.Ino, status string) *vfs.Keep {
	return &vfs.Keep{Dir: holder, Xattr: metaXattr, Name: func(a posix.Attr, x []byte) string {
		vid, mt := "", a.Mtime
		if m, err := decodeObjMeta(x); x != nil && err == nil {
			vid = m.VersionID
			if m.Mtime != 0 {
				mt = m.Mtime
			}
		}
		if isNull(vid) && status != VersioningEnabled {
			return ""
		}
		return holderName(vid, mt)
	}}
}

// stampVersion gives m the version id a new object gets in a bucket with
// versioning state status.
func (f *FS) stampVersion(m *objMeta, status string) {
	switch status {
	case VersioningEnabled:
		m.VersionID = newVersionID(f.now().UnixNano())
	case VersioningSuspended:
		m.VersionID = NullVersion
	}
}

// afterVersionedPut removes, under Suspended versioning, the noncurrent
// null version a new null version replaces.
func (f *FS) afterVersionedPut(ctx context.Context, bucketIno posix.Ino, segs []string, status string) {
	if status != VersioningSuspended {
		return
	}
	holder, err := f.holderDir(ctx, bucketIno, segs, false)
	if err != nil || holder == 0 {
		return
	}
	if err := f.dropNullVersion(ctx, holder); err != nil {
		f.log.Warn("removing a replaced null version failed", "err", err)
	}
	f.pruneHolder(ctx, bucketIno, holder, segs)
}

// versionsEmpty reports whether the versions tree dir holds no version,
// removing the empty directories it finds (holders whose versions all
// went).
func (f *FS) versionsEmpty(ctx context.Context, dir posix.Ino) (bool, error) {
	after := ""
	empty := true
	for {
		ents, err := f.v.ReadDir(ctx, posix.Root, dir, vfs.ReadDirOptions{After: after, Limit: listPage, SkipPerm: true})
		if err != nil {
			return false, err
		}
		for _, e := range ents {
			if e.Type != posix.TypeDir {
				return false, nil
			}
			sub, err := f.versionsEmpty(ctx, e.Ino)
			if err != nil {
				return false, err
			}
			if !sub {
				empty = false
				continue
			}
			if err := f.v.Rmdir(ctx, posix.Root, dir, e.Name); err != nil && !errors.Is(err, syscall.ENOENT) {
				empty = false
			}
		}
		if len(ents) < listPage {
			return empty, nil
		}
		after = ents[len(ents)-1].Name
	}
}

// holderEntries reads a holder's versions, newest first.
func (f *FS) holderEntries(ctx context.Context, holder posix.Ino, after string, limit int) ([]vfs.DirEntry, error) {
	return f.v.ReadDir(ctx, posix.Root, holder, vfs.ReadDirOptions{After: after, Limit: limit, WithAttr: true, Xattr: metaXattr, SkipPerm: true})
}

// findVersion returns the holder entry of version vid.
func (f *FS) findVersion(ctx context.Context, holder posix.Ino, vid string) (vfs.DirEntry, bool, error) {
	if vid != NullVersion {
		e, err := f.v.Lookup(ctx, posix.Root, holder, vid)
		if errors.Is(err, syscall.ENOENT) {
			return vfs.DirEntry{}, false, nil
		}
		if err != nil {
			return vfs.DirEntry{}, false, err
		}
		x, _ := f.v.GetInternalXattr(ctx, e.Ino, metaXattr)
		return vfs.DirEntry{Name: vid, Ino: e.Ino, Type: e.Attr.Type, Attr: e.Attr, Xattr: x}, true, nil
	}
	after := ""
	for {
		ents, err := f.holderEntries(ctx, holder, after, 256)
		if err != nil {
			return vfs.DirEntry{}, false, err
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name, NullVersion) {
				return e, true, nil
			}
		}
		if len(ents) < 256 {
			return vfs.DirEntry{}, false, nil
		}
		after = ents[len(ents)-1].Name
	}
}

// dropNullVersion removes the null version kept in holder, if any.
func (f *FS) dropNullVersion(ctx context.Context, holder posix.Ino) error {
	e, ok, err := f.findVersion(ctx, holder, NullVersion)
	if err != nil || !ok {
		return err
	}
	err = f.v.Unlink(ctx, posix.Root, holder, e.Name)
	if errors.Is(err, syscall.ENOENT) {
		err = nil
	}
	return err
}

// ObjectVersion names a version of a key (DeleteObjects).
type ObjectVersion struct {
	Key       string
	VersionID string
}

// DeleteResult is what a delete did.
type DeleteResult struct {
	// VersionID is the version removed, or the delete marker created.
	VersionID string
	// DeleteMarker is set when a delete marker was created, or the
	// version removed was one.
	DeleteMarker bool
}

// DeleteObjectVersion removes bucket/key as S3 does with versioning.
// Without a version id: in a bucket that never had versioning, as
// DeleteObject; with versioning enabled, the current version becomes
// noncurrent and a delete marker becomes the latest version; suspended,
// the same with a null delete marker that replaces the null version.
// With a version id: that version goes for good, and when it was the
// latest, the newest remaining one (unless a delete marker) becomes the
// current version at the key's path. A version under retention or legal
// hold stays (ErrObjectLocked), except a GOVERNANCE retention with bypass
// (the caller holds s3:BypassGovernanceRetention).
func (f *FS) DeleteObjectVersion(ctx context.Context, cred posix.Cred, bucket, key, vid string, bypass bool) (DeleteResult, error) {
	if vid == "" {
		status, err := f.Versioning(ctx, bucket)
		if err != nil {
			return DeleteResult{}, err
		}
		if status == "" {
			return DeleteResult{}, f.DeleteObject(ctx, cred, bucket, key)
		}
	} else if !ValidVersionID(vid) {
		return DeleteResult{}, ErrInvalidVersion
	}
	f.gen.Add(1) // listing read-ahead: see aheadCache
	defer f.gen.Add(1)
	segs, dir, err := splitKey(key)
	if err != nil {
		if errors.Is(err, ErrInvalidKey) {
			return DeleteResult{}, nil
		}
		return DeleteResult{}, err
	}
	b, err := f.bucketIno(ctx, cred, bucket)
	if err != nil {
		return DeleteResult{}, err
	}
	if dir {
		// Directory markers have only a null version.
		if vid != "" && vid != NullVersion {
			return DeleteResult{}, nil
		}
		return DeleteResult{VersionID: vid}, f.DeleteObject(ctx, cred, bucket, key)
	}
	if vid == "" {
		status, err := f.Versioning(ctx, bucket)
		if err != nil {
			return DeleteResult{}, err
		}
		return f.addDeleteMarker(ctx, cred, bucket, b.Ino, segs, status)
	}
	return f.deleteVersion(ctx, cred, bucket, b.Ino, segs, vid, bypass)
}

// current returns the key's current version (a file at its path, or
// folded): its entry, the key's directories, where the file is, and its
// metadata; ok false when there is none.
func (f *FS) current(ctx context.Context, cred posix.Cred, bucket string, segs []string) (e vfs.Entry, chain []posix.Ino, at keySlot, m *objMeta, ok bool, err error) {
	chain, err = f.keyDirs(ctx, cred, bucket, segs)
	if err != nil || chain == nil {
		return e, nil, at, nil, false, err
	}
	at = keySlot{parent: chain[len(chain)-1], name: segs[len(segs)-1]}
	e, err = f.v.Lookup(ctx, cred, at.parent, at.name)
	if err == nil && e.Attr.IsDir() {
		var r vfs.WalkResult
		r, m, err = f.lookupFolded(ctx, cred, chain[0], e.Ino, 0, false)
		if errors.Is(err, ErrNoSuchKey) {
			return e, chain, at, nil, false, nil
		}
		if err != nil {
			return e, chain, at, nil, false, err
		}
		folds, err := f.bucketFolds(ctx, chain[0], false)
		if err != nil {
			return e, chain, at, nil, false, err
		}
		at = keySlot{parent: folds, name: foldName(e.Ino), folded: e.Ino}
		return r.Entry, chain, at, m, true, nil
	}
	if errors.Is(err, syscall.ENOENT) || (err == nil && e.Attr.Type != posix.TypeFile) {
		return e, chain, at, nil, false, nil
	}
	if err != nil {
		return e, chain, at, nil, false, err
	}
	m, err = f.objectMeta(ctx, e)
	return e, chain, at, m, err == nil, err
}

// addDeleteMarker makes a delete marker the key's latest version: the
// marker is created first, then the current version moves out of the
// key's path into the holder, so that an interrupted delete leaves the
// key as it was (with a harmless noncurrent marker), never without its
// data.
func (f *FS) addDeleteMarker(ctx context.Context, cred posix.Cred, bucket string, b posix.Ino, segs []string, status string) (DeleteResult, error) {
	now := f.now().UnixNano()
	res := DeleteResult{DeleteMarker: true, VersionID: NullVersion}
	mk := &objMeta{DeleteMarker: true, VersionID: NullVersion, Mtime: now}
	if status == VersioningEnabled {
		res.VersionID = newVersionID(now)
		mk.VersionID = res.VersionID
	}
	cur, chain, at, cm, ok, err := f.current(ctx, cred, bucket, segs)
	if err != nil {
		return DeleteResult{}, err
	}
	rc := cred
	if ok {
		// The caller must be allowed to remove the key, as for unlink(2).
		if err := f.v.Access(ctx, cred, chain[len(chain)-1], posix.MayWrite|posix.MayExec); err != nil {
			return DeleteResult{}, err
		}
		if rc, err = f.removeCred(ctx, cred, at, chain[len(chain)-1], cur.Attr); err != nil {
			return DeleteResult{}, err
		}
	}
	holder, err := f.holderDir(ctx, b, segs, true)
	if err != nil {
		return DeleteResult{}, err
	}
	if status == VersioningSuspended {
		if err := f.dropNullVersion(ctx, holder); err != nil {
			return DeleteResult{}, err
		}
	}
	raw := mk.encode()
	pctx := removed(ctx, bucket, strings.Join(segs, "/"), mk.VersionID, true)
	e, err := f.v.PutFile(pctx, posix.Root, holder, holderName(mk.VersionID, now), nil, vfs.PutFileOptions{Mode: 0o600, Mtime: now,
		Xattrs: map[string][]byte{metaXattr: raw}, NoReplace: true})
	if err != nil {
		return DeleteResult{}, err
	}
	if cred.UID != 0 {
		// The marker belongs to whoever deleted (ListObjectVersions' Owner).
		_, _ = f.v.Chown(ctx, posix.Root, e.Ino, cred.UID, cred.GID)
	}
	if ok {
		if status == VersioningSuspended && isNull(cm.VersionID) {
			err = f.v.Unlink(ctx, rc, at.parent, at.name)
		} else {
			err = f.v.Rename(ctx, posix.Root, at.parent, at.name, holder, holderName(cm.VersionID, cm.Mtime), vfs.RenameNoReplace|vfs.RenameTrusted)
		}
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			return DeleteResult{}, err
		}
		f.pruneEmptyDirs(ctx, cred, at.chain(chain), segs)
	}
	return res, nil
}

func (f *FS) deleteVersion(ctx context.Context, cred posix.Cred, bucket string, b posix.Ino, segs []string, vid string, bypass bool) (DeleteResult, error) {
	// A concurrent delete may move the version between the key's path and
	// its holder (promoting it) while this one looks: a version found gone
	// from where it was is looked for again.
	for attempt := 0; ; attempt++ {
		res, moved, err := f.deleteVersionOnce(ctx, cred, bucket, b, segs, vid, bypass)
		if errors.Is(err, syscall.ENOENT) {
			moved, err = true, nil // something it read went meanwhile
		}
		if !moved {
			return res, err
		}
		if attempt == 4 {
			return DeleteResult{VersionID: vid}, nil
		}
	}
}

func (f *FS) deleteVersionOnce(ctx context.Context, cred posix.Cred, bucket string, b posix.Ino, segs []string, vid string, bypass bool) (DeleteResult, bool, error) {
	cur, chain, at, cm, ok, err := f.current(ctx, cred, bucket, segs)
	if err != nil {
		return DeleteResult{}, false, err
	}
	holder, err := f.holderDir(ctx, b, segs, false)
	if err != nil {
		return DeleteResult{}, false, err
	}
	if ok && (cm.VersionID == vid || isNull(cm.VersionID) && vid == NullVersion) {
		if err := cm.mayDelete(f.now(), bypass); err != nil {
			return DeleteResult{}, false, err
		}
		rc, err := f.removeCred(ctx, cred, at, chain[len(chain)-1], cur.Attr)
		if err != nil {
			return DeleteResult{}, false, err
		}
		if err := f.unlock(ctx, cur.Ino, cur.Attr); err != nil {
			return DeleteResult{}, false, err
		}
		err = f.v.Unlink(removed(ctx, bucket, strings.Join(segs, "/"), vid, false), rc, at.parent, at.name)
		if errors.Is(err, syscall.ENOENT) {
			return DeleteResult{}, true, nil
		}
		if err != nil {
			return DeleteResult{}, false, err
		}
		if holder == 0 || !f.promote(ctx, cred, b, holder, chain, segs) {
			f.pruneEmptyDirs(ctx, cred, at.chain(chain), segs)
			if holder != 0 {
				f.pruneHolder(ctx, b, holder, segs)
			}
		}
		return DeleteResult{VersionID: vid}, false, nil
	}
	if holder == 0 {
		return DeleteResult{VersionID: vid}, false, nil
	}
	e, found, err := f.findVersion(ctx, holder, vid)
	if err != nil || !found {
		return DeleteResult{VersionID: vid}, false, err
	}
	m := f.decodeMeta(e.Ino, e.Xattr)
	marker := m != nil && m.DeleteMarker
	if cred.UID != 0 && e.Attr.UID != cred.UID {
		if err := f.v.Access(ctx, cred, e.Ino, posix.MayWrite); err != nil {
			return DeleteResult{}, false, err
		}
	}
	if err := m.mayDelete(f.now(), bypass); err != nil {
		return DeleteResult{}, false, err
	}
	if err := f.unlock(ctx, e.Ino, e.Attr); err != nil {
		return DeleteResult{}, false, err
	}
	err = f.v.Unlink(removed(ctx, bucket, strings.Join(segs, "/"), vid, false), posix.Root, holder, e.Name)
	if errors.Is(err, syscall.ENOENT) {
		return DeleteResult{}, true, nil
	}
	if err != nil {
		return DeleteResult{}, false, err
	}
	if !ok {
		if chain == nil {
			if chain, err = f.keyDirs(ctx, posix.Root, bucket, segs); err != nil {
				return DeleteResult{}, false, err
			}
		}
		f.promote(ctx, cred, b, holder, chain, segs)
	}
	f.pruneHolder(ctx, b, holder, segs)
	return DeleteResult{VersionID: vid, DeleteMarker: marker}, false, nil
}

// promote makes the newest version in holder the current version at the
// key's path, unless it is a delete marker (or there is none); it reports
// whether it did. chain, when not nil, holds the key's directories.
func (f *FS) promote(ctx context.Context, cred posix.Cred, b, holder posix.Ino, chain []posix.Ino, segs []string) bool {
	ents, err := f.holderEntries(ctx, holder, "", 1)
	if err != nil || len(ents) == 0 {
		return false
	}
	if m := f.decodeMeta(ents[0].Ino, ents[0].Xattr); m != nil && m.DeleteMarker {
		return false
	}
	parent := posix.Ino(0)
	if chain != nil && len(chain) == len(segs) {
		parent = chain[len(chain)-1]
	} else if parent, err = f.makeParents(ctx, cred, b, segs[:len(segs)-1]); err != nil {
		f.log.Warn("restoring the previous version failed", "err", err)
		return false
	}
	at, err := f.objectSlot(ctx, posix.Root, b, parent, segs[len(segs)-1])
	if err == nil {
		err = f.v.Rename(ctx, posix.Root, holder, ents[0].Name, at.parent, at.name, vfs.RenameNoReplace|vfs.RenameTrusted)
	}
	if err != nil && !errors.Is(err, syscall.EEXIST) {
		f.log.Warn("restoring the previous version failed", "err", err)
		return false
	}
	f.pruneHolder(ctx, b, holder, segs)
	return err == nil
}

// pruneHolder removes a holder left empty, and its parents left empty.
func (f *FS) pruneHolder(ctx context.Context, b, holder posix.Ino, segs []string) {
	names, err := holderNames(segs)
	if err != nil {
		return
	}
	root, err := f.bucketVersions(ctx, b, false)
	if err != nil || root == 0 {
		return
	}
	r, err := f.v.Walk(ctx, posix.Root, root, vfs.WalkRequest{Names: names})
	if err != nil || r.Entry.Ino != holder {
		return
	}
	chain := append([]posix.Ino{root}, r.Path[:len(r.Path)-1]...) // chain[i] holds names[i]
	for i := len(names) - 1; i >= 0; i-- {
		if err := f.v.Rmdir(ctx, posix.Root, chain[i], names[i]); err != nil {
			return
		}
	}
}
