// Package ratelimit owns per-client request rate limiting for the relay: how a
// client is identified from its address (Key), a bounded table of per-client
// token buckets (Limiter), and the HTTP answer a client over its limit gets
// (Middleware: 429 with Retry-After).
//
// It imports only the standard library. It must not import the relay, the
// database or anything that reaches the network; the relay wires it in.
//
// # Algorithm
//
// Each client key has a token bucket of Burst tokens refilled at Rate tokens
// per second; a request takes one token. The bucket is stored as a single
// "theoretical arrival time" (the GCRA formulation of a token bucket): the
// instant at which the bucket would be full again. This is exactly equivalent
// to a token bucket, needs one int64 per client, and does its arithmetic in
// integer nanoseconds, so a client that waits precisely the returned
// retryAfter is always admitted (no float rounding leaves it a hair short).
//
// # Memory
//
// At most MaxKeys clients are tracked. When the table is full, the least
// recently seen client (refused requests count as seen) is forgotten, which
// resets its bucket to full. A client that is being limited is, by being
// limited, recently seen; forgetting it early needs MaxKeys other keys to
// arrive between two of its requests, which with the /64 grouping of Key is
// MaxKeys distinct IPv4 hosts or IPv6 /64s.
package ratelimit

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxKeys is the table bound used when Options.MaxKeys is zero. An
// entry (map slot, 32-byte netip.Prefix key, list links, one int64) measured
// 126 bytes of heap at 100,000 entries (Go 1.26, amd64), so the default
// bounds the table at about 13 MB.
const DefaultMaxKeys = 100_000

// Options configures a Limiter.
type Options struct {
	Rate    float64 // tokens per second refilled per client key; must be > 0 and finite
	Burst   int     // bucket size; must be ≥ 1
	MaxKeys int     // bound on tracked clients; 0 means DefaultMaxKeys
	// Now is the clock; nil means time.Now. A clock that steps backwards
	// never adds tokens; it only delays the next refill.
	Now func() time.Time
}

// Limiter is a table of per-client token buckets. It is safe for concurrent
// use. A single mutex guards it: Allow does O(1) work under the lock and
// allocates nothing once the table is full (evicted entries are reused).
type Limiter struct {
	now      func() time.Time
	epoch    time.Time // instants are stored as nanoseconds since epoch
	interval int64     // ns between tokens: 1/Rate
	slack    int64     // (Burst-1)*interval: how far ahead of now the full-bucket time may be and still admit
	maxKeys  int

	mu      sync.Mutex
	entries map[netip.Prefix]*entry
	head    entry // sentinel of a circular LRU list; head.next is most recent
}

type entry struct {
	key        netip.Prefix
	tat        int64 // ns since epoch at which the bucket is full again
	prev, next *entry
}

// New returns a Limiter. It panics if Rate is not a positive finite number,
// if Burst is below 1, if MaxKeys is negative, or if Rate is so low that a
// full bucket's refill time overflows int64 nanoseconds (~292 years):
// those are configuration mistakes, not runtime conditions.
func New(o Options) *Limiter {
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		panic(fmt.Sprintf("ratelimit: Rate must be positive and finite, got %v", o.Rate))
	}
	if o.Burst < 1 {
		panic(fmt.Sprintf("ratelimit: Burst must be at least 1, got %d", o.Burst))
	}
	if o.MaxKeys < 0 {
		panic(fmt.Sprintf("ratelimit: MaxKeys must not be negative, got %d", o.MaxKeys))
	}
	// Rates above 1e9/s round to one token per nanosecond.
	iv := math.Max(1, math.Round(float64(time.Second)/o.Rate))
	if iv*float64(o.Burst) >= 1<<62 {
		panic(fmt.Sprintf("ratelimit: Rate %v with Burst %d overflows", o.Rate, o.Burst))
	}
	l := &Limiter{
		now:      o.Now,
		interval: int64(iv),
		maxKeys:  o.MaxKeys,
	}
	l.slack = int64(o.Burst-1) * l.interval
	if l.now == nil {
		l.now = time.Now
	}
	if l.maxKeys == 0 {
		l.maxKeys = DefaultMaxKeys
	}
	l.epoch = l.now()
	// Grow the map as clients arrive; preallocating MaxKeys would charge the
	// full bound to a relay that sees few clients.
	l.entries = make(map[netip.Prefix]*entry, min(l.maxKeys, 1024))
	l.head.prev, l.head.next = &l.head, &l.head
	return l
}

