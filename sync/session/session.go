// Package session runs one device-sync session of /seedpod/sync/1
// (docs/sync.md) between two devices over any stream: the Hello exchange
// with per-log heads, catch-up in batches (each applied in one
// transaction and acknowledged), live push of new ops, re-requests after a
// gap, and fork detection. Both directions run at once.
//
// It talks to the local database only through Replica, and to the network
// only through the io.ReadWriteCloser it is given (a libp2p stream in
// production, net.Pipe or TCP loopback in tests). It owns no network code,
// no SQL and no knowledge of what ops mean; it must not import pod/store,
// libp2p or anything above sync/wire and pod/oplog.
//
// Decisions where the design is silent (docs/sync.md):
//
//   - Acceptance. The peer's own device must be accepted (else Bye
//     "unpaired"). A third-party log the peer names or sends that Accept
//     refuses is ignored — not applied, not a reason to end the session —
//     and re-requested with a Want once Accept takes it (checked after
//     every local commit): the op that pairs a device travels in the same
//     sync as that device's log, often after it, so closing the stream
//     would stop two devices from ever learning of a third. A peer only
//     names and sends logs its own Accept takes.
//   - Own logs. Neither side sends a device its own current log, and ops
//     of Self that arrive are dropped: the author is the authority, and a
//     device whose peer holds its log beyond its own head was restored
//     from a backup (OnRestored) and must start a new epoch, not take
//     back ops its Log would then reuse sequence numbers after.
//   - Forks are found at Hello where one side holds the other's head seq
//     (the longer side compares its op there), and when Apply reports
//     ErrFork or a chain break at the durable head. The log is then stopped
//     both ways for this session (every new session finds it again at
//     Hello); the others go on.
//   - Every Batch gets exactly one Ack, in order, even when nothing of it
//     was applied; the Ack names the logs of the batch that were taken.
//     The sender keeps at most MaxInflight (≤ wire.Window) batches
//     unacknowledged; the receiver queues at most wire.Window and ends a
//     session whose peer sends more.
//   - Live pushes are throttled rather than delayed: a change after a
//     quiet period is sent at once, and further changes within Debounce
//     are coalesced into one push at its end.
//   - A failure of the local database ends the session (Bye "internal");
//     the next session resumes from the durable heads.
package session

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"seedpod/pod/oplog"
	"seedpod/sync/wire"
)

// Head is one log's durable head.
type Head struct {
	Log  oplog.LogID
	Head oplog.Head
}

// ErrFork is what Replica.Apply's error wraps when a received op differs
// from the op stored at its seq (the pod's adapter maps store.ErrFork).
var ErrFork = errors.New("log fork")

// Errors Run's error wraps.
var (
	// ErrProtocol: the peer broke the protocol (a malformed or unexpected
	// frame, a bad op, too many batches in flight).
	ErrProtocol = errors.New("sync protocol violation")
	// ErrUnpaired: the peer's device is not accepted.
	ErrUnpaired = errors.New("peer device is not paired")
	// ErrVersion: no protocol version both sides speak.
	ErrVersion = errors.New("no common sync protocol version")
	// ErrTimeout: the peer's Hello or a write took too long.
	ErrTimeout = errors.New("sync peer timed out")
	// ErrStream: the stream failed or closed (a cut; reconnect later).
	ErrStream = errors.New("sync stream failed")
)

// ByeError is Run's error when the peer ended the session with Bye.
type ByeError struct {
	Code wire.ByeCode
	Text string
}

func (e *ByeError) Error() string {
	return fmt.Sprintf("peer ended the sync session (%s): %q", e.Code, e.Text)
}

// Replica is the local op store (pod/store's DB and Log satisfy it through a
// small adapter the pod writes). Its methods are called from several
// goroutines at once.
type Replica interface {
	// Heads are the durable heads of every log stored.
	Heads(ctx context.Context) ([]Head, error)
	// Ops are the stored ops of log with seq ≥ from, in seq order, at most
	// limit of them.
	Ops(ctx context.Context, log oplog.LogID, from uint64, limit int) ([]oplog.Signed, error)
	// Apply stores and applies a batch in one transaction, skipping ops it
	// has: all or nothing. Its error wraps ErrFork when an op differs from
	// a stored one, oplog.ErrChain when an op does not follow its log's
	// head, oplog.ErrSignature or oplog.ErrMalformed for a bad op.
	Apply(ctx context.Context, batch []oplog.Signed) (applied int, err error)
	// Changed is signalled (coalesced) after every commit that stores ops,
	// local or applied; the func unregisters.
	Changed() (<-chan struct{}, func())
}

