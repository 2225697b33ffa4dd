package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"seedpod/pod"
	"seedpod/pod/store"
)

// rig is a real pod behind a real loopback HTTP server.
type rig struct {
	t      *testing.T
	srv    *httptest.Server
	web    *Server
	host   string
	client *http.Client
	links  chan string
}

func newRig(t *testing.T, mode Mode, ui uiFiles) *rig {
	t.Helper()
	p, err := pod.Open(context.Background(), pod.Config{DataDir: filepath.Join(t.TempDir(), "data"), Version: "9.9.9-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r := &rig{t: t, links: make(chan string, 4)}
	srv := httptest.NewUnstartedServer(nil)
	r.host = srv.Listener.Addr().String()
	opts := Options{Mode: mode, Host: r.host, NewLoginLink: func(u string) { r.links <- u }}
	if ui != nil {
		opts.UI = ui
	}
	r.web, err = New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = r.web
	srv.Start()
	t.Cleanup(srv.Close)
	r.srv = srv
	r.client = &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return r
}

type uiFiles = fstest.MapFS

type req struct {
	method, path string
	host         string
	cookie       *http.Cookie
	header       map[string]string
}

func (r *rig) do(q req) (*http.Response, []byte) {
	r.t.Helper()
	if q.method == "" {
		q.method = http.MethodGet
	}
	hr, err := http.NewRequest(q.method, r.srv.URL+q.path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if q.host != "" {
		hr.Host = q.host
	}
	if q.cookie != nil {
		hr.AddCookie(q.cookie)
	}
	for k, v := range q.header {
		hr.Header.Set(k, v)
	}
	resp, err := r.client.Do(hr)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// login redeems a fresh link and returns the session cookie.
func (r *rig) login() *http.Cookie {
	r.t.Helper()
	resp, body := r.do(req{path: pathOf(r.t, r.web.LoginLink())})
	if resp.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	<-r.links
	for _, c := range resp.Cookies() {
		if c.Name == cookieName(r.host) {
			return c
		}
	}
	r.t.Fatalf("login set no %s cookie: %v", cookieName(r.host), resp.Header["Set-Cookie"])
	return nil
}

func pathOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func decodeError(t *testing.T, body []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not the JSON envelope: %v", body, err)
	}
	return e
}

func TestServeRequiresSession(t *testing.T) {
	r := newRig(t, ModeServe, nil)
	for _, c := range []req{
		{path: APIPrefix + "/status"},
		{path: APIPrefix + "/session"},
		{method: "DELETE", path: APIPrefix + "/session"},
		{path: APIPrefix + "/status", cookie: &http.Cookie{Name: cookieName(r.host), Value: "forged"}},
		{path: APIPrefix + "/nowhere"},
	} {
		resp, body := r.do(c)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s: status %d, want 401", c.method, c.path, resp.StatusCode)
			continue
		}
		if e := decodeError(t, body); e.Error != "login_required" || e.Code != 401 || e.Message == "" {
			t.Errorf("%s %s: error envelope %+v", c.method, c.path, e)
		}
	}
}

func TestServeRefusesForeignHost(t *testing.T) {
	r := newRig(t, ModeServe, uiFiles{"index.html": {Data: []byte("<h1>ui</h1>")}})
	cookie := r.login()
	_, port, _ := strings.Cut(r.host, ":")
	for _, host := range []string{"evil.example", "evil.example:" + port, "localhost:" + port, "127.0.0.1:1", "[::1]:" + port} {
		for _, path := range []string{APIPrefix + "/status", "/", "/login?token=x"} {
			resp, body := r.do(req{path: path, host: host, cookie: cookie})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("Host %q %s: status %d, want 403", host, path, resp.StatusCode)
				continue
			}
			if e := decodeError(t, body); e.Error != "host_not_allowed" {
				t.Errorf("Host %q %s: error %+v", host, path, e)
			}
		}
	}
	// The listen address itself is fine.
	if resp, _ := r.do(req{path: APIPrefix + "/status", cookie: cookie}); resp.StatusCode != 200 {
		t.Errorf("own Host: status %d, want 200", resp.StatusCode)
	}
}

func TestLoginLinkIsOneTime(t *testing.T) {
	r := newRig(t, ModeServe, nil)
	link := pathOf(t, r.web.LoginLink())

	if resp, _ := r.do(req{path: "/login?token=not-a-token"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bad token: status %d, want 403", resp.StatusCode)
	}
	if resp, _ := r.do(req{method: "POST", path: link}); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST login: status %d, want 405", resp.StatusCode)
	}

	resp, _ := r.do(req{path: link})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: status %d Location %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		cookie = c
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" ||
		cookie.Name != cookieName(r.host) {
		t.Fatalf("session cookie = %+v, want HttpOnly SameSite=Strict Path=/ named %s", cookie, cookieName(r.host))
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q, want no-referrer (the token must not leak)", got)
	}

	// Used once, never again.
	if resp, body := r.do(req{path: link}); resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "not valid") {
		t.Errorf("reused link: status %d, want 403 with an explanation", resp.StatusCode)
	}

	// A fresh link was handed out for the next browser, and it works.
	select {
	case next := <-r.links:
		if resp, _ := r.do(req{path: pathOf(t, next)}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("fresh link: status %d, want 303", resp.StatusCode)
		}
	default:
		t.Fatal("no fresh login link after the first was used")
	}

	// The session cookie opens the API.
	resp, body := r.do(req{path: APIPrefix + "/status", cookie: cookie})
	if resp.StatusCode != 200 {
		t.Fatalf("status with session: %d %s", resp.StatusCode, body)
	}
	var st pod.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Version != "9.9.9-test" || st.SchemaVersion != store.LatestVersion() || !strings.HasSuffix(st.DataDir, "data") || st.UptimeSeconds < 0 {
		t.Errorf("status = %+v", st)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("status headers: %v", resp.Header)
	}
}

