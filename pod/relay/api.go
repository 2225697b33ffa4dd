package relay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/id"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/relay/ownerauth"
	"seedpod/pod/relay/public"
	"seedpod/pod/store"
)

// OwnerPrefix is where the owner API lives.
const OwnerPrefix = "/api/relay/v1"

func (r *Relay) routes(pub http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /receive/public", r.receivePublic)
	mux.HandleFunc("POST /receive/users/{guid}", r.receivePrivate)
	mux.HandleFunc("/receive/", func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost {
			jsonError(w, http.StatusNotFound, "not_found", "no such inbox")
			return
		}
		w.Header().Set("Allow", "POST")
		jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", "deliveries are POSTed")
	})
	mux.HandleFunc("POST "+OwnerPrefix+"/enroll", r.enroll)
	mux.Handle("GET "+OwnerPrefix+"/inbox", r.auth.Middleware(maxOwnerBody, r.pullInbox))
	mux.Handle("POST "+OwnerPrefix+"/inbox/ack", r.auth.Middleware(maxOwnerBody, r.ackInbox))
	mux.Handle("GET "+OwnerPrefix+"/me", r.auth.Middleware(maxOwnerBody, r.me))
	mux.Handle("DELETE "+OwnerPrefix+"/me", r.auth.Middleware(maxOwnerBody, r.deleteAccount))
	mux.Handle("PUT "+OwnerPrefix+"/profile", r.auth.Middleware(maxOwnerBody, r.updateProfile))
	mux.Handle("PUT "+OwnerPrefix+"/moved", r.auth.Middleware(maxOwnerBody, r.moved))
	mux.Handle("PUT "+OwnerPrefix+"/devices", r.auth.Middleware(maxOwnerBody, r.putDevices))
	mux.Handle("GET "+OwnerPrefix+"/devices", r.auth.Middleware(maxOwnerBody, r.getDevices))
	mux.Handle("GET "+OwnerPrefix+"/p2p", r.auth.Middleware(maxOwnerBody, r.getP2P))
	mux.Handle("POST "+OwnerPrefix+"/outbox", r.auth.Middleware(maxOutboxBody, r.handOver))
	mux.Handle("GET "+OwnerPrefix+"/outbox/status", r.auth.Middleware(maxOwnerBody, r.outboxStatus))
	r.publishedRoutes(mux)
	r.mediaRoutes(mux)
	mux.Handle("/", pub)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// An owner request is signed over its Host; it must be this relay's,
		// so a request signed for another relay that hosts the same
		// identity cannot be replayed here.
		if strings.HasPrefix(req.URL.Path, OwnerPrefix+"/") && !sameHost(req.Host, r.cfg.Domain) {
			jsonError(w, http.StatusUnauthorized, "unauthorized", "the request is signed for another host")
			return
		}
		start := r.cfg.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, req)
		r.log.Debug("http", "method", req.Method, "path", req.URL.Path, "status", rec.status,
			"ms", r.cfg.Now().Sub(start).Milliseconds())
	})
}

// sameHost compares host names, ignoring the port and letter case.
func sameHost(a, b string) bool {
	strip := func(h string) string {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		return strings.TrimSuffix(strings.ToLower(h), ".")
	}
	return strip(a) == strip(b)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int)        { s.status = code; s.ResponseWriter.WriteHeader(code) }
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "error": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads a request body with a cap; over the cap is 413.
func readBody(w http.ResponseWriter, req *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			jsonError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", limit))
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			jsonError(w, http.StatusRequestTimeout, "timeout", "the body took too long to arrive")
		} else {
			jsonError(w, http.StatusBadRequest, "bad_body", "could not read the body")
		}
		return nil, false
	}
	return b, true
}

