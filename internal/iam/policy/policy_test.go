package policy

import (
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

func mustBucket(t *testing.T, doc, bucket string) *Policy {
	t.Helper()
	p, err := ParseBucketPolicy([]byte(doc), bucket)
	if err != nil {
		t.Fatalf("ParseBucketPolicy: %v\n%s", err, doc)
	}
	return p
}

// req builds a request; kv are condition keys and values in pairs.
func req(action, resource string, kv ...string) *Request {
	r := &Request{Action: action, Resource: resource}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Set(kv[i], strings.Split(kv[i+1], "|")...)
	}
	return r
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		stmt      int    // statement named by the error
		want      string // in its message
	}{
		{"not json", `{"Version":`, 0, "not a JSON object"},
		{"empty", `  `, 0, "empty"},
		{"array", `[]`, 0, "not a JSON object"},
		{"bad version", `{"Version":"2020-01-01","Statement":[]}`, 0, "Version"},
		{"no statement", `{"Version":"2012-10-17"}`, 0, "no Statement"},
		{"empty statement list", `{"Version":"2012-10-17","Statement":[]}`, 0, "empty"},
		{"unknown top element", `{"Version":"2012-10-17","Statment":[]}`, 0, `unknown element "Statment"`},
		{"lower-case element", `{"version":"2012-10-17","Statement":[]}`, 0, `unknown element "version"`},
		{"bad effect", `{"Statement":[{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}]}`, 1, "Effect"},
		{"no action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, 1, "Action (or NotAction) is missing"},
		{"both actions", `{"Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"s3:*","Resource":"*"}]}`, 1, "cannot both"},
		{"unknown action", `{"Statement":[{"Sid":"x","Effect":"Allow","Action":"s3:GetObjekt","Resource":"*"}]}`, 1, `unknown action "s3:GetObjekt"`},
		{"pattern matching nothing", `{"Statement":[{"Effect":"Allow","Action":"s3:Frobnicate*","Resource":"*"}]}`, 1, "matches no action"},
		{"unknown service", `{"Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"}]}`, 1, "unknown service"},
		{"no colon", `{"Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`, 1, "service:action"},
		{"empty action", `{"Statement":[{"Effect":"Allow","Action":[""],"Resource":"*"}]}`, 1, "empty string"},
		{"action not string", `{"Statement":[{"Effect":"Allow","Action":{"a":1},"Resource":"*"}]}`, 1, "string or a non-empty list"},
		{"no resource", `{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}`, 1, "Resource (or NotResource) is missing"},
		{"bad resource", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket/*"}]}`, 1, "not an ARN"},
		{"principal in identity policy", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`, 1, "identity policy names no Principal"},
		{"second statement", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"Two","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringFoo":{"s3:prefix":"a"}}}]}`, 2, `unknown condition operator "StringFoo"`},
		{"unknown condition key", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"s3:prefx":"a"}}}]}`, 1, `unknown condition key "s3:prefx"`},
		{"bad number", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}]}`, 1, "not a number"},
		{"bad date", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}]}`, 1, "not a date"},
		{"bad ip", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.300/8"}}}]}`, 1, "not an IP"},
		{"bad bool", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}]}`, 1, "not true or false"},
		{"null with IfExists", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NullIfExists":{"s3:prefix":"true"}}}]}`, 1, "Null takes no qualifier"},
		{"condition not object", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":"a"}}]}`, 1, "must map keys to values"},
		{"empty condition values", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"s3:prefix":[]}}}]}`, 1, "non-empty list"},
		{"unterminated variable", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username"}]}`, 1, "unterminated"},
		{"unknown variable", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:nobody}"}]}`, 1, "unknown policy variable"},
		{"unquoted default", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username, x}"}]}`, 1, "quoted"},
		{"duplicate sid", `{"Statement":[{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, 2, "not unique"},
		{"unknown statement element", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Conditions":{}}]}`, 1, `unknown element "Conditions"`},
		{"too long", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Sid":"` + strings.Repeat("x", MaxSize) + `"}]}`, 0, "bytes long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, want *Error", err)
			}
			if pe.Statement != tc.stmt || !strings.Contains(pe.Error(), tc.want) {
				t.Fatalf("Parse = %q (statement %d), want statement %d and %q", pe.Error(), pe.Statement, tc.stmt, tc.want)
			}
		})
	}
}

// A bucket policy's resources may be patterns covering the bucket; a
// statement whose actions apply to none of its resources loads (as on
// Ceph RGW, whose conformance suite cairn follows) and matches nothing.
func TestBucketPolicyResources(t *testing.T) {
	p := mustBucket(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::*"},
	  {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b"}]}`, "b")
	runEval(t, p, []evalCase{
		{"star covers the bucket's objects", req("s3:GetObject", ObjectARN("b", "k")), Allowed},
		{"an object action on the bucket's ARN grants nothing", req("s3:PutObject", ObjectARN("b", "k")), NotApplicable},
	})
}

func TestBucketPolicyErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"no principal", `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, "needs a Principal"},
		{"other bucket", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::c/*"}]}`, "not bucket \"b\""},
		{"bucket prefix trick", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bb/*"}]}`, "not bucket"},
		{"star resource", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`, "not bucket"},
		{"pattern not covering the bucket", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::c*/*"}]}`, "not bucket"},
		{"bad principal", `{"Statement":[{"Effect":"Allow","Principal":"alice","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]}`, "Principal must be"},
		{"unknown principal type", `{"Statement":[{"Effect":"Allow","Principal":{"User":"x"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]}`, `unknown element "User"`},
		{"both principals", `{"Statement":[{"Effect":"Allow","Principal":"*","NotPrincipal":{"AWS":"x"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]}`, "cannot both"},
		{"allow with NotPrincipal", `{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]}`, "only be used with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBucketPolicy([]byte(tc.doc), "b")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseBucketPolicy = %v, want %q", err, tc.want)
			}
		})
	}
}

