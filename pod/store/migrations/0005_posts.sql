-- 0005_posts: reserved for the posts area; replace this comment with its schema changes.
SELECT 1;
