package federation

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"seedpod/pod/diaspora"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/federation/discover"
	"seedpod/pod/oplog"
	"seedpod/pod/relay"
)

// Process runs the inbound pipeline over one page of the relay inbox and
// returns once everything accepted is stored (the caller then
// acknowledges). An item that is refused (bad envelope, bad signature,
// forged sender, unknown parent that cannot be fetched, …) is logged and
// dropped: it will never become acceptable. An error means a failure of
// the pod itself (the store): nothing may be acknowledged.
func (e *Engine) Process(ctx context.Context, self Self, relayHost string, items []relay.InboxItem) error {
	b := &batch{e: e, ctx: ctx, self: self}
	pre := b.preverify(items)
	for i, it := range items {
		key := relayHost + "#" + strconv.FormatInt(it.ID, 10)
		var err error
		if pre[i] != nil {
			err = b.accepted(pre[i], key)
		} else {
			err = b.accept(it.Route, it.Body, key, 0)
		}
		if err != nil && b.fatal != nil {
			return b.fatal
		}
		if err != nil {
			e.log.Info("federation: refused a delivery", "relay_item", it.ID, "route", it.Route, "stage", diaspora.StageOf(err), "err", err)
			e.update(func(s *Status) { s.Rejected++ })
		}
		e.update(func(s *Status) { s.InboxBacklog = len(items) - i - 1 })
	}
	if err := b.flush(); err != nil {
		return err
	}
	return b.fatal
}

// batch collects accepted entities of one page and stores them together;
// it flushes early when a later item needs an earlier one (a comment on a
// post of the same page).
type batch struct {
	e       *Engine
	ctx     context.Context
	self    Self
	pending []Accepted
	relays  []Outgoing // relayables to forward once stored
	fatal   error
	fetched map[string]bool // (type, guid) fetched in this page
}

func (b *batch) flush() error {
	if len(b.pending) > 0 {
		n, err := b.e.cfg.Host.Receive(b.ctx, b.pending)
		stored := int64(n)
		if err != nil {
			if !errors.Is(err, oplog.ErrMalformed) {
				b.fatal = fmt.Errorf("store %d received entities: %w", len(b.pending), err)
				return b.fatal
			}
			// One entity the op log refuses must not block the inbox
			// for good: store them one by one and drop what is refused.
			stored = 0
			for _, a := range b.pending {
				n, err := b.e.cfg.Host.Receive(b.ctx, []Accepted{a})
				switch {
				case err == nil:
					stored += int64(n)
				case errors.Is(err, oplog.ErrMalformed):
					b.e.log.Warn("federation: the op log refused a received entity; dropped", "type", a.Entity.Type(),
						"guid", entity.GUIDOf(a.Entity), "err", err)
					b.e.update(func(s *Status) { s.Rejected++ })
				default:
					b.fatal = fmt.Errorf("store a received %s: %w", a.Entity.Type(), err)
					return b.fatal
				}
			}
		}
		b.e.update(func(s *Status) { s.Received += stored })
		b.pending = b.pending[:0]
	}
	if len(b.relays) > 0 {
		// Relaying is handed to the relay before the inbox is
		// acknowledged: a crash in between only relays again (the relay
		// deduplicates by guid and recipient).
		if err := b.e.send(b.ctx, b.self, b.relays); err != nil {
			b.fatal = fmt.Errorf("relay %d interactions: %w", len(b.relays), err)
			return b.fatal
		}
		b.relays = b.relays[:0]
	}
	return nil
}

// lookups answer the receive rules from the pod and remember what was
// missing, so the engine knows whom to discover or what to fetch.
type lookups struct {
	b             *batch
	missingKey    string
	missingType   string
	missingGUID   string
	err           error
	relatedAuthor string
}

