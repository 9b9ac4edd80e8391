package policy

// A Request is what a policy is evaluated against.
type Request struct {
	// Action is the action asked for, such as "s3:GetObject".
	Action string
	// Resource is its ARN: BucketARN, ObjectARN, or ServiceARN for
	// actions of LevelService.
	Resource string
	// Principals identify the caller for bucket policies' Principal
	// elements (its user ARN, its account's ARN or id, ...); none for an
	// anonymous request, which only a Principal of "*" matches.
	Principals []string
	// Context holds the condition keys of the request, by the canonical
	// form Set gives them; a key that does not apply is absent.
	Context map[string][]string
	// Resolve, when set, gives the keys Context lacks, on demand (key in
	// canonical form: lower case up to the first '/'), so that a caller
	// computes only the keys a policy asks for; nil or no values: absent.
	Resolve func(key string) []string
}

// Set sets condition key k (any case) to vals.
func (r *Request) Set(k string, vals ...string) {
	if r.Context == nil {
		r.Context = map[string][]string{}
	}
	r.Context[canonKey(k)] = vals
}

// Get returns the values of condition key k.
func (r *Request) Get(k string) []string { return r.value(canonKey(k)) }

// value returns the values of the canonical key k.
func (r *Request) value(k string) []string {
	if v, ok := r.Context[k]; ok {
		return v
	}
	if r.Resolve != nil {
		return r.Resolve(k)
	}
	return nil
}

// A Decision is the outcome of an evaluation.
type Decision uint8

const (
	// NotApplicable: no statement allows or denies the request (an
	// implicit deny, unless another policy allows it).
	NotApplicable Decision = iota
	Allowed
	Denied
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allow"
	case Denied:
		return "Deny"
	}
	return "NotApplicable"
}

// Evaluate evaluates r against the policies ps together: Denied if a
// statement of any of them denies it, else Allowed if one allows it,
// else NotApplicable. Nil policies are skipped.
func Evaluate(r *Request, ps ...*Policy) Decision {
	d := NotApplicable
	for _, p := range ps {
		if p == nil {
			continue
		}
		switch p.Evaluate(r) {
		case Denied:
			return Denied
		case Allowed:
			d = Allowed
		}
	}
	return d
}

// Evaluate evaluates r against p alone.
func (p *Policy) Evaluate(r *Request) Decision {
	d := NotApplicable
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.applies(r) {
			continue
		}
		if s.Effect == Deny {
			return Denied
		}
		d = Allowed
	}
	return d
}

// applies reports whether statement s concerns request r: its principal,
// action, resource and conditions all match.
func (s *Statement) applies(r *Request) bool {
	if s.principals != nil && s.principals.matches(r.Principals) == s.notPrincipal {
		return false
	}
	if s.matchAction(r.Action) == s.notAction {
		return false
	}
	if s.matchResource(r) == s.notResource {
		return false
	}
	for i := range s.conditions {
		if !s.conditions[i].holds(r) {
			return false
		}
	}
	return true
}

func (s *Statement) matchAction(a string) bool {
	for _, p := range s.actions {
		if p.match(a, true) {
			return true
		}
	}
	return false
}

func (s *Statement) matchResource(r *Request) bool {
	for i := range s.resources {
		if s.resources[i].match(r, r.Resource, false) {
			return true
		}
	}
	return false
}

// Public reports whether p allows an anonymous caller anything without a
// condition: what GetBucketPolicyStatus calls public.
func (p *Policy) Public() bool {
	for i := range p.Statements {
		s := &p.Statements[i]
		if s.Effect == Allow && s.principals != nil && !s.notPrincipal && s.principals.any && len(s.conditions) == 0 {
			return true
		}
	}
	return false
}
