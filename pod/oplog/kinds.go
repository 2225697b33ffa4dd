package oplog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// CurrentSchema is the version of the op kinds this code knows; Log.Append
// callers put it in Op.Schema.
const CurrentSchema uint16 = 1

// The op kinds. A number is never reused, even for a kind that is retired;
// each area has a range with room to grow (notes/sync.md §3.2).
const (
	// 1–15: last-writer-wins fields (settings, profile scalars, aspect names
	// and order).
	KindSetField Kind = 1

	// 16–31: multi-value registers (drafts, bio and other free text).
	KindDraftWrite Kind = 16

	// 32–47: observed-remove sets (aspect membership, blocks, tag follows).
	KindAspectAdd    Kind = 32
	KindAspectRemove Kind = 33
	KindSetAdd       Kind = 34
	KindSetRemove    Kind = 35

	// 48–63: own entities, immutable create + retraction tombstone.
	KindPublish Kind = 48
	KindRetract Kind = 49

	// 64–79: read state, grow-only.
	KindReadUpTo Kind = 64

	// 80–95: inbound federation, immutable and deduplicated by guid.
	KindReceived Kind = 80

	// 96–111: reserved for the device registry (DeviceAdded, DeviceRevoked,
	// DeviceRenamed). 112–127: reserved for federation bookkeeping
	// (Delivered, DeliveryLease). 128–143: reserved for contacts.
)

var kindNames = map[Kind]string{
	KindSetField:     "SetField",
	KindDraftWrite:   "DraftWrite",
	KindAspectAdd:    "AspectAdd",
	KindAspectRemove: "AspectRemove",
	KindSetAdd:       "SetAdd",
	KindSetRemove:    "SetRemove",
	KindPublish:      "Publish",
	KindRetract:      "Retract",
	KindReadUpTo:     "ReadUpTo",
	KindReceived:     "Received",
}

// String names a kind; an unknown one prints as its number.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", uint16(k))
}

// Known reports whether this code can apply ops of kind k.
func (k Kind) Known() bool { _, ok := kindNames[k]; return ok }

// ErrUnknownKind is what DecodeBody returns for a kind this code does not
// know. Such ops are stored and forwarded, not applied.
var ErrUnknownKind = errors.New("unknown op kind")

// OpRef names an op inside a body (the preds of a write, the tags a remove
// observed). The epoch is a JSON string: a random 64-bit number does not
// survive a JavaScript number.
type OpRef struct {
	Device []byte `json:"device"`
	Epoch  uint64 `json:"epoch,string"`
	Seq    uint64 `json:"seq"`
}

// RefOf is the reference to an op ID.
func RefOf(id ID) OpRef {
	return OpRef{Device: bytes.Clone(id.Log.Device), Epoch: id.Log.Epoch, Seq: id.Seq}
}

// ID is the op ID the reference names.
func (r OpRef) ID() ID {
	return ID{Log: LogID{Device: bytes.Clone(r.Device), Epoch: r.Epoch}, Seq: r.Seq}
}

func (r OpRef) validate() error {
	if len(r.Device) == 0 || len(r.Device) > MaxDeviceID || r.Seq == 0 {
		return fmt.Errorf("%w: bad op reference", ErrMalformed)
	}
	return nil
}

// Refs turns op IDs into references.
func Refs(ids []ID) []OpRef {
	out := make([]OpRef, len(ids))
	for i, id := range ids {
		out[i] = RefOf(id)
	}
	return out
}

// Body is the payload of one op kind.
type Body interface {
	OpKind() Kind
	Encode() []byte
	validate() error
}

