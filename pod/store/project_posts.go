package store

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/markup"
)

// Posts, photos and retractions projections. Owned by the posts area.
//
// A post's row is recomputed from the fold alone: an own post from its
// Publish (kind post or reshare) and its live edits, a received one from
// its status_message or reshare record and the status_message records of
// its edits (ReceivedEditKey), unless retracted (own Retract, or a
// received retraction by the post's author) or its author's account is
// closed (a received account_deletion). Its tags, mentions,
// versions and photo references follow the row; its photos are
// re-projected, since their post and visibility come from it.

// postState is what projectPost computes for one guid.
type postState struct {
	row      PostRow
	versions []PostVersion
	// embedded are a received post's photos, by guid.
	embedded map[string]*entity.Photo
	// rendered is the text rendered ahead (prefetch.go), nil if it was not.
	rendered *markup.Rendered
}

// projectPost recomputes the posts row of one guid and what hangs off it.
//
// Most projections write a post the table does not have yet: projectPost
// first tries that (one INSERT OR IGNORE at the post's time id), and reads
// the stored row only when the guid has one, or another row holds the id.
// posts_fts follows the row here, not by triggers (0009_speed.sql).
func (tx *Tx) projectPost(guid string) error {
	st, ok, err := tx.computePost(guid)
	if err != nil {
		return err
	}
	var pw postWrite
	candidate := int64(-1)
	if ok {
		pw = preparePost(st)
		candidate = timeIDOf(guid, st.row.CreatedAt)
		inserted, err := tx.insertPost(pw, candidate, nil)
		if err != nil {
			return err
		}
		if inserted {
			// A new row has no photo references to clear: they follow
			// the row (written below, cleared with it).
			return tx.writePostPhotos(guid, nil, st.row.Photos)
		}
	}
	cur, err := tx.storedPost(guid, candidate)
	if err != nil {
		return err
	}
	var oldRefs []string
	if cur.hasRefs {
		if oldRefs, err = tx.postPhotoRefs(guid); err != nil {
			return err
		}
	}
	if ok && cur.exists && cur.createdAt != st.row.CreatedAt {
		// The post's time changed (a received post shown from an edit
		// until its original arrived): its time id moves with it, as if
		// it had been written at that time first.
		if err := tx.deletePost(guid, cur); err != nil {
			return err
		}
		cur.exists = false
		if cur.id, err = tx.freeTimeID("posts", candidate); err != nil {
			return fmt.Errorf("time id of %s: %w", guid, err)
		}
		if _, err := tx.insertPost(pw, cur.id, &cur); err != nil {
			return err
		}
	} else if !ok {
		if err := tx.deletePost(guid, cur); err != nil {
			return err
		}
	} else if cur.exists {
		if err := tx.updatePost(pw, cur); err != nil {
			return err
		}
	} else {
		id := candidate
		if cur.candidateTaken {
			if id, err = tx.freeTimeID("posts", candidate+1); err != nil {
				return fmt.Errorf("time id of %s: %w", guid, err)
			}
		}
		if _, err := tx.insertPost(pw, id, &cur); err != nil {
			return err
		}
	}
	if cur.hasRefs {
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM post_photo_refs WHERE post_guid = ?", guid); err != nil {
			return fmt.Errorf("clear photo refs of %s: %w", guid, err)
		}
	}
	var photos []string
	if ok {
		photos = st.row.Photos
	}
	return tx.writePostPhotos(guid, oldRefs, photos)
}

// writePostPhotos writes the photo references of a post (its row's photos)
// and re-projects those photos and the ones it named before (oldRefs).
func (tx *Tx) writePostPhotos(guid string, oldRefs, photos []string) error {
	all := oldRefs
	for _, ph := range photos {
		if _, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO post_photo_refs (photo_guid, post_guid) VALUES (?, ?)",
			ph, guid); err != nil {
			return fmt.Errorf("write photo refs of %s: %w", guid, err)
		}
		all = append(all, ph)
	}
	slices.Sort(all)
	for _, ph := range slices.Compact(all) {
		if err := tx.projectPhoto(ph); err != nil {
			return err
		}
	}
	return nil
}

