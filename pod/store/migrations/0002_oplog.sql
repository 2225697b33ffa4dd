-- 0002: the op log (DESIGN.md §4) and the generic fold of it.
--
-- An op ID is (device, epoch, seq): device is the 32-byte Ed25519 public
-- key, epoch a random 64-bit number stored as its two's-complement int64,
-- seq 1, 2, 3… Comparisons of IDs and stamps happen in Go (pod/oplog), never
-- in SQL, so the signed storage of epochs does not matter.

-- This device: its signing key and current epoch. Local only: never synced,
-- never in an op.
CREATE TABLE device (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    seed       BLOB NOT NULL,          -- Ed25519 private key seed (32 bytes)
    epoch      INTEGER NOT NULL,
    created_at INTEGER NOT NULL        -- ms since the epoch
) STRICT;

-- Every op of every log, exactly as signed.
CREATE TABLE ops (
    device  BLOB NOT NULL,
    epoch   INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    kind    INTEGER NOT NULL,
    wall    INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    bytes   BLOB NOT NULL,
    sig     BLOB NOT NULL,
    hash    BLOB NOT NULL,
    PRIMARY KEY (device, epoch, seq)
) STRICT, WITHOUT ROWID;

-- How far each log is durable here.
CREATE TABLE heads (
    device BLOB NOT NULL,
    epoch  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    PRIMARY KEY (device, epoch)
) STRICT, WITHOUT ROWID;

-- Last-writer-wins scalars (SetField).
CREATE TABLE st_fields (
    key     TEXT PRIMARY KEY NOT NULL,
    value   TEXT NOT NULL,
    wall    INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    device  BLOB NOT NULL,
    epoch   INTEGER NOT NULL,
    seq     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Multi-value registers (DraftWrite): every write, and every write a later
-- write superseded (seen here or not). live = not superseded.
CREATE TABLE st_reg_writes (
    register TEXT NOT NULL,
    device   BLOB NOT NULL,
    epoch    INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    wall     INTEGER NOT NULL,
    logical  INTEGER NOT NULL,
    value    TEXT NOT NULL,
    deleted  INTEGER NOT NULL,
    live     INTEGER NOT NULL,
    PRIMARY KEY (register, device, epoch, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE st_reg_superseded (
    register TEXT NOT NULL,
    device   BLOB NOT NULL,
    epoch    INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (register, device, epoch, seq)
) STRICT, WITHOUT ROWID;

-- Observed-remove sets: add tags and removed tags. live = tag not removed.
CREATE TABLE st_set_adds (
    name   TEXT NOT NULL,
    member TEXT NOT NULL,
    device BLOB NOT NULL,
    epoch  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    live   INTEGER NOT NULL,
    PRIMARY KEY (name, member, device, epoch, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX st_set_adds_member ON st_set_adds (member, name) WHERE live = 1;
CREATE TABLE st_set_removed (
    name   TEXT NOT NULL,
    member TEXT NOT NULL,
    device BLOB NOT NULL,
    epoch  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (name, member, device, epoch, seq)
) STRICT, WITHOUT ROWID;

-- Own entities: the op that holds each guid (lowest op ID wins), and the
-- retracted guids (published or not).
CREATE TABLE st_published (
    guid       TEXT PRIMARY KEY NOT NULL,
    device     BLOB NOT NULL,
    epoch      INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    parent     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       BLOB NOT NULL,
    recipients TEXT NOT NULL           -- JSON array
) STRICT, WITHOUT ROWID;
CREATE INDEX st_published_parent ON st_published (parent, kind);
CREATE TABLE st_retracted (
    guid TEXT PRIMARY KEY NOT NULL
) STRICT, WITHOUT ROWID;

-- Grow-only read watermarks.
CREATE TABLE st_reads (
    stream    TEXT PRIMARY KEY NOT NULL,
    watermark INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Inbound federation: the op that holds each guid.
CREATE TABLE st_received (
    guid         TEXT PRIMARY KEY NOT NULL,
    device       BLOB NOT NULL,
    epoch        INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    entity_type  TEXT NOT NULL,
    author       TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload      TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Stored ops of kinds this binary does not know: applied by a refold after
-- an upgrade.
CREATE TABLE st_unapplied (
    device BLOB NOT NULL,
    epoch  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    kind   INTEGER NOT NULL,
    PRIMARY KEY (device, epoch, seq)
) STRICT, WITHOUT ROWID;
