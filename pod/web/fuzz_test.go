package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"seedpod/pod"
)

// FuzzServeWithoutSession sends arbitrary methods, paths, Host headers and
// cookies to the serve-mode handler without a valid session. Invariants: it
// never panics, every response has the security headers, and nothing under
// /api/ ever answers 2xx.
func FuzzServeWithoutSession(f *testing.F) {
	p, err := pod.Open(context.Background(), pod.Config{DataDir: filepath.Join(f.TempDir(), "d")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	const host = "127.0.0.1:7474"
	s, err := New(p, Options{Mode: ModeServe, Host: host})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", "/api/seedpod/v1/status", host, "")
	f.Add("DELETE", "/api/seedpod/v1/session", host, "seedpod_session_7474=x")
	f.Add("GET", "/login?token=abc", host, "")
	f.Add("GET", "/api/../api/seedpod/v1/status", "127.0.0.1:7474", "")
	f.Add("POST", "/%2e%2e/api/seedpod/v1/status", "EVIL:7474", "a=b; seedpod_session_7474=")
	f.Fuzz(func(t *testing.T, method, path, hostHdr, cookie string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		r, err := http.NewRequest(method, "http://"+host+path, nil)
		if err != nil {
			return
		}
		r.Host = hostHdr
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("%s %s: no CSP header", method, path)
		}
		if strings.HasPrefix(r.URL.Path, "/api/") && w.Code < 300 {
			t.Fatalf("%s %s (Host %q, Cookie %q) answered %d without a session", method, path, hostHdr, cookie, w.Code)
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
