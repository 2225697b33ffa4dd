package pod

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"seedpod/pod/apiv1"
	"seedpod/pod/markup"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Drafts are local posts in the making (API.md §6.2). Each draft is the
// multi-value register draft/<id> (docs/data-model.md): a write names the
// versions it saw (Pred) and supersedes exactly those, so two devices that
// edit the same draft offline both keep their text, shown as conflicts until
// a write that saw both merges them. The register's value is the JSON of
// DraftContent; the drafts table (store) holds the live versions.

// ErrDraftStale: the draft changed since the revision the client names
// (If-Match). The API answers 412.
var ErrDraftStale = errors.New("the draft changed")

// Limits of a draft's parts, beyond the text's (markup.MaxLength).
const (
	maxDraftPhotos      = 100
	maxDraftPollAnswers = 20
	maxDraftShortText   = 255 // poll question and answers, location address, content warning
	maxDraftTags        = 50
)

// DraftContent is what a draft holds: the v1 post input (body, public,
// aspects, photos, poll, location) and what a drafts-folder file adds
// (tags, nsfw, content warning), applied when the draft is published (see
// draftPostInput). It is the register's value, as JSON; the added keys are
// omitted when empty, so a value written before them decodes as it did
// and a draft without them is written byte for byte as before.
type DraftContent struct {
	Body     string          `json:"body"`
	Public   bool            `json:"public"`
	Aspects  []int64         `json:"aspects"`
	Photos   []string        `json:"photos"`
	Poll     *DraftPoll      `json:"poll,omitempty"`
	Location *apiv1.Location `json:"location,omitempty"`
	// Tags are hashtags (without '#') the post gets on a last line, those
	// the body does not have yet.
	Tags []string `json:"tags,omitempty"`
	// NSFW marks the post not safe for work (#nsfw, as PostInput.NSFW).
	NSFW bool `json:"nsfw,omitempty"`
	// ContentWarning is one line the post starts with: "CW: <warning>",
	// then a blank line (diaspora* shows a post's first line as its title).
	ContentWarning string `json:"content_warning,omitempty"`
}

// DraftPoll is a poll in a draft, in the v1 post input form. A draft's poll
// may be incomplete; publishing checks it.
type DraftPoll struct {
	Question string   `json:"question"`
	Answers  []string `json:"poll_answers"`
}

// Draft is the API's draft: its newest version, and the other live
// versions as conflicts.
type Draft struct {
	ID string `json:"id"`
	DraftContent
	// FilePath is the draft's file in the watched drafts folder (absolute;
	// absent without a folder or before the file is written).
	FilePath string `json:"file_path,omitempty"`
	// FileError says why the draft's file cannot be read as a draft (bad
	// front matter, an unknown aspect, …): the draft keeps its last good
	// content, the file is left as the user wrote it.
	FileError string     `json:"file_error,omitempty"`
	CreatedAt apiv1.Time `json:"created_at"`
	UpdatedAt apiv1.Time `json:"updated_at"`
	// Revision names the set of live versions; it is the ETag, and a write
	// with If-Match must name the current one.
	Revision string `json:"revision"`
	// Conflicts are the other live versions (concurrent edits on other
	// devices), newest first; empty when the draft has one version.
	Conflicts []DraftConflict `json:"conflicts"`
}

// DraftConflict is a concurrent version of a draft.
type DraftConflict struct {
	// Device is the start of the writing device's key, in hex.
	Device    string     `json:"device"`
	Body      string     `json:"body"`
	UpdatedAt apiv1.Time `json:"updated_at"`
}

// MarshalJSON sends the lists as [] when empty.
func (d Draft) MarshalJSON() ([]byte, error) {
	type draft Draft
	e := draft(d)
	if e.Aspects == nil {
		e.Aspects = []int64{}
	}
	if e.Photos == nil {
		e.Photos = []string{}
	}
	if e.Conflicts == nil {
		e.Conflicts = []DraftConflict{}
	}
	return json.Marshal(e)
}

// draftDeviceHex is how much of a device key a conflict shows: enough to
// tell devices apart, short enough to read.
const draftDeviceHex = 12

// draftIDRE matches the ids NewDraftID makes: 26 characters of Crockford
// base32 (48 bits of time, 80 random bits), as ULIDs are written.
var draftIDRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