// store answers a delivery: 202 once durably stored, 503 when the inbox is
// full or the relay closing (the sender retries).
func (r *Relay) store(w http.ResponseWriter, req *http.Request, username, ctype string, body []byte) {
	switch err := r.inbox.put(req.Context(), username, ctype, body); {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
	case errors.Is(err, ErrInboxFull), errors.Is(err, ErrClosed):
		w.Header().Set("Retry-After", "300")
		jsonError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
	case req.Context().Err() != nil:
		// The sender went away; nothing to answer.
	default:
		r.log.Error("inbox", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "could not store the delivery")
	}
}

// receivePublic takes a public magic envelope. It checks only the envelope's
// structure (the signature needs the sender's key, which the device checks):
// garbage is refused at once instead of filling the inbox.
func (r *Relay) receivePublic(w http.ResponseWriter, req *http.Request) {
	body, ok := readBody(w, req, maxPublicBody)
	if !ok {
		return
	}
	if _, err := envelope.Parse(body); err != nil {
		jsonError(w, http.StatusBadRequest, "bad_envelope", err.Error())
		return
	}
	r.store(w, req, "", "application/magic-envelope+xml", body)
}

// receivePrivate takes an encrypted envelope for a hosted identity and stores
// it exactly as received: the relay cannot and does not decrypt it.
func (r *Relay) receivePrivate(w http.ResponseWriter, req *http.Request) {
	guid := req.PathValue("guid")
	var username string
	err := r.db.R.QueryRowContext(req.Context(), "SELECT username FROM identities WHERE guid = ?", guid).Scan(&username)
	if errors.Is(err, sql.ErrNoRows) {
		jsonError(w, http.StatusNotFound, "not_found", "no such recipient")
		return
	}
	if err != nil {
		r.log.Error("receive: recipient lookup", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "recipient lookup failed")
		return
	}
	body, ok := readBody(w, req, maxPrivateBody)
	if !ok {
		return
	}
	var enc struct {
		AESKey    *string `json:"aes_key"`
		Encrypted *string `json:"encrypted_magic_envelope"`
	}
	if err := json.Unmarshal(body, &enc); err != nil || enc.AESKey == nil || enc.Encrypted == nil {
		jsonError(w, http.StatusBadRequest, "bad_envelope", "not an encrypted magic envelope (JSON with aes_key and encrypted_magic_envelope)")
		return
	}
	r.store(w, req, username, "application/json", body)
}

// identityKey is the owner API's key lookup.
func (r *Relay) identityKey(ctx context.Context, username string) (*rsa.PublicKey, bool, error) {
	var pemText string
	err := r.db.R.QueryRowContext(ctx, "SELECT public_key FROM identities WHERE username = ?", username).Scan(&pemText)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	k, err := keys.ParsePublic([]byte(pemText))
	if err != nil {
		return nil, false, fmt.Errorf("stored key of %s: %w", username, err)
	}
	return k, true, nil
}

// EnrollRequest claims an invited username for an identity. The request is
// signed (ownerauth) with the private key matching PublicKey: proof that the
// enrolling device holds the identity key.
type EnrollRequest struct {
	Code      string         `json:"code"`
	Username  string         `json:"username"`
	GUID      string         `json:"guid"`
	PublicKey string         `json:"public_key"`
	Profile   public.Profile `json:"profile"`
}

// EnrollResponse says who the identity now is.
type EnrollResponse struct {
	DiasporaID string `json:"diaspora_id"`
	GUID       string `json:"guid"`
}

