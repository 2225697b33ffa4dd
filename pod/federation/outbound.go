package federation

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/relay"
	"seedpod/pod/relayclient"
)

// sendBatch is how many pending changes one round hands over.
const sendBatch = 50

// SendPending hands the pod's pending changes to the relay and returns
// how many it handed. A recipient who cannot be reached (unknown person,
// discovery failing) is left out of that item and logged; the item counts
// as handed for the others.
func (e *Engine) SendPending(ctx context.Context) (int, error) {
	self, err := e.cfg.Host.Self(ctx)
	if err != nil {
		if errors.Is(err, ErrNoIdentity) {
			return 0, nil
		}
		return 0, err
	}
	if self.RelayURL == "" {
		return 0, nil
	}
	items, err := e.cfg.Host.Pending(ctx, sendBatch)
	if err != nil {
		return 0, fmt.Errorf("read pending changes: %w", err)
	}
	e.update(func(s *Status) { s.OutboxPending = len(items) })
	if len(items) == 0 {
		return 0, nil
	}
	if err := e.send(ctx, self, items); err != nil {
		return 0, err
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	if err := e.cfg.Host.MarkHanded(ctx, keys); err != nil {
		return 0, fmt.Errorf("record handed changes: %w", err)
	}
	n := int64(len(items))
	e.log.Debug("federation: handed to the relay", "items", n)
	e.update(func(s *Status) { s.Handed += n; s.OutboxPending = 0 })
	return len(items), nil
}

// send signs, encrypts and hands items to the relay (and publishes or
// unpublishes public ones). It is idempotent: the relay deduplicates by
// guid and recipient, and publishing replaces.
func (e *Engine) send(ctx context.Context, self Self, items []Outgoing) error {
	c, err := relayclient.New(self.RelayURL, self.Username, self.Key, e.cfg.Relay)
	if err != nil {
		return err
	}
	uploaded := map[string]bool{}
	for _, it := range items {
		for _, u := range it.Uploads {
			if uploaded[u.Name] {
				continue
			}
			ct, data, err := u.Load()
			if err != nil {
				return fmt.Errorf("read media %s for %s: %w", u.Name, it.Key, err)
			}
			res, err := c.UploadMedia(ctx, ct, data)
			if err != nil {
				return fmt.Errorf("upload media %s for %s: %w", u.Name, it.Key, err)
			}
			if res.Name != u.Name {
				return fmt.Errorf("upload media for %s: the relay named it %q, the entity names %q", it.Key, res.Name, u.Name)
			}
			uploaded[u.Name] = true
		}
	}
	var out []relay.OutboxItem
	var pub []relay.PublishItem
	for _, it := range items {
		sender := self.Handle
		if it.Sender != "" {
			sender = it.Sender
		}
		env, err := envelope.Sign(it.Payload, sender, self.Key)
		if err != nil {
			e.log.Error("federation: cannot sign an own change; skipped", "key", it.Key, "type", it.EntityType, "err", err)
			continue
		}
		kind := ""
		if it.Contact {
			kind = "contact"
		}
		if it.Public {
			for _, host := range podsOf(it.Recipients, self.Handle) {
				out = append(out, relay.OutboxItem{GUID: it.GUID, Recipient: "https://" + host + "/receive/public",
					ContentType: "application/magic-envelope+xml", Body: env, Kind: kind})
			}
		} else {
			for _, r := range it.Recipients {
				if r.Handle == "" || r.Handle == self.Handle {
					continue
				}
				p, err := e.person(ctx, r.Handle)
				if err != nil {
					e.log.Warn("federation: recipient unreachable; skipped", "key", it.Key, "recipient", r.Handle, "err", err)
					continue
				}
				body, err := envelope.Encrypt(env, p.Key)
				if err != nil {
					return fmt.Errorf("encrypt %s for %s: %w", it.Key, r.Handle, err)
				}
				_, host, _ := strings.Cut(p.Handle, "@")
				out = append(out, relay.OutboxItem{GUID: it.GUID, Recipient: "https://" + host + "/receive/users/" + p.GUID,
					ContentType: "application/json", Body: body, Kind: kind})
			}
		}
		if it.PublishType != "" {
			pub = append(pub, relay.PublishItem{Type: it.PublishType, GUID: it.PublishGUID, Envelope: env})
		}
	}
	if len(pub) > 0 {
		if _, err := c.Publish(ctx, pub); err != nil {
			return fmt.Errorf("publish %d public entities: %w", len(pub), err)
		}
	}
	for _, it := range items {
		if it.UnpublishType != "" {
			if err := c.Unpublish(ctx, it.UnpublishType, it.UnpublishGUID); err != nil && !isNotFound(err) {
				return fmt.Errorf("unpublish %s %s: %w", it.UnpublishType, it.UnpublishGUID, err)
			}
		}
		if it.UpdateProfile != nil {
			if err := c.UpdateProfile(ctx, *it.UpdateProfile); err != nil {
				return fmt.Errorf("update the relay's profile: %w", err)
			}
		}
	}
	if len(out) > 0 {
		if _, err := c.HandOver(ctx, out); err != nil {
			return fmt.Errorf("hand %d deliveries to the relay: %w", len(out), err)
		}
	}
	e.contacted()
	return nil
}

func isNotFound(err error) bool {
	var ae *relayclient.APIError
	return errors.As(err, &ae) && ae.Status == 404
}

// person is a recipient with their key: from the cache, the pod, or
// discovery (then stored).
func (e *Engine) person(ctx context.Context, handle string) (Person, error) {
	if p, ok := e.keys.get(handle); ok && p.GUID != "" {
		return p, nil
	}
	p, ok, err := e.cfg.Host.Person(ctx, handle)
	if err != nil {
		return Person{}, err
	}
	if ok && p.Key != nil && p.GUID != "" {
		e.keys.put(p)
		return p, nil
	}
	if e.cfg.Discovery == nil {
		return Person{}, errors.New("unknown, and discovery is off")
	}
	rec, err := e.cfg.Discovery.Person(ctx, handle)
	if err != nil {
		return Person{}, err
	}
	if err := e.cfg.Host.AddPerson(ctx, rec); err != nil {
		return Person{}, err
	}
	k, err := keyOf(rec.PublicKey)
	if err != nil {
		return Person{}, err
	}
	p = Person{GUID: rec.GUID, Handle: rec.DiasporaID, Key: k}
	e.keys.put(p)
	return p, nil
}

// Discover finds a person by diaspora ID and stores them (the API's
// people search by diaspora ID).
func (e *Engine) Discover(ctx context.Context, handle string) error {
	if e.cfg.Discovery == nil {
		return errors.New("discovery is off")
	}
	rec, err := e.cfg.Discovery.Person(ctx, handle)
	if err != nil {
		return err
	}
	return e.cfg.Host.AddPerson(ctx, rec)
}

// Deliveries is the relay's per-recipient status of an item (by its
// relay guid).
func (e *Engine) Deliveries(ctx context.Context, guid string) ([]relay.DeliveryStatus, error) {
	c, _, err := e.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.Status(ctx, guid)
}

// podsOf is the distinct pods (hosts) of the recipients, without the
// user's own, sorted.
func podsOf(rs []Recipient, self string) []string {
	var hosts []string
	for _, r := range rs {
		if r.Handle == "" || r.Handle == self {
			continue
		}
		if _, h, ok := strings.Cut(r.Handle, "@"); ok && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	return hosts
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// DerivedGUID is a stable 32-hex guid for a key (items without a guid of
// their own: retractions, profile and contact states).
func DerivedGUID(key string) string { return derivedGUID(key) }

func derivedGUID(key string) string { return hashHex([]byte(key))[:32] }

func envelopeDecrypt(body []byte, key *rsa.PrivateKey) ([]byte, error) {
	return envelope.Decrypt(body, key)
}

func envelopeParse(doc []byte) (*envelope.Envelope, error) { return envelope.Parse(doc) }
