package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"cairn/internal/meta/kv"
)

// Targets and volume-wide rules an administrator defines at run time are
// kept in the volume's own KV store, so every gateway sharing the volume
// delivers to the same targets:
//
//	'N' 't' type ':' id   a target's settings (JSON: name → value)
//	'N' 'r'               the volume-wide rules (Config's JSON)

// ErrNoSuchTarget is a target the store does not hold.
var ErrNoSuchTarget = errors.New("notify: no such notification target")

// A TargetError is a target definition that cannot be accepted.
type TargetError struct{ Msg string }

func (e *TargetError) Error() string { return "notify: " + e.Msg }

// Store keeps targets and volume-wide rules in a volume's KV store.
type Store struct{ kv kv.Store }

// NewStore returns the Store of the volume whose KV store is s.
func NewStore(s kv.Store) *Store { return &Store{kv: s} }

var (
	storeTargets = []byte("Nt")
	storeRules   = []byte("Nr")
)

func targetKey(typ, id string) []byte {
	return append(append([]byte(nil), storeTargets...), typ+":"+id...)
}

// Validate checks that c names a known type, a usable ID and only
// settings of its type.
func (c TargetConfig) Validate() error {
	params, ok := targetParams[c.Type]
	if !ok {
		return &TargetError{fmt.Sprintf("unknown target type %q (types: %s)", c.Type, strings.Join(TargetTypes(), ", "))}
	}
	if c.ID == "" || len(c.ID) > 64 {
		return &TargetError{fmt.Sprintf("target ID %q: 1 to 64 letters, digits, '-' and '_'", c.ID)}
	}
	for _, r := range c.ID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return &TargetError{fmt.Sprintf("target ID %q: 1 to 64 letters, digits, '-' and '_'", c.ID)}
		}
	}
	for name := range c.Params {
		if !slices.Contains(params, name) {
			return &TargetError{fmt.Sprintf("%s targets have no setting %q (settings: %s)", c.Type, name, strings.Join(params, ", "))}
		}
	}
	return nil
}

// TargetTypes lists the target types whose settings are known, sorted.
func TargetTypes() []string {
	var out []string
	for t := range targetParams {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// TargetParams lists the settings of a target type (nil: unknown type).
func TargetParams(typ string) []string { return slices.Clone(targetParams[typ]) }

// secretParams are the settings whose values are never shown back.
var secretParams = []string{"auth_token", "password", "token", "sasl_password"}

// Redacted returns c with its secret settings' values hidden, for
// listings.
func (c TargetConfig) Redacted() TargetConfig {
	p := make(map[string]string, len(c.Params))
	for k, v := range c.Params {
		if v != "" && slices.Contains(secretParams, k) {
			v = "*redacted*"
		}
		p[k] = v
	}
	c.Params = p
	return c
}

// Targets returns the stored targets, sorted by type and ID.
func (s *Store) Targets(ctx context.Context) ([]TargetConfig, error) {
	var out []TargetConfig
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		out = out[:0]
		return tx.Scan(storeTargets, kv.PrefixEnd(storeTargets), kv.ScanOptions{}, func(k, v []byte) bool {
			typ, id, _ := strings.Cut(string(k[len(storeTargets):]), ":")
			c := TargetConfig{Type: typ, ID: id}
			if json.Unmarshal(v, &c.Params) == nil {
				out = append(out, c)
			}
			return true
		})
	})
	return out, err
}

// PutTarget stores c (replacing a target of its type and ID).
func (s *Store) PutTarget(ctx context.Context, c TargetConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(c.Params)
	if err != nil {
		return err
	}
	return s.kv.Update(ctx, func(tx kv.Tx) error { return tx.Put(targetKey(c.Type, c.ID), b) })
}

// DeleteTarget removes a stored target: ErrNoSuchTarget if there is none.
func (s *Store) DeleteTarget(ctx context.Context, typ, id string) error {
	return s.kv.Update(ctx, func(tx kv.Tx) error {
		k := targetKey(typ, id)
		if _, err := tx.Get(k); errors.Is(err, kv.ErrNotFound) {
			return ErrNoSuchTarget
		} else if err != nil {
			return err
		}
		return tx.Delete(k)
	})
}

// Rules returns the volume-wide rules as stored (Config's JSON), or nil.
func (s *Store) Rules(ctx context.Context) ([]byte, error) {
	var out []byte
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(storeRules)
		if errors.Is(err, kv.ErrNotFound) {
			out = nil
			return nil
		}
		out = b
		return err
	})
	return out, err
}

// SetRules stores the volume-wide rules; nil or no rules removes them.
func (s *Store) SetRules(ctx context.Context, c *Config) error {
	if c == nil || len(c.Rules) == 0 {
		return s.kv.Update(ctx, func(tx kv.Tx) error { return tx.Delete(storeRules) })
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.kv.Update(ctx, func(tx kv.Tx) error { return tx.Put(storeRules, b) })
}
