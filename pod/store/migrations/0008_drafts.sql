-- 0008_drafts: drafts, search and the outbox view.

-- When a draft was first written: the earliest write of its register,
-- superseded or not, so every device computes the same value.
ALTER TABLE drafts ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;

-- The outbox view pages the user's own entities newest first.
CREATE INDEX st_published_created ON st_published (created_at, guid);

-- The outbox view lists retractions with the time their Retract op was
-- written: the ops of one kind, without a scan of the whole log.
CREATE INDEX ops_kind ON ops (kind);
