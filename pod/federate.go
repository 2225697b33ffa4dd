package pod

import (
	"context"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"seedpod/pod/diaspora"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/id"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/federation"
	"seedpod/pod/federation/discover"
	"seedpod/pod/httpclient"
	"seedpod/pod/oplog"
	"seedpod/pod/relay/public"
	"seedpod/pod/relayclient"
	"seedpod/pod/store"
)

// The pod's side of federation: package federation runs the network part
// and asks the pod (fedHost, the federation.Host) what it needs. This file
// answers from the database and turns own changes into diaspora* entities.

// RelayURLKey is the setting holding the relay's origin once enrolled.
const RelayURLKey = "settings/relay_url"

// Federation is the pod's federation engine (nil when Config.Federation
// is nil, e.g. in tests of the offline pod).
func (p *Pod) Federation() *federation.Engine { return p.fed }

// fedHost implements federation.Host.
type fedHost struct{ p *Pod }

var _ federation.Host = fedHost{}

func (h fedHost) Changed() <-chan struct{} { return h.p.changed }

// cachedKey reads the identity key once (it never changes once written).
func (p *Pod) cachedKey(ctx context.Context) (*rsa.PrivateKey, error) {
	p.mu.Lock()
	k := p.key
	p.mu.Unlock()
	if k != nil {
		return k, nil
	}
	k, err := p.IdentityKey(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.key = k
	p.mu.Unlock()
	return k, nil
}

func (h fedHost) Self(ctx context.Context) (federation.Self, error) {
	p := h.p
	me, err := p.db.Me(ctx)
	if err != nil {
		return federation.Self{}, err
	}
	if !me.Exists() {
		return federation.Self{}, federation.ErrNoIdentity
	}
	k, err := p.cachedKey(ctx)
	if errors.Is(err, ErrNoIdentity) {
		return federation.Self{}, federation.ErrNoIdentity
	}
	if err != nil {
		return federation.Self{}, err
	}
	relayURL, err := store.Field(ctx, p.db.R, RelayURLKey)
	if err != nil {
		return federation.Self{}, err
	}
	prof, err := h.relayProfile(ctx, false)
	if err != nil {
		return federation.Self{}, err
	}
	former, err := p.formerRelays(ctx, me.Handle())
	if err != nil {
		return federation.Self{}, err
	}
	devices, err := p.trustedDeviceList(ctx)
	if err != nil {
		return federation.Self{}, err
	}
	return federation.Self{GUID: me.GUID, Handle: me.Handle(), Username: me.Username, Key: k, RelayURL: relayURL, Profile: prof,
		Former: former, Device: hex.EncodeToString(p.ThisDevice()), Devices: devices}, nil
}

// relayProfile is the public profile the relay shows (hCard, WebFinger).
// Avatar URLs only with withAvatar (they read the media store).
func (h fedHost) relayProfile(ctx context.Context, withAvatar bool) (public.Profile, error) {
	q := h.p.db.R
	var pr public.Profile
	var err error
	get := func(k string) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = store.Field(ctx, q, k)
		return v
	}
	pr.FirstName, pr.LastName = get("profile/first_name"), get("profile/last_name")
	pr.Searchable = get("profile/searchable") != "false"
	pr.Public = get("profile/public_details") == "true"
	if err != nil || !withAvatar {
		return pr, err
	}
	urls, _, err := h.ownAvatar(ctx)
	pr.PhotoLarge, pr.PhotoMedium, pr.PhotoSmall = urls[0], urls[1], urls[2]
	return pr, err
}

func (h fedHost) SetRelay(ctx context.Context, relayURL, domain string) error {
	return h.p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := w.Append(oplog.SetField{Key: "identity/domain", Value: domain}); err != nil {
			return err
		}
		_, err := w.Append(oplog.SetField{Key: RelayURLKey, Value: relayURL})
		return err
	})
}

func (h fedHost) Person(ctx context.Context, handle string) (federation.Person, bool, error) {
	sp, ok, err := store.PersonByHandle(ctx, h.p.db.R, strings.ToLower(handle))
	if err != nil || !ok || sp.PublicKey == "" {
		return federation.Person{}, false, err
	}
	k, err := keys.ParsePublic([]byte(sp.PublicKey))
	if err != nil {
		return federation.Person{}, false, nil // unusable: discover again
	}
	return federation.Person{GUID: sp.GUID, Handle: sp.Handle, Key: k}, true, nil
}

