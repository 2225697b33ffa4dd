package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"seedpod/pod/diaspora/entity"
)

// HandedSet is the set (SetAdd ops) of outbox keys the federation engine
// handed to the relay: own publishes by guid, other entries by their
// outbox key with the time of their state ("profile:<guid>@<ms>", …).
// It is replicated like any set, so another device does not hand the same
// change again (the relay would deduplicate it anyway).
const HandedSet = "handed"

// UnhandedPublished lists own live publishes of the federated kinds that
// were not handed to the relay, oldest first, at most limit.
func UnhandedPublished(ctx context.Context, q Querier, limit int) ([]OwnEntity, error) {
	rows, err := q.QueryContext(ctx, `SELECT guid, kind, parent, created_at, body, recipients FROM st_published p
		WHERE kind IN `+federatedKindsSQL()+` AND guid NOT IN (SELECT guid FROM st_retracted)
		AND NOT EXISTS (SELECT 1 FROM st_set_adds s WHERE s.name = ? AND s.member = p.guid AND s.live = 1)
		ORDER BY created_at, guid LIMIT ?`, HandedSet, limit)
	if err != nil {
		return nil, fmt.Errorf("read unhanded publishes: %w", err)
	}
	defer rows.Close()
	var out []OwnEntity
	for rows.Next() {
		var e OwnEntity
		var recips string
		if err := rows.Scan(&e.GUID, &e.Kind, &e.Parent, &e.CreatedAt, &e.Body, &recips); err != nil {
			return nil, fmt.Errorf("read unhanded publishes: %w", err)
		}
		e.Recipients = parseStrings(recips)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Handed reports which of keys are in the handed set.
func Handed(ctx context.Context, q Querier, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, k := range keys {
		ok, err := IsMember(ctx, q, HandedSet, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out[k] = true
		}
	}
	return out, nil
}

// CountHanded counts the handed set's members.
func CountHanded(ctx context.Context, q Querier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(DISTINCT member) FROM st_set_adds WHERE name = ? AND live = 1`, HandedSet).Scan(&n); err != nil {
		return 0, fmt.Errorf("count handed: %w", err)
	}
	return n, nil
}

// RelatedEntity is what the receive rules need to know about an entity a
// received one refers to. Author is "" for the user's own.
type RelatedEntity struct {
	Own        bool
	Author     string
	PostGUID   string // the root post (for comments, likes, polls, votes)
	PostOwn    bool
	PostAuthor string
	Public     bool
}

// RelatedByType looks up a post ("Post", "StatusMessage", "Reshare"), a
// comment, a like, a poll, a poll vote or a photo by guid.
func RelatedByType(ctx context.Context, q Querier, typ, guid string) (RelatedEntity, bool, error) {
	var r RelatedEntity
	var query string
	switch typ {
	case "Post", "StatusMessage", "Reshare":
		query = `SELECT own, author, guid, own, author, public FROM posts WHERE guid = ?`
	case "Comment":
		query = `SELECT c.own, c.author, p.guid, p.own, p.author, p.public FROM comments c JOIN posts p ON p.guid = c.post_guid WHERE c.guid = ?`
	case "Like":
		query = `SELECT l.own, l.author, p.guid, p.own, p.author, p.public FROM likes l
			JOIN posts p ON p.guid = CASE l.target_type WHEN 'Comment' THEN (SELECT post_guid FROM comments WHERE guid = l.target_guid) ELSE l.target_guid END
			WHERE l.guid = ?`
	case "Poll":
		query = `SELECT own, author, guid, own, author, public FROM posts WHERE poll <> '' AND json_extract(poll, '$.guid') = ?`
	case "PollParticipation":
		query = `SELECT v.own, v.author, p.guid, p.own, p.author, p.public FROM poll_votes v JOIN posts p ON p.guid = v.post_guid WHERE v.guid = ?`
	case "Photo":
		query = `SELECT ph.own, ph.author, coalesce(p.guid, ''), coalesce(p.own, ph.own), coalesce(p.author, ph.author), ph.public
			FROM photos ph LEFT JOIN posts p ON p.guid = ph.post_guid WHERE ph.guid = ?`
	default:
		return r, false, nil
	}
	err := q.QueryRowContext(ctx, query, guid).Scan(&r.Own, &r.Author, &r.PostGUID, &r.PostOwn, &r.PostAuthor, &r.Public)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("look up %s %s: %w", typ, guid, err)
	}
	return r, true, nil
}

// FirstOwnMessage is the own message published with a conversation (same
// parent and creation time): it travels inside the conversation entity.
// Its GUID is "" when there is none.
func FirstOwnMessage(ctx context.Context, q Querier, convGUID string, at int64) (OwnEntity, error) {
	var e OwnEntity
	err := q.QueryRowContext(ctx, `SELECT guid, body FROM st_published WHERE kind = 'message' AND parent = ? AND created_at = ?
		ORDER BY guid LIMIT 1`, convGUID, at).Scan(&e.GUID, &e.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return OwnEntity{}, nil
	}
	if err != nil {
		return e, fmt.Errorf("read first message of %s: %w", convGUID, err)
	}
	e.Kind, e.Parent, e.CreatedAt = "message", convGUID, at
	return e, nil
}

// UnhandedPublishedCount counts what UnhandedPublished lists.
func UnhandedPublishedCount(ctx context.Context, q Querier) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM st_published p
		WHERE kind IN `+federatedKindsSQL()+` AND guid NOT IN (SELECT guid FROM st_retracted)
		AND NOT EXISTS (SELECT 1 FROM st_set_adds s WHERE s.name = ? AND s.member = p.guid AND s.live = 1)`, HandedSet).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unhanded publishes: %w", err)
	}
	return n, nil
}

