// Package p2p is the libp2p host a Seedpod device runs, and the circuit relay service
// `seedpod relay` runs. It owns transport, admission and discovery; protocol logic (the sync
// session, pairing) lives in sync/session and sync/pair and is plugged in with Handle as
// stream handlers over network.Stream (an io.ReadWriteCloser with deadlines).
//
// It must not import the pod, its store, sync/session or sync/pair: it knows peer IDs, not
// logs or identities. Who is paired comes in through SetPaired; the relay learns whom to
// serve through RelayConfig.Allowed.
//
// # Identity
//
// The device key is the op-log key: NewHost takes the ed25519.PrivateKey the pod owns, and
// the peer ID derives from it (PeerIDOf, DeviceKeyOf convert both ways, canonical form only).
//
// # Transport
//
// go-libp2p v0.51 with TCP and QUIC v1, Noise and TLS (QUIC brings its own TLS 1.3), yamux,
// no PSK (a PSK would rule out QUIC, and with it the hole punching that works in practice),
// metrics off, fixed small resource limits and a connection manager (limits.go).
//
// # Admission
//
// An allowlist ConnectionGater admits the paired set (SetPaired), the relays this host
// reserved a slot on, and, while a pairing window is open, unknown peers (at most 8). Every
// stream is checked again in Handle: AdmitPaired protocols serve only paired peers,
// AdmitPairing protocols only peers an open window admits; anyone else's stream is reset.
// So a peer admitted by a pairing window can open only the pairing protocol, and a relay
// only the relay protocols go-libp2p handles itself. Removing a peer from the paired set
// closes its connections; closing a window (or its expiry) closes the unknown peers' ones.
//
// With allowlists on both sides, Connect returning nil does not mean the remote admitted
// us: the dialer finishes its half of the handshake before the remote's gater closes the
// connection. The sync Hello and the pairing Accept decide.
//
// # Discovery and reconnecting
//
// mDNS (_seedpod-sync._udp, Config.MDNS, off by default) only records addresses of paired
// peers and pokes the reconnect loop; it never dials unpaired ones. The reconnect loop keeps
// paired peers connected: on a disconnect, on a poke (pairing, SetAddrs, an mDNS find) and
// every 30 s, with a per-peer backoff of 1 s doubling to 30 s, at most 4 dials at once.
//
// # Relay and hole punching
//
// Reserve keeps a circuit relay v2 reservation on the user's relay (refreshed before expiry
// and when the relay connection drops) and adds <relay>/p2p-circuit addresses for every
// paired peer, so a peer that cannot be dialled directly is reached through the relay.
// RelayService is the relay side: an ACL over the caller's Allowed func, applied as the
// relay host's gater and to every reservation and circuit, and no per-circuit limits
// (relayed connections are not "limited"). NewStream still passes
// network.WithAllowLimitedConn so that it also works through a limited third-party relay.
// Devices enable hole punching (DCUtR): a relayed connection is upgraded to a direct one
// when both sides learn a public address; long-lived streams on the relayed connection are
// not moved — the sync session resumes from durable heads on the new connection.
//
// # Logging
//
// This package logs through the slog.Logger in Config; RouteLibp2pLogs routes go-libp2p's
// own logs (gologshim) to a slog handler once per process.
package p2p
