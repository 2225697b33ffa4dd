package oplog

import (
	"crypto/sha256"
	"maps"
	"slices"
)

// Snapshot is the whole fold in canonical order: every map sorted, every
// op ID in ID order. It covers what the accessors show, the op IDs behind
// each value, and the tombstones kept for ops not seen yet (a remove before
// its add, a pred before its write, a Retract before its Publish): a
// materialisation has to keep those too to stay order-independent. The
// SQLite materialisation in pod/store builds the same Snapshot from its
// tables, and the tests compare the two.
type Snapshot struct {
	Fields    []SnapField
	Registers []SnapRegister
	Sets      []SnapSet
	Published []SnapPublished
	Retracted []string
	Reads     []SnapRead
	Received  []SnapReceived
	Unapplied []SnapUnapplied
}

// SnapField is one last-writer-wins scalar.
type SnapField struct {
	Key, Value string
	At         Stamp
}

// SnapRegister is one multi-value register: every write it has seen (in ID
// order) and every write a later write superseded (seen or not).
type SnapRegister struct {
	Name       string
	Writes     []MVValue
	Superseded []ID
}

// SnapSet is one observed-remove set.
type SnapSet struct {
	Name    string
	Members []SnapMember
}

// SnapMember is a member's add tags and removed tags (both in ID order,
// either possibly empty).
type SnapMember struct {
	Member  string
	Adds    []ID
	Removed []ID
}

// SnapPublished is the op that holds a guid.
type SnapPublished struct {
	ID      ID
	Publish Publish
}

// SnapRead is a stream's watermark.
type SnapRead struct {
	Stream    string
	Watermark int64
}

// SnapReceived is the op that holds an inbound guid.
type SnapReceived struct {
	ID       ID
	Received Received
}

// SnapUnapplied is a stored op of a kind this code does not know.
type SnapUnapplied struct {
	ID   ID
	Kind Kind
}

func sortedIDs(m map[idKey]struct{}) []ID {
	ks := slices.SortedFunc(maps.Keys(m), idKey.compare)
	out := make([]ID, len(ks))
	for i, k := range ks {
		out[i] = k.id()
	}
	return out
}

// Snapshot is the state in canonical form. Slices are nil when empty.
func (s *State) Snapshot() Snapshot {
	var out Snapshot
	for _, k := range slices.Sorted(maps.Keys(s.fields.m)) {
		e := s.fields.m[k]
		out.Fields = append(out.Fields, SnapField{Key: k, Value: e.value, At: e.at})
	}
	for _, k := range slices.Sorted(maps.Keys(s.regs.m)) {
		g := s.regs.m[k]
		r := SnapRegister{Name: k, Superseded: sortedIDs(g.superseded)}
		for _, w := range slices.SortedFunc(maps.Keys(g.writes), idKey.compare) {
			r.Writes = append(r.Writes, g.writes[w])
		}
		if len(r.Superseded) == 0 {
			r.Superseded = nil
		}
		out.Registers = append(out.Registers, r)
	}
	for _, name := range slices.Sorted(maps.Keys(s.sets.m)) {
		set := s.sets.m[name]
		members := map[string]bool{}
		for m := range set.adds {
			members[m] = true
		}
		for m := range set.removed {
			members[m] = true
		}
		ss := SnapSet{Name: name}
		for _, m := range slices.Sorted(maps.Keys(members)) {
			sm := SnapMember{Member: m, Adds: sortedIDs(set.adds[m]), Removed: sortedIDs(set.removed[m])}
			if len(sm.Adds) == 0 {
				sm.Adds = nil
			}
			if len(sm.Removed) == 0 {
				sm.Removed = nil
			}
			ss.Members = append(ss.Members, sm)
		}
		if len(ss.Members) > 0 { // a remove that observed nothing leaves no trace
			out.Sets = append(out.Sets, ss)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(s.creates.pub)) {
		c := s.creates.pub[g]
		out.Published = append(out.Published, SnapPublished{ID: c.id, Publish: c.pub})
	}
	out.Retracted = slices.Sorted(maps.Keys(s.creates.retracted))
	for _, k := range slices.Sorted(maps.Keys(s.reads.m)) {
		out.Reads = append(out.Reads, SnapRead{Stream: k, Watermark: s.reads.m[k]})
	}
	for _, g := range slices.Sorted(maps.Keys(s.received.m)) {
		e := s.received.m[g]
		out.Received = append(out.Received, SnapReceived{ID: e.id, Received: e.rec})
	}
	for _, k := range slices.SortedFunc(maps.Keys(s.unapplied), idKey.compare) {
		out.Unapplied = append(out.Unapplied, SnapUnapplied{ID: k.id(), Kind: s.unapplied[k]})
	}
	return out
}

// Digest is a canonical hash of the snapshot: length-prefixed fields, so no
// two snapshots share an input.
func (sn Snapshot) Digest() [32]byte {
	d := digester{h: sha256.New()}
	d.str("seedpod/oplog state v2")

	d.section("fields", len(sn.Fields))
	for _, f := range sn.Fields {
		d.str(f.Key)
		d.str(f.Value)
		d.stamp(f.At)
	}
	d.section("registers", len(sn.Registers))
	for _, r := range sn.Registers {
		d.str(r.Name)
		d.u64(uint64(len(r.Writes)))
		for _, w := range r.Writes {
			d.stamp(w.At)
			d.str(w.Value)
			d.bool(w.Deleted)
		}
		d.ids(r.Superseded)
	}
	d.section("sets", len(sn.Sets))
	for _, s := range sn.Sets {
		d.str(s.Name)
		d.u64(uint64(len(s.Members)))
		for _, m := range s.Members {
			d.str(m.Member)
			d.ids(m.Adds)
			d.ids(m.Removed)
		}
	}
	d.section("published", len(sn.Published))
	for _, p := range sn.Published {
		d.str(p.Publish.GUID)
		d.id(p.ID)
		d.str(p.Publish.Kind)
		d.str(p.Publish.Parent)
		d.u64(uint64(p.Publish.CreatedAt))
		d.bytes(p.Publish.Body)
		d.u64(uint64(len(p.Publish.Recipients)))
		for _, r := range p.Publish.Recipients {
			d.str(r)
		}
	}
	d.section("retracted", len(sn.Retracted))
	for _, g := range sn.Retracted {
		d.str(g)
	}
	d.section("reads", len(sn.Reads))
	for _, r := range sn.Reads {
		d.str(r.Stream)
		d.u64(uint64(r.Watermark))
	}
	d.section("received", len(sn.Received))
	for _, r := range sn.Received {
		d.str(r.Received.GUID)
		d.id(r.ID)
		d.str(r.Received.EntityType)
		d.str(r.Received.Author)
		d.str(r.Received.PayloadHash)
	}
	d.section("unapplied", len(sn.Unapplied))
	for _, u := range sn.Unapplied {
		d.id(u.ID)
		d.u64(uint64(u.Kind))
	}
	var out [32]byte
	d.h.Sum(out[:0])
	return out
}

func (d *digester) ids(ids []ID) {
	d.u64(uint64(len(ids)))
	for _, id := range ids {
		d.id(id)
	}
}
