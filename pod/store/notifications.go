package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Queries of the notifications area. The rows are projected per (type,
// target) by projectNotifications (project_conversations.go); contacts'
// birthdays are computed when read ("virtual" notifications, one per
// contact and year, shown on the day).
//
// Read state. A notification's guid is stable while new events join it,
// and a new event must make it unread again (diaspora* sets unread on each
// new actor). So the read marks name a notification as of its newest event:
// the members of the read and unread sets are "<guid>:<created_at ms>"
// (NotificationMember), and
//
//	read = not in unread AND (in read OR created_at <= the notifications watermark)
//
//   - PATCH read=true: SetAdd read (when the watermark does not cover it) and
//     SetRemove unread (when marked);
//   - PATCH read=false: SetRemove read (observed tags), and SetAdd unread
//     when the watermark covers it (a watermark cannot go back);
//   - read_all: ReadUpTo notifications, and SetRemove of the unread marks
//     it covers.
//
// A new event changes created_at, so neither mark applies any more: the
// notification is unread until read again. created_at is when the newest
// event reached the pod, so something delivered late is still unread.

// Read state streams and sets (docs/data-model.md).
const (
	NotificationsStream    = "notifications" // ReadUpTo: everything created at or before is read
	NotificationsReadSet   = "read"          // NotificationMember marked read one by one
	NotificationsUnreadSet = "unread"        // NotificationMember marked unread under the watermark
)

// NotificationMember is the member of the read and unread sets that marks a
// notification as of its newest event.
func NotificationMember(guid string, createdAt int64) string {
	return guid + ":" + strconv.FormatInt(createdAt, 10)
}

// ParseNotificationMember splits a member of the read or unread set.
func ParseNotificationMember(m string) (guid string, createdAt int64, ok bool) {
	g, t, found := strings.Cut(m, ":")
	if !found {
		return "", 0, false
	}
	n, err := strconv.ParseInt(t, 10, 64)
	return g, n, err == nil
}

// NotificationTypes are the v1 types, in the schema's order.
var NotificationTypes = []string{NotifyAlsoCommented, NotifyCommentOnPost, NotifyLiked, NotifyLikedComment,
	NotifyMentioned, NotifyMentionedInComment, NotifyReshared, NotifyStartedSharing, NotifyContactsBirthday}

// Notification is a notification with its read state.
type Notification struct {
	GUID string
	Type string
	// Target is the post involved; the person guid for started_sharing and
	// contacts_birthday (v1 shows no target for those).
	Target    string
	Actors    []string // handles, newest last
	CreatedAt int64
	Read      bool
}

// notificationReadExpr is the read state of a notification (guid and
// created_at given as SQL expressions).
func notificationReadExpr(guid, created string) string {
	member := guid + ` || ':' || ` + created
	return `(NOT EXISTS (SELECT 1 FROM st_set_adds WHERE name = '` + NotificationsUnreadSet + `' AND member = ` + member + ` AND live = 1)
		AND (EXISTS (SELECT 1 FROM st_set_adds WHERE name = '` + NotificationsReadSet + `' AND member = ` + member + ` AND live = 1)
		OR ` + created + ` <= coalesce((SELECT watermark FROM st_reads WHERE stream = '` + NotificationsStream + `'), -1)))`
}

var notificationSelect = `SELECT * FROM (SELECT n.guid, n.type, n.target_guid, n.actors, n.created_at, ` +
	notificationReadExpr("n.guid", "n.created_at") + ` AS read FROM notifications n) ns`

func scanNotification(r interface{ Scan(dest ...any) error }) (Notification, error) {
	var n Notification
	var actors string
	if err := r.Scan(&n.GUID, &n.Type, &n.Target, &actors, &n.CreatedAt, &n.Read); err != nil {
		return n, err
	}
	if err := json.Unmarshal([]byte(actors), &n.Actors); err != nil {
		return n, fmt.Errorf("actors of %s: %w", n.GUID, err)
	}
	return n, nil
}

// NotificationQuery selects a page of notifications, paged on
// (created_at, guid).
type NotificationQuery struct {
	OnlyUnread bool
	// Since keeps notifications created at or after it (ms), when HasSince.
	Since    int64
	HasSince bool
	// Types keeps these types only (nil: all).
	Types []string
	// The page: Descending from (Time, GUID) exclusive, or ascending; GUID
	// "" compares times alone.
	Descending bool
	Time       int64
	GUID       string
	Limit      int
}

func (nq NotificationQuery) admits(n Notification) bool {
	if nq.OnlyUnread && n.Read || nq.HasSince && n.CreatedAt < nq.Since {
		return false
	}
	if nq.Types != nil && !slices.Contains(nq.Types, n.Type) {
		return false
	}
	r := compareTimeGUID(n.CreatedAt, n.GUID, nq.Time, nq.GUID)
	if nq.Descending {
		return r < 0
	}
	return r > 0
}

// compareTimeGUID orders (t, guid) pairs; an empty bound guid compares
// times alone.
func compareTimeGUID(t int64, guid string, bt int64, bguid string) int {
	switch {
	case t < bt:
		return -1
	case t > bt:
		return 1
	case bguid == "":
		return 0
	}
	return strings.Compare(guid, bguid)
}

// Notifications lists a page of notifications, the stored ones and today's
// birthdays (now says which day, in its location).
func Notifications(ctx context.Context, q Querier, nq NotificationQuery, now time.Time) ([]Notification, error) {
	var where []string
	var args []any
	if nq.OnlyUnread {
		where = append(where, "NOT ns.read")
	}
	if nq.HasSince {
		where = append(where, "ns.created_at >= ?")
		args = append(args, nq.Since)
	}
	if nq.Types != nil {
		where = append(where, "ns.type IN (SELECT value FROM json_each(?))")
		args = append(args, jsonStrings(nq.Types))
	}
	cmp, order := ">", "ASC"
	if nq.Descending {
		cmp, order = "<", "DESC"
	}
	if nq.GUID != "" {
		where = append(where, "(ns.created_at "+cmp+" ? OR (ns.created_at = ? AND ns.guid "+cmp+" ?))")
		args = append(args, nq.Time, nq.Time, nq.GUID)
	} else {
		where = append(where, "ns.created_at "+cmp+" ?")
		args = append(args, nq.Time)
	}
	args = append(args, nq.Limit)
	rows, err := q.QueryContext(ctx, notificationSelect+" WHERE "+strings.Join(where, " AND ")+
		" ORDER BY ns.created_at "+order+", ns.guid "+order+" LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	birthdays, err := BirthdayNotifications(ctx, q, now)
	if err != nil {
		return nil, err
	}
	for _, b := range birthdays {
		if nq.admits(b) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Notification) int {
		r := compareTimeGUID(a.CreatedAt, a.GUID, b.CreatedAt, b.GUID)
		if nq.Descending {
			return -r
		}
		return r
	})
	if len(out) > nq.Limit {
		out = out[:nq.Limit]
	}
	return out, nil
}

// NotificationByGUID reads one notification (a stored one or one of
// today's birthdays); ok is false when there is none.
func NotificationByGUID(ctx context.Context, q Querier, guid string, now time.Time) (n Notification, ok bool, err error) {
	n, err = scanNotification(q.QueryRowContext(ctx, notificationSelect+" WHERE ns.guid = ?", guid))
	switch {
	case err == nil:
		return n, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return n, false, fmt.Errorf("read notification %s: %w", guid, err)
	}
	birthdays, err := BirthdayNotifications(ctx, q, now)
	if err != nil {
		return n, false, err
	}
	for _, b := range birthdays {
		if b.GUID == guid {
			return b, true, nil
		}
	}
	return Notification{}, false, nil
}

// BirthdayNotifications are today's contacts_birthday notifications: one
// per mutual contact (neither blocked nor ignored) whose birthday is today,
// created at the day's start in now's location. The guid comes from the
// person and the year, so the read state lasts the day.
func BirthdayNotifications(ctx context.Context, q Querier, now time.Time) ([]Notification, error) {
	y, m, d := now.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, now.Location()).UnixMilli()
	rows, err := q.QueryContext(ctx, `SELECT p.guid, p.handle FROM people p
		JOIN contacts c ON c.person_guid = p.guid AND c.receiving = 1 AND c.sharing = 1
		WHERE p.birthday <> '' AND substr(p.birthday, -5) = ?
		AND p.guid NOT IN (SELECT member FROM st_set_adds WHERE name IN (?, ?) AND live = 1)
		ORDER BY p.guid`, fmt.Sprintf("%02d-%02d", int(m), d), SetBlocks, SetIgnores)
	if err != nil {
		return nil, fmt.Errorf("read birthdays: %w", err)
	}
	var out []Notification
	for rows.Next() {
		var guid, handle string
		if err := rows.Scan(&guid, &handle); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read birthdays: %w", err)
		}
		out = append(out, Notification{GUID: NotificationGUID(NotifyContactsBirthday, guid+"|"+strconv.Itoa(y)),
			Type: NotifyContactsBirthday, Target: guid, Actors: []string{handle}, CreatedAt: start})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read birthdays: %w", err)
	}
	for i := range out {
		if err := q.QueryRowContext(ctx, "SELECT "+notificationReadExpr("?1", "?2"), out[i].GUID, out[i].CreatedAt).
			Scan(&out[i].Read); err != nil {
			return nil, fmt.Errorf("read state of %s: %w", out[i].GUID, err)
		}
	}
	return out, nil
}

