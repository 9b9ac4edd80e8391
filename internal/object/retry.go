package object

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// RetryOptions tune WithRetry.
type RetryOptions struct {
	// Attempts is the most tries of one call (default 5).
	Attempts int
	// Base is the first backoff; each retry doubles it, with jitter
	// (default 50ms).
	Base time.Duration
}

// WithRetry wraps s so that failed Get, Head, Delete and List calls are
// retried with backoff, and Puts are retried when their body can be
// replayed (an io.Seeker positioned at its start). ErrNotExist and
// context errors are final.
func WithRetry(s Store, opt RetryOptions) Store {
	if opt.Attempts <= 0 {
		opt.Attempts = 5
	}
	if opt.Base <= 0 {
		opt.Base = 50 * time.Millisecond
	}
	return &retryStore{s: s, opt: opt}
}

type retryStore struct {
	s   Store
	opt RetryOptions
}

func (r *retryStore) do(ctx context.Context, fn func() error) error {
	var err error
	for i := 0; i < r.opt.Attempts; i++ {
		if err = fn(); err == nil || errors.Is(err, ErrNotExist) || ctx.Err() != nil {
			return err
		}
		if i == r.opt.Attempts-1 {
			break
		}
		d := r.opt.Base << i
		d += time.Duration(rand.Int64N(int64(d)/2 + 1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return fmt.Errorf("after %d attempts: %w", r.opt.Attempts, err)
}

func (r *retryStore) Get(ctx context.Context, key string, off, length int64) (rc io.ReadCloser, err error) {
	err = r.do(ctx, func() error {
		rc, err = r.s.Get(ctx, key, off, length)
		return err
	})
	return rc, err
}

func (r *retryStore) Put(ctx context.Context, key string, body io.Reader) error {
	seeker, ok := body.(io.Seeker)
	if !ok {
		return r.s.Put(ctx, key, body)
	}
	first := true
	return r.do(ctx, func() error {
		if !first {
			if _, err := seeker.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
		first = false
		return r.s.Put(ctx, key, body)
	})
}

func (r *retryStore) Head(ctx context.Context, key string) (info Info, err error) {
	err = r.do(ctx, func() error {
		info, err = r.s.Head(ctx, key)
		return err
	})
	return info, err
}

func (r *retryStore) Delete(ctx context.Context, key string) error {
	return r.do(ctx, func() error { return r.s.Delete(ctx, key) })
}

func (r *retryStore) List(ctx context.Context, prefix, startAfter string, limit int) (objs []Info, more bool, err error) {
	err = r.do(ctx, func() error {
		objs, more, err = r.s.List(ctx, prefix, startAfter, limit)
		return err
	})
	return objs, more, err
}

func (r *retryStore) String() string { return r.s.String() }

// Unwrap returns the store r retries.
func (r *retryStore) Unwrap() Store { return r.s }

// retriedAs returns capability c (of the store r wraps) with r's retries,
// for the capabilities whose calls can be replayed; others as they are.
func retriedAs[T any](r *retryStore, c T) T {
	var zero T
	switch any(&zero).(type) {
	case *FullReader:
		return any(retryFullReader{r, any(c).(FullReader)}).(T)
	case *BatchSyncer:
		return any(retryBatchSyncer{r, any(c).(BatchSyncer)}).(T)
	}
	return c
}

// retryFullReader is a FullReader whose reads are retried (a retry
// starts again from offset 0, as FullReader allows).
type retryFullReader struct {
	r  *retryStore
	fr FullReader
}

func (f retryFullReader) ReadFull(ctx context.Context, key string, p []byte, each func(off int, piece []byte)) (n int, err error) {
	err = f.r.do(ctx, func() error {
		n, err = f.fr.ReadFull(ctx, key, p, each)
		return err
	})
	return n, err
}

// retryBatchSyncer is a BatchSyncer whose syncs, and puts of replayable
// bodies, are retried.
type retryBatchSyncer struct {
	r  *retryStore
	bs BatchSyncer
}

func (b retryBatchSyncer) PutUnsynced(ctx context.Context, key string, body io.Reader) error {
	seeker, ok := body.(io.Seeker)
	if !ok {
		return b.bs.PutUnsynced(ctx, key, body)
	}
	first := true
	return b.r.do(ctx, func() error {
		if !first {
			if _, err := seeker.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
		first = false
		return b.bs.PutUnsynced(ctx, key, body)
	})
}

func (b retryBatchSyncer) Sync(ctx context.Context, keys []string) error {
	return b.r.do(ctx, func() error { return b.bs.Sync(ctx, keys) })
}
