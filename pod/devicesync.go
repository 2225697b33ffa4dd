package pod

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"seedpod/pod/diaspora/id"
	"seedpod/pod/oplog"
	"seedpod/pod/relay"
	"seedpod/pod/store"
	"seedpod/sync/p2p"
	"seedpod/sync/pair"
	"seedpod/sync/session"
	"seedpod/sync/wire"
)

// Device sync (docs/sync.md): the pod runs a libp2p host (sync/p2p) keyed
// with its op-log device key, admits the devices of its registry
// (devices.go), runs one sync session (sync/session) with each connected
// device over /seedpod/sync/1, and pairs new devices (sync/pair). The
// device with the smaller peer ID opens the session; the other accepts,
// and a new stream from a peer replaces its running session.

// SyncConfig turns device sync on (Config.Sync).
type SyncConfig struct {
	// ListenAddrs are the libp2p listen multiaddrs. nil listens on every
	// interface (TCP and QUIC on DefaultSyncPort); tests pass loopback
	// addresses with port 0; empty (not nil) listens nowhere: the device is
	// reached only through its relay's circuit relay.
	ListenAddrs []string
	// MDNS finds the user's devices on the LAN.
	MDNS bool
	// DeviceName names this device in the registry; "" is the host name.
	DeviceName string
	// Debounce is the live push's coalescing time (session.Options).
	Debounce time.Duration
}

// DefaultSyncPort is the libp2p port of a device.
const DefaultSyncPort = 4747

// Pairing and session timing.
const (
	PairingWindow = 10 * time.Minute
	joinTimeout   = 2 * time.Minute
	sessionRetry  = 2 * time.Second
	// sessionOpenTimeout bounds opening a session stream to a connected peer.
	sessionOpenTimeout = 20 * time.Second
	addrBookEntries    = 16 // multiaddrs kept per device
)

// Device sync errors.
var (
	// ErrSyncOff: this pod runs without device sync.
	ErrSyncOff = errors.New("device sync is off")
	// ErrNotPairing: no pairing window is open (wraps ErrNotFound).
	ErrNotPairing = fmt.Errorf("%w: no pairing window is open", ErrNotFound)
)

type deviceSync struct {
	p    *Pod
	host *p2p.Host
	log  *slog.Logger
	cfg  SyncConfig
	name string

	trusted atomic.Pointer[map[string]bool] // hex device keys, this one included

	mu       sync.Mutex
	sessions map[peer.ID]*syncRun
	peers    map[peer.ID]*peerState
	window   *pair.Window
	closeWin func()
	closing  bool           // stop began: stream handlers refuse new work (under mu)
	handlers sync.WaitGroup // running stream handlers; stop waits for them
	epochMu  sync.Mutex
	joinMu   sync.Mutex // one Join at a time

	wake      chan struct{}
	relayWake chan struct{}

	blocked map[peer.ID]bool // tests: peers cut off as by a network partition (setBlocked); under mu
	opening map[peer.ID]bool // peers a session stream is being opened to (startSessions); under mu
	// openStream opens a session stream; tests replace it (under mu) to
	// make a dial hang.
	openStream func(ctx context.Context, pid peer.ID) (network.Stream, error)

	release func() // ends the registry listener and the connection-event subscription (stop)

	changedMu   sync.Mutex
	changedSubs map[int]func() // sessions' Changed signals
	changedID   int
}

// syncRun is one running session.
type syncRun struct {
	cancel   context.CancelFunc
	done     chan struct{}
	outbound bool
}

// peerState is what the devices screen shows of a peer beyond the
// registry: runtime state, kept in memory.
type peerState struct {
	LastSeen  time.Time
	Stats     session.Stats
	LastError string
	Fork      *session.ForkReport
}

