package notify

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Config is a bucket's notification configuration.
type Config struct {
	Rules []Rule `json:"rules"`
}

// A Rule routes the events it names, on keys that pass its filters, to
// the target ARN.
type Rule struct {
	ID string `json:"id"`
	// Kind is the element the rule came in: "Queue", "Topic" or
	// "CloudFunction" (written back the same way).
	Kind   string   `json:"kind"`
	ARN    string   `json:"arn"`
	Events []string `json:"events"` // with their "s3:" prefix, as configured
	Prefix string   `json:"prefix,omitempty"`
	Suffix string   `json:"suffix,omitempty"`
}

// ErrMalformed is a configuration document that is not the XML AWS
// defines.
var ErrMalformed = errors.New("notify: malformed notification configuration")

// A ConfigError is a configuration that breaks a rule (AWS answers
// InvalidArgument), with the argument at fault.
type ConfigError struct {
	Name, Value, Msg string
}

func (e *ConfigError) Error() string { return "notify: " + e.Msg }

// Events lists the event names a configuration may name, beside the
// wildcards "s3:ObjectCreated:*" and so on.
var Events = []string{
	"s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload",
	"s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
	"s3:ObjectAccessed:Get", "s3:ObjectAccessed:Head",
	"s3:ObjectTagging:Put", "s3:ObjectTagging:Delete",
	"s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated",
	"s3:BucketCreated", "s3:BucketRemoved",
}

// validEvent reports whether name is an event or a wildcard over some.
func validEvent(name string) bool {
	if name == "s3:*" {
		return true
	}
	if p, ok := strings.CutSuffix(name, ":*"); ok {
		for _, e := range Events {
			if strings.HasPrefix(e, p+":") {
				return true
			}
		}
		return false
	}
	for _, e := range Events {
		if e == name {
			return true
		}
	}
	return false
}

// eventMatches reports whether configured name (maybe a wildcard) covers
// event ev (without "s3:").
func eventMatches(name, ev string) bool {
	name = strings.TrimPrefix(name, "s3:")
	if name == "*" || name == ev {
		return true
	}
	p, ok := strings.CutSuffix(name, "*")
	return ok && strings.HasPrefix(ev, p)
}

// ruleFor returns the first rule that routes event ev on key to arn.
func (c *Config) ruleFor(ev, key, arn string) *Rule {
	for i := range c.Rules {
		r := &c.Rules[i]
		if (r.ARN != arn && !sameTarget(r.ARN, arn)) || !strings.HasPrefix(key, r.Prefix) || !strings.HasSuffix(key, r.Suffix) {
			continue
		}
		for _, n := range r.Events {
			if eventMatches(n, ev) {
				return r
			}
		}
	}
	return nil
}

// sameTarget compares two target ARNs by ID and type (the region part is
// free).
func sameTarget(a, b string) bool {
	x, err1 := ParseARN(a)
	y, err2 := ParseARN(b)
	return err1 == nil && err2 == nil && x.ID == y.ID && x.Type == y.Type
}

// Match returns the ARNs of the rules that route event ev (without "s3:",
// "ObjectCreated:Put") on key to a target, each once, in rule order.
func (c *Config) Match(ev, key string) []string {
	var out []string
	for i := range c.Rules {
		r := &c.Rules[i]
		if !strings.HasPrefix(key, r.Prefix) || !strings.HasSuffix(key, r.Suffix) {
			continue
		}
		for _, n := range r.Events {
			if eventMatches(n, ev) {
				dup := false
				for _, a := range out {
					dup = dup || a == r.ARN
				}
				if !dup {
					out = append(out, r.ARN)
				}
				break
			}
		}
	}
	return out
}

// Wants reports whether some rule asks for an event whose name starts
// with prefix ("ObjectAccessed:"): the gateway records reads only then.
func (c *Config) Wants(prefix string) bool {
	for _, r := range c.Rules {
		for _, n := range r.Events {
			for _, e := range Events {
				e = strings.TrimPrefix(e, "s3:")
				if strings.HasPrefix(e, prefix) && eventMatches(n, e) {
					return true
				}
			}
		}
	}
	return false
}

