package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"seedpod/pod/oplog"
)

// The op log in SQLite (DESIGN.md §4). Every change is an op appended to
// this device's log; the op, its generic effect (st_* tables, the fold that
// pod/oplog's State specifies) and its domain effect (posts, aspects, … —
// project.go) are written in one transaction. Ops from other devices go
// through Apply with the same effect code, so a refold, a sync and a live
// write all reach the same tables.

// ErrFork is returned by Apply when an op has a sequence number already
// held by a different op of the same log: a device restored from an old
// backup that reused its epoch.
var ErrFork = errors.New("log fork")

// Change names what an op changed, for the projections and for listeners
// (the API's event stream).
type Change struct {
	Kind oplog.Kind
	// Key is the field key, register name, set name, guid or stream.
	Key string
	// Member is the set member for set changes.
	Member string
	// Entity is the received entity type for KindReceived.
	Entity string
}

// Log is this device's op log inside the database: its key, epoch and head.
type Log struct {
	db  *DB
	mu  sync.Mutex                // one Write at a time: the in-memory head follows the committed one
	log atomic.Pointer[oplog.Log] // replaced by NewEpoch, under mu
	now func() time.Time

	listenMu  sync.Mutex
	listeners map[int]func([]Change)
	nextID    int
}

// OpenLog loads this device's key and epoch (creating them on first use)
// and resumes its log from the stored head, with the clock past every op
// stored here.
func (db *DB) OpenLog(ctx context.Context, now func() time.Time) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	var seed []byte
	var epoch int64
	err := db.W.QueryRowContext(ctx, "SELECT seed, epoch FROM device WHERE id = 1").Scan(&seed, &epoch)
	if errors.Is(err, sql.ErrNoRows) {
		seed = make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		epoch = newEpoch()
		if _, err := db.W.ExecContext(ctx, "INSERT INTO device (id, seed, epoch, created_at) VALUES (1, ?, ?, ?)",
			seed, epoch, now().UnixMilli()); err != nil {
			return nil, fmt.Errorf("create device key in %s: %w", db.path, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read device key in %s: %w", db.path, err)
	} else if epoch == 0 {
		// A restored backup (MarkRestored): this device's log goes on
		// in a new epoch, as the old one may have gone further than the
		// backup, on this machine or another.
		epoch = newEpoch()
		if _, err := db.W.ExecContext(ctx, "UPDATE device SET epoch = ? WHERE id = 1", epoch); err != nil {
			return nil, fmt.Errorf("start a new epoch in %s: %w", db.path, err)
		}
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("device key in %s: %d bytes, want %d", db.path, len(seed), ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	l := &Log{db: db, now: now, listeners: map[int]func([]Change){}}
	l.log.Store(oplog.NewLog(key, uint64(epoch), now))
	id := l.log.Load().ID()
	var head oplog.Head
	var hash []byte
	err = db.W.QueryRowContext(ctx, "SELECT seq, hash FROM heads WHERE device = ? AND epoch = ?",
		[]byte(id.Device), int64(id.Epoch)).Scan(&head.Seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read own head in %s: %w", db.path, err)
	default:
		copy(head.Hash[:], hash)
	}
	var last oplog.HLC
	var wall, logical sql.NullInt64
	if err := db.W.QueryRowContext(ctx,
		"SELECT wall, logical FROM ops ORDER BY wall DESC, logical DESC LIMIT 1").Scan(&wall, &logical); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read last clock in %s: %w", db.path, err)
	}
	last = oplog.HLC{Wall: uint64(wall.Int64), Logical: uint32(logical.Int64)}
	l.log.Load().Resume(head, last)
	return l, nil
}

// newEpoch is a random epoch; 0 is reserved for "start a new one".
func newEpoch() int64 {
	for {
		var e [8]byte
		rand.Read(e[:])
		if v := int64(binary.BigEndian.Uint64(e[:])); v != 0 {
			return v
		}
	}
}

// MarkRestored is the SQL that makes a copy of the database (a backup)
// start a new epoch of this device's log when it is opened: the copy's
// log must not go on where the original's went on too.
const MarkRestored = "UPDATE device SET epoch = 0"

// NewEpoch starts a new epoch of this device's log: its peers hold ops of
// the current epoch beyond this database's head (it was restored from an
// older copy), so appending to it would fork it. The old epoch stays as a
// log like any other device's. Listeners are not told; the caller
// restarts what names this device's log.
func (l *Log) NewEpoch(ctx context.Context) (oplog.LogID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var seed []byte
	if err := l.db.W.QueryRowContext(ctx, "SELECT seed FROM device WHERE id = 1").Scan(&seed); err != nil {
		return oplog.LogID{}, fmt.Errorf("new epoch in %s: %w", l.db.path, err)
	}
	epoch := newEpoch()
	if _, err := l.db.W.ExecContext(ctx, "UPDATE device SET epoch = ? WHERE id = 1", epoch); err != nil {
		return oplog.LogID{}, fmt.Errorf("new epoch in %s: %w", l.db.path, err)
	}
	nl := oplog.NewLog(ed25519.NewKeyFromSeed(seed), uint64(epoch), l.now)
	var wall, logical sql.NullInt64
	if err := l.db.W.QueryRowContext(ctx,
		"SELECT wall, logical FROM ops ORDER BY wall DESC, logical DESC LIMIT 1").Scan(&wall, &logical); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return oplog.LogID{}, fmt.Errorf("new epoch in %s: read last clock: %w", l.db.path, err)
	}
	nl.Resume(oplog.Head{}, oplog.HLC{Wall: uint64(wall.Int64), Logical: uint32(logical.Int64)})
	l.log.Store(nl)
	return nl.ID(), nil
}

// Key is this device's signing key (also its libp2p identity).
func (l *Log) Key() ed25519.PrivateKey { return l.log.Load().Key() }

// ID is this device's log.
func (l *Log) ID() oplog.LogID { return l.log.Load().ID() }

// Listen registers fn to be called after each commit with what changed. It
// runs on the committing goroutine and must not block; the returned func
// unregisters it.
func (l *Log) Listen(fn func([]Change)) (cancel func()) {
	l.listenMu.Lock()
	defer l.listenMu.Unlock()
	id := l.nextID
	l.nextID++
	l.listeners[id] = fn
	return func() {
		l.listenMu.Lock()
		defer l.listenMu.Unlock()
		delete(l.listeners, id)
	}
}

func (l *Log) notify(ch []Change) {
	if len(ch) == 0 {
		return
	}
	l.listenMu.Lock()
	fns := make([]func([]Change), 0, len(l.listeners))
	for _, fn := range l.listeners {
		fns = append(fns, fn)
	}
	l.listenMu.Unlock()
	for _, fn := range fns {
		fn(ch)
	}
}

// Tx is a write transaction with the op log's apply machinery.
type Tx struct {
	*sql.Tx
	ctx     context.Context // statements' context: parent without its cancellation (newTx)
	parent  context.Context
	changes []Change
	// pending domain work, deduplicated, run before commit
	dirty map[Change]bool
	order []Change
	stmts map[string]*sql.Stmt
	// me is the identity as the last flush read it (Me), nil once an
	// identity field changes.
	me *Me
	// cache holds fold reads while flush runs (project.go).
	cache *flushCache
	// prefetch parses an Apply batch's received payloads on the side.
	prefetch *prefetch
}

// Ctx is the transaction's context.
func (tx *Tx) Ctx() context.Context { return tx.ctx }

// Writer appends this device's ops inside one transaction. The function
// passed to Write reads through it (it is a *Tx) and appends; every op is
// applied at once, so later reads in the same function see its effect.
type Writer struct {
	*Tx
	l   *Log
	ops []*oplog.Op
}

// Append makes the next op of this device's log from body and applies it.
func (w *Writer) Append(b oplog.Body) (*oplog.Op, error) {
	raw, err := oplog.EncodeBody(b)
	if err != nil {
		return nil, err
	}
	op, s, err := w.l.log.Load().Append(b.OpKind(), oplog.CurrentSchema, raw)
	if err != nil {
		return nil, err
	}
	if err := w.Tx.insertOp(op, s); err != nil {
		return nil, err
	}
	if err := w.Tx.apply(op); err != nil {
		return nil, err
	}
	w.ops = append(w.ops, op)
	// Project at once, so what fn reads next sees this op's effect.
	if err := w.Tx.flush(); err != nil {
		return nil, err
	}
	return op, nil
}

// Ops are the ops appended so far.
func (w *Writer) Ops() []*oplog.Op { return w.ops }

// Now is the log's clock reading (ms), for created_at values.
func (w *Writer) Now() time.Time { return w.l.now() }

// Write runs fn in one write transaction. If fn or the commit fails,
// nothing fn appended is kept: the transaction rolls back and the log's
// head is restored.
func (l *Log) Write(ctx context.Context, fn func(w *Writer) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	head := l.log.Load().Head()
	sqlTx, err := l.db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	w := &Writer{Tx: newTx(ctx, sqlTx), l: l}
	err = fn(w)
	if err == nil {
		err = w.Tx.flush()
	}
	w.Tx.prefetch.close()
	w.Tx.prefetch = nil
	if err == nil {
		err = sqlTx.Commit()
		if err != nil {
			err = fmt.Errorf("commit write: %w", err)
		}
	}
	if err != nil {
		sqlTx.Rollback()
		if len(w.ops) > 0 {
			l.log.Load().Resume(head, oplog.HLC{})
		}
		return err
	}
	l.notify(w.changes)
	return nil
}

// Prefetch starts parsing the received payloads among bodies (and
// rendering status messages' text) on a second goroutine, for this
// write's projections, as Apply does for a sync batch: a write that
// appends a page of received entities (the federation engine) overlaps
// that work with storing and folding the ops. At most once per write.
func (w *Writer) Prefetch(bodies []any) {
	if w.Tx.prefetch == nil {
		w.Tx.prefetch = startPrefetch(bodies)
	}
}

// newTx wraps a transaction begun with ctx. Its statements run under ctx
// without its cancellation: modernc.org/sqlite starts a goroutine and a
// progress handler for every statement whose context can end, a tenth of
// the apply path (BenchmarkSyncInitial profile, 2026-11-27). Cancelling
// ctx still ends the transaction: database/sql rolls it back, and the next
// statement fails with sql.ErrTxDone; every statement here is short.
func newTx(ctx context.Context, tx *sql.Tx) *Tx {
	return &Tx{Tx: tx, ctx: context.WithoutCancel(ctx), parent: ctx, dirty: map[Change]bool{}}
}

// ApplyResult says what Apply did with a batch.
type ApplyResult struct {
	Applied    int // new ops stored and applied
	Duplicates int // ops already stored (same bytes)
}

// Apply stores and applies signed ops from other devices (sync), in one
// transaction: each op's signature is verified, it must follow its log's
// head (a gap is refused, a resend of a stored op skipped, a different op
// at a stored seq is a fork), and its effect is folded in. On any error
// nothing of the batch is kept.
func (l *Log) Apply(ctx context.Context, batch []oplog.Signed) (ApplyResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var res ApplyResult
	sqlTx, err := l.db.W.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin apply: %w", err)
	}
	defer sqlTx.Rollback()
	tx := newTx(ctx, sqlTx)
	heads := map[string]oplog.Head{}
	var maxClock oplog.HLC
	// Verify only the last op of each log's run in the batch: its
	// signature covers its Prev hash, which covers the previous op's bytes
	// and signature, and so on down the run, so the chain check below
	// authenticates the rest (notes/sync.md §3.4). Ed25519 verification was
	// a quarter of the apply path before this.
	ops := make([]*oplog.Op, len(batch))
	for i, s := range batch {
		op, err := oplog.Decode(s.Bytes)
		if err != nil {
			return ApplyResult{}, fmt.Errorf("op %d of batch: %w", i, err)
		}
		ops[i] = op
	}
	for i, op := range ops {
		if i+1 < len(ops) && ops[i+1].Log.Equal(op.Log) && ops[i+1].Seq == op.Seq+1 {
			continue // the next op chains to this one and is checked in its turn
		}
		if _, err := oplog.Open(batch[i]); err != nil {
			return ApplyResult{}, fmt.Errorf("op %d of batch: %w", i, err)
		}
	}
	keys := make([]string, len(ops))
	for i, op := range ops {
		keys[i] = op.Log.String()
		if _, ok := heads[keys[i]]; !ok {
			head, err := tx.head(op.Log)
			if err != nil {
				return ApplyResult{}, err
			}
			heads[keys[i]] = head
		}
	}
	// Decode the bodies of the ops past their log's head (the others are
	// resends; an op applied below is past the head, which only grows) and
	// start parsing their received payloads on the side (prefetch.go)
	// while the ops are stored and folded.
	bodies := make([]any, len(ops))
	bodyErrs := make([]error, len(ops))
	for i, op := range ops {
		if op.Seq > heads[keys[i]].Seq {
			bodies[i], bodyErrs[i] = oplog.DecodeBody(op.Kind, op.Body)
		}
	}
	tx.prefetch = startPrefetch(bodies)
	defer func() {
		tx.prefetch.close()
		tx.prefetch = nil
	}()
	// The heads of the logs this batch advances, written once each at the
	// end (in first-seen order) rather than after every op.
	var advanced []oplog.LogID
	// Ops are stored opInsertRows to a statement (storeOps); the fold
	// does not read the ops table, so it may run ahead of their insert.
	pending := make([]storedOp, 0, opInsertRows)
	for i, s := range batch {
		if err := tx.ended(); err != nil {
			return ApplyResult{}, fmt.Errorf("apply batch: %w", err)
		}
		op := ops[i]
		key := keys[i]
		head := heads[key]
		if op.Seq <= head.Seq {
			if err := tx.storeOps(&pending, 1); err != nil { // a resend of an op of this batch
				return ApplyResult{}, err
			}
			var stored []byte
			if err := tx.QueryRowContext(ctx, "SELECT hash FROM ops WHERE device = ? AND epoch = ? AND seq = ?",
				[]byte(op.Log.Device), int64(op.Log.Epoch), op.Seq).Scan(&stored); err != nil {
				return ApplyResult{}, fmt.Errorf("op %s:%d: read stored op: %w", op.Log, op.Seq, err)
			}
			h := s.Hash()
			if !bytes.Equal(stored, h[:]) {
				return ApplyResult{}, fmt.Errorf("%w: %s:%d differs from the stored op", ErrFork, op.Log, op.Seq)
			}
			res.Duplicates++
			continue
		}
		next, err := oplog.Follow(head, op, s)
		if err != nil {
			return ApplyResult{}, err
		}
		if !slices.ContainsFunc(advanced, op.Log.Equal) {
			advanced = append(advanced, op.Log)
		}
		heads[key] = next
		pending = append(pending, storedOp{op, s, next.Hash})
		if err := tx.storeOps(&pending, opInsertRows); err != nil {
			return ApplyResult{}, err
		}
		if err := tx.applyBody(op, bodies[i], bodyErrs[i]); err != nil {
			return ApplyResult{}, err
		}
		if op.Clock.Compare(maxClock) > 0 {
			maxClock = op.Clock
		}
		res.Applied++
	}
	if err := tx.storeOps(&pending, 1); err != nil {
		return ApplyResult{}, err
	}
	for _, id := range advanced {
		if err := tx.setHead(id, heads[id.String()]); err != nil {
			return ApplyResult{}, err
		}
	}
	if err := tx.flush(); err != nil {
		return ApplyResult{}, err
	}
	if err := sqlTx.Commit(); err != nil {
		return ApplyResult{}, fmt.Errorf("commit apply: %w", err)
	}
	if res.Applied > 0 {
		l.log.Load().Observe(maxClock)
	}
	l.notify(tx.changes)
	return res, nil
}

