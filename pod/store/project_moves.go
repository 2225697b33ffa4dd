package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"seedpod/pod/diaspora/entity"
)

// Account migrations: people who moved to another diaspora* ID. Owned by
// the people area.
//
// Rules (pure functions of the fold, like every projection):
//
//   - person_moves has a row per received account_migration (verified by
//     the federation engine: the envelope by one identity, the migration's
//     signature by the other), naming the identity moved from and the one
//     moved to.
//   - An identity's move is its first migration by the stamp of the op
//     that recorded it (diaspora* refuses a second migration of one
//     person); its people row says moved_to, and it no longer shares
//     with the user (the new identity does).
//   - The new identity shares with the user as the old one did, unless it
//     sent a Contact entity of its own.
//   - The old identity's photos are shown from the move's
//     remote_photo_path when it names one.
//   - A conversation the old identity takes part in accepts the messages of
//     the identities it moved to (conversation rows keep the handles they
//     were created with).
//
// The user's own data keyed by person guid (aspect memberships) follows
// the move through own ops, written by the pod when the migration arrives
// (pod.followMove): a membership the user can later change like any other.
// Posts, comments and likes stay with the identity that signed them.

// maxMoveHops bounds how far a chain of moves is followed.
const maxMoveHops = 8

// projectAccountMigration records a received migration in person_moves
// and re-projects what it changes: both people rows and the
// conversations of the old identity.
func (tx *Tx) projectAccountMigration(key string) error {
	r, ok, err := tx.received(key)
	if err != nil || !ok || r.EntityType != EntityAccountMigration {
		return err
	}
	e, err := entity.Parse([]byte(r.Payload))
	if err != nil {
		return nil // the engine verified it; a payload this code cannot read shows nothing
	}
	m, ok := e.(*entity.AccountMigration)
	if !ok {
		return nil
	}
	from, to := strings.ToLower(m.OldIdentity()), strings.ToLower(m.NewIdentity())
	if from == "" || to == "" || from == to {
		return nil
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO person_moves (key, old_handle, new_handle, photo_path)
		VALUES (?, ?, ?, ?)`, key, from, to, m.RemotePhotoPath); err != nil {
		return fmt.Errorf("record move %s of %s: %w", key, from, err)
	}
	// The old identity, and every identity a migration of it names: the
	// one that held before may hold no more.
	hs, err := tx.moveHandles(key)
	if err != nil {
		return err
	}
	for _, h := range hs {
		if err := tx.projectPerson(h); err != nil {
			return err
		}
	}
	convs, err := tx.conversationsOf(from)
	if err != nil {
		return err
	}
	for _, g := range convs {
		if err := tx.projectConversation(g); err != nil {
			return err
		}
	}
	// Their photos may live elsewhere now (movedPhotoPath).
	photos, err := tx.guidList(`SELECT guid FROM photos WHERE author = ?`, from)
	if err != nil {
		return fmt.Errorf("list photos of %s: %w", from, err)
	}
	for _, g := range photos {
		if err := tx.projectPhoto(g); err != nil {
			return err
		}
	}
	return nil
}

// movedPhotoPath is where a moved identity's photos are now: the
// remote_photo_path of its move ("" when it did not move or the move
// names none). diaspora* rewrites the stored paths the same way.
func (tx *Tx) movedPhotoPath(handle string) (string, error) {
	_, path, err := moveOf(tx.ctx, tx, handle)
	return path, err
}

// moveHandles are the identities a recorded migration concerns: the one
// it moves, and every identity a migration of that one names, sorted.
func (tx *Tx) moveHandles(key string) ([]string, error) {
	hs, err := tx.guidList(`SELECT old_handle FROM person_moves WHERE key = ?1
		UNION SELECT new_handle FROM person_moves WHERE old_handle = (SELECT old_handle FROM person_moves WHERE key = ?1)
		ORDER BY 1`, key)
	if err != nil {
		return nil, fmt.Errorf("read move %s: %w", key, err)
	}
	return hs, nil
}

// movedTo is the identity handle moved to ("" when it did not move): its
// first migration by op stamp.
func (tx *Tx) movedTo(handle string) (string, error) { return firstMove(tx.ctx, tx, handle) }

func firstMove(ctx context.Context, q Querier, handle string) (string, error) {
	to, _, err := moveOf(ctx, q, handle)
	return to, err
}

// moveOf is handle's move, its first migration by op stamp: the identity
// moved to and the migration's remote_photo_path ("" when it did not move).
func moveOf(ctx context.Context, q Querier, handle string) (to, photoPath string, err error) {
	err = q.QueryRowContext(ctx, `SELECT m.new_handle, m.photo_path FROM person_moves m
		JOIN st_received r ON r.guid = m.key
		JOIN ops o ON o.device = r.device AND o.epoch = r.epoch AND o.seq = r.seq
		WHERE m.old_handle = ?
		ORDER BY o.wall, o.logical, r.device, r.epoch, r.seq, m.key LIMIT 1`, strings.ToLower(handle)).Scan(&to, &photoPath)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read move of %s: %w", handle, err)
	}
	return to, photoPath, nil
}

// movedFrom are the identities whose move (movedTo) leads to handle.
func (tx *Tx) movedFrom(handle string) ([]string, error) {
	cands, err := tx.guidList(`SELECT DISTINCT old_handle FROM person_moves WHERE new_handle = ? ORDER BY old_handle`,
		strings.ToLower(handle))
	if err != nil {
		return nil, fmt.Errorf("read moves to %s: %w", handle, err)
	}
	var out []string
	for _, h := range cands {
		to, err := tx.movedTo(h)
		if err != nil {
			return nil, err
		}
		if to == strings.ToLower(handle) {
			out = append(out, h)
		}
	}
	return out, nil
}

// successors are the identities handle moved to, in order (at most
// maxMoveHops, a cycle ends the chain).
func (tx *Tx) successors(handle string) ([]string, error) {
	seen := map[string]bool{strings.ToLower(handle): true}
	var out []string
	h := handle
	for range maxMoveHops {
		to, err := tx.movedTo(h)
		if err != nil {
			return nil, err
		}
		if to == "" || seen[to] {
			break
		}
		seen[to] = true
		out = append(out, to)
		h = to
	}
	return out, nil
}

// inheritedSharing says whether handle shares with the user through an
// identity that moved to it: the newest Contact of the first such identity
// that sent one (followed back through earlier moves).
func (tx *Tx) inheritedSharing(handle string, depth int) (bool, error) {
	if depth >= maxMoveHops {
		return false, nil
	}
	from, err := tx.movedFrom(handle)
	if err != nil {
		return false, err
	}
	for _, old := range from {
		if closed, err := tx.authorClosed(old); err != nil || closed {
			if err != nil {
				return false, err
			}
			continue
		}
		sharing, found, err := tx.contactSharing(old)
		if err != nil {
			return false, err
		}
		if !found {
			sharing, err = tx.inheritedSharing(old, depth+1)
			if err != nil {
				return false, err
			}
		}
		if sharing {
			return true, nil
		}
	}
	return false, nil
}

// conversationsOf are the conversations handle takes part in.
func (tx *Tx) conversationsOf(handle string) ([]string, error) {
	gs, err := tx.guidList(`SELECT guid FROM conversations
		WHERE EXISTS (SELECT 1 FROM json_each(participants) WHERE value = ?) ORDER BY guid`, strings.ToLower(handle))
	if err != nil {
		return nil, fmt.Errorf("read conversations of %s: %w", handle, err)
	}
	return gs, nil
}

// withSuccessors is handles and every identity they moved to, for the
// checks that decide who may write in a conversation.
func (tx *Tx) withSuccessors(handles []string) ([]string, error) {
	out := make([]string, 0, len(handles))
	seen := map[string]bool{}
	for _, h := range handles {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
		if h == "" {
			continue
		}
		next, err := tx.successors(h)
		if err != nil {
			return nil, err
		}
		for _, n := range next {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// MovedTo resolves a diaspora* ID through the moves the pod knows: the
// identity it finally moved to (itself, lowercase, when it did not move),
// at most maxMoveHops away; a cycle ends where it closes.
func MovedTo(ctx context.Context, q Querier, handle string) (string, error) {
	h := strings.ToLower(handle)
	seen := map[string]bool{h: true}
	for range maxMoveHops {
		to, err := firstMove(ctx, q, h)
		if err != nil {
			return "", err
		}
		if to == "" || seen[to] {
			break
		}
		seen[to] = true
		h = to
	}
	return h, nil
}
