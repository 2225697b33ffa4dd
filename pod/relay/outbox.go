package relay

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"seedpod/pod/diaspora/id"
	"seedpod/pod/httpclient"
)

// Poster sends one delivery. pod/httpclient's Client is the real one: it
// refuses private addresses at dial time and caps what it reads.
type Poster interface {
	PostBody(ctx context.Context, url, contentType string, body []byte) (status int, header http.Header, respBody []byte, err error)
}

// Delivery rules, after diaspora's own (app/workers/send_base.rb): a retry
// waits (n+3)^4 + rand(30)·(n+1) seconds; 10 retries (about 17 hours), 20
// for Contact. Unlike diaspora, a 4xx other than 408 and 429 is final: the
// remote pod has said it will never take the item.
const (
	maxRetries        = 10
	maxRetriesContact = 20
	maxRetryAfter     = 6 * time.Hour
	perHost           = 4  // concurrent deliveries to one pod
	workers           = 16 // concurrent deliveries in all
	maxOutboxBody     = 8 << 20
	maxOutboxItems    = 100
	deliveryTimeout   = 30 * time.Second
	// maxQueued bounds one identity's undelivered items.
	maxQueued = 100_000
	// outboxKeep is how long a finished row (status, no body) is kept.
	outboxKeep = 30 * 24 * time.Hour
)

// hostKey is the pod a receive URL points at, normalised so that one pod is
// one unit of concurrency: lowercase, no trailing dot, no default port.
func hostKey(u *url.URL) string {
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if p := u.Port(); p != "" && p != "443" {
		return net.JoinHostPort(h, p)
	}
	return h
}

// backoff is diaspora's delay before retry n (0-based).
func backoff(n int, rnd func(int) int) time.Duration {
	s := (n + 3) * (n + 3) * (n + 3) * (n + 3)
	return time.Duration(s+rnd(30)*(n+1)) * time.Second
}

// OutboxItem is one delivery a device hands over.
type OutboxItem struct {
	GUID        string `json:"guid"`
	Recipient   string `json:"recipient"` // https://pod/receive/public or https://pod/receive/users/<guid>
	ContentType string `json:"content_type,omitempty"`
	Body        []byte `json:"body"`           // base64 in JSON
	Kind        string `json:"kind,omitempty"` // "contact" for the longer schedule
}

// OutboxRequest hands over items.
type OutboxRequest struct {
	Items []OutboxItem `json:"items"`
}