func (l *lookups) PublicKey(handle string) (*rsa.PublicKey, bool) {
	if p, ok := l.b.e.keys.get(handle); ok {
		return p.Key, true
	}
	if handle == l.b.self.Handle {
		return &l.b.self.Key.PublicKey, true
	}
	p, ok, err := l.b.e.cfg.Host.Person(l.b.ctx, handle)
	if err != nil {
		l.err = err
		return nil, false
	}
	if !ok || p.Key == nil {
		l.missingKey = handle
		return nil, false
	}
	l.b.e.keys.put(p)
	return p.Key, true
}

func (l *lookups) Related(typ, guid string) (diaspora.Related, bool) {
	r, ok, err := l.b.e.cfg.Host.Related(l.b.ctx, typ, guid)
	if err != nil {
		l.err = err
		return diaspora.Related{}, false
	}
	if !ok {
		l.missingType, l.missingGUID = typ, guid
	}
	return r, ok
}

// maxAttempts bounds the discover/fetch/retry rounds for one item.
const maxAttempts = 4

// accept receives one delivery (route "public" or "private"), discovering
// unknown people and fetching unknown parents as needed, and queues the
// accepted entity. depth counts nested fetches.
func (b *batch) accept(route string, body []byte, deliveryKey string, depth int) error {
	var flushed, discovered, fetched bool
	for range maxAttempts {
		l := &lookups{b: b}
		var r *diaspora.Received
		var err error
		if route == "private" {
			r, err = diaspora.ReceivePrivate(body, b.self.Key, b.self.Handle, l, l)
		} else {
			r, err = diaspora.ReceivePublic(body, l, l)
		}
		if l.err != nil {
			b.fatal = l.err
			return l.err
		}
		if err == nil {
			return b.accepted(r, deliveryKey)
		}
		switch {
		case errors.Is(err, diaspora.ErrUnknownSender) && l.missingKey != "" && !discovered:
			discovered = true
			if derr := b.discover(l.missingKey); derr != nil {
				return fmt.Errorf("%w (discovery of %s: %v)", err, l.missingKey, derr)
			}
		case errors.Is(err, diaspora.ErrRelatedUnknown) && l.missingGUID != "" && !flushed && len(b.pending) > 0:
			// Perhaps an earlier item of this page: store it first.
			flushed = true
			if ferr := b.flush(); ferr != nil {
				return ferr
			}
		case errors.Is(err, diaspora.ErrRelatedUnknown) && l.missingGUID != "" && b.earlyRetraction(body, route, deliveryKey):
			// A retraction of something not here (yet): kept as a
			// tombstone, so the target cannot appear later.
			return nil
		case errors.Is(err, diaspora.ErrRelatedUnknown) && l.missingGUID != "" && !fetched && depth < b.e.cfg.FetchDepth:
			fetched = true
			if ferr := b.fetch(body, route, l.missingType, l.missingGUID, depth); ferr != nil {
				if b.fatal != nil {
					return b.fatal
				}
				return fmt.Errorf("%w (fetch of %s %s: %v)", err, l.missingType, l.missingGUID, ferr)
			}
		default:
			return err
		}
	}
	return errors.New("gave up after discovery and fetch")
}

// discover finds a person and stores them (the key is pinned from then
// on: a known person is never replaced here).
func (b *batch) discover(handle string) error {
	if b.e.cfg.Discovery == nil {
		return errors.New("discovery is off")
	}
	rec, err := b.e.cfg.Discovery.Person(b.ctx, handle)
	if err != nil {
		return err
	}
	if err := b.e.cfg.Host.AddPerson(b.ctx, rec); err != nil {
		b.fatal = err
		return err
	}
	return nil
}

// fetch gets a missing parent, root or target from the pods that may have
// it (the sender's, then the author's) and receives it first.
func (b *batch) fetch(body []byte, route, typ, guid string, depth int) error {
	if b.e.cfg.Discovery == nil {
		return errors.New("fetching is off")
	}
	if b.fetched == nil {
		b.fetched = map[string]bool{}
	}
	k := typ + ":" + guid
	if b.fetched[k] {
		return errors.New("already fetched in this page")
	}
	b.fetched[k] = true
	if len(b.fetched) > 64 {
		return errors.New("too many fetches for one page")
	}
	hosts := b.hostsFor(body, route)
	fetchType := snake(typ)
	var last error = errors.New("nobody to ask")
	for _, h := range hosts {
		doc, err := b.e.cfg.Discovery.Fetch(b.ctx, h, fetchType, guid)
		if err != nil {
			last = err
			if errors.Is(err, discover.ErrNotFound) {
				continue
			}
			continue
		}
		if err := b.accept("public", doc, "fetch", depth+1); err != nil {
			last = err
			continue
		}
		return b.flush()
	}
	return last
}

