package kvtest

import (
	"context"
	"sync/atomic"

	"cairn/internal/meta/kv"
)

// Stuck is a store that, while its Stuck is set, answers nothing: each
// call waits for its context to end, as with an engine that stopped
// answering. For tests of what a client does then.
type Stuck struct {
	kv.Store
	Stuck atomic.Bool
}

// Update runs fn on the store, unless it is stuck.
func (s *Stuck) Update(ctx context.Context, fn func(kv.Tx) error) error {
	if s.Stuck.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.Update(ctx, fn)
}

// View runs fn on the store, unless it is stuck.
func (s *Stuck) View(ctx context.Context, fn func(kv.Tx) error) error {
	if s.Stuck.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.View(ctx, fn)
}
