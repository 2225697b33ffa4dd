package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Admission says which remote peers may open a stream on a protocol (Host.Handle).
type Admission int

const (
	// AdmitPaired admits only peers in the paired set (the sync protocol, blobs, …).
	AdmitPaired Admission = iota + 1
	// AdmitPairing admits any peer that an open pairing window admits, and only while it is
	// open (the pairing protocol). A paired peer is not admitted outside a window either: the
	// pairing protocol is served only while the user has a window open.
	AdmitPairing
)

func (a Admission) String() string {
	switch a {
	case AdmitPaired:
		return "paired"
	case AdmitPairing:
		return "pairing"
	}
	return "invalid"
}

const (
	// MaxPaired caps the paired set: one user's devices.
	MaxPaired = 256
	// MaxPairingWindow caps how long one pairing window stays open (the design uses 10 min).
	MaxPairingWindow = 30 * time.Minute
	// maxWindows caps the pairing windows open at once; opening one more closes the window
	// that would expire first.
	maxWindows = 8
	// maxStrangers caps the unknown peers admitted while windows are open, so that a scanner
	// that finds an open window cannot fill the connection limits with fresh peer IDs.
	maxStrangers = 8
)

// window is one open pairing window. pin, when set, restricts it to one peer ID; a pinned
// window also lets this host dial that peer (the joining device dials the existing one).
type window struct {
	deadline time.Time
	pin      peer.ID
	timer    *time.Timer
}

// gater is the allowlist: paired devices, the relays this host reserved a slot on, and
// peers admitted by an open pairing window. It implements connmgr.ConnectionGater; all of
// its methods are safe for concurrent use (go-libp2p calls them from many goroutines).
type gater struct {
	mu        sync.RWMutex
	paired    map[peer.ID]struct{}
	relays    map[peer.ID]struct{}
	windows   map[uint64]*window
	nextWin   uint64
	strangers map[peer.ID]struct{}
	now       func() time.Time
}

func newGater() *gater {
	return &gater{
		paired:    map[peer.ID]struct{}{},
		relays:    map[peer.ID]struct{}{},
		windows:   map[uint64]*window{},
		strangers: map[peer.ID]struct{}{},
		now:       time.Now,
	}
}

func (g *gater) isPaired(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.paired[p]
	return ok
}

func (g *gater) pairedList() []peer.ID {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]peer.ID, 0, len(g.paired))
	for p := range g.paired {
		out = append(out, p)
	}
	return out
}

func (g *gater) isRelay(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.relays[p]
	return ok
}

func (g *gater) addRelay(p peer.ID) {
	g.mu.Lock()
	g.relays[p] = struct{}{}
	g.mu.Unlock()
}

func (g *gater) removeRelay(p peer.ID) {
	g.mu.Lock()
	delete(g.relays, p)
	g.mu.Unlock()
}

// setPaired replaces the paired set and reports who came and who went.
func (g *gater) setPaired(next map[peer.ID]struct{}) (added, removed []peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p := range g.paired {
		if _, ok := next[p]; !ok {
			removed = append(removed, p)
		}
	}
	for p := range next {
		if _, ok := g.paired[p]; !ok {
			added = append(added, p)
		}
		delete(g.strangers, p) // paired now: no longer counts against the stranger cap
	}
	g.paired = next
	return added, removed
}

// windowAdmitsLocked reports whether an open window admits p; pinnedOnly ignores unpinned
// windows. The caller holds g.mu.
func (g *gater) windowAdmitsLocked(p peer.ID, pinnedOnly bool) bool {
	now := g.now()
	for _, w := range g.windows {
		if !now.Before(w.deadline) {
			continue
		}
		if w.pin == p || (w.pin == "" && !pinnedOnly) {
			return true
		}
	}
	return false
}

// admits is the per-stream check of Host.Handle.
func (g *gater) admits(p peer.ID, a Admission) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	switch a {
	case AdmitPaired:
		_, ok := g.paired[p]
		return ok
	case AdmitPairing:
		return g.windowAdmitsLocked(p, false)
	}
	return false
}

// connAllowed reports whether a connection to p may stay open now (used on connection
// events, to close connections that raced a SetPaired or a window closing).
func (g *gater) connAllowed(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if _, ok := g.paired[p]; ok {
		return true
	}
	if _, ok := g.relays[p]; ok {
		return true
	}
	_, stranger := g.strangers[p]
	return stranger && g.windowAdmitsLocked(p, false)
}

// openWindow registers a window and returns its id; expire is called by its timer.
func (g *gater) openWindow(d time.Duration, pin peer.ID, expire func(id uint64)) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.windows) >= maxWindows {
		var first uint64
		var firstAt time.Time
		for id, w := range g.windows {
			if firstAt.IsZero() || w.deadline.Before(firstAt) {
				first, firstAt = id, w.deadline
			}
		}
		g.windows[first].timer.Stop()
		delete(g.windows, first)
	}
	g.nextWin++
	id := g.nextWin
	g.windows[id] = &window{
		deadline: g.now().Add(d),
		pin:      pin,
		timer:    time.AfterFunc(d, func() { expire(id) }),
	}
	return id
}

// closeWindow removes a window (once) and returns the strangers no open window admits any
// more: the caller disconnects them.
func (g *gater) closeWindow(id uint64) (evict []peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if w, ok := g.windows[id]; ok {
		w.timer.Stop()
		delete(g.windows, id)
	}
	for p := range g.strangers {
		if !g.windowAdmitsLocked(p, false) {
			delete(g.strangers, p)
			evict = append(evict, p)
		}
	}
	return evict
}

// closeAll stops every window timer (Host.Close).
func (g *gater) closeAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, w := range g.windows {
		w.timer.Stop()
		delete(g.windows, id)
	}
}

// InterceptPeerDial: this host dials only paired peers, its relays, and the peer a pinned
// pairing window names.
func (g *gater) InterceptPeerDial(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if _, ok := g.paired[p]; ok {
		return true
	}
	if _, ok := g.relays[p]; ok {
		return true
	}
	return g.windowAdmitsLocked(p, true)
}

// InterceptAddrDial: the peer was already checked by InterceptPeerDial.
func (g *gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept: the remote peer is not known before the security handshake.
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured is the real check, for TCP, QUIC and relayed connections alike, in both
// directions. Strangers are admitted only while a window admits them, and at most
// maxStrangers of them.
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.paired[p]; ok {
		return true
	}
	if _, ok := g.relays[p]; ok {
		return true
	}
	if !g.windowAdmitsLocked(p, false) {
		return false
	}
	if _, ok := g.strangers[p]; !ok {
		if len(g.strangers) >= maxStrangers {
			return false
		}
		g.strangers[p] = struct{}{}
	}
	return true
}

// InterceptUpgraded: everything was decided in InterceptSecured.
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
