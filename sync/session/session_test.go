package session

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"seedpod/pod/oplog"
	"seedpod/sync/wire"
)

func TestTwoFreshReplicasConverge(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(map[bool]string{false: "pipe", true: "tcp"}[tcp], func(t *testing.T) {
			rnd := newGen(1<<8 | 2)
			a, b := openReplica(t, "a"), openReplica(t, "b")
			for range 5 {
				a.write(rnd, 40)
				b.write(rnd, 30)
			}
			a.writeFields(600)
			ra, rb := pair(t, a, b, pairOpts{tcp: tcp, batchOps: 100})
			if !orderly(ra.err) || !orderly(rb.err) {
				t.Fatalf("sessions ended with %v / %v", ra.err, rb.err)
			}
			requireConverged(t, a, b)
			if a.opCount() != 200+150+600 {
				t.Errorf("%d ops, want %d", a.opCount(), 200+150+600)
			}
			if ra.stats.OpsSent != 800 || rb.stats.OpsApplied != 800 || rb.stats.OpsSent != 150 || ra.stats.OpsApplied != 150 {
				t.Errorf("stats a %+v b %+v", ra.stats, rb.stats)
			}
			if d := a.dups.Load() + b.dups.Load(); d != 0 {
				t.Errorf("%d duplicates in a clean sync", d)
			}
			if ra.stats.BatchesSent < 8 {
				t.Errorf("800 ops in %d batches of at most 100", ra.stats.BatchesSent)
			}
			// A second session has nothing to move.
			ra, rb = syncPair(t, a, b)
			if ra.stats.OpsSent+rb.stats.OpsSent != 0 {
				t.Errorf("a session between converged replicas sent %d+%d ops", ra.stats.OpsSent, rb.stats.OpsSent)
			}
		})
	}
}

// A–B–C in a line: C gets A's log through B, and A gets C's.
func TestLineForwardsThirdPartyLogs(t *testing.T) {
	rnd := newGen(3<<8 | 4)
	a, b, c := openReplica(t, "a"), openReplica(t, "b"), openReplica(t, "c")
	a.write(rnd, 60)
	b.write(rnd, 50)
	c.write(rnd, 40)
	syncPair(t, a, b)
	syncPair(t, b, c)
	syncPair(t, a, b)
	requireConverged(t, a, b, c)
	if n := len(c.state().heads); n != 3 {
		t.Fatalf("c holds %d logs, want 3", n)
	}
}

// Both sides write while their session is open (live mode): everything
// arrives, with the session never restarted.
func TestConcurrentWritesWhileSyncing(t *testing.T) {
	rnd1, rnd2 := newGen(5<<8|6), newGen(7<<8|8)
	a, b := openReplica(t, "a"), openReplica(t, "b")
	a.writeFields(1500)
	stop := make(chan struct{})
	var ra, rb result
	done := make(chan struct{})
	go func() {
		defer close(done)
		ra, rb = pair(t, a, b, pairOpts{tcp: true, keepOpen: true, stop: stop})
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 30 {
			a.write(rnd1, 1+rnd1.r.IntN(5))
			time.Sleep(time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for range 30 {
			b.write(rnd2, 1+rnd2.r.IntN(5))
		}
	}()
	wg.Wait()
	waitConverged(t, 30*time.Second, a, b)
	close(stop)
	<-done
	if !orderly(ra.err) || !orderly(rb.err) {
		t.Fatalf("sessions ended with %v / %v", ra.err, rb.err)
	}
	requireConverged(t, a, b)
}

// waitConverged polls until the replicas hold the same heads.
func waitConverged(t testing.TB, d time.Duration, rs ...*replica) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx := context.Background()
		h0, _ := rs[0].Heads(ctx)
		same := true
		for _, r := range rs[1:] {
			h, _ := r.Heads(ctx)
			same = same && headsEqual(h0, h)
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no convergence in %s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A stream cut at many points: the batches that arrived whole are kept, a
// new session loses nothing and resends at most what was in flight.
func TestCutThenResume(t *testing.T) {
	rnd := newGen(9<<8 | 10)
	a0, b0 := openReplica(t, "a0"), openReplica(t, "b0")
	a0.writeFields(600)
	b0.write(rnd, 100)
	const batch = 100 // ops per batch: about 21 kB
	for _, cut := range []int64{10, 100, 5_000, 20_000, 50_000, 90_000, 120_000} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			a, b := openReplica(t, "a"), openReplica(t, "b")
			a.restoreFrom(a0)
			b.restoreFrom(b0)
			ra, rb := pair(t, a, b, pairOpts{cutA: cut, timeout: 10 * time.Second, batchOps: batch})
			if ra.err == nil || rb.err == nil || errors.Is(ra.err, context.DeadlineExceeded) {
				t.Fatalf("cut session ended with %v / %v", ra.err, rb.err)
			}
			got := b.opCount() - 100
			if whole := int(cut/22_000) * batch; got < whole {
				t.Errorf("b kept %d of a's ops from a cut after %d bytes, want the %d of the whole batches", got, cut, whole)
			}
			dupsBefore := a.dups.Load() + b.dups.Load()
			syncPairWith(t, a, b, pairOpts{batchOps: batch})
			requireConverged(t, a, b)
			if n := a.opCount(); n != 700 {
				t.Fatalf("%d ops after resuming, want 700", n)
			}
			// At most the unacknowledged batches come again.
			d := a.dups.Load() + b.dups.Load() - dupsBefore
			if d > wire.Window*batch {
				t.Errorf("%d duplicates after a cut", d)
			}
			t.Logf("cut at %d bytes: b had kept %d of a's ops; %d duplicates on resume", cut, got, d)
		})
	}
}