// OutboxResponse says what was new.
type OutboxResponse struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// checkRecipient accepts only a diaspora receive URL over https.
func checkRecipient(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("recipient %q: want https://pod/receive/public or https://pod/receive/users/<guid>", clip(raw))
	}
	switch {
	case u.Path == "/receive/public":
	case strings.HasPrefix(u.Path, "/receive/users/") && id.ValidGUID(strings.TrimPrefix(u.Path, "/receive/users/")):
	default:
		return fmt.Errorf("recipient %q: not a receive URL", clip(raw))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

func (r *Relay) handOver(w http.ResponseWriter, req *http.Request, who string, body []byte) {
	var o OutboxRequest
	if err := json.Unmarshal(body, &o); err != nil {
		jsonError(w, http.StatusBadRequest, "bad_request", "outbox JSON: "+err.Error())
		return
	}
	if len(o.Items) == 0 || len(o.Items) > maxOutboxItems {
		jsonError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("hand over 1 to %d items", maxOutboxItems))
		return
	}
	for i, it := range o.Items {
		if !id.ValidGUID(it.GUID) {
			jsonError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("items[%d]: bad guid", i))
			return
		}
		if err := checkRecipient(it.Recipient); err != nil {
			jsonError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("items[%d]: %v", i, err))
			return
		}
		if len(it.Body) == 0 || len(it.Body) > maxPrivateBody {
			jsonError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("items[%d]: body of %d bytes", i, len(it.Body)))
			return
		}
		if it.Kind != "" && it.Kind != "default" && it.Kind != "contact" {
			jsonError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("items[%d]: kind %q", i, it.Kind))
			return
		}
	}
	var resp OutboxResponse
	now := r.cfg.Now().Unix()
	err := withTx(req.Context(), r.db, func(tx *sql.Tx) error {
		var queued int
		if err := tx.QueryRowContext(req.Context(), `SELECT count(*) FROM outbox
			WHERE username = ? AND state IN ('queued', 'sending', 'retrying')`, who).Scan(&queued); err != nil {
			return err
		}
		if queued+len(o.Items) > maxQueued {
			return errOutboxFull
		}
		for _, it := range o.Items {
			u, _ := url.Parse(it.Recipient) // checked above
			ctype := it.ContentType
			if ctype == "" {
				ctype = "application/magic-envelope+xml"
				if strings.Contains(it.Recipient, "/receive/users/") {
					ctype = "application/json"
				}
			}
			kind := it.Kind
			if kind == "" {
				kind = "default"
			}
			res, err := tx.ExecContext(req.Context(), `INSERT INTO outbox
				(username, guid, recipient, host, content_type, body, kind, next_attempt_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username, guid, recipient) DO NOTHING`,
				who, it.GUID, it.Recipient, hostKey(u), ctype, it.Body, kind, now, now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				resp.Accepted++
			} else {
				resp.Duplicates++
			}
		}
		return nil
	})
	if errors.Is(err, errOutboxFull) {
		w.Header().Set("Retry-After", "600")
		jsonError(w, http.StatusTooManyRequests, "outbox_full", fmt.Sprintf("at most %d undelivered items per identity", maxQueued))
		return
	}
	if err != nil {
		r.log.Error("outbox", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "could not store the items")
		return
	}
	if resp.Accepted > 0 {
		r.poke()
	}
	writeJSON(w, http.StatusAccepted, resp)
}

var errOutboxFull = errors.New("outbox full")

// DeliveryStatus is one recipient's state for an item.
type DeliveryStatus struct {
	Recipient     string `json:"recipient"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	LastStatus    int    `json:"last_status,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	LastAttemptAt int64  `json:"last_attempt_at,omitempty"`
	NextAttemptAt int64  `json:"next_attempt_at,omitempty"`
}

func (r *Relay) outboxStatus(w http.ResponseWriter, req *http.Request, who string, _ []byte) {
	guid := req.URL.Query().Get("guid")
	if !id.ValidGUID(guid) {
		jsonError(w, http.StatusBadRequest, "bad_request", "guid: a valid GUID")
		return
	}
	rows, err := r.db.R.QueryContext(req.Context(), `SELECT recipient, state, attempts, coalesce(last_status, 0),
		coalesce(last_error, ''), coalesce(last_attempt_at, 0), next_attempt_at FROM outbox
		WHERE username = ? AND guid = ? ORDER BY recipient`, who, guid)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "internal", "status lookup failed")
		return
	}
	defer rows.Close()
	out := []DeliveryStatus{}
	for rows.Next() {
		var s DeliveryStatus
		if err := rows.Scan(&s.Recipient, &s.State, &s.Attempts, &s.LastStatus, &s.LastError, &s.LastAttemptAt, &s.NextAttemptAt); err != nil {
			jsonError(w, http.StatusInternalServerError, "internal", "status lookup failed")
			return
		}
		if s.State == "delivered" || s.State == "failed" {
			s.NextAttemptAt = 0
		}
		out = append(out, s)
	}
	writeJSON(w, http.StatusOK, out)
}

// deliverer runs the outbox: it picks due items, delivers them with bounded
// concurrency (per host and in all) and records each attempt.
type deliverer struct {
	r      *Relay
	post   Poster
	rnd    func(int) int
	wake   chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[int64]bool // items being delivered now
	hosts  map[string]int // deliveries in flight per host
	slots  chan struct{}  // global concurrency

	lastSweep time.Time // touched only by the loop goroutine
}