// startSync starts the host and the session manager; a failure is logged
// and sync stays off (the pod works without it).
func (p *Pod) startSync(ctx context.Context, cfg SyncConfig) error {
	listen := cfg.ListenAddrs
	if listen == nil {
		listen = []string{
			fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultSyncPort), fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultSyncPort),
			fmt.Sprintf("/ip6/::/tcp/%d", DefaultSyncPort), fmt.Sprintf("/ip6/::/udp/%d/quic-v1", DefaultSyncPort),
		}
	}
	name := cfg.DeviceName
	if name == "" {
		name, _ = os.Hostname()
		if err := checkDeviceName(name); err != nil || name == "" {
			name = "Seedpod device"
		}
	}
	h, err := p2p.NewHost(ctx, p2p.Config{Key: p.log.Key(), ListenAddrs: listen, MDNS: cfg.MDNS, Logger: p.logger})
	if err != nil && cfg.ListenAddrs == nil {
		// The default port is taken (another Seedpod on this machine, say):
		// any free port; mDNS and the relay tell the devices where.
		p.logger.Warn("device sync: the default port is taken; listening on another", "port", DefaultSyncPort, "err", err)
		for i := range listen {
			listen[i] = strings.Replace(listen[i], fmt.Sprint(DefaultSyncPort), "0", 1)
		}
		h, err = p2p.NewHost(ctx, p2p.Config{Key: p.log.Key(), ListenAddrs: listen, MDNS: cfg.MDNS, Logger: p.logger})
	}
	if err != nil {
		return fmt.Errorf("device sync: %w", err)
	}
	ds := &deviceSync{p: p, host: h, log: p.logger.With("part", "sync"), cfg: cfg, name: name,
		sessions: map[peer.ID]*syncRun{}, opening: map[peer.ID]bool{}, peers: map[peer.ID]*peerState{}, wake: make(chan struct{}, 1),
		relayWake: make(chan struct{}, 1), changedSubs: map[int]func(){}}
	ds.openStream = func(ctx context.Context, pid peer.ID) (network.Stream, error) {
		return h.NewStream(ctx, pid, wire.Protocol)
	}
	p.sync = ds
	if err := ds.refresh(ctx); err != nil {
		h.Close()
		p.sync = nil
		return err
	}
	if err := h.Handle(wire.Protocol, ds.acceptSession, p2p.AdmitPaired); err != nil {
		h.Close()
		p.sync = nil
		return err
	}
	if err := h.Handle(pair.ProtocolID, ds.acceptPairing, p2p.AdmitPairing); err != nil {
		h.Close()
		p.sync = nil
		return err
	}
	sub, err := h.Libp2p().EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		h.Close()
		p.sync = nil
		return fmt.Errorf("device sync: %w", err)
	}
	cancel := p.log.Listen(func(ch []store.Change) {
		for _, c := range ch {
			if (c.Kind == oplog.KindSetAdd || c.Kind == oplog.KindSetRemove) &&
				(c.Key == store.DevicesSet || c.Key == store.RevokedDevicesSet) {
				ds.poke()
				return
			}
		}
	})
	// The subscription and the listener end before the host closes: a
	// full, unread subscription would block the swarm's event emitter, and
	// with it the host's Close (every disconnection is an event).
	ds.release = func() { cancel(); sub.Close() }
	p.wg.Go(func() { ds.manage(ctx, sub.Out()) })
	if p.fed != nil {
		p.wg.Go(func() { ds.relayLoop(ctx) })
	}
	ds.log.Info("device sync: listening", "peer", h.ID().String(), "addrs", h.Addrs())
	return nil
}

func (ds *deviceSync) poke() {
	select {
	case ds.wake <- struct{}{}:
	default:
	}
	select {
	case ds.relayWake <- struct{}{}:
	default:
	}
}

// manage keeps the paired set current and a session running with every
// connected device, until ctx ends; then it stops the sessions and the host.
func (ds *deviceSync) manage(ctx context.Context, events <-chan any) {
	tick := time.NewTicker(sessionRetry)
	defer tick.Stop()
	defer ds.stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ds.wake:
			if err := ds.refresh(ctx); err != nil && ctx.Err() == nil {
				ds.log.Error("device sync: read the registry", "err", err)
			}
		case <-events:
		case <-tick.C:
		}
		ds.startSessions(ctx)
	}
}

func (ds *deviceSync) stop() {
	ds.release()
	ds.mu.Lock()
	ds.closing = true
	runs := make([]*syncRun, 0, len(ds.sessions))
	for _, r := range ds.sessions {
		runs = append(runs, r)
		r.cancel()
	}
	if ds.closeWin != nil {
		ds.closeWin()
		ds.window.Close()
		ds.window, ds.closeWin = nil, nil
	}
	ds.mu.Unlock()
	for _, r := range runs {
		<-r.done
	}
	if err := ds.host.Close(); err != nil {
		ds.log.Warn("device sync: close the host", "err", err)
	}
	ds.handlers.Wait()
}

// refresh reads the registry: the trusted devices, the host's paired set
// (revoked devices are disconnected by it), and their known addresses.
func (ds *deviceSync) refresh(ctx context.Context) error {
	devs, err := store.Devices(ctx, ds.p.db.R)
	if err != nil {
		return err
	}
	self := hex.EncodeToString(ds.p.ThisDevice())
	trusted := map[string]bool{self: true}
	var paired []peer.ID
	for _, d := range devs {
		k := hex.EncodeToString(d.Key)
		if d.Revoked || k == self {
			continue
		}
		pid, err := p2p.PeerIDOf(ed25519.PublicKey(d.Key))
		if err != nil {
			continue
		}
		trusted[k] = true
		paired = append(paired, pid)
	}
	ds.trusted.Store(&trusted)
	ds.mu.Lock()
	reachable := slices.DeleteFunc(slices.Clone(paired), func(p peer.ID) bool { return ds.blocked[p] })
	ds.mu.Unlock()
	if err := ds.host.SetPaired(reachable); err != nil {
		return err
	}
	book, err := ds.p.deviceAddrs(ctx)
	if err != nil {
		return err
	}
	for _, pid := range paired {
		if addrs := book[pid]; len(addrs) > 0 {
			ds.host.SetAddrs(pid, addrs)
		}
	}
	// Sessions of devices no longer trusted (or cut off) end.
	ds.mu.Lock()
	for pid, r := range ds.sessions {
		if !slices.Contains(reachable, pid) {
			r.cancel()
		}
	}
	ds.mu.Unlock()
	return nil
}