// ForkReport says where a log forked: at Seq this device holds Mine and the
// peer Theirs. ByPeer is set when the peer found it.
type ForkReport struct {
	Log    oplog.LogID
	Seq    uint64
	Mine   [32]byte
	Theirs [32]byte
	ByPeer bool
}

// Stats count what a session did.
type Stats struct {
	BatchesSent, BatchesReceived int
	OpsSent, OpsReceived         int
	// OpsApplied are received ops stored here; Duplicates were stored
	// already; Dropped were not taken (a refused log, a stopped log, this
	// device's own log, a gap).
	OpsApplied, Duplicates, Dropped int
	BytesSent, BytesReceived        int64
	Forks                           int
	// CaughtUp: everything the peer named at Hello is stored here, and
	// everything here the peer lacks was sent and acknowledged.
	CaughtUp bool
}

// Options configure a session. Self and Accept are required.
type Options struct {
	// Self is this device's current log.
	Self oplog.LogID
	// Peer, when set, is the authenticated remote device (the libp2p peer's
	// key): the peer's Hello must name it.
	Peer ed25519.PublicKey
	// Accept reports whether a log's device is paired. Safe for concurrent
	// use; it is asked again after every local commit for logs it refused.
	Accept func(oplog.LogID) bool
	// BatchOps and BatchBytes cap an outgoing batch: 1000 ops and 4 MiB of
	// encoded body by default, which are also the most allowed.
	BatchOps   int
	BatchBytes int
	// MaxInflight is how many batches may be unacknowledged: 4 (the most).
	MaxInflight int
	// Debounce is the least time between two live pushes: 10 ms.
	Debounce time.Duration
	// HelloTimeout bounds the wait for the peer's Hello: 10 s.
	HelloTimeout time.Duration
	// WriteTimeout bounds every write: 30 s (a full batch at 140 KB/s).
	WriteTimeout time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
	// OnFork, OnRestored and OnProgress report events; they run on the
	// session's goroutines and must not block. OnRestored means the peer
	// holds Self beyond (or different from) this device's head: the device
	// was restored from a backup and must start a new epoch (the session
	// goes on without sending or taking Self). It is called at most once.
	OnFork     func(ForkReport)
	OnRestored func(oplog.LogID)
	OnProgress func(Stats)
}

const (
	defaultDebounce     = 10 * time.Millisecond
	defaultHelloTimeout = 10 * time.Second
	defaultWriteTimeout = 30 * time.Second
	// byeTimeout bounds the Bye written on the way out.
	byeTimeout = time.Second
	// maxFetch caps one Replica.Ops call. A fetch may overshoot a batch's
	// byte budget (the rest is fetched again for the next batch); the
	// chunk shrinks to what the budget holds at the largest op seen, so
	// the overshoot is bounded by maxFetch ops once, then by the budget.
	maxFetch = 128
	// firstOpGuess is the op size assumed before any is seen.
	firstOpGuess = 4 << 10
)

// Run runs one session over conn until ctx ends, the peer leaves, or
// something fails; it always closes conn and returns why it ended
// (ctx.Err() after an orderly shutdown, a *ByeError when the peer said Bye)
// with the session's stats.
func Run(ctx context.Context, conn io.ReadWriteCloser, r Replica, opts Options) (Stats, error) {
	if err := opts.check(r); err != nil {
		conn.Close()
		return Stats{}, err
	}
	s := newSession(ctx, conn, r, opts)
	err := s.run()
	return s.snapshot(), err
}