// storedPost is what projectPost needs of a guid's current posts row and
// its surroundings, read in one statement.
type storedPost struct {
	exists    bool
	id        int64
	text      string
	createdAt int64
	// hasRefs: post_photo_refs rows name the post.
	hasRefs bool
	// lastComment is the newest comment's created_at (0: none).
	lastComment int64
	// candidateTaken: another row holds the candidate time id.
	candidateTaken bool
}

func (tx *Tx) storedPost(guid string, candidate int64) (storedPost, error) {
	var cur storedPost
	var id, last sql.NullInt64
	var text sql.NullString
	var created sql.NullInt64
	if err := tx.QueryRowContext(tx.ctx, `SELECT p.id, p.text, p.created_at,
		EXISTS (SELECT 1 FROM post_photo_refs WHERE post_guid = ?1),
		(SELECT max(created_at) FROM comments WHERE post_guid = ?1),
		EXISTS (SELECT 1 FROM posts WHERE id = ?2)
		FROM (SELECT 1) LEFT JOIN posts p ON p.guid = ?1`, guid, candidate).
		Scan(&id, &text, &created, &cur.hasRefs, &last, &cur.candidateTaken); err != nil {
		return cur, fmt.Errorf("read post %s: %w", guid, err)
	}
	cur.exists, cur.id, cur.text, cur.createdAt, cur.lastComment = id.Valid, id.Int64, text.String, created.Int64,
		last.Int64
	return cur, nil
}

