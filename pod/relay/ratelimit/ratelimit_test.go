package ratelimit

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock; tests advance it explicitly.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func mustKey(t *testing.T, s string) netip.Prefix {
	t.Helper()
	return Key(netip.MustParseAddr(s))
}

func TestAllow(t *testing.T) {
	// step is one action on a single key: advance the clock, then Allow.
	type step struct {
		advance time.Duration
		ok      bool
		retry   time.Duration
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{
			name: "burst then refusal", rate: 1, burst: 3,
			steps: []step{{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, false, time.Second}, {0, false, time.Second}},
		},
		{
			name: "refusal does not consume", rate: 2, burst: 1,
			steps: []step{
				{0, true, 0},
				{100 * time.Millisecond, false, 400 * time.Millisecond},
				{100 * time.Millisecond, false, 300 * time.Millisecond},
				{300 * time.Millisecond, true, 0},
			},
		},
		{
			name: "waiting exactly retryAfter is enough", rate: 3, burst: 1,
			steps: []step{{0, true, 0}, {0, false, 333333333}, {333333333, true, 0}, {0, false, 333333333}},
		},
		{
			name: "partial refill gives one token", rate: 1, burst: 5,
			steps: []step{
				{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, true, 0}, {0, true, 0},
				{0, false, time.Second},
				{1500 * time.Millisecond, true, 0},
				{0, false, 500 * time.Millisecond},
			},
		},
		{
			name: "refill caps at burst", rate: 10, burst: 2,
			steps: []step{
				{0, true, 0}, {0, true, 0}, {0, false, 100 * time.Millisecond},
				{time.Hour, true, 0}, {0, true, 0}, {0, false, 100 * time.Millisecond},
			},
		},
		{
			name: "slow rate gives long retry", rate: 1.0 / 60, burst: 1,
			steps: []step{{0, true, 0}, {0, false, time.Minute}, {59 * time.Second, false, time.Second}, {time.Second, true, 0}},
		},
		{
			name: "clock going backwards adds no tokens", rate: 1, burst: 1,
			steps: []step{{0, true, 0}, {-time.Hour, false, time.Hour + time.Second}, {time.Hour + time.Second, true, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			l := New(Options{Rate: tt.rate, Burst: tt.burst, Now: c.Now})
			k := mustKey(t, "192.0.2.1")
			for i, s := range tt.steps {
				c.Advance(s.advance)
				ok, retry := l.Allow(k)
				if ok != s.ok || retry != s.retry {
					t.Fatalf("step %d: Allow = (%v, %v), want (%v, %v)", i, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		{"192.0.2.1", "192.0.2.1/32"},
		{"127.0.0.1", "127.0.0.1/32"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
		{"fe80::1%eth0", "fe80::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := Key(netip.MustParseAddr(tt.addr)); got.String() != tt.want {
				t.Errorf("Key(%s) = %s, want %s", tt.addr, got, tt.want)
			}
		})
	}
	if got := Key(netip.Addr{}); got != (netip.Prefix{}) {
		t.Errorf("Key(zero Addr) = %v, want zero Prefix", got)
	}
}

// TestSharedBuckets checks which addresses share a bucket: with Burst 1, the
// second address is refused exactly when it shares the first one's bucket.
func TestSharedBuckets(t *testing.T) {
	tests := []struct {
		name   string
		a, b   string
		shared bool
	}{
		{"same /64", "2001:db8:0:1::1", "2001:db8:0:1:abcd::99", true},
		{"different /64 in same /48", "2001:db8:0:1::1", "2001:db8:0:2::1", false},
		{"mapped IPv4 and IPv4", "::ffff:198.51.100.7", "198.51.100.7", true},
		{"neighbouring IPv4", "198.51.100.7", "198.51.100.8", false},
		{"IPv4 and its IPv4-compatible IPv6", "198.51.100.7", "::198.51.100.7", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(Options{Rate: 1, Burst: 1, Now: newClock().Now})
			if ok, _ := l.Allow(mustKey(t, tt.a)); !ok {
				t.Fatal("first request refused")
			}
			ok, _ := l.Allow(mustKey(t, tt.b))
			if ok == tt.shared {
				t.Errorf("second address allowed = %v, want %v (shared bucket = %v)", ok, !tt.shared, tt.shared)
			}
		})
	}
}

func TestMaxKeys(t *testing.T) {
	tests := []struct {
		name    string
		maxKeys int
		clients int
		want    int
	}{
		{"under the bound", 10, 5, 5},
		{"at the bound", 10, 10, 10},
		{"far over the bound", 10, 10_000, 10},
		{"bound of one", 1, 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(Options{Rate: 1, Burst: 1, MaxKeys: tt.maxKeys, Now: newClock().Now})
			for i := range tt.clients {
				l.Allow(Key(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})))
			}
			if got := l.len(); got != tt.want {
				t.Errorf("tracked %d keys, want %d", got, tt.want)
			}
			if n := listLen(l); n != l.len() {
				t.Errorf("LRU list has %d entries, map has %d", n, l.len())
			}
		})
	}
}

func listLen(l *Limiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for e := l.head.next; e != &l.head; e = e.next {
		n++
	}
	return n
}

// TestEvictsLeastRecentlySeen checks that eviction forgets the stalest key,
// and that being refused counts as being seen.
func TestEvictsLeastRecentlySeen(t *testing.T) {
	l := New(Options{Rate: 1, Burst: 1, MaxKeys: 2, Now: newClock().Now})
	a, b, c := mustKey(t, "192.0.2.1"), mustKey(t, "192.0.2.2"), mustKey(t, "192.0.2.3")
	l.Allow(a)
	l.Allow(b)
	if ok, _ := l.Allow(a); ok { // refused, but now a is the most recently seen
		t.Fatal("a allowed twice with Burst 1")
	}
	l.Allow(c) // evicts b
	if ok, _ := l.Allow(a); ok {
		t.Error("a was evicted; want b (least recently seen) evicted")
	}
	if ok, _ := l.Allow(b); !ok {
		t.Error("b still limited; want it forgotten")
	}
}

func TestMiddleware(t *testing.T) {
	c := newClock()
	l := New(Options{Rate: 0.5, Burst: 2, Now: c.Now})
	srv := httptest.NewServer(l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()

	get := func(t *testing.T, xff string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	steps := []struct {
		name       string
		advance    time.Duration
		xff        string // must be ignored
		status     int
		retryAfter string
	}{
		{"first", 0, "", http.StatusNoContent, ""},
		{"second", 0, "", http.StatusNoContent, ""},
		{"over the limit", 0, "", http.StatusTooManyRequests, "2"},
		{"X-Forwarded-For does not dodge", 0, "198.51.100.1", http.StatusTooManyRequests, "2"},
		{"sub-second wait rounds up to 1", 1900 * time.Millisecond, "", http.StatusTooManyRequests, "1"},
		{"refilled", 100 * time.Millisecond, "", http.StatusNoContent, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			c.Advance(s.advance)
			resp := get(t, s.xff)
			if resp.StatusCode != s.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, s.status)
			}
			if got := resp.Header.Get("Retry-After"); got != s.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, s.retryAfter)
			}
			if s.status != http.StatusTooManyRequests {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct {
				Code    int    `json:"code"`
				Error   string `json:"error"`
				Message string `json:"message"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.Code != 429 || body.Error != "rate_limited" || body.Message == "" {
				t.Errorf("body %+v", body)
			}
		})
	}
	if got := l.len(); got != 1 {
		t.Errorf("tracked %d keys, want 1 (127.0.0.1/32)", got)
	}
}

// TestMiddlewareRemoteAddr checks keying by RemoteAddr, including the shared
// bucket for addresses that do not parse. Burst 1: a second request on the
// same key is refused.
func TestMiddlewareRemoteAddr(t *testing.T) {
	tests := []struct {
		name   string
		first  string
		second string
		shared bool
	}{
		{"same IPv4", "127.0.0.1:1111", "127.0.0.1:2222", true},
		{"different IPv4", "127.0.0.1:1111", "127.0.0.2:1111", false},
		{"same /64", "[::1]:1111", "[::2]:2222", true},
		{"mapped IPv4", "[::ffff:127.0.0.1]:1111", "127.0.0.1:2222", true},
		{"unparsable share one bucket", "@", "", true},
		{"unparsable and loopback differ", "@", "127.0.0.1:1111", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(Options{Rate: 1, Burst: 1, Now: newClock().Now})
			h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			serve := func(remote string) int {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.RemoteAddr = remote
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Code
			}
			if code := serve(tt.first); code != http.StatusOK {
				t.Fatalf("first request: %d", code)
			}
			want := http.StatusOK
			if tt.shared {
				want = http.StatusTooManyRequests
			}
			if code := serve(tt.second); code != want {
				t.Errorf("second request: %d, want %d", code, want)
			}
		})
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"zero rate", Options{Rate: 0, Burst: 1}},
		{"negative rate", Options{Rate: -1, Burst: 1}},
		{"infinite rate", Options{Rate: math.Inf(1), Burst: 1}},
		{"zero burst", Options{Rate: 1, Burst: 0}},
		{"negative MaxKeys", Options{Rate: 1, Burst: 1, MaxKeys: -1}},
		{"overflowing refill", Options{Rate: 1e-12, Burst: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			New(tt.o)
		})
	}
}

// TestConcurrentAllow runs Allow from many goroutines (meaningful under
// -race) and checks that no more than Burst requests on one key are admitted
// while the clock stands still, and that the table stays within MaxKeys.
func TestConcurrentAllow(t *testing.T) {
	const (
		goroutines = 16
		perG       = 500
		burst      = 100
		maxKeys    = 64
	)
	l := New(Options{Rate: 1, Burst: burst, MaxKeys: maxKeys, Now: newClock().Now})
	shared := mustKey(t, "192.0.2.1")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for g := range goroutines {
		wg.Go(func() {
			n := 0
			for i := range perG {
				if ok, _ := l.Allow(shared); ok {
					n++
				}
				// Churn other keys, but never enough between two touches of
				// shared to evict it.
				l.Allow(Key(netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 2)})))
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if allowed != burst {
		t.Errorf("admitted %d requests on one key, want exactly Burst = %d", allowed, burst)
	}
	if n := l.len(); n > maxKeys {
		t.Errorf("tracked %d keys, bound is %d", n, maxKeys)
	}
}

// TestConcurrentEviction churns far more keys than MaxKeys from many
// goroutines and checks the table stays bounded and consistent.
func TestConcurrentEviction(t *testing.T) {
	const maxKeys = 50
	l := New(Options{Rate: 1, Burst: 1, MaxKeys: maxKeys, Now: newClock().Now})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				l.Allow(Key(netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)})))
			}
		})
	}
	wg.Wait()
	if n := l.len(); n != maxKeys {
		t.Errorf("tracked %d keys, want %d", n, maxKeys)
	}
	if n := listLen(l); n != maxKeys {
		t.Errorf("LRU list has %d entries, want %d", n, maxKeys)
	}
}
