package relayclient_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"seedpod/pod/relay"
	"seedpod/pod/relay/ownerauth"
	"seedpod/pod/relayclient"
)

// raw sends one request signed as alice, around the client's own caps, and
// returns the relay's status and error code. With signOther the signature
// covers other bytes than the body sent: the relay then reads the whole
// body (if within its cap) and refuses it as digest_mismatch — a cheap
// proof that the body fitted.
func (g *rig) raw(method, path, ctype string, body []byte, signOther bool) (int, string) {
	g.t.Helper()
	k, _ := testKeys(g.t)
	req, err := http.NewRequestWithContext(ctx(g.t), method, g.base+relay.OwnerPrefix+path, bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	signed := body
	if signOther {
		signed = []byte("other")
	}
	if err := ownerauth.Sign(req, signed, "alice", k, time.Now()); err != nil {
		g.t.Fatal(err)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := g.http.ReadBody(resp)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error
}

// TestLimitsMatchRelay fails when a cap mirrored here drifts from the
// relay's, against a real relay: a request of exactly the cap's items is
// accepted and one more item is refused (422); a body of exactly the cap's
// bytes is read in full (and refused only for its digest) and one byte more
// is refused unread (413).
func TestLimitsMatchRelay(t *testing.T) {
	t.Parallel()
	g := newRig(t, func(c *relay.Config) { c.NoRateLimit = true })
	c := g.enrolled()
	k, _ := testKeys(t)
	const bob = "https://bob.test/receive/public"

	outbox := func(n int) []byte {
		b, _ := json.Marshal(relay.OutboxRequest{Items: outboxItems(n, 0, bob)})
		return b
	}
	signed := make([]relay.PublishItem, relayclient.MaxPublishItems+1)
	for i := range signed {
		id := guid(5000 + i)
		signed[i] = relay.PublishItem{Type: "status_message", GUID: id, Envelope: statusMessage(t, g.alice(), id, "n", k)}
	}
	publish := func(n int) []byte {
		b, _ := json.Marshal(relay.PublishRequest{Items: signed[:n]})
		return b
	}
	const js = "application/json"

	t.Run("items", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			path       string
			at, over   []byte
			wantAtCode int
		}{
			{"MaxOutboxItems", "/outbox", outbox(relayclient.MaxOutboxItems), outbox(relayclient.MaxOutboxItems + 1), http.StatusAccepted},
			{"MaxPublishItems", "/published", publish(relayclient.MaxPublishItems), publish(relayclient.MaxPublishItems + 1), http.StatusCreated},
		} {
			if st, code := g.raw("POST", tc.path, js, tc.at, false); st != tc.wantAtCode {
				t.Errorf("%s: at the cap: %d %s; the relay's cap is lower than ours", tc.name, st, code)
			}
			if st, code := g.raw("POST", tc.path, js, tc.over, false); st != http.StatusUnprocessableEntity {
				t.Errorf("%s: over the cap: %d %s, want 422; the relay's cap is higher than ours", tc.name, st, code)
			}
		}
	})

	t.Run("bodies", func(t *testing.T) {
		for _, tc := range []struct {
			name         string
			method, path string
			ctype        string
			limit        int
		}{
			{"MaxOutboxBody", "POST", "/outbox", js, relayclient.MaxOutboxBody},
			{"MaxPublishBody", "POST", "/published", js, relayclient.MaxPublishBody},
			{"MaxOwnerBody", "PUT", "/profile", js, relayclient.MaxOwnerBody},
			{"MaxOwnerBody", "POST", "/inbox/ack", js, relayclient.MaxOwnerBody},
			{"MaxMediaBody", "POST", "/media", "image/png", relayclient.MaxMediaBody},
		} {
			body := bytes.Repeat([]byte(" "), tc.limit+1)
			if st, code := g.raw(tc.method, tc.path, tc.ctype, body[:tc.limit], true); st != http.StatusUnauthorized || code != "digest_mismatch" {
				t.Errorf("%s %s: %d bytes: %d %s, want it read (401 digest_mismatch); the relay's cap is lower than ours", tc.method, tc.path, tc.limit, st, code)
			}
			if st, code := g.raw(tc.method, tc.path, tc.ctype, body, true); st != http.StatusRequestEntityTooLarge {
				t.Errorf("%s %s: %d bytes: %d %s, want 413; the relay's cap is higher than ours", tc.method, tc.path, tc.limit+1, st, code)
			}
		}
	})

	// The client itself stops at the caps: what cannot fit in a request is
	// refused before anything is sent (splitting by bytes is TestChunk's).
	t.Run("refused here", func(t *testing.T) {
		before := g.count("POST", relay.OwnerPrefix+"/media")
		if _, err := c.UploadMedia(ctx(t), "image/png", make([]byte, relayclient.MaxMediaBody+1)); !errors.Is(err, relayclient.ErrTooLarge) || relayclient.IsRetryable(err) {
			t.Errorf("oversized upload: %v", err)
		}
		if g.count("POST", relay.OwnerPrefix+"/media") != before {
			t.Errorf("an oversized upload reached the relay")
		}
	})
}
