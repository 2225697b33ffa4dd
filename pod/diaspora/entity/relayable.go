package entity

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"seedpod/pod/diaspora/keys"
)

// Relayable is an interaction that travels author → root author →
// everyone, carrying the author's signature (§7.3): Comment, Like,
// PollParticipation, EventParticipation.
type Relayable interface {
	Entity
	GUID() string
	ParentGUID() string
	// ParentType is the reference's class name of the parent: "Post" for a
	// comment, the parent_type element for a like, "Poll", "Event".
	ParentType() string
	// AuthorSignature is the author_signature element (standard base64).
	AuthorSignature() string
	// SignatureString is the §7.3 signed string: values of the elements in
	// received order (declaration order when built locally), normalised
	// for known properties, raw for unknown ones, excluding every element
	// whose name contains "signature", joined with ";".
	SignatureString() string
	relay() *Relay
	props() []prop
}

// Relay is what a relayable carries beyond its known properties. A root
// author's pod stores it to re-emit the relayable unchanged (§7.3).
type Relay struct {
	// Order lists element names in received order (first occurrence each,
	// signature elements excluded). Nil means declaration order.
	Order []string
	// Unknown holds the raw text of elements the reference does not know
	// (e.g. thread_parent_guid), by name.
	Unknown map[string]string
	// Signature is author_signature, standard base64; "" when the author
	// is the root author (gem 1.x omits it then).
	Signature string
}

func (r *Relay) relay() *Relay           { return r }
func (r *Relay) AuthorSignature() string { return r.Signature }

// prop is a known property of a relayable with its canonical value.
type prop struct {
	name string
	val  string
	emit bool // emitted when building in declaration order (false for nil optionals)
	kind kind
}

func req(name, v string) prop               { return prop{name: name, val: v, emit: true} }
func opt(name, v string) prop               { return prop{name: name, val: v, emit: v != ""} }
func optTime(name string, t time.Time) prop { return opt(name, fmtTime(t)) }

// capture records order, unknown elements and the signature of a parsed
// relayable.
func (rl *Relay) capture(n *node, known []prop) {
	isKnown := make(map[string]bool, len(known))
	for _, p := range known {
		isKnown[p.name] = true
	}
	seen := make(map[string]bool, len(n.kids))
	rl.Order = []string{}
	for _, k := range n.kids {
		if seen[k.name] {
			continue
		}
		seen[k.name] = true
		if k.name == "author_signature" {
			rl.Signature = k.text
		}
		if strings.Contains(k.name, "signature") {
			continue
		}
		rl.Order = append(rl.Order, k.name)
		if !isKnown[k.name] {
			if rl.Unknown == nil {
				rl.Unknown = map[string]string{}
			}
			rl.Unknown[k.name] = k.text
		}
	}
}

// fields returns (name, value, kind) in effective order: the stored Order,
// then any set known property missing from it, in declaration order.
func fields(r Relayable) []prop {
	rl := r.relay()
	known := r.props()
	if rl.Order == nil {
		out := make([]prop, 0, len(known))
		for _, p := range known {
			if p.emit {
				out = append(out, p)
			}
		}
		return out
	}
	byName := make(map[string]prop, len(known))
	for _, p := range known {
		byName[p.name] = p
	}
	out := make([]prop, 0, len(rl.Order)+len(known))
	in := make(map[string]bool, len(rl.Order))
	for _, name := range rl.Order {
		if in[name] || strings.Contains(name, "signature") {
			continue
		}
		in[name] = true
		if p, ok := byName[name]; ok {
			out = append(out, p)
		} else {
			out = append(out, prop{name: name, val: rl.Unknown[name]})
		}
	}
	for _, p := range known {
		if p.emit && !in[p.name] {
			out = append(out, p)
		}
	}
	return out
}

func signatureString(r Relayable) string {
	fs := fields(r)
	vals := make([]string, len(fs))
	for i, f := range fs {
		vals[i] = sanitize(f.val)
	}
	return strings.Join(vals, ";")
}

