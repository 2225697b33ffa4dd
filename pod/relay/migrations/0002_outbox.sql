-- 0002: the outbox. Devices hand over envelopes they signed (and, for
-- private audiences, encrypted per recipient); the relay delivers them with
-- retries. Once delivered or failed, a row keeps its status but not its
-- body, and goes after outboxKeep. (username, guid, recipient) is unique: several devices may hand
-- the same item, and it is delivered once.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL REFERENCES identities(username) ON DELETE CASCADE,
    guid            TEXT NOT NULL,
    recipient       TEXT NOT NULL, -- the remote pod's receive URL
    host            TEXT NOT NULL, -- its host, normalised: the unit of per-pod concurrency
    content_type    TEXT NOT NULL,
    body            BLOB NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'default', -- 'contact' is retried longer, as diaspora does
    state           TEXT NOT NULL DEFAULT 'queued', -- queued, sending, retrying, delivered, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (username, guid, recipient)
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_user ON outbox (username, state);
