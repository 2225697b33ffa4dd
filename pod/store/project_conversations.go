package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
)

// Conversations, messages and notifications projections. Owned by the
// conversations area. Each recomputes the rows of one key from the fold and
// the other areas' tables, never incrementally, so any op order gives the
// same rows.
//
// Conversations:
//   - own: the Publish of kind "conversation" (not retracted); author '',
//     participants '' (me) then the handles of the body's person guids, as
//     the people table knows them (a person not known yet is left out, and
//     the row is recomputed when their record arrives: projectNotifications
//     dispatches it);
//   - received: the conversation entity; participants are its handles, my
//     own handle written as '' (and added when missing: it was delivered to
//     me, so I take part). The author is always a participant.
//   - updated_at is the newest message's created_at (created_at without
//     messages).
//
// Messages: a row per message whose conversation has a row and whose author
// takes part in it (own messages always do). Sources: own Publishes of kind
// "message" (parent = the conversation), received message entities, and the
// messages embedded in a received conversation. A guid received as a
// message entity of its own is taken from there, never from an embedding,
// so the row does not depend on which arrived first. Because a message may
// arrive before its conversation, projectConversation recomputes every
// message of the conversation, and projectMessage only the one.

// ConversationStream is the read watermark of a conversation: messages
// created at or before it are read.
func ConversationStream(guid string) string { return "conversation/" + guid }

// ConversationUnreadKey is the LWW field that marks a conversation unread
// by hand ("1"); "" (or unset) leaves the watermark in charge.
func ConversationUnreadKey(guid string) string { return "conversation/" + guid + "/unread" }

// HiddenConversationsSet holds the conversations the user deleted (hid).
const HiddenConversationsSet = "hidden_conversations"

// ownConversationBody is the body of an own "conversation" Publish.
type ownConversationBody struct {
	Subject      string   `json:"subject"`
	Participants []string `json:"participants"` // person guids, without me
}

// ownMessageBody is the body of an own "message" Publish.
type ownMessageBody struct {
	Text string `json:"text"`
}

type conversationRow struct {
	own          bool
	author       string
	subject      string
	participants []string // handles, '' = me
	createdAt    int64
	receivedAt   int64 // when it reached this pod (own: createdAt)
	embedded     []*entity.Message
}

func (r conversationRow) takesPart(handle string) bool {
	return slices.Contains(r.participants, handle)
}

// conversationSource computes a conversation's row from the fold.
func (tx *Tx) conversationSource(guid string) (conversationRow, bool, error) {
	p, err := tx.published(guid)
	if err != nil {
		return conversationRow{}, false, err
	}
	if p.Retracted || (p.Exists && p.Kind != "conversation") {
		return conversationRow{}, false, nil
	}
	if p.Exists {
		var body ownConversationBody
		if err := json.Unmarshal(p.Body, &body); err != nil {
			return conversationRow{}, false, nil // a body this binary cannot read shows nothing
		}
		row := conversationRow{own: true, subject: body.Subject, participants: []string{""}, createdAt: p.CreatedAt,
			receivedAt: p.CreatedAt}
		people, err := PeopleByGUIDs(tx.ctx, tx, body.Participants)
		if err != nil {
			return conversationRow{}, false, err
		}
		for _, g := range body.Participants {
			if pp, ok := people[g]; ok && !row.takesPart(pp.Handle) {
				row.participants = append(row.participants, pp.Handle)
			}
		}
		return row, true, nil
	}
	r, ok, err := tx.received(guid)
	if err != nil || !ok || r.EntityType != EntityConversation {
		return conversationRow{}, false, err
	}
	e, err := entity.Parse([]byte(r.Payload))
	if err != nil {
		return conversationRow{}, false, nil
	}
	c, ok := e.(*entity.Conversation)
	if !ok {
		return conversationRow{}, false, nil
	}
	me, err := tx.Me()
	if err != nil {
		return conversationRow{}, false, err
	}
	mine := func(h string) string {
		h = strings.ToLower(h)
		if me.IsMe(h) {
			return ""
		}
		return h
	}
	row := conversationRow{author: mine(c.AuthorID), subject: c.Subject, createdAt: c.CreatedAt.UnixMilli(), embedded: c.Messages}
	if row.receivedAt, err = tx.conversationsWall(guid); err != nil {
		return conversationRow{}, false, err
	}
	if c.CreatedAt.IsZero() {
		row.createdAt = row.receivedAt
	}
	row.own = row.author == ""
	for _, h := range append([]string{c.AuthorID}, c.Participants...) {
		if h = mine(h); !row.takesPart(h) {
			row.participants = append(row.participants, h)
		}
	}
	if !row.takesPart("") {
		row.participants = append(row.participants, "")
	}
	return row, true, nil
}

// conversationsWall is the wall clock (ms) of the op that recorded a
// received guid: the time of an entity that carries none. It is the same op
// after every refold, so the time is stable.
func (tx *Tx) conversationsWall(guid string) (int64, error) {
	var wall int64
	err := tx.QueryRowContext(tx.ctx, `SELECT o.wall FROM st_received r
		JOIN ops o ON o.device = r.device AND o.epoch = r.epoch AND o.seq = r.seq WHERE r.guid = ?`, guid).Scan(&wall)
	if err != nil {
		return 0, fmt.Errorf("read receive time of %s: %w", guid, err)
	}
	return wall, nil
}

