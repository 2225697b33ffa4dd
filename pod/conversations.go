package pod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"seedpod/pod/apiv1"
	"seedpod/pod/markup"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Conversations (private messages, API.md §3.9). A conversation is an own
// Publish of kind "conversation" {subject, participants} with its first
// message, a Publish of kind "message", written together; or a received
// conversation entity. Read state and hiding are described in
// pod/store/conversations.go. The decisions that differ from diaspora*:
//
//   - The list is ordered by the newest activity (updated_at: the arrival
//     of the newest message), newest first, and paged on (updated_at, guid)
//     with the time pager's before/after/cursor; only_after keeps
//     conversations updated at or after it (API.md §4 #24). diaspora* pages
//     on created_at and its links are broken.
//   - read=false marks a conversation unread by hand (the LWW field
//     conversation/<guid>/unread = "1"); the next read=true clears it.
//   - A hidden (deleted) conversation comes back when someone else writes in
//     it; reading or answering it then un-hides it for good. diaspora* keeps
//     it hidden forever, so new messages are never seen.
//   - Writing a message reads the conversation up to it.

// Limits of a new conversation: diaspora*'s (conversation.rb validates the
// subject's length; messages are text like posts).
const (
	MaxSubjectLength = 255
	MaxMessageLength = markup.MaxLength
)

// ConversationListOptions select a page of GET /conversations.
type ConversationListOptions struct {
	OnlyUnread bool
	// OnlyAfter keeps conversations updated at or after it (zero: all).
	OnlyAfter time.Time
	Page      apiv1.TimePage
}

// ConversationPage is a page of conversations with the cursors of its
// first and last items (paged on updated_at), for the Link header.
type ConversationPage struct {
	Conversations []apiv1.Conversation
	First, Last   apiv1.Cursor
}

// conversationPeople presents handles ("" = me) as v1 people, reading each
// once.
type conversationPeople struct {
	ctx   context.Context
	q     store.Querier
	known map[string]apiv1.Person
}

func newConversationPeople(ctx context.Context, q store.Querier) *conversationPeople {
	return &conversationPeople{ctx: ctx, q: q, known: map[string]apiv1.Person{}}
}

func (cp *conversationPeople) person(handle string) (apiv1.Person, error) {
	if pe, ok := cp.known[handle]; ok {
		return pe, nil
	}
	pe, err := ShortPersonIn(cp.ctx, cp.q, handle)
	if err != nil {
		return apiv1.Person{}, err
	}
	cp.known[handle] = pe
	return pe, nil
}

func (cp *conversationPeople) conversation(c store.Conversation) (apiv1.Conversation, error) {
	out := apiv1.Conversation{GUID: c.GUID, Subject: c.Subject, CreatedAt: apiv1.NewTime(conversationsTime(c.CreatedAt)),
		Read: c.Read(), Participants: []apiv1.Person{}}
	for _, h := range c.Participants {
		pe, err := cp.person(h)
		if err != nil {
			return out, err
		}
		if pe.GUID == "" {
			continue // someone the pod does not know yet: no v1 person to show
		}
		out.Participants = append(out.Participants, pe)
	}
	return out, nil
}

func (cp *conversationPeople) message(m store.Message) (apiv1.Message, error) {
	author, err := cp.person(m.Author)
	if err != nil {
		return apiv1.Message{}, err
	}
	return apiv1.Message{GUID: m.GUID, CreatedAt: apiv1.NewTime(conversationsTime(m.CreatedAt)), Body: m.Text, Author: author}, nil
}

// Conversations lists my conversations, newest activity first by default.
func (p *Pod) Conversations(ctx context.Context, o ConversationListOptions) (ConversationPage, error) {
	q := store.ConversationQuery{OnlyUnread: o.OnlyUnread, Descending: o.Page.Descending, Time: o.Page.Time.UnixMilli(),
		GUID: o.Page.GUID, Limit: o.Page.PerPage}
	if !o.OnlyAfter.IsZero() {
		q.Since, q.HasSince = o.OnlyAfter.UnixMilli(), true
	}
	rows, err := store.Conversations(ctx, p.db.R, q)
	if err != nil {
		return ConversationPage{}, err
	}
	cp := newConversationPeople(ctx, p.db.R)
	page := ConversationPage{Conversations: []apiv1.Conversation{}}
	for _, c := range rows {
		v, err := cp.conversation(c)
		if err != nil {
			return ConversationPage{}, err
		}
		page.Conversations = append(page.Conversations, v)
	}
	if n := len(rows); n > 0 {
		page.First = apiv1.Cursor{Time: conversationsTime(rows[0].UpdatedAt), GUID: rows[0].GUID}
		page.Last = apiv1.Cursor{Time: conversationsTime(rows[n-1].UpdatedAt), GUID: rows[n-1].GUID}
	}
	return page, nil
}

