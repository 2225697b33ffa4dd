package store

import (
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
// its status_message or reshare record, unless retracted (own Retract, or
// a received retraction by the post's author). Its tags, mentions,
// versions and photo references follow the row; its photos are
// re-projected, since their post and visibility come from it.

// postState is what projectPost computes for one guid.
type postState struct {
	row      PostRow
	versions []PostVersion
	// embedded are a received post's photos, by guid.
	embedded map[string]*entity.Photo
}

// projectPost recomputes the posts row of one guid and what hangs off it.
func (tx *Tx) projectPost(guid string) error {
	st, ok, err := tx.computePost(guid)
	if err != nil {
		return err
	}
	oldRefs, err := tx.postPhotoRefs(guid)
	if err != nil {
		return err
	}
	if !ok {
		if err := tx.deletePost(guid); err != nil {
			return err
		}
	} else if err := tx.writePost(st); err != nil {
		return err
	}
	if _, err := tx.ExecContext(tx.ctx, "DELETE FROM post_photo_refs WHERE post_guid = ?", guid); err != nil {
		return fmt.Errorf("clear photo refs of %s: %w", guid, err)
	}
	photos := oldRefs
	if ok {
		for _, ph := range st.row.Photos {
			if _, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO post_photo_refs (photo_guid, post_guid) VALUES (?, ?)",
				ph, guid); err != nil {
				return fmt.Errorf("write photo refs of %s: %w", guid, err)
			}
			photos = append(photos, ph)
		}
	}
	slices.Sort(photos)
	for _, ph := range slices.Compact(photos) {
		if err := tx.projectPhoto(ph); err != nil {
			return err
		}
	}
	return nil
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
	p, err := tx.published(guid)
	if err != nil {
		return postState{}, false, err
	}
	if p.Exists && (p.Kind == KindPost || p.Kind == KindReshare) {
		if p.Retracted {
			return postState{}, false, nil
		}
		return tx.computeOwnPost(p)
	}
	r, ok, err := tx.received(guid)
	if err != nil || !ok {
		return postState{}, false, err
	}
	if r.EntityType != EntityStatusMessage && r.EntityType != EntityReshare {
		return postState{}, false, nil
	}
	retracted, err := tx.remotelyRetracted(guid, r.Author)
	if err != nil || retracted {
		return postState{}, false, err
	}
	return computeReceivedPost(r)
}

