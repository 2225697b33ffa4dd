package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"seedpod/pod"
)

// benchStatus serves GET /status in-process, the UI's most frequent call.
func benchStatus(b *testing.B, mode Mode) {
	p, err := pod.Open(context.Background(), pod.Config{DataDir: filepath.Join(b.TempDir(), "d")})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	const host = "127.0.0.1:7474"
	s, err := New(p, Options{Mode: mode, Host: host})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://"+host+APIPrefix+"/status", nil)
	if mode == ModeServe {
		secret, _ := s.sessions.redeem(s.sessions.newLoginToken())
		req.AddCookie(sessionCookie(host, secret))
	}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkStatusWindow is the baseline: the window's in-process call, no
// session checks.
func BenchmarkStatusWindow(b *testing.B) { benchStatus(b, ModeWindow) }

// BenchmarkStatusServe adds what `seedpod serve` checks on every request
// (Host, session cookie lookup); the ratio to the window is their cost.
func BenchmarkStatusServe(b *testing.B) { benchStatus(b, ModeServe) }
