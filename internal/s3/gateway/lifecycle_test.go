package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestLifecycleConfiguration: the configuration round-trips (rule-level
// prefixes stay rule-level, filters stay filters), bad rules get AWS's
// errors and store nothing, and objects a rule will expire carry
// x-amz-expiration.
func TestLifecycleConfiguration(t *testing.T) {
	h := newHarness(t)
	h.mb(t, "lcb")
	b := aws.String("lcb")
	if _, err := h.s3.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}); code(err) != "NoSuchLifecycleConfiguration" {
		t.Fatalf("no configuration: %v", err)
	}
	rules := []types.LifecycleRule{
		{ID: aws.String("tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(3)}},
		{ID: aws.String("old"), Status: types.ExpirationStatusDisabled,
			Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("logs/"),
				Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}, ObjectSizeGreaterThan: aws.Int64(10)}},
			NoncurrentVersionExpiration:    &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(7), NewerNoncurrentVersions: aws.Int32(2)},
			AbortIncompleteMultipartUpload: nil},
		{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}},
	}
	if _, err := h.s3.PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.s3.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	if err != nil || len(got.Rules) != 3 {
		t.Fatalf("get: %+v %v", got, err)
	}
	r1 := got.Rules[1]
	if aws.ToString(r1.ID) != "old" || r1.Status != types.ExpirationStatusDisabled || r1.Filter == nil || r1.Filter.And == nil ||
		aws.ToString(r1.Filter.And.Prefix) != "logs/" || len(r1.Filter.And.Tags) != 1 || aws.ToInt64(r1.Filter.And.ObjectSizeGreaterThan) != 10 ||
		aws.ToInt32(r1.NoncurrentVersionExpiration.NewerNoncurrentVersions) != 2 {
		t.Fatalf("rule 2 came back as %+v", r1)
	}
	// The older rule-level Prefix comes back as it went.
	resp, _ := h.do(t, true, http.MethodPut, "/lcb?lifecycle", nil,
		`<LifecycleConfiguration><Rule><ID>r</ID><Prefix>p/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`)
	if resp.StatusCode != 200 {
		t.Fatalf("rule-level prefix: %d", resp.StatusCode)
	}
	_, body := h.do(t, true, http.MethodGet, "/lcb?lifecycle", nil, "")
	if !strings.Contains(string(body), "<Rule><ID>r</ID><Prefix>p/</Prefix><Status>Enabled</Status>") || strings.Contains(string(body), "<Filter>") {
		t.Fatalf("rule-level prefix came back as %s", body)
	}
	// Bad rules: nothing stored.
	for _, c := range []struct{ xml, code string }{
		{`<Rule><ID>x</ID><Prefix/><Status>enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, "MalformedXML"},
		{`<Rule><ID>` + strings.Repeat("a", 256) + `</ID><Prefix/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, "InvalidArgument"},
		{`<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>`, "InvalidArgument"},
		{`<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>`, "InvalidArgument"},
		{`<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Date>20200101</Date></Expiration></Rule>`, "InvalidArgument"},
		{`<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Date>2020-01-01T10:00:00Z</Date></Expiration></Rule>`, "InvalidArgument"},
		{`<Rule><ID>a</ID><Prefix>x</Prefix><Filter><Prefix>y</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, "InvalidArgument"},
		{`<Rule><ID>a</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`, "InvalidArgument"},
		{`<Rule><ID>a</ID><Prefix/><Status>Enabled</Status></Rule>`, "InvalidArgument"},
		{`<Rule><ID>a`, "MalformedXML"},
	} {
		resp, body := h.do(t, true, http.MethodPut, "/lcb?lifecycle", nil, `<LifecycleConfiguration>`+c.xml+`</LifecycleConfiguration>`)
		errorBody(t, resp, body, 400, c.code)
	}
	_, body = h.do(t, true, http.MethodGet, "/lcb?lifecycle", nil, "")
	if !strings.Contains(string(body), "<ID>r</ID>") {
		t.Fatalf("a refused configuration replaced the stored one: %s", body)
	}
	// x-amz-expiration on PUT and HEAD of an object a rule expires.
	out := h.put(t, "lcb", "p/obj", "x")
	_ = out
	resp, _ = h.do(t, true, http.MethodHead, "/lcb/p/obj", nil, "")
	exp := resp.Header.Get("x-amz-expiration")
	want := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 2).Format(http.TimeFormat)
	if exp != `expiry-date="`+want+`", rule-id="r"` {
		t.Fatalf("x-amz-expiration: %q, want date %s", exp, want)
	}
	if resp, _ := h.do(t, true, http.MethodHead, "/lcb/other", nil, ""); resp.Header.Get("x-amz-expiration") != "" {
		t.Fatal("x-amz-expiration on an object no rule covers")
	}
	if _, err := h.s3.DeleteBucketLifecycle(bg, &s3.DeleteBucketLifecycleInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s3.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}); code(err) != "NoSuchLifecycleConfiguration" {
		t.Fatalf("after delete: %v", err)
	}
}