func encodeRelayable(r Relayable) *node {
	n := &node{name: r.Type()}
	for _, f := range fields(r) {
		n.kids = append(n.kids, &node{name: f.name, text: sanitize(f.val), kind: f.kind})
	}
	if s := r.AuthorSignature(); s != "" {
		n.kids = append(n.kids, &node{name: "author_signature", text: sanitize(s)})
	}
	return n
}

func checkUnknownNames(c *checker, rl *Relay) {
	for name := range rl.Unknown {
		if !validName(name) {
			c.fail(name, "invalid element name")
		}
	}
	for _, name := range rl.Order {
		if !validName(name) {
			c.fail(name, "invalid element name")
		}
	}
}

// validName accepts the element names we can re-emit safely.
func validName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	// Any XML name without a namespace prefix: the reference keeps and
	// relays unknown elements whatever their script.
	for i, r := range s {
		ok := r == '_' || unicode.IsLetter(r) ||
			(i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)))
		if !ok {
			return false
		}
	}
	return true
}

// VerifyAuthorSignature checks r's author_signature with the author's
// public key. The error wraps ErrSignature when it is missing or invalid.
func VerifyAuthorSignature(r Relayable, pub *rsa.PublicKey) error {
	if pub == nil {
		return fmt.Errorf("%w: %s %s: no public key for %s", ErrSignature, r.Type(), trunc(r.GUID()), r.Author())
	}
	raw := r.AuthorSignature()
	if raw == "" {
		return fmt.Errorf("%w: %s %s: author_signature missing", ErrSignature, r.Type(), trunc(r.GUID()))
	}
	sig, err := decodeSig(raw)
	if err != nil {
		return fmt.Errorf("%w: %s %s: author_signature: %v", ErrSignature, r.Type(), trunc(r.GUID()), err)
	}
	if err := keys.Verify(pub, []byte(r.SignatureString()), sig); err != nil {
		return fmt.Errorf("%w: %s %s by %s: %w", ErrSignature, r.Type(), trunc(r.GUID()), r.Author(), err)
	}
	return nil
}

// decodeSig decodes standard base64 the way Ruby's decode64 does:
// characters outside the alphabet (line breaks, spaces) are ignored.
func decodeSig(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	return base64.RawStdEncoding.DecodeString(string(clean))
}

// SignAuthor sets a relayable's author_signature (its Signature field):
// SignatureString signed with the author's key. For entities built in
// code (an archive's, a test's); a received payload is signed with
// SignRelayable, which keeps its bytes.
func SignAuthor(r Relayable, priv *rsa.PrivateKey) error {
	if priv == nil {
		return fmt.Errorf("%w: %s: no private key", ErrSignature, r.Type())
	}
	sig, err := keys.Sign(priv, []byte(r.SignatureString()))
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrSignature, r.Type(), trunc(r.GUID()), err)
	}
	enc := base64.StdEncoding.EncodeToString(sig)
	switch v := r.(type) {
	case *Comment:
		v.Signature = enc
	case *Like:
		v.Signature = enc
	case *PollParticipation:
		v.Signature = enc
	case *EventParticipation:
		v.Signature = enc
	default:
		return fmt.Errorf("%w: %s has no author_signature", ErrInvalid, r.Type())
	}
	return nil
}

