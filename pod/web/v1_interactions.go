package web

import (
	"errors"
	"net/http"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/store"
)

// routesInteractions registers the interactions area's routes (API.md
// §3.2–3.5): comments, likes, reshares, poll votes and the post
// interactions subscribe, mute, hide and report.
func (s *Server) routesInteractions() {
	p := V1Prefix + "/posts/{guid}"
	s.mux.HandleFunc("GET "+p+"/comments", s.handleComments)
	s.mux.HandleFunc("POST "+p+"/comments", s.handleAddComment)
	s.mux.HandleFunc("DELETE "+p+"/comments/{cguid}", s.handleDeleteComment)
	s.mux.HandleFunc("POST "+p+"/comments/{cguid}/report", s.handleReportComment)

	s.mux.HandleFunc("GET "+p+"/likes", s.handleLikes)
	s.mux.HandleFunc("POST "+p+"/likes", s.handleLike)
	s.mux.HandleFunc("DELETE "+p+"/likes", s.handleUnlike)
	s.mux.HandleFunc("GET "+p+"/comments/{cguid}/likes", s.handleLikes)
	s.mux.HandleFunc("POST "+p+"/comments/{cguid}/likes", s.handleLike)
	s.mux.HandleFunc("DELETE "+p+"/comments/{cguid}/likes", s.handleUnlike)

	s.mux.HandleFunc("GET "+p+"/reshares", s.handleReshares)
	s.mux.HandleFunc("POST "+p+"/reshares", s.handleReshare)

	s.mux.HandleFunc("POST "+p+"/vote", s.handleVote)
	s.mux.HandleFunc("POST "+p+"/subscribe", s.handleSubscribe)
	s.mux.HandleFunc("POST "+p+"/mute", s.handleMute)
	s.mux.HandleFunc("POST "+p+"/hide", s.handleHide)
	s.mux.HandleFunc("POST "+p+"/report", s.handleReportPost)
}

// interactionsFail answers an error: apiv1.Error (paging) with its own
// status, the rest through fail.
func (s *Server) interactionsFail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiv1.Error
	if errors.As(err, &ae) {
		writeError(w, ae.Code, "invalid", ae.Message)
		return
	}
	s.fail(w, r, err)
}

// interactionsNoContent answers 204 or the error.
func (s *Server) interactionsNoContent(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// htmlParam reads the Seedpod extension html=1 of the comment and message
// routes: a lenient boolean (apiv1.QueryBool; a bad value is a 422), false
// when absent.
func htmlParam(r *http.Request) (bool, error) {
	v, _, err := apiv1.QueryBool(r.URL.Query(), "html")
	return v, err
}

// handleComments is GET /posts/:guid/comments. Seedpod extension: with the
// query parameter html=1 every comment also carries "html", its body as
// sanitised HTML (pod/markup: mentions of known people link to
// /people/<guid>, tags to /tags/<tag>). diaspora*'s schema closes the
// comment, so the key is never sent unasked; the Link header keeps the
// parameter.
func (s *Server) handleComments(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	withHTML, err := htmlParam(r)
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	page, err := apiv1.ParseTimePage(r.URL.Query(), s.opts.Now(), apiv1.OldestFirst)
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	cs, err := s.pod.PostComments(r.Context(), r.PathValue("guid"), store.TimeBound{
		Desc: page.Descending, Time: page.Time.UnixMilli(), GUID: page.GUID, Limit: page.PerPage})
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	if len(cs) > 0 {
		first, last := cs[0], cs[len(cs)-1]
		if l := page.Link(r.URL, apiv1.Cursor{Time: first.CreatedAt.Time, GUID: first.GUID},
			apiv1.Cursor{Time: last.CreatedAt.Time, GUID: last.GUID}, apiv1.LinkOptions{}); l != "" {
			w.Header().Set("Link", l)
		}
	}
	if withHTML {
		pod.CommentsHTML(cs)
	}
	writeJSON(w, http.StatusOK, cs)
}

// handleAddComment is POST /posts/:guid/comments. Seedpod extension: with
// html=1 in the query the new comment carries "html" as in handleComments.
func (s *Server) handleAddComment(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	withHTML, err := htmlParam(r)
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.pod.AddComment(r.Context(), r.PathValue("guid"), in.Body)
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	if withHTML {
		cs := []apiv1.Comment{c}
		pod.CommentsHTML(cs)
		c = cs[0]
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) handleDeleteComment(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	s.interactionsNoContent(w, r, s.pod.DeleteComment(r.Context(), r.PathValue("guid"), r.PathValue("cguid")))
}

// interactionsReportInput reads {reason}; a missing body is a missing reason.
func interactionsReportInput(r *http.Request) (string, error) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return "", err
	}
	return in.Reason, nil
}

func (s *Server) handleReportComment(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	reason, err := interactionsReportInput(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.interactionsNoContent(w, r, s.pod.ReportComment(r.Context(), r.PathValue("guid"), r.PathValue("cguid"), reason))
}

// interactionsIndexPaged writes an index-paged list with its Link header.
func interactionsIndexPaged[T any](w http.ResponseWriter, r *http.Request, page apiv1.IndexPage, list []T, more bool) {
	if l := page.Link(r.URL, more); l != "" {
		w.Header().Set("Link", l)
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleLikes(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	page := apiv1.ParseIndexPage(r.URL.Query())
	likes, more, err := s.pod.Likes(r.Context(), r.PathValue("guid"), r.PathValue("cguid"), page.Offset(), page.PerPage)
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	interactionsIndexPaged(w, r, page, likes, more)
}

func (s *Server) handleLike(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	s.interactionsNoContent(w, r, s.pod.Like(r.Context(), r.PathValue("guid"), r.PathValue("cguid")))
}

func (s *Server) handleUnlike(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	s.interactionsNoContent(w, r, s.pod.Unlike(r.Context(), r.PathValue("guid"), r.PathValue("cguid")))
}

func (s *Server) handleReshares(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	page := apiv1.ParseIndexPage(r.URL.Query())
	list, more, err := s.pod.Reshares(r.Context(), r.PathValue("guid"), page.Offset(), page.PerPage)
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	interactionsIndexPaged(w, r, page, list, more)
}

func (s *Server) handleReshare(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	guid, err := s.pod.Reshare(r.Context(), r.PathValue("guid"))
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	// 200 and the v1 Post of the reshare (post_type Reshare, with root),
	// as the posts area presents it.
	post, err := s.pod.Post(pod.WithBaseURL(r.Context(), postsOrigin(r)), guid)
	if err != nil {
		s.interactionsFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, post)
}

func (s *Server) handleVote(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		PollAnswer *int64 `json:"poll_answer"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.PollAnswer == nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "poll_answer is missing")
		return
	}
	s.interactionsNoContent(w, r, s.pod.Vote(r.Context(), r.PathValue("guid"), *in.PollAnswer))
}

func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	s.interactionsNoContent(w, r, s.pod.SubscribePost(r.Context(), r.PathValue("guid")))
}

func (s *Server) handleMute(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	s.interactionsNoContent(w, r, s.pod.MutePost(r.Context(), r.PathValue("guid")))
}

func (s *Server) handleHide(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		Hide *bool `json:"hide"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Hide == nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "hide is missing")
		return
	}
	s.interactionsNoContent(w, r, s.pod.HidePost(r.Context(), r.PathValue("guid"), *in.Hide))
}

func (s *Server) handleReportPost(w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	reason, err := interactionsReportInput(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.interactionsNoContent(w, r, s.pod.ReportPost(r.Context(), r.PathValue("guid"), reason))
}