// setBlocked cuts this device off from peers (and restores the others) as
// a network partition would: no connection, no session. Their logs are
// still accepted when another device passes them on. For tests.
func (ds *deviceSync) setBlocked(ctx context.Context, peers ...peer.ID) error {
	ds.mu.Lock()
	ds.blocked = map[peer.ID]bool{}
	for _, p := range peers {
		ds.blocked[p] = true
	}
	ds.mu.Unlock()
	return ds.refresh(ctx)
}

// reachable says whether pid is a trusted device not cut off by
// setBlocked, as the last refresh saw it. Under mu.
func (ds *deviceSync) reachable(pid peer.ID) bool {
	if ds.blocked[pid] {
		return false
	}
	key, err := p2p.DeviceKeyOf(pid)
	if err != nil {
		return false
	}
	t := ds.trusted.Load()
	return t != nil && (*t)[hex.EncodeToString(key)]
}

// accept is session.Options.Accept: a trusted device's log.
func (ds *deviceSync) accept(l oplog.LogID) bool {
	t := ds.trusted.Load()
	return t != nil && (*t)[hex.EncodeToString(l.Device)]
}

// startSessions opens a session to each connected paired device this
// device leads (the smaller peer ID) and has none with. Each stream is
// opened on its own goroutine: a peer whose dial hangs (up to
// sessionOpenTimeout) delays neither the other peers' sessions nor
// manage's next refresh, which is what cuts off a revoked device.
func (ds *deviceSync) startSessions(ctx context.Context) {
	self := ds.host.ID()
	for _, pid := range ds.host.Paired() {
		if !ds.host.Connected(pid) || self >= pid {
			continue
		}
		ds.mu.Lock()
		_, running := ds.sessions[pid]
		if running || ds.opening[pid] || ds.closing {
			ds.mu.Unlock()
			continue
		}
		ds.opening[pid] = true
		ds.handlers.Add(1)
		open := ds.openStream
		ds.mu.Unlock()
		go func() {
			defer ds.handlers.Done()
			sctx, cancel := context.WithTimeout(ctx, sessionOpenTimeout)
			s, err := open(sctx, pid)
			cancel()
			ds.mu.Lock()
			delete(ds.opening, pid)
			ds.mu.Unlock()
			if err != nil {
				ds.noteError(pid, fmt.Errorf("open a sync stream: %w", err))
				return
			}
			ds.run(ctx, pid, s, true)
		}()
	}
}

// acceptSession is the /seedpod/sync/1 handler (paired peers only).
func (ds *deviceSync) acceptSession(s network.Stream) {
	ds.mu.Lock()
	if ds.closing {
		ds.mu.Unlock()
		s.Reset()
		return
	}
	ds.handlers.Add(1)
	ds.mu.Unlock()
	defer ds.handlers.Done()
	ds.run(ds.p.bgCtx, s.Conn().RemotePeer(), s, false)
}

