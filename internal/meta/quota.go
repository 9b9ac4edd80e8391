package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Directory quotas.
//
// A directory may have a quota: a limit on the bytes of file data and on
// the inodes in the tree under it (itself included), counted exactly: the
// usage moves in the same transaction as every change that moves it, so
// it never drifts and a write that would pass the limit fails with EDQUOT
// whichever client makes it. Every inode carries the directory whose quota
// charges it (Attr.Quota, inherited at creation from its parent), so a
// write finds its quota without walking up the tree; a quota within a
// quota names the one above it, and a change is charged up that chain.
// Like XFS project quotas, a directory cannot be moved into another quota's
// tree (EXDEV: mv copies it instead); a file can, its usage moving with
// it. Setting a quota on a directory with content walks that tree once, to
// count it and mark its inodes.
//
// Keys: 'Q' ino 'L' the limits and the parent quota (quotaRecord), 'Q' ino
// 's' and 'Q' ino 'i' the space and inode counters (kv.Tx.Incr).

const famQuota = 'Q'

// Quota is a directory's quota and its usage.
type Quota struct {
	// MaxSpace (bytes) and MaxInodes are the limits; 0 is no limit.
	MaxSpace  uint64 `json:"max_space"`
	MaxInodes uint64 `json:"max_inodes"`
	// UsedSpace (file lengths rounded up to 4 KiB, as the volume counts
	// them) and UsedInodes are the tree's usage.
	UsedSpace  uint64 `json:"used_space"`
	UsedInodes uint64 `json:"used_inodes"`
}

// quotaRecord is the stored limits of a quota.
type quotaRecord struct {
	maxSpace, maxInodes uint64
	parent              posix.Ino // the quota above (0: none)
}

func quotaKey(ino posix.Ino, sub byte) []byte {
	k := make([]byte, 10)
	k[0] = famQuota
	binary.BigEndian.PutUint64(k[1:], uint64(ino))
	k[9] = sub
	return k
}

func (r quotaRecord) encode() []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b, r.maxSpace)
	binary.BigEndian.PutUint64(b[8:], r.maxInodes)
	binary.BigEndian.PutUint64(b[16:], uint64(r.parent))
	return b
}

// getQuotaRecord reads the quota of dir; ok is false when it has none.
func getQuotaRecord(tx kv.Tx, dir posix.Ino) (quotaRecord, bool, error) {
	b, err := tx.Get(quotaKey(dir, 'L'))
	if errors.Is(err, kv.ErrNotFound) {
		return quotaRecord{}, false, nil
	}
	if err != nil {
		return quotaRecord{}, false, err
	}
	if len(b) != 24 {
		return quotaRecord{}, false, fmt.Errorf("meta: corrupt quota of inode %d: %w", dir, syscall.EIO)
	}
	be := binary.BigEndian
	return quotaRecord{maxSpace: be.Uint64(b), maxInodes: be.Uint64(b[8:]), parent: posix.Ino(be.Uint64(b[16:]))}, true, nil
}

// charge adds space bytes and inodes to the quota q and those above it:
// EDQUOT when growth passes a limit (the transaction then fails whole).
func charge(tx kv.Tx, q posix.Ino, space, inodes int64) error {
	for depth := 0; q != 0 && (space != 0 || inodes != 0); depth++ {
		if depth > 64 {
			return fmt.Errorf("meta: quota chain of inode %d loops: %w", q, syscall.EIO)
		}
		r, ok, err := getQuotaRecord(tx, q)
		if err != nil || !ok {
			return err // a quota removed: nothing above charges either
		}
		if space != 0 {
			used, err := tx.Incr(quotaKey(q, 's'), space)
			if err != nil {
				return err
			}
			if space > 0 && r.maxSpace > 0 && uint64(used) > r.maxSpace {
				return syscall.EDQUOT
			}
		}
		if inodes != 0 {
			used, err := tx.Incr(quotaKey(q, 'i'), inodes)
			if err != nil {
				return err
			}
			if inodes > 0 && r.maxInodes > 0 && uint64(used) > r.maxInodes {
				return syscall.EDQUOT
			}
		}
		q = r.parent
	}
	return nil
}

// inodeUsage is what one inode counts for in quotas: its data space and
// itself.
func inodeUsage(a *posix.Attr) int64 {
	if a.Type == posix.TypeFile {
		return int64(align4k(a.Length))
	}
	return 0
}