func (r *Relay) enroll(w http.ResponseWriter, req *http.Request) {
	body, ok := readBody(w, req, maxOwnerBody)
	if !ok {
		return
	}
	var e EnrollRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		jsonError(w, http.StatusBadRequest, "bad_request", "enrollment JSON: "+err.Error())
		return
	}
	if !validUsername(e.Username) || !id.ValidGUID(e.GUID) {
		jsonError(w, http.StatusUnprocessableEntity, "invalid", "username or guid is not valid")
		return
	}
	pub, err := keys.ParsePublic([]byte(e.PublicKey))
	if err != nil {
		jsonError(w, http.StatusUnprocessableEntity, "invalid", "public_key: "+err.Error())
		return
	}
	if pub.N.BitLen() < 2048 {
		jsonError(w, http.StatusUnprocessableEntity, "invalid", "public_key: at least 2048 bits")
		return
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(strings.ToLower(e.Code))))
	now := r.cfg.Now().Unix()
	// The invite is checked (read-only) before the signature, so requests
	// without a valid invite leave nothing behind, not even a nonce.
	var open int
	if err := r.db.R.QueryRowContext(req.Context(), `SELECT count(*) FROM invites
		WHERE code_hash = ? AND username = ? AND used_at IS NULL AND expires_at >= ?`, h[:], e.Username, now).Scan(&open); err != nil {
		r.log.Error("enroll: invite lookup", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "enrollment failed")
		return
	}
	if open == 0 {
		jsonError(w, http.StatusForbidden, "bad_invite", "the enrollment code is unknown, used, expired or for another username")
		return
	}
	// Proof of possession: the request is signed with the enrolling key.
	v := &ownerauth.Verifier{Nonces: r.auth.Nonces, Now: r.cfg.Now,
		Keys: func(_ context.Context, who string) (*rsa.PublicKey, bool, error) { return pub, who == e.Username, nil }}
	if who, err := v.Verify(req, body); err != nil || who != e.Username {
		jsonError(w, http.StatusUnauthorized, "unauthorized", "enrollment must be signed with the identity key")
		return
	}
	if err := checkProfile(e.Profile); err != nil {
		jsonError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
		return
	}
	profile, _ := json.Marshal(e.Profile)
	err = withTx(req.Context(), r.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(req.Context(),
			"UPDATE invites SET used_at = ? WHERE code_hash = ? AND username = ? AND used_at IS NULL AND expires_at >= ?",
			now, h[:], e.Username, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errBadInvite
		}
		_, err = tx.ExecContext(req.Context(),
			"INSERT INTO identities (username, guid, public_key, profile, created_at, acked) VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(id), 0) FROM inbox))",
			e.Username, e.GUID, string(keys.MarshalPublic(pub)), string(profile), now)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return errTaken
		}
		return err
	})
	switch {
	case errors.Is(err, errBadInvite):
		jsonError(w, http.StatusForbidden, "bad_invite", "the enrollment code is unknown, used, expired or for another username")
	case errors.Is(err, errTaken):
		jsonError(w, http.StatusConflict, "taken", "the username or guid is already enrolled")
	case err != nil:
		r.log.Error("enroll", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "enrollment failed")
	default:
		r.log.Info("enrolled", "username", e.Username)
		writeJSON(w, http.StatusCreated, EnrollResponse{DiasporaID: e.Username + "@" + r.cfg.Domain, GUID: e.GUID})
	}
}

var (
	errBadInvite = errors.New("bad invite")
	errTaken     = errors.New("taken")
)

