package pod

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/federation"
	"seedpod/pod/markup"
	"seedpod/pod/store"
)

// The outbox view (API.md §6.2): for each own change the network must hear
// about, what would be sent to whom. It is a pure read model of the fold:
// nothing is sent here, and nothing records a delivery yet (federation is
// another part of the pod), so every entry is "queued".
//
// Entries:
//   - own posts, reshares, edits, comments, likes, poll votes,
//     conversations and messages (live Publishes); a post edit is sent as
//     its status_message again;
//   - retractions of those (deletes, unlikes), at the time of the Retract;
//   - the own profile ("profile"), at its last change;
//   - the sharing state per person ("contact:<person guid>") for everyone
//     ever put in an aspect: whether the user shares with them now.
//
// Who receives what (diaspora*'s rules for a pod that is the author's):
//   - a public post or reshare: everyone who shares with the user, and the
//     people it mentions; a reshare also goes to the original's author;
//   - a limited post: its recipients, frozen when it was published;
//   - a comment, like or poll vote on someone else's post: that post's
//     author (who relays it); on the user's own post: that post's
//     recipients, as above;
//   - a conversation or message: the other participants;
//   - a retraction: whoever received the entity;
//   - the profile: everyone the user shares with; a contact: that person.

// OutboxEntry is one change to deliver.
type OutboxEntry struct {
	GUID string `json:"guid"`
	// Kind is the Publish kind (post, reshare, edit, comment, like,
	// poll_vote, conversation, message), or retraction, profile, contact.
	Kind      string     `json:"kind"`
	CreatedAt apiv1.Time `json:"created_at"`
	// EntityType is the diaspora* entity sent (status_message, reshare,
	// comment, like, poll_participation, conversation, message,
	// retraction, profile, contact).
	EntityType string `json:"entity_type"`
	Public     bool   `json:"public"`
	// Target is what a retraction, edit or interaction is about.
	Target     string            `json:"target,omitempty"`
	Recipients []OutboxRecipient `json:"recipients"`
	State      string            `json:"state"`

	relayGUID string // the relay's deduplication guid once handed
}

// OutboxRecipient is a person an entry goes to. PersonGUID is "" for
// someone known only by handle; DiasporaID "" for someone known only by
// guid; Pod is the host of the handle.
type OutboxRecipient struct {
	PersonGUID string `json:"person_guid"`
	DiasporaID string `json:"diaspora_id,omitempty"`
	Pod        string `json:"pod,omitempty"`
}

// Outbox entry states: "queued" until the federation engine hands the
// entry to the relay, "handed" after (GET /deliveries/:guid tells how
// the relay's deliveries went).
const (
	OutboxStateQueued = "queued"
	OutboxStateHanded = "handed"
)

var outboxEntityTypes = map[string]string{
	"post": "status_message", "edit": "status_message", "reshare": "reshare", "comment": "comment", "like": "like",
	"poll_vote": "poll_participation", "conversation": "conversation", "message": "message",
}

// OutboxPage is a page of the outbox, newest first.
type OutboxPage struct {
	Entries []OutboxEntry
	Next    string // cursor of the next page, "" at the end
}

// outboxExtra are the entries that are not live Publishes (retractions,
// profile, contacts): few, built whole for each page.
func (p *Pod) outboxExtra(ctx context.Context) ([]store.OwnEntity, error) {
	q := p.db.R
	var out []store.OwnEntity
	rs, err := store.OwnRetractions(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		out = append(out, store.OwnEntity{GUID: "retraction:" + r.Target.GUID, Kind: "retraction", Parent: r.Target.GUID, CreatedAt: r.At})
	}
	me, err := p.db.Me(ctx)
	if err != nil {
		return nil, err
	}
	if me.Exists() {
		at, err := store.ProfileChangedAt(ctx, q)
		if err != nil {
			return nil, err
		}
		if at > 0 {
			out = append(out, store.OwnEntity{GUID: "profile:" + me.GUID, Kind: "profile", CreatedAt: at})
		}
	}
	cs, err := store.ContactStates(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		k := "contact"
		if !c.Receiving {
			k = "contact_stop" // internal: a contact entity that stops sharing
		}
		out = append(out, store.OwnEntity{GUID: "contact:" + c.PersonGUID, Kind: k, Parent: c.PersonGUID, CreatedAt: c.At})
	}
	return out, nil
}

