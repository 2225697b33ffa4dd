package ownerauth

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxNonces is MemoryNonces' cap when Max is zero. Nonces live for at
// most 2×MaxSkew (10 minutes by default), so 1<<16 entries allow a sustained
// ~100 signed requests a second — far above one person's devices — in at most
// ~25 MB even with 255-byte identities.
const DefaultMaxNonces = 1 << 16

// ErrNonceStoreFull is returned by MemoryNonces.Remember when it holds Max
// unexpired entries. Refusing is the safe choice: forgetting a live nonce
// would allow a replay.
var ErrNonceStoreFull = errors.New("nonce store full")

// MemoryNonces is a NonceStore in memory, bounded to Max entries, evicting
// entries once expired. Its zero value is ready to use. It is safe for
// concurrent use; it must not be copied after first use.
//
// Now must read the same clock as the Verifier's Now: an entry is forgotten
// only once Now is past its expiry, which the Verifier sets to the last moment
// it would still accept the request.
type MemoryNonces struct {
	Max int              // 0 means DefaultMaxNonces
	Now func() time.Time // nil means time.Now

	mu    sync.Mutex
	seen  map[nonceKey]time.Time
	queue expiryHeap
}

type nonceKey struct{ identity, nonce string }

// Remember implements NonceStore.
func (m *MemoryNonces) Remember(ctx context.Context, identity, nonce string, expires time.Time) (seen bool, err error) {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = make(map[nonceKey]time.Time)
	}
	m.evict(now)
	k := nonceKey{identity, nonce}
	if _, ok := m.seen[k]; ok {
		return true, nil
	}
	if expires.Before(now) {
		// Already expired: nothing to keep, a Verifier refuses it anyway.
		return false, nil
	}
	limit := m.Max
	if limit <= 0 {
		limit = DefaultMaxNonces
	}
	if len(m.seen) >= limit {
		return false, fmt.Errorf("remember nonce of %q: %w (%d unexpired entries)", identity, ErrNonceStoreFull, len(m.seen))
	}
	m.seen[k] = expires
	heap.Push(&m.queue, expiryEntry{k, expires})
	return false, nil
}

// Len reports how many entries are held, expired ones not yet evicted
// included.
func (m *MemoryNonces) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// evict drops every entry that expired before now. Each entry is pushed and
// popped once, so the cost is amortised O(log n) per Remember.
func (m *MemoryNonces) evict(now time.Time) {
	for len(m.queue) > 0 && m.queue[0].expires.Before(now) {
		e := heap.Pop(&m.queue).(expiryEntry)
		delete(m.seen, e.key)
	}
}

type expiryEntry struct {
	key     nonceKey
	expires time.Time
}

// expiryHeap is a min-heap of entries by expiry.
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiryEntry{}
	*h = old[:len(old)-1]
	return e
}
