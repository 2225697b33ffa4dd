package web

import (
	"context"
	"net/http"
)

// Federation's routes (docs/api.md): the relay set-up and status, and
// discovery of people by diaspora ID.

func (s *Server) routesFederation() {
	s.mux.HandleFunc("GET "+APIPrefix+"/relay", s.handleRelayStatus)
	s.mux.HandleFunc("POST "+APIPrefix+"/relay", s.handleRelayEnroll)
	s.mux.HandleFunc("POST "+APIPrefix+"/relay/move", s.handleRelayMove)
	s.mux.HandleFunc("POST "+APIPrefix+"/people/discover", s.handleDiscover)
}

func (s *Server) handleRelayStatus(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	st, err := s.pod.FederationStatus(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleRelayEnroll(w http.ResponseWriter, r *http.Request) {
	s.relayAction(w, r, http.StatusCreated, s.pod.EnrollRelay)
}

// handleRelayMove moves the identity to another relay: {url, code,
// username?} → 200 with the status (the new diaspora* ID); contacts are
// told by an AccountMigration.
func (s *Server) handleRelayMove(w http.ResponseWriter, r *http.Request) {
	s.relayAction(w, r, http.StatusOK, s.pod.MoveRelay)
}

// relayAction runs an enrolment with a relay ({url, code, username?}) and
// answers with the federation status, naming the identity it gave.
func (s *Server) relayAction(w http.ResponseWriter, r *http.Request, status int,
	do func(ctx context.Context, relayURL, code, username string) (string, error)) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		URL      string `json:"url"`
		Code     string `json:"code"`
		Username string `json:"username"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := do(r.Context(), in.URL, in.Code, in.Username)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.pod.FederationStatus(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st.DiasporaID = id
	writeJSON(w, status, st)
}

func (s *Server) handleDiscover(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		DiasporaID string `json:"diaspora_id"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	sp, err := s.pod.DiscoverPerson(r.Context(), in.DiasporaID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	person, err := s.pod.ShortPerson(r.Context(), sp.Handle)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, person)
}
