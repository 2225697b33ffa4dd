package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// MaxRelays caps the relays one device keeps a reservation on.
const MaxRelays = 4

// RelayConfig configures the circuit relay v2 service `seedpod relay` runs.
type RelayConfig struct {
	// Key is the relay's own Ed25519 key (not a device key). Required.
	Key ed25519.PrivateKey
	// ListenAddrs as in Config; at least one.
	ListenAddrs []string
	// Allowed reports whether p is a paired device of an identity this relay hosts. Required.
	// It decides admission (the relay's gater), reservations and both ends of a circuit. It
	// is called from go-libp2p goroutines: it must be fast and safe for concurrent use.
	Allowed func(p peer.ID) bool
	// AllowConnect, if set, additionally decides whether src may reach dst through the relay
	// (for example: both devices belong to the same identity). Both are always Allowed.
	AllowConnect func(src, dst peer.ID) bool
	// ReservationTTL is how long a reservation lasts before the device refreshes it
	// (default 1 h, go-libp2p's default).
	ReservationTTL time.Duration
	// Logger receives this package's logs (default slog.Default()).
	Logger *slog.Logger
}

// RelayService is a circuit relay v2 host with an ACL and no per-circuit limits (relayed
// connections are not "limited": a sync session may run over them for hours). It is a host
// of its own: it carries no device protocols.
type RelayService struct {
	h   host.Host
	r   *relayv2.Relay
	log *slog.Logger
}

// relayACL is both the relay host's connection gater and the relay's ACL filter.
type relayACL struct {
	allowed func(peer.ID) bool
	connect func(src, dst peer.ID) bool
	log     *slog.Logger
}

func (a *relayACL) AllowReserve(p peer.ID, addr ma.Multiaddr) bool {
	ok := a.allowed(p)
	if !ok {
		a.log.Info("p2p relay: reservation refused", "remote", p, "addr", addr)
	}
	return ok
}

func (a *relayACL) AllowConnect(src peer.ID, srcAddr ma.Multiaddr, dst peer.ID) bool {
	ok := a.allowed(src) && a.allowed(dst) && (a.connect == nil || a.connect(src, dst))
	if !ok {
		a.log.Info("p2p relay: circuit refused", "src", src, "dst", dst, "addr", srcAddr)
	}
	return ok
}

func (a *relayACL) InterceptPeerDial(p peer.ID) bool             { return a.allowed(p) }
func (a *relayACL) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (a *relayACL) InterceptAccept(network.ConnMultiaddrs) bool  { return true }
func (a *relayACL) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
func (a *relayACL) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return a.allowed(p)
}

// NewRelayService starts the relay: TCP and QUIC, Noise and TLS, reachability forced
// public (it is the always-reachable side), the ACL as gater and relay filter, relay limits
// (limits.go), metrics off. ctx bounds only the construction.
func NewRelayService(ctx context.Context, cfg RelayConfig) (*RelayService, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("p2p: new relay: %w", err)
	}
	if cfg.Allowed == nil {
		return nil, errors.New("p2p: new relay: RelayConfig.Allowed is required")
	}
	key, err := identity(cfg.Key)
	if err != nil {
		return nil, err
	}
	listen, err := parseListenAddrs(cfg.ListenAddrs)
	if err != nil {
		return nil, err
	}
	if len(listen) == 0 {
		return nil, errors.New("p2p: new relay: no listen address")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	rm, cm, err := newManagers(relayLimits(), relayLow, relayHigh)
	if err != nil {
		return nil, err
	}
	acl := &relayACL{allowed: cfg.Allowed, connect: cfg.AllowConnect, log: log}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrs(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.ConnectionGater(acl),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableMetrics(),
		libp2p.UserAgent(userAgent+"-relay"),
		libp2p.DisableRelay(), // the relay does not dial through relays itself
		libp2p.ForceReachabilityPublic(),
	)
	if err != nil {
		return nil, fmt.Errorf("p2p: new relay host (listen %v): %w", cfg.ListenAddrs, err)
	}
	rc := relayv2.DefaultResources()
	rc.Limit = nil // == WithInfiniteLimits(): relayed connections are not limited
	if cfg.ReservationTTL > 0 {
		rc.ReservationTTL = cfg.ReservationTTL
	}
	r, err := relayv2.New(h, relayv2.WithResources(rc), relayv2.WithInfiniteLimits(), relayv2.WithACL(acl))
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("p2p: new relay service: %w", err)
	}
	log.Info("p2p relay started", "peer", h.ID(), "addrs", h.Addrs())
	return &RelayService{h: h, r: r, log: log}, nil
}