// Outbox lists what the network must hear about, newest first, perPage
// entries after cursor ("" for the first page).
func (p *Pod) Outbox(ctx context.Context, cursor string, perPage int) (OutboxPage, error) {
	var bound *store.OutboxBound
	if cursor != "" {
		c, err := apiv1.ParseCursor(cursor)
		if err != nil {
			return OutboxPage{}, fmt.Errorf("%w: cursor: the outbox cannot continue from it; start again without one", ErrInvalid)
		}
		bound = &store.OutboxBound{At: c.Time.UnixMilli(), GUID: c.GUID}
	}
	own, err := store.OutboxPublished(ctx, p.db.R, bound, perPage+1)
	if err != nil {
		return OutboxPage{}, err
	}
	extra, err := p.outboxExtra(ctx)
	if err != nil {
		return OutboxPage{}, err
	}
	for _, e := range extra {
		if bound.Before(e.CreatedAt, e.GUID) {
			own = append(own, e)
		}
	}
	slices.SortFunc(own, func(a, b store.OwnEntity) int {
		if c := cmp.Compare(b.CreatedAt, a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.GUID, a.GUID)
	})
	var page OutboxPage
	if len(own) > perPage {
		own = own[:perPage]
		last := own[len(own)-1]
		page.Next = apiv1.Cursor{Time: time.UnixMilli(last.CreatedAt).UTC(), GUID: last.GUID}.Encode()
	}
	page.Entries = make([]OutboxEntry, 0, len(own))
	for _, e := range own {
		entry, err := p.outboxEntry(ctx, e)
		if err != nil {
			return OutboxPage{}, err
		}
		page.Entries = append(page.Entries, entry)
	}
	return page, nil
}

// OutboxEntryOf is the entry of one guid (as the outbox names it), or
// ErrNotFound.
func (p *Pod) OutboxEntryOf(ctx context.Context, guid string) (OutboxEntry, error) {
	notFound := fmt.Errorf("%w: nothing to deliver under %q", ErrNotFound, clipText(guid, 80))
	if e, ok, err := store.OwnEntityByGUID(ctx, p.db.R, guid); err != nil {
		return OutboxEntry{}, err
	} else if ok && !e.Retracted && outboxEntityTypes[e.Kind] != "" {
		return p.outboxEntry(ctx, e)
	}
	extra, err := p.outboxExtra(ctx)
	if err != nil {
		return OutboxEntry{}, err
	}
	for _, e := range extra {
		if e.GUID == guid {
			return p.outboxEntry(ctx, e)
		}
	}
	return OutboxEntry{}, notFound
}

// OutboxCount is the number of outbox entries, handed to the relay or not.
func (p *Pod) OutboxCount(ctx context.Context) (int, error) {
	return store.OutboxCount(ctx, p.db.R)
}

// OutboxPending is the number of outbox entries not handed to the relay
// yet (counts' outbox_pending): everything, until a relay is set up.
func (p *Pod) OutboxPending(ctx context.Context) (int, error) {
	n, err := store.UnhandedPublishedCount(ctx, p.db.R)
	if err != nil {
		return 0, err
	}
	extra, err := p.outboxExtra(ctx)
	if err != nil {
		return 0, err
	}
	keys := make([]string, len(extra))
	for i, e := range extra {
		keys[i] = extraKey(e)
	}
	handed, err := store.Handed(ctx, p.db.R, keys)
	if err != nil {
		return 0, err
	}
	return n + len(extra) - len(handed), nil
}

