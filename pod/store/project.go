package store

import (
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"seedpod/pod/oplog"
)

// Domain projections: the tables of 0003_domain.sql (people, aspects,
// posts, comments, …), derived from the generic fold. Each projection
// recomputes the rows of one key from the st_* tables, never
// incrementally, so it is as order-independent as the fold itself; a
// refold clears the tables and rebuilds them. The per-area projections
// live in project_<area>.go; this file dispatches.

// projectionTables are cleared by a refold and rebuilt by the projections.
var projectionTables = []string{"people", "aspects", "contacts", "posts", "post_versions", "post_tags",
	"post_mentions", "photos", "comments", "comment_mentions", "likes", "poll_votes", "remote_retractions",
	"conversations", "messages", "notifications", "drafts", "post_photo_refs", "person_moves"}

// projectedFTSTables are the FTS5 tables the projections keep in step with
// their tables (posts_fts: projectPost, comments_fts: projectComment), where
// a trigger would open a statement savepoint and make FTS5 flush
// (0009_speed.sql). A refold clears them with the projection tables.
var projectedFTSTables = []string{"posts_fts", "comments_fts"}

// project updates the domain tables for one change.
func (tx *Tx) project(c Change) error {
	switch c.Kind {
	case oplog.KindSetField:
		switch {
		case strings.HasPrefix(c.Key, "aspect/"):
			id, _, _ := strings.Cut(strings.TrimPrefix(c.Key, "aspect/"), "/")
			return tx.projectAspect(id)
		}
	case oplog.KindSetAdd: // adds and removes
		switch {
		case strings.HasPrefix(c.Key, "aspect/"):
			return tx.projectContact(c.Member)
		}
	case oplog.KindDraftWrite:
		if id, ok := strings.CutPrefix(c.Key, "draft/"); ok {
			return tx.projectDraft(id)
		}
	case oplog.KindPublish: // publishes and retracts
		return tx.projectOwn(c.Key)
	case oplog.KindReceived:
		return tx.projectReceived(c.Key, c.Entity)
	}
	return nil
}

// Published is one of the user's own entities as the fold holds it.
type Published struct {
	oplog.Publish
	Retracted bool
	Exists    bool // a Publish is known (it may also be retracted)
}

// guidFold is what the fold holds under one guid, read in one statement:
// the own Publish (and its retraction), the received record, and hints
// that spare the projections a query when nothing is there.
type guidFold struct {
	pub   Published
	rec   Received
	recOK bool
	// hasEdits: some own edit names the guid as its parent.
	hasEdits bool
	// remoteRetraction: remote_retractions has a row for the guid (by
	// whichever author; remotelyRetracted checks who).
	remoteRetraction bool
	// hasReceivedEdits: received records are keyed <guid>#… (edits of a
	// received post, ReceivedEditKey); receivedEdits reads them.
	hasReceivedEdits bool
	// edits are those records once receivedEdits has read them.
	edits     []Received
	editsRead bool
}

// flushCache holds fold reads while flush runs the projections: the fold
// (st_* tables) only changes in apply, never during a flush, so a guid's
// record read by its projection serves the notifications and every other
// projection that asks again. Nil outside flush.
type flushCache struct {
	folds map[string]*guidFold
	me    *Me
	// commentPosts are the post guids of the comments rows projectComment
	// wrote in this flush (it is their only writer), by comment guid.
	commentPosts map[string]string
	// closed says whether a handle's account is closed (authorClosed).
	closed map[string]bool
}

// foldOf reads the fold's records of a guid.
func (tx *Tx) foldOf(guid string) (*guidFold, error) {
	if tx.cache != nil {
		if f, ok := tx.cache.folds[guid]; ok {
			return f, nil
		}
	}
	f := &guidFold{pub: Published{Publish: oplog.Publish{GUID: guid}}, rec: Received{GUID: guid}}
	var kind, parent, recips, entityType, author, payload sql.NullString
	var created sql.NullInt64
	var body []byte
	err := tx.QueryRowContext(tx.ctx, `SELECT p.kind, p.parent, p.created_at, p.body, p.recipients,
		EXISTS (SELECT 1 FROM st_retracted WHERE guid = ?1),
		EXISTS (SELECT 1 FROM st_published WHERE parent = ?1 AND kind = '`+KindEdit+`'),
		r.entity_type, r.author, r.payload,
		EXISTS (SELECT 1 FROM remote_retractions WHERE target_guid = ?1),
		EXISTS (SELECT 1 FROM st_received WHERE guid >= ?1 || '`+receivedEditMarker+`' AND guid < ?1 || '`+receivedEditEnd+`')
		FROM (SELECT 1) LEFT JOIN st_published p ON p.guid = ?1 LEFT JOIN st_received r ON r.guid = ?1`, guid).
		Scan(&kind, &parent, &created, &body, &recips, &f.pub.Retracted, &f.hasEdits, &entityType, &author, &payload,
			&f.remoteRetraction, &f.hasReceivedEdits)
	if err != nil {
		return nil, fmt.Errorf("read fold of %s: %w", guid, err)
	}
	if kind.Valid {
		f.pub.Exists = true
		f.pub.Kind, f.pub.Parent, f.pub.CreatedAt = kind.String, parent.String, created.Int64
		f.pub.Body = body
		f.pub.Recipients = parseStrings(recips.String)
	}
	if entityType.Valid {
		f.recOK = true
		f.rec.EntityType, f.rec.Author, f.rec.Payload = entityType.String, author.String, payload.String
	}
	if tx.cache != nil {
		tx.cache.folds[guid] = f
	}
	return f, nil
}

