package policy

import (
	"bytes"
	"testing"
)

var fuzzSeeds = []string{
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`,
	`{"Statement":{"Effect":"Deny","NotAction":["s3:Get*"],"NotResource":"arn:aws:s3:::x*","Condition":{"ForAllValues:StringLike":{"s3:RequestObjectTagKeys":["a*"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`,
	`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"DateLessThanIfExists":{"aws:CurrentTime":"2026-01-01"},"Null":{"s3:prefix":true},"NumericGreaterThan":{"s3:max-keys":5}}}]}`,
	`[{"bucket":"b","prefix":"p/","actions":["list","read","iam:*"]}]`,
}

// FuzzParse: no document makes a parser or an evaluation panic, what one
// parser accepts evaluates, and a document that parses parses the same
// way again from JSON().
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), "s3:GetObject", "b/p/x", "alice", "10.1.2.3")
	}
	f.Fuzz(func(t *testing.T, doc []byte, action, resource, user, ip string) {
		r := &Request{Action: action, Resource: s3ARN + resource, Principals: []string{user}}
		r.Set("aws:username", user)
		r.Set("aws:SourceIp", ip)
		r.Set("s3:prefix", resource)
		r.Set("s3:RequestObjectTagKeys", user, ip)
		r.Set("aws:CurrentTime", ip)
		for _, parse := range []func([]byte) (*Policy, error){
			ParseAny,
			func(d []byte) (*Policy, error) { return ParseBucketPolicy(d, "b") },
		} {
			p, err := parse(doc)
			if err != nil {
				if p != nil {
					t.Fatalf("a policy with an error: %v", err)
				}
				continue
			}
			d := p.Evaluate(r)
			again, err := parse(p.JSON())
			if err != nil {
				t.Fatalf("JSON() does not parse again: %v", err)
			}
			if !bytes.Equal(again.JSON(), p.JSON()) || again.Evaluate(r) != d {
				t.Fatalf("reparsed policy differs")
			}
		}
	})
}

// FuzzMatch: the matcher terminates and agrees with itself under fold
// for patterns without letters.
func FuzzMatch(f *testing.F) {
	f.Add("a*b?c", "axxbyc")
	f.Add("*/*", "a/b")
	f.Fuzz(func(t *testing.T, pat, s string) {
		m := globMatch(pat, s, false)
		if m && !globMatch(pat, s, true) {
			t.Fatalf("a case-sensitive match that fails folded: %q %q", pat, s)
		}
		if pat == s && !bytes.ContainsAny([]byte(pat), "*?") && !m {
			t.Fatalf("%q does not match itself", pat)
		}
	})
}
