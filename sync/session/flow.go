package session

import (
	"errors"
	"fmt"

	"seedpod/pod/oplog"
	"seedpod/sync/wire"
)

// The two directions: the applier takes the peer's batches (one
// Replica.Apply each, then one Ack), the sender sends what the peer lacks
// (catch-up and live push are the same loop over per-log cursors).

// run is one log's ops within a received batch: consecutive seqs.
type run struct {
	log         oplog.LogID
	key         logKey
	ops         []oplog.Signed
	prev        [][32]byte // each op's Prev
	first, last uint64
}

// splitRuns decodes a batch's ops and groups them by log; each log must
// appear as one run of consecutive seqs.
func splitRuns(ops []oplog.Signed) ([]*run, error) {
	var runs []*run
	seen := map[logKey]bool{}
	for i, s := range ops {
		op, err := oplog.Decode(s.Bytes)
		if err != nil {
			return nil, protocolErr("op %d of a batch: %w", i, err)
		}
		if len(op.Log.Device) != wire.DeviceSize {
			return nil, protocolErr("op %d of a batch: device key of %d bytes", i, len(op.Log.Device))
		}
		k := keyOf(op.Log)
		if n := len(runs); n > 0 && runs[n-1].key == k {
			r := runs[n-1]
			if op.Seq != r.last+1 {
				return nil, protocolErr("log %s: seq %d after %d in one batch", op.Log, op.Seq, r.last)
			}
			r.ops = append(r.ops, s)
			r.prev = append(r.prev, op.Prev)
			r.last = op.Seq
			continue
		}
		if seen[k] {
			return nil, protocolErr("log %s in two runs of one batch", op.Log)
		}
		seen[k] = true
		runs = append(runs, &run{log: op.Log, key: k, ops: []oplog.Signed{s}, prev: [][32]byte{op.Prev}, first: op.Seq, last: op.Seq})
	}
	return runs, nil
}

func (s *session) applier() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			s.drain()
			return
		case b := <-s.batches:
			if err := s.applyBatch(b, true); err != nil {
				switch {
				case s.ctx.Err() != nil:
					s.drain()
				case errors.Is(err, ErrStream):
					s.fail(err, nil)
					s.drain()
				case errors.Is(err, ErrProtocol):
					s.failProtocol(err)
				case errors.Is(err, ErrUnpaired):
					s.fail(err, &wire.Bye{Code: wire.ByeUnpaired, Text: truncate(err.Error())})
				default:
					s.fail(err, &wire.Bye{Code: wire.ByeInternal, Text: "local failure"})
				}
				return
			}
		}
	}
}

// drain applies the batches that arrived whole before the session ended
// (a cut stream, a bad frame after them): they are checked like any
// other, and the next session starts past them. Not when the caller is
// shutting down or the peer was refused.
func (s *session) drain() {
	if s.parent.Err() != nil || errors.Is(s.err, ErrUnpaired) {
		return
	}
	for {
		select {
		case b := <-s.batches:
			if err := s.applyBatch(b, false); err != nil {
				return
			}
		default:
			return
		}
	}
}

// applyBatch applies one batch and, when ack is set, acknowledges it. The
// Apply runs under the caller's context, not the session's: a batch that
// arrived whole is committed even if the stream fails meanwhile.
func (s *session) applyBatch(b *wire.Batch, ack bool) error {
	runs, err := splitRuns(b.Ops)
	if err != nil {
		return err
	}
	accepted := make([]bool, len(runs))
	for i, r := range runs {
		accepted[i] = r.key == s.self || s.opt.Accept(r.log)
	}
	var take []*run
	dropped := 0
	s.mu.Lock()
	for i, r := range runs {
		if r.last+1 > s.next[r.key] {
			s.next[r.key] = r.last + 1 // the peer has these: never send them back
		}
		if w, ok := s.wantOut[r.key]; ok && r.first <= w {
			delete(s.wantOut, r.key)
		}
		switch {
		case r.key == s.peerKey && !accepted[i]:
			s.mu.Unlock()
			return fmt.Errorf("%w: %s (revoked during the session)", ErrUnpaired, r.log)
		case r.key == s.self || s.stopped[r.key]:
			dropped += len(r.ops)
		case !accepted[i]:
			if len(s.refused) < wire.MaxHeads {
				s.refused[r.key] = r.log
			}
			delete(s.target, r.key)
			dropped += len(r.ops)
		default:
			take = append(take, r)
		}
	}
	s.stats.Dropped += dropped
	s.mu.Unlock()

	var a wire.Ack
	if len(take) > 0 {
		all := take[0].ops
		if len(take) > 1 {
			all = make([]oplog.Signed, 0, len(b.Ops))
			for _, r := range take {
				all = append(all, r.ops...)
			}
		}
		applied, err := s.rep.Apply(s.parent, all)
		switch {
		case err == nil:
			s.took(take, applied, &a)
		case s.parent.Err() != nil:
			return fmt.Errorf("sync apply: %w", err)
		default:
			// Find which log failed: apply each on its own.
			for _, r := range take {
				if err := s.applyRun(r, &a); err != nil {
					return err
				}
			}
		}
	}
	if ack {
		if err := s.write(&a); err != nil {
			return err
		}
	}
	s.progress()
	return nil
}