func (tx *Tx) postPhotoRefs(postGUID string) ([]string, error) {
	rows, err := tx.QueryContext(tx.ctx, "SELECT photo_guid FROM post_photo_refs WHERE post_guid = ?", postGUID)
	if err != nil {
		return nil, fmt.Errorf("read photo refs of %s: %w", postGUID, err)
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

// computePost reads the post a guid names from the fold; ok is false when
// there is none (never published, retracted, or not a post).
func (tx *Tx) computePost(guid string) (postState, bool, error) {
	f, err := tx.foldOf(guid)
	if err != nil {
		return postState{}, false, err
	}
	if f.pub.Retracted {
		// An own Retract tombstones its guid whatever holds it, also a
		// received entity under it, and also before the Publish it
		// retracts arrives from another device (data-model.md).
		return postState{}, false, nil
	}
	if p := f.pub; p.Exists && (p.Kind == KindPost || p.Kind == KindReshare) {
		return tx.computeOwnPost(p, f.hasEdits)
	}
	if f.recOK && f.rec.EntityType == EntityReshare {
		retracted, err := tx.remotelyRetracted(guid, f.rec.Author)
		if err != nil || retracted {
			return postState{}, false, err
		}
		if closed, err := tx.authorClosed(f.rec.Author); err != nil || closed {
			return postState{}, false, err
		}
		return tx.computeReceivedReshare(f.rec)
	}
	if f.recOK && f.rec.EntityType != EntityStatusMessage {
		return postState{}, false, nil // the guid is another entity's
	}
	if _, _, isEdit := SplitReceivedEditKey(guid); isEdit {
		// An edit's key, never a post's: projectReceived projects the
		// post it edits.
		return postState{}, false, nil
	}
	return tx.computeReceivedPost(f)
}

// computeOwnPost makes an own post's row from its Publish and, when
// hasEdits says there are any, its edits.
func (tx *Tx) computeOwnPost(p Published, hasEdits bool) (postState, bool, error) {
	st := postState{row: PostRow{GUID: p.GUID, Own: true, CreatedAt: p.CreatedAt, Recipients: p.Recipients}}
	if p.Kind == KindReshare {
		st.row.PostType = PostTypeReshare
		st.row.RootGUID = p.Parent
		st.row.Public = true
		return st, true, nil
	}
	var b PostBody
	if len(p.Body) > 0 {
		if err := json.Unmarshal(p.Body, &b); err != nil {
			return postState{}, false, nil // not a post body this binary reads: nothing to show
		}
	}
	st.row.PostType = PostTypeStatusMessage
	st.row.Public = b.Public
	st.row.Text = b.Text
	st.row.Photos = b.Photos
	st.row.Poll = b.Poll
	st.row.Location = b.Location
	st.row.AspectIDs = b.AspectIDs
	st.row.Provider = b.Provider
	if st.row.Public {
		st.row.AspectIDs, st.row.Recipients = nil, nil
	}
	st.versions = []PostVersion{{Text: b.Text, EditedAt: p.CreatedAt, Source: p.GUID}}
	if !hasEdits {
		return st, true, nil
	}
	rows, err := tx.QueryContext(tx.ctx, `SELECT e.guid, e.created_at, e.body FROM st_published e
		WHERE e.parent = ? AND e.kind = ? AND NOT EXISTS (SELECT 1 FROM st_retracted r WHERE r.guid = e.guid)
		ORDER BY e.created_at, e.guid`, p.GUID, KindEdit)
	if err != nil {
		return postState{}, false, fmt.Errorf("read edits of %s: %w", p.GUID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var at int64
		var body []byte
		if err := rows.Scan(&g, &at, &body); err != nil {
			return postState{}, false, fmt.Errorf("read edits of %s: %w", p.GUID, err)
		}
		var e PostEditBody
		if json.Unmarshal(body, &e) != nil {
			continue
		}
		st.versions = append(st.versions, PostVersion{Text: e.Text, EditedAt: at, Source: g})
		st.row.Text, st.row.Location, st.row.EditedAt = e.Text, e.Location, at
	}
	if err := rows.Err(); err != nil {
		return postState{}, false, err
	}
	return st, true, nil
}

// ReceivedEditKey is the key (Received.GUID) under which the pod records a
// received edit of a post: a status_message with the post's guid and an
// edited_at (ms) after its created_at, keyed "<guid>#<edited_at ms>". The
// fold keeps one record per key, so every edit gets its own; the original
// keeps the post's guid. '#' never occurs in a guid (pod/oplog accepts it
// in a received key only so).
func ReceivedEditKey(postGUID string, editedAt int64) string {
	return postGUID + receivedEditMarker + strconv.FormatInt(editedAt, 10)
}

// receivedEditMarker separates a post's guid and an edit's time in
// ReceivedEditKey; receivedEditEnd is the first string after every key
// that starts with the marker ('#' + 1 = '$'), for range scans.
const (
	receivedEditMarker = "#"
	receivedEditEnd    = "$"
)

// SplitReceivedEditKey is the post guid and edited_at of a key made by
// ReceivedEditKey; ok is false for any other key, one whose time is not
// in ReceivedEditKey's form (decimal digits, no leading zero) included.
func SplitReceivedEditKey(key string) (postGUID string, editedAt int64, ok bool) {
	postGUID, ms, ok := strings.Cut(key, receivedEditMarker)
	if !ok || postGUID == "" || ms == "" || strings.Trim(ms, "0123456789") != "" {
		return "", 0, false
	}
	at, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || strconv.FormatInt(at, 10) != ms {
		return "", 0, false
	}
	return postGUID, at, true
}

// receivedEdits reads the status_message records keyed <guid>#… (the
// received edits of a post), by key; cached with the guid's fold.
func (tx *Tx) receivedEdits(f *guidFold) ([]Received, error) {
	if !f.hasReceivedEdits || f.editsRead {
		return f.edits, nil
	}
	guid := f.rec.GUID
	rows, err := tx.QueryContext(tx.ctx, `SELECT guid, author, payload FROM st_received
		WHERE guid >= ? AND guid < ? AND entity_type = ? ORDER BY guid`,
		guid+receivedEditMarker, guid+receivedEditEnd, EntityStatusMessage)
	if err != nil {
		return nil, fmt.Errorf("read edits of %s: %w", guid, err)
	}
	defer rows.Close()
	var out []Received
	for rows.Next() {
		r := Received{EntityType: EntityStatusMessage}
		if err := rows.Scan(&r.GUID, &r.Author, &r.Payload); err != nil {
			return nil, fmt.Errorf("read edits of %s: %w", guid, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read edits of %s: %w", guid, err)
	}
	f.edits, f.editsRead = out, true
	return out, nil
}

// statusVersion is one accepted version of a received status message.
type statusVersion struct {
	m       *entity.StatusMessage
	payload string
	author  string // the record's (verified) author
	source  string // the record's key: the post's guid, or ReceivedEditKey
	at      int64  // the version's time: edited_at (an edit), else created_at
	edit    bool   // recorded under ReceivedEditKey
}

// compareVersions orders versions oldest first: by time, the original
// before an edit of the same time, then by key (as PostVersions reads them).
func compareVersions(v, w statusVersion) int {
	if c := cmp.Compare(v.at, w.at); c != 0 {
		return c
	}
	if v.edit != w.edit {
		if v.edit {
			return 1
		}
		return -1
	}
	return strings.Compare(v.source, w.source)
}

// statusOf parses a received payload as a status message of guid by the
// record's author; nil when it is not one.
func (tx *Tx) statusOf(r Received, guid string) *entity.StatusMessage {
	e, err := tx.parse(r.Payload)
	if err != nil {
		return nil // the fold keeps what arrived; this binary cannot read it
	}
	m, ok := e.(*entity.StatusMessage)
	if !ok || m.ID != guid || !strings.EqualFold(m.AuthorID, r.Author) {
		return nil
	}
	return m
}

// computeReceivedPost makes a received status message's row from its
// record (the original, under the post's guid) and its edits (under
// ReceivedEditKey). A version counts when its entity names the post's guid
// and the record's author; an edit also when its edited_at is its key's
// time and after its created_at, and its author is the post's: the
// original's, or without one the newest edit's. The newest version gives
// the text, location, poll and photos; the original gives the author,
// created_at, public flag and provider (an edit cannot make a limited
// post public). Without the original the newest edit gives those, except
// that the post is public only when every edit says so. Every version is
// in post_versions. Nothing is shown once the post's author retracted it,
// or closed their account (authorClosed).
func (tx *Tx) computeReceivedPost(f *guidFold) (postState, bool, error) {
	guid := f.rec.GUID
	var orig *statusVersion
	if f.recOK {
		if m := tx.statusOf(f.rec, guid); m != nil {
			at := m.CreatedAt.UnixMilli()
			if !m.EditedAt.IsZero() {
				at = max(at, m.EditedAt.UnixMilli())
			}
			orig = &statusVersion{m: m, payload: f.rec.Payload, author: f.rec.Author, source: guid, at: at}
		}
	}
	recs, err := tx.receivedEdits(f)
	if err != nil {
		return postState{}, false, err
	}
	var edits []statusVersion
	for _, r := range recs {
		post, at, ok := SplitReceivedEditKey(r.GUID)
		if !ok || post != guid {
			continue
		}
		m := tx.statusOf(r, guid)
		if m == nil || m.EditedAt.IsZero() || m.EditedAt.UnixMilli() != at || at <= m.CreatedAt.UnixMilli() {
			continue
		}
		edits = append(edits, statusVersion{m: m, payload: r.Payload, author: r.Author, source: r.GUID, at: at, edit: true})
	}
	var author string
	switch {
	case orig != nil:
		author = orig.author
	case len(edits) > 0:
		author = slices.MaxFunc(edits, compareVersions).author
	default:
		return postState{}, false, nil
	}
	versions := make([]statusVersion, 0, 1+len(edits))
	if orig != nil {
		versions = append(versions, *orig)
	}
	for _, v := range edits {
		if strings.EqualFold(v.author, author) {
			versions = append(versions, v)
		}
	}
	slices.SortFunc(versions, compareVersions)
	if retracted, err := tx.remotelyRetracted(guid, author); err != nil || retracted {
		return postState{}, false, err
	}
	if closed, err := tx.authorClosed(author); err != nil || closed {
		return postState{}, false, err
	}
	cur := versions[len(versions)-1]
	ref := cur
	if orig != nil {
		ref = *orig
	}
	st := postState{row: PostRow{GUID: guid, Author: author, PostType: PostTypeStatusMessage, Public: ref.m.Public,
		CreatedAt: ref.m.CreatedAt.UnixMilli(), Provider: ref.m.ProviderDisplayName}}
	if orig == nil {
		for _, v := range versions {
			st.row.Public = st.row.Public && v.m.Public
		}
	}
	for _, v := range versions {
		st.versions = append(st.versions, PostVersion{Text: v.m.Text, EditedAt: v.at, Source: v.source})
	}
	m := cur.m
	st.row.Text = m.Text
	if cur.at > st.row.CreatedAt {
		st.row.EditedAt = cur.at
	}
	st.rendered = tx.prerendered(cur.payload, m.Text)
	if len(m.Photos) > 0 {
		st.embedded = map[string]*entity.Photo{}
		for _, ph := range m.Photos {
			if ph.ID == "" || st.embedded[ph.ID] != nil {
				continue
			}
			st.embedded[ph.ID] = ph
			st.row.Photos = append(st.row.Photos, ph.ID)
		}
	}
	if m.Poll != nil {
		poll := &PostPoll{GUID: m.Poll.ID, Question: m.Poll.Question}
		for i, a := range m.Poll.Answers {
			poll.Answers = append(poll.Answers, PostPollAnswer{ID: int64(i + 1), Answer: a.Answer, GUID: a.ID})
		}
		st.row.Poll = poll
	}
	if m.Location != nil {
		lat, err1 := strconv.ParseFloat(m.Location.Lat, 64)
		lng, err2 := strconv.ParseFloat(m.Location.Lng, 64)
		if err1 == nil && err2 == nil {
			st.row.Location = &PostLocation{Address: m.Location.Address, Lat: lat, Lng: lng}
		}
	}
	return st, true, nil
}

// computeReceivedReshare makes a received reshare's row from its record.
func (tx *Tx) computeReceivedReshare(r Received) (postState, bool, error) {
	e, err := tx.parse(r.Payload)
	if err != nil {
		return postState{}, false, nil // the fold keeps what arrived; this binary cannot read it
	}
	m, ok := e.(*entity.Reshare)
	if !ok || m.ID != r.GUID || !strings.EqualFold(m.AuthorID, r.Author) {
		return postState{}, false, nil
	}
	return postState{row: PostRow{GUID: r.GUID, Author: r.Author, PostType: PostTypeReshare, RootGUID: m.RootID,
		Public: true, CreatedAt: m.CreatedAt.UnixMilli()}}, true, nil
}

// remotelyRetracted reports whether author retracted target.
func (tx *Tx) remotelyRetracted(target, author string) (bool, error) {
	f, err := tx.foldOf(target)
	if err != nil {
		return false, err
	}
	if !f.remoteRetraction {
		return false, nil // nobody retracted it
	}
	var n int
	if err := tx.QueryRowContext(tx.ctx, "SELECT count(*) FROM remote_retractions WHERE target_guid = ? AND author = ?",
		target, strings.ToLower(author)).Scan(&n); err != nil {
		return false, fmt.Errorf("read retractions of %s: %w", target, err)
	}
	return n > 0, nil
}

func jsonOrEmpty(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// postWrite is a post's row ready to write: the computed post and what
// its text renders to.
type postWrite struct {
	st             postState
	tags, mentions []string
	title          string
	nsfw           bool
	// JSON columns
	photos, poll, location, aspects, recipients string
}

func preparePost(st postState) postWrite {
	r := st.row
	pw := postWrite{st: st, aspects: "[]", photos: jsonStrings(r.Photos), recipients: jsonStrings(r.Recipients)}
	// One rendering gives the tags, mentions and title.
	if r.PostType == PostTypeStatusMessage && r.Text != "" {
		rendered, err := st.rendered, error(nil)
		if rendered == nil {
			var out markup.Rendered
			out, err = markup.Render(r.Text, markup.Options{})
			rendered = &out
		}
		if err == nil {
			pw.tags, pw.title = rendered.Tags, rendered.Title
			for _, m := range rendered.Mentions {
				pw.mentions = append(pw.mentions, m.Handle)
			}
		}
	}
	pw.nsfw = slices.Contains(pw.tags, "nsfw")
	if r.Poll != nil {
		pw.poll = jsonOrEmpty(r.Poll)
	}
	if r.Location != nil {
		pw.location = jsonOrEmpty(r.Location)
	}
	if len(r.AspectIDs) > 0 {
		pw.aspects = jsonOrEmpty(r.AspectIDs)
	}
	return pw
}

// insertPost inserts a post's row at id, its posts_fts row and its index
// rows. With cur nil the guid is not known to be free: the insert is
// skipped (false) when the guid has a row or another row holds id, and
// interacted_at is read from the comments in the same statement;
// otherwise cur is what storedPost read.
func (tx *Tx) insertPost(pw postWrite, id int64, cur *storedPost) (bool, error) {
	r := pw.st.row
	args := []any{id, r.GUID, r.Own, strings.ToLower(r.Author), r.PostType, r.RootGUID, r.Public, r.Text, r.CreatedAt,
		r.EditedAt, pw.nsfw, r.Provider, pw.photos, pw.poll, pw.location, pw.aspects, pw.recipients, pw.title}
	if cur == nil {
		res, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO posts (id, guid, own, author, post_type, root_guid,
			public, text, created_at, edited_at, nsfw, provider, photos, poll, location, aspect_ids, recipients, title,
			interacted_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
				max(?9, coalesce((SELECT max(created_at) FROM comments WHERE post_guid = ?2), 0)))`, args...)
		if err != nil {
			return false, fmt.Errorf("write post %s: %w", r.GUID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return false, err
		}
	} else {
		args = append(args, max(r.CreatedAt, cur.lastComment))
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO posts (id, guid, own, author, post_type, root_guid, public,
			text, created_at, edited_at, nsfw, provider, photos, poll, location, aspect_ids, recipients, title,
			interacted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return false, fmt.Errorf("write post %s: %w", r.GUID, err)
		}
	}
	if _, err := tx.ExecContext(tx.ctx, "INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", id, r.Text); err != nil {
		return false, fmt.Errorf("index post %s: %w", r.GUID, err)
	}
	// A new row has no tags, mentions or versions to clear: deletePost
	// clears them with the row, and its id was free.
	return true, tx.writePostIndex(pw, id)
}

// updatePost rewrites the stored row of a post (cur) and its index rows.
func (tx *Tx) updatePost(pw postWrite, cur storedPost) error {
	r := pw.st.row
	if _, err := tx.ExecContext(tx.ctx, `UPDATE posts SET own = ?, author = ?, post_type = ?, root_guid = ?, public = ?,
		text = ?, created_at = ?, edited_at = ?, interacted_at = ?, nsfw = ?, provider = ?, photos = ?, poll = ?,
		location = ?, aspect_ids = ?, recipients = ?, title = ? WHERE id = ?`,
		r.Own, strings.ToLower(r.Author), r.PostType, r.RootGUID, r.Public, r.Text, r.CreatedAt, r.EditedAt,
		max(r.CreatedAt, cur.lastComment), pw.nsfw, r.Provider, pw.photos, pw.poll, pw.location, pw.aspects,
		pw.recipients, pw.title, cur.id); err != nil {
		return fmt.Errorf("write post %s: %w", r.GUID, err)
	}
	if cur.text != r.Text {
		if err := tx.reindex("posts_fts", cur.id, r.Text); err != nil {
			return fmt.Errorf("index post %s: %w", r.GUID, err)
		}
	}
	if err := tx.clearPostIndex(cur.id, r.GUID); err != nil {
		return err
	}
	return tx.writePostIndex(pw, cur.id)
}

// writePostIndex writes a post's tags, mentions and versions.
func (tx *Tx) writePostIndex(pw postWrite, id int64) error {
	guid := pw.st.row.GUID
	for _, t := range pw.tags {
		if _, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO post_tags (tag, post_id) VALUES (?, ?)", t, id); err != nil {
			return fmt.Errorf("write tags of %s: %w", guid, err)
		}
	}
	for _, h := range pw.mentions {
		if _, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO post_mentions (handle, post_id) VALUES (?, ?)", h, id); err != nil {
			return fmt.Errorf("write mentions of %s: %w", guid, err)
		}
	}
	for _, v := range pw.st.versions {
		if _, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO post_versions (post_guid, edited_at, text, source)
			VALUES (?, ?, ?, ?)`, guid, v.EditedAt, v.Text, v.Source); err != nil {
			return fmt.Errorf("write versions of %s: %w", guid, err)
		}
	}
	return nil
}

// reindex replaces the text of a row of an FTS5 table (one text column).
func (tx *Tx) reindex(fts string, rowid int64, text string) error {
	if _, err := tx.ExecContext(tx.ctx, "DELETE FROM "+fts+" WHERE rowid = ?", rowid); err != nil {
		return err
	}
	_, err := tx.ExecContext(tx.ctx, "INSERT INTO "+fts+" (rowid, text) VALUES (?, ?)", rowid, text)
	return err
}

// clearPostIndex removes a post's tags, mentions and versions.
func (tx *Tx) clearPostIndex(id int64, guid string) error {
	for _, q := range []struct {
		sql string
		arg any
	}{
		{"DELETE FROM post_tags WHERE post_id = ?", id},
		{"DELETE FROM post_mentions WHERE post_id = ?", id},
		{"DELETE FROM post_versions WHERE post_guid = ?", guid},
	} {
		if _, err := tx.ExecContext(tx.ctx, q.sql, q.arg); err != nil {
			return fmt.Errorf("clear index of post %s: %w", guid, err)
		}
	}
	return nil
}

// deletePost removes a guid's post row (if any) and its index rows.
func (tx *Tx) deletePost(guid string, cur storedPost) error {
	if !cur.exists {
		_, err := tx.ExecContext(tx.ctx, "DELETE FROM post_versions WHERE post_guid = ?", guid)
		return err
	}
	if err := tx.clearPostIndex(cur.id, guid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(tx.ctx, "DELETE FROM posts WHERE id = ?", cur.id); err != nil {
		return fmt.Errorf("delete post %s: %w", guid, err)
	}
	if _, err := tx.ExecContext(tx.ctx, "DELETE FROM posts_fts WHERE rowid = ?", cur.id); err != nil {
		return fmt.Errorf("unindex post %s: %w", guid, err)
	}
	return nil
}

// touchInteracted recomputes a post's interacted_at from its comments. The
// comments projection calls it after changing a post's comments.
func (tx *Tx) touchInteracted(postGUID string) error {
	if _, err := tx.ExecContext(tx.ctx, `UPDATE posts SET interacted_at = max(created_at,
		COALESCE((SELECT max(c.created_at) FROM comments c WHERE c.post_guid = posts.guid), 0)) WHERE guid = ?`,
		postGUID); err != nil {
		return fmt.Errorf("touch post %s: %w", postGUID, err)
	}
	return nil
}

// projectPhoto recomputes the photos row of one guid: an own upload (its
// post and visibility from the own post that names it), a received photo
// entity, or a photo embedded in a received post.
func (tx *Tx) projectPhoto(guid string) error {
	row, ok, err := tx.computePhoto(guid)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM photos WHERE guid = ?", guid); err != nil {
			return fmt.Errorf("delete photo %s: %w", guid, err)
		}
		return nil
	}
	sizes, _ := json.Marshal(row.Sizes)
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO photos (guid, own, author, post_guid, public, created_at, width,
		height, alt, sizes, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (guid) DO UPDATE SET own = excluded.own, author = excluded.author, post_guid = excluded.post_guid,
		public = excluded.public, created_at = excluded.created_at, width = excluded.width, height = excluded.height,
		alt = excluded.alt, sizes = excluded.sizes, pending = excluded.pending`,
		row.GUID, row.Own, row.Author, row.PostGUID, row.Public, row.CreatedAt, row.Width, row.Height, row.Alt,
		string(sizes), row.Pending); err != nil {
		return fmt.Errorf("write photo %s: %w", guid, err)
	}
	return nil
}

func (tx *Tx) computePhoto(guid string) (PhotoRow, bool, error) {
	p, err := tx.published(guid)
	if err != nil {
		return PhotoRow{}, false, err
	}
	if p.Exists && p.Kind == KindPhoto {
		if p.Retracted {
			return PhotoRow{}, false, nil
		}
		var b PhotoBody
		if json.Unmarshal(p.Body, &b) != nil {
			return PhotoRow{}, false, nil
		}
		row := PhotoRow{GUID: guid, Own: true, Public: b.Public, Pending: b.Pending, CreatedAt: p.CreatedAt,
			Width: b.Width, Height: b.Height, Alt: b.Alt, Sizes: b.Sizes}
		var post string
		var public bool
		err := tx.QueryRowContext(tx.ctx, `SELECT p.guid, p.public FROM post_photo_refs r JOIN posts p ON p.guid = r.post_guid
			WHERE r.photo_guid = ? AND p.own = 1 ORDER BY p.id LIMIT 1`, guid).Scan(&post, &public)
		switch {
		case err == nil:
			row.PostGUID, row.Public, row.Pending = post, public, false
		case !errors.Is(err, sql.ErrNoRows):
			return PhotoRow{}, false, fmt.Errorf("read post of photo %s: %w", guid, err)
		}
		return row, true, nil
	}
	r, ok, err := tx.received(guid)
	if err != nil {
		return PhotoRow{}, false, err
	}
	if ok && r.EntityType == EntityPhoto {
		e, err := tx.parse(r.Payload)
		if err != nil {
			return PhotoRow{}, false, nil
		}
		ph, isPhoto := e.(*entity.Photo)
		if !isPhoto || ph.ID != guid || !strings.EqualFold(ph.AuthorID, r.Author) {
			return PhotoRow{}, false, nil
		}
		if gone, err := tx.remotelyRetracted(guid, r.Author); err != nil || gone {
			return PhotoRow{}, false, err
		}
		if closed, err := tx.authorClosed(r.Author); err != nil || closed {
			return PhotoRow{}, false, err
		}
		if ph, err = tx.photoAtHome(ph, r.Author); err != nil {
			return PhotoRow{}, false, err
		}
		row := receivedPhotoRow(ph, r.Author, ph.StatusMessageGUID, ph.Public, 0)
		return row, true, nil
	}
	// Embedded in a received post.
	var post string
	err = tx.QueryRowContext(tx.ctx, `SELECT p.guid FROM post_photo_refs r JOIN posts p ON p.guid = r.post_guid
		WHERE r.photo_guid = ? AND p.own = 0 ORDER BY p.id LIMIT 1`, guid).Scan(&post)
	if errors.Is(err, sql.ErrNoRows) {
		return PhotoRow{}, false, nil
	}
	if err != nil {
		return PhotoRow{}, false, fmt.Errorf("read post of photo %s: %w", guid, err)
	}
	st, ok, err := tx.computePost(post)
	if err != nil || !ok || st.row.Own || st.embedded[guid] == nil {
		return PhotoRow{}, false, err
	}
	if gone, err := tx.remotelyRetracted(guid, st.row.Author); err != nil || gone {
		return PhotoRow{}, false, err
	}
	ph, err := tx.photoAtHome(st.embedded[guid], st.row.Author)
	if err != nil {
		return PhotoRow{}, false, err
	}
	return receivedPhotoRow(ph, st.row.Author, post, st.row.Public, st.row.CreatedAt), true, nil
}

// photoAtHome is a received photo as its author's pod serves it now: from
// the remote_photo_path of the author's move, if any (movedPhotoPath).
func (tx *Tx) photoAtHome(ph *entity.Photo, author string) (*entity.Photo, error) {
	path, err := tx.movedPhotoPath(author)
	if err != nil || path == "" {
		return ph, err
	}
	moved := *ph
	moved.RemotePhotoPath = path
	return &moved, nil
}

// receivedPhotoRow makes a remote photo's row: its URLs as diaspora* names
// the versions (Photo#url: remote_photo_path + version prefix + name).
func receivedPhotoRow(ph *entity.Photo, author, post string, public bool, fallbackCreated int64) PhotoRow {
	created := fallbackCreated
	if !ph.CreatedAt.IsZero() {
		created = ph.CreatedAt.UnixMilli()
	}
	base := ph.RemotePhotoPath
	return PhotoRow{GUID: ph.ID, Author: strings.ToLower(author), PostGUID: post, Public: public, CreatedAt: created,
		Width: ph.Width, Height: ph.Height, Alt: ph.Text, Sizes: PhotoSizes{
			Small:  base + "thumb_small_" + ph.RemotePhotoName,
			Medium: base + "thumb_medium_" + ph.RemotePhotoName,
			Large:  base + "scaled_full_" + ph.RemotePhotoName,
			Raw:    base + ph.RemotePhotoName,
		}}
}

// projectRetraction records a received retraction (of its author's entity)
// and re-projects the target, which disappears if the author is its own.
func (tx *Tx) projectRetraction(guid string) error {
	r, ok, err := tx.received(guid)
	if err != nil || !ok {
		return err
	}
	e, err := tx.parse(r.Payload)
	if err != nil {
		return nil
	}
	ret, isRet := e.(*entity.Retraction)
	if !isRet || !strings.EqualFold(ret.AuthorID, r.Author) || ret.Target == "" {
		return nil
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO remote_retractions (target_guid, author, target_type)
		VALUES (?, ?, ?)`, ret.Target, strings.ToLower(r.Author), ret.TargetTypeName); err != nil {
		return fmt.Errorf("record retraction of %s: %w", ret.Target, err)
	}
	tx.forgetFold(ret.Target) // its remoteRetraction hint is stale
	switch ret.TargetTypeName {
	case "Post", "StatusMessage", "Reshare":
		return tx.projectPost(ret.Target)
	case "Photo":
		return tx.projectPhoto(ret.Target)
	case "Comment":
		return tx.projectComment(ret.Target)
	case "Like":
		return tx.projectLike(ret.Target)
	case "PollParticipation":
		return tx.projectPollVote(ret.Target)
	}
	return nil
}
