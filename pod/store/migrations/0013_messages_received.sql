-- 0013: the newest messages from others, across conversations (the desktop
-- window's OS notifications read them after every new message): without
-- this index that read scanned and sorted every message.
CREATE INDEX messages_received ON messages (own, received_at, id);
