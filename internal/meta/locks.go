package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"syscall"
	"time"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// LockType is the type of a lock, as in fcntl(2).
type LockType uint8

// Lock types.
const (
	LockUnlock LockType = iota
	LockRead
	LockWrite
)

// Lock is a POSIX record lock: bytes [Start, End] (End inclusive;
// math.MaxUint64 for "to the end of the file") held by an owner.
type Lock struct {
	Type  LockType
	Start uint64
	End   uint64
	PID   uint32
}

// lockRec is one stored lock. Flocks have Start 0 and End MaxUint64.
type lockRec struct {
	sid   uint64
	owner uint64
	Lock
}

const lockRecSize = 8 + 8 + 1 + 8 + 8 + 4

func encodeLocks(ls []lockRec) []byte {
	b := make([]byte, 0, len(ls)*lockRecSize)
	for _, l := range ls {
		b = binary.BigEndian.AppendUint64(b, l.sid)
		b = binary.BigEndian.AppendUint64(b, l.owner)
		b = append(b, byte(l.Type))
		b = binary.BigEndian.AppendUint64(b, l.Start)
		b = binary.BigEndian.AppendUint64(b, l.End)
		b = binary.BigEndian.AppendUint32(b, l.PID)
	}
	return b
}

func decodeLocks(b []byte) ([]lockRec, error) {
	if len(b)%lockRecSize != 0 {
		return nil, fmt.Errorf("meta: lock table of %d bytes: %w", len(b), syscall.EIO)
	}
	ls := make([]lockRec, 0, len(b)/lockRecSize)
	for ; len(b) > 0; b = b[lockRecSize:] {
		ls = append(ls, lockRec{
			sid:   u64(b),
			owner: u64(b[8:]),
			Lock: Lock{
				Type:  LockType(b[16]),
				Start: u64(b[17:]),
				End:   u64(b[25:]),
				PID:   binary.BigEndian.Uint32(b[33:]),
			},
		})
	}
	return ls, nil
}

const (
	kindFlock = 'F'
	kindPosix = 'P'
)

func loadLocks(tx kv.Tx, ino posix.Ino, kind byte) ([]lockRec, error) {
	b, err := tx.Get(lockKey(ino, kind))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeLocks(b)
}

// saveLocks stores the table and keeps the session index: sid holds locks
// on ino while any record of it remains in either table.
func saveLocks(tx kv.Tx, ino posix.Ino, kind byte, sid uint64, ls []lockRec) error {
	var err error
	if len(ls) == 0 {
		err = tx.Delete(lockKey(ino, kind))
	} else {
		err = tx.Put(lockKey(ino, kind), encodeLocks(ls))
	}
	if err != nil {
		return err
	}
	holds := false
	for _, k := range []byte{kindFlock, kindPosix} {
		var tab []lockRec
		if k == kind {
			tab = ls
		} else if tab, err = loadLocks(tx, ino, k); err != nil {
			return err
		}
		for _, l := range tab {
			if l.sid == sid {
				holds = true
			}
		}
	}
	if holds {
		return tx.Put(sessLockKey(sid, ino), nil)
	}
	return tx.Delete(sessLockKey(sid, ino))
}

func conflicts(a, b LockType) bool { return a == LockWrite || b == LockWrite }