// took records runs applied (applied new ops among them) for the Ack.
func (s *session) took(runs []*run, applied int, ack *wire.Ack) {
	n := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range runs {
		n += len(r.ops)
		ack.Heads = append(ack.Heads, wire.LogHead{Log: r.log, Head: oplog.Head{Seq: r.last, Hash: r.ops[len(r.ops)-1].Hash()}})
		if t, ok := s.target[r.key]; ok && r.last >= t {
			delete(s.target, r.key)
		}
	}
	s.stats.OpsApplied += applied
	s.stats.Duplicates += n - applied
}

// applyRun applies one log's run after its batch failed, and handles what
// the failure means: a fork, a gap (Want), or a bad op (the session ends).
func (s *session) applyRun(r *run, ack *wire.Ack) error {
	for attempt := 0; ; attempt++ {
		applied, err := s.rep.Apply(s.parent, r.ops)
		if err == nil {
			s.took([]*run{r}, applied, ack)
			return nil
		}
		switch {
		case s.parent.Err() != nil:
			return fmt.Errorf("sync apply: %w", err)
		case errors.Is(err, ErrFork):
			f, ok, ferr := s.findFork(r)
			if ferr != nil {
				return ferr
			}
			if !ok {
				return fmt.Errorf("sync apply %s: %w, but no op differs", r.log, err)
			}
			s.drop(r)
			return s.fork(f)
		case errors.Is(err, oplog.ErrChain):
			head, herr := s.headOf(r.log)
			if herr != nil {
				return herr
			}
			switch {
			case r.first > head.Seq+1: // a gap: ask again from the durable head
				s.drop(r)
				return s.want(r, head.Seq+1)
			case r.last <= head.Seq && attempt == 0:
				continue // another session stored them meanwhile: a resend now
			case r.last > head.Seq && r.prev[head.Seq+1-r.first] != head.Hash:
				s.drop(r)
				return s.fork(ForkReport{Log: r.log, Seq: head.Seq, Mine: head.Hash, Theirs: r.prev[head.Seq+1-r.first]})
			case attempt == 0:
				continue // the head moved under us: try once more
			}
			return protocolErr("log %s: ops %d..%d do not chain: %w", r.log, r.first, r.last, err)
		case errors.Is(err, oplog.ErrSignature), errors.Is(err, oplog.ErrMalformed):
			return protocolErr("log %s: %w", r.log, err)
		default:
			return fmt.Errorf("sync apply %s: %w", r.log, err)
		}
	}
}

func (s *session) drop(r *run) {
	s.mu.Lock()
	s.stats.Dropped += len(r.ops)
	s.mu.Unlock()
}

// findFork compares a run with the stored ops at the same seqs.
func (s *session) findFork(r *run) (ForkReport, bool, error) {
	head, err := s.headOf(r.log)
	if err != nil {
		return ForkReport{}, false, err
	}
	upto := min(r.last, head.Seq)
	if upto < r.first {
		return ForkReport{}, false, nil
	}
	ours, err := s.rep.Ops(s.ctx, r.log, r.first, int(upto-r.first+1))
	if err != nil {
		return ForkReport{}, false, fmt.Errorf("sync: read ops of %s: %w", r.log, err)
	}
	for i, o := range ours {
		if i >= len(r.ops) {
			break
		}
		if mine, theirs := o.Hash(), r.ops[i].Hash(); mine != theirs {
			return ForkReport{Log: r.log, Seq: r.first + uint64(i), Mine: mine, Theirs: theirs}, true, nil
		}
	}
	return ForkReport{}, false, nil
}

func (s *session) headOf(l oplog.LogID) (oplog.Head, error) {
	heads, err := s.rep.Heads(s.ctx)
	if err != nil {
		return oplog.Head{}, fmt.Errorf("sync: read heads: %w", err)
	}
	for _, h := range heads {
		if h.Log.Equal(l) {
			return h.Head, nil
		}
	}
	return oplog.Head{}, nil
}

// want asks the peer for a log again, once per gap.
func (s *session) want(r *run, from uint64) error {
	s.mu.Lock()
	if s.wantOut[r.key] == from {
		s.mu.Unlock()
		return nil
	}
	s.wantOut[r.key] = from
	s.mu.Unlock()
	s.log.Debug("sync: gap, asking again", "log", r.log.String(), "from", from, "got", r.first)
	return s.write(&wire.Want{Ranges: []wire.Range{{Log: r.log, From: from}}})
}