// ID is the relay's peer ID.
func (r *RelayService) ID() peer.ID { return r.h.ID() }

// AddrInfo is what devices need to reserve a slot (Host.Reserve) and to build circuit
// addresses (CircuitAddr).
func (r *RelayService) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: r.h.ID(), Addrs: r.h.Addrs()}
}

// ClosePeer drops every connection of p (and with them its reservation
// and circuits): the caller no longer admits it (Allowed already says no).
func (r *RelayService) ClosePeer(p peer.ID) error { return r.h.Network().ClosePeer(p) }

// Close stops the relay service and its host.
func (r *RelayService) Close() error {
	err := errors.Join(r.r.Close(), r.h.Close())
	if err != nil {
		return fmt.Errorf("p2p: close relay: %w", err)
	}
	return nil
}

// CircuitAddr returns target's AddrInfo through relay: one
// <relay addr>/p2p/<relay>/p2p-circuit address per relay address. Dial it with Connect (or
// put it in the peerstore with SetAddrs); the target must hold a reservation on the relay.
func CircuitAddr(relay peer.AddrInfo, target peer.ID) (peer.AddrInfo, error) {
	if err := relay.ID.Validate(); err != nil {
		return peer.AddrInfo{}, fmt.Errorf("p2p: circuit address via %q: %w", relay.ID, err)
	}
	if err := target.Validate(); err != nil {
		return peer.AddrInfo{}, fmt.Errorf("p2p: circuit address to %q: %w", target, err)
	}
	if len(relay.Addrs) == 0 || len(relay.Addrs) > MaxAddrs {
		return peer.AddrInfo{}, fmt.Errorf("p2p: circuit address via %s: %d relay addresses, want 1 to %d", relay.ID, len(relay.Addrs), MaxAddrs)
	}
	suffix, err := ma.NewMultiaddr("/p2p/" + relay.ID.String() + "/p2p-circuit")
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("p2p: circuit address via %s: %w", relay.ID, err)
	}
	out := peer.AddrInfo{ID: target}
	for _, a := range relay.Addrs {
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			return peer.AddrInfo{}, fmt.Errorf("p2p: circuit address via %s: relay address %s is itself relayed", relay.ID, a)
		}
		if _, err := a.ValueForProtocol(ma.P_P2P); err == nil {
			return peer.AddrInfo{}, fmt.Errorf("p2p: circuit address via %s: relay address %s carries a peer ID", relay.ID, a)
		}
		out.Addrs = append(out.Addrs, a.Encapsulate(suffix))
	}
	return out, nil
}

// reservation keeps one relay slot alive.
type reservation struct {
	info   peer.AddrInfo
	lostCh chan struct{} // the relay connection went away: reserve again now
}

func (r *reservation) lost() {
	select {
	case r.lostCh <- struct{}{}:
	default:
	}
}