// messageRow is a message as the messages table holds it.
type messageRow struct {
	guid, conversation, author, text string
	own                              bool
	createdAt                        int64
	// receivedAt is when the message reached this pod (the received op's
	// wall clock; created_at for own ones): a message delivered late is
	// unread even when it was written before the read watermark.
	receivedAt int64
}

// messageSource computes the row of an own or received message guid (not
// of a message only embedded in a conversation).
func (tx *Tx) messageSource(guid string) (messageRow, bool, error) {
	p, err := tx.published(guid)
	if err != nil {
		return messageRow{}, false, err
	}
	if p.Retracted || (p.Exists && p.Kind != "message") {
		return messageRow{}, false, nil
	}
	if p.Exists {
		var body ownMessageBody
		if err := json.Unmarshal(p.Body, &body); err != nil {
			return messageRow{}, false, nil
		}
		return messageRow{guid: guid, conversation: p.Parent, own: true, text: body.Text, createdAt: p.CreatedAt,
			receivedAt: p.CreatedAt}, true, nil
	}
	r, ok, err := tx.received(guid)
	if err != nil || !ok || r.EntityType != EntityMessage {
		return messageRow{}, false, err
	}
	e, err := entity.Parse([]byte(r.Payload))
	if err != nil {
		return messageRow{}, false, nil
	}
	m, ok := e.(*entity.Message)
	if !ok {
		return messageRow{}, false, nil
	}
	row := messageRow{guid: guid, conversation: m.ConversationGUID, author: strings.ToLower(m.AuthorID), text: m.Text,
		createdAt: m.CreatedAt.UnixMilli()}
	if row.receivedAt, err = tx.conversationsWall(guid); err != nil {
		return messageRow{}, false, err
	}
	if m.CreatedAt.IsZero() {
		row.createdAt = row.receivedAt
	}
	return row, true, tx.ownHandleToMe(&row)
}

// ownHandleToMe writes a message of mine received back (another device
// before sync, a relay echo) as own.
func (tx *Tx) ownHandleToMe(m *messageRow) error {
	me, err := tx.Me()
	if err != nil {
		return err
	}
	if me.IsMe(m.author) {
		m.author, m.own = "", true
		m.receivedAt = m.createdAt
	}
	return nil
}

// conversationParticipants reads a conversation row's participants.
func (tx *Tx) conversationParticipants(guid string) ([]string, bool, error) {
	var parts string
	err := tx.QueryRowContext(tx.ctx, "SELECT participants FROM conversations WHERE guid = ?", guid).Scan(&parts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read conversation %s: %w", guid, err)
	}
	var out []string
	if err := json.Unmarshal([]byte(parts), &out); err != nil {
		return nil, false, fmt.Errorf("read conversation %s participants: %w", guid, err)
	}
	return out, true, nil
}

// writeMessage makes the messages row of guid equal to m (nil: no row).
// messages has FTS triggers on insert and delete only, so a change is a
// delete and an insert.
func (tx *Tx) writeMessage(guid string, m *messageRow) error {
	var cur messageRow
	var id int64
	err := tx.QueryRowContext(tx.ctx, `SELECT id, conversation_guid, own, author, text, created_at, received_at
		FROM messages WHERE guid = ?`, guid).
		Scan(&id, &cur.conversation, &cur.own, &cur.author, &cur.text, &cur.createdAt, &cur.receivedAt)
	had := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read message %s: %w", guid, err)
	}
	if had {
		cur.guid = guid
		if m != nil && cur == *m {
			return nil
		}
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM messages WHERE guid = ?", guid); err != nil {
			return fmt.Errorf("delete message %s: %w", guid, err)
		}
	}
	if m == nil {
		return nil
	}
	id, err = tx.timeID("messages", guid, m.createdAt)
	if err != nil {
		return fmt.Errorf("time id of message %s: %w", guid, err)
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO messages (id, guid, conversation_guid, own, author, text, created_at, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, guid, m.conversation, m.own, m.author, m.text, m.createdAt, m.receivedAt); err != nil {
		return fmt.Errorf("insert message %s: %w", guid, err)
	}
	return nil
}

// touchConversation recomputes a conversation's updated_at from its
// messages: the newest arrival, so a message delivered late still brings
// its conversation to the top.
func (tx *Tx) touchConversation(guid string) error {
	if _, err := tx.ExecContext(tx.ctx, `UPDATE conversations SET updated_at =
		max(created_at, coalesce((SELECT max(received_at) FROM messages WHERE conversation_guid = ?1), 0)) WHERE guid = ?1`,
		guid); err != nil {
		return fmt.Errorf("update conversation %s: %w", guid, err)
	}
	return nil
}

