-- 0001: the pod's own facts about itself.
--
-- meta holds small scalars about this database (when it was created, which
-- binary created it). Later migrations add the op log and the materialised
-- tables (DESIGN.md §4).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
