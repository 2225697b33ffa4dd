package pod

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/store"
)

// Notifications (API.md §3.10, §6.2). The store projects one notification
// per (type, target) from the domain tables after every change
// (pod/store/project_conversations.go); contacts' birthdays are computed
// when read. The read rule is in pod/store/notifications.go: read marks
// name a notification as of its newest event, so a new event makes it
// unread again, and "unread again" works under the read_all watermark too.

// NotificationListOptions select a page of GET /notifications.
type NotificationListOptions struct {
	OnlyUnread bool
	// OnlyAfter keeps notifications created on or after that day (a date:
	// its time of day is ignored; zero: all).
	OnlyAfter time.Time
	// Types keeps these types only (nil: all); each must be a v1 type.
	Types []string
	Page  apiv1.TimePage
}

// NotificationPage is a page of notifications with the cursors of its first
// and last items, for the Link header.
type NotificationPage struct {
	Notifications []apiv1.Notification
	First, Last   apiv1.Cursor
}

// Notifications lists notifications, newest first by default.
func (p *Pod) Notifications(ctx context.Context, o NotificationListOptions) (NotificationPage, error) {
	for _, t := range o.Types {
		if !slices.Contains(store.NotificationTypes, t) {
			return NotificationPage{}, fmt.Errorf("%w: unknown notification type %q (the types are %s)", ErrInvalid, t,
				strings.Join(store.NotificationTypes, ", "))
		}
	}
	q := store.NotificationQuery{OnlyUnread: o.OnlyUnread, Types: o.Types, Descending: o.Page.Descending,
		Time: o.Page.Time.UnixMilli(), GUID: o.Page.GUID, Limit: o.Page.PerPage}
	if !o.OnlyAfter.IsZero() {
		y, m, d := o.OnlyAfter.UTC().Date()
		q.Since, q.HasSince = time.Date(y, m, d, 0, 0, 0, 0, time.UTC).UnixMilli(), true
	}
	// Mute filters (pod/filters.go) leave notifications out; the page's
	// edges are the rows examined, left-out ones included.
	fs, err := p.activeFilters(ctx, FilterNotifications)
	if err != nil {
		return NotificationPage{}, err
	}
	fetch := func(after *store.Notification) ([]store.Notification, error) {
		b := q
		if after != nil {
			b.Time, b.GUID = after.CreatedAt, after.GUID
		}
		return store.Notifications(ctx, p.db.R, b, p.cfg.Now())
	}
	drop := func(ns []store.Notification) ([]bool, error) { return filterNotifications(ctx, p.db.R, fs, ns) }
	rows, first, last, err := scanFiltered(q.Limit, q.Limit, fetch, drop)
	if err != nil {
		return NotificationPage{}, err
	}
	page := NotificationPage{Notifications: []apiv1.Notification{}}
	np := newConversationPeople(ctx, p.db.R)
	for _, n := range rows {
		v, err := presentNotification(np, n)
		if err != nil {
			return NotificationPage{}, err
		}
		page.Notifications = append(page.Notifications, v)
	}
	if first != nil {
		page.First = apiv1.Cursor{Time: conversationsTime(first.CreatedAt), GUID: first.GUID}
		page.Last = apiv1.Cursor{Time: conversationsTime(last.CreatedAt), GUID: last.GUID}
	}
	return page, nil
}

// presentNotification is the v1 shape: the actors as people (those the pod
// knows), and the target post with its author, except for started_sharing
// and contacts_birthday, which have none.
func presentNotification(np *conversationPeople, n store.Notification) (apiv1.Notification, error) {
	out := apiv1.Notification{GUID: n.GUID, Type: n.Type, Read: n.Read, CreatedAt: apiv1.NewTime(conversationsTime(n.CreatedAt)),
		EventCreators: []apiv1.Person{}}
	for _, h := range n.Actors {
		pe, err := np.person(h)
		if err != nil {
			return out, err
		}
		if pe.GUID != "" {
			out.EventCreators = append(out.EventCreators, pe)
		}
	}
	switch n.Type {
	case store.NotifyStartedSharing, store.NotifyContactsBirthday:
		return out, nil
	}
	out.Target = &apiv1.NotificationTarget{GUID: n.Target}
	own, author, ok, err := store.NotificationPostAuthor(np.ctx, np.q, n.Target)
	if err != nil {
		return out, err
	}
	if ok {
		handle := author
		if own {
			handle = ""
		}
		pe, err := np.person(handle)
		if err != nil {
			return out, err
		}
		if pe.GUID != "" {
			out.Target.Author = &pe
		}
	}
	return out, nil
}

