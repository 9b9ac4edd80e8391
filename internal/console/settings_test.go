package console_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// setting posts one settings form and returns the status and page.
func (b *browser) setting(bucket, tab string, form url.Values) (int, string) {
	b.t.Helper()
	form.Set("bucket", bucket)
	form.Set("tab", tab)
	return b.post("/console/settings", form)
}

func anonGet(t *testing.T, u string) int {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func TestBucketSettings(t *testing.T) {
	e, b := rootBrowser(t, "site")
	if _, err := e.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("site"), Key: aws.String("index.html"), Body: strings.NewReader("<p>hi</p>")}); err != nil {
		t.Fatal(err)
	}
	ctx := bg

	t.Run("versioning", func(t *testing.T) {
		if code, body := b.setting("site", "versioning", url.Values{"status": {"Enabled"}}); code != 200 || !strings.Contains(body, "Saved.") || !strings.Contains(body, `id="versioning-status">Enabled<`) {
			t.Fatalf("%d %s", code, body)
		}
		v, _ := e.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("site")})
		if v.Status != s3types.BucketVersioningStatusEnabled {
			t.Fatalf("versioning %q", v.Status)
		}
		if code, _ := b.setting("site", "versioning", url.Values{"status": {"Sideways"}}); code != http.StatusBadRequest {
			t.Fatalf("a bad status: %d", code)
		}
	})

	t.Run("access presets", func(t *testing.T) {
		obj, list := e.url+"/site/index.html", e.url+"/site?list-type=2"
		if anonGet(t, obj) != 403 || anonGet(t, list) != 403 {
			t.Fatal("a new bucket is not private")
		}
		b.setting("site", "access", url.Values{"preset": {"download"}})
		if anonGet(t, obj) != 200 || anonGet(t, list) != 403 {
			t.Fatalf("public read: object %d, list %d", anonGet(t, obj), anonGet(t, list))
		}
		if _, body := b.get("/console/settings?bucket=site&tab=access"); !strings.Contains(body, `value="download" checked`) {
			t.Fatal("the page does not show the preset in force")
		}
		b.setting("site", "access", url.Values{"preset": {"public"}})
		if anonGet(t, obj) != 200 || anonGet(t, list) != 200 {
			t.Fatal("public read and list")
		}
		b.setting("site", "access", url.Values{"preset": {"private"}})
		if anonGet(t, obj) != 403 || anonGet(t, list) != 403 {
			t.Fatal("back to private")
		}
		// A custom policy that is not JSON, and one the gateway refuses:
		// the error is shown and the text kept.
		code, body := b.setting("site", "access", url.Values{"preset": {"custom"}, "text": {`{"Version": "2012-10-17", "Statement": [`}})
		if code != http.StatusBadRequest || !strings.Contains(body, "not valid JSON") || !strings.Contains(body, `&#34;Statement&#34;: [`) {
			t.Fatalf("bad JSON: %d %s", code, body)
		}
		code, body = b.setting("site", "access", url.Values{"preset": {"custom"}, "text": {`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}`}})
		if code != http.StatusBadRequest || !strings.Contains(body, "MalformedPolicy") {
			t.Fatalf("a policy the gateway refuses: %d %s", code, body)
		}
		custom := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/index.html"}]}`
		if code, body := b.setting("site", "access", url.Values{"preset": {"custom"}, "text": {custom}}); code != 200 || !strings.Contains(body, `value="custom" checked`) {
			t.Fatalf("custom: %d", code)
		}
		if anonGet(t, obj) != 200 {
			t.Fatal("the custom policy is not in force")
		}
	})

	t.Run("json documents", func(t *testing.T) {
		lc := `{"Rules":[{"ID":"old-logs","Status":"Enabled","Filter":{"Prefix":"logs/"},"Expiration":{"Days":30}}]}`
		if code, body := b.setting("site", "lifecycle", url.Values{"text": {lc}}); code != 200 || !strings.Contains(body, "old-logs") {
			t.Fatalf("lifecycle: %d %s", code, body)
		}
		got, err := e.s3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("site")})
		if err != nil || len(got.Rules) != 1 || aws.ToInt32(got.Rules[0].Expiration.Days) != 30 {
			t.Fatalf("lifecycle stored: %v %+v", err, got)
		}
		if code, body := b.setting("site", "lifecycle", url.Values{"text": {`{"Rulez":[]}`}}); code != http.StatusBadRequest || !strings.Contains(body, "Rulez") {
			t.Fatalf("a typo: %d %s", code, body)
		}
		b.setting("site", "lifecycle", url.Values{"text": {""}})
		if _, err := e.s3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("site")}); err == nil {
			t.Fatal("an empty lifecycle document did not remove the rules")
		}
		cors := `{"CORSRules":[{"AllowedOrigins":["https://example.com"],"AllowedMethods":["GET"],"MaxAgeSeconds":600}]}`
		if code, body := b.setting("site", "cors", url.Values{"text": {cors}}); code != 200 || !strings.Contains(body, "https://example.com") {
			t.Fatalf("cors: %d %s", code, body)
		}
		code, body := b.setting("site", "notifications", url.Values{"text": {`{"QueueConfigurations":[{"QueueArn":"arn:minio:sqs::nobody:webhook","Events":["s3:ObjectCreated:*"]}]}`}})
		if code != http.StatusBadRequest || !strings.Contains(body, "arn:minio:sqs::nobody:webhook") {
			t.Fatalf("an unknown target: %d %s", code, body)
		}
	})

	t.Run("tags", func(t *testing.T) {
		b.setting("site", "tags", url.Values{"text": {"team = web\nstage=prod\n"}})
		got, err := e.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("site")})
		if err != nil || len(got.TagSet) != 2 {
			t.Fatalf("%v %+v", err, got)
		}
		if code, _ := b.setting("site", "tags", url.Values{"text": {"no equals sign"}}); code != http.StatusBadRequest {
			t.Fatalf("a bad line: %d", code)
		}
	})

	t.Run("object lock", func(t *testing.T) {
		if _, body := b.get("/console/settings?bucket=site&tab=versioning"); strings.Contains(body, ">Object lock<") {
			t.Fatal("a bucket without object lock shows a lock tab")
		}
		b.post("/console/buckets", url.Values{"bucket": {"vault"}, "lock": {"on"}})
		if _, body := b.get("/console/settings?bucket=vault&tab=versioning"); !strings.Contains(body, ">Object lock<") {
			t.Fatal("a bucket with object lock has no lock tab")
		}
		b.setting("vault", "lock", url.Values{"mode": {"GOVERNANCE"}, "period": {"5"}, "unit": {"days"}})
		got, err := e.s3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("vault")})
		if err != nil || got.ObjectLockConfiguration.Rule == nil || aws.ToInt32(got.ObjectLockConfiguration.Rule.DefaultRetention.Days) != 5 {
			t.Fatalf("%v %+v", err, got)
		}
	})

	t.Run("quota", func(t *testing.T) {
		if code, body := b.setting("site", "quota", url.Values{"mib": {"1"}}); code != 200 || !strings.Contains(body, "In use:") {
			t.Fatalf("%d %s", code, body)
		}
		if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("site"), Key: aws.String("big"), Body: bytes.NewReader(make([]byte, 2<<20))}); err == nil {
			t.Fatal("the quota is not in force")
		}
		r := e.browser(t)
		r.signIn(readerAK, readerSK)
		if _, body := r.get("/console/settings?bucket=site&tab=versioning"); strings.Contains(body, ">Quota<") {
			t.Fatal("a user who is not an admin sees the quota tab")
		}
	})
}