// ValidDraftID reports whether id has the form of a draft id. Others are
// never found.
func ValidDraftID(id string) bool { return draftIDRE.MatchString(id) }

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newDraftID makes a ULID-like id: the time in ms (10 characters) then 80
// random bits (16 characters), so ids sort by creation time.
func newDraftID(now time.Time) string {
	var b [16]byte
	ms := uint64(max(now.UnixMilli(), 0))
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	rand.Read(b[6:])
	// 128 bits as 26 base32 digits: the number 00‖b (130 bits) five bits
	// at a time, most significant first, as ULIDs are written.
	var out [26]byte
	bit := -2
	for i := range out {
		var v byte
		for range 5 {
			v <<= 1
			if bit >= 0 {
				v |= (b[bit/8] >> (7 - bit%8)) & 1
			}
			bit++
		}
		out[i] = crockford[v]
	}
	return string(out[:])
}

// Draft reads one draft.
func (p *Pod) Draft(ctx context.Context, id string) (Draft, error) {
	if !ValidDraftID(id) {
		return Draft{}, draftNotFound(id)
	}
	row, ok, err := store.Draft(ctx, p.db.R, id)
	if err != nil {
		return Draft{}, err
	}
	if !ok {
		return Draft{}, draftNotFound(id)
	}
	return p.withFile(presentDraft(row)), nil
}

// DraftPage is a page of the drafts list: newest updated first.
type DraftPage struct {
	Drafts []Draft
	// Next is the cursor of the following page; "" on the last page.
	Next string
}

// Drafts lists drafts newest updated first, perPage of them after cursor
// ("" from the start; otherwise a DraftPage.Next). A damaged cursor is
// ErrInvalid.
func (p *Pod) Drafts(ctx context.Context, cursor string, perPage int) (DraftPage, error) {
	var bound *store.DraftBound
	if cursor != "" {
		c, err := apiv1.ParseCursor(cursor)
		if err != nil {
			return DraftPage{}, fmt.Errorf("%w: cursor: the drafts list cannot continue from it; start again without one", ErrInvalid)
		}
		bound = &store.DraftBound{UpdatedAt: c.Time.UnixMilli(), ID: c.GUID}
	}
	rows, err := store.Drafts(ctx, p.db.R, bound, perPage+1)
	if err != nil {
		return DraftPage{}, err
	}
	var page DraftPage
	if len(rows) > perPage {
		rows = rows[:perPage]
		last := rows[len(rows)-1]
		page.Next = apiv1.Cursor{Time: time.UnixMilli(last.UpdatedAt()).UTC(), GUID: last.ID}.Encode()
	}
	page.Drafts = make([]Draft, len(rows))
	for i, r := range rows {
		page.Drafts[i] = p.withFile(presentDraft(r))
	}
	return page, nil
}

// CreateDraft stores a new draft.
func (p *Pod) CreateDraft(ctx context.Context, in DraftContent) (Draft, error) {
	var out Draft
	err := p.log.Write(ctx, func(w *store.Writer) error {
		value, err := checkDraft(w, in)
		if err != nil {
			return err
		}
		id := newDraftID(w.Now())
		if _, err := w.Append(oplog.DraftWrite{Register: store.DraftRegister(id), Value: value}); err != nil {
			return err
		}
		out, err = readDraft(w, id)
		return err
	})
	return p.withFile(out), err
}

// UpdateDraft applies a JSON merge patch (RFC 7396) to the draft's newest
// version. ifMatch holds the revisions the client accepts (the If-Match
// header: "*" is any); nil means the header was absent. A draft with
// concurrent versions can only be written with If-Match naming its
// current revision: the write then supersedes every version the client
// saw, which resolves the conflict. A stale revision is ErrDraftStale.
func (p *Pod) UpdateDraft(ctx context.Context, id string, patch []byte, ifMatch []string) (Draft, error) {
	if !ValidDraftID(id) {
		return Draft{}, draftNotFound(id)
	}
	var out Draft
	err := p.log.Write(ctx, func(w *store.Writer) error {
		row, preds, err := draftForWrite(w, id, ifMatch)
		if err != nil {
			return err
		}
		base := row.Versions[0].Value
		merged, err := mergePatch([]byte(base), patch)
		if err != nil {
			return err
		}
		var in DraftContent
		if err := decodeDraft(merged, &in); err != nil {
			return err
		}
		value, err := checkDraft(w, in)
		if err != nil {
			return err
		}
		if _, err := w.Append(oplog.DraftWrite{Register: store.DraftRegister(id), Value: value, Pred: preds}); err != nil {
			return err
		}
		out, err = readDraft(w, id)
		return err
	})
	return p.withFile(out), err
}

