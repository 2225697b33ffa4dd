package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
)

// The posts area's routes: posts (API.md §3.1, edits §6.2), photos (§3.6)
// and their blobs, streams (§3.12), a person's posts and photos (§3.8) and
// the tag search (§3.11). Handlers decode, call the pod and write.

// routesPosts registers the posts area's routes. Owned by the posts area.
func (s *Server) routesPosts() {
	h := func(pattern string, fn http.HandlerFunc) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.needPod(w) {
				fn(w, r)
			}
		})
	}
	h("POST "+V1Prefix+"/posts", s.handleCreatePost)
	h("GET "+V1Prefix+"/posts/{guid}", s.handlePost)
	h("DELETE "+V1Prefix+"/posts/{guid}", s.handleDeletePost)
	h("PATCH "+APIPrefix+"/posts/{guid}", s.handleEditPost)
	h("PUT "+APIPrefix+"/posts/{guid}", s.handleEditPost)
	h("GET "+APIPrefix+"/posts/{guid}/versions", s.handlePostVersions)

	h("POST "+V1Prefix+"/photos", s.handleUploadPhoto)
	h("GET "+V1Prefix+"/photos", s.handlePhotos)
	h("GET "+V1Prefix+"/photos/{guid}", s.handlePhoto)
	h("DELETE "+V1Prefix+"/photos/{guid}", s.handleDeletePhoto)
	h("GET "+APIPrefix+"/media/{sha}", s.handleMedia)

	for _, name := range []string{pod.StreamMain, pod.StreamAspects, pod.StreamTags, pod.StreamMentions,
		pod.StreamActivity, pod.StreamLiked, pod.StreamCommented} {
		h("GET "+V1Prefix+"/streams/"+name, s.postsStream(name))
	}
	h("GET "+APIPrefix+"/streams/public", s.postsStream(pod.StreamPublic))
	h("GET "+APIPrefix+"/streams/tag/{tag}", s.postsStream(pod.StreamTag))
	h("GET "+V1Prefix+"/search/posts", s.postsStream(pod.StreamTag))
	h("GET "+V1Prefix+"/users/{guid}/posts", s.postsStream(pod.StreamPerson))
	h("GET "+V1Prefix+"/users/{guid}/photos", s.handlePhotos)
}

// postsOrigin is the scheme and host the request came to.
func postsOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// postsFail answers an error: paging errors (apiv1.Error) with their
// status, a stale If-Match with 412, the rest through fail.
func (s *Server) postsFail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiv1.Error
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.Code, "invalid", ae.Message)
	case errors.Is(err, pod.ErrStale):
		writeError(w, http.StatusPreconditionFailed, "stale_revision", err.Error())
	default:
		s.fail(w, r, err)
	}
}

func (s *Server) handleCreatePost(w http.ResponseWriter, r *http.Request) {
	var in pod.PostInput
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	post, err := s.pod.CreatePost(pod.WithBaseURL(r.Context(), postsOrigin(r)), in)
	if err != nil {
		s.postsFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, post)
}

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request) {
	post, err := s.pod.Post(pod.WithBaseURL(r.Context(), postsOrigin(r)), r.PathValue("guid"))
	if err != nil {
		s.postsFail(w, r, err)
		return
	}
	w.Header().Set("ETag", pod.PostETag(post))
	writeJSON(w, http.StatusOK, post)
}