// projectConversation recomputes the conversations row of a guid and every
// message of it.
func (tx *Tx) projectConversation(guid string) error {
	row, ok, err := tx.conversationSource(guid)
	if err != nil {
		return fmt.Errorf("project conversation %s: %w", guid, err)
	}
	if !ok {
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM messages WHERE conversation_guid = ?", guid); err != nil {
			return fmt.Errorf("delete messages of %s: %w", guid, err)
		}
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM conversations WHERE guid = ?", guid); err != nil {
			return fmt.Errorf("delete conversation %s: %w", guid, err)
		}
		return nil
	}
	id, err := tx.timeID("conversations", guid, row.createdAt)
	if err != nil {
		return fmt.Errorf("time id of conversation %s: %w", guid, err)
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO conversations (id, guid, own, author, subject, participants, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guid) DO UPDATE SET own = excluded.own, author = excluded.author,
		subject = excluded.subject, participants = excluded.participants, created_at = excluded.created_at`,
		id, guid, row.own, row.author, row.subject, jsonStrings(row.participants), row.createdAt, row.createdAt); err != nil {
		return fmt.Errorf("write conversation %s: %w", guid, err)
	}

	// Every message that belongs here, by guid: by a participant, or an
	// identity a participant moved to (project_moves.go).
	writers, err := tx.withSuccessors(row.participants)
	if err != nil {
		return err
	}
	want := map[string]*messageRow{}
	keep := func(m messageRow) {
		if m.conversation == guid && slices.Contains(writers, m.author) {
			want[m.guid] = &m
		}
	}
	me, err := tx.Me()
	if err != nil {
		return err
	}
	for _, m := range row.embedded {
		if m == nil || m.ID == "" {
			continue
		}
		if _, standalone, err := tx.received(m.ID); err != nil {
			return err
		} else if standalone {
			continue // the message entity of its own gives the row
		}
		if p, err := tx.published(m.ID); err != nil {
			return err
		} else if p.Exists || p.Retracted {
			continue // an own guid
		}
		mr := messageRow{guid: m.ID, conversation: m.ConversationGUID, author: strings.ToLower(m.AuthorID), text: m.Text,
			createdAt: m.CreatedAt.UnixMilli()}
		if mr.conversation == "" {
			mr.conversation = guid
		}
		mr.receivedAt = row.receivedAt
		if m.CreatedAt.IsZero() {
			mr.createdAt = row.createdAt
		}
		if me.IsMe(mr.author) {
			mr.author, mr.own = "", true
			mr.receivedAt = mr.createdAt
		}
		keep(mr)
	}
	var candidates []string
	// Received messages by the participants that name the conversation (the
	// payload holds its guid: a cheap filter before parsing), own
	// messages, and the rows it has.
	rows, err := tx.QueryContext(tx.ctx, `SELECT guid FROM st_received WHERE entity_type = ?1
			AND author IN (SELECT value FROM json_each(?2)) AND instr(payload, ?3) > 0
		UNION SELECT guid FROM st_published WHERE parent = ?3 AND kind = 'message'
		UNION SELECT guid FROM messages WHERE conversation_guid = ?3`,
		EntityMessage, jsonStrings(append(append(slices.Clone(writers), me.Handle()), me.Former...)), guid)
	if err != nil {
		return fmt.Errorf("list messages of %s: %w", guid, err)
	}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return err
		}
		candidates = append(candidates, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range candidates {
		if _, ok := want[g]; ok {
			continue
		}
		m, ok, err := tx.messageSource(g)
		if err != nil {
			return err
		}
		if ok {
			keep(m)
		}
	}
	// Rows that no longer belong go; the others are written.
	var stale []string
	rows, err = tx.QueryContext(tx.ctx, "SELECT guid FROM messages WHERE conversation_guid = ?", guid)
	if err != nil {
		return fmt.Errorf("list messages of %s: %w", guid, err)
	}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return err
		}
		if want[g] == nil {
			stale = append(stale, g)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range stale {
		if err := tx.writeMessage(g, nil); err != nil {
			return err
		}
	}
	guids := make([]string, 0, len(want))
	for g := range want {
		guids = append(guids, g)
	}
	slices.Sort(guids) // a stable order of time-id probing
	for _, g := range guids {
		if err := tx.writeMessage(g, want[g]); err != nil {
			return err
		}
	}
	return tx.touchConversation(guid)
}

// projectMessage recomputes the messages row of an own or received message
// guid, and its conversation's updated_at.
func (tx *Tx) projectMessage(guid string) error {
	m, ok, err := tx.messageSource(guid)
	if err != nil {
		return fmt.Errorf("project message %s: %w", guid, err)
	}
	var old string
	if err := tx.QueryRowContext(tx.ctx, "SELECT conversation_guid FROM messages WHERE guid = ?", guid).Scan(&old); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read message %s: %w", guid, err)
	}
	var row *messageRow
	if ok {
		parts, known, err := tx.conversationParticipants(m.conversation)
		if err != nil {
			return err
		}
		if known {
			if parts, err = tx.withSuccessors(parts); err != nil {
				return err
			}
		}
		if known && slices.Contains(parts, m.author) {
			row = &m
		}
	}
	if row == nil && old != "" {
		// An embedded copy may hold the guid once the entity of its own is
		// gone (never, in practice): the conversation decides.
		return tx.projectConversation(old)
	}
	if err := tx.writeMessage(guid, row); err != nil {
		return err
	}
	if row != nil {
		if err := tx.touchConversation(row.conversation); err != nil {
			return err
		}
	}
	if old != "" && (row == nil || old != row.conversation) {
		return tx.touchConversation(old)
	}
	return nil
}

// --- notifications ---------------------------------------------------------
//
// One row per (type, target), guid NotificationGUID(type, target), computed
// from the domain tables (posts, comments, likes, post_mentions,
// comment_mentions, people) by notifyPost and notifyPerson; no event left
// means no row. Events never come from my own rows, nor from people I block
// or ignore. The time of an event is when it reached this pod (its received
// op's wall clock, as diaspora* stamps a notification when it creates it),
// so a late delivery is still newer than the read watermark; created_at is
// the newest event, actors are the authors by their newest event, newest
// last.
//
//   - comment_on_post: others' comments on my post, unless I muted it;
//   - also_commented: others' comments on a post not mine that I am
//     subscribed to (Subscribed: I took part in it, or subscribed, and did
//     not mute it), those after my first participation (all of them when I
//     only subscribed);
//   - comments that mention me notify as mentioned_in_comment (on any
//     post), never also as the two above;
//   - liked, reshared: others' likes and reshares of my post;
//   - liked_comment: others' likes of my comments, one notification per
//     post (its target, as v1 presents it);
//   - mentioned: a received status message that mentions my handle;
//   - started_sharing: target the person guid; their newest Contact says
//     they share with me; its time is when that Contact arrived.
//
// contacts_birthday is computed when read (notifications.go).

// Notification types (the v1 enum, API.md §2).
const (
	NotifyAlsoCommented      = "also_commented"
	NotifyCommentOnPost      = "comment_on_post"
	NotifyLiked              = "liked"
	NotifyLikedComment       = "liked_comment"
	NotifyMentioned          = "mentioned"
	NotifyMentionedInComment = "mentioned_in_comment"
	NotifyReshared           = "reshared"
	NotifyStartedSharing     = "started_sharing"
	NotifyContactsBirthday   = "contacts_birthday"
)

// postNotificationTypes are the types whose target is a post.
var postNotificationTypes = []string{NotifyCommentOnPost, NotifyAlsoCommented, NotifyLiked, NotifyLikedComment,
	NotifyReshared, NotifyMentioned, NotifyMentionedInComment}

// postNotificationTypesSQL is postNotificationTypes as an SQL list, for
// type IN (…): constant, so a statement needs no json_each to read it.
var postNotificationTypesSQL = sqlStringList(postNotificationTypes)

// sqlStringList quotes strings as an SQL list: 'a', 'b'.
func sqlStringList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return strings.Join(q, ", ")
}

// NotificationGUID is the deterministic guid of the notification of a type
// about a target: the first 32 hex digits of SHA-256(type "|" target).
func NotificationGUID(typ, target string) string {
	h := sha256.Sum256([]byte(typ + "|" + target))
	return hex.EncodeToString(h[:16])
}

// notifyEvent is one thing that happened: who, when (ms).
type notifyEvent struct {
	author string
	at     int64
}

// notifyExcluded selects the handles whose events never notify: people I
// block or ignore.
const notifyExcluded = `(SELECT p.handle FROM people p JOIN st_set_adds s ON s.member = p.guid
	WHERE s.name IN ('` + SetBlocks + `', '` + SetIgnores + `') AND s.live = 1)`

// notifyCommentShown is true for a comments row (alias c) not hidden locally.
const notifyCommentShown = `c.guid NOT IN (SELECT member FROM st_set_adds WHERE name = '` + HiddenCommentsSet + `' AND live = 1)`

// notifyAt is the time of an event, a received row (alias.guid): when its
// op reached this pod, as diaspora* stamps a notification when it creates
// it. A comment delivered late is then still newer than the read
// watermark. Rows without a received op (none, in practice) use their
// created_at.
func notifyAt(alias string) string {
	return `coalesce((SELECT o.wall FROM st_received r JOIN ops o ON o.device = r.device AND o.epoch = r.epoch
		AND o.seq = r.seq WHERE r.guid = ` + alias + `.guid), ` + alias + `.created_at)`
}

func (tx *Tx) notifyEvents(query string, args ...any) ([]notifyEvent, error) {
	rows, err := tx.QueryContext(tx.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []notifyEvent
	for rows.Next() {
		var e notifyEvent
		if err := rows.Scan(&e.author, &e.at); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// writeNotification makes the row of (typ, target) say events (none: no
// row). Actors are the distinct authors, ordered by their newest event
// (then handle), newest last; created_at is the newest event.
func (tx *Tx) writeNotification(typ, target string, events []notifyEvent) error {
	guid := NotificationGUID(typ, target)
	if len(events) == 0 {
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM notifications WHERE guid = ?", guid); err != nil {
			return fmt.Errorf("delete notification %s: %w", guid, err)
		}
		return nil
	}
	newest := map[string]int64{}
	var created int64
	for _, e := range events {
		if t, ok := newest[e.author]; !ok || e.at > t {
			newest[e.author] = e.at
		}
		created = max(created, e.at)
	}
	actors := make([]string, 0, len(newest))
	for a := range newest {
		actors = append(actors, a)
	}
	slices.SortFunc(actors, func(a, b string) int {
		if newest[a] != newest[b] {
			if newest[a] < newest[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO notifications (guid, type, target_guid, actors, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (guid) DO UPDATE SET type = excluded.type, target_guid = excluded.target_guid,
		actors = excluded.actors, created_at = excluded.created_at`, guid, typ, target, jsonStrings(actors), created); err != nil {
		return fmt.Errorf("write notification %s: %w", guid, err)
	}
	return nil
}

