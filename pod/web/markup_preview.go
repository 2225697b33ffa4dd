package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"seedpod/pod"
	"seedpod/pod/markup"
)

// POST /api/seedpod/v1/markup/preview {text} → {html}: the composer's
// preview. The text is rendered by pod/markup with the options the pod's
// posts get (pod/present.go renderHTML): a mention of a known person (or
// of me) links to /people/<guid> shown with their display name, anyone
// else stays plain text; tags link to /tags/<tag>. Footnote ids get the
// prefix "preview" (a post's are its guid). Text a post would refuse
// (markup.Check) is refused with 422 and the same reason.

// previewIDPrefix stands in for the post's guid in footnote ids.
const previewIDPrefix = "preview"

// markupPreview is the answer.
type markupPreview struct {
	HTML string `json:"html"`
}

// routeMarkupPreview registers the route (one line in apiRoutes).
func (s *Server) routeMarkupPreview() {
	s.mux.HandleFunc("POST "+APIPrefix+"/markup/preview", func(w http.ResponseWriter, r *http.Request) {
		if s.needPod(w) {
			s.handleMarkupPreview(w, r)
		}
	})
}

// previewText reads the body: exactly a JSON object whose "text" is a
// string. Other keys are ignored, as decodeJSON does.
func previewText(b []byte) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return "", fmt.Errorf("%w: send a JSON object {\"text\": \"…\"}", pod.ErrInvalid)
	}
	raw, ok := obj["text"]
	if !ok {
		return "", fmt.Errorf("%w: text is required: send {\"text\": \"…\"}", pod.ErrInvalid)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("%w: text must be a string", pod.ErrInvalid)
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return "", fmt.Errorf("%w: text must be a string", pod.ErrInvalid)
	}
	return text, nil
}

func (s *Server) handleMarkupPreview(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r) // under the server's body cap (maxBodyBytes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	text, err := previewText(b)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := markup.Check(text); err != nil {
		msg := "is not acceptable text"
		switch {
		case errors.Is(err, markup.ErrTooLong):
			msg = fmt.Sprintf("is longer than %d characters", markup.MaxLength)
		case errors.Is(err, markup.ErrInvalidText):
			msg = "holds invalid UTF-8 or control characters"
		}
		s.fail(w, r, fmt.Errorf("%w: the text %s (%v)", pod.ErrInvalid, msg, err))
		return
	}
	if strings.TrimSpace(text) == "" {
		writeJSON(w, http.StatusOK, markupPreview{HTML: ""})
		return
	}
	ctx := r.Context()
	me, err := s.pod.MePerson(ctx)
	if err != nil && !errors.Is(err, pod.ErrNoIdentity) {
		s.fail(w, r, err)
		return
	}
	var lookupErr error
	out, err := markup.Render(text, markup.Options{
		IDPrefix: previewIDPrefix,
		PersonURL: func(handle, _ string) (string, string, bool) {
			if me.GUID != "" && strings.EqualFold(handle, me.DiasporaID) {
				return "/people/" + url.PathEscape(me.GUID), me.Name, true
			}
			pe, err := s.pod.PersonByHandle(ctx, strings.ToLower(handle))
			if err != nil {
				if !errors.Is(err, pod.ErrNotFound) {
					lookupErr = err
				}
				return "", "", false
			}
			if pe.GUID == "" {
				return "", "", false
			}
			return "/people/" + url.PathEscape(pe.GUID), pe.Name, true
		},
	})
	if lookupErr != nil {
		s.fail(w, r, lookupErr)
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: the text cannot be rendered (%v)", pod.ErrInvalid, err))
		return
	}
	writeJSON(w, http.StatusOK, markupPreview{HTML: out.HTML})
}
