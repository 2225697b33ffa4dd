package relay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
	"seedpod/pod/podtest"
	"seedpod/pod/relay/ownerauth"
	"seedpod/pod/relay/public"
	"seedpod/pod/relay/ratelimit"
)

const domain = "relay.example"

var (
	keyOnce sync.Once
	keyA    *rsa.PrivateKey
	keyB    *rsa.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if keyA, err = keys.Generate(2048); err != nil {
			t.Fatal(err)
		}
		if keyB, err = keys.Generate(2048); err != nil {
			t.Fatal(err)
		}
	})
	return keyA, keyB
}

// rig is a relay behind real HTTPS on loopback, reached as relay.example
// through a client that trusts only the test CA.
type rig struct {
	t      testing.TB
	now    func() time.Time // the clock owner requests are signed with
	relay  *Relay
	base   string
	client *http.Client
	data   string
}

func newRig(t testing.TB) *rig { t.Helper(); return newRigWith(t, nil) }

// newRigWith is newRig with edit applied to the relay's Config first.
func newRigWith(t testing.TB, edit func(*Config)) *rig {
	t.Helper()
	ca, err := podtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf(domain)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "relay")
	cfg := Config{Domain: domain, DataDir: data}
	if edit != nil {
		edit(&cfg)
	}
	r, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(r.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); r.Close() })
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	return &rig{t: t, relay: r, base: "https://" + domain + ":" + port, client: ca.Client(10 * time.Second), data: data}
}