func TestCSRF(t *testing.T) {
	r := newRig(t, ModeServe, nil)
	cookie := r.login()
	resp, body := r.do(req{path: APIPrefix + "/session", cookie: cookie})
	var info sessionInfo
	if err := json.Unmarshal(body, &info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("session: %d %s", resp.StatusCode, body)
	}
	if info.Mode != "serve" || len(info.CSRFToken) < 40 {
		t.Fatalf("session info = %+v", info)
	}
	origin := "http://" + r.host
	for _, c := range []struct {
		name   string
		header map[string]string
	}{
		{"no token", nil},
		{"empty token", map[string]string{CSRFHeader: ""}},
		{"wrong token", map[string]string{CSRFHeader: info.CSRFToken[:len(info.CSRFToken)-1] + "x"}},
		{"another session's token", map[string]string{CSRFHeader: randomSecret()}},
		{"right token, foreign origin", map[string]string{CSRFHeader: info.CSRFToken, "Origin": "http://evil.example"}},
		{"right token, cross-site fetch", map[string]string{CSRFHeader: info.CSRFToken, "Sec-Fetch-Site": "cross-site"}},
	} {
		resp, body := r.do(req{method: "DELETE", path: APIPrefix + "/session", cookie: cookie, header: c.header})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, resp.StatusCode)
			continue
		}
		if e := decodeError(t, body); e.Error != "csrf_failed" {
			t.Errorf("%s: error %+v", c.name, e)
		}
	}
	// Still logged in: the refused requests changed nothing.
	if resp, _ := r.do(req{path: APIPrefix + "/status", cookie: cookie}); resp.StatusCode != 200 {
		t.Fatalf("after refused logouts: status %d, want 200", resp.StatusCode)
	}
	resp, _ = r.do(req{method: "DELETE", path: APIPrefix + "/session", cookie: cookie,
		header: map[string]string{CSRFHeader: info.CSRFToken, "Origin": origin, "Sec-Fetch-Site": "same-origin"}})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout with the right token: status %d, want 204", resp.StatusCode)
	}
	if resp, _ := r.do(req{path: APIPrefix + "/status", cookie: cookie}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout: status %d, want 401", resp.StatusCode)
	}
}

