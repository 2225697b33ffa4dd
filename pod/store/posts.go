package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// Queries and op bodies of the posts area: posts, photos, their versions
// and the streams. Each query takes a Querier, so it works on the reader
// pool (db.R) and inside a write alike.

// Publish kinds of the posts area (docs/data-model.md).
const (
	KindPost    = "post"
	KindEdit    = "edit"
	KindReshare = "reshare"
	KindPhoto   = "photo"
)

// Post types (posts.post_type).
const (
	PostTypeStatusMessage = "StatusMessage"
	PostTypeReshare       = "Reshare"
)

// PostBody is the body of an own "post" Publish.
type PostBody struct {
	Text      string        `json:"text"`
	Public    bool          `json:"public"`
	AspectIDs []int64       `json:"aspect_ids"`
	Photos    []string      `json:"photos"`
	Poll      *PostPoll     `json:"poll,omitempty"`
	Location  *PostLocation `json:"location,omitempty"`
	Provider  string        `json:"provider,omitempty"`
}

// PostPoll is a post's poll (a post body's poll and posts.poll). Answer ids
// run 1..n in order.
type PostPoll struct {
	GUID     string           `json:"guid"`
	Question string           `json:"question"`
	Answers  []PostPollAnswer `json:"answers"`
}

// PostPollAnswer is one answer. GUID is the answer's federation guid
// (diaspora* poll_answer); received poll participations name answers by it.
type PostPollAnswer struct {
	ID     int64  `json:"id"`
	Answer string `json:"answer"`
	GUID   string `json:"guid,omitempty"`
}

// PostLocation is a post's location.
type PostLocation struct {
	Address string  `json:"address"`
	Lat     float64 `json:"lat"`
	Lng     float64 `json:"lng"`
}

// PostEditBody is the body of an own "edit" Publish (parent: the post;
// CreatedAt: edited_at). It holds the whole new state: the newest live edit
// is the post's text and location.
type PostEditBody struct {
	Text     string        `json:"text"`
	Location *PostLocation `json:"location,omitempty"`
}

// PhotoBody is the body of an own "photo" Publish. Pending and Public are
// Seedpod's additions to the documented body: whether the upload may be
// attached to a new post, and the visibility of an unattached photo.
type PhotoBody struct {
	Width       int        `json:"width"`
	Height      int        `json:"height"`
	Alt         string     `json:"alt,omitempty"`
	ContentType string     `json:"content_type"`
	Sizes       PhotoSizes `json:"sizes"`
	Pending     bool       `json:"pending,omitempty"`
	Public      bool       `json:"public,omitempty"`
}

// PhotoSizes name a photo's pictures: blob sha256s (own photos) or URLs
// (received photos).
type PhotoSizes struct {
	Small  string `json:"small"`
	Medium string `json:"medium"`
	Large  string `json:"large"`
	Raw    string `json:"raw"`
}

// PostRow is a row of posts.
type PostRow struct {
	ID           int64
	GUID         string
	Own          bool
	Author       string // handle; "" when own
	PostType     string
	RootGUID     string
	Public       bool
	Text         string
	Title        string // markup's title of Text; "" when there is no text
	CreatedAt    int64
	EditedAt     int64
	InteractedAt int64
	NSFW         bool
	Provider     string
	Photos       []string
	Poll         *PostPoll
	Location     *PostLocation
	AspectIDs    []int64
	Recipients   []string
}

const postColumns = `p.id, p.guid, p.own, p.author, p.post_type, p.root_guid, p.public, p.text, p.title, p.created_at,
	p.edited_at, p.interacted_at, p.nsfw, p.provider, p.photos, p.poll, p.location, p.aspect_ids, p.recipients`

func scanPost(r rowScanner) (PostRow, error) {
	var p PostRow
	var photos, poll, loc, aspects, recips string
	if err := r.Scan(&p.ID, &p.GUID, &p.Own, &p.Author, &p.PostType, &p.RootGUID, &p.Public, &p.Text, &p.Title, &p.CreatedAt,
		&p.EditedAt, &p.InteractedAt, &p.NSFW, &p.Provider, &photos, &poll, &loc, &aspects, &recips); err != nil {
		return p, err
	}
	p.Photos = parseStrings(photos)
	p.Recipients = parseStrings(recips)
	if poll != "" {
		var v PostPoll
		if json.Unmarshal([]byte(poll), &v) == nil {
			p.Poll = &v
		}
	}
	if loc != "" {
		var v PostLocation
		if json.Unmarshal([]byte(loc), &v) == nil {
			p.Location = &v
		}
	}
	_ = json.Unmarshal([]byte(aspects), &p.AspectIDs)
	return p, nil
}

