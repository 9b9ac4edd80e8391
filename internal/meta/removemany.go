package meta

import (
	"context"
	"errors"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// UnlinkMany removes the entries names (none of them a directory) of
// parent in one transaction, with the outcome Unlink would give each in
// turn: errs[i] is nil, or the errno of names[i] alone (ENOENT, EISDIR,
// EPERM for the sticky and immutable rules, ENAMETOOLONG, ...), which
// leaves the others to go. emptied tells whether parent was left
// without entries. err is a failure of the whole call (parent missing,
// not a directory or not writable by cred, the engine failing): then
// nothing was removed.
//
// The S3 gateway's DeleteObjects removes the keys of one directory with
// it: the parent's attributes are read and written once, the usage,
// inode and change-feed counters move once, and each freed inode goes
// with one scan and one range deletion of its records, where a removal
// on its own costs a transaction of some twenty statements. Each removal
// still gets its own change-feed record.
func (m *FS) UnlinkMany(ctx context.Context, cred posix.Cred, parent posix.Ino, names []string) (errs []error, emptied bool, err error) {
	defer m.dirs.lock(parent)()
	errs = make([]error, len(names))
	err = m.mutateMany(ctx, func(tx kv.Tx, add func(Record)) error {
		clear(errs)
		emptied = false
		pa, err := m.writableDir(tx, cred, parent)
		if err != nil {
			return err
		}
		now := m.now()
		var d counterDeltas
		removed := 0
		for i, name := range names {
			v, err := m.unlinkCheck(tx, cred, parent, &pa, name)
			if err != nil {
				if !isErrno(err) {
					return err // the engine failed: the whole call does
				}
				errs[i] = err
				continue
			}
			rec, err := m.unlinkApply(tx, parent, name, v, now, &d)
			if err != nil {
				return err // a name half removed: the whole call fails
			}
			removed++
			add(rec)
		}
		if removed == 0 {
			return nil
		}
		if err := checkEmpty(tx, parent); err == nil {
			emptied = true
		} else if !errors.Is(err, syscall.ENOTEMPTY) {
			return err
		}
		pa.Mtime, pa.Ctime = now, now
		if err := putAttr(tx, parent, &pa); err != nil {
			return err
		}
		return d.apply(m, tx)
	})
	if err != nil {
		return nil, false, err
	}
	return errs, emptied, nil
}

// victim is an entry UnlinkMany is to remove, with what one read of
// its inode's records found.
type victim struct {
	ino    posix.Ino
	attr   posix.Attr
	chunks [][]byte // the values of its chunk lists
}

// unlinkCheck reads the entry name of parent and applies the rules for
// removing it; an errno concerns this name only. It writes nothing.
func (m *FS) unlinkCheck(tx kv.Tx, cred posix.Cred, parent posix.Ino, pa *posix.Attr, name string) (victim, error) {
	var v victim
	switch {
	case name == "." || name == "..":
		return v, syscall.EISDIR
	case len(name) > MaxNameLen:
		return v, syscall.ENAMETOOLONG
	}
	typ, ino, err := lookupEntry(tx, parent, name)
	if err != nil {
		return v, err
	}
	if typ == posix.TypeDir {
		return v, syscall.EISDIR
	}
	// The inode's records in one read: its chunk lists, attributes,
	// symlink target, name and xattrs (keys 'A' ino 'B'…'X'; a non-directory
	// has no entries).
	v.ino = ino
	prefix := inodePrefix(ino)
	attrErr := error(syscall.ENOENT)
	if err := tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{}, func(k, val []byte) bool {
		if len(k) <= len(prefix) {
			return true
		}
		switch k[len(prefix)] {
		case subAttr:
			v.attr, attrErr = decodeAttr(val)
		case subChunk:
			v.chunks = append(v.chunks, val)
		}
		return true
	}); err != nil {
		return v, err
	}
	if attrErr != nil {
		return v, attrErr
	}
	return v, m.checkVictim(tx, cred, pa, &v.attr)
}