func TestSessionsAreBounded(t *testing.T) {
	r := newRig(t, ModeServe, nil)
	first := r.login()
	for range maxSessions {
		r.login()
	}
	if resp, _ := r.do(req{path: APIPrefix + "/status", cookie: first}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("oldest of %d sessions: status %d, want 401 (evicted)", maxSessions+1, resp.StatusCode)
	}
	for range maxLoginTokens * 3 {
		r.web.LoginLink()
	}
	r.web.sessions.mu.Lock()
	n := len(r.web.sessions.tokens)
	r.web.sessions.mu.Unlock()
	if n > maxLoginTokens {
		t.Errorf("%d outstanding login tokens, want at most %d", n, maxLoginTokens)
	}
}

func TestWindowModeNeedsNoSession(t *testing.T) {
	r := newRig(t, ModeWindow, nil)
	resp, body := r.do(req{path: APIPrefix + "/status", host: "wails.localhost"})
	if resp.StatusCode != 200 {
		t.Fatalf("window status: %d %s", resp.StatusCode, body)
	}
	resp, body = r.do(req{path: APIPrefix + "/session", host: "wails.localhost"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"mode":"window"`) {
		t.Errorf("window session: %d %s", resp.StatusCode, body)
	}
	if resp, _ := r.do(req{path: "/login?token=x"}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("window /login: status %d, want 404", resp.StatusCode)
	}
}

func TestRoutingAndHeaders(t *testing.T) {
	ui := uiFiles{
		"index.html":         {Data: []byte("<!doctype html><h1>Seedpod</h1>")},
		"assets/app-abc.js":  {Data: []byte("console.log(1)")},
		"assets/app-abc.css": {Data: []byte("body{}")},
	}
	r := newRig(t, ModeServe, ui)
	cookie := r.login()
	cases := []struct {
		q          req
		status     int
		cache      string
		bodyHas    string
		errorCode  string
		contentHas string
	}{
		{q: req{path: "/"}, status: 200, cache: "no-cache", bodyHas: "<h1>Seedpod</h1>", contentHas: "text/html"},
		{q: req{path: "/assets/app-abc.js"}, status: 200, cache: "public, max-age=31536000, immutable", contentHas: "javascript"},
		{q: req{path: "/missing"}, status: 404},
		{q: req{method: "POST", path: "/"}, status: 405},
		{q: req{path: APIPrefix + "/nowhere", cookie: cookie}, status: 404, errorCode: "not_found"},
		{q: req{method: "PUT", path: APIPrefix + "/status", cookie: cookie}, status: 403, errorCode: "csrf_failed"},
	}
	for _, c := range cases {
		resp, body := r.do(c.q)
		name := c.q.method + " " + c.q.path
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, c.status)
		}
		if c.cache != "" && resp.Header.Get("Cache-Control") != c.cache {
			t.Errorf("%s: Cache-Control %q, want %q", name, resp.Header.Get("Cache-Control"), c.cache)
		}
		if c.bodyHas != "" && !strings.Contains(string(body), c.bodyHas) {
			t.Errorf("%s: body %q lacks %q", name, body, c.bodyHas)
		}
		if c.contentHas != "" && !strings.Contains(resp.Header.Get("Content-Type"), c.contentHas) {
			t.Errorf("%s: Content-Type %q lacks %q", name, resp.Header.Get("Content-Type"), c.contentHas)
		}
		if c.errorCode != "" {
			if e := decodeError(t, body); e.Error != c.errorCode {
				t.Errorf("%s: error %+v, want %s", name, e, c.errorCode)
			}
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s: no %s header", name, h)
			}
		}
	}
}

func TestUINotBuilt(t *testing.T) {
	r := newRig(t, ModeWindow, nil)
	resp, body := r.do(req{path: "/"})
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "make build") {
		t.Errorf("no UI: %d %s", resp.StatusCode, body)
	}
}

func TestNewNeedsHostInServeMode(t *testing.T) {
	if _, err := New(nil, Options{Mode: ModeServe}); err == nil {
		t.Error("New without Host in serve mode succeeded")
	}
}