// notifyPost recomputes every notification whose target is the post guid.
// One query says which kinds of event exist at all and which rows are
// stored, so a post nobody reacted to (most of them) costs one statement.
func (tx *Tx) notifyPost(guid string) error {
	if guid == "" {
		return nil
	}
	me, err := tx.Me()
	if err != nil {
		return err
	}
	var handle any // NULL before the identity exists
	if me.Exists() {
		handle = me.Handle()
	}
	// The flags come packed in one column: each column read costs more
	// than a bit.
	var postID sql.NullInt64
	var flags int64
	var stored sql.NullString
	err = tx.QueryRowContext(tx.ctx, `SELECT p.id, coalesce(p.own, 0)
		| (EXISTS (SELECT 1 FROM comments WHERE post_guid = ?1 AND own = 0) << 1)
		| (EXISTS (SELECT 1 FROM likes WHERE target_guid = ?1 AND own = 0) << 2)
		| (EXISTS (SELECT 1 FROM posts WHERE root_guid = ?1 AND root_guid <> '' AND own = 0) << 3)
		| (EXISTS (SELECT 1 FROM post_mentions WHERE post_id = p.id AND handle = ?2) << 4)
		| (EXISTS (SELECT 1 FROM comments c WHERE c.post_guid = ?1 AND c.own = 1
			AND EXISTS (SELECT 1 FROM likes l WHERE l.target_guid = c.guid AND l.own = 0)) << 5),
		(SELECT group_concat(type) FROM notifications WHERE target_guid = ?1 AND type IN (`+postNotificationTypesSQL+`))
		FROM (SELECT 1) LEFT JOIN posts p ON p.guid = ?1`, guid, handle).
		Scan(&postID, &flags, &stored)
	if err != nil {
		return fmt.Errorf("read post %s: %w", guid, err)
	}
	own, comments, likes, reshares := flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	mentioned, commentLikes := flags&16 != 0, flags&32 != 0
	events := map[string][]notifyEvent{}
	if postID.Valid && (comments || likes || reshares || mentioned || commentLikes) {
		if me.Exists() {
			if err := tx.postEvents(events, guid, postID.Int64, me.Handle(), own, comments, likes, reshares, mentioned,
				commentLikes); err != nil {
				return err
			}
		}
	}
	// Write what has events; delete what has none but a row.
	had := map[string]bool{}
	if stored.Valid {
		for _, typ := range strings.Split(stored.String, ",") {
			had[typ] = true
		}
	}
	for _, typ := range postNotificationTypes {
		if len(events[typ]) > 0 || had[typ] {
			if err := tx.writeNotification(typ, guid, events[typ]); err != nil {
				return err
			}
		}
	}
	return nil
}