func (o *Options) check(r Replica) error {
	switch {
	case r == nil:
		return errors.New("sync session: no replica")
	case len(o.Self.Device) != wire.DeviceSize:
		return fmt.Errorf("sync session: self device key of %d bytes", len(o.Self.Device))
	case o.Accept == nil:
		return errors.New("sync session: no Accept func")
	case o.Peer != nil && len(o.Peer) != wire.DeviceSize:
		return fmt.Errorf("sync session: peer device key of %d bytes", len(o.Peer))
	}
	if o.BatchOps <= 0 || o.BatchOps > wire.MaxBatchOps {
		o.BatchOps = wire.MaxBatchOps
	}
	if o.BatchBytes <= 0 || o.BatchBytes > wire.MaxBatchBody {
		o.BatchBytes = wire.MaxBatchBody
	}
	if o.MaxInflight <= 0 || o.MaxInflight > wire.Window {
		o.MaxInflight = wire.Window
	}
	if o.Debounce <= 0 {
		o.Debounce = defaultDebounce
	}
	if o.HelloTimeout <= 0 {
		o.HelloTimeout = defaultHelloTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// logKey is a comparable form of a log ID, for maps.
type logKey string

func keyOf(l oplog.LogID) logKey {
	return logKey(binary.BigEndian.AppendUint64([]byte(l.Device), l.Epoch))
}

type session struct {
	parent context.Context // the caller's
	ctx    context.Context
	cancel context.CancelCauseFunc
	conn   io.ReadWriteCloser
	rep    Replica
	opt    Options
	log    *slog.Logger
	self   logKey

	wsem    chan struct{} // held while a frame is written
	wbuf    []byte        // the frame being written (under wsem)
	batches chan *wire.Batch
	wake    chan struct{} // the sender has work or a free slot
	wg      sync.WaitGroup

	progressMu sync.Mutex
	closeOnce  sync.Once
	failOnce   sync.Once
	err        error
	bye        *wire.Bye

	mu       sync.Mutex
	peer     oplog.LogID // the peer's own current log
	peerKey  logKey
	next     map[logKey]uint64 // the first seq the peer lacks, per log
	stopped  map[logKey]bool   // forked, or our own log when restored: neither sent nor taken
	forked   map[logKey]bool   // forks reported (once per log)
	refused  map[logKey]oplog.LogID
	wantOut  map[logKey]uint64 // Wants sent and not yet answered: from
	target   map[logKey]uint64 // what the peer named at Hello and we lack
	inflight int
	dirty    bool // the sender must scan
	idle     bool // the last scan found nothing to send
	restored bool
	peerBye  error // the peer's Bye, as Run reports it
	stats    Stats
}

func newSession(ctx context.Context, conn io.ReadWriteCloser, r Replica, opts Options) *session {
	cctx, cancel := context.WithCancelCause(ctx)
	return &session{
		parent: ctx, ctx: cctx, cancel: cancel, conn: conn, rep: r, opt: opts, self: keyOf(opts.Self),
		log:     opts.Logger.With("self", opts.Self.String()),
		wsem:    make(chan struct{}, 1),
		batches: make(chan *wire.Batch, wire.Window),
		wake:    make(chan struct{}, 1),
		next:    map[logKey]uint64{}, stopped: map[logKey]bool{}, forked: map[logKey]bool{}, refused: map[logKey]oplog.LogID{},
		wantOut: map[logKey]uint64{}, target: map[logKey]uint64{},
		dirty: true,
	}
}

// fail ends the session with err (the first one wins), sending bye first
// when it is not nil.
func (s *session) fail(err error, bye *wire.Bye) {
	if s.parent.Err() != nil {
		// Whatever failed, failed because the caller is shutting down.
		err, bye = context.Cause(s.parent), &wire.Bye{Code: wire.ByeDone, Text: "shutting down"}
	}
	s.failOnce.Do(func() {
		s.err, s.bye = err, bye
		s.cancel(err)
	})
}

func protocolErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, a...)...)
}

func (s *session) failProtocol(err error) {
	s.fail(err, &wire.Bye{Code: wire.ByeProtocol, Text: truncate(err.Error())})
}

// truncate cuts an error text to what a Bye carries.
func truncate(t string) string {
	if len(t) <= wire.MaxByeText {
		return t
	}
	return strings.ToValidUTF8(t[:wire.MaxByeText], "")
}

func (s *session) run() error {
	changed, unregister := s.rep.Changed()
	defer unregister()
	// Once the session ends, nothing may stay blocked on the stream: the
	// Hello write in particular, which runs before shutdown can close it.
	stopGuard := context.AfterFunc(s.ctx, func() {
		time.AfterFunc(2*byeTimeout, s.closeConn)
	})
	defer stopGuard()

	helloCh := make(chan *wire.Hello, 1)
	helloDone := make(chan struct{})
	s.wg.Add(1)
	go s.reader(helloCh, helloDone)

	helloTimer := time.AfterFunc(s.opt.HelloTimeout, func() {
		s.fail(fmt.Errorf("%w: no Hello within %s", ErrTimeout, s.opt.HelloTimeout),
			&wire.Bye{Code: wire.ByeTimeout, Text: "no Hello in time"})
	})
	mine, err := s.sendHello()
	if err != nil {
		s.fail(err, nil)
		helloTimer.Stop()
		return s.shutdown()
	}
	select {
	case h := <-helloCh:
		helloTimer.Stop()
		if err := s.takeHello(h, mine); err != nil {
			break
		}
		close(helloDone)
		s.wg.Add(3)
		go s.applier()
		go s.sender()
		go s.watcher(changed)
	case <-s.ctx.Done():
		helloTimer.Stop()
	}
	<-s.ctx.Done()
	return s.shutdown()
}