// conversationShown reads a conversation that is not hidden.
func conversationShown(ctx context.Context, q store.Querier, guid string) (store.Conversation, error) {
	c, ok, err := store.ConversationByGUID(ctx, q, guid)
	if err != nil {
		return c, err
	}
	if !ok || c.Hidden {
		return c, fmt.Errorf("%w: no conversation with guid %q", ErrNotFound, guid)
	}
	return c, nil
}

// Conversation reads one conversation (ErrNotFound when unknown or hidden).
func (p *Pod) Conversation(ctx context.Context, guid string) (apiv1.Conversation, error) {
	c, err := conversationShown(ctx, p.db.R, guid)
	if err != nil {
		return apiv1.Conversation{}, err
	}
	return newConversationPeople(ctx, p.db.R).conversation(c)
}

// checkConversationText refuses an empty, too long or malformed subject or
// message body.
func checkConversationText(what, s string, maxLen int) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%w: the %s is required", ErrInvalid, what)
	}
	if err := markup.Check(s); err != nil {
		return fmt.Errorf("%w: the %s: %w", ErrInvalid, what, err)
	}
	if n := utf8.RuneCountInString(s); n > maxLen {
		return fmt.Errorf("%w: the %s is %d characters long (at most %d)", ErrInvalid, what, n, maxLen)
	}
	return nil
}

// conversationBody is the body of an own "conversation" Publish.
type conversationBody struct {
	Subject      string   `json:"subject"`
	Participants []string `json:"participants"`
}

// messageBody is the body of an own "message" Publish.
type messageBody struct {
	Text string `json:"text"`
}

// CreateConversation starts a conversation with mutual contacts (person
// guids): the conversation and its first message, with the recipients
// frozen in both Publishes. Every recipient must share with me and I with
// them; the refusal names those who do not.
func (p *Pod) CreateConversation(ctx context.Context, subject, body string, recipients []string) (apiv1.Conversation, error) {
	if err := checkConversationText("subject", subject, MaxSubjectLength); err != nil {
		return apiv1.Conversation{}, err
	}
	if err := checkConversationText("body", body, MaxMessageLength); err != nil {
		return apiv1.Conversation{}, err
	}
	var guids []string
	seen := map[string]bool{}
	for _, r := range recipients {
		if r = strings.TrimSpace(r); r != "" && !seen[r] {
			seen[r] = true
			guids = append(guids, r)
		}
	}
	if len(guids) == 0 {
		return apiv1.Conversation{}, fmt.Errorf("%w: recipients are required: the guids of one or more mutual contacts", ErrInvalid)
	}
	var convGUID string
	err := p.log.Write(ctx, func(w *store.Writer) error {
		me, err := w.Me()
		if err != nil {
			return err
		}
		if !me.Exists() {
			return fmt.Errorf("%w: create the identity first", ErrNoIdentity)
		}
		var refused []string
		for _, g := range guids {
			if g == me.GUID {
				return fmt.Errorf("%w: you cannot start a conversation with yourself", ErrInvalid)
			}
			pe, known, err := store.PersonByGUID(ctx, w, g)
			if err != nil {
				return err
			}
			if !known {
				refused = append(refused, fmt.Sprintf("%q (not a person this pod knows)", g))
				continue
			}
			mutual, err := store.IsMutual(ctx, w, g)
			if err != nil {
				return err
			}
			if !mutual {
				who := pe.Handle
				if pe.Name != "" {
					who = pe.Name + " (" + pe.Handle + ")"
				}
				refused = append(refused, who)
			}
		}
		if len(refused) > 0 {
			return fmt.Errorf("%w: only mutual contacts (you share with them and they share with you) can be in a conversation; not: %s",
				ErrInvalid, strings.Join(refused, ", "))
		}
		now := w.Now().UnixMilli()
		convGUID = newGUID()
		cb, err := json.Marshal(conversationBody{Subject: subject, Participants: guids})
		if err != nil {
			return err
		}
		if _, err := w.Append(oplog.Publish{GUID: convGUID, Kind: "conversation", CreatedAt: now, Body: cb,
			Recipients: guids}); err != nil {
			return err
		}
		mb, err := json.Marshal(messageBody{Text: body})
		if err != nil {
			return err
		}
		if _, err := w.Append(oplog.Publish{GUID: newGUID(), Kind: "message", Parent: convGUID, CreatedAt: now, Body: mb,
			Recipients: guids}); err != nil {
			return err
		}
		_, err = w.Append(oplog.ReadUpTo{Stream: store.ConversationStream(convGUID), Watermark: now})
		return err
	})
	if err != nil {
		return apiv1.Conversation{}, err
	}
	return p.Conversation(ctx, convGUID)
}

