package ownerauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryNonces(t *testing.T) {
	ctx := context.Background()
	c := &fakeClock{t: t0}
	m := &MemoryNonces{Max: 3, Now: c.Now}
	steps := []struct {
		at       time.Duration // clock offset from t0
		identity string
		nonce    string
		expires  time.Duration
		wantSeen bool
		wantErr  error
	}{
		{0, "a", "n1", time.Minute, false, nil},
		{0, "a", "n1", time.Minute, true, nil},
		{0, "b", "n1", time.Minute, false, nil}, // nonces are per identity
		{0, "a", "n2", 2 * time.Minute, false, nil},
		{0, "a", "n3", time.Minute, false, ErrNonceStoreFull},
		{0, "a", "n2", 2 * time.Minute, true, nil},                // full, but a repeat is still a repeat
		{time.Minute, "a", "n1", time.Minute, true, nil},          // at expiry: still held
		{time.Minute + 1, "a", "n3", 3 * time.Minute, false, nil}, // a.n1 and b.n1 evicted
		{time.Minute + 1, "a", "n1", 3 * time.Minute, false, nil},
		{time.Minute + 1, "a", "old", 0, false, nil}, // already expired: not kept
	}
	for i, s := range steps {
		c.Set(t0.Add(s.at))
		seen, err := m.Remember(ctx, s.identity, s.nonce, t0.Add(s.expires))
		if seen != s.wantSeen || !errors.Is(err, s.wantErr) {
			t.Fatalf("step %d (%s/%s): seen %v, %v; want %v, %v", i, s.identity, s.nonce, seen, err, s.wantSeen, s.wantErr)
		}
	}
	if m.Len() != 3 {
		t.Errorf("Len %d, want 3", m.Len())
	}
}

func TestMemoryNoncesZeroValue(t *testing.T) {
	var m MemoryNonces
	exp := time.Now().Add(time.Minute)
	for i := range DefaultMaxNonces {
		if _, err := m.Remember(context.Background(), "a", fmt.Sprint(i), exp); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if _, err := m.Remember(context.Background(), "a", "one more", exp); !errors.Is(err, ErrNonceStoreFull) {
		t.Fatalf("past the default cap: %v", err)
	}
}

// TestConcurrentVerify verifies each of a set of requests from many
// goroutines at once: each must be accepted exactly once, every other attempt
// refused as a replay. Run with -race.
func TestConcurrentVerify(t *testing.T) {
	r := newRig(t)
	const requests, attempts = 8, 16
	reqs := make([]*http.Request, requests)
	for i := range reqs {
		reqs[i] = signedReq(t, "POST", fmt.Sprintf("/p/%d", i), nil, alice, aliceKey(), t0)
	}
	var accepted, replayed [requests]atomic.Int32
	var wg sync.WaitGroup
	for a := range attempts {
		for i, req := range reqs {
			wg.Go(func() {
				_, err := r.v.Verify(req.Clone(context.Background()), nil)
				switch {
				case err == nil:
					accepted[i].Add(1)
				case errors.Is(err, ErrReplayed):
					replayed[i].Add(1)
				default:
					t.Errorf("request %d attempt %d: %v", i, a, err)
				}
			})
		}
	}
	wg.Wait()
	for i := range reqs {
		if a, rp := accepted[i].Load(), replayed[i].Load(); a != 1 || rp != attempts-1 {
			t.Errorf("request %d: accepted %d, replayed %d; want 1, %d", i, a, rp, attempts-1)
		}
	}
	if r.nonces.Len() != requests {
		t.Errorf("nonce store holds %d, want %d", r.nonces.Len(), requests)
	}
}
