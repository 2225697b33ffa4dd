// Package entity owns the diaspora* federation entities (PROTOCOL.md §7):
// their Go types, decoding from and encoding to the XML carried in magic
// envelopes (and the archive JSON form, §7.5), the validation rules of §9,
// relayable author signatures (§7.3) and the AccountMigration signature
// (§10).
//
// It is pure: it imports only the standard library and the id and keys
// packages; no files, network or database. Envelopes, discovery, storage
// and the receive rules that need them live elsewhere and call in here.
package entity

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Sentinels. Every error returned by this package wraps exactly one of them
// and names the entity type, field and (truncated) value concerned.
var (
	ErrUnknownEntity = errors.New("unknown entity")
	ErrParse         = errors.New("malformed entity")
	ErrInvalid       = errors.New("invalid entity")
	ErrSignature     = errors.New("entity signature verification failed")
)

// TimeLayout is how the reference renders timestamps.
const TimeLayout = "2006-01-02T15:04:05Z"

// Entity is any federation entity.
type Entity interface {
	// Type is the snake_case root element name ("status_message", ...).
	Type() string
	// Author is the normalised diaspora ID of the author, "" for the
	// nested-only entities that have none (location, poll, poll_answer, embed).
	Author() string
}

// codec is implemented by every concrete type.
type codec interface {
	Entity
	decode(r *reader) // fills the entity from a node; errors go to r
	encode() *node    // builds the canonical tree
	validate() error
}

func newEntity(typ string) codec {
	switch typ {
	case "status_message":
		return &StatusMessage{}
	case "photo":
		return &Photo{}
	case "location":
		return &Location{}
	case "poll":
		return &Poll{}
	case "poll_answer":
		return &PollAnswer{}
	case "event":
		return &Event{}
	case "embed":
		return &Embed{}
	case "profile":
		return &Profile{}
	case "reshare":
		return &Reshare{}
	case "comment":
		return &Comment{}
	case "like":
		return &Like{}
	case "poll_participation":
		return &PollParticipation{}
	case "event_participation":
		return &EventParticipation{}
	case "participation":
		return &Participation{}
	case "contact":
		return &Contact{}
	case "conversation":
		return &Conversation{}
	case "message":
		return &Message{}
	case "retraction":
		return &Retraction{}
	case "account_deletion":
		return &AccountDeletion{}
	case "account_migration":
		return &AccountMigration{}
	}
	return nil
}

// Parse decodes and validates one entity from its XML (as carried in a
// magic envelope; an XML declaration is tolerated). It returns a pointer to
// the concrete type. Relayables keep their received element order and
// unknown elements (§7.3); other types ignore unknown elements.
func Parse(payload []byte) (Entity, error) {
	root, err := parseXML(payload)
	if err != nil {
		return nil, err
	}
	return fromNode(root)
}

func fromNode(root *node) (Entity, error) {
	e := newEntity(root.name)
	if e == nil {
		return nil, fmt.Errorf("%w: root element %q", ErrUnknownEntity, trunc(root.name))
	}
	r := &reader{n: root, typ: root.name}
	e.decode(r)
	if r.err != nil {
		return nil, r.err
	}
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// Marshal validates e and renders its canonical XML exactly as the
// reference emits it: no declaration, two-space indentation, §7.2 element
// order (a parsed relayable keeps its received order and unknown
// elements), timestamps as TimeLayout in UTC, no trailing newline.
func Marshal(e Entity) ([]byte, error) {
	c, err := validCodec(e)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	writeXML(&b, c.encode(), 0)
	return b.Bytes(), nil
}

// validCodec returns e as one of this package's entities, validated: the
// common first step of every encoder.
func validCodec(e Entity) (codec, error) {
	c, ok := e.(codec)
	if !ok || c == nil {
		return nil, fmt.Errorf("%w: cannot marshal %T", ErrUnknownEntity, e)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Public reports whether the entity type has a `public` property (status
// message, photo, profile) and its value — what the public-route check of
// §3.3 step 9 needs.
func Public(e Entity) (has bool, public bool) {
	switch v := e.(type) {
	case *StatusMessage:
		return true, v.Public
	case *Photo:
		return true, v.Public
	case *Profile:
		return true, v.Public
	}
	return false, false
}

// AcceptableOnPublicRoute applies §3.3 step 9: an entity with a public
// property must be public, except a Profile carrying only base fields.
func AcceptableOnPublicRoute(e Entity) bool {
	has, pub := Public(e)
	if !has || pub {
		return true
	}
	if p, ok := e.(*Profile); ok {
		return p.OnlyPublicFields()
	}
	return false
}

// GUIDOf returns the GUID of entities that have one, "" otherwise.
func GUIDOf(e Entity) string {
	if g, ok := e.(interface{ GUID() string }); ok {
		return g.GUID()
	}
	return ""
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

func trunc(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && (s[i]&0xC0) == 0x80 {
		i--
	}
	return s[:i] + "…"
}