// AddPerson stores a discovered person unless the pod already knows that
// handle with another key: a key is pinned once known (only an account
// migration may change it).
func (h fedHost) AddPerson(ctx context.Context, rec store.PersonRecord) error {
	if sp, ok, err := store.PersonByHandle(ctx, h.p.db.R, strings.ToLower(rec.DiasporaID)); err != nil {
		return err
	} else if ok && sp.PublicKey != "" && strings.TrimSpace(sp.PublicKey) != strings.TrimSpace(rec.PublicKey) {
		return fmt.Errorf("person %s: discovery returned another key than the pinned one; kept the pinned key", rec.DiasporaID)
	}
	return h.p.AddPerson(ctx, rec)
}

func (h fedHost) Related(ctx context.Context, typ, guid string) (diaspora.Related, bool, error) {
	r, ok, err := store.RelatedByType(ctx, h.p.db.R, typ, guid)
	if err != nil || !ok {
		return diaspora.Related{}, false, err
	}
	me, err := h.p.db.Me(ctx)
	if err != nil {
		return diaspora.Related{}, false, err
	}
	who := func(own bool, author string) string {
		if own {
			return me.Handle()
		}
		return strings.ToLower(author)
	}
	out := diaspora.Related{Author: who(r.Own, r.Author), Public: r.Public, Local: r.PostOwn}
	switch typ {
	case "Comment", "Like", "PollParticipation":
		out.RootAuthor = who(r.PostOwn, r.PostAuthor)
	}
	return out, true, nil
}

func (h fedHost) RootPost(ctx context.Context, typ, guid string) (string, bool, error) {
	r, ok, err := store.RelatedByType(ctx, h.p.db.R, typ, guid)
	if err != nil || !ok || r.PostGUID == "" {
		return "", false, err
	}
	return r.PostGUID, true, nil
}

func (h fedHost) Receive(ctx context.Context, in []federation.Accepted) (int, error) {
	recs := make([]oplog.Received, 0, len(in))
	var moves []entity.Entity
	for _, a := range in {
		recs = append(recs, receivedOp(a.Entity, a.Payload, a.DeliveryKey))
		if _, ok := a.Entity.(*entity.AccountMigration); ok {
			moves = append(moves, a.Entity)
		}
	}
	n, err := h.p.appendReceivedAll(ctx, recs)
	if err != nil {
		return n, err
	}
	// Before the page is acknowledged: a crash in between receives the
	// page again, and followMoves does what is left.
	return n, h.p.followMoves(ctx, moves)
}

func (h fedHost) PostAudience(ctx context.Context, postGUID string) (bool, []federation.Recipient, error) {
	public, rs, err := h.p.outboxPostAudience(ctx, postGUID)
	if err != nil {
		return false, nil, err
	}
	resolved, err := h.p.outboxResolve(ctx, rs)
	if err != nil {
		return false, nil, err
	}
	return public, recipientsOf(resolved), nil
}

func recipientsOf(rs []OutboxRecipient) []federation.Recipient {
	out := make([]federation.Recipient, 0, len(rs))
	for _, r := range rs {
		out = append(out, federation.Recipient{GUID: r.PersonGUID, Handle: r.DiasporaID})
	}
	return out
}

