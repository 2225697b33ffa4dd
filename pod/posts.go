package pod

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/markup"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Posts: create (POST /api/v1/posts), read, edit (Seedpod's extension,
// with versions) and delete. A post is a Publish of kind "post" whose body
// docs/data-model.md gives; an edit is a Publish of kind "edit" under it;
// a delete is a Retract.

// Limits of post input (diaspora*: poll question and answers are strings
// of at most 255 characters; it sets no answer count, so ours is a
// generous one).
const (
	maxPollText    = 255
	maxPollAnswers = 20
	maxAddress     = 255
)

// AspectIDList is a list of integer ids in a JSON body, as numbers or numeric
// strings (clients built on form parameters send "1").
type AspectIDList []int64

// UnmarshalJSON implements json.Unmarshaler.
func (l *AspectIDList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("want a list of ids: %w", err)
	}
	out := make(AspectIDList, 0, len(raw))
	for _, r := range raw {
		s := string(r)
		if len(r) > 0 && r[0] == '"' {
			if err := json.Unmarshal(r, &s); err != nil {
				return err
			}
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("id %.20s is not an integer", s)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// Coordinate is a latitude or longitude, as a JSON number or numeric
// string.
type Coordinate float64

// UnmarshalJSON implements json.Unmarshaler.
func (c *Coordinate) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%.30s is not a number", s)
	}
	*c = Coordinate(f)
	return nil
}

// PostInput is a new post: the body of POST /api/v1/posts (API.md §3.1),
// plus Seedpod's nsfw flag.
type PostInput struct {
	Body string `json:"body"`
	// Public is required.
	Public *apiv1.Bool `json:"public"`
	// Aspects are the ids of my aspects a limited post goes to; required
	// and non-empty when Public is false.
	Aspects AspectIDList `json:"aspects"`
	// Photos are guids of my pending photos.
	Photos   []string       `json:"photos"`
	Poll     *PollInput     `json:"poll"`
	Location *LocationInput `json:"location"`
	// NSFW marks the post not safe for work: diaspora* knows that by the
	// #nsfw tag, which is added to the text when missing.
	NSFW apiv1.Bool `json:"nsfw"`
	// CreatedAt (ms) backdates the post (a draft published with
	// keep_created_at); 0 is now. Not settable through the v1 body.
	CreatedAt int64 `json:"-"`
}

// PollInput is a new post's poll.
type PollInput struct {
	Question string   `json:"question"`
	Answers  []string `json:"poll_answers"`
}

// LocationInput is a post's location.
type LocationInput struct {
	Address string      `json:"address"`
	Lat     *Coordinate `json:"lat"`
	Lng     *Coordinate `json:"lng"`
}

func errPostNotFound(guid string) error {
	return fmt.Errorf("%w: post with guid %.64q could not be found", ErrNotFound, guid)
}

// checkPostBody refuses text markup.Check refuses, as ErrInvalid.
func checkPostBody(s string) error {
	if err := markup.Check(s); err != nil {
		msg := "is not acceptable text"
		switch {
		case errors.Is(err, markup.ErrTooLong):
			msg = fmt.Sprintf("is longer than %d characters", markup.MaxLength)
		case errors.Is(err, markup.ErrInvalidText):
			msg = "holds invalid UTF-8 or control characters"
		}
		return fmt.Errorf("%w: the body %s (%v)", ErrInvalid, msg, err)
	}
	return nil
}

func (l *LocationInput) check() (*store.PostLocation, error) {
	if l == nil {
		return nil, nil
	}
	if err := checkText("location address", l.Address, maxAddress); err != nil {
		return nil, err
	}
	if l.Lat == nil || l.Lng == nil {
		return nil, fmt.Errorf("%w: a location needs lat and lng", ErrInvalid)
	}
	lat, lng := float64(*l.Lat), float64(*l.Lng)
	if lat < -90 || lat > 90 {
		return nil, fmt.Errorf("%w: latitude %v is not between -90 and 90", ErrInvalid, lat)
	}
	if lng < -180 || lng > 180 {
		return nil, fmt.Errorf("%w: longitude %v is not between -180 and 180", ErrInvalid, lng)
	}
	return &store.PostLocation{Address: strings.TrimSpace(l.Address), Lat: lat, Lng: lng}, nil
}

