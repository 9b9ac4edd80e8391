package gateway_test

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/meta"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object/mem"
	"cairn/internal/posix"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
)

// aclHarness is a volume whose buckets and objects are private to their
// owners on the file system (0700 directories, 0600 files), served to
// two users with readwrite policies and to anonymous callers: what one
// user may do on the other's data is what an S3 ACL grants.
type aclHarness struct {
	*iamHarness
	main, alt, anon *s3.Client
	altUID          uint32
}

func newACLHarness(t *testing.T, gopt gateway.Options) *aclHarness {
	t.Helper()
	store := memkv.New()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "gw", Storage: "mem", EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	ih := &iamHarness{store: store}
	ih.url, ih.ids, ih.vfs = startGatewayWith(t, store, mem.New(), s3fs.Options{FileMode: 0o600, DirMode: 0o700}, gopt)
	ih.root = ih.client(testAK, testSecret, "")
	h := &aclHarness{iamHarness: ih}
	h.main = h.user(t, "main", "readwrite")
	h.alt = h.user(t, "alt", "readwrite")
	u, err := h.ids.GetUser(bg, "alt")
	if err != nil {
		t.Fatal(err)
	}
	h.altUID = u.UID
	h.anon = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.url), UsePathStyle: true, Credentials: aws.AnonymousCredentials{}})
	return h
}

func (h *aclHarness) bucket(t *testing.T, name string, acl types.BucketCannedACL) {
	t.Helper()
	if _, err := h.main.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(name), ACL: acl}); err != nil {
		t.Fatal(err)
	}
}

func (h *aclHarness) object(t *testing.T, c *s3.Client, bucket, key string, acl types.ObjectCannedACL) {
	t.Helper()
	if _, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ACL: acl, Body: strings.NewReader("data")}); err != nil {
		t.Fatal(err)
	}
}

