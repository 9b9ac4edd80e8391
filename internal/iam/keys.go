package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cairn/internal/iam/policy"
	"cairn/internal/meta/kv"
)

// A ServiceAccount is a key of a parent user that inherits the parent's
// policies, narrowed by its own policy when it has one.
type ServiceAccount struct {
	AccessKey   string
	Parent      string
	Name        string
	Description string
	Status      Status
	Policy      []byte // nil: the parent's policies, unnarrowed
	Created     time.Time
	Expires     time.Time
}

// ServiceAccountOptions are the settings of a new service account.
type ServiceAccountOptions struct {
	// AccessKey and SecretKey, when set, are used instead of random ones.
	AccessKey, SecretKey string
	Name, Description    string
	Policy               []byte // an identity policy that bounds it
	Expires              time.Time
}

// CreateServiceAccount makes a service account of parent (a user, or
// RootName) and returns its credentials.
func (i *Identities) CreateServiceAccount(ctx context.Context, parent string, o ServiceAccountOptions) (Credentials, error) {
	c := RandomCredentials()
	if o.AccessKey != "" {
		c.AccessKey = o.AccessKey
	}
	if o.SecretKey != "" {
		c.SecretKey = o.SecretKey
	}
	if err := c.Validate(); err != nil || !validName(c.AccessKey, 3) {
		return Credentials{}, fmt.Errorf("%w: an access key is 3 to 128 letters, digits and +=,.@_- and its secret 8 to 128 characters", ErrInvalid)
	}
	if c.AccessKey == i.root.AccessKey {
		return Credentials{}, fmt.Errorf("%w: that is the root user's access key", ErrExists)
	}
	if len(o.Policy) > 0 {
		if _, err := policy.ParseAny(o.Policy); err != nil {
			return Credentials{}, err
		}
	}
	if !o.Expires.IsZero() && !o.Expires.After(i.opt.Now()) {
		return Credentials{}, fmt.Errorf("%w: the expiry is in the past", ErrInvalid)
	}
	err := i.update(ctx, func(tx kv.Tx) error {
		if parent != RootName {
			var u userRecord
			if err := getOr(tx, ikey(famUser, parent), &u, ErrNoSuchUser); err != nil {
				return err
			}
		}
		if _, err := tx.Get(ikey(famKey, c.AccessKey)); err == nil {
			return fmt.Errorf("%w: access key %s", ErrExists, c.AccessKey)
		} else if !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		return i.putKey(tx, keyRecord{AccessKey: c.AccessKey, Kind: KindServiceAccount, User: parent, Status: Enabled,
			Created: i.opt.Now().UTC(), Expires: o.Expires, Policy: json.RawMessage(o.Policy), Name: o.Name, Description: o.Description}, c.SecretKey)
	})
	return c, err
}

// ServiceAccountUpdate changes a service account; nil fields stay.
type ServiceAccountUpdate struct {
	SecretKey   *string
	Status      *Status
	Policy      *[]byte // an empty document removes the narrowing
	Name        *string
	Description *string
	Expires     *time.Time
}

// UpdateServiceAccount applies u to service account accessKey.
func (i *Identities) UpdateServiceAccount(ctx context.Context, accessKey string, u ServiceAccountUpdate) error {
	if u.Policy != nil && len(*u.Policy) > 0 {
		if _, err := policy.ParseAny(*u.Policy); err != nil {
			return err
		}
	}
	if u.Status != nil && *u.Status != Enabled && *u.Status != Disabled {
		return fmt.Errorf("%w: status %q", ErrInvalid, *u.Status)
	}
	return i.update(ctx, func(tx kv.Tx) error {
		k, secret, err := i.serviceAccount(tx, accessKey)
		if err != nil {
			return err
		}
		if u.SecretKey != nil {
			if err := (Credentials{AccessKey: accessKey, SecretKey: *u.SecretKey}).Validate(); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			secret = *u.SecretKey
		}
		if u.Status != nil {
			k.Status = *u.Status
		}
		if u.Policy != nil {
			k.Policy = json.RawMessage(*u.Policy)
		}
		if u.Name != nil {
			k.Name = *u.Name
		}
		if u.Description != nil {
			k.Description = *u.Description
		}
		if u.Expires != nil {
			k.Expires = *u.Expires
		}
		return i.putKey(tx, k, secret)
	})
}

func (i *Identities) serviceAccount(tx kv.Tx, accessKey string) (keyRecord, string, error) {
	var k keyRecord
	if err := getOr(tx, ikey(famKey, accessKey), &k, ErrNoSuchKey); err != nil {
		return k, "", err
	}
	if k.Kind != KindServiceAccount {
		return k, "", ErrNoSuchKey
	}
	secret, err := i.key.open(k.Sealed, ikey(famKey, accessKey))
	return k, secret, err
}

// DeleteServiceAccount deletes service account accessKey.
func (i *Identities) DeleteServiceAccount(ctx context.Context, accessKey string) error {
	return i.update(ctx, func(tx kv.Tx) error {
		if _, _, err := i.serviceAccount(tx, accessKey); err != nil {
			return err
		}
		return tx.Delete(ikey(famKey, accessKey))
	})
}

