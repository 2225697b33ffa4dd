package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Reads of comments, likes, reshares, poll votes and the post interaction
// sets (subscribed, muted, hidden, reported), for the interactions use
// cases and the post presenter. Each works inside a write (on a *Tx) or
// outside it (on db.R).
//
// Counting rules, the same everywhere:
//   - Likes count people, not rows: the user's own likes count once (two
//     devices that like the same post at the same time publish two likes
//     with different guids; both rows stay, unlike retracts both), and a
//     remote author counts once. Dislikes (positive = 0) are not likes.
//   - Comments hidden locally (HiddenCommentsSet) are neither listed nor
//     counted.
//   - Reshares are posts rows of post_type 'Reshare' whose root_guid is
//     the post.

// Interaction sets (docs/data-model.md): members are post or
// comment guids.
const (
	SubscribedSet = "subscribed"
	MutedSet      = "muted"
	HiddenSet     = "hidden"
	ReportedSet   = "reported"
)

// ReportKey is the field holding the reason of a report of a post or
// comment.
func ReportKey(guid string) string { return "report/" + guid }

// PostTarget is what the interaction rules need to know about a post.
type PostTarget struct {
	GUID     string
	Own      bool
	Author   string // diaspora* ID; "" when own
	PostType string // "StatusMessage" | "Reshare"
	RootGUID string // reshares: the original
	Public   bool
	Poll     string // JSON {guid, question, answers:[{id, answer, guid?}]} or ""
}

// LookupPostTarget reads a post the user can see (every posts row is: own
// posts, and received ones, which were sent to the user or are public).
// ok is false for an unknown, deleted or not yet received post.
func LookupPostTarget(ctx context.Context, q querier, guid string) (PostTarget, bool, error) {
	p := PostTarget{GUID: guid}
	err := q.QueryRowContext(ctx, `SELECT own, author, post_type, root_guid, public, poll FROM posts WHERE guid = ?`, guid).
		Scan(&p.Own, &p.Author, &p.PostType, &p.RootGUID, &p.Public, &p.Poll)
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("read post %s: %w", guid, err)
	}
	return p, true, nil
}

// CommentView is a comment as the v1 presenter needs it.
type CommentView struct {
	ID        int64 // time id
	GUID      string
	PostGUID  string
	Own       bool
	Author    string // diaspora* ID; "" when own
	Text      string
	CreatedAt int64 // ms
	Mentions  []string
	Reported  bool
	Liked     bool // the user likes it
	Likes     int
}

const commentCols = `c.id, c.guid, c.post_guid, c.own, c.author, c.text, c.created_at`

