package discover

import (
	"context"
	"sync"
)

// flight shares one run of a function among concurrent callers with the
// same key (a small singleflight). The run does not belong to any caller:
// it has its own context, cancelled when the last waiting caller has left
// (its ctx done), so one impatient caller cannot fail the others, and
// nobody waits for a run that nobody wants. Results are not cached: a call
// after a run has finished starts a new one. The zero value is ready.
type flight[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done    chan struct{} // closed when val and err are set
	val     T
	err     error
	waiters int // callers still waiting; guarded by flight.mu
	cancel  context.CancelFunc
}

// do runs fn once for all concurrent callers of key and returns its result,
// or ctx's error if ctx ends first. fn's context keeps ctx's values (the
// first caller's) but not its cancellation or deadline.
func (f *flight[T]) do(ctx context.Context, key string, fn func(context.Context) (T, error)) (T, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*call[T]{}
	}
	c, ok := f.calls[key]
	if !ok {
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[T]{done: make(chan struct{}), cancel: cancel}
		f.calls[key] = c
		go func() {
			v, err := fn(runCtx)
			f.mu.Lock()
			c.val, c.err = v, err
			f.forget(key, c)
			f.mu.Unlock()
			cancel()
			close(c.done)
		}()
	}
	c.waiters++
	f.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		f.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			// Nobody wants the answer any more: stop the run, and let
			// the next caller start afresh instead of joining a
			// cancelled run.
			c.cancel()
			f.forget(key, c)
		}
		f.mu.Unlock()
		var zero T
		return zero, context.Cause(ctx)
	}
}

// forget removes c from the table if it is still the call for key. Called
// with f.mu held.
func (f *flight[T]) forget(key string, c *call[T]) {
	if f.calls[key] == c {
		delete(f.calls, key)
	}
}
