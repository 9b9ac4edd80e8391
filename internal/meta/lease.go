package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"cairn/internal/meta/kv"
)

// Leases. A lease names one client (its session) as the one that does a
// volume-wide job — delivering a notification target's events — until it
// stops renewing it: it lapses ttl after the holder's last renewal, so a
// holder that dies is replaced within ttl, long before its session
// expires. The expiry is the holder's clock: clients sharing a volume
// need clocks that agree to well within ttl.

// TakeLease takes or renews the lease name for this client's session for
// ttl, and reports whether this client holds it. The client must have a
// session (NewSession).
func (m *FS) TakeLease(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	sid := m.SessionID()
	if sid == 0 {
		return false, errors.New("meta: a lease needs a session (NewSession)")
	}
	now := m.opts.Now()
	var held bool
	err := m.store.Update(ctx, func(tx kv.Tx) error {
		held = false
		k := configKey("lease:" + name)
		b, err := tx.Get(k)
		switch {
		case errors.Is(err, kv.ErrNotFound):
		case err != nil:
			return err
		case len(b) == 16:
			holder, until := u64(b[:8]), int64(u64(b[8:]))
			if holder != sid && now.UnixNano() < until {
				return nil // another's, still running
			}
		}
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v, sid)
		binary.BigEndian.PutUint64(v[8:], uint64(now.Add(ttl).UnixNano()))
		held = true
		return tx.Put(k, v)
	})
	return held, err
}

// DropLease gives up the lease name if this client holds it, so another
// takes it over at once.
func (m *FS) DropLease(ctx context.Context, name string) error {
	sid := m.SessionID()
	return m.store.Update(ctx, func(tx kv.Tx) error {
		k := configKey("lease:" + name)
		b, err := tx.Get(k)
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err != nil || len(b) != 16 || u64(b[:8]) != sid {
			return err
		}
		return tx.Delete(k)
	})
}

// FeedOldest returns the sequence number of the oldest record the feed
// keeps (records before it were trimmed by retention).
func (m *FS) FeedOldest(ctx context.Context) (uint64, error) {
	var trimmed uint64
	err := m.store.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(configKey(cfgFeedTrimmed))
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err == nil && len(b) == 8 {
			trimmed = u64(b)
		}
		return err
	})
	return trimmed + 1, err
}
