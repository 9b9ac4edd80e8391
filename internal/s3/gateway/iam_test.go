package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"cairn/internal/acl"
	"cairn/internal/chunk"
	"cairn/internal/iam"
	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/object/mem"
	"cairn/internal/posix"
	"cairn/internal/s3/gateway"
	"cairn/internal/s3/s3fs"
	"cairn/internal/s3/sigv4"
	"cairn/internal/vfs"
)

// iamHarness is a gateway whose identities live in its volume.
type iamHarness struct {
	url   string
	store kv.Store
	ids   *iam.Identities
	vfs   *vfs.FS
	root  *s3.Client
}

func newIAMHarness(t *testing.T) *iamHarness {
	t.Helper()
	store := memkv.New()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "gw", Storage: "mem", EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	h := &iamHarness{store: store}
	h.url, h.ids, h.vfs = startGateway(t, store, mem.New())
	h.root = h.client(testAK, testSecret, "")
	return h
}

// startGateway serves the volume in store with a gateway of its own.
func startGateway(t *testing.T, store kv.Store, obj *mem.Store) (string, *iam.Identities, *vfs.FS) {
	t.Helper()
	return startGatewayWith(t, store, obj, s3fs.Options{}, gateway.Options{})
}

// startGatewayWith is startGateway with object-model and gateway options
// (the gateway's Backend and Identity are filled in).
func startGatewayWith(t *testing.T, store kv.Store, obj *mem.Store, sopt s3fs.Options, gopt gateway.Options) (string, *iam.Identities, *vfs.FS) {
	t.Helper()
	m, err := meta.Open(bg, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := chunk.New(obj, chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	var key iam.MasterKey
	ids, err := iam.Open(bg, store, key, iam.Credentials{AccessKey: testAK, SecretKey: testSecret},
		iam.Options{PollInterval: 50 * time.Millisecond, LockoutThreshold: 3, LockoutDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	gopt.Backend, gopt.Identity = s3fs.New(v, sopt), ids
	srv := httptest.NewServer(gateway.New(gopt))
	t.Cleanup(func() {
		srv.Close()
		ids.Close()
		v.Close()
		c.Close()
		m.Close()
	})
	return srv.URL, ids, v
}

func (h *iamHarness) client(ak, sk, token string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, token)})
}

func (h *iamHarness) user(t *testing.T, name string, policies ...string) *s3.Client {
	t.Helper()
	if err := h.ids.CreateUser(bg, name, name+"-secret", iam.UserOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(policies) > 0 {
		if err := h.ids.AttachPolicy(bg, iam.Target{User: name}, policies...); err != nil {
			t.Fatal(err)
		}
	}
	return h.client(name, name+"-secret", "")
}

func (h *iamHarness) policy(t *testing.T, name, doc string) {
	t.Helper()
	if err := h.ids.PutPolicy(bg, name, []byte(doc)); err != nil {
		t.Fatal(err)
	}
}

func put(c *s3.Client, bucket, key, body string) error {
	_, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	return err
}

func get(c *s3.Client, bucket, key string) error {
	out, err := c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		out.Body.Close()
	}
	return err
}

func list(c *s3.Client, bucket string) error {
	_, err := c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	return err
}

func denied(t *testing.T, what string, err error) {
	t.Helper()
	if code(err) != "AccessDenied" || httpStatus(err) != 403 {
		t.Errorf("%s: %v, want AccessDenied", what, err)
	}
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func TestIAMPolicies(t *testing.T) {
	h := newIAMHarness(t)
	alice := h.user(t, "alice", "readwrite")
	bob := h.user(t, "bob", "readonly")
	carol := h.user(t, "carol")
	h.policy(t, "tmp-cleaner", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["s3:DeleteObject","s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::abk","arn:aws:s3:::abk/tmp/*"]}]}`)
	dave := h.user(t, "dave", "tmp-cleaner")

	ok(t, "alice creates her bucket", func() error {
		_, err := alice.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("abk")})
		return err
	}())
	ok(t, "alice puts", put(alice, "abk", "doc", "hello"))
	ok(t, "alice lists", list(alice, "abk"))
	ok(t, "bob reads", get(bob, "abk", "doc"))
	denied(t, "bob lists (readonly cannot list)", list(bob, "abk"))
	denied(t, "bob puts", put(bob, "abk", "x", "y"))
	denied(t, "carol reads", get(carol, "abk", "doc"))
	_, err := carol.ListBuckets(bg, &s3.ListBucketsInput{})
	denied(t, "carol lists buckets", err)
	_, err = carol.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("cb")})
	denied(t, "carol creates a bucket", err)

	// DeleteObjects decides each key: dave may delete under tmp/ only.
	// (The bucket's directories are alice's; alice makes tmp/ writable.)
	ok(t, "alice puts tmp/a", put(alice, "abk", "tmp/a", "1"))
	tmp, err := h.vfs.Lookup(bg, posix.Root, bucketIno(t, h, "abk"), "tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.vfs.SetAttr(bg, posix.Root, tmp.Ino, meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	out, err := dave.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("abk"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("tmp/a")}, {Key: aws.String("doc")}}}})
	if err != nil || len(out.Deleted) != 1 || *out.Deleted[0].Key != "tmp/a" || len(out.Errors) != 1 || *out.Errors[0].Code != "AccessDenied" {
		t.Fatalf("DeleteObjects: %+v %v", out, err)
	}
	ok(t, "doc survived", get(alice, "abk", "doc"))

	// A copy needs read on its source as well as write on its target.
	_, err = dave.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("abk"), Key: aws.String("tmp/copy"), CopySource: aws.String("abk/doc")})
	denied(t, "dave copies what he cannot read", err)
	_, err = alice.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("abk"), Key: aws.String("copy"), CopySource: aws.String("abk/doc")})
	ok(t, "alice copies", err)

	// Multipart uploads stage in the volume's shared directories as the
	// user, and the object is the user's.
	up, err := alice.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("abk"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := alice.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("abk"), Key: aws.String("big"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part one")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dave.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("abk"), Key: aws.String("big"), UploadId: up.UploadId})
	denied(t, "dave aborts alice's upload", err)
	_, err = alice.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("abk"), Key: aws.String("big"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}})
	ok(t, "alice completes a multipart upload", err)
	ok(t, "alice reads it", get(alice, "abk", "big"))

	// A deny attached through a group wins over readwrite.
	h.policy(t, "no-delete", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::*"}]}`)
	if err := h.ids.AddGroupMembers(bg, "careful", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := h.ids.AttachPolicy(bg, iam.Target{Group: "careful"}, "no-delete"); err != nil {
		t.Fatal(err)
	}
	_, err = alice.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("abk"), Key: aws.String("doc")})
	denied(t, "group deny", err)

	// Disabled users and unknown keys.
	if err := h.ids.SetUserStatus(bg, "bob", iam.Disabled); err != nil {
		t.Fatal(err)
	}
	denied(t, "disabled bob", get(bob, "abk", "doc"))
	if err := h.ids.DeleteUser(bg, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := get(carol, "abk", "doc"); code(err) != "InvalidAccessKeyId" {
		t.Errorf("deleted carol: %v", err)
	}
	// The root user may still do anything.
	ok(t, "root reads", get(h.root, "abk", "doc"))
}