// SignRelayable parses a relayable's XML, signs its SignatureString with
// the author's key and returns the same bytes with <author_signature>
// placed last (an existing one is removed): element order, unknown
// elements and all other bytes are kept.
func SignRelayable(payload []byte, priv *rsa.PrivateKey) ([]byte, error) {
	root, err := parseXML(payload)
	if err != nil {
		return nil, err
	}
	e, err := fromNode(root)
	if err != nil {
		return nil, err
	}
	r, ok := e.(Relayable)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a relayable", ErrInvalid, e.Type())
	}
	if priv == nil {
		return nil, fmt.Errorf("%w: %s: no private key", ErrSignature, e.Type())
	}
	sig, err := keys.Sign(priv, []byte(r.SignatureString()))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrSignature, e.Type(), trunc(r.GUID()), err)
	}
	// Cut every author_signature element together with the whitespace
	// before it, then insert the new one after the last remaining child,
	// indented like that child.
	var out bytes.Buffer
	pos := int64(0)
	var last *node
	indent := []byte("\n  ")
	for _, k := range root.kids {
		if k.name != "author_signature" {
			last = k
			continue
		}
		ws := k.start
		for ws > pos && isSpace(payload[ws-1]) {
			ws--
		}
		out.Write(payload[pos:ws])
		pos = k.end
	}
	rest := payload[pos:]
	// rest contains everything from the last cut to EOF; the new element
	// goes right after the last non-signature child if it lies in rest.
	insertAt := int64(-1)
	if last != nil {
		ws := last.start
		for ws > 0 && isSpace(payload[ws-1]) {
			ws--
		}
		if ws < last.start {
			indent = payload[ws:last.start]
		}
		if last.end >= pos {
			insertAt = last.end - pos
		}
	}
	if insertAt < 0 {
		// The last real child precedes a cut: insert before the root end tag.
		endTag := bytes.LastIndex(rest, []byte("</"))
		ws := endTag
		for ws > 0 && isSpace(rest[ws-1]) {
			ws--
		}
		insertAt = int64(ws)
	}
	out.Write(rest[:insertAt])
	out.Write(indent)
	out.WriteString("<author_signature>")
	out.WriteString(base64.StdEncoding.EncodeToString(sig))
	out.WriteString("</author_signature>")
	out.Write(rest[insertAt:])
	return out.Bytes(), nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Comment is a comment on a post (relayable, parent type Post).
type Comment struct {
	AuthorID  string
	ID        string
	Parent    string // parent post GUID
	Text      string
	CreatedAt time.Time
	EditedAt  time.Time
	Relay
}

func (*Comment) Type() string              { return "comment" }
func (c *Comment) Author() string          { return c.AuthorID }
func (c *Comment) GUID() string            { return c.ID }
func (c *Comment) ParentGUID() string      { return c.Parent }
func (*Comment) ParentType() string        { return "Post" }
func (c *Comment) SignatureString() string { return signatureString(c) }
func (c *Comment) props() []prop {
	return []prop{req("author", c.AuthorID), req("guid", c.ID), req("parent_guid", c.Parent),
		req("text", c.Text), optTime("created_at", c.CreatedAt), optTime("edited_at", c.EditedAt)}
}
func (c *Comment) decode(r *reader) {
	c.AuthorID, c.ID, c.Parent, c.Text = r.str("author"), r.str("guid"), r.str("parent_guid"), r.str("text")
	c.CreatedAt, c.EditedAt = r.time("created_at"), r.time("edited_at")
	c.capture(r.n, c.props())
}
func (c *Comment) encode() *node { return encodeRelayable(c) }
func (c *Comment) validate() error {
	k := &checker{typ: c.Type()}
	k.diasporaID("author", c.AuthorID, true)
	k.guid("guid", c.ID, true)
	k.guid("parent_guid", c.Parent, true)
	k.required("text", c.Text)
	k.maxLen("text", c.Text, MaxText)
	checkUnknownNames(k, &c.Relay)
	return k.err
}

// Like is a like (Positive) or dislike of a Post or Comment.
type Like struct {
	AuthorID       string
	ID             string
	Parent         string
	ParentTypeName string // "Post" or "Comment"
	Positive       bool
	Relay
}