// conversationsSetRemove removes member from set (the add tags seen here),
// if present.
func conversationsSetRemove(w *store.Writer, set, member string) error {
	tags, err := store.SetTags(w.Ctx(), w, set, member)
	if err != nil || len(tags) == 0 {
		return err
	}
	_, err = w.Append(oplog.SetRemove{Set: set, Member: member, Observed: oplog.Refs(tags)})
	return err
}

// conversationsSetAdd adds member to set unless it is a member already.
func conversationsSetAdd(w *store.Writer, set, member string) error {
	in, err := store.IsMember(w.Ctx(), w, set, member)
	if err != nil || in {
		return err
	}
	_, err = w.Append(oplog.SetAdd{Set: set, Member: member})
	return err
}

// conversationReadUpTo moves a read watermark to at, if that is forward.
func conversationReadUpTo(w *store.Writer, stream string, at int64) error {
	cur, ok, err := store.ReadWatermark(w.Ctx(), w, stream)
	if err != nil || ok && cur >= at {
		return err
	}
	_, err = w.Append(oplog.ReadUpTo{Stream: stream, Watermark: at})
	return err
}

// conversationReadAll reads a conversation up to its newest message and
// clears a mark "unread".
func conversationReadAll(w *store.Writer, c store.Conversation) error {
	at, err := store.ConversationArrival(w.Ctx(), w, c.GUID)
	if err != nil {
		return err
	}
	if err := conversationReadUpTo(w, store.ConversationStream(c.GUID), at); err != nil {
		return err
	}
	if c.MarkedUnread {
		_, err = w.Append(oplog.SetField{Key: store.ConversationUnreadKey(c.GUID), Value: ""})
	}
	return err
}

// MarkConversation marks a conversation read (up to its newest message) or
// unread (by hand), and un-hides it. ErrNotFound when unknown or hidden
// (v1 answers 422 for that).
func (p *Pod) MarkConversation(ctx context.Context, guid string, read bool) (apiv1.Conversation, error) {
	err := p.log.Write(ctx, func(w *store.Writer) error {
		c, err := conversationShown(ctx, w, guid)
		if err != nil {
			return err
		}
		if read {
			err = conversationReadAll(w, c)
		} else if !c.MarkedUnread {
			_, err = w.Append(oplog.SetField{Key: store.ConversationUnreadKey(guid), Value: "1"})
		}
		if err != nil {
			return err
		}
		return conversationsSetRemove(w, store.HiddenConversationsSet, guid)
	})
	if err != nil {
		return apiv1.Conversation{}, err
	}
	return p.Conversation(ctx, guid)
}

// HideConversation hides a conversation for me (v1 DELETE): it leaves the
// list and the counts, read up to its newest message, until someone else
// writes in it.
func (p *Pod) HideConversation(ctx context.Context, guid string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		c, err := conversationShown(ctx, w, guid)
		if err != nil {
			return err
		}
		if err := conversationReadAll(w, c); err != nil {
			return err
		}
		return conversationsSetAdd(w, store.HiddenConversationsSet, guid)
	})
}

