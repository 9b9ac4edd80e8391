// Package iam holds the identities that may use a volume over S3 and the
// POSIX identity each one's requests run as: the root user, users,
// groups, access keys, service accounts and STS sessions, the policies
// attached to them, and the Authorize step that combines those with a
// bucket's policy.
//
// # Storage
//
// Everything lives in the volume's kv store under the 'I' key family
// (reserved for iam in meta's key schema), so every gateway on a volume
// sees the same identities:
//
//	'I' "root"        the root user's access key and sealed secret
//	'I' 'u' name      a user (JSON: status, uid/gid, groups, policies, keys)
//	'I' 'k' key       an access key (JSON: owner, kind, sealed secret, expiry,
//	                  a service account's or session's own policy)
//	'I' 'g' name      a group (JSON: status, gid, members, policies)
//	'I' 'p' name      a policy document, as given
//	'I' 'c' name      counters: "gen" moves with every change; "id" hands
//	                  out uids and gids
//
// Secrets are stored encrypted (AES-256-GCM, the record's key as
// additional data) with a master key that never enters the volume,
// because SigV4 needs the plaintext secret to verify a signature (so a
// hash cannot be used).
//
// # Caching
//
// Identities keeps the principals it has built, with their compiled
// policies, so that a request reads nothing from the store. A change made
// here drops the cache at once; a change made by another process moves
// the "gen" counter, which each Identities reads every PollInterval
// (default 500 ms) and drops its cache when it moved.
package iam

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"cairn/internal/meta/kv"
)

// Errors.
var (
	ErrUnknownKey = errors.New("iam: unknown access key")
	// ErrMasterKey means the stored root secret cannot be decrypted with
	// the master key given.
	ErrMasterKey = errors.New("iam: the master key does not decrypt the stored root credentials")
)

// Credentials are an access key and its secret.
type Credentials struct {
	AccessKey string
	SecretKey string
}

// Validate checks the lengths S3 clients accept.
func (c Credentials) Validate() error {
	if len(c.AccessKey) < 3 || len(c.AccessKey) > 128 {
		return fmt.Errorf("iam: the root user must be 3 to 128 characters long")
	}
	if len(c.SecretKey) < 8 || len(c.SecretKey) > 128 {
		return fmt.Errorf("iam: the root password must be 8 to 128 characters long")
	}
	return nil
}

// rootKey is the root user's record; legacyRootKey where volumes
// formatted before 2026-12-02 have it (moved on the next start).
var (
	rootKey       = []byte("Iroot")
	legacyRootKey = []byte("Wroot")
)

// rootAAD binds the root secret's ciphertext to its record.
var rootAAD = []byte("Wroot")

type storedRoot struct {
	AccessKey string `json:"access_key"`
	Sealed    string `json:"sealed_secret"` // base64(nonce | AES-256-GCM(secret))
}

// MasterKey is the 32-byte key that seals secrets at rest.
type MasterKey [32]byte

// LoadOrCreateMasterKey reads a master key file, creating it (mode 0600)
// with a random key when missing. A key file that its group or others
// may read or write is refused.
func LoadOrCreateMasterKey(path string) (MasterKey, error) {
	var k MasterKey
	b, err := os.ReadFile(path)
	if err == nil {
		// As ssh does with private keys: a key others may read (or
		// replace) is not used.
		fi, serr := os.Stat(path)
		if serr != nil {
			return k, serr
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return k, fmt.Errorf("iam: %s has mode %04o, so others may read the key that seals the volume's credentials; make it private with: chmod 600 %s", path, perm, path)
		}
		raw, derr := base64.StdEncoding.DecodeString(string(trimSpace(b)))
		if derr != nil || len(raw) != len(k) {
			return k, fmt.Errorf("iam: %s is not a cairn master key", path)
		}
		copy(k[:], raw)
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if _, err := rand.Read(k[:]); err != nil {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return k, err
	}
	return k, writeDurably(path, []byte(base64.StdEncoding.EncodeToString(k[:])+"\n"))
}

// writeDurably creates path (0600) holding b, durably and whole, before
// anything sealed with it is stored: a temporary file synced, linked to
// path (failing if path exists), and the directory synced. A power cut
// leaves either no key or the whole key.
func writeDurably(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (k MasterKey) seal(plain string, aad []byte) (string, error) {
	blk, err := aes.NewCipher(k[:])
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), aad)), nil
}

func (k MasterKey) open(sealed string, aad []byte) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", ErrMasterKey
	}
	blk, err := aes.NewCipher(k[:])
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return "", err
	}
	if len(raw) < gcm.NonceSize() {
		return "", ErrMasterKey
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], aad)
	if err != nil {
		return "", ErrMasterKey
	}
	return string(plain), nil
}

// RandomCredentials returns a new access key (20 characters) and secret
// (40 characters), as AWS shapes them.
func RandomCredentials() Credentials {
	const ak = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const sk = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	pick := func(alphabet string, n int) string {
		b := make([]byte, n)
		rand.Read(b)
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		return string(b)
	}
	return Credentials{AccessKey: pick(ak, 20), SecretKey: pick(sk, 40)}
}

// SetupRoot decides the root credentials of a volume. Given credentials
// (from the environment) are used as they are and stored (sealed) so that
// later starts without them keep working. Without them the stored ones are
// unsealed; on first start new ones are generated, stored and reported
// with generated = true so the caller can print them once.
func SetupRoot(ctx context.Context, store kv.Store, key MasterKey, given *Credentials) (c Credentials, generated bool, err error) {
	if given != nil {
		if err := given.Validate(); err != nil {
			return c, false, err
		}
	}
	err = store.Update(ctx, func(tx kv.Tx) error {
		generated = false
		if err := moveLegacyRoot(tx); err != nil {
			return err
		}
		b, err := tx.Get(rootKey)
		switch {
		case err == nil && given == nil:
			var s storedRoot
			if err := json.Unmarshal(b, &s); err != nil {
				return fmt.Errorf("iam: stored root credentials are corrupt: %w", err)
			}
			secret, err := key.open(s.Sealed, rootAAD)
			if err != nil {
				return err
			}
			c = Credentials{AccessKey: s.AccessKey, SecretKey: secret}
			return nil
		case err != nil && !errors.Is(err, kv.ErrNotFound):
			return err
		}
		if given != nil {
			c = *given
		} else {
			c, generated = RandomCredentials(), true
		}
		sealed, err := key.seal(c.SecretKey, rootAAD)
		if err != nil {
			return err
		}
		out, err := json.Marshal(storedRoot{AccessKey: c.AccessKey, Sealed: sealed})
		if err != nil {
			return err
		}
		return tx.Put(rootKey, out)
	})
	return c, generated, err
}

// moveLegacyRoot moves the root record from the 'W' family, which meta
// uses for slice ranges, to iam's own.
func moveLegacyRoot(tx kv.Tx) error {
	b, err := tx.Get(legacyRootKey)
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := tx.Get(rootKey); errors.Is(err, kv.ErrNotFound) {
		if err := tx.Put(rootKey, b); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	return tx.Delete(legacyRootKey)
}
