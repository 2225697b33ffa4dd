package p2p

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// TestPairedExchange: two paired devices exchange a stream on TCP and on QUIC, and the
// connection really uses that transport.
func TestPairedExchange(t *testing.T) {
	for _, tc := range []struct {
		name      string
		listen    []string
		transport string
	}{
		{"tcp", tcpLoopback, "tcp"},
		{"quic", quicLoopback, "quic-v1"},
		{"ip6-tcp", []string{"/ip6/::1/tcp/0"}, "tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newHost(t, nil, tc.listen)
			b := newHost(t, nil, tc.listen)
			pair(t, a, b)
			if err := exchange(ctxT(t), b, a.ID(), syncProto); err != nil {
				t.Fatalf("paired exchange: %v", err)
			}
			if err := exchange(ctxT(t), a, b.ID(), syncProto); err != nil {
				t.Fatalf("paired exchange back: %v", err)
			}
			conns := b.Libp2p().Network().ConnsToPeer(a.ID())
			if len(conns) == 0 {
				t.Fatal("no connection after the exchange")
			}
			if got := conns[0].ConnState().Transport; got != tc.transport {
				t.Fatalf("transport %q, want %q", got, tc.transport)
			}
		})
	}
}

// TestUnpairedRefused: C pairs A on its side, A does not pair C: C gets no stream and A
// holds no connection to C (whatever C's Connect returned, see Connect's doc).
func TestUnpairedRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listen []string
	}{{"tcp", tcpLoopback}, {"quic", quicLoopback}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newHost(t, nil, tc.listen)
			b := newHost(t, nil, tc.listen)
			c := newHost(t, nil, tc.listen)
			pair(t, a, b)
			if err := c.SetPaired([]peer.ID{a.ID()}); err != nil {
				t.Fatal(err)
			}
			if err := c.SetAddrs(a.ID(), a.Addrs()); err != nil {
				t.Fatal(err)
			}
			_ = c.Connect(ctxT(t), peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}) // may be nil
			for _, proto := range []protocol.ID{syncProto, pairProto} {
				if err := exchange(ctxT(t), c, a.ID(), proto); err == nil {
					t.Fatalf("unpaired C got a %s stream to A", proto)
				}
			}
			waitFor(t, 2*time.Second, "A still holds a connection to C", func() bool { return connsTo(a, c.ID()) == 0 })
			// A does not dial C either.
			if err := a.Connect(ctxT(t), peer.AddrInfo{ID: c.ID(), Addrs: c.Addrs()}); err == nil {
				t.Fatal("A dialled unpaired C")
			}
			// The paired peer is unaffected.
			if err := exchange(ctxT(t), b, a.ID(), syncProto); err != nil {
				t.Fatalf("paired exchange: %v", err)
			}
		})
	}
}

