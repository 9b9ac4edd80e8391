package gateway_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// fileOf resolves bucket/key to its current file through the volume, as a
// mount would.
func fileOf(t *testing.T, v *vfs.FS, bucket, key string) vfs.Entry {
	t.Helper()
	dir, err := v.Lookup(bg, posix.Root, posix.RootIno, bucket)
	if err != nil {
		t.Fatal(err)
	}
	segs := strings.Split(key, "/")
	for _, s := range segs[:len(segs)-1] {
		if dir, err = v.Lookup(bg, posix.Root, dir.Ino, s); err != nil {
			t.Fatal(err)
		}
	}
	e, err := v.Lookup(bg, posix.Root, dir.Ino, segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestObjectLock: a bucket created with object lock; default retention,
// retention and legal hold by request; deletes of locked versions refused
// (bypass only for GOVERNANCE, only with s3:BypassGovernanceRetention);
// COMPLIANCE only extended; and the locked file refusing, through the
// volume as on a mount, unlink, rename over, truncate and writes.
func TestObjectLock(t *testing.T) {
	h := newIAMHarness(t)
	h.policy(t, "no-bypass", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
		{"Effect":"Deny","Action":"s3:BypassGovernanceRetention","Resource":"*"}]}`)
	carol := h.user(t, "carol", "no-bypass")
	b := aws.String("locked")
	if _, err := h.root.CreateBucket(bg, &s3.CreateBucketInput{Bucket: b, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.root.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: b}); v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning of a lock bucket: %+v", v)
	}
	_, err := h.root.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	if code(err) != "InvalidBucketState" {
		t.Fatalf("suspending a lock bucket: %v", err)
	}
	// A plain bucket has no lock configuration and takes no lock headers.
	h.root.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("plain")})
	if _, err := h.root.GetObjectLockConfiguration(bg, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("plain")}); code(err) != "ObjectLockConfigurationNotFoundError" {
		t.Fatalf("lock configuration of a plain bucket: %v", err)
	}
	_, err = h.root.PutObjectLockConfiguration(bg, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("plain"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	if code(err) != "InvalidBucketState" {
		t.Fatalf("lock on an unversioned bucket: %v", err)
	}
	_, err = h.root.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("k"), Body: strings.NewReader("x"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	if code(err) != "InvalidRequest" {
		t.Fatalf("legal hold in a plain bucket: %v", err)
	}

	// Default retention: GOVERNANCE for a day.
	_, err = h.root.PutObjectLockConfiguration(bg, &s3.PutObjectLockConfigurationInput{Bucket: b, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(0)}}}})
	if code(err) != "InvalidRetentionPeriod" {
		t.Fatalf("zero days: %v", err)
	}
	if _, err := h.root.PutObjectLockConfiguration(bg, &s3.PutObjectLockConfigurationInput{Bucket: b, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := h.root.GetObjectLockConfiguration(bg, &s3.GetObjectLockConfigurationInput{Bucket: b})
	if err != nil || cfg.ObjectLockConfiguration.Rule == nil || aws.ToInt32(cfg.ObjectLockConfiguration.Rule.DefaultRetention.Days) != 1 {
		t.Fatalf("lock configuration: %+v %v", cfg, err)
	}
	v1, err := h.root.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("d/k"), Body: strings.NewReader("one")})
	if err != nil {
		t.Fatal(err)
	}
	hd, err := h.root.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("d/k")})
	if err != nil || hd.ObjectLockMode != types.ObjectLockModeGovernance || hd.ObjectLockRetainUntilDate == nil ||
		time.Until(*hd.ObjectLockRetainUntilDate) < 23*time.Hour || time.Until(*hd.ObjectLockRetainUntilDate) > 25*time.Hour {
		t.Fatalf("default retention on HEAD: %+v %v", hd, err)
	}

	// Through the volume (as on a mount), the locked file cannot change.
	e := fileOf(t, h.vfs, "locked", "d/k")
	dir := fileOf(t, h.vfs, "locked", "d")
	if e.Attr.Flags&posix.FlagImmutable == 0 {
		t.Fatalf("locked file without the immutable flag: %+v", e.Attr)
	}
	if err := h.vfs.Unlink(bg, posix.Root, dir.Ino, "k"); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("unlink of a locked file: %v", err)
	}
	if _, _, err := h.vfs.Open(bg, posix.Root, e.Ino, syscall.O_WRONLY); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("open for writing of a locked file: %v", err)
	}
	if _, err := h.vfs.SetAttr(bg, posix.Root, e.Ino, vfs.SetAttrRequest{Valid: vfs.SetSize, Size: 0}); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("truncate of a locked file: %v", err)
	}
	other, err := h.vfs.Mkdir(bg, posix.Root, dir.Ino, "x", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.vfs.Rmdir(bg, posix.Root, dir.Ino, "x"); err != nil {
		t.Fatal(err)
	}
	_ = other
	if _, _, err := h.vfs.Create(bg, posix.Root, dir.Ino, "other", 0o644, syscall.O_WRONLY|syscall.O_CREAT); err != nil {
		t.Fatal(err)
	}
	if err := h.vfs.Rename(bg, posix.Root, dir.Ino, "other", dir.Ino, "k", 0); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("rename over a locked file: %v", err)
	}
	if err := h.vfs.Unlink(bg, posix.Root, dir.Ino, "other"); err != nil {
		t.Fatal(err)
	}

	// Over S3: a new version is fine (the locked one is kept, still
	// locked); deleting the locked version is not, without the bypass.
	big := bytes.Repeat([]byte("2"), 2<<20)
	v2, err := h.root.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("d/k"), Body: bytes.NewReader(big),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatalf("overwrite of a locked version: %v", err)
	}
	if body, err := h.getAs(h.root, "locked", "d/k", *v1.VersionId); err != nil || body != "one" {
		t.Fatalf("the locked version after an overwrite: %q %v", body, err)
	}
	_, err = h.root.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("d/k"), VersionId: v1.VersionId})
	if code(err) != "AccessDenied" {
		t.Fatalf("delete of a GOVERNANCE version: %v", err)
	}
	_, err = h.root.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("d/k"), VersionId: v2.VersionId, BypassGovernanceRetention: aws.Bool(true)})
	if code(err) != "AccessDenied" {
		t.Fatalf("delete of a COMPLIANCE version with bypass: %v", err)
	}
	// COMPLIANCE: extending only.
	r, err := h.root.GetObjectRetention(bg, &s3.GetObjectRetentionInput{Bucket: b, Key: aws.String("d/k")})
	if err != nil || r.Retention.Mode != types.ObjectLockRetentionModeCompliance {
		t.Fatalf("retention: %+v %v", r, err)
	}
	_, err = h.root.PutObjectRetention(bg, &s3.PutObjectRetentionInput{Bucket: b, Key: aws.String("d/k"), BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(2 * time.Hour))}})
	if code(err) != "AccessDenied" {
		t.Fatalf("COMPLIANCE to GOVERNANCE: %v", err)
	}
	if _, err := h.root.PutObjectRetention(bg, &s3.PutObjectRetentionInput{Bucket: b, Key: aws.String("d/k"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(time.Now().Add(2 * time.Hour))}}); err != nil {
		t.Fatalf("extending COMPLIANCE: %v", err)
	}
	// A delete without a version id adds a marker, as S3 does.
	if del, err := h.root.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("d/k")}); err != nil || !aws.ToBool(del.DeleteMarker) {
		t.Fatalf("delete marker over a locked version: %+v %v", del, err)
	}

	// Legal hold: no delete even with the bypass, until it is off.
	carol.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("carols"), ObjectLockEnabledForBucket: aws.Bool(true)})
	c1, err := carol.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("carols"), Key: aws.String("held"), Body: strings.NewReader("h"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.root.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("carols"), Key: aws.String("held"), VersionId: c1.VersionId, BypassGovernanceRetention: aws.Bool(true)})
	if code(err) != "AccessDenied" {
		t.Fatalf("delete under legal hold: %v", err)
	}
	lh, err := carol.GetObjectLegalHold(bg, &s3.GetObjectLegalHoldInput{Bucket: aws.String("carols"), Key: aws.String("held")})
	if err != nil || lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold: %+v %v", lh, err)
	}
	if _, err := carol.PutObjectLegalHold(bg, &s3.PutObjectLegalHoldInput{Bucket: aws.String("carols"), Key: aws.String("held"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
		t.Fatal(err)
	}
	if e := fileOf(t, h.vfs, "carols", "held"); e.Attr.Flags&posix.FlagImmutable != 0 {
		t.Fatalf("immutable flag after the hold was lifted: %+v", e.Attr)
	}
	// GOVERNANCE: the bypass needs s3:BypassGovernanceRetention, which
	// carol's policy denies (her bypass header is ignored).
	c2, err := carol.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("carols"), Key: aws.String("gov"), Body: strings.NewReader("g"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = carol.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("carols"), Key: aws.String("gov"), VersionId: c2.VersionId, BypassGovernanceRetention: aws.Bool(true)})
	if code(err) != "AccessDenied" {
		t.Fatalf("bypass without the permission: %v", err)
	}
	if _, err := h.root.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("carols"), Key: aws.String("gov"), VersionId: c2.VersionId,
		BypassGovernanceRetention: aws.Bool(true)}); err != nil {
		t.Fatalf("bypass with the permission: %v", err)
	}
	// A retention date in the past is refused.
	_, err = carol.PutObjectRetention(bg, &s3.PutObjectRetentionInput{Bucket: aws.String("carols"), Key: aws.String("held"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(-time.Hour))}})
	if code(err) != "InvalidArgument" {
		t.Fatalf("retention in the past: %v", err)
	}
	resp, err := http.Get(h.url + "/carols/held?retention")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("anonymous retention read: %d", resp.StatusCode)
		}
	}
}

func (h *iamHarness) getAs(c *s3.Client, bucket, key, version string) (string, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetObject(bg, in)
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}
