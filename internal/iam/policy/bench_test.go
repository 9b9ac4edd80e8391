package policy

import "testing"

// BenchmarkEvaluate: one request against three attached policies (one
// with a variable and a condition), as the gateway evaluates a user's
// GET.
func BenchmarkEvaluate(b *testing.B) {
	ps := []*Policy{}
	for _, doc := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::data/*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8"]}}}]}`,
	} {
		p, err := Parse([]byte(doc))
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
	}
	r := &Request{Action: "s3:GetObject", Resource: ObjectARN("home", "alice/photos/2026/img.jpg")}
	r.Set("aws:username", "alice")
	r.Set("aws:SourceIp", "127.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate(r, ps...) != Allowed {
			b.Fatal("not allowed")
		}
	}
}
