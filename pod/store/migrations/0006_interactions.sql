-- 0006_interactions: reserved for the interactions area; replace this comment with its schema changes.
SELECT 1;