func (pi *PollInput) check() (*store.PostPoll, error) {
	if pi == nil {
		return nil, nil
	}
	q := strings.TrimSpace(pi.Question)
	if q == "" {
		return nil, fmt.Errorf("%w: the poll needs a question", ErrInvalid)
	}
	if err := checkText("poll question", q, maxPollText); err != nil {
		return nil, err
	}
	if len(pi.Answers) < 2 {
		return nil, fmt.Errorf("%w: a poll needs at least two answers", ErrInvalid)
	}
	if len(pi.Answers) > maxPollAnswers {
		return nil, fmt.Errorf("%w: a poll has at most %d answers", ErrInvalid, maxPollAnswers)
	}
	poll := &store.PostPoll{GUID: newGUID(), Question: q}
	for i, a := range pi.Answers {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, fmt.Errorf("%w: poll answer %d is blank", ErrInvalid, i+1)
		}
		if err := checkText(fmt.Sprintf("poll answer %d", i+1), a, maxPollText); err != nil {
			return nil, err
		}
		poll.Answers = append(poll.Answers, store.PostPollAnswer{ID: int64(i + 1), Answer: a, GUID: newGUID()})
	}
	return poll, nil
}

// CreatePost publishes a new status message. Recipients of a limited post
// are the members of its aspects now; later members do not see it.
func (p *Pod) CreatePost(ctx context.Context, in PostInput) (apiv1.Post, error) {
	var guid string
	err := p.log.Write(ctx, func(w *store.Writer) error {
		var err error
		guid, err = PublishPostIn(w, in)
		return err
	})
	if err != nil {
		return apiv1.Post{}, err
	}
	return p.Post(ctx, guid)
}

// PublishPostIn checks a new post and appends its Publish inside the
// caller's write, so a use case can publish and do more in one
// transaction (publishing a draft removes it). It returns the post's guid;
// p.Post presents it after the commit. Any refusal is ErrInvalid (or
// ErrNoIdentity) and appends nothing.
func PublishPostIn(w *store.Writer, in PostInput) (string, error) {
	if in.Public == nil {
		return "", fmt.Errorf("%w: public is required (true, or false with aspects)", ErrInvalid)
	}
	public := bool(*in.Public)
	text := in.Body
	if err := checkPostBody(text); err != nil {
		return "", err
	}
	var photos []string
	for _, g := range in.Photos {
		if !slices.Contains(photos, g) {
			photos = append(photos, g)
		}
	}
	if strings.TrimSpace(text) == "" && len(photos) == 0 {
		return "", fmt.Errorf("%w: a post needs a body or photos", ErrInvalid)
	}
	poll, err := in.Poll.check()
	if err != nil {
		return "", err
	}
	loc, err := in.Location.check()
	if err != nil {
		return "", err
	}
	if bool(in.NSFW) && !slices.Contains(markup.Tags(text), "nsfw") {
		if strings.TrimSpace(text) == "" {
			text = "#nsfw"
		} else {
			text += "\n\n#nsfw"
		}
		if err := checkPostBody(text); err != nil {
			return "", err
		}
	}
	var aspects []int64
	if !public {
		for _, id := range in.Aspects {
			if !slices.Contains(aspects, id) {
				aspects = append(aspects, id)
			}
		}
		slices.Sort(aspects)
		if len(aspects) == 0 {
			return "", fmt.Errorf("%w: a limited post (public: false) needs aspects", ErrInvalid)
		}
	}
	ctx := w.Ctx()
	me, err := w.Me()
	if err != nil {
		return "", err
	}
	if !me.Exists() {
		return "", fmt.Errorf("%w: create the identity before posting", ErrNoIdentity)
	}
	for _, id := range aspects {
		if _, ok, err := store.AspectByID(ctx, w, id); err != nil {
			return "", err
		} else if !ok {
			return "", fmt.Errorf("%w: aspect %d is not one of yours", ErrInvalid, id)
		}
	}
	var recipients []string
	if !public {
		if recipients, err = store.AspectMembers(ctx, w, aspects); err != nil {
			return "", err
		}
	}
	for _, g := range photos {
		ph, ok, err := store.PhotoByGUID(ctx, w, g)
		if err != nil {
			return "", err
		}
		if !ok || !ph.Own || !ph.Pending || ph.PostGUID != "" {
			return "", fmt.Errorf("%w: photo %.64q is not one of your pending photos", ErrInvalid, g)
		}
	}
	body, err := json.Marshal(store.PostBody{Text: text, Public: public, AspectIDs: postsIDs(aspects),
		Photos: postsStrings(photos), Poll: poll, Location: loc})
	if err != nil {
		return "", err
	}
	created := w.Now().UnixMilli()
	if in.CreatedAt > 0 {
		created = in.CreatedAt
	}
	guid := newGUID()
	if _, err := w.Append(oplog.Publish{GUID: guid, Kind: store.KindPost, CreatedAt: created, Body: body,
		Recipients: recipients}); err != nil {
		return "", err
	}
	return guid, nil
}

