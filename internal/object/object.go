package object

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// Sentinel errors of the contract.
var (
	// ErrNotExist is returned when the key does not exist.
	ErrNotExist = errors.New("object: key does not exist")
	// ErrNoAppend is returned by Append of a store that has the
	// capability but is set up not to use it (file: O_DIRECT writes of
	// whole blocks).
	ErrNoAppend = errors.New("object: this store takes whole objects only")
)

// Info describes one stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store is a flat object store: a bucket of immutable blobs addressed by
// string keys. cairn writes each key once (blocks are immutable), so
// implementations need no read-after-overwrite guarantees beyond their own.
//
// Implementations are safe for concurrent use.
type Store interface {
	// Get returns a reader of length bytes starting at off (length < 0:
	// to the end). The caller must Close it. A missing key is ErrNotExist;
	// a range past the end returns what exists (possibly nothing).
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Put stores the whole body under key, replacing any previous object.
	// On error nothing is visible under key that was not there before.
	Put(ctx context.Context, key string, body io.Reader) error
	// Head returns the object's Info or ErrNotExist.
	Head(ctx context.Context, key string) (Info, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns up to limit objects whose keys start with prefix and sort
	// after startAfter, in key order, and whether more may follow.
	List(ctx context.Context, prefix, startAfter string, limit int) (objs []Info, more bool, err error)
	// String names the store for logs and status output, without secrets.
	String() string
}

// BytesBody is a Put body whose whole content is in memory. Backends may
// use the slice directly (the file backend writes it with O_DIRECT);
// it is also an io.Seeker, so WithRetry can replay it.
type BytesBody struct {
	b   []byte
	off int
}

// NewBytesBody returns a body reading b.
func NewBytesBody(b []byte) *BytesBody { return &BytesBody{b: b} }

// Bytes returns the whole content.
func (r *BytesBody) Bytes() []byte { return r.b }

// Read implements io.Reader.
func (r *BytesBody) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo implements io.WriterTo: the rest in one Write. Without it,
// io.Copy to an *os.File goes through a 32 KiB buffer (128 copies and
// system calls for a 4 MiB block).
func (r *BytesBody) WriteTo(w io.Writer) (int64, error) {
	if r.off >= len(r.b) {
		return 0, nil
	}
	n, err := w.Write(r.b[r.off:])
	r.off += n
	if err == nil && r.off < len(r.b) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

// Seek implements io.Seeker (whence io.SeekStart only is needed; the
// others are supported too).
func (r *BytesBody) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += int64(r.off)
	case io.SeekEnd:
		offset += int64(len(r.b))
	}
	if offset < 0 {
		return 0, errors.New("object: negative seek")
	}
	r.off = int(min(offset, int64(len(r.b))))
	return offset, nil
}

// FullReader is an optional capability: read a whole object into p and
// return how many bytes it has (len(p) when it has that many or more).
// The file backend asks the kernel for the whole file at once instead of
// growing its read-ahead window step by step.
//
// When each is not nil it is called with every piece as it lands, in
// order: piece is p[off:off+len(piece)]. A reader that starts over (a
// retry) starts again from off 0. It lets the caller work on data while
// it is still in the CPU cache (a checksum) instead of in a second pass
// over the whole buffer.
type FullReader interface {
	ReadFull(ctx context.Context, key string, p []byte, each func(off int, piece []byte)) (int, error)
}

// LocalFiles is an optional capability of stores that keep every object
// in a file of the local file system (the file backend): a reader can then
// send an object's bytes to a socket with sendfile instead of copying them
// through its own memory.
type LocalFiles interface {
	// OpenFile opens the object's file for reading (ErrNotExist when it
	// is missing). The caller must not write to it.
	OpenFile(ctx context.Context, key string) (*os.File, error)
}

// Appender is an optional capability of stores that can take an object's
// bytes as they come (the file backend: a temporary file), instead of
// from a body read at once: a writer then needs no buffer of the whole
// object, and the bytes reach the disk while the rest arrives.
type Appender interface {
	// Append starts a new object, to be stored near (in the same
	// directory as) hint; its key is given at Commit.
	Append(ctx context.Context, hint string) (ObjectWriter, error)
}

// ObjectWriter is an object being written by Append. Nothing is visible
// until Commit; Abort (or a failed Commit) leaves nothing behind.
type ObjectWriter interface {
	io.Writer
	// Commit stores what was written under key, replacing any object
	// there. With sync it is durable when Commit returns; without, it
	// must be passed to the store's Sync (BatchSyncer) before it is
	// relied on.
	Commit(key string, sync bool) error
	// Abort drops what was written.
	Abort()
}

