-- 0004_people: reserved for the people area; replace this comment with its schema changes.
SELECT 1;
