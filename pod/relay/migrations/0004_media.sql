-- 0004: public media (avatars, photos of public posts) the relay serves for
-- its identities at /media/<username>/<name>. The bytes are files in the
-- data directory under media/<username>/<name>; this table is the authority
-- on what exists. name is derived from the content (<sha256 hex[:32]>.<ext>),
-- never chosen by a client, so identical uploads share one row. size counts
-- against the identity's quota.
CREATE TABLE media (
    username     TEXT NOT NULL REFERENCES identities(username) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL, -- hex of the whole content; the ETag
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (username, name)
) STRICT, WITHOUT ROWID;