func postsIDs(v []int64) []int64 {
	if v == nil {
		return []int64{}
	}
	return v
}

func postsStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// PostEdit is PATCH /api/seedpod/v1/posts/:guid: what changes. An absent
// key keeps the value; "location": null removes the location.
type PostEdit struct {
	Body     *string         `json:"body"`
	Location json.RawMessage `json:"location"`
	// IfMatch is the request's If-Match header: the ETag of the version
	// the edit is based on ("" or "*": any).
	IfMatch string `json:"-"`
}

// PostETag is the ETag of a post's current version.
func PostETag(post apiv1.Post) string {
	at := post.CreatedAt
	if post.Seedpod != nil && post.Seedpod.EditedAt != nil {
		at = *post.Seedpod.EditedAt
	}
	return `"` + post.GUID + "-" + strconv.FormatInt(at.UnixMilli(), 10) + `"`
}

// ErrStale is returned by EditPost when If-Match names an older version.
var ErrStale = errors.New("stale version")

// EditPost changes the text or location of one of my status messages,
// keeping every version: a Publish of kind "edit" whose CreatedAt is the
// edit time.
func (p *Pod) EditPost(ctx context.Context, guid string, in PostEdit) (apiv1.Post, error) {
	if in.Body != nil {
		if err := checkPostBody(*in.Body); err != nil {
			return apiv1.Post{}, err
		}
	}
	var newLoc *store.PostLocation
	locGiven := len(in.Location) > 0
	if locGiven && string(bytes.TrimSpace(in.Location)) != "null" {
		var li LocationInput
		if err := json.Unmarshal(in.Location, &li); err != nil {
			return apiv1.Post{}, fmt.Errorf("%w: location: %v", ErrInvalid, err)
		}
		loc, err := li.check()
		if err != nil {
			return apiv1.Post{}, err
		}
		newLoc = loc
	}
	err := p.log.Write(ctx, func(w *store.Writer) error {
		row, ok, err := store.PostByGUID(w.Ctx(), w, guid)
		if err != nil {
			return err
		}
		if !ok {
			return errPostNotFound(guid)
		}
		if !row.Own || row.PostType != store.PostTypeStatusMessage {
			return fmt.Errorf("%w: only your own status messages can be edited", ErrForbidden)
		}
		if in.IfMatch != "" && in.IfMatch != "*" {
			at := row.CreatedAt
			if row.EditedAt > 0 {
				at = row.EditedAt
			}
			if in.IfMatch != `"`+guid+"-"+strconv.FormatInt(at, 10)+`"` {
				return fmt.Errorf("%w: the post changed since you read it; reload it and edit again", ErrStale)
			}
		}
		text, loc := row.Text, row.Location
		if in.Body != nil {
			text = *in.Body
		}
		if locGiven {
			loc = newLoc
		}
		if strings.TrimSpace(text) == "" && len(row.Photos) == 0 {
			return fmt.Errorf("%w: a post needs a body or photos", ErrInvalid)
		}
		if text == row.Text && samePostLocation(loc, row.Location) {
			return nil // nothing changes: no new version
		}
		at := max(w.Now().UnixMilli(), max(row.CreatedAt, row.EditedAt)+1)
		body, err := json.Marshal(store.PostEditBody{Text: text, Location: loc})
		if err != nil {
			return err
		}
		_, err = w.Append(oplog.Publish{GUID: newGUID(), Kind: store.KindEdit, Parent: guid, CreatedAt: at, Body: body,
			Recipients: row.Recipients})
		return err
	})
	if err != nil {
		return apiv1.Post{}, err
	}
	return p.Post(ctx, guid)
}