// NotificationsUnread counts the unread notifications, today's birthdays
// included.
func NotificationsUnread(ctx context.Context, q Querier, now time.Time) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM (`+notificationSelect+` WHERE NOT ns.read)`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count unread notifications: %w", err)
	}
	birthdays, err := BirthdayNotifications(ctx, q, now)
	if err != nil {
		return 0, err
	}
	for _, b := range birthdays {
		if !b.Read {
			n++
		}
	}
	return n, nil
}

// Counts are the badges of GET /api/seedpod/v1/counts.
type Counts struct {
	Notifications int
	Conversations int
}

// UnreadCounts counts the unread notifications and conversations.
func UnreadCounts(ctx context.Context, q Querier, now time.Time) (Counts, error) {
	var c Counts
	var err error
	if c.Notifications, err = NotificationsUnread(ctx, q, now); err != nil {
		return c, err
	}
	c.Conversations, err = ConversationsUnread(ctx, q)
	return c, err
}

// NotificationPostAuthor reads who wrote a notification's target post: own,
// or the author's handle; ok is false when the post is not here.
func NotificationPostAuthor(ctx context.Context, q Querier, guid string) (own bool, author string, ok bool, err error) {
	err = q.QueryRowContext(ctx, "SELECT own, author FROM posts WHERE guid = ?", guid).Scan(&own, &author)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", false, nil
	}
	if err != nil {
		return false, "", false, fmt.Errorf("read post %s: %w", guid, err)
	}
	return own, author, true, nil
}