// run runs a session with pid on s in the background, replacing a running
// one.
func (ds *deviceSync) run(ctx context.Context, pid peer.ID, s network.Stream, outbound bool) {
	key, err := p2p.DeviceKeyOf(pid)
	if err != nil {
		s.Reset()
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &syncRun{cancel: cancel, done: make(chan struct{}), outbound: outbound}
	ds.mu.Lock()
	if ds.closing || outbound && !ds.reachable(pid) {
		// stop collected the sessions already, or the peer was revoked (or
		// cut off) while its stream was being opened (inbound streams were
		// checked by the handler).
		ds.mu.Unlock()
		cancel()
		s.Reset()
		return
	}
	old := ds.sessions[pid]
	ds.sessions[pid] = r
	st := ds.peer(pid)
	st.LastSeen = ds.p.cfg.Now()
	ds.mu.Unlock()
	if old != nil {
		old.cancel()
	}
	ds.rememberAddrs(pid)
	ds.p.wg.Go(func() {
		defer close(r.done)
		defer cancel()
		if old != nil {
			<-old.done
		}
		opts := session.Options{
			Self: ds.p.log.ID(), Peer: key, Accept: ds.accept, Debounce: ds.cfg.Debounce, Logger: ds.log,
			OnFork: func(f session.ForkReport) {
				// Every session finds a known fork again at its Hello:
				// log each once.
				ds.mu.Lock()
				st := ds.peer(pid)
				known := st.Fork != nil && st.Fork.Log.Equal(f.Log) && st.Fork.Seq == f.Seq
				st.Fork = &f
				ds.mu.Unlock()
				if !known {
					ds.log.Error("device sync: a log forked", "log", f.Log.String(), "seq", f.Seq, "peer", pid.ShortString())
				}
			},
			OnRestored: func(l oplog.LogID) { ds.p.wg.Go(func() { ds.newEpoch(l) }) },
			OnProgress: func(st session.Stats) {
				ds.mu.Lock()
				p := ds.peer(pid)
				p.Stats, p.LastSeen = st, ds.p.cfg.Now()
				ds.mu.Unlock()
			},
		}
		stats, err := session.Run(rctx, s, replica{ds.p, ds}, opts)
		ds.mu.Lock()
		p := ds.peer(pid)
		p.Stats, p.LastSeen = stats, ds.p.cfg.Now()
		if err != nil && rctx.Err() == nil {
			p.LastError = clip(err.Error(), 300)
		}
		if ds.sessions[pid] == r {
			delete(ds.sessions, pid)
		}
		ds.mu.Unlock()
		if err != nil && rctx.Err() == nil {
			ds.log.Info("device sync: session ended", "peer", pid.ShortString(), "err", err)
		}
		ds.poke()
	})
}

// relayInterval is how often the relay's circuit relay is looked up again
// (a reservation, once made, is kept fresh by the host).
const relayInterval = 30 * time.Second

// relayLoop keeps a reservation on the identity's relay's circuit relay,
// so devices that cannot dial each other directly reach each other
// through it. Without a relay, or before any device was paired (the relay
// admits only listed devices), it waits and looks again.
func (ds *deviceSync) relayLoop(ctx context.Context) {
	reserved := ""
	for {
		if fed := ds.p.fed; fed != nil && len(ds.host.Paired()) > 0 {
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			info, err := fed.RelayP2P(lctx)
			if err == nil && (info.PeerID != reserved || !ds.relayConnected(info.PeerID)) {
				err = ds.reserve(lctx, info)
				if err == nil {
					reserved = info.PeerID
					ds.log.Info("device sync: reserved a slot on the relay's circuit relay", "relay", info.PeerID)
				}
			}
			cancel()
			if err != nil && ctx.Err() == nil {
				ds.log.Debug("device sync: the relay's circuit relay", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(relayInterval):
		case <-ds.relayWake:
		}
	}
}

// path is "direct" when a connection to pid is direct, else "relay".
func (ds *deviceSync) path(pid peer.ID) string {
	for _, c := range ds.host.Libp2p().Network().ConnsToPeer(pid) {
		if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT); err != nil {
			return "direct"
		}
	}
	return "relay"
}

// relayConnected: a connection to the relay is open (a relay that
// restarted has dropped the reservation with it).
func (ds *deviceSync) relayConnected(id string) bool {
	pid, err := peer.Decode(id)
	return err == nil && ds.host.Connected(pid)
}

func (ds *deviceSync) reserve(ctx context.Context, info relay.P2PInfo) error {
	pid, err := peer.Decode(info.PeerID)
	if err != nil {
		return fmt.Errorf("the relay's peer ID %q: %w", info.PeerID, err)
	}
	ai := peer.AddrInfo{ID: pid}
	for _, s := range info.Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	return ds.host.Reserve(ctx, ai)
}

// newEpoch: a peer holds this device's log old beyond its head — it was
// restored from an older copy. The log goes on in a new epoch and every
// session restarts with it. Several sessions may say so of the same log:
// only the first starts an epoch.
func (ds *deviceSync) newEpoch(old oplog.LogID) {
	ds.epochMu.Lock()
	defer ds.epochMu.Unlock()
	if !ds.p.log.ID().Equal(old) {
		return // an earlier report already moved on
	}
	ctx, cancel := context.WithTimeout(ds.p.bgCtx, 30*time.Second)
	defer cancel()
	id, err := ds.p.log.NewEpoch(ctx)
	if err != nil {
		ds.log.Error("device sync: start a new epoch", "err", err)
		return
	}
	ds.log.Warn("device sync: this device was restored from an older copy; its log goes on in a new epoch",
		"old", old.String(), "new", id.String())
	ds.mu.Lock()
	for _, r := range ds.sessions {
		r.cancel()
	}
	ds.mu.Unlock()
}

func (ds *deviceSync) peer(pid peer.ID) *peerState {
	st := ds.peers[pid]
	if st == nil {
		st = &peerState{}
		ds.peers[pid] = st
	}
	return st
}

func (ds *deviceSync) noteError(pid peer.ID, err error) {
	ds.mu.Lock()
	ds.peer(pid).LastError = clip(err.Error(), 300)
	ds.mu.Unlock()
}

// rememberAddrs stores the addresses a connected device is reached at,
// so it is found again after a restart.
func (ds *deviceSync) rememberAddrs(pid peer.ID) {
	var addrs []string
	for _, c := range ds.host.Libp2p().Network().ConnsToPeer(pid) {
		a := c.RemoteMultiaddr()
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			continue // a relayed path: the reservation gives it again
		}
		addrs = append(addrs, a.String())
	}
	for _, a := range ds.host.Libp2p().Peerstore().Addrs(pid) {
		addrs = append(addrs, a.String())
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	if len(addrs) > addrBookEntries {
		addrs = addrs[:addrBookEntries]
	}
	if len(addrs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ds.p.bgCtx, 5*time.Second)
	defer cancel()
	key, err := p2p.DeviceKeyOf(pid)
	if err != nil {
		return
	}
	if _, err := ds.p.db.W.ExecContext(ctx, `INSERT INTO device_addrs (device, addrs, seen_at) VALUES (?, ?, ?)
		ON CONFLICT (device) DO UPDATE SET addrs = excluded.addrs, seen_at = excluded.seen_at`,
		hex.EncodeToString(key), strings.Join(addrs, "\n"), ds.p.cfg.Now().UnixMilli()); err != nil {
		ds.log.Warn("device sync: remember addresses", "peer", pid.ShortString(), "err", err)
	}
}

// deviceAddrs reads the address book (local, never synced).
func (p *Pod) deviceAddrs(ctx context.Context) (map[peer.ID][]ma.Multiaddr, error) {
	rows, err := p.db.R.QueryContext(ctx, "SELECT device, addrs FROM device_addrs")
	if err != nil {
		return nil, fmt.Errorf("read device addresses: %w", err)
	}
	defer rows.Close()
	out := map[peer.ID][]ma.Multiaddr{}
	for rows.Next() {
		var dev, text string
		if err := rows.Scan(&dev, &text); err != nil {
			return nil, fmt.Errorf("read device addresses: %w", err)
		}
		key, err := hex.DecodeString(dev)
		if err != nil || len(key) != ed25519.PublicKeySize {
			continue
		}
		pid, err := p2p.PeerIDOf(ed25519.PublicKey(key))
		if err != nil {
			continue
		}
		for _, s := range strings.Split(text, "\n") {
			if a, err := ma.NewMultiaddr(s); err == nil {
				out[pid] = append(out[pid], a)
			}
		}
	}
	return out, rows.Err()
}

// replica is the store as session.Replica.
type replica struct {
	p  *Pod
	ds *deviceSync
}

func (r replica) Heads(ctx context.Context) ([]session.Head, error) {
	hs, err := r.p.db.Heads(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]session.Head, len(hs))
	for i, h := range hs {
		out[i] = session.Head{Log: h.Log, Head: h.Head}
	}
	return out, nil
}

func (r replica) Ops(ctx context.Context, log oplog.LogID, from uint64, limit int) ([]oplog.Signed, error) {
	return r.p.db.Ops(ctx, log, from, limit)
}

func (r replica) Apply(ctx context.Context, batch []oplog.Signed) (int, error) {
	res, err := r.p.log.Apply(ctx, batch)
	if errors.Is(err, store.ErrFork) {
		return 0, fmt.Errorf("%w: %w", session.ErrFork, err)
	}
	if err == nil && res.Applied > 0 {
		// Stored ops are news for the other sessions (forwarding to a
		// third device) even when their effect lost to newer ones and
		// the log's listeners heard nothing.
		r.ds.signalChanged()
	}
	return res.Applied, err
}

func (r replica) Changed() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	signal := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	cancel := r.p.log.Listen(func([]store.Change) { signal() })
	r.ds.changedMu.Lock()
	id := r.ds.changedID
	r.ds.changedID++
	r.ds.changedSubs[id] = signal
	r.ds.changedMu.Unlock()
	return ch, func() {
		cancel()
		r.ds.changedMu.Lock()
		delete(r.ds.changedSubs, id)
		r.ds.changedMu.Unlock()
	}
}

