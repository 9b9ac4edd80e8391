package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// MaxSize is the longest document Parse and ParseBucketPolicy accept, in
// bytes: AWS's limit for bucket policies (identity policies are capped
// lower by AWS, at 6,144 characters without whitespace; cairn allows
// both the larger size so that MinIO's longer policies load).
const MaxSize = 20 * 1024

// The versions of the policy language.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// An Error is a document that cannot be used, with the statement at
// fault (1-based; 0 for the document as a whole).
type Error struct {
	Statement int
	Sid       string
	Msg       string
}

func (e *Error) Error() string {
	switch {
	case e.Statement == 0:
		return "policy: " + e.Msg
	case e.Sid != "":
		return fmt.Sprintf("policy: statement %d (Sid %q): %s", e.Statement, e.Sid, e.Msg)
	}
	return fmt.Sprintf("policy: statement %d: %s", e.Statement, e.Msg)
}

func errorf(format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// Effect is a statement's Effect.
type Effect bool

const (
	Deny  Effect = false
	Allow Effect = true
)

func (e Effect) String() string {
	if e == Allow {
		return "Allow"
	}
	return "Deny"
}

// A Policy is a parsed, validated document, ready to evaluate. It is
// immutable and safe for concurrent use.
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
	raw        []byte
}

// JSON returns the document as it was given.
func (p *Policy) JSON() []byte { return p.raw }

// A Statement is one compiled statement of a Policy.
type Statement struct {
	Sid    string
	Effect Effect

	principals   *principals // nil: the statement names no principal
	notPrincipal bool
	actions      []pattern
	notAction    bool
	resources    []template
	notResource  bool
	conditions   []condition
}

// Parse parses an identity policy: one attached to a user, a group, a
// service account or an STS session. Its statements name no principal.
func Parse(doc []byte) (*Policy, error) { return parse(doc, false, "") }

// ParseBucketPolicy parses the resource policy of bucket: every statement
// names a principal, and every resource is the bucket or objects in it.
func ParseBucketPolicy(doc []byte, bucket string) (*Policy, error) {
	return parse(doc, true, bucket)
}

var (
	documentElements  = []string{"Version", "Id", "Statement"}
	statementElements = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)

func parse(doc []byte, bucketPolicy bool, bucket string) (*Policy, error) {
	if len(doc) > MaxSize {
		return nil, errorf("the document is %d bytes long; at most %d are allowed", len(doc), MaxSize)
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, errorf("the document is empty")
	}
	top, err := object(doc, documentElements)
	if err != nil {
		return nil, errorf("%s", err.Msg)
	}
	p := &Policy{Version: Version2008, raw: append([]byte(nil), doc...)}
	if v, ok := top["Version"]; ok {
		if err := json.Unmarshal(v, &p.Version); err != nil || (p.Version != Version2012 && p.Version != Version2008) {
			return nil, errorf("Version must be %q (or %q)", Version2012, Version2008)
		}
	}
	if v, ok := top["Id"]; ok {
		if err := json.Unmarshal(v, &p.ID); err != nil {
			return nil, errorf("Id must be a string")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, errorf("the document has no Statement")
	}
	var stmts []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		stmts = []json.RawMessage{raw}
	} else if err := json.Unmarshal(raw, &stmts); err != nil {
		return nil, errorf("Statement must be a statement or a list of them")
	}
	if len(stmts) == 0 {
		return nil, errorf("Statement is empty")
	}
	sids := map[string]bool{}
	for i, raw := range stmts {
		s, err := parseStatement(raw, p.Version == Version2012, bucketPolicy, bucket)
		if err != nil {
			err.Statement, err.Sid = i+1, s.Sid
			return nil, err
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, &Error{Statement: i + 1, Sid: s.Sid, Msg: "the Sid is not unique in the document"}
			}
			sids[s.Sid] = true
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

// object decodes a JSON object whose member names must be among allowed.
func object(raw []byte, allowed []string) (map[string]json.RawMessage, *Error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errorf("not a JSON object: %v", jsonProblem(err))
	}
	for k := range m {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
			}
		}
		if !found {
			return nil, errorf("unknown element %q", k)
		}
	}
	return m, nil
}

func jsonProblem(err error) string {
	if err == nil {
		return "null"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// strings decodes a string or a list of strings; numbers and booleans are
// taken as their JSON text (condition values are written either way).
func stringList(raw json.RawMessage) ([]string, bool) {
	var one any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&one); err != nil {
		return nil, false
	}
	scalar := func(v any) (string, bool) {
		switch v := v.(type) {
		case string:
			return v, true
		case json.Number:
			return v.String(), true
		case bool:
			if v {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	if list, ok := one.([]any); ok {
		out := make([]string, 0, len(list))
		for _, v := range list {
			s, ok := scalar(v)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	s, ok := scalar(one)
	if !ok {
		return nil, false
	}
	return []string{s}, true
}

func parseStatement(raw json.RawMessage, vars, bucketPolicy bool, bucket string) (Statement, *Error) {
	var s Statement
	m, err := object(raw, statementElements)
	if err != nil {
		return s, err
	}
	if v, ok := m["Sid"]; ok {
		if json.Unmarshal(v, &s.Sid) != nil {
			return s, errorf("Sid must be a string")
		}
	}
	var effect string
	if v, ok := m["Effect"]; !ok || json.Unmarshal(v, &effect) != nil || (effect != "Allow" && effect != "Deny") {
		return s, errorf(`Effect must be "Allow" or "Deny"`)
	}
	s.Effect = effect == "Allow"
	if err := s.parsePrincipal(m, bucketPolicy); err != nil {
		return s, err
	}
	actions, notAction, err := pick(m, "Action", "NotAction")
	if err != nil {
		return s, err
	}
	s.notAction = notAction
	for _, a := range actions {
		if err := checkAction(a); err != nil {
			return s, err
		}
		s.actions = append(s.actions, compileGlob(a))
	}
	resources, notResource, err := pick(m, "Resource", "NotResource")
	if err != nil {
		return s, err
	}
	s.notResource = notResource
	for _, r := range resources {
		t, err := parseResource(r, vars, bucketPolicy, bucket)
		if err != nil {
			return s, err
		}
		s.resources = append(s.resources, t)
	}
	if v, ok := m["Condition"]; ok {
		if s.conditions, err = parseConditions(v, vars); err != nil {
			return s, err
		}
	}
	return s, nil
}

// pick returns the values of element name or of its negation notName:
// exactly one must be present, with at least one value.
func pick(m map[string]json.RawMessage, name, notName string) ([]string, bool, *Error) {
	v, has := m[name]
	nv, hasNot := m[notName]
	switch {
	case has && hasNot:
		return nil, false, errorf("%s and %s cannot both be given", name, notName)
	case !has && !hasNot:
		return nil, false, errorf("%s (or %s) is missing", name, notName)
	case hasNot:
		v = nv
	}
	list, ok := stringList(v)
	if !ok || len(list) == 0 {
		return nil, false, errorf("%s must be a string or a non-empty list of strings", map[bool]string{true: notName, false: name}[hasNot])
	}
	for _, s := range list {
		if s == "" {
			return nil, false, errorf("%s holds an empty string", map[bool]string{true: notName, false: name}[hasNot])
		}
	}
	return list, hasNot, nil
}