// shutdown sends the Bye the failure asks for, closes the stream and waits
// for every goroutine.
func (s *session) shutdown() error {
	s.failOnce.Do(func() {
		// The caller's context ended: an orderly end.
		s.err = context.Cause(s.parent)
		s.bye = &wire.Bye{Code: wire.ByeDone, Text: "shutting down"}
	})
	if s.bye != nil {
		select {
		case s.wsem <- struct{}{}:
			s.writeLocked(s.bye, byeTimeout)
			<-s.wsem
		case <-time.After(byeTimeout):
		}
	}
	s.closeConn()
	s.wg.Wait()
	if s.peerBye != nil && errors.Is(s.err, ErrStream) {
		// A write failed on a stream the peer closed after its Bye: the
		// Bye says why.
		s.err = s.peerBye
	}
	s.log.Debug("sync session ended", "peer", s.peerName(), "err", s.err)
	return s.err
}

func (s *session) closeConn() { s.closeOnce.Do(func() { s.conn.Close() }) }

func (s *session) peerName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peer.Device == nil {
		return "?"
	}
	return s.peer.String()
}

func (s *session) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.CaughtUp = len(s.target) == 0 && s.idle && !s.dirty && s.inflight == 0
	return st
}

// progress reports the stats; one report at a time, so reports arrive in
// the order their snapshots were taken.
func (s *session) progress() {
	if s.opt.OnProgress == nil {
		return
	}
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	s.opt.OnProgress(s.snapshot())
}

// write sends one frame, holding the stream for it.
func (s *session) write(m wire.Msg) error {
	select {
	case s.wsem <- struct{}{}:
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	}
	defer func() { <-s.wsem }()
	return s.writeLocked(m, s.opt.WriteTimeout)
}

type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