func queryPosts(ctx context.Context, q Querier, query string, args ...any) ([]PostRow, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read posts: %w", err)
	}
	defer rows.Close()
	var out []PostRow
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, fmt.Errorf("read posts: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PostByGUID reads one post; ok is false when there is none (unknown or
// retracted).
func PostByGUID(ctx context.Context, q Querier, guid string) (p PostRow, ok bool, err error) {
	p, err = scanPost(q.QueryRowContext(ctx, "SELECT "+postColumns+" FROM posts p WHERE p.guid = ?", guid))
	if errors.Is(err, sql.ErrNoRows) {
		return PostRow{}, false, nil
	}
	if err != nil {
		return PostRow{}, false, fmt.Errorf("read post %s: %w", guid, err)
	}
	return p, true, nil
}

// PostsByGUIDs reads the posts among guids that exist, keyed by guid.
func PostsByGUIDs(ctx context.Context, q Querier, guids []string) (map[string]PostRow, error) {
	out := map[string]PostRow{}
	if len(guids) == 0 {
		return out, nil
	}
	ps, err := queryPosts(ctx, q, "SELECT "+postColumns+" FROM posts p WHERE p.guid IN (SELECT value FROM json_each(?))",
		jsonStrings(guids))
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		out[p.GUID] = p
	}
	return out, nil
}

// PostVersion is one version of a post's text, oldest first.
type PostVersion struct {
	Text     string
	EditedAt int64  // ms; the original's is its created_at
	Source   string // the edit's guid, or the post's own
	Device   []byte // the device that wrote it (own posts); nil for received
}