// GetQuota returns dir's quota with its usage; ENOENT when it has none.
func (m *FS) GetQuota(ctx context.Context, dir posix.Ino) (Quota, error) {
	var q Quota
	err := m.store.View(ctx, func(tx kv.Tx) error {
		r, ok, err := getQuotaRecord(tx, dir)
		if err != nil {
			return err
		}
		if !ok {
			return syscall.ENOENT
		}
		vals, err := tx.Gets(quotaKey(dir, 's'), quotaKey(dir, 'i'))
		if err != nil {
			return err
		}
		q = Quota{MaxSpace: r.maxSpace, MaxInodes: r.maxInodes}
		if vals[0] != nil {
			q.UsedSpace = binary.BigEndian.Uint64(vals[0])
		}
		if vals[1] != nil {
			q.UsedInodes = binary.BigEndian.Uint64(vals[1])
		}
		return nil
	})
	return q, err
}

// SetQuota sets (or changes) the limits of dir's quota. Only root may. A
// new quota counts the tree under dir and marks its inodes; the
// transaction that does it covers the whole tree (a tree of millions of
// inodes is better given its quota while small). Lowering a limit under
// the usage is allowed: growth then fails until usage is back under it.
func (m *FS) SetQuota(ctx context.Context, cred posix.Cred, dir posix.Ino, maxSpace, maxInodes uint64) error {
	if !cred.IsRoot() {
		return syscall.EPERM
	}
	return m.store.Update(ctx, func(tx kv.Tx) error {
		a, err := getAttr(tx, dir)
		if err != nil {
			return err
		}
		if !a.IsDir() {
			return syscall.ENOTDIR
		}
		r, ok, err := getQuotaRecord(tx, dir)
		if err != nil {
			return err
		}
		if ok {
			r.maxSpace, r.maxInodes = maxSpace, maxInodes
			return tx.Put(quotaKey(dir, 'L'), r.encode())
		}
		// A new quota: below the one that charged dir so far.
		r = quotaRecord{maxSpace: maxSpace, maxInodes: maxInodes, parent: a.Quota}
		if err := tx.Put(quotaKey(dir, 'L'), r.encode()); err != nil {
			return err
		}
		var space, inodes int64
		err = m.retagTree(tx, dir, a.Quota, dir, func(s, i int64) {
			space += s
			inodes += i
		})
		if err != nil {
			return err
		}
		// The usage was charged above already; here it is only counted.
		if _, err := tx.Incr(quotaKey(dir, 's'), space); err != nil {
			return err
		}
		_, err = tx.Incr(quotaKey(dir, 'i'), inodes)
		return err
	})
}

// RemoveQuota drops dir's quota: its tree is charged to the quota above
// it again (which counted it all along).
func (m *FS) RemoveQuota(ctx context.Context, cred posix.Cred, dir posix.Ino) error {
	if !cred.IsRoot() {
		return syscall.EPERM
	}
	return m.store.Update(ctx, func(tx kv.Tx) error {
		r, ok, err := getQuotaRecord(tx, dir)
		if err != nil {
			return err
		}
		if !ok {
			return syscall.ENOENT
		}
		if err := m.retagTree(tx, dir, dir, r.parent, nil); err != nil {
			return err
		}
		for _, sub := range []byte{'L', 's', 'i'} {
			if err := tx.Delete(quotaKey(dir, sub)); err != nil {
				return err
			}
		}
		return nil
	})
}

