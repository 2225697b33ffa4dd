package p2p

import (
	"context"
	"crypto/ed25519"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// allowSet is a concurrency-safe Allowed func for the relay.
type allowSet struct {
	mu sync.Mutex
	m  map[peer.ID]bool
}

func (s *allowSet) add(ids ...peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[peer.ID]bool{}
	}
	for _, p := range ids {
		s.m[p] = true
	}
}

func (s *allowSet) allowed(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[p]
}

func newRelay(t testing.TB, cfg RelayConfig) *RelayService {
	t.Helper()
	cfg.Key = newKey(t)
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	cfg.Logger = testLogger()
	r, err := NewRelayService(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestRelayCircuit: two devices that listen on nothing (so neither can dial the other)
// reserve a slot on the relay and exchange a stream through the circuit; the relayed
// connection is not limited. The circuit address comes from Reserve (no manual SetAddrs).
func TestRelayCircuit(t *testing.T) {
	var acl allowSet
	r := newRelay(t, RelayConfig{Allowed: acl.allowed})
	a := newHost(t, nil, nil)
	b := newHost(t, nil, nil)
	if len(a.Addrs()) != 0 || len(b.Addrs()) != 0 {
		t.Fatalf("hosts listen on %v / %v", a.Addrs(), b.Addrs())
	}
	acl.add(a.ID(), b.ID())
	pair(t, a, b)
	for _, h := range []*Host{a, b} {
		if err := h.Reserve(ctxT(t), r.AddrInfo()); err != nil {
			t.Fatalf("reserve: %v", err)
		}
		if err := h.Reserve(ctxT(t), r.AddrInfo()); err != nil { // again: a no-op
			t.Fatalf("second reserve: %v", err)
		}
	}
	// The relay is admitted for the relay protocols only: it may not open ours.
	if s, err := r.h.NewStream(ctxT(t), a.ID(), syncProto); err == nil {
		_ = s.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = s.Write([]byte("x"))
		_ = s.CloseWrite()
		if n, err := io.ReadAll(s); err == nil || len(n) != 0 {
			t.Fatalf("the relay got a sync stream to A: read %q, %v", n, err)
		}
	}
	if err := exchange(ctxT(t), b, a.ID(), syncProto); err != nil {
		t.Fatalf("exchange through the relay: %v", err)
	}
	conns := b.Libp2p().Network().ConnsToPeer(a.ID())
	if len(conns) == 0 {
		t.Fatal("no connection B→A")
	}
	for _, c := range conns {
		if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT); err != nil {
			t.Fatalf("connection %s is not relayed", c.RemoteMultiaddr())
		}
		if c.Stat().Limited {
			t.Fatal("relayed connection is limited despite infinite relay limits")
		}
	}
	if err := exchange(ctxT(t), a, b.ID(), syncProto); err != nil {
		t.Fatalf("exchange back through the relay: %v", err)
	}

	// A loses its relay connection: the relay drops A's reservation with it. A reserves
	// again at once, and B's reconnect loop reaches A through the relay again by itself.
	a.Libp2p().Network().ClosePeer(r.ID())
	waitFor(t, 5*time.Second, "B still connected to A after A lost the relay", func() bool { return !b.Connected(a.ID()) })
	waitFor(t, 10*time.Second, "B did not reach A again after A re-reserved", func() bool { return b.Connected(a.ID()) })
	if err := exchange(ctxT(t), b, a.ID(), syncProto); err != nil {
		t.Fatalf("exchange after the reservation was renewed: %v", err)
	}
}

func TestRefreshIn(t *testing.T) {
	for _, tc := range []struct {
		left     time.Duration
		min, max time.Duration
	}{
		{time.Hour, 44 * time.Minute, 45 * time.Minute},   // 3/4 of the lifetime
		{time.Minute, 29 * time.Second, 30 * time.Second}, // 30 s before expiry
		{10 * time.Second, time.Second, time.Second},      // at least 1 s
		{-time.Minute, time.Second, time.Second},
	} {
		if got := refreshIn(time.Now().Add(tc.left)); got < tc.min || got > tc.max {
			t.Errorf("refreshIn(now+%v) = %v, want %v..%v", tc.left, got, tc.min, tc.max)
		}
	}
}

// TestRelayACL: the relay refuses a device it does not serve (no reservation, no circuit),
// and a circuit its AllowConnect refuses, though both ends would admit each other.
func TestRelayACL(t *testing.T) {
	var acl allowSet
	a := newHost(t, nil, nil)
	c := newHost(t, nil, nil) // unknown to the relay
	d := newHost(t, nil, nil) // served by the relay, but another identity than A
	acl.add(a.ID(), d.ID())
	r := newRelay(t, RelayConfig{
		Allowed:      acl.allowed,
		AllowConnect: func(src, dst peer.ID) bool { return src != d.ID() && dst != d.ID() },
	})
	pair(t, a, c, d) // the devices themselves would talk to each other
	if err := a.Reserve(ctxT(t), r.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	if err := c.Reserve(ctxT(t), r.AddrInfo()); err == nil {
		t.Fatal("the relay gave unknown C a reservation")
	}
	if c.gater.isRelay(r.ID()) || len(c.relayInfos()) != 0 {
		t.Fatal("a failed Reserve left the relay admitted")
	}
	if err := d.Reserve(ctxT(t), r.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*Host{"unknown C": c, "other identity D": d} {
		ai, err := CircuitAddr(r.AddrInfo(), a.ID())
		if err != nil {
			t.Fatal(err)
		}
		_ = h.Connect(ctxT(t), ai)
		if err := exchange(ctxT(t), h, a.ID(), syncProto); err == nil {
			t.Fatalf("%s reached A through the relay", name)
		}
		if connsTo(a, h.ID()) != 0 {
			t.Fatalf("A holds a connection to %s", name)
		}
	}
}

func TestCircuitAddr(t *testing.T) {
	rp := newKey(t).Public().(ed25519.PublicKey)
	rid, _ := PeerIDOf(rp)
	tp := newKey(t).Public().(ed25519.PublicKey)
	tid, _ := PeerIDOf(tp)
	tcp := ma.StringCast("/ip4/192.0.2.1/tcp/4011")
	ai, err := CircuitAddr(peer.AddrInfo{ID: rid, Addrs: []ma.Multiaddr{tcp}}, tid)
	if err != nil {
		t.Fatal(err)
	}
	want := "/ip4/192.0.2.1/tcp/4011/p2p/" + rid.String() + "/p2p-circuit"
	if ai.ID != tid || len(ai.Addrs) != 1 || ai.Addrs[0].String() != want {
		t.Fatalf("CircuitAddr = %v, want %s", ai, want)
	}
	for name, relay := range map[string]peer.AddrInfo{
		"no addrs":   {ID: rid},
		"bad id":     {ID: "x", Addrs: []ma.Multiaddr{tcp}},
		"relayed":    {ID: rid, Addrs: []ma.Multiaddr{ai.Addrs[0]}},
		"with p2p":   {ID: rid, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/192.0.2.1/tcp/4011/p2p/" + rid.String())}},
		"many addrs": {ID: rid, Addrs: make([]ma.Multiaddr, MaxAddrs+1)},
	} {
		if _, err := CircuitAddr(relay, tid); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := CircuitAddr(peer.AddrInfo{ID: rid, Addrs: []ma.Multiaddr{tcp}}, ""); err == nil {
		t.Error("empty target accepted")
	}
	if _, err := NewRelayService(context.Background(), RelayConfig{Key: newKey(t), ListenAddrs: tcpLoopback}); err == nil || !strings.Contains(err.Error(), "Allowed") {
		t.Errorf("relay without Allowed: %v", err)
	}
}

// TestCloseLeavesNoGoroutines: hosts and a relay that connected, reserved, streamed and
// opened windows leave no goroutines behind once closed.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	run := func() {
		var acl allowSet
		r, err := NewRelayService(context.Background(), RelayConfig{Key: newKey(t), ListenAddrs: tcpLoopback, Allowed: acl.allowed, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		hs := make([]*Host, 3)
		for i := range hs {
			hs[i], err = NewHost(context.Background(), Config{Key: newKey(t), ListenAddrs: bothLoopback, Logger: testLogger(), DialTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := hs[i].Handle(syncProto, echo, AdmitPaired); err != nil {
				t.Fatal(err)
			}
			acl.add(hs[i].ID())
		}
		pair(t, hs...)
		for _, h := range hs {
			if err := h.Reserve(ctxT(t), r.AddrInfo()); err != nil {
				t.Fatal(err)
			}
		}
		hs[0].OpenPairingWindow(time.Hour) // left open: Close must stop its timer
		if err := exchange(ctxT(t), hs[1], hs[0].ID(), syncProto); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "mesh not connected", func() bool { return hs[2].Connected(hs[0].ID()) && hs[2].Connected(hs[1].ID()) })
		for _, h := range hs {
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil { // idempotent
				t.Fatal(err)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	run() // warm up: package-level goroutines go-libp2p starts once per process
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()
	run()
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			t.Logf("goroutines: %d before, %d after %v", before, n, time.Since(start))
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after Close, %d before\n%s", n, before, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
