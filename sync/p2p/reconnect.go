package p2p

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
)

// eventBufSize is the connection-event subscription's buffer; the loop drains it quickly.
var eventBufSize = eventbus.BufSize(64)

// minBackoff is the first retry delay after a failed dial; it doubles up to the reconnect
// interval (so an offline peer costs at most one dial per interval once backed off).
const minBackoff = time.Second

// peerState is the reconnect loop's view of one paired peer.
type peerState struct {
	fails   int       // consecutive failed dials
	due     time.Time // when to try next; zero: not scheduled
	dialing bool
}

var errGone = errors.New("connected, then the connection was closed")

type dialResult struct {
	p   peer.ID
	err error
}

// reconnectLoop keeps paired peers connected. It dials on a disconnect, on a poke (new
// pairing, SetAddrs, an mDNS find), and every interval; each peer backs off exponentially
// (1 s doubling to the interval, with jitter). At most maxDialing dials run at once. The
// loop is the only goroutine that touches the peer states, so they need no lock.
func (h *Host) reconnectLoop() {
	defer h.wg.Done()
	states := map[peer.ID]*peerState{}
	results := make(chan dialResult, maxDialing) // never blocks a dialer: ≤ maxDialing in flight
	dialing := 0
	ticker := time.NewTicker(h.every)
	defer ticker.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	state := func(p peer.ID) *peerState {
		st := states[p]
		if st == nil {
			st = &peerState{}
			states[p] = st
		}
		return st
	}
	// run starts every due dial the concurrency cap allows and re-arms the timer for the
	// next due one.
	run := func() {
		now := time.Now()
		var next time.Time
		for p, st := range states {
			if !h.gater.isPaired(p) {
				delete(states, p)
				continue
			}
			if st.dialing || st.due.IsZero() {
				continue
			}
			if h.Connected(p) {
				st.due, st.fails = time.Time{}, 0
				continue
			}
			if st.due.After(now) || dialing >= maxDialing {
				if next.IsZero() || st.due.Before(next) {
					next = st.due
				}
				continue
			}
			st.dialing, st.due = true, time.Time{}
			dialing++
			h.wg.Add(1)
			go h.dial(p, results)
		}
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), 10*time.Millisecond))
		}
	}
	backoff := func(fails int) time.Duration {
		d := minBackoff << min(fails-1, 16)
		d = min(d, h.every)
		return d - time.Duration(rand.Int64N(int64(d)/5+1)) // up to 20 % earlier: peers don't dial in lockstep
	}

	for {
		select {
		case <-h.ctx.Done():
			return
		case p := <-h.kick:
			if h.gater.isPaired(p) {
				st := state(p)
				st.fails = 0
				if !st.dialing {
					st.due = time.Now()
				}
			}
		case <-ticker.C:
			for _, p := range h.gater.pairedList() {
				st := state(p)
				if !st.dialing && st.due.IsZero() && !h.Connected(p) {
					st.due = time.Now()
				}
			}
		case <-timer.C:
		case e, ok := <-h.sub.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			h.onConnectedness(ev)
			if ev.Connectedness == network.NotConnected && h.gater.isPaired(ev.Peer) {
				st := state(ev.Peer)
				if !st.dialing && st.due.IsZero() {
					// Not at once: a peer that just went away (restart, sleep) is rarely back
					// within a second, and a flapping link must not turn into a dial storm.
					st.due = time.Now().Add(minBackoff)
				}
			}
		case r := <-results:
			dialing--
			if st := states[r.p]; st != nil {
				st.dialing = false
				// Connect returning nil is not enough: the connection it found may have been
				// closing (its NotConnected event came while we were dialing and was ignored),
				// or the remote's gater closed it right after the handshake.
				if r.err == nil && !h.Connected(r.p) {
					r.err = errGone
				}
				if r.err == nil {
					st.fails, st.due = 0, time.Time{}
				} else {
					st.fails++
					st.due = time.Now().Add(backoff(st.fails))
					h.log.Debug("p2p: reconnect failed", "remote", r.p, "fails", st.fails, "err", r.err)
				}
			}
		}
		run()
	}
}

func (h *Host) dial(p peer.ID, results chan<- dialResult) {
	defer h.wg.Done()
	// The loop has its own backoff (≤ the reconnect interval); the swarm's per-address one
	// grows to 5 min and would keep a peer that was away for long waiting after it is back.
	if sw, ok := h.h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p)
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.timeout)
	defer cancel()
	err := h.h.Connect(network.WithAllowLimitedConn(ctx, streamTag), peer.AddrInfo{ID: p})
	results <- dialResult{p: p, err: err}
}

// onConnectedness closes connections that are no longer allowed (a SetPaired or a window
// closing that raced a handshake) and refreshes a relay reservation when its relay went away.
func (h *Host) onConnectedness(ev event.EvtPeerConnectednessChanged) {
	switch ev.Connectedness {
	case network.Connected, network.Limited:
		if !h.gater.connAllowed(ev.Peer) {
			h.log.Info("p2p: closing a connection that is no longer admitted", "remote", ev.Peer)
			_ = h.h.Network().ClosePeer(ev.Peer)
		}
	case network.NotConnected:
		h.mu.Lock()
		r := h.relays[ev.Peer]
		h.mu.Unlock()
		if r != nil {
			r.lost()
		}
	}
}
