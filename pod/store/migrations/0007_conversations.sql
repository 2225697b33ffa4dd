-- 0007_conversations: conversations, messages and notifications
-- (pod/store/project_conversations.go, conversations.go, notifications.go).

-- The conversation list pages newest activity first on (updated_at, guid):
-- the v1 time pager's order and cursor.
CREATE INDEX conversations_updated_guid ON conversations (updated_at, guid);

-- The notification list pages on (created_at, guid).
CREATE INDEX notifications_created_guid ON notifications (created_at, guid);

-- Blocking or ignoring someone recomputes the notifications their comments
-- and likes took part in: find those by author.
CREATE INDEX notifications_comments_author ON comments (author) WHERE own = 0;
CREATE INDEX notifications_likes_author ON likes (author) WHERE own = 0;

-- When a message reached this pod (the received op's wall clock; created_at
-- for own ones). Unread counts compare it with the read watermark, so a
-- message delivered late (an offline relay, a slow pod) is unread even when
-- it was written before the user last read the conversation.
ALTER TABLE messages ADD COLUMN received_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_arrival ON messages (conversation_guid, own, received_at);

-- Notifications are recomputed per target after every change.
CREATE INDEX notifications_target ON notifications (target_guid);
