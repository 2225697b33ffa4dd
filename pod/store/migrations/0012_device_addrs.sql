-- 0012: where this device last reached each of the identity's other
-- devices (libp2p multiaddrs, one per line), so it finds them again after
-- a restart. Local only: never in an op, never synced.
CREATE TABLE device_addrs (
    device  TEXT PRIMARY KEY NOT NULL, -- Ed25519 public key, hex
    addrs   TEXT NOT NULL,
    seen_at INTEGER NOT NULL           -- ms
) STRICT;