// The XML of PutBucketNotificationConfiguration.
type xmlConfig struct {
	XMLName  xml.Name  `xml:"NotificationConfiguration"`
	NS       string    `xml:"xmlns,attr,omitempty"`
	Queue    []xmlRule `xml:"QueueConfiguration"`
	Topic    []xmlRule `xml:"TopicConfiguration"`
	Function []xmlRule `xml:"CloudFunctionConfiguration"`
	// EventBridgeConfiguration is accepted and ignored (AWS's own bus).
	EventBridge *struct{} `xml:"EventBridgeConfiguration"`
}

type xmlRule struct {
	ID       string     `xml:"Id,omitempty"`
	Queue    string     `xml:"Queue,omitempty"`
	Topic    string     `xml:"Topic,omitempty"`
	Function string     `xml:"CloudFunction,omitempty"`
	Events   []string   `xml:"Event"`
	Filter   *xmlFilter `xml:"Filter,omitempty"`
}

type xmlFilter struct {
	Key struct {
		Rules []xmlFilterRule `xml:"FilterRule"`
	} `xml:"S3Key"`
}

type xmlFilterRule struct {
	Name  string `xml:"Name"`
	Value string `xml:"Value"`
}

// MaxRules bounds the rules of one configuration.
const MaxRules = 100

// ParseXML reads and validates a NotificationConfiguration document.
// known reports whether an ARN names a configured target (an unknown one
// is a ConfigError, as AWS's "Unable to validate the destination").
// Rules without an Id get one.
func ParseXML(b []byte, known func(arn string) bool) (*Config, error) {
	var x xmlConfig
	if err := xml.Unmarshal(b, &x); err != nil {
		return nil, ErrMalformed
	}
	c := &Config{}
	add := func(kind string, rs []xmlRule, arnOf func(*xmlRule) string) error {
		for i := range rs {
			r := &rs[i]
			rule := Rule{ID: r.ID, Kind: kind, ARN: strings.TrimSpace(arnOf(r))}
			if rule.ARN == "" {
				return &ConfigError{Name: kind, Msg: "A " + kind + "Configuration must name its " + kind + " ARN."}
			}
			if _, err := ParseARN(rule.ARN); err != nil {
				return &ConfigError{Name: "ARN", Value: rule.ARN, Msg: "The ARN is not well formed: " + rule.ARN}
			}
			if known != nil && !known(rule.ARN) {
				return &ConfigError{Name: "ARN", Value: rule.ARN, Msg: "Unable to validate the following destination configurations: " + rule.ARN + " (no such target)"}
			}
			if len(r.Events) == 0 {
				return &ConfigError{Name: "Event", Msg: "A configuration must name at least one event."}
			}
			for _, e := range r.Events {
				e = strings.TrimSpace(e)
				if !validEvent(e) {
					return &ConfigError{Name: "Event", Value: e, Msg: "The event is not supported for notifications: " + e}
				}
				rule.Events = append(rule.Events, e)
			}
			if r.Filter != nil {
				for _, fr := range r.Filter.Key.Rules {
					switch strings.ToLower(fr.Name) {
					case "prefix":
						if rule.Prefix != "" {
							return &ConfigError{Name: "FilterRule", Value: fr.Name, Msg: "Cannot specify more than one prefix rule in a filter."}
						}
						rule.Prefix = fr.Value
					case "suffix":
						if rule.Suffix != "" {
							return &ConfigError{Name: "FilterRule", Value: fr.Name, Msg: "Cannot specify more than one suffix rule in a filter."}
						}
						rule.Suffix = fr.Value
					default:
						return &ConfigError{Name: "FilterRule", Value: fr.Name, Msg: "filter rule name must be either prefix or suffix"}
					}
					if len(fr.Value) > 1024 {
						return &ConfigError{Name: "FilterRule", Value: fr.Name, Msg: "A filter rule value is longer than 1024 bytes."}
					}
				}
			}
			if rule.ID == "" {
				rule.ID = fmt.Sprintf("rule-%d", len(c.Rules)+1)
			}
			c.Rules = append(c.Rules, rule)
		}
		return nil
	}
	if err := add("Queue", x.Queue, func(r *xmlRule) string { return r.Queue }); err != nil {
		return nil, err
	}
	if err := add("Topic", x.Topic, func(r *xmlRule) string { return r.Topic }); err != nil {
		return nil, err
	}
	if err := add("CloudFunction", x.Function, func(r *xmlRule) string { return r.Function }); err != nil {
		return nil, err
	}
	if len(c.Rules) > MaxRules {
		return nil, &ConfigError{Name: "NotificationConfiguration", Msg: fmt.Sprintf("%d rules: at most %d are allowed.", len(c.Rules), MaxRules)}
	}
	if err := c.checkOverlap(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkOverlap refuses two rules that would deliver one event to one
// target twice: same ARN, an event in common, and key filters that can
// both hold (AWS's "Configurations overlap").
func (c *Config) checkOverlap() error {
	for i := range c.Rules {
		for j := i + 1; j < len(c.Rules); j++ {
			a, b := &c.Rules[i], &c.Rules[j]
			if a.ARN != b.ARN || !eventsMeet(a.Events, b.Events) {
				continue
			}
			if prefixesMeet(a.Prefix, b.Prefix) && suffixesMeet(a.Suffix, b.Suffix) {
				return &ConfigError{Name: "Event", Msg: "Configurations overlap. Configurations on the same bucket cannot share a common event type."}
			}
		}
	}
	return nil
}

func eventsMeet(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			for _, e := range Events {
				e = strings.TrimPrefix(e, "s3:")
				if eventMatches(x, e) && eventMatches(y, e) {
					return true
				}
			}
		}
	}
	return false
}