type evalCase struct {
	name string
	r    *Request
	want Decision
}

func runEval(t *testing.T, p *Policy, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Evaluate(tc.r); got != tc.want {
				t.Fatalf("Evaluate(%s %s %v) = %v, want %v", tc.r.Action, tc.r.Resource, tc.r.Context, got, tc.want)
			}
		})
	}
}

// AWS's example: read and write one bucket, nothing else.
func TestEvaluateBucketReadWrite(t *testing.T) {
	p := mustParse(t, `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Sid": "ListObjectsInBucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::bucket-name"]},
	    {"Sid": "AllObjectActions", "Effect": "Allow", "Action": "s3:*Object", "Resource": ["arn:aws:s3:::bucket-name/*"]}
	  ]}`)
	runEval(t, p, []evalCase{
		{"list", req("s3:ListBucket", BucketARN("bucket-name")), Allowed},
		{"list other bucket", req("s3:ListBucket", BucketARN("bucket-name2")), NotApplicable},
		{"get", req("s3:GetObject", ObjectARN("bucket-name", "a/b")), Allowed},
		{"action case", req("S3:getobject", ObjectARN("bucket-name", "a/b")), Allowed},
		{"put", req("s3:PutObject", ObjectARN("bucket-name", "k")), Allowed},
		{"delete", req("s3:DeleteObject", ObjectARN("bucket-name", "k")), Allowed},
		{"tagging is not *Object", req("s3:GetObjectTagging", ObjectARN("bucket-name", "k")), NotApplicable},
		{"resource is case-sensitive", req("s3:GetObject", ObjectARN("Bucket-Name", "k")), NotApplicable},
		{"delete bucket", req("s3:DeleteBucket", BucketARN("bucket-name")), NotApplicable},
	})
}

// AWS's example: each user's home folder, with ${aws:username}.
func TestEvaluateHomeFolder(t *testing.T) {
	p := mustParse(t, `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Sid": "AllowListingOfUserFolder", "Action": ["s3:ListBucket"], "Effect": "Allow",
	     "Resource": ["arn:aws:s3:::bucket"],
	     "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/${aws:username}"]}}},
	    {"Sid": "AllowAllS3ActionsInUserFolder", "Effect": "Allow", "Action": ["s3:*"],
	     "Resource": ["arn:aws:s3:::bucket/home/${aws:username}/*"]}
	  ]}`)
	alice := func(r *Request) *Request { r.Set("aws:username", "alice"); return r }
	runEval(t, p, []evalCase{
		{"own folder", alice(req("s3:GetObject", ObjectARN("bucket", "home/alice/f"))), Allowed},
		{"other folder", alice(req("s3:GetObject", ObjectARN("bucket", "home/bob/f"))), NotApplicable},
		{"list own", alice(req("s3:ListBucket", BucketARN("bucket"), "s3:prefix", "home/alice/")), Allowed},
		{"list own exact", alice(req("s3:ListBucket", BucketARN("bucket"), "s3:prefix", "home/alice")), Allowed},
		{"list other", alice(req("s3:ListBucket", BucketARN("bucket"), "s3:prefix", "home/bob/")), NotApplicable},
		{"list everything", alice(req("s3:ListBucket", BucketARN("bucket"))), NotApplicable},
		{"no user name", req("s3:GetObject", ObjectARN("bucket", "home//f")), NotApplicable},
		// The user name is literal text: a name holding * matches no
		// other user's folder.
		{"wildcard in the value", func() *Request {
			r := req("s3:GetObject", ObjectARN("bucket", "home/bob/f"))
			r.Set("aws:username", "*")
			return r
		}(), NotApplicable},
	})
}