// PostVersions lists the versions of a post, the original included, oldest
// first.
func PostVersions(ctx context.Context, q Querier, guid string) ([]PostVersion, error) {
	rows, err := q.QueryContext(ctx, `SELECT v.text, v.edited_at, v.source, s.device FROM post_versions v
		LEFT JOIN st_published s ON s.guid = v.source
		WHERE v.post_guid = ? ORDER BY v.edited_at, v.source <> v.post_guid, v.source`, guid)
	if err != nil {
		return nil, fmt.Errorf("read versions of %s: %w", guid, err)
	}
	defer rows.Close()
	var out []PostVersion
	for rows.Next() {
		var v PostVersion
		if err := rows.Scan(&v.Text, &v.EditedAt, &v.Source, &v.Device); err != nil {
			return nil, fmt.Errorf("read versions of %s: %w", guid, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PostAttachedPhotos are the own photos a post names (for its deletion).
func PostAttachedPhotos(ctx context.Context, q Querier, postGUID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT guid FROM photos WHERE own = 1 AND post_guid = ? ORDER BY guid`, postGUID)
	if err != nil {
		return nil, fmt.Errorf("read photos of %s: %w", postGUID, err)
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

// TimeBound is a page of a time-ordered list: items strictly past
// (Time, GUID) in the page's direction, at most Limit of them. Time is in
// ms; GUID (a cursor's) breaks ties, "" compares times alone.
type TimeBound struct {
	Desc  bool
	Time  int64
	GUID  string
	Limit int
}

// StreamKind names a stream of posts.
type StreamKind int

// The streams (API.md §3.12 and Seedpod's).
const (
	// StreamMain: my posts, posts by people I share with, public posts with
	// a tag I follow, posts mentioning me.
	StreamMain StreamKind = iota
	// StreamAspects: posts by members of Stream.AspectIDs, my posts limited
	// to one of them, and my public posts.
	StreamAspects
	// StreamFollowedTags: posts with a tag I follow.
	StreamFollowedTags
	// StreamTag: posts with Stream.Tag.
	StreamTag
	// StreamMentions: posts mentioning Stream.Me.
	StreamMentions
	// StreamActivity: my posts and the posts I commented on or liked,
	// ordered by interacted_at.
	StreamActivity
	// StreamLiked: posts I liked.
	StreamLiked
	// StreamCommented: posts I commented on.
	StreamCommented
	// StreamAuthor: one person's posts (Stream.Author, a handle), or mine
	// (Stream.Own).
	StreamAuthor
	// StreamPublic: every public post.
	StreamPublic
)

// Stream says which posts a stream holds.
type Stream struct {
	Kind StreamKind
	// Me is my handle (mentions).
	Me string
	// AspectIDs for StreamAspects; nil means every aspect.
	AspectIDs []int64
	// Tag for StreamTag (lowercase, no '#').
	Tag string
	// Author (a handle) or Own for StreamAuthor.
	Author string
	Own    bool
}

// postVisible drops what no stream shows: hidden posts and posts by people
// I block or ignore.
const postVisible = ` AND p.guid NOT IN (SELECT member FROM st_set_adds WHERE name = 'hidden' AND live = 1)
	AND (p.own = 1 OR p.author NOT IN (SELECT pe.handle FROM people pe WHERE pe.guid IN
		(SELECT member FROM st_set_adds WHERE name IN ('blocks', 'ignores') AND live = 1)))`

// sharedWith holds when I share with the author of p: they are a live
// member of an aspect that exists. It is checked per row (people by handle,
// then the partial member index of st_set_adds), not by materialising the
// list of everyone I share with, which costs a page ~2 ms with 1,000
// contacts.
const sharedWith = `EXISTS (SELECT 1 FROM people pe JOIN st_set_adds s ON s.member = pe.guid
	WHERE pe.handle = p.author AND s.live = 1 AND s.name >= 'aspect/' AND s.name < 'aspect0'
	AND EXISTS (SELECT 1 FROM aspects a WHERE s.name = 'aspect/' || a.id))`

// maxTagUnion bounds the per-tag subqueries of one followed-tags query
// (SQLite allows 500 terms in a compound select).
const maxTagUnion = 400

// StreamPosts reads one page of a stream, in the page's order.
//
// Every stream but activity is ordered by posts.id (the time id) and
// bounded by an id computed from the page's time and cursor guid
// (postIDBound), so a page reads the primary key (or a (key, post_id)
// index) from the bound and stops after Limit rows that pass the filters:
// the cost depends on the page size and on how densely the stream's posts
// lie among all posts, not on the table's size. The plans are checked by
// TestPostsStreamPlans.
func StreamPosts(ctx context.Context, q Querier, s Stream, pg TimeBound) ([]PostRow, error) {
	if pg.Limit <= 0 {
		return nil, nil
	}
	query, args, err := streamQuery(ctx, q, s, pg)
	if err != nil || query == "" {
		return nil, err
	}
	return queryPosts(ctx, q, query, args...)
}

// streamQuery builds the SQL of one page of a stream; "" when the page is
// empty without asking (no followed tags).
func streamQuery(ctx context.Context, q Querier, s Stream, pg TimeBound) (string, []any, error) {
	if s.Kind == StreamActivity {
		query, args := activityQuery(pg)
		return query, args, nil
	}
	bound, err := postIDBound(ctx, q, pg)
	if err != nil {
		return "", nil, err
	}
	cmp, dir := "<", "DESC"
	if !pg.Desc {
		cmp, dir = ">", "ASC"
	}
	page := func(where string, args ...any) (string, []any, error) {
		return "SELECT " + postColumns + " FROM posts p WHERE " + where + postVisible +
			" AND p.id " + cmp + " ? ORDER BY p.id " + dir + " LIMIT ?", append(args, bound, pg.Limit), nil
	}
	switch s.Kind {
	case StreamMain:
		return page(`(p.own = 1 OR (p.author <> '' AND `+sharedWith+`)
			OR (p.public = 1 AND EXISTS (SELECT 1 FROM post_tags t WHERE t.post_id = p.id
				AND t.tag IN (SELECT member FROM st_set_adds WHERE name = 'tags' AND live = 1)))
			OR EXISTS (SELECT 1 FROM post_mentions m WHERE m.handle = ? AND m.post_id = p.id))`, strings.ToLower(s.Me))
	case StreamAspects:
		ids := s.AspectIDs
		if ids == nil {
			as, err := Aspects(ctx, q)
			if err != nil {
				return "", nil, err
			}
			ids = []int64{}
			for _, a := range as {
				ids = append(ids, a.ID)
			}
		}
		idsJSON, _ := json.Marshal(ids)
		// +p.own: no index on own, so the page walks the primary key from
		// its bound instead of merging two index scans and sorting them.
		return page(`((+p.own = 0 AND p.author <> '' AND EXISTS (SELECT 1 FROM people pe
				JOIN st_set_adds s ON s.member = pe.guid WHERE pe.handle = p.author AND s.live = 1
				AND s.name IN (SELECT 'aspect/' || a.id FROM aspects a WHERE a.id IN (SELECT value FROM json_each(?1)))))
			OR (+p.own = 1 AND (p.public = 1 OR EXISTS (SELECT 1 FROM json_each(p.aspect_ids) j
				WHERE j.value IN (SELECT value FROM json_each(?1))))))`, string(idsJSON))
	case StreamFollowedTags:
		tags, err := Members(ctx, q, "tags")
		if err != nil {
			return "", nil, err
		}
		query, args := taggedQuery(tags, bound, pg)
		return query, args, nil
	case StreamTag:
		query, args := taggedQuery([]string{strings.ToLower(s.Tag)}, bound, pg)
		return query, args, nil
	case StreamMentions:
		return "SELECT " + postColumns + ` FROM post_mentions m JOIN posts p ON p.id = m.post_id
			WHERE m.handle = ?` + postVisible + " AND m.post_id " + cmp + " ? ORDER BY m.post_id " + dir + " LIMIT ?",
			[]any{strings.ToLower(s.Me), bound, pg.Limit}, nil
	case StreamLiked:
		return page(`p.guid IN (SELECT target_guid FROM likes WHERE own = 1 AND target_type = 'Post' AND positive = 1)`)
	case StreamCommented:
		return page(`p.guid IN (SELECT post_guid FROM comments WHERE own = 1)`)
	case StreamAuthor:
		if s.Own {
			return page(`p.own = 1`)
		}
		// Remote authors only: own rows have author ''.
		return page(`p.author = ? AND p.author <> ''`, strings.ToLower(s.Author))
	case StreamPublic:
		return page(`p.public = 1`)
	}
	return "", nil, fmt.Errorf("stream kind %d", s.Kind)
}

// taggedQuery pages the posts carrying any of tags: one index walk of
// post_tags per tag, each stopping after Limit visible posts, merged.
func taggedQuery(tags []string, bound int64, pg TimeBound) (string, []any) {
	if len(tags) == 0 {
		return "", nil
	}
	cmp, dir := "<", "DESC"
	if !pg.Desc {
		cmp, dir = ">", "ASC"
	}
	if len(tags) > maxTagUnion {
		tj, _ := json.Marshal(tags)
		return "SELECT " + postColumns + ` FROM posts p WHERE EXISTS (SELECT 1 FROM post_tags t
			WHERE t.post_id = p.id AND t.tag IN (SELECT value FROM json_each(?)))` + postVisible +
			" AND p.id " + cmp + " ? ORDER BY p.id " + dir + " LIMIT ?", []any{string(tj), bound, pg.Limit}
	}
	var b strings.Builder
	var args []any
	for i, tag := range tags {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString(`SELECT id FROM (SELECT t.post_id AS id FROM post_tags t JOIN posts p ON p.id = t.post_id
			WHERE t.tag = ?` + postVisible + " AND t.post_id " + cmp + " ? ORDER BY t.post_id " + dir + " LIMIT ?)")
		args = append(args, tag, bound, pg.Limit)
	}
	args = append(args, pg.Limit)
	return "SELECT " + postColumns + " FROM posts p WHERE p.id IN (" + b.String() +
		") ORDER BY p.id " + dir + " LIMIT ?", args
}

// activityQuery pages my posts and the posts I commented on or liked by
// (interacted_at, guid): a walk of posts_interacted from the bound (+p.own
// keeps the planner from merging per-branch scans and sorting them all),
// which reads about a page divided by the share of posts I took part in.
func activityQuery(pg TimeBound) (string, []any) {
	cmp, dir := "<", "DESC"
	if !pg.Desc {
		cmp, dir = ">", "ASC"
	}
	bound := "p.interacted_at " + cmp + " ?1"
	if pg.GUID != "" {
		bound = "(p.interacted_at " + cmp + " ?1 OR (p.interacted_at = ?1 AND p.guid " + cmp + " ?2))"
	}
	return "SELECT " + postColumns + ` FROM posts p WHERE ` + bound + `
		AND (+p.own = 1 OR p.guid IN (SELECT post_guid FROM comments WHERE own = 1)
			OR p.guid IN (SELECT target_guid FROM likes WHERE own = 1 AND target_type = 'Post' AND positive = 1))` +
		postVisible + " ORDER BY p.interacted_at " + dir + ", p.guid " + dir + " LIMIT ?3", []any{pg.Time, pg.GUID, pg.Limit}
}

// postIDBound is the exclusive time-id bound of a page. With a cursor guid
// it is that post's id (or, when the post is gone, the id it had, barring
// a collision probe); without, the bound of the page's millisecond.
func postIDBound(ctx context.Context, q Querier, pg TimeBound) (int64, error) {
	if pg.GUID != "" {
		var id int64
		err := q.QueryRowContext(ctx, "SELECT id FROM posts WHERE guid = ?", pg.GUID).Scan(&id)
		switch {
		case err == nil:
			return id, nil
		case !errors.Is(err, sql.ErrNoRows):
			return 0, fmt.Errorf("read cursor post: %w", err)
		}
		h := fnv.New32a()
		h.Write([]byte(pg.GUID))
		return TimeIDBound(pg.Time) + int64(h.Sum32()%1024), nil
	}
	if pg.Desc {
		return TimeIDBound(pg.Time), nil
	}
	return TimeIDBound(pg.Time+1) - 1, nil
}

// PollTally counts a poll's votes.
type PollTally struct {
	Counts map[int64]int // answer id → votes
	Total  int
	Own    int64 // my answer id; 0 when I have not voted
}

// PollTallyOf counts the votes of a post's poll: own votes name the post and
// answer id, received ones the poll and answer guids (0006_interactions).
// Votes for no known answer are not counted; one vote per voter (the
// earliest by guid), as diaspora allows one.
func PollTallyOf(ctx context.Context, q Querier, postGUID string, poll *PostPoll) (PollTally, error) {
	t := PollTally{Counts: map[int64]int{}}
	if poll == nil {
		return t, nil
	}
	byGUID := map[string]int64{}
	valid := map[int64]bool{}
	for _, a := range poll.Answers {
		valid[a.ID] = true
		if a.GUID != "" {
			byGUID[a.GUID] = a.ID
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT answer_id, answer_guid, own, author FROM poll_votes
		WHERE post_guid = ? OR (poll_guid = ? AND poll_guid <> '') ORDER BY created_at, guid`, postGUID, poll.GUID)
	if err != nil {
		return t, fmt.Errorf("read votes of %s: %w", postGUID, err)
	}
	defer rows.Close()
	voted := map[string]bool{}
	for rows.Next() {
		var id int64
		var answerGUID, author string
		var own bool
		if err := rows.Scan(&id, &answerGUID, &own, &author); err != nil {
			return t, fmt.Errorf("read votes of %s: %w", postGUID, err)
		}
		if answerGUID != "" {
			if mapped, ok := byGUID[answerGUID]; ok {
				id = mapped
			}
		}
		if !valid[id] {
			continue
		}
		voter := author
		if own {
			voter = ""
		}
		if voted[voter] {
			continue
		}
		voted[voter] = true
		t.Counts[id]++
		t.Total++
		if own {
			t.Own = id
		}
	}
	return t, rows.Err()
}

// PostMentions reads the handles each post mentions (post_mentions), keyed
// by post guid, in the order the text first names them.
func PostMentions(ctx context.Context, q Querier, posts []PostRow) (map[string][]string, error) {
	out := map[string][]string{}
	if len(posts) == 0 {
		return out, nil
	}
	byID := map[int64]PostRow{}
	ids := make([]int64, 0, len(posts))
	for _, p := range posts {
		byID[p.ID] = p
		ids = append(ids, p.ID)
	}
	idsJSON, _ := json.Marshal(ids)
	rows, err := q.QueryContext(ctx, `SELECT post_id, handle FROM post_mentions
		WHERE post_id IN (SELECT value FROM json_each(?)) ORDER BY post_id, handle`, string(idsJSON))
	if err != nil {
		return nil, fmt.Errorf("read mentions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, fmt.Errorf("read mentions: %w", err)
		}
		g := byID[id].GUID
		out[g] = append(out[g], h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	texts := map[string]string{}
	for _, p := range posts {
		texts[p.GUID] = p.Text
	}
	for g, hs := range out {
		if len(hs) > 1 {
			text := strings.ToLower(texts[g])
			pos := func(h string) int {
				if i := strings.Index(text, h); i >= 0 {
					return i
				}
				return len(text)
			}
			slices.SortStableFunc(hs, func(a, b string) int { return pos(a) - pos(b) })
		}
	}
	return out, nil
}

// PostPerson is what a post shows of a person.
type PostPerson struct {
	GUID, Handle, Name, Avatar string // Avatar: the medium URL
	NSFW                       bool
}

// PostPeopleByHandles reads the known people among handles, keyed by handle.
func PostPeopleByHandles(ctx context.Context, q Querier, handles []string) (map[string]PostPerson, error) {
	out := map[string]PostPerson{}
	if len(handles) == 0 {
		return out, nil
	}
	lower := make([]string, len(handles))
	for i, h := range handles {
		lower[i] = strings.ToLower(h)
	}
	rows, err := q.QueryContext(ctx, `SELECT guid, handle, name, avatar_medium, nsfw FROM people
		WHERE handle IN (SELECT value FROM json_each(?))`, jsonStrings(lower))
	if err != nil {
		return nil, fmt.Errorf("read people: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p PostPerson
		if err := rows.Scan(&p.GUID, &p.Handle, &p.Name, &p.Avatar, &p.NSFW); err != nil {
			return nil, fmt.Errorf("read people: %w", err)
		}
		out[p.Handle] = p
	}
	return out, rows.Err()
}

// PhotoRow is a row of photos.
type PhotoRow struct {
	GUID      string
	Own       bool
	Author    string
	PostGUID  string // "" while pending or unattached
	Public    bool
	Pending   bool
	CreatedAt int64
	Width     int
	Height    int
	Alt       string
	Sizes     PhotoSizes
}

const photoColumns = `guid, own, author, post_guid, public, pending, created_at, width, height, alt, sizes`

func scanPhoto(r rowScanner) (PhotoRow, error) {
	var p PhotoRow
	var sizes string
	if err := r.Scan(&p.GUID, &p.Own, &p.Author, &p.PostGUID, &p.Public, &p.Pending, &p.CreatedAt, &p.Width, &p.Height,
		&p.Alt, &sizes); err != nil {
		return p, err
	}
	_ = json.Unmarshal([]byte(sizes), &p.Sizes)
	return p, nil
}

func queryPhotos(ctx context.Context, q Querier, query string, args ...any) ([]PhotoRow, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read photos: %w", err)
	}
	defer rows.Close()
	var out []PhotoRow
	for rows.Next() {
		p, err := scanPhoto(rows)
		if err != nil {
			return nil, fmt.Errorf("read photos: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PhotoByGUID reads one photo.
func PhotoByGUID(ctx context.Context, q Querier, guid string) (PhotoRow, bool, error) {
	p, err := scanPhoto(q.QueryRowContext(ctx, "SELECT "+photoColumns+" FROM photos WHERE guid = ?", guid))
	if errors.Is(err, sql.ErrNoRows) {
		return PhotoRow{}, false, nil
	}
	if err != nil {
		return PhotoRow{}, false, fmt.Errorf("read photo %s: %w", guid, err)
	}
	return p, true, nil
}

// PhotosByGUIDs reads the photos among guids that exist, keyed by guid.
func PhotosByGUIDs(ctx context.Context, q Querier, guids []string) (map[string]PhotoRow, error) {
	out := map[string]PhotoRow{}
	if len(guids) == 0 {
		return out, nil
	}
	ps, err := queryPhotos(ctx, q, "SELECT "+photoColumns+" FROM photos WHERE guid IN (SELECT value FROM json_each(?))",
		jsonStrings(guids))
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		out[p.GUID] = p
	}
	return out, nil
}

// PhotoPage pages one author's photos (Own, or a handle) by (created_at,
// guid).
func PhotoPage(ctx context.Context, q Querier, own bool, author string, pg TimeBound) ([]PhotoRow, error) {
	cmp, dir := "<", "DESC"
	if !pg.Desc {
		cmp, dir = ">", "ASC"
	}
	bound := "created_at " + cmp + " ?3"
	if pg.GUID != "" {
		bound = "(created_at " + cmp + " ?3 OR (created_at = ?3 AND guid " + cmp + " ?4))"
	}
	return queryPhotos(ctx, q, "SELECT "+photoColumns+" FROM photos WHERE own = ?1 AND author = ?2 AND "+bound+
		" ORDER BY created_at "+dir+", guid "+dir+" LIMIT ?5", own, strings.ToLower(author), pg.Time, pg.GUID, pg.Limit)
}