func withTx(ctx context.Context, db *store.DB, fn func(*sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// InboxItem is one delivery as the owner pulls it.
type InboxItem struct {
	ID          int64  `json:"id"`
	Route       string `json:"route"` // "public" or "private"
	ReceivedAt  int64  `json:"received_at"`
	ContentType string `json:"content_type"`
	Body        []byte `json:"body"` // base64 in JSON
}

// InboxPage is one pull.
type InboxPage struct {
	Items  []InboxItem `json:"items"`
	Cursor int64       `json:"cursor"` // pass as ?after= next time, then ack it
}

// pullInbox: GET /inbox?after=N&limit=L&wait=S — items after N (default:
// what was acknowledged), at most L, waiting up to S seconds for the first.
func (r *Relay) pullInbox(w http.ResponseWriter, req *http.Request, who string, _ []byte) {
	q := req.URL.Query()
	device := q.Get("device")
	acked, status, msg := r.cursor(req.Context(), who, device)
	if status != 0 {
		jsonError(w, status, "bad_device", msg)
		return
	}
	if device != "" {
		// A device that pulls is online: it holds back deletion (deviceIdle)
		// though the inbox had nothing for it to acknowledge for a while.
		now := r.cfg.Now()
		if _, err := r.db.W.ExecContext(req.Context(), "UPDATE devices SET seen_at = ? WHERE username = ? AND device = ? AND seen_at < ?",
			now.UnixMilli(), who, device, now.Add(-seenEvery).UnixMilli()); err != nil {
			r.log.Error("inbox pull: mark the device seen", "err", err)
			jsonError(w, http.StatusInternalServerError, "internal", "inbox read failed")
			return
		}
	}
	after := acked
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			jsonError(w, http.StatusBadRequest, "bad_request", "after: a non-negative integer")
			return
		}
		after = max(n, acked)
	}
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			jsonError(w, http.StatusBadRequest, "bad_request", "limit: a positive integer")
			return
		}
		limit = min(n, maxPullItems)
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			jsonError(w, http.StatusBadRequest, "bad_request", "wait: seconds, a non-negative integer")
			return
		}
		wait = min(time.Duration(n)*time.Second, maxWait)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		changed := r.changed() // before the query, so no commit is missed
		page, err := r.page(req.Context(), who, after, limit)
		if err != nil {
			r.log.Error("inbox pull", "err", err)
			jsonError(w, http.StatusInternalServerError, "internal", "inbox read failed")
			return
		}
		if len(page.Items) > 0 || wait == 0 {
			writeJSON(w, http.StatusOK, page)
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			wait = 0
		case <-req.Context().Done():
			return
		}
	}
}

func (r *Relay) page(ctx context.Context, who string, after int64, limit int) (InboxPage, error) {
	rows, err := r.db.R.QueryContext(ctx, `SELECT id, username IS NOT NULL, received_at, content_type, body FROM inbox
		WHERE id > ? AND (username = ? OR username IS NULL) ORDER BY id LIMIT ?`, after, who, limit)
	if err != nil {
		return InboxPage{}, err
	}
	defer rows.Close()
	page := InboxPage{Items: []InboxItem{}, Cursor: after}
	size := 0
	for rows.Next() {
		var it InboxItem
		var private bool
		if err := rows.Scan(&it.ID, &private, &it.ReceivedAt, &it.ContentType, &it.Body); err != nil {
			return InboxPage{}, err
		}
		it.Route = "public"
		if private {
			it.Route = "private"
		}
		// A page holds at most maxPullBytes of bodies (but at least one
		// item), so a pull never builds hundreds of megabytes of JSON.
		if len(page.Items) > 0 && size+len(it.Body) > maxPullBytes {
			break
		}
		page.Items = append(page.Items, it)
		page.Cursor = it.ID
		size += len(it.Body)
	}
	return page, rows.Err()
}

// AckRequest acknowledges everything up to and including UpTo, for one
// device when Device is set (its own cursor, PUT /devices).
type AckRequest struct {
	UpTo   int64  `json:"up_to"`
	Device string `json:"device,omitempty"`
}

// cursor is where a pull starts by default: the device's acknowledgement
// (never behind the identity's), or the identity's without a device. A
// device the owner did not list is 403, a malformed one 400.
func (r *Relay) cursor(ctx context.Context, who, device string) (acked int64, status int, msg string) {
	if err := r.db.R.QueryRowContext(ctx, "SELECT acked FROM identities WHERE username = ?", who).Scan(&acked); err != nil {
		return 0, http.StatusInternalServerError, "inbox lookup failed"
	}
	if device == "" {
		return acked, 0, ""
	}
	if !validDevice(device) {
		return 0, http.StatusBadRequest, "device: 64 lowercase hex digits (an Ed25519 public key)"
	}
	var own int64
	err := r.db.R.QueryRowContext(ctx, "SELECT acked FROM devices WHERE username = ? AND device = ?", who, device).Scan(&own)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, http.StatusForbidden, "this device is not one of the identity's devices (PUT /devices)"
	}
	if err != nil {
		return 0, http.StatusInternalServerError, "inbox lookup failed"
	}
	return max(own, acked), 0, ""
}

