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
	"conversations", "messages", "notifications", "drafts", "post_photo_refs"}

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

// published reads the fold's record of an own guid.
func (tx *Tx) published(guid string) (Published, error) {
	var p Published
	p.GUID = guid
	var body []byte
	var recips string
	err := tx.QueryRowContext(tx.ctx, `SELECT kind, parent, created_at, body, recipients FROM st_published WHERE guid = ?`, guid).
		Scan(&p.Kind, &p.Parent, &p.CreatedAt, &body, &recips)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return p, fmt.Errorf("read published %s: %w", guid, err)
	default:
		p.Exists = true
		p.Body = body
		p.Recipients = parseStrings(recips)
	}
	var n int
	if err := tx.QueryRowContext(tx.ctx, "SELECT count(*) FROM st_retracted WHERE guid = ?", guid).Scan(&n); err != nil {
		return p, fmt.Errorf("read retraction of %s: %w", guid, err)
	}
	p.Retracted = n > 0
	return p, nil
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
)

// Received is an inbound entity as the fold holds it.
type Received struct {
	GUID, EntityType, Author, Payload string
}

func (tx *Tx) received(guid string) (Received, bool, error) {
	r := Received{GUID: guid}
	err := tx.QueryRowContext(tx.ctx, "SELECT entity_type, author, payload FROM st_received WHERE guid = ?", guid).
		Scan(&r.EntityType, &r.Author, &r.Payload)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read received %s: %w", guid, err)
	}
	return r, true, nil
}

// projectReceived dispatches an inbound entity to its area.
func (tx *Tx) projectReceived(guid, entity string) error {
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
	h := fnv.New32a()
	h.Write([]byte(guid))
	id := max(ms, 0)*1024 + int64(h.Sum32()%1024)
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
