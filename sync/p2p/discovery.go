package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// MDNSService is the mDNS service name devices announce and browse.
const MDNSService = "_seedpod-sync._udp"

const (
	// findTTL is how long addresses from an mDNS find stay in the peerstore: a few query
	// rounds, so a device that left the LAN is forgotten soon.
	findTTL = 10 * time.Minute
	// findQuiet ignores repeated finds of one peer within this time (mDNS calls the notifee
	// for every entry of every response, each in a fresh goroutine).
	findQuiet = 10 * time.Second
	// maxFinds caps the dedupe map; it is cleared when full.
	maxFinds = 1024
)

// finder is the mDNS notifee: it ignores this host and unpaired peers, deduplicates finds,
// records the addresses and pokes the reconnect loop, which dials with the dial timeout.
// It never dials itself and never blocks.
type finder struct {
	h    *Host
	mu   sync.Mutex
	seen map[peer.ID]time.Time
}

// HandlePeerFound implements mdns.Notifee.
func (f *finder) HandlePeerFound(ai peer.AddrInfo) {
	h := f.h
	if ai.ID == h.h.ID() || !h.gater.isPaired(ai.ID) || len(ai.Addrs) == 0 {
		return
	}
	if len(ai.Addrs) > MaxAddrs {
		ai.Addrs = ai.Addrs[:MaxAddrs]
	}
	now := time.Now()
	f.mu.Lock()
	if f.seen == nil || len(f.seen) >= maxFinds {
		f.seen = map[peer.ID]time.Time{}
	}
	last, dup := f.seen[ai.ID]
	dup = dup && now.Sub(last) < findQuiet
	if !dup {
		f.seen[ai.ID] = now
	}
	f.mu.Unlock()
	if dup {
		return
	}
	h.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, findTTL)
	if !h.Connected(ai.ID) {
		h.log.Debug("p2p: mDNS found a paired peer", "remote", ai.ID, "addrs", ai.Addrs)
		h.poke(ai.ID)
	}
}