// restoreFrom makes r a copy of src's database (same device, same ops).
func (r *replica) restoreFrom(src *replica) {
	r.t.Helper()
	r.close()
	src.copyTo(r.path)
	r.open()
}

// A replica restored from an old copy of its database writes different
// ops: its peer reports the fork, the restored one learns it was restored.
func TestForkedLogAfterRestore(t *testing.T) {
	rnd := newGen(11<<8 | 12)
	a, b := openReplica(t, "a"), openReplica(t, "b")
	a.write(rnd, 20)
	backup := a.path + ".bak"
	a.copyTo(backup)
	a.write(rnd, 20)
	syncPair(t, a, b)

	// a's disk is replaced with the backup; it writes on.
	a.close()
	a.path = backup
	a.open()
	a.write(rnd, 5) // seq 21..25, different from what b holds
	self := a.self()

	var forksA, forksB []ForkReport
	var restored []oplog.LogID
	var mu sync.Mutex
	before := b.state()
	ra, rb := pair(t, a, b, pairOpts{
		modA: func(o *Options) {
			o.OnFork = func(f ForkReport) { mu.Lock(); forksA = append(forksA, f); mu.Unlock() }
			o.OnRestored = func(l oplog.LogID) { mu.Lock(); restored = append(restored, l); mu.Unlock() }
		},
		modB: func(o *Options) { o.OnFork = func(f ForkReport) { mu.Lock(); forksB = append(forksB, f); mu.Unlock() } },
	})
	if !orderly(ra.err) || !orderly(rb.err) {
		t.Fatalf("sessions ended with %v / %v", ra.err, rb.err)
	}
	if len(forksB) != 1 || !forksB[0].Log.Equal(self) || forksB[0].ByPeer || forksB[0].Seq != 25 {
		t.Errorf("b's fork reports: %+v", forksB)
	}
	if len(forksA) != 1 || !forksA[0].ByPeer || forksA[0].Mine == forksA[0].Theirs {
		t.Errorf("a's fork reports: %+v", forksA)
	}
	if len(restored) != 1 || !restored[0].Equal(self) {
		t.Errorf("a's OnRestored: %v", restored)
	}
	if d := diffState(before, b.state()); d != "" {
		t.Errorf("b changed: %s", d)
	}
	if rb.stats.Forks != 1 {
		t.Errorf("b stats: %+v", rb.stats)
	}
}

