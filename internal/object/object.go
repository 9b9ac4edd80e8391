package object

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors of the contract.
var (
	// ErrNotExist is returned when the key does not exist.
	ErrNotExist = errors.New("object: key does not exist")
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
