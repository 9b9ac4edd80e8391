package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// kind is what an operator compares.
type kind uint8

const (
	kString kind = iota
	kNumeric
	kDate
	kBool
	kBinary
	kIP
	kARN
	kNull
)

// cmp is how an operator compares a request value with a policy value.
type cmp uint8

const (
	cEq cmp = iota
	cEqFold
	cLike
	cLt
	cLe
	cGt
	cGe
)

type operator struct {
	name   string
	kind   kind
	cmp    cmp
	negate bool
}

// operators are the condition operators, without the ForAnyValue: and
// ForAllValues: qualifiers and the IfExists suffix.
var operators = []operator{
	{"StringEquals", kString, cEq, false},
	{"StringNotEquals", kString, cEq, true},
	{"StringEqualsIgnoreCase", kString, cEqFold, false},
	{"StringNotEqualsIgnoreCase", kString, cEqFold, true},
	{"StringLike", kString, cLike, false},
	{"StringNotLike", kString, cLike, true},
	{"NumericEquals", kNumeric, cEq, false},
	{"NumericNotEquals", kNumeric, cEq, true},
	{"NumericLessThan", kNumeric, cLt, false},
	{"NumericLessThanEquals", kNumeric, cLe, false},
	{"NumericGreaterThan", kNumeric, cGt, false},
	{"NumericGreaterThanEquals", kNumeric, cGe, false},
	{"DateEquals", kDate, cEq, false},
	{"DateNotEquals", kDate, cEq, true},
	{"DateLessThan", kDate, cLt, false},
	{"DateLessThanEquals", kDate, cLe, false},
	{"DateGreaterThan", kDate, cGt, false},
	{"DateGreaterThanEquals", kDate, cGe, false},
	{"Bool", kBool, cEq, false},
	{"BinaryEquals", kBinary, cEq, false},
	{"IpAddress", kIP, cEq, false},
	{"NotIpAddress", kIP, cEq, true},
	{"ArnEquals", kARN, cLike, false},
	{"ArnLike", kARN, cLike, false},
	{"ArnNotEquals", kARN, cLike, true},
	{"ArnNotLike", kARN, cLike, true},
	{"Null", kNull, cEq, false},
}

// qualifier is how a multi-valued key is compared.
type qualifier uint8

const (
	single    qualifier = iota
	anyValue            // ForAnyValue:
	allValues           // ForAllValues:
)

// A condition is one key under one operator of a Condition block.
type condition struct {
	op       operator
	set      qualifier
	ifExists bool
	key      string // canonical
	values   []value
}

// A value is one policy value of a condition, parsed for its kind.
type value struct {
	tmpl   template // kString, kARN (kString with cEq/cEqFold: literal unless variables)
	text   string
	num    float64
	date   time.Time
	flag   bool
	prefix netip.Prefix
	bin    []byte
}

