-- 0001: the relay's identities, enrollment invites, the durable inbox and
-- the owner API's replay guard. The relay never stores a private key.

-- One row per hosted identity (username@domain). public_key is the
-- identity's SubjectPublicKeyInfo PEM; profile is the public profile JSON.
CREATE TABLE identities (
    username   TEXT PRIMARY KEY NOT NULL,
    guid       TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    profile    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    acked      INTEGER NOT NULL DEFAULT 0 -- inbox rows up to this id are acknowledged
) STRICT;

-- One-time enrollment codes, kept as SHA-256 so a copy of the database
-- does not hand out identities.
CREATE TABLE invites (
    code_hash  BLOB PRIMARY KEY NOT NULL,
    username   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

-- What remote pods delivered, exactly as received. username is NULL for
-- the public route (every hosted identity may read it) and the recipient
-- for /receive/users/:guid (private deliveries stay ciphertext).
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT REFERENCES identities(username) ON DELETE CASCADE,
    received_at  INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body         BLOB NOT NULL
) STRICT;
CREATE INDEX inbox_by_user ON inbox (username, id);

-- Owner-request nonces, remembered until their timestamp leaves the
-- accepted clock window.
CREATE TABLE nonces (
    username   TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (username, nonce)
) STRICT, WITHOUT ROWID;
CREATE INDEX nonces_by_expiry ON nonces (expires_at);