func (s *session) writeLocked(m wire.Msg, timeout time.Duration) error {
	b, err := wire.AppendFrame(s.wbuf[:0], m)
	if err != nil {
		return err
	}
	if cap(b) <= 2*wire.MaxFrame {
		s.wbuf = b
	}
	if d, ok := s.conn.(writeDeadliner); ok && d.SetWriteDeadline(time.Now().Add(timeout)) == nil {
		_, err = s.conn.Write(b)
	} else {
		// No deadlines on this stream: close it when the write hangs.
		t := time.AfterFunc(timeout, s.closeConn)
		_, err = s.conn.Write(b)
		if !t.Stop() && err != nil {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		return fmt.Errorf("%w: write %s: %w", ErrStream, m.Type(), err)
	}
	s.mu.Lock()
	s.stats.BytesSent += int64(len(b))
	s.mu.Unlock()
	return nil
}

func (s *session) sendHello() (map[logKey]Head, error) {
	heads, err := s.rep.Heads(s.ctx)
	if err != nil {
		return nil, fmt.Errorf("sync hello: read heads: %w", err)
	}
	mine := map[logKey]Head{}
	h := &wire.Hello{ProtoMin: wire.Version, ProtoMax: wire.Version, Log: s.opt.Self}
	for _, x := range heads {
		if !x.Log.Equal(s.opt.Self) && !s.opt.Accept(x.Log) {
			continue
		}
		mine[keyOf(x.Log)] = x
		h.Heads = append(h.Heads, wire.LogHead{Log: x.Log, Head: x.Head})
	}
	if len(h.Heads) > wire.MaxHeads {
		return nil, fmt.Errorf("sync hello: %d logs, the protocol names at most %d", len(h.Heads), wire.MaxHeads)
	}
	if err := s.write(h); err != nil {
		return nil, fmt.Errorf("sync hello: %w", err)
	}
	return mine, nil
}

// takeHello checks the peer's Hello and sets up what each side lacks.
func (s *session) takeHello(h *wire.Hello, mine map[logKey]Head) error {
	fail := func(err error, code wire.ByeCode) error {
		s.fail(err, &wire.Bye{Code: code, Text: truncate(err.Error())})
		return err
	}
	if h.ProtoMin > wire.Version || h.ProtoMax < wire.Version {
		return fail(fmt.Errorf("%w: peer speaks %d..%d, this device %d", ErrVersion, h.ProtoMin, h.ProtoMax, wire.Version), wire.ByeVersion)
	}
	if s.opt.Peer != nil && !bytes.Equal(s.opt.Peer, h.Log.Device) {
		return fail(protocolErr("hello names device %x, the stream is from %x", []byte(h.Log.Device[:6]), []byte(s.opt.Peer[:6])), wire.ByeProtocol)
	}
	if bytes.Equal(h.Log.Device, s.opt.Self.Device) {
		return fail(protocolErr("the peer claims this device's key (%s)", h.Log), wire.ByeProtocol)
	}
	if !s.opt.Accept(h.Log) {
		return fail(fmt.Errorf("%w: %s", ErrUnpaired, h.Log), wire.ByeUnpaired)
	}
	peerKey := keyOf(h.Log)
	seen := map[logKey]bool{}
	type check struct {
		log  oplog.LogID
		seq  uint64
		hash [32]byte
	}
	var checks []check // our op at seq must hash to the peer's head
	var forks []ForkReport
	restored := false

	s.mu.Lock()
	s.peer, s.peerKey = h.Log, peerKey
	for _, x := range h.Heads {
		k := keyOf(x.Log)
		if seen[k] {
			s.mu.Unlock()
			return fail(protocolErr("hello names log %s twice", x.Log), wire.ByeProtocol)
		}
		seen[k] = true
		if x.Head.Seq == 0 && x.Head.Hash != ([32]byte{}) {
			s.mu.Unlock()
			return fail(protocolErr("hello: log %s at seq 0 with a hash", x.Log), wire.ByeProtocol)
		}
		s.next[k] = x.Head.Seq + 1
		if k != s.self && !s.opt.Accept(x.Log) {
			s.refused[k] = x.Log
			continue
		}
		my := mine[k]
		switch {
		case k == s.self && x.Head.Seq > my.Head.Seq:
			// The peer holds our own log beyond our head: restored. Whether
			// it also forked the peer tells (it holds our head's seq).
			restored = true
		case x.Head.Seq == 0 || my.Head.Seq == 0:
		case x.Head.Seq == my.Head.Seq:
			if x.Head.Hash != my.Head.Hash {
				forks = append(forks, ForkReport{Log: x.Log, Seq: x.Head.Seq, Mine: my.Head.Hash, Theirs: x.Head.Hash})
			}
		case x.Head.Seq < my.Head.Seq:
			checks = append(checks, check{x.Log, x.Head.Seq, x.Head.Hash})
		}
		if x.Head.Seq > my.Head.Seq && k != s.self {
			s.target[k] = x.Head.Seq
		}
	}
	s.mu.Unlock()

	if restored {
		s.reportRestored()
	}
	for _, c := range checks {
		ops, err := s.rep.Ops(s.ctx, c.log, c.seq, 1)
		if err != nil {
			return fail(fmt.Errorf("sync hello: read op %s:%d: %w", c.log, c.seq, err), wire.ByeInternal)
		}
		if len(ops) == 0 {
			continue
		}
		if h := ops[0].Hash(); h != c.hash {
			forks = append(forks, ForkReport{Log: c.log, Seq: c.seq, Mine: h, Theirs: c.hash})
		}
	}
	for _, f := range forks {
		if err := s.fork(f); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) reportRestored() {
	s.mu.Lock()
	first := !s.restored
	s.restored = true
	s.stopped[s.self] = true
	s.mu.Unlock()
	if first {
		s.log.Warn("sync: a peer holds this device's log beyond its head; restored from a backup?", "log", s.opt.Self.String())
		if s.opt.OnRestored != nil {
			s.opt.OnRestored(s.opt.Self)
		}
	}
}

// fork stops a log, reports it and tells the peer.
func (s *session) fork(f ForkReport) error {
	k := keyOf(f.Log)
	s.mu.Lock()
	if s.forked[k] {
		s.mu.Unlock()
		return nil
	}
	s.forked[k] = true
	s.stopped[k] = true
	delete(s.target, k)
	s.stats.Forks++
	s.mu.Unlock()
	s.log.Warn("sync: log forked", "log", f.Log.String(), "seq", f.Seq, "by_peer", f.ByPeer)
	if s.opt.OnFork != nil {
		s.opt.OnFork(f)
	}
	if k == s.self {
		s.reportRestored()
	}
	if f.ByPeer {
		return nil
	}
	if err := s.write(&wire.Fork{Log: f.Log, Seq: f.Seq, Mine: f.Mine, Yours: f.Theirs}); err != nil {
		s.fail(err, nil)
		return err
	}
	return nil
}

// reader reads every frame: the Hello first, then control messages it
// handles at once and batches it queues for the applier. It never blocks
// on the rest of the session, so the peer's writes always complete.
func (s *session) reader(helloCh chan<- *wire.Hello, helloDone <-chan struct{}) {
	defer s.wg.Done()
	br := bufio.NewReaderSize(countReader{s.conn, s}, 64<<10)
	first := true
	for {
		m, err := wire.ReadFrame(br, wire.MaxFrame)
		if err != nil {
			switch {
			case s.ctx.Err() != nil:
			case errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrTooLarge):
				s.failProtocol(fmt.Errorf("%w: %w", ErrProtocol, err))
			case errors.Is(err, io.EOF):
				s.fail(fmt.Errorf("%w: the peer closed it: %w", ErrStream, err), nil)
			default:
				s.fail(fmt.Errorf("%w: read: %w", ErrStream, err), nil)
			}
			return
		}
		if first {
			first = false
			h, ok := m.(*wire.Hello)
			if !ok {
				s.failProtocol(protocolErr("first frame is %s, not Hello", m.Type()))
				return
			}
			helloCh <- h
			select {
			case <-helloDone:
			case <-s.ctx.Done():
				return
			}
			continue
		}
		if err := s.dispatch(m); err != nil {
			s.failProtocol(err)
			return
		}
	}
}

type countReader struct {
	r io.Reader
	s *session
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.s.mu.Lock()
		c.s.stats.BytesReceived += int64(n)
		c.s.mu.Unlock()
	}
	return n, err
}

