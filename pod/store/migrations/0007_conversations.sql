-- 0007_conversations: reserved for the conversations area; replace this comment with its schema changes.
SELECT 1;