// sender waits for work and a free slot, then scans.
func (s *session) sender() {
	defer s.wg.Done()
	var maxOp int = firstOpGuess
	for {
		s.mu.Lock()
		for !s.dirty || s.inflight >= s.opt.MaxInflight {
			s.mu.Unlock()
			select {
			case <-s.ctx.Done():
				return
			case <-s.wake:
			}
			s.mu.Lock()
		}
		s.dirty = false
		s.mu.Unlock()
		if err := s.scan(&maxOp); err != nil {
			switch {
			case s.ctx.Err() != nil:
			case errors.Is(err, ErrStream):
				s.fail(err, nil)
			default:
				s.log.Error("sync: send failed", "err", err)
				s.fail(err, &wire.Bye{Code: wire.ByeInternal, Text: "local failure"})
			}
			return
		}
	}
}

type cursor struct {
	log      oplog.LogID
	key      logKey
	from, to uint64
}

// scan sends one batch of what the peer lacks, if anything, and the Wants
// for refused logs that Accept now takes.
func (s *session) scan(maxOp *int) error {
	heads, err := s.rep.Heads(s.ctx)
	if err != nil {
		return fmt.Errorf("sync: read heads: %w", err)
	}
	if err := s.wantAccepted(heads); err != nil {
		return err
	}
	var cands []cursor
	s.mu.Lock()
	for _, h := range heads {
		k := keyOf(h.Log)
		if k == s.peerKey || s.stopped[k] {
			continue
		}
		n := max(s.next[k], 1)
		if h.Head.Seq >= n {
			cands = append(cands, cursor{log: h.Log, key: k, from: n, to: h.Head.Seq})
		}
	}
	s.mu.Unlock()

	var batch []oplog.Signed
	size := 2 // the op count's uvarint
	full := false
	type sentRun struct {
		key         logKey
		from, after uint64
	}
	var sent []sentRun
	for _, c := range cands {
		if full {
			break
		}
		if c.key != s.self && !s.opt.Accept(c.log) {
			continue
		}
		from := c.from
		for from <= c.to && !full {
			room := s.opt.BatchOps - len(batch)
			if room <= 0 {
				full = true
				break
			}
			chunk := min(uint64(room), c.to-from+1, uint64(max(1, min(maxFetch, (s.opt.BatchBytes-size) / *maxOp))))
			ops, err := s.rep.Ops(s.ctx, c.log, from, int(chunk))
			if err != nil {
				return fmt.Errorf("sync: read ops of %s from %d: %w", c.log, from, err)
			}
			if len(ops) == 0 {
				break
			}
			for _, o := range ops {
				sz := wire.OpSize(o)
				*maxOp = max(*maxOp, sz)
				if len(batch) >= s.opt.BatchOps || (size+sz > s.opt.BatchBytes && len(batch) > 0) {
					full = true
					break
				}
				batch = append(batch, o)
				size += sz
				from++
			}
		}
		if from > c.from {
			sent = append(sent, sentRun{c.key, c.from, from})
		}
	}

	s.mu.Lock()
	for _, r := range sent {
		// Unless an Ack or a Want moved the cursor meanwhile.
		if max(s.next[r.key], 1) == r.from {
			s.next[r.key] = r.after
		}
	}
	if len(batch) == 0 {
		s.idle = true
		s.mu.Unlock()
		s.progress()
		return nil
	}
	// A batch that is not full took everything there was.
	s.idle = !full
	s.dirty = s.dirty || full
	s.inflight++
	s.stats.BatchesSent++
	s.stats.OpsSent += len(batch)
	s.mu.Unlock()
	return s.write(&wire.Batch{Ops: batch})
}

// wantAccepted re-requests the logs Accept refused before and takes now.
func (s *session) wantAccepted(heads []Head) error {
	s.mu.Lock()
	if len(s.refused) == 0 {
		s.mu.Unlock()
		return nil
	}
	refused := make([]oplog.LogID, 0, len(s.refused))
	for _, l := range s.refused {
		refused = append(refused, l)
	}
	s.mu.Unlock()
	var w wire.Want
	for _, l := range refused {
		if !s.opt.Accept(l) {
			continue
		}
		from := uint64(1)
		for _, h := range heads {
			if h.Log.Equal(l) {
				from = h.Head.Seq + 1
			}
		}
		w.Ranges = append(w.Ranges, wire.Range{Log: l, From: from})
	}
	if len(w.Ranges) == 0 {
		return nil
	}
	s.mu.Lock()
	for _, r := range w.Ranges {
		k := keyOf(r.Log)
		delete(s.refused, k)
		s.wantOut[k] = r.From
	}
	s.mu.Unlock()
	s.log.Info("sync: logs now accepted, asking for them", "logs", len(w.Ranges))
	return s.write(&w)
}