// signalChanged tells every session that ops were stored.
func (ds *deviceSync) signalChanged() {
	ds.changedMu.Lock()
	defer ds.changedMu.Unlock()
	for _, fn := range ds.changedSubs {
		fn()
	}
}

// PairingCode is an open pairing window as the settings screen shows it.
type PairingCode struct {
	Code    string    `json:"code"`
	QR      []byte    `json:"qr_png"` // base64 in JSON
	Expires time.Time `json:"expires_at"`
}

// OpenPairing opens a pairing window (PairingWindow long, single use) and
// returns its code. The identity and its key must be ready (and unlocked):
// they are what the new device receives.
func (p *Pod) OpenPairing(ctx context.Context) (PairingCode, error) {
	ds := p.sync
	if ds == nil {
		return PairingCode{}, ErrSyncOff
	}
	if _, err := p.pairingBundle(ctx, pair.Device{}); err != nil {
		return PairingCode{}, err
	}
	var addrs []string
	for _, a := range ds.host.Addrs() {
		addrs = append(addrs, a.String())
	}
	w, err := pair.NewWindow(ds.host.ID().String(), addrs, PairingWindow, p.cfg.Now())
	if err != nil {
		return PairingCode{}, err
	}
	qr, err := pair.QR(w.Code())
	if err != nil {
		return PairingCode{}, err
	}
	closeHost := ds.host.OpenPairingWindow(PairingWindow)
	ds.mu.Lock()
	if ds.closeWin != nil {
		ds.closeWin()
		ds.window.Close()
	}
	ds.window, ds.closeWin = w, closeHost
	ds.mu.Unlock()
	return PairingCode{Code: w.Code().Format(), QR: qr, Expires: w.Expires()}, nil
}

