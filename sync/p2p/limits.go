package p2p

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
)

// Resource limits. go-libp2p's defaults scale with the machine (on a 23 GiB box: 504
// connections, 8074 streams system-wide); a device talks to a handful of its own devices and
// one relay, so fixed, small limits are enough and make a misbehaving peer cheap to contain.
// The service and protocol limits (identify, ping, relay, hole punching) stay go-libp2p's base
// amounts (libp2p.SetDefaultServiceLimits, scaled for 0 bytes: the same on every machine).
//
// A device:
//
//	system     64 conns (32 in, 32 out), 1024 streams, 256 MiB, 128 fds
//	transient  16 conns, 64 streams, 32 MiB, 16 fds (connections and streams not yet
//	           attributed to a peer or protocol: handshakes, protocol negotiation)
//	per peer   8 conns (a dial races TCP/QUIC × v4/v6 and a relayed path), 256 streams,
//	           96 MiB (a sync frame is ≤ 4 MiB + 64; a yamux window grows to 16 MiB), 8 fds
//	per conn   32 MiB (go-libp2p's default)
//	per stream 16 MiB (go-libp2p's default; yamux's largest receive window)
//
// The relay (several identities, each a few devices, all circuits through one host):
//
//	system     256 conns (256 in, 64 out), 4096 streams, 512 MiB, 512 fds
//	transient  64 conns, 256 streams, 64 MiB, 64 fds
//	per peer   8 conns, 256 streams, 64 MiB, 8 fds
//
// go-libp2p also caps connections per IP (8 per IPv4 /32, 8 per IPv6 /56, loopback exempt):
// several devices behind one home NAT stay under it.
//
// The connection manager trims above 64 connections down to 32 (grace 1 min), never touching
// protected peers: the paired devices and the relays this host holds a reservation on. The
// relay's trims above 224 down to 160 (its high watermark must stay under the system limit).
const (
	connLow   = 32
	connHigh  = 64
	relayLow  = 160
	relayHigh = 224 // below the relay's 256-connection system limit
)

func limit(conns, in, out, streams int, mem int64, fds int) rcmgr.ResourceLimits {
	return rcmgr.BaseLimit{
		Conns: conns, ConnsInbound: in, ConnsOutbound: out,
		Streams: streams, StreamsInbound: streams / 2, StreamsOutbound: streams / 2,
		Memory: mem, FD: fds,
	}.ToResourceLimits()
}

func deviceLimits() rcmgr.ConcreteLimitConfig {
	base := rcmgr.DefaultLimits // a copy; its maps are nil until SetDefaultServiceLimits fills the copy's
	libp2p.SetDefaultServiceLimits(&base)
	partial := rcmgr.PartialLimitConfig{
		System:      limit(64, 32, 32, 1024, 256<<20, 128),
		Transient:   limit(16, 8, 8, 64, 32<<20, 16),
		PeerDefault: limit(8, 8, 8, 256, 96<<20, 8),
	}
	return partial.Build(base.Scale(0, 0))
}

func relayLimits() rcmgr.ConcreteLimitConfig {
	base := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&base)
	partial := rcmgr.PartialLimitConfig{
		System:      limit(256, 256, 64, 4096, 512<<20, 512),
		Transient:   limit(64, 64, 32, 256, 64<<20, 64),
		PeerDefault: limit(8, 8, 8, 256, 64<<20, 8),
	}
	return partial.Build(base.Scale(0, 0))
}

func newResourceManager(cfg rcmgr.ConcreteLimitConfig) (network.ResourceManager, error) {
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(cfg))
	if err != nil {
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	return rm, nil
}

func newConnManager(low, high int) (*connmgr.BasicConnMgr, error) {
	cm, err := connmgr.NewConnManager(low, high, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("p2p: connection manager %d/%d: %w", low, high, err)
	}
	return cm, nil
}

// newManagers builds a host's resource manager (fixed limits) and its
// connection manager (low/high marks); on error nothing is left open.
func newManagers(limits rcmgr.ConcreteLimitConfig, low, high int) (network.ResourceManager, *connmgr.BasicConnMgr, error) {
	rm, err := newResourceManager(limits)
	if err != nil {
		return nil, nil, err
	}
	cm, err := newConnManager(low, high)
	if err != nil {
		rm.Close()
		return nil, nil, err
	}
	return rm, cm, nil
}