func bucketIno(t *testing.T, h *iamHarness, bucket string) posix.Ino {
	t.Helper()
	e, err := h.vfs.Lookup(bg, posix.Root, posix.RootIno, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return e.Ino
}

// One permission model: S3 requests run as the user's uid and gids, so
// modes and ACLs decide after the policies.
func TestIAMPOSIX(t *testing.T) {
	h := newIAMHarness(t)
	alice := h.user(t, "alice", "readwrite")
	bob := h.user(t, "bob", "readwrite")
	ok(t, "alice creates a bucket", func() error {
		_, err := alice.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("shared")})
		return err
	}())
	ok(t, "alice puts", put(alice, "shared", "report", "data"))
	// What alice made is hers.
	b := bucketIno(t, h, "shared")
	e, err := h.vfs.Lookup(bg, posix.Root, b, "report")
	if err != nil {
		t.Fatal(err)
	}
	au, _ := h.ids.GetUser(bg, "alice")
	bu, _ := h.ids.GetUser(bg, "bob")
	if e.Attr.UID != au.UID || e.Attr.GID != au.GID || au.UID == 0 || au.UID == bu.UID {
		t.Fatalf("owner %d:%d, alice %d:%d, bob %d", e.Attr.UID, e.Attr.GID, au.UID, au.GID, bu.UID)
	}
	ok(t, "bob reads a 0644 file", get(bob, "shared", "report"))
	denied(t, "bob writes into alice's 0755 bucket", put(bob, "shared", "mine", "x"))
	// An ACL that denies bob (setfacl -m u:BOB:- report) governs S3 too.
	rule, err := acl.Parse("u::rw-,u:"+itoa(bu.UID)+":---,g::r--,o::r--", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.vfs.SetACL(bg, posix.Root, e.Ino, meta.ACLAccess, rule); err != nil {
		t.Fatal(err)
	}
	denied(t, "bob reads a file whose ACL denies him", get(bob, "shared", "report"))
	// HEAD says who owns the file, its mode and its ACL, as stat and
	// getfacl on a mount do.
	head, err := h.root.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("shared"), Key: aws.String("report")})
	if err != nil {
		t.Fatal(err)
	}
	hd := awsmiddleware.GetRawResponse(head.ResultMetadata).(*smithyhttp.Response).Header
	if o, m, a := hd.Get("X-Cairn-Owner"), hd.Get("X-Cairn-Mode"), hd.Get("X-Cairn-Acl"); o != itoa(au.UID)+":"+itoa(au.GID) ||
		m != "0644" || a != "user::rw-,user:"+itoa(bu.UID)+":---,group::r--,mask::r--,other::r--" {
		t.Fatalf("HEAD's file headers: owner %q mode %q acl %q", o, m, a)
	}
	ok(t, "alice still reads it", get(alice, "shared", "report"))
	// An ACL entry for bob on the bucket directory lets him write there.
	dirRule, err := acl.Parse("u::rwx,u:"+itoa(bu.UID)+":rwx,g::r-x,o::r-x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.vfs.SetACL(bg, posix.Root, b, meta.ACLAccess, dirRule); err != nil {
		t.Fatal(err)
	}
	ok(t, "bob writes with a directory ACL", put(bob, "shared", "mine", "x"))
	// A bucket directory made private to alice hides it from bob, whatever
	// his policy says.
	if err := h.vfs.SetACL(bg, posix.Root, b, meta.ACLAccess, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.vfs.SetAttr(bg, posix.Root, b, meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o700}); err != nil {
		t.Fatal(err)
	}
	denied(t, "bob lists a 0700 bucket", list(bob, "shared"))
	ok(t, "alice lists it", list(alice, "shared"))
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func TestIAMServiceAccountsAndSTS(t *testing.T) {
	h := newIAMHarness(t)
	alice := h.user(t, "alice", "readwrite")
	ok(t, "bucket", func() error {
		_, err := alice.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("abk")})
		return err
	}())
	ok(t, "put", put(alice, "abk", "k", "v"))
	sa, err := h.ids.CreateServiceAccount(bg, "alice", iam.ServiceAccountOptions{
		Policy: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::abk/*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	svc := h.client(sa.AccessKey, sa.SecretKey, "")
	ok(t, "service account reads", get(svc, "abk", "k"))
	denied(t, "service account narrowed", put(svc, "abk", "k2", "v"))

	stsc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.url),
		Credentials: credentials.NewStaticCredentialsProvider("alice", "alice-secret", "")})
	out, err := stsc.AssumeRole(bg, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/x"),
		RoleSessionName: aws.String("s"), DurationSeconds: aws.Int32(900),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::abk"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	if time.Until(*cr.Expiration) > 15*time.Minute || time.Until(*cr.Expiration) < 14*time.Minute {
		t.Fatalf("expiration %v", cr.Expiration)
	}
	sess := h.client(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)
	ok(t, "session lists", list(sess, "abk"))
	denied(t, "session narrowed by its policy", get(sess, "abk", "k"))
	if err := list(h.client(*cr.AccessKeyId, *cr.SecretAccessKey, "forged"), "abk"); code(err) != "InvalidToken" {
		t.Errorf("forged token: %v", err)
	}
	if err := list(h.client(*cr.AccessKeyId, *cr.SecretAccessKey, ""), "abk"); code(err) != "InvalidToken" {
		t.Errorf("no token: %v", err)
	}
	_, err = stsc.AssumeRole(bg, &sts.AssumeRoleInput{RoleArn: aws.String("r"), RoleSessionName: aws.String("s"), DurationSeconds: aws.Int32(60)})
	if code(err) != "ValidationError" {
		t.Errorf("too short a session: %v", err)
	}
	_, err = stsc.AssumeRole(bg, &sts.AssumeRoleInput{RoleArn: aws.String("r"), RoleSessionName: aws.String("s"), Policy: aws.String(`{"Statement":"x"}`)})
	if code(err) != "MalformedPolicyDocument" {
		t.Errorf("bad session policy: %v", err)
	}
}

func TestIAMLockoutAndRegion(t *testing.T) {
	h := newIAMHarness(t)
	alice := h.user(t, "alice", "readwrite")
	wrong := h.client("alice", "not-her-secret", "")
	for range 3 {
		if err := list(wrong, "x"); code(err) != "SignatureDoesNotMatch" {
			t.Fatalf("wrong secret: %v", err)
		}
	}
	_, err := alice.ListBuckets(bg, &s3.ListBucketsInput{})
	denied(t, "locked out with the right secret", err)
	_, err = h.root.ListBuckets(bg, &s3.ListBucketsInput{})
	ok(t, "root is not locked out", err)

	west := s3.New(s3.Options{Region: "us-west-2", BaseEndpoint: aws.String(h.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(testAK, testSecret, "")})
	_, err = west.ListBuckets(bg, &s3.ListBucketsInput{})
	if code(err) != "AuthorizationHeaderMalformed" || !strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("other region: %v", err)
	}
}

// Two gateways on one volume see the same identities: a change through
// one is enforced by the other within a second.
func TestIAMTwoGateways(t *testing.T) {
	h := newIAMHarness(t)
	_, ids2, _ := startGateway(t, h.store, mem.New())
	if err := ids2.CreateUser(bg, "alice", "alice-secret", iam.UserOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ids2.AttachPolicy(bg, iam.Target{User: "alice"}, "readwrite"); err != nil {
		t.Fatal(err)
	}
	alice1 := h.client("alice", "alice-secret", "")
	_, err := alice1.ListBuckets(bg, &s3.ListBucketsInput{})
	ok(t, "gateway 1 knows a user made through gateway 2", err)
	if err := ids2.DetachPolicy(bg, iam.Target{User: "alice"}, "readwrite"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		_, err := alice1.ListBuckets(bg, &s3.ListBucketsInput{})
		if code(err) == "AccessDenied" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway 1 still allows alice a second after her policy was detached: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBucketPoliciesAndAnonymous(t *testing.T) {
	h := newIAMHarness(t)
	alice := h.user(t, "alice", "readwrite")
	bob := h.user(t, "bob")
	ok(t, "bucket", func() error {
		_, err := alice.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("web")})
		return err
	}())
	ok(t, "put pub", put(alice, "web", "pub/index.html", "<h1>hi</h1>"))
	ok(t, "put priv", put(alice, "web", "priv/secret", "s"))
	anon := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.url), UsePathStyle: true, Credentials: aws.AnonymousCredentials{}})
	denied(t, "anonymous read without a policy", get(anon, "web", "pub/index.html"))
	_, err := alice.GetBucketPolicy(bg, &s3.GetBucketPolicyInput{Bucket: aws.String("web")})
	if code(err) != "NoSuchBucketPolicy" {
		t.Fatalf("no policy yet: %v", err)
	}
	if st, err := alice.GetBucketPolicyStatus(bg, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("web")}); err != nil || *st.PolicyStatus.IsPublic {
		t.Fatalf("status without a policy: %+v %v", st, err)
	}
	doc := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::web/pub/*"},
	  {"Sid":"BobUploads","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:user/bob"]},"Action":"s3:PutObject","Resource":"arn:aws:s3:::web/uploads/*"},
	  {"Sid":"AnonUploads","Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::web/drop/*"},
	  {"Sid":"KeepPub","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::web/pub/*"}]}`
	_, err = alice.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("web"), Policy: aws.String(doc)})
	ok(t, "put bucket policy", err)
	got, err := alice.GetBucketPolicy(bg, &s3.GetBucketPolicyInput{Bucket: aws.String("web")})
	if err != nil || *got.Policy != doc {
		t.Fatalf("get bucket policy: %v", err)
	}
	st, err := alice.GetBucketPolicyStatus(bg, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("web")})
	if err != nil || !*st.PolicyStatus.IsPublic {
		t.Fatalf("policy status: %+v %v", st, err)
	}
	ok(t, "anonymous reads pub/", get(anon, "web", "pub/index.html"))
	denied(t, "anonymous reads priv/", get(anon, "web", "priv/secret"))
	denied(t, "anonymous lists", list(anon, "web"))
	_, err = anon.ListBuckets(bg, &s3.ListBucketsInput{})
	denied(t, "anonymous lists buckets", err)
	// Anonymous uploads run as the bucket's owner.
	ok(t, "anonymous drop", put(anon, "web", "drop/note", "n"))
	b := bucketIno(t, h, "web")
	drop, err := h.vfs.Lookup(bg, posix.Root, b, "drop")
	if err != nil {
		t.Fatal(err)
	}
	note, err := h.vfs.Lookup(bg, posix.Root, drop.Ino, "note")
	au, _ := h.ids.GetUser(bg, "alice")
	if err != nil || note.Attr.UID != au.UID {
		t.Fatalf("anonymous upload owned by %d, want alice's %d (%v)", note.Attr.UID, au.UID, err)
	}
	// A bucket policy grants a user with no policies of its own (he still
	// needs POSIX write access: alice opens uploads/ to him).
	ok(t, "alice makes uploads/", put(alice, "web", "uploads/.keep", ""))
	up, _ := h.vfs.Lookup(bg, posix.Root, b, "uploads")
	if _, err := h.vfs.SetAttr(bg, posix.Root, up.Ino, meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	ok(t, "bob uploads by the bucket policy", put(bob, "web", "uploads/b", "x"))
	denied(t, "bob elsewhere", put(bob, "web", "pub/b", "x"))
	// An explicit deny in the bucket policy beats alice's readwrite.
	_, err = alice.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("web"), Key: aws.String("pub/index.html")})
	denied(t, "deny in the bucket policy", err)
	// Bad policies.
	for _, bad := range []string{
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::web/*"}]}`,
		`not json`,
	} {
		_, err = alice.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("web"), Policy: aws.String(bad)})
		if code(err) != "MalformedPolicy" {
			t.Errorf("bad policy %s: %v", bad, err)
		}
	}
	ok(t, "the good policy stayed", get(anon, "web", "pub/index.html"))
	// Deleting the policy, and the bucket, takes the grant away.
	_, err = alice.DeleteBucketPolicy(bg, &s3.DeleteBucketPolicyInput{Bucket: aws.String("web")})
	ok(t, "delete bucket policy", err)
	denied(t, "anonymous after the delete", get(anon, "web", "pub/index.html"))
	_, err = bob.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("web"), Policy: aws.String(doc)})
	denied(t, "bob sets a policy", err)
}

// Condition keys come from the request: source address, listing
// parameters, headers.
func TestIAMConditionKeys(t *testing.T) {
	h := newIAMHarness(t)
	h.policy(t, "cond", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["s3:ListBucket","s3:PutObject","s3:GetObject","s3:CreateBucket"],"Resource":["arn:aws:s3:::cnd","arn:aws:s3:::cnd/*"],
	   "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"Bool":{"aws:SecureTransport":"false"}}},
	  {"Effect":"Deny","Action":"s3:ListBucket","Resource":"arn:aws:s3:::cnd","Condition":{"StringLike":{"s3:prefix":"secret/*"}}},
	  {"Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::cnd/*","Condition":{"StringEquals":{"s3:x-amz-acl":"public-read"}}},
	  {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::cnd/*","Condition":{"StringNotLikeIfExists":{"aws:UserAgent":"*aws-sdk-go*"}}}]}`)
	alice := h.user(t, "alice", "cond")
	ok(t, "bucket", func() error {
		_, err := alice.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("cnd")})
		return err
	}())
	ok(t, "put", put(alice, "cnd", "a", "1"))
	ok(t, "get (the SDK's user agent)", get(alice, "cnd", "a"))
	ok(t, "list", list(alice, "cnd"))
	_, err := alice.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("cnd"), Prefix: aws.String("secret/x")})
	denied(t, "list secret/", err)
	_, err = alice.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("cnd"), Key: aws.String("b"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	denied(t, "put public-read", err)
	// A raw request without the SDK's user agent.
	r, _ := http.NewRequest("GET", h.url+"/cnd/a", nil)
	r.Header.Set("User-Agent", "curl/8")
	sigv4.SignHeader(r, "alice", "alice-secret", "us-east-1", sigv4.UnsignedPayload, time.Now())
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("curl's user agent: %d", resp.StatusCode)
	}
}

// Tag condition keys: an object's own tags (read only when a policy asks)
// and the tags a PUT brings.
func TestIAMTagConditions(t *testing.T) {
	h := newIAMHarness(t)
	h.policy(t, "tags", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:PutObjectTagging"],"Resource":"arn:aws:s3:::tgc/*"},
	  {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::tgc/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/class":"secret"}}},
	  {"Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::tgc/*","Condition":{"StringEquals":{"s3:RequestObjectTag/class":"forbidden"}}}]}`)
	bob := h.user(t, "bob", "tags")
	if _, err := h.root.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("tgc")}); err != nil {
		t.Fatal(err)
	}
	tagged := func(key, tags string) error {
		_, err := bob.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("tgc"), Key: aws.String(key), Body: strings.NewReader("x"), Tagging: aws.String(tags)})
		return err
	}
	// The bucket is root's: its directory takes anyone's files.
	if _, err := h.vfs.SetAttr(bg, posix.Root, bucketIno(t, h, "tgc"), meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	ok(t, "put class=open", tagged("open", "class=open"))
	ok(t, "put class=secret", tagged("secret", "class=secret"))
	denied(t, "put class=forbidden", tagged("forbidden", "class=forbidden"))
	ok(t, "get open", get(bob, "tgc", "open"))
	denied(t, "get secret", get(bob, "tgc", "secret"))
	// Retagging changes the answer.
	_, err := bob.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: aws.String("tgc"), Key: aws.String("secret"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("class"), Value: aws.String("open")}}}})
	ok(t, "retag", err)
	ok(t, "get retagged", get(bob, "tgc", "secret"))
}

// ListObjectVersions on buckets without versioning: one "null" version
// per object, latest, in ListObjects' order, paged by key marker; the
// version-based cleanup of S3 tools then works.
func TestListObjectVersionsUnversioned(t *testing.T) {
	h := newIAMHarness(t)
	c := h.root
	if _, err := c.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("vers")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b/c", "b/d", "e"} {
		ok(t, "put "+k, put(c, "vers", k, k))
	}
	out, err := c.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: aws.String("vers")})
	if err != nil || len(out.Versions) != 4 || *out.Versions[1].Key != "b/c" || *out.Versions[1].VersionId != "null" || !*out.Versions[1].IsLatest || *out.Versions[1].Size != 3 {
		t.Fatalf("versions: %+v %v", out, err)
	}
	out, err = c.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: aws.String("vers"), Delimiter: aws.String("/")})
	if err != nil || len(out.Versions) != 2 || len(out.CommonPrefixes) != 1 || *out.CommonPrefixes[0].Prefix != "b/" {
		t.Fatalf("with delimiter: %+v %v", out, err)
	}
	var keys []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String("vers"), MaxKeys: aws.Int32(1)}
	for range 10 {
		out, err = c.ListObjectVersions(bg, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			keys = append(keys, *v.Key)
		}
		if !*out.IsTruncated {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	if strings.Join(keys, ",") != "a,b/c,b/d,e" {
		t.Fatalf("paged: %v", keys)
	}
	// Delete them as version-aware tools do.
	var ids []types.ObjectIdentifier
	for _, k := range keys {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k), VersionId: aws.String("null")})
	}
	if _, err := c.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("vers"), Delete: &types.Delete{Objects: ids}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("vers")}); err != nil {
		t.Fatalf("bucket not empty after the versioned delete: %v", err)
	}
	_, err = c.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: aws.String("vers")})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("gone bucket: %v", err)
	}
}

// A bucket policy is the owner's grant: what it allows runs with the
// owner's file permissions, and only the owner sets it.
func TestBucketPolicyIsTheOwnersGrant(t *testing.T) {
	h := newIAMHarness(t)
	alice := h.user(t, "alice", "readwrite")
	bob := h.user(t, "bob", "readwrite")
	ok(t, "bucket", func() error {
		_, err := alice.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("priv")})
		return err
	}())
	ok(t, "put", put(alice, "priv", "doc", "d"))
	b := bucketIno(t, h, "priv")
	if _, err := h.vfs.SetAttr(bg, posix.Root, b, meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o700}); err != nil {
		t.Fatal(err)
	}
	denied(t, "bob reads a 0700 bucket though readwrite allows", get(bob, "priv", "doc"))
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:PutBucketPolicy"],"Resource":["arn:aws:s3:::priv","arn:aws:s3:::priv/*"]}]}`
	_, err := bob.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("priv"), Policy: aws.String(doc)})
	denied(t, "bob sets a policy on alice's bucket", err)
	_, err = alice.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("priv"), Policy: aws.String(doc)})
	ok(t, "alice sets it", err)
	ok(t, "bob reads by alice's grant", get(bob, "priv", "doc"))
	// A copy reads its source as the source bucket's owner when that
	// bucket's policy grants the read.
	ok(t, "bob's bucket", func() error {
		_, err := bob.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bobs")})
		return err
	}())
	_, err = bob.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bobs"), Key: aws.String("copy"), CopySource: aws.String("priv/doc")})
	ok(t, "bob copies by alice's grant", err)
	ok(t, "bob reads his copy", get(bob, "bobs", "copy"))
	_, err = bob.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String("m")})
	denied(t, "bob stages an upload into alice's private bucket", err)
	// The grant of PutBucketPolicy does not make bob the owner.
	_, err = bob.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: aws.String("priv"), Policy: aws.String(doc)})
	denied(t, "bob replaces the policy", err)
}

// ListBuckets shows a user the buckets it may enter.
func TestListBucketsVisible(t *testing.T) {
	h := newIAMHarness(t)
	alice := h.user(t, "alice", "readwrite")
	bob := h.user(t, "bob", "readwrite")
	for _, b := range []string{"shared-b", "private-b"} {
		ok(t, b, func() error {
			_, err := alice.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(b)})
			return err
		}())
	}
	if _, err := h.vfs.SetAttr(bg, posix.Root, bucketIno(t, h, "private-b"), meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o700}); err != nil {
		t.Fatal(err)
	}
	names := func(c *s3.Client) string {
		out, err := c.ListBuckets(bg, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, b := range out.Buckets {
			n = append(n, *b.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(alice); got != "private-b,shared-b" {
		t.Errorf("alice sees %s", got)
	}
	if got := names(bob); got != "shared-b" {
		t.Errorf("bob sees %s", got)
	}
	if got := names(h.root); got != "private-b,shared-b" {
		t.Errorf("root sees %s", got)
	}
}

// Public access blocks: kept per bucket; BlockPublicPolicy refuses public
// bucket policies, RestrictPublicBuckets takes back what a public policy
// grants anonymous callers, BlockPublicAcls refuses public canned ACLs.
func TestPublicAccessBlock(t *testing.T) {
	h := newIAMHarness(t)
	b := aws.String("pab")
	if _, err := h.root.CreateBucket(bg, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	ok(t, "put", put(h.root, "pab", "k", "v"))
	if _, err := h.root.GetPublicAccessBlock(bg, &s3.GetPublicAccessBlockInput{Bucket: b}); code(err) != "NoSuchPublicAccessBlockConfiguration" {
		t.Fatalf("no configuration yet: %v", err)
	}
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}]}`
	if _, err := h.root.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(public)}); err != nil {
		t.Fatal(err)
	}
	anon := func() error {
		resp, err := http.Get(h.url + "/pab/k")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := anon(); err != nil {
		t.Fatalf("anonymous read under a public policy: %v", err)
	}
	setBlock := func(c types.PublicAccessBlockConfiguration) {
		t.Helper()
		if _, err := h.root.PutPublicAccessBlock(bg, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &c}); err != nil {
			t.Fatal(err)
		}
	}
	setBlock(types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true)})
	if err := anon(); err == nil {
		t.Fatal("anonymous read allowed with RestrictPublicBuckets")
	}
	ok(t, "the owner still reads", get(h.root, "pab", "k"))
	got, err := h.root.GetPublicAccessBlock(bg, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil || !aws.ToBool(got.PublicAccessBlockConfiguration.RestrictPublicBuckets) || aws.ToBool(got.PublicAccessBlockConfiguration.BlockPublicPolicy) {
		t.Fatalf("read back: %+v %v", got, err)
	}

	setBlock(types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true), BlockPublicAcls: aws.Bool(true)})
	_, err = h.root.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(public)})
	denied(t, "a public policy under BlockPublicPolicy", err)
	h.user(t, "carol")
	named := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}]}`
	if _, err := h.root.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(named)}); err != nil {
		t.Fatalf("a policy naming a user under BlockPublicPolicy: %v", err)
	}
	_, err = h.root.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("pub"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	denied(t, "a public-read object under BlockPublicAcls", err)
	_, err = h.root.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("priv"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPrivate})
	ok(t, "a private object under BlockPublicAcls", err)
	_, err = h.root.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPublicRead})
	denied(t, "a public-read bucket ACL under BlockPublicAcls", err)

	if _, err := h.root.DeletePublicAccessBlock(bg, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.root.GetPublicAccessBlock(bg, &s3.GetPublicAccessBlockInput{Bucket: b}); code(err) != "NoSuchPublicAccessBlockConfiguration" {
		t.Fatalf("after delete: %v", err)
	}
}