// Key returns the rate-limit key for a client address: an IPv4 address (or an
// IPv4-mapped IPv6 address) as its /32, an IPv6 address as its /64. A host
// usually holds a whole /64 and can pick any address in it, so keying on
// single IPv6 addresses would let it dodge the limit. The zone is dropped.
// An invalid Addr gives the zero Prefix.
func Key(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap().WithZone("")
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits) // cannot fail: bits ≤ BitLen, and zero Addr gives zero Prefix
	return p
}

// Allow takes one token from key's bucket. If the bucket is empty it takes
// nothing and returns false and how long until a token is available
// (always > 0). If it allows, retryAfter is 0.
func (l *Limiter) Allow(key netip.Prefix) (ok bool, retryAfter time.Duration) {
	now := int64(l.now().Sub(l.epoch))

	l.mu.Lock()
	defer l.mu.Unlock()

	e := l.touch(key, now)
	tat := max(e.tat, now) // a bucket never holds more than Burst tokens
	if allowAt := tat - l.slack; now < allowAt {
		return false, time.Duration(allowAt - now)
	}
	e.tat = tat + l.interval
	return true, 0
}

// touch returns key's entry, moved to the front of the LRU list, creating
// it with a full bucket (tat = now) if absent and evicting the least
// recently seen entry if the table is full. l.mu must be held.
func (l *Limiter) touch(key netip.Prefix, now int64) *entry {
	if e, ok := l.entries[key]; ok {
		if l.head.next != e {
			l.unlink(e)
			l.pushFront(e)
		}
		return e
	}
	var e *entry
	if len(l.entries) >= l.maxKeys {
		e = l.head.prev // least recently seen; reuse its memory
		l.unlink(e)
		delete(l.entries, e.key)
	} else {
		e = new(entry)
	}
	*e = entry{key: key, tat: now}
	l.entries[key] = e
	l.pushFront(e)
	return e
}

func (l *Limiter) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (l *Limiter) pushFront(e *entry) {
	e.prev, e.next = &l.head, l.head.next
	l.head.next.prev = e
	l.head.next = e
}

// len reports how many clients are tracked.
func (l *Limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Middleware limits next per client, keyed by Key of the connection's remote
// address (r.RemoteAddr). It never reads X-Forwarded-For or similar headers:
// the relay faces the Internet directly, so those headers are whatever the
// client chose to send.
//
// A request over the limit gets 429 Too Many Requests with Retry-After in
// whole seconds (rounded up, at least 1) and a JSON body
// {"code":429,"error":"rate_limited","message":"…"}; next is not called.
//
// A RemoteAddr that does not parse as ip:port (net/http sets it from the
// connection, so this happens only for non-TCP listeners such as a Unix
// socket, or for hand-built requests) is neither let through unlimited nor
// refused outright: all such requests share one bucket, the zero Prefix.
// Letting them through would make any future path that produces an odd
// RemoteAddr an unlimited bypass; refusing them would break a local socket
// listener. Sharing one bucket keeps the limit and keeps them working.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var key netip.Prefix // shared bucket for unparsable addresses
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			key = Key(ap.Addr())
		}
		ok, retry := l.Allow(key)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		secs := max(1, int64((retry+time.Second-1)/time.Second)) // round up
		body, _ := json.Marshal(errorBody{
			Code:    http.StatusTooManyRequests,
			Error:   "rate_limited",
			Message: fmt.Sprintf("too many requests; retry after %d s", secs),
		})
		h := w.Header()
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write(append(body, '\n'))
	})
}

// errorBody matches the relay's JSON error shape.
type errorBody struct {
	Code    int    `json:"code"`
	Error   string `json:"error"`
	Message string `json:"message"`
}
