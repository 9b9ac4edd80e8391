package meta

import (
	"bytes"
	"context"
	"errors"
	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Name string
	Ino  posix.Ino
	Type posix.FileType
	// Attr is filled when ReadDirOptions.WithAttr is set.
	Attr posix.Attr
	// Xattr is the value of ReadDirOptions.Xattr (nil when absent).
	Xattr []byte
}

// ReadDirOptions shape a ReadDir call.
type ReadDirOptions struct {
	// After resumes the listing after this name ("" starts at the first).
	After string
	// From starts the listing at this name, inclusive (used when After is
	// empty).
	From string
	// Limit is the most entries returned; 0 means all.
	Limit int
	// WithAttr loads each entry's attributes (readdirplus).
	WithAttr bool
	// SkipPerm skips the read permission check (the caller checked it when
	// the directory was opened).
	SkipPerm bool
	// Xattr, with WithAttr, also loads this internal extended attribute
	// of each entry (what an S3 listing needs: the object metadata).
	Xattr string
}

// ReadDir lists directory ino in name (byte) order, without "." and "..".
// It needs read permission on the directory. A listing is a range scan: a
// page deep in a huge directory costs the same as the first one.
func (m *FS) ReadDir(ctx context.Context, cred posix.Cred, ino posix.Ino, opt ReadDirOptions) ([]DirEntry, error) {
	var out []DirEntry
	if opt.Limit > 0 {
		out = make([]DirEntry, 0, min(opt.Limit, 1024))
	}
	err := m.store.View(ctx, func(tx kv.Tx) error {
		out = out[:0]
		a, err := getAttr(tx, ino)
		if err != nil {
			return err
		}
		if a.Type != posix.TypeDir {
			return syscall.ENOTDIR
		}
		if !opt.SkipPerm {
			if err := m.access(tx, cred, &a, posix.MayRead); err != nil {
				return err
			}
		}
		prefix := dentryPrefix(ino)
		begin := prefix
		if opt.After != "" {
			begin = append(dentryKey(ino, opt.After), 0)
		} else if opt.From != "" {
			begin = dentryKey(ino, opt.From)
		}
		var derr error
		err = tx.Scan(begin, kv.PrefixEnd(prefix), kv.ScanOptions{Limit: opt.Limit, Borrow: true}, func(k, v []byte) bool {
			typ, child, err := decodeDentry(v)
			if err != nil {
				derr = err
				return false
			}
			out = append(out, DirEntry{Name: string(k[len(prefix):]), Ino: child, Type: typ})
			return true
		})
		if err != nil || derr != nil || !opt.WithAttr {
			if err == nil {
				err = derr
			}
			return err
		}
		return loadChildren(tx, out, opt.Xattr)
	})
	return out, err
}

