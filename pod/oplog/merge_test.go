package oplog

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// testOp makes an op of device dev (a 32-byte key filled with dev), epoch 1.
func testOp(dev byte, seq uint64, wall uint64, logical uint32, b Body) *Op {
	return &Op{
		Log:    LogID{Device: bytes.Repeat([]byte{dev}, 32), Epoch: 1},
		Seq:    seq,
		Clock:  HLC{Wall: wall, Logical: logical},
		Schema: CurrentSchema,
		Kind:   b.OpKind(),
		Body:   b.Encode(),
	}
}

func ref(op *Op) OpRef { return RefOf(op.ID()) }

// permutations calls f with every order of ops.
func permutations(ops []*Op, f func([]*Op)) {
	var rec func(int)
	rec = func(k int) {
		if k == len(ops) {
			f(ops)
			return
		}
		for i := k; i < len(ops); i++ {
			ops[k], ops[i] = ops[i], ops[k]
			rec(k + 1)
			ops[k], ops[i] = ops[i], ops[k]
		}
	}
	rec(0)
}

// foldAll folds ops in every order, and every order with each op applied
// twice, checks that all reach one Digest and calls check on each state.
func foldAll(t *testing.T, ops []*Op, check func(t *testing.T, s *State)) {
	t.Helper()
	var want [32]byte
	first := true
	permutations(slices.Clone(ops), func(order []*Op) {
		for _, twice := range []bool{false, true} {
			s := NewState()
			for _, op := range order {
				for range 1 + btoi(twice) {
					if err := s.Apply(op); err != nil {
						t.Fatalf("apply: %v", err)
					}
				}
			}
			if d := s.Digest(); first {
				want, first = d, false
			} else if d != want {
				t.Fatalf("order-dependent fold (twice=%v)", twice)
			}
			check(t, s)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestLWW(t *testing.T) {
	cases := []struct {
		name string
		ops  []*Op
		want string
	}{
		{"later clock wins", []*Op{
			testOp(2, 1, 100, 0, SetField{Key: "k", Value: "old"}),
			testOp(1, 1, 200, 0, SetField{Key: "k", Value: "new"}),
		}, "new"},
		{"logical breaks an equal wall", []*Op{
			testOp(2, 1, 100, 1, SetField{Key: "k", Value: "second"}),
			testOp(1, 1, 100, 0, SetField{Key: "k", Value: "first"}),
		}, "second"},
		{"equal HLC: the higher log id wins", []*Op{
			testOp(1, 5, 100, 3, SetField{Key: "k", Value: "dev1"}),
			testOp(2, 1, 100, 3, SetField{Key: "k", Value: "dev2"}),
			testOp(0, 9, 100, 3, SetField{Key: "k", Value: "dev0"}),
		}, "dev2"},
		{"equal HLC and log: the higher seq wins", []*Op{
			testOp(1, 4, 100, 3, SetField{Key: "k", Value: "seq4"}),
			testOp(1, 3, 100, 3, SetField{Key: "k", Value: "seq3"}),
		}, "seq4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			foldAll(t, c.ops, func(t *testing.T, s *State) {
				if v, ok := s.Field("k"); !ok || v != c.want {
					t.Fatalf("k = %q, %v; want %q", v, ok, c.want)
				}
			})
		})
	}
	t.Run("epoch breaks an equal device", func(t *testing.T) {
		a := testOp(1, 1, 100, 0, SetField{Key: "k", Value: "epoch1"})
		b := testOp(1, 1, 100, 0, SetField{Key: "k", Value: "epoch2"})
		b.Log.Epoch = 2
		foldAll(t, []*Op{a, b}, func(t *testing.T, s *State) {
			if v, _ := s.Field("k"); v != "epoch2" {
				t.Fatalf("k = %q", v)
			}
		})
	})
}

func TestMVRegister(t *testing.T) {
	base := testOp(1, 1, 100, 0, DraftWrite{Register: "draft/d1", Value: "base"})
	left := testOp(1, 2, 200, 0, DraftWrite{Register: "draft/d1", Value: "left", Pred: []OpRef{ref(base)}})
	right := testOp(2, 1, 150, 0, DraftWrite{Register: "draft/d1", Value: "right", Pred: []OpRef{ref(base)}})
	merged := testOp(3, 1, 300, 0, DraftWrite{Register: "draft/d1", Value: "merged", Pred: []OpRef{ref(left), ref(right)}})
	onlyLeft := testOp(3, 1, 300, 0, DraftWrite{Register: "draft/d1", Value: "over left", Pred: []OpRef{ref(left)}})
	del := testOp(3, 2, 400, 0, DraftWrite{Register: "draft/d1", Deleted: true, Pred: []OpRef{ref(merged)}})
	elsewhere := testOp(2, 2, 500, 0, DraftWrite{Register: "profile/bio", Value: "bio", Pred: []OpRef{ref(left), ref(right)}})

	cases := []struct {
		name     string
		ops      []*Op
		want     []string
		versions int
	}{
		{"one write", []*Op{base}, []string{"base"}, 1},
		{"a write supersedes its pred", []*Op{base, left}, []string{"left"}, 1},
		{"concurrent writes all survive, in stamp order", []*Op{base, left, right}, []string{"right", "left"}, 2},
		{"a merge with both preds supersedes both", []*Op{base, left, right, merged}, []string{"merged"}, 1},
		{"a write supersedes only what it lists", []*Op{base, left, right, onlyLeft}, []string{"right", "over left"}, 2},
		{"a delete is a tombstone version", []*Op{base, left, right, merged, del}, nil, 1},
		{"preds in another register supersede nothing", []*Op{base, left, right, elsewhere}, []string{"right", "left"}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			foldAll(t, c.ops, func(t *testing.T, s *State) {
				if got := s.Register("draft/d1"); !slices.Equal(got, c.want) {
					t.Fatalf("values %q, want %q", got, c.want)
				}
				if got := s.RegisterVersions("draft/d1"); len(got) != c.versions {
					t.Fatalf("%d versions, want %d", len(got), c.versions)
				}
			})
		})
	}
}

