// Package policy parses, validates and evaluates AWS access-policy
// documents: the identity policies attached to users, groups, service
// accounts and STS sessions, and the resource policies attached to
// buckets. It is pure: it knows nothing of users or storage, only of
// documents and of the request context a caller describes.
//
// # Documents
//
// A document is Version ("2012-10-17", or "2008-10-17", under which
// ${...} is literal text), an optional Id, and Statement: one statement
// or a list. A statement has an optional Sid, Effect ("Allow" or
// "Deny"), one of Action and NotAction, one of Resource and NotResource,
// and an optional Condition. A bucket policy (ParseBucketPolicy) also
// has one of Principal and NotPrincipal in every statement, and only
// resources of its own bucket; an identity policy (Parse) has no
// principal. Element names are case-sensitive, as AWS has them. Parse
// errors are *Error values that name the statement at fault.
//
// # Matching
//
// Actions match case-insensitively, with * and ? wildcards; a document
// may only name actions cairn knows (Actions), or patterns that match at
// least one of them. Resources are ARNs ("arn:aws:s3:::bucket/key"),
// matched case-sensitively with the same wildcards. Under Version
// 2012-10-17 resources and condition values may hold policy variables:
// ${aws:username}, any condition key, ${key, 'default'}, and ${*}, ${?},
// ${$} for the literal characters. A variable with no value and no
// default matches nothing.
//
// # Conditions
//
// All operators of a Condition must hold, and every key under an
// operator; a key holds if the request's value matches any of the
// policy's values (none of them, for the negated operators). A key the
// request lacks fails a plain operator, satisfies a negated one and any
// …IfExists one, and Null tests for it. ForAnyValue: and ForAllValues:
// compare multi-valued keys (tag key lists) as AWS does. Condition key
// names are case-insensitive up to the first '/' (tag names after it are
// not).
//
// # Evaluation
//
// Evaluate returns Deny if any statement of any document given denies the
// request, else Allow if one allows it, else NotApplicable (an implicit
// deny). Combining identity, group, session and bucket policies is the
// caller's (package iam): an explicit deny anywhere wins.
package policy
