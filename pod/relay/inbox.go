package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"seedpod/pod/store"
)

// Group commit: deliveries wait in a bounded queue; one writer takes
// everything queued (up to maxBatch) into a single transaction, so one
// fsync makes a whole batch durable, and only then are the senders told
// 202. Throughput grows with concurrency while every 202 stays durable.
const (
	queueLen = 4096
	maxBatch = 512
)

// ErrInboxFull means an inbox holds its maximum of undelivered items — one
// identity's private inbox, or the shared public one: the sender gets 503
// and retries later, as diaspora pods do. Each identity's private inbox has
// its own cap, so one identity that never collects cannot block the others.
var ErrInboxFull = errors.New("relay inbox is full")

// publicMaxAge is how long a public delivery waits for every hosted identity
// to collect it; after that it is dropped (a device that has been away that
// long backfills public posts by fetching them).
const publicMaxAge = 14 * 24 * time.Hour

// sweepEvery is how often the writer drops expired public deliveries.
const sweepEvery = time.Minute

// ErrClosed means the relay is shutting down.
var ErrClosed = errors.New("relay is closing")

type delivery struct {
	username sql.NullString
	ctype    string
	body     []byte
	done     chan error
}

type inboxWriter struct {
	db       *store.DB
	now      func() time.Time
	maxItems int

	ch        chan *delivery
	stop      chan struct{}
	lastSweep time.Time
	wg        sync.WaitGroup
	closed    sync.Once
	notify    func() // wakes long-polling readers
}

func newInboxWriter(db *store.DB, now func() time.Time, maxItems int, notify func()) *inboxWriter {
	w := &inboxWriter{db: db, now: now, maxItems: maxItems, ch: make(chan *delivery, queueLen),
		stop: make(chan struct{}), notify: notify}
	w.wg.Add(1)
	go w.run()
	return w
}

// put stores one delivery durably; it returns once the transaction holding
// it has committed.
func (w *inboxWriter) put(ctx context.Context, username, ctype string, body []byte) error {
	d := &delivery{ctype: ctype, body: body, done: make(chan error, 1)}
	if username != "" {
		d.username = sql.NullString{String: username, Valid: true}
	}
	select {
	case <-w.stop:
		return ErrClosed
	default:
	}
	select {
	case w.ch <- d:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stop:
		return ErrClosed
	}
	select {
	case err := <-d.done:
		return err
	case <-ctx.Done():
		// The write may still commit; the sender will retry and the
		// device deduplicates by envelope.
		return ctx.Err()
	}
}

func (w *inboxWriter) run() {
	defer w.wg.Done()
	for {
		var first *delivery
		select {
		case first = <-w.ch:
		case <-w.stop:
			// Drain what is queued so nobody waits forever.
			for {
				select {
				case d := <-w.ch:
					d.done <- ErrClosed
				default:
					return
				}
			}
		}
		batch := []*delivery{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case d := <-w.ch:
				batch = append(batch, d)
			default:
				break fill
			}
		}
		errs, err := w.commit(batch)
		for i, d := range batch {
			if err != nil {
				d.done <- err
			} else {
				d.done <- errs[i]
			}
		}
		if err == nil && w.notify != nil {
			w.notify()
		}
	}
}

// commit stores the batch in one transaction. A delivery whose inbox is
// full gets ErrInboxFull without failing the others; err is for the whole
// batch (nothing stored).
func (w *inboxWriter) commit(batch []*delivery) (errs []error, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := w.db.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("inbox: begin: %w", err)
	}
	defer tx.Rollback()
	now := w.now()
	if now.Sub(w.lastSweep) >= sweepEvery {
		if _, err := tx.ExecContext(ctx, "DELETE FROM inbox WHERE username IS NULL AND received_at < ?",
			now.Add(-publicMaxAge).Unix()); err != nil {
			return nil, fmt.Errorf("inbox: sweep: %w", err)
		}
		w.lastSweep = now
	}
	// Items per inbox ("" is the public one), counted once per batch.
	counts := map[string]int{}
	count := func(d *delivery) (int, error) {
		k := d.username.String
		if n, ok := counts[k]; ok {
			return n, nil
		}
		var n int
		var err error
		if d.username.Valid {
			err = tx.QueryRowContext(ctx, "SELECT count(*) FROM inbox WHERE username = ?", k).Scan(&n)
		} else {
			err = tx.QueryRowContext(ctx, "SELECT count(*) FROM inbox WHERE username IS NULL").Scan(&n)
		}
		counts[k] = n
		return n, err
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO inbox (username, received_at, content_type, body) VALUES (?, ?, ?, ?)")
	if err != nil {
		return nil, fmt.Errorf("inbox: prepare: %w", err)
	}
	defer stmt.Close()
	errs = make([]error, len(batch))
	for i, d := range batch {
		n, err := count(d)
		if err != nil {
			return nil, fmt.Errorf("inbox: count: %w", err)
		}
		if n >= w.maxItems {
			errs[i] = ErrInboxFull
			continue
		}
		if _, err := stmt.ExecContext(ctx, d.username, now.Unix(), d.ctype, d.body); err != nil {
			return nil, fmt.Errorf("inbox: insert: %w", err)
		}
		counts[d.username.String] = n + 1
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("inbox: commit: %w", err)
	}
	return errs, nil
}

func (w *inboxWriter) close() {
	w.closed.Do(func() { close(w.stop) })
	w.wg.Wait()
}