func (s *session) dispatch(m wire.Msg) error {
	switch m := m.(type) {
	case *wire.Hello:
		return protocolErr("a second Hello")
	case *wire.Batch:
		select {
		case s.batches <- m:
		default:
			return protocolErr("more than %d batches unacknowledged", wire.Window)
		}
		s.mu.Lock()
		s.stats.BatchesReceived++
		s.stats.OpsReceived += len(m.Ops)
		s.mu.Unlock()
	case *wire.Ack:
		s.mu.Lock()
		if s.inflight == 0 {
			s.mu.Unlock()
			return protocolErr("an Ack for no batch")
		}
		s.inflight--
		for _, h := range m.Heads {
			k := keyOf(h.Log)
			if h.Head.Seq+1 > s.next[k] {
				s.next[k] = h.Head.Seq + 1
			}
		}
		s.mu.Unlock()
		s.signal()
		s.progress()
	case *wire.Want:
		s.mu.Lock()
		for _, r := range m.Ranges {
			k := keyOf(r.Log)
			if s.stopped[k] || k == s.peerKey {
				continue
			}
			s.next[k] = r.From
		}
		s.dirty, s.idle = true, false
		s.mu.Unlock()
		s.signal()
	case *wire.Fork:
		s.log.Info("sync: the peer reports a fork", "log", m.Log.String(), "seq", m.Seq)
		return s.fork(ForkReport{Log: m.Log, Seq: m.Seq, Mine: m.Yours, Theirs: m.Mine, ByPeer: true})
	case *wire.Bye:
		var err error = &ByeError{Code: m.Code, Text: m.Text}
		switch m.Code {
		case wire.ByeUnpaired:
			err = fmt.Errorf("%w: %w", ErrUnpaired, err)
		case wire.ByeVersion:
			err = fmt.Errorf("%w: %w", ErrVersion, err)
		}
		s.mu.Lock()
		s.peerBye = err
		s.mu.Unlock()
		s.fail(err, nil)
	}
	return nil
}

func (s *session) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// watcher turns local commits into live pushes, at most one per Debounce.
func (s *session) watcher(changed <-chan struct{}) {
	defer s.wg.Done()
	var last time.Time
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-changed:
		}
		if wait := s.opt.Debounce - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			select { // covered by the scan below
			case <-changed:
			default:
			}
		}
		last = time.Now()
		s.mu.Lock()
		s.dirty, s.idle = true, false
		s.mu.Unlock()
		s.signal()
	}
}