// TestUnpairDisconnects: removing a peer from the paired set closes its connections at
// once, and it is refused from then on (its own reconnect loop keeps trying).
func TestUnpairDisconnects(t *testing.T) {
	a := newHost(t, nil, bothLoopback)
	b := newHost(t, nil, bothLoopback)
	c := newHost(t, nil, bothLoopback)
	pair(t, a, b, c)
	for _, h := range []*Host{b, c} {
		if err := exchange(ctxT(t), h, a.ID(), syncProto); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetPaired([]peer.ID{c.ID(), a.ID()}); err != nil { // own ID is skipped
		t.Fatal(err)
	}
	if n := connsTo(a, b.ID()); n != 0 {
		t.Fatalf("A holds %d connections to removed B right after SetPaired", n)
	}
	if err := exchange(ctxT(t), b, a.ID(), syncProto); err == nil {
		t.Fatal("removed B still gets a stream")
	}
	waitFor(t, 2*time.Second, "A holds a connection to removed B", func() bool { return connsTo(a, b.ID()) == 0 })
	if err := exchange(ctxT(t), c, a.ID(), syncProto); err != nil {
		t.Fatalf("C, still paired: %v", err)
	}
	if got := a.Paired(); len(got) != 1 || got[0] != c.ID() {
		t.Fatalf("paired set %v, want [C]", got)
	}
}

// TestPairingWindow: while a window is open, an unknown peer may open only the pairing
// protocol; closing the window disconnects it and refuses it after.
func TestPairingWindow(t *testing.T) {
	a := newHost(t, nil, bothLoopback)
	n := newHost(t, nil, bothLoopback) // the new device: knows A's ID from the code
	closeN, err := n.OpenPairingWindowFor(a.ID(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer closeN()
	n.Libp2p().Peerstore().AddAddrs(a.ID(), a.Addrs(), time.Minute)

	if err := exchange(ctxT(t), n, a.ID(), pairProto); err == nil {
		t.Fatal("pairing stream before A opened a window")
	}
	// The refused connection closes asynchronously on N's side (QUIC learns
	// of A's refusal from A's close frame); a stream opened meanwhile
	// would try the dying connection.
	waitFor(t, 2*time.Second, "N keeps the connection A refused", func() bool { return connsTo(n, a.ID()) == 0 })
	closeA := a.OpenPairingWindow(time.Minute)
	if err := exchange(ctxT(t), n, a.ID(), pairProto); err != nil {
		t.Fatalf("pairing stream in the window: %v", err)
	}
	if err := exchange(ctxT(t), n, a.ID(), syncProto); err == nil {
		t.Fatal("unknown peer got a sync stream in the pairing window")
	}
	closeA()
	closeA() // idempotent
	waitFor(t, 2*time.Second, "A keeps the stranger's connection after the window closed", func() bool { return connsTo(a, n.ID()) == 0 })
	if err := exchange(ctxT(t), n, a.ID(), pairProto); err == nil {
		t.Fatal("pairing stream after the window closed")
	}
	// As above: N learns of the refused connection's close asynchronously.
	waitFor(t, 2*time.Second, "N keeps the connection A refused after the window", func() bool { return connsTo(n, a.ID()) == 0 })
	// Pairing done: now they are paired, and sync works while pairing does not.
	pair(t, a, n)
	// A QUIC connection A dropped when the window closed can still be in
	// N's dialer for a moment (A answers it with a stateless reset); the
	// device's session loop retries, and so does this check, briefly.
	var syncErr error
	for deadline := time.Now().Add(3 * time.Second); ; {
		if syncErr = exchange(ctxT(t), n, a.ID(), syncProto); syncErr == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if syncErr != nil {
		t.Fatalf("sync after pairing: %v", syncErr)
	}
	if err := exchange(ctxT(t), n, a.ID(), pairProto); err == nil {
		t.Fatal("pairing protocol served with no window open")
	}
}

// TestPairingWindowExpires: the window closes on time by itself.
func TestPairingWindowExpires(t *testing.T) {
	a := newHost(t, nil, tcpLoopback)
	n := newHost(t, nil, tcpLoopback)
	closeN, err := n.OpenPairingWindowFor(a.ID(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer closeN()
	n.Libp2p().Peerstore().AddAddrs(a.ID(), a.Addrs(), time.Minute)
	const d = 400 * time.Millisecond
	opened := time.Now()
	a.OpenPairingWindow(d)
	if err := exchange(ctxT(t), n, a.ID(), pairProto); err != nil {
		t.Fatalf("pairing stream in the window: %v", err)
	}
	waitFor(t, 3*time.Second, "stranger still connected after the window expired", func() bool { return connsTo(a, n.ID()) == 0 })
	if el := time.Since(opened); el < d {
		t.Fatalf("stranger dropped after %v, before the window's %v", el, d)
	}
	if err := exchange(ctxT(t), n, a.ID(), pairProto); err == nil {
		t.Fatal("pairing stream after the window expired")
	}
}

// TestGaterWindows covers the gater's rules without the network: pins, the stranger cap,
// the window cap, expiry by the clock.
func TestGaterWindows(t *testing.T) {
	g := newGater()
	now := time.Now()
	g.now = func() time.Time { return now }
	ids := make([]peer.ID, maxStrangers+2)
	for i := range ids {
		pub, _, _ := ed25519.GenerateKey(nil)
		ids[i], _ = PeerIDOf(pub)
	}
	in := network.DirInbound
	if g.InterceptSecured(in, ids[0], nil) || g.InterceptPeerDial(ids[0]) {
		t.Fatal("stranger admitted with no window")
	}
	pin := g.openWindow(time.Minute, ids[0], func(uint64) {})
	if !g.InterceptPeerDial(ids[0]) || g.InterceptPeerDial(ids[1]) {
		t.Fatal("a pinned window must allow dialling exactly its peer")
	}
	if !g.admits(ids[0], AdmitPairing) || g.admits(ids[1], AdmitPairing) || g.admits(ids[0], AdmitPaired) {
		t.Fatal("pinned window admission wrong")
	}
	open := g.openWindow(time.Minute, "", func(uint64) {})
	if g.InterceptPeerDial(ids[1]) {
		t.Fatal("an open window must not allow dialling strangers")
	}
	for i := range maxStrangers {
		if !g.InterceptSecured(in, ids[i], nil) {
			t.Fatalf("stranger %d refused under the cap", i)
		}
	}
	if g.InterceptSecured(in, ids[maxStrangers], nil) {
		t.Fatal("stranger over the cap admitted")
	}
	if !g.InterceptSecured(in, ids[0], nil) {
		t.Fatal("an admitted stranger must be admitted again (second connection)")
	}
	// Pairing one of them frees a place.
	g.setPaired(map[peer.ID]struct{}{ids[1]: {}})
	if !g.InterceptSecured(in, ids[maxStrangers], nil) {
		t.Fatal("stranger refused after a place was freed")
	}
	// The clock passes both deadlines: nothing is admitted, though the timers have not run.
	now = now.Add(2 * time.Minute)
	if g.InterceptSecured(in, ids[maxStrangers+1], nil) || g.admits(ids[0], AdmitPairing) || g.connAllowed(ids[2]) {
		t.Fatal("admitted after the window's deadline")
	}
	if !g.connAllowed(ids[1]) {
		t.Fatal("paired peer not allowed")
	}
	evict := g.closeWindow(open)
	g.closeWindow(pin)
	if len(evict) != maxStrangers { // ids[0], ids[2..maxStrangers]; ids[1] got paired
		t.Fatalf("evicted %d strangers, want %d", len(evict), maxStrangers)
	}
	// The window cap: the one expiring first gives way.
	now = time.Now()
	first := g.openWindow(time.Second, "", func(uint64) {})
	for range maxWindows {
		g.openWindow(time.Hour, "", func(uint64) {})
	}
	if _, ok := g.windows[first]; ok || len(g.windows) != maxWindows {
		t.Fatalf("%d windows, first kept %v", len(g.windows), ok)
	}
	g.closeAll()
	if len(g.windows) != 0 {
		t.Fatal("closeAll left windows")
	}
}

// TestReconnect: the loop reconnects after a disconnect, and after the peer restarts on a
// new port with the same key once SetAddrs tells us the new address.
func TestReconnect(t *testing.T) {
	keyA := newKey(t)
	a, err := NewHost(context.Background(), Config{Key: keyA, ListenAddrs: tcpLoopback, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := newHost(t, nil, tcpLoopback)
	if err := a.Handle(syncProto, echo, AdmitPaired); err != nil {
		t.Fatal(err)
	}
	pair(t, a, b)
	waitFor(t, 5*time.Second, "the loop did not connect the paired peers", func() bool { return b.Connected(a.ID()) })

	// A drop: B's loop dials again after ~1 s.
	b.Libp2p().Network().ClosePeer(a.ID())
	waitFor(t, 5*time.Second, "no reconnect after a drop", func() bool { return b.Connected(a.ID()) && a.Connected(b.ID()) })

	// A restarts on a new port.
	old := a.Addrs()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "B still connected to closed A", func() bool { return !b.Connected(a.ID()) })
	// The OS may hand the freed port out again; this test is about a new
	// one (an old address would reconnect without SetAddrs), so restart
	// until the port differs.
	a2 := newHost(t, keyA, tcpLoopback)
	for try := 0; a2.Addrs()[0].Equal(old[0]); try++ {
		if try == 5 {
			t.Fatal("the OS gave the restarted host the same port five times")
		}
		a2.Close()
		a2 = newHost(t, keyA, tcpLoopback)
	}
	if a2.ID() != a.ID() {
		t.Fatal("same key, different peer ID")
	}
	if err := a2.SetPaired([]peer.ID{b.ID()}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetAddrs(a2.ID(), a2.Addrs()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "no reconnect to the restarted peer", func() bool { return b.Connected(a2.ID()) })
	if err := exchange(ctxT(t), b, a2.ID(), syncProto); err != nil {
		t.Fatalf("exchange with the restarted peer: %v", err)
	}
}

// TestFinder: an mDNS find of a paired peer leads to a connection; of an unpaired peer, to
// nothing; repeats are deduplicated. (No multicast: the notifee is called directly.)
func TestFinder(t *testing.T) {
	a := newHost(t, nil, tcpLoopback)
	b := newHost(t, nil, tcpLoopback)
	c := newHost(t, nil, tcpLoopback)
	if err := a.SetPaired([]peer.ID{b.ID(), c.ID()}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetPaired([]peer.ID{a.ID()}); err != nil {
		t.Fatal(err)
	}
	f := &finder{h: b}
	f.HandlePeerFound(c.AddrInfo()) // unpaired on B's side
	f.HandlePeerFound(b.AddrInfo()) // itself
	if len(f.seen) != 0 {
		t.Fatalf("finder recorded unpaired or own finds: %v", f.seen)
	}
	f.HandlePeerFound(a.AddrInfo())
	waitFor(t, 5*time.Second, "no connection after an mDNS find", func() bool { return b.Connected(a.ID()) })
	at := f.seen[a.ID()]
	f.HandlePeerFound(a.AddrInfo())
	if f.seen[a.ID()] != at {
		t.Fatal("a repeated find was not deduplicated")
	}
	if connsTo(b, c.ID()) != 0 {
		t.Fatal("B connected to an unpaired peer")
	}
}

// TestConfigAndInputErrors: bad input of every kind is refused and changes nothing.
func TestConfigAndInputErrors(t *testing.T) {
	good := newKey(t)
	bad := append(ed25519.PrivateKey(nil), good...)
	bad[40] ^= 1 // public half no longer matches the seed
	tooMany := make([]string, MaxListenAddrs+1)
	for i := range tooMany {
		tooMany[i] = "/ip4/127.0.0.1/tcp/0"
	}
	busy := newHost(t, nil, tcpLoopback)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"port in use", Config{Key: good, ListenAddrs: []string{busy.Addrs()[0].String()}}, "address already in use"},
		{"no key", Config{}, "device key is 0 bytes"},
		{"short key", Config{Key: good[:32]}, "device key is 32 bytes"},
		{"mismatched key", Config{Key: bad}, "does not match the seed"},
		{"bad listen", Config{Key: good, ListenAddrs: []string{"/ip4/127.0.0.1/tcpx/0"}}, "listen address"},
		{"too many listen", Config{Key: good, ListenAddrs: tooMany}, "listen addresses, at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHost(context.Background(), tc.cfg)
			if err == nil {
				h.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
			if tc.name == "port in use" && !libp2pLogs.contains("address already in use") {
				t.Fatal("go-libp2p's own log of the failure did not reach the handler given to RouteLibp2pLogs")
			}
		})
	}

	h := newHost(t, good, nil)
	b := newHost(t, nil, nil)
	if err := h.SetPaired([]peer.ID{b.ID()}); err != nil {
		t.Fatal(err)
	}
	_, rsaPub, _ := crypto.GenerateECDSAKeyPair(nil)
	ecdsaID, _ := peer.IDFromPublicKey(rsaPub)
	for _, ids := range [][]peer.ID{
		{b.ID(), "garbage"},
		{b.ID(), ecdsaID},
		make([]peer.ID, MaxPaired+1),
	} {
		if err := h.SetPaired(ids); err == nil {
			t.Fatalf("SetPaired(%d ids) accepted", len(ids))
		}
		if got := h.Paired(); len(got) != 1 || got[0] != b.ID() {
			t.Fatalf("a refused SetPaired changed the set to %v", got)
		}
	}
	if err := h.Handle("/x/1", echo, Admission(0)); err == nil {
		t.Fatal("Handle with an invalid admission")
	}
	if err := h.Handle("", echo, AdmitPaired); err == nil {
		t.Fatal("Handle with an empty protocol")
	}
	if err := h.SetAddrs(b.ID(), make([]ma.Multiaddr, MaxAddrs+1)); err == nil {
		t.Fatal("SetAddrs with too many addresses")
	}
	if _, err := h.OpenPairingWindowFor(ecdsaID, time.Minute); err == nil {
		t.Fatal("pinned window for a non-device ID")
	}
	h.OpenPairingWindow(-time.Second)() // a no-op window
	if err := h.Reserve(ctxT(t), peer.AddrInfo{ID: b.ID()}); err == nil {
		t.Fatal("Reserve with no relay address")
	}
}

// TestKeys: PeerIDOf and DeviceKeyOf are inverse, and refuse what is not a device key.
func TestKeys(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	id, err := PeerIDOf(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.String(), "12D3KooW") {
		t.Fatalf("peer ID %s is not the Ed25519 form", id)
	}
	back, err := DeviceKeyOf(id)
	if err != nil || !back.Equal(pub) {
		t.Fatalf("DeviceKeyOf = %x, %v", back, err)
	}
	h := newHost(t, priv, nil)
	if h.ID() != id {
		t.Fatalf("host peer ID %s, PeerIDOf %s", h.ID(), id)
	}
	_, ecPub, _ := crypto.GenerateECDSAKeyPair(nil)
	ecID, _ := peer.IDFromPublicKey(ecPub)
	_, rsaPub, _ := crypto.GenerateRSAKeyPair(2048, nil)
	rsaID, _ := peer.IDFromPublicKey(rsaPub)
	for name, p := range map[string]peer.ID{"empty": "", "garbage": "garbage", "ecdsa": ecID, "rsa (hashed)": rsaID, "long": peer.ID(strings.Repeat("x", 100))} {
		if _, err := DeviceKeyOf(p); err == nil {
			t.Errorf("DeviceKeyOf(%s) accepted", name)
		}
	}
	if _, err := PeerIDOf(pub[:31]); err == nil {
		t.Error("PeerIDOf of a short key accepted")
	}
}

// FuzzDeviceKeyOf: DeviceKeyOf never panics on any peer ID bytes, and what it accepts
// round-trips exactly (one key, one accepted peer ID).
func FuzzDeviceKeyOf(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	id, _ := PeerIDOf(pub)
	f.Add([]byte(id))
	f.Add([]byte{})
	f.Add([]byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		key, err := DeviceKeyOf(peer.ID(b))
		if err != nil {
			return
		}
		back, err := PeerIDOf(key)
		if err != nil || back != peer.ID(b) {
			t.Fatalf("accepted %x but it maps back to %x (%v)", b, []byte(back), err)
		}
	})
}

// TestLimits: the documented limits are the ones built.
func TestLimits(t *testing.T) {
	d := deviceLimits().ToPartialLimitConfig()
	if d.System.Conns != 64 || d.PeerDefault.Conns != 8 || d.Transient.Streams != 64 || d.Stream.Memory != 16<<20 {
		t.Fatalf("device limits %+v / %+v / %+v / %+v", d.System, d.PeerDefault, d.Transient, d.Stream)
	}
	r := relayLimits().ToPartialLimitConfig()
	if r.System.Conns != 256 || r.System.Streams != 4096 || r.PeerDefault.Conns != 8 {
		t.Fatalf("relay limits %+v / %+v", r.System, r.PeerDefault)
	}
}