// forgetFold drops a guid's cached record: after a write to a table
// foldOf reads besides the fold (remote_retractions).
func (tx *Tx) forgetFold(guid string) {
	if tx.cache != nil {
		delete(tx.cache.folds, guid)
	}
}

// published reads the fold's record of an own guid.
func (tx *Tx) published(guid string) (Published, error) {
	f, err := tx.foldOf(guid)
	if err != nil {
		return Published{Publish: oplog.Publish{GUID: guid}}, err
	}
	return f.pub, nil
}

// projectOwn dispatches an own guid to its area by publish kind. A Retract
// tombstones its guid whatever holds it, so a guid retracted before its
// Publish arrived (or one that only a received entity holds) goes to the
// area of what the fold knows under it, if anything.
func (tx *Tx) projectOwn(guid string) error {
	p, err := tx.published(guid)
	if err != nil {
		return err
	}
	if !p.Exists {
		r, ok, err := tx.received(guid)
		if err != nil || !ok {
			return err
		}
		return tx.projectReceived(guid, r.EntityType)
	}
	switch p.Kind {
	case "post", "reshare":
		return tx.projectPost(guid)
	case "edit":
		return tx.projectPost(p.Parent)
	case "photo":
		return tx.projectPhoto(guid)
	case "comment":
		return tx.projectComment(guid)
	case "like":
		return tx.projectLike(guid)
	case "poll_vote":
		return tx.projectPollVote(guid)
	case "conversation":
		return tx.projectConversation(guid)
	case "message":
		return tx.projectMessage(guid)
	}
	return nil
}

// Received entity types (diaspora* entity names, pod/diaspora/entity), plus
// "person": a discovery result (JSON: guid, diaspora_id, public key and
// profile) recorded so every device knows the same people.
const (
	EntityPerson        = "person"
	EntityProfile       = "profile"
	EntityContact       = "contact"
	EntityStatusMessage = "status_message"
	EntityReshare       = "reshare"
	EntityPhoto         = "photo"
	EntityComment       = "comment"
	EntityLike          = "like"
	EntityPollVote      = "poll_participation"
	EntityConversation  = "conversation"
	EntityMessage       = "message"
	EntityRetraction    = "retraction"
	// EntityAccountDeletion closes its author's account (authorClosed).
	EntityAccountDeletion = "account_deletion"
	// EntityAccountMigration moves an identity to another diaspora* ID
	// (projectAccountMigration).
	EntityAccountMigration = "account_migration"
)

// Received is an inbound entity as the fold holds it.
type Received struct {
	GUID, EntityType, Author, Payload string
}

func (tx *Tx) received(guid string) (Received, bool, error) {
	f, err := tx.foldOf(guid)
	if err != nil {
		return Received{GUID: guid}, false, err
	}
	return f.rec, f.recOK, nil
}

// projectReceived dispatches an inbound entity to its area.
func (tx *Tx) projectReceived(guid, entity string) error {
	if entity == EntityStatusMessage {
		if post, _, isEdit := SplitReceivedEditKey(guid); isEdit {
			// An edit of a received post (ReceivedEditKey): the post
			// changes, and with its text the mentions its notifications
			// read (projectNotifications sees only the edit's key).
			if err := tx.projectPost(post); err != nil {
				return err
			}
			return tx.notifyPost(post)
		}
	}
	switch entity {
	case EntityPerson, EntityProfile, EntityContact:
		r, ok, err := tx.received(guid)
		if err != nil || !ok {
			return err
		}
		return tx.projectPerson(r.Author)
	case EntityStatusMessage, EntityReshare:
		return tx.projectPost(guid)
	case EntityPhoto:
		return tx.projectPhoto(guid)
	case EntityComment:
		return tx.projectComment(guid)
	case EntityLike:
		return tx.projectLike(guid)
	case EntityPollVote:
		return tx.projectPollVote(guid)
	case EntityConversation:
		return tx.projectConversation(guid)
	case EntityMessage:
		return tx.projectMessage(guid)
	case EntityRetraction:
		return tx.projectRetraction(guid)
	case EntityAccountDeletion:
		return tx.projectAccountDeletion(guid)
	case EntityAccountMigration:
		return tx.projectAccountMigration(guid)
	}
	return nil
}

