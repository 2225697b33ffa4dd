package discover_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/federation/discover"
	"seedpod/pod/httpclient"
	"seedpod/pod/podtest"
	"seedpod/pod/relay"
	"seedpod/pod/relay/ownerauth"
	"seedpod/pod/relay/public"
)

// The test world: every *.test name resolves to 127.0.0.1 except
// evil.test, which resolves to a private address the dial guard refuses.
// One CA, one leaf for all names.
var testHosts = []string{"bob.test", "carol.test", "alice.test", "mallory.test", "evil.test"}

const (
	bobGUID   = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
	carolGUID = "ca401ca401ca401ca401ca401ca401ca"
	postGUID  = "17418fb029e6013487743131731751e9"
)

var fixedNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

var (
	keyOnce          sync.Once
	bobKey, carolKey *rsa.PrivateKey
	weakKey          *rsa.PrivateKey // 1024 bits: parses, but too short to pin
	keyErr           error
	caOnce           sync.Once
	testCA           *podtest.CA
	serverTLS        *tls.Config
	caErr            error
)

func testKeys(t testing.TB) {
	t.Helper()
	keyOnce.Do(func() {
		if bobKey, keyErr = keys.Generate(2048); keyErr != nil {
			return
		}
		if carolKey, keyErr = keys.Generate(2048); keyErr != nil {
			return
		}
		weakKey, keyErr = rsa.GenerateKey(rand.Reader, 1024)
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
}

func ca(t testing.TB) (*podtest.CA, *tls.Config) {
	t.Helper()
	caOnce.Do(func() {
		if testCA, caErr = podtest.NewCA(); caErr != nil {
			return
		}
		c, k, err := testCA.Leaf(testHosts...)
		if err != nil {
			caErr = err
			return
		}
		cert, err := tls.X509KeyPair(c, k)
		if err != nil {
			caErr = err
			return
		}
		serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	if caErr != nil {
		t.Fatal(caErr)
	}
	return testCA, serverTLS
}

// listen picks a loopback port first, so a server's name can carry it.
func listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln, port
}

// serve starts h over TLS on ln.
func serve(t testing.TB, ln net.Listener, h http.Handler) {
	t.Helper()
	_, cfg := ca(t)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = cfg.Clone()
	srv.StartTLS()
	t.Cleanup(srv.Close)
}

// newClient is the guarded client as the engine builds it, with the test
// allowance for loopback and the test CA.
func newClient(t testing.TB, maxBody int64) *httpclient.Client {
	c, _ := ca(t)
	return httpclient.New(httpclient.Options{
		AllowLoopback: true,
		RootCAs:       c.Pool(),
		NoRedirects:   true,
		Timeout:       10 * time.Second,
		MaxBody:       maxBody,
		Lookup: func(_ context.Context, host string) ([]netip.Addr, error) {
			if host == "evil.test" {
				return []netip.Addr{netip.MustParseAddr("10.0.0.1")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		},
	})
}

func newDiscoverer(t testing.TB) *discover.Discoverer {
	return discover.New(discover.Options{Client: newClient(t, 0), Now: func() time.Time { return fixedNow }})
}

// counter counts requests per path and can hold requests to one path until
// released, so tests can see concurrent callers pile up.
type counter struct {
	next http.Handler

	mu       sync.Mutex
	hits     map[string]int
	holdPath string
	hold     chan struct{}
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.hits == nil {
		c.hits = map[string]int{}
	}
	c.hits[r.URL.Path]++
	hold := c.hold
	if r.URL.Path != c.holdPath {
		hold = nil
	}
	c.mu.Unlock()
	if hold != nil {
		<-hold
	}
	c.next.ServeHTTP(w, r)
}

func (c *counter) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[path]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.hits {
		n += v
	}
	return n
}

// holdAt makes requests to path wait until the returned func is called.
func (c *counter) holdAt(path string) (release func()) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.holdPath, c.hold = path, ch
	c.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// bobRelay is a real relay at bob.test:PORT with bob enrolled and one public
// status message published.
type bobRelay struct {
	host     string // bob.test:PORT
	id       string // bob@bob.test:PORT
	count    *counter
	envelope []byte // the published status message, as signed
}

func startRelay(t testing.TB) *bobRelay {
	t.Helper()
	testKeys(t)
	c, _ := ca(t)
	ln, port := listen(t)
	host := "bob.test:" + port
	r, err := relay.Open(context.Background(), relay.Config{Domain: host, DataDir: t.TempDir(), NoRateLimit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cnt := &counter{next: r.Handler()}
	serve(t, ln, cnt)
	b := &bobRelay{host: host, id: "bob@" + host, count: cnt}

	owner := c.Client(10 * time.Second)
	post := func(path string, v any) {
		t.Helper()
		body, _ := json.Marshal(v)
		req, err := http.NewRequest("POST", "https://"+host+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := ownerauth.Sign(req, body, "bob", bobKey, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := owner.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, rb)
		}
	}

	code, err := relay.Invite(context.Background(), r.DataDir(), "bob", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	post(relay.OwnerPrefix+"/enroll", relay.EnrollRequest{Code: code, Username: "bob", GUID: bobGUID,
		PublicKey: string(keys.MarshalPublic(&bobKey.PublicKey)),
		Profile: public.Profile{FirstName: "Bob", LastName: "Builder", Searchable: true,
			PhotoLarge:  "https://cdn.test/bob/large.jpg",
			PhotoMedium: "http://cdn.test/bob/medium.jpg", // http: dropped by discovery
			// PhotoSmall empty: the relay serves its root-relative default, dropped too
		}})

	payload, err := entity.Marshal(&entity.StatusMessage{AuthorID: b.id, ID: postGUID,
		CreatedAt: fixedNow.Add(-time.Hour), Public: true, Text: "hello from bob"})
	if err != nil {
		t.Fatal(err)
	}
	if b.envelope, err = envelope.Sign(payload, b.id, bobKey); err != nil {
		t.Fatal(err)
	}
	post(relay.OwnerPrefix+"/published", relay.PublishRequest{Items: []relay.PublishItem{
		{Type: "status_message", GUID: postGUID, Envelope: b.envelope}}})
	return b
}

// reply is one canned answer of a fake server.
type reply struct {
	status int
	body   []byte
	header map[string]string
}

// fake is a small TLS server answering canned replies by path (the query
// is ignored); anything else is 404. Its routes are built once its host
// (name:port) is known.
type fake struct {
	host  string
	count *counter
}

func startFake(t testing.TB, name string, routes func(host string) map[string]reply) *fake {
	t.Helper()
	return startHandler(t, name, func(host string) http.Handler {
		rs := routes(host)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rep, ok := rs[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			for k, v := range rep.header {
				w.Header().Set(k, v)
			}
			if rep.status == 0 {
				rep.status = http.StatusOK
			}
			w.WriteHeader(rep.status)
			_, _ = w.Write(rep.body)
		})
	})
}

// startHandler serves the handler built for name:PORT over TLS.
func startHandler(t testing.TB, name string, h func(host string) http.Handler) *fake {
	t.Helper()
	ln, port := listen(t)
	host := name + ":" + port
	cnt := &counter{next: h(host)}
	serve(t, ln, cnt)
	return &fake{host: host, count: cnt}
}

func ok(body []byte) reply { return reply{status: http.StatusOK, body: body} }

func redirect(status int, loc string) reply {
	return reply{status: status, header: map[string]string{"Location": loc}}
}

// legacyCarol is what a pod offering only legacy discovery serves for
// carol@host, built with the discovery generators. edit may change the
// WebFinger and hCard before they are rendered.
func legacyCarol(t testing.TB, host string, edit func(wf *discovery.WebFinger, hc *discovery.HCard)) map[string]reply {
	t.Helper()
	testKeys(t)
	base := "https://" + host
	hm, err := discovery.HostMeta(base)
	if err != nil {
		t.Fatal(err)
	}
	wf, hc := carolDocs(t, host)
	if edit != nil {
		edit(wf, hc)
	}
	xrd, err := wf.XRD()
	if err != nil {
		t.Fatal(err)
	}
	card, err := hc.HTML()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]reply{
		"/.well-known/host-meta":     ok(hm),
		"/.well-known/webfinger.xml": ok(xrd),
		"/hcard/users/" + carolGUID:  ok(card),
	}
}

// jrdCarol serves carol@host by JRD (and the hCard).
func jrdCarol(t testing.TB, host string, edit func(wf *discovery.WebFinger, hc *discovery.HCard)) map[string]reply {
	t.Helper()
	wf, hc := carolDocs(t, host)
	if edit != nil {
		edit(wf, hc)
	}
	jrd, err := wf.JRD()
	if err != nil {
		t.Fatal(err)
	}
	card, err := hc.HTML()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]reply{
		"/.well-known/webfinger":    ok(jrd),
		"/hcard/users/" + carolGUID: ok(card),
	}
}

func carolDocs(t testing.TB, host string) (*discovery.WebFinger, *discovery.HCard) {
	t.Helper()
	testKeys(t)
	base := "https://" + host
	wf, err := discovery.ForAccount(base, "carol@"+host, carolGUID)
	if err != nil {
		t.Fatal(err)
	}
	hc := &discovery.HCard{GUID: carolGUID, Nickname: "carol", FullName: "Carol Danvers", FirstName: "Carol",
		LastName: "Danvers", PublicKey: &carolKey.PublicKey, Searchable: true,
		PhotoLarge:  base + "/uploads/l_carol.png",
		PhotoMedium: base + "/uploads/m_carol.png",
		PhotoSmall:  "/assets/user/default.png"}
	return wf, hc
}

func pemOf(k *rsa.PublicKey) string { return string(keys.MarshalPublic(k)) }