// loadChildren fills in the attributes (and the xattr named x, when set)
// of a page of directory entries. Inodes created together have nearby
// numbers, and an inode's records are adjacent keys: when the page's
// inodes are dense, one range scan over their records replaces a point
// read per record. The scan is bounded; whatever it did not reach (or a
// sparse page) is read by point reads.
func loadChildren(tx kv.Tx, out []DirEntry, x string) error {
	if len(out) == 0 {
		return nil
	}
	lo, hi := out[0].Ino, out[0].Ino
	for _, e := range out {
		lo, hi = min(lo, e.Ino), max(hi, e.Ino)
	}
	gotAttr := make([]bool, len(out))
	const minDense = 32
	if len(out) >= minDense && uint64(hi-lo) < 4*uint64(len(out)) {
		// first[ino-lo] is the first entry of ino (-1: none); next chains
		// the other entries of the same inode (hard links), -1 ending it.
		first := make([]int32, hi-lo+1)
		for i := range first {
			first[i] = -1
		}
		next := make([]int32, len(out))
		for i := len(out) - 1; i >= 0; i-- {
			next[i], first[out[i].Ino-lo] = first[out[i].Ino-lo], int32(i)
		}
		var derr error
		var arena []byte       // the kept xattrs, copied into one allocation
		budget := 8 * len(out) // records visited before giving up on the scan
		visited, last := 0, posix.Ino(0)
		// Borrowed records: attributes are decoded at once, the one xattr
		// kept is copied.
		err := tx.Scan(inodePrefix(lo), kv.PrefixEnd(inodePrefix(hi)), kv.ScanOptions{Limit: budget, Borrow: true}, func(k, v []byte) bool {
			visited++
			if len(k) < 10 {
				return true
			}
			last = posix.Ino(u64(k[1:9]))
			if last < lo || last > hi || first[last-lo] < 0 {
				return true
			}
			i := first[last-lo]
			switch {
			case k[9] == subAttr && len(k) == 10:
				a, err := decodeAttr(v)
				if err != nil {
					derr = err
					return false
				}
				for ; i >= 0; i = next[i] {
					out[i].Attr, gotAttr[i] = a, true
				}
			case x != "" && k[9] == subXattr && string(k[10:]) == x:
				if cap(arena)-len(arena) < len(v) {
					arena = make([]byte, 0, max(len(v), 64<<10))
				}
				arena = append(arena, v...)
				val := arena[len(arena)-len(v) : len(arena) : len(arena)]
				for ; i >= 0; i = next[i] {
					out[i].Xattr = val
				}
			}
			return true
		})
		if err != nil || derr != nil {
			if err == nil {
				err = derr
			}
			return err
		}
		if visited >= budget {
			// Cut short: the last inode reached may miss records.
			for i := range out {
				if out[i].Ino >= last {
					gotAttr[i], out[i].Xattr = false, nil
				}
			}
		}
	}
	if x != "" {
		// An inode's attributes and its xattrs are neighbours (I < S <
		// X): one short scan from the one to the other costs one seek,
		// where two point reads cost two.
		for i := range out {
			if gotAttr[i] {
				continue
			}
			if err := loadAttrXattr(tx, &out[i], x); err != nil {
				return err
			}
			gotAttr[i] = true
		}
		return nil
	}
	// Point reads for what the scan did not cover.
	var keys [][]byte
	var want []int
	for i := range out {
		if !gotAttr[i] {
			keys = append(keys, attrKey(out[i].Ino))
			want = append(want, i)
			if x != "" {
				keys = append(keys, xattrKey(out[i].Ino, x))
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	vals, err := tx.Gets(keys...)
	if err != nil {
		return err
	}
	step := 1
	if x != "" {
		step = 2
	}
	for j, i := range want {
		v := vals[j*step]
		if v == nil {
			continue // removed concurrently; the entry's own record is gone too
		}
		if out[i].Attr, err = decodeAttr(v); err != nil {
			return err
		}
		if x != "" {
			out[i].Xattr = vals[j*step+1]
		}
	}
	return nil
}

// attrXattrScan bounds the records an attributes-to-xattr scan visits
// (the symlink target and xattrs sorting before the one wanted) before it
// falls back on a point read.
const attrXattrScan = 4

// loadAttrXattr reads e's attributes and its xattr x in one scan. A
// missing attribute record (the inode removed concurrently, with its
// entry) leaves e as it is.
func loadAttrXattr(tx kv.Tx, e *DirEntry, x string) error {
	begin, want := attrKey(e.Ino), xattrKey(e.Ino, x)
	end := append(want[:len(want):len(want)], 0)
	var derr error
	found, seen := false, 0
	err := tx.Scan(begin, end, kv.ScanOptions{Limit: attrXattrScan, Borrow: true}, func(k, v []byte) bool {
		seen++
		switch {
		case bytes.Equal(k, begin):
			if e.Attr, derr = decodeAttr(v); derr != nil {
				return false
			}
		case bytes.Equal(k, want):
			e.Xattr, found = append([]byte(nil), v...), true
		}
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil || found || seen < attrXattrScan {
		return err
	}
	v, err := tx.Get(want)
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	e.Xattr = v
	return err
}