func prefixesMeet(a, b string) bool { return strings.HasPrefix(a, b) || strings.HasPrefix(b, a) }
func suffixesMeet(a, b string) bool { return strings.HasSuffix(a, b) || strings.HasSuffix(b, a) }

// XML returns the configuration as GetBucketNotificationConfiguration
// answers it.
func (c *Config) XML() ([]byte, error) {
	x := xmlConfig{NS: "http://s3.amazonaws.com/doc/2006-03-01/"}
	for _, r := range c.Rules {
		xr := xmlRule{ID: r.ID, Events: r.Events}
		if r.Prefix != "" || r.Suffix != "" {
			xr.Filter = &xmlFilter{}
			if r.Prefix != "" {
				xr.Filter.Key.Rules = append(xr.Filter.Key.Rules, xmlFilterRule{Name: "prefix", Value: r.Prefix})
			}
			if r.Suffix != "" {
				xr.Filter.Key.Rules = append(xr.Filter.Key.Rules, xmlFilterRule{Name: "suffix", Value: r.Suffix})
			}
		}
		switch r.Kind {
		case "Topic":
			xr.Topic = r.ARN
			x.Topic = append(x.Topic, xr)
		case "CloudFunction":
			xr.Function = r.ARN
			x.Function = append(x.Function, xr)
		default:
			xr.Queue = r.ARN
			x.Queue = append(x.Queue, xr)
		}
	}
	return xml.Marshal(x)
}

// An ARN names a notification target: arn:minio:sqs:<region>:<ID>:<type>
// (the region may be empty).
type ARN struct {
	Region, ID, Type string
}

func (a ARN) String() string { return "arn:minio:sqs:" + a.Region + ":" + a.ID + ":" + a.Type }

// ParseARN reads a target ARN.
func ParseARN(s string) (ARN, error) {
	p := strings.Split(s, ":")
	if len(p) != 6 || p[0] != "arn" || (p[1] != "minio" && p[1] != "cairn") || p[2] != "sqs" || p[4] == "" || p[5] == "" {
		return ARN{}, fmt.Errorf("notify: %q is not a target ARN (arn:minio:sqs::ID:type)", s)
	}
	return ARN{Region: p[3], ID: p[4], Type: p[5]}, nil
}

// EncodeKey encodes an object key as event records carry it: URL-encoded
// as a form value (a space is "+"), with "/" kept.
func EncodeKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}
