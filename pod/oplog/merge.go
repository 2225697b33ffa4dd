package oplog

import (
	"bytes"
	"slices"
)

// The merge rules (notes/sync.md §3.2, DESIGN.md §4). Each is a small pure
// structure whose Apply is commutative and idempotent: any order of the
// same ops, with any repetition, reaches the same state. Ops arrive in any
// order across logs, so every rule also accepts "effects before causes": a
// remove before its add, a write's preds before the writes they name, a
// Retract before its Publish.
//
// Test-only mutations (fields named mutant…) break a rule on purpose; the
// convergence test sets them to prove it would catch the bug. Production
// code never sets them.

// Stamp is an op's position in the last-writer-wins order: its clock, then
// its log, then its sequence number. Two different ops never compare equal
// (the tie-break is required: two devices that observed the same op tick
// to the same HLC).
type Stamp struct {
	Clock HLC
	Log   LogID
	Seq   uint64
}

// StampOf is the op's stamp.
func StampOf(op *Op) Stamp { return Stamp{Clock: op.Clock, Log: op.Log, Seq: op.Seq} }

// ID is the stamped op's identity.
func (s Stamp) ID() ID { return ID{Log: s.Log, Seq: s.Seq} }

// Compare orders stamps totally.
func (s Stamp) Compare(o Stamp) int {
	if c := s.Clock.Compare(o.Clock); c != 0 {
		return c
	}
	return s.ID().Compare(o.ID())
}

// idKey is an ID usable as a map key.
type idKey struct {
	dev   string
	epoch uint64
	seq   uint64
}

func keyOf(id ID) idKey { return idKey{string(id.Log.Device), id.Log.Epoch, id.Seq} }

func (k idKey) id() ID {
	return ID{Log: LogID{Device: []byte(k.dev), Epoch: k.epoch}, Seq: k.seq}
}

func (k idKey) compare(o idKey) int { return k.id().Compare(o.id()) }

func cloneStamp(s Stamp) Stamp {
	s.Log.Device = bytes.Clone(s.Log.Device)
	return s
}

// ---- last writer wins ----

// LWWMap holds last-writer-wins scalars by key.
type LWWMap struct {
	m map[string]lwwEntry

	mutantNoTieBreak bool // test only: compare clocks alone, first arrival wins ties
}

type lwwEntry struct {
	value string
	at    Stamp
}

// Apply sets key to value if at is later than the current write.
func (r *LWWMap) Apply(at Stamp, b SetField) {
	if r.m == nil {
		r.m = map[string]lwwEntry{}
	}
	cur, ok := r.m[b.Key]
	if ok {
		c := at.Compare(cur.at)
		if r.mutantNoTieBreak {
			c = at.Clock.Compare(cur.at.Clock)
		}
		if c <= 0 {
			return
		}
	}
	r.m[b.Key] = lwwEntry{value: b.Value, at: cloneStamp(at)}
}

// Get is the key's value and the stamp of the write that set it.
func (r *LWWMap) Get(key string) (string, Stamp, bool) {
	e, ok := r.m[key]
	return e.value, e.at, ok
}

// ---- multi-value register ----

// MVValue is one live version of a multi-value register.
type MVValue struct {
	At      Stamp // the write's stamp; At.ID() is what a later write lists in Pred
	Value   string
	Deleted bool
}

// MVRegisters holds multi-value registers by name. A write supersedes
// exactly the writes its Pred lists (in the same register), whether they
// have arrived yet or not; every write nobody superseded is live.
type MVRegisters struct {
	m map[string]*mvReg
}

type mvReg struct {
	writes     map[idKey]MVValue
	superseded map[idKey]struct{}
}

// Apply adds a write.
func (r *MVRegisters) Apply(at Stamp, b DraftWrite) {
	if r.m == nil {
		r.m = map[string]*mvReg{}
	}
	g := r.m[b.Register]
	if g == nil {
		g = &mvReg{writes: map[idKey]MVValue{}, superseded: map[idKey]struct{}{}}
		r.m[b.Register] = g
	}
	g.writes[keyOf(at.ID())] = MVValue{At: cloneStamp(at), Value: b.Value, Deleted: b.Deleted}
	for _, p := range b.Pred {
		g.superseded[keyOf(p.ID())] = struct{}{}
	}
}

// Values are the register's live versions, deletes included, in stamp
// order (oldest first).
func (r *MVRegisters) Values(register string) []MVValue {
	g := r.m[register]
	if g == nil {
		return nil
	}
	var out []MVValue
	for k, w := range g.writes {
		if _, gone := g.superseded[k]; !gone {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b MVValue) int { return a.At.Compare(b.At) })
	return out
}

// ---- observed-remove sets ----

// ORSets holds observed-remove sets by name. An add's tag is its op ID; a
// remove drops exactly the tags it observed for that member, so a
// concurrent add (a tag it did not see) wins. Tombstones are kept for tags
// not yet seen, so a remove that arrives before its add still applies.
type ORSets struct {
	m map[string]*orSet

	mutantRemoveAllKnown bool // test only: a remove drops every tag known here
}