func (tx *Tx) computeOwnPost(p Published) (postState, bool, error) {
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

func computeReceivedPost(r Received) (postState, bool, error) {
	e, err := entity.Parse([]byte(r.Payload))
	if err != nil {
		return postState{}, false, nil // the fold keeps what arrived; this binary cannot read it
	}
	switch m := e.(type) {
	case *entity.StatusMessage:
		if m.ID != r.GUID || !strings.EqualFold(m.AuthorID, r.Author) {
			return postState{}, false, nil
		}
		st := postState{row: PostRow{GUID: r.GUID, Author: r.Author, PostType: PostTypeStatusMessage, Public: m.Public,
			Text: m.Text, CreatedAt: m.CreatedAt.UnixMilli(), Provider: m.ProviderDisplayName}}
		if !m.EditedAt.IsZero() && m.EditedAt.UnixMilli() > st.row.CreatedAt {
			st.row.EditedAt = m.EditedAt.UnixMilli()
		}
		st.versions = []PostVersion{{Text: m.Text, EditedAt: max(st.row.CreatedAt, st.row.EditedAt), Source: r.GUID}}
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
	case *entity.Reshare:
		if m.ID != r.GUID || !strings.EqualFold(m.AuthorID, r.Author) {
			return postState{}, false, nil
		}
		return postState{row: PostRow{GUID: r.GUID, Author: r.Author, PostType: PostTypeReshare, RootGUID: m.RootID,
			Public: true, CreatedAt: m.CreatedAt.UnixMilli()}}, true, nil
	}
	return postState{}, false, nil
}

// remotelyRetracted reports whether author retracted target.
func (tx *Tx) remotelyRetracted(target, author string) (bool, error) {
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

func (tx *Tx) writePost(st postState) error {
	r := st.row
	id, err := tx.timeID("posts", r.GUID, r.CreatedAt)
	if err != nil {
		return fmt.Errorf("time id of %s: %w", r.GUID, err)
	}
	// One rendering gives the tags, mentions and title.
	var tags, mentions []string
	title := ""
	if r.PostType == PostTypeStatusMessage && r.Text != "" {
		if rendered, err := markup.Render(r.Text, markup.Options{}); err == nil {
			tags, title = rendered.Tags, rendered.Title
			for _, m := range rendered.Mentions {
				mentions = append(mentions, m.Handle)
			}
		}
	}
	nsfw := slices.Contains(tags, "nsfw")
	interacted, err := tx.interactedAt(r.GUID, r.CreatedAt)
	if err != nil {
		return err
	}
	poll, loc := "", ""
	if r.Poll != nil {
		poll = jsonOrEmpty(r.Poll)
	}
	if r.Location != nil {
		loc = jsonOrEmpty(r.Location)
	}
	aspects := "[]"
	if len(r.AspectIDs) > 0 {
		aspects = jsonOrEmpty(r.AspectIDs)
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO posts (id, guid, own, author, post_type, root_guid, public, text,
		created_at, edited_at, interacted_at, nsfw, provider, photos, poll, location, aspect_ids, recipients, title)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (guid) DO UPDATE SET own = excluded.own, author = excluded.author, post_type = excluded.post_type,
		root_guid = excluded.root_guid, public = excluded.public, text = excluded.text, title = excluded.title,
		created_at = excluded.created_at,
		edited_at = excluded.edited_at, interacted_at = excluded.interacted_at, nsfw = excluded.nsfw,
		provider = excluded.provider, photos = excluded.photos, poll = excluded.poll, location = excluded.location,
		aspect_ids = excluded.aspect_ids, recipients = excluded.recipients`,
		id, r.GUID, r.Own, strings.ToLower(r.Author), r.PostType, r.RootGUID, r.Public, r.Text, r.CreatedAt, r.EditedAt,
		interacted, nsfw, r.Provider, jsonStrings(r.Photos), poll, loc, aspects, jsonStrings(r.Recipients), title); err != nil {
		return fmt.Errorf("write post %s: %w", r.GUID, err)
	}
	if err := tx.clearPostIndex(id, r.GUID); err != nil {
		return err
	}
	for _, t := range tags {
		if _, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO post_tags (tag, post_id) VALUES (?, ?)", t, id); err != nil {
			return fmt.Errorf("write tags of %s: %w", r.GUID, err)
		}
	}
	for _, h := range mentions {
		if _, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO post_mentions (handle, post_id) VALUES (?, ?)", h, id); err != nil {
			return fmt.Errorf("write mentions of %s: %w", r.GUID, err)
		}
	}
	for _, v := range st.versions {
		if _, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO post_versions (post_guid, edited_at, text, source)
			VALUES (?, ?, ?, ?)`, r.GUID, v.EditedAt, v.Text, v.Source); err != nil {
			return fmt.Errorf("write versions of %s: %w", r.GUID, err)
		}
	}
	return nil
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

func (tx *Tx) deletePost(guid string) error {
	var id int64
	err := tx.QueryRowContext(tx.ctx, "SELECT id FROM posts WHERE guid = ?", guid).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		_, err := tx.ExecContext(tx.ctx, "DELETE FROM post_versions WHERE post_guid = ?", guid)
		return err
	}
	if err != nil {
		return fmt.Errorf("read post %s: %w", guid, err)
	}
	if err := tx.clearPostIndex(id, guid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(tx.ctx, "DELETE FROM posts WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete post %s: %w", guid, err)
	}
	return nil
}

// interactedAt is a post's last interaction: its newest comment, or its
// creation.
func (tx *Tx) interactedAt(guid string, created int64) (int64, error) {
	var last sql.NullInt64
	if err := tx.QueryRowContext(tx.ctx, "SELECT max(created_at) FROM comments WHERE post_guid = ?", guid).Scan(&last); err != nil {
		return 0, fmt.Errorf("read last comment of %s: %w", guid, err)
	}
	return max(created, last.Int64), nil
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
		e, err := entity.Parse([]byte(r.Payload))
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
	pr, ok, err := tx.received(post)
	if err != nil || !ok {
		return PhotoRow{}, false, err
	}
	st, ok, err := computeReceivedPost(pr)
	if err != nil || !ok || st.embedded[guid] == nil {
		return PhotoRow{}, false, err
	}
	if gone, err := tx.remotelyRetracted(guid, pr.Author); err != nil || gone {
		return PhotoRow{}, false, err
	}
	return receivedPhotoRow(st.embedded[guid], pr.Author, post, st.row.Public, st.row.CreatedAt), true, nil
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
	e, err := entity.Parse([]byte(r.Payload))
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
