package relay

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/id"
)

// Pre-signed public entities. A device publishes the public entities it
// signed; the relay checks that each envelope is signed with the identity's
// key, carries an entity authored by that identity with the announced type
// and GUID, and is public, then serves it byte for byte on
// /fetch/:type/:guid (PROTOCOL.md §8.1). Status messages also get a small
// HTML page (/posts/:guid) and an Atom feed (/public/:username.atom). The
// relay never signs anything: an edit is a new envelope from the device.

const (
	// maxPublishItems bounds one publish request.
	maxPublishItems = 50
	// maxPublishBody: 50 envelopes of a typical size; one envelope is at
	// most envelope.MaxEnvelopeBytes in any case.
	maxPublishBody = 8 << 20
	// maxFeedEntries is how many status messages the Atom feed lists.
	maxFeedEntries = 20
	// magicEnvelopeType is the /fetch answer's content type (§8.1).
	magicEnvelopeType = "application/magic-envelope+xml"
)

// publishableTypes are the entity types a device may publish. Conversations,
// messages, contacts, retractions and account entities are never public
// documents (a retraction is sent, and the retracted entity deleted here).
// Default per-identity bounds on what the relay publishes (media has its
// own quota): what one identity publishes cannot fill the relay's disk. An
// upsert of an existing item is counted as new, which errs on the safe side.
const (
	DefaultMaxPublishedItems = 200_000
	DefaultMaxPublishedBytes = 1 << 30
)

var publishableTypes = map[string]bool{
	"status_message":      true,
	"reshare":             true,
	"comment":             true,
	"like":                true,
	"poll_participation":  true,
	"event_participation": true,
	"photo":               true,
	"profile":             true,
}

// PublishItem is one pre-signed public entity.
type PublishItem struct {
	Type     string `json:"type"`
	GUID     string `json:"guid"`     // the person GUID for a profile
	Envelope []byte `json:"envelope"` // the magic envelope document; base64 in JSON
}

// PublishRequest publishes items.
type PublishRequest struct {
	Items []PublishItem `json:"items"`
}

// PublishResponse says how many items were stored (new or replaced).
type PublishResponse struct {
	Stored int `json:"stored"`
}

// publishedRoutes registers the routes for pre-signed public entities
// (publish through the owner API, /fetch, /posts, the Atom feed).
func (r *Relay) publishedRoutes(mux *http.ServeMux) {
	mux.Handle("POST "+OwnerPrefix+"/published", r.auth.Middleware(maxPublishBody, r.publish))
	mux.Handle("DELETE "+OwnerPrefix+"/published/{type}/{guid}", r.auth.Middleware(maxOwnerBody, r.unpublish))
	// GET patterns also answer HEAD.
	mux.HandleFunc("GET /fetch/{type}/{guid}", r.fetchPublished)
	mux.HandleFunc("GET /posts/{guid}", r.postPage)
	mux.HandleFunc("GET /public/{feed}", r.atomFeed)
}

// publishErr is a refused item: the HTTP status and the JSON error code.
type publishErr struct {
	status int
	code   string
	msg    string
}

func (e *publishErr) Error() string { return e.msg }

func refuse(status int, code, format string, a ...any) *publishErr {
	return &publishErr{status: status, code: code, msg: fmt.Sprintf(format, a...)}
}

// checked is an item that passed verification.
type checked struct {
	typ, guid  string
	envelope   []byte
	createdAt  int64 // 0: the entity has none
	pollGUID   sql.NullString
	postFamily bool // status_message or reshare: one GUID space (/fetch/post)
}

