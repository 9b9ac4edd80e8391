package notify

import (
	"strings"

	"cairn/internal/meta"
	"cairn/internal/posix"
)

// Events of a mount. A file written on a mount and closed, removed or
// renamed changes the bucket it is in as an S3 request would, but the
// change feed has the file system's records of it (a write at close, an
// unlink, a rename, a hard link made, a truncation by path), not publish
// records. fsEvents turns them into the events they make, with keys from
// the paths they recorded.

// feedOps are the change-feed records a dispatcher reads.
var feedOps = []meta.Op{meta.OpPublish, meta.OpWrite, meta.OpTruncate, meta.OpLink, meta.OpUnlink, meta.OpRename}

// fsEvents returns recs with each mount change to a regular file replaced
// by the publish records of the events it makes (none when its path is
// not a bucket's key; two for a rename: the old key removed, the new one
// created; one per link for a write to a file with several), keeping
// their sequence numbers. The paths are the ones the
// change recorded in its transaction (meta.WithPaths, which mounts use).
func fsEvents(recs []meta.Record) []meta.Record {
	out := recs[:0:0]
	for i := range recs {
		r := &recs[i]
		if r.Op == meta.OpPublish {
			out = append(out, *r)
			continue
		}
		if r.Origin.Agent != "fuse" || r.Type != posix.TypeFile || (r.Path == "" && len(r.Paths) == 0) {
			continue
		}
		var evs []meta.Publish
		switch r.Op {
		case meta.OpWrite, meta.OpTruncate:
			if r.Path != "" {
				evs = append(evs, created(r.Path, r.Length))
			}
			for _, p := range r.Paths {
				evs = append(evs, created(p, r.Length))
			}
		case meta.OpLink:
			evs = append(evs, created(r.Path, r.Length))
		case meta.OpUnlink:
			evs = append(evs, removed(r.Path))
		case meta.OpRename:
			evs = append(evs, removed(r.Path), created(r.NewPath, r.Length))
		}
		for _, p := range evs {
			if p.Bucket == "" {
				continue // not an object: outside the buckets
			}
			e := *r
			e.S3 = &p
			out = append(out, e)
		}
	}
	return out
}

// object splits a path into a bucket and a key; both "" when the path is
// no object's (a file at the root, or in the volume's system directory).
func object(p string) (bucket, key string) {
	b, k, ok := strings.Cut(p, "/")
	if !ok || k == "" || b == "" || strings.HasPrefix(b, ".") {
		return "", ""
	}
	return b, k
}

func created(p string, size uint64) meta.Publish {
	b, k := object(p)
	return meta.Publish{Event: "ObjectCreated:Put", Bucket: b, Key: k, Size: int64(size)}
}

func removed(p string) meta.Publish {
	b, k := object(p)
	return meta.Publish{Event: "ObjectRemoved:Delete", Bucket: b, Key: k}
}