// hostsFor are the pods to ask for what an item refers to: the envelope
// sender's and the entity author's (and a reshare's root author's).
func (b *batch) hostsFor(body []byte, route string) []string {
	var out []string
	add := func(handle string) {
		if _, host, ok := strings.Cut(handle, "@"); ok && host != "" {
			for _, h := range out {
				if h == host {
					return
				}
			}
			out = append(out, host)
		}
	}
	doc := body
	if route == "private" {
		d, err := envelopeDecrypt(body, b.self.Key)
		if err != nil {
			return nil
		}
		doc = d
	}
	env, err := envelopeParse(doc)
	if err != nil {
		return nil
	}
	e, err := entity.Parse(env.Payload)
	if err == nil {
		if rs, ok := e.(*entity.Reshare); ok {
			add(strings.ToLower(rs.RootAuthorID))
		}
	}
	add(strings.ToLower(env.Sender))
	if err == nil {
		add(strings.ToLower(e.Author()))
	}
	return out
}

// snake is the /fetch type of a protocol type name.
func snake(typ string) string {
	switch typ {
	case "Post", "StatusMessage":
		return "post"
	case "Comment":
		return "comment"
	case "Poll":
		return "poll"
	case "Reshare":
		return "reshare"
	case "Photo":
		return "photo"
	case "Like":
		return "like"
	case "PollParticipation":
		return "poll_participation"
	}
	return strings.ToLower(typ)
}

// errRetractionAuthor: a retraction must name the target's author as
// its author (diaspora* always does, also when the root author moderates
// a comment; PROTOCOL.md §7.4): one that names someone else would be
// accepted by the rules and then never apply.
var errRetractionAuthor = errors.New("a retraction's author must be its target's author")

// accepted queues an accepted entity, and when it is someone's
// interaction on the user's own post, queues its relaying.
func (b *batch) accepted(r *diaspora.Received, deliveryKey string) error {
	if rt, ok := r.Entity.(*entity.Retraction); ok {
		l := &lookups{b: b}
		target, known := l.Related(rt.TargetType(), rt.TargetGUID())
		if l.err != nil {
			b.fatal = l.err
			return l.err
		}
		if known && !strings.EqualFold(target.Author, rt.Author()) {
			return fmt.Errorf("%w: %s %s is by %s, the retraction names %s", errRetractionAuthor, rt.TargetType(), rt.TargetGUID(), target.Author, rt.Author())
		}
	}
	b.pending = append(b.pending, Accepted{Payload: r.Payload, Entity: r.Entity, DeliveryKey: deliveryKey})
	if rel, ok := r.Entity.(entity.Relayable); ok && r.Sender != b.self.Handle && rel.Author() != b.self.Handle {
		return b.relayOwn(r, rel.ParentType(), rel.ParentGUID())
	}
	if rt, ok := r.Entity.(*entity.Retraction); ok && r.Sender != b.self.Handle {
		switch rt.TargetType() {
		case "Comment", "Like", "PollParticipation":
			return b.relayRetraction(r, rt)
		}
	}
	return nil
}