func (tx *Tx) head(id oplog.LogID) (oplog.Head, error) {
	var h oplog.Head
	var hash []byte
	err := tx.QueryRowContext(tx.ctx, "SELECT seq, hash FROM heads WHERE device = ? AND epoch = ?",
		[]byte(id.Device), int64(id.Epoch)).Scan(&h.Seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return oplog.Head{}, nil
	}
	if err != nil {
		return h, fmt.Errorf("read head of %s: %w", id, err)
	}
	copy(h.Hash[:], hash)
	return h, nil
}

func (tx *Tx) insertOp(op *oplog.Op, s oplog.Signed) error {
	h := s.Hash()
	if err := tx.storeOp(op, s, h); err != nil {
		return err
	}
	return tx.setHead(op.Log, oplog.Head{Seq: op.Seq, Hash: h})
}

// storedOp is an op waiting in Apply for its row in the ops table.
type storedOp struct {
	op   *oplog.Op
	s    oplog.Signed
	hash [32]byte
}

// opInsertRows is how many ops one INSERT of Apply stores: per-statement
// work (database/sql, binding, starting the VM) was a third of storing an
// op one statement each (BenchmarkSyncInitial profile, 2026-11-27).
const opInsertRows = 64

var insertOpsSQL = func() string {
	var b strings.Builder
	b.WriteString("INSERT INTO ops (device, epoch, seq, kind, wall, logical, bytes, sig, hash) VALUES ")
	for i := range opInsertRows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	return b.String()
}()