// postEvents reads the events of a post's notifications, the kinds the
// flags say exist.
func (tx *Tx) postEvents(events map[string][]notifyEvent, guid string, postID int64, handle string,
	own, comments, likes, reshares, mentioned, commentLikes bool) error {
	var err error
	if comments {
		subscribed, err := Subscribed(tx.ctx, tx, guid)
		if err != nil {
			return err
		}
		// Comments by others, except those that mention me (they notify as
		// mentioned_in_comment).
		others := `SELECT c.author, ` + notifyAt("c") + ` FROM comments c WHERE c.post_guid = ? AND c.own = 0 AND ` + notifyCommentShown + `
			AND c.author NOT IN ` + notifyExcluded + `
			AND NOT EXISTS (SELECT 1 FROM comment_mentions m WHERE m.comment_id = c.id AND m.handle = ?)`
		switch {
		case own && subscribed:
			if events[NotifyCommentOnPost], err = tx.notifyEvents(others, guid, handle); err != nil {
				return fmt.Errorf("comments on %s: %w", guid, err)
			}
		case !own && subscribed:
			// Comments since I began to take part (or all of them when I
			// only subscribed).
			since, err := tx.participatedSince(guid)
			if err != nil {
				return err
			}
			if events[NotifyAlsoCommented], err = tx.notifyEvents(others+` AND c.created_at > ?`, guid, handle, since); err != nil {
				return fmt.Errorf("comments on %s: %w", guid, err)
			}
		}
		if events[NotifyMentionedInComment], err = tx.notifyEvents(`SELECT c.author, `+notifyAt("c")+` FROM comments c
			JOIN comment_mentions m ON m.comment_id = c.id AND m.handle = ?
			WHERE c.post_guid = ? AND c.own = 0 AND `+notifyCommentShown+` AND c.author NOT IN `+notifyExcluded, handle, guid); err != nil {
			return fmt.Errorf("comment mentions on %s: %w", guid, err)
		}
	}
	if own && likes {
		if events[NotifyLiked], err = tx.notifyEvents(`SELECT l.author, `+notifyAt("l")+` FROM likes l
			WHERE l.target_guid = ? AND l.target_type = 'Post' AND l.own = 0 AND l.positive = 1
			AND l.author NOT IN `+notifyExcluded, guid); err != nil {
			return fmt.Errorf("likes of %s: %w", guid, err)
		}
	}
	if own && reshares {
		if events[NotifyReshared], err = tx.notifyEvents(`SELECT p.author, `+notifyAt("p")+` FROM posts p
			WHERE p.root_guid = ? AND p.root_guid <> '' AND p.post_type = 'Reshare' AND p.own = 0
			AND p.author NOT IN `+notifyExcluded, guid); err != nil {
			return fmt.Errorf("reshares of %s: %w", guid, err)
		}
	}
	if commentLikes {
		if events[NotifyLikedComment], err = tx.notifyEvents(`SELECT l.author, `+notifyAt("l")+` FROM likes l
			JOIN comments c ON c.guid = l.target_guid AND c.own = 1
			WHERE c.post_guid = ? AND l.target_type = 'Comment' AND l.own = 0 AND l.positive = 1
			AND l.author NOT IN `+notifyExcluded, guid); err != nil {
			return fmt.Errorf("comment likes on %s: %w", guid, err)
		}
	}
	if !own && mentioned {
		if events[NotifyMentioned], err = tx.notifyEvents(`SELECT p.author, `+notifyAt("p")+` FROM posts p
			WHERE p.id = ? AND p.post_type = 'StatusMessage' AND p.author NOT IN `+notifyExcluded, postID); err != nil {
			return fmt.Errorf("mentions in %s: %w", guid, err)
		}
	}
	return nil
}

