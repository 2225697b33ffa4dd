-- 0010_closed: people whose account is closed.
--
-- A received account_deletion closes its author's account
-- (pod/store/project_people.go): their people row says closed = 1 and
-- sharing = 0, and the post, comment, like, poll vote and photo
-- projections show nothing of theirs, whatever arrived first. The
-- received ops stay; a refold computes the same from them.
ALTER TABLE people ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;
