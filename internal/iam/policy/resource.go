package policy

import (
	"strings"
)

// s3ARN prefixes the ARN of every bucket and object.
const s3ARN = "arn:aws:s3:::"

// ServiceARN is the resource of actions that name no bucket
// (LevelService: ListAllMyBuckets, the admin API, STS): both "*" and
// "arn:aws:s3:::*" match it, as policies written for AWS and for MinIO
// expect.
const ServiceARN = s3ARN

// BucketARN and ObjectARN are the resources of S3 requests.
func BucketARN(bucket string) string      { return s3ARN + bucket }
func ObjectARN(bucket, key string) string { return s3ARN + bucket + "/" + key }

// A template is a wildcard pattern that may hold policy variables.
type template struct {
	fixed pattern // the whole pattern, when it holds no variable
	parts []part  // otherwise
}

// A part of a template: wildcard text, literal text, or a variable.
type part struct {
	kind   partKind
	text   string // the text, or the variable's canonical key
	def    string // a variable's default, when hasDef
	hasDef bool
}

type partKind uint8

const (
	globText partKind = iota
	literalText
	variable
)

// parseTemplate splits s into text and ${...} variables (when vars: the
// policy's Version is 2012-10-17). ${*}, ${?} and ${$} are the literal
// characters.
func parseTemplate(s string, vars bool) (template, *Error) {
	if !vars || !strings.Contains(s, "${") {
		return template{fixed: compileGlob(s)}, nil
	}
	var t template
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{kind: globText, text: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return t, errorf("unterminated policy variable in %q", s)
		}
		body := s[i+2 : i+j]
		s = s[i+j+1:]
		switch body {
		case "*", "?", "$":
			t.parts = append(t.parts, part{kind: literalText, text: body})
			continue
		}
		v := part{kind: variable}
		name, def, hasDef := strings.Cut(body, ",")
		name = strings.TrimSpace(name)
		if hasDef {
			def = strings.TrimSpace(def)
			if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
				return t, errorf("the default of policy variable %q must be quoted with ' '", name)
			}
			v.def, v.hasDef = def[1:len(def)-1], true
		}
		if !knownKey(name) {
			return t, errorf("unknown policy variable ${%s}", name)
		}
		v.text = canonKey(name)
		t.parts = append(t.parts, v)
	}
	if s != "" {
		t.parts = append(t.parts, part{kind: globText, text: s})
	}
	return t, nil
}

// resolve returns the pattern with the request's variable values put in
// as literal text; ok is false when a variable has no value and no
// default, so that the template matches nothing.
func (t *template) resolve(r *Request) (pattern, bool) {
	if t.parts == nil {
		return t.fixed, true
	}
	var p pattern
	for _, pt := range t.parts {
		switch pt.kind {
		case globText:
			p = append(p, compileGlob(pt.text)...)
			continue
		case literalText:
			p = p.literal(pt.text)
			continue
		}
		v := r.value(pt.text)
		switch {
		case len(v) > 0:
			p = p.literal(v[0])
		case pt.hasDef:
			p = p.literal(pt.def)
		default:
			return nil, false
		}
	}
	return p, true
}

func (t *template) match(r *Request, s string, fold bool) bool {
	p, ok := t.resolve(r)
	return ok && p.match(s, fold)
}

// parseResource validates one Resource/NotResource value: "*" or an ARN
// (arn:partition:service:region:account:resource); in a bucket policy,
// the bucket's own ARN or its objects'.
func parseResource(s string, vars, bucketPolicy bool, bucket string) (template, *Error) {
	if bucketPolicy {
		// The bucket part may be a pattern ("arn:aws:s3:::*"), as long as
		// it covers the bucket.
		rest, ok := strings.CutPrefix(s, s3ARN)
		if b, _, _ := strings.Cut(rest, "/"); !ok || !globMatch(b, bucket, false) {
			return template{}, errorf("resource %q is not bucket %q nor an object in it", s, bucket)
		}
	} else if s != "*" {
		if f := strings.SplitN(s, ":", 6); len(f) != 6 || f[0] != "arn" || f[2] == "" {
			return template{}, errorf("resource %q is not an ARN (arn:aws:s3:::bucket/key) nor *", s)
		}
	}
	return parseTemplate(s, vars)
}
