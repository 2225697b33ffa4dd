package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"seedpod/pod"
	"seedpod/pod/apiv1"
)

// The people area's routes (API.md §3.7, §3.8, §3.11, §3.13 and the
// Seedpod contacts, ignore and bio-versions extensions). Handlers decode,
// call the pod and write.

// routesPeople registers the people area's routes. Owned by the people area.
func (s *Server) routesPeople() {
	h := func(pattern string, fn http.HandlerFunc) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.needPod(w) {
				fn(w, r)
			}
		})
	}
	h("GET "+V1Prefix+"/user", s.handleOwnProfile)
	h("PATCH "+V1Prefix+"/user", s.handleUpdateProfile)
	h("PUT "+V1Prefix+"/user", s.handleUpdateProfile)
	h("GET "+APIPrefix+"/profile/bio/versions", s.handleBioVersions)

	h("GET "+V1Prefix+"/aspects", s.handleAspects)
	h("POST "+V1Prefix+"/aspects", s.handleCreateAspect)
	h("GET "+V1Prefix+"/aspects/{id}", s.handleAspect)
	h("PATCH "+V1Prefix+"/aspects/{id}", s.handleUpdateAspect)
	h("PUT "+V1Prefix+"/aspects/{id}", s.handleUpdateAspect)
	h("DELETE "+V1Prefix+"/aspects/{id}", s.handleDeleteAspect)
	h("GET "+V1Prefix+"/aspects/{id}/contacts", s.handleAspectContacts)
	h("POST "+V1Prefix+"/aspects/{id}/contacts", s.handleAddToAspect)
	h("DELETE "+V1Prefix+"/aspects/{id}/contacts/{guid}", s.handleRemoveFromAspect)

	h("GET "+V1Prefix+"/users/{guid}", s.handleUser)
	h("GET "+V1Prefix+"/users/{guid}/contacts", s.handleUserContacts)
	h("POST "+V1Prefix+"/users/{guid}/block", s.handleBlock)
	h("DELETE "+V1Prefix+"/users/{guid}/block", s.handleUnblock)
	h("POST "+APIPrefix+"/people/{guid}/ignore", s.handleIgnore)
	h("DELETE "+APIPrefix+"/people/{guid}/ignore", s.handleUnignore)
	h("GET "+APIPrefix+"/contacts", s.handleContacts)

	h("GET "+V1Prefix+"/tag_followings", s.handleTagFollowings)
	h("POST "+V1Prefix+"/tag_followings", s.handleFollowTag)
	h("DELETE "+V1Prefix+"/tag_followings/{name}", s.handleUnfollowTag)

	h("GET "+V1Prefix+"/search/users", s.handleSearchUsers)
	h("GET "+V1Prefix+"/search/tags", s.handleSearchTags)
}

// peopleWriteIndexPage writes an index-paged list with its Link header.
func peopleWriteIndexPage(w http.ResponseWriter, r *http.Request, pg apiv1.IndexPage, more bool, v any) {
	if l := pg.Link(r.URL, more); l != "" {
		w.Header().Set("Link", l)
	}
	writeJSON(w, http.StatusOK, v)
}

// peopleAspectID reads the {id} path value; an id that is no integer names no
// aspect (404).
func peopleAspectID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: aspect not found", pod.ErrNotFound)
	}
	return id, nil
}