// Canned ACLs on buckets and objects, as the ceph/s3-tests access matrix
// checks them: who may list, read and write.
func TestACLCanned(t *testing.T) {
	h := newACLHarness(t, gateway.Options{})
	h.bucket(t, "priv", "")
	h.object(t, h.main, "priv", "private", "")
	h.object(t, h.main, "priv", "public", types.ObjectCannedACLPublicRead)
	h.object(t, h.main, "priv", "authread", types.ObjectCannedACLAuthenticatedRead)

	// Without a grant the file modes keep alt out, and policies keep
	// anonymous callers out.
	denied(t, "alt lists a private bucket", list(h.alt, "priv"))
	denied(t, "anonymous lists a private bucket", list(h.anon, "priv"))
	denied(t, "alt reads a private object", get(h.alt, "priv", "private"))
	denied(t, "anonymous reads a private object", get(h.anon, "priv", "private"))
	denied(t, "alt writes a private bucket", put(h.alt, "priv", "x", "y"))
	// An object's public-read reaches it in a private bucket.
	ok(t, "alt reads a public-read object", get(h.alt, "priv", "public"))
	ok(t, "anonymous reads a public-read object", get(h.anon, "priv", "public"))
	ok(t, "alt reads an authenticated-read object", get(h.alt, "priv", "authread"))
	denied(t, "anonymous reads an authenticated-read object", get(h.anon, "priv", "authread"))
	// The object's ACL grants nothing on the bucket.
	denied(t, "anonymous overwrites a public-read object", put(h.anon, "priv", "public", "no"))

	h.bucket(t, "pubr", types.BucketCannedACLPublicRead)
	h.object(t, h.main, "pubr", "k", "")
	ok(t, "anonymous lists a public-read bucket", list(h.anon, "pubr"))
	ok(t, "alt lists a public-read bucket", list(h.alt, "pubr"))
	denied(t, "anonymous reads a private object of a public-read bucket", get(h.anon, "pubr", "k"))
	denied(t, "anonymous writes a public-read bucket", put(h.anon, "pubr", "x", "y"))
	// Who may list learns what is missing.
	if err := get(h.anon, "pubr", "missing"); code(err) != "NoSuchKey" {
		t.Errorf("anonymous GET of a missing key in a public-read bucket: %v", err)
	}
	if err := get(h.anon, "gone-bucket", "k"); code(err) != "NoSuchBucket" {
		t.Errorf("anonymous GET in a missing bucket: %v", err)
	}
	if err := get(h.anon, "priv", "missing"); code(err) != "AccessDenied" {
		t.Errorf("anonymous GET of a missing key in a private bucket: %v", err)
	}
	// x-amz-expected-bucket-owner.
	mainUser, _ := h.ids.GetUser(bg, "main")
	_, err := h.anon.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("pubr"), ExpectedBucketOwner: aws.String("1")})
	denied(t, "another expected owner", err)
	_, err = h.anon.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("pubr"), ExpectedBucketOwner: aws.String(strconv.Itoa(int(mainUser.UID)))})
	ok(t, "the right expected owner", err)

	h.bucket(t, "pubrw", types.BucketCannedACLPublicReadWrite)
	ok(t, "anonymous writes a public-read-write bucket", put(h.anon, "pubrw", "anon", "y"))
	ok(t, "alt writes a public-read-write bucket", put(h.alt, "pubrw", "byalt", "y"))
	// What a grant lets alt write belongs to alt over S3 (its ACL), and to
	// the bucket's owner on the file system.
	oa, err := h.alt.GetObjectAcl(bg, &s3.GetObjectAclInput{Bucket: aws.String("pubrw"), Key: aws.String("byalt")})
	if err != nil || aws.ToString(oa.Owner.ID) != strconv.Itoa(int(h.altUID)) || aws.ToString(oa.Owner.DisplayName) != "alt" {
		t.Fatalf("the ACL of alt's object: %+v %v", oa, err)
	}
	ok(t, "alt reads its object in main's bucket", get(h.alt, "pubrw", "byalt"))
	denied(t, "anonymous reads alt's private object", get(h.anon, "pubrw", "byalt"))
	_, err = h.alt.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("pubrw"), Key: aws.String("byalt"), ACL: types.ObjectCannedACLPublicRead})
	ok(t, "alt makes its object public-read", err)
	ok(t, "anonymous reads it then", get(h.anon, "pubrw", "byalt"))
	ok(t, "main reads alt's object (file owner)", get(h.main, "pubrw", "byalt"))
	ok(t, "anonymous deletes in a public-read-write bucket", del(h.anon, "pubrw", "anon"))

	// A public access block that ignores public ACLs takes them back.
	if _, err := h.main.PutPublicAccessBlock(bg, &s3.PutPublicAccessBlockInput{Bucket: aws.String("priv"),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{IgnorePublicAcls: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	denied(t, "anonymous reads a public-read object the block ignores", get(h.anon, "priv", "public"))
	if _, err := h.main.PutPublicAccessBlock(bg, &s3.PutPublicAccessBlockInput{Bucket: aws.String("pubr"),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	_, err = h.main.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("pubr"), Key: aws.String("p"), ACL: types.ObjectCannedACLPublicRead, Body: strings.NewReader("x")})
	denied(t, "a public-read PUT under BlockPublicAcls", err)

	// An explicit deny in the bucket's policy beats any grant.
	if _, err := h.main.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("pubrw"), Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::pubrw/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	denied(t, "a grant under an explicit deny", put(h.anon, "pubrw", "x", "y"))

	// The grants change S3's answers only: the files keep their modes.
	f, err := h.vfs.Lookup(bg, posix.Root, posix.RootIno, "priv")
	if err != nil {
		t.Fatal(err)
	}
	e, err := h.vfs.Lookup(bg, posix.Root, f.Ino, "public")
	if err != nil || e.Attr.Mode&0o777 != 0o600 {
		t.Errorf("the public-read object's file: mode %o %v", e.Attr.Mode&0o777, err)
	}
	if _, _, err := h.vfs.Open(bg, posix.Cred{UID: h.altUID, GID: h.altUID}, e.Ino, syscall.O_RDONLY); err == nil {
		t.Errorf("alt opens the public-read object's file")
	}
}

func del(c *s3.Client, bucket, key string) error {
	_, err := c.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err
}

// Put/Get Bucket/Object ACL with documents and grant headers: grantees
// by canonical id (the uid), by group, by e-mail (refused), owners' display
// names, and the errors.
func TestACLDocuments(t *testing.T) {
	h := newACLHarness(t, gateway.Options{})
	h.bucket(t, "docs", "")
	h.object(t, h.main, "docs", "k", "")
	altID := strconv.Itoa(int(h.altUID))
	denied(t, "alt reads before the grant", get(h.alt, "docs", "k"))
	ba, err := h.main.GetBucketAcl(bg, &s3.GetBucketAclInput{Bucket: aws.String("docs")})
	if err != nil || aws.ToString(ba.Owner.DisplayName) != "main" || len(ba.Grants) != 1 {
		t.Fatalf("the default bucket ACL: %+v %v", ba, err)
	}
	owner := ba.Owner
	grant := func(id string, p types.Permission) types.Grant {
		return types.Grant{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(id)}, Permission: p}
	}
	_, err = h.main.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("docs"), Key: aws.String("k"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner: owner, Grants: append(ba.Grants, grant(altID, types.PermissionRead))}})
	ok(t, "a READ grant to alt", err)
	ok(t, "alt reads after the grant", get(h.alt, "docs", "k"))
	_, err = h.alt.GetObjectAcl(bg, &s3.GetObjectAclInput{Bucket: aws.String("docs"), Key: aws.String("k")})
	denied(t, "alt reads the ACL without READ_ACP", err)
	oa, err := h.main.GetObjectAcl(bg, &s3.GetObjectAclInput{Bucket: aws.String("docs"), Key: aws.String("k")})
	if err != nil || len(oa.Grants) != 2 || aws.ToString(oa.Grants[1].Grantee.DisplayName) != "alt" {
		t.Fatalf("the object's ACL: %+v %v", oa, err)
	}
	// Header grants, by id and by group.
	_, err = h.main.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("docs"), GrantRead: aws.String(`id="` + altID + `"`),
		GrantWrite: aws.String(`uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"`)})
	ok(t, "header grants", err)
	ok(t, "alt lists with READ", list(h.alt, "docs"))
	ok(t, "alt writes with an AuthenticatedUsers WRITE", put(h.alt, "docs", "new", "x"))
	denied(t, "anonymous writes without", put(h.anon, "docs", "new2", "x"))
	// Revoking everything (even the owner's grant) is an empty list.
	_, err = h.main.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("docs"), AccessControlPolicy: &types.AccessControlPolicy{Owner: owner, Grants: []types.Grant{}}})
	ok(t, "revoke all", err)
	ba, err = h.main.GetBucketAcl(bg, &s3.GetBucketAclInput{Bucket: aws.String("docs")})
	if err != nil || len(ba.Grants) != 0 {
		t.Errorf("after revoking all: %+v %v", ba, err)
	}
	ok(t, "the owner still lists (its policies decide)", list(h.main, "docs"))
	denied(t, "alt lists after the revocation", list(h.alt, "docs"))

	for _, c := range []struct {
		what  string
		grant types.Grant
		code  string
	}{
		{"an unknown canonical id", grant("_foo", types.PermissionRead), "InvalidArgument"},
		{"an id no user has", grant("424242", types.PermissionRead), "InvalidArgument"},
		{"an e-mail grantee", types.Grant{Grantee: &types.Grantee{Type: types.TypeAmazonCustomerByEmail, EmailAddress: aws.String("x@example.com")}, Permission: types.PermissionRead}, "UnresolvableGrantByEmailAddress"},
		{"an unknown group", types.Grant{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/Nobody")}, Permission: types.PermissionRead}, "InvalidArgument"},
		{"an unknown permission", grant(altID, "EVERYTHING"), "MalformedACLError"},
	} {
		_, err := h.main.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("docs"), AccessControlPolicy: &types.AccessControlPolicy{Owner: owner, Grants: []types.Grant{c.grant}}})
		if code(err) != c.code {
			t.Errorf("%s: %v, want %s", c.what, err, c.code)
		}
	}
	_, err = h.main.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("docs"), ACL: types.BucketCannedACLPublicRead, GrantRead: aws.String(`id="` + altID + `"`)})
	if code(err) != "InvalidRequest" {
		t.Errorf("canned and header grants together: %v", err)
	}
	// Only the owner (or a WRITE_ACP grant) changes an ACL.
	_, err = h.alt.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("docs"), Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead})
	denied(t, "alt changes main's object's ACL", err)

	// minio-go reads ACLs as mc stat does.
	mc, err := minio.New(strings.TrimPrefix(h.url, "http://"), &minio.Options{Creds: mcreds.NewStaticV4("main", "main-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := mc.GetObjectACL(context.Background(), "docs", "k"); err != nil || len(info.Grant) != 2 {
		t.Errorf("minio-go GetObjectACL: %+v %v", info, err)
	}
}

// Object ownership controls: BucketOwnerEnforced disables ACLs (and
// shows the bucket's owner as every object's), BucketOwnerPreferred gives
// bucket-owner-full-control objects to the bucket's owner, and a bucket
// created with no setting has none.
func TestACLOwnership(t *testing.T) {
	h := newACLHarness(t, gateway.Options{})
	_, err := h.main.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("enf"), ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced})
	ok(t, "create enforced", err)
	if _, err := h.main.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("enf"), Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::enf","arn:aws:s3:::enf/*"]}]}`)}); err != nil {
		t.Fatal(err)
	}
	h.object(t, h.alt, "enf", "a", "")
	h.object(t, h.alt, "enf", "b", types.ObjectCannedACLBucketOwnerFullControl)
	_, err = h.alt.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("enf"), Key: aws.String("c"), ACL: types.ObjectCannedACLPrivate, Body: strings.NewReader("x")})
	if code(err) != "AccessControlListNotSupported" {
		t.Errorf("an ACL under BucketOwnerEnforced: %v", err)
	}
	oa, err := h.alt.GetObjectAcl(bg, &s3.GetObjectAclInput{Bucket: aws.String("enf"), Key: aws.String("a")})
	if err != nil || aws.ToString(oa.Owner.DisplayName) != "main" {
		t.Errorf("the owner under BucketOwnerEnforced: %+v %v", oa, err)
	}
	_, err = h.main.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("enf"), ACL: types.BucketCannedACLPrivate})
	if code(err) != "AccessControlListNotSupported" {
		t.Errorf("PutBucketAcl under BucketOwnerEnforced: %v", err)
	}
	oc, err := h.main.GetBucketOwnershipControls(bg, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("enf")})
	if err != nil || oc.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
		t.Errorf("ownership controls: %+v %v", oc, err)
	}

	h.bucket(t, "none", types.BucketCannedACLPublicReadWrite)
	_, err = h.main.GetBucketOwnershipControls(bg, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("none")})
	if code(err) != "OwnershipControlsNotFoundError" || httpStatus(err) != 404 {
		t.Errorf("a bucket without controls: %v", err)
	}
	enforced := &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}
	_, err = h.main.PutBucketOwnershipControls(bg, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("none"), OwnershipControls: enforced})
	if code(err) != "InvalidBucketAclWithObjectOwnership" {
		t.Errorf("BucketOwnerEnforced over a public ACL: %v", err)
	}
	preferred := &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerPreferred}}}
	_, err = h.main.PutBucketOwnershipControls(bg, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("none"), OwnershipControls: preferred})
	ok(t, "BucketOwnerPreferred", err)
	h.object(t, h.alt, "none", "mine", "")
	h.object(t, h.alt, "none", "given", types.ObjectCannedACLBucketOwnerFullControl)
	for key, want := range map[string]string{"mine": "alt", "given": "main"} {
		c := h.main
		if want == "alt" {
			c = h.alt
		}
		oa, err := c.GetObjectAcl(bg, &s3.GetObjectAclInput{Bucket: aws.String("none"), Key: aws.String(key)})
		if err != nil || aws.ToString(oa.Owner.DisplayName) != want {
			t.Errorf("%s: owner %+v %v, want %s", key, oa, err, want)
		}
	}
	// The bucket's owner holds alt's file, but not its S3 ACL.
	_, err = h.main.GetObjectAcl(bg, &s3.GetObjectAclInput{Bucket: aws.String("none"), Key: aws.String("mine")})
	denied(t, "main reads the ACL of alt's object", err)
	_, err = h.main.DeleteBucketOwnershipControls(bg, &s3.DeleteBucketOwnershipControlsInput{Bucket: aws.String("none")})
	ok(t, "delete controls", err)
	_, err = h.main.GetBucketOwnershipControls(bg, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("none")})
	if code(err) != "OwnershipControlsNotFoundError" {
		t.Errorf("after deleting controls: %v", err)
	}
}

// A gateway whose new buckets are BucketOwnerEnforced, as AWS's are.
func TestACLDefaultOwnership(t *testing.T) {
	h := newACLHarness(t, gateway.Options{ObjectOwnership: s3fs.OwnershipEnforced})
	h.bucket(t, "bbb", "")
	oc, err := h.main.GetBucketOwnershipControls(bg, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("bbb")})
	if err != nil || oc.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
		t.Fatalf("the default: %+v %v", oc, err)
	}
	_, err = h.main.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("ccc"), ACL: types.BucketCannedACLPublicRead})
	if code(err) != "InvalidBucketAclWithObjectOwnership" {
		t.Errorf("a public bucket under the enforced default: %v", err)
	}
}

// A missing object is NoSuchKey (not AccessDenied) to whom the bucket's
// owner lets list under its key, by bucket policy with s3:prefix, and
// AccessDenied elsewhere.
func TestMissingForLister(t *testing.T) {
	h := newACLHarness(t, gateway.Options{})
	h.bucket(t, "lst", "")
	if _, err := h.main.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("lst"), Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::lst","Condition":{"StringLike":{"s3:prefix":"public/*"}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	if err := head(h.alt, "lst", "public/object"); httpStatus(err) != 404 {
		t.Errorf("a missing key under the listable prefix: %v", err)
	}
	if err := head(h.alt, "lst", "private/object"); httpStatus(err) != 403 {
		t.Errorf("a missing key elsewhere: %v", err)
	}
	h.object(t, h.main, "lst", "public/there", "")
	if err := head(h.alt, "lst", "public/there"); httpStatus(err) != 403 {
		t.Errorf("an existing object the policy does not let read: %v", err)
	}
}
