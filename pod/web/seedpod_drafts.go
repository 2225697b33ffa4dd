package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"seedpod/pod"
	"seedpod/pod/apiv1"
)

// The drafts area's routes (API.md §6.2): drafts, full-text search, the
// outbox view and the event stream, all Seedpod extensions.

// routesDrafts registers the drafts area's routes.
func (s *Server) routesDrafts() {
	s.mux.HandleFunc("GET "+APIPrefix+"/drafts", s.handleDrafts)
	s.mux.HandleFunc("POST "+APIPrefix+"/drafts", s.handleCreateDraft)
	s.mux.HandleFunc("GET "+APIPrefix+"/drafts/{id}", s.handleDraft)
	s.mux.HandleFunc("GET "+APIPrefix+"/drafts/folder", s.handleDraftsFolder)
	s.mux.HandleFunc("PATCH "+APIPrefix+"/drafts/{id}", s.handleUpdateDraft)
	s.mux.HandleFunc("PUT "+APIPrefix+"/drafts/{id}", s.handleUpdateDraft)
	s.mux.HandleFunc("DELETE "+APIPrefix+"/drafts/{id}", s.handleDeleteDraft)
	s.mux.HandleFunc("POST "+APIPrefix+"/drafts/{id}/publish", s.handlePublishDraft)
	s.mux.HandleFunc("GET "+APIPrefix+"/search", s.handleSearch)
	s.mux.HandleFunc("GET "+APIPrefix+"/outbox", s.handleOutbox)
	s.mux.HandleFunc("GET "+APIPrefix+"/deliveries/{guid}", s.handleDelivery)
	if s.pod != nil {
		s.events = newEventHub(s.pod, s.log)
		s.mux.Handle("GET "+APIPrefix+"/events", s.events)
	}
}

// handleDraftsFolder is the watched drafts folder: its path, whether it is
// watched, and what keeps it from being watched or synced whole.
func (s *Server) handleDraftsFolder(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.pod.DraftsFolderStatus())
}

// failDraft maps a stale If-Match to 412, then answers as fail does.
func (s *Server) failDraft(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, pod.ErrDraftStale) {
		writeError(w, http.StatusPreconditionFailed, "stale", err.Error())
		return
	}
	s.fail(w, r, err)
}

// readBody reads a JSON request body as bytes (the drafts routes check and
// merge it themselves). application/merge-patch+json is JSON too.
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") &&
		!strings.HasPrefix(ct, "application/merge-patch+json") {
		return nil, fmt.Errorf("%w: send a JSON body (Content-Type: application/json), not %q", pod.ErrInvalid, ct)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: the body is larger than %d bytes", pod.ErrInvalid, tooBig.Limit)
		}
		return nil, fmt.Errorf("%w: reading the body: %v", pod.ErrInvalid, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, fmt.Errorf("%w: the body is empty; send a JSON object", pod.ErrInvalid)
	}
	return b, nil
}

// ifMatch parses If-Match into revisions: nil when the header is absent,
// "*" kept as is, entity tags unquoted (a weak W/ prefix is ignored).
func ifMatch(r *http.Request) []string {
	vals, ok := r.Header["If-Match"]
	if !ok {
		return nil
	}
	out := []string{}
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			t = strings.TrimPrefix(t, "W/")
			t = strings.Trim(t, `"`)
			if t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func writeDraft(w http.ResponseWriter, status int, d pod.Draft) {
	w.Header().Set("ETag", `"`+d.Revision+`"`)
	writeJSON(w, status, d)
}

// draftID is the {id} path value without the optional .json suffix.
func draftID(r *http.Request) string { return strings.TrimSuffix(r.PathValue("id"), ".json") }

func (s *Server) handleDrafts(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	q := r.URL.Query()
	page, err := s.pod.Drafts(r.Context(), q.Get("cursor"), apiv1.PerPage(q))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if page.Next != "" {
		w.Header().Set("Link", "<"+apiv1.LinkURL(r.URL, "cursor", page.Next)+`>; rel="next"`)
	}
	if page.Drafts == nil {
		page.Drafts = []pod.Draft{}
	}
	writeJSON(w, http.StatusOK, page.Drafts)
}

func (s *Server) handleCreateDraft(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	b, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := pod.DecodeDraft(b)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.pod.CreateDraft(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeDraft(w, http.StatusCreated, d)
}

func (s *Server) handleDraft(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	d, err := s.pod.Draft(r.Context(), draftID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeDraft(w, http.StatusOK, d)
}

func (s *Server) handleUpdateDraft(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	b, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.pod.UpdateDraft(r.Context(), draftID(r), b, ifMatch(r))
	if err != nil {
		s.failDraft(w, r, err)
		return
	}
	writeDraft(w, http.StatusOK, d)
}

func (s *Server) handleDeleteDraft(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	if err := s.pod.DeleteDraft(r.Context(), draftID(r), ifMatch(r)); err != nil {
		s.failDraft(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handlePublishDraft(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	// The body is optional: {keep_created_at?: bool}.
	var in struct {
		KeepCreatedAt apiv1.Bool `json:"keep_created_at"`
	}
	if r.ContentLength != 0 {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			s.fail(w, r, fmt.Errorf("%w: reading the body: %v", pod.ErrInvalid, err))
			return
		}
		if strings.TrimSpace(string(b)) != "" {
			if err := json.Unmarshal(b, &in); err != nil {
				s.fail(w, r, fmt.Errorf("%w: the body is not a JSON object: %v", pod.ErrInvalid, err))
				return
			}
		}
	}
	if in.KeepCreatedAt {
		writeError(w, http.StatusUnprocessableEntity, "invalid",
			"keep_created_at is not supported: a post is created at the time it is published")
		return
	}
	post, err := s.pod.PublishDraft(r.Context(), draftID(r), ifMatch(r))
	if err != nil {
		s.failDraft(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, post)
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	q := r.URL.Query()
	in, err := pod.ParseSearchIn(q["in"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req := pod.SearchRequest{Q: q.Get("q"), In: in, PerPage: apiv1.PerPage(q), Cursor: q.Get("cursor")}
	switch q.Get("sort") {
	case "", "recent":
	case "relevance":
		req.Relevance = true
	default:
		writeError(w, http.StatusUnprocessableEntity, "invalid", "sort is recent or relevance")
		return
	}
	page, err := s.pod.Search(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if page.Next != "" {
		w.Header().Set("Link", "<"+apiv1.LinkURL(r.URL, "cursor", page.Next)+`>; rel="next"`)
	}
	if page.Results == nil {
		page.Results = []pod.SearchResult{}
	}
	writeJSON(w, http.StatusOK, page.Results)
}

func (s *Server) handleOutbox(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	q := r.URL.Query()
	page, err := s.pod.Outbox(r.Context(), q.Get("cursor"), apiv1.PerPage(q))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if page.Next != "" {
		w.Header().Set("Link", "<"+apiv1.LinkURL(r.URL, "cursor", page.Next)+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, page.Entries)
}

func (s *Server) handleDelivery(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	d, err := s.pod.DeliveryOf(r.Context(), strings.TrimSuffix(r.PathValue("guid"), ".json"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