// Reserve connects to relay, reserves a slot (so that paired devices can reach this host
// through <relay>/p2p-circuit), and keeps it: refreshed before it expires and again whenever
// the relay connection drops, with backoff, until Close. The relay is admitted by the gater
// (for relay protocols only: its streams on Handle'd protocols are reset) and protected from
// the connection manager, and circuit addresses through it are added for every paired peer.
// The first reservation happens before Reserve returns; if it fails, nothing is kept (the
// relay is not admitted) and the caller may try again later. Reserving twice is a no-op.
func (h *Host) Reserve(ctx context.Context, relay peer.AddrInfo) error {
	if err := relay.ID.Validate(); err != nil {
		return fmt.Errorf("p2p: reserve on relay %q: %w", relay.ID, err)
	}
	if len(relay.Addrs) == 0 || len(relay.Addrs) > MaxAddrs {
		return fmt.Errorf("p2p: reserve on relay %s: %d addresses, want 1 to %d", relay.ID, len(relay.Addrs), MaxAddrs)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return fmt.Errorf("p2p: reserve on relay %s: host closed", relay.ID)
	}
	if _, ok := h.relays[relay.ID]; ok {
		h.mu.Unlock()
		return nil
	}
	if len(h.relays) >= MaxRelays {
		h.mu.Unlock()
		return fmt.Errorf("p2p: reserve on relay %s: already %d relays", relay.ID, MaxRelays)
	}
	h.mu.Unlock()

	h.gater.addRelay(relay.ID)
	h.h.Peerstore().AddAddrs(relay.ID, relay.Addrs, peerstore.PermanentAddrTTL)
	h.h.ConnManager().Protect(relay.ID, tagRelay)
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	rsv, err := client.Reserve(ctx, h.h, relay)
	cancel()
	if err != nil {
		h.forgetRelay(relay.ID)
		return fmt.Errorf("p2p: reserve on relay %s: %w", relay.ID, err)
	}

	r := &reservation{info: relay, lostCh: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return fmt.Errorf("p2p: reserve on relay %s: host closed", relay.ID)
	}
	if _, ok := h.relays[relay.ID]; ok { // a concurrent Reserve won
		h.mu.Unlock()
		return nil
	}
	h.relays[relay.ID] = r
	h.wg.Add(1)
	h.mu.Unlock()
	for _, p := range h.gater.pairedList() {
		h.addCircuitAddrs(relay, p)
	}
	h.log.Info("p2p: relay reservation", "relay", relay.ID, "expires", rsv.Expiration)
	go h.keepReservation(r, rsv.Expiration)
	return nil
}

// keepReservation refreshes r until Close: at 3/4 of the remaining lifetime (at least 30 s
// before expiry), at once when the relay connection drops, and on failure after a backoff
// of 1 s doubling to 1 min.
func (h *Host) keepReservation(r *reservation, expires time.Time) {
	defer h.wg.Done()
	fails := 0
	wait := refreshIn(expires)
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-r.lostCh:
			if fails > 0 {
				continue // already retrying on the timer
			}
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(h.ctx, h.timeout)
		rsv, err := client.Reserve(ctx, h.h, r.info)
		cancel()
		if h.ctx.Err() != nil {
			return
		}
		if err != nil {
			fails++
			wait = min(time.Second<<min(fails-1, 6), time.Minute)
			h.log.Warn("p2p: relay reservation failed", "relay", r.info.ID, "fails", fails, "err", err)
		} else {
			fails = 0
			wait = refreshIn(rsv.Expiration)
			h.log.Debug("p2p: relay reservation refreshed", "relay", r.info.ID, "expires", rsv.Expiration)
		}
		t.Reset(wait)
	}
}

func refreshIn(expires time.Time) time.Duration {
	left := time.Until(expires)
	return max(min(left*3/4, left-30*time.Second), time.Second)
}

// forgetRelay undoes what Reserve set up before its first reservation failed.
func (h *Host) forgetRelay(p peer.ID) {
	h.mu.Lock()
	_, kept := h.relays[p] // a concurrent Reserve of the same relay succeeded
	h.mu.Unlock()
	if kept {
		return
	}
	h.gater.removeRelay(p)
	h.h.ConnManager().Unprotect(p, tagRelay)
	if !h.gater.connAllowed(p) {
		_ = h.h.Network().ClosePeer(p)
	}
}

func (h *Host) relayInfos() []peer.AddrInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]peer.AddrInfo, 0, len(h.relays))
	for _, r := range h.relays {
		out = append(out, r.info)
	}
	return out
}

// addCircuitAddrs lets the swarm reach p through relay when no direct address works (the
// swarm ranks direct addresses first and delays relayed ones).
func (h *Host) addCircuitAddrs(relay peer.AddrInfo, p peer.ID) {
	ai, err := CircuitAddr(relay, p)
	if err != nil {
		h.log.Warn("p2p: circuit address", "relay", relay.ID, "remote", p, "err", err)
		return
	}
	h.h.Peerstore().AddAddrs(p, ai.Addrs, peerstore.PermanentAddrTTL)
}
