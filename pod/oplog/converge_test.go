package oplog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The convergence simulation (notes/sync.md §3.7): three devices, each with
// its own Log, key and skewed fake clock, make random ops of every kind
// from small pools (so they conflict), sync pairwise (cut short, duplicated)
// across partitions, and finally heal. Then every device must have the same
// version vector and Digest, a shuffled refold with re-application of the
// union must reach the same Digest, and the state must satisfy the no-loss
// invariants and an independent oracle of every rule.
//
//	go test ./pod/oplog/ -run TestConvergence -seeds 5000   (or SEEDPOD_SEEDS=5000)
//	SEEDPOD_SEED=123 go test ./pod/oplog/ -run TestConvergence -v

var seedsFlag = flag.Int("seeds", 0, "convergence seeds to run (default $SEEDPOD_SEEDS, else 200)")

func convergenceSeeds(t *testing.T) []uint64 {
	if s := os.Getenv("SEEDPOD_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SEEDPOD_SEED=%q: %v", s, err)
		}
		return []uint64{n}
	}
	n := 200
	if raceEnabled() {
		n = 50 // the race detector slows ed25519 about sixfold; still under ~10 s
		t.Logf("race detector on: %d seeds by default", n)
	}
	if s := os.Getenv("SEEDPOD_SEEDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("SEEDPOD_SEEDS=%q: want a positive number", s)
		}
		n = v
	}
	if *seedsFlag > 0 {
		n = *seedsFlag
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

type simStats struct {
	ops, syncs, cuts, dups, multiValue int
}

func (a *simStats) add(b simStats) {
	a.ops += b.ops
	a.syncs += b.syncs
	a.cuts += b.cuts
	a.dups += b.dups
	a.multiValue += b.multiValue
}

func TestConvergence(t *testing.T) {
	seeds := convergenceSeeds(t)
	start := time.Now()
	var (
		mu    sync.Mutex
		total simStats
		fails []string
	)
	forSeeds(seeds, func(seed uint64) bool {
		st, err := runSim(seed, nil)
		mu.Lock()
		defer mu.Unlock()
		total.add(st)
		if err != nil {
			fails = append(fails, fmt.Sprintf("seed %d: %v (rerun: SEEDPOD_SEED=%d go test ./pod/oplog/ -run TestConvergence -v)", seed, err, seed))
		}
		return true
	})
	slices.Sort(fails)
	for i, f := range fails {
		if i == 5 {
			t.Errorf("… and %d more failing seeds", len(fails)-5)
			break
		}
		t.Error(f)
	}
	t.Logf("%d seeds in %v: %d ops, %d syncs (%d cut), %d duplicate deliveries, %d registers ended with concurrent versions",
		len(seeds), time.Since(start).Round(time.Millisecond), total.ops, total.syncs, total.cuts, total.dups, total.multiValue)
}

// forSeeds runs f over the seeds on all CPUs until f returns false.
func forSeeds(seeds []uint64, f func(uint64) bool) {
	next := make(chan uint64)
	stop := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range max(runtime.GOMAXPROCS(0), 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range next {
				if !f(s) {
					once.Do(func() { close(stop) })
				}
			}
		}()
	}
feed:
	for _, s := range seeds {
		select {
		case next <- s:
		case <-stop:
			break feed
		}
	}
	close(next)
	wg.Wait()
}

// mutantSeeds finds the first seed (in order) for which a mutated fold
// fails the check, or reports that none did.
func mutantSeed(t *testing.T, mutate func(*State), limit int) {
	t.Helper()
	seeds := make([]uint64, limit)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	var (
		mu    sync.Mutex
		first uint64
		msg   string
	)
	forSeeds(seeds, func(seed uint64) bool {
		_, err := runSim(seed, mutate)
		if err == nil {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		if first == 0 || seed < first {
			first, msg = seed, err.Error()
		}
		return false
	})
	if first == 0 {
		t.Fatalf("the mutant survived %d seeds: the convergence test cannot see this bug", limit)
	}
	t.Logf("mutant caught at seed %d: %s", first, msg)
}

func TestConvergenceCatchesLWWWithoutTieBreak(t *testing.T) {
	mutantSeed(t, func(s *State) { s.fields.mutantNoTieBreak = true }, 2000)
}

func TestConvergenceCatchesORSetRemoveAllKnown(t *testing.T) {
	mutantSeed(t, func(s *State) { s.sets.mutantRemoveAllKnown = true }, 2000)
}

// ---- the simulation ----

var (
	simFields    = []string{"settings/theme", "profile/name", "aspect/a1/name", "aspects/order"}
	simRegisters = []string{"draft/d1", "draft/d2", "profile/bio"}
	simAspects   = []string{"a1", "a2"}
	simSets      = []string{"blocks", "tags", "aspect/a1"}
	simMembers   = []string{"alice@one.example", "bob@two.example", "carol@three.example"}
	simStreams   = []string{"notifications", "conversation/c1"}
	simGUIDs     = poolGUIDs("post", 6)
	simInbound   = poolGUIDs("recv", 5)
	simPubKinds  = []string{"post", "comment", "like", "reshare", "message", "poll_vote"}
)

func poolGUIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%028d", prefix, i)
	}
	return out
}

