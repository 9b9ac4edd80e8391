package iam

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cairn/internal/meta/kv"
)

// Key families under 'I' (see the package comment).
const (
	famUser   = 'u'
	famKey    = 'k'
	famGroup  = 'g'
	famPolicy = 'p'
	famCount  = 'c'
	famLock   = 'l'
)

func ikey(fam byte, name string) []byte {
	k := make([]byte, 0, 2+len(name))
	return append(append(k, 'I', fam), name...)
}

var (
	genKey = ikey(famCount, "gen") // moves with every change
	idKey  = ikey(famCount, "id")  // the last uid/gid handed out
)

// Status is whether a user, group or key may be used.
type Status string

const (
	Enabled  Status = "enabled"
	Disabled Status = "disabled"
)

// lockRecord is a lockout as stored, so that every gateway on the
// volume refuses the key until it ends.
type lockRecord struct {
	AccessKey string    `json:"access_key"`
	Until     time.Time `json:"until"`
	Source    string    `json:"source,omitempty"` // of the last failure
}

// userRecord is a user as stored.
type userRecord struct {
	Name     string    `json:"name"`
	Status   Status    `json:"status"`
	UID      uint32    `json:"uid"`
	GID      uint32    `json:"gid"`
	Groups   []string  `json:"groups,omitempty"`
	Policies []string  `json:"policies,omitempty"`
	Keys     []string  `json:"keys"` // its own access keys (service accounts are keys too)
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`
}

// groupRecord is a group as stored.
type groupRecord struct {
	Name     string   `json:"name"`
	Status   Status   `json:"status"`
	GID      uint32   `json:"gid"`
	Members  []string `json:"members,omitempty"`
	Policies []string `json:"policies,omitempty"`
}

// keyRecord is an access key as stored.
type keyRecord struct {
	AccessKey string    `json:"access_key"`
	Kind      Kind      `json:"kind"`
	User      string    `json:"user"` // owner; the parent of a service account or session
	Sealed    string    `json:"sealed_secret"`
	Status    Status    `json:"status"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"`
	// Policy is a service account's or session's own policy (identity
	// policy JSON), which bounds what its parent's policies allow.
	Policy json.RawMessage `json:"policy,omitempty"`
	// Name and Description of a service account.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// TokenSealed is a session's token, sealed as the secret is.
	TokenSealed string `json:"sealed_token,omitempty"`
}

func getJSON(tx kv.Tx, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("iam: record %q is corrupt: %w", key, err)
	}
	return nil
}

func putJSON(tx kv.Tx, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(key, b)
}

// getOr maps kv.ErrNotFound to notFound.
func getOr(tx kv.Tx, key []byte, v any, notFound error) error {
	err := getJSON(tx, key, v)
	if errors.Is(err, kv.ErrNotFound) {
		return notFound
	}
	return err
}

// nextID hands out a uid or gid at or above base.
func nextID(tx kv.Tx, base uint32) (uint32, error) {
	n, err := tx.Incr(idKey, 1)
	if err != nil {
		return 0, err
	}
	return base + uint32(n) - 1, nil
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// scanRecords decodes every record of family fam into a T, in key order,
// and calls fn with each; a record that does not decode fails the scan.
func scanRecords[T any](tx kv.Tx, fam byte, fn func(T)) error {
	prefix := ikey(fam, "")
	var bad error
	err := tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{}, func(k, v []byte) bool {
		var r T
		if err := json.Unmarshal(v, &r); err != nil {
			bad = fmt.Errorf("iam: record %q is corrupt: %w", k, err)
			return false
		}
		fn(r)
		return true
	})
	if err == nil {
		err = bad
	}
	return err
}