// waitLock retries try until it succeeds, fails with something other than
// EAGAIN, or ctx ends (EINTR, as a signal interrupts a blocked lock).
func waitLock(ctx context.Context, block bool, try func() error) error {
	delay := time.Millisecond
	for {
		err := try()
		if block && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// Interrupted in the attempt itself (waiting for the store):
			// the same EINTR as between attempts.
			return syscall.EINTR
		}
		if !errors.Is(err, syscall.EAGAIN) || !block {
			return err
		}
		select {
		case <-ctx.Done():
			return syscall.EINTR
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// Flock applies a BSD flock of typ (LockUnlock releases) on ino for owner
// (the open file description) of this client. A conflicting lock fails
// with EAGAIN, or when block is set waits until it is free or ctx ends.
// Converting a held lock is not atomic, as on Linux.
func (m *FS) Flock(ctx context.Context, ino posix.Ino, owner uint64, typ LockType, block bool) error {
	sid := m.SessionID()
	return waitLock(ctx, block, func() error {
		return m.store.Update(ctx, func(tx kv.Tx) error {
			if _, err := getAttr(tx, ino); err != nil {
				return err
			}
			ls, err := loadLocks(tx, ino, kindFlock)
			if err != nil {
				return err
			}
			out := ls[:0:0]
			for _, l := range ls {
				if l.sid == sid && l.owner == owner {
					continue
				}
				if typ != LockUnlock && conflicts(l.Type, typ) {
					return syscall.EAGAIN
				}
				out = append(out, l)
			}
			if typ != LockUnlock {
				out = append(out, lockRec{sid: sid, owner: owner, Lock: Lock{Type: typ, End: math.MaxUint64}})
			}
			return saveLocks(tx, ino, kindFlock, sid, out)
		})
	})
}

// GetLk reports the first lock that would conflict with l for owner (as
// F_GETLK), or a lock of type LockUnlock when none would.
func (m *FS) GetLk(ctx context.Context, ino posix.Ino, owner uint64, l Lock) (Lock, error) {
	sid := m.SessionID()
	out := Lock{Type: LockUnlock}
	err := m.store.View(ctx, func(tx kv.Tx) error {
		out = Lock{Type: LockUnlock}
		ls, err := loadLocks(tx, ino, kindPosix)
		if err != nil {
			return err
		}
		for _, h := range ls {
			if h.sid == sid && h.owner == owner {
				continue
			}
			if h.Start <= l.End && l.Start <= h.End && conflicts(h.Type, l.Type) {
				out = h.Lock
				return nil
			}
		}
		return nil
	})
	return out, err
}

// SetLk acquires or releases a POSIX record lock (F_SETLK, or F_SETLKW
// when block is set) for owner. A lock over a range the owner already
// holds replaces that part, merging or splitting records as fcntl does.
func (m *FS) SetLk(ctx context.Context, ino posix.Ino, owner uint64, block bool, l Lock) error {
	if l.End < l.Start || l.Type > LockWrite {
		return syscall.EINVAL
	}
	sid := m.SessionID()
	return waitLock(ctx, block, func() error {
		return m.store.Update(ctx, func(tx kv.Tx) error {
			if _, err := getAttr(tx, ino); err != nil {
				return err
			}
			ls, err := loadLocks(tx, ino, kindPosix)
			if err != nil {
				return err
			}
			var mine, others []lockRec
			for _, h := range ls {
				if h.sid == sid && h.owner == owner {
					mine = append(mine, h)
					continue
				}
				if l.Type != LockUnlock && h.Start <= l.End && l.Start <= h.End && conflicts(h.Type, l.Type) {
					return syscall.EAGAIN
				}
				others = append(others, h)
			}
			mine = applyRange(mine, lockRec{sid: sid, owner: owner, Lock: l})
			return saveLocks(tx, ino, kindPosix, sid, append(others, mine...))
		})
	})
}

// applyRange sets [n.Start, n.End] of one owner's records to n.Type:
// overlapped records are cut, and adjacent records of the same type merge.
func applyRange(mine []lockRec, n lockRec) []lockRec {
	var out []lockRec
	for _, h := range mine {
		if h.End < n.Start || h.Start > n.End {
			out = append(out, h)
			continue
		}
		if h.Start < n.Start {
			left := h
			left.End = n.Start - 1
			out = append(out, left)
		}
		if h.End > n.End {
			right := h
			right.Start = n.End + 1
			out = append(out, right)
		}
	}
	if n.Type != LockUnlock {
		out = append(out, n)
	}
	// Merge touching records of the same type.
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(out) && !changed; i++ {
			for j := 0; j < len(out); j++ {
				a, b := out[i], out[j]
				if i == j || a.Type != b.Type || a.End == math.MaxUint64 || a.End+1 != b.Start {
					continue
				}
				out[i].End = b.End
				out = append(out[:j], out[j+1:]...)
				changed = true
				break
			}
		}
	}
	return out
}

// ReleaseLocks drops every flock and record lock owner holds on ino in
// this client (close of the last descriptor, or process exit).
func (m *FS) ReleaseLocks(ctx context.Context, ino posix.Ino, owner uint64) error {
	sid := m.SessionID()
	return m.store.Update(ctx, func(tx kv.Tx) error {
		return dropLocks(tx, ino, sid, func(l lockRec) bool { return l.owner == owner })
	})
}

func dropLocks(tx kv.Tx, ino posix.Ino, sid uint64, match func(lockRec) bool) error {
	for _, kind := range []byte{kindFlock, kindPosix} {
		ls, err := loadLocks(tx, ino, kind)
		if err != nil {
			return err
		}
		out := ls[:0:0]
		for _, l := range ls {
			if l.sid != sid || !match(l) {
				out = append(out, l)
			}
		}
		if len(out) != len(ls) {
			if err := saveLocks(tx, ino, kind, sid, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// releaseSessionLocks drops every lock session sid holds (a dead or
// closing session).
func (m *FS) releaseSessionLocks(ctx context.Context, sid uint64) error {
	prefix := sessLockKey(sid, 0)[:9]
	for {
		inos, err := m.sessionInos(ctx, prefix)
		if err != nil || len(inos) == 0 {
			return err
		}
		for _, ino := range inos {
			err := m.store.Update(ctx, func(tx kv.Tx) error {
				if err := dropLocks(tx, ino, sid, func(lockRec) bool { return true }); err != nil {
					return err
				}
				return tx.Delete(sessLockKey(sid, ino))
			})
			if err != nil {
				return err
			}
		}
	}
}
