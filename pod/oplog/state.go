package oplog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
)

// State is the in-memory fold of every op kind: the specification the
// SQLite materialisation in pod/store is checked against. Applying is
// commutative and idempotent, so every device that has applied the same
// ops, in whatever order and however often, has the same State (and
// Digest). A State is not safe for concurrent use.
type State struct {
	fields   LWWMap
	regs     MVRegisters
	sets     ORSets
	creates  Creates
	reads    GMax
	received GSet

	// ops of kinds this code does not know: stored and forwarded, applied
	// after an upgrade (by a refold).
	unapplied map[idKey]Kind
}

// NewState is an empty state.
func NewState() *State { return &State{unapplied: map[idKey]Kind{}} }

// Apply folds one op in. An op of an unknown kind is recorded as stored,
// not applied, and changes nothing else. A malformed body returns an error
// wrapping ErrMalformed and changes nothing. The caller has checked the
// op's signature and chain.
func (s *State) Apply(op *Op) error {
	if op == nil || len(op.Log.Device) == 0 || op.Seq == 0 {
		return fmt.Errorf("%w: apply: no op identity", ErrMalformed)
	}
	body, err := DecodeBody(op.Kind, op.Body)
	if errors.Is(err, ErrUnknownKind) {
		if s.unapplied == nil {
			s.unapplied = map[idKey]Kind{}
		}
		s.unapplied[keyOf(op.ID())] = op.Kind
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply %s:%d: %w", op.Log, op.Seq, err)
	}
	at := StampOf(op)
	switch b := body.(type) {
	case SetField:
		s.fields.Apply(at, b)
	case DraftWrite:
		s.regs.Apply(at, b)
	case AspectAdd:
		s.sets.Apply(at, b.AsSet())
	case AspectRemove:
		s.sets.ApplyRemove(b.AsSet())
	case SetAdd:
		s.sets.Apply(at, b)
	case SetRemove:
		s.sets.ApplyRemove(b)
	case Publish:
		s.creates.ApplyPublish(at, b)
	case Retract:
		s.creates.ApplyRetract(b)
	case ReadUpTo:
		s.reads.Apply(b)
	case Received:
		s.received.Apply(at, b)
	default:
		panic(fmt.Sprintf("oplog: kind %s decoded to %T", op.Kind, body)) // DecodeBody and this switch disagree
	}
	return nil
}

// Field is a last-writer-wins scalar ("" and false when never set).
func (s *State) Field(key string) (string, bool) {
	v, _, ok := s.fields.Get(key)
	return v, ok
}

// FieldStamp is the stamp of the write that set a field.
func (s *State) FieldStamp(key string) (Stamp, bool) {
	_, at, ok := s.fields.Get(key)
	return at, ok
}

// Register is the live values of a multi-value register, in stamp order;
// deleted versions are left out. More than one value means concurrent
// edits the user has not merged yet.
func (s *State) Register(name string) []string {
	var out []string
	for _, v := range s.regs.Values(name) {
		if !v.Deleted {
			out = append(out, v.Value)
		}
	}
	return out
}

// RegisterVersions is every live version of a register, deletes included,
// with the op IDs a merging write lists in Pred.
func (s *State) RegisterVersions(name string) []MVValue { return s.regs.Values(name) }

// Members are a set's members ("blocks", "tags", "aspect/<id>"), sorted.
func (s *State) Members(set string) []string { return s.sets.Members(set) }

// Tags are a member's live add tags: what a remove lists in Observed.
func (s *State) Tags(set, member string) []ID { return s.sets.Tags(set, member) }

// Published is an own entity that is live (published and not retracted).
func (s *State) Published(guid string) (Publish, bool) {
	p, _, ok := s.creates.Published(guid)
	return p, ok
}

// PublishedBy is the op that holds a live guid.
func (s *State) PublishedBy(guid string) (ID, bool) {
	_, id, ok := s.creates.Published(guid)
	return id, ok
}

// Retracted reports whether a guid was retracted (published or not).
func (s *State) Retracted(guid string) bool { return s.creates.Retracted(guid) }

// Watermark is a stream's read mark.
func (s *State) Watermark(stream string) int64 { return s.reads.Get(stream) }

// Received is an inbound entity by guid.
func (s *State) Received(guid string) (Received, bool) { return s.received.Get(guid) }

// Unapplied is the IDs of stored ops of unknown kinds, sorted.
func (s *State) Unapplied() []ID {
	ks := slices.SortedFunc(maps.Keys(s.unapplied), idKey.compare)
	out := make([]ID, len(ks))
	for i, k := range ks {
		out[i] = k.id()
	}
	return out
}

// Digest is a canonical hash of the whole fold (its Snapshot): equal for
// equal states.
func (s *State) Digest() [32]byte { return s.Snapshot().Digest() }

// digester writes length-prefixed fields, so no two states share an input.
type digester struct {
	h   hash.Hash
	buf [8]byte
}

func (d *digester) u64(v uint64) {
	binary.BigEndian.PutUint64(d.buf[:], v)
	d.h.Write(d.buf[:])
}

func (d *digester) bytes(b []byte) {
	d.u64(uint64(len(b)))
	d.h.Write(b)
}

func (d *digester) str(s string) {
	d.u64(uint64(len(s)))
	d.h.Write([]byte(s))
}

func (d *digester) bool(b bool) {
	if b {
		d.u64(1)
	} else {
		d.u64(0)
	}
}

func (d *digester) section(name string, n int) {
	d.str(name)
	d.u64(uint64(n))
}

func (d *digester) id(id ID) {
	d.bytes(id.Log.Device)
	d.u64(id.Log.Epoch)
	d.u64(id.Seq)
}

func (d *digester) stamp(s Stamp) {
	d.u64(s.Clock.Wall)
	d.u64(uint64(s.Clock.Logical))
	d.id(s.ID())
}