func (s *Server) handleDeletePost(w http.ResponseWriter, r *http.Request) {
	if err := s.pod.DeletePost(r.Context(), r.PathValue("guid")); err != nil {
		s.postsFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleEditPost(w http.ResponseWriter, r *http.Request) {
	var in pod.PostEdit
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	in.IfMatch = r.Header.Get("If-Match")
	post, err := s.pod.EditPost(pod.WithBaseURL(r.Context(), postsOrigin(r)), r.PathValue("guid"), in)
	if err != nil {
		s.postsFail(w, r, err)
		return
	}
	w.Header().Set("ETag", pod.PostETag(post))
	writeJSON(w, http.StatusOK, post)
}

func (s *Server) handlePostVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.pod.PostVersions(r.Context(), r.PathValue("guid"))
	if err != nil {
		s.postsFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

// postsStream answers one stream; name picks it, path values its subject.
func (s *Server) postsStream(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, err := apiv1.ParseTimePage(q, s.opts.Now(), apiv1.NewestFirst)
		if err != nil {
			s.postsFail(w, r, err)
			return
		}
		sq := pod.StreamQuery{Name: name, PersonGUID: r.PathValue("guid")}
		switch {
		case name == pod.StreamAspects:
			ids, given, err := apiv1.IDs(q, "aspect_ids")
			if err != nil {
				s.postsFail(w, r, err)
				return
			}
			if given {
				sq.AspectIDs = ids
			}
		case name == pod.StreamTag && r.PathValue("tag") != "":
			sq.Tag = r.PathValue("tag")
		case name == pod.StreamTag:
			// search/posts: the tag stream presented to nobody in
			// particular, as diaspora* does.
			sq.Tag, sq.Anonymous = q.Get("tag"), true
		}
		pg, err := s.pod.Stream(pod.WithBaseURL(r.Context(), postsOrigin(r)), sq, page)
		if err != nil {
			s.postsFail(w, r, err)
			return
		}
		opts := apiv1.LinkOptions{NoPrevious: true}
		if name == pod.StreamPerson || sq.Anonymous {
			opts = apiv1.LinkOptions{}
		}
		if l := page.Link(r.URL, pg.First, pg.Last, opts); l != "" {
			w.Header().Set("Link", l)
		}
		writeJSON(w, http.StatusOK, pg.Posts)
	}
}

func (s *Server) handlePhotos(w http.ResponseWriter, r *http.Request) {
	page, err := apiv1.ParseTimePage(r.URL.Query(), s.opts.Now(), apiv1.NewestFirst)
	if err != nil {
		s.postsFail(w, r, err)
		return
	}
	pg, err := s.pod.Photos(pod.WithBaseURL(r.Context(), postsOrigin(r)), r.PathValue("guid"), page)
	if err != nil {
		s.postsFail(w, r, err)
		return
	}
	if l := page.Link(r.URL, pg.First, pg.Last, apiv1.LinkOptions{}); l != "" {
		w.Header().Set("Link", l)
	}
	writeJSON(w, http.StatusOK, pg.Photos)
}

func (s *Server) handlePhoto(w http.ResponseWriter, r *http.Request) {
	ph, err := s.pod.Photo(pod.WithBaseURL(r.Context(), postsOrigin(r)), r.PathValue("guid"))
	if err != nil {
		s.postsFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ph)
}

func (s *Server) handleDeletePhoto(w http.ResponseWriter, r *http.Request) {
	if err := s.pod.DeletePhoto(r.Context(), r.PathValue("guid")); err != nil {
		s.postsFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxPhotoField bounds the non-file fields of an upload.
const maxPhotoField = 4 << 10

// handleUploadPhoto reads a multipart upload: the file field "image"
// (with a filename and content type), and pending, set_profile_photo,
// aspect_ids ("all" or ids) and alt.
func (s *Server) handleUploadPhoto(w http.ResponseWriter, r *http.Request) {
	bad := func(format string, args ...any) {
		s.fail(w, r, fmt.Errorf("%w: "+format, append([]any{pod.ErrInvalid}, args...)...))
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" {
		bad("send the photo as multipart/form-data with the file field \"image\"")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		bad("the multipart body is malformed: %v", err)
		return
	}
	var up pod.PhotoUpload
	var image []byte
	fields := url.Values{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.postsUploadError(w, r, err)
			return
		}
		name := part.FormName()
		if name == "image" {
			if up.Image != nil {
				bad("send one image per upload")
				return
			}
			up.Filename, up.ContentType = part.FileName(), part.Header.Get("Content-Type")
			if image, err = io.ReadAll(part); err != nil {
				s.postsUploadError(w, r, err)
				return
			}
			up.Image = bytes.NewReader(image)
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, maxPhotoField+1))
		if err != nil {
			s.postsUploadError(w, r, err)
			return
		}
		if len(v) > maxPhotoField {
			bad("the field %.40q is longer than %d bytes", name, maxPhotoField)
			return
		}
		fields.Add(name, string(v))
	}
	for key, dst := range map[string]*bool{"pending": &up.Pending, "set_profile_photo": &up.SetProfilePhoto} {
		if v := fields.Get(key); v != "" {
			b, err := apiv1.ParseBool(v)
			if err != nil {
				bad("%s is not a boolean", key)
				return
			}
			*dst = b
		}
	}
	if v := apiv1.Strings(fields, "aspect_ids"); len(v) == 1 && strings.EqualFold(v[0], "all") {
		up.AllAspects = true
	} else if ids, _, err := apiv1.IDs(fields, "aspect_ids"); err != nil {
		s.postsFail(w, r, err)
		return
	} else {
		up.AspectIDs = ids
	}
	up.Alt = fields.Get("alt")
	ph, err := s.pod.UploadPhoto(pod.WithBaseURL(r.Context(), postsOrigin(r)), up)
	if err != nil {
		s.postsFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ph)
}

// postsUploadError answers a failure to read an upload: over the body cap
// it is the image that is too large.
func (s *Server) postsUploadError(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.fail(w, r, fmt.Errorf("%w: the upload is larger than %d MiB; images may be at most 20 MiB",
			pod.ErrInvalid, tooBig.Limit>>20))
		return
	}
	s.fail(w, r, fmt.Errorf("%w: the multipart body is malformed: %v", pod.ErrInvalid, err))
}

// handleMedia serves a blob: immutable (its name is its hash), with the
// content type of the picture it holds.
func (s *Server) handleMedia(w http.ResponseWriter, r *http.Request) {
	f, ct, err := s.pod.Media(r.PathValue("sha"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, f)
}
