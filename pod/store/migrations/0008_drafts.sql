-- 0008_drafts: reserved for the drafts area; replace this comment with its schema changes.
SELECT 1;