// participatedSince is when the user began to take part in a post (their
// first comment, like, vote or reshare of it); 0 when they only subscribed.
func (tx *Tx) participatedSince(guid string) (int64, error) {
	var since sql.NullInt64
	err := tx.QueryRowContext(tx.ctx, `SELECT min(t) FROM (
		SELECT min(created_at) AS t FROM comments WHERE post_guid = ?1 AND own = 1
		UNION ALL SELECT min(created_at) FROM likes WHERE target_guid = ?1 AND own = 1
		UNION ALL SELECT min(created_at) FROM poll_votes WHERE post_guid = ?1 AND own = 1
		UNION ALL SELECT min(created_at) FROM st_published WHERE kind = 'reshare' AND parent = ?1
			AND guid NOT IN (SELECT guid FROM st_retracted))`, guid).Scan(&since)
	if err != nil {
		return 0, fmt.Errorf("read participation in %s: %w", guid, err)
	}
	subscribed, err := IsMember(tx.ctx, tx, SubscribedSet, guid)
	if err != nil || subscribed {
		return 0, err
	}
	return since.Int64, nil
}

// notifyPerson recomputes the started_sharing notification of a person
// guid: they share with me (their newest Contact says so) and I neither
// block nor ignore them. Its time is when that Contact was recorded.
func (tx *Tx) notifyPerson(guid string) error {
	var events []notifyEvent
	var handle string
	var sharing bool
	err := tx.QueryRowContext(tx.ctx, `SELECT handle, sharing FROM people WHERE guid = ? AND handle NOT IN `+notifyExcluded, guid).
		Scan(&handle, &sharing)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read person %s: %w", guid, err)
	}
	if err == nil && sharing {
		var at sql.NullInt64
		if err := tx.QueryRowContext(tx.ctx, `SELECT max(o.wall) FROM st_received r
			JOIN ops o ON o.device = r.device AND o.epoch = r.epoch AND o.seq = r.seq
			WHERE r.author = ? AND r.entity_type = ?`, handle, EntityContact).Scan(&at); err != nil {
			return fmt.Errorf("read contact of %s: %w", handle, err)
		}
		if at.Valid {
			events = []notifyEvent{{author: handle, at: at.Int64}}
		}
	}
	return tx.writeNotification(NotifyStartedSharing, guid, events)
}