// Restored without writing yet: only OnRestored, no fork, and a's own
// ops are not taken back (its log would reuse their seqs).
func TestRestoredWithoutFork(t *testing.T) {
	rnd := newGen(13<<8 | 14)
	a, b := openReplica(t, "a"), openReplica(t, "b")
	a.write(rnd, 10)
	backup := a.path + ".bak"
	a.copyTo(backup)
	a.write(rnd, 10)
	b.write(rnd, 7)
	syncPair(t, a, b)
	a.close()
	a.path = backup
	a.open()
	var restored atomic.Int32
	var forks atomic.Int32
	ra, _ := pair(t, a, b, pairOpts{
		modA: func(o *Options) { o.OnRestored = func(oplog.LogID) { restored.Add(1) } },
		modB: func(o *Options) { o.OnFork = func(ForkReport) { forks.Add(1) } },
	})
	if restored.Load() != 1 || forks.Load() != 0 {
		t.Errorf("restored %d, forks %d", restored.Load(), forks.Load())
	}
	if ra.stats.OpsApplied != 7 || a.opCount() != 17 {
		t.Errorf("a applied %d, holds %d ops; want b's 7 only", ra.stats.OpsApplied, a.opCount())
	}
}

// An unpaired peer gets Bye and nothing changes on either side.
func TestUnpairedPeerGetsBye(t *testing.T) {
	rnd := newGen(15<<8 | 16)
	a, b := openReplica(t, "a"), openReplica(t, "b")
	a.write(rnd, 10)
	b.write(rnd, 10)
	a.refuse.Store(fmt.Sprintf("%x", []byte(b.self().Device)), true)
	sa, sb := a.state(), b.state()
	ra, rb := pair(t, a, b, pairOpts{timeout: 5 * time.Second})
	if !errors.Is(ra.err, ErrUnpaired) || !errors.Is(rb.err, ErrUnpaired) {
		t.Fatalf("errors %v / %v, want ErrUnpaired on both", ra.err, rb.err)
	}
	var bye *ByeError
	if !errors.As(rb.err, &bye) || bye.Code != wire.ByeUnpaired {
		t.Errorf("b's error %v is not the peer's Bye", rb.err)
	}
	if diffState(sa, a.state()) != "" || diffState(sb, b.state()) != "" {
		t.Error("a replica changed")
	}
}

// A third-party log the receiver does not accept (yet) is not stored; the
// session goes on, and once the log is accepted it is asked for and
// arrives.
func TestThirdPartyLogAcceptedLater(t *testing.T) {
	rnd := newGen(17<<8 | 18)
	a, b, c := openReplica(t, "a"), openReplica(t, "b"), openReplica(t, "c")
	c.write(rnd, 30)
	syncPair(t, a, c) // a holds c's log
	a.write(rnd, 10)
	cdev := fmt.Sprintf("%x", []byte(c.self().Device))
	b.refuse.Store(cdev, true)

	stop := make(chan struct{})
	done := make(chan struct{})
	var ra, rb result
	go func() {
		defer close(done)
		ra, rb = pair(t, a, b, pairOpts{keepOpen: true, stop: stop})
	}()
	waitFor(t, func() bool { return b.opCount() == 10 }, "b gets a's ops")
	time.Sleep(50 * time.Millisecond)
	if n := b.opCount(); n != 10 {
		t.Fatalf("b stored %d ops, want only a's 10", n)
	}
	b.refuse.Delete(cdev) // c is paired now (the registry op arrived)
	b.write(rnd, 1)       // any commit makes the session look again
	waitFor(t, func() bool { return b.opCount() == 41 }, "b gets c's log")
	close(stop)
	<-done
	if !orderly(ra.err) || !orderly(rb.err) {
		t.Fatalf("sessions ended with %v / %v", ra.err, rb.err)
	}
	requireConverged(t, a, b)
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A write on one side shows in the other's database while the session
// stays open.
func TestLivePropagation(t *testing.T) {
	rnd := newGen(19<<8 | 20)
	a, b := openReplica(t, "a"), openReplica(t, "b")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pair(t, a, b, pairOpts{keepOpen: true, stop: stop, tcp: true})
	}()
	for i := range 20 {
		a.write(rnd, 1)
		waitFor(t, func() bool { return b.opCount() == i+1 }, "the write reaches b")
	}
	b.write(rnd, 1)
	waitFor(t, func() bool { return a.opCount() == 21 }, "b's write reaches a")
	close(stop)
	<-done
	requireConverged(t, a, b)
}

// rawPeer drives the other end of a session by hand.
type rawPeer struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	key  ed25519.PrivateKey
	log  *oplog.Log
}

