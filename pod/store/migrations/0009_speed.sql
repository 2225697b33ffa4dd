-- 0009_speed: the FTS5 rows of posts and comments are written by their
-- projections (pod/store/project_posts.go, project_interactions.go), not
-- by triggers.
--
-- A statement that fires a trigger opens a statement savepoint, and FTS5
-- flushes its pending index to disk at every savepoint of the transaction:
-- with the triggers, each projected post or comment wrote a segment of its
-- own (and merged segments), instead of one segment per applied batch. The
-- projections insert and delete the FTS5 rows with plain statements, which
-- open no savepoint. The index stays what the triggers made of it: one
-- row per posts or comments row, rowid = the time id, its text.
--
-- messages and people keep their triggers (0003_domain.sql).
DROP TRIGGER posts_fts_ai;
DROP TRIGGER posts_fts_ad;
DROP TRIGGER posts_fts_au;
DROP TRIGGER comments_fts_ai;
DROP TRIGGER comments_fts_ad;

-- projectComment clears a re-projected comment's mentions by comment_id,
-- which the primary key (handle, comment_id) cannot find without a scan.
CREATE INDEX comment_mentions_comment ON comment_mentions (comment_id);