func samePostLocation(a, b *store.PostLocation) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// PostVersion is one version of a post (GET …/posts/:guid/versions).
type PostVersion struct {
	Body     string     `json:"body"`
	EditedAt apiv1.Time `json:"edited_at"`
	// Device is the hex public key of the device that wrote it; "" for a
	// received post.
	Device string `json:"device"`
}

// PostVersions lists a post's versions, oldest first, the original
// included.
func (p *Pod) PostVersions(ctx context.Context, guid string) ([]PostVersion, error) {
	if _, ok, err := store.PostByGUID(ctx, p.db.R, guid); err != nil {
		return nil, err
	} else if !ok {
		return nil, errPostNotFound(guid)
	}
	vs, err := store.PostVersions(ctx, p.db.R, guid)
	if err != nil {
		return nil, err
	}
	out := make([]PostVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, PostVersion{Body: v.Text, EditedAt: apiv1.NewTime(postsTime(v.EditedAt)),
			Device: hex.EncodeToString(v.Device)})
	}
	return out, nil
}

// DeletePost retracts one of my posts (or reshares) and the photos
// attached to it, as diaspora* deletes a post's photos with it.
func (p *Pod) DeletePost(ctx context.Context, guid string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		row, ok, err := store.PostByGUID(w.Ctx(), w, guid)
		if err != nil {
			return err
		}
		if !ok {
			return errPostNotFound(guid)
		}
		if !row.Own {
			return fmt.Errorf("%w: only your own posts can be deleted", ErrForbidden)
		}
		photos, err := store.PostAttachedPhotos(w.Ctx(), w, guid)
		if err != nil {
			return err
		}
		for _, g := range append([]string{guid}, photos...) {
			if _, err := w.Append(oplog.Retract{GUID: g}); err != nil {
				return err
			}
		}
		return nil
	})
}

func postsTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// postsTimeBound turns a v1 time page into the store's bound.
func postsTimeBound(pg apiv1.TimePage) store.TimeBound {
	return store.TimeBound{Desc: pg.Descending, Time: pg.Time.UnixMilli(), GUID: pg.GUID, Limit: pg.PerPage}
}

// postsAuthor maps a person guid to the store's author selector: own
// for "" or my guid, else the person's handle; ErrNotFound when the pod
// does not know them.
func (p *Pod) postsAuthor(ctx context.Context, personGUID string) (own bool, handle string, err error) {
	me, err := p.db.Me(ctx)
	if err != nil {
		return false, "", err
	}
	if personGUID == "" || personGUID == me.GUID {
		return true, "", nil
	}
	pe, ok, err := store.PersonByGUID(ctx, p.db.R, personGUID)
	if err != nil {
		return false, "", err
	}
	if !ok {
		return false, "", fmt.Errorf("%w: no person with guid %.64q", ErrNotFound, personGUID)
	}
	return false, pe.Handle, nil
}