// ConversationMessages lists a conversation's messages, oldest first;
// more says whether a next page exists.
func (p *Pod) ConversationMessages(ctx context.Context, guid string, pg apiv1.IndexPage) (msgs []apiv1.Message, more bool, err error) {
	if _, err := conversationShown(ctx, p.db.R, guid); err != nil {
		return nil, false, err
	}
	rows, err := store.Messages(ctx, p.db.R, guid, pg.Offset(), pg.PerPage+1)
	if err != nil {
		return nil, false, err
	}
	if len(rows) > pg.PerPage {
		rows, more = rows[:pg.PerPage], true
	}
	cp := newConversationPeople(ctx, p.db.R)
	msgs = []apiv1.Message{}
	for _, m := range rows {
		v, err := cp.message(m)
		if err != nil {
			return nil, false, err
		}
		msgs = append(msgs, v)
	}
	return msgs, more, nil
}

// MessagesHTML sets the HTML of messages as presented (a Seedpod extension
// the client asks for: the schema closes the message). Mentions of people
// the pod knows (the user too) link to them, read once for all the
// messages; only texts with "@{" (every mention has it) are searched for
// mentions. The footnote ids start with the message's guid.
func (p *Pod) MessagesHTML(ctx context.Context, ms []apiv1.Message) error {
	var handles []string
	for _, m := range ms {
		if strings.Contains(m.Body, "@{") {
			for _, mn := range markup.Mentions(m.Body) {
				handles = append(handles, mn.Handle)
			}
		}
	}
	known := map[string]apiv1.Person{}
	if len(handles) > 0 {
		people, err := store.PostPeopleByHandles(ctx, p.db.R, handles)
		if err != nil {
			return err
		}
		for h, pe := range people {
			known[strings.ToLower(h)] = apiv1.Person{GUID: pe.GUID, DiasporaID: pe.Handle, Name: pe.Name, Avatar: pe.Avatar}
		}
		me, err := MePersonIn(ctx, p.db.R)
		switch {
		case err == nil:
			known[strings.ToLower(me.DiasporaID)] = me
		case !errors.Is(err, ErrNoIdentity):
			return err
		}
	}
	person := func(handle string) (apiv1.Person, bool) {
		pe, ok := known[strings.ToLower(handle)]
		return pe, ok
	}
	for i := range ms {
		ms[i].HTML = renderHTML(ms[i].Body, ms[i].GUID, person)
	}
	return nil
}

// SendMessage writes a message in a conversation (ErrNotFound when unknown
// or hidden), to its participants; it reads the conversation up to it.
func (p *Pod) SendMessage(ctx context.Context, guid, body string) (apiv1.Message, error) {
	if err := checkConversationText("body", body, MaxMessageLength); err != nil {
		return apiv1.Message{}, err
	}
	var msgGUID string
	err := p.log.Write(ctx, func(w *store.Writer) error {
		me, err := w.Me()
		if err != nil {
			return err
		}
		if !me.Exists() {
			return fmt.Errorf("%w: create the identity first", ErrNoIdentity)
		}
		c, err := conversationShown(ctx, w, guid)
		if err != nil {
			return err
		}
		recipients, err := conversationRecipients(ctx, w, c)
		if err != nil {
			return err
		}
		now := w.Now().UnixMilli()
		msgGUID = newGUID()
		mb, err := json.Marshal(messageBody{Text: body})
		if err != nil {
			return err
		}
		if _, err := w.Append(oplog.Publish{GUID: msgGUID, Kind: "message", Parent: guid, CreatedAt: now, Body: mb,
			Recipients: recipients}); err != nil {
			return err
		}
		if err := conversationReadAll(w, c); err != nil {
			return err
		}
		return conversationsSetRemove(w, store.HiddenConversationsSet, guid)
	})
	if err != nil {
		return apiv1.Message{}, err
	}
	m, ok, err := store.MessageByGUID(ctx, p.db.R, msgGUID)
	if err != nil {
		return apiv1.Message{}, err
	}
	if !ok {
		return apiv1.Message{}, fmt.Errorf("message %s not projected", msgGUID)
	}
	return newConversationPeople(ctx, p.db.R).message(m)
}

// conversationRecipients are the person guids of a conversation's other
// participants: the frozen recipients of my own conversation, or the known
// people among a received one's participants.
func conversationRecipients(ctx context.Context, q store.Querier, c store.Conversation) ([]string, error) {
	var out []string
	for _, h := range c.Participants {
		if h == "" {
			continue
		}
		pe, ok, err := store.PersonByHandle(ctx, q, h)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, pe.GUID)
		}
	}
	return out, nil
}

// conversationsTime is a stored time (ms) as UTC.
func conversationsTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
