package meta

import (
	"context"
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
}

// ReadDir lists directory ino in name (byte) order, without "." and "..".
// It needs read permission on the directory. A listing is a range scan: a
// page deep in a huge directory costs the same as the first one.
func (m *FS) ReadDir(ctx context.Context, cred posix.Cred, ino posix.Ino, opt ReadDirOptions) ([]DirEntry, error) {
	var out []DirEntry
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
		err = tx.Scan(begin, kv.PrefixEnd(prefix), kv.ScanOptions{Limit: opt.Limit}, func(k, v []byte) bool {
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
		keys := make([][]byte, len(out))
		for i := range out {
			keys[i] = attrKey(out[i].Ino)
		}
		vals, err := tx.Gets(keys...)
		if err != nil {
			return err
		}
		for i, v := range vals {
			if v == nil {
				continue // removed concurrently; the entry's own record is gone too
			}
			if out[i].Attr, err = decodeAttr(v); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
