package pod

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Live events for the UI (API.md §6.2, GET /events): what committed changes
// mean to the screens that show them. pod/web streams them (server-sent
// events); this file only names them.

// Event types.
const (
	EventPost         = "post"         // a post, or an interaction with one, changed
	EventNotification = "notification" // notifications changed (new ones or read state)
	EventConversation = "conversation" // a conversation or its messages changed
	EventDraft        = "draft"        // a draft was written or deleted
	EventProfile      = "profile"      // the own profile or someone's changed
	EventAspects      = "aspects"      // an aspect was created, renamed, reordered or deleted
	EventContacts     = "contacts"     // aspect membership, sharing, blocks or ignores changed
	EventFederation   = "federation"   // the relay was set up, or an outbox entry was handed to it
	EventFilters      = "filters"      // a mute filter was created, changed or deleted: reload streams
)

// Event is one live update: what to reload. Data is small on purpose: the
// UI fetches what it shows through the API, which applies every rule.
type Event struct {
	Type string    `json:"-"`
	Data EventData `json:"data"`
}

// EventData is an event's JSON data.
type EventData struct {
	// Kind says what changed within the type: "comment", "like",
	// "message", "read", …
	Kind string `json:"kind"`
	// GUID is the thing that changed (a post, comment, conversation, person
	// guid; a draft or aspect id), when there is one.
	GUID string `json:"guid,omitempty"`
	// PostGUID is the post an interaction belongs to.
	PostGUID string `json:"post_guid,omitempty"`
	// State is the federation engine's new state (federation events of
	// kind "state": connecting, connected, error).
	State string `json:"state,omitempty"`
}

// EventTranslator turns the changes of commits into events. It remembers
// the notifications' state between calls, to tell when notifications
// changed; it is not safe for concurrent use.
type EventTranslator struct {
	p      *Pod
	notifN int
	notifT int64
	primed bool
}

// NewEventTranslator starts a translator at the current notifications.
func (p *Pod) NewEventTranslator(ctx context.Context) *EventTranslator {
	t := &EventTranslator{p: p}
	t.notifN, t.notifT, _ = t.notifications(ctx)
	t.primed = true
	return t
}

func (t *EventTranslator) notifications(ctx context.Context) (int, int64, error) {
	var n int
	var at int64
	err := t.p.db.R.QueryRowContext(ctx, "SELECT count(*), coalesce(max(created_at), 0) FROM notifications").Scan(&n, &at)
	return n, at, err
}

