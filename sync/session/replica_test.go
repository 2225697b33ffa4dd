package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"seedpod/pod/oplog"
	"seedpod/pod/store"
	"seedpod/sync/wire"
)

// replica is a real pod database (pod/store) behind the Replica interface:
// the adapter the pod writes, plus counters for the tests.
type replica struct {
	t    testing.TB
	name string
	path string
	skew time.Duration
	db   *store.DB
	log  *store.Log

	applied, dups atomic.Int64
	slowApply     atomic.Int64 // a delay before each Apply (ns)
	// refuse holds the devices (hex) Accept refuses.
	refuse sync.Map

	mu     sync.Mutex
	subs   map[int]chan struct{}
	nextID int
	unlis  func()
}

func openReplica(t testing.TB, name string) *replica {
	t.Helper()
	return openReplicaSkew(t, name, 0)
}

// openReplicaSkew opens a replica whose clock is off by skew.
func openReplicaSkew(t testing.TB, name string, skew time.Duration) *replica {
	t.Helper()
	r := &replica{t: t, name: name, path: filepath.Join(t.TempDir(), "pod.db"), skew: skew, subs: map[int]chan struct{}{}}
	r.open()
	t.Cleanup(r.close)
	return r
}

func (r *replica) open() {
	r.t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, r.path, store.Options{})
	if err != nil {
		r.t.Fatalf("open %s: %v", r.name, err)
	}
	skew := r.skew
	l, err := db.OpenLog(ctx, func() time.Time { return time.Now().Add(skew) })
	if err != nil {
		db.Close()
		r.t.Fatalf("open log of %s: %v", r.name, err)
	}
	r.db, r.log = db, l
	r.unlis = l.Listen(func([]store.Change) { r.signal() })
}

func (r *replica) close() {
	if r.db == nil {
		return
	}
	r.unlis()
	r.db.Close()
	r.db, r.log = nil, nil
}

// copyTo copies the database files (closed first) to dir, as a backup.
func (r *replica) copyTo(dst string) {
	r.t.Helper()
	r.close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(r.path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			r.t.Fatal(err)
		}
	}
	r.open()
}

func (r *replica) Heads(ctx context.Context) ([]Head, error) {
	hs, err := r.db.Heads(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Head, len(hs))
	for i, h := range hs {
		out[i] = Head{Log: h.Log, Head: h.Head}
	}
	return out, nil
}

func (r *replica) Ops(ctx context.Context, log oplog.LogID, from uint64, limit int) ([]oplog.Signed, error) {
	return r.db.Ops(ctx, log, from, limit)
}

func (r *replica) Apply(ctx context.Context, batch []oplog.Signed) (int, error) {
	if d := r.slowApply.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	res, err := r.log.Apply(ctx, batch)
	if errors.Is(err, store.ErrFork) {
		return 0, fmt.Errorf("%w: %w", ErrFork, err)
	}
	if err != nil {
		return 0, err
	}
	r.applied.Add(int64(res.Applied))
	r.dups.Add(int64(res.Duplicates))
	// store notifies listeners only of commits that changed something; a
	// commit of ops whose effect lost (an older field write) must still be
	// forwarded to other peers.
	if res.Applied > 0 {
		r.signal()
	}
	return res.Applied, nil
}

func (r *replica) Changed() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	r.subs[id] = ch
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.subs, id)
		r.mu.Unlock()
	}
}

func (r *replica) signal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (r *replica) self() oplog.LogID { return r.log.ID() }

func (r *replica) accept(l oplog.LogID) bool {
	_, refused := r.refuse.Load(fmt.Sprintf("%x", []byte(l.Device)))
	return !refused
}

func (r *replica) opts() Options {
	return Options{Self: r.self(), Accept: r.accept}
}

