package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"seedpod/pod/oplog"
)

// Reads for the outbox view (pod/outbox.go): the user's own changes that
// the network must hear about, from the fold. Nothing here is sent:
// federation is another part of the pod.

// FederatedKinds are the Publish kinds other pods receive (photos travel
// inside their post).
var FederatedKinds = []string{"post", "reshare", "edit", "comment", "like", "poll_vote", "conversation", "message"}

func federatedKindsSQL() string { return "('" + strings.Join(FederatedKinds, "', '") + "')" }

// OwnEntity is an own Publish as the fold holds it.
type OwnEntity struct {
	GUID       string
	Kind       string
	Parent     string
	CreatedAt  int64
	Body       []byte
	Recipients []string // person guids frozen at publish time
	Retracted  bool
}

// OutboxBound is a position in the outbox (newest first): entries created
// before At, or at At with a guid below GUID.
type OutboxBound struct {
	At   int64
	GUID string
}

// Before reports whether an entry at (at, guid) comes after the bound in
// the newest-first order.
func (b *OutboxBound) Before(at int64, guid string) bool {
	return b == nil || at < b.At || at == b.At && guid < b.GUID
}

// OutboxPublished lists own live entities of the federated kinds, newest
// first, after bound (nil: from the newest), at most limit.
func OutboxPublished(ctx context.Context, q Querier, bound *OutboxBound, limit int) ([]OwnEntity, error) {
	query := `SELECT guid, kind, parent, created_at, body, recipients FROM st_published
		WHERE kind IN ` + federatedKindsSQL() + ` AND guid NOT IN (SELECT guid FROM st_retracted)`
	var args []any
	if bound != nil {
		query += ` AND (created_at < ? OR (created_at = ? AND guid < ?))`
		args = append(args, bound.At, bound.At, bound.GUID)
	}
	query += ` ORDER BY created_at DESC, guid DESC LIMIT ?`
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var out []OwnEntity
	for rows.Next() {
		var e OwnEntity
		var recips string
		if err := rows.Scan(&e.GUID, &e.Kind, &e.Parent, &e.CreatedAt, &e.Body, &recips); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		e.Recipients = parseStrings(recips)
		out = append(out, e)
	}
	return out, rows.Err()
}

// OwnEntityByGUID reads an own Publish (retracted or not).
func OwnEntityByGUID(ctx context.Context, q Querier, guid string) (OwnEntity, bool, error) {
	var e OwnEntity
	var recips string
	err := q.QueryRowContext(ctx, `SELECT guid, kind, parent, created_at, body, recipients,
		EXISTS (SELECT 1 FROM st_retracted r WHERE r.guid = p.guid) FROM st_published p WHERE guid = ?`, guid).
		Scan(&e.GUID, &e.Kind, &e.Parent, &e.CreatedAt, &e.Body, &recips, &e.Retracted)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("read own entity %s: %w", guid, err)
	}
	e.Recipients = parseStrings(recips)
	return e, true, nil
}

// OutboxPublishedCount counts what OutboxPublished lists.
func OutboxPublishedCount(ctx context.Context, q Querier) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM st_published WHERE kind IN `+federatedKindsSQL()+`
		AND guid NOT IN (SELECT guid FROM st_retracted)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count outbox: %w", err)
	}
	return n, nil
}

// OwnRetraction is a retracted own entity of a federated kind: At is when
// the first Retract of it was written.
type OwnRetraction struct {
	Target OwnEntity
	At     int64
}

// OwnRetractions lists the retractions of own federated entities, newest
// first. Retract ops are few (deletes, unlikes); they are read through
// the ops_kind index.
func OwnRetractions(ctx context.Context, q Querier) ([]OwnRetraction, error) {
	rows, err := q.QueryContext(ctx, "SELECT wall, bytes FROM ops WHERE kind = ?", int64(oplog.KindRetract))
	if err != nil {
		return nil, fmt.Errorf("read retractions: %w", err)
	}
	at := map[string]int64{}
	for rows.Next() {
		var wall int64
		var b []byte
		if err := rows.Scan(&wall, &b); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read retractions: %w", err)
		}
		op, err := oplog.Decode(b)
		if err != nil {
			continue // a stored op this binary cannot read is not listed
		}
		body, err := oplog.DecodeBody(op.Kind, op.Body)
		if err != nil {
			continue
		}
		r, ok := body.(oplog.Retract)
		if !ok {
			continue
		}
		if t, seen := at[r.GUID]; !seen || wall < t {
			at[r.GUID] = wall
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read retractions: %w", err)
	}
	var out []OwnRetraction
	for guid, when := range at {
		e, ok, err := OwnEntityByGUID(ctx, q, guid)
		if err != nil {
			return nil, err
		}
		if !ok || !e.Retracted || !isFederatedKind(e.Kind) {
			continue // retracted before it was published here, or never federated
		}
		out = append(out, OwnRetraction{Target: e, At: when})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].At != out[j].At {
			return out[i].At > out[j].At
		}
		return out[i].Target.GUID > out[j].Target.GUID
	})
	return out, nil
}

func isFederatedKind(k string) bool {
	for _, f := range FederatedKinds {
		if f == k {
			return true
		}
	}
	return false
}