func (h fedHost) MarkHanded(ctx context.Context, keys []string) error {
	return h.p.log.Write(ctx, func(w *store.Writer) error {
		for _, k := range keys {
			in, err := store.IsMember(ctx, w, store.HandedSet, k)
			if err != nil {
				return err
			}
			if in {
				continue
			}
			if _, err := w.Append(oplog.SetAdd{Set: store.HandedSet, Member: k}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Pending lists own changes not handed yet, oldest first: live publishes
// first, then retractions, profile and contact states.
func (h fedHost) Pending(ctx context.Context, n int) ([]federation.Outgoing, error) {
	p := h.p
	me, err := p.db.Me(ctx)
	if err != nil {
		return nil, err
	}
	k, err := p.cachedKey(ctx)
	if err != nil {
		return nil, err
	}
	own, err := store.UnhandedPublished(ctx, p.db.R, n)
	if err != nil {
		return nil, err
	}
	var out []federation.Outgoing
	var skip []string // nothing to send (e.g. a conversation's first message): recorded as handed
	participating := map[string]bool{}
	for _, e := range own {
		o, ok, err := h.outgoing(ctx, me, k, e)
		if err != nil {
			return nil, err
		}
		if !ok {
			skip = append(skip, e.GUID)
			continue
		}
		part, ok, err := h.participation(ctx, me, e, participating)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, part)
		}
		out = append(out, o)
	}
	if len(out) < n {
		// A move to another relay is announced before anything else
		// goes out under the new diaspora* ID.
		migs, err := h.migrations(ctx, me, k)
		if err != nil {
			return nil, err
		}
		out = append(migs, out...)
	}
	if len(out) < n {
		extra, err := p.outboxExtra(ctx)
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, e := range extra {
			keys = append(keys, extraKey(e))
		}
		handed, err := store.Handed(ctx, p.db.R, keys)
		if err != nil {
			return nil, err
		}
		for _, e := range extra {
			if len(out) >= n {
				break
			}
			key := extraKey(e)
			if handed[key] {
				continue
			}
			o, ok, err := h.extraOutgoing(ctx, me, e, key)
			if err != nil {
				return nil, err
			}
			if !ok {
				skip = append(skip, key)
				continue
			}
			out = append(out, o)
		}
	}
	if len(skip) > 0 {
		if err := h.MarkHanded(ctx, skip); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// extraKey is the handed key of a non-publish entry: its outbox guid and,
// for states that change (profile, contact), the time of the state.
func extraKey(e store.OwnEntity) string {
	if e.Kind == "retraction" {
		return e.GUID
	}
	return e.GUID + "@" + strconv.FormatInt(e.CreatedAt, 10)
}

func msUTC(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// outgoing builds the entity of an own publish and its audience.
func (h fedHost) outgoing(ctx context.Context, me store.Me, key *rsa.PrivateKey, e store.OwnEntity) (federation.Outgoing, bool, error) {
	p := h.p
	entry, err := p.outboxEntry(ctx, e)
	if err != nil {
		return federation.Outgoing{}, false, err
	}
	o := federation.Outgoing{Key: e.GUID, GUID: e.GUID, EntityType: entry.EntityType, Public: entry.Public,
		Recipients: recipientsOf(entry.Recipients)}
	handle := me.Handle()
	var ent entity.Entity
	switch e.Kind {
	case "post":
		var b store.PostBody
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return o, false, fmt.Errorf("own post %s: %w", e.GUID, err)
		}
		m := statusMessage(handle, e.GUID, e.CreatedAt, 0, b.Public, b.Text, b.Provider, b.Poll, b.Location)
		if m.Photos, o.Uploads, err = h.postPhotos(ctx, me, e.GUID, b.Public, b.Photos); err != nil {
			return o, false, err
		}
		ent = m
		if b.Public {
			o.PublishType, o.PublishGUID = "status_message", e.GUID
		}
	case "edit":
		post, ok, err := store.OwnEntityByGUID(ctx, p.db.R, e.Parent)
		if err != nil || !ok || post.Kind != "post" {
			return o, false, err
		}
		var b store.PostBody
		var ed store.PostEditBody
		if err := json.Unmarshal(post.Body, &b); err != nil {
			return o, false, fmt.Errorf("own post %s: %w", post.GUID, err)
		}
		if err := json.Unmarshal(e.Body, &ed); err != nil {
			return o, false, fmt.Errorf("own edit %s: %w", e.GUID, err)
		}
		editedAt, err := editSecond(ctx, p.db.R, post, e.GUID)
		if err != nil {
			return o, false, err
		}
		m := statusMessage(handle, post.GUID, post.CreatedAt, editedAt, b.Public, ed.Text, b.Provider, b.Poll, ed.Location)
		if m.Photos, o.Uploads, err = h.postPhotos(ctx, me, post.GUID, b.Public, b.Photos); err != nil {
			return o, false, err
		}
		ent = m
		if b.Public {
			o.PublishType, o.PublishGUID = "status_message", post.GUID
		}
	case "reshare":
		root, ok, err := store.PostByGUID(ctx, p.db.R, e.Parent)
		if err != nil {
			return o, false, err
		}
		rootAuthor := ""
		if ok {
			rootAuthor = root.Author
			if root.Own {
				rootAuthor = handle
			}
		}
		if rootAuthor == "" {
			return o, false, nil // the root is gone: nothing meaningful to send
		}
		ent = &entity.Reshare{AuthorID: handle, ID: e.GUID, CreatedAt: msUTC(e.CreatedAt), RootAuthorID: rootAuthor, RootID: e.Parent}
		o.Public, o.PublishType, o.PublishGUID = true, "reshare", e.GUID
	case "comment":
		var b struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return o, false, fmt.Errorf("own comment %s: %w", e.GUID, err)
		}
		ent = &entity.Comment{AuthorID: handle, ID: e.GUID, Parent: e.Parent, Text: b.Text, CreatedAt: msUTC(e.CreatedAt)}
		if entry.Public {
			o.PublishType, o.PublishGUID = "comment", e.GUID
		}
	case "like":
		var b struct {
			TargetType string `json:"target_type"`
		}
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return o, false, fmt.Errorf("own like %s: %w", e.GUID, err)
		}
		ent = &entity.Like{AuthorID: handle, ID: e.GUID, Parent: e.Parent, ParentTypeName: b.TargetType, Positive: true}
	case "poll_vote":
		var b struct {
			PollGUID string `json:"poll_guid"`
			AnswerID int64  `json:"answer_id"`
		}
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return o, false, fmt.Errorf("own vote %s: %w", e.GUID, err)
		}
		row, ok, err := store.PostByGUID(ctx, p.db.R, e.Parent)
		if err != nil || !ok || row.Poll == nil {
			return o, false, err
		}
		answer := ""
		for _, a := range row.Poll.Answers {
			if a.ID == b.AnswerID {
				answer = a.GUID
			}
		}
		if answer == "" {
			return o, false, nil
		}
		ent = &entity.PollParticipation{AuthorID: handle, ID: e.GUID, Parent: b.PollGUID, PollAnswerGUID: answer}
	case "conversation":
		c, err := h.conversation(ctx, me, e)
		if err != nil {
			return o, false, err
		}
		ent = c
	case "message":
		conv, ok, err := store.OwnEntityByGUID(ctx, p.db.R, e.Parent)
		if err != nil {
			return o, false, err
		}
		if ok && conv.Kind == "conversation" && conv.CreatedAt == e.CreatedAt {
			return o, false, nil // the first message travels inside the conversation
		}
		var b messageBody
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return o, false, fmt.Errorf("own message %s: %w", e.GUID, err)
		}
		ent = &entity.Message{AuthorID: handle, ID: e.GUID, Text: b.Text, CreatedAt: msUTC(e.CreatedAt), ConversationGUID: e.Parent}
	default:
		return o, false, nil
	}
	payload, err := entity.Marshal(ent)
	if err != nil {
		return o, false, fmt.Errorf("build %s %s: %w", e.Kind, e.GUID, err)
	}
	if rl, ok := ent.(entity.Relayable); ok {
		// The author signs a relayable unless they are the root author
		// (the envelope covers it then).
		rel, known, err := fedHost{p}.Related(ctx, rl.ParentType(), rl.ParentGUID())
		if err != nil {
			return o, false, err
		}
		if !known || rel.RootAuthor != handle && !(rel.RootAuthor == "" && rel.Author == handle) {
			if payload, err = entity.SignRelayable(payload, key); err != nil {
				return o, false, fmt.Errorf("sign %s %s: %w", e.Kind, e.GUID, err)
			}
		}
	}
	o.Payload = payload
	return o, true, nil
}

// participation is the Participation that goes before the user's first
// interaction (comment, like, poll vote, reshare) with someone else's
// post: it asks the post's author to relay the post's later interactions
// to the user, as a diaspora* pod does for its users (PROTOCOL.md §6.2).
// Sent once per post (handed key "participation:<post guid>"), privately
// to the author; seen holds the posts of this batch.
func (h fedHost) participation(ctx context.Context, me store.Me, e store.OwnEntity, seen map[string]bool) (federation.Outgoing, bool, error) {
	var typ string
	switch e.Kind {
	case "comment", "poll_vote", "reshare":
		typ = "Post"
	case "like":
		var b struct {
			TargetType string `json:"target_type"`
		}
		if json.Unmarshal(e.Body, &b) != nil {
			return federation.Outgoing{}, false, nil
		}
		typ = cmpOr(b.TargetType, "Post")
	default:
		return federation.Outgoing{}, false, nil
	}
	r, ok, err := store.RelatedByType(ctx, h.p.db.R, typ, e.Parent)
	if err != nil || !ok || r.PostOwn || r.PostAuthor == "" {
		return federation.Outgoing{}, false, err
	}
	key := "participation:" + r.PostGUID
	if seen[key] {
		return federation.Outgoing{}, false, nil
	}
	seen[key] = true
	handed, err := store.Handed(ctx, h.p.db.R, []string{key})
	if err != nil || handed[key] {
		return federation.Outgoing{}, false, err
	}
	guid := federation.DerivedGUID(me.Handle() + ":" + key)
	payload, err := entity.Marshal(&entity.Participation{AuthorID: me.Handle(), ID: guid, Parent: r.PostGUID, ParentTypeName: "Post"})
	if err != nil {
		return federation.Outgoing{}, false, fmt.Errorf("build participation in %s: %w", r.PostGUID, err)
	}
	rs, err := h.p.outboxResolve(ctx, outboxRecipients{byHandle: []string{r.PostAuthor}})
	if err != nil || len(rs) == 0 {
		return federation.Outgoing{}, false, err
	}
	return federation.Outgoing{Key: key, GUID: guid, EntityType: "Participation", Payload: payload,
		Recipients: recipientsOf(rs)}, true, nil
}

// conversation builds an own conversation with its first message.
func (h fedHost) conversation(ctx context.Context, me store.Me, e store.OwnEntity) (*entity.Conversation, error) {
	var b conversationBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return nil, fmt.Errorf("own conversation %s: %w", e.GUID, err)
	}
	handle := me.Handle()
	c := &entity.Conversation{AuthorID: handle, ID: e.GUID, Subject: b.Subject, CreatedAt: msUTC(e.CreatedAt),
		Participants: []string{handle}}
	for _, g := range b.Participants {
		sp, ok, err := store.PersonByGUID(ctx, h.p.db.R, g)
		if err != nil {
			return nil, err
		}
		if ok {
			c.Participants = append(c.Participants, sp.Handle)
		}
	}
	first, err := store.FirstOwnMessage(ctx, h.p.db.R, e.GUID, e.CreatedAt)
	if err != nil {
		return nil, err
	}
	if first.GUID != "" {
		var mb messageBody
		if err := json.Unmarshal(first.Body, &mb); err != nil {
			return nil, fmt.Errorf("own message %s: %w", first.GUID, err)
		}
		c.Messages = []*entity.Message{{AuthorID: handle, ID: first.GUID, Text: mb.Text, CreatedAt: msUTC(first.CreatedAt), ConversationGUID: e.GUID}}
	}
	return c, nil
}