func (g *rig) do(method, path string, body []byte, sign func(*http.Request, []byte)) (int, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(method, g.base+path, bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	if sign != nil {
		sign(req, body)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func signer(t testing.TB, who string, k *rsa.PrivateKey) func(*http.Request, []byte) {
	return signerAt(t, who, k, time.Now)
}

func signerAt(t testing.TB, who string, k *rsa.PrivateKey, now func() time.Time) func(*http.Request, []byte) {
	return func(req *http.Request, body []byte) {
		if err := ownerauth.Sign(req, body, who, k, now()); err != nil {
			t.Fatal(err)
		}
	}
}

// sign signs as who with the rig's clock.
func (g *rig) sign(who string, k *rsa.PrivateKey) func(*http.Request, []byte) {
	if g.now == nil {
		return signer(g.t, who, k)
	}
	return signerAt(g.t, who, k, g.now)
}

// enroll invites and enrolls username with key k.
func (g *rig) enroll(username, guid string, k *rsa.PrivateKey) {
	g.t.Helper()
	code, err := Invite(context.Background(), g.data, username, time.Hour, time.Now())
	if err != nil {
		g.t.Fatal(err)
	}
	body, _ := json.Marshal(EnrollRequest{Code: code, Username: username, GUID: guid,
		PublicKey: string(keys.MarshalPublic(&k.PublicKey)), Profile: public.Profile{FullName: username, Searchable: true}})
	if st, b := g.do("POST", OwnerPrefix+"/enroll", body, g.sign(username, k)); st != http.StatusCreated {
		g.t.Fatalf("enroll %s: %d %s", username, st, b)
	}
}

func (g *rig) pull(who string, k *rsa.PrivateKey, query string) InboxPage {
	g.t.Helper()
	st, b := g.do("GET", OwnerPrefix+"/inbox"+query, nil, g.sign(who, k))
	if st != 200 {
		g.t.Fatalf("pull as %s: %d %s", who, st, b)
	}
	var p InboxPage
	if err := json.Unmarshal(b, &p); err != nil {
		g.t.Fatal(err)
	}
	return p
}

const (
	guidA = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
	guidB = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
)

func TestReceiveEnrollPullAck(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)

	pubEnv := vectors.Read(t, "generated/envelopes/public_status_message.xml")
	private := vectors.Read(t, "generated/envelopes/private_status_message.encrypted.json")
	for _, c := range []struct {
		path string
		body []byte
		want int
	}{
		{"/receive/public", pubEnv, 202},
		{"/receive/users/" + guidA, private, 202},
		{"/receive/public", []byte("<html>not an envelope</html>"), 400},
		{"/receive/users/" + guidA, []byte(`{"nope":1}`), 400},
		{"/receive/users/cccccccccccccccccccccccccccccccc", private, 404},
		{"/receive/public", bytes.Repeat([]byte("x"), maxPublicBody+1), 413},
	} {
		if st, b := g.do("POST", c.path, c.body, nil); st != c.want {
			t.Errorf("POST %s: %d %s, want %d", c.path, st, b, c.want)
		}
	}
	if st, _ := g.do("GET", "/receive/public", nil, nil); st != http.StatusMethodNotAllowed {
		t.Errorf("GET /receive/public: %d, want 405", st)
	}

	// alice sees the public and her private delivery, byte for byte; bob
	// sees only the public one.
	pa := g.pull("alice", ka, "")
	if len(pa.Items) != 2 || pa.Items[0].Route != "public" || pa.Items[1].Route != "private" ||
		!bytes.Equal(pa.Items[0].Body, pubEnv) || !bytes.Equal(pa.Items[1].Body, private) {
		t.Fatalf("alice's inbox: %+v", pa)
	}
	pb := g.pull("bob", kb, "")
	if len(pb.Items) != 1 || pb.Items[0].Route != "public" {
		t.Fatalf("bob's inbox: %+v", pb)
	}

	// Acknowledging: alice's private item goes; the public one stays until
	// bob has it too.
	ack, _ := json.Marshal(AckRequest{UpTo: pa.Cursor})
	if st, b := g.do("POST", OwnerPrefix+"/inbox/ack", ack, signer(t, "alice", ka)); st != 200 {
		t.Fatalf("ack: %d %s", st, b)
	}
	if p := g.pull("alice", ka, ""); len(p.Items) != 0 {
		t.Fatalf("after ack alice still sees %d items", len(p.Items))
	}
	if n := g.count(t); n != 1 {
		t.Fatalf("inbox rows after alice's ack: %d, want 1 (the public item bob has not acked)", n)
	}
	ack, _ = json.Marshal(AckRequest{UpTo: pb.Cursor})
	g.do("POST", OwnerPrefix+"/inbox/ack", ack, signer(t, "bob", kb))
	if n := g.count(t); n != 0 {
		t.Fatalf("inbox rows after both acks: %d, want 0", n)
	}

	// Long poll: a pull waiting for news returns when a delivery lands.
	done := make(chan InboxPage, 1)
	go func() { done <- g.pull("bob", kb, "?wait=10") }()
	time.Sleep(200 * time.Millisecond)
	g.do("POST", "/receive/public", pubEnv, nil)
	select {
	case p := <-done:
		if len(p.Items) != 1 {
			t.Fatalf("long poll returned %d items", len(p.Items))
		}
	case <-time.After(8 * time.Second):
		t.Fatal("long poll did not return when a delivery arrived")
	}
}

func (g *rig) count(t testing.TB) int {
	var n int
	if err := g.relay.db.R.QueryRow("SELECT count(*) FROM inbox").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnrollmentRules(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	code, err := Invite(context.Background(), g.data, "alice", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req := func(code, user, guid string, k *rsa.PrivateKey) []byte {
		b, _ := json.Marshal(EnrollRequest{Code: code, Username: user, GUID: guid, PublicKey: string(keys.MarshalPublic(&k.PublicKey))})
		return b
	}
	cases := []struct {
		name string
		body []byte
		sign func(*http.Request, []byte)
		want int
	}{
		{"unsigned", req(code, "alice", guidA, ka), nil, 401},
		{"signed by another key", req(code, "alice", guidA, ka), signer(t, "alice", kb), 401},
		{"wrong code", req("nope", "alice", guidA, ka), signer(t, "alice", ka), 403},
		{"code for another username", req(code, "mallory", guidA, ka), signer(t, "mallory", ka), 403},
		{"bad guid", req(code, "alice", "short", ka), signer(t, "alice", ka), 422},
		{"unknown field", []byte(`{"code":"x","admin":true}`), signer(t, "alice", ka), 400},
		{"good", req(code, "alice", guidA, ka), signer(t, "alice", ka), 201},
		{"code used twice", req(code, "alice", guidA, ka), signer(t, "alice", ka), 403},
	}
	for _, c := range cases {
		if st, b := g.do("POST", OwnerPrefix+"/enroll", c.body, c.sign); st != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, st, b, c.want)
		}
	}
	if _, err := Invite(context.Background(), g.data, "alice", time.Hour, time.Now()); err == nil {
		t.Error("invite for an enrolled username succeeded")
	}
	for _, bad := range []string{"Bad Name", "..", ".", "-x", "x.", "a/b", strings.Repeat("a", 33), ""} {
		if _, err := Invite(context.Background(), g.data, bad, time.Hour, time.Now()); err == nil {
			t.Errorf("invite for the invalid username %q succeeded", bad)
		}
	}
	expired, _ := Invite(context.Background(), g.data, "bob", time.Second, time.Now().Add(-time.Hour))
	if st, _ := g.do("POST", OwnerPrefix+"/enroll", req(expired, "bob", guidB, kb), signer(t, "bob", kb)); st != 403 {
		t.Errorf("expired code: %d, want 403", st)
	}
}

// Owner requests: unsigned, badly signed, replayed, expired and
// cross-identity requests are refused.
func TestOwnerAuth(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)

	if st, _ := g.do("GET", OwnerPrefix+"/inbox", nil, nil); st != 401 {
		t.Errorf("unsigned: %d", st)
	}
	if st, _ := g.do("GET", OwnerPrefix+"/inbox", nil, signer(t, "bob", ka)); st != 401 {
		t.Errorf("bob's identity with alice's key: %d", st)
	}
	old := func(req *http.Request, body []byte) {
		if err := ownerauth.Sign(req, body, "alice", ka, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := g.do("GET", OwnerPrefix+"/inbox", nil, old); st != 401 {
		t.Errorf("an hour-old signature: %d", st)
	}
	// Replay: the same signed request twice.
	req, _ := http.NewRequest("GET", g.base+OwnerPrefix+"/me", nil)
	if err := ownerauth.Sign(req, nil, "alice", ka, time.Now()); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{200, 401} {
		r2 := req.Clone(context.Background())
		resp, err := g.client.Do(r2)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("request #%d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

// The relay never sees a key: a private delivery is stored as ciphertext,
// and nothing in its data directory is private key material.
func TestNoPlaintextNoKeys(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	private := vectors.Read(t, "generated/envelopes/private_status_message.encrypted.json")
	if st, _ := g.do("POST", "/receive/users/"+guidA, private, nil); st != 202 {
		t.Fatalf("delivery: %d", st)
	}
	g.relay.Close() // checkpoint the WAL into the file
	plainEnvelope := vectors.Read(t, "generated/envelopes/private_status_message.inner_envelope.xml")
	secret := []byte("only for my aspect") // the private status message's text
	filepath.Walk(g.data, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, bad := range [][]byte{[]byte("PRIVATE KEY"), plainEnvelope[:60], secret} {
			if bytes.Contains(b, bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		return nil
	})
	// And the ciphertext is there, as received.
	b, _ := os.ReadFile(filepath.Join(g.data, DatabaseName))
	var enc struct {
		E string `json:"encrypted_magic_envelope"`
	}
	json.Unmarshal(private, &enc)
	if !bytes.Contains(b, []byte(enc.E[:80])) {
		t.Error("the ciphertext is not in the database as received")
	}
}

// The discovery documents the relay serves are accepted by the protocol
// core's parsers (which validate NodeInfo against its schemas).
func TestDiscoveryServed(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	st, b := g.do("GET", "/.well-known/webfinger?resource=acct:alice@"+domain, nil, nil)
	if st != 200 {
		t.Fatalf("webfinger: %d %s", st, b)
	}
	wf, err := discovery.ParseJRD(b, "alice@"+domain)
	if err != nil {
		t.Fatalf("webfinger: %v\n%s", err, b)
	}
	hc, err := pathOn(wf.HCardURL)
	if err != nil {
		t.Fatal(err)
	}
	st, b = g.do("GET", hc, nil, nil)
	h, err := discovery.ParseHCard(b)
	if st != 200 || err != nil || h.GUID != guidA || !h.PublicKey.Equal(&ka.PublicKey) {
		t.Fatalf("hcard: %d %v %+v", st, err, h)
	}
	st, b = g.do("GET", "/.well-known/nodeinfo", nil, nil)
	refs, err := discovery.ParseWellKnownNodeInfo(b)
	if st != 200 || err != nil || len(refs) == 0 {
		t.Fatalf("nodeinfo links: %d %v", st, err)
	}
	for _, v := range []string{"2.0", "2.1"} {
		st, b = g.do("GET", "/nodeinfo/"+v, nil, nil)
		ni, err := discovery.ParseNodeInfo(b)
		if st != 200 || err != nil || ni.Usage.Users.Total == nil || *ni.Usage.Users.Total != 1 {
			t.Fatalf("nodeinfo %s: %d %v %s", v, st, err, b)
		}
		if err := validateSchema(t, "upstream_other/nodeinfo_schemas/"+v+".json", b); err != nil {
			t.Fatalf("nodeinfo %s: %v\n%s", v, err, b)
		}
		// The validator does refuse: the same document with an unknown
		// protocol fails.
		bad := bytes.Replace(b, []byte(`"diaspora"`), []byte(`"carrier-pigeon"`), 1)
		if err := validateSchema(t, "upstream_other/nodeinfo_schemas/"+v+".json", bad); err == nil {
			t.Fatalf("nodeinfo %s with protocol carrier-pigeon validated", v)
		}
	}
	if st, _ := g.do("GET", "/.well-known/webfinger?resource=acct:bob@"+domain, nil, nil); st != 404 {
		t.Errorf("webfinger for nobody: %d", st)
	}
}

// pathOn returns the path of an absolute URL on the relay.
func pathOn(u string) (string, error) {
	i := strings.Index(u, domain)
	if i < 0 {
		return "", fmt.Errorf("%q is not on %s", u, domain)
	}
	rest := u[i+len(domain):]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		return rest[j:], nil
	}
	return "/", nil
}

// One address over its limit gets 429 with Retry-After; the limit is per
// address, so the relay keeps answering others.
func TestRateLimited(t *testing.T) {
	r, err := Open(context.Background(), Config{Domain: domain, DataDir: filepath.Join(t.TempDir(), "relay"),
		RateLimit: ratelimit.Options{Rate: 1, Burst: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	codes := []int{}
	for range 5 {
		resp, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429]" {
		t.Fatalf("statuses %v, want three 200s then 429s", codes)
	}
}

// validateSchema checks doc against a JSON schema among the vectors (the
// schemas diaspora itself validates NodeInfo against). The validator works
// offline: the draft meta-schemas are built in and nothing is fetched.
func validateSchema(t *testing.T, schemaFile string, doc []byte) error {
	t.Helper()
	sch, err := jsonschema.UnmarshalJSON(bytes.NewReader(vectors.Read(t, schemaFile)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///schema.json", sch); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("file:///schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}

// A request signed for another host (another relay hosting the same
// identity) is refused here, and enrollment attempts without an invite
// leave nothing behind.
func TestOwnerRequestsAreBoundToThisRelay(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	req, _ := http.NewRequest("GET", g.base+OwnerPrefix+"/me", nil)
	req.Host = "other-relay.example"
	if err := ownerauth.Sign(req, nil, "alice", ka, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("request signed for other-relay.example: %d, want 401", resp.StatusCode)
	}

	var before, after int
	g.relay.db.R.QueryRow("SELECT count(*) FROM nonces").Scan(&before)
	for i := range 5 {
		body, _ := json.Marshal(EnrollRequest{Code: fmt.Sprint("nope", i), Username: "mallory", GUID: guidB,
			PublicKey: string(keys.MarshalPublic(&ka.PublicKey))})
		if st, _ := g.do("POST", OwnerPrefix+"/enroll", body, signer(t, "mallory", ka)); st != 403 {
			t.Fatalf("enrollment without an invite: %d", st)
		}
	}
	g.relay.db.R.QueryRow("SELECT count(*) FROM nonces").Scan(&after)
	if after != before {
		t.Fatalf("enrollments without an invite stored %d nonces", after-before)
	}
}

// Each identity's private inbox and the public inbox have their own caps:
// one identity that never collects cannot block the others; and a pull
// stops at a byte budget.
func TestInboxCapsAndPullBudget(t *testing.T) {
	g := newRig(t)
	g.relay.inbox.maxItems = 2
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	private := vectors.Read(t, "generated/envelopes/private_status_message.encrypted.json")
	public := vectors.Read(t, "generated/envelopes/public_status_message.xml")
	for i, c := range []struct {
		path string
		body []byte
		want int
	}{
		{"/receive/users/" + guidA, private, 202},
		{"/receive/users/" + guidA, private, 202},
		{"/receive/users/" + guidA, private, 503}, // alice's inbox is full…
		{"/receive/users/" + guidB, private, 202}, // …bob's is not
		{"/receive/public", public, 202},
		{"/receive/public", public, 202},
		{"/receive/public", public, 503},          // the public inbox is full…
		{"/receive/users/" + guidB, private, 202}, // …private ones still arrive
	} {
		if st, b := g.do("POST", c.path, c.body, nil); st != c.want {
			t.Fatalf("delivery %d to %s: %d %s, want %d", i, c.path, st, b, c.want)
		}
	}

	// Pull budget: five deliveries of almost 2 MiB come back four to a page.
	g2 := newRig(t)
	g2.enroll("alice", guidA, ka)
	big := []byte(`{"aes_key":"a","encrypted_magic_envelope":"` + strings.Repeat("A", maxPrivateBody-100) + `"}`)
	for range 5 {
		if st, _ := g2.do("POST", "/receive/users/"+guidA, big, nil); st != 202 {
			t.Fatalf("big delivery: %d", st)
		}
	}
	p := g2.pull("alice", ka, "?limit=100")
	if len(p.Items) != 4 {
		t.Fatalf("a pull of 5×2 MiB returned %d items, want 4 (8 MiB budget)", len(p.Items))
	}
	if p2 := g2.pull("alice", ka, fmt.Sprintf("?after=%d", p.Cursor)); len(p2.Items) != 1 {
		t.Fatalf("the next page has %d items, want 1", len(p2.Items))
	}
}