// ClosePairing closes the pairing window.
func (p *Pod) ClosePairing() error {
	ds := p.sync
	if ds == nil {
		return ErrSyncOff
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.window == nil {
		return ErrNotPairing
	}
	ds.closeWin()
	ds.window.Close()
	ds.window, ds.closeWin = nil, nil
	return nil
}

// acceptPairing is the /seedpod/pair/1 handler (only while a window is
// open): the existing device's side.
func (ds *deviceSync) acceptPairing(s network.Stream) {
	defer s.Close()
	ds.mu.Lock()
	w := ds.window
	if w == nil || ds.closing {
		ds.mu.Unlock()
		s.Reset()
		return
	}
	ds.handlers.Add(1)
	ds.mu.Unlock()
	defer ds.handlers.Done()
	ctx, cancel := context.WithTimeout(ds.p.bgCtx, joinTimeout)
	defer cancel()
	remote := s.Conn().RemotePeer()
	key, err := p2p.DeviceKeyOf(remote)
	if err != nil {
		s.Reset()
		return
	}
	dev, err := pair.Existing(ctx, s, w, remote.String(), func(d pair.Device) ([]byte, error) {
		// A revoked device cannot be registered again: refuse it before
		// it holds the identity, not after.
		if revoked, err := ds.p.deviceRevoked(ctx, key); err != nil {
			return nil, err
		} else if revoked {
			return nil, fmt.Errorf("%w: device %s was revoked; it cannot be paired again", ErrForbidden, remote)
		}
		b, err := ds.p.pairingBundle(ctx, d)
		if err != nil {
			return nil, err
		}
		return b.Marshal()
	})
	if err != nil {
		ds.log.Warn("device sync: pairing failed", "peer", remote.ShortString(), "err", err)
		return
	}
	// Used: the window closes before anything else.
	ds.mu.Lock()
	if ds.window == w {
		ds.closeWin()
		ds.window, ds.closeWin = nil, nil
	}
	ds.mu.Unlock()
	w.Close()
	// The new device holds the identity now: register it even when the pod
	// is closing (Close waits for this handler).
	ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := ds.p.RegisterDevices(ctx, map[string]string{hex.EncodeToString(key): dev.Name,
		hex.EncodeToString(ds.p.ThisDevice()): ds.name}); err != nil {
		ds.log.Error("device sync: register the paired device", "peer", remote.ShortString(), "err", err)
		return
	}
	ds.log.Info("device sync: paired a device", "peer", remote.ShortString(), "name", dev.Name)
	if err := ds.refresh(ctx); err != nil {
		ds.log.Error("device sync: read the registry", "err", err)
	}
	ds.rememberAddrs(remote)
	ds.poke()
}

// pairingBundle is what a new device receives: the identity, its key and
// the registry with the addresses known.
func (p *Pod) pairingBundle(ctx context.Context, _ pair.Device) (pair.Bundle, error) {
	me, err := p.db.Me(ctx)
	if err != nil {
		return pair.Bundle{}, err
	}
	if !me.Exists() {
		return pair.Bundle{}, fmt.Errorf("%w: create the identity before pairing another device", ErrNoIdentity)
	}
	k, err := p.IdentityKey(ctx)
	if err != nil {
		return pair.Bundle{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return pair.Bundle{}, fmt.Errorf("encode the identity key: %w", err)
	}
	relayURL, err := store.Field(ctx, p.db.R, RelayURLKey)
	if err != nil {
		return pair.Bundle{}, err
	}
	b := pair.Bundle{Version: pair.BundleVersion, Handle: me.Handle(), GUID: me.GUID, RelayURL: relayURL, RSAKey: der}
	devs, err := store.Devices(ctx, p.db.R)
	if err != nil {
		return pair.Bundle{}, err
	}
	ds := p.sync
	self := hex.EncodeToString(p.ThisDevice())
	selfListed := false
	for _, d := range devs {
		if d.Revoked {
			continue
		}
		pid, err := p2p.PeerIDOf(ed25519.PublicKey(d.Key))
		if err != nil {
			continue
		}
		bd := pair.BundleDevice{Peer: pid.String(), Name: d.Name}
		if hex.EncodeToString(d.Key) == self {
			selfListed = true
			if bd.Name == "" && ds != nil {
				bd.Name = ds.name
			}
		}
		if ds != nil {
			for _, a := range ds.host.Libp2p().Peerstore().Addrs(pid) {
				bd.Addrs = append(bd.Addrs, a.String())
			}
			if hex.EncodeToString(d.Key) == self {
				bd.Addrs = nil
				for _, a := range ds.host.Addrs() {
					bd.Addrs = append(bd.Addrs, a.String())
				}
			}
		}
		if bd.Name == "" {
			bd.Name = "Seedpod device"
		}
		if len(bd.Addrs) > 8 {
			bd.Addrs = bd.Addrs[:8]
		}
		b.Devices = append(b.Devices, bd)
	}
	if !selfListed && ds != nil {
		bd := pair.BundleDevice{Peer: ds.host.ID().String(), Name: ds.name}
		for _, a := range ds.host.Addrs() {
			if len(bd.Addrs) < 8 {
				bd.Addrs = append(bd.Addrs, a.String())
			}
		}
		b.Devices = append(b.Devices, bd)
	}
	return b, nil
}

// JoinResult is what joining an identity gave this device.
type JoinResult struct {
	Handle  string   `json:"handle"`
	GUID    string   `json:"guid"`
	Devices []string `json:"devices"` // peer IDs of the identity's devices, this one included
}

// Join makes this fresh pod another device of the identity whose device
// shows code: it proves the code's secret, receives the identity key and
// the registry, and syncs the whole history from then on. Only a pod
// without an identity (and without a key) can join.
func (p *Pod) Join(ctx context.Context, codeText string) (JoinResult, error) {
	ds := p.sync
	if ds == nil {
		return JoinResult{}, ErrSyncOff
	}
	// Two joins at once would both pass the check below and pair with two
	// devices (two identities, perhaps): one at a time.
	ds.joinMu.Lock()
	defer ds.joinMu.Unlock()
	me, err := p.db.Me(ctx)
	if err != nil {
		return JoinResult{}, err
	}
	if _, has, err := p.storedKey(ctx); err != nil {
		return JoinResult{}, err
	} else if me.Exists() || has {
		return JoinResult{}, fmt.Errorf("%w: this Seedpod already has an identity; only a fresh one can join another", ErrConflict)
	}
	code, err := pair.ParseCode(codeText, p.cfg.Now())
	if err != nil {
		return JoinResult{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	pid, err := peer.Decode(code.Peer)
	if err != nil {
		return JoinResult{}, fmt.Errorf("%w: the code's device: %v", ErrInvalid, err)
	}
	if pid == ds.host.ID() {
		return JoinResult{}, fmt.Errorf("%w: the code is this device's own", ErrInvalid)
	}
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	closeWin, err := ds.host.OpenPairingWindowFor(pid, joinTimeout)
	if err != nil {
		return JoinResult{}, err
	}
	defer closeWin()
	var addrs []ma.Multiaddr
	for _, s := range code.Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			addrs = append(addrs, a)
		}
	}
	if err := ds.host.SetAddrs(pid, addrs); err != nil {
		return JoinResult{}, fmt.Errorf("%w: the code's addresses: %v", ErrInvalid, err)
	}
	s, err := ds.host.NewStream(ctx, pid, pair.ProtocolID)
	if err != nil {
		return JoinResult{}, fmt.Errorf("%w: reach the device that shows the code (is its pairing window open, on a network this device reaches?): %v",
			ErrUnavailable, err)
	}
	version := p.cfg.Version
	if version == "" {
		version = "unknown" // pairing requires one; a build without -X main.version has none
	}
	raw, err := pair.Join(ctx, s, code, pair.Device{Peer: ds.host.ID().String(), Name: ds.name, Version: version})
	s.Close()
	if err != nil {
		if errors.Is(err, pair.ErrRefused) || errors.Is(err, pair.ErrBadProof) {
			return JoinResult{}, fmt.Errorf("%w: pairing refused: %v", ErrForbidden, err)
		}
		return JoinResult{}, fmt.Errorf("%w: pairing: %v", ErrUnavailable, err)
	}
	// The existing device registers this one now: what follows is not
	// given up when the caller goes away (a closed browser tab).
	ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	b, err := pair.ParseBundle(raw)
	if err != nil {
		return JoinResult{}, fmt.Errorf("pairing: %w", err)
	}
	if _, err := id.Normalize(b.Handle); err != nil {
		return JoinResult{}, fmt.Errorf("pairing: the identity %q: %w", b.Handle, err)
	}
	k, err := b.RSAPrivateKey()
	if err != nil {
		return JoinResult{}, fmt.Errorf("pairing: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return JoinResult{}, err
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	devs := map[string]string{hex.EncodeToString(p.ThisDevice()): ds.name}
	res := JoinResult{Handle: b.Handle, GUID: b.GUID, Devices: []string{ds.host.ID().String()}}
	for _, d := range b.Devices {
		dpid, err := peer.Decode(d.Peer)
		if err != nil {
			continue
		}
		key, err := p2p.DeviceKeyOf(dpid)
		if err != nil {
			continue
		}
		devs[hex.EncodeToString(key)] = d.Name
		res.Devices = append(res.Devices, d.Peer)
		var as []ma.Multiaddr
		for _, s := range d.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				as = append(as, a)
			}
		}
		if dpid == pid {
			as = append(as, addrs...)
		}
		if len(as) > 0 {
			ds.host.Libp2p().Peerstore().AddAddrs(dpid, as, time.Hour)
		}
	}
	// The key and the registry are stored together: a pod holding the key
	// without the registry would never sync (it trusts no device) and
	// could not join again (it holds a key).
	if err := checkDevices(devs); err != nil {
		return JoinResult{}, fmt.Errorf("pairing: the registry: %w", err)
	}
	if err := p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := w.ExecContext(ctx, "INSERT INTO identity_key (id, pem, created_at) VALUES (1, ?, ?)",
			pemText, p.cfg.Now().UnixMilli()); err != nil {
			return fmt.Errorf("store the identity key: %w", err)
		}
		return p.registerDevices(ctx, w, devs)
	}); err != nil {
		return JoinResult{}, err
	}
	if err := ds.refresh(ctx); err != nil {
		return JoinResult{}, err
	}
	ds.log.Info("device sync: joined an identity", "handle", b.Handle, "devices", len(res.Devices))
	ds.poke()
	p.federationWake()
	return res, nil
}

