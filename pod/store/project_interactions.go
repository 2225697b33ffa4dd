package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/markup"
)

// Comments, likes and poll votes projections. Owned by the interactions area.
//
// Each recomputes the one row of a guid from the fold:
//   - own (st_published, kind comment/like/poll_vote): a row unless the guid
//     is in st_retracted;
//   - received (st_received, entity comment/like/poll_participation): a row
//     unless remote_retractions holds a retraction of the guid by the
//     entity's own author (a retraction by anyone else is ignored) and
//     unless that author's account is closed (a received account_deletion);
//   - an own record wins over a received copy of the same guid.
//
// Rows do not depend on their parent having arrived: a comment may come
// before its post. Readers show interactions through a post they can see,
// so an orphan stays invisible until its post arrives, and a comment on a
// deleted post disappears with it.
//
// A comment hidden locally (the hidden_comments set: a remote comment the
// user "deleted" from their own post, which only its author could
// retract) keeps its row; every reader filters it (hiddenCommentsClause).
// The set changes are not dispatched to this projection, so filtering on
// read keeps the tables equal to a refold's whatever the order.

// HiddenCommentsSet holds the guids of remote comments the user removed
// from their own posts.
const HiddenCommentsSet = "hidden_comments"

// hiddenCommentsClause is true for a comments row (alias c) that is shown.
const hiddenCommentsClause = `c.guid NOT IN (SELECT member FROM st_set_adds WHERE name = '` + HiddenCommentsSet + `' AND live = 1)`

// interactionOwn is the Publish of an own guid of kind, if it exists, is of
// that kind and is not retracted.
func (tx *Tx) interactionOwn(guid, kind string) (Published, bool, error) {
	p, err := tx.published(guid)
	if err != nil {
		return p, false, err
	}
	return p, p.Exists && !p.Retracted && p.Kind == kind, nil
}

// interactionReceived is the received entity of a guid of the entity type,
// parsed, unless its author retracted it or closed their account. A
// payload that does not parse has no row.
func (tx *Tx) interactionReceived(guid, entityType string) (entity.Entity, Received, bool, error) {
	r, ok, err := tx.received(guid)
	if err != nil || !ok || r.EntityType != entityType {
		return nil, r, false, err
	}
	e, err := tx.parse(r.Payload)
	if err != nil {
		return nil, r, false, nil
	}
	// The fold's author is who the federation engine verified; an entity
	// claiming another author, or another guid, shows nothing.
	author := strings.ToLower(e.Author())
	if author != strings.ToLower(r.Author) || entity.GUIDOf(e) != guid {
		return nil, r, false, nil
	}
	if gone, err := tx.remotelyRetracted(guid, author); err != nil || gone {
		return nil, r, false, err
	}
	if closed, err := tx.authorClosed(author); err != nil || closed {
		return nil, r, false, err
	}
	return e, r, true, nil
}

// interactionReceivedAt is the wall clock (ms) of the op that recorded a
// received guid: the creation time of entities that carry none. It is the same op
// after every refold, so the time is stable.
func (tx *Tx) interactionReceivedAt(guid string) (int64, error) {
	var wall int64
	err := tx.QueryRowContext(tx.ctx, `SELECT o.wall FROM st_received r
		JOIN ops o ON o.device = r.device AND o.epoch = r.epoch AND o.seq = r.seq WHERE r.guid = ?`, guid).Scan(&wall)
	if err != nil {
		return 0, fmt.Errorf("read receive time of %s: %w", guid, err)
	}
	return wall, nil
}

type commentRow struct {
	postGUID, author, text string
	own                    bool
	createdAt              int64
}

func (tx *Tx) commentSource(guid string) (commentRow, bool, error) {
	p, ok, err := tx.interactionOwn(guid, "comment")
	if err != nil {
		return commentRow{}, false, err
	}
	if ok {
		var body struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(p.Body, &body); err != nil {
			return commentRow{}, false, nil // a body this binary cannot read shows nothing
		}
		return commentRow{postGUID: p.Parent, text: body.Text, own: true, createdAt: p.CreatedAt}, true, nil
	}
	if p.Exists || p.Retracted {
		return commentRow{}, false, nil // own guid: retracted, or another kind
	}
	e, _, ok, err := tx.interactionReceived(guid, EntityComment)
	if err != nil || !ok {
		return commentRow{}, false, err
	}
	c, isComment := e.(*entity.Comment)
	if !isComment {
		return commentRow{}, false, nil
	}
	row := commentRow{postGUID: c.Parent, author: strings.ToLower(c.AuthorID), text: c.Text}
	if !c.CreatedAt.IsZero() {
		row.createdAt = c.CreatedAt.UnixMilli()
	} else if row.createdAt, err = tx.interactionReceivedAt(guid); err != nil {
		return commentRow{}, false, err
	}
	return row, true, nil
}