func TestEvaluateDenyWins(t *testing.T) {
	allow := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::*"}]}`)
	deny := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["s3:DeleteObject","s3:DeleteBucket"],"Resource":"arn:aws:s3:::prod*"}]}`)
	for _, tc := range []struct {
		r    *Request
		want Decision
	}{
		{req("s3:DeleteObject", ObjectARN("prod", "x")), Denied},
		{req("s3:DeleteBucket", BucketARN("prod-2")), Denied},
		{req("s3:DeleteObject", ObjectARN("dev", "x")), Allowed},
		{req("s3:GetObject", ObjectARN("prod", "x")), Allowed},
	} {
		if got := Evaluate(tc.r, allow, nil, deny); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.r.Action, tc.r.Resource, got, tc.want)
		}
		if got := Evaluate(tc.r, deny, allow); got != tc.want {
			t.Errorf("%s %s (reversed): %v, want %v", tc.r.Action, tc.r.Resource, got, tc.want)
		}
	}
	if got := Evaluate(req("s3:GetObject", ObjectARN("a", "b"))); got != NotApplicable {
		t.Errorf("no policies: %v", got)
	}
}

func TestEvaluateNotActionNotResource(t *testing.T) {
	// AWS's example: everything but IAM... here, all but deletes, and
	// not on the audit bucket.
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","NotAction":["s3:Delete*"],"Resource":"arn:aws:s3:::*"},
	  {"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::*"]},
	  {"Effect":"Deny","Action":"s3:PutObject","NotResource":["arn:aws:s3:::logs/*","arn:aws:s3:::data/*"]}]}`)
	runEval(t, p, []evalCase{
		{"get", req("s3:GetObject", ObjectARN("data", "k")), Allowed},
		{"delete", req("s3:DeleteObject", ObjectARN("data", "k")), NotApplicable},
		{"put data", req("s3:PutObject", ObjectARN("data", "k")), Allowed},
		{"put elsewhere", req("s3:PutObject", ObjectARN("other", "k")), Denied},
		{"admin action", req("admin:ListUsers", ServiceARN), Allowed},
	})
}

