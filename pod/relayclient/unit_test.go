package relayclient

// Tests of the parts that need no relay. They are in the package itself and
// must not import pod/podtest (which imports package pod, which imports this
// package); the tests against a real relay are package relayclient_test.

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"seedpod/pod/httpclient"
	"seedpod/pod/relay"
)

// A key New accepts; New only checks that there is one.
var dummyKey = &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: big.NewInt(1), E: 3}}

func TestNewBase(t *testing.T) {
	hc := httpclient.New(httpclient.Options{})
	for _, tc := range []struct {
		base, want string // want "" means refused
	}{
		{"https://alice.test:40123", "https://alice.test:40123"},
		{"https://alice.test", "https://alice.test"},
		{"https://alice.test/", "https://alice.test"},
		{"HTTPS://Alice.Test:40123", "https://alice.test:40123"},
		{"https://127.0.0.1:8443", "https://127.0.0.1:8443"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"http://alice.test", ""},
		{"alice.test", ""},
		{"alice.test:40123", ""},
		{"//alice.test", ""},
		{"https://", ""},
		{"https:alice.test", ""},
		{"https://alice.test/api", ""},
		{"https://alice.test//", ""},
		{"https://alice.test/%2F", ""},
		{"https://alice.test?x=1", ""},
		{"https://alice.test/?", ""},
		{"https://alice.test#top", ""},
		{"https://alice.test#", ""},
		{"https://bob@alice.test", ""},
		{"https://bob:pw@alice.test", ""},
		{"https://alice.test:0", ""},
		{"https://alice.test:99999", ""},
		{"https://alice.test:080", ""},
		{"https://alice.test:", ""},
		{"https://alice.test:x", ""},
		{"https://ålice.test", ""},
		{"https://[fe80::1%25eth0]:8443", ""},
		{"ftp://alice.test", ""},
		{"", ""},
	} {
		c, err := New(tc.base, "alice", dummyKey, hc)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("New(%q) accepted as %q", tc.base, c.Base())
		case tc.want == "" && !errors.Is(err, ErrInvalid):
			t.Errorf("New(%q): %v, want ErrInvalid", tc.base, err)
		case tc.want != "" && err != nil:
			t.Errorf("New(%q): %v", tc.base, err)
		case tc.want != "" && c.Base() != tc.want:
			t.Errorf("New(%q) = %q, want %q", tc.base, c.Base(), tc.want)
		}
	}
}

func TestNewArguments(t *testing.T) {
	hc := httpclient.New(httpclient.Options{})
	const base = "https://alice.test"
	for _, tc := range []struct {
		name     string
		username string
		key      *rsa.PrivateKey
		http     *httpclient.Client
		ok       bool
	}{
		{"ok", "alice", dummyKey, hc, true},
		{"dots", "a.b-c_d9", dummyKey, hc, true},
		{"32 characters", strings.Repeat("a", 32), dummyKey, hc, true},
		{"33 characters", strings.Repeat("a", 33), dummyKey, hc, false},
		{"empty", "", dummyKey, hc, false},
		{"uppercase", "Alice", dummyKey, hc, false},
		{"diaspora ID", "alice@alice.test", dummyKey, hc, false},
		{"leading dot", ".alice", dummyKey, hc, false},
		{"trailing dash", "alice-", dummyKey, hc, false},
		{"dot dot", "..", dummyKey, hc, false},
		{"no key", "alice", nil, hc, false},
		{"no client", "alice", dummyKey, nil, false},
	} {
		_, err := New(base, tc.username, tc.key, tc.http)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s: New(%q): %v", tc.name, tc.username, err)
		}
	}
}

func TestHTTPOptions(t *testing.T) {
	o := HTTPOptions(httpclient.Options{Timeout: time.Second, MaxBody: 1, AllowLoopback: true})
	if o.Timeout != MinTimeout || o.MaxBody != MinMaxBody || !o.AllowLoopback {
		t.Errorf("raised: %+v", o)
	}
	o = HTTPOptions(httpclient.Options{Timeout: time.Hour, MaxBody: 1 << 30})
	if o.Timeout != time.Hour || o.MaxBody != 1<<30 {
		t.Errorf("kept: %+v", o)
	}
	if MinTimeout <= MaxWait {
		t.Errorf("MinTimeout %v does not outlast a long poll of %v", MinTimeout, MaxWait)
	}
	// The largest page: 8 MiB of bodies (base64 in the JSON) in
	// MaxPullItems items with the longest numbers and strings.
	page := relay.InboxPage{Cursor: 1 << 62}
	for i := range MaxPullItems {
		page.Items = append(page.Items, relay.InboxItem{ID: 1<<62 + int64(i), Route: "private", ReceivedAt: 1 << 40,
			ContentType: "application/magic-envelope+xml"})
	}
	b, _ := json.Marshal(page)
	if size := len(b) + base64.StdEncoding.EncodedLen(8<<20) + 3*MaxPullItems; size > MinMaxBody {
		t.Errorf("a full page is %d bytes of JSON, over MinMaxBody %d", size, MinMaxBody)
	}
}

type item struct {
	B []byte `json:"b"`
}