func (p *Pod) outboxEntry(ctx context.Context, e store.OwnEntity) (OutboxEntry, error) {
	out := OutboxEntry{GUID: e.GUID, Kind: e.Kind, CreatedAt: msTime(e.CreatedAt), EntityType: outboxEntityTypes[e.Kind],
		State: OutboxStateQueued}
	var rs outboxRecipients
	var err error
	switch e.Kind {
	case "post", "reshare":
		out.Public, rs, err = p.outboxAudience(ctx, e)
	case "edit":
		out.Target = e.Parent
		out.Public, rs, err = p.outboxPostAudience(ctx, e.Parent)
	case "comment", "poll_vote":
		out.Target = e.Parent
		out.Public, rs, err = p.outboxInteraction(ctx, e.Parent)
	case "like":
		out.Target = e.Parent
		post := e.Parent
		if strings.Contains(string(e.Body), `"Comment"`) {
			if post, err = store.CommentPost(ctx, p.db.R, e.Parent); err != nil {
				return out, err
			}
		}
		out.Public, rs, err = p.outboxInteraction(ctx, post)
	case "conversation":
		rs, err = p.outboxConversation(ctx, e.GUID, e)
	case "message":
		out.Target = e.Parent
		rs, err = p.outboxConversation(ctx, e.Parent, store.OwnEntity{})
	case "retraction":
		out.EntityType, out.Target = "retraction", e.Parent
		target, ok, terr := store.OwnEntityByGUID(ctx, p.db.R, e.Parent)
		if terr != nil || !ok {
			return out, terr
		}
		inner, ierr := p.outboxEntry(ctx, target)
		if ierr != nil {
			return out, ierr
		}
		out.Public, out.Recipients = inner.Public, inner.Recipients
		return out, p.outboxHanded(ctx, e, &out)
	case "profile":
		out.EntityType = "profile"
		var guids []string
		if guids, err = store.ReceivingFromMe(ctx, p.db.R); err == nil {
			rs.guids(guids)
		}
	case "contact", "contact_stop":
		out.Kind, out.EntityType, out.Target = "contact", "contact", e.Parent
		rs.guids([]string{e.Parent})
	}
	if err != nil {
		return out, err
	}
	out.Recipients, err = p.outboxResolve(ctx, rs)
	if err != nil {
		return out, err
	}
	return out, p.outboxHanded(ctx, e, &out)
}

// outboxHanded sets an entry's state from the handed set.
func (p *Pod) outboxHanded(ctx context.Context, e store.OwnEntity, out *OutboxEntry) error {
	key, relayGUID := e.GUID, e.GUID
	if outboxEntityTypes[e.Kind] == "" { // retraction, profile, contact
		key = extraKey(e)
		relayGUID = federation.DerivedGUID(key)
	}
	handed, err := store.IsMember(ctx, p.db.R, store.HandedSet, key)
	if err != nil {
		return err
	}
	if handed {
		out.State, out.relayGUID = OutboxStateHanded, relayGUID
	}
	return nil
}

// outboxRecipients collects people by guid or handle.
type outboxRecipients struct {
	byGUID   []string
	byHandle []string
}

func (r *outboxRecipients) guids(gs []string)      { r.byGUID = append(r.byGUID, gs...) }
func (r *outboxRecipients) handles(hs []string)    { r.byHandle = append(r.byHandle, hs...) }
func (r *outboxRecipients) add(o outboxRecipients) { r.guids(o.byGUID); r.handles(o.byHandle) }

// outboxAudience is who an own post or reshare goes to.
func (p *Pod) outboxAudience(ctx context.Context, e store.OwnEntity) (bool, outboxRecipients, error) {
	var rs outboxRecipients
	var body struct {
		Public bool   `json:"public"`
		Text   string `json:"text"`
	}
	public := e.Kind == "reshare"
	if e.Kind == "post" {
		if err := json.Unmarshal(e.Body, &body); err == nil {
			public = body.Public
		}
	}
	if !public {
		rs.guids(e.Recipients)
		return false, rs, nil
	}
	sharing, err := store.SharingWithMe(ctx, p.db.R)
	if err != nil {
		return true, rs, err
	}
	rs.guids(sharing)
	// The people the text mentions: from the published text (a deleted
	// post has no row any more) and from the row (edits may add some).
	for _, m := range markup.Mentions(body.Text) {
		rs.handles([]string{m.Handle})
	}
	mentions, err := store.PostMentionHandles(ctx, p.db.R, e.GUID)
	if err != nil {
		return true, rs, err
	}
	rs.handles(mentions)
	// Who took part (participations, comments, likes, votes, reshares):
	// what concerns the post reaches them too, as on diaspora*.
	parts, err := store.PostParticipants(ctx, p.db.R, e.GUID)
	if err != nil {
		return true, rs, err
	}
	rs.handles(parts)
	if e.Kind == "reshare" && e.Parent != "" {
		if row, ok, err := store.PostByGUID(ctx, p.db.R, e.Parent); err != nil {
			return true, rs, err
		} else if ok && !row.Own {
			rs.handles([]string{row.Author})
		}
	}
	return true, rs, nil
}