// DeviceInfo is one device as the devices screen shows it.
type DeviceInfo struct {
	ID      string `json:"id"`  // libp2p peer ID
	Key     string `json:"key"` // Ed25519 public key, hex
	Name    string `json:"name"`
	This    bool   `json:"this"`
	Revoked bool   `json:"revoked"`
	// Connected and the rest are this device's view of the other (not
	// synced).
	Connected bool `json:"connected"`
	// Path is how it is connected: "direct", or "relay" (through the
	// relay's circuit relay); "" when not connected.
	Path      string     `json:"path,omitempty"`
	Syncing   bool       `json:"syncing"`
	CaughtUp  bool       `json:"caught_up"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	OpsSent   int        `json:"ops_sent"`
	OpsIn     int        `json:"ops_received"`
	LastError string     `json:"last_error,omitempty"`
	Fork      *ForkInfo  `json:"fork,omitempty"`
}

// ForkInfo reports a forked log.
type ForkInfo struct {
	Log string `json:"log"`
	Seq uint64 `json:"seq"`
}

// Devices lists the identity's devices with their sync state.
func (p *Pod) Devices(ctx context.Context) ([]DeviceInfo, error) {
	devs, err := store.Devices(ctx, p.db.R)
	if err != nil {
		return nil, err
	}
	self := hex.EncodeToString(p.ThisDevice())
	selfSeen := false
	var out []DeviceInfo
	add := func(key []byte, name string, revoked bool) {
		k := hex.EncodeToString(key)
		pid, err := p2p.PeerIDOf(ed25519.PublicKey(key))
		if err != nil {
			return
		}
		d := DeviceInfo{ID: pid.String(), Key: k, Name: name, This: k == self, Revoked: revoked}
		if ds := p.sync; ds != nil {
			if d.This && d.Name == "" {
				d.Name = ds.name
			}
			if !d.This {
				d.Connected = ds.host.Connected(pid)
				if d.Connected {
					d.Path = ds.path(pid)
				}
				ds.mu.Lock()
				_, d.Syncing = ds.sessions[pid]
				if st := ds.peers[pid]; st != nil {
					if !st.LastSeen.IsZero() {
						t := st.LastSeen.UTC()
						d.LastSeen = &t
					}
					d.CaughtUp, d.OpsSent, d.OpsIn, d.LastError = st.Stats.CaughtUp, st.Stats.OpsSent, st.Stats.OpsReceived, st.LastError
					if st.Fork != nil {
						d.Fork = &ForkInfo{Log: st.Fork.Log.String(), Seq: st.Fork.Seq}
					}
				}
				ds.mu.Unlock()
			}
		}
		out = append(out, d)
	}
	for _, d := range devs {
		if hex.EncodeToString(d.Key) == self {
			selfSeen = true
		}
		add(d.Key, d.Name, d.Revoked)
	}
	if !selfSeen {
		add(p.ThisDevice(), "", false)
	}
	slices.SortFunc(out, func(a, b DeviceInfo) int {
		switch {
		case a.This != b.This:
			if a.This {
				return -1
			}
			return 1
		case a.Revoked != b.Revoked:
			if b.Revoked {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name+a.Key, b.Name+b.Key)
	})
	return out, nil
}

// SyncStatus is device sync as the devices screen shows it.
type SyncStatus struct {
	On     bool     `json:"on"`
	PeerID string   `json:"peer_id,omitempty"`
	Addrs  []string `json:"addrs"`
	// Pairing: a pairing window is open until then.
	Pairing *time.Time `json:"pairing_until,omitempty"`
	Error   string     `json:"error,omitempty"` // why sync is off
}

// SyncStatus reports device sync.
func (p *Pod) SyncStatus() SyncStatus {
	ds := p.sync
	if ds == nil {
		st := SyncStatus{Addrs: []string{}}
		if p.syncErr != nil {
			st.Error = p.syncErr.Error()
		}
		return st
	}
	st := SyncStatus{On: true, PeerID: ds.host.ID().String(), Addrs: p.SyncAddrs()}
	ds.mu.Lock()
	if ds.window != nil && ds.window.Check(p.cfg.Now()) == nil {
		t := ds.window.Expires().UTC()
		st.Pairing = &t
	}
	ds.mu.Unlock()
	return st
}

// SyncAddrs are this device's libp2p addresses (with its peer ID), for
// tests and the settings screen; nil without sync.
func (p *Pod) SyncAddrs() []string {
	ds := p.sync
	if ds == nil {
		return nil
	}
	var out []string
	for _, a := range ds.host.Addrs() {
		out = append(out, a.String()+"/p2p/"+ds.host.ID().String())
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xc0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
