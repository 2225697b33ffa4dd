-- 0005_posts: posts, photos and remote retractions (pod/store/project_posts.go).

-- A retraction counts only when it comes from the retracted entity's
-- author, who may be unknown when the retraction arrives (before the
-- entity). One row per (target, retraction author), so a forged
-- retraction by someone else can never take the place of the author's.
-- Projection table: empty in 0003's form, so dropping it loses nothing.
DROP TABLE remote_retractions;
CREATE TABLE remote_retractions (
    target_guid TEXT NOT NULL,
    author      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    PRIMARY KEY (target_guid, author)
) STRICT, WITHOUT ROWID;

-- Which posts name which photos (own posts' photos lists, received posts'
-- embedded photos), so a photo's row can find its post in either arrival
-- order. Kept by projectPost for its post key.
CREATE TABLE post_photo_refs (
    photo_guid TEXT NOT NULL,
    post_guid  TEXT NOT NULL,
    PRIMARY KEY (photo_guid, post_guid)
) STRICT, WITHOUT ROWID;
CREATE INDEX post_photo_refs_post ON post_photo_refs (post_guid);

-- Own photos uploaded with pending=true may be attached to a new post.
ALTER TABLE photos ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

-- The activity stream pages on (interacted_at, guid).
DROP INDEX posts_interacted;
CREATE INDEX posts_interacted ON posts (interacted_at, guid);

-- Reshares of a post are found by root_guid = ? with a bound parameter,
-- which a partial index (WHERE root_guid <> '') cannot serve: a full index,
-- with own for "did I reshare it".
DROP INDEX posts_root;
CREATE INDEX posts_root ON posts (root_guid, own);

-- The post's title (markup's Title of the text), computed when the row is
-- projected rather than on every read.
ALTER TABLE posts ADD COLUMN title TEXT NOT NULL DEFAULT '';