// outboxPostAudience is who receives what concerns a post: an own post's
// audience, or the author of someone else's (false, nobody, when the pod
// does not hold the post).
func (p *Pod) outboxPostAudience(ctx context.Context, postGUID string) (bool, outboxRecipients, error) {
	if e, ok, err := store.OwnEntityByGUID(ctx, p.db.R, postGUID); err != nil {
		return false, outboxRecipients{}, err
	} else if ok && (e.Kind == "post" || e.Kind == "reshare") {
		return p.outboxAudience(ctx, e)
	}
	row, ok, err := store.PostByGUID(ctx, p.db.R, postGUID)
	if err != nil || !ok {
		return false, outboxRecipients{}, err
	}
	var rs outboxRecipients
	if row.Own {
		rs.guids(row.Recipients)
	} else {
		rs.handles([]string{row.Author})
	}
	return row.Public, rs, nil
}

// outboxInteraction is who receives a comment, like or vote on a post:
// the post's author relays it, so a remote post's author; for an own post,
// its audience.
func (p *Pod) outboxInteraction(ctx context.Context, postGUID string) (bool, outboxRecipients, error) {
	return p.outboxPostAudience(ctx, postGUID)
}

// outboxConversation is the other participants of a conversation: from
// the conversations row, or for an own conversation not projected, its
// Publish.
func (p *Pod) outboxConversation(ctx context.Context, guid string, own store.OwnEntity) (outboxRecipients, error) {
	var rs outboxRecipients
	hs, err := store.ConversationParticipantHandles(ctx, p.db.R, guid)
	if err != nil {
		return rs, err
	}
	if hs != nil {
		rs.handles(hs)
		return rs, nil
	}
	var body struct {
		Participants []string `json:"participants"`
	}
	if own.Kind == "conversation" && json.Unmarshal(own.Body, &body) == nil {
		rs.guids(body.Participants)
	}
	return rs, nil
}

// outboxResolve turns guids and handles into recipients, without the user
// and without duplicates, sorted by handle then guid.
func (p *Pod) outboxResolve(ctx context.Context, rs outboxRecipients) ([]OutboxRecipient, error) {
	me, err := p.db.Me(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := []OutboxRecipient{}
	addPerson := func(guid, handle string) {
		if guid != "" && guid == me.GUID || handle == "" && guid == "" || me.IsMe(handle) {
			return
		}
		key := guid
		if key == "" {
			key = "@" + handle
		}
		if seen[key] {
			return
		}
		seen[key] = true
		r := OutboxRecipient{PersonGUID: guid, DiasporaID: handle}
		if _, host, ok := strings.Cut(handle, "@"); ok {
			r.Pod = host
		}
		out = append(out, r)
	}
	// addKnown adds a known person, or the identity they finally moved
	// to; nobody for a closed account.
	addKnown := func(sp store.Person) error {
		if sp.Closed {
			return nil
		}
		if sp.MovedTo == "" {
			addPerson(sp.GUID, sp.Handle)
			return nil
		}
		to, err := store.MovedTo(ctx, p.db.R, sp.Handle)
		if err != nil {
			return err
		}
		np, ok, err := store.PersonByHandle(ctx, p.db.R, to)
		switch {
		case err != nil:
			return err
		case !ok:
			addPerson("", to)
		case !np.Closed:
			addPerson(np.GUID, np.Handle)
		}
		return nil
	}
	for _, g := range rs.byGUID {
		sp, ok, err := store.PersonByGUID(ctx, p.db.R, g)
		if err != nil {
			return nil, err
		}
		if !ok {
			addPerson(g, "")
		} else if err := addKnown(sp); err != nil {
			return nil, err
		}
	}
	for _, h := range rs.byHandle {
		h = strings.ToLower(h)
		if h == "" {
			continue // the user, in a participants list
		}
		sp, ok, err := store.PersonByHandle(ctx, p.db.R, h)
		if err != nil {
			return nil, err
		}
		if !ok {
			if to, err := store.MovedTo(ctx, p.db.R, h); err != nil {
				return nil, err
			} else if to != h {
				if sp, ok, err = store.PersonByHandle(ctx, p.db.R, to); err != nil {
					return nil, err
				} else if !ok {
					addPerson("", to)
					continue
				}
			} else {
				addPerson("", h)
				continue
			}
		}
		if err := addKnown(sp); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b OutboxRecipient) int {
		if c := strings.Compare(a.DiasporaID, b.DiasporaID); c != 0 {
			return c
		}
		return strings.Compare(a.PersonGUID, b.PersonGUID)
	})
	return out, nil
}