func (*Like) Type() string              { return "like" }
func (l *Like) Author() string          { return l.AuthorID }
func (l *Like) GUID() string            { return l.ID }
func (l *Like) ParentGUID() string      { return l.Parent }
func (l *Like) ParentType() string      { return l.ParentTypeName }
func (l *Like) SignatureString() string { return signatureString(l) }
func (l *Like) props() []prop {
	p := req("positive", strconv.FormatBool(l.Positive))
	p.kind = kBool
	return []prop{req("author", l.AuthorID), req("guid", l.ID), req("parent_guid", l.Parent),
		req("parent_type", l.ParentTypeName), p}
}
func (l *Like) decode(r *reader) {
	l.AuthorID, l.ID, l.Parent, l.ParentTypeName = r.str("author"), r.str("guid"), r.str("parent_guid"), r.str("parent_type")
	if _, ok := r.raw("positive"); !ok {
		r.fail(ErrInvalid, "positive", "missing")
	}
	l.Positive = r.boolean("positive", false)
	l.capture(r.n, l.props())
}
func (l *Like) encode() *node { return encodeRelayable(l) }
func (l *Like) validate() error {
	k := &checker{typ: l.Type()}
	k.diasporaID("author", l.AuthorID, true)
	k.guid("guid", l.ID, true)
	k.guid("parent_guid", l.Parent, true)
	if l.ParentTypeName != "Post" && l.ParentTypeName != "Comment" {
		k.fail("parent_type", "must be Post or Comment, got %q", trunc(l.ParentTypeName))
	}
	checkUnknownNames(k, &l.Relay)
	return k.err
}

// PollParticipation is a vote (relayable, parent type Poll).
type PollParticipation struct {
	AuthorID       string
	ID             string
	Parent         string // poll GUID
	PollAnswerGUID string
	Relay
}

func (*PollParticipation) Type() string              { return "poll_participation" }
func (p *PollParticipation) Author() string          { return p.AuthorID }
func (p *PollParticipation) GUID() string            { return p.ID }
func (p *PollParticipation) ParentGUID() string      { return p.Parent }
func (*PollParticipation) ParentType() string        { return "Poll" }
func (p *PollParticipation) SignatureString() string { return signatureString(p) }
func (p *PollParticipation) props() []prop {
	return []prop{req("author", p.AuthorID), req("guid", p.ID), req("parent_guid", p.Parent),
		req("poll_answer_guid", p.PollAnswerGUID)}
}
func (p *PollParticipation) decode(r *reader) {
	p.AuthorID, p.ID, p.Parent, p.PollAnswerGUID = r.str("author"), r.str("guid"), r.str("parent_guid"), r.str("poll_answer_guid")
	p.capture(r.n, p.props())
}
func (p *PollParticipation) encode() *node { return encodeRelayable(p) }
func (p *PollParticipation) validate() error {
	k := &checker{typ: p.Type()}
	k.diasporaID("author", p.AuthorID, true)
	k.guid("guid", p.ID, true)
	k.guid("parent_guid", p.Parent, true)
	k.guid("poll_answer_guid", p.PollAnswerGUID, true)
	checkUnknownNames(k, &p.Relay)
	return k.err
}

// EventParticipation answers an Event (relayable, parent type Event).
type EventParticipation struct {
	AuthorID string
	ID       string
	Parent   string // event GUID
	Status   string // accepted, declined, tentative
	EditedAt time.Time
	Relay
}

func (*EventParticipation) Type() string              { return "event_participation" }
func (p *EventParticipation) Author() string          { return p.AuthorID }
func (p *EventParticipation) GUID() string            { return p.ID }
func (p *EventParticipation) ParentGUID() string      { return p.Parent }
func (*EventParticipation) ParentType() string        { return "Event" }
func (p *EventParticipation) SignatureString() string { return signatureString(p) }
func (p *EventParticipation) props() []prop {
	return []prop{req("author", p.AuthorID), req("guid", p.ID), req("parent_guid", p.Parent),
		req("status", p.Status), optTime("edited_at", p.EditedAt)}
}
func (p *EventParticipation) decode(r *reader) {
	p.AuthorID, p.ID, p.Parent, p.Status = r.str("author"), r.str("guid"), r.str("parent_guid"), r.str("status")
	p.EditedAt = r.time("edited_at")
	p.capture(r.n, p.props())
}
func (p *EventParticipation) encode() *node { return encodeRelayable(p) }
func (p *EventParticipation) validate() error {
	k := &checker{typ: p.Type()}
	k.diasporaID("author", p.AuthorID, true)
	k.guid("guid", p.ID, true)
	k.guid("parent_guid", p.Parent, true)
	switch p.Status {
	case "accepted", "declined", "tentative":
	default:
		k.fail("status", "invalid status %q", trunc(p.Status))
	}
	checkUnknownNames(k, &p.Relay)
	return k.err
}