// OwnEdits are the own edits of a post (live or retracted), oldest first.
func OwnEdits(ctx context.Context, q Querier, postGUID string) ([]OwnEntity, error) {
	rows, err := q.QueryContext(ctx, `SELECT guid, created_at FROM st_published WHERE kind = 'edit' AND parent = ?
		ORDER BY created_at, guid`, postGUID)
	if err != nil {
		return nil, fmt.Errorf("read edits of %s: %w", postGUID, err)
	}
	defer rows.Close()
	var out []OwnEntity
	for rows.Next() {
		e := OwnEntity{Kind: "edit", Parent: postGUID}
		if err := rows.Scan(&e.GUID, &e.CreatedAt); err != nil {
			return nil, fmt.Errorf("read edits of %s: %w", postGUID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EntityParticipation is a received Participation: someone subscribes to
// interactions on one of the user's posts.
const EntityParticipation = "participation"

// maxPostParticipants bounds the people PostParticipants returns: each is
// a delivery of every interaction relayed on the post, and anyone can send
// a Participation.
const maxPostParticipants = 2000

// PostParticipants are the other people taking part in a post (lowercase
// handles, sorted): those who sent a Participation for it, and the authors
// of its comments, likes, poll votes and reshares. Interactions on a public
// own post are relayed to them as diaspora* relays to a post's
// participants, besides its followers.
func PostParticipants(ctx context.Context, q Querier, postGUID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT author FROM comments WHERE post_guid = ?1 AND own = 0
		UNION SELECT author FROM likes WHERE target_guid = ?1 AND own = 0
		UNION SELECT author FROM poll_votes WHERE post_guid = ?1 AND own = 0
		UNION SELECT author FROM posts WHERE root_guid = ?1 AND own = 0
		UNION SELECT author || char(0) || payload FROM st_received WHERE entity_type = '`+EntityParticipation+`'
			AND instr(payload, ?1) > 0
		LIMIT `+strconv.Itoa(maxPostParticipants), postGUID)
	if err != nil {
		return nil, fmt.Errorf("read participants of %s: %w", postGUID, err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read participants of %s: %w", postGUID, err)
		}
		h, payload, isEntity := strings.Cut(v, "\x00")
		if isEntity {
			e, err := entity.Parse([]byte(payload))
			pt, ok := e.(*entity.Participation)
			if err != nil || !ok || pt.ParentGUID() != postGUID {
				continue
			}
		}
		h = strings.ToLower(h)
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}
