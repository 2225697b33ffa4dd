package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"seedpod/sync/p2p"
)

// The relay's circuit relay v2 service (Config.P2PListen): the devices of
// the identities it hosts — exactly those their owners listed (PUT
// /devices) — may reserve a slot and reach each other through it when they
// cannot dial each other directly; a circuit joins two devices of one
// identity only. Nothing else may connect.
//
// A device key may be listed by several identities (PUT /devices takes
// any key: the relay cannot tell whose device it is), so the map holds
// every identity that lists a device (Relay.devices), and a circuit needs one identity
// that lists both ends: another identity listing a device key can never
// cut that device off from its own identity's devices. (It can reach the
// key it listed through the relay; the device's own gater refuses it.)

// P2PInfo is how devices reach the relay's circuit relay (GET /p2p).
type P2PInfo struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
}

// startP2P starts the service with the relay's persistent key.
func (r *Relay) startP2P(ctx context.Context) error {
	key, err := r.p2pKey(ctx)
	if err != nil {
		return err
	}
	if err := r.reloadDevices(ctx); err != nil {
		return err
	}
	svc, err := p2p.NewRelayService(ctx, p2p.RelayConfig{Key: key, ListenAddrs: r.cfg.P2PListen, Logger: r.log,
		Allowed: r.deviceListed, AllowConnect: r.sameIdentity})
	if err != nil {
		return fmt.Errorf("relay: circuit relay service: %w", err)
	}
	r.p2p = svc
	r.log.Info("circuit relay for devices", "peer", svc.ID().String(), "addrs", svc.AddrInfo().Addrs)
	return nil
}

// deviceListed: an identity this relay hosts lists p.
func (r *Relay) deviceListed(p peer.ID) bool {
	return len((*r.devices.Load())[p]) > 0
}

// sameIdentity: one identity lists both src and dst.
func (r *Relay) sameIdentity(src, dst peer.ID) bool {
	m := *r.devices.Load()
	for _, u := range m[src] {
		if slices.Contains(m[dst], u) {
			return true
		}
	}
	return false
}

// p2pKey reads the relay's libp2p key, creating it on first use.
func (r *Relay) p2pKey(ctx context.Context) (ed25519.PrivateKey, error) {
	var seed []byte
	err := r.db.W.QueryRowContext(ctx, "SELECT seed FROM p2p_key WHERE id = 1").Scan(&seed)
	if errors.Is(err, sql.ErrNoRows) {
		seed = make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		_, err = r.db.W.ExecContext(ctx, "INSERT INTO p2p_key (id, seed) VALUES (1, ?)", seed)
	}
	if err != nil {
		return nil, fmt.Errorf("relay: libp2p key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("relay: libp2p key: %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// reloadDevices rebuilds the device → identity map the service admits by.
func (r *Relay) reloadDevices(ctx context.Context) error {
	rows, err := r.db.R.QueryContext(ctx, "SELECT device, username FROM devices")
	if err != nil {
		return fmt.Errorf("relay: read devices: %w", err)
	}
	defer rows.Close()
	m := map[peer.ID][]string{}
	for rows.Next() {
		var dev, user string
		if err := rows.Scan(&dev, &user); err != nil {
			return fmt.Errorf("relay: read devices: %w", err)
		}
		k, err := hex.DecodeString(dev)
		if err != nil || len(k) != ed25519.PublicKeySize {
			continue
		}
		pid, err := p2p.PeerIDOf(ed25519.PublicKey(k))
		if err != nil {
			continue
		}
		m[pid] = append(m[pid], user)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.devices.Store(&m)
	return nil
}

// devicesChanged reloads the map after the device lists changed; a failure
// keeps the old map (logged).
func (r *Relay) devicesChanged(ctx context.Context) {
	if r.p2p == nil {
		return
	}
	before := *r.devices.Load()
	if err := r.reloadDevices(ctx); err != nil {
		r.log.Error("relay: reload devices", "err", err)
		return
	}
	// A device no identity lists any more (revoked, or its account
	// deleted) loses its connection, reservation and circuits now, not
	// when its reservation expires.
	now := *r.devices.Load()
	for p := range before {
		if len(now[p]) == 0 {
			if err := r.p2p.ClosePeer(p); err != nil {
				r.log.Warn("relay: disconnect a removed device", "peer", p.String(), "err", err)
			}
		}
	}
}

// getP2P: GET /p2p — the circuit relay's peer ID and addresses; 404 when
// the relay runs none.
func (r *Relay) getP2P(w http.ResponseWriter, req *http.Request, _ string, _ []byte) {
	if r.p2p == nil {
		jsonError(w, http.StatusNotFound, "no_p2p", "this relay runs no circuit relay for devices")
		return
	}
	ai := r.p2p.AddrInfo()
	info := P2PInfo{PeerID: ai.ID.String(), Addrs: []string{}}
	for _, a := range ai.Addrs {
		info.Addrs = append(info.Addrs, a.String())
	}
	writeJSON(w, http.StatusOK, info)
}
