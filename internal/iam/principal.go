package iam

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"cairn/internal/iam/policy"
	"cairn/internal/posix"
)

// Kind is what sort of identity a principal is.
type Kind uint8

const (
	KindRoot Kind = iota
	KindUser
	KindServiceAccount
	KindSession // temporary credentials from STS AssumeRole
)

func (k Kind) String() string {
	return [...]string{"root", "user", "service-account", "session"}[k]
}

// Account is the one account of a volume: the ARNs of its principals
// name it, as AWS's name the account number.
const Account = "000000000000"

// A Principal is the identity behind an access key: who it is, the POSIX
// identity its requests run as, and the policies that decide what it may
// do. A Principal is immutable; the Identities that made it hands out a
// new one after a change.
type Principal struct {
	AccessKey string
	Kind      Kind
	// User is the user's name; for a service account or a session, its
	// parent user's ("root" for the root user's).
	User string
	// Cred is the POSIX identity requests run as.
	Cred posix.Cred
	// Expires is when the key stops working (zero: never).
	Expires time.Time

	secret   string
	policies []*policy.Policy // the user's and its groups' (an allow must come from these)
	narrow   *policy.Policy   // a service account's inline or a session's policy: must allow too
	token    string           // a session's token
}

// ARN is the principal's ARN, as bucket policies' Principal names it.
func (p *Principal) ARN() string {
	if p.Kind == KindRoot || p.User == RootName {
		return "arn:aws:iam::" + Account + ":root"
	}
	return "arn:aws:iam::" + Account + ":user/" + p.User
}

// RootName is the user name of the root user.
const RootName = "root"

// Errors of authentication and authorization.
var (
	// ErrAccessDenied is a request the policies do not allow.
	ErrAccessDenied = errors.New("iam: access denied")
	// ErrNotAllowed is an implicit deny: no policy denies the request,
	// none allows it (an S3 ACL still may). It is an ErrAccessDenied.
	ErrNotAllowed = fmt.Errorf("%w: no policy allows it", ErrAccessDenied)
	// ErrExpired is a key past its expiry.
	ErrExpired = errors.New("iam: the credentials have expired")
	// ErrDisabled is a key of a disabled user or service account.
	ErrDisabled = errors.New("iam: the user is disabled")
)

// Authorize decides request r of principal p (nil: an anonymous caller)
// with the bucket's policy (nil: none). The root user may do anything. For
// others, AWS's rules within one account: an explicit deny in any policy
// wins; otherwise an allow in the identity's policies or in the bucket
// policy suffices; a service account's or session's own policy must
// allow the request as well. Errors are ErrAccessDenied. It fills r's
// principal and identity keys. The Grant tells which policies allowed
// the request.
func (i *Identities) Authorize(ctx context.Context, p *Principal, r *policy.Request, bucket *policy.Policy) (Grant, error) {
	if p != nil && p.Kind == KindRoot {
		return Grant{}, nil
	}
	kind := "Anonymous"
	if p != nil {
		r.Principals = append(r.Principals[:0], p.ARN())
		kind = principalType(p)
	} else {
		r.Principals = r.Principals[:0]
	}
	// The identity's keys, on demand, before the caller's.
	next := r.Resolve
	r.Resolve = func(k string) []string {
		switch {
		case (k == "aws:username" || k == "aws:userid") && p != nil:
			return []string{p.User}
		case k == "aws:principaltype":
			return []string{kind}
		case next != nil:
			return next(k)
		}
		return nil
	}
	return decide(p, r, bucket, i.opt.RequireBoth)
}

func principalType(p *Principal) string {
	switch p.Kind {
	case KindSession:
		return "AssumedRole"
	case KindRoot:
		return "Account"
	}
	return "User"
}

// Grant tells which policies allowed a request.
type Grant struct {
	// Bucket: the bucket's policy allows it (whatever the identity's
	// own policies say). The gateway then runs the request as the
	// bucket's owner.
	Bucket bool
}

// decide applies the evaluation rules to p's policies and the bucket's,
// each evaluated once.
func decide(p *Principal, r *policy.Request, bucket *policy.Policy, both bool) (Grant, error) {
	var own policy.Decision
	if p != nil {
		own = policy.Evaluate(r, p.policies...)
	}
	fromBucket := policy.Evaluate(r, bucket)
	if own == policy.Denied || fromBucket == policy.Denied {
		return Grant{}, ErrAccessDenied
	}
	// A service account's or session's own policy bounds everything it
	// does, whichever policy (or ACL) allowed it (stricter than AWS,
	// where a bucket policy naming the session itself may grant beyond
	// it).
	if p != nil && p.narrow != nil && p.narrow.Evaluate(r) != policy.Allowed {
		return Grant{}, ErrAccessDenied
	}
	if own != policy.Allowed && fromBucket != policy.Allowed {
		return Grant{}, ErrNotAllowed
	}
	if both && p != nil && bucket != nil && (own != policy.Allowed || fromBucket != policy.Allowed) {
		return Grant{}, ErrAccessDenied
	}
	return Grant{Bucket: fromBucket == policy.Allowed}, nil
}

func constantEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
