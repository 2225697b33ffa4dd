package web

import (
	"errors"
	"net/http"

	"seedpod/pod"
)

// The devices area (docs/sync.md, API.md §6.2): the identity's devices
// and their sync state, pairing a new device (the existing device opens a
// window and shows its code; the new one joins with it), renaming and
// revoking.

func (s *Server) routesDevices() {
	s.mux.HandleFunc("GET "+APIPrefix+"/devices", s.handleDevices)
	s.mux.HandleFunc("POST "+APIPrefix+"/devices/pair", s.handleOpenPairing)
	s.mux.HandleFunc("DELETE "+APIPrefix+"/devices/pair", s.handleClosePairing)
	s.mux.HandleFunc("POST "+APIPrefix+"/devices/join", s.handleJoin)
	s.mux.HandleFunc("PATCH "+APIPrefix+"/devices/{key}", s.handleRenameDevice)
	s.mux.HandleFunc("DELETE "+APIPrefix+"/devices/{key}", s.handleRevokeDevice)
}

// failDevices answers sync being off with 409 sync_off, then as fail does.
func (s *Server) failDevices(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, pod.ErrSyncOff) {
		writeError(w, http.StatusConflict, "sync_off", err.Error())
		return
	}
	s.fail(w, r, err)
}

// devicesAnswer is GET /devices: {sync: {on, peer_id?, addrs, error?}, devices: [...]}.
type devicesAnswer struct {
	Sync    pod.SyncStatus   `json:"sync"`
	Devices []pod.DeviceInfo `json:"devices"`
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	devs, err := s.pod.Devices(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, devicesAnswer{Sync: s.pod.SyncStatus(), Devices: devs})
}

// handleOpenPairing: POST /devices/pair → 201 {code, qr_png, expires_at}.
func (s *Server) handleOpenPairing(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	code, err := s.pod.OpenPairing(r.Context())
	if err != nil {
		s.failDevices(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, code)
}

func (s *Server) handleClosePairing(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	if err := s.pod.ClosePairing(); err != nil {
		s.failDevices(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleJoin: POST /devices/join {"code": "seedpod-pair:1:…"} → 201 JoinResult.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.pod.Join(r.Context(), in.Code)
	if err != nil {
		s.failDevices(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// handleRenameDevice: PATCH /devices/:key {"name": "…"} → 204.
func (s *Server) handleRenameDevice(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.pod.RenameDevice(r.Context(), r.PathValue("key"), in.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRevokeDevice: DELETE /devices/:key → 204.
func (s *Server) handleRevokeDevice(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	if err := s.pod.RevokeDevice(r.Context(), r.PathValue("key")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
