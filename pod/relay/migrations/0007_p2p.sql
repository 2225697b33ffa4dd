-- 0007: the relay's own libp2p key (its circuit relay v2 service for the
-- devices of the identities it hosts, docs/sync.md). Not a device key and
-- not an identity key: it only names the relay to the devices.
CREATE TABLE p2p_key (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seed BLOB NOT NULL -- Ed25519 seed, 32 bytes
) STRICT;
