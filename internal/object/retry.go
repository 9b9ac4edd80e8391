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

// ReadFull forwards the FullReader capability with retries.
func (r *retryStore) ReadFull(ctx context.Context, key string, p []byte, each func(off int, piece []byte)) (n int, err error) {
	err = r.do(ctx, func() error {
		n, err = ReadFull(ctx, r.s, key, p, each)
		return err
	})
	return n, err
}

// PutUnsynced forwards the BatchSyncer capability with retries (Put when
// the store has none).
func (r *retryStore) PutUnsynced(ctx context.Context, key string, body io.Reader) error {
	bs, ok := r.s.(BatchSyncer)
	if !ok {
		return r.Put(ctx, key, body)
	}
	seeker, ok := body.(io.Seeker)
	if !ok {
		return bs.PutUnsynced(ctx, key, body)
	}
	first := true
	return r.do(ctx, func() error {
		if !first {
			if _, err := seeker.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
		first = false
		return bs.PutUnsynced(ctx, key, body)
	})
}

// Sync forwards the BatchSyncer capability with retries.
func (r *retryStore) Sync(ctx context.Context, keys []string) error {
	bs, ok := r.s.(BatchSyncer)
	if !ok {
		return nil
	}
	return r.do(ctx, func() error { return bs.Sync(ctx, keys) })
}
