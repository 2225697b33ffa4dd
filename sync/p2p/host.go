package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// Defaults of Config.
const (
	DefaultDialTimeout       = 10 * time.Second
	DefaultReconnectInterval = 30 * time.Second
	// MaxListenAddrs caps Config.ListenAddrs.
	MaxListenAddrs = 16
	// MaxAddrs caps the addresses SetAddrs takes for one peer.
	MaxAddrs = 32

	userAgent  = "seedpod"
	tagPaired  = "seedpod-paired"
	tagRelay   = "seedpod-relay"
	streamTag  = "seedpod" // the reason given to network.WithAllowLimitedConn
	maxDialing = 4         // concurrent reconnect dials
)

// Config configures a device's host. The zero value of every field but Key is usable.
type Config struct {
	// Key is the device key (the op-log key); the peer ID derives from it. Required.
	Key ed25519.PrivateKey
	// ListenAddrs are multiaddrs such as "/ip4/0.0.0.0/tcp/4011" and
	// "/ip4/0.0.0.0/udp/4011/quic-v1". Empty: the host listens on nothing and is reachable
	// only through a relay reservation (Reserve).
	ListenAddrs []string
	// MDNS announces and browses _seedpod-sync._udp on the LAN. Off by default. It
	// broadcasts the peer ID and every interface address to the LAN.
	MDNS bool
	// Public forces reachability "public" (a home server with a public address); otherwise
	// the host assumes it is behind NAT (AutoNAT cannot work inside an allowlisted group: its
	// dial-backs come from random peer IDs the gater refuses).
	Public bool
	// DialTimeout bounds Connect, NewStream and every reconnect dial (default 10 s).
	DialTimeout time.Duration
	// ReconnectInterval is how often every disconnected paired peer is tried again, and the
	// cap of the per-peer backoff (default 30 s).
	ReconnectInterval time.Duration
	// Logger receives this package's logs (default slog.Default()).
	Logger *slog.Logger
}

// Host is a device's libp2p host: transports, admission, discovery, relay reservations and
// the reconnect loop. Protocol logic plugs in through Handle. Safe for concurrent use.
type Host struct {
	h       host.Host
	gater   *gater
	log     *slog.Logger
	timeout time.Duration
	every   time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan peer.ID
	sub    event.Subscription
	mdns   interface{ Close() error }

	mu       sync.Mutex
	relays   map[peer.ID]*reservation
	closed   bool
	closeErr error
	once     sync.Once
}

// NewHost starts a device's host: TCP and QUIC (quic-v1), Noise and TLS, no PSK, the
// allowlist gater (empty until SetPaired), fixed resource limits (limits.go), a connection
// manager that protects paired peers, the circuit relay v2 client, hole punching (DCUtR),
// optional mDNS and the reconnect loop. ctx bounds only the construction.
func NewHost(ctx context.Context, cfg Config) (*Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("p2p: new host: %w", err)
	}
	key, err := identity(cfg.Key)
	if err != nil {
		return nil, err
	}
	listen, err := parseListenAddrs(cfg.ListenAddrs)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	timeout := cfg.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	every := cfg.ReconnectInterval
	if every <= 0 {
		every = DefaultReconnectInterval
	}
	rm, cm, err := newManagers(deviceLimits(), connLow, connHigh)
	if err != nil {
		return nil, err
	}
	g := newGater()
	opts := []libp2p.Option{
		libp2p.Identity(key),
		// No SO_REUSEPORT for TCP: with it, two devices that dial each other at the same
		// moment (both reconnect loops, both mDNS finds) from their listen ports get one
		// TCP connection by simultaneous open, both act as handshake initiator, and both
		// dials fail ("noise: message is too short"). It would only help TCP hole
		// punching; DCUtR punches through QUIC, which keeps its shared UDP socket.
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.ConnectionGater(g),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableMetrics(),
		libp2p.UserAgent(userAgent),
		libp2p.EnableRelay(),
		libp2p.EnableHolePunching(),
		libp2p.WithDialTimeout(timeout),
	}
	if len(listen) == 0 {
		opts = append(opts, libp2p.NoListenAddrs)
	} else {
		opts = append(opts, libp2p.ListenAddrs(listen...))
	}
	if cfg.Public {
		opts = append(opts, libp2p.ForceReachabilityPublic())
	} else {
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		// libp2p.New closes what it built, the resource manager and connection manager included.
		return nil, fmt.Errorf("p2p: new host (listen %v): %w", cfg.ListenAddrs, err)
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventBufSize)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("p2p: subscribe to connection events: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	hs := &Host{
		h: h, gater: g, log: log.With("peer", h.ID().ShortString()),
		timeout: timeout, every: every,
		ctx: runCtx, cancel: cancel,
		kick:   make(chan peer.ID, 64),
		sub:    sub,
		relays: map[peer.ID]*reservation{},
	}
	if cfg.MDNS {
		m, err := startMDNS(hs)
		if err != nil {
			hs.Close()
			return nil, err
		}
		hs.mdns = m
	}
	hs.wg.Add(1)
	go hs.reconnectLoop()
	hs.log.Debug("p2p host started", "addrs", h.Addrs())
	return hs, nil
}

