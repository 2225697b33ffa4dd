package relay

import (
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"

	"seedpod/pod/relay/public"
)

// updateProfile replaces the identity's public profile (what hCard, the
// profile page and WebFinger show). The device sends the whole profile.
func (r *Relay) updateProfile(w http.ResponseWriter, req *http.Request, who string, body []byte) {
	var p public.Profile
	if err := json.Unmarshal(body, &p); err != nil {
		jsonError(w, http.StatusBadRequest, "bad_request", "profile JSON: "+err.Error())
		return
	}
	if err := checkProfile(p); err != nil {
		jsonError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
		return
	}
	b, _ := json.Marshal(p)
	if _, err := r.db.W.ExecContext(req.Context(), "UPDATE identities SET profile = ? WHERE username = ?", string(b), who); err != nil {
		r.log.Error("profile", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "could not store the profile")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// checkProfile applies diaspora's limits (PROTOCOL.md §9) to a profile a
// device sends, at enrollment or later.
func checkProfile(p public.Profile) error {
	switch {
	case len(p.FullName) > 70 || len(p.FirstName) > 32 || len(p.LastName) > 32:
		return errors.New("a name is too long (first and last 32, full 70 characters)")
	case strings.ContainsRune(p.FullName+p.FirstName+p.LastName, ';'):
		return errors.New("names may not contain ';'")
	case len(p.Bio) > 65535:
		return errors.New("the bio is longer than 65,535 characters")
	}
	return nil
}

// deleteAccount removes the identity and everything the relay holds for it:
// its inbox, outbox, published entities and media. The username becomes
// free for a new invite; nothing of the old identity remains here.
func (r *Relay) deleteAccount(w http.ResponseWriter, req *http.Request, who string, _ []byte) {
	// Hold the identity's media lock so no upload writes a file after the
	// directory is gone.
	mu := r.mediaLock(who)
	mu.Lock()
	defer mu.Unlock()
	err := withTx(req.Context(), r.db, func(tx *sql.Tx) error {
		// Rows that name the identity cascade (inbox, outbox, …); unused
		// invites for the name go too, so none can claim it again.
		if _, err := tx.ExecContext(req.Context(), "DELETE FROM identities WHERE username = ?", who); err != nil {
			return err
		}
		_, err := tx.ExecContext(req.Context(), "DELETE FROM invites WHERE username = ?", who)
		return err
	})
	if err != nil {
		r.log.Error("delete account", "username", who, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "could not delete the account")
		return
	}
	r.devicesChanged(req.Context())
	if err := os.RemoveAll(r.dir.Join("media", who)); err != nil {
		r.log.Error("delete account: media", "username", who, "err", err)
	}
	r.log.Info("account deleted", "username", who)
	w.WriteHeader(http.StatusNoContent)
}
