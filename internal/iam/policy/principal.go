package policy

import (
	"bytes"
	"encoding/json"
)

// principals are the values of a statement's Principal or NotPrincipal.
type principals struct {
	any bool                // "*" or {"AWS": "*"}: everyone, anonymous users too
	ids map[string]struct{} // the AWS identifiers named
}

// principalTypes are the members a Principal object may have. Only AWS
// identifiers name cairn's users; the others load but match only as "*".
var principalTypes = []string{"AWS", "CanonicalUser", "Service", "Federated"}

func (s *Statement) parsePrincipal(m map[string]json.RawMessage, bucketPolicy bool) *Error {
	v, has := m["Principal"]
	nv, hasNot := m["NotPrincipal"]
	switch {
	case !bucketPolicy && (has || hasNot):
		return errorf("an identity policy names no Principal: it applies to whom it is attached to")
	case !bucketPolicy:
		return nil
	case has && hasNot:
		return errorf("Principal and NotPrincipal cannot both be given")
	case !has && !hasNot:
		return errorf("a bucket policy statement needs a Principal")
	case hasNot && s.Effect == Allow:
		// As AWS: allowing everyone but some principals is refused.
		return errorf("NotPrincipal can only be used with \"Effect\": \"Deny\"")
	case hasNot:
		v, s.notPrincipal = nv, true
	}
	p := &principals{ids: map[string]struct{}{}}
	if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '"' {
		var star string
		if json.Unmarshal(v, &star) != nil || star != "*" {
			return errorf(`Principal must be "*" or an object such as {"AWS": [...]}`)
		}
		p.any = true
		s.principals = p
		return nil
	}
	members, err := object(v, principalTypes)
	if err != nil {
		return errorf("Principal: %s", err.Msg)
	}
	if len(members) == 0 {
		return errorf("Principal is empty")
	}
	for typ, raw := range members {
		ids, ok := stringList(raw)
		if !ok || len(ids) == 0 {
			return errorf("Principal %s must be a string or a non-empty list of strings", typ)
		}
		for _, id := range ids {
			switch {
			case id == "*":
				p.any = true
			case id == "":
				return errorf("Principal %s holds an empty string", typ)
			case typ == "AWS":
				p.ids[id] = struct{}{}
			}
		}
	}
	s.principals = p
	return nil
}

// matches reports whether the caller, known by ids (none: anonymous), is
// among p.
func (p *principals) matches(ids []string) bool {
	if p.any {
		return true
	}
	for _, id := range ids {
		if _, ok := p.ids[id]; ok {
			return true
		}
	}
	return false
}