// write appends n random ops of every kind in one transaction.
func (r *replica) write(g *gen, n int) {
	r.t.Helper()
	ctx := context.Background()
	err := r.log.Write(ctx, func(w *store.Writer) error {
		for range n {
			b, err := g.body(ctx, w)
			if err != nil {
				return err
			}
			if _, err := w.Append(b); err != nil {
				return fmt.Errorf("append %T: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		r.t.Fatalf("write on %s: %v", r.name, err)
	}
}

// writeFields appends n small field writes, in transactions of up to 1000.
func (r *replica) writeFields(n int) {
	r.t.Helper()
	for n > 0 {
		k := min(n, 1000)
		err := r.log.Write(context.Background(), func(w *store.Writer) error {
			for i := range k {
				if _, err := w.Append(oplog.SetField{Key: fmt.Sprintf("setting/%s/%d", r.name, i%50), Value: fmt.Sprint(n, i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			r.t.Fatal(err)
		}
		n -= k
	}
}

var people = []string{"p0@pod.example", "p1@pod.example", "p2@pod.example", "p3@pod.example"}

// gen makes random valid ops; its posts are the guids published so far
// on any replica (a comment or retraction may name a post a replica has
// not received yet).
type gen struct {
	r     *rand.Rand
	posts []string
}

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, 0xb0d1))} }

func (g *gen) guid() string { return fmt.Sprintf("%016x%016x", g.r.Uint64(), g.r.Uint64()) }

// body is a valid op of one of the kinds the pod writes, with the observed
// tags and predecessors read from the writer's view.
func (g *gen) body(ctx context.Context, w *store.Writer) (oplog.Body, error) {
	r := g.r
	p := people[r.IntN(len(people))]
	aspect := fmt.Sprint(1 + r.IntN(3))
	switch r.IntN(10) {
	case 0:
		return oplog.SetField{Key: fmt.Sprintf("aspect/%s/name", aspect), Value: []string{"", "Friends", "Work", "Café"}[r.IntN(4)]}, nil
	case 1:
		reg := fmt.Sprintf("draft/d%d", r.IntN(2))
		vs, err := store.RegisterVersions(ctx, w, reg)
		if err != nil {
			return nil, err
		}
		if r.IntN(5) == 0 {
			return oplog.DraftWrite{Register: reg, Deleted: true, Pred: store.Preds(vs)}, nil
		}
		b, _ := json.Marshal(map[string]any{"body": fmt.Sprintf("draft %d", r.IntN(1000)), "public": true, "aspects": []int{}, "photos": []string{}})
		return oplog.DraftWrite{Register: reg, Value: string(b), Pred: store.Preds(vs)}, nil
	case 2:
		return oplog.AspectAdd{Aspect: aspect, Member: p}, nil
	case 3:
		tags, err := store.SetTags(ctx, w, oplog.AspectSet(aspect), p)
		if err != nil {
			return nil, err
		}
		return oplog.AspectRemove{Aspect: aspect, Member: p, Observed: oplog.Refs(tags)}, nil
	case 4:
		return oplog.SetAdd{Set: []string{"blocks", "ignores"}[r.IntN(2)], Member: p}, nil
	case 5:
		set := []string{"blocks", "ignores"}[r.IntN(2)]
		tags, err := store.SetTags(ctx, w, set, p)
		if err != nil {
			return nil, err
		}
		return oplog.SetRemove{Set: set, Member: p, Observed: oplog.Refs(tags)}, nil
	case 6:
		public := r.IntN(2) == 0
		body := map[string]any{"text": fmt.Sprintf("my post %d #garden", r.IntN(1000)), "public": public, "aspect_ids": []int{}, "photos": []string{}}
		if !public {
			body["aspect_ids"] = []int{1}
		}
		b, _ := json.Marshal(body)
		id := g.guid()
		g.posts = append(g.posts, id)
		return oplog.Publish{GUID: id, Kind: "post", CreatedAt: w.Now().UnixMilli(), Body: b}, nil
	case 7:
		if len(g.posts) == 0 || r.IntN(4) == 0 {
			return oplog.Retract{GUID: g.guid()}, nil
		}
		return oplog.Retract{GUID: g.posts[r.IntN(len(g.posts))]}, nil
	case 8:
		if len(g.posts) == 0 {
			return oplog.SetAdd{Set: "tags", Member: "garden"}, nil
		}
		return oplog.Publish{GUID: g.guid(), Kind: "comment", Parent: g.posts[r.IntN(len(g.posts))], CreatedAt: w.Now().UnixMilli(),
			Body: json.RawMessage(`{"text":"my comment"}`)}, nil
	default:
		return oplog.ReadUpTo{Stream: "notifications", Watermark: w.Now().Add(-time.Duration(r.IntN(100)) * time.Minute).UnixMilli()}, nil
	}
}

// state is what must be equal on converged replicas: heads, the set of
// stored ops, the fold (st_* tables) and the domain projections.
type state struct {
	heads []Head
	ops   [][]byte
	fold  string
	proj  [32]byte
}

func (r *replica) state() state {
	r.t.Helper()
	ctx := context.Background()
	var st state
	var err error
	if st.heads, err = r.Heads(ctx); err != nil {
		r.t.Fatal(err)
	}
	rows, err := r.db.R.QueryContext(ctx, "SELECT bytes FROM ops ORDER BY bytes")
	if err != nil {
		r.t.Fatal(err)
	}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			r.t.Fatal(err)
		}
		st.ops = append(st.ops, b)
	}
	rows.Close()
	snap, err := r.db.Snapshot(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	fb, err := json.Marshal(snap)
	if err != nil {
		r.t.Fatal(err)
	}
	st.fold = string(fb)
	if st.proj, _, err = r.db.ProjectionDigest(ctx); err != nil {
		r.t.Fatal(err)
	}
	return st
}

func (r *replica) opCount() int {
	var n int
	if err := r.db.R.QueryRow("SELECT count(*) FROM ops").Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

func headsEqual(a, b []Head) bool {
	return slices.EqualFunc(a, b, func(x, y Head) bool { return x.Log.Equal(y.Log) && x.Head == y.Head })
}

// diffState reports how two replicas differ ("" when they do not).
func diffState(a, b state) string {
	switch {
	case !headsEqual(a.heads, b.heads):
		return fmt.Sprintf("heads differ: %v vs %v", fmtHeads(a.heads), fmtHeads(b.heads))
	case !slices.EqualFunc(a.ops, b.ops, bytes.Equal):
		return fmt.Sprintf("ops differ: %d vs %d", len(a.ops), len(b.ops))
	case a.fold != b.fold:
		return "the fold (st_* tables) differs"
	case a.proj != b.proj:
		return "the domain projections differ"
	}
	return ""
}

func fmtHeads(hs []Head) []string {
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s@%d", h.Log, h.Head.Seq))
	}
	return out
}

func requireConverged(t testing.TB, rs ...*replica) {
	t.Helper()
	want := rs[0].state()
	for _, r := range rs[1:] {
		if d := diffState(want, r.state()); d != "" {
			t.Fatalf("%s and %s: %s", rs[0].name, r.name, d)
		}
	}
}

// conns gives two ends of a stream: net.Pipe or TCP on 127.0.0.1.
func conns(t testing.TB, tcp bool) (net.Conn, net.Conn) {
	t.Helper()
	if !tcp {
		return net.Pipe()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return a, r.c
}

// cutConn closes the stream once n bytes were written through it.
type cutConn struct {
	net.Conn
	left atomic.Int64
}

func cutAfter(c net.Conn, n int64) *cutConn {
	cc := &cutConn{Conn: c}
	cc.left.Store(n)
	return cc
}

func (c *cutConn) Write(p []byte) (int, error) {
	left := c.left.Add(-int64(len(p)))
	if left < 0 {
		keep := int64(len(p)) + left
		if keep > 0 {
			n, _ := c.Conn.Write(p[:keep])
			c.Conn.Close()
			return n, io.ErrClosedPipe
		}
		c.Conn.Close()
		return 0, io.ErrClosedPipe
	}
	return c.Conn.Write(p)
}

// result is one side's outcome.
type result struct {
	stats Stats
	err   error
}

// pair runs a session between a and b until both are caught up (then
// cancels), one side fails, or the timeout passes. ca and cb may wrap
// the ends (a cut); mod adjusts each side's options.
type pairOpts struct {
	tcp      bool
	cutA     int64 // >0: a's end closes after writing this many bytes
	timeout  time.Duration
	keepOpen bool // do not stop when caught up
	batchOps int  // BatchOps on both sides
	modA     func(*Options)
	modB     func(*Options)
	stop     <-chan struct{}
}

func pair(t testing.TB, a, b *replica, po pairOpts) (ra, rb result) {
	t.Helper()
	ca, cb := conns(t, po.tcp)
	var endA io.ReadWriteCloser = ca
	if po.cutA > 0 {
		endA = cutAfter(ca, po.cutA)
	}
	if po.timeout == 0 {
		po.timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), po.timeout)
	defer cancel()
	var upA, upB atomic.Bool
	var lastA, lastB atomic.Value
	oa, ob := a.opts(), b.opts()
	oa.OnProgress = func(s Stats) { upA.Store(s.CaughtUp); lastA.Store(s) }
	ob.OnProgress = func(s Stats) { upB.Store(s.CaughtUp); lastB.Store(s) }
	oa.BatchOps, ob.BatchOps = po.batchOps, po.batchOps
	if po.modA != nil {
		po.modA(&oa)
	}
	if po.modB != nil {
		po.modB(&ob)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ra.stats, ra.err = Run(ctx, endA, a, oa) }()
	go func() { defer wg.Done(); rb.stats, rb.err = Run(ctx, cb, b, ob) }()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return ra, rb
		case <-po.stop:
			cancel()
			<-done
			return ra, rb
		case <-tick.C:
			if !po.keepOpen && upA.Load() && upB.Load() {
				cancel()
				<-done
				return ra, rb
			}
		case <-ctx.Done():
			<-done
			if !po.keepOpen && po.stop == nil {
				t.Errorf("session %s–%s did not catch up in %s: %v / %v\nlast progress %+v\n%+v", a.name, b.name, po.timeout, ra.err, rb.err, lastA.Load(), lastB.Load())
			}
			return ra, rb
		}
	}
}

// syncPair runs sessions until the two converge, and checks each ended
// cleanly.
func syncPair(t testing.TB, a, b *replica) (ra, rb result) {
	t.Helper()
	return syncPairWith(t, a, b, pairOpts{})
}

func syncPairWith(t testing.TB, a, b *replica, po pairOpts) (ra, rb result) {
	t.Helper()
	ra, rb = pair(t, a, b, po)
	for _, r := range []result{ra, rb} {
		if !orderly(r.err) {
			t.Fatalf("session %s–%s ended with %v / %v", a.name, b.name, ra.err, rb.err)
		}
	}
	return ra, rb
}

// orderly: the session ended because its context did, or the peer's did.
func orderly(err error) bool {
	var bye *ByeError
	return errors.Is(err, context.Canceled) || errors.As(err, &bye) && bye.Code == wire.ByeDone
}
