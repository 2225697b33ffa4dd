package ownerauth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMiddleware(t *testing.T) {
	const maxBody = 64
	small := []byte(`{"ok":true}`)
	big := bytes.Repeat([]byte("x"), maxBody+1)
	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		wantStatus int
		wantCode   string
	}{
		{"good", func(t *testing.T) *http.Request { return signedReq(t, "POST", "/p", small, alice, aliceKey(), t0) }, 200, ""},
		{"body at cap", func(t *testing.T) *http.Request {
			b := big[:maxBody]
			return signedReq(t, "POST", "/p", b, alice, aliceKey(), t0)
		}, 200, ""},
		{"oversize body", func(t *testing.T) *http.Request { return signedReq(t, "POST", "/p", big, alice, aliceKey(), t0) }, 413, "too_large"},
		{"oversize body, length unknown", func(t *testing.T) *http.Request {
			r := signedReq(t, "POST", "/p", big, alice, aliceKey(), t0)
			r.ContentLength = -1
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(big))) // hides the length
			return r
		}, 413, "too_large"},
		{"unsigned", func(t *testing.T) *http.Request { return httptest.NewRequest("POST", "/p", bytes.NewReader(small)) }, 401, "unsigned"},
		{"malformed", func(t *testing.T) *http.Request {
			r := signedReq(t, "POST", "/p", small, alice, aliceKey(), t0)
			r.Header.Del(HeaderNonce)
			return r
		}, 401, "malformed_signature"},
		{"expired", func(t *testing.T) *http.Request {
			return signedReq(t, "POST", "/p", small, alice, aliceKey(), t0.Add(-time.Hour))
		}, 401, "expired"},
		{"digest", func(t *testing.T) *http.Request {
			r := signedReq(t, "POST", "/p", small, alice, aliceKey(), t0)
			r.Body = io.NopCloser(strings.NewReader(`{"ok":false}`))
			return r
		}, 401, "digest_mismatch"},
		{"unknown identity", func(t *testing.T) *http.Request { return signedReq(t, "POST", "/p", small, "nobody", aliceKey(), t0) }, 401, "bad_signature"},
		{"bad signature", func(t *testing.T) *http.Request { return signedReq(t, "POST", "/p", small, alice, bobKey(), t0) }, 401, "bad_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			var called bool
			h := r.v.Middleware(maxBody, func(w http.ResponseWriter, req *http.Request, identity string, body []byte) {
				called = true
				again, _ := io.ReadAll(req.Body)
				if identity != alice || !bytes.Equal(body, again) {
					t.Errorf("next got %q, body %q, r.Body %q", identity, body, again)
				}
				w.WriteHeader(200)
			})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req(t))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if called != (tt.wantStatus == 200) {
				t.Fatalf("next called: %v", called)
			}
			if tt.wantStatus == 200 {
				return
			}
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Error != tt.wantCode || p.Message == "" {
				t.Fatalf("problem %s (%v), want code %q", w.Body, err, tt.wantCode)
			}
			if tt.wantStatus == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// TestMiddlewareNoEnumeration checks an unknown identity and a wrong key get
// byte-identical answers.
func TestMiddlewareNoEnumeration(t *testing.T) {
	r := newRig(t)
	h := r.v.Middleware(1<<10, func(http.ResponseWriter, *http.Request, string, []byte) { t.Error("next called") })
	answer := func(req *http.Request) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	c1, b1 := answer(signedReq(t, "GET", "/", nil, "nobody", aliceKey(), t0))
	c2, b2 := answer(signedReq(t, "GET", "/", nil, alice, bobKey(), t0))
	if c1 != c2 || b1 != b2 {
		t.Fatalf("unknown identity %d %s; bad signature %d %s", c1, b1, c2, b2)
	}
}

func TestMiddlewareServerErrors(t *testing.T) {
	lookupFails := func(context.Context, string) (*rsa.PublicKey, bool, error) {
		return nil, false, errors.New("database is locked")
	}
	full := &MemoryNonces{Max: 1, Now: func() time.Time { return t0 }}
	full.Remember(context.Background(), bob, "AAAAAAAAAAAAAAAAAAAAAA", t0.Add(time.Hour))
	keysOK := newRig(t).v.Keys
	tests := []struct {
		name       string
		v          *Verifier
		wantStatus int
	}{
		{"lookup fails", &Verifier{Keys: lookupFails, Nonces: &MemoryNonces{}, Now: func() time.Time { return t0 }}, 500},
		{"nonce store full", &Verifier{Keys: keysOK, Nonces: full, Now: func() time.Time { return t0 }}, 503},
		{"misconfigured", &Verifier{Keys: keysOK}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logged error
			tt.v.OnError = func(_ *http.Request, err error) { logged = err }
			w := httptest.NewRecorder()
			tt.v.Middleware(1<<10, nil).ServeHTTP(w, signedReq(t, "GET", "/", nil, alice, aliceKey(), t0))
			if w.Code != tt.wantStatus || logged == nil {
				t.Fatalf("status %d (want %d), logged %v", w.Code, tt.wantStatus, logged)
			}
			if strings.Contains(w.Body.String(), "database") {
				t.Errorf("internal detail leaked: %s", w.Body)
			}
		})
	}
}