// Capabilities are found with one lookup for all of them (the XxxOf
// functions): the first store of the chain s, s.Unwrap(), ... that has it,
// so that a wrapper never claims a capability its inner store lacks. A
// wrapper that adds something to a capability's calls (WithRetry's
// retries) wraps what the lookup found.

// AppenderOf returns s's Appender capability, or nil. (Through WithRetry
// it is not retried: a local file needs no retries.)
func AppenderOf(s Store) Appender {
	a, _ := capability[Appender](s)
	return a
}

// BatchSyncerOf returns s's BatchSyncer capability, with WithRetry's
// retries when s has them, or nil.
func BatchSyncerOf(s Store) BatchSyncer {
	b, _ := capability[BatchSyncer](s)
	return b
}

// FullReaderOf returns s's FullReader capability, with WithRetry's
// retries when s has them, or nil.
func FullReaderOf(s Store) FullReader {
	f, _ := capability[FullReader](s)
	return f
}

// capability returns the first store of the chain s, s.Unwrap(), ... that
// is a T, with the retries of each WithRetry on the way.
func capability[T any](s Store) (T, bool) {
	var retries []*retryStore
	for {
		if c, ok := any(s).(T); ok {
			for i := len(retries) - 1; i >= 0; i-- {
				c = retriedAs(retries[i], c)
			}
			return c, true
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			var none T
			return none, false
		}
		if r, ok := s.(*retryStore); ok {
			retries = append(retries, r)
		}
		s = u.Unwrap()
	}
}

// RemoveSyncer is an optional capability of stores whose Delete is not
// durable on its own (the file backend: an unlink survives a power cut
// only once its directory is synced): SyncRemoved makes the deletion of
// keys durable. A caller that records that objects are gone (a metadata
// commit forgetting them) calls it first, or a power cut could bring back
// objects that nothing records any more.
type RemoveSyncer interface {
	SyncRemoved(ctx context.Context, keys []string) error
}

// RemoveSyncerOf returns s's RemoveSyncer capability, or nil.
func RemoveSyncerOf(s Store) RemoveSyncer {
	r, _ := capability[RemoveSyncer](s)
	return r
}

// TempSweeper is an optional capability of stores that write objects
// under temporary names (the file backend): SweepTemp removes those left
// by writers that died, once untouched for olderThan, and returns how many
// it removed.
type TempSweeper interface {
	SweepTemp(ctx context.Context, olderThan time.Duration) (int, error)
}

// TempSweeperOf returns s's TempSweeper capability, or nil.
func TempSweeperOf(s Store) TempSweeper {
	ts, _ := capability[TempSweeper](s)
	return ts
}

// LocalFilesOf returns s's LocalFiles capability (not retried: a local
// file needs no retries), or nil.
func LocalFilesOf(s Store) LocalFiles {
	lf, _ := capability[LocalFiles](s)
	return lf
}

// ReadPiece is the size of the pieces ReadFull hands to its each
// function: small enough to be in the CPU cache still, large enough for
// few system calls.
const ReadPiece = 256 << 10

// BatchSyncer is an optional capability of stores whose Put makes each
// object durable on its own (the file backend: an fsync per object): it
// puts without that, and Sync makes a batch of such objects durable at
// once. A writer of several objects that must all be durable before it
// goes on (the blocks of one slice) then pays one round of syncs, run side
// by side, instead of one per object as it is written.
type BatchSyncer interface {
	PutUnsynced(ctx context.Context, key string, body io.Reader) error
	Sync(ctx context.Context, keys []string) error
}

// ReadFull reads a whole object into p through s's FullReader capability
// when it has one, else through Get; each is as in FullReader.
func ReadFull(ctx context.Context, s Store, key string, p []byte, each func(off int, piece []byte)) (int, error) {
	if fr := FullReaderOf(s); fr != nil {
		return fr.ReadFull(ctx, key, p, each)
	}
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return ReadPieces(rc, p, each)
}

// ReadPieces fills p from r in pieces of at most ReadPiece bytes, calling
// each (when not nil) on every piece read, and returns how many bytes it
// read; running out of data before p is full is not an error.
func ReadPieces(r io.Reader, p []byte, each func(off int, piece []byte)) (int, error) {
	n := 0
	for n < len(p) {
		m, err := io.ReadFull(r, p[n:min(n+ReadPiece, len(p))])
		if m > 0 && each != nil {
			each(n, p[n:n+m])
		}
		n += m
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
