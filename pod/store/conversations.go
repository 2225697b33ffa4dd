package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Queries of the conversations area: conversations with the user's read
// state, and their messages. Each takes a Querier (db.R, or a *Tx / *Writer
// inside a write).
//
// Read state of a conversation (docs/data-model.md):
//   - its unread count is the number of messages from others that reached
//     the pod after the conversation/<guid> watermark (ReadUpTo);
//   - the LWW field conversation/<guid>/unread = "1" marks it unread by
//     hand, whatever the count; reading it again sets "".
//   - read (v1) = not marked unread and no unread message.
//
// Hidden conversations (the hidden_conversations set, DELETE in v1) are
// left out of lists, counts and lookups, until someone else writes in them:
// hiding reads the conversation up to its newest message, so a later
// message from someone else is unread and brings the conversation back.
// Reading or answering it then un-hides it for good (the use cases remove
// it from the set).

// Conversation is a conversations row with the user's state.
type Conversation struct {
	GUID         string
	Own          bool   // I started it
	Author       string // handle; '' when own
	Subject      string
	Participants []string // handles, '' = me
	CreatedAt    int64
	UpdatedAt    int64 // the newest message's arrival
	Unread       int   // messages from others after the watermark
	MarkedUnread bool  // conversation/<guid>/unread = "1"
	Hidden       bool  // in hidden_conversations (and no unread message)
}

// Read is v1's read flag: the unread count is 0 and it is not marked unread.
func (c Conversation) Read() bool { return c.Unread == 0 && !c.MarkedUnread }

// conversationSelect selects a conversation (alias c) and its state; the
// outer query filters on the computed columns.
const conversationSelect = `SELECT * FROM (SELECT c.guid, c.own, c.author, c.subject, c.participants, c.created_at, c.updated_at,
	(SELECT count(*) FROM messages m WHERE m.conversation_guid = c.guid AND m.own = 0
		AND m.received_at > coalesce((SELECT watermark FROM st_reads WHERE stream = 'conversation/' || c.guid), -1)) AS unread,
	coalesce((SELECT value FROM st_fields WHERE key = 'conversation/' || c.guid || '/unread'), '') = '1' AS marked,
	EXISTS (SELECT 1 FROM st_set_adds WHERE name = '` + HiddenConversationsSet + `' AND member = c.guid AND live = 1) AS in_hidden
	FROM conversations c) cs`

// conversationVisible is true for a shown conversation (alias cs).
const conversationVisible = `(NOT cs.in_hidden OR cs.unread > 0)`

func scanConversation(r interface{ Scan(dest ...any) error }) (Conversation, error) {
	var c Conversation
	var parts string
	var inHidden bool
	if err := r.Scan(&c.GUID, &c.Own, &c.Author, &c.Subject, &parts, &c.CreatedAt, &c.UpdatedAt, &c.Unread,
		&c.MarkedUnread, &inHidden); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(parts), &c.Participants); err != nil {
		return c, fmt.Errorf("participants of %s: %w", c.GUID, err)
	}
	c.Hidden = inHidden && c.Unread == 0
	return c, nil
}

// ConversationByGUID reads a conversation, hidden or not; ok is false when
// there is none.
func ConversationByGUID(ctx context.Context, q Querier, guid string) (c Conversation, ok bool, err error) {
	c, err = scanConversation(q.QueryRowContext(ctx, conversationSelect+` WHERE cs.guid = ?`, guid))
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read conversation %s: %w", guid, err)
	}
	return c, true, nil
}

// ConversationQuery selects a page of the conversation list: shown
// conversations, newest activity (updated_at) first, paged on
// (updated_at, guid).
type ConversationQuery struct {
	OnlyUnread bool
	// Since keeps conversations updated at or after it (ms), when HasSince.
	Since    int64
	HasSince bool
	// The page: Descending from (Time, GUID) exclusive, or ascending; GUID
	// "" compares times alone.
	Descending bool
	Time       int64
	GUID       string
	Limit      int
}