// notifyPersonEverywhere recomputes every notification a person's events
// can take part in: after a block, an ignore, or a change of who the guid
// is.
func (tx *Tx) notifyPersonEverywhere(guid string) error {
	if err := tx.notifyPerson(guid); err != nil {
		return err
	}
	var handle string
	err := tx.QueryRowContext(tx.ctx, "SELECT handle FROM people WHERE guid = ?", guid).Scan(&handle)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read person %s: %w", guid, err)
	}
	posts, err := tx.guidList(`SELECT guid FROM posts WHERE author = ?1 AND own = 0
		UNION SELECT root_guid FROM posts WHERE author = ?1 AND own = 0 AND root_guid <> ''
		UNION SELECT post_guid FROM comments WHERE author = ?1 AND own = 0
		UNION SELECT target_guid FROM likes WHERE author = ?1 AND own = 0 AND target_type = 'Post'
		UNION SELECT c.post_guid FROM likes l JOIN comments c ON c.guid = l.target_guid
			WHERE l.author = ?1 AND l.own = 0 AND l.target_type = 'Comment'`, handle)
	if err != nil {
		return fmt.Errorf("list events of %s: %w", handle, err)
	}
	for _, p := range posts {
		if err := tx.notifyPost(p); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) guidList(query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(tx.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// postsOf are the posts whose notifications an own or received guid (a
// post, reshare, comment, like or poll vote) can change, read from the
// fold, so a retracted entity still says where it was.
func (tx *Tx) postsOf(guid string) ([]string, error) {
	return tx.postsOfDepth(guid, 0)
}

func (tx *Tx) postsOfDepth(guid string, depth int) ([]string, error) {
	if guid == "" || depth > 2 {
		return nil, nil
	}
	f, err := tx.foldOf(guid)
	if err != nil {
		return nil, err
	}
	if f.pub.Exists {
		kind, parent := f.pub.Kind, f.pub.Parent
		switch kind {
		case "post":
			return []string{guid}, nil
		case "reshare":
			return []string{guid, parent}, nil
		case "edit", "comment", "poll_vote":
			return []string{parent}, nil
		case "like":
			return tx.postsOfDepth(parent, depth+1)
		}
		return nil, nil
	}
	// A received guid: its row says where it is, else its payload (a
	// retracted entity has no row any more).
	if tx.cache != nil {
		if post, ok := tx.cache.commentPosts[guid]; ok {
			return []string{post}, nil // the comments row projectComment just wrote
		}
	}
	var post string
	err = tx.QueryRowContext(tx.ctx, `SELECT post_guid FROM comments WHERE guid = ?1
		UNION ALL SELECT coalesce((SELECT post_guid FROM comments WHERE guid = l.target_guid), l.target_guid)
			FROM likes l WHERE l.guid = ?1
		UNION ALL SELECT guid FROM posts WHERE guid = ?1 AND root_guid = ''
		LIMIT 1`, guid).Scan(&post)
	switch {
	case err == nil:
		return []string{post}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("read %s: %w", guid, err)
	}
	r, ok, err := tx.received(guid)
	if err != nil {
		return nil, err
	}
	if !ok {
		if f.hasReceivedEdits {
			return []string{guid}, nil // a post known by its edits only
		}
		return nil, nil
	}
	switch r.EntityType {
	case EntityStatusMessage:
		return []string{guid}, nil
	case EntityReshare, EntityComment, EntityLike:
	default:
		return nil, nil
	}
	e, err := tx.parse(r.Payload)
	if err != nil {
		return nil, nil
	}
	switch e := e.(type) {
	case *entity.Reshare:
		return []string{guid, e.RootID}, nil
	case *entity.Comment:
		return []string{e.Parent}, nil
	case *entity.Like:
		if e.ParentTypeName == "Comment" {
			return tx.postsOfDepth(e.Parent, depth+1)
		}
		return []string{e.Parent}, nil
	}
	return nil, nil
}

// notifyAll rebuilds every notification (the identity changed: what counts
// as mine and as a mention of me changed with it).
func (tx *Tx) notifyAll() error {
	if _, err := tx.ExecContext(tx.ctx, "DELETE FROM notifications"); err != nil {
		return fmt.Errorf("clear notifications: %w", err)
	}
	posts, err := tx.guidList(`SELECT guid FROM posts UNION SELECT post_guid FROM comments`)
	if err != nil {
		return fmt.Errorf("list posts: %w", err)
	}
	for _, p := range posts {
		if err := tx.notifyPost(p); err != nil {
			return err
		}
	}
	people, err := tx.guidList(`SELECT guid FROM people WHERE sharing = 1`)
	if err != nil {
		return fmt.Errorf("list people: %w", err)
	}
	for _, g := range people {
		if err := tx.notifyPerson(g); err != nil {
			return err
		}
	}
	return nil
}

// personGUIDOf is the guid of a handle, "" when unknown.
func (tx *Tx) personGUIDOf(handle string) (string, error) {
	var g string
	err := tx.QueryRowContext(tx.ctx, "SELECT guid FROM people WHERE handle = ?", strings.ToLower(handle)).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return g, err
}

// projectNotifications runs after every change's area projection and
// recomputes the notifications it may affect. It also keeps the
// conversations that depend on other areas' rows in step: an own
// conversation shows its participants by the people rows, and every
// conversation writes my handle as "" (me).
func (tx *Tx) projectNotifications(c Change) error {
	switch c.Kind {
	case oplog.KindSetField:
		switch c.Key {
		case "identity/guid", "identity/username", "identity/domain":
			return tx.projectIdentityChange()
		}
	case oplog.KindSetAdd: // adds and removes
		switch c.Key {
		case FormerIDsSet:
			return tx.projectIdentityChange()
		case SetBlocks, SetIgnores:
			return tx.notifyPersonEverywhere(c.Member)
		case MutedSet, SubscribedSet:
			return tx.notifyPost(c.Member)
		case HiddenCommentsSet:
			posts, err := tx.postsOf(c.Member)
			if err != nil {
				return err
			}
			return tx.notifyPosts(posts)
		}
	case oplog.KindPublish:
		posts, err := tx.postsOf(c.Key)
		if err != nil {
			return err
		}
		return tx.notifyPosts(posts)
	case oplog.KindReceived:
		return tx.notifyReceived(c)
	}
	return nil
}

func (tx *Tx) notifyPosts(posts []string) error {
	seen := map[string]bool{}
	for _, p := range posts {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		if err := tx.notifyPost(p); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) notifyReceived(c Change) error {
	switch c.Entity {
	case EntityStatusMessage:
		return tx.notifyPost(c.Key)
	case EntityReshare, EntityComment, EntityLike:
		posts, err := tx.postsOf(c.Key)
		if err != nil {
			return err
		}
		return tx.notifyPosts(posts)
	case EntityRetraction:
		r, ok, err := tx.received(c.Key)
		if err != nil || !ok {
			return err
		}
		e, err := tx.parse(r.Payload)
		if err != nil {
			return nil
		}
		rt, ok := e.(*entity.Retraction)
		if !ok {
			return nil
		}
		posts, err := tx.postsOf(rt.Target)
		if err != nil {
			return err
		}
		return tx.notifyPosts(posts)
	case EntityAccountDeletion:
		return tx.notifyAccountDeletion(c.Key)
	case EntityAccountMigration:
		// Who shares changed (project_moves.go): the people of the move.
		hs, err := tx.moveHandles(c.Key)
		if err != nil {
			return err
		}
		for _, h := range hs {
			guid, err := tx.personGUIDOf(h)
			if err != nil {
				return err
			}
			if guid != "" {
				if err := tx.notifyPerson(guid); err != nil {
					return err
				}
			}
		}
		return nil
	case EntityPerson, EntityProfile, EntityContact:
		r, ok, err := tx.received(c.Key)
		if err != nil || !ok {
			return err
		}
		guid, err := tx.personGUIDOf(r.Author)
		if err != nil || guid == "" {
			return err
		}
		if c.Entity == EntityPerson {
			if err := tx.reprojectConversationsWith(guid); err != nil {
				return err
			}
		}
		excluded, err := tx.personExcluded(guid)
		if err != nil {
			return err
		}
		if excluded {
			return tx.notifyPersonEverywhere(guid)
		}
		return tx.notifyPerson(guid)
	}
	return nil
}

// notifyAccountDeletion recomputes the notifications a closed account's
// entities took part in (their rows are gone: postsOf reads where they
// were from the fold) and its started_sharing one.
func (tx *Tx) notifyAccountDeletion(key string) error {
	r, ok, err := tx.received(key)
	if err != nil || !ok || r.EntityType != EntityAccountDeletion {
		return err
	}
	ents, err := tx.closedAuthorEntities(r.Author)
	if err != nil {
		return err
	}
	var posts []string
	for _, e := range ents {
		if post, _, isEdit := SplitReceivedEditKey(e[0]); isEdit {
			posts = append(posts, post)
			continue
		}
		ps, err := tx.postsOf(e[0])
		if err != nil {
			return err
		}
		posts = append(posts, ps...)
	}
	if err := tx.notifyPosts(posts); err != nil {
		return err
	}
	guid, err := tx.personGUIDOf(r.Author)
	if err != nil || guid == "" {
		return err
	}
	return tx.notifyPerson(guid)
}

// personExcluded reports whether I block or ignore a person guid.
func (tx *Tx) personExcluded(guid string) (bool, error) {
	var n int
	err := tx.QueryRowContext(tx.ctx, `SELECT count(*) FROM st_set_adds WHERE name IN (?, ?) AND member = ? AND live = 1`,
		SetBlocks, SetIgnores, guid).Scan(&n)
	return n > 0, err
}

// reprojectConversationsWith recomputes my conversations with a person
// guid among the participants (their handle is now known).
func (tx *Tx) reprojectConversationsWith(guid string) error {
	convs, err := tx.guidList(`SELECT guid FROM st_published WHERE parent = '' AND kind = 'conversation'
		AND instr(CAST(body AS TEXT), ?) > 0`,
		`"`+guid+`"`)
	if err != nil {
		return fmt.Errorf("list conversations with %s: %w", guid, err)
	}
	for _, g := range convs {
		if err := tx.projectConversation(g); err != nil {
			return err
		}
	}
	return nil
}

// projectIdentityChange recomputes what depends on my handle: every
// conversation (my handle is written "") and every notification.
func (tx *Tx) projectIdentityChange() error {
	convs, err := tx.guidList(`SELECT guid FROM st_received WHERE entity_type = ?
		UNION SELECT guid FROM conversations`, EntityConversation)
	if err != nil {
		return fmt.Errorf("list conversations: %w", err)
	}
	for _, g := range convs {
		if err := tx.projectConversation(g); err != nil {
			return err
		}
	}
	return tx.notifyAll()
}