func parseListenAddrs(in []string) ([]ma.Multiaddr, error) {
	if len(in) > MaxListenAddrs {
		return nil, fmt.Errorf("p2p: %d listen addresses, at most %d", len(in), MaxListenAddrs)
	}
	out := make([]ma.Multiaddr, 0, len(in))
	for _, s := range in {
		if len(s) > 256 {
			return nil, fmt.Errorf("p2p: listen address %.40q…: longer than 256 bytes", s)
		}
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("p2p: listen address %q: %w", s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// ID is this device's peer ID.
func (h *Host) ID() peer.ID { return h.h.ID() }

// Addrs are the addresses this host listens on (with the port the OS chose for port 0).
func (h *Host) Addrs() []ma.Multiaddr { return h.h.Addrs() }

// AddrInfo is ID and Addrs together, what a peer (or a pairing code) needs to dial us.
func (h *Host) AddrInfo() peer.AddrInfo { return peer.AddrInfo{ID: h.h.ID(), Addrs: h.h.Addrs()} }

// Libp2p exposes the underlying host for tests and diagnostics. Code that opens streams or
// registers handlers must go through Host, which enforces admission.
func (h *Host) Libp2p() host.Host { return h.h }

// SetPaired replaces the paired set: the devices that may connect and open AdmitPaired
// protocols. Peers that left are unprotected and disconnected at once; new peers are
// protected from the connection manager and dialled by the reconnect loop. This host's own
// ID may be in the list (the registry lists every device) and is skipped. Every ID must be
// an Ed25519 device ID; on any error nothing changes.
func (h *Host) SetPaired(ids []peer.ID) error {
	if len(ids) > MaxPaired {
		return fmt.Errorf("p2p: set paired: %d peers, at most %d", len(ids), MaxPaired)
	}
	next := make(map[peer.ID]struct{}, len(ids))
	for _, p := range ids {
		if _, err := DeviceKeyOf(p); err != nil {
			return fmt.Errorf("p2p: set paired: %w", err)
		}
		if p != h.h.ID() {
			next[p] = struct{}{}
		}
	}
	added, removed := h.gater.setPaired(next)
	for _, p := range removed {
		h.h.ConnManager().Unprotect(p, tagPaired)
		if err := h.h.Network().ClosePeer(p); err != nil {
			h.log.Warn("p2p: closing connections of an unpaired peer", "remote", p, "err", err)
		}
		h.log.Info("p2p: peer unpaired", "remote", p)
	}
	relays := h.relayInfos()
	for _, p := range added {
		h.h.ConnManager().Protect(p, tagPaired)
		for _, r := range relays {
			h.addCircuitAddrs(r, p)
		}
		h.poke(p)
	}
	return nil
}

// Paired returns the paired set (unordered).
func (h *Host) Paired() []peer.ID { return h.gater.pairedList() }

// OpenPairingWindow admits unknown peers for d (at most MaxPairingWindow), for the pairing
// protocol only: connections are admitted, but Handle serves such a peer only protocols
// registered with AdmitPairing, and only while the window is open. Closing the window (the
// returned func, idempotent) or its expiry disconnects every unknown peer no other window
// admits. At most 8 unknown peers are admitted while windows are open.
func (h *Host) OpenPairingWindow(d time.Duration) (closeWindow func()) {
	return h.openWindow(d, "")
}

// OpenPairingWindowFor is a pairing window for one peer: the joining device opens it for
// the existing device's pinned peer ID (from the pairing code) so that it may dial that
// peer and talk the pairing protocol to it. Other peers are not admitted.
func (h *Host) OpenPairingWindowFor(p peer.ID, d time.Duration) (closeWindow func(), err error) {
	if _, err := DeviceKeyOf(p); err != nil {
		return nil, fmt.Errorf("p2p: pairing window for %q: %w", p, err)
	}
	return h.openWindow(d, p), nil
}

func (h *Host) openWindow(d time.Duration, pin peer.ID) func() {
	d = min(d, MaxPairingWindow)
	if d <= 0 {
		return func() {}
	}
	closeFn := func(id uint64) {
		for _, p := range h.gater.closeWindow(id) {
			if !h.gater.connAllowed(p) {
				_ = h.h.Network().ClosePeer(p)
			}
		}
	}
	id := h.gater.openWindow(d, pin, closeFn)
	h.log.Info("p2p: pairing window open", "for", d, "pin", pin)
	var once sync.Once
	return func() { once.Do(func() { closeFn(id) }) }
}

// Handle registers a stream handler for proto. Every stream is checked again against adm
// when it arrives (the gater decided about the connection; this decides about the
// protocol): a peer that is not admitted gets its stream reset and the handler never runs.
// The handler owns the stream: it must Close or Reset it and should set deadlines.
func (h *Host) Handle(proto protocol.ID, handler func(network.Stream), adm Admission) error {
	if adm != AdmitPaired && adm != AdmitPairing {
		return fmt.Errorf("p2p: handle %s: invalid admission %d", proto, int(adm))
	}
	if proto == "" || handler == nil {
		return fmt.Errorf("p2p: handle %q: empty protocol or nil handler", proto)
	}
	h.h.SetStreamHandler(proto, func(s network.Stream) {
		p := s.Conn().RemotePeer()
		if !h.gater.admits(p, adm) {
			h.log.Warn("p2p: stream refused", "remote", p, "protocol", proto, "admission", adm)
			_ = s.Reset()
			return
		}
		handler(s)
	})
	return nil
}

// Unhandle removes the handler of proto.
func (h *Host) Unhandle(proto protocol.ID) { h.h.RemoveStreamHandler(proto) }

// Connect dials p (addresses in ai are added to the peerstore for TempAddrTTL) within the
// dial timeout. Only paired peers, relays and a pinned pairing peer can be dialled.
//
// A nil error does NOT mean the remote admitted us: with an allowlist on both sides, the
// dialer finishes its half of the handshake before the remote's gater closes the
// connection. Only an app-level exchange (the sync Hello, the pairing Accept) proves it.
func (h *Host) Connect(ctx context.Context, ai peer.AddrInfo) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	if err := h.h.Connect(network.WithAllowLimitedConn(ctx, streamTag), ai); err != nil {
		return fmt.Errorf("p2p: connect to %s: %w", ai.ID, err)
	}
	return nil
}

// NewStream opens a stream to p on proto, dialling if needed, within the dial timeout. It
// works over relayed connections, limited ones included (network.WithAllowLimitedConn).
func (h *Host) NewStream(ctx context.Context, p peer.ID, proto protocol.ID) (network.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	s, err := h.h.NewStream(network.WithAllowLimitedConn(ctx, streamTag), p, proto)
	if err != nil {
		return nil, fmt.Errorf("p2p: stream %s to %s: %w", proto, p, err)
	}
	return s, nil
}

// SetAddrs replaces the known addresses of a paired peer (from the registry, a pairing
// code, a peer that moved) and tries it again at once, forgetting the dial backoff.
// Circuit addresses through this host's relays are kept.
func (h *Host) SetAddrs(p peer.ID, addrs []ma.Multiaddr) error {
	if len(addrs) > MaxAddrs {
		return fmt.Errorf("p2p: set addrs of %s: %d addresses, at most %d", p, len(addrs), MaxAddrs)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("p2p: set addrs of %q: %w", p, err)
	}
	ps := h.h.Peerstore()
	ps.ClearAddrs(p)
	ps.AddAddrs(p, addrs, peerstore.PermanentAddrTTL)
	for _, r := range h.relayInfos() {
		h.addCircuitAddrs(r, p)
	}
	if sw, ok := h.h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p)
	}
	h.poke(p)
	return nil
}

// Connected reports whether this host has a connection (direct or relayed) to p.
func (h *Host) Connected(p peer.ID) bool {
	c := h.h.Network().Connectedness(p)
	return c == network.Connected || c == network.Limited
}

// Close stops the reconnect loop, relay refreshes, mDNS and pairing windows, and closes the
// host. It waits for every goroutine this package started. Safe to call more than once.
func (h *Host) Close() error {
	h.once.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		h.cancel()
		h.gater.closeAll()
		var errs []error
		if h.mdns != nil {
			errs = append(errs, h.mdns.Close())
		}
		h.wg.Wait()
		errs = append(errs, h.sub.Close(), h.h.Close())
		if err := errors.Join(errs...); err != nil {
			h.closeErr = fmt.Errorf("p2p: close host: %w", err)
		}
	})
	return h.closeErr
}

// poke asks the reconnect loop to try p now; it never blocks (a full queue means the loop
// is busy and its next tick covers p).
func (h *Host) poke(p peer.ID) {
	select {
	case h.kick <- p:
	default:
	}
}
