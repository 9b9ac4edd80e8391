package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"cairn/internal/acl"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// ACL storage. Each distinct ACL is stored once under 'R' id; the 'r' index
// maps its canonical encoding back to the id so that setting an ACL equal to
// one already stored reuses the id. Ids are never reused and a stored rule is
// never changed, so the client-side cache (aclCache) only grows and never
// needs invalidation.

// loadACL returns the rule stored under id, from the cache when possible.
func (m *FS) loadACL(tx kv.Tx, id uint32) (*acl.Rule, error) {
	m.aclMu.RLock()
	r := m.aclCache[id]
	m.aclMu.RUnlock()
	if r != nil {
		return r, nil
	}
	b, err := tx.Get(aclKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("meta: ACL %d is missing: %w", id, syscall.EIO)
	}
	if err != nil {
		return nil, err
	}
	r = new(acl.Rule)
	if err := r.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("meta: ACL %d is corrupt: %v: %w", id, err, syscall.EIO)
	}
	if !createdIn(tx, id) {
		m.aclMu.Lock()
		m.aclCache[id] = r
		m.aclIDs[string(b)] = id
		m.aclMu.Unlock()
	}
	return r, nil
}

// storeACL returns the id of rule, storing it first if no equal rule is
// stored yet. A nil rule has id 0, and so has a minimal one unless
// keepMinimal is set (default ACLs).
func (m *FS) storeACL(tx kv.Tx, r *acl.Rule, keepMinimal bool) (uint32, error) {
	if r == nil || (r.IsMinimal() && !keepMinimal) {
		return 0, nil
	}
	enc, err := r.MarshalBinary()
	if err != nil {
		return 0, err
	}
	// Ids of committed ACLs never change, so the cache answers without a
	// read; a rule seen only inside an uncommitted transaction is never
	// cached.
	m.aclMu.RLock()
	cached, ok := m.aclIDs[string(enc)]
	m.aclMu.RUnlock()
	if ok {
		return cached, nil
	}
	b, err := tx.Get(aclIndexKey(enc))
	if err == nil && len(b) == 4 {
		id := binary.BigEndian.Uint32(b)
		if !createdIn(tx, id) {
			m.aclMu.Lock()
			m.aclIDs[string(enc)] = id
			m.aclMu.Unlock()
		}
		return id, nil
	}
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return 0, err
	}
	id, err := tx.Incr(configKey(cfgNextACL), 1)
	if err != nil {
		return 0, err
	}
	if id <= 0 || id > 0xFFFFFFFF {
		return 0, fmt.Errorf("meta: ACL ids exhausted: %w", syscall.ENOSPC)
	}
	var idb [4]byte
	binary.BigEndian.PutUint32(idb[:], uint32(id))
	if err := tx.Put(aclKey(uint32(id)), enc); err != nil {
		return 0, err
	}
	if at, ok := tx.(*aclTx); ok {
		at.created = append(at.created, createdACL{id: uint32(id), enc: enc, rule: r.Clone()})
	}
	return uint32(id), tx.Put(aclIndexKey(enc), idb[:])
}

// ACLType selects the access or the default ACL of an inode.
type ACLType uint8

// ACL types.
const (
	ACLAccess ACLType = iota + 1
	ACLDefault
)

// GetACL returns the access or default ACL of ino, or nil when it has none
// (for the access ACL: the mode alone applies).
func (m *FS) GetACL(ctx context.Context, ino posix.Ino, typ ACLType) (*acl.Rule, error) {
	var r *acl.Rule
	err := m.store.View(ctx, func(tx kv.Tx) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		id := a.AccessACL
		if typ == ACLDefault {
			if a.Type != posix.TypeDir {
				return nil
			}
			id = a.DefaultACL
		}
		if id == 0 {
			return nil
		}
		r, err = m.loadACL(tx, id)
		return err
	})
	if r != nil {
		r = r.Clone()
	}
	return r, err
}

// SetACL sets (rule != nil) or removes (rule == nil) the access or default
// ACL of ino. Only the owner or root may do so (EPERM). Setting an access
// ACL also sets the mode's permission bits from it (owner, mask or group,
// other); a minimal access ACL is not stored, only the mode changes. A
// default ACL may only be set on a directory (EACCES otherwise, as Linux).
// Non-root callers not in the file's group lose setgid, as with chmod.
func (m *FS) SetACL(ctx context.Context, cred posix.Cred, ino posix.Ino, typ ACLType, rule *acl.Rule) error {
	if !m.fmt.EnableACL {
		return fmt.Errorf("meta: ACLs are not enabled on this volume: %w", syscall.EOPNOTSUPP)
	}
	if rule != nil {
		if err := rule.Validate(); err != nil {
			return fmt.Errorf("meta: %w: %w", err, syscall.EINVAL)
		}
	}
	return m.mutate(ctx, func(tx kv.Tx, rec *Record) error {
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if cred.UID != 0 && cred.UID != a.UID {
			return syscall.EPERM
		}
		if a.Flags&(posix.FlagImmutable|posix.FlagAppend) != 0 {
			return syscall.EPERM
		}
		switch typ {
		case ACLAccess:
			if rule != nil {
				mode := a.Mode&^posix.ModePerm | rule.Mode()
				if cred.UID != 0 && !cred.InGroup(a.GID) {
					mode &^= posix.ModeSetgid
				}
				a.Mode = mode
			}
			if a.AccessACL, err = m.storeACL(tx, rule, false); err != nil {
				return err
			}
		case ACLDefault:
			if a.Type != posix.TypeDir {
				if rule == nil {
					return nil
				}
				return syscall.EACCES
			}
			// A default ACL of only the three base entries is still a
			// default ACL (it decides the mode of new children), so it is
			// stored even though it is minimal.
			if a.DefaultACL, err = m.storeACL(tx, rule, true); err != nil {
				return err
			}
		default:
			return syscall.EINVAL
		}
		a.Ctime = m.now()
		rec.set(OpSetACL, ino, &a)
		return putAttr(tx, ino, &a)
	})
}

// aclTx is the transaction mutate hands to its closure: it remembers the
// ACLs the transaction creates, which may enter the caches only once the
// transaction has committed (a rolled-back id may be given to another ACL).
type aclTx struct {
	kv.Tx
	created []createdACL
	// dying collects the inodes this transaction frees (see
	// openTable.dying); mutate clears their marks when it ends.
	dying *[]posix.Ino
	// shard is the session and slot of the counter shards this
	// transaction moves (see counters.go).
	shard []byte
}

type createdACL struct {
	id   uint32
	enc  []byte
	rule *acl.Rule
}

// createdIn reports whether id was created by tx and is not committed yet.
func createdIn(tx kv.Tx, id uint32) bool {
	at, ok := tx.(*aclTx)
	if !ok {
		return false
	}
	for _, c := range at.created {
		if c.id == id {
			return true
		}
	}
	return false
}

func (m *FS) cacheCreatedACLs(created []createdACL) {
	if len(created) == 0 {
		return
	}
	m.aclMu.Lock()
	defer m.aclMu.Unlock()
	for _, c := range created {
		m.aclCache[c.id] = c.rule
		m.aclIDs[string(c.enc)] = c.id
	}
}