func TestEvaluateConditions(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"IPAllow","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::ip/*",
	   "Condition":{"IpAddress":{"aws:SourceIp":["54.240.143.0/24","2001:db8::/32"]},"NotIpAddress":{"aws:SourceIp":"54.240.143.188/32"}}},
	  {"Sid":"TLS","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::tls/*","Condition":{"Bool":{"aws:SecureTransport":false}}},
	  {"Sid":"TLSAllow","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::tls/*"},
	  {"Sid":"Window","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::time/*",
	   "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"}}},
	  {"Sid":"MaxKeys","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::keys",
	   "Condition":{"NumericLessThanEquals":{"s3:max-keys":10}}},
	  {"Sid":"Acl","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::acl/*",
	   "Condition":{"StringEquals":{"s3:x-amz-acl":["bucket-owner-full-control"]}}},
	  {"Sid":"Agent","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::agent/*",
	   "Condition":{"StringEqualsIgnoreCase":{"aws:UserAgent":"Backup/1.0"},"StringNotLike":{"aws:Referer":"http://evil.example/*"}}}]}`)
	runEval(t, p, []evalCase{
		{"ip inside", req("s3:GetObject", ObjectARN("ip", "k"), "aws:SourceIp", "54.240.143.7"), Allowed},
		{"ip v6 inside", req("s3:GetObject", ObjectARN("ip", "k"), "aws:SourceIp", "2001:db8::1"), Allowed},
		{"ip excluded", req("s3:GetObject", ObjectARN("ip", "k"), "aws:SourceIp", "54.240.143.188"), NotApplicable},
		{"ip outside", req("s3:GetObject", ObjectARN("ip", "k"), "aws:SourceIp", "10.1.1.1"), NotApplicable},
		{"ip v4-mapped", req("s3:GetObject", ObjectARN("ip", "k"), "aws:SourceIp", "::ffff:54.240.143.7"), Allowed},
		{"ip missing", req("s3:GetObject", ObjectARN("ip", "k")), NotApplicable},
		{"ip garbage", req("s3:GetObject", ObjectARN("ip", "k"), "aws:SourceIp", "nope"), NotApplicable},
		{"plain http", req("s3:GetObject", ObjectARN("tls", "k"), "aws:SecureTransport", "false"), Denied},
		{"https", req("s3:GetObject", ObjectARN("tls", "k"), "aws:SecureTransport", "true"), Allowed},
		{"in window", req("s3:GetObject", ObjectARN("time", "k"), "aws:CurrentTime", "2026-12-01T10:00:00Z"), Allowed},
		{"epoch in window", req("s3:GetObject", ObjectARN("time", "k"), "aws:CurrentTime", "1780000000"), Allowed},
		{"after window", req("s3:GetObject", ObjectARN("time", "k"), "aws:CurrentTime", "2027-01-02T00:00:00Z"), NotApplicable},
		{"max-keys 10", req("s3:ListBucket", BucketARN("keys"), "s3:max-keys", "10"), Allowed},
		{"max-keys 11", req("s3:ListBucket", BucketARN("keys"), "s3:max-keys", "11"), NotApplicable},
		{"max-keys missing", req("s3:ListBucket", BucketARN("keys")), NotApplicable},
		{"acl given", req("s3:PutObject", ObjectARN("acl", "k"), "s3:x-amz-acl", "bucket-owner-full-control"), Allowed},
		{"acl other", req("s3:PutObject", ObjectARN("acl", "k"), "s3:x-amz-acl", "public-read"), NotApplicable},
		{"acl key case", req("s3:PutObject", ObjectARN("acl", "k"), "S3:X-Amz-Acl", "bucket-owner-full-control"), Allowed},
		{"agent fold", req("s3:GetObject", ObjectARN("agent", "k"), "aws:UserAgent", "backup/1.0"), Allowed},
		{"agent evil referer", req("s3:GetObject", ObjectARN("agent", "k"), "aws:UserAgent", "Backup/1.0", "aws:Referer", "http://evil.example/x"), NotApplicable},
	})
}

func TestEvaluateMultiValued(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"AllTags","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::all/*",
	   "Condition":{"ForAllValues:StringLike":{"s3:RequestObjectTagKeys":["Project","Env*"]}}},
	  {"Sid":"AnyTag","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::any/*",
	   "Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["Owner"]}}},
	  {"Sid":"NoSecret","Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::any/*",
	   "Condition":{"ForAnyValue:StringNotEquals":{"s3:RequestObjectTagKeys":["Owner","Project"]}}},
	  {"Sid":"Tag","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::tag/*",
	   "Condition":{"StringEquals":{"s3:ExistingObjectTag/Classification":"public"}}}]}`)
	runEval(t, p, []evalCase{
		{"all match", req("s3:PutObject", ObjectARN("all", "k"), "s3:RequestObjectTagKeys", "Project|Environment"), Allowed},
		{"one outside", req("s3:PutObject", ObjectARN("all", "k"), "s3:RequestObjectTagKeys", "Project|Secret"), NotApplicable},
		{"all of none", req("s3:PutObject", ObjectARN("all", "k")), Allowed},
		{"any match", req("s3:PutObject", ObjectARN("any", "k"), "s3:RequestObjectTagKeys", "Owner|Project"), Allowed},
		{"any with a stray key", req("s3:PutObject", ObjectARN("any", "k"), "s3:RequestObjectTagKeys", "Owner|Secret"), Denied},
		{"any of none", req("s3:PutObject", ObjectARN("any", "k")), NotApplicable},
		{"tag value", req("s3:GetObject", ObjectARN("tag", "k"), "s3:ExistingObjectTag/Classification", "public"), Allowed},
		{"tag name is case-sensitive", req("s3:GetObject", ObjectARN("tag", "k"), "s3:ExistingObjectTag/classification", "public"), NotApplicable},
		{"tag key prefix case", req("s3:GetObject", ObjectARN("tag", "k"), "S3:existingobjecttag/Classification", "public"), Allowed},
	})
}