func (s *Server) handleOwnProfile(w http.ResponseWriter, r *http.Request) {
	p, err := s.pod.OwnProfile(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleUpdateProfile(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if err := decodeJSON(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := pod.DecodeProfileUpdate(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.pod.UpdateProfile(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleBioVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.pod.BioVersions(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

func (s *Server) handleAspects(w http.ResponseWriter, r *http.Request) {
	pg := apiv1.ParseIndexPage(r.URL.Query())
	as, more, err := s.pod.Aspects(r.Context(), pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peopleWriteIndexPage(w, r, pg, more, as)
}

func (s *Server) handleAspect(w http.ResponseWriter, r *http.Request) {
	id, err := peopleAspectID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.pod.Aspect(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleCreateAspect(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name *string `json:"name"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Name == nil {
		s.fail(w, r, fmt.Errorf("%w: name is required", pod.ErrInvalid))
		return
	}
	a, err := s.pod.CreateAspect(r.Context(), *in.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleUpdateAspect(w http.ResponseWriter, r *http.Request) {
	id, err := peopleAspectID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Name  *string          `json:"name"`
		Order *json.RawMessage `json:"order"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	u := pod.AspectUpdate{Name: in.Name}
	if in.Order != nil {
		raw := strings.Trim(string(*in.Order), `"`)
		n, err := strconv.Atoi(raw)
		if err != nil {
			s.fail(w, r, fmt.Errorf("%w: order must be an integer", pod.ErrInvalid))
			return
		}
		u.Order = &n
	}
	a, err := s.pod.UpdateAspect(r.Context(), id, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleDeleteAspect(w http.ResponseWriter, r *http.Request) {
	id, err := peopleAspectID(r)
	if err == nil {
		err = s.pod.DeleteAspect(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAspectContacts(w http.ResponseWriter, r *http.Request) {
	id, err := peopleAspectID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pg := apiv1.ParseIndexPage(r.URL.Query())
	ps, more, err := s.pod.AspectContacts(r.Context(), id, pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peopleWriteIndexPage(w, r, pg, more, ps)
}

func (s *Server) handleAddToAspect(w http.ResponseWriter, r *http.Request) {
	id, err := peopleAspectID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		PersonGUID string `json:"person_guid"`
		Person     string `json:"person"` // the docs' name (API.md §4 #17)
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	guid := in.PersonGUID
	if guid == "" {
		guid = in.Person
	}
	if err := s.pod.AddToAspect(r.Context(), id, guid); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRemoveFromAspect(w http.ResponseWriter, r *http.Request) {
	id, err := peopleAspectID(r)
	if err == nil {
		err = s.pod.RemoveFromAspect(r.Context(), id, r.PathValue("guid"))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.pod.User(r.Context(), r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if u.Own != nil {
		writeJSON(w, http.StatusOK, u.Own)
		return
	}
	writeJSON(w, http.StatusOK, u.Other)
}

func (s *Server) handleUserContacts(w http.ResponseWriter, r *http.Request) {
	pg := apiv1.ParseIndexPage(r.URL.Query())
	ps, more, err := s.pod.UserContacts(r.Context(), r.PathValue("guid"), pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peopleWriteIndexPage(w, r, pg, more, ps)
}

func (s *Server) handleBlock(w http.ResponseWriter, r *http.Request) {
	if err := s.pod.Block(r.Context(), r.PathValue("guid")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) handleUnblock(w http.ResponseWriter, r *http.Request) {
	if err := s.pod.Unblock(r.Context(), r.PathValue("guid")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleIgnore(w http.ResponseWriter, r *http.Request) {
	if err := s.pod.Ignore(r.Context(), r.PathValue("guid")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleUnignore(w http.ResponseWriter, r *http.Request) {
	if err := s.pod.Unignore(r.Context(), r.PathValue("guid")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleContacts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var aspect int64
	if a := q.Get("aspect"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n == 0 {
			s.fail(w, r, fmt.Errorf("%w: aspect must be an aspect id", pod.ErrInvalid))
			return
		}
		aspect = n
	}
	pg := apiv1.ParseIndexPage(q)
	cs, more, err := s.pod.Contacts(r.Context(), q.Get("relationship"), aspect, pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peopleWriteIndexPage(w, r, pg, more, cs)
}

func (s *Server) handleTagFollowings(w http.ResponseWriter, r *http.Request) {
	tags, err := s.pod.TagFollowings(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tags)
}

func (s *Server) handleFollowTag(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.pod.FollowTag(r.Context(), in.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleUnfollowTag(w http.ResponseWriter, r *http.Request) {
	if err := s.pod.UnfollowTag(r.Context(), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSearchUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pg := apiv1.ParseIndexPage(q)
	ps, more, err := s.pod.SearchUsers(r.Context(), q.Get("name_or_handle"), q.Get("tag"), apiv1.Strings(q, "filter"), pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peopleWriteIndexPage(w, r, pg, more, ps)
}

func (s *Server) handleSearchTags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pg := apiv1.ParseIndexPage(q)
	tags, more, err := s.pod.SearchTags(r.Context(), q.Get("query"), pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peopleWriteIndexPage(w, r, pg, more, tags)
}