// unlinkApply removes the entry name of parent that unlinkCheck allowed
// and returns its change-feed record. Any error leaves the name half
// removed: the transaction must fail.
func (m *FS) unlinkApply(tx kv.Tx, parent posix.Ino, name string, v victim, now int64, d *counterDeltas) (Record, error) {
	var rec Record
	a := &v.attr
	if err := tx.Delete(dentryKey(parent, name)); err != nil {
		return rec, err
	}
	if a.Nlink > 1 || (a.Type == posix.TypeFile && m.keepOpen(tx, v.ino)) {
		// Other names, or open handles, keep the inode.
		if err := m.dropLink(tx, v.ino, a, Link{parent, name}, now); err != nil {
			return rec, err
		}
	} else {
		// The last link of an inode nobody here has open. No unlinked-
		// while-open record can exist for it (one is written only when
		// the last link goes), so all its records are under its prefix.
		a.Nlink, a.Ctime = 0, now
		for _, c := range v.chunks {
			ss, err := decodeSlices(c)
			if err != nil {
				return rec, err
			}
			for _, s := range ss {
				if err := m.releaseSlice(tx, s.ID, s.Size); err != nil {
					return rec, err
				}
			}
		}
		prefix := inodePrefix(v.ino)
		if err := tx.DeleteRange(prefix, kv.PrefixEnd(prefix)); err != nil {
			return rec, err
		}
		d.add(a.Quota, -inodeUsage(a), -1)
	}
	rec.set(OpUnlink, v.ino, a)
	rec.Parent, rec.Name = parent, name
	return rec, nil
}

// counterDeltas are the volume counters (and quotas) a transaction of
// many changes moves once at its end.
type counterDeltas struct {
	used, inodes int64
	quotas       map[posix.Ino][2]int64 // space, inodes by quota
}

func (d *counterDeltas) add(q posix.Ino, space, inodes int64) {
	d.used += space
	d.inodes += inodes
	if q != 0 {
		if d.quotas == nil {
			d.quotas = map[posix.Ino][2]int64{}
		}
		v := d.quotas[q]
		d.quotas[q] = [2]int64{v[0] + space, v[1] + inodes}
	}
}

func (d *counterDeltas) apply(m *FS, tx kv.Tx) error {
	if err := m.addUsage(tx, 0, d.used); err != nil {
		return err
	}
	for q, v := range d.quotas {
		if err := charge(tx, q, v[0], v[1]); err != nil {
			return err
		}
	}
	return m.addCounter(tx, cfgInodes, d.inodes)
}

// isErrno reports whether err is (or wraps) an errno: the outcome of a
// file-system rule, where any other error is the engine's.
func isErrno(err error) bool {
	var e syscall.Errno
	return errors.As(err, &e)
}

// mutateMany is mutate for a transaction that makes several changes:
// fn adds one Record per change, and they are appended to the change
// feed in that order, with one move of its sequence counter.
func (m *FS) mutateMany(ctx context.Context, fn func(tx kv.Tx, add func(Record)) error) error {
	sess := m.SessionID()
	origin, _ := OriginFrom(ctx)
	if origin.Session == 0 {
		origin.Session = sess
	}
	slot := m.shards.get()
	defer m.shards.put(slot)
	shard := shardSuffix(sess, slot)
	var created []createdACL
	var dying []posix.Ino
	defer func() { m.opens.doneDying(dying) }()
	pubs, pending := pendingPublishes(ctx)
	err := m.store.Update(ctx, func(tx kv.Tx) error {
		at := &aclTx{Tx: tx, dying: &dying, shard: shard}
		var recs []Record
		if err := fn(at, func(r Record) {
			r.Origin = origin
			recs = append(recs, r)
			for i := range pubs {
				if pubs[i].Name == r.Name {
					recs = append(recs, publishRecord(&pubs[i], r.Ino, origin))
				}
			}
		}); err != nil {
			return err
		}
		created = at.created
		return appendRecords(tx, recs, m.now())
	})
	if err == nil {
		m.cacheCreatedACLs(created)
		if pending != nil {
			pending.done.Store(true)
		}
	}
	return err
}
