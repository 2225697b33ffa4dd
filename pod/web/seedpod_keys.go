package web

import (
	"net/http"
)

// The identity key's routes (API.md §6.2 "Key backup"): its state, the
// passphrase lock, the paper backup and restoring from it. The pod's HTTP
// server only ever listens on loopback or inside the window, so these are
// local by construction; every answer is no-store (serve sets it for /api).

func (s *Server) routesKeys() {
	s.mux.HandleFunc("GET "+APIPrefix+"/keys", s.handleKeys)
	s.mux.HandleFunc("POST "+APIPrefix+"/keys/lock", s.handleKeyLock)
	s.mux.HandleFunc("DELETE "+APIPrefix+"/keys/lock", s.handleKeyUnlockForGood)
	s.mux.HandleFunc("POST "+APIPrefix+"/keys/unlock", s.handleKeyUnlock)
	s.mux.HandleFunc("GET "+APIPrefix+"/keys/paper", s.handleKeyPaper)
	s.mux.HandleFunc("POST "+APIPrefix+"/keys/restore", s.handleKeyRestore)
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	k, err := s.pod.Keys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, k)
}

// passphraseBody is {passphrase}.
type passphraseBody struct {
	Passphrase string `json:"passphrase"`
}

// handleKeyLock: POST /keys/lock {passphrase} → 200 with the key state.
func (s *Server) handleKeyLock(w http.ResponseWriter, r *http.Request) {
	s.keyAction(w, r, func(in passphraseBody) error { return s.pod.LockKey(r.Context(), in.Passphrase) })
}

// handleKeyUnlock: POST /keys/unlock {passphrase} → 200; 403 for a wrong
// passphrase.
func (s *Server) handleKeyUnlock(w http.ResponseWriter, r *http.Request) {
	s.keyAction(w, r, func(in passphraseBody) error { return s.pod.UnlockKey(r.Context(), in.Passphrase) })
}

// handleKeyUnlockForGood: DELETE /keys/lock {passphrase} stores the key
// unlocked again.
func (s *Server) handleKeyUnlockForGood(w http.ResponseWriter, r *http.Request) {
	s.keyAction(w, r, func(in passphraseBody) error { return s.pod.RemoveKeyLock(r.Context(), in.Passphrase) })
}

func (s *Server) keyAction(w http.ResponseWriter, r *http.Request, do func(passphraseBody) error) {
	if !s.needPod(w) {
		return
	}
	var in passphraseBody
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := do(in); err != nil {
		s.fail(w, r, err)
		return
	}
	s.handleKeys(w, r)
}

// handleKeyPaper: GET /keys/paper?form=sealed|plain → the printable page
// (HTML). sealed (the default) needs the key locked; plain prints the key
// itself, for a safe.
func (s *Server) handleKeyPaper(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	form := r.URL.Query().Get("form")
	if form != "" && form != "sealed" && form != "plain" {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "form must be sealed or plain")
		return
	}
	page, err := s.pod.KeyPaper(r.Context(), form != "plain")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(page)
}

// handleKeyRestore: POST /keys/restore {text, passphrase?} → 200 with the
// key state; 422 with the lines that do not check out.
func (s *Server) handleKeyRestore(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		Text       string `json:"text"`
		Passphrase string `json:"passphrase"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.pod.RestoreKey(r.Context(), in.Text, in.Passphrase); err != nil {
		s.fail(w, r, err)
		return
	}
	s.handleKeys(w, r)
}
