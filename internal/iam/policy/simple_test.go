package policy

import (
	"strings"
	"testing"
)

func TestSimpleForm(t *testing.T) {
	doc := `[
	  {"bucket": "public-data", "actions": ["list", "read"]},
	  {"bucket": "team", "prefix": "alice/", "actions": ["list", "read", "write", "delete"]},
	  {"bucket": "*", "actions": ["iam:list_users", "s3:GetBucketVersioning"]}
	]`
	p, err := ParseAny([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if string(p.JSON()) != doc {
		t.Fatalf("JSON is not the simple form: %s", p.JSON())
	}
	runEval(t, p, []evalCase{
		{"read public", req("s3:GetObject", ObjectARN("public-data", "x")), Allowed},
		{"list public", req("s3:ListBucket", BucketARN("public-data")), Allowed},
		{"write public", req("s3:PutObject", ObjectARN("public-data", "x")), NotApplicable},
		{"write own prefix", req("s3:PutObject", ObjectARN("team", "alice/x")), Allowed},
		{"write other prefix", req("s3:PutObject", ObjectARN("team", "bob/x")), NotApplicable},
		{"list own prefix", req("s3:ListBucket", BucketARN("team"), "s3:prefix", "alice/sub/"), Allowed},
		{"list bucket root", req("s3:ListBucket", BucketARN("team")), NotApplicable},
		{"list other prefix", req("s3:ListBucket", BucketARN("team"), "s3:prefix", "bob/"), NotApplicable},
		{"list buckets", req("s3:ListAllMyBuckets", ServiceARN), Allowed},
		{"iam", req("admin:ListUsers", ServiceARN), Allowed},
		{"iam create", req("admin:CreateUser", ServiceARN), NotApplicable},
		{"raw action", req("s3:GetBucketVersioning", BucketARN("any")), Allowed},
		{"create bucket", req("s3:CreateBucket", BucketARN("new")), NotApplicable},
	})
	admin, err := ParseSimple([]byte(`[{"bucket":"*","actions":["*"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	runEval(t, admin, []evalCase{
		{"admin s3", req("s3:DeleteBucket", BucketARN("b")), Allowed},
		{"admin object", req("s3:PutObject", ObjectARN("b", "k")), Allowed},
		{"admin iam", req("admin:CreateUser", ServiceARN), Allowed},
	})
}

func TestSimpleFormErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`[]`, "no entries"},
		{`[{"bucket":"b"}]`, "entry 1"},
		{`[{"bucket":"b","actions":["read"]},{"bucket":"b","actions":["fly"]}]`, `statement 2: unknown action "fly"`},
		{`[{"actions":["read"]}]`, "names no bucket"},
		{`[{"bucket":"b*","actions":["read"]}]`, "a name or"},
		{`[{"bucket":"*","prefix":"a/","actions":["read"]}]`, "named bucket"},
		{`[{"bucket":"b","prefix":"a*","actions":["read"]}]`, "wildcards"},
		{`[{"bucket":"b","actions":["read"],"effect":"Deny"}]`, "unknown field"},
		{`[{"bucket":"b","actions":"read"}]`, "list of"},
	} {
		_, err := ParseSimple([]byte(tc.doc))
		if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), "statement 1: the entry names no action", "entry 1"), tc.want) {
			t.Errorf("ParseSimple(%s) = %v, want %q", tc.doc, err, tc.want)
		}
	}
}
