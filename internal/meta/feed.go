package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"unicode/utf8"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// The change feed. Every mutation appends one Record in the same transaction
// that makes it, numbered by the engine when the transaction commits
// (kv.Tx.Append): records are numbered in commit order, so a consumer that
// has seen sequence n has seen every change committed before n+1, and
// transactions of different clients do not conflict over the numbering.
// Numbers may skip (a transaction that failed after taking them). Consumers keep their own position (SetFeedPosition). Retention
// is bounded by Options.FeedRetention; TrimFeed drops older records and a
// consumer asking for them gets ErrFeedTruncated instead of a silent gap.

// Op names a kind of change.
type Op string

// Operations recorded in the change feed.
const (
	OpCreate      Op = "create"
	OpMkdir       Op = "mkdir"
	OpMknod       Op = "mknod"
	OpSymlink     Op = "symlink"
	OpLink        Op = "link"
	OpUnlink      Op = "unlink"
	OpRmdir       Op = "rmdir"
	OpRename      Op = "rename"
	OpSetAttr     Op = "setattr"
	OpWrite       Op = "write" // data written, recorded when the writer closes
	OpTruncate    Op = "truncate"
	OpSetXattr    Op = "setxattr"
	OpRemoveXattr Op = "removexattr"
	OpSetACL      Op = "setacl"
	OpCopy        Op = "copy"
	// OpPublish says what an S3 request did to an object (Record.S3),
	// recorded in the transaction of the change it describes, after that
	// change's own record.
	OpPublish Op = "publish"
)

// Origin says who made a change: an S3 principal with its source address
// and request id, or a mount session.
type Origin struct {
	Principal string `json:"principal,omitempty"`
	SourceIP  string `json:"ip,omitempty"`
	RequestID string `json:"req,omitempty"`
	Session   uint64 `json:"sess,omitempty"`
	Agent     string `json:"agent,omitempty"` // "s3", "fuse", "cli"...
	// Op is the S3 operation of the request ("PutObject", "PostObject"…).
	Op string `json:"s3op,omitempty"`
}

// Publish is what the S3 layer tells the change feed about one object (or
// bucket) it changed: the record bucket notifications are made from,
// rather than reconstructed from file-system changes.
type Publish struct {
	// Event is the AWS event name without its "s3:" prefix:
	// "ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated",
	// "BucketCreated"…
	Event     string `json:"ev"`
	Bucket    string `json:"b"`
	Key       string `json:"k,omitempty"`
	Size      int64  `json:"size,omitempty"`
	ETag      string `json:"etag,omitempty"`
	VersionID string `json:"vid,omitempty"`
	// Name, in a transaction that removes several entries of a directory
	// (UnlinkMany), is the entry whose removal the publish follows; it is
	// not stored.
	Name string `json:"-"`
}

type originKey struct{}

// WithOrigin returns a ctx whose mutations are recorded as made by o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the Origin attached to ctx, if any.
func OriginFrom(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}

type publishKey struct{}

// publishing is WithPublish's ctx value: its publishes go with the first
// change that commits.
type publishing struct {
	pubs []Publish
	done atomic.Bool
}

// WithPublish returns a ctx whose next change that commits records p after
// its own record, in the same transaction: a mutation that fails records
// nothing and leaves p to the next, and later ones record nothing more
// (the directories an S3 delete prunes after the object). In a
// transaction that removes several entries (UnlinkMany), each p follows
// the record of the entry p.Name. Safe for concurrent use, though
// concurrent changes with one such ctx race for p.
func WithPublish(ctx context.Context, p ...Publish) context.Context {
	return context.WithValue(ctx, publishKey{}, &publishing{pubs: p})
}

// pendingPublishes returns ctx's publishes not yet recorded, and the
// value to mark done once they are.
func pendingPublishes(ctx context.Context) ([]Publish, *publishing) {
	p, _ := ctx.Value(publishKey{}).(*publishing)
	if p == nil || p.done.Load() {
		return nil, nil
	}
	return p.pubs, p
}