// DeleteDraft deletes a draft: a delete that supersedes the versions it
// saw. An edit made concurrently on another device survives it. ifMatch as
// in UpdateDraft, except that a draft in conflict may be deleted without
// it.
func (p *Pod) DeleteDraft(ctx context.Context, id string, ifMatch []string) error {
	if !ValidDraftID(id) {
		return draftNotFound(id)
	}
	return p.log.Write(ctx, func(w *store.Writer) error {
		_, preds, err := draftRevisionCheck(w, id, ifMatch)
		if err != nil {
			return err
		}
		_, err = w.Append(oplog.DraftWrite{Register: store.DraftRegister(id), Deleted: true, Pred: preds})
		return err
	})
}

// draftForWrite reads a draft for a change: it must exist, match ifMatch,
// and have one version unless ifMatch names its revision. preds are the
// live versions (deleted ones included) the write supersedes.
func draftForWrite(w *store.Writer, id string, ifMatch []string) (store.DraftRow, []oplog.OpRef, error) {
	row, preds, err := draftRevisionCheck(w, id, ifMatch)
	if err != nil {
		return row, nil, err
	}
	if len(row.Versions) > 1 && (ifMatch == nil || slices.Contains(ifMatch, "*")) {
		return row, nil, fmt.Errorf("%w: draft %s has %d concurrent versions (edited on several devices); "+
			"send the text to keep with If-Match: %q to resolve them", ErrConflict, id, len(row.Versions), row.Revision())
	}
	return row, preds, nil
}

func draftRevisionCheck(w *store.Writer, id string, ifMatch []string) (store.DraftRow, []oplog.OpRef, error) {
	row, ok, err := store.Draft(w.Ctx(), w, id)
	if err != nil {
		return row, nil, err
	}
	if !ok {
		return row, nil, draftNotFound(id)
	}
	if ifMatch != nil && !slices.Contains(ifMatch, "*") && !slices.Contains(ifMatch, row.Revision()) {
		return row, nil, fmt.Errorf("%w: draft %s is at revision %s now (changed since you read it); reload it", ErrDraftStale, id, row.Revision())
	}
	versions, err := store.RegisterVersions(w.Ctx(), w, store.DraftRegister(id))
	if err != nil {
		return row, nil, err
	}
	return row, store.Preds(versions), nil
}

func draftNotFound(id string) error {
	return fmt.Errorf("%w: no draft %q", ErrNotFound, clipText(id, 40))
}

func readDraft(w *store.Writer, id string) (Draft, error) {
	row, ok, err := store.Draft(w.Ctx(), w, id)
	if err != nil {
		return Draft{}, err
	}
	if !ok {
		return Draft{}, draftNotFound(id)
	}
	return presentDraft(row), nil
}

// presentDraft shows a draft's newest version with the others as
// conflicts. A version whose value does not decode (written by a newer
// Seedpod, say) shows its raw value as the body rather than failing.
func presentDraft(row store.DraftRow) Draft {
	d := Draft{ID: row.ID, CreatedAt: msTime(row.CreatedAt), UpdatedAt: msTime(row.UpdatedAt()), Revision: row.Revision()}
	for i, v := range row.Versions {
		var c DraftContent
		if err := json.Unmarshal([]byte(v.Value), &c); err != nil {
			c = DraftContent{Body: v.Value}
		}
		if i == 0 {
			d.DraftContent = c
			continue
		}
		dev := v.Device()
		if len(dev) > draftDeviceHex {
			dev = dev[:draftDeviceHex]
		}
		d.Conflicts = append(d.Conflicts, DraftConflict{Device: dev, Body: c.Body, UpdatedAt: msTime(v.UpdatedAt)})
	}
	return d
}

func msTime(ms int64) apiv1.Time { return apiv1.NewTime(time.UnixMilli(ms).UTC()) }

// DecodeDraft reads a draft's JSON (a POST body): one JSON object of valid
// UTF-8 whose keys have the right types. Unknown keys are ignored.
func DecodeDraft(b []byte) (DraftContent, error) {
	var c DraftContent
	err := decodeDraft(b, &c)
	return c, err
}

func decodeDraft(b []byte, c *DraftContent) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: the draft is not valid UTF-8", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%w: the draft is not a valid JSON draft: %v", ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: the body has data after the JSON object", ErrInvalid)
	}
	return nil
}