// validDevice: an Ed25519 public key in lowercase hex.
func validDevice(d string) bool {
	if len(d) != 64 {
		return false
	}
	for _, c := range d {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// deviceIdle: a device that neither pulled nor acknowledged for this long
// no longer holds the identity's inbox back (its peers pass it what it
// missed). A pull marks the device seen at most every seenEvery (one
// write per device per minute, not per long poll).
const (
	deviceIdle = 14 * 24 * time.Hour
	seenEvery  = time.Minute
)

// maxDevices bounds an identity's device list.
const maxDevices = 64

// DevicesRequest is the identity's device list (PUT /devices).
type DevicesRequest struct {
	Devices []string `json:"devices"`
}

// putDevices: PUT /devices {"devices": [hex key…]} replaces the
// identity's device list. A device already listed keeps its cursor; a new
// one starts where the identity's acknowledgement stands. 200 with the list.
func (r *Relay) putDevices(w http.ResponseWriter, req *http.Request, who string, body []byte) {
	var in DevicesRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		jsonError(w, http.StatusBadRequest, "bad_request", `want {"devices": ["<64 hex digits>", …]}`)
		return
	}
	if len(in.Devices) > maxDevices {
		jsonError(w, http.StatusUnprocessableEntity, "too_many_devices", fmt.Sprintf("at most %d devices", maxDevices))
		return
	}
	want := map[string]bool{}
	for _, d := range in.Devices {
		if !validDevice(d) {
			jsonError(w, http.StatusUnprocessableEntity, "bad_device", "a device is 64 lowercase hex digits (an Ed25519 public key): "+clip(d))
			return
		}
		want[d] = true
	}
	now := r.cfg.Now().UnixMilli()
	err := withTx(req.Context(), r.db, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(req.Context(), "SELECT device FROM devices WHERE username = ?", who)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return err
			}
			have[d] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for d := range have {
			if !want[d] {
				if _, err := tx.ExecContext(req.Context(), "DELETE FROM devices WHERE username = ? AND device = ?", who, d); err != nil {
					return err
				}
			}
		}
		for d := range want {
			if !have[d] {
				if _, err := tx.ExecContext(req.Context(), `INSERT INTO devices (username, device, acked, seen_at)
					VALUES (?, ?, (SELECT acked FROM identities WHERE username = ?), ?)`, who, d, who, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		r.log.Error("devices", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "storing the devices failed")
		return
	}
	r.devicesChanged(req.Context())
	r.getDevices(w, req, who, nil)
}

// DeviceCursor is one device's place in the identity's inbox.
type DeviceCursor struct {
	Device string `json:"device"`
	Acked  int64  `json:"acked"`
	SeenAt int64  `json:"seen_at"` // ms
}

// getDevices: GET /devices — the identity's devices and their cursors.
func (r *Relay) getDevices(w http.ResponseWriter, req *http.Request, who string, _ []byte) {
	rows, err := r.db.R.QueryContext(req.Context(), "SELECT device, acked, seen_at FROM devices WHERE username = ? ORDER BY device", who)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "internal", "reading the devices failed")
		return
	}
	defer rows.Close()
	out := []DeviceCursor{}
	for rows.Next() {
		var d DeviceCursor
		if err := rows.Scan(&d.Device, &d.Acked, &d.SeenAt); err != nil {
			jsonError(w, http.StatusInternalServerError, "internal", "reading the devices failed")
			return
		}
		out = append(out, d)
	}
	if rows.Err() != nil {
		jsonError(w, http.StatusInternalServerError, "internal", "reading the devices failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string][]DeviceCursor{"devices": out})
}

// ackInbox moves the identity's acknowledgement forward and deletes what
// nobody needs any more: its own private items, and public items every
// hosted identity has acknowledged.
func (r *Relay) ackInbox(w http.ResponseWriter, req *http.Request, who string, body []byte) {
	var a AckRequest
	if err := json.Unmarshal(body, &a); err != nil || a.UpTo < 0 {
		jsonError(w, http.StatusBadRequest, "bad_request", `want {"up_to": N}`)
		return
	}
	if a.Device != "" {
		if _, status, msg := r.cursor(req.Context(), who, a.Device); status != 0 {
			jsonError(w, status, "bad_device", msg)
			return
		}
	}
	var acked int64
	err := withTx(req.Context(), r.db, func(tx *sql.Tx) error {
		var top int64
		if err := tx.QueryRowContext(req.Context(), "SELECT coalesce(max(id), 0) FROM inbox").Scan(&top); err != nil {
			return err
		}
		upto := min(a.UpTo, top) // never ahead of what exists
		if a.Device != "" {
			// The device's own cursor; the identity's moves to what
			// every active device has acknowledged.
			now := r.cfg.Now()
			if _, err := tx.ExecContext(req.Context(), "UPDATE devices SET acked = max(acked, ?), seen_at = ? WHERE username = ? AND device = ?",
				upto, now.UnixMilli(), who, a.Device); err != nil {
				return err
			}
			var floor sql.NullInt64
			if err := tx.QueryRowContext(req.Context(), "SELECT min(acked) FROM devices WHERE username = ? AND seen_at >= ?",
				who, now.Add(-deviceIdle).UnixMilli()).Scan(&floor); err != nil {
				return err
			}
			upto = floor.Int64 // this device is active: there is a minimum
		}
		if _, err := tx.ExecContext(req.Context(), "UPDATE identities SET acked = max(acked, ?) WHERE username = ?", upto, who); err != nil {
			return err
		}
		if err := tx.QueryRowContext(req.Context(), "SELECT acked FROM identities WHERE username = ?", who).Scan(&acked); err != nil {
			return err
		}
		if _, err := tx.ExecContext(req.Context(), "DELETE FROM inbox WHERE username = ? AND id <= ?", who, acked); err != nil {
			return err
		}
		_, err := tx.ExecContext(req.Context(),
			"DELETE FROM inbox WHERE username IS NULL AND id <= (SELECT min(acked) FROM identities)")
		return err
	})
	if err != nil {
		r.log.Error("inbox ack", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "acknowledgement failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"acked": acked})
}

// moved: PUT /moved {"moved_to": "user@host"} — the identity moved to
// another diaspora* ID (its owner's relay move); "" takes it back. 204.
func (r *Relay) moved(w http.ResponseWriter, req *http.Request, who string, body []byte) {
	var in struct {
		MovedTo string `json:"moved_to"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jsonError(w, http.StatusBadRequest, "bad_request", "the body must be {\"moved_to\": \"user@host\"}")
		return
	}
	to := ""
	if in.MovedTo != "" {
		n, err := id.Normalize(in.MovedTo)
		if err != nil {
			jsonError(w, http.StatusUnprocessableEntity, "bad_moved_to", "moved_to is not a diaspora ID: "+clip(err.Error()))
			return
		}
		if n == who+"@"+r.cfg.Domain {
			jsonError(w, http.StatusUnprocessableEntity, "bad_moved_to", "an identity cannot move to itself")
			return
		}
		to = n
	}
	if _, err := r.db.W.ExecContext(req.Context(), "UPDATE identities SET moved_to = ? WHERE username = ?", to, who); err != nil {
		jsonError(w, http.StatusInternalServerError, "internal", "could not record the move")
		return
	}
	r.log.Info("identity moved", "username", who, "moved_to", to)
	w.WriteHeader(http.StatusNoContent)
}

func (r *Relay) me(w http.ResponseWriter, req *http.Request, who string, _ []byte) {
	var guid string
	var acked int64
	if err := r.db.R.QueryRowContext(req.Context(), "SELECT guid, acked FROM identities WHERE username = ?", who).Scan(&guid, &acked); err != nil {
		jsonError(w, http.StatusInternalServerError, "internal", "lookup failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"diaspora_id": who + "@" + r.cfg.Domain, "guid": guid, "acked": acked})
}
