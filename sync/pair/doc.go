// Package pair owns device pairing (/seedpod/pair/1, docs/sync.md "Pairing"): the pairing
// code an existing device shows (text and QR), the pairing window that guards its secret,
// the proofs of the secret bound to both peer IDs, and the sealed provisioning bundle.
//
// It is pure: it runs over any io.ReadWriter the caller hands it (a libp2p stream, a
// net.Pipe in tests) and trusts the caller for one thing only, the remote peer ID, which the
// transport (Noise/TLS) has authenticated. It must not import the libp2p host, the network,
// the database or anything under pod/; of libp2p it uses only core/peer to parse peer IDs,
// and of multiformats only go-multiaddr to check addresses.
//
// # The exchange
//
// E is the existing device (Existing), N the new one (Join). N dialled E's pinned peer ID,
// so the transport already proved to N that it talks to E; E admits N's unknown peer ID only
// for this protocol, only while a Window is open.
//
//	(1) N → E  Hello  {protocol version, N's peer ID, mac_N}
//	(2) E → N  Accept {mac_E}                           (or Refuse)
//	(3) N → E  Info   {N's device name, app version}    (or Refuse: E's MAC was wrong)
//	(4) E → N  Bundle {nonce, XChaCha20-Poly1305 box}   (or Refuse)
//	(5) N → E  Done   {mac_D over the box}              (or Refuse: the box did not open)
//
//	mac_N = HMAC-SHA256(secret, enc("seedpod-pair-v1 N", E, N))
//	mac_E = HMAC-SHA256(secret, enc("seedpod-pair-v1 E", E, N))
//	mac_D = HMAC-SHA256(secret, enc("seedpod-pair-v1 done", E, N, SHA-256(box)))
//	key   = HKDF-SHA256(secret, salt = enc(E, N), info = "seedpod identity transfer v1")
//	AD    = enc("seedpod-pair-v1 bundle", E, N, protocol version)
//
// enc is a length-prefixed encoding (a 2-byte big-endian length before every part) of the
// binary peer IDs, so no two different (E, N) pairs encode alike. Every frame is one type
// byte, a 4-byte big-endian length and the body; a frame is at most 64 KiB except the
// bundle (1 MiB of plaintext plus the AEAD overhead); a reader refuses an oversized frame
// from its header and allocates in step with the data that arrives, not with the length a
// peer announces.
//
// # Decisions beyond docs/sync.md
//
//   - Who proves first. N proves first because E faces strangers: during the window E's gater
//     admits one unknown peer, so whatever E sent first would go to anyone. N only talks to
//     the peer ID pinned in the code, authenticated by the transport.
//   - What N reveals before E has proven the secret: its peer ID (the transport revealed it
//     already) and mac_N, nothing else. mac_N is useful only to someone who holds the secret:
//     to anyone else it is an HMAC under an unknown 128-bit key, which allows an offline
//     guessing attack of 2^128 work (this is why the secret must be long; a short typed code
//     would need a PAKE, ../shared/notes/sync.md §2.2). It cannot be replayed to E from
//     another connection (it is bound to N's peer ID, and E checks it against the peer the
//     transport authenticated) nor reflected as mac_E (different label). N's device name and
//     version (design step 1 put them in Hello) move to Info, sent only after N has checked
//     mac_E, so a peer that lacks the secret learns not even the device's name.
//   - Done. N confirms with mac_D that the bundle opened; Existing returns the new Device only
//     then, so E adds to its registry only a device that holds the identity. If Done is lost,
//     N holds the identity but E did not register it: pair again with a new window.
//   - Single use. The window is reserved when a proof succeeds (a second device gets ErrUsed)
//     and used up as soon as the bundle is written. A failure before that (the bundle callback
//     failed, N refused mac_E, the stream broke) releases it for another try, since nothing
//     secret left E. Three failed proofs burn the window; so does a Hello naming a peer other
//     than the authenticated one (a relayed man in the middle).
//   - The code's text is seedpod-pair:1:<peer>:<secret>:<expires>:<addrs>:<check> (Code.Format):
//     base32 secret, Unix-seconds expiry, comma-separated multiaddrs (IPv6 colons are fine: the
//     check is after the last ':'), and 40 bits of SHA-256 over the rest as a typo check. At
//     most MaxCodeLen (400) characters and MaxAddrs (8) addresses; NewWindow keeps the caller's
//     addresses in order while they fit. ParseCode ignores whitespace and zero-width characters
//     (wrapped lines), nothing else. Code prints (String, %v) with its secret redacted.
//   - The code carries an expiry (Unix seconds) so N can say "expired" before dialling;
//     ParseCode allows MaxClockSkew of clock difference between the two devices. E's Window
//     is what enforces the expiry.
//   - Deadlines. Each step gets the earlier of the ctx deadline and StepTimeout; cancelling
//     the ctx interrupts a blocked read or write when the stream has SetDeadline (net.Conn,
//     libp2p network.Stream); otherwise the ctx is checked between steps only.
//   - Refusals. A side that detects bad input (a bad proof, an expired window, a malformed or
//     oversized frame, a box that does not open) sends Refuse{reason, text} before returning,
//     with a short deadline of its own; the other side gets a *RefusedError that matches both
//     ErrRefused and the reason's sentinel (ErrBadProof, ErrExpired, …). I/O errors get no
//     refusal. The caller closes the stream.
//   - Bundle is the bundle's content as the pod fills it (identity handle, GUID, relay URL, the
//     RSA key as PKCS#8 DER, the device registry with addresses), JSON, read strictly by
//     ParseBundle. Its handle check is a syntax floor; the pod normalises with
//     pod/diaspora/id, which this package does not import.
package pair