// retagTree sets Quota to to on dir and every inode under it that has
// from. An inner quota keeps its tree, and names to as the quota above
// it. each, when set, is given the usage of what is retagged (an inner
// quota's tree by its counters).
func (m *FS) retagTree(tx kv.Tx, dir, from, to posix.Ino, each func(space, inodes int64)) error {
	stack := []posix.Ino{dir}
	seen := map[posix.Ino]bool{}
	for len(stack) > 0 {
		ino := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[ino] {
			continue // a file with several links
		}
		seen[ino] = true
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if ino != dir && a.Quota != from {
			if a.Quota == ino {
				if err := m.reparentQuota(tx, ino, from, to, each); err != nil {
					return err
				}
			}
			continue
		}
		a.Quota = to
		if err := putAttr(tx, ino, &a); err != nil {
			return err
		}
		if each != nil {
			each(inodeUsage(&a), 1)
		}
		if !a.IsDir() {
			continue
		}
		var derr error
		err = tx.Scan(dentryPrefix(ino), kv.PrefixEnd(dentryPrefix(ino)), kv.ScanOptions{}, func(k, v []byte) bool {
			_, child, err := decodeDentry(v)
			if err != nil {
				derr = err
				return false
			}
			stack = append(stack, child)
			return true
		})
		if err == nil {
			err = derr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// reparentQuota makes the quota of dir, which was under from, be under
// to, and gives each its usage.
func (m *FS) reparentQuota(tx kv.Tx, dir, from, to posix.Ino, each func(space, inodes int64)) error {
	r, ok, err := getQuotaRecord(tx, dir)
	if err != nil || !ok || r.parent != from {
		return err
	}
	r.parent = to
	if err := tx.Put(quotaKey(dir, 'L'), r.encode()); err != nil {
		return err
	}
	if each == nil {
		return nil
	}
	vals, err := tx.Gets(quotaKey(dir, 's'), quotaKey(dir, 'i'))
	if err != nil {
		return err
	}
	var s, i int64
	if vals[0] != nil {
		s = int64(binary.BigEndian.Uint64(vals[0]))
	}
	if vals[1] != nil {
		i = int64(binary.BigEndian.Uint64(vals[1]))
	}
	each(s, i)
	return nil
}

// quotaState is a quota as Check reads it.
type quotaState struct {
	rec         quotaRecord
	space, inos int64 // the counters
}

// scanQuotas reads every quota with its counters.
func scanQuotas(tx kv.Tx) (map[posix.Ino]quotaState, error) {
	out := map[posix.Ino]quotaState{}
	err := tx.Scan([]byte{famQuota}, []byte{famQuota + 1}, kv.ScanOptions{}, func(k, v []byte) bool {
		if len(k) != 10 {
			return true
		}
		ino := posix.Ino(binary.BigEndian.Uint64(k[1:]))
		s := out[ino]
		switch k[9] {
		case 'L':
			if len(v) == 24 {
				s.rec = quotaRecord{maxSpace: binary.BigEndian.Uint64(v), maxInodes: binary.BigEndian.Uint64(v[8:]), parent: posix.Ino(binary.BigEndian.Uint64(v[16:]))}
			}
		case 's':
			s.space = counterValue(v)
		case 'i':
			s.inos = counterValue(v)
		}
		out[ino] = s
		return true
	})
	return out, err
}

// checkQuotas reports quota counters that disagree with the inodes they
// charge (each inode counts for its quota and those above it), and
// inodes charged to a quota that does not exist.
func checkQuotas(rep *CheckReport, st *checkState) {
	want := map[posix.Ino][2]int64{}
	for ino, a := range st.attrs {
		if a.Quota == 0 {
			continue
		}
		if _, ok := st.quotas[a.Quota]; !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("inode %d is charged to quota %d, which does not exist", ino, a.Quota))
			continue
		}
		for q, depth := a.Quota, 0; q != 0 && depth < 64; depth++ {
			w := want[q]
			want[q] = [2]int64{w[0] + inodeUsage(&a), w[1] + 1}
			q = st.quotas[q].rec.parent
		}
	}
	for q, s := range st.quotas {
		if w := want[q]; w[0] != s.space || w[1] != s.inos {
			rep.Problems = append(rep.Problems, fmt.Sprintf("quota %d counts %d bytes and %d inodes, its tree %d and %d", q, s.space, s.inos, w[0], w[1]))
		}
	}
}

// ListQuotas returns every quota with its usage, by directory.
func (m *FS) ListQuotas(ctx context.Context) (map[posix.Ino]Quota, error) {
	out := map[posix.Ino]Quota{}
	err := m.store.View(ctx, func(tx kv.Tx) error {
		qs, err := scanQuotas(tx)
		if err != nil {
			return err
		}
		clear(out)
		for ino, s := range qs {
			out[ino] = Quota{MaxSpace: s.rec.maxSpace, MaxInodes: s.rec.maxInodes, UsedSpace: uint64(s.space), UsedInodes: uint64(s.inos)}
		}
		return nil
	})
	return out, err
}