func TestEvaluateNullAndIfExists(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"NoPrefix","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::null","Condition":{"Null":{"s3:prefix":"true"}}},
	  {"Sid":"Prefix","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::notnull","Condition":{"Null":{"s3:prefix":"false"}}},
	  {"Sid":"IfExists","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::ifexists","Condition":{"NumericLessThanIfExists":{"s3:max-keys":"100"}}},
	  {"Sid":"Negated","Effect":"Deny","Action":"s3:ListBucket","Resource":"arn:aws:s3:::negated","Condition":{"StringNotEquals":{"s3:delimiter":"/"}}}]}`)
	runEval(t, p, []evalCase{
		{"null holds", req("s3:ListBucket", BucketARN("null")), Allowed},
		{"null fails", req("s3:ListBucket", BucketARN("null"), "s3:prefix", "a"), NotApplicable},
		{"not null holds", req("s3:ListBucket", BucketARN("notnull"), "s3:prefix", ""), Allowed},
		{"not null fails", req("s3:ListBucket", BucketARN("notnull")), NotApplicable},
		{"if exists absent", req("s3:ListBucket", BucketARN("ifexists")), Allowed},
		{"if exists small", req("s3:ListBucket", BucketARN("ifexists"), "s3:max-keys", "99"), Allowed},
		{"if exists large", req("s3:ListBucket", BucketARN("ifexists"), "s3:max-keys", "1000"), NotApplicable},
		{"negated absent", req("s3:ListBucket", BucketARN("negated")), Denied},
		{"negated other", req("s3:ListBucket", BucketARN("negated"), "s3:delimiter", "-"), Denied},
		{"negated equal", req("s3:ListBucket", BucketARN("negated"), "s3:delimiter", "/"), NotApplicable},
	})
}

func TestEvaluateVariables(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username, 'guest'}/*"},
	  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::lit/${*}${?}${$}"},
	  {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::eq/*","Condition":{"StringEquals":{"s3:prefix":"${aws:userid}*"}}}]}`)
	user := func(r *Request) *Request { r.Set("aws:username", "carol"); r.Set("aws:userid", "U1"); return r }
	runEval(t, p, []evalCase{
		{"user", user(req("s3:GetObject", ObjectARN("b", "carol/x"))), Allowed},
		{"default", req("s3:GetObject", ObjectARN("b", "guest/x")), Allowed},
		{"default not for users", user(req("s3:GetObject", ObjectARN("b", "guest/x"))), NotApplicable},
		{"literal specials", req("s3:GetObject", ObjectARN("lit", "*?$")), Allowed},
		{"literal star is not a wildcard", req("s3:GetObject", ObjectARN("lit", "ab$")), NotApplicable},
		{"equality is literal", user(req("s3:PutObject", ObjectARN("eq", "k"), "s3:prefix", "U1*")), Allowed},
		{"equality has no wildcard", user(req("s3:PutObject", ObjectARN("eq", "k"), "s3:prefix", "U1x")), NotApplicable},
	})
	// Under the 2008 version ${...} is plain text.
	old := mustParse(t, `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`)
	runEval(t, old, []evalCase{
		{"2008 literal", user(req("s3:GetObject", ObjectARN("b", "${aws:username}/x"))), Allowed},
		{"2008 no substitution", user(req("s3:GetObject", ObjectARN("b", "carol/x"))), NotApplicable},
	})
}

