package store

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"seedpod/pod/oplog"
)

// simDevice writes random ops of every kind, observing what it has seen so
// removes and merges name real tags and preds.
type simDevice struct {
	log   *oplog.Log
	state *oplog.State
	ops   []oplog.Signed
	seen  map[string]int // log → how many of its ops applied to state
}

var (
	simKeys    = []string{"profile/name", "aspect/1/name", "aspect/2/order", "settings/theme"}
	simRegs    = []string{"profile/bio", "draft/a", "draft/b"}
	simSets    = []string{"blocks", "tags", "aspect/1", "aspect/2"}
	simMembers = []string{"alice", "bob", "carol"}
	simGUIDs   = []string{"guid-aaaaaaaaaaaaaaaa", "guid-bbbbbbbbbbbbbbbb", "guid-cccccccccccccccc"}
	simStreams = []string{"notifications", "conversation/x"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (d *simDevice) randomBody(r *rand.Rand) (oplog.Kind, []byte) {
	switch r.IntN(11) {
	case 0:
		return oplog.KindSetField, oplog.SetField{Key: pick(r, simKeys), Value: fmt.Sprint(r.IntN(100))}.Encode()
	case 1:
		reg := pick(r, simRegs)
		var pred []oplog.OpRef
		for _, v := range d.state.RegisterVersions(reg) {
			if r.IntN(3) > 0 {
				pred = append(pred, oplog.RefOf(v.At.ID()))
			}
		}
		del := r.IntN(5) == 0
		val := ""
		if !del {
			val = fmt.Sprint("text ", r.IntN(1000))
		}
		return oplog.KindDraftWrite, oplog.DraftWrite{Register: reg, Value: val, Deleted: del, Pred: pred}.Encode()
	case 2:
		return oplog.KindSetAdd, oplog.SetAdd{Set: pick(r, simSets), Member: pick(r, simMembers)}.Encode()
	case 3:
		set, m := pick(r, simSets), pick(r, simMembers)
		return oplog.KindSetRemove, oplog.SetRemove{Set: set, Member: m, Observed: oplog.Refs(d.state.Tags(set, m))}.Encode()
	case 4:
		return oplog.KindAspectAdd, oplog.AspectAdd{Aspect: "1", Member: pick(r, simMembers)}.Encode()
	case 5:
		m := pick(r, simMembers)
		return oplog.KindAspectRemove, oplog.AspectRemove{Aspect: "1", Member: m, Observed: oplog.Refs(d.state.Tags("aspect/1", m))}.Encode()
	case 6:
		p := oplog.Publish{GUID: pick(r, simGUIDs), Kind: "post", CreatedAt: int64(r.IntN(1000)),
			Body: []byte(fmt.Sprintf(`{"text":"%d"}`, r.IntN(10)))}
		if r.IntN(2) == 0 {
			p.Recipients = []string{pick(r, simMembers)}
		}
		return oplog.KindPublish, p.Encode()
	case 7:
		return oplog.KindRetract, oplog.Retract{GUID: pick(r, simGUIDs)}.Encode()
	case 8:
		return oplog.KindReadUpTo, oplog.ReadUpTo{Stream: pick(r, simStreams), Watermark: int64(r.IntN(1000))}.Encode()
	case 9:
		payload := fmt.Sprint("<comment>", r.IntN(5), "</comment>")
		h := sha256.Sum256([]byte(payload))
		return oplog.KindReceived, oplog.Received{GUID: pick(r, simGUIDs) + "-in", EntityType: "Comment",
			Author: pick(r, simMembers) + "@pod.example", PayloadHash: hex.EncodeToString(h[:]), Payload: payload}.Encode()
	default:
		return oplog.Kind(200 + r.IntN(3)), []byte(`{"future":true}`)
	}
}

func (d *simDevice) observe(t testing.TB, all []*simDevice) {
	for _, o := range all {
		key := o.log.ID().String()
		for _, s := range o.ops[d.seen[key]:] {
			op, err := oplog.Open(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.state.Apply(op); err != nil {
				t.Fatal(err)
			}
		}
		d.seen[key] = len(o.ops)
	}
}

// simulate makes three devices write n ops each, syncing their views now
// and then, and returns them with the reference fold of everything.
func simulate(t testing.TB, seed uint64, n int) ([]*simDevice, *oplog.State) {
	r := rand.New(rand.NewPCG(seed, 1))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var devs []*simDevice
	for i := range 3 {
		keySeed := make([]byte, 32)
		keySeed[0], keySeed[1] = byte(i+1), byte(seed)
		skew := time.Duration(r.IntN(600)-300) * time.Second
		tick := 0
		now := func() time.Time { tick++; return base.Add(skew + time.Duration(tick)*time.Millisecond) }
		devs = append(devs, &simDevice{log: oplog.NewLog(ed25519.NewKeyFromSeed(keySeed), r.Uint64(), now),
			state: oplog.NewState(), seen: map[string]int{}})
	}
	for range 3 * n {
		d := pick(r, devs)
		if r.IntN(6) == 0 {
			d.observe(t, devs)
			continue
		}
		kind, body := d.randomBody(r)
		op, s, err := d.log.Append(kind, oplog.CurrentSchema, body)
		if err != nil {
			t.Fatal(err)
		}
		d.ops = append(d.ops, s)
		if err := d.state.Apply(op); err != nil {
			t.Fatal(err)
		}
		d.seen[d.log.ID().String()] = len(d.ops)
	}
	ref := oplog.NewState()
	for _, d := range devs {
		for _, s := range d.ops {
			op, _ := oplog.Open(s)
			if err := ref.Apply(op); err != nil {
				t.Fatal(err)
			}
		}
	}
	return devs, ref
}

// deliver applies every device's ops to the store in random batches and
// interleavings, resending some.
func deliver(t testing.TB, l *Log, devs []*simDevice, r *rand.Rand) {
	ctx := context.Background()
	next := make([]int, len(devs))
	for {
		var open []int
		for i, d := range devs {
			if next[i] < len(d.ops) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return
		}
		i := pick(r, open)
		d := devs[i]
		from := next[i]
		if from > 0 && r.IntN(5) == 0 {
			from -= 1 + r.IntN(min(from, 4)) // a resend
		}
		to := min(len(d.ops), next[i]+1+r.IntN(8))
		res, err := l.Apply(ctx, d.ops[from:to])
		if err != nil {
			t.Fatalf("apply %s [%d,%d): %v", d.log.ID(), from, to, err)
		}
		if res.Applied != to-next[i] {
			t.Fatalf("applied %d, want %d", res.Applied, to-next[i])
		}
		next[i] = to
	}
}

func openTestLog(t testing.TB) (*DB, *Log) {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "pod.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := db.OpenLog(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return db, l
}

func checkSnapshot(t *testing.T, db *DB, want oplog.Snapshot, what string) {
	t.Helper()
	got, err := db.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest() != want.Digest() || !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: SQLite fold differs from oplog.State\n got: %+v\nwant: %+v", what, got, want)
	}
}

// TestFoldMatchesState: random ops of every kind, delivered to two stores
// in different interleavings with resends, fold in SQLite exactly as
// oplog.State does; a refold in shuffled order changes nothing.
func TestFoldMatchesState(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 5
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			devs, ref := simulate(t, seed, 60)
			want := ref.Snapshot()
			r := rand.New(rand.NewPCG(seed, 2))
			dbA, la := openTestLog(t)
			deliver(t, la, devs, r)
			checkSnapshot(t, dbA, want, "store A")
			dbB, lb := openTestLog(t)
			deliver(t, lb, devs, r)
			checkSnapshot(t, dbB, want, "store B")
			if err := la.Refold(context.Background(), RefoldOptions{Shuffle: seed + 1}); err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, dbA, want, "refold")
		})
	}
}

