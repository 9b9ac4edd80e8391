package notify

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// TargetConfig is a target as an administrator defines it: a type
// ("webhook", "redis"…), an ID (its ARN is arn:minio:sqs::ID:type) and the
// type's settings by lower-case name ("endpoint", "auth_token"…).
type TargetConfig struct {
	Type   string
	ID     string
	Params map[string]string
}

// ARN returns the target's ARN.
func (c TargetConfig) ARN() string { return ARN{ID: c.ID, Type: c.Type}.String() }

// targetParams lists each target type's settings, as MinIO names them in
// its environment variables.
var targetParams = map[string][]string{
	"webhook":  {"enable", "endpoint", "auth_token", "client_cert", "client_key", "queue_dir", "queue_limit", "comment"},
	"redis":    {"enable", "address", "key", "format", "password", "user", "queue_dir", "queue_limit", "comment"},
	"postgres": {"enable", "connection_string", "table", "format", "max_open_connections", "queue_dir", "queue_limit", "comment"},
	"mysql":    {"enable", "dsn_string", "table", "format", "max_open_connections", "queue_dir", "queue_limit", "comment"},
	"nats": {"enable", "address", "subject", "username", "user_credentials", "password", "token", "tls", "tls_skip_verify",
		"cert_authority", "client_cert", "client_key", "ping_interval", "jetstream", "queue_dir", "queue_limit", "comment"},
	"kafka": {"enable", "brokers", "topic", "sasl", "sasl_username", "sasl_password", "sasl_mechanism", "tls", "tls_skip_verify",
		"client_tls_cert", "client_tls_key", "version", "queue_dir", "queue_limit", "comment"},
	"amqp":          {"enable", "url", "exchange", "exchange_type", "routing_key", "mandatory", "durable", "no_wait", "internal", "auto_deleted", "delivery_mode", "publisher_confirms", "queue_dir", "queue_limit", "comment"},
	"mqtt":          {"enable", "broker", "topic", "password", "username", "qos", "keep_alive_interval", "reconnect_interval", "queue_dir", "queue_limit", "comment"},
	"nsq":           {"enable", "nsqd_address", "topic", "tls", "tls_skip_verify", "queue_dir", "queue_limit", "comment"},
	"elasticsearch": {"enable", "url", "format", "index", "username", "password", "queue_dir", "queue_limit", "comment"},
}

// DefaultID is the ID of a target whose variables carry none
// (MINIO_NOTIFY_WEBHOOK_ENDPOINT=…), as in MinIO.
const DefaultID = "_"

// TargetsFromEnv reads the targets environ defines with MinIO's variables
// (MINIO_NOTIFY_<TYPE>_<SETTING>[_<ID>]) or cairn's (CAIRN_NOTIFY_…, which
// win over MinIO's for the same setting). Only targets whose ENABLE
// setting is on are returned, sorted by type and ID. A variable naming
// an unknown type or setting is an error.
func TargetsFromEnv(environ []string) ([]TargetConfig, error) {
	type key struct{ typ, id string }
	found := map[key]map[string]string{}
	set := func(prefix, name, value string) error {
		rest := strings.ToLower(strings.TrimPrefix(name, prefix))
		typ, rest, ok := strings.Cut(rest, "_")
		params, known := targetParams[typ]
		if !ok || !known {
			return fmt.Errorf("%s: unknown notification target type", name)
		}
		param, id := "", ""
		for _, p := range params {
			if (rest == p || strings.HasPrefix(rest, p+"_")) && len(p) > len(param) {
				param, id = p, strings.TrimPrefix(strings.TrimPrefix(rest, p), "_")
			}
		}
		if param == "" {
			return fmt.Errorf("%s: unknown setting of a %s target (settings: %s)", name, typ, strings.Join(params, ", "))
		}
		if id == "" {
			id = DefaultID
		} else {
			// The ID keeps its case: take it from the variable itself.
			id = name[len(name)-len(id):]
		}
		k := key{typ, id}
		if found[k] == nil {
			found[k] = map[string]string{}
		}
		found[k][param] = value
		return nil
	}
	for _, pass := range []string{"MINIO_NOTIFY_", "CAIRN_NOTIFY_"} {
		for _, kv := range environ {
			name, value, _ := strings.Cut(kv, "=")
			if !strings.HasPrefix(name, pass) {
				continue
			}
			if err := set(pass, name, value); err != nil {
				return nil, err
			}
		}
	}
	var out []TargetConfig
	for k, params := range found {
		if !On(params["enable"]) {
			continue
		}
		out = append(out, TargetConfig{Type: k.typ, ID: k.id, Params: params})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// On reports whether a setting's value means on ("on", "true", "yes", "1",
// "enable"…), as MinIO reads its ENABLE settings.
func On(s string) bool {
	return slices.Contains([]string{"on", "true", "yes", "1", "enable", "enabled"}, strings.ToLower(strings.TrimSpace(s)))
}