// statusMessage builds an own status message (editedAt 0: not edited).
func statusMessage(author, guid string, createdAt, editedAt int64, public bool, text, provider string, poll *store.PostPoll, loc *store.PostLocation) *entity.StatusMessage {
	m := &entity.StatusMessage{AuthorID: author, ID: guid, CreatedAt: msUTC(createdAt), Public: public, Text: text, ProviderDisplayName: provider}
	if editedAt > 0 {
		m.EditedAt = msUTC(editedAt)
	}
	if poll != nil {
		ep := &entity.Poll{ID: poll.GUID, Question: poll.Question}
		for _, a := range poll.Answers {
			ep.Answers = append(ep.Answers, &entity.PollAnswer{ID: a.GUID, Answer: a.Answer})
		}
		m.Poll = ep
	}
	if loc != nil {
		m.Location = &entity.Location{Address: loc.Address, Lat: strconv.FormatFloat(loc.Lat, 'f', -1, 64), Lng: strconv.FormatFloat(loc.Lng, 'f', -1, 64)}
	}
	return m
}

// extraOutgoing builds a retraction, the profile or a contact.
func (h fedHost) extraOutgoing(ctx context.Context, me store.Me, e store.OwnEntity, key string) (federation.Outgoing, bool, error) {
	p := h.p
	entry, err := p.outboxEntry(ctx, e)
	if err != nil {
		return federation.Outgoing{}, false, err
	}
	handle := me.Handle()
	o := federation.Outgoing{Key: key, GUID: federation.DerivedGUID(key), EntityType: entry.EntityType, Public: entry.Public,
		Recipients: recipientsOf(entry.Recipients)}
	var ent entity.Entity
	switch e.Kind {
	case "retraction":
		target, ok, err := store.OwnEntityByGUID(ctx, p.db.R, e.Parent)
		if err != nil || !ok {
			return o, false, err
		}
		// Never sent, nothing to retract.
		if was, err := store.IsMember(ctx, p.db.R, store.HandedSet, target.GUID); err != nil || !was {
			return o, false, err
		}
		typ := map[string]string{"post": "Post", "reshare": "Post", "comment": "Comment", "like": "Like",
			"poll_vote": "PollParticipation"}[target.Kind]
		if typ == "" {
			return o, false, nil
		}
		ent = &entity.Retraction{AuthorID: handle, Target: target.GUID, TargetTypeName: typ}
		if entry.Public {
			switch target.Kind {
			case "post":
				o.UnpublishType, o.UnpublishGUID = "status_message", target.GUID
			case "reshare":
				o.UnpublishType, o.UnpublishGUID = "reshare", target.GUID
			case "comment":
				o.UnpublishType, o.UnpublishGUID = "comment", target.GUID
			}
		}
	case "profile":
		prof, err := h.profileEntity(ctx, handle)
		if err != nil {
			return o, false, err
		}
		urls, ups, err := h.ownAvatar(ctx)
		if err != nil {
			return o, false, err
		}
		prof.ImageURL, prof.ImageURLMedium, prof.ImageURLSmall = urls[0], urls[1], urls[2]
		o.Uploads = ups
		ent = prof
		rp, err := h.relayProfile(ctx, true)
		if err != nil {
			return o, false, err
		}
		o.UpdateProfile = &rp
		if prof.Public {
			o.Public = true
		}
	case "contact", "contact_stop":
		if len(entry.Recipients) == 0 || entry.Recipients[0].DiasporaID == "" {
			return o, false, nil
		}
		sharing := e.Kind == "contact"
		ent = &entity.Contact{AuthorID: handle, Recipient: entry.Recipients[0].DiasporaID, Following: sharing, Sharing: sharing}
		o.Contact, o.Public = true, false
	default:
		return o, false, nil
	}
	payload, err := entity.Marshal(ent)
	if err != nil {
		return o, false, fmt.Errorf("build %s: %w", key, err)
	}
	o.Payload = payload
	return o, true, nil
}