// checkDraft validates a draft inside a write and returns its canonical
// JSON: the text passes markup.Check, aspects exist (duplicates dropped),
// photos are guids, the poll and location are well formed.
func checkDraft(w *store.Writer, in DraftContent) (string, error) {
	if err := markup.Check(in.Body); err != nil {
		return "", fmt.Errorf("%w: draft body: %w", ErrInvalid, err)
	}
	var aspects []int64
	for _, a := range in.Aspects {
		if slices.Contains(aspects, a) {
			continue
		}
		var n int
		if err := w.QueryRowContext(w.Ctx(), "SELECT count(*) FROM aspects WHERE id = ?", a).Scan(&n); err != nil {
			return "", fmt.Errorf("read aspect %d: %w", a, err)
		}
		if n == 0 {
			return "", fmt.Errorf("%w: there is no aspect %d", ErrInvalid, a)
		}
		aspects = append(aspects, a)
	}
	in.Aspects = aspects
	if len(in.Photos) > maxDraftPhotos {
		return "", fmt.Errorf("%w: a draft holds at most %d photos", ErrInvalid, maxDraftPhotos)
	}
	for _, g := range in.Photos {
		if !validGUIDText(g) {
			return "", fmt.Errorf("%w: photo %q is not a photo guid", ErrInvalid, clipText(g, 40))
		}
	}
	if in.Poll != nil {
		if err := checkText("poll question", in.Poll.Question, maxDraftShortText); err != nil {
			return "", err
		}
		if len(in.Poll.Answers) > maxDraftPollAnswers {
			return "", fmt.Errorf("%w: a poll has at most %d answers", ErrInvalid, maxDraftPollAnswers)
		}
		for _, a := range in.Poll.Answers {
			if err := checkText("poll answer", a, maxDraftShortText); err != nil {
				return "", err
			}
		}
	}
	if l := in.Location; l != nil {
		if err := checkText("location address", l.Address, maxDraftShortText); err != nil {
			return "", err
		}
		if math.IsNaN(l.Lat) || l.Lat < -90 || l.Lat > 90 || math.IsNaN(l.Lng) || l.Lng < -180 || l.Lng > 180 {
			return "", fmt.Errorf("%w: location %v, %v is not a latitude and longitude", ErrInvalid, l.Lat, l.Lng)
		}
	}
	tags, err := checkDraftTags(in.Tags)
	if err != nil {
		return "", err
	}
	in.Tags = tags
	if err := checkText("content warning", in.ContentWarning, maxDraftShortText); err != nil {
		return "", err
	}
	if strings.ContainsAny(in.ContentWarning, "\r\n") {
		return "", fmt.Errorf("%w: a content warning is one line", ErrInvalid)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("%w: draft: %v", ErrInvalid, err)
	}
	return string(b), nil
}

// checkDraftTags checks a draft's tags: each one a hashtag as diaspora*
// reads it ("#" and the tag make exactly that tag), at most maxDraftTags,
// duplicates (any case) dropped.
func checkDraftTags(in []string) ([]string, error) {
	if len(in) > maxDraftTags {
		return nil, fmt.Errorf("%w: a draft has at most %d tags", ErrInvalid, maxDraftTags)
	}
	var out []string
	for _, t := range in {
		t = strings.TrimPrefix(strings.TrimSpace(t), "#")
		if len(t) > markup.MaxTagLength {
			return nil, fmt.Errorf("%w: tag %q is longer than %d bytes", ErrInvalid, clipText(t, 40), markup.MaxTagLength)
		}
		if got := markup.Tags("#" + t); len(got) != 1 || got[0] != strings.ToLower(t) {
			return nil, fmt.Errorf("%w: %q is not a hashtag (letters, digits, - and _)", ErrInvalid, clipText(t, 40))
		}
		if !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, t) }) {
			out = append(out, t)
		}
	}
	return out, nil
}

// validGUIDText accepts diaspora guids: 1–255 of [0-9A-Za-z_-@.:].
func validGUIDText(g string) bool {
	if g == "" || len(g) > 255 {
		return false
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("_-@.:", c) >= 0) {
			return false
		}
	}
	return true
}

// clipText shortens s for an error message.
func clipText(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "?")
	}
	return strings.ToValidUTF8(s[:n], "?") + "…"
}

// mergePatch applies an RFC 7396 JSON merge patch to the JSON object doc.
func mergePatch(doc, patch []byte) ([]byte, error) {
	if !utf8.Valid(patch) {
		return nil, fmt.Errorf("%w: the patch is not valid UTF-8", ErrInvalid)
	}
	var p any
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: the patch is not valid JSON: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: the patch has data after the JSON object", ErrInvalid)
	}
	if _, ok := p.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: a merge patch of a draft is a JSON object", ErrInvalid)
	}
	var d any
	dec = json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		d = map[string]any{} // an undecodable stored version: start afresh
	}
	return json.Marshal(applyMerge(d, p))
}