// SetField sets a last-writer-wins scalar: a setting, a profile scalar
// ("profile/name", "profile/avatar", "profile/searchable"), an aspect's
// name ("aspect/<id>/name"), the aspect order ("aspects/order"). An empty
// value means unset.
type SetField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// DraftWrite writes a multi-value register: a draft ("draft/<id>") or free
// text such as the bio ("profile/bio"). It supersedes exactly the writes
// named in Pred (the values the writer saw); a delete is a write with
// Deleted set and no value.
type DraftWrite struct {
	Register string  `json:"register"`
	Value    string  `json:"value"`
	Deleted  bool    `json:"deleted,omitempty"`
	Pred     []OpRef `json:"pred,omitempty"`
}

// AspectAdd puts a contact into an aspect. The add's tag is the op's ID.
// It is the set "aspect/<Aspect>" (SetAdd on that set is the same thing).
type AspectAdd struct {
	Aspect string `json:"aspect"`
	Member string `json:"member"`
}

// AspectRemove takes a contact out of an aspect: it drops exactly the add
// tags in Observed, so an add it did not see survives.
type AspectRemove struct {
	Aspect   string  `json:"aspect"`
	Member   string  `json:"member"`
	Observed []OpRef `json:"observed"`
}

// SetAdd adds a member to a named observed-remove set: "blocks", "tags",
// "aspect/<id>".
type SetAdd struct {
	Set    string `json:"set"`
	Member string `json:"member"`
}

// SetRemove removes the observed add tags of a member from a set.
type SetRemove struct {
	Set      string  `json:"set"`
	Member   string  `json:"member"`
	Observed []OpRef `json:"observed"`
}

// AspectSet is the set name of an aspect's membership.
func AspectSet(aspect string) string { return "aspect/" + aspect }

// AsSet is the generic form of an aspect add.
func (b AspectAdd) AsSet() SetAdd { return SetAdd{Set: AspectSet(b.Aspect), Member: b.Member} }

// AsSet is the generic form of an aspect remove.
func (b AspectRemove) AsSet() SetRemove {
	return SetRemove{Set: AspectSet(b.Aspect), Member: b.Member, Observed: b.Observed}
}

// Publish kinds.
var publishKinds = map[string]bool{
	"post": true, "comment": true, "like": true, "reshare": true, "message": true, "poll_vote": true,
	// An edit of an own post: Parent is the post, CreatedAt its edited_at,
	// Body the new content. Versions are kept; the newest live one shows.
	"edit": true,
	// A conversation (Body: subject and participants); its messages are
	// "message" publishes with the conversation as Parent.
	"conversation": true,
	// A photo (Body: the blob's hash, size and alt text); attached to a
	// post through the post's body.
	"photo": true,
}

// needsParent are the publish kinds that only exist on a parent entity.
var needsParent = map[string]bool{"comment": true, "like": true, "reshare": true, "message": true, "poll_vote": true, "edit": true}

// PublishKinds are the kinds of own entities, sorted.
func PublishKinds() []string { return slices.Sorted(maps.Keys(publishKinds)) }

// Publish creates one of the user's own entities, frozen: the guid, the
// creation time, the recipients and the content are fixed here so any
// device builds the same federation envelope. Entities are immutable; an
// edit is a Retract and a new Publish.
type Publish struct {
	GUID       string          `json:"guid"`
	Kind       string          `json:"kind"`
	Parent     string          `json:"parent,omitempty"`
	CreatedAt  int64           `json:"created_at"`
	Body       json.RawMessage `json:"body,omitempty"`
	Recipients []string        `json:"recipients,omitempty"`
}

// Retract withdraws an entity for good, whether its Publish has arrived yet
// or not.
type Retract struct {
	GUID string `json:"guid"`
}

// ReadUpTo marks a stream (notifications, a conversation) read up to a
// watermark; marks only ever grow.
type ReadUpTo struct {
	Stream    string `json:"stream"`
	Watermark int64  `json:"watermark"`
}

// Received records an entity the pod received by federation; immutable and
// deduplicated by guid.
type Received struct {
	GUID        string `json:"guid"`
	EntityType  string `json:"entity_type"`
	Author      string `json:"author"`
	PayloadHash string `json:"payload_hash"` // hex SHA-256 of the raw payload
	// Payload is the verified entity XML, so every device materialises the
	// same entity; when present its SHA-256 is PayloadHash.
	Payload string `json:"payload,omitempty"`
}

