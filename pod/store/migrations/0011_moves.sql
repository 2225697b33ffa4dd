-- 0011_moves: people who moved to another diaspora* ID (AccountMigration).
--
-- person_moves has a row per received account_migration (projection of
-- st_received, rebuilt by a refold): its key, the identity moved from and
-- the one moved to, both lowercase. The first migration of an identity by
-- op stamp holds (diaspora* refuses a second one); people.moved_to shows it
-- on the old identity's row. pod/store/project_people.go has the rules.
CREATE TABLE person_moves (
    key        TEXT PRIMARY KEY NOT NULL,  -- the received op's key
    old_handle TEXT NOT NULL,
    new_handle TEXT NOT NULL,
    photo_path TEXT NOT NULL DEFAULT ''  -- remote_photo_path: where the old identity's photos are now
) STRICT, WITHOUT ROWID;
CREATE INDEX person_moves_old ON person_moves (old_handle);
CREATE INDEX person_moves_new ON person_moves (new_handle);

ALTER TABLE people ADD COLUMN moved_to TEXT NOT NULL DEFAULT '';

-- Participations (someone subscribing to an own post's interactions) are
-- looked up per post when interactions are relayed (PostParticipants).
CREATE INDEX st_received_participation ON st_received (guid) WHERE entity_type = 'participation';