// Translate names the events of one commit's changes, without duplicates,
// in the order of the changes. Lookups that fail (the pod closing, say)
// give less precise events, never none: the UI reloads more than needed
// rather than missing a change.
func (t *EventTranslator) Translate(ctx context.Context, changes []store.Change) []Event {
	var out []Event
	seen := map[Event]bool{}
	add := func(typ, kind, guid, post string) {
		e := Event{Type: typ, Data: EventData{Kind: kind, GUID: guid, PostGUID: post}}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	notif := false
	for _, c := range changes {
		switch c.Kind {
		case oplog.KindSetField:
			switch {
			case strings.HasPrefix(c.Key, "profile/"), strings.HasPrefix(c.Key, "identity/"):
				add(EventProfile, "own", "", "")
			case strings.HasPrefix(c.Key, "aspect/"):
				id, _, _ := strings.Cut(strings.TrimPrefix(c.Key, "aspect/"), "/")
				add(EventAspects, "aspect", id, "")
			case strings.HasPrefix(c.Key, "report/"):
				add(EventPost, "reported", strings.TrimPrefix(c.Key, "report/"), "")
			case c.Key == RelayURLKey:
				add(EventFederation, "relay", "", "")
			case strings.HasPrefix(c.Key, "filter/"):
				if fid, ok := store.FilterIDOfKey(c.Key); ok {
					add(EventFilters, "filter", fid, "")
				}
			}
		case oplog.KindDraftWrite:
			switch {
			case c.Key == "profile/bio":
				add(EventProfile, "own", "", "")
			case strings.HasPrefix(c.Key, "draft/"):
				add(EventDraft, "draft", strings.TrimPrefix(c.Key, "draft/"), "")
			}
		case oplog.KindSetAdd, oplog.KindAspectAdd, oplog.KindAspectRemove, oplog.KindSetRemove:
			switch {
			case strings.HasPrefix(c.Key, "aspect/"):
				add(EventContacts, "aspect_membership", c.Member, "")
			case c.Key == "blocks" || c.Key == "ignores":
				add(EventContacts, strings.TrimSuffix(c.Key, "s"), c.Member, "")
			case c.Key == "hidden" || c.Key == "subscribed" || c.Key == "muted" || c.Key == "reported":
				add(EventPost, c.Key, c.Member, "")
			case c.Key == "read":
				notif = true
				add(EventNotification, "read", c.Member, "")
			case c.Key == "hidden_conversations":
				add(EventConversation, "hidden", c.Member, "")
			case c.Key == store.HandedSet:
				add(EventFederation, "handed", c.Member, "")
			case c.Key == store.SetFilters:
				add(EventFilters, "filter", c.Member, "")
			}
		case oplog.KindReadUpTo:
			switch {
			case c.Key == "notifications":
				notif = true
				add(EventNotification, "read", "", "")
			case strings.HasPrefix(c.Key, "conversation/"):
				add(EventConversation, "read", strings.TrimPrefix(c.Key, "conversation/"), "")
			}
		case oplog.KindPublish:
			typ, kind, guid, post := t.own(ctx, c.Key)
			add(typ, kind, guid, post)
		case oplog.KindReceived:
			typ, kind, guid, post := t.received(ctx, c)
			if typ != "" {
				add(typ, kind, guid, post)
			}
		}
	}
	if n, at, err := t.notifications(ctx); err == nil {
		if t.primed && (n != t.notifN || at != t.notifT) && !notif {
			add(EventNotification, "changed", "", "")
		}
		t.notifN, t.notifT, t.primed = n, at, true
	}
	return out
}

// own names the event of an own entity (published or retracted).
func (t *EventTranslator) own(ctx context.Context, guid string) (typ, kind, g, post string) {
	var k, parent string
	err := t.p.db.R.QueryRowContext(ctx, "SELECT kind, parent FROM st_published WHERE guid = ?", guid).Scan(&k, &parent)
	if err != nil {
		return EventPost, "unknown", guid, ""
	}
	var retracted int
	_ = t.p.db.R.QueryRowContext(ctx, "SELECT count(*) FROM st_retracted WHERE guid = ?", guid).Scan(&retracted)
	if retracted > 0 {
		kind = "retracted_"
	}
	switch k {
	case "post", "reshare", "photo":
		return EventPost, kind + k, guid, guid
	case "edit":
		return EventPost, kind + k, guid, parent
	case "comment", "poll_vote":
		return EventPost, kind + k, guid, parent
	case "like":
		return EventPost, kind + k, guid, t.postOf(ctx, parent)
	case "conversation":
		return EventConversation, kind + k, guid, ""
	case "message":
		return EventConversation, kind + k, parent, ""
	}
	return EventPost, kind + k, guid, ""
}

// postOf is the post a like's target belongs to: the target itself, or
// the post of a comment.
func (t *EventTranslator) postOf(ctx context.Context, target string) string {
	var post string
	err := t.p.db.R.QueryRowContext(ctx, "SELECT post_guid FROM comments WHERE guid = ?", target).Scan(&post)
	if err != nil {
		return target
	}
	return post
}

// received names the event of an inbound entity.
func (t *EventTranslator) received(ctx context.Context, c store.Change) (typ, kind, guid, post string) {
	db := t.p.db.R
	col := func(query string) string {
		var s string
		if err := db.QueryRowContext(ctx, query, c.Key).Scan(&s); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return ""
		}
		return s
	}
	switch c.Entity {
	case store.EntityStatusMessage, store.EntityReshare:
		if g, _, ok := store.SplitReceivedEditKey(c.Key); ok {
			return EventPost, "edit", g, g // another version of the post
		}
		return EventPost, c.Entity, c.Key, c.Key
	case store.EntityComment:
		return EventPost, c.Entity, c.Key, col("SELECT post_guid FROM comments WHERE guid = ?")
	case store.EntityLike:
		return EventPost, c.Entity, c.Key, t.postOf(ctx, col("SELECT target_guid FROM likes WHERE guid = ?"))
	case store.EntityPollVote:
		return EventPost, c.Entity, c.Key, col("SELECT post_guid FROM poll_votes WHERE guid = ?")
	case store.EntityPhoto:
		return EventPost, c.Entity, c.Key, col("SELECT post_guid FROM photos WHERE guid = ?")
	case store.EntityRetraction:
		return EventPost, c.Entity, "", ""
	case store.EntityConversation:
		return EventConversation, c.Entity, c.Key, ""
	case store.EntityMessage:
		return EventConversation, c.Entity, col("SELECT conversation_guid FROM messages WHERE guid = ?"), ""
	case store.EntityPerson, store.EntityProfile:
		return EventProfile, c.Entity, col(`SELECT coalesce(p.guid, '') FROM st_received r
			LEFT JOIN people p ON p.handle = r.author WHERE r.guid = ?`), ""
	case store.EntityContact:
		return EventContacts, "sharing", col(`SELECT coalesce(p.guid, '') FROM st_received r
			LEFT JOIN people p ON p.handle = r.author WHERE r.guid = ?`), ""
	}
	return "", "", "", ""
}