func applyMerge(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = applyMerge(tm[k], v)
	}
	return tm
}

// PublishDraft publishes a draft as a post and deletes the draft, in one
// write: the post's Publish and the draft's delete (superseding exactly
// the version read) commit together or not at all, so a second publish of
// the same draft finds nothing and cannot post twice, and a refused post
// leaves the draft as it was. ifMatch as in UpdateDraft; a draft with
// concurrent versions must be resolved first (ErrConflict).
//
// With a drafts folder, the draft's file is read first (a save a moment
// ago counts; a file with an error stops the publish, ErrInvalid), and
// after the publish the file moves to Published/.
func (p *Pod) PublishDraft(ctx context.Context, id string, ifMatch []string) (apiv1.Post, error) {
	if !ValidDraftID(id) {
		return apiv1.Post{}, draftNotFound(id)
	}
	if err := p.draftsBeforePublish(ctx, id); err != nil {
		return apiv1.Post{}, err
	}
	guid, err := p.publishDraft(ctx, id, ifMatch)
	if err != nil {
		return apiv1.Post{}, err
	}
	p.draftsAfterPublish(ctx, id)
	post, err := p.Post(ctx, guid)
	if err != nil {
		return apiv1.Post{}, err
	}
	if post.Seedpod == nil {
		post.Seedpod = &apiv1.PostExtension{}
	}
	post.Seedpod.DraftID = id
	return post, nil
}

// publishDraft is PublishDraft's write; it returns the post's guid. The
// draft's delete is appended right after the post's Publish, so in this
// device's log the delete's sequence number is the Publish's plus one:
// that pair is how every device tells a published draft from a deleted
// one (draftPublishedAs).
func (p *Pod) publishDraft(ctx context.Context, id string, ifMatch []string) (string, error) {
	var guid string
	err := p.log.Write(ctx, func(w *store.Writer) error {
		row, preds, err := draftForWrite(w, id, ifMatch)
		if err != nil {
			return err
		}
		if len(row.Versions) > 1 {
			return fmt.Errorf("%w: draft %s has %d concurrent versions (edited on several devices); "+
				"keep one (PATCH with If-Match: %q) before publishing", ErrConflict, id, len(row.Versions), row.Revision())
		}
		var content DraftContent
		if err := decodeDraft([]byte(row.Versions[0].Value), &content); err != nil {
			return err
		}
		in, err := draftPostInput(content)
		if err != nil {
			return err
		}
		if guid, err = PublishPostIn(w, in); err != nil {
			return err
		}
		_, err = w.Append(oplog.DraftWrite{Register: store.DraftRegister(id), Deleted: true, Pred: preds})
		return err
	})
	return guid, err
}

// draftPostInput is the post a draft makes: the content warning as a
// first line, the body, the tags the body lacks as a last line of
// hashtags, nsfw as #nsfw (PostInput.NSFW).
func draftPostInput(content DraftContent) (PostInput, error) {
	if !content.Public && len(content.Aspects) == 0 {
		return PostInput{}, fmt.Errorf("%w: the draft is limited (public: false) but names no aspects to post to", ErrInvalid)
	}
	if strings.TrimSpace(content.Body) == "" && len(content.Photos) == 0 {
		return PostInput{}, fmt.Errorf("%w: the draft is empty: a post needs a body or photos", ErrInvalid)
	}
	text := content.Body
	if cw := strings.TrimSpace(content.ContentWarning); cw != "" {
		text = "CW: " + cw + "\n\n" + text
	}
	have := markup.Tags(text)
	var missing []string
	for _, t := range content.Tags {
		if !slices.Contains(have, strings.ToLower(t)) {
			missing = append(missing, "#"+t)
		}
	}
	if len(missing) > 0 {
		if strings.TrimSpace(text) == "" {
			text = strings.Join(missing, " ")
		} else {
			text = strings.TrimRight(text, " \t\r\n") + "\n\n" + strings.Join(missing, " ")
		}
	}
	public := apiv1.Bool(content.Public)
	in := PostInput{Body: text, Public: &public, Aspects: AspectIDList(content.Aspects), Photos: content.Photos,
		NSFW: apiv1.Bool(content.NSFW)}
	if c := content.Poll; c != nil {
		in.Poll = &PollInput{Question: c.Question, Answers: c.Answers}
	}
	if l := content.Location; l != nil {
		lat, lng := Coordinate(l.Lat), Coordinate(l.Lng)
		in.Location = &LocationInput{Address: l.Address, Lat: &lat, Lng: &lng}
	}
	return in, nil
}
