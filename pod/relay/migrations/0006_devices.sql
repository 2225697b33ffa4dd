-- 0006: the devices of each identity, as its owner's pod lists them
-- (PUT /devices; the pod's device registry without the revoked ones).
-- Each device pulls the inbox with a cursor of its own, so every device
-- receives every item in order (device sync then applies each entity
-- once); the identity's acked is what every active device acknowledged,
-- and what deletion goes by. A device that has not acknowledged anything
-- for deviceIdle no longer holds items back: its peers pass it what it
-- missed. The keys also admit the devices to the relay's circuit relay.
CREATE TABLE devices (
    username TEXT NOT NULL REFERENCES identities (username) ON DELETE CASCADE,
    device   TEXT NOT NULL, -- Ed25519 public key, 64 lowercase hex digits
    acked    INTEGER NOT NULL,
    seen_at  INTEGER NOT NULL, -- ms: added, or last acknowledgement
    PRIMARY KEY (username, device)
) STRICT, WITHOUT ROWID;
CREATE INDEX devices_device ON devices (device);
