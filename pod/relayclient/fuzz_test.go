package relayclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"seedpod/pod/httpclient"
	"seedpod/pod/podtest"
	"seedpod/pod/relay"
	"seedpod/pod/relay/public"
	"seedpod/pod/relayclient"
)

// FuzzResponses: whatever the relay answers — any status from 200 to 599,
// any body, any Retry-After — every client call that decodes an answer
// either returns a value or an error, never panics, and:
//   - succeeds only on one of the call's success statuses;
//   - sends the request at most twice (the one retry is a 401 "expired");
//   - keeps its error text short (at most maxErrorText bytes: it ends up
//     in logs and in the federation status the UI shows), an APIError's
//     Code and Message clipped and valid UTF-8, and Retry-After within
//     [0, 24 h];
//   - never reads more than the httpclient's body cap: a larger answer is
//     an ErrTooLarge error, and one that is not worth retrying.
//
// One real HTTPS server (test CA, random loopback port) serves the whole
// target; its handler answers with the current input, which the mutex
// guards (a fuzz worker runs its inputs one after the other; each worker
// process has its own server).
func FuzzResponses(f *testing.F) {
	fr := newFuzzRelay(f)
	k, _ := testKeys(f)
	c, err := relayclient.New(fr.base, "alice", k, fr.http)
	if err != nil {
		f.Fatal(err)
	}

	page := `{"items":[{"id":7,"route":"public","received_at":1767225600000,"content_type":"application/magic-envelope+xml","body":"PHhtbC8+"}],"cursor":7}`
	for _, s := range []struct {
		op     byte
		status uint16 // served status - 200
		body   string
	}{
		{opPull, 0, page},
		{opPull, 0, `{"items":null,"cursor":0}`},
		{opPull, 0, `{"items":[{"id":-1,"body":"!!"}],"cursor":-5}`},
		{opPull, 0, `{"items":[{"id":1e400}]}`},
		{opPull, 0, `{"cursor":99999999999999999999}`},
		{opPull, 0, `[]`},
		{opPull, 0, ``},
		{opPull, 0, `{"items":[`},
		// Regression: the JSON decoder quoted a 2,000-digit literal whole
		// in the error (the error grew with the relay's body).
		{opPull, 0, `{"cursor":` + strings.Repeat("9", 2000) + `}`},
		// A page that contradicts itself (ids not after the cursor).
		{opPull, 0, `{"items":[{"id":5},{"id":3}],"cursor":5}`},
		{opPull, 0, `{"items":[{"id":5}],"cursor":-1}`},
		{opPull, 200, `{"code":400,"error":"bad_request","message":"after must be a number"}`},
		{opPull, 201, `{"code":401,"error":"expired","message":"signed too long ago"}`},
		{opPull, 229, `{"code":429,"error":"rate_limited","message":"slow down"}`},
		{opPull, 300, `<html><body>Bad Gateway</body></html>`},
		{opPull, 303, "{\"error\":\"\xff\xfe" + strings.Repeat("é", 300) + "\",\"message\":\"" + strings.Repeat("x", 2000) + "\"}"},
		{opPull, 0, strings.Repeat(" ", fuzzMaxBody+1)},
		{opPull, 300, strings.Repeat("ä", fuzzMaxBody)},
		{opAck, 0, `{"acked":42}`},
		{opAck, 0, `{"acked":"42"}`},
		{opMe, 0, `{"diaspora_id":"alice@alice.test","guid":"a11ce0000000000000000000000000a1","acked":3}`},
		{opStatus, 0, `[{"recipient":"https://bob.test/receive/public","state":"delivered","attempts":1,"last_status":202}]`},
		{opStatus, 0, `null`},
		{opEnroll, 1, `{"diaspora_id":"alice@alice.test","guid":"a11ce0000000000000000000000000a1"}`},
		{opEnroll, 203, `{"code":403,"error":"bad_invite","message":"the invite code is wrong, used or expired"}`},
		{opPublish, 1, `{"stored":1}`},
		{opUpload, 1, `{"url":"https://alice.test/media/x.png","name":"x.png","size":1,"width":1,"height":1}`},
		{opUnpublish, 4, ``},
		{opUnpublish, 204, `{"code":404,"error":"not_found","message":"not published"}`},
		{opDeleteMedia, 4, `surprise`},
		{opDeleteAccount, 307, `{"code":507,"error":"quota","message":"full"}`},
	} {
		f.Add(s.op, s.status, "", []byte(s.body))
	}
	f.Add(byte(opPull), uint16(303), "120", []byte(`{"error":"unavailable"}`))
	f.Add(byte(opPull), uint16(229), "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{"error":"rate_limited"}`))
	f.Add(byte(opPull), uint16(229), "99999999999999999999999", []byte(`{"error":"rate_limited"}`))
	f.Add(byte(opPull), uint16(229), "-1", []byte(``))

	f.Fuzz(func(t *testing.T, op byte, status uint16, retryAfter string, body []byte) {
		served := 200 + int(status%400)
		fr.set(served, retryAfter, body)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		call := calls[int(op)%len(calls)]
		err := call.run(ctx, t, c)
		hits := fr.taken()

		if hits < 1 || hits > 2 {
			t.Fatalf("%s answered %d: %d requests", call.name, served, hits)
		}
		if err == nil {
			if !slices.Contains(call.ok, served) {
				t.Fatalf("%s succeeded on a %d answer (%q)", call.name, served, body)
			}
			if hits != 1 {
				t.Fatalf("%s succeeded after %d requests", call.name, hits)
			}
			if bodyAllowed(served) && len(body) > fuzzMaxBody {
				t.Fatalf("%s succeeded on a %d-byte body, over the client's cap of %d", call.name, len(body), fuzzMaxBody)
			}
			return
		}
		if msg := err.Error(); len(msg) > maxErrorText {
			t.Fatalf("%s answered %d with %d bytes: an error of %d bytes: %.300q…", call.name, served, len(body), len(msg), msg)
		}
		if d := relayclient.RetryAfter(err); d < 0 || d > 24*time.Hour {
			t.Fatalf("Retry-After %q → %v", retryAfter, d)
		}
		if bodyAllowed(served) && len(body) > fuzzMaxBody {
			if !errors.Is(err, httpclient.ErrTooLarge) {
				t.Fatalf("%s: a %d-byte body over the cap of %d gave %v, want ErrTooLarge", call.name, len(body), fuzzMaxBody, err)
			}
			if relayclient.IsRetryable(err) {
				t.Fatalf("an answer over the body cap is retryable: %v", err)
			}
			return
		}
		if ae, ok := errors.AsType[*relayclient.APIError](err); ok {
			if ae.Status != served {
				t.Fatalf("APIError status %d, served %d", ae.Status, served)
			}
			if slices.Contains(call.ok, served) {
				t.Fatalf("%s: an APIError on its success status %d: %v", call.name, served, err)
			}
			for _, s := range []string{ae.Code, ae.Message} {
				if !utf8.ValidString(s) {
					t.Fatalf("APIError text is not UTF-8: %q", s)
				}
			}
			if len(ae.Code) > 64+len("…") || len(ae.Message) > 512+len("…") {
				t.Fatalf("APIError code of %d bytes, message of %d bytes", len(ae.Code), len(ae.Message))
			}
			if served == http.StatusUnauthorized && ae.Code == "expired" && hits != 2 {
				t.Fatalf("a 401 expired was not retried once: %d requests", hits)
			}
		}
	})
}

// fuzzMaxBody is the fuzz client's response body cap: small, so that
// inputs cross it (production clients take relayclient.MinMaxBody).
const fuzzMaxBody = 4 << 10

// maxErrorText bounds an error's text: the call's context, the route and
// an APIError's clipped code (64 bytes) and message (512 bytes) fit with
// room to spare.
const maxErrorText = 1024

// bodyAllowed: statuses whose answers net/http lets carry a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// The calls the fuzz target makes, each a different decoding (or none).
const (
	opPull = iota
	opAck
	opMe
	opStatus
	opEnroll
	opPublish
	opUpload
	opUnpublish
	opDeleteMedia
	opDeleteAccount
)

type fuzzCall struct {
	name string
	ok   []int // the call's success statuses
	run  func(context.Context, *testing.T, *relayclient.Client) error
}

var calls = []fuzzCall{
	opPull: {"Pull", []int{200}, func(ctx context.Context, t *testing.T, c *relayclient.Client) error {
		page, err := c.Pull(ctx, 3, 100, 0)
		if err == nil && page.Items == nil {
			t.Fatal("Pull succeeded with nil Items")
		}
		return err
	}},
	opAck: {"Ack", []int{200}, func(ctx context.Context, _ *testing.T, c *relayclient.Client) error {
		_, err := c.Ack(ctx, 7)
		return err
	}},
	opMe: {"Me", []int{200}, func(ctx context.Context, _ *testing.T, c *relayclient.Client) error {
		_, _, _, err := c.Me(ctx)
		return err
	}},
	opStatus: {"Status", []int{200}, func(ctx context.Context, t *testing.T, c *relayclient.Client) error {
		st, err := c.Status(ctx, guid(1))
		if err == nil && st == nil {
			t.Fatal("Status succeeded with a nil list")
		}
		return err
	}},
	opEnroll: {"Enroll", []int{201}, func(ctx context.Context, _ *testing.T, c *relayclient.Client) error {
		_, err := c.Enroll(ctx, "code", aliceGUID, public.Profile{FullName: "Alice"})
		return err
	}},
	opPublish: {"Publish", []int{201}, func(ctx context.Context, _ *testing.T, c *relayclient.Client) error {
		_, err := c.Publish(ctx, []relay.PublishItem{{Type: "post", GUID: guid(2), Envelope: []byte("<me:env/>")}})
		return err
	}},
	opUpload: {"UploadMedia", []int{201, 200}, func(ctx context.Context, _ *testing.T, c *relayclient.Client) error {
		_, err := c.UploadMedia(ctx, "image/png", []byte("\x89PNG"))
		return err
	}},
	opUnpublish: {"Unpublish", []int{204}, func(ctx context.Context, _ *testing.T, c *relayclient.Client) error {
		return c.Unpublish(ctx, "post", guid(3))
	}},
	opDeleteMedia: {"DeleteMedia", []int{204}, func(ctx context.Context, _ *testing.T, c *relayclient.Client) error {
		return c.DeleteMedia(ctx, "x.png")
	}},
	opDeleteAccount: {"DeleteAccount", []int{204}, func(ctx context.Context, _ *testing.T, c *relayclient.Client) error {
		return c.DeleteAccount(ctx)
	}},
}

// fuzzRelay is an HTTPS server on a random loopback port, reached as
// https://alice.test:PORT, that answers every request with the current
// input.
type fuzzRelay struct {
	base string
	http *httpclient.Client

	mu         sync.Mutex
	status     int
	retryAfter string
	body       []byte
	hits       int
}

func (fr *fuzzRelay) set(status int, retryAfter string, body []byte) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.status, fr.retryAfter, fr.body, fr.hits = status, retryAfter, body, 0
}

// taken is how many requests the server answered since set.
func (fr *fuzzRelay) taken() int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.hits
}

func newFuzzRelay(tb testing.TB) *fuzzRelay {
	tb.Helper()
	ca, err := podtest.NewCA()
	if err != nil {
		tb.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf(host)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	fr := &fuzzRelay{base: fmt.Sprintf("https://%s:%d", host, ln.Addr().(*net.TCPAddr).Port)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		fr.mu.Lock()
		fr.hits++
		status, retryAfter, body := fr.status, fr.retryAfter, fr.body
		fr.mu.Unlock()
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body) // refused for 204 and 304; a client that hung up
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	fr.http = httpclient.New(httpclient.Options{
		AllowLoopback: true,
		RootCAs:       ca.Pool(),
		NoRedirects:   true,
		MaxBody:       fuzzMaxBody,
		Timeout:       10 * time.Second,
		Lookup: func(_ context.Context, name string) ([]netip.Addr, error) {
			if strings.HasSuffix(name, ".test") {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			return nil, errors.New("fuzz: only *.test names resolve")
		},
	})
	return fr
}