// projectComment recomputes the comments row of a guid and its mentions.
// Most projections write a comment the table does not have yet: the row
// is first inserted at its time id unless the guid has a row or another
// row holds the id, and only then is the stored row read, deleted and
// written again. comments_fts follows the row here, not by triggers
// (0009_speed.sql).
func (tx *Tx) projectComment(guid string) error {
	row, ok, err := tx.commentSource(guid)
	if err != nil {
		return err
	}
	const insert = `INTO comments (id, guid, post_guid, own, author, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	id := int64(-1)
	inserted := false
	if ok {
		id = timeIDOf(guid, row.createdAt)
		res, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE "+insert, id, guid, row.postGUID, row.own, row.author,
			row.text, row.createdAt)
		if err != nil {
			return fmt.Errorf("insert comment %s: %w", guid, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		inserted = n == 1
	}
	var oldID sql.NullInt64
	var oldPost sql.NullString
	if !inserted {
		var taken bool
		if err := tx.QueryRowContext(tx.ctx, `SELECT c.id, c.post_guid, EXISTS (SELECT 1 FROM comments WHERE id = ?2)
			FROM (SELECT 1) LEFT JOIN comments c ON c.guid = ?1`, guid, id).Scan(&oldID, &oldPost, &taken); err != nil {
			return fmt.Errorf("read comment %s: %w", guid, err)
		}
		if oldID.Valid {
			if _, err := tx.ExecContext(tx.ctx, "DELETE FROM comment_mentions WHERE comment_id = ?", oldID.Int64); err != nil {
				return fmt.Errorf("clear mentions of comment %s: %w", guid, err)
			}
			if _, err := tx.ExecContext(tx.ctx, "DELETE FROM comments WHERE id = ?", oldID.Int64); err != nil {
				return fmt.Errorf("delete comment %s: %w", guid, err)
			}
			if _, err := tx.ExecContext(tx.ctx, "DELETE FROM comments_fts WHERE rowid = ?", oldID.Int64); err != nil {
				return fmt.Errorf("unindex comment %s: %w", guid, err)
			}
		}
		if ok {
			// The deleted row may have freed the time id: probe from it.
			if id, err = tx.freeTimeID("comments", id); err != nil {
				return fmt.Errorf("time id of comment %s: %w", guid, err)
			}
			if _, err := tx.ExecContext(tx.ctx, "INSERT "+insert, id, guid, row.postGUID, row.own, row.author, row.text,
				row.createdAt); err != nil {
				return fmt.Errorf("insert comment %s: %w", guid, err)
			}
		}
	}
	if ok {
		if _, err := tx.ExecContext(tx.ctx, "INSERT INTO comments_fts (rowid, text) VALUES (?, ?)", id, row.text); err != nil {
			return fmt.Errorf("index comment %s: %w", guid, err)
		}
		for _, m := range markup.Mentions(row.text) {
			if _, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO comment_mentions (handle, comment_id) VALUES (?, ?)",
				strings.ToLower(m.Handle), id); err != nil {
				return fmt.Errorf("insert mention of comment %s: %w", guid, err)
			}
		}
	}
	had := oldID.Valid
	if tx.cache != nil {
		if ok {
			tx.cache.commentPosts[guid] = row.postGUID
		} else {
			delete(tx.cache.commentPosts, guid)
		}
	}
	// A comment is an interaction: the post's interacted_at follows its
	// comments (the posts area recomputes it from the comments table).
	if ok {
		if err := tx.touchInteracted(row.postGUID); err != nil {
			return err
		}
	}
	if had && (!ok || oldPost.String != row.postGUID) {
		return tx.touchInteracted(oldPost.String)
	}
	return nil
}

type likeRow struct {
	target, targetType, author string
	own, positive              bool
	createdAt                  int64
}

func (tx *Tx) likeSource(guid string) (likeRow, bool, error) {
	p, ok, err := tx.interactionOwn(guid, "like")
	if err != nil {
		return likeRow{}, false, err
	}
	if ok {
		var body struct {
			TargetType string `json:"target_type"`
		}
		if err := json.Unmarshal(p.Body, &body); err != nil || (body.TargetType != "Post" && body.TargetType != "Comment") {
			return likeRow{}, false, nil
		}
		return likeRow{target: p.Parent, targetType: body.TargetType, own: true, positive: true, createdAt: p.CreatedAt}, true, nil
	}
	if p.Exists || p.Retracted {
		return likeRow{}, false, nil
	}
	e, _, ok, err := tx.interactionReceived(guid, EntityLike)
	if err != nil || !ok {
		return likeRow{}, false, err
	}
	l, isLike := e.(*entity.Like)
	if !isLike {
		return likeRow{}, false, nil
	}
	row := likeRow{target: l.Parent, targetType: l.ParentTypeName, author: strings.ToLower(l.AuthorID), positive: l.Positive}
	if row.createdAt, err = tx.interactionReceivedAt(guid); err != nil {
		return likeRow{}, false, err
	}
	return row, true, nil
}

// projectLike recomputes the likes row of a guid. Dislikes (received likes
// with positive false) keep their row with positive = 0; readers count and
// list positive ones.
func (tx *Tx) projectLike(guid string) error {
	row, ok, err := tx.likeSource(guid)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM likes WHERE guid = ?", guid); err != nil {
			return fmt.Errorf("delete like %s: %w", guid, err)
		}
		return nil
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO likes (guid, target_guid, target_type, own, author, positive, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guid) DO UPDATE SET target_guid = excluded.target_guid,
		target_type = excluded.target_type, own = excluded.own, author = excluded.author, positive = excluded.positive,
		created_at = excluded.created_at`, guid, row.target, row.targetType, row.own, row.author, row.positive,
		row.createdAt); err != nil {
		return fmt.Errorf("write like %s: %w", guid, err)
	}
	return nil
}