func TestEvaluatePrincipals(t *testing.T) {
	p := mustBucket(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*"},
	  {"Sid":"Alice","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:user/alice"]},"Action":["s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
	  {"Sid":"AllButAdmin","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::000000000000:user/admin"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"},
	  {"Sid":"Everyone","Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}]}`, "b")
	alice := []string{"arn:aws:iam::000000000000:user/alice"}
	admin := []string{"arn:aws:iam::000000000000:user/admin"}
	as := func(ids []string, r *Request) *Request { r.Principals = ids; return r }
	runEval(t, p, []evalCase{
		{"anonymous public", req("s3:GetObject", ObjectARN("b", "public/x")), Allowed},
		{"anonymous private", req("s3:GetObject", ObjectARN("b", "private/x")), NotApplicable},
		{"alice put", as(alice, req("s3:PutObject", ObjectARN("b", "k"))), Allowed},
		{"anonymous put", req("s3:PutObject", ObjectARN("b", "k")), NotApplicable},
		{"alice delete", as(alice, req("s3:DeleteObject", ObjectARN("b", "k"))), Denied},
		{"admin delete", as(admin, req("s3:DeleteObject", ObjectARN("b", "k"))), Allowed},
		{"anonymous delete", req("s3:DeleteObject", ObjectARN("b", "k")), Denied},
	})
}

func TestBuiltins(t *testing.T) {
	for _, name := range BuiltinNames() {
		if _, ok := Builtin(name); !ok {
			t.Fatalf("Builtin(%q) missing", name)
		}
	}
	if len(BuiltinNames()) != 5 {
		t.Fatalf("BuiltinNames = %v", BuiltinNames())
	}
	get := func(n string) *Policy { p, _ := Builtin(n); return p }
	for _, tc := range []struct {
		policy string
		r      *Request
		want   Decision
	}{
		{"readonly", req("s3:GetObject", ObjectARN("b", "k")), Allowed},
		{"readonly", req("s3:ListBucket", BucketARN("b")), NotApplicable},
		{"readonly", req("s3:PutObject", ObjectARN("b", "k")), NotApplicable},
		{"readwrite", req("s3:PutObject", ObjectARN("b", "k")), Allowed},
		{"readwrite", req("s3:ListAllMyBuckets", ServiceARN), Allowed},
		{"readwrite", req("admin:CreateUser", ServiceARN), NotApplicable},
		{"writeonly", req("s3:PutObject", ObjectARN("b", "k")), Allowed},
		{"writeonly", req("s3:GetObject", ObjectARN("b", "k")), NotApplicable},
		{"consoleAdmin", req("admin:CreateUser", ServiceARN), Allowed},
		{"consoleAdmin", req("sts:AssumeRole", ServiceARN), Allowed},
		{"consoleAdmin", req("s3:DeleteBucket", BucketARN("b")), Allowed},
		{"diagnostics", req("admin:ServerInfo", ServiceARN), Allowed},
		{"diagnostics", req("admin:CreateUser", ServiceARN), NotApplicable},
		{"diagnostics", req("s3:GetObject", ObjectARN("b", "k")), NotApplicable},
	} {
		if got := get(tc.policy).Evaluate(tc.r); got != tc.want {
			t.Errorf("%s: %s = %v, want %v", tc.policy, tc.r.Action, got, tc.want)
		}
	}
	if _, ok := Builtin("nope"); ok {
		t.Fatal("Builtin(nope) found")
	}
}

func TestJSONKeepsTheDocument(t *testing.T) {
	doc := `{ "Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"} }`
	p := mustParse(t, doc)
	if string(p.JSON()) != doc {
		t.Fatalf("JSON = %s", p.JSON())
	}
	if len(p.Statements) != 1 || p.Statements[0].Effect != Allow {
		t.Fatalf("statements: %+v", p.Statements)
	}
}

func TestActions(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Actions() {
		if seen[strings.ToLower(a.Name)] {
			t.Errorf("action %s listed twice", a.Name)
		}
		seen[strings.ToLower(a.Name)] = true
		if err := checkAction(a.Name); err != nil {
			t.Errorf("checkAction(%s): %v", a.Name, err)
		}
	}
	if a, ok := LookupAction("S3:GETOBJECT"); !ok || a.Name != "s3:GetObject" || a.Level != LevelObject {
		t.Fatalf("LookupAction = %+v %v", a, ok)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"", "", false, true},
		{"*", "", false, true},
		{"a*", "abc/def", false, true},
		{"a*c", "abc", false, true},
		{"a*c", "abd", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"*a*b*c*", "xxaxxbxxcxx", false, true},
		{"*a*b*c*", "xxaxxcxxbxx", false, false},
		{"ABC", "abc", true, true},
		{"ABC", "abc", false, false},
		{"a**b", "ab", false, true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b", false, false},
		{strings.Repeat("*a", 50) + "b", strings.Repeat("a", 2000), false, false},
	} {
		if got := globMatch(tc.pat, tc.s, tc.fold); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

// Keys a caller resolves on demand behave as keys set in Context, and
// Context wins.
func TestResolve(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*",
	  "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	asked := map[string]int{}
	r := &Request{Action: "s3:GetObject", Resource: ObjectARN("b", "eve/x"), Resolve: func(k string) []string {
		asked[k]++
		switch k {
		case "aws:username":
			return []string{"eve"}
		case "aws:sourceip":
			return []string{"10.1.2.3"}
		}
		return nil
	}}
	if p.Evaluate(r) != Allowed || asked["aws:username"] == 0 || asked["aws:sourceip"] == 0 {
		t.Fatalf("resolved keys: %v", asked)
	}
	r.Set("aws:SourceIp", "192.168.0.1")
	if p.Evaluate(r) != NotApplicable {
		t.Fatal("Context did not win over Resolve")
	}
}