// Delivery is the delivery status of one entry, in the shape of GET
// /deliveries/:guid (API.md §6.2): per remote pod, what the relay reports
// once the entry is handed to it; "queued" before.
type Delivery struct {
	Summary DeliverySummary `json:"summary"`
	Pods    []DeliveryPod   `json:"pods"`
}

// DeliverySummary counts recipients by state.
type DeliverySummary struct {
	Total     int `json:"total"`
	Delivered int `json:"delivered"`
	Pending   int `json:"pending"`
	Failed    int `json:"failed"`
}

// DeliveryPod is the delivery to one pod. State: "queued" (not with the
// relay yet), "pending" (the relay is trying), "delivered", "failed"
// (the relay gave up, or the pod refused for good).
type DeliveryPod struct {
	Host        string      `json:"host"`
	People      []string    `json:"people"`
	State       string      `json:"state"`
	Attempts    int         `json:"attempts"`
	LastStatus  int         `json:"last_status,omitempty"`
	LastError   string      `json:"last_error,omitempty"`
	NextAttempt *apiv1.Time `json:"next_attempt_at,omitempty"`
}

// Delivery states of a pod.
const (
	DeliveryQueued    = "queued"
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// DeliveryOf is the delivery status of the outbox entry guid.
func (p *Pod) DeliveryOf(ctx context.Context, guid string) (Delivery, error) {
	e, err := p.OutboxEntryOf(ctx, guid)
	if err != nil {
		return Delivery{}, err
	}
	d := Delivery{Pods: []DeliveryPod{}}
	people := map[string][]string{}
	for _, r := range e.Recipients {
		who := r.DiasporaID
		if who == "" {
			who = r.PersonGUID
		}
		people[r.Pod] = append(people[r.Pod], who)
	}
	byHost := map[string]*DeliveryPod{}
	for host, ps := range people {
		byHost[host] = &DeliveryPod{Host: host, People: ps, State: DeliveryQueued}
	}
	if p.fed != nil && e.State == OutboxStateHanded {
		sts, err := p.fed.Deliveries(ctx, e.relayGUID)
		if err != nil {
			return Delivery{}, fmt.Errorf("%w: delivery status from the relay: %w", ErrUnavailable, err)
		}
		for _, st := range sts {
			host := receiveURLHost(st.Recipient)
			dp := byHost[host]
			if dp == nil {
				dp = &DeliveryPod{Host: host, People: []string{}, State: DeliveryQueued}
				byHost[host] = dp
			}
			state := map[string]string{"delivered": DeliveryDelivered, "failed": DeliveryFailed}[st.State]
			if state == "" {
				state = DeliveryPending
			}
			// A pod's state is its worst recipient's: failed, then
			// pending, then delivered.
			rank := map[string]int{DeliveryQueued: 0, DeliveryDelivered: 1, DeliveryPending: 2, DeliveryFailed: 3}
			if dp.State == DeliveryQueued || rank[state] > rank[dp.State] {
				dp.State = state
			}
			dp.Attempts = max(dp.Attempts, st.Attempts)
			if st.LastStatus != 0 {
				dp.LastStatus = st.LastStatus
			}
			if st.LastError != "" {
				dp.LastError = st.LastError
			}
			if st.NextAttemptAt > 0 {
				t := apiv1.NewTime(time.Unix(st.NextAttemptAt, 0))
				dp.NextAttempt = &t
			}
		}
	}
	for _, dp := range byHost {
		d.Pods = append(d.Pods, *dp)
		n := len(dp.People)
		d.Summary.Total += n
		switch dp.State {
		case DeliveryDelivered:
			d.Summary.Delivered += n
		case DeliveryFailed:
			d.Summary.Failed += n
		default:
			d.Summary.Pending += n
		}
	}
	slices.SortFunc(d.Pods, func(a, b DeliveryPod) int { return strings.Compare(a.Host, b.Host) })
	return d, nil
}

// receiveURLHost is the host[:port] of a relay recipient URL.
func receiveURLHost(u string) string {
	rest := strings.TrimPrefix(u, "https://")
	host, _, _ := strings.Cut(rest, "/")
	return strings.ToLower(host)
}