// authorClosed reports whether a handle's account is closed: the fold
// holds an account_deletion by it (received authors are lowercase,
// pod.receivedOp). The post, comment, like, poll vote and photo
// projections show nothing of a closed author, so the entities of theirs
// that arrive after the deletion stay hidden too.
func (tx *Tx) authorClosed(handle string) (bool, error) {
	handle = strings.ToLower(handle)
	if handle == "" {
		return false, nil
	}
	if tx.cache != nil {
		if c, ok := tx.cache.closed[handle]; ok {
			return c, nil
		}
	}
	var closed bool
	if err := tx.QueryRowContext(tx.ctx, `SELECT EXISTS (SELECT 1 FROM st_received WHERE author = ? AND entity_type = ?)`,
		handle, EntityAccountDeletion).Scan(&closed); err != nil {
		return false, fmt.Errorf("read account deletion of %s: %w", handle, err)
	}
	if tx.cache != nil {
		if tx.cache.closed == nil {
			tx.cache.closed = map[string]bool{}
		}
		tx.cache.closed[handle] = closed
	}
	return closed, nil
}

// closedAuthorEntities are the received records by handle that its account
// deletion hides (posts and their edits, reshares, photos, comments,
// likes, poll votes), as (key, entity type) pairs.
func (tx *Tx) closedAuthorEntities(handle string) ([][2]string, error) {
	rows, err := tx.QueryContext(tx.ctx, `SELECT guid, entity_type FROM st_received WHERE author = ?
		AND entity_type IN (?, ?, ?, ?, ?, ?) ORDER BY guid`, strings.ToLower(handle),
		EntityStatusMessage, EntityReshare, EntityPhoto, EntityComment, EntityLike, EntityPollVote)
	if err != nil {
		return nil, fmt.Errorf("list entities of %s: %w", handle, err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var g, typ string
		if err := rows.Scan(&g, &typ); err != nil {
			return nil, fmt.Errorf("list entities of %s: %w", handle, err)
		}
		out = append(out, [2]string{g, typ})
	}
	return out, rows.Err()
}

// projectAccountDeletion re-projects what the author of a received
// account_deletion touched: their person (closed, not sharing) and every
// post, reshare, photo, comment, like and poll vote of theirs, which
// authorClosed now hides. Conversations and messages stay (diaspora*
// keeps them).
func (tx *Tx) projectAccountDeletion(guid string) error {
	r, ok, err := tx.received(guid)
	if err != nil || !ok || r.EntityType != EntityAccountDeletion {
		return err
	}
	if err := tx.projectPerson(r.Author); err != nil {
		return err
	}
	ents, err := tx.closedAuthorEntities(r.Author)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := tx.projectReceived(e[0], e[1]); err != nil {
			return err
		}
	}
	return nil
}

// timeID is the id of a row created at ms with the guid: creation order
// with a stable tie-break. A collision (1 in 1024 per millisecond) probes
// upwards in table.
func (tx *Tx) timeID(table, guid string, ms int64) (int64, error) {
	var existing int64
	err := tx.QueryRowContext(tx.ctx, "SELECT id FROM "+table+" WHERE guid = ?", guid).Scan(&existing)
	if err == nil {
		return existing, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	return tx.freeTimeID(table, timeIDOf(guid, ms))
}

// timeIDOf is the time id a row of guid created at ms gets when no other
// row holds it.
func timeIDOf(guid string, ms int64) int64 {
	h := fnv.New32a()
	h.Write([]byte(guid))
	return max(ms, 0)*1024 + int64(h.Sum32()%1024)
}

// freeTimeID is the first id from id up that no row of table holds.
func (tx *Tx) freeTimeID(table string, id int64) (int64, error) {
	for {
		var n int
		if err := tx.QueryRowContext(tx.ctx, "SELECT count(*) FROM "+table+" WHERE id = ?", id).Scan(&n); err != nil {
			return 0, err
		}
		if n == 0 {
			return id, nil
		}
		id++
	}
}

// TimeIDBound is the smallest time id of a millisecond: rows created
// before ms have ids below it.
func TimeIDBound(ms int64) int64 { return max(ms, 0) * 1024 }

func parseStrings(s string) []string {
	var out []string
	if s == "" {
		return nil
	}
	if err := jsonUnmarshal([]byte(s), &out); err != nil || len(out) == 0 {
		return nil
	}
	return out
}
