package relayclient_test

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/httpclient"
	"seedpod/pod/podtest"
	"seedpod/pod/relay"
	"seedpod/pod/relay/public"
	"seedpod/pod/relayclient"
)

var (
	keyOnce       sync.Once
	aliceKey, eve *rsa.PrivateKey
	keyErr        error
)

// testKeys are two 2048-bit keys, generated once per test binary: alice's
// identity key and another (a wrong key, a remote sender).
func testKeys(t testing.TB) (alice, other *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		if aliceKey, keyErr = keys.Generate(2048); keyErr == nil {
			eve, keyErr = keys.Generate(2048)
		}
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return aliceKey, eve
}

const (
	aliceGUID = "a11ce0000000000000000000000000a1"
	host      = "alice.test"
)

// rig is a real relay (relay.Open, its Handler) behind HTTPS on a random
// loopback port, reached as https://alice.test:PORT through the guarded
// client, which maps *.test to 127.0.0.1 and trusts only the test CA.
type rig struct {
	t      testing.TB
	relay  *relay.Relay
	data   string
	domain string // alice.test:PORT
	base   string // https://alice.test:PORT
	http   *httpclient.Client

	mu       sync.Mutex
	requests map[string]int      // "METHOD /path" → count
	onStart  func(*http.Request) // called as each request arrives
}

func newRig(t testing.TB, edit func(*relay.Config)) *rig {
	t.Helper()
	ca, err := podtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf(host)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The port is part of the relay's domain, so listen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	domain := fmt.Sprintf("%s:%d", host, ln.Addr().(*net.TCPAddr).Port)
	data := filepath.Join(t.TempDir(), "relay")
	cfg := relay.Config{Domain: domain, DataDir: data}
	if edit != nil {
		edit(&cfg)
	}
	r, err := relay.Open(context.Background(), cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	g := &rig{t: t, relay: r, data: data, domain: domain, base: "https://" + domain, requests: map[string]int{}}
	h := r.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		g.mu.Lock()
		g.requests[req.Method+" "+req.URL.Path]++
		hook := g.onStart
		g.mu.Unlock()
		if hook != nil {
			hook(req)
		}
		h.ServeHTTP(w, req)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); r.Close() })
	g.http = httpclient.New(relayclient.HTTPOptions(httpclient.Options{
		AllowLoopback: true,
		RootCAs:       ca.Pool(),
		Timeout:       10 * time.Second, // raised by relayclient.HTTPOptions; the tests' own contexts are shorter
		Lookup: func(_ context.Context, name string) ([]netip.Addr, error) {
			if strings.HasSuffix(name, ".test") {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			return nil, errors.New("rig: only *.test names resolve")
		},
	}))
	return g
}

// count is how many requests reached method path.
func (g *rig) count(method, path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests[method+" "+path]
}

func (g *rig) hook(f func(*http.Request)) {
	g.mu.Lock()
	g.onStart = f
	g.mu.Unlock()
}

func (g *rig) invite(username string) string {
	g.t.Helper()
	code, err := relay.Invite(context.Background(), g.data, username, time.Hour, time.Now())
	if err != nil {
		g.t.Fatal(err)
	}
	return code
}

// enrolled is a client for alice, enrolled on the rig's relay.
func (g *rig) enrolled() *relayclient.Client {
	g.t.Helper()
	k, _ := testKeys(g.t)
	if _, err := relayclient.Enroll(ctx(g.t), g.http, g.base, g.invite("alice"), "alice", aliceGUID, k,
		public.Profile{FullName: "Alice", Searchable: true, Public: true}); err != nil {
		g.t.Fatal(err)
	}
	c, err := relayclient.New(g.base, "alice", k, g.http)
	if err != nil {
		g.t.Fatal(err)
	}
	return c
}

// get fetches a public page of the relay.
func (g *rig) get(path string) (int, []byte) {
	g.t.Helper()
	st, _, b, err := g.http.Get(ctx(g.t), g.base+path, "")
	if err != nil {
		g.t.Fatal(err)
	}
	return st, b
}

// alice is the rig's diaspora ID for alice.
func (g *rig) alice() string { return "alice@" + g.domain }

// statusMessage is a public status message by author, sealed in a magic
// envelope signed with k.
func statusMessage(t testing.TB, author, guid, text string, k *rsa.PrivateKey) []byte {
	t.Helper()
	payload, err := entity.Marshal(&entity.StatusMessage{AuthorID: author, ID: guid,
		CreatedAt: time.Now().UTC().Truncate(time.Second), Public: true, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := envelope.Sign(payload, author, k)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// guid makes a valid GUID from a number.
func guid(n int) string { return fmt.Sprintf("%032x", 0xc0ffee0000+n) }