func (SetField) OpKind() Kind     { return KindSetField }
func (DraftWrite) OpKind() Kind   { return KindDraftWrite }
func (AspectAdd) OpKind() Kind    { return KindAspectAdd }
func (AspectRemove) OpKind() Kind { return KindAspectRemove }
func (SetAdd) OpKind() Kind       { return KindSetAdd }
func (SetRemove) OpKind() Kind    { return KindSetRemove }
func (Publish) OpKind() Kind      { return KindPublish }
func (Retract) OpKind() Kind      { return KindRetract }
func (ReadUpTo) OpKind() Kind     { return KindReadUpTo }
func (Received) OpKind() Kind     { return KindReceived }

// Encode is the body's JSON. It panics only on a Publish whose Body is not
// valid JSON, a programming error; EncodeBody returns errors instead.
func (b SetField) Encode() []byte     { return mustEncode(b) }
func (b DraftWrite) Encode() []byte   { return mustEncode(b) }
func (b AspectAdd) Encode() []byte    { return mustEncode(b) }
func (b AspectRemove) Encode() []byte { return mustEncode(b) }
func (b SetAdd) Encode() []byte       { return mustEncode(b) }
func (b SetRemove) Encode() []byte    { return mustEncode(b) }
func (b Publish) Encode() []byte      { return mustEncode(b) }
func (b Retract) Encode() []byte      { return mustEncode(b) }
func (b ReadUpTo) Encode() []byte     { return mustEncode(b) }
func (b Received) Encode() []byte     { return mustEncode(b) }

func mustEncode(b Body) []byte {
	out, err := json.Marshal(b)
	if err != nil {
		panic(fmt.Sprintf("oplog: encode %s body: %v", b.OpKind(), err))
	}
	return out
}

// EncodeBody checks a body the way DecodeBody will and encodes it, so a
// device never appends an op the others would reject.
func EncodeBody(b Body) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrMalformed, b.OpKind(), err)
	}
	if len(out) > MaxBody {
		return nil, fmt.Errorf("%w: %s body of %d bytes", ErrMalformed, b.OpKind(), len(out))
	}
	return out, nil
}

// DecodeBody parses the body of an op of the given kind strictly: a single
// JSON object, no unknown fields, nothing trailing, every field valid. It
// returns the body by value (SetField, DraftWrite, …); errors wrap
// ErrMalformed, or ErrUnknownKind for a kind this code does not know.
func DecodeBody(kind Kind, b []byte) (any, error) {
	var (
		v   Body
		err error
	)
	switch kind {
	case KindSetField:
		v, err = decodeAs[SetField](b)
	case KindDraftWrite:
		v, err = decodeAs[DraftWrite](b)
	case KindAspectAdd:
		v, err = decodeAs[AspectAdd](b)
	case KindAspectRemove:
		v, err = decodeAs[AspectRemove](b)
	case KindSetAdd:
		v, err = decodeAs[SetAdd](b)
	case KindSetRemove:
		v, err = decodeAs[SetRemove](b)
	case KindPublish:
		v, err = decodeAs[Publish](b)
	case KindRetract:
		v, err = decodeAs[Retract](b)
	case KindReadUpTo:
		v, err = decodeAs[ReadUpTo](b)
	case KindReceived:
		v, err = decodeAs[Received](b)
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnknownKind, uint16(kind))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrMalformed, kind, err)
	}
	if err := v.validate(); err != nil {
		return nil, fmt.Errorf("%s body: %w", kind, err)
	}
	return v, nil
}

