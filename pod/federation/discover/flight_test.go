package discover

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Tests of the package's insides; the rest of the tests are in package
// discover_test (the test rig imports seedpod/pod, which imports this
// package).

// PersonWaiters reports how many callers wait for a lookup of the
// normalised ID (tests only).
func (d *Discoverer) PersonWaiters(diasporaID string) int { return d.persons.waiting(diasporaID) }

// FetchWaiters reports how many callers wait for a fetch (tests only).
func (d *Discoverer) FetchWaiters(host, typ, guid string) int {
	return d.fetches.waiting(fetchKey(host, typ, guid))
}

func (f *flight[T]) waiting(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.calls[key]; ok {
		return c.waiters
	}
	return 0
}

// When every caller has left, the shared run's context is cancelled, and a
// new caller starts a new run rather than joining the cancelled one.
func TestFlightCancelledWhenAllLeave(t *testing.T) {
	var f flight[int]
	started, stopped := make(chan struct{}), make(chan error, 1)
	ctx, cancelAll := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.do(ctx, "k", func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			stopped <- ctx.Err()
			return 0, ctx.Err()
		})
		errc <- err
	}()
	<-started
	cancelAll()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("caller got %v", err)
	}
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run stopped with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the shared run was not cancelled when its last caller left")
	}
	v, err := f.do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("a new caller got %d, %v", v, err)
	}
}