// profileEntity is the own profile as a diaspora* Profile entity.
func (h fedHost) profileEntity(ctx context.Context, handle string) (*entity.Profile, error) {
	q := h.p.db.R
	var err error
	get := func(k string) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = store.Field(ctx, q, k)
		return v
	}
	pr := &entity.Profile{AuthorID: handle, FirstName: get("profile/first_name"), LastName: get("profile/last_name"),
		Location: get("profile/location"), Gender: get("profile/gender"), Birthday: get("profile/birthday"),
		Searchable: get("profile/searchable") != "false", NSFW: get("profile/nsfw") == "true",
		Public: get("profile/public_details") == "true"}
	var tags []string
	if t := get("profile/tags"); t != "" {
		_ = json.Unmarshal([]byte(t), &tags)
	}
	for i, t := range tags {
		if i > 0 {
			pr.TagString += " "
		}
		pr.TagString += "#" + t
	}
	at, aerr := store.ProfileChangedAt(ctx, q)
	if err == nil {
		err = aerr
	}
	if at > 0 {
		pr.EditedAt = msUTC(at)
	}
	bios, berr := h.p.BioVersions(ctx)
	if err == nil {
		err = berr
	}
	if len(bios) > 0 {
		pr.Bio = bios[0].Bio
	}
	return pr, err
}

