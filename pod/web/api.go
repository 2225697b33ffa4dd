package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"seedpod/pod"
)

// Helpers every API handler uses: decoding bodies, mapping the pod's
// refusals to statuses, and the routes of each area (v1_*.go, seedpod_*.go).

func (s *Server) apiRoutes() {
	s.mux.HandleFunc("GET "+APIPrefix+"/identity", s.handleIdentity)
	s.mux.HandleFunc("POST "+APIPrefix+"/identity", s.handleCreateIdentity)
	s.routesPeople()
	s.routesPosts()
	s.routesInteractions()
	s.routesConversations()
	s.routesDrafts()
	s.routesFederation()
	s.routesKeys()
	s.routesArchive()
	s.routesDevices()
	s.routesFilters()
	s.routeMarkupPreview()
}

// V1Prefix is where the diaspora* API v1 routes live.
const V1Prefix = "/api/v1"

// decodeJSON reads a JSON object body into v. Unknown keys are ignored, as
// diaspora* does; anything that is not one JSON object is refused with
// pod.ErrInvalid.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%w: send a JSON body (Content-Type: application/json), not %q", pod.ErrInvalid, ct)
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: the body is larger than %d bytes", pod.ErrInvalid, tooBig.Limit)
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: the body is empty; send a JSON object", pod.ErrInvalid)
		}
		return fmt.Errorf("%w: the body is not valid JSON: %v", pod.ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: the body has data after the JSON object", pod.ErrInvalid)
	}
	return nil
}

// fail answers a use case's error: the pod's refusal kinds map to their
// usual statuses (a route with other needs maps before calling fail);
// anything else is logged and answered with a generic 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "internal"
	switch {
	case errors.Is(err, pod.ErrInvalid):
		status, code = http.StatusUnprocessableEntity, "invalid"
	case errors.Is(err, pod.ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, pod.ErrConflict):
		status, code = http.StatusConflict, "conflict"
	case errors.Is(err, pod.ErrGone):
		status, code = http.StatusGone, "gone"
	case errors.Is(err, pod.ErrForbidden):
		status, code = http.StatusForbidden, "forbidden"
	case errors.Is(err, pod.ErrUnavailable):
		status, code = http.StatusBadGateway, "unavailable"
	case errors.Is(err, pod.ErrNoIdentity):
		status, code = http.StatusConflict, "no_identity"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status, code = http.StatusServiceUnavailable, "unavailable"
	}
	if status == http.StatusInternalServerError {
		s.log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, status, code, "the pod failed to do this; the log has the details")
		return
	}
	writeError(w, status, code, err.Error())
}

// needPod answers 503 when the server runs without a pod (some tests).
func (s *Server) needPod(w http.ResponseWriter) bool {
	if s.pod == nil {
		writeError(w, http.StatusServiceUnavailable, "no_pod", "this server has no pod behind it")
		return false
	}
	return true
}

func (s *Server) handleIdentity(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	id, err := s.pod.Identity(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, id)
}

func (s *Server) handleCreateIdentity(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := s.pod.CreateIdentity(r.Context(), in.Name, in.Username)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, id)
}