func TestORSet(t *testing.T) {
	add1 := testOp(1, 1, 100, 0, AspectAdd{Aspect: "a1", Member: "bob"})
	rm1 := testOp(1, 2, 200, 0, AspectRemove{Aspect: "a1", Member: "bob", Observed: []OpRef{ref(add1)}})
	add2 := testOp(2, 1, 150, 0, AspectAdd{Aspect: "a1", Member: "bob"}) // concurrent with rm1
	readd := testOp(1, 3, 300, 0, SetAdd{Set: "aspect/a1", Member: "bob"})
	rmWrongMember := testOp(2, 2, 400, 0, AspectRemove{Aspect: "a1", Member: "carol", Observed: []OpRef{ref(add1)}})
	block := testOp(3, 1, 100, 0, SetAdd{Set: "blocks", Member: "eve"})
	unblock := testOp(3, 2, 110, 0, SetRemove{Set: "blocks", Member: "eve", Observed: []OpRef{ref(block)}})

	cases := []struct {
		name      string
		ops       []*Op
		set, want []string // set name, then members
	}{
		{"add", []*Op{add1}, []string{"aspect/a1"}, []string{"bob"}},
		{"observed remove (in any order: remove before add too)", []*Op{add1, rm1}, []string{"aspect/a1"}, nil},
		{"a concurrent add wins", []*Op{add1, rm1, add2}, []string{"aspect/a1"}, []string{"bob"}},
		{"re-add after remove", []*Op{add1, rm1, readd}, []string{"aspect/a1"}, []string{"bob"}},
		{"a remove drops only its member's tags", []*Op{add1, rmWrongMember}, []string{"aspect/a1"}, []string{"bob"}},
		{"generic sets", []*Op{block, unblock, add1}, []string{"blocks"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			foldAll(t, c.ops, func(t *testing.T, s *State) {
				if got := s.Members(c.set[0]); !slices.Equal(got, c.want) {
					t.Fatalf("%s members %q, want %q", c.set[0], got, c.want)
				}
			})
		})
	}
	t.Run("tags are what a remove observes", func(t *testing.T) {
		s := NewState()
		for _, op := range []*Op{add1, add2, rm1} {
			if err := s.Apply(op); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.Tags("aspect/a1", "bob"); len(got) != 1 || got[0].Compare(add2.ID()) != 0 {
			t.Fatalf("tags %v, want only add2", got)
		}
	})
}

func TestCreates(t *testing.T) {
	const g = "0123456789abcdef0123"
	pubA := testOp(2, 1, 100, 0, Publish{GUID: g, Kind: "post", CreatedAt: 1, Body: json.RawMessage(`{"text":"a"}`)})
	pubB := testOp(1, 7, 900, 0, Publish{GUID: g, Kind: "post", CreatedAt: 2, Body: json.RawMessage(`{"text":"b"}`)})
	pubC := testOp(1, 3, 950, 0, Publish{GUID: g, Kind: "post", CreatedAt: 3, Body: json.RawMessage(`{"text":"c"}`)})
	retract := testOp(3, 1, 50, 0, Retract{GUID: g})
	later := testOp(2, 9, 5000, 0, Publish{GUID: g, Kind: "post", CreatedAt: 9})

	t.Run("guid collision keeps the lowest op id", func(t *testing.T) {
		foldAll(t, []*Op{pubA, pubB, pubC}, func(t *testing.T, s *State) {
			p, ok := s.Published(g)
			if !ok || p.CreatedAt != 3 || string(p.Body) != `{"text":"c"}` {
				t.Fatalf("published %+v, %v; want device 1 seq 3", p, ok)
			}
		})
	})
	t.Run("retract before or after publish; never comes back", func(t *testing.T) {
		foldAll(t, []*Op{pubA, retract, later}, func(t *testing.T, s *State) {
			if _, ok := s.Published(g); ok || !s.Retracted(g) {
				t.Fatalf("published %v retracted %v", ok, s.Retracted(g))
			}
		})
	})
	t.Run("retract alone", func(t *testing.T) {
		s := NewState()
		if err := s.Apply(retract); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Published(g); ok || !s.Retracted(g) {
			t.Fatal("a lone retract must tombstone the guid")
		}
	})
}

func TestReadMarksNeverGoBack(t *testing.T) {
	ops := []*Op{
		testOp(1, 1, 100, 0, ReadUpTo{Stream: "n", Watermark: 10}),
		testOp(2, 1, 900, 0, ReadUpTo{Stream: "n", Watermark: 4}),
		testOp(1, 2, 200, 0, ReadUpTo{Stream: "n", Watermark: 7}),
		testOp(1, 3, 200, 0, ReadUpTo{Stream: "c", Watermark: 0}),
	}
	foldAll(t, ops, func(t *testing.T, s *State) {
		if got := s.Watermark("n"); got != 10 {
			t.Fatalf("watermark %d, want 10", got)
		}
	})
}

func TestReceivedDedupedByGUID(t *testing.T) {
	const g = "remote-guid-0000000001"
	a := testOp(2, 1, 100, 0, Received{GUID: g, EntityType: "Comment", Author: "x@y", PayloadHash: testHash})
	b := testOp(1, 1, 200, 0, Received{GUID: g, EntityType: "Like", Author: "x@y", PayloadHash: testHash})
	foldAll(t, []*Op{a, b}, func(t *testing.T, s *State) {
		if r, ok := s.Received(g); !ok || r.EntityType != "Like" {
			t.Fatalf("received %+v, %v; want the lowest op id's record", r, ok)
		}
	})
}

func TestMalformedChangesNothing(t *testing.T) {
	s := NewState()
	for _, op := range []*Op{
		testOp(1, 1, 100, 0, SetField{Key: "k", Value: "v"}),
		testOp(1, 2, 100, 0, AspectAdd{Aspect: "a", Member: "m"}),
	} {
		if err := s.Apply(op); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Digest()
	for _, op := range []*Op{
		{Log: LogID{Device: []byte{1}, Epoch: 1}, Seq: 3, Kind: KindSetField, Body: []byte(`{"key":"k","value":"x","more":1}`)},
		{Log: LogID{Device: []byte{1}, Epoch: 1}, Seq: 4, Kind: KindAspectRemove, Body: []byte(`{"aspect":"a","member":"m","observed":[{"seq":1}]}`)},
		{Log: LogID{Device: []byte{1}, Epoch: 1}, Seq: 5, Kind: KindPublish, Body: []byte(`{"guid":"x"}`)},
		{Log: LogID{Device: []byte{1}, Epoch: 1}, Seq: 6, Kind: KindReadUpTo, Body: []byte(`not json`)},
		{Log: LogID{Device: []byte{1}, Epoch: 1}, Seq: 0, Kind: KindSetField, Body: []byte(`{"key":"k","value":"x"}`)},
		nil,
	} {
		if err := s.Apply(op); !errors.Is(err, ErrMalformed) {
			t.Errorf("apply %+v: %v, want ErrMalformed", op, err)
		}
	}
	if s.Digest() != before {
		t.Fatal("a malformed op changed the state")
	}
	if v, _ := s.Field("k"); v != "v" {
		t.Fatalf("k = %q", v)
	}
}

func TestUnknownKindStoredNotApplied(t *testing.T) {
	s := NewState()
	set := testOp(1, 1, 100, 0, SetField{Key: "k", Value: "v"})
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	before := s.Digest()
	future := &Op{Log: set.Log, Seq: 2, Clock: HLC{Wall: 200}, Schema: CurrentSchema + 1, Kind: 4000,
		Body: []byte(`{"key":"k","value":"overwritten?"}`)}
	for range 2 {
		if err := s.Apply(future); err != nil {
			t.Fatalf("unknown kind: %v", err)
		}
	}
	if v, _ := s.Field("k"); v != "v" {
		t.Fatalf("an unknown kind changed a field: %q", v)
	}
	if got := s.Unapplied(); len(got) != 1 || got[0].Compare(future.ID()) != 0 {
		t.Fatalf("unapplied %v", got)
	}
	if s.Digest() == before {
		t.Fatal("the digest does not cover stored-not-applied ops")
	}
}

func TestDigestSeesEveryRule(t *testing.T) {
	ops := []*Op{
		testOp(1, 1, 100, 0, SetField{Key: "k", Value: "v"}),
		testOp(1, 2, 100, 0, DraftWrite{Register: "r", Value: "v"}),
		testOp(1, 3, 100, 0, SetAdd{Set: "tags", Member: "m"}),
		testOp(1, 4, 100, 0, SetRemove{Set: "tags", Member: "m", Observed: []OpRef{{Device: []byte{7}, Epoch: 1, Seq: 1}}}),
		testOp(1, 5, 100, 0, Publish{GUID: "0123456789abcdef0123", Kind: "post"}),
		testOp(1, 6, 100, 0, Retract{GUID: "0123456789abcdef9999"}),
		testOp(1, 7, 100, 0, ReadUpTo{Stream: "n", Watermark: 1}),
		testOp(1, 8, 100, 0, Received{GUID: "remote-guid-0000000001", EntityType: "Like", Author: "a@b", PayloadHash: testHash}),
	}
	s := NewState()
	seen := map[[32]byte]bool{s.Digest(): true}
	for _, op := range ops {
		if err := s.Apply(op); err != nil {
			t.Fatal(err)
		}
		d := s.Digest()
		if seen[d] {
			t.Fatalf("%s did not change the digest", op.Kind)
		}
		seen[d] = true
	}
}
