-- 0003: pre-signed public entities. A device publishes the public entities
-- it signed (status messages, reshares, comments, likes, photos, its
-- profile…) as magic envelopes; the relay verified each one against the
-- identity's key and serves it exactly as stored on /fetch/:type/:guid, the
-- /posts pages and the Atom feed. (type, guid) is unique: an identity may
-- replace its own entity (an edit), never another identity's.
CREATE TABLE published (
    username   TEXT NOT NULL REFERENCES identities(username) ON DELETE CASCADE,
    type       TEXT NOT NULL, -- entity type, snake_case ("status_message", …)
    guid       TEXT NOT NULL, -- entity GUID; the person GUID for a profile
    envelope   BLOB NOT NULL, -- the magic envelope document, as signed
    created_at INTEGER NOT NULL, -- the entity's created_at (else when first stored)
    updated_at INTEGER NOT NULL, -- when the relay last stored it
    poll_guid  TEXT, -- a status message's poll, for /fetch/poll/:guid
    PRIMARY KEY (type, guid)
) STRICT;
CREATE INDEX published_by_user ON published (username, type, created_at);
CREATE UNIQUE INDEX published_by_poll ON published (poll_guid) WHERE poll_guid IS NOT NULL;