// startFederation builds the engine and runs it until ctx ends.
func (p *Pod) startFederation(ctx context.Context, fc FederationConfig) {
	out := fc.Outbound
	if out == nil {
		out = httpclient.New(httpclient.Options{Version: p.cfg.Version, NoRedirects: true})
	}
	rc := fc.Relay
	if rc == nil {
		wait := fc.PollWait
		if wait <= 0 {
			wait = 25 * time.Second
		}
		rc = httpclient.New(relayclient.HTTPOptions(httpclient.Options{Version: p.cfg.Version, NoRedirects: true,
			Timeout: wait + 30*time.Second}))
	}
	p.fed = federation.New(federation.Config{Host: fedHost{p}, Discovery: discover.New(discover.Options{Client: out, Now: p.cfg.Now, Log: p.logger}),
		Relay: rc, Log: p.logger, Now: p.cfg.Now, PollWait: fc.PollWait, Backoff: fc.Backoff, OnState: p.federationState})
	p.log.Listen(func([]store.Change) {
		select {
		case p.changed <- struct{}{}:
		default:
		}
	})
	p.wg.Go(func() { p.fed.Run(ctx) })
}

// ErrFederationOff: the pod runs without the federation engine.
var ErrFederationOff = fmt.Errorf("%w: federation is not running in this pod", ErrConflict)

