-- 0005: an identity that moved to another diaspora* ID (its owner moved to
-- another relay). moved_to is that ID ('' when it did not move): WebFinger
-- names the new identity's profile among its aliases. The identity stays
-- (its key must still verify what it signed, the AccountMigration first)
-- and its inbox stays readable by its owner.
ALTER TABLE identities ADD COLUMN moved_to TEXT NOT NULL DEFAULT '';