// Record is one entry of the change feed.
type Record struct {
	Seq       uint64         `json:"seq"`
	Time      int64          `json:"t"` // unix ns
	Op        Op             `json:"op"`
	Ino       posix.Ino      `json:"ino"`
	Type      posix.FileType `json:"type,omitempty"`
	Parent    posix.Ino      `json:"parent,omitempty"`
	Name      string         `json:"name,omitempty"`
	NewParent posix.Ino      `json:"nparent,omitempty"`
	NewName   string         `json:"nname,omitempty"`
	Length    uint64         `json:"len,omitempty"`
	Mode      uint32         `json:"mode,omitempty"`
	UID       uint32         `json:"uid,omitempty"`
	GID       uint32         `json:"gid,omitempty"`
	Nlink     uint32         `json:"nlink,omitempty"`
	Xattr     string         `json:"xattr,omitempty"`
	// Path and NewPath are the paths of a file written, truncated (not
	// through a handle), linked, unlinked or renamed (from and to), for
	// changes made with WithPaths; Paths, those of a file written or
	// truncated that has several links (Path then empty).
	Path    string   `json:"path,omitempty"`
	NewPath string   `json:"npath,omitempty"`
	Paths   []string `json:"paths,omitempty"`
	// Handle marks a truncation made through an open file (ftruncate,
	// O_TRUNC): the OpWrite of that handle's close reports the change.
	Handle bool            `json:"fh,omitempty"`
	Origin Origin          `json:"origin,omitempty"`
	S3     *Publish        `json:"s3,omitempty"` // OpPublish's subject
	Extra  json.RawMessage `json:"extra,omitempty"`
}

// recordJSON is the stored form of a Record. A JSON string holds only UTF-8
// and json.Marshal replaces other bytes by U+FFFD, but entry and xattr names
// may be any bytes: a name that is not valid UTF-8 is stored base64 in the
// *64 field instead (its plain field left empty).
type recordJSON struct {
	*recordFields
	Name64    []byte `json:"name64,omitempty"`
	NewName64 []byte `json:"nname64,omitempty"`
	Xattr64   []byte `json:"xattr64,omitempty"`
}

type recordFields Record // Record without its methods

// MarshalJSON implements json.Marshaler.
func (r Record) MarshalJSON() ([]byte, error) {
	if b, ok := r.appendJSON(make([]byte, 0, 512)); ok {
		return b, nil
	}
	return r.marshalSlow()
}