// FederationStatus is GET /api/seedpod/v1/relay.
func (p *Pod) FederationStatus(ctx context.Context) (federation.Status, error) {
	if p.fed == nil {
		n, err := p.OutboxPending(ctx)
		return federation.Status{State: "off", OutboxPending: n}, err
	}
	st := p.fed.Status()
	relayURL, err := store.Field(ctx, p.db.R, RelayURLKey)
	if err != nil {
		return st, err
	}
	if relayURL == "" {
		st.State = "off"
	}
	st.Relay = relayURL
	me, err := p.db.Me(ctx)
	if err != nil {
		return st, err
	}
	if me.Exists() && relayURL != "" {
		st.DiasporaID = me.Handle()
	}
	// What waits is counted from the outbox itself, as /counts does: the
	// engine only counts while it runs, which it does not without a relay.
	if st.OutboxPending, err = p.OutboxPending(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// EnrollRelay sets up the relay: claims username (default: the identity's)
// with the invite code; the identity becomes username@<relay host>.
func (p *Pod) EnrollRelay(ctx context.Context, relayURL, code, username string) (string, error) {
	if p.fed == nil {
		return "", ErrFederationOff
	}
	if relay, err := store.Field(ctx, p.db.R, RelayURLKey); err != nil {
		return "", err
	} else if relay != "" {
		return "", fmt.Errorf("%w: this identity already federates through %s (moving to another relay is a separate step)", ErrConflict, relay)
	}
	if strings.TrimSpace(code) == "" {
		return "", fmt.Errorf("%w: code: the enrolment code the relay's operator gave you is required", ErrInvalid)
	}
	id, err := p.fed.Enroll(ctx, relayURL, code, username)
	if errors.Is(err, federation.ErrNoIdentity) {
		return "", fmt.Errorf("%w: create the identity (and let its key finish) first", ErrNoIdentity)
	}
	if errors.Is(err, federation.ErrInvalid) {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err != nil {
		var ae *relayclient.APIError
		if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
			return "", fmt.Errorf("%w: the relay refused: %s", ErrInvalid, ae.Message)
		}
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return id, nil
}

// DiscoverPerson looks a diaspora ID up on the network (WebFinger, hCard)
// and stores the person; known people are answered from the pod.
func (p *Pod) DiscoverPerson(ctx context.Context, handle string) (store.Person, error) {
	h, err := id.Normalize(strings.TrimSpace(handle))
	if err != nil {
		return store.Person{}, fmt.Errorf("%w: diaspora_id %q: %v", ErrInvalid, clipText(handle, 80), err)
	}
	if sp, ok, err := store.PersonByHandle(ctx, p.db.R, h); err != nil || ok {
		return sp, err
	}
	if p.fed == nil {
		return store.Person{}, ErrFederationOff
	}
	if err := p.fed.Discover(ctx, h); err != nil {
		if errors.Is(err, discover.ErrNotFound) {
			return store.Person{}, fmt.Errorf("%w: nobody is known as %s", ErrNotFound, h)
		}
		if errors.Is(err, discover.ErrInvalid) {
			return store.Person{}, fmt.Errorf("%w: %s: %v", ErrInvalid, h, err)
		}
		return store.Person{}, fmt.Errorf("%w: discover %s: %w", ErrUnavailable, h, err)
	}
	sp, ok, err := store.PersonByHandle(ctx, p.db.R, h)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s was discovered but is not stored", ErrNotFound, h)
	}
	return sp, err
}

// relayMediaExt are the relay's file extensions by content type.
var relayMediaExt = map[string]string{"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}

// relayMedia is how an own blob is named on the relay (the first 32 hex of
// its SHA-256 and its type's extension) and how to upload it.
func (p *Pod) relayMedia(sha string) (string, federation.Upload, error) {
	st, err := p.mediaStore()
	if err != nil {
		return "", federation.Upload{}, err
	}
	f, err := st.Open(sha)
	if err != nil {
		return "", federation.Upload{}, fmt.Errorf("media %s: %w", sha, err)
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	f.Close()
	ct := http.DetectContentType(head[:n])
	ext := relayMediaExt[ct]
	if ext == "" || len(sha) < 32 {
		return "", federation.Upload{}, fmt.Errorf("media %s: %s cannot be published", sha, ct)
	}
	name := sha[:32] + "." + ext
	return name, federation.Upload{Name: name, Load: func() (string, []byte, error) {
		f, err := st.Open(sha)
		if err != nil {
			return "", nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 10<<20+1))
		return ct, b, err
	}}, nil
}

// relayMediaPath is where the relay serves the user's media.
func relayMediaPath(relayURL, username string) string {
	return relayURL + "/media/" + username + "/"
}

// postPhotos are an own post's photos as entities, and their uploads.
func (h fedHost) postPhotos(ctx context.Context, me store.Me, postGUID string, public bool, guids []string) ([]*entity.Photo, []federation.Upload, error) {
	relayURL, err := store.Field(ctx, h.p.db.R, RelayURLKey)
	if err != nil || relayURL == "" {
		return nil, nil, err
	}
	var photos []*entity.Photo
	var ups []federation.Upload
	for _, g := range guids {
		e, ok, err := store.OwnEntityByGUID(ctx, h.p.db.R, g)
		if err != nil {
			return nil, nil, err
		}
		if !ok || e.Retracted || e.Kind != "photo" {
			continue
		}
		var b store.PhotoBody
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return nil, nil, fmt.Errorf("own photo %s: %w", g, err)
		}
		sha := cmpOr(b.Sizes.Raw, b.Sizes.Large, b.Sizes.Medium)
		if sha == "" {
			continue
		}
		name, up, err := h.p.relayMedia(sha)
		if err != nil {
			h.p.logger.Warn("federation: a photo cannot be published; the post goes without it", "photo", g, "err", err)
			continue
		}
		photos = append(photos, &entity.Photo{ID: g, AuthorID: me.Handle(), Public: public, CreatedAt: msUTC(e.CreatedAt),
			RemotePhotoPath: relayMediaPath(relayURL, me.Username), RemotePhotoName: name, Text: b.Alt,
			StatusMessageGUID: postGUID, Width: b.Width, Height: b.Height})
		ups = append(ups, up)
	}
	return photos, ups, nil
}

// ownAvatar is the own avatar's relay URLs (large, medium, small) and
// their uploads; empty without an avatar or a relay.
func (h fedHost) ownAvatar(ctx context.Context) (urls [3]string, ups []federation.Upload, err error) {
	q := h.p.db.R
	relayURL, err := store.Field(ctx, q, RelayURLKey)
	if err != nil || relayURL == "" {
		return urls, nil, err
	}
	username, err := store.Field(ctx, q, "identity/username")
	if err != nil {
		return urls, nil, err
	}
	v, err := store.Field(ctx, q, "profile/avatar")
	if err != nil || v == "" {
		return urls, nil, err
	}
	var a struct{ Small, Medium, Large, Raw string }
	if json.Unmarshal([]byte(v), &a) != nil {
		return urls, nil, nil
	}
	for i, sha := range []string{cmpOr(a.Large, a.Raw, a.Medium), cmpOr(a.Medium, a.Large, a.Raw), cmpOr(a.Small, a.Medium, a.Large)} {
		if sha == "" {
			continue
		}
		name, up, err := h.p.relayMedia(sha)
		if err != nil {
			h.p.logger.Warn("federation: the avatar cannot be published", "err", err)
			return [3]string{}, nil, nil
		}
		urls[i] = relayMediaPath(relayURL, username) + name
		ups = append(ups, up)
	}
	return urls, ups, nil
}

func cmpOr(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// ListenFederation registers fn to be told each change of the federation
// engine's state (the SSE hub); it must not block. The returned func
// unregisters it.
func (p *Pod) ListenFederation(fn func(state string)) (cancel func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fedListeners == nil {
		p.fedListeners = map[int]func(string){}
	}
	id := p.fedListenerID
	p.fedListenerID++
	p.fedListeners[id] = fn
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.fedListeners, id)
	}
}

func (p *Pod) federationState(state string) {
	p.mu.Lock()
	fns := make([]func(string), 0, len(p.fedListeners))
	for _, fn := range p.fedListeners {
		fns = append(fns, fn)
	}
	p.mu.Unlock()
	for _, fn := range fns {
		fn(state)
	}
}

// editSecond is the edited_at an own edit is sent with. diaspora* times
// have whole seconds, and a receiver tells versions apart by edited_at, so
// each edit of a post gets its own second, after the post's and after
// the previous edit's: max(the edit's second, previous + 1 s). Every
// device computes the same from the same edits.
func editSecond(ctx context.Context, q store.Querier, post store.OwnEntity, editGUID string) (int64, error) {
	edits, err := store.OwnEdits(ctx, q, post.GUID)
	if err != nil {
		return 0, err
	}
	prev := post.CreatedAt / 1000 * 1000
	for _, e := range edits {
		sec := max(e.CreatedAt/1000*1000, prev+1000)
		if e.GUID == editGUID {
			return sec, nil
		}
		prev = sec
	}
	return 0, fmt.Errorf("edit %s of post %s: not among its edits", editGUID, post.GUID)
}