func decodeAs[T Body](b []byte) (Body, error) {
	var v T
	if len(b) > MaxBody {
		return nil, fmt.Errorf("%d bytes", len(b))
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

func validRefs(refs []OpRef) error {
	for _, r := range refs {
		if err := r.validate(); err != nil {
			return err
		}
	}
	return nil
}

// validGUID is diaspora's rule (diaspora_federation rules/guid.rb): 16 to
// 255 characters of [0-9A-Za-z-_@.:].
func validGUID(g string) bool {
	if len(g) < 16 || len(g) > 255 {
		return false
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c == '-', c == '_', c == '@', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func (b SetField) validate() error {
	if b.Key == "" {
		return malformed("empty key")
	}
	return nil
}

func (b DraftWrite) validate() error {
	if b.Register == "" {
		return malformed("empty register")
	}
	if b.Deleted && b.Value != "" {
		return malformed("a delete carries a value")
	}
	return validRefs(b.Pred)
}

func (b AspectAdd) validate() error {
	if b.Aspect == "" || b.Member == "" {
		return malformed("empty aspect or member")
	}
	return nil
}

func (b AspectRemove) validate() error {
	if b.Aspect == "" || b.Member == "" {
		return malformed("empty aspect or member")
	}
	return validRefs(b.Observed)
}

func (b SetAdd) validate() error {
	if b.Set == "" || b.Member == "" {
		return malformed("empty set or member")
	}
	return nil
}

func (b SetRemove) validate() error {
	if b.Set == "" || b.Member == "" {
		return malformed("empty set or member")
	}
	return validRefs(b.Observed)
}

func (b Publish) validate() error {
	if !validGUID(b.GUID) {
		return malformed("guid %q", b.GUID)
	}
	if !publishKinds[b.Kind] {
		return malformed("publish kind %q", b.Kind)
	}
	if b.Parent != "" && !validGUID(b.Parent) {
		return malformed("parent guid %q", b.Parent)
	}
	if b.Parent == "" && needsParent[b.Kind] {
		return malformed("a %s without a parent", b.Kind)
	}
	if b.CreatedAt < 0 {
		return malformed("created_at %d", b.CreatedAt)
	}
	if len(b.Body) > 0 && !json.Valid(b.Body) {
		return malformed("body is not JSON")
	}
	for _, r := range b.Recipients {
		if r == "" {
			return malformed("empty recipient")
		}
	}
	return nil
}

func (b Retract) validate() error {
	if !validGUID(b.GUID) {
		return malformed("guid %q", b.GUID)
	}
	return nil
}

func (b ReadUpTo) validate() error {
	if b.Stream == "" || b.Watermark < 0 {
		return malformed("stream %q watermark %d", b.Stream, b.Watermark)
	}
	return nil
}

// validReceivedKey is a received entity's key: a guid, or a guid and
// "#<decimal>" for another version of the same entity (an edit of a
// status message, keyed by its edited_at in ms). '#' never occurs in a
// diaspora* guid, so the two never collide.
func validReceivedKey(k string) bool {
	base, version, ok := strings.Cut(k, "#")
	if !ok {
		return validGUID(k)
	}
	if len(version) == 0 || len(version) > 19 {
		return false
	}
	for i := 0; i < len(version); i++ {
		if version[i] < '0' || version[i] > '9' {
			return false
		}
	}
	return validGUID(base)
}

func (b Received) validate() error {
	if !validReceivedKey(b.GUID) {
		return malformed("guid %q", b.GUID)
	}
	if b.EntityType == "" || b.Author == "" {
		return malformed("empty entity type or author")
	}
	if len(b.PayloadHash) != 64 {
		return malformed("payload hash %q", b.PayloadHash)
	}
	for i := 0; i < len(b.PayloadHash); i++ {
		if c := b.PayloadHash[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return malformed("payload hash %q", b.PayloadHash)
		}
	}
	if b.Payload != "" {
		if h := sha256.Sum256([]byte(b.Payload)); hex.EncodeToString(h[:]) != b.PayloadHash {
			return malformed("payload does not match its hash %s", b.PayloadHash)
		}
	}
	return nil
}