// Conversations lists a page of conversations.
func Conversations(ctx context.Context, q Querier, cq ConversationQuery) ([]Conversation, error) {
	where := []string{conversationVisible}
	var args []any
	if cq.OnlyUnread {
		where = append(where, "(cs.unread > 0 OR cs.marked)")
	}
	if cq.HasSince {
		where = append(where, "cs.updated_at >= ?")
		args = append(args, cq.Since)
	}
	cmp, order := ">", "ASC"
	if cq.Descending {
		cmp, order = "<", "DESC"
	}
	if cq.GUID != "" {
		where = append(where, "(cs.updated_at "+cmp+" ? OR (cs.updated_at = ? AND cs.guid "+cmp+" ?))")
		args = append(args, cq.Time, cq.Time, cq.GUID)
	} else {
		where = append(where, "cs.updated_at "+cmp+" ?")
		args = append(args, cq.Time)
	}
	args = append(args, cq.Limit)
	rows, err := q.QueryContext(ctx, conversationSelect+" WHERE "+strings.Join(where, " AND ")+
		" ORDER BY cs.updated_at "+order+", cs.guid "+order+" LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	defer rows.Close()
	var out []Conversation
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("list conversations: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ConversationsUnread counts the shown conversations that are not read.
func ConversationsUnread(ctx context.Context, q Querier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM (`+conversationSelect+` WHERE `+conversationVisible+
		` AND (cs.unread > 0 OR cs.marked))`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count unread conversations: %w", err)
	}
	return n, nil
}

// Message is a messages row.
type Message struct {
	GUID         string
	Conversation string
	Own          bool
	Author       string // handle; '' when own
	Text         string
	CreatedAt    int64
	ReceivedAt   int64
}

// Messages lists a conversation's messages oldest first, limit from
// offset.
func Messages(ctx context.Context, q Querier, conversation string, offset, limit int) ([]Message, error) {
	rows, err := q.QueryContext(ctx, `SELECT guid, conversation_guid, own, author, text, created_at, received_at FROM messages
		WHERE conversation_guid = ? ORDER BY id LIMIT ? OFFSET ?`, conversation, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list messages of %s: %w", conversation, err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.GUID, &m.Conversation, &m.Own, &m.Author, &m.Text, &m.CreatedAt, &m.ReceivedAt); err != nil {
			return nil, fmt.Errorf("list messages of %s: %w", conversation, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MessageByGUID reads one message; ok is false when there is none.
func MessageByGUID(ctx context.Context, q Querier, guid string) (m Message, ok bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT guid, conversation_guid, own, author, text, created_at, received_at FROM messages
		WHERE guid = ?`, guid).Scan(&m.GUID, &m.Conversation, &m.Own, &m.Author, &m.Text, &m.CreatedAt, &m.ReceivedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("read message %s: %w", guid, err)
	}
	return m, true, nil
}

// ConversationArrival is the arrival time (ms) of a conversation's newest
// message, or its creation time without messages: the watermark that reads
// all of it.
func ConversationArrival(ctx context.Context, q Querier, guid string) (int64, error) {
	var at int64
	if err := q.QueryRowContext(ctx, `SELECT max(c.created_at, coalesce((SELECT max(received_at) FROM messages
		WHERE conversation_guid = c.guid), 0)) FROM conversations c WHERE c.guid = ?`, guid).Scan(&at); err != nil {
		return 0, fmt.Errorf("read conversation %s: %w", guid, err)
	}
	return at, nil
}

// ReadWatermark is a ReadUpTo stream's watermark; ok is false when the
// stream has none.
func ReadWatermark(ctx context.Context, q Querier, stream string) (w int64, ok bool, err error) {
	err = q.QueryRowContext(ctx, "SELECT watermark FROM st_reads WHERE stream = ?", stream).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read watermark %s: %w", stream, err)
	}
	return w, true, nil
}
