// Package web is the pod's HTTP face: the JSON API under /api/ and the static
// UI. It is the UI's only door into the pod.
//
// The same handler serves two callers:
//   - `seedpod serve` on a loopback address, where any local process or web
//     page can reach it, so it demands a session (set by a one-time login
//     link), a CSRF token on unsafe methods, and the exact Host it listens on
//     (DNS rebinding);
//   - the desktop window, which calls it in-process through Wails' asset
//     server middleware: no port, no session (ModeWindow).
//
// It imports pod for the use cases and nothing that imports it; never Wails.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"seedpod/pod"
)

// APIPrefix is where Seedpod's own API lives (API.md §6.1).
const APIPrefix = "/api/seedpod/v1"

// maxBodyBytes caps every request body. The API takes small JSON documents;
// uploads get their own, larger limits where they are added.
const maxBodyBytes = 1 << 20

// maxUploadBytes caps photo uploads: pod/media refuses images over 20 MiB
// with a clear message, so the transport allows a little more for the
// multipart framing.
const maxUploadBytes = 21 << 20

// bodyLimit is the body cap of a request: uploads get maxUploadBytes,
// everything else maxBodyBytes.
func bodyLimit(r *http.Request) int64 {
	if n := archiveBodyLimit(r); n > 0 {
		return n
	}
	if r.Method == http.MethodPost && (r.URL.Path == "/api/v1/photos" || r.URL.Path == "/api/v1/photos.json") {
		return maxUploadBytes
	}
	return maxBodyBytes
}

// Mode says who is calling.
type Mode int

const (
	// ModeServe is `seedpod serve`: sessions, CSRF and Host checks.
	ModeServe Mode = iota
	// ModeWindow is the desktop window, calling in-process with full rights.
	ModeWindow
)

// Backend is what the API needs from the pod.
type Backend interface {
	Status(ctx context.Context) (pod.Status, error)
}

// Options configure a Server.
type Options struct {
	Mode Mode
	// Host is the exact Host header accepted in ModeServe ("127.0.0.1:7474").
	Host string
	// UI is the built frontend (index.html at its root); nil serves a page
	// that says how to build it.
	UI fs.FS
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewLoginLink is called with a fresh login URL whenever the previous
	// one has been used, so the operator can always find a valid one.
	NewLoginLink func(url string)
}

// Server is the pod's HTTP handler.
type Server struct {
	opts     Options
	backend  Backend
	log      *slog.Logger
	sessions *sessions
	mux      *http.ServeMux
	static   http.Handler
	pod      *pod.Pod  // nil when the backend is not a pod (tests of the shell)
	events   *eventHub // the live events (nil without a pod)
	// osService is the OS notification service's state as the window
	// reports it (SetOSService); nil: not known yet.
	osService atomic.Pointer[string]
}

// New builds the handler. In ModeServe, Options.Host must be set.
func New(b Backend, opts Options) (*Server, error) {
	if opts.Mode == ModeServe && opts.Host == "" {
		return nil, errors.New("web: serve mode needs the listen address as Options.Host")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, backend: b, log: log, sessions: newSessions(opts.Now), mux: http.NewServeMux()}
	s.static = newStatic(opts.UI)
	if p, ok := b.(*pod.Pod); ok {
		s.pod = p
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET "+APIPrefix+"/status", s.handleStatus)
	s.mux.HandleFunc("GET "+APIPrefix+"/session", s.handleSession)
	s.mux.HandleFunc("DELETE "+APIPrefix+"/session", s.handleLogout)
	s.apiRoutes()
	s.routesSettings()
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no API route "+r.Method+" "+r.URL.Path)
	})
}

// ServeHTTP applies the checks of the mode, then routes: /login, /api/…,
// everything else to the static UI.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.serve(rec, r)
	// Only the path is logged: the login link's token is in the query. The
	// UI polls, so answered reads are debug-level; changes and failures are
	// worth a line at info.
	level := slog.LevelInfo
	if safeMethod(r.Method) && rec.status < 400 {
		level = slog.LevelDebug
	}
	s.log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
		"ms", s.opts.Now().Sub(start).Milliseconds())
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if s.opts.Mode == ModeServe && !strings.EqualFold(r.Host, s.opts.Host) {
		// DNS rebinding: a page on evil.example that resolved to 127.0.0.1
		// still sends Host: evil.example.
		writeError(w, http.StatusForbidden, "host_not_allowed",
			"this pod only answers requests for "+s.opts.Host)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(r))

	if r.URL.Path == "/login" {
		s.handleLogin(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		s.static.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	// Every v1 route also answers with a .json suffix (Rails' format).
	if rest, ok := strings.CutPrefix(r.URL.Path, V1Prefix+"/"); ok && strings.HasSuffix(rest, ".json") {
		r.URL.Path = strings.TrimSuffix(r.URL.Path, ".json")
		r.URL.RawPath = ""
	}
	if base := pod.BaseURLFor(r.Host); base != "" {
		r = r.WithContext(pod.WithBaseURL(r.Context(), base))
	}
	if s.opts.Mode == ModeServe {
		sess := s.sessions.fromRequest(r)
		if sess == nil {
			writeError(w, http.StatusUnauthorized, "login_required",
				"sign in with the login link that `seedpod serve` printed")
			return
		}
		if !safeMethod(r.Method) {
			if err := checkUnsafe(r, s.opts.Host, sess); err != nil {
				writeError(w, http.StatusForbidden, "csrf_failed", err.Error())
				return
			}
		}
	}
	s.mux.ServeHTTP(w, r)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.backend.Status(r.Context())
	if err != nil {
		s.log.Error("status", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the pod could not read its status")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// sessionInfo tells the UI how to talk to the API.
type sessionInfo struct {
	Mode      string `json:"mode"` // "serve" or "window"
	CSRFToken string `json:"csrf_token,omitempty"`
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	if s.opts.Mode == ModeWindow {
		writeJSON(w, http.StatusOK, sessionInfo{Mode: "window"})
		return
	}
	sess := s.sessions.fromRequest(r)
	writeJSON(w, http.StatusOK, sessionInfo{Mode: "serve", CSRFToken: sess.csrf})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if s.opts.Mode == ModeServe {
		s.sessions.end(r)
		http.SetCookie(w, expiredCookie(s.opts.Host))
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiError is the error envelope of API.md §6.1: the v1 {code, message}
// plus a machine-readable error string.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Code: status, Message: msg, Error: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func setSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; "+
		"style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; "+
		"base-uri 'none'; form-action 'self'; object-src 'none'")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