func parseOperator(name string) (operator, qualifier, bool, *Error) {
	full := name
	set := single
	if rest, ok := cutPrefixFold(name, "ForAnyValue:"); ok {
		name, set = rest, anyValue
	} else if rest, ok := cutPrefixFold(name, "ForAllValues:"); ok {
		name, set = rest, allValues
	}
	ifExists := false
	if len(name) > len("IfExists") && strings.EqualFold(name[len(name)-len("IfExists"):], "IfExists") {
		name, ifExists = name[:len(name)-len("IfExists")], true
	}
	for _, op := range operators {
		if strings.EqualFold(op.name, name) {
			if op.kind == kNull && (ifExists || set != single) {
				return op, set, false, errorf("condition operator %q: Null takes no qualifier nor IfExists", full)
			}
			return op, set, ifExists, nil
		}
	}
	return operator{}, single, false, errorf("unknown condition operator %q", full)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// parseConditions compiles a Condition block: {operator: {key: values}}.
func parseConditions(raw json.RawMessage, vars bool) ([]condition, *Error) {
	var block map[string]json.RawMessage
	if json.Unmarshal(raw, &block) != nil || block == nil {
		return nil, errorf("Condition must be an object of operators")
	}
	var out []condition
	for opName, keysRaw := range block {
		op, set, ifExists, err := parseOperator(opName)
		if err != nil {
			return nil, err
		}
		var keys map[string]json.RawMessage
		if t := bytes.TrimSpace(keysRaw); len(t) == 0 || t[0] != '{' || json.Unmarshal(keysRaw, &keys) != nil {
			return nil, errorf("condition operator %q must map keys to values", opName)
		}
		if len(keys) == 0 {
			return nil, errorf("condition operator %q names no key", opName)
		}
		for key, valsRaw := range keys {
			if !knownKey(key) {
				return nil, errorf("unknown condition key %q", key)
			}
			vals, ok := stringList(valsRaw)
			if !ok || len(vals) == 0 {
				return nil, errorf("condition %s on %q: values must be a string or a non-empty list", opName, key)
			}
			c := condition{op: op, set: set, ifExists: ifExists, key: canonKey(key)}
			for _, v := range vals {
				pv, err := parseValue(op, v, vars)
				if err != nil {
					return nil, errorf("condition %s on %q: %s", opName, key, err.Msg)
				}
				c.values = append(c.values, pv)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func parseValue(op operator, s string, vars bool) (value, *Error) {
	v := value{text: s}
	switch op.kind {
	case kString, kARN:
		t, err := parseTemplate(s, vars)
		if err != nil {
			return v, err
		}
		if op.cmp != cLike { // equality: the value is literal, but for its variables
			t = literalTemplate(t)
		}
		v.tmpl = t
	case kNumeric:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return v, errorf("%q is not a number", s)
		}
		v.num = n
	case kDate:
		d, ok := parseDate(s)
		if !ok {
			return v, errorf("%q is not a date (ISO 8601, such as 2026-12-01T00:00:00Z, or seconds since 1970)", s)
		}
		v.date = d
	case kBool, kNull:
		switch strings.ToLower(s) {
		case "true":
			v.flag = true
		case "false":
		default:
			return v, errorf("%q is not true or false", s)
		}
	case kIP:
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return v, errorf("%q is not an IP address or CIDR range", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		v.prefix = p.Masked()
	case kBinary:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return v, errorf("%q is not base64", s)
		}
		v.bin = b
	}
	return v, nil
}

// literalTemplate turns the wildcard text of t into literal text: the
// equality operators compare exactly, so '*' in their values is a '*'.
func literalTemplate(t template) template {
	if t.parts == nil {
		var p pattern
		t.fixed = p.literal(unglob(t.fixed))
		return t
	}
	out := template{parts: make([]part, len(t.parts))}
	for i, pt := range t.parts {
		if pt.kind == globText {
			pt.kind = literalText
		}
		out.parts[i] = pt
	}
	return out
}

// unglob returns the text a pattern compiled from (wildcards as the
// characters they came from).
func unglob(p pattern) string {
	var b strings.Builder
	for _, c := range p {
		switch c {
		case anyRun:
			b.WriteByte('*')
		case anyByte:
			b.WriteByte('?')
		default:
			b.WriteByte(byte(c))
		}
	}
	return b.String()
}

// dateLayouts are the forms of ISO 8601 dates a policy may use.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseDate(s string) (time.Time, bool) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}

// holds reports whether the condition holds for request r.
func (c *condition) holds(r *Request) bool {
	vals := r.value(c.key)
	present := len(vals) > 0
	if c.op.kind == kNull {
		return c.values[0].flag != present // "true": the key must be absent
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == allValues:
			return true
		case c.set == anyValue:
			return false
		}
		return c.op.negate
	}
	switch c.set {
	case anyValue:
		for _, v := range vals {
			if c.matchAny(r, v) != c.op.negate {
				return true
			}
		}
		return false
	case allValues:
		for _, v := range vals {
			if c.matchAny(r, v) == c.op.negate {
				return false
			}
		}
		return true
	}
	m := false
	for _, v := range vals {
		if c.matchAny(r, v) {
			m = true
			break
		}
	}
	return m != c.op.negate
}

// matchAny reports whether request value s matches one of the policy's
// values under the operator's positive form.
func (c *condition) matchAny(r *Request, s string) bool {
	for i := range c.values {
		if c.match(r, &c.values[i], s) {
			return true
		}
	}
	return false
}

func (c *condition) match(r *Request, v *value, s string) bool {
	switch c.op.kind {
	case kString, kARN:
		return v.tmpl.match(r, s, c.op.cmp == cEqFold)
	case kNumeric:
		n, err := strconv.ParseFloat(s, 64)
		return err == nil && order(compareFloat(n, v.num), c.op.cmp)
	case kDate:
		d, ok := parseDate(s)
		return ok && order(d.Compare(v.date), c.op.cmp)
	case kBool:
		b, err := strconv.ParseBool(s)
		return err == nil && b == v.flag
	case kIP:
		a, err := netip.ParseAddr(s)
		return err == nil && v.prefix.Contains(a.Unmap())
	case kBinary:
		return string(v.bin) == s
	}
	return false
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// order tells whether a comparison result c (-1, 0, 1 of request against
// policy value) satisfies cmp.
func order(c int, op cmp) bool {
	switch op {
	case cLt:
		return c < 0
	case cLe:
		return c <= 0
	case cGt:
		return c > 0
	case cGe:
		return c >= 0
	}
	return c == 0
}
