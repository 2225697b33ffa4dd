package ownerauth

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSigningStringFormat(t *testing.T) {
	f := Fields{
		Method:     "POST",
		RequestURI: "/api/v1/posts?draft=1",
		Host:       "Relay.Example.ORG",
		Identity:   "alice@relay.example.org",
		Timestamp:  1767225600,
		Nonce:      "q3J0bWFf0P8lZ9oQeH2WcA",
		Digest:     Digest(nil),
	}
	want := "POST\n/api/v1/posts?draft=1\nrelay.example.org\nalice@relay.example.org\n1767225600\nq3J0bWFf0P8lZ9oQeH2WcA\nsha-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	if got := string(f.SigningString()); got != want {
		t.Fatalf("signing string\n got %q\nwant %q", got, want)
	}
}

func TestSignSetsHeaders(t *testing.T) {
	req := signedReq(t, "POST", "https://relay.test/x", []byte("hi"), alice, aliceKey(), t0)
	if got := req.Header.Get(HeaderTimestamp); got != "1767268800" {
		t.Errorf("timestamp %q", got)
	}
	if n := req.Header.Get(HeaderNonce); len(n) != 22 || checkNonce(n) != nil {
		t.Errorf("nonce %q", n)
	}
	other := signedReq(t, "POST", "https://relay.test/x", []byte("hi"), alice, aliceKey(), t0)
	if req.Header.Get(HeaderNonce) == other.Header.Get(HeaderNonce) {
		t.Error("two signatures share a nonce")
	}
	for _, id := range []string{"", "Alice", "a b", "a\nb", strings.Repeat("a", 256)} {
		if err := Sign(httptest.NewRequest("GET", "/", nil), nil, id, aliceKey(), t0); !errors.Is(err, ErrMalformed) {
			t.Errorf("Sign as %q: %v, want ErrMalformed", id, err)
		}
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"text":"hello"}`)
	const target = "https://relay.test/api/v1/posts?aspect=7&x=%2F"
	set := func(name, value string) func(*http.Request, *[]byte) {
		return func(r *http.Request, _ *[]byte) { r.Header.Set(name, value) }
	}
	del := func(name string) func(*http.Request, *[]byte) {
		return func(r *http.Request, _ *[]byte) { r.Header.Del(name) }
	}
	dup := func(name string) func(*http.Request, *[]byte) {
		return func(r *http.Request, _ *[]byte) { r.Header.Add(name, r.Header.Get(name)) }
	}
	flipSig := func(r *http.Request, _ *[]byte) {
		s, _ := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
		s[len(s)/2] ^= 1
		r.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(s))
	}
	tests := []struct {
		name     string
		identity string
		key      *rsa.PrivateKey
		at       time.Time // signing time; zero means t0
		mutate   func(r *http.Request, body *[]byte)
		want     error // nil: verifies as identity
	}{
		{name: "good", identity: alice, key: aliceKey()},
		{name: "good 4096", identity: carol, key: carolKey4096()},
		{name: "good at +skew", identity: alice, key: aliceKey(), at: t0.Add(DefaultMaxSkew)},
		{name: "good at -skew", identity: alice, key: aliceKey(), at: t0.Add(-DefaultMaxSkew)},
		{name: "host case", identity: alice, key: aliceKey(), mutate: func(r *http.Request, _ *[]byte) { r.Host = "RELAY.test" }},

		{name: "no headers", identity: alice, key: aliceKey(), want: ErrUnsigned, mutate: func(r *http.Request, _ *[]byte) {
			for _, h := range signatureHeaders {
				r.Header.Del(h)
			}
		}},
		{name: "missing identity", identity: alice, key: aliceKey(), mutate: del(HeaderIdentity), want: ErrMalformed},
		{name: "missing timestamp", identity: alice, key: aliceKey(), mutate: del(HeaderTimestamp), want: ErrMalformed},
		{name: "missing nonce", identity: alice, key: aliceKey(), mutate: del(HeaderNonce), want: ErrMalformed},
		{name: "missing digest", identity: alice, key: aliceKey(), mutate: del(HeaderDigest), want: ErrMalformed},
		{name: "missing signature", identity: alice, key: aliceKey(), mutate: del(HeaderSignature), want: ErrMalformed},
		{name: "repeated identity", identity: alice, key: aliceKey(), mutate: dup(HeaderIdentity), want: ErrMalformed},
		{name: "repeated nonce", identity: alice, key: aliceKey(), mutate: dup(HeaderNonce), want: ErrMalformed},
		{name: "repeated signature", identity: alice, key: aliceKey(), mutate: dup(HeaderSignature), want: ErrMalformed},

		{name: "identity other", identity: alice, key: aliceKey(), mutate: set(HeaderIdentity, bob), want: ErrBadSignature},
		{name: "identity unknown", identity: alice, key: aliceKey(), mutate: set(HeaderIdentity, "nobody"), want: ErrUnknownIdentity},
		{name: "identity uppercase", identity: alice, key: aliceKey(), mutate: set(HeaderIdentity, "Alice@relay.test"), want: ErrMalformed},
		{name: "identity too long", identity: alice, key: aliceKey(), mutate: set(HeaderIdentity, strings.Repeat("a", 256)), want: ErrMalformed},
		{name: "identity empty", identity: alice, key: aliceKey(), mutate: set(HeaderIdentity, ""), want: ErrMalformed},
		{name: "timestamp +1", identity: alice, key: aliceKey(), mutate: set(HeaderTimestamp, "1767268801"), want: ErrBadSignature},
		{name: "timestamp text", identity: alice, key: aliceKey(), mutate: set(HeaderTimestamp, "noon"), want: ErrMalformed},
		{name: "timestamp leading zero", identity: alice, key: aliceKey(), mutate: set(HeaderTimestamp, "01767268800"), want: ErrMalformed},
		{name: "timestamp negative", identity: alice, key: aliceKey(), mutate: set(HeaderTimestamp, "-1"), want: ErrMalformed},
		{name: "timestamp huge", identity: alice, key: aliceKey(), mutate: set(HeaderTimestamp, strings.Repeat("9", 19)), want: ErrMalformed},
		{name: "nonce other", identity: alice, key: aliceKey(), mutate: set(HeaderNonce, "AAAAAAAAAAAAAAAAAAAAAA"), want: ErrBadSignature},
		{name: "nonce short", identity: alice, key: aliceKey(), mutate: set(HeaderNonce, "AAAAAAAAAAAAAAAAAAAAA"), want: ErrMalformed},
		{name: "nonce long", identity: alice, key: aliceKey(), mutate: set(HeaderNonce, strings.Repeat("A", 65)), want: ErrMalformed},
		{name: "nonce padded", identity: alice, key: aliceKey(), mutate: set(HeaderNonce, "AAAAAAAAAAAAAAAAAAAAAA=="), want: ErrMalformed},
		{name: "digest other body", identity: alice, key: aliceKey(), mutate: set(HeaderDigest, Digest([]byte("other"))), want: ErrDigest},
		{name: "digest other algorithm", identity: alice, key: aliceKey(), mutate: set(HeaderDigest, "sha-512="+Digest(body)[8:]), want: ErrMalformed},
		{name: "digest garbled", identity: alice, key: aliceKey(), mutate: set(HeaderDigest, "sha-256=!!!"), want: ErrMalformed},
		{name: "signature flipped", identity: alice, key: aliceKey(), mutate: flipSig, want: ErrBadSignature},
		{name: "signature not base64", identity: alice, key: aliceKey(), mutate: set(HeaderSignature, "not base64!"), want: ErrMalformed},
		{name: "signature empty", identity: alice, key: aliceKey(), mutate: set(HeaderSignature, ""), want: ErrMalformed},
		{name: "signature too long", identity: alice, key: aliceKey(), mutate: set(HeaderSignature, strings.Repeat("A", 1372)), want: ErrMalformed},

		{name: "body altered", identity: alice, key: aliceKey(), mutate: func(_ *http.Request, b *[]byte) { *b = []byte(`{"text":"HELLO"}`) }, want: ErrDigest},
		{name: "body dropped", identity: alice, key: aliceKey(), mutate: func(_ *http.Request, b *[]byte) { *b = nil }, want: ErrDigest},
		{name: "method altered", identity: alice, key: aliceKey(), mutate: func(r *http.Request, _ *[]byte) { r.Method = "PUT" }, want: ErrBadSignature},
		{name: "path altered", identity: alice, key: aliceKey(), mutate: func(r *http.Request, _ *[]byte) { r.RequestURI = "/api/v1/post?aspect=7&x=%2F" }, want: ErrBadSignature},
		{name: "query altered", identity: alice, key: aliceKey(), mutate: func(r *http.Request, _ *[]byte) { r.RequestURI = "/api/v1/posts?aspect=8&x=%2F" }, want: ErrBadSignature},
		{name: "escaping altered", identity: alice, key: aliceKey(), mutate: func(r *http.Request, _ *[]byte) { r.RequestURI = "/api/v1/posts?aspect=7&x=/" }, want: ErrBadSignature},
		{name: "host altered", identity: alice, key: aliceKey(), mutate: func(r *http.Request, _ *[]byte) { r.Host = "relay.test:8443" }, want: ErrBadSignature},
		{name: "host with newline", identity: alice, key: aliceKey(), mutate: func(r *http.Request, _ *[]byte) { r.Host = "relay.test\nx" }, want: ErrMalformed},

		{name: "key of another identity", identity: alice, key: bobKey(), want: ErrBadSignature},
		{name: "4096 key of another identity", identity: alice, key: carolKey4096(), want: ErrBadSignature},
		{name: "future beyond skew", identity: alice, key: aliceKey(), at: t0.Add(DefaultMaxSkew + time.Second), want: ErrExpired},
		{name: "past beyond skew", identity: alice, key: aliceKey(), at: t0.Add(-DefaultMaxSkew - time.Second), want: ErrExpired},
		{name: "epoch", identity: alice, key: aliceKey(), at: time.Unix(0, 0), want: ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			at := tt.at
			if at.IsZero() {
				at = t0
			}
			b := bytes.Clone(body)
			req := signedReq(t, "POST", target, b, tt.identity, tt.key, at)
			// Serve it the way net/http's server would: origin-form target.
			req.RequestURI = req.URL.RequestURI()
			if tt.mutate != nil {
				tt.mutate(req, &b)
			}
			id, err := r.v.Verify(req, b)
			if tt.want == nil {
				if err != nil || id != tt.identity {
					t.Fatalf("Verify = %q, %v; want %q", id, err, tt.identity)
				}
				if r.nonces.Len() != 1 {
					t.Errorf("nonce store holds %d entries, want 1", r.nonces.Len())
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %q, %v; want %v", id, err, tt.want)
			}
			if id != "" {
				t.Errorf("identity %q returned with an error", id)
			}
			if r.nonces.Len() != 0 {
				t.Errorf("a refused request reached the nonce store (%d entries)", r.nonces.Len())
			}
		})
	}
}

func TestVerifyNeedsKeysAndNonces(t *testing.T) {
	req := signedReq(t, "GET", "/", nil, alice, aliceKey(), t0)
	for _, v := range []*Verifier{{}, {Keys: newRig(t).v.Keys}, {Nonces: &MemoryNonces{}}} {
		if _, err := v.Verify(req, nil); err == nil {
			t.Errorf("%+v verified", v)
		}
	}
}

func TestReplay(t *testing.T) {
	r := newRig(t)
	req := signedReq(t, "DELETE", "/api/v1/posts/42", nil, alice, aliceKey(), t0)
	if _, err := r.v.Verify(req, nil); err != nil {
		t.Fatalf("first: %v", err)
	}
	steps := []struct {
		at   time.Time
		want error
	}{
		{t0, ErrReplayed},
		{t0.Add(time.Minute), ErrReplayed},
		{t0.Add(DefaultMaxSkew), ErrReplayed}, // last second of the window: the nonce must still be held
		{t0.Add(DefaultMaxSkew + time.Second), ErrExpired},
		{t0.Add(time.Hour), ErrExpired},
		{t0, ErrReplayed}, // clock stepped back: the entry was never evicted early
	}
	for _, s := range steps {
		r.clock.Set(s.at)
		if _, err := r.v.Verify(req.Clone(req.Context()), nil); !errors.Is(err, s.want) {
			t.Errorf("at %v: %v, want %v", s.at.Sub(t0), err, s.want)
		}
	}
}

func TestReplayAfterEviction(t *testing.T) {
	r := newRig(t)
	req := signedReq(t, "POST", "/a", nil, alice, aliceKey(), t0)
	if _, err := r.v.Verify(req, nil); err != nil {
		t.Fatal(err)
	}
	// Past the window another identity's request evicts alice's nonce...
	r.clock.Set(t0.Add(DefaultMaxSkew + time.Second))
	if _, err := r.v.Verify(signedReq(t, "POST", "/a", nil, bob, bobKey(), r.clock.Now()), nil); err != nil {
		t.Fatal(err)
	}
	if n := r.nonces.Len(); n != 1 {
		t.Fatalf("nonce store holds %d entries after eviction, want 1", n)
	}
	// ...and the replay is still refused, now by its timestamp.
	if _, err := r.v.Verify(req, nil); !errors.Is(err, ErrExpired) {
		t.Fatalf("replay after eviction: %v, want ErrExpired", err)
	}
}

// TestEndToEnd sends signed requests through net/http's client and server on
// loopback, so "the request URI and host as sent" are what the wire carries.
func TestEndToEnd(t *testing.T) {
	r := newRig(t)
	r.v.Now, r.nonces.Now = nil, nil // real clock
	srv := httptest.NewServer(r.v.Middleware(1<<10, func(w http.ResponseWriter, _ *http.Request, identity string, body []byte) {
		w.Write([]byte(identity + ":" + string(body)))
	}))
	defer srv.Close()
	for _, target := range []string{"/", "/api/v1/posts?x=%2F&y=a+b", "/p%C3%A4th/with%20space?", "/a/./b/../c"} {
		body := []byte("body of " + target)
		req, err := http.NewRequest("POST", srv.URL+target, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := Sign(req, body, alice, aliceKey(), time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := new(bytes.Buffer)
		got.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || got.String() != alice+":"+string(body) {
			t.Errorf("%s: %d %q", target, resp.StatusCode, got)
		}
	}
}