type simDevice struct {
	log   *Log
	skew  time.Duration
	state *State
	heads map[string]Head
	ops   map[string][]Signed // by log: what this device holds, in seq order
}

type sim struct {
	rng       *rand.Rand
	now       time.Time
	devs      []*simDevice
	group     []int
	mutate    func(*State)
	opened    map[string]*Op // signature → verified op (each op is verified once)
	malformed map[idKey]bool // ops made malformed on purpose
	stats     simStats
}

func logKey(l LogID) string { return string(l.Device) + "/" + strconv.FormatUint(l.Epoch, 10) }

func (s *sim) newState() *State {
	st := NewState()
	if s.mutate != nil {
		s.mutate(st)
	}
	return st
}

func runSim(seed uint64, mutate func(*State)) (simStats, error) {
	s := &sim{
		rng:       rand.New(rand.NewPCG(seed, 0x5eed90d)),
		now:       time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		mutate:    mutate,
		opened:    map[string]*Op{},
		malformed: map[idKey]bool{},
	}
	for range 3 {
		var seedKey [32]byte
		for i := range seedKey {
			seedKey[i] = byte(s.rng.Uint32())
		}
		d := &simDevice{
			skew:  time.Duration(s.rng.Int64N(int64(10*time.Minute))) - 5*time.Minute,
			state: s.newState(),
			heads: map[string]Head{},
			ops:   map[string][]Signed{},
		}
		d.log = NewLog(ed25519.NewKeyFromSeed(seedKey[:]), s.rng.Uint64(), func() time.Time { return s.now.Add(d.skew) })
		s.devs = append(s.devs, d)
		s.group = append(s.group, 0)
	}

	steps := 150 + s.rng.IntN(250)
	for range steps {
		s.now = s.now.Add(time.Duration(s.rng.IntN(3)) * time.Millisecond)
		switch r := s.rng.IntN(100); {
		case r < 50:
			if err := s.local(s.rng.IntN(3)); err != nil {
				return s.stats, err
			}
		case r < 92:
			a, b := s.rng.IntN(3), s.rng.IntN(2)
			if b >= a {
				b++
			}
			if s.group[a] != s.group[b] {
				continue
			}
			cut := s.rng.IntN(3) == 0
			if err := s.sync(a, b, cut); err != nil {
				return s.stats, err
			}
			if s.rng.IntN(2) == 0 {
				if err := s.sync(b, a, cut && s.rng.IntN(2) == 0); err != nil {
					return s.stats, err
				}
			}
		default:
			if slices.Max(s.group) > 0 {
				s.group = []int{0, 0, 0}
			} else {
				for i := range s.group {
					s.group[i] = s.rng.IntN(3)
				}
			}
		}
	}

	// Heal: everyone syncs fully with everyone.
	for range 2 {
		for a := range s.devs {
			for b := range s.devs {
				if a != b {
					if err := s.sync(a, b, false); err != nil {
						return s.stats, err
					}
				}
			}
		}
	}
	return s.stats, s.check()
}

// local makes one random op on device i and applies it there.
func (s *sim) local(i int) error {
	d := s.devs[i]
	kind, body, bad := s.randomBody(d)
	op, signed, err := d.log.Append(kind, CurrentSchema, body)
	if err != nil {
		return err
	}
	if bad {
		s.malformed[keyOf(op.ID())] = true
	}
	s.stats.ops++
	return s.receive(d, signed)
}