func newRawPeer(t testing.TB, conn net.Conn, seed byte) *rawPeer {
	s := make([]byte, 32)
	s[0] = seed
	key := ed25519.NewKeyFromSeed(s)
	return &rawPeer{t: t, conn: conn, r: bufio.NewReader(conn), key: key, log: oplog.NewLog(key, 5, nil)}
}

func (p *rawPeer) id() oplog.LogID { return p.log.ID() }

func (p *rawPeer) send(m wire.Msg) error {
	p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := wire.WriteFrame(p.conn, m)
	return err
}

func (p *rawPeer) recv() (wire.Msg, error) {
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return wire.ReadFrame(p.r, 0)
}

func (p *rawPeer) hello() *wire.Hello {
	return &wire.Hello{ProtoMin: 1, ProtoMax: 1, Log: p.id()}
}

// ops appends n field writes to the raw peer's own log.
func (p *rawPeer) ops(n int) []oplog.Signed {
	var out []oplog.Signed
	for i := range n {
		body, _ := oplog.EncodeBody(oplog.SetField{Key: "raw", Value: fmt.Sprint(i)})
		_, s, err := p.log.Append(oplog.KindSetField, oplog.CurrentSchema, body)
		if err != nil {
			p.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// runAgainstRaw starts a session on r against a raw peer and returns a
// channel with its outcome.
func runAgainstRaw(t *testing.T, r *replica, mod func(*Options)) (*rawPeer, <-chan result) {
	ca, cb := net.Pipe()
	p := newRawPeer(t, cb, 99)
	o := r.opts()
	if mod != nil {
		mod(&o)
	}
	ch := make(chan result, 1)
	go func() {
		st, err := Run(context.Background(), ca, r, o)
		ch <- result{st, err}
	}()
	t.Cleanup(func() { cb.Close() })
	return p, ch
}

func waitResult(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end")
	}
	return result{}
}

// drain reads frames until the session closes, returning them.
func (p *rawPeer) drain() []wire.Msg {
	var out []wire.Msg
	for {
		m, err := p.recv()
		if err != nil {
			return out
		}
		out = append(out, m)
	}
}

func TestBadPeerFrames(t *testing.T) {
	rnd := newGen(21<<8 | 22)
	uv := func(v uint64) []byte { return append([]byte(nil), binaryUvarint(v)...) }
	for _, c := range []struct {
		name string
		// after the Hellos (unless noHello), the raw peer does this
		noHello bool
		do      func(p *rawPeer) error
		want    error
	}{
		{"oversized frame", false, func(p *rawPeer) error { _, err := p.conn.Write(uv(wire.MaxFrame + 1)); return err }, wire.ErrTooLarge},
		{"unknown type", false, func(p *rawPeer) error { _, err := p.conn.Write([]byte{1, 42}); return err }, wire.ErrMalformed},
		{"malformed body", false, func(p *rawPeer) error { _, err := p.conn.Write([]byte{3, byte(wire.TypeBye), 0, 9}); return err }, wire.ErrMalformed},
		{"batch first", true, func(p *rawPeer) error { return p.send(&wire.Batch{Ops: p.ops(1)}) }, ErrProtocol},
		{"second hello", false, func(p *rawPeer) error { return p.send(p.hello()) }, ErrProtocol},
		{"ack for nothing", false, func(p *rawPeer) error {
			// The session sends one batch (5 ops): a second Ack acks nothing.
			p.send(&wire.Ack{})
			return p.send(&wire.Ack{})
		}, ErrProtocol},
		{"op that is not an op", false, func(p *rawPeer) error {
			return p.send(&wire.Batch{Ops: []oplog.Signed{{Bytes: []byte("garbage"), Sig: make([]byte, 64)}}})
		}, oplog.ErrMalformed},
		{"bad signature", false, func(p *rawPeer) error {
			ops := p.ops(3)
			ops[2].Sig = append([]byte(nil), ops[2].Sig...)
			ops[2].Sig[0] ^= 1
			return p.send(&wire.Batch{Ops: ops})
		}, oplog.ErrSignature},
		{"ops out of order", false, func(p *rawPeer) error {
			ops := p.ops(3)
			return p.send(&wire.Batch{Ops: []oplog.Signed{ops[0], ops[2], ops[1]}})
		}, ErrProtocol},
		{"too many batches in flight", false, func(p *rawPeer) error {
			ops := p.ops(wire.Window + 2)
			for i := range wire.Window + 2 {
				if err := p.send(&wire.Batch{Ops: ops[i : i+1]}); err != nil {
					return err
				}
			}
			return nil
		}, ErrProtocol},
		{"a peer with this device's key", true, nil, ErrProtocol},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := openReplica(t, "r")
			r.write(rnd, 5)
			before := r.state()
			var mod func(*Options)
			if c.name == "too many batches in flight" {
				// A slow database: batches pile up.
				mod = nil
				r.slowApply.Store(int64(200 * time.Millisecond))
			}
			p, ch := runAgainstRaw(t, r, mod)
			go func() {
				if _, err := p.recv(); err != nil { // the session's Hello
					return
				}
				switch {
				case c.name == "a peer with this device's key":
					h := p.hello()
					h.Log = r.self()
					p.send(h)
				case !c.noHello:
					p.send(p.hello())
				}
				if c.do != nil {
					c.do(p)
				}
				p.drain()
			}()
			res := waitResult(t, ch)
			if !errors.Is(res.err, c.want) {
				t.Fatalf("session ended with %v, want %v", res.err, c.want)
			}
			r.slowApply.Store(0)
			if strings.Contains(c.name, "flight") {
				return // the first batches were valid and may be stored
			}
			if d := diffState(before, r.state()); d != "" {
				t.Errorf("the replica changed: %s", d)
			}
		})
	}
}

func binaryUvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// The raw peer hears Bye with the reason before the stream closes.
func TestBadFrameGetsBye(t *testing.T) {
	r := openReplica(t, "r")
	p, ch := runAgainstRaw(t, r, nil)
	if _, err := p.recv(); err != nil {
		t.Fatal(err)
	}
	p.send(p.hello())
	p.conn.Write([]byte{1, 42})
	msgs := p.drain()
	res := waitResult(t, ch)
	if !errors.Is(res.err, ErrProtocol) {
		t.Fatalf("session error %v", res.err)
	}
	if len(msgs) == 0 {
		t.Fatal("no Bye")
	}
	bye, ok := msgs[len(msgs)-1].(*wire.Bye)
	if !ok || bye.Code != wire.ByeProtocol || !strings.Contains(bye.Text, "unknown type") {
		t.Fatalf("last frame %#v, want a protocol Bye", msgs[len(msgs)-1])
	}
}

func TestHelloTimeoutAndVersion(t *testing.T) {
	r := openReplica(t, "r")
	t.Run("timeout", func(t *testing.T) {
		p, ch := runAgainstRaw(t, r, func(o *Options) { o.HelloTimeout = 100 * time.Millisecond })
		go p.drain()
		if res := waitResult(t, ch); !errors.Is(res.err, ErrTimeout) {
			t.Fatalf("session ended with %v", res.err)
		}
	})
	t.Run("deaf peer", func(t *testing.T) {
		// The peer neither reads nor writes: even the Hello write blocks.
		_, ch := runAgainstRaw(t, r, func(o *Options) { o.HelloTimeout = 100 * time.Millisecond })
		start := time.Now()
		if res := waitResult(t, ch); !errors.Is(res.err, ErrTimeout) {
			t.Fatalf("session ended with %v", res.err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the session took %s to give up", d)
		}
	})
	t.Run("version", func(t *testing.T) {
		p, ch := runAgainstRaw(t, r, nil)
		p.recv()
		h := p.hello()
		h.ProtoMin, h.ProtoMax = 2, 3
		p.send(h)
		msgs := p.drain()
		if res := waitResult(t, ch); !errors.Is(res.err, ErrVersion) {
			t.Fatalf("session ended with %v", res.err)
		}
		if len(msgs) == 0 || msgs[len(msgs)-1].(*wire.Bye).Code != wire.ByeVersion {
			t.Errorf("frames %v", msgs)
		}
	})
	t.Run("wrong peer", func(t *testing.T) {
		other := make([]byte, 32)
		p, ch := runAgainstRaw(t, r, func(o *Options) { o.Peer = ed25519.NewKeyFromSeed(other).Public().(ed25519.PublicKey) })
		p.recv()
		p.send(p.hello())
		go p.drain()
		if res := waitResult(t, ch); !errors.Is(res.err, ErrProtocol) {
			t.Fatalf("session ended with %v", res.err)
		}
	})
}

// A batch that does not follow the durable head gets a Want from there
// (once), an Ack, and the resend is applied.
func TestGapIsReRequested(t *testing.T) {
	r := openReplica(t, "r")
	p, ch := runAgainstRaw(t, r, nil)
	if _, err := p.recv(); err != nil {
		t.Fatal(err)
	}
	p.send(p.hello())
	ops := p.ops(6)
	p.send(&wire.Batch{Ops: ops[3:5]})
	p.send(&wire.Batch{Ops: ops[4:6]}) // still a gap: no second Want
	var got []wire.Msg
	for len(got) < 3 {
		m, err := p.recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	want, ok := got[0].(*wire.Want)
	if !ok || len(want.Ranges) != 1 || want.Ranges[0].From != 1 || !want.Ranges[0].Log.Equal(p.id()) {
		t.Fatalf("first answer %#v, want Want from 1", got[0])
	}
	for _, m := range got[1:] {
		if a, ok := m.(*wire.Ack); !ok || len(a.Heads) != 0 {
			t.Fatalf("then %#v, want empty Acks", m)
		}
	}
	p.send(&wire.Batch{Ops: ops})
	m, err := p.recv()
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := m.(*wire.Ack); !ok || len(a.Heads) != 1 || a.Heads[0].Head.Seq != 6 {
		t.Fatalf("after the resend %#v, want Ack at 6", m)
	}
	if n := r.opCount(); n != 6 {
		t.Fatalf("%d ops stored", n)
	}
	p.send(&wire.Bye{Code: wire.ByeDone, Text: "bye"})
	var bye *ByeError
	if res := waitResult(t, ch); !errors.As(res.err, &bye) || res.stats.Dropped != 4 {
		t.Fatalf("session ended with %v, stats %+v", res.err, res.stats)
	}
}

// A peer's op that differs from a stored one: Fork is sent, the log is
// stopped, the session goes on for the others.
func TestForkFromApply(t *testing.T) {
	r := openReplica(t, "r")
	p, ch := runAgainstRaw(t, r, func(o *Options) {})
	p.recv()
	p.send(p.hello())
	ops := p.ops(3)
	p.send(&wire.Batch{Ops: ops})
	if m, _ := p.recv(); m == nil || m.Type() != wire.TypeAck {
		t.Fatalf("%v", m)
	}
	// Another history of the same log: seq 2' and 3'.
	s := make([]byte, 32)
	s[0] = 99
	alt := oplog.NewLog(ed25519.NewKeyFromSeed(s), 5, nil)
	var altOps []oplog.Signed
	for i := range 3 {
		body, _ := oplog.EncodeBody(oplog.SetField{Key: "raw", Value: fmt.Sprint(i * 10)})
		if i == 0 {
			altOps = append(altOps, ops[0])
			alt.Resume(oplog.Head{Seq: 1, Hash: ops[0].Hash()}, oplog.HLC{})
			continue
		}
		_, sg, _ := alt.Append(oplog.KindSetField, oplog.CurrentSchema, body)
		altOps = append(altOps, sg)
	}
	p.send(&wire.Batch{Ops: altOps})
	m1, _ := p.recv()
	m2, _ := p.recv()
	f, ok := m1.(*wire.Fork)
	if !ok || f.Seq != 2 || f.Mine != ops[1].Hash() || f.Yours != altOps[1].Hash() {
		t.Fatalf("got %#v, want Fork at 2", m1)
	}
	if _, ok := m2.(*wire.Ack); !ok {
		t.Fatalf("then %#v, want Ack", m2)
	}
	// Further ops of the forked log are dropped; the session lives.
	more := p.ops(2)
	p.send(&wire.Batch{Ops: more})
	if m, _ := p.recv(); m == nil || m.Type() != wire.TypeAck || len(m.(*wire.Ack).Heads) != 0 {
		t.Fatalf("%#v", m)
	}
	p.send(&wire.Bye{})
	res := waitResult(t, ch)
	if res.stats.Forks != 1 || r.opCount() != 3 {
		t.Fatalf("stats %+v, %d ops", res.stats, r.opCount())
	}
}