func scanComments(ctx context.Context, q querier, query string, args ...any) ([]CommentView, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read comments: %w", err)
	}
	var out []CommentView
	for rows.Next() {
		var c CommentView
		if err := rows.Scan(&c.ID, &c.GUID, &c.PostGUID, &c.Own, &c.Author, &c.Text, &c.CreatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read comments: %w", err)
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read comments: %w", err)
	}
	for i := range out {
		if err := fillComment(ctx, q, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func fillComment(ctx context.Context, q querier, c *CommentView) error {
	rows, err := q.QueryContext(ctx, "SELECT handle FROM comment_mentions WHERE comment_id = ? ORDER BY handle", c.ID)
	if err != nil {
		return fmt.Errorf("read mentions of %s: %w", c.GUID, err)
	}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return err
		}
		c.Mentions = append(c.Mentions, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Mentions in the order the text has them, as markup gives them.
	if len(c.Mentions) > 1 {
		c.Mentions = mentionOrder(c.Mentions, c.Text)
	}
	if c.Reported, err = IsMember(ctx, q, ReportedSet, c.GUID); err != nil {
		return err
	}
	lc, err := LikeCounts(ctx, q, c.GUID)
	if err != nil {
		return err
	}
	c.Likes, c.Liked = lc.Likes, lc.Liked
	return nil
}

// mentionOrder sorts handles by their first occurrence in text.
func mentionOrder(handles []string, text string) []string {
	lower := strings.ToLower(text)
	out := make([]string, 0, len(handles))
	pos := func(h string) int {
		if i := strings.Index(lower, h); i >= 0 {
			return i
		}
		return len(lower)
	}
	out = append(out, handles...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && pos(out[j]) < pos(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// CommentOnPost reads a shown comment of a post; ok is false when it does
// not exist, is hidden or belongs to another post.
func CommentOnPost(ctx context.Context, q querier, postGUID, guid string) (CommentView, bool, error) {
	cs, err := scanComments(ctx, q, `SELECT `+commentCols+` FROM comments c
		WHERE c.guid = ? AND c.post_guid = ? AND `+hiddenCommentsClause, guid, postGUID)
	if err != nil || len(cs) == 0 {
		return CommentView{}, false, err
	}
	return cs[0], true, nil
}

// commentTimeWhere is the condition of a TimeBound page (posts.go) on a list
// ordered by (timeCol, guidCol), and commentTimeOrder its order.
func commentTimeWhere(b TimeBound, timeCol, guidCol string) (string, []any) {
	op := ">"
	if b.Desc {
		op = "<"
	}
	if b.GUID == "" {
		return timeCol + " " + op + " ?", []any{b.Time}
	}
	return "(" + timeCol + " " + op + " ? OR (" + timeCol + " = ? AND " + guidCol + " " + op + " ?))",
		[]any{b.Time, b.Time, b.GUID}
}

func commentTimeOrder(b TimeBound, timeCol, guidCol string) string {
	if b.Desc {
		return timeCol + " DESC, " + guidCol + " DESC"
	}
	return timeCol + ", " + guidCol
}

// CommentsPage lists the shown comments of a post in page order.
func CommentsPage(ctx context.Context, q querier, postGUID string, b TimeBound) ([]CommentView, error) {
	w, args := commentTimeWhere(b, "c.created_at", "c.guid")
	return scanComments(ctx, q, `SELECT `+commentCols+` FROM comments c
		WHERE c.post_guid = ? AND `+hiddenCommentsClause+` AND `+w+`
		ORDER BY `+commentTimeOrder(b, "c.created_at", "c.guid")+` LIMIT ?`, append(append([]any{postGUID}, args...), b.Limit)...)
}

// LikeCount is the like state of a post or comment.
type LikeCount struct {
	Likes int  // people who like it (the user once)
	Liked bool // the user likes it
}

// LikeCounts counts the likes of a post or comment.
func LikeCounts(ctx context.Context, q querier, target string) (LikeCount, error) {
	var lc LikeCount
	if err := q.QueryRowContext(ctx, `SELECT count(DISTINCT author), coalesce(max(own), 0) FROM likes
		WHERE target_guid = ? AND positive = 1`, target).Scan(&lc.Likes, &lc.Liked); err != nil {
		return lc, fmt.Errorf("count likes of %s: %w", target, err)
	}
	return lc, nil
}

// OwnLikes are the guids of the user's live likes of a target (more than
// one when two devices liked it concurrently).
func OwnLikes(ctx context.Context, q querier, target string) ([]string, error) {
	return interactionGUIDs(ctx, q, `SELECT guid FROM likes WHERE target_guid = ? AND own = 1 ORDER BY guid`, target)
}

func interactionGUIDs(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read guids: %w", err)
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

// LikeView is one entry of a like list: one per person.
type LikeView struct {
	GUID      string
	Own       bool
	Author    string // "" when own
	CreatedAt int64
}

// LikesPage lists the likes of a target, one per person (their first like),
// the user's own first, then oldest first; limit+1 rows tell whether a
// next page exists.
func LikesPage(ctx context.Context, q querier, target string, offset, limit int) ([]LikeView, error) {
	rows, err := q.QueryContext(ctx, `SELECT guid, own, author, created_at FROM (
			SELECT guid, own, author, created_at,
				row_number() OVER (PARTITION BY author ORDER BY created_at, guid) AS n
			FROM likes WHERE target_guid = ? AND positive = 1)
		WHERE n = 1 ORDER BY own DESC, created_at, guid LIMIT ? OFFSET ?`, target, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("read likes of %s: %w", target, err)
	}
	defer rows.Close()
	var out []LikeView
	for rows.Next() {
		var l LikeView
		if err := rows.Scan(&l.GUID, &l.Own, &l.Author, &l.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// ReshareView is one reshare of a post.
type ReshareView struct {
	GUID      string
	Own       bool
	Author    string
	CreatedAt int64
}

// ResharesPage lists the reshares of a post, the user's first, then oldest
// first.
func ResharesPage(ctx context.Context, q querier, root string, offset, limit int) ([]ReshareView, error) {
	rows, err := q.QueryContext(ctx, `SELECT guid, own, author, created_at FROM posts
		WHERE root_guid = ? AND post_type = 'Reshare' ORDER BY own DESC, created_at, guid LIMIT ? OFFSET ?`,
		root, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("read reshares of %s: %w", root, err)
	}
	defer rows.Close()
	var out []ReshareView
	for rows.Next() {
		var r ReshareView
		if err := rows.Scan(&r.GUID, &r.Own, &r.Author, &r.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// OwnReshares are the guids of the user's live reshares of a post. It reads
// the fold, not the posts table, so it holds even before the posts
// projection has shown the reshare.
func OwnReshares(ctx context.Context, q querier, root string) ([]string, error) {
	return interactionGUIDs(ctx, q, `SELECT guid FROM st_published WHERE kind = 'reshare' AND parent = ?
		AND guid NOT IN (SELECT guid FROM st_retracted) ORDER BY guid`, root)
}

// OwnVoted reports whether the user voted in a poll (whatever the answer).
func OwnVoted(ctx context.Context, q querier, pollGUID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM poll_votes WHERE poll_guid = ? AND own = 1`, pollGUID).Scan(&n); err != nil {
		return false, fmt.Errorf("read own vote in %s: %w", pollGUID, err)
	}
	return n > 0, nil
}

// participatesExpr is true when the user took part in the post whose guid
// is the SQL expression g: it is theirs, or they commented on it, liked
// it, voted in its poll or reshared it.
func participatesExpr(g string) string {
	return `(EXISTS (SELECT 1 FROM posts p WHERE p.guid = ` + g + ` AND p.own = 1)
		OR EXISTS (SELECT 1 FROM comments c WHERE c.post_guid = ` + g + ` AND c.own = 1)
		OR EXISTS (SELECT 1 FROM likes l WHERE l.target_guid = ` + g + ` AND l.own = 1)
		OR EXISTS (SELECT 1 FROM poll_votes v WHERE v.post_guid = ` + g + ` AND v.own = 1)
		OR EXISTS (SELECT 1 FROM st_published e WHERE e.parent = ` + g + ` AND e.kind = 'reshare'
			AND e.guid NOT IN (SELECT guid FROM st_retracted)))`
}

// Participates reports whether the user took part in a post: it is theirs,
// or they commented on it, liked it, voted in its poll or reshared it.
func Participates(ctx context.Context, q querier, postGUID string) (bool, error) {
	var n bool
	if err := q.QueryRowContext(ctx, `SELECT `+participatesExpr("?1"), postGUID).Scan(&n); err != nil {
		return false, fmt.Errorf("read participation in %s: %w", postGUID, err)
	}
	return n, nil
}

// Subscribed reports whether the user gets notifications about a post
// (diaspora*'s participation, the bell):
//
//   - a post the user took part in is subscribed implicitly: their own
//     post, and a post they commented on, liked, voted in or reshared
//     (Participates);
//   - an explicit subscribe (the subscribed set) subscribes any post;
//   - mute (the muted set) wins over both: a muted post is not subscribed.
//     Subscribing again, or taking part again (comment, like, vote,
//     reshare), removes the mute, as diaspora* recreates the participation.
//
// Concurrent subscribe and mute from two devices both survive in their
// sets, and mute wins.
func Subscribed(ctx context.Context, q querier, postGUID string) (bool, error) {
	muted, err := IsMember(ctx, q, MutedSet, postGUID)
	if err != nil || muted {
		return false, err
	}
	explicit, err := IsMember(ctx, q, SubscribedSet, postGUID)
	if err != nil || explicit {
		return explicit, err
	}
	return Participates(ctx, q, postGUID)
}

// PostInteractions are a post's counters and the user's own state, for
// the v1 Post's interaction_counters and own_interaction_state.
type PostInteractions struct {
	Comments, Likes, Reshares             int
	Liked, Reshared, Subscribed, Reported bool
}

// InteractionsOf reads the interactions of a post.
func InteractionsOf(ctx context.Context, q querier, postGUID string) (PostInteractions, error) {
	m, err := InteractionsOfPosts(ctx, q, []string{postGUID})
	return m[postGUID], err
}

// InteractionsOfPosts reads the interactions of posts in one query, keyed
// by guid (every guid has an entry).
func InteractionsOfPosts(ctx context.Context, q querier, postGUIDs []string) (map[string]PostInteractions, error) {
	out := make(map[string]PostInteractions, len(postGUIDs))
	if len(postGUIDs) == 0 {
		return out, nil
	}
	member := func(set string) string {
		return `EXISTS (SELECT 1 FROM st_set_adds s WHERE s.member = g.value AND s.name = '` + set + `' AND s.live = 1)`
	}
	rows, err := q.QueryContext(ctx, `SELECT g.value,
		(SELECT count(*) FROM comments c WHERE c.post_guid = g.value AND `+hiddenCommentsClause+`),
		(SELECT count(DISTINCT l.author) FROM likes l WHERE l.target_guid = g.value AND l.positive = 1),
		EXISTS (SELECT 1 FROM likes l WHERE l.target_guid = g.value AND l.positive = 1 AND l.own = 1),
		(SELECT count(DISTINCT CASE WHEN r.own = 1 THEN '' ELSE r.guid END) FROM posts r
			WHERE r.root_guid = g.value AND r.post_type = 'Reshare'),
		EXISTS (SELECT 1 FROM posts r WHERE r.root_guid = g.value AND r.post_type = 'Reshare' AND r.own = 1),
		`+member(MutedSet)+`, `+member(SubscribedSet)+`, `+member(ReportedSet)+`,
		`+participatesExpr("g.value")+`
		FROM json_each(?) g`, jsonStrings(postGUIDs))
	if err != nil {
		return nil, fmt.Errorf("read interactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var pi PostInteractions
		var muted, explicit, participates bool
		if err := rows.Scan(&g, &pi.Comments, &pi.Likes, &pi.Liked, &pi.Reshares, &pi.Reshared,
			&muted, &explicit, &pi.Reported, &participates); err != nil {
			return nil, fmt.Errorf("read interactions: %w", err)
		}
		pi.Subscribed = !muted && (explicit || participates) // Subscribed's rule
		out[g] = pi
	}
	return out, rows.Err()
}