// sync delivers the ops device from holds and device to lacks, log by log
// in a random order, possibly cut short, with duplicated deliveries.
func (s *sim) sync(from, to int, cut bool) error {
	f, t := s.devs[from], s.devs[to]
	s.stats.syncs++
	var send []Signed
	keys := slices.Sorted(maps.Keys(f.ops))
	s.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for _, k := range keys {
		send = append(send, f.ops[k][min(len(t.ops[k]), len(f.ops[k])):]...)
	}
	if cut && len(send) > 0 {
		s.stats.cuts++
		send = send[:s.rng.IntN(len(send))]
	}
	for _, sg := range send {
		if err := s.receive(t, sg); err != nil {
			return err
		}
		if s.rng.IntN(10) == 0 {
			s.stats.dups++
			if err := s.receive(t, sg); err != nil {
				return err
			}
		}
	}
	return nil
}

// receive checks an op as a device would (signature once per op, then the
// chain), stores it and folds it in. A resend is compared with what is
// stored and folded in again (the fold must be idempotent).
func (s *sim) receive(d *simDevice, sg Signed) error {
	op, ok := s.opened[string(sg.Sig)]
	if !ok {
		var err error
		if op, err = Open(sg); err != nil {
			return fmt.Errorf("open: %w", err)
		}
		s.opened[string(sg.Sig)] = op
	} else {
		var err error
		if op, err = Decode(sg.Bytes); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
	}
	k := logKey(op.Log)
	head := d.heads[k]
	if op.Seq <= head.Seq {
		if stored := d.ops[k][op.Seq-1]; !bytes.Equal(stored.Bytes, sg.Bytes) {
			return fmt.Errorf("fork at %s:%d", op.Log, op.Seq)
		}
	} else {
		nh, err := Follow(head, op, sg)
		if err != nil {
			return fmt.Errorf("sim delivered out of order: %w", err)
		}
		d.heads[k] = nh
		d.ops[k] = append(d.ops[k], sg)
		if !op.Log.Equal(d.log.ID()) {
			d.log.Observe(op.Clock)
		}
	}
	return s.apply(d.state, op)
}