// relayOwn forwards someone's comment, like or poll vote on the user's
// own post to the post's audience, signed by the user as root author
// (PROTOCOL.md §7.3): the XML exactly as the author signed it.
func (b *batch) relayOwn(r *diaspora.Received, parentType, parentGUID string) error {
	l := &lookups{b: b}
	parent, ok := l.Related(parentType, parentGUID)
	if l.err != nil {
		b.fatal = l.err
		return l.err
	}
	if !ok || !parent.Local {
		return nil
	}
	postGUID := parentGUID
	if parentType != "Post" {
		pg, ok, err := b.e.cfg.Host.RootPost(b.ctx, parentType, parentGUID)
		if err != nil {
			b.fatal = err
			return err
		}
		if !ok {
			return nil
		}
		postGUID = pg
	}
	public, to, err := b.e.cfg.Host.PostAudience(b.ctx, postGUID)
	if err != nil {
		b.fatal = err
		return err
	}
	author := strings.ToLower(r.Entity.Author())
	_, authorHost, _ := strings.Cut(author, "@")
	var rs []Recipient
	for _, t := range to {
		if _, h, _ := strings.Cut(t.Handle, "@"); h == authorHost {
			continue // the author's pod has it
		}
		rs = append(rs, t)
	}
	if len(rs) == 0 {
		return nil
	}
	guid := entity.GUIDOf(r.Entity)
	key := "relay:" + guid
	if guid == "" {
		key = "relay:" + r.Entity.Type() + ":" + hashHex(r.Payload)
		guid = derivedGUID(key)
	}
	b.relays = append(b.relays, Outgoing{Key: key, GUID: guid, EntityType: r.Entity.Type(),
		Payload: r.Payload, Public: public, Recipients: rs})
	return nil
}

// relayRetraction forwards a retraction of an interaction on the user's
// own post (by its author) to the post's audience.
func (b *batch) relayRetraction(r *diaspora.Received, rt *entity.Retraction) error {
	return b.relayOwn(r, rt.TargetType(), rt.TargetGUID())
}

// keyOf parses a PEM public key.
func keyOf(pemText string) (*rsa.PublicKey, error) { return keys.ParsePublic([]byte(pemText)) }

// earlyRetraction accepts a retraction whose target is unknown here when
// its author signed the envelope: the signature was verified before the
// target was looked up (the entity stage comes after the signature), and
// the store applies a retraction only to a target by the same author, so
// it can only ever tombstone the sender's own entity. Queued when
// accepted.
func (b *batch) earlyRetraction(body []byte, route, deliveryKey string) bool {
	doc := body
	if route == "private" {
		d, err := envelopeDecrypt(body, b.self.Key)
		if err != nil {
			return false
		}
		doc = d
	}
	env, err := envelopeParse(doc)
	if err != nil {
		return false
	}
	e, err := entity.Parse(env.Payload)
	if err != nil {
		return false
	}
	rt, ok := e.(*entity.Retraction)
	if !ok || !strings.EqualFold(env.Sender, rt.Author()) {
		return false
	}
	switch rt.TargetType() {
	case "Post", "StatusMessage", "Reshare", "Comment", "Like", "PollParticipation", "Photo":
	default:
		return false
	}
	b.pending = append(b.pending, Accepted{Payload: env.Payload, Entity: e, DeliveryKey: deliveryKey})
	return true
}

// preverify runs the receive rules over a page on every core (the RSA
// signature checks are most of an item's cost) against what the pod
// holds before the page. An item that passes needs nothing more; one that
// does not (unknown sender, parent later in the page or to be fetched,
// refused) is nil here and goes through accept, in page order, which
// discovers, fetches, stores earlier items first and reports refusals.
func (b *batch) preverify(items []relay.InboxItem) []*diaspora.Received {
	out := make([]*diaspora.Received, len(items))
	workers := min(runtime.GOMAXPROCS(0), len(items))
	if workers < 2 {
		return out // nothing to gain: accept does the same work
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				l := &lookups{b: b}
				var r *diaspora.Received
				var err error
				if items[i].Route == "private" {
					r, err = diaspora.ReceivePrivate(items[i].Body, b.self.Key, b.self.Handle, l, l)
				} else {
					r, err = diaspora.ReceivePublic(items[i].Body, l, l)
				}
				if err == nil && l.err == nil {
					out[i] = r
				}
			}
		})
	}
	for i := range items {
		if b.ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}