func newDeliverer(r *Relay, post Poster) *deliverer {
	// Rows left 'sending' by a crash are sent again: the remote pod
	// ignores a GUID it already has, so at-least-once is safe.
	if _, err := r.db.W.Exec(`UPDATE outbox SET state = 'retrying' WHERE state = 'sending'`); err != nil {
		r.log.Error("outbox: recover", "err", err)
	}
	d := &deliverer{r: r, post: post, rnd: rand.IntN, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		active: map[int64]bool{}, hosts: map[string]int{}, slots: make(chan struct{}, workers)}
	d.wg.Add(1)
	go d.loop()
	return d
}

func (r *Relay) poke() {
	if r.deliver != nil {
		select {
		case r.deliver.wake <- struct{}{}:
		default:
		}
	}
}

func (d *deliverer) close() {
	close(d.stop)
	d.wg.Wait()
}

type job struct {
	id        int64
	recipient string
	ctype     string
	body      []byte
	kind      string
	attempts  int
	host      string
}

func (d *deliverer) loop() {
	defer d.wg.Done()
	for {
		next := d.dispatch()
		wait := time.Until(next)
		if wait < 50*time.Millisecond {
			wait = 50 * time.Millisecond
		}
		if wait > time.Minute {
			wait = time.Minute
		}
		t := time.NewTimer(wait)
		select {
		case <-d.stop:
			t.Stop()
			return
		case <-d.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// dispatch starts every due item that has a free slot and returns when the
// next not-yet-due item is due.
func (d *deliverer) dispatch() time.Time {
	now := d.r.cfg.Now()
	far := now.Add(time.Minute)
	d.sweep(now)
	// At most perHost due rows per pod: one slow pod's backlog cannot hide
	// every other pod's items from the dispatcher.
	rows, err := d.r.db.R.Query(`SELECT id, recipient, host, content_type, body, kind, attempts FROM (
		SELECT *, row_number() OVER (PARTITION BY host ORDER BY next_attempt_at, id) AS n FROM outbox
		WHERE state IN ('queued', 'retrying') AND next_attempt_at <= ?)
		WHERE n <= ? ORDER BY next_attempt_at, id LIMIT 256`, now.Unix(), perHost)
	if err != nil {
		d.r.log.Error("outbox: due items", "err", err)
		return far
	}
	var due []job
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.id, &j.recipient, &j.host, &j.ctype, &j.body, &j.kind, &j.attempts); err != nil {
			rows.Close()
			d.r.log.Error("outbox: due items", "err", err)
			return far
		}
		due = append(due, j)
	}
	rows.Close()
	for _, j := range due {
		d.mu.Lock()
		busy := d.active[j.id] || d.hosts[j.host] >= perHost
		if !busy {
			select {
			case d.slots <- struct{}{}:
				d.active[j.id] = true
				d.hosts[j.host]++
			default:
				busy = true
			}
		}
		d.mu.Unlock()
		if busy {
			continue
		}
		// Claim the row: the query above may have read it just before an
		// earlier attempt recorded its outcome.
		if !d.claim(j) {
			d.release(j)
			continue
		}
		d.wg.Add(1)
		go d.attempt(j)
	}
	var next int64
	if err := d.r.db.R.QueryRow(`SELECT coalesce(min(next_attempt_at), 0) FROM outbox
		WHERE state IN ('queued', 'retrying') AND next_attempt_at > ?`, now.Unix()).Scan(&next); err != nil || next == 0 {
		return far
	}
	return time.Unix(next, 0)
}

// sweep resets rows left 'sending' by an attempt whose outcome could not be
// recorded, and drops finished rows past outboxKeep. At most once a minute.
func (d *deliverer) sweep(now time.Time) {
	if now.Sub(d.lastSweep) < time.Minute {
		return
	}
	d.lastSweep = now
	d.mu.Lock()
	busy := len(d.active)
	d.mu.Unlock()
	if busy == 0 {
		_, _ = d.r.db.W.Exec(`UPDATE outbox SET state = 'retrying' WHERE state = 'sending' AND last_attempt_at < ?`,
			now.Add(-2*deliveryTimeout).Unix())
	}
	_, _ = d.r.db.W.Exec(`DELETE FROM outbox WHERE state IN ('delivered', 'failed') AND last_attempt_at < ?`,
		now.Add(-outboxKeep).Unix())
}

// claim marks the row as being sent, if it is still as the query saw it.
func (d *deliverer) claim(j job) bool {
	res, err := d.r.db.W.Exec(`UPDATE outbox SET state = 'sending', last_attempt_at = ?
		WHERE id = ? AND attempts = ? AND state IN ('queued', 'retrying')`, d.r.cfg.Now().Unix(), j.id, j.attempts)
	if err != nil {
		d.r.log.Error("outbox: claim", "id", j.id, "err", err)
		return false
	}
	n, _ := res.RowsAffected()
	return n == 1
}

// release gives back the slots dispatch took for j.
func (d *deliverer) release(j job) {
	d.mu.Lock()
	delete(d.active, j.id)
	d.hosts[j.host]--
	if d.hosts[j.host] <= 0 {
		delete(d.hosts, j.host)
	}
	d.mu.Unlock()
	<-d.slots
}

func (d *deliverer) attempt(j job) {
	defer d.wg.Done()
	defer func() {
		d.release(j)
		select { // a slot is free: look again
		case d.wake <- struct{}{}:
		default:
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	status, header, _, err := d.post.PostBody(ctx, j.recipient, j.ctype, j.body)
	cancel()
	select {
	case <-d.stop:
		if err != nil {
			// Shutting down: the attempt does not count.
			_, _ = d.r.db.W.Exec(`UPDATE outbox SET state = 'retrying' WHERE id = ? AND state = 'sending'`, j.id)
			return
		}
	default:
	}
	d.record(j, status, header, err)
}

// record stores the outcome of one attempt.
func (d *deliverer) record(j job, status int, header http.Header, err error) {
	now := d.r.cfg.Now()
	attempts := j.attempts + 1
	limit := maxRetries
	if j.kind == "contact" {
		limit = maxRetriesContact
	}
	state, next, msg := "delivered", now, ""
	switch {
	case err == nil && status >= 200 && status < 300:
	case err == nil && status >= 400 && status < 500 && status != 408 && status != 429:
		state, msg = "failed", fmt.Sprintf("the pod refused it (%d)", status)
	case errors.Is(err, httpclient.ErrForbiddenAddress):
		// A private or reserved address never becomes deliverable.
		state, msg = "failed", err.Error()
	default:
		if err != nil {
			msg = err.Error()
		} else {
			msg = fmt.Sprintf("HTTP %d", status)
		}
		if attempts > limit {
			state = "failed"
			break
		}
		state = "retrying"
		wait := backoff(attempts-1, d.rnd)
		if ra := retryAfter(header, now); ra > wait {
			wait = min(ra, maxRetryAfter)
		}
		next = now.Add(wait)
	}
	// A finished row keeps its status for the devices but not its body.
	_, dbErr := d.r.db.W.Exec(`UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?,
		last_status = ?, last_error = ?, body = CASE WHEN ? IN ('delivered', 'failed') THEN x'' ELSE body END
		WHERE id = ?`, state, attempts, next.Unix(), now.Unix(), nullInt(status), nullStr(msg), state, j.id)
	if dbErr != nil {
		d.r.log.Error("outbox: record attempt", "id", j.id, "err", dbErr)
	}
	d.r.log.Debug("delivery", "recipient", j.recipient, "state", state, "status", status, "attempts", attempts)
}

// retryAfter reads Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

func nullInt(n int) sql.NullInt64 {
	return sql.NullInt64{Int64: int64(n), Valid: n != 0}
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
