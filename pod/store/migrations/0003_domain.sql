-- 0003: the domain tables the API reads, projected from the fold
-- (st_* tables of 0002) by pod/store/project*.go. Nothing here is a source
-- of truth: a refold clears these tables and rebuilds them from the ops.
--
-- Conventions (docs/data-model.md):
-- * Times are ms since the Unix epoch (UTC).
-- * author is the diaspora* ID (user@host) of a remote author; own = 1 marks
--   the user's own rows, whose author is '' (the identity's handle can change
--   when a relay is set up or the identity moves).
-- * id columns of posts, comments and messages are "time ids":
--   created_at * 1024 + (a hash of the guid mod 1024), probed upwards on a
--   collision, so ORDER BY id is creation order with a stable tie-break and
--   FTS5 can walk its rowids newest first.

-- People: every person the pod knows, from discovery ("person" received
-- records) and profile entities. guid is the person's diaspora* guid.
CREATE TABLE people (
    guid           TEXT PRIMARY KEY NOT NULL,
    handle         TEXT NOT NULL UNIQUE,      -- diaspora* ID, lowercase
    first_name     TEXT NOT NULL DEFAULT '',
    last_name      TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL DEFAULT '',  -- display name
    avatar_small   TEXT NOT NULL DEFAULT '',  -- URLs
    avatar_medium  TEXT NOT NULL DEFAULT '',
    avatar_large   TEXT NOT NULL DEFAULT '',
    bio            TEXT NOT NULL DEFAULT '',
    location       TEXT NOT NULL DEFAULT '',
    gender         TEXT NOT NULL DEFAULT '',
    birthday       TEXT NOT NULL DEFAULT '',  -- YYYY-MM-DD or --MM-DD or ''
    tags           TEXT NOT NULL DEFAULT '[]',-- JSON array
    searchable     INTEGER NOT NULL DEFAULT 1,
    nsfw           INTEGER NOT NULL DEFAULT 0,
    public_details INTEGER NOT NULL DEFAULT 0,
    public_key     TEXT NOT NULL DEFAULT '',  -- PEM
    sharing        INTEGER NOT NULL DEFAULT 0,-- they share with me (their Contact)
    updated_at     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX people_name ON people (name COLLATE NOCASE);

-- Aspects: from aspect/<id>/name and aspect/<id>/order fields. A deleted
-- aspect (empty name) has no row.
CREATE TABLE aspects (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL,
    ord   INTEGER NOT NULL
) STRICT;

-- Contacts: one row per person the user shares with (member of at least one
-- live aspect) or who shares with the user; receiving = I share with them.
CREATE TABLE contacts (
    person_guid TEXT PRIMARY KEY NOT NULL,
    receiving   INTEGER NOT NULL,   -- I share with them (in an aspect)
    sharing     INTEGER NOT NULL    -- they share with me
) STRICT, WITHOUT ROWID;

-- Posts: status messages and reshares, own and received.
CREATE TABLE posts (
    id          INTEGER PRIMARY KEY,          -- time id
    guid        TEXT NOT NULL UNIQUE,
    own         INTEGER NOT NULL,
    author      TEXT NOT NULL,                -- handle; '' when own
    post_type   TEXT NOT NULL,                -- 'StatusMessage' | 'Reshare'
    root_guid   TEXT NOT NULL DEFAULT '',     -- reshares: the original
    public      INTEGER NOT NULL,
    text        TEXT NOT NULL DEFAULT '',     -- Markdown source (latest version)
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER NOT NULL DEFAULT 0,
    interacted_at INTEGER NOT NULL,           -- last comment (or creation)
    nsfw        INTEGER NOT NULL DEFAULT 0,
    provider    TEXT NOT NULL DEFAULT '',
    photos      TEXT NOT NULL DEFAULT '[]',   -- JSON: photo guids in order
    poll        TEXT NOT NULL DEFAULT '',     -- JSON: {guid, question, answers:[{id, answer}]} or ''
    location    TEXT NOT NULL DEFAULT '',     -- JSON: {address, lat, lng} or ''
    aspect_ids  TEXT NOT NULL DEFAULT '[]',   -- own limited posts: the chosen aspects
    recipients  TEXT NOT NULL DEFAULT '[]'    -- own limited posts: frozen recipients (person guids)
) STRICT;
CREATE INDEX posts_author ON posts (author, id);
CREATE INDEX posts_own ON posts (own, id);
CREATE INDEX posts_public ON posts (public, id);
CREATE INDEX posts_root ON posts (root_guid) WHERE root_guid <> '';
CREATE INDEX posts_interacted ON posts (interacted_at);

-- Versions of own posts (edits) and of received posts (edited_at), newest last.
CREATE TABLE post_versions (
    post_guid  TEXT NOT NULL,
    edited_at  INTEGER NOT NULL,
    text       TEXT NOT NULL,
    source     TEXT NOT NULL,    -- the guid of the edit publish, or the post's own
    PRIMARY KEY (post_guid, edited_at, source)
) STRICT, WITHOUT ROWID;

CREATE TABLE post_tags (
    tag       TEXT NOT NULL,      -- lowercase, no '#'
    post_id   INTEGER NOT NULL,
    PRIMARY KEY (tag, post_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX post_tags_post ON post_tags (post_id);

CREATE TABLE post_mentions (
    handle    TEXT NOT NULL,      -- lowercase diaspora* ID
    post_id   INTEGER NOT NULL,
    PRIMARY KEY (handle, post_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX post_mentions_post ON post_mentions (post_id);

-- Photos: own uploads and photos of received posts.
CREATE TABLE photos (
    guid        TEXT PRIMARY KEY NOT NULL,
    own         INTEGER NOT NULL,
    author      TEXT NOT NULL,
    post_guid   TEXT NOT NULL DEFAULT '',   -- '' while pending
    public      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    width       INTEGER NOT NULL DEFAULT 0,
    height      INTEGER NOT NULL DEFAULT 0,
    alt         TEXT NOT NULL DEFAULT '',
    sizes       TEXT NOT NULL DEFAULT '{}'  -- JSON {small, medium, large, raw}: blob sha256 (own) or URL (remote)
) STRICT, WITHOUT ROWID;
CREATE INDEX photos_post ON photos (post_guid);
CREATE INDEX photos_author ON photos (own, author, created_at);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY,          -- time id
    guid        TEXT NOT NULL UNIQUE,
    post_guid   TEXT NOT NULL,
    own         INTEGER NOT NULL,
    author      TEXT NOT NULL,
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX comments_post ON comments (post_guid, id);
CREATE INDEX comments_own ON comments (own, post_guid);

CREATE TABLE comment_mentions (
    handle     TEXT NOT NULL,
    comment_id INTEGER NOT NULL,
    PRIMARY KEY (handle, comment_id)
) STRICT, WITHOUT ROWID;

-- Likes of posts and comments.
CREATE TABLE likes (
    guid        TEXT PRIMARY KEY NOT NULL,
    target_guid TEXT NOT NULL,
    target_type TEXT NOT NULL,   -- 'Post' | 'Comment'
    own         INTEGER NOT NULL,
    author      TEXT NOT NULL,
    positive    INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX likes_target ON likes (target_guid, own);
CREATE INDEX likes_own ON likes (own, target_guid);

CREATE TABLE poll_votes (
    guid        TEXT PRIMARY KEY NOT NULL,
    post_guid   TEXT NOT NULL,
    poll_guid   TEXT NOT NULL,
    answer_id   INTEGER NOT NULL,
    own         INTEGER NOT NULL,
    author      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX poll_votes_post ON poll_votes (post_guid, own);

-- Retractions received from other pods, kept so a replay cannot resurrect
-- the entity (the author's own, checked at projection).
CREATE TABLE remote_retractions (
    target_guid TEXT PRIMARY KEY NOT NULL,
    author      TEXT NOT NULL,
    target_type TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE conversations (
    id           INTEGER PRIMARY KEY,          -- time id
    guid         TEXT NOT NULL UNIQUE,
    own          INTEGER NOT NULL,             -- I started it
    author       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    participants TEXT NOT NULL,                -- JSON array of handles ('' = me)
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL              -- last message
) STRICT;
CREATE INDEX conversations_updated ON conversations (updated_at);

CREATE TABLE messages (
    id                INTEGER PRIMARY KEY,     -- time id
    guid              TEXT NOT NULL UNIQUE,
    conversation_guid TEXT NOT NULL,
    own               INTEGER NOT NULL,
    author            TEXT NOT NULL,
    text              TEXT NOT NULL,
    created_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_conversation ON messages (conversation_guid, id);

-- Notifications, one per (type, target) as diaspora* groups them; actors
-- are the people who caused it, newest last.
CREATE TABLE notifications (
    guid        TEXT PRIMARY KEY NOT NULL,     -- deterministic: hash of type and target
    type        TEXT NOT NULL,
    target_guid TEXT NOT NULL DEFAULT '',      -- the post involved ('' for started_sharing)
    actors      TEXT NOT NULL,                 -- JSON array of handles
    created_at  INTEGER NOT NULL               -- the latest event
) STRICT, WITHOUT ROWID;
CREATE INDEX notifications_created ON notifications (created_at);

-- Drafts: the live versions of each draft register (more than one =
-- concurrent edits not merged yet).
CREATE TABLE drafts (
    id          TEXT NOT NULL,                 -- the draft's id (register draft/<id>)
    version     TEXT NOT NULL,                 -- the write's op ID (device hex:epoch hex:seq)
    body        TEXT NOT NULL,                 -- JSON draft content
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (id, version)
) STRICT, WITHOUT ROWID;

-- Full-text search (FTS5), kept in step with the tables by triggers. The
-- rowid is the row's time id (people: rowid of people), so ORDER BY rowid
-- DESC is newest first without sorting the matches.
CREATE VIRTUAL TABLE posts_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE comments_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE people_fts USING fts5(name, handle, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');

CREATE TRIGGER posts_fts_ai AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER posts_fts_ad AFTER DELETE ON posts BEGIN
    DELETE FROM posts_fts WHERE rowid = old.id;
END;
CREATE TRIGGER posts_fts_au AFTER UPDATE OF text ON posts BEGIN
    DELETE FROM posts_fts WHERE rowid = old.id;
    INSERT INTO posts_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER comments_fts_ai AFTER INSERT ON comments BEGIN
    INSERT INTO comments_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER comments_fts_ad AFTER DELETE ON comments BEGIN
    DELETE FROM comments_fts WHERE rowid = old.id;
END;
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
END;
CREATE TRIGGER people_fts_ai AFTER INSERT ON people BEGIN
    INSERT INTO people_fts (rowid, name, handle) VALUES (new.rowid, new.name, new.handle);
END;
CREATE TRIGGER people_fts_ad AFTER DELETE ON people BEGIN
    DELETE FROM people_fts WHERE rowid = old.rowid;
END;
CREATE TRIGGER people_fts_au AFTER UPDATE OF name, handle ON people BEGIN
    DELETE FROM people_fts WHERE rowid = old.rowid;
    INSERT INTO people_fts (rowid, name, handle) VALUES (new.rowid, new.name, new.handle);
END;

CREATE INDEX st_received_author ON st_received (author, entity_type);

-- The identity's RSA key (PEM, PKCS#8). Local only: never in an op, never
-- synced except inside the pairing exchange (DESIGN.md §4).
CREATE TABLE identity_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    pem        TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