// GetServiceAccount returns service account accessKey.
func (i *Identities) GetServiceAccount(ctx context.Context, accessKey string) (ServiceAccount, error) {
	var out ServiceAccount
	err := i.view(ctx, func(tx kv.Tx) error {
		var k keyRecord
		if err := getOr(tx, ikey(famKey, accessKey), &k, ErrNoSuchKey); err != nil {
			return err
		}
		if k.Kind != KindServiceAccount {
			return ErrNoSuchKey
		}
		out = k.serviceAccount()
		return nil
	})
	return out, err
}

func (k *keyRecord) serviceAccount() ServiceAccount {
	return ServiceAccount{AccessKey: k.AccessKey, Parent: k.User, Name: k.Name, Description: k.Description,
		Status: k.Status, Policy: k.Policy, Created: k.Created, Expires: k.Expires}
}

// ListServiceAccounts returns the service accounts of parent.
func (i *Identities) ListServiceAccounts(ctx context.Context, parent string) ([]ServiceAccount, error) {
	var out []ServiceAccount
	err := i.view(ctx, func(tx kv.Tx) error {
		out = out[:0]
		keys, err := keysOf(tx, parent)
		for _, k := range keys {
			if k.Kind == KindServiceAccount {
				out = append(out, k.serviceAccount())
			}
		}
		return err
	})
	return out, err
}

// SessionCredentials are temporary credentials from AssumeRole.
type SessionCredentials struct {
	Credentials
	SessionToken string
	Expiration   time.Time
}

// The bounds of an AssumeRole's DurationSeconds, as AWS's.
const (
	MinSessionDuration     = 15 * time.Minute
	MaxSessionDuration     = 12 * time.Hour
	DefaultSessionDuration = time.Hour
)

// AssumeRole issues temporary credentials to p (a user, a service
// account's parent, or root) for d (0: an hour), bounded by sessionPolicy
// when given. They are stored like any key, so every gateway accepts
// them, and stop working at expiry.
func (i *Identities) AssumeRole(ctx context.Context, p *Principal, d time.Duration, sessionPolicy []byte) (SessionCredentials, error) {
	if d == 0 {
		d = DefaultSessionDuration
	}
	if d < MinSessionDuration || d > MaxSessionDuration {
		return SessionCredentials{}, fmt.Errorf("%w: DurationSeconds must be between %d and %d", ErrInvalid, int(MinSessionDuration.Seconds()), int(MaxSessionDuration.Seconds()))
	}
	if p.Kind == KindSession {
		return SessionCredentials{}, fmt.Errorf("%w: temporary credentials cannot assume a role", ErrAccessDenied)
	}
	narrow := sessionPolicy
	if len(narrow) > 0 {
		if _, err := policy.Parse(narrow); err != nil {
			return SessionCredentials{}, err
		}
	}
	if p.narrow != nil {
		if len(narrow) > 0 {
			return SessionCredentials{}, fmt.Errorf("%w: a service account with its own policy cannot narrow a session further", ErrInvalid)
		}
		narrow = p.narrow.JSON()
	}
	var tok [32]byte
	rand.Read(tok[:])
	sc := SessionCredentials{Credentials: RandomCredentials(), SessionToken: base64.RawURLEncoding.EncodeToString(tok[:]),
		Expiration: i.opt.Now().Add(d).UTC().Truncate(time.Second)}
	if !p.Expires.IsZero() && p.Expires.Before(sc.Expiration) {
		sc.Expiration = p.Expires
	}
	sc.AccessKey = "ASIA" + sc.AccessKey[4:]
	err := i.update(ctx, func(tx kv.Tx) error {
		sealedTok, err := i.key.seal(sc.SessionToken, append(ikey(famKey, sc.AccessKey), '#'))
		if err != nil {
			return err
		}
		return i.putKey(tx, keyRecord{AccessKey: sc.AccessKey, Kind: KindSession, User: p.User, Status: Enabled,
			Created: i.opt.Now().UTC(), Expires: sc.Expiration, Policy: json.RawMessage(narrow), TokenSealed: sealedTok}, sc.SecretKey)
	})
	return sc, err
}

// CheckToken reports whether token is the session token p's requests
// must carry (sessions only; other keys carry none).
func (p *Principal) CheckToken(token string) bool {
	if p.Kind != KindSession {
		return true
	}
	return token != "" && constantEqual(token, p.token)
}

// SweepExpired deletes the stored keys (sessions, service accounts) past
// their expiry, and returns how many went.
func (i *Identities) SweepExpired(ctx context.Context) (int, error) {
	now := i.opt.Now()
	n := 0
	err := i.update(ctx, func(tx kv.Tx) error {
		n = 0
		prefix := ikey(famKey, "")
		var dead [][]byte
		err := tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{}, func(k, v []byte) bool {
			var r keyRecord
			if json.Unmarshal(v, &r) == nil && r.Kind != KindUser && !r.Expires.IsZero() && !now.Before(r.Expires) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return true
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}
