-- 0006_interactions: comments, likes and poll votes (pod/store/project_interactions.go).

-- A received poll participation names its answer by guid (entity
-- PollParticipation.poll_answer_guid) and its parent by the poll's guid,
-- not the post's: which post and which answer id that is depends on the
-- post, which may arrive later. The row keeps what the entity says
-- (poll_guid, answer_guid; answer_id -1, post_guid '') and readers match
-- it against the post's poll at read time, so the projection never
-- depends on the order things arrived in. Own votes carry post_guid and
-- answer_id and an empty answer_guid.
ALTER TABLE poll_votes ADD COLUMN answer_guid TEXT NOT NULL DEFAULT '';
CREATE INDEX poll_votes_poll ON poll_votes (poll_guid, own);

-- Comments are listed per post by (created_at, guid): the v1 time pager's
-- order and cursor.
CREATE INDEX comments_post_time ON comments (post_guid, created_at, guid);