// storeOps stores the pending ops once at least atLeast wait: full statements
// of opInsertRows, the rest one statement each (so Apply prepares two
// statements, not one per batch size).
func (tx *Tx) storeOps(pending *[]storedOp, atLeast int) error {
	p := *pending
	if len(p) < atLeast || len(p) == 0 {
		return nil
	}
	for len(p) >= opInsertRows {
		args := make([]any, 0, 9*opInsertRows)
		for _, x := range p[:opInsertRows] {
			args = append(args, []byte(x.op.Log.Device), int64(x.op.Log.Epoch), x.op.Seq, int64(x.op.Kind),
				int64(x.op.Clock.Wall), int64(x.op.Clock.Logical), x.s.Bytes, x.s.Sig, x.hash[:])
		}
		if _, err := tx.ExecContext(tx.ctx, insertOpsSQL, args...); err != nil {
			return fmt.Errorf("store ops %s:%d to %s:%d: %w", p[0].op.Log, p[0].op.Seq,
				p[opInsertRows-1].op.Log, p[opInsertRows-1].op.Seq, err)
		}
		p = p[opInsertRows:]
	}
	for _, x := range p {
		if err := tx.storeOp(x.op, x.s, x.hash); err != nil {
			return err
		}
	}
	*pending = (*pending)[:0]
	return nil
}

