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

// ErrInboxFull means the inbox holds its maximum of undelivered items: the
// sender gets 503 and retries later, as diaspora pods do.
var ErrInboxFull = errors.New("relay inbox is full")

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

	ch     chan *delivery
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
	notify func() // wakes long-polling readers
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
		err := w.commit(batch)
		for _, d := range batch {
			d.done <- err
		}
		if err == nil && w.notify != nil {
			w.notify()
		}
	}
}

func (w *inboxWriter) commit(batch []*delivery) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := w.db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("inbox: begin: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM inbox").Scan(&n); err != nil {
		return fmt.Errorf("inbox: count: %w", err)
	}
	if n+len(batch) > w.maxItems {
		return ErrInboxFull
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO inbox (username, received_at, content_type, body) VALUES (?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("inbox: prepare: %w", err)
	}
	defer stmt.Close()
	now := w.now().Unix()
	for _, d := range batch {
		if _, err := stmt.ExecContext(ctx, d.username, now, d.ctype, d.body); err != nil {
			return fmt.Errorf("inbox: insert: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("inbox: commit: %w", err)
	}
	return nil
}

func (w *inboxWriter) close() {
	w.closed.Do(func() { close(w.stop) })
	w.wg.Wait()
}
