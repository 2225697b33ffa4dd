package pod

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"seedpod/pod/apiv1"
	"seedpod/pod/markup"
)

// What the desktop window's OS notifications tell (package notify decides
// when to show them): the newest unread notifications and unread messages
// from others, as plain text with the UI route that opens them.

// NoticeExcerptRunes caps a notice's excerpt.
const NoticeExcerptRunes = 120

// maxNoticeSource caps the Markdown rendered for an excerpt: the first
// few kilobytes of a post are plenty for 120 characters.
const maxNoticeSource = 4 << 10

// OSNotice is one unread notification or message, ready to be told.
type OSNotice struct {
	// Key names this event: "n:<notification guid>@<ms>" (a new actor
	// joining a grouped notification makes a new key) or "m:<message guid>".
	Key string
	// Type is the v1 notification type, or NotifyConversation.
	Type string
	// Actors are the people's display names, newest last.
	Actors []string
	// Excerpt is the post's or message's plain text (Markdown rendered
	// to text, not escaped), at most NoticeExcerptRunes runes.
	Excerpt string
	// Subject is a message's conversation subject.
	Subject string
	// Route is the UI route that shows it: "#/post/<guid>",
	// "#/conversations/<guid>", "#/people/<guid>" or "#/notifications".
	Route string
	// At is when it happened (the newest event of a grouped notification;
	// a message's arrival here).
	At time.Time
}

// RecentNotices lists the newest unread notifications and unread messages
// from others (at most limit of each), newest first within each kind.
func (p *Pod) RecentNotices(ctx context.Context, limit int) ([]OSNotice, error) {
	limit = max(1, min(limit, apiv1.MaxPerPage))
	page, err := p.Notifications(ctx, NotificationListOptions{OnlyUnread: true,
		Page: apiv1.TimePage{Descending: true, Time: p.cfg.Now().AddDate(1, 0, 0), PerPage: limit}})
	if err != nil {
		return nil, fmt.Errorf("recent notices: %w", err)
	}
	var out []OSNotice
	for _, n := range page.Notifications {
		at := n.CreatedAt.Time
		x := OSNotice{Key: fmt.Sprintf("n:%s@%d", n.GUID, at.UnixMilli()), Type: n.Type, At: at, Route: "#/notifications"}
		for _, a := range n.EventCreators {
			x.Actors = append(x.Actors, personName(a))
		}
		switch {
		case n.Target != nil && n.Target.GUID != "":
			x.Route = "#/post/" + n.Target.GUID
			x.Excerpt = p.postExcerpt(ctx, n.Target.GUID)
		case len(n.EventCreators) == 1:
			x.Route = "#/people/" + n.EventCreators[0].GUID
		}
		out = append(out, x)
	}
	msgs, err := p.recentMessageNotices(ctx, limit)
	if err != nil {
		return nil, err
	}
	return append(out, msgs...), nil
}

func personName(a apiv1.Person) string {
	if a.Name != "" {
		return a.Name
	}
	return a.DiasporaID
}

// recentMessageNotices are the newest messages of others in conversations
// that are unread and shown.
func (p *Pod) recentMessageNotices(ctx context.Context, limit int) ([]OSNotice, error) {
	rows, err := p.db.R.QueryContext(ctx, `SELECT guid, conversation_guid, author, text, received_at FROM messages
		WHERE own = 0 ORDER BY received_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	type msg struct {
		guid, conv, author, text string
		at                       int64
	}
	var ms []msg
	for rows.Next() {
		var m msg
		if err := rows.Scan(&m.guid, &m.conv, &m.author, &m.text, &m.at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("recent messages: %w", err)
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	var out []OSNotice
	convs := map[string]*apiv1.Conversation{}
	for _, m := range ms {
		c, ok := convs[m.conv]
		if !ok {
			if v, err := p.Conversation(ctx, m.conv); err == nil {
				c = &v
			} // hidden or gone: not told
			convs[m.conv] = c
		}
		if c == nil || c.Read {
			continue
		}
		who, err := ShortPersonIn(ctx, p.db.R, m.author)
		if err != nil {
			return nil, err
		}
		out = append(out, OSNotice{Key: "m:" + m.guid, Type: NotifyConversation, Actors: []string{personName(who)},
			Excerpt: noticeText(m.text), Subject: c.Subject, Route: "#/conversations/" + m.conv, At: time.UnixMilli(m.at)})
	}
	return out, nil
}

// postExcerpt is the plain text of a post (of its root for a reshare);
// "" when the post is not here.
func (p *Pod) postExcerpt(ctx context.Context, guid string) string {
	post, err := p.Post(ctx, guid)
	if err != nil {
		return ""
	}
	body := post.Body
	if body == "" && post.Root != nil {
		body = post.Root.Body
	}
	return noticeText(body)
}

// noticeText renders Markdown to plain text, cut to NoticeExcerptRunes;
// text the renderer refuses is cut as it is (notify cleans it).
func noticeText(src string) string {
	if len(src) > maxNoticeSource {
		src = strings.ToValidUTF8(src[:maxNoticeSource], "")
	}
	text := src
	if r, err := markup.Render(src, markup.Options{}); err == nil {
		text = r.Text
	}
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > NoticeExcerptRunes {
		rs := []rune(text)
		text = string(rs[:NoticeExcerptRunes-1]) + "…"
	}
	return text
}