func TestApplyRefusesGapsForksAndBadSignatures(t *testing.T) {
	devs, _ := simulate(t, 99, 20)
	d := devs[0]
	ctx := context.Background()
	db, l := openTestLog(t)
	if _, err := l.Apply(ctx, d.ops[1:3]); !errors.Is(err, oplog.ErrChain) {
		t.Fatalf("gap: %v, want ErrChain", err)
	}
	if _, err := l.Apply(ctx, d.ops[:3]); err != nil {
		t.Fatal(err)
	}
	bad := d.ops[3]
	bad.Sig = append([]byte(nil), bad.Sig...)
	bad.Sig[0] ^= 1
	if _, err := l.Apply(ctx, []oplog.Signed{d.ops[3], bad}); !errors.Is(err, oplog.ErrSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	// The failed batch left nothing: op 4 (index 3) is still missing.
	heads, _ := db.Heads(ctx)
	if len(heads) != 1 || heads[0].Head.Seq != 3 {
		t.Fatalf("heads after a refused batch: %+v", heads)
	}
	// A fork: another op signed by the same key at seq 2.
	keySeed := make([]byte, 32)
	keySeed[0], keySeed[1] = 1, 99
	forked := oplog.NewLog(ed25519.NewKeyFromSeed(keySeed), d.log.ID().Epoch, nil)
	first, _ := oplog.Open(d.ops[0])
	forked.Resume(oplog.Head{Seq: 1, Hash: d.ops[0].Hash()}, first.Clock)
	_, s, err := forked.Append(oplog.KindSetField, 1, oplog.SetField{Key: "x", Value: "fork"}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Apply(ctx, []oplog.Signed{s}); !errors.Is(err, ErrFork) {
		t.Fatalf("fork: %v, want ErrFork", err)
	}
}

func TestWriteRollsBackAndKeepsTheChain(t *testing.T) {
	ctx := context.Background()
	db, l := openTestLog(t)
	boom := errors.New("boom")
	err := l.Write(ctx, func(w *Writer) error {
		if _, err := w.Append(oplog.SetField{Key: "a", Value: "1"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if err := l.Write(ctx, func(w *Writer) error {
		_, err := w.Append(oplog.SetField{Key: "a", Value: "2"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	heads, _ := db.Heads(ctx)
	if len(heads) != 1 || heads[0].Head.Seq != 1 {
		t.Fatalf("heads: %+v, want one log at seq 1", heads)
	}
	// Reopening resumes the same log: the next op is seq 2 and chains.
	l2, err := db.OpenLog(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Write(ctx, func(w *Writer) error {
		op, err := w.Append(oplog.SetField{Key: "a", Value: "3"})
		if err == nil && op.Seq != 2 {
			err = fmt.Errorf("seq %d", op.Seq)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ops, err := db.Ops(ctx, l2.ID(), 1, 10)
	if err != nil || len(ops) != 2 {
		t.Fatalf("ops: %d %v", len(ops), err)
	}
	// Another store accepts this log as a valid chain.
	_, other := openTestLog(t)
	if _, err := other.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
}

// LiveMembers answers for many candidates at once, across its 500-member
// chunks, and only for members of that set.
func TestLiveMembers(t *testing.T) {
	ctx := context.Background()
	db, l := openTestLog(t)
	var cands []string
	if err := l.Write(ctx, func(w *Writer) error {
		for i := range 1200 {
			m := fmt.Sprintf("m%04d", i)
			cands = append(cands, m)
			if i%3 == 0 {
				if _, err := w.Append(oplog.SetAdd{Set: "handed", Member: m}); err != nil {
					return err
				}
			}
			if i%5 == 0 {
				if _, err := w.Append(oplog.SetAdd{Set: "other", Member: m}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := LiveMembers(ctx, db.R, "handed", cands)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range cands {
		want := i%3 == 0
		if got[m] != want {
			t.Fatalf("%s: member %v, want %v", m, got[m], want)
		}
	}
	if len(got) != 400 {
		t.Fatalf("%d live members, want 400", len(got))
	}
	if none, err := LiveMembers(ctx, db.R, "handed", nil); err != nil || len(none) != 0 {
		t.Fatalf("no candidates: %v %v", none, err)
	}
}