// marshalSlow encodes r with encoding/json: what appendJSON writes by
// hand, and what it leaves to encoding/json.
func (r Record) marshalSlow() ([]byte, error) {
	j := recordJSON{recordFields: (*recordFields)(&r)}
	for _, f := range []struct {
		s *string
		b *[]byte
	}{{&r.Name, &j.Name64}, {&r.NewName, &j.NewName64}, {&r.Xattr, &j.Xattr64}} {
		if !utf8.ValidString(*f.s) {
			*f.b, *f.s = []byte(*f.s), ""
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler. Unlike encoding/json's
// decoding into a struct, it replaces all of *r.
func (r *Record) UnmarshalJSON(b []byte) error {
	if fastRecord(b, r) {
		return nil
	}
	return slowRecord(b, r)
}

// slowRecord decodes a stored record with encoding/json.
func slowRecord(b []byte, r *Record) error {
	*r = Record{}
	j := recordJSON{recordFields: (*recordFields)(r)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	for _, f := range []struct {
		s *string
		b []byte
	}{{&r.Name, j.Name64}, {&r.NewName, j.NewName64}, {&r.Xattr, j.Xattr64}} {
		if f.b != nil {
			*f.s = string(f.b)
		}
	}
	return nil
}

// set fills the record for op on ino with attributes a (may be nil).
func (r *Record) set(op Op, ino posix.Ino, a *posix.Attr) {
	r.Op, r.Ino = op, ino
	if a != nil {
		r.Type, r.Length, r.Mode, r.UID, r.GID, r.Nlink = a.Type, a.Length, a.Mode, a.UID, a.GID, a.Nlink
	}
}

// mutate runs fn in a read-write transaction and appends the Record fn
// filled in (if it set Op) to the change feed in the same transaction.
func (m *FS) mutate(ctx context.Context, fn func(tx kv.Tx, rec *Record) error) error {
	sess := m.SessionID()
	origin, _ := OriginFrom(ctx)
	if origin.Session == 0 {
		origin.Session = sess
	}
	slot := m.shards.get()
	defer m.shards.put(slot)
	shard := shardSuffix(sess, slot)
	pubs, pending := pendingPublishes(ctx)
	var created []createdACL
	var dying []posix.Ino
	defer func() { m.opens.doneDying(dying) }()
	err := m.store.Update(ctx, func(tx kv.Tx) error {
		at := &aclTx{Tx: tx, dying: &dying, shard: shard}
		rec := Record{Origin: origin}
		if err := fn(at, &rec); err != nil {
			return err
		}
		if err := recordPaths(ctx, tx, &rec); err != nil {
			return err
		}
		created = at.created
		if len(pubs) > 0 {
			recs := make([]Record, 0, 1+len(pubs))
			if rec.Op != "" {
				recs = append(recs, rec)
			}
			for i := range pubs {
				recs = append(recs, publishRecord(&pubs[i], rec.Ino, origin))
			}
			return appendRecords(tx, recs, m.now())
		}
		if rec.Op == "" {
			return nil
		}
		return appendRecord(tx, &rec, m.now())
	})
	if err == nil {
		m.cacheCreatedACLs(created)
		if pending != nil {
			pending.done.Store(true)
		}
	}
	return err
}

func publishRecord(p *Publish, ino posix.Ino, o Origin) Record {
	return Record{Op: OpPublish, Ino: ino, Origin: o, S3: p}
}

// AppendPublish records p in a transaction of its own: an S3 event that
// changes nothing (an object read, for the buckets whose notification
// rules ask for them).
func (m *FS) AppendPublish(ctx context.Context, p Publish) error {
	return m.mutate(WithPublish(ctx, p), func(kv.Tx, *Record) error { return nil })
}

// appendRecords appends recs to the change feed, in order. The engine
// numbers them when the transaction commits (kv.Tx.Append): the numbers
// follow commit order, and transactions that record changes do not
// conflict over the sequence. A stored record's number is its key's; the
// Seq field is not stored.
func appendRecords(tx kv.Tx, recs []Record, now int64) error {
	if len(recs) == 0 {
		return nil
	}
	vals := make([][]byte, len(recs))
	for i := range recs {
		rec := &recs[i]
		rec.Seq, rec.Time = 0, now
		// Not json.Marshal(rec), which checks and compacts what
		// MarshalJSON returns again.
		b, err := rec.MarshalJSON()
		if err != nil {
			return err
		}
		vals[i] = b
	}
	return tx.Append(configKey(cfgFeedSeq), []byte{famFeed}, vals...)
}

func appendRecord(tx kv.Tx, rec *Record, now int64) error {
	return appendRecords(tx, []Record{*rec}, now)
}

const cfgFeedTrimmed = "feedtrimmed" // highest sequence number removed by TrimFeed

// settleFeed has an engine that numbers appended records after their
// commits (etcd; kv.Settler) number those waiting, so that what is read
// next includes every change committed before.
func settleFeed(ctx context.Context, store kv.Store) error {
	return kv.Settle(ctx, store, configKey(cfgFeedSeq), []byte{famFeed})
}

// FeedHead returns the sequence number of the newest record (0 if none).
func (m *FS) FeedHead(ctx context.Context) (uint64, error) {
	if err := settleFeed(ctx, m.store); err != nil {
		return 0, err
	}
	var head uint64
	err := m.store.View(ctx, func(tx kv.Tx) error {
		var err error
		head, err = feedHead(tx)
		return err
	})
	return head, err
}

// feedHead is the newest record's number: the last record's key, or the
// counter's value (an engine with a sequence of its own does not move
// it; every record may have been trimmed), or the trimmed mark.
func feedHead(tx kv.Tx) (uint64, error) {
	var head uint64
	err := tx.Scan([]byte{famFeed}, []byte{famFeed + 1}, kv.ScanOptions{Reverse: true, Limit: 1, KeysOnly: true}, func(k, _ []byte) bool {
		if len(k) == 9 {
			head = u64(k[1:])
		}
		return false
	})
	if err != nil {
		return 0, err
	}
	vals, err := tx.Gets(configKey(cfgFeedSeq), configKey(cfgFeedTrimmed))
	if err != nil {
		return 0, err
	}
	for _, v := range vals {
		if len(v) == 8 {
			head = max(head, u64(v))
		}
	}
	return head, nil
}

// ReadFeed returns up to limit records with sequence numbers greater than
// after, oldest first. It returns ErrFeedTruncated when records after `after`
// were already removed by retention.
func (m *FS) ReadFeed(ctx context.Context, after uint64, limit int) ([]Record, error) {
	recs, _, err := m.ReadFeedOps(ctx, after, limit, nil)
	return recs, err
}

// ReadFeedOps is ReadFeed for a consumer that wants only the records of
// some operations (ops; nil: all): up to limit records are looked at, the
// others are skipped without being decoded, and last is the sequence
// number of the last one looked at (after, if none), where the consumer
// goes on from.
func (m *FS) ReadFeedOps(ctx context.Context, after uint64, limit int, ops []Op) (recs []Record, last uint64, err error) {
	if err := settleFeed(ctx, m.store); err != nil {
		return nil, after, err
	}
	err = m.store.View(ctx, func(tx kv.Tx) error {
		recs, last = recs[:0], after
		b, err := tx.Get(configKey(cfgFeedTrimmed))
		if err == nil && len(b) == 8 && u64(b) > after {
			return fmt.Errorf("%w: position %d, oldest kept %d", ErrFeedTruncated, after, u64(b)+1)
		}
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		var derr error
		err = tx.Scan(feedKey(after+1), []byte{famFeed + 1}, kv.ScanOptions{Limit: limit}, func(k, v []byte) bool {
			last = u64(k[1:])
			if ops != nil && !slices.Contains(ops, recordOp(v)) {
				return true
			}
			var r Record
			if !fastRecord(v, &r) {
				derr = json.Unmarshal(v, &r)
			}
			if derr != nil {
				derr = fmt.Errorf("meta: corrupt change-feed record: %v: %w", derr, syscall.EIO)
				return false
			}
			r.Seq = last
			recs = append(recs, r)
			return true
		})
		if err != nil {
			return err
		}
		return derr
	})
	return recs, last, err
}

// recordOp reads the op of a stored record without decoding it: Record's
// fields are stored in their order, seq and t first, then "op" (a name
// can hold no unescaped quote, so the pattern cannot be inside one). ""
// when it is not there.
func recordOp(v []byte) Op {
	const pat = `"op":"`
	i := bytes.Index(v[:min(len(v), 64)], []byte(pat))
	if i < 0 {
		return ""
	}
	rest := v[i+len(pat):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return Op(rest[:j])
}

// FeedPosition returns the position stored for consumer name, and
// whether one is (a consumer new to the volume has none).
func (m *FS) FeedPosition(ctx context.Context, name string) (uint64, bool, error) {
	var pos uint64
	var ok bool
	err := m.store.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(feedPosKey(name))
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err == nil && len(b) == 8 {
			pos, ok = u64(b), true
		}
		return err
	})
	return pos, ok, err
}

// SetFeedPosition stores consumer name's position: every record up to and
// including seq has been handled.
func (m *FS) SetFeedPosition(ctx context.Context, name string, seq uint64) error {
	return m.store.Update(ctx, func(tx kv.Tx) error {
		return tx.Put(feedPosKey(name), putU64(seq))
	})
}

// TrimFeed removes records beyond the retention bound, at most batch of them
// per call, and returns how many it removed.
func (m *FS) TrimFeed(ctx context.Context, batch int) (int, error) {
	head, err := m.FeedHead(ctx)
	if err != nil || head <= m.opts.FeedRetention {
		return 0, err
	}
	upto := head - m.opts.FeedRetention // remove seq <= upto
	n := 0
	err = m.store.Update(ctx, func(tx kv.Tx) error {
		n = 0
		var keys [][]byte
		err := tx.Scan([]byte{famFeed}, feedKey(upto+1), kv.ScanOptions{Limit: batch, KeysOnly: true}, func(k, _ []byte) bool {
			keys = append(keys, k)
			return true
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		last := u64(keys[len(keys)-1][1:])
		return tx.Put(configKey(cfgFeedTrimmed), putU64(last))
	})
	return n, err
}