// TestChunk: bodies are valid requests, in order, within both caps, as few
// as greedy packing gives; an item too large on its own is ErrTooLarge.
func TestChunk(t *testing.T) {
	sized := func(sizes ...int) []item {
		out := make([]item, len(sizes))
		for i, n := range sizes {
			out[i] = item{B: []byte(strings.Repeat("x", n))}
		}
		return out
	}
	// {"b":"…"} of a 3-byte body is 12 bytes; {"items":[ ]} adds 12; a
	// comma 1.
	const one = 12
	for _, tc := range []struct {
		name     string
		items    []item
		maxItems int
		maxBody  int
		want     [][2]int // spans; nil with wantErr
		wantErr  error
	}{
		{"none", nil, 3, 100, nil, nil},
		{"one", sized(3), 3, 100, [][2]int{{0, 1}}, nil},
		{"by items", sized(3, 3, 3, 3, 3, 3, 3), 3, 1000, [][2]int{{0, 3}, {3, 6}, {6, 7}}, nil},
		{"exactly one body", sized(3, 3), 5, 12 + 2*one + 1, [][2]int{{0, 2}}, nil},
		{"one byte short", sized(3, 3), 5, 12 + 2*one, [][2]int{{0, 1}, {1, 2}}, nil},
		{"item at the cap", sized(3), 5, 12 + one, [][2]int{{0, 1}}, nil},
		{"item over the cap", sized(3, 4), 5, 12 + one, nil, ErrTooLarge},
		{"mixed", sized(3, 30, 3, 3), 5, 70, [][2]int{{0, 1}, {1, 2}, {2, 4}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bodies, spans, err := chunk(tc.items, tc.maxItems, tc.maxBody)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || bodies != nil {
					t.Fatalf("err %v, bodies %d; want %v", err, len(bodies), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(spans) != fmt.Sprint(tc.want) || len(bodies) != len(spans) {
				t.Fatalf("spans %v (%d bodies), want %v", spans, len(bodies), tc.want)
			}
			for i, b := range bodies {
				var req struct{ Items []item }
				if err := json.Unmarshal(b, &req); err != nil {
					t.Fatalf("body %d: %v: %s", i, err, b)
				}
				if len(b) > tc.maxBody || len(req.Items) > tc.maxItems || len(req.Items) != spans[i][1]-spans[i][0] {
					t.Errorf("body %d: %d bytes, %d items: %s", i, len(b), len(req.Items), b)
				}
				for j, it := range req.Items {
					if string(it.B) != string(tc.items[spans[i][0]+j].B) {
						t.Errorf("body %d item %d out of order", i, j)
					}
				}
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999999", maxRetryAfter},
		{"86401", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(1000 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	} {
		if got := retryAfter(tc.v, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestAPIError(t *testing.T) {
	now := time.Now()
	h := http.Header{"Retry-After": {"300"}}
	e := newAPIError(503, h, []byte(`{"code":503,"error":"unavailable","message":"inbox full"}`), now)
	if e.Status != 503 || e.Code != "unavailable" || e.Message != "inbox full" || e.RetryAfter != 5*time.Minute {
		t.Errorf("envelope: %+v", e)
	}
	if s := e.Error(); !strings.Contains(s, "503 unavailable: inbox full") {
		t.Errorf("Error() = %q", s)
	}
	// ownerauth's problems have no "code" member.
	e = newAPIError(401, nil, []byte(`{"error":"expired","message":"check the clock"}`), now)
	if e.Code != "expired" || e.Message != "check the clock" {
		t.Errorf("problem: %+v", e)
	}
	e = newAPIError(404, nil, []byte("404 page not found\n"), now)
	if e.Code != "" || e.Message != "404 page not found" {
		t.Errorf("plain text: %+v", e)
	}
	e = newAPIError(502, nil, nil, now)
	if e.Message != "Bad Gateway" {
		t.Errorf("empty: %+v", e)
	}
	e = newAPIError(500, nil, []byte(strings.Repeat("é", 1000)+"\xff"), now)
	if len(e.Message) > maxMessage+len("…") || !strings.HasSuffix(e.Message, "…") || strings.ContainsRune(e.Message, '\uFFFD') {
		t.Errorf("long: %d bytes %q…", len(e.Message), e.Message[:20])
	}
}

func TestIsRetryable(t *testing.T) {
	api := func(status int) error { return fmt.Errorf("POST /x: %w", &APIError{Status: status}) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"500", api(500), true},
		{"502", api(502), true},
		{"503", api(503), true},
		{"501", api(501), false},
		{"507 quota", api(507), false},
		{"429", api(429), true},
		{"408", api(408), true},
		{"400", api(400), false},
		{"401", api(401), false},
		{"403", api(403), false},
		{"404", api(404), false},
		{"409", api(409), false},
		{"413", api(413), false},
		{"422", api(422), false},
		{"connection refused", &transportError{&net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{"timeout", fmt.Errorf("GET /me: %w", &transportError{context.DeadlineExceeded}), true},
		{"forbidden address", &transportError{fmt.Errorf("dial: %w", httpclient.ErrForbiddenAddress)}, true},
		{"answer too large", &transportError{fmt.Errorf("read: %w", httpclient.ErrTooLarge)}, false},
		{"cancelled", &transportError{context.Canceled}, false},
		{"invalid input", fmt.Errorf("x: %w", ErrInvalid), false},
		{"too large to send", fmt.Errorf("x: %w", ErrTooLarge), false},
		{"other", errors.New("bad JSON"), false},
	} {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("%s: IsRetryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
	if d := RetryAfter(fmt.Errorf("x: %w", &APIError{Status: 429, RetryAfter: time.Minute})); d != time.Minute {
		t.Errorf("RetryAfter = %v", d)
	}
}
