package s3fs

import (
	"context"
	"strings"

	"cairn/internal/vfs"
)

// Events. Each change an S3 request makes records what it did — the
// event's name, bucket, key, size, ETag and version id — in the change
// feed, in the transaction of the change itself (vfs.WithPublish), so
// bucket notifications read events off the feed and none is lost between
// a change and its acknowledgement. The ctx a helper below returns is
// given to the call that commits the change: its publish goes with the
// first change that commits under it, and with no later one.

// OpLifecycle is the Origin.Op of the changes the lifecycle runner makes:
// their removals are LifecycleExpiration events.
const OpLifecycle = "LifecycleExpiration"

// created returns ctx for the change that puts an object in place.
func created(ctx context.Context, bucket, key string, size int64, m *objMeta) context.Context {
	ev := "ObjectCreated:Put"
	if o, _ := vfs.OriginFrom(ctx); o.Op != "" {
		switch o.Op {
		case "PostObject":
			ev = "ObjectCreated:Post"
		case "CopyObject":
			ev = "ObjectCreated:Copy"
		case "CompleteMultipartUpload":
			ev = "ObjectCreated:CompleteMultipartUpload"
		}
	}
	return vfs.WithPublish(ctx, vfs.Publish{Event: ev, Bucket: bucket, Key: key, Size: size, ETag: m.ETag, VersionID: m.VersionID})
}

// removed returns ctx for the change that removes an object (or version),
// or adds a delete marker when marker is set.
func removed(ctx context.Context, bucket, key, vid string, marker bool) context.Context {
	return vfs.WithPublish(ctx, removedEvent(ctx, bucket, key, vid, marker))
}

func removedEvent(ctx context.Context, bucket, key, vid string, marker bool) vfs.Publish {
	ev := "ObjectRemoved:Delete"
	if marker {
		ev = "ObjectRemoved:DeleteMarkerCreated"
	}
	if o, _ := vfs.OriginFrom(ctx); o.Op == OpLifecycle {
		ev = "LifecycleExpiration:" + strings.TrimPrefix(ev, "ObjectRemoved:")
	}
	return vfs.Publish{Event: ev, Bucket: bucket, Key: key, VersionID: vid}
}

// event returns ctx for a change of any other kind (tagging, buckets).
func event(ctx context.Context, ev, bucket, key, vid string) context.Context {
	return vfs.WithPublish(ctx, vfs.Publish{Event: ev, Bucket: bucket, Key: key, VersionID: vid})
}

// Origin says who made a change (see vfs.Origin): the change feed records
// it with the change, and event records show it.
type Origin = vfs.Origin

// WithOrigin returns a ctx whose changes are recorded as made by o (its
// Op, the S3 operation, names the ObjectCreated event of a PUT).
func WithOrigin(ctx context.Context, o Origin) context.Context { return vfs.WithOrigin(ctx, o) }

// RecordEvent records an event that changes nothing — ev is
// "ObjectAccessed:Get" or "ObjectAccessed:Head" — of the object oi
// describes, in the change feed on its own.
func (f *FS) RecordEvent(ctx context.Context, ev, bucket, key string, oi ObjectInfo) error {
	return f.v.AppendPublish(ctx, vfs.Publish{Event: ev, Bucket: bucket, Key: key, Size: oi.Size,
		ETag: strings.Trim(oi.ETag, `"`), VersionID: oi.VersionID})
}