func (s *sim) apply(st *State, op *Op) error {
	err := st.Apply(op)
	switch bad := s.malformed[keyOf(op.ID())]; {
	case bad && !errors.Is(err, ErrMalformed):
		return fmt.Errorf("malformed op %s:%d applied: %v", op.Log, op.Seq, err)
	case !bad && err != nil:
		return fmt.Errorf("apply %s %s:%d: %w", op.Kind, op.Log, op.Seq, err)
	}
	return nil
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// subset is a random subset of xs (often all of it).
func subset[T any](r *rand.Rand, xs []T) []T {
	if r.IntN(10) < 7 {
		return xs
	}
	var out []T
	for _, x := range xs {
		if r.IntN(2) == 0 {
			out = append(out, x)
		}
	}
	return out
}

// randomBody makes the body of a random op as device d would, from what d
// has seen.
func (s *sim) randomBody(d *simDevice) (Kind, []byte, bool) {
	r := s.rng
	var b Body
	switch n := r.IntN(100); {
	case n < 14:
		b = SetField{Key: pick(r, simFields), Value: fmt.Sprintf("v%d", r.IntN(1000))}
	case n < 30:
		reg := pick(r, simRegisters)
		var pred []ID
		for _, v := range subset(r, d.state.RegisterVersions(reg)) {
			pred = append(pred, v.At.ID())
		}
		w := DraftWrite{Register: reg, Value: fmt.Sprintf("text %d", r.IntN(1000)), Pred: Refs(pred)}
		if r.IntN(10) == 0 {
			w.Value, w.Deleted = "", true
		}
		b = w
	case n < 39:
		b = AspectAdd{Aspect: pick(r, simAspects), Member: pick(r, simMembers)}
	case n < 47:
		a, m := pick(r, simAspects), pick(r, simMembers)
		b = AspectRemove{Aspect: a, Member: m, Observed: Refs(subset(r, d.state.Tags(AspectSet(a), m)))}
	case n < 55:
		b = SetAdd{Set: pick(r, simSets), Member: pick(r, simMembers)}
	case n < 62:
		set, m := pick(r, simSets), pick(r, simMembers)
		b = SetRemove{Set: set, Member: m, Observed: Refs(subset(r, d.state.Tags(set, m)))}
	case n < 74:
		b = Publish{
			GUID: pick(r, simGUIDs), Kind: pick(r, simPubKinds), Parent: pick(r, simInbound),
			CreatedAt: s.now.UnixMilli(), Body: fmt.Appendf(nil, `{"text":"hello %d"}`, r.IntN(1000)),
			Recipients: subset(r, simMembers),
		}
	case n < 77:
		b = Retract{GUID: pick(r, simGUIDs)}
	case n < 85:
		st := pick(r, simStreams)
		b = ReadUpTo{Stream: st, Watermark: max(d.state.Watermark(st)+int64(r.IntN(20))-8, 0)}
	case n < 95:
		h := sha256.Sum256(fmt.Appendf(nil, "%d", r.IntN(3)))
		b = Received{GUID: pick(r, simInbound), EntityType: "Comment", Author: pick(r, simMembers), PayloadHash: hex.EncodeToString(h[:])}
	case n < 98:
		return Kind(900 + r.IntN(3)), fmt.Appendf(nil, `{"future":%d}`, r.IntN(10)), false
	default:
		bad := [][]byte{
			[]byte(`{"key":"settings/theme","value":"x","extra":1}`),
			[]byte(`{"key":""}`),
			[]byte(`{"key":"a"} {"key":"b"}`),
			[]byte(`null`),
			[]byte(`{"key":`),
		}
		return KindSetField, pick(r, bad), true
	}
	body, err := EncodeBody(b)
	if err != nil {
		panic(err)
	}
	return b.OpKind(), body, false
}

// check runs every assertion after the heal.
func (s *sim) check() error {
	d0 := s.devs[0]
	for i, d := range s.devs[1:] {
		if !maps.Equal(d.heads, d0.heads) {
			return fmt.Errorf("version vectors differ between device 0 and %d", i+1)
		}
	}
	want := d0.state.Digest()
	for i, d := range s.devs[1:] {
		if got := d.state.Digest(); got != want {
			return fmt.Errorf("digest of device %d differs from device 0 after the heal", i+1)
		}
	}

	// The union, refolded in a random order with random re-application.
	var all []*Op
	for _, k := range slices.Sorted(maps.Keys(d0.ops)) {
		for _, sg := range d0.ops[k] {
			op, err := Decode(sg.Bytes)
			if err != nil {
				return err
			}
			all = append(all, op)
		}
	}
	s.rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	re := s.newState()
	for i, op := range all {
		if err := s.apply(re, op); err != nil {
			return err
		}
		if s.rng.IntN(5) == 0 {
			if err := s.apply(re, all[s.rng.IntN(i+1)]); err != nil {
				return err
			}
		}
	}
	if re.Digest() != want {
		return errors.New("a shuffled refold of all ops differs from the synced devices")
	}
	for _, reg := range simRegisters {
		if len(d0.state.RegisterVersions(reg)) > 1 {
			s.stats.multiValue++
		}
	}
	return checkOracle(d0.state, all, s.malformed)
}

// checkOracle recomputes every rule from the set of ops, independently of
// merge.go, and compares: the no-loss invariants (a write is live iff no
// write lists it in pred; an add tag is live iff no remove observed it)
// and the winners of the other rules.
func checkOracle(st *State, all []*Op, malformed map[idKey]bool) error {
	type lww struct {
		at Stamp
		v  string
	}
	var (
		fields     = map[string]lww{}
		writes     = map[string]map[idKey]bool{} // register → write ids
		preds      = map[string]map[idKey]bool{} // register → superseded
		adds       = map[[2]string]map[idKey]bool{}
		removed    = map[[2]string]map[idKey]bool{}
		pubs       = map[string]ID{}
		retracted  = map[string]bool{}
		reads      = map[string]int64{}
		recv       = map[string]ID{}
		unknown    = map[idKey]bool{}
		setMembers = map[string]bool{}
	)
	put := func(m map[[2]string]map[idKey]bool, k [2]string, id idKey) {
		if m[k] == nil {
			m[k] = map[idKey]bool{}
		}
		m[k][id] = true
	}
	putR := func(m map[string]map[idKey]bool, k string, id idKey) {
		if m[k] == nil {
			m[k] = map[idKey]bool{}
		}
		m[k][id] = true
	}
	for _, op := range all {
		if malformed[keyOf(op.ID())] {
			continue
		}
		body, err := DecodeBody(op.Kind, op.Body)
		if err != nil {
			unknown[keyOf(op.ID())] = true
			continue
		}
		at, id := StampOf(op), keyOf(op.ID())
		switch b := body.(type) {
		case SetField:
			if cur, ok := fields[b.Key]; !ok || at.Compare(cur.at) > 0 {
				fields[b.Key] = lww{at, b.Value}
			}
		case DraftWrite:
			putR(writes, b.Register, id)
			for _, p := range b.Pred {
				putR(preds, b.Register, keyOf(p.ID()))
			}
		case AspectAdd:
			put(adds, [2]string{AspectSet(b.Aspect), b.Member}, id)
		case SetAdd:
			put(adds, [2]string{b.Set, b.Member}, id)
		case AspectRemove:
			for _, o := range b.Observed {
				put(removed, [2]string{AspectSet(b.Aspect), b.Member}, keyOf(o.ID()))
			}
		case SetRemove:
			for _, o := range b.Observed {
				put(removed, [2]string{b.Set, b.Member}, keyOf(o.ID()))
			}
		case Publish:
			if cur, ok := pubs[b.GUID]; !ok || op.ID().Compare(cur) < 0 {
				pubs[b.GUID] = op.ID()
			}
		case Retract:
			retracted[b.GUID] = true
		case ReadUpTo:
			reads[b.Stream] = max(reads[b.Stream], b.Watermark)
		case Received:
			if cur, ok := recv[b.GUID]; !ok || op.ID().Compare(cur) < 0 {
				recv[b.GUID] = op.ID()
			}
		}
	}
	for k, w := range fields {
		if v, ok := st.Field(k); !ok || v != w.v {
			return fmt.Errorf("field %q = %q, the latest write says %q", k, v, w.v)
		}
	}
	for reg, ws := range writes {
		var live []idKey
		for id := range ws {
			if !preds[reg][id] {
				live = append(live, id)
			}
		}
		slices.SortFunc(live, idKey.compare)
		var got []idKey
		for _, v := range st.RegisterVersions(reg) {
			got = append(got, keyOf(v.At.ID()))
		}
		slices.SortFunc(got, idKey.compare)
		if !slices.Equal(live, got) {
			return fmt.Errorf("register %q: live writes %d, want the %d no write superseded", reg, len(got), len(live))
		}
	}
	for k, tags := range adds {
		var live []idKey
		for id := range tags {
			if !removed[k][id] {
				live = append(live, id)
			}
		}
		slices.SortFunc(live, idKey.compare)
		var got []idKey
		for _, id := range st.Tags(k[0], k[1]) {
			got = append(got, keyOf(id))
		}
		if !slices.Equal(live, got) {
			return fmt.Errorf("set %q member %q: %d live tags, want the %d no remove observed", k[0], k[1], len(got), len(live))
		}
		if len(live) > 0 {
			setMembers[k[0]+"\x00"+k[1]] = true
		}
	}
	for _, set := range append(slices.Clone(simSets), "aspect/a2") {
		for _, m := range st.Members(set) {
			if !setMembers[set+"\x00"+m] {
				return fmt.Errorf("set %q has member %q with no live add", set, m)
			}
			delete(setMembers, set+"\x00"+m)
		}
	}
	if len(setMembers) > 0 {
		return fmt.Errorf("%d live adds are not members", len(setMembers))
	}
	for _, g := range simGUIDs {
		_, live := st.Published(g)
		if st.Retracted(g) != retracted[g] {
			return fmt.Errorf("guid %s: retracted %v, want %v", g, st.Retracted(g), retracted[g])
		}
		want, published := pubs[g]
		if live != (published && !retracted[g]) {
			return fmt.Errorf("guid %s: live %v, published %v, retracted %v", g, live, published, retracted[g])
		}
		if id, ok := st.PublishedBy(g); live && (!ok || id.Compare(want) != 0) {
			return fmt.Errorf("guid %s: held by %v, want the lowest op id %v", g, id, want)
		}
	}
	for stream, w := range reads {
		if got := st.Watermark(stream); got != w {
			return fmt.Errorf("stream %q: watermark %d, want %d", stream, got, w)
		}
	}
	for g, want := range recv {
		if _, ok := st.Received(g); !ok {
			return fmt.Errorf("received %s lost", g)
		}
		if st.received.m[g].id.Seq != want.Seq || !st.received.m[g].id.Log.Equal(want.Log) {
			return fmt.Errorf("received %s: not held by the lowest op id", g)
		}
	}
	if got := st.Unapplied(); len(got) != len(unknown) {
		return fmt.Errorf("%d ops stored not applied, want %d", len(got), len(unknown))
	}
	return nil
}
