package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"seedpod/pod"
)

// GET/PATCH /api/seedpod/v1/settings: the settings the user's devices share
// (pod/settings.go), and whether this process can show OS notifications.
//
//	GET   → 200 {notifications: {os, types}, os_service}
//	PATCH {notifications?: {os?, types?}} (JSON merge patch, RFC 7396; null
//	      resets to the default) → 200 the same shape; 422 for unknown keys,
//	      unknown types, wrong JSON types.

// The states of os_service.
const (
	OSServiceAvailable   = "available"     // the window shows OS notifications
	OSServiceUnavailable = "unavailable"   // the window runs, no notification service answers
	OSServiceNotInWindow = "not_in_window" // `seedpod serve`: a browser, no OS notifications
)

// maxSettingsPatch caps a settings patch: the biggest meaningful one is
// well under a kilobyte.
const maxSettingsPatch = 16 << 10

// SettingsView is the answer of GET and PATCH /settings.
type SettingsView struct {
	pod.Settings
	OSService string `json:"os_service"`
}

// SetOSService records the OS notification service's state for GET
// /settings (OSServiceAvailable or OSServiceUnavailable); the window calls
// it when the notifier's state changes. Safe for concurrent use.
func (s *Server) SetOSService(state string) {
	s.osService.Store(&state)
}

// Pod is the pod behind the server (nil when the backend is not a pod): the
// window's notifier reads notifications and settings through it.
func (s *Server) Pod() *pod.Pod { return s.pod }

func (s *Server) osServiceState() string {
	if s.opts.Mode != ModeWindow {
		return OSServiceNotInWindow
	}
	if v := s.osService.Load(); v != nil {
		return *v
	}
	return OSServiceUnavailable
}

func (s *Server) routesSettings() {
	s.mux.HandleFunc("GET "+APIPrefix+"/settings", s.handleSettings)
	s.mux.HandleFunc("PATCH "+APIPrefix+"/settings", s.handlePatchSettings)
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	st, err := s.pod.Settings(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, SettingsView{Settings: st, OSService: s.osServiceState()})
}

func (s *Server) handlePatchSettings(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	patch, err := readSettingsPatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.pod.PatchSettings(r.Context(), patch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, SettingsView{Settings: st, OSService: s.osServiceState()})
}

// readSettingsPatch reads a merge patch (application/merge-patch+json or
// application/json).
func readSettingsPatch(r *http.Request) (pod.SettingsPatch, error) {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/merge-patch+json") {
		return pod.SettingsPatch{}, fmt.Errorf("%w: send a JSON merge patch (Content-Type: application/merge-patch+json), not %q",
			pod.ErrInvalid, ct)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxSettingsPatch+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return pod.SettingsPatch{}, fmt.Errorf("%w: the body is larger than %d bytes", pod.ErrInvalid, tooBig.Limit)
		}
		return pod.SettingsPatch{}, fmt.Errorf("read the settings patch: %w", err)
	}
	if len(b) > maxSettingsPatch {
		return pod.SettingsPatch{}, fmt.Errorf("%w: a settings patch is at most %d bytes", pod.ErrInvalid, maxSettingsPatch)
	}
	return pod.DecodeSettingsPatch(b)
}
