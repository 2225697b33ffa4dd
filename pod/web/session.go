package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Bounds on what the pod keeps in memory for logins.
const (
	maxLoginTokens = 8
	maxSessions    = 32
	sessionIdle    = 30 * 24 * time.Hour
)

// CSRFHeader carries the session's CSRF token on unsafe requests.
const CSRFHeader = "X-CSRF-Token"

type session struct {
	csrf     string
	lastSeen time.Time
}

// sessions holds login tokens and sessions in memory, keyed by the SHA-256 of
// the secret so a timing leak of a map lookup reveals nothing usable. A
// restart ends every session; `seedpod serve` prints a new login link.
type sessions struct {
	now    func() time.Time
	mu     sync.Mutex
	tokens map[[32]byte]time.Time
	live   map[[32]byte]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, tokens: map[[32]byte]time.Time{}, live: map[[32]byte]*session{}}
}

// randomSecret returns 256 random bits, URL-safe. crypto/rand.Read never
// returns an error (since Go 1.24 it crashes the program instead).
func randomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newLoginToken mints a one-time login token, dropping the oldest when too
// many are outstanding.
func (s *sessions) newLoginToken() string {
	tok := randomSecret()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) >= maxLoginTokens {
		evictOldest(s.tokens, func(minted time.Time) time.Time { return minted })
	}
	s.tokens[sha256.Sum256([]byte(tok))] = s.now()
	return tok
}

// redeem consumes a login token and starts a session; it returns the session
// secret for the cookie.
func (s *sessions) redeem(tok string) (string, bool) {
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[k]; !ok {
		return "", false
	}
	delete(s.tokens, k)
	now := s.now()
	for id, ss := range s.live {
		if now.Sub(ss.lastSeen) > sessionIdle {
			delete(s.live, id)
		}
	}
	if len(s.live) >= maxSessions {
		evictOldest(s.live, func(ss *session) time.Time { return ss.lastSeen })
	}
	secret := randomSecret()
	s.live[sha256.Sum256([]byte(secret))] = &session{csrf: randomSecret(), lastSeen: now}
	return secret, true
}

// evictOldest deletes the entry whose time is earliest. The maps are a few
// dozen entries at most, so a scan is cheaper than keeping them ordered.
func evictOldest[V any](m map[[32]byte]V, at func(V) time.Time) {
	var oldest [32]byte
	var t time.Time
	for k, v := range m {
		if vt := at(v); t.IsZero() || vt.Before(t) {
			oldest, t = k, vt
		}
	}
	delete(m, oldest)
}

// fromRequest returns the request's live session, or nil.
func (s *sessions) fromRequest(r *http.Request) *session {
	c, err := r.Cookie(cookieName(r.Host))
	if err != nil || c.Value == "" {
		return nil
	}
	k := sha256.Sum256([]byte(c.Value))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.live[k]
	if !ok {
		return nil
	}
	now := s.now()
	if now.Sub(ss.lastSeen) > sessionIdle {
		delete(s.live, k)
		return nil
	}
	ss.lastSeen = now
	return ss
}

func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(cookieName(r.Host)); err == nil {
		s.mu.Lock()
		delete(s.live, sha256.Sum256([]byte(c.Value)))
		s.mu.Unlock()
	}
}

// cookieName includes the port: browsers do not separate cookies by port, so
// two pods on 127.0.0.1 would otherwise log each other out.
func cookieName(host string) string {
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return "seedpod_session_" + port
	}
	return "seedpod_session"
}

func sessionCookie(host, secret string) *http.Cookie {
	return &http.Cookie{Name: cookieName(host), Value: secret, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

func expiredCookie(host string) *http.Cookie {
	return &http.Cookie{Name: cookieName(host), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// checkUnsafe guards a state-changing request: the session's CSRF token in
// the header, and no sign that the request comes from another origin.
func checkUnsafe(r *http.Request, host string, sess *session) error {
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+host {
		return errors.New("request from another origin (" + o + ")")
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin":
	default:
		return errors.New("cross-site request refused")
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		return errors.New("missing " + CSRFHeader + " header")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return errors.New("bad " + CSRFHeader + " header")
	}
	return nil
}

// LoginLink mints a one-time login URL for ModeServe.
func (s *Server) LoginLink() string {
	return "http://" + s.opts.Host + "/login?token=" + s.sessions.newLoginToken()
}

// handleLogin redeems a one-time link: it sets the session cookie and sends
// the browser to the UI, so the token leaves the address bar at once.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if s.opts.Mode != ModeServe {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	secret, ok := s.sessions.redeem(r.URL.Query().Get("token"))
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(loginFailedPage))
		return
	}
	http.SetCookie(w, sessionCookie(s.opts.Host, secret))
	if s.opts.NewLoginLink != nil {
		s.opts.NewLoginLink(s.LoginLink())
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

const loginFailedPage = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Seedpod — link not valid</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1.5rem;color:#1d2a22}
@media(prefers-color-scheme:dark){body{background:#121815;color:#dfe8e2}}h1{font-size:1.4rem}</style></head>
<body><h1>This login link is not valid</h1>
<p>Each login link works once. Look in the terminal (or log) where <code>seedpod serve</code> runs:
after a link is used it prints a fresh one.</p></body></html>`
