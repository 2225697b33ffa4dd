package web

import (
	"net/http"

	"seedpod/pod"
)

// Mute filters (API.md §6.2 "Mute filters"; pod/filters.go has the rules):
//
//	GET    /filters        → 200 Filter[] (newest first, expired ones with expired: true)
//	POST   /filters        {kind, value, match?, contexts?, action?, expires_at?} → 201 Filter
//	PATCH  /filters/{id}   the same fields, each optional; expires_at null clears → 200 Filter
//	DELETE /filters/{id}   → 204
//
// Bad input is 422, a duplicate (same kind, value and match) 409, an
// unknown id 404; a refused request writes nothing. Each change emits a
// "filters" event.

// routesFilters registers the filter routes. Owned by the filters area.
func (s *Server) routesFilters() {
	h := func(pattern string, fn http.HandlerFunc) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.needPod(w) {
				fn(w, r)
			}
		})
	}
	h("GET "+APIPrefix+"/filters", s.handleFilters)
	h("POST "+APIPrefix+"/filters", s.handleCreateFilter)
	h("PATCH "+APIPrefix+"/filters/{id}", s.handleUpdateFilter)
	h("DELETE "+APIPrefix+"/filters/{id}", s.handleDeleteFilter)
}

func (s *Server) handleFilters(w http.ResponseWriter, r *http.Request) {
	fs, err := s.pod.Filters(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, fs)
}

func (s *Server) handleCreateFilter(w http.ResponseWriter, r *http.Request) {
	var in pod.FilterInput
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := s.pod.CreateFilter(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, f)
}

func (s *Server) handleUpdateFilter(w http.ResponseWriter, r *http.Request) {
	var in pod.FilterInput
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := s.pod.UpdateFilter(r.Context(), r.PathValue("id"), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) handleDeleteFilter(w http.ResponseWriter, r *http.Request) {
	if err := s.pod.DeleteFilter(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