// Notification reads one notification; it does not mark it read (API.md §4
// #28).
func (p *Pod) Notification(ctx context.Context, guid string) (apiv1.Notification, error) {
	n, ok, err := store.NotificationByGUID(ctx, p.db.R, guid, p.cfg.Now())
	if err != nil {
		return apiv1.Notification{}, err
	}
	if !ok {
		return apiv1.Notification{}, fmt.Errorf("%w: no notification with guid %q", ErrNotFound, guid)
	}
	return presentNotification(newConversationPeople(ctx, p.db.R), n)
}

// MarkNotification marks one notification read or unread, as of its newest
// event (ErrNotFound when unknown).
func (p *Pod) MarkNotification(ctx context.Context, guid string, read bool) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		n, ok, err := store.NotificationByGUID(ctx, w, guid, p.cfg.Now())
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: no notification with guid %q", ErrNotFound, guid)
		}
		wm, has, err := store.ReadWatermark(ctx, w, store.NotificationsStream)
		if err != nil {
			return err
		}
		covered := has && n.CreatedAt <= wm
		member := store.NotificationMember(n.GUID, n.CreatedAt)
		// Marks of older versions of this notification say nothing any
		// more: drop them while here.
		if err := notificationsDropOlder(w, n); err != nil {
			return err
		}
		if read {
			if err := conversationsSetRemove(w, store.NotificationsUnreadSet, member); err != nil {
				return err
			}
			if !covered {
				return conversationsSetAdd(w, store.NotificationsReadSet, member)
			}
			return nil
		}
		if err := conversationsSetRemove(w, store.NotificationsReadSet, member); err != nil {
			return err
		}
		if covered {
			return conversationsSetAdd(w, store.NotificationsUnreadSet, member)
		}
		return nil
	})
}

// notificationsDropOlder removes the read and unread marks of a
// notification's earlier versions (older created_at).
func notificationsDropOlder(w *store.Writer, n store.Notification) error {
	for _, set := range []string{store.NotificationsReadSet, store.NotificationsUnreadSet} {
		members, err := store.Members(w.Ctx(), w, set)
		if err != nil {
			return err
		}
		for _, m := range members {
			if g, at, ok := store.ParseNotificationMember(m); ok && g == n.GUID && at < n.CreatedAt {
				if err := conversationsSetRemove(w, set, m); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ReadAllNotifications marks every notification created at or before
// before (zero or later than now: now) read: the notifications watermark
// moves there, and the "unread" marks it covers go.
func (p *Pod) ReadAllNotifications(ctx context.Context, before time.Time) error {
	now := p.cfg.Now()
	if before.IsZero() || before.After(now) {
		before = now
	}
	at := before.UnixMilli()
	return p.log.Write(ctx, func(w *store.Writer) error {
		if err := conversationReadUpTo(w, store.NotificationsStream, at); err != nil {
			return err
		}
		members, err := store.Members(ctx, w, store.NotificationsUnreadSet)
		if err != nil {
			return err
		}
		for _, m := range members {
			if _, created, ok := store.ParseNotificationMember(m); !ok || created <= at {
				if err := conversationsSetRemove(w, store.NotificationsUnreadSet, m); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Counts are the badges of GET /api/seedpod/v1/counts.
type Counts struct {
	NotificationsUnread int `json:"notifications_unread"`
	ConversationsUnread int `json:"conversations_unread"`
	Drafts              int `json:"drafts"`
	// OutboxPending is what the network has not heard yet; nothing records
	// deliveries before federation (issue 6), so it counts every entry of
	// the outbox view.
	OutboxPending int `json:"outbox_pending"`
}

// Counts counts the unread notifications and conversations, the drafts and
// the outbox.
func (p *Pod) Counts(ctx context.Context) (Counts, error) {
	c, err := store.UnreadCounts(ctx, p.db.R, p.cfg.Now())
	if err != nil {
		return Counts{}, err
	}
	drafts, err := store.DraftCount(ctx, p.db.R)
	if err != nil {
		return Counts{}, err
	}
	outbox, err := p.OutboxPending(ctx)
	if err != nil {
		return Counts{}, err
	}
	// What the mute filters leave out of the list is not counted either.
	filtered, err := p.filteredUnread(ctx)
	if err != nil {
		return Counts{}, err
	}
	c.Notifications = max(c.Notifications-filtered, 0)
	return Counts{NotificationsUnread: c.Notifications, ConversationsUnread: c.Conversations, Drafts: drafts, OutboxPending: outbox}, nil
}