// storeOp writes an op (h: its hash, s.Hash()) to the ops table; the log's
// head is the caller's to advance (setHead).
func (tx *Tx) storeOp(op *oplog.Op, s oplog.Signed, h [32]byte) error {
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO ops (device, epoch, seq, kind, wall, logical, bytes, sig, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, []byte(op.Log.Device), int64(op.Log.Epoch), op.Seq, int64(op.Kind),
		int64(op.Clock.Wall), int64(op.Clock.Logical), s.Bytes, s.Sig, h[:]); err != nil {
		return fmt.Errorf("store op %s:%d: %w", op.Log, op.Seq, err)
	}
	return nil
}

// setHead records a log's durable head.
func (tx *Tx) setHead(id oplog.LogID, h oplog.Head) error {
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO heads (device, epoch, seq, hash) VALUES (?, ?, ?, ?)
		ON CONFLICT (device, epoch) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
		[]byte(id.Device), int64(id.Epoch), h.Seq, h.Hash[:]); err != nil {
		return fmt.Errorf("advance head of %s: %w", id, err)
	}
	return nil
}

// LogHead is one log's durable head.
type LogHead struct {
	Log  oplog.LogID
	Head oplog.Head
}

// Heads are the durable heads of every log stored here.
func (db *DB) Heads(ctx context.Context) ([]LogHead, error) {
	rows, err := db.R.QueryContext(ctx, "SELECT device, epoch, seq, hash FROM heads ORDER BY device, epoch")
	if err != nil {
		return nil, fmt.Errorf("read heads: %w", err)
	}
	defer rows.Close()
	var out []LogHead
	for rows.Next() {
		var h LogHead
		var dev, hash []byte
		var ep int64
		if err := rows.Scan(&dev, &ep, &h.Head.Seq, &hash); err != nil {
			return nil, fmt.Errorf("read heads: %w", err)
		}
		h.Log = oplog.LogID{Device: dev, Epoch: uint64(ep)}
		copy(h.Head.Hash[:], hash)
		out = append(out, h)
	}
	return out, rows.Err()
}

// Ops streams the stored ops of one log from seq from (inclusive), in seq
// order, at most limit of them.
func (db *DB) Ops(ctx context.Context, log oplog.LogID, from uint64, limit int) ([]oplog.Signed, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT bytes, sig FROM ops WHERE device = ? AND epoch = ? AND seq >= ?
		ORDER BY seq LIMIT ?`, []byte(log.Device), int64(log.Epoch), from, limit)
	if err != nil {
		return nil, fmt.Errorf("read ops of %s: %w", log, err)
	}
	defer rows.Close()
	var out []oplog.Signed
	for rows.Next() {
		var s oplog.Signed
		if err := rows.Scan(&s.Bytes, &s.Sig); err != nil {
			return nil, fmt.Errorf("read ops of %s: %w", log, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func jsonStrings(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
