package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
)

// routesConversations registers the conversations area's routes:
// conversations and messages (API.md §3.9), notifications (§3.10) and the
// Seedpod extensions read_all and counts (§6.2).
func (s *Server) routesConversations() {
	c := V1Prefix + "/conversations"
	s.mux.HandleFunc("GET "+c, s.handleConversations)
	s.mux.HandleFunc("POST "+c, s.handleCreateConversation)
	s.mux.HandleFunc("GET "+c+"/{guid}", s.handleConversation)
	s.mux.HandleFunc("PATCH "+c+"/{guid}", s.handleMarkConversation)
	s.mux.HandleFunc("PUT "+c+"/{guid}", s.handleMarkConversation)
	s.mux.HandleFunc("DELETE "+c+"/{guid}", s.handleHideConversation)
	s.mux.HandleFunc("GET "+c+"/{guid}/messages", s.handleMessages)
	s.mux.HandleFunc("POST "+c+"/{guid}/messages", s.handleSendMessage)

	n := V1Prefix + "/notifications"
	s.mux.HandleFunc("GET "+n, s.handleNotifications)
	s.mux.HandleFunc("GET "+n+"/{guid}", s.handleNotification)
	s.mux.HandleFunc("PATCH "+n+"/{guid}", s.handleMarkNotification)
	s.mux.HandleFunc("PUT "+n+"/{guid}", s.handleMarkNotification)
	s.mux.HandleFunc("POST "+APIPrefix+"/notifications/read_all", s.handleReadAllNotifications)

	s.mux.HandleFunc("GET "+APIPrefix+"/counts", s.handleCounts)
}

// conversationsFail answers an error: apiv1.Error (paging, query
// parameters) with its own status, the rest through fail.
func (s *Server) conversationsFail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiv1.Error
	if errors.As(err, &ae) {
		writeError(w, ae.Code, "invalid", ae.Message)
		return
	}
	s.fail(w, r, err)
}

// conversationsTimeParam reads an optional ISO 8601 query parameter (zero
// when absent); a bad one is a 422.
func conversationsTimeParam(r *http.Request, key string) (time.Time, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := apiv1.ParseTime(v)
	if err != nil {
		return time.Time{}, apiv1.NewError(http.StatusUnprocessableEntity, "Invalid "+key+" parameter: not an ISO 8601 time")
	}
	return t, nil
}

// conversationsReadBody reads {read: bool}, which is required.
func conversationsReadBody(r *http.Request) (bool, error) {
	var in struct {
		Read *apiv1.Bool `json:"read"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return false, err
	}
	if in.Read == nil {
		return false, fmt.Errorf("%w: read is required (true or false)", pod.ErrInvalid)
	}
	return bool(*in.Read), nil
}

func (s *Server) handleConversations(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	q := r.URL.Query()
	var o pod.ConversationListOptions
	var err error
	if o.OnlyUnread, _, err = apiv1.QueryBool(q, "only_unread"); err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	if o.OnlyAfter, err = conversationsTimeParam(r, "only_after"); err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	if o.Page, err = apiv1.ParseTimePage(q, s.opts.Now(), apiv1.NewestFirst); err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	page, err := s.pod.Conversations(r.Context(), o)
	if err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	if l := o.Page.Link(r.URL, page.First, page.Last, apiv1.LinkOptions{}); l != "" {
		w.Header().Set("Link", l)
	}
	writeJSON(w, http.StatusOK, page.Conversations)
}

func (s *Server) handleCreateConversation(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		Subject    string   `json:"subject"`
		Body       string   `json:"body"`
		Recipients []string `json:"recipients"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.pod.CreateConversation(r.Context(), in.Subject, in.Body, in.Recipients)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) handleConversation(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	c, err := s.pod.Conversation(r.Context(), r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) handleMarkConversation(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	read, err := conversationsReadBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.pod.MarkConversation(r.Context(), r.PathValue("guid"), read)
	if errors.Is(err, pod.ErrNotFound) {
		// diaspora* answers 422 for an unknown conversation here (API.md §3.9).
		writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) handleHideConversation(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	if err := s.pod.HideConversation(r.Context(), r.PathValue("guid")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleMessages is GET /conversations/:guid/messages. Seedpod extension:
// with the query parameter html=1 every message also carries "html", its
// body as sanitised HTML (pod/markup: mentions of known people link to
// /people/<guid>, tags to /tags/<tag>). diaspora*'s schema closes the
// message, so the key is never sent unasked; the Link header keeps the
// parameter.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	withHTML, err := htmlParam(r)
	if err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	page := apiv1.ParseIndexPage(r.URL.Query())
	msgs, more, err := s.pod.ConversationMessages(r.Context(), r.PathValue("guid"), page)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if withHTML {
		if err := s.pod.MessagesHTML(r.Context(), msgs); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if l := page.Link(r.URL, more); l != "" {
		w.Header().Set("Link", l)
	}
	writeJSON(w, http.StatusOK, msgs)
}

// handleSendMessage is POST /conversations/:guid/messages. Seedpod
// extension: with html=1 in the query the new message carries "html" as in
// handleMessages.
func (s *Server) handleSendMessage(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	withHTML, err := htmlParam(r)
	if err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.pod.SendMessage(r.Context(), r.PathValue("guid"), in.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if withHTML {
		// The message is written: a failed read of the people it mentions
		// must not turn that into an error a client would retry, so the
		// answer goes without html then.
		ms := []apiv1.Message{m}
		if err := s.pod.MessagesHTML(r.Context(), ms); err != nil {
			s.log.Error("api: message html", "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			m = ms[0]
		}
	}
	writeJSON(w, http.StatusCreated, m)
}

func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	q := r.URL.Query()
	var o pod.NotificationListOptions
	var err error
	if o.OnlyUnread, _, err = apiv1.QueryBool(q, "only_unread"); err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	if o.OnlyAfter, err = conversationsTimeParam(r, "only_after"); err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	o.Types = apiv1.Strings(q, "type")
	if o.Page, err = apiv1.ParseTimePage(q, s.opts.Now(), apiv1.NewestFirst); err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	page, err := s.pod.Notifications(r.Context(), o)
	if err != nil {
		s.conversationsFail(w, r, err)
		return
	}
	if l := o.Page.Link(r.URL, page.First, page.Last, apiv1.LinkOptions{}); l != "" {
		w.Header().Set("Link", l)
	}
	writeJSON(w, http.StatusOK, page.Notifications)
}

func (s *Server) handleNotification(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	n, err := s.pod.Notification(r.Context(), r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) handleMarkNotification(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	read, err := conversationsReadBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.pod.MarkNotification(r.Context(), r.PathValue("guid"), read); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleReadAllNotifications(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	// The body is optional: nothing, or {"before": timestamp}.
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: read the body: %v", pod.ErrInvalid, err))
		return
	}
	var in struct {
		Before apiv1.Time `json:"before"`
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(raw))
		if err := decodeJSON(r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if err := s.pod.ReadAllNotifications(r.Context(), in.Before.Time); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleCounts(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	c, err := s.pod.Counts(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
