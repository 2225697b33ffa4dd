package relay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
	"seedpod/pod/relay/ownerauth"
)

// FuzzRelayRequests sends arbitrary bodies to every endpoint that parses
// one: the two inboxes (unsigned) and the owner API (correctly signed, so
// the fuzzer reaches the parsers behind the signature check). Invariants:
// no panic, no 5xx (bad input is the sender's fault, never the relay's),
// and the public inbox answers 202 only for a well-formed magic envelope.
func FuzzRelayRequests(f *testing.F) {
	r, err := Open(context.Background(), Config{Domain: domain, DataDir: filepath.Join(f.TempDir(), "relay"), NoRateLimit: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	ka, _ := testKeys(f)
	// Enroll alice directly through the handler.
	code, err := Invite(context.Background(), r.DataDir(), "alice", time.Hour, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	enrollBody, _ := json.Marshal(EnrollRequest{Code: code, Username: "alice", GUID: guidA, PublicKey: string(keys.MarshalPublic(&ka.PublicKey))})
	if w := serve(r, "POST", OwnerPrefix+"/enroll", "application/json", enrollBody, ka); w.Code != http.StatusCreated {
		f.Fatalf("enroll: %d %s", w.Code, w.Body)
	}
	endpoints := []struct{ method, path, ctype string }{
		{"POST", "/receive/public", "application/magic-envelope+xml"},
		{"POST", "/receive/users/" + guidA, "application/json"},
		{"POST", OwnerPrefix + "/inbox/ack", "application/json"},
		{"POST", OwnerPrefix + "/outbox", "application/json"},
		{"POST", OwnerPrefix + "/published", "application/json"},
		{"PUT", OwnerPrefix + "/profile", "application/json"},
		{"POST", OwnerPrefix + "/media", "image/png"},
	}
	f.Add(uint8(0), vectors.Read(f, "generated/envelopes/public_status_message.xml"))
	f.Add(uint8(1), vectors.Read(f, "generated/envelopes/private_message.encrypted.json"))
	f.Add(uint8(2), []byte(`{"up_to": 99}`))
	f.Add(uint8(3), []byte(`{"items":[{"guid":"d4d4d4d4d4d4d4d4","recipient":"https://pod.example/receive/public","body":"eA=="}]}`))
	f.Add(uint8(4), []byte(`{"items":[{"type":"status_message","guid":"d4d4d4d4d4d4d4d4","envelope":"PA=="}]}`))
	f.Add(uint8(5), []byte(`{"full_name":"Alice"}`))
	f.Add(uint8(6), []byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ep := endpoints[int(which)%len(endpoints)]
		key := ka
		if ep.path == "/receive/public" || ep.path == "/receive/users/"+guidA {
			key = nil
		}
		w := serve(r, ep.method, ep.path, ep.ctype, body, key)
		if w.Code >= 500 && w.Code != http.StatusInsufficientStorage && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s answered %d for %q: %s", ep.method, ep.path, w.Code, body, w.Body)
		}
		if ep.path == "/receive/public" && w.Code == http.StatusAccepted {
			if _, err := envelope.Parse(body); err != nil {
				t.Fatalf("the public inbox accepted something that is not a magic envelope (%v): %q", err, body)
			}
		}
	})
}

// serve runs one request through the relay's handler in-process, signed as
// alice with key unless key is nil.
func serve(r *Relay, method, path, ctype string, body []byte, key *rsa.PrivateKey) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://"+domain+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if key != nil {
		_ = ownerauth.Sign(req, body, "alice", key, time.Now())
	}
	w := httptest.NewRecorder()
	r.Handler().ServeHTTP(w, req)
	return w
}