type voteRow struct {
	postGUID, pollGUID, answerGUID, author string
	answerID                               int64
	own                                    bool
	createdAt                              int64
}

func (tx *Tx) voteSource(guid string) (voteRow, bool, error) {
	p, ok, err := tx.interactionOwn(guid, "poll_vote")
	if err != nil {
		return voteRow{}, false, err
	}
	if ok {
		var body struct {
			PollGUID string `json:"poll_guid"`
			AnswerID int64  `json:"answer_id"`
		}
		if err := json.Unmarshal(p.Body, &body); err != nil || body.PollGUID == "" {
			return voteRow{}, false, nil
		}
		return voteRow{postGUID: p.Parent, pollGUID: body.PollGUID, answerID: body.AnswerID, own: true,
			createdAt: p.CreatedAt}, true, nil
	}
	if p.Exists || p.Retracted {
		return voteRow{}, false, nil
	}
	e, _, ok, err := tx.interactionReceived(guid, EntityPollVote)
	if err != nil || !ok {
		return voteRow{}, false, err
	}
	v, isVote := e.(*entity.PollParticipation)
	if !isVote {
		return voteRow{}, false, nil
	}
	row := voteRow{pollGUID: v.Parent, answerGUID: v.PollAnswerGUID, answerID: -1, author: strings.ToLower(v.AuthorID)}
	if row.createdAt, err = tx.interactionReceivedAt(guid); err != nil {
		return voteRow{}, false, err
	}
	return row, true, nil
}

// projectPollVote recomputes the poll_votes row of a guid. A received vote
// keeps the poll and answer guids it names (empty post_guid, answer_id -1);
// PollTallyOf (posts.go) matches them against the post's poll
// (0006_interactions.sql).
func (tx *Tx) projectPollVote(guid string) error {
	row, ok, err := tx.voteSource(guid)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM poll_votes WHERE guid = ?", guid); err != nil {
			return fmt.Errorf("delete poll vote %s: %w", guid, err)
		}
		return nil
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO poll_votes (guid, post_guid, poll_guid, answer_id, own, author, created_at, answer_guid)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guid) DO UPDATE SET post_guid = excluded.post_guid,
		poll_guid = excluded.poll_guid, answer_id = excluded.answer_id, own = excluded.own, author = excluded.author,
		created_at = excluded.created_at, answer_guid = excluded.answer_guid`, guid, row.postGUID, row.pollGUID,
		row.answerID, row.own, row.author, row.createdAt, row.answerGUID); err != nil {
		return fmt.Errorf("write poll vote %s: %w", guid, err)
	}
	return nil
}