// ProfileChangedAt is when the own profile last changed (profile/* fields
// and the bio register), 0 when it was never set.
func ProfileChangedAt(ctx context.Context, q Querier) (int64, error) {
	var at int64
	err := q.QueryRowContext(ctx, `SELECT max(coalesce((SELECT max(wall) FROM st_fields WHERE key LIKE 'profile/%'), 0),
		coalesce((SELECT max(wall) FROM st_reg_writes WHERE register = 'profile/bio'), 0))`).Scan(&at)
	if err != nil {
		return 0, fmt.Errorf("read profile time: %w", err)
	}
	return at, nil
}

// ContactState is the sharing the user wants a person to know about:
// Receiving is true when the person is in one of the user's aspects. At is
// the newest aspect add of them (the fold keeps no time for removes).
type ContactState struct {
	PersonGUID string
	Receiving  bool
	At         int64
}

// ContactStates lists everyone the user has ever put in an aspect, with
// whether they are in one now.
func ContactStates(ctx context.Context, q Querier) ([]ContactState, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.member,
		coalesce((SELECT receiving FROM contacts c WHERE c.person_guid = a.member), 0), coalesce(max(o.wall), 0)
		FROM st_set_adds a LEFT JOIN ops o ON o.device = a.device AND o.epoch = a.epoch AND o.seq = a.seq
		WHERE a.name LIKE 'aspect/%' GROUP BY a.member ORDER BY a.member`)
	if err != nil {
		return nil, fmt.Errorf("read contact states: %w", err)
	}
	defer rows.Close()
	var out []ContactState
	for rows.Next() {
		var c ContactState
		if err := rows.Scan(&c.PersonGUID, &c.Receiving, &c.At); err != nil {
			return nil, fmt.Errorf("read contact states: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SharingWithMe lists the guids of the people who share with the user
// (contacts.sharing): who a public post goes to.
func SharingWithMe(ctx context.Context, q Querier) ([]string, error) {
	return outboxStrings(ctx, q, "SELECT person_guid FROM contacts WHERE sharing = 1 ORDER BY person_guid")
}

// ReceivingFromMe lists the guids of the people the user shares with
// (contacts.receiving): who a profile change goes to.
func ReceivingFromMe(ctx context.Context, q Querier) ([]string, error) {
	return outboxStrings(ctx, q, "SELECT person_guid FROM contacts WHERE receiving = 1 ORDER BY person_guid")
}

// PostMentionHandles are the handles a post mentions.
func PostMentionHandles(ctx context.Context, q Querier, postGUID string) ([]string, error) {
	return outboxStrings(ctx, q, `SELECT m.handle FROM post_mentions m JOIN posts p ON p.id = m.post_id
		WHERE p.guid = ? ORDER BY m.handle`, postGUID)
}

// CommentPost is the post a comment belongs to, "" when unknown.
func CommentPost(ctx context.Context, q Querier, commentGUID string) (string, error) {
	var post string
	err := q.QueryRowContext(ctx, "SELECT post_guid FROM comments WHERE guid = ?", commentGUID).Scan(&post)
	if errors.Is(err, sql.ErrNoRows) {
		err = q.QueryRowContext(ctx, "SELECT parent FROM st_published WHERE guid = ? AND kind = 'comment'", commentGUID).Scan(&post)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read comment %s: %w", commentGUID, err)
	}
	return post, nil
}

// ConversationParticipantHandles are a conversation's participants
// (handles; ” is the user), nil when the pod does not hold it.
func ConversationParticipantHandles(ctx context.Context, q Querier, guid string) ([]string, error) {
	var js string
	err := q.QueryRowContext(ctx, "SELECT participants FROM conversations WHERE guid = ?", guid).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read conversation %s: %w", guid, err)
	}
	var out []string
	if err := jsonUnmarshal([]byte(js), &out); err != nil {
		return nil, nil
	}
	return out, nil
}

func outboxStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read outbox recipients: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("read outbox recipients: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// OutboxCount is the number of entries of the outbox view (the counts'
// outbox_pending): live own entities of the federated kinds, their
// retractions, the profile once the identity exists, and the sharing state
// of everyone ever put in an aspect. Nothing records deliveries yet, so
// every entry counts.
func OutboxCount(ctx context.Context, q Querier) (int, error) {
	n, err := OutboxPublishedCount(ctx, q)
	if err != nil {
		return 0, err
	}
	rs, err := OwnRetractions(ctx, q)
	if err != nil {
		return 0, err
	}
	n += len(rs)
	me, err := readMe(ctx, q)
	if err != nil {
		return 0, err
	}
	if me.Exists() {
		at, err := ProfileChangedAt(ctx, q)
		if err != nil {
			return 0, err
		}
		if at > 0 {
			n++
		}
	}
	var contacts int
	if err := q.QueryRowContext(ctx, "SELECT count(DISTINCT member) FROM st_set_adds WHERE name LIKE 'aspect/%'").
		Scan(&contacts); err != nil {
		return 0, fmt.Errorf("count outbox contacts: %w", err)
	}
	return n + contacts, nil
}

// ContactGUIDs lists every contact's person guid (sharing with the user,
// or in one of the user's aspects).
func ContactGUIDs(ctx context.Context, q Querier) ([]string, error) {
	return outboxStrings(ctx, q, "SELECT person_guid FROM contacts ORDER BY person_guid")
}

// ConversationPeople lists the handles of everyone the user has a
// conversation with (the user, written ”, left out).
func ConversationPeople(ctx context.Context, q Querier) ([]string, error) {
	return outboxStrings(ctx, q, `SELECT DISTINCT j.value FROM conversations c, json_each(c.participants) j
		WHERE j.value <> '' ORDER BY 1`)
}
