// Package diaspora is the diaspora* federation protocol, pure: no database, no
// network, no UI (a test enforces the import rule for the whole tree). Its
// subpackages own the pieces — id (diaspora IDs, GUIDs), keys (RSA keys and
// signatures), envelope (magic and encrypted envelopes), entity (every entity,
// its XML and relayable signatures), discovery (WebFinger, host-meta, hCard,
// NodeInfo) — and this package owns the receive rules that put them together
// (PROTOCOL.md §3.3, §7.3, §7.4, §9): what a pod accepts, and at which stage
// it refuses.
//
// What the receiver knows of the world comes in through two interfaces it
// owns, KeyLookup and RelatedLookup, so the rules can be tested with vectors
// and fuzzed, and the federation engine supplies the database behind them.
package diaspora

import (
	"crypto/rsa"
	"errors"
	"fmt"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/id"
)

// Stage names where a received message was refused. The names are part of
// `seedpod proto`'s output and stable.
type Stage string

const (
	// StageEnvelope: envelope structure, data type, encoding, algorithm.
	StageEnvelope Stage = "envelope"
	// StageSignature: the magic signature, or no key known for the sender.
	StageSignature Stage = "signature"
	// StageDecrypt: the encrypted envelope could not be opened.
	StageDecrypt Stage = "decrypt"
	// StageEntity: entity parse and validation, relayable and migration
	// signatures, and the related entity (parent, target, root).
	StageEntity Stage = "entity"
	// StageReceive: the sender may not send this, or it is not public on
	// the public route.
	StageReceive Stage = "receive"
)

// Rejection is the error every refusal returns.
type Rejection struct {
	Stage Stage
	Err   error
}

func (r *Rejection) Error() string { return string(r.Stage) + ": " + r.Err.Error() }
func (r *Rejection) Unwrap() error { return r.Err }

func reject(s Stage, err error) error { return &Rejection{Stage: s, Err: err} }

// StageOf returns the stage of a rejection, or "" for other errors.
func StageOf(err error) Stage {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Stage
	}
	return ""
}

// Reasons a message is refused beyond what the subpackages report.
var (
	ErrUnknownSender  = errors.New("no public key known for the sender")
	ErrRelatedUnknown = errors.New("the related entity is unknown here") // fetch it, then receive again
	ErrNotAllowed     = errors.New("sender may not send this entity")
	ErrNotPublic      = errors.New("entity is not public but came on the public route")
	ErrNotLocal       = errors.New("the parent is not local to this pod")
	ErrWrongRecipient = errors.New("entity is not addressed to the recipient it was delivered to")
)

// KeyLookup returns the public key this pod knows for a normalised diaspora
// ID. ok is false when none is known (the engine discovers it and retries).
type KeyLookup interface {
	PublicKey(diasporaID string) (key *rsa.PublicKey, ok bool)
}

// Keys is a KeyLookup over a map.
type Keys map[string]*rsa.PublicKey

// PublicKey implements KeyLookup.
func (k Keys) PublicKey(diasporaID string) (*rsa.PublicKey, bool) {
	pk, ok := k[diasporaID]
	return pk, ok && pk != nil
}

// Related is what the receiver knows of an entity that a received one refers
// to: a relayable's parent, a retraction's target, a reshare's root, a
// participation's post.
type Related struct {
	// Author is the related entity's author (normalised diaspora ID).
	Author string
	// RootAuthor is the author of the root post when the related entity is
	// itself a relayable (a like on a comment); empty means Author is the
	// root's author.
	RootAuthor string
	// Local is true when the root's author is a user of this pod: then this
	// pod relays relayables on it and accepts them from their authors.
	Local bool
	// Public is true when the related entity is public.
	Public bool
}

// root returns the root author.
func (r Related) root() string {
	if r.RootAuthor != "" {
		return r.RootAuthor
	}
	return r.Author
}

// RelatedLookup finds a related entity by the reference's type name ("Post",
// "Comment", "Poll", …) and GUID. ok is false when it is unknown here.
type RelatedLookup interface {
	Related(typ, guid string) (r Related, ok bool)
}

// NoRelated is a RelatedLookup that knows nothing.
type NoRelated struct{}

// Related implements RelatedLookup.
func (NoRelated) Related(string, string) (Related, bool) { return Related{}, false }

// Received is an accepted message.
type Received struct {
	// Sender is the envelope's signer (normalised).
	Sender string
	// Entity is the parsed, validated entity.
	Entity entity.Entity
	// Payload is the entity XML exactly as signed.
	Payload []byte
}

// ReceivePublic runs the reference's receive steps for the public route
// (PROTOCOL.md §3.3): envelope, sender key, signature, entity, related
// entity checks, sender authorisation, and the public-flag check.
func ReceivePublic(doc []byte, keys KeyLookup, rel RelatedLookup) (*Received, error) {
	return receive(doc, keys, rel, "")
}

// ReceivePrivate decrypts a private delivery with the recipient's key and
// receives the envelope inside it as ReceivePublic does, without the public
// checks but with the recipient binding the reference lacks (PROTOCOL.md
// §12): recipient is the owner of the /receive/users/:guid URL (a
// normalised diaspora ID), and a Contact or Conversation must name them.
func ReceivePrivate(body []byte, ours *rsa.PrivateKey, recipient string, keys KeyLookup, rel RelatedLookup) (*Received, error) {
	if recipient == "" {
		return nil, errors.New("ReceivePrivate: no recipient (use ReceivePrivateUnbound only where none is known)")
	}
	r, err := ReceivePrivateUnbound(body, ours, keys, rel)
	if err != nil {
		return nil, err
	}
	if err := checkRecipient(r.Entity, recipient); err != nil {
		return nil, reject(StageReceive, err)
	}
	return r, nil
}

// ReceivePrivateUnbound is ReceivePrivate without the recipient binding, for
// tools that inspect a delivery out of context (`seedpod proto
// decrypt-private` without --recipient). A pod never uses it.
func ReceivePrivateUnbound(body []byte, ours *rsa.PrivateKey, keys KeyLookup, rel RelatedLookup) (*Received, error) {
	doc, err := envelope.Decrypt(body, ours)
	if err != nil {
		return nil, reject(StageDecrypt, err)
	}
	return receive(doc, keys, rel, privateRoute)
}

const privateRoute = "private"

func receive(doc []byte, keys KeyLookup, rel RelatedLookup, route string) (*Received, error) {
	if keys == nil {
		keys = Keys(nil)
	}
	if rel == nil {
		rel = NoRelated{}
	}
	env, err := envelope.Parse(doc)
	if err != nil {
		return nil, reject(StageEnvelope, err)
	}
	sender, err := id.Normalize(env.Sender)
	if err != nil {
		return nil, reject(StageEnvelope, fmt.Errorf("key_id: %w", err))
	}
	pub, ok := keys.PublicKey(sender)
	if !ok {
		return nil, reject(StageSignature, fmt.Errorf("%w: %s", ErrUnknownSender, sender))
	}
	if err := env.Verify(pub); err != nil {
		return nil, reject(StageSignature, err)
	}
	e, err := entity.Parse(env.Payload)
	if err != nil {
		return nil, reject(StageEntity, err)
	}
	if err := checkRelated(e, keys, rel, sender); err != nil {
		return nil, err
	}
	if route != privateRoute {
		if err := checkPublic(e, rel); err != nil {
			return nil, reject(StageReceive, err)
		}
	}
	return &Received{Sender: sender, Entity: e, Payload: env.Payload}, nil
}