func (r *Relay) publish(w http.ResponseWriter, req *http.Request, who string, body []byte) {
	var p PublishRequest
	if err := json.Unmarshal(body, &p); err != nil {
		jsonError(w, http.StatusBadRequest, "bad_request", "publish JSON: "+err.Error())
		return
	}
	if len(p.Items) == 0 || len(p.Items) > maxPublishItems {
		jsonError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("publish 1 to %d items", maxPublishItems))
		return
	}
	ctx := req.Context()
	self, err := id.Normalize(who + "@" + r.cfg.Domain)
	if err != nil {
		r.log.Error("publish: own diaspora ID", "username", who, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "identity lookup failed")
		return
	}
	key, ok, err := r.identityKey(ctx, who)
	var personGUID string
	if err == nil && ok {
		err = r.db.R.QueryRowContext(ctx, "SELECT guid FROM identities WHERE username = ?", who).Scan(&personGUID)
	}
	if err != nil || !ok {
		r.log.Error("publish: identity", "username", who, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "identity lookup failed")
		return
	}
	items := make([]checked, 0, len(p.Items))
	for i, it := range p.Items {
		c, perr := r.verifyItem(it, self, personGUID, key)
		if perr != nil {
			jsonError(w, perr.status, perr.code, fmt.Sprintf("items[%d]: %s", i, perr.msg))
			return
		}
		items = append(items, c)
	}
	now := r.cfg.Now().Unix()
	err = withTx(ctx, r.db, func(tx *sql.Tx) error {
		var stored, bytes int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(envelope)), 0) FROM published
			WHERE username = ?`, who).Scan(&stored, &bytes); err != nil {
			return err
		}
		for _, c := range items {
			bytes += int64(len(c.envelope))
		}
		if stored+int64(len(items)) > r.cfg.MaxPublishedItems || bytes > r.cfg.MaxPublishedBytes {
			return refuse(http.StatusInsufficientStorage, "quota", "published entities: at most %d items and %d bytes per identity",
				r.cfg.MaxPublishedItems, r.cfg.MaxPublishedBytes)
		}
		for i, c := range items {
			if c.postFamily {
				// status_message and reshare share the post GUID space.
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM published
					WHERE type IN ('status_message', 'reshare') AND type <> ? AND guid = ?`, c.typ, c.guid).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					return refuse(http.StatusConflict, "conflict", "items[%d]: a post with guid %s is already published as another type", i, c.guid)
				}
			}
			created := c.createdAt
			if created == 0 {
				created = now
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO published
				(username, type, guid, envelope, created_at, updated_at, poll_guid) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (type, guid) DO UPDATE SET envelope = excluded.envelope,
					created_at = iif(?, excluded.created_at, published.created_at),
					updated_at = excluded.updated_at, poll_guid = excluded.poll_guid
				WHERE published.username = excluded.username`,
				who, c.typ, c.guid, c.envelope, created, now, c.pollGUID, c.createdAt != 0)
			if err != nil {
				if strings.Contains(err.Error(), "UNIQUE") {
					return refuse(http.StatusConflict, "conflict", "items[%d]: its poll guid is already published", i)
				}
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return refuse(http.StatusConflict, "conflict", "items[%d]: %s %s is published by another identity", i, c.typ, c.guid)
			}
		}
		return nil
	})
	var perr *publishErr
	switch {
	case errors.As(err, &perr):
		jsonError(w, perr.status, perr.code, perr.msg)
	case err != nil:
		r.log.Error("publish", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "could not store the items")
	default:
		writeJSON(w, http.StatusCreated, PublishResponse{Stored: len(items)})
	}
}

// verifyItem checks one item: a magic envelope signed by the identity
// (self) with its key, holding a valid public entity of the announced type
// and GUID authored by the identity.
func (r *Relay) verifyItem(it PublishItem, self, personGUID string, pub *rsa.PublicKey) (checked, *publishErr) {
	c := checked{typ: it.Type, guid: it.GUID, envelope: it.Envelope}
	if !publishableTypes[it.Type] {
		return c, refuse(http.StatusUnprocessableEntity, "invalid", "type %q cannot be published", clip(it.Type))
	}
	if !id.ValidGUID(it.GUID) {
		return c, refuse(http.StatusUnprocessableEntity, "invalid", "bad guid")
	}
	if len(it.Envelope) == 0 || len(it.Envelope) > envelope.MaxEnvelopeBytes {
		return c, refuse(http.StatusUnprocessableEntity, "invalid", "envelope of %d bytes (1 to %d)", len(it.Envelope), envelope.MaxEnvelopeBytes)
	}
	env, err := envelope.Parse(it.Envelope)
	if err != nil {
		return c, refuse(http.StatusUnprocessableEntity, "bad_envelope", "%v", err)
	}
	if sender, err := id.Normalize(env.Sender); err != nil || sender != self {
		return c, refuse(http.StatusForbidden, "forbidden", "signed as %q, not as %s", clip(env.Sender), self)
	}
	if err := env.Verify(pub); err != nil {
		return c, refuse(http.StatusUnprocessableEntity, "bad_signature", "the envelope is not signed with %s's key", self)
	}
	e, err := entity.Parse(env.Payload)
	if err != nil {
		return c, refuse(http.StatusUnprocessableEntity, "bad_entity", "%v", err)
	}
	if e.Type() != it.Type {
		return c, refuse(http.StatusUnprocessableEntity, "mismatch", "the envelope holds a %s, not a %s", e.Type(), it.Type)
	}
	want := entity.GUIDOf(e)
	if _, ok := e.(*entity.Profile); ok {
		want = personGUID // a profile is its person's
	}
	if want != it.GUID {
		return c, refuse(http.StatusUnprocessableEntity, "mismatch", "the entity's guid is %q, not %s", clip(want), it.GUID)
	}
	if e.Author() != self {
		return c, refuse(http.StatusForbidden, "forbidden", "the entity's author is %q, not %s", clip(e.Author()), self)
	}
	if rel, ok := e.(entity.Relayable); ok {
		// Whoever fetches it checks the author signature too.
		if err := entity.VerifyAuthorSignature(rel, pub); err != nil {
			return c, refuse(http.StatusUnprocessableEntity, "bad_signature", "author_signature: %v", err)
		}
	}
	// Only what is public is published. A profile marked non-public that
	// carries only the base fields is what diaspora itself sends on the
	// public route (§3.3 step 9), so it is accepted like there.
	if !entity.AcceptableOnPublicRoute(e) {
		return c, refuse(http.StatusUnprocessableEntity, "not_public", "the %s is not public", e.Type())
	}
	switch v := e.(type) {
	case *entity.StatusMessage:
		c.createdAt = unixOrZero(v.CreatedAt)
		c.postFamily = true
		if v.Poll != nil && v.Poll.ID != "" {
			c.pollGUID = sql.NullString{String: v.Poll.ID, Valid: true}
		}
	case *entity.Reshare:
		c.createdAt = unixOrZero(v.CreatedAt)
		c.postFamily = true
	case *entity.Photo:
		c.createdAt = unixOrZero(v.CreatedAt)
	case *entity.Comment:
		c.createdAt = unixOrZero(v.CreatedAt)
	}
	return c, nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// unpublish removes the identity's own entity (after a retraction). Another
// identity's entity is answered like an unknown one: 404.
func (r *Relay) unpublish(w http.ResponseWriter, req *http.Request, who string, _ []byte) {
	typ, guid := req.PathValue("type"), req.PathValue("guid")
	types := []string{typ}
	if typ == "post" {
		types = []string{"status_message", "reshare"}
	} else if !publishableTypes[typ] {
		jsonError(w, http.StatusNotFound, "not_found", "no such published entity")
		return
	}
	if !id.ValidGUID(guid) {
		jsonError(w, http.StatusNotFound, "not_found", "no such published entity")
		return
	}
	var removed int64
	err := withTx(req.Context(), r.db, func(tx *sql.Tx) error {
		for _, t := range types {
			res, err := tx.ExecContext(req.Context(), "DELETE FROM published WHERE type = ? AND guid = ? AND username = ?", t, guid, who)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			removed += n
		}
		return nil
	})
	switch {
	case err != nil:
		r.log.Error("unpublish", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "could not remove it")
	case removed == 0:
		jsonError(w, http.StatusNotFound, "not_found", "no such published entity")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// fetchPublished is GET /fetch/:type/:guid (§8.1): the stored envelope,
// exactly as the device signed it. "post" is a status message or a reshare;
// "poll" answers the status message holding that poll, as diaspora does.
func (r *Relay) fetchPublished(w http.ResponseWriter, req *http.Request) {
	typ, guid := req.PathValue("type"), req.PathValue("guid")
	if !id.ValidGUID(guid) {
		http.NotFound(w, req)
		return
	}
	var q string
	args := []any{guid}
	switch {
	case typ == "post":
		q = "SELECT envelope FROM published WHERE type IN ('status_message', 'reshare') AND guid = ? LIMIT 1"
	case typ == "poll":
		q = "SELECT envelope FROM published WHERE type = 'status_message' AND poll_guid = ?"
	case publishableTypes[typ]:
		q = "SELECT envelope FROM published WHERE type = ? AND guid = ?"
		args = []any{typ, guid}
	default:
		http.NotFound(w, req)
		return
	}
	var doc []byte
	err := r.db.R.QueryRowContext(req.Context(), q, args...).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		http.NotFound(w, req)
		return
	}
	if err != nil {
		r.log.Error("fetch", "type", typ, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", magicEnvelopeType)
	w.Header().Set("Content-Length", fmt.Sprint(len(doc)))
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(doc)
}

// decodeStored reads the status message out of a stored envelope (it was
// verified when published).
func decodeStored(doc []byte) (*entity.StatusMessage, error) {
	env, err := envelope.Parse(doc)
	if err != nil {
		return nil, err
	}
	e, err := entity.Parse(env.Payload)
	if err != nil {
		return nil, err
	}
	sm, ok := e.(*entity.StatusMessage)
	if !ok {
		return nil, fmt.Errorf("stored %s is not a status message", e.Type())
	}
	return sm, nil
}

// postCSS is the page's only style; the CSP allows exactly it by hash.
const postCSS = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}` +
	`.id,time{color:#666}.text{white-space:pre-wrap;overflow-wrap:anywhere}`

var postCSP = func() string {
	sum := sha256.Sum256([]byte(postCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}()

var postPageTemplate = template.Must(template.New("post").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(postCSS) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Name}}: {{.Title}}</title>
<style>{{css}}</style>
<link rel="alternate" type="application/atom+xml" href="{{.Feed}}">
</head>
<body>
<main>
<article>
<header><a href="{{.Profile}}">{{.Name}}</a> <span class="id">{{.DiasporaID}}</span></header>
<div class="text">{{.Text}}</div>
<footer><time datetime="{{.Datetime}}">{{.Date}}</time></footer>
</article>
</main>
</body>
</html>
`))

type postPageData struct {
	Name, DiasporaID, Profile, Feed, Title, Text, Datetime, Date string
}

// postPage is GET /posts/:guid: a published status message as HTML (text
// as written, escaped; markdown is not rendered).
func (r *Relay) postPage(w http.ResponseWriter, req *http.Request) {
	guid := req.PathValue("guid")
	if !id.ValidGUID(guid) {
		http.NotFound(w, req)
		return
	}
	var username string
	var doc []byte
	err := r.db.R.QueryRowContext(req.Context(),
		"SELECT username, envelope FROM published WHERE type = 'status_message' AND guid = ?", guid).Scan(&username, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		http.NotFound(w, req)
		return
	}
	if err != nil {
		r.log.Error("post page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	sm, err := decodeStored(doc)
	if err != nil {
		r.log.Error("post page: stored envelope", "guid", guid, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	name := username
	if idn, ok, err := (directory{r.db}).ByUsername(req.Context(), username); err == nil && ok && idn.Profile.FullName != "" {
		name = idn.Profile.FullName
	}
	base := "https://" + r.cfg.Domain
	d := postPageData{Name: name, DiasporaID: sm.Author(), Profile: base + "/u/" + username,
		Feed: base + "/public/" + username + ".atom", Title: feedTitle(sm.Text), Text: sm.Text,
		Datetime: sm.CreatedAt.UTC().Format(time.RFC3339), Date: sm.CreatedAt.UTC().Format("2 January 2006, 15:04 UTC")}
	var buf bytes.Buffer
	if err := postPageTemplate.Execute(&buf, d); err != nil {
		r.log.Error("post page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", postCSP)
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(buf.Bytes())
}

// feedTitle is the first line of a text, at most 80 characters.
func feedTitle(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(line)
	if utf8.RuneCountInString(line) <= 80 {
		return line
	}
	rs := []rune(line)
	return string(rs[:79]) + "…"
}

// Atom 1.0 (RFC 4287).
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomPerson  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

type atomEntry struct {
	ID        string   `xml:"id"`
	Title     atomText `xml:"title"`
	Updated   string   `xml:"updated"`
	Published string   `xml:"published"`
	Link      atomLink `xml:"link"`
	Content   atomText `xml:"content"`
}

// atomFeed is GET /public/:username.atom: the identity's latest public
// status messages, newest first.
func (r *Relay) atomFeed(w http.ResponseWriter, req *http.Request) {
	username, ok := strings.CutSuffix(req.PathValue("feed"), ".atom")
	if !ok || !validUsername(username) {
		http.NotFound(w, req)
		return
	}
	ctx := req.Context()
	idn, found, err := (directory{r.db}).ByUsername(ctx, username)
	if err != nil {
		r.log.Error("atom feed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if !found {
		http.NotFound(w, req)
		return
	}
	var since int64
	if err := r.db.R.QueryRowContext(ctx, "SELECT created_at FROM identities WHERE username = ?", username).Scan(&since); err != nil {
		r.log.Error("atom feed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	rows, err := r.db.R.QueryContext(ctx, `SELECT guid, envelope FROM published
		WHERE username = ? AND type = 'status_message' ORDER BY created_at DESC, guid DESC LIMIT ?`, username, maxFeedEntries)
	if err != nil {
		r.log.Error("atom feed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	base := "https://" + r.cfg.Domain
	self := base + "/public/" + username + ".atom"
	name := idn.Profile.FullName
	if name == "" {
		name = username
	}
	feed := atomFeed{ID: self, Title: name + " (" + username + "@" + r.cfg.Domain + ")",
		Author: atomPerson{Name: name, URI: base + "/u/" + username},
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: self},
			{Rel: "alternate", Type: "text/html", Href: base + "/u/" + username}}}
	var updated time.Time // the newest entry's; the enrollment's without any
	for rows.Next() {
		var guid string
		var doc []byte
		if err := rows.Scan(&guid, &doc); err != nil {
			r.log.Error("atom feed", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		sm, err := decodeStored(doc)
		if err != nil {
			r.log.Error("atom feed: stored envelope", "guid", guid, "err", err)
			continue
		}
		if sm.CreatedAt.After(updated) {
			updated = sm.CreatedAt
		}
		at := sm.CreatedAt.UTC().Format(time.RFC3339)
		link := base + "/posts/" + guid
		feed.Entries = append(feed.Entries, atomEntry{ID: link, Title: atomText{Type: "text", Text: feedTitle(sm.Text)},
			Updated: at, Published: at, Link: atomLink{Rel: "alternate", Type: "text/html", Href: link},
			Content: atomText{Type: "text", Text: sm.Text}})
	}
	if err := rows.Err(); err != nil {
		r.log.Error("atom feed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if updated.IsZero() {
		updated = time.Unix(since, 0)
	}
	feed.Updated = updated.UTC().Format(time.RFC3339)
	out, err := xml.MarshalIndent(feed, "", "  ")
	if err != nil {
		r.log.Error("atom feed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