type orSet struct {
	adds    map[string]map[idKey]struct{} // member → add tags
	removed map[string]map[idKey]struct{} // member → removed tags
}

func (r *ORSets) set(name string) *orSet {
	if r.m == nil {
		r.m = map[string]*orSet{}
	}
	s := r.m[name]
	if s == nil {
		s = &orSet{adds: map[string]map[idKey]struct{}{}, removed: map[string]map[idKey]struct{}{}}
		r.m[name] = s
	}
	return s
}

func addTag(m map[string]map[idKey]struct{}, member string, k idKey) {
	t := m[member]
	if t == nil {
		t = map[idKey]struct{}{}
		m[member] = t
	}
	t[k] = struct{}{}
}

// Apply adds a member with the op's ID as its tag.
func (r *ORSets) Apply(at Stamp, b SetAdd) {
	addTag(r.set(b.Set).adds, b.Member, keyOf(at.ID()))
}

// ApplyRemove removes the observed tags of a member.
func (r *ORSets) ApplyRemove(b SetRemove) {
	s := r.set(b.Set)
	for _, o := range b.Observed {
		addTag(s.removed, b.Member, keyOf(o.ID()))
	}
	if r.mutantRemoveAllKnown {
		for k := range s.adds[b.Member] {
			addTag(s.removed, b.Member, k)
		}
	}
}

// Tags are the live add tags of a member, sorted: what a remove observes.
func (r *ORSets) Tags(set, member string) []ID {
	s := r.m[set]
	if s == nil {
		return nil
	}
	var ks []idKey
	for k := range s.adds[member] {
		if _, gone := s.removed[member][k]; !gone {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, idKey.compare)
	out := make([]ID, len(ks))
	for i, k := range ks {
		out[i] = k.id()
	}
	return out
}

// Members are the set's members with a live tag, sorted.
func (r *ORSets) Members(set string) []string {
	s := r.m[set]
	if s == nil {
		return nil
	}
	var out []string
	for m, tags := range s.adds {
		for k := range tags {
			if _, gone := s.removed[m][k]; !gone {
				out = append(out, m)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// ---- immutable creates with retraction tombstones ----

// Creates holds the user's own entities by guid. On a guid collision the
// Publish with the lowest op ID is kept; a Retract tombstones the guid for
// good, before or after its Publish arrives.
type Creates struct {
	pub       map[string]created
	retracted map[string]struct{}
}

type created struct {
	id  ID
	pub Publish
}

// ApplyPublish records a Publish unless a lower op ID already holds the guid.
func (r *Creates) ApplyPublish(at Stamp, b Publish) {
	if r.pub == nil {
		r.pub = map[string]created{}
	}
	id := at.ID()
	if cur, ok := r.pub[b.GUID]; ok && cur.id.Compare(id) <= 0 {
		return
	}
	b.Body = bytes.Clone(b.Body)
	b.Recipients = slices.Clone(b.Recipients)
	id.Log.Device = bytes.Clone(id.Log.Device)
	r.pub[b.GUID] = created{id: id, pub: b}
}

// ApplyRetract tombstones a guid.
func (r *Creates) ApplyRetract(b Retract) {
	if r.retracted == nil {
		r.retracted = map[string]struct{}{}
	}
	r.retracted[b.GUID] = struct{}{}
}

// Published is the live entity with the guid: not if it was retracted.
func (r *Creates) Published(guid string) (Publish, ID, bool) {
	if _, gone := r.retracted[guid]; gone {
		return Publish{}, ID{}, false
	}
	c, ok := r.pub[guid]
	return c.pub, c.id, ok
}

// Retracted reports whether the guid is tombstoned.
func (r *Creates) Retracted(guid string) bool { _, ok := r.retracted[guid]; return ok }

// ---- grow-only max ----

// GMax holds grow-only maxima by name (read watermarks).
type GMax struct {
	m map[string]int64
}

// Apply raises the stream's watermark; it never goes back.
func (r *GMax) Apply(b ReadUpTo) {
	if r.m == nil {
		r.m = map[string]int64{}
	}
	if cur, ok := r.m[b.Stream]; !ok || b.Watermark > cur {
		r.m[b.Stream] = b.Watermark
	}
}

// Get is the stream's watermark (0 when never marked).
func (r *GMax) Get(stream string) int64 { return r.m[stream] }

// ---- grow-only set ----

// GSet holds immutable records by guid (inbound federation). Two records
// of one guid (received twice, by two devices) keep the lowest op ID.
type GSet struct {
	m map[string]received
}

type received struct {
	id  ID
	rec Received
}

// Apply records an entity unless a lower op ID already holds the guid.
func (r *GSet) Apply(at Stamp, b Received) {
	if r.m == nil {
		r.m = map[string]received{}
	}
	id := at.ID()
	if cur, ok := r.m[b.GUID]; ok && cur.id.Compare(id) <= 0 {
		return
	}
	id.Log.Device = bytes.Clone(id.Log.Device)
	r.m[b.GUID] = received{id: id, rec: b}
}

// Get is the record of a guid.
func (r *GSet) Get(guid string) (Received, bool) {
	e, ok := r.m[guid]
	return e.rec, ok
}
