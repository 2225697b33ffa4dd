package public

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/diaspora/keys"
)

const (
	domain    = "relay.example"
	aliceGUID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	bobGUID   = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

var (
	keyOnce          sync.Once
	aliceKey, bobKey string
)

func testKeys(t *testing.T) (string, string) {
	t.Helper()
	keyOnce.Do(func() {
		for _, k := range []*string{&aliceKey, &bobKey} {
			priv, err := keys.Generate(2048)
			if err != nil {
				panic(err)
			}
			*k = string(keys.MarshalPublic(&priv.PublicKey))
		}
	})
	return aliceKey, bobKey
}

// fakeDir is an in-memory Directory; err, when set, fails every call.
type fakeDir struct {
	mu  sync.Mutex
	ids []Identity
	err error
}

func (d *fakeDir) find(f func(Identity) bool) (Identity, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return Identity{}, false, d.err
	}
	for _, i := range d.ids {
		if f(i) {
			return i, true, nil
		}
	}
	return Identity{}, false, nil
}

func (d *fakeDir) ByUsername(_ context.Context, u string) (Identity, bool, error) {
	return d.find(func(i Identity) bool { return i.Username == u })
}

func (d *fakeDir) ByGUID(_ context.Context, g string) (Identity, bool, error) {
	return d.find(func(i Identity) bool { return i.GUID == g })
}

func (d *fakeDir) Count(context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.ids), d.err
}

// syncBuffer collects log output written from handler goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func twoIdentities(t *testing.T) *fakeDir {
	ak, bk := testKeys(t)
	return &fakeDir{ids: []Identity{
		{Username: "alice", GUID: aliceGUID, PublicKeyPEM: ak, Profile: Profile{
			FirstName: "Alice", LastName: "Liddell", Searchable: true,
			PhotoLarge:  "https://cdn.example/a/l.png",
			PhotoMedium: "https://cdn.example/a/m.png",
			PhotoSmall:  "https://cdn.example/a/s.png",
			Bio:         "Down the rabbit hole.", Public: true,
		}},
		{Username: "bob", GUID: bobGUID, PublicKeyPEM: bk, Profile: Profile{
			FullName: "Bob Builder", FirstName: "Bob", LastName: "Builder",
			Bio: "secret bio", Public: false,
		}},
	}}
}

type env struct {
	srv *httptest.Server
	dir *fakeDir
	log *syncBuffer
}

func newEnv(t *testing.T, dir *fakeDir) *env {
	t.Helper()
	logs := &syncBuffer{}
	h, err := New(dir, Options{Domain: domain, Version: "0.1.0", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // loopback only
	t.Cleanup(srv.Close)
	return &env{srv: srv, dir: dir, log: logs}
}

func (e *env) do(t *testing.T, method, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (e *env) get(t *testing.T, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return e.do(t, http.MethodGet, path, hdr...)
}

func expect(t *testing.T, resp *http.Response, status int, ctype string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d", resp.Request.URL, resp.StatusCode, status)
	}
	if ctype != "" && resp.Header.Get("Content-Type") != ctype {
		t.Fatalf("%s: Content-Type %q, want %q", resp.Request.URL, resp.Header.Get("Content-Type"), ctype)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: no nosniff", resp.Request.URL)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("%s: no CSP", resp.Request.URL)
	}
}

func expectDiscoveryHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("%s: no CORS header", resp.Request.URL)
	}
	if resp.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("%s: Cache-Control %q", resp.Request.URL, resp.Header.Get("Cache-Control"))
	}
}

func TestRoot(t *testing.T) {
	e := newEnv(t, twoIdentities(t))
	resp, body := e.get(t, "/")
	expect(t, resp, 200, "text/html; charset=utf-8")
	if !bytes.Contains(body, []byte("Seedpod relay for relay.example")) {
		t.Errorf("root page: %s", body)
	}
	if bytes.Contains(body, []byte("alice")) {
		t.Error("root page lists identities")
	}
}

func TestHostMeta(t *testing.T) {
	e := newEnv(t, twoIdentities(t))
	resp, body := e.get(t, "/.well-known/host-meta")
	expect(t, resp, 200, "application/xrd+xml; charset=utf-8")
	expectDiscoveryHeaders(t, resp)
	tmpl, err := discovery.ParseHostMeta(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://relay.example/.well-known/webfinger.xml?resource={uri}"; tmpl != want {
		t.Errorf("lrdd template %q, want %q", tmpl, want)
	}
	want, _ := discovery.HostMeta("https://relay.example")
	if !bytes.Equal(body, want) {
		t.Error("host-meta differs from discovery.HostMeta")
	}
}

func checkWebFinger(t *testing.T, wf *discovery.WebFinger, user, guid string) {
	t.Helper()
	want, err := discovery.ForAccount("https://relay.example", user+"@relay.example", guid)
	if err != nil {
		t.Fatal(err)
	}
	if wf.ID != want.ID || wf.HCardURL != want.HCardURL || wf.SeedURL != "https://relay.example/" ||
		wf.ProfileURL != want.ProfileURL || len(wf.Aliases) != 1 || wf.Aliases[0] != want.Aliases[0] {
		t.Errorf("webfinger %+v, want %+v", wf, want)
	}
}

func TestWebFinger(t *testing.T) {
	e := newEnv(t, twoIdentities(t))

	resp, body := e.get(t, "/.well-known/webfinger?resource=acct:alice@relay.example")
	expect(t, resp, 200, "application/jrd+json; charset=utf-8")
	expectDiscoveryHeaders(t, resp)
	wf, err := discovery.ParseJRD(body, "alice@relay.example")
	if err != nil {
		t.Fatal(err)
	}
	checkWebFinger(t, wf, "alice", aliceGUID)

	for _, c := range []struct{ path, accept string }{
		{"/.well-known/webfinger.xml?resource=acct:alice@relay.example", ""},
		{"/.well-known/webfinger?resource=acct:alice@relay.example", "application/xrd+xml"},
		{"/.well-known/webfinger?resource=acct:alice@relay.example", "application/jrd+json;q=0.5, application/xrd+xml"},
	} {
		resp, body := e.get(t, c.path, "Accept", c.accept)
		expect(t, resp, 200, "application/xrd+xml; charset=utf-8")
		expectDiscoveryHeaders(t, resp)
		wf, err := discovery.ParseXRD(body, "alice@relay.example")
		if err != nil {
			t.Fatalf("%s (Accept %q): %v", c.path, c.accept, err)
		}
		checkWebFinger(t, wf, "alice", aliceGUID)
	}
	// JSON preferred or no preference: JRD.
	for _, accept := range []string{"application/jrd+json, application/xrd+xml;q=0.9", "*/*", "application/json", "text/html"} {
		resp, _ := e.get(t, "/.well-known/webfinger?resource=acct:alice@relay.example", "Accept", accept)
		expect(t, resp, 200, "application/jrd+json; charset=utf-8")
	}
}

// TestWebFingerResource follows the reference: strip, downcase, remove the
// first "acct:"; blank or missing ⇒ 400; anything not naming a local
// account ⇒ 404.
func TestWebFingerResource(t *testing.T) {
	e := newEnv(t, twoIdentities(t))
	for _, c := range []struct {
		query  string
		status int
	}{
		{"resource=acct:alice@relay.example", 200},
		{"resource=acct:ALICE@Relay.Example", 200},
		{"resource=ACCT:alice@relay.example", 200},
		{"resource=alice@relay.example", 200},
		{"resource=%20%20acct:alice@relay.example%20%09", 200},
		{"resource=acct%3Aalice%40relay.example", 200},
		{"resource=acct:bob@relay.example", 200},
		{"resource=acct:alice@other.example", 404},
		{"resource=acct:alice@relay.example:8443", 404},
		{"resource=acct:alice@relay.example.", 404},
		{"resource=acct:carol@relay.example", 404},
		{"resource=acct:acct:alice@relay.example", 404},
		{"resource=https://relay.example/u/alice", 404},
		{"resource=acct:", 404},
		{"resource=acct:@relay.example", 404},
		{"resource=%00%ff%fe", 404},
		{"resource=" + strings.Repeat("a", 5000) + "@relay.example", 404},
		{"resource=<script>@relay.example", 404},
		{"resource=", 400},
		{"resource=%20%20", 400},
		{"", 400},
		{"q=acct:alice@relay.example", 400},
		{"resource=acct:carol@relay.example&resource=acct:alice@relay.example", 200}, // last wins, as in Rack
	} {
		resp, body := e.get(t, "/.well-known/webfinger?"+c.query)
		if resp.StatusCode != c.status {
			t.Errorf("%q: status %d, want %d (%s)", c.query, resp.StatusCode, c.status, body)
			continue
		}
		if c.status == 200 {
			want := "alice@relay.example"
			if strings.Contains(c.query, "bob") {
				want = "bob@relay.example"
			}
			if _, err := discovery.ParseJRD(body, want); err != nil {
				t.Errorf("%q: %v", c.query, err)
			}
		} else if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || len(body) > 64 {
			t.Errorf("%q: error response %q %q", c.query, resp.Header.Get("Content-Type"), body)
		}
	}
}

func checkHCard(t *testing.T, body []byte, ident Identity, photos [3]string) {
	t.Helper()
	hc, err := discovery.ParseHCard(body)
	if err != nil {
		t.Fatal(err)
	}
	wantKey, err := keys.ParsePublic([]byte(ident.PublicKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	p := ident.Profile
	full := p.FullName
	if full == "" {
		full = p.FirstName + " " + p.LastName
	}
	if hc.GUID != ident.GUID || hc.Nickname != ident.Username || hc.FullName != full ||
		hc.FirstName != p.FirstName || hc.LastName != p.LastName || hc.Searchable != p.Searchable ||
		!hc.PublicKey.Equal(wantKey) {
		t.Errorf("hcard %+v does not round-trip %+v", hc, ident)
	}
	if got := [3]string{hc.PhotoLarge, hc.PhotoMedium, hc.PhotoSmall}; got != photos {
		t.Errorf("photos %q, want %q", got, photos)
	}
}

func TestHCard(t *testing.T) {
	dir := twoIdentities(t)
	e := newEnv(t, dir)
	resp, body := e.get(t, "/hcard/users/"+aliceGUID)
	expect(t, resp, 200, "text/html; charset=utf-8")
	checkHCard(t, body, dir.ids[0], [3]string{"https://cdn.example/a/l.png", "https://cdn.example/a/m.png", "https://cdn.example/a/s.png"})

	// No photos: diaspora's default avatar path.
	resp, body = e.get(t, "/hcard/users/"+bobGUID)
	expect(t, resp, 200, "text/html; charset=utf-8")
	checkHCard(t, body, dir.ids[1], [3]string{DefaultAvatarPath, DefaultAvatarPath, DefaultAvatarPath})

	for _, p := range []string{"/hcard/users/ffffffffffffffffffffffffffffffff", "/hcard/users/short", "/hcard/users/bad%20guid%20xxxxxxxxxxxxxx", "/hcard/users/", "/hcard/users/" + aliceGUID + "/x"} {
		resp, _ := e.get(t, p)
		expect(t, resp, 404, "")
	}
}

func TestNodeInfo(t *testing.T) {
	e := newEnv(t, twoIdentities(t))
	resp, body := e.get(t, "/.well-known/nodeinfo")
	expect(t, resp, 200, "application/json; charset=utf-8")
	expectDiscoveryHeaders(t, resp)
	refs, err := discovery.ParseWellKnownNodeInfo(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].Href != "https://relay.example/nodeinfo/2.0" || refs[1].Href != "https://relay.example/nodeinfo/2.1" {
		t.Errorf("nodeinfo links %+v", refs)
	}
	for _, v := range []string{"2.0", "2.1"} {
		resp, body := e.get(t, "/nodeinfo/"+v)
		expect(t, resp, 200, discovery.NodeInfoContentType(v))
		expectDiscoveryHeaders(t, resp)
		ni, err := discovery.ParseNodeInfo(body)
		if err != nil {
			t.Fatalf("%s: %v\n%s", v, err, body)
		}
		if ni.Version != v || ni.Software.Name != "seedpod" || ni.Software.Version != "0.1.0" ||
			ni.OpenRegistrations || len(ni.Protocols) != 1 || ni.Protocols[0] != "diaspora" ||
			ni.Usage.Users.Total == nil || *ni.Usage.Users.Total != 2 {
			t.Errorf("%s: %+v", v, ni)
		}
	}
	for _, v := range []string{"1.0", "2.2", "x"} {
		resp, _ := e.get(t, "/nodeinfo/"+v)
		expect(t, resp, 404, "")
	}
}

func TestProfilePages(t *testing.T) {
	e := newEnv(t, twoIdentities(t))
	for _, p := range []string{"/u/alice", "/people/" + aliceGUID} {
		resp, body := e.get(t, p)
		expect(t, resp, 200, "text/html; charset=utf-8")
		for _, want := range []string{"Alice Liddell", "alice@relay.example", `src="https://cdn.example/a/l.png"`, "Down the rabbit hole."} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("%s: missing %q", p, want)
			}
		}
	}
	resp, body := e.get(t, "/u/bob")
	expect(t, resp, 200, "text/html; charset=utf-8")
	if bytes.Contains(body, []byte("secret bio")) {
		t.Error("bio of a non-public profile shown")
	}
	if !bytes.Contains(body, []byte(`src="`+DefaultAvatarPath+`"`)) {
		t.Error("default avatar not used")
	}
	resp, body = e.get(t, DefaultAvatarPath)
	expect(t, resp, 200, "image/png")
	if !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Error("default avatar is not a PNG")
	}
	for _, p := range []string{"/u/carol", "/u/ALICE", "/u/a%2Fb", "/u/", "/people/nope", "/people/ffffffffffffffffffffffffffffffff"} {
		resp, _ := e.get(t, p)
		expect(t, resp, 404, "")
	}
}

// TestPageCSP checks that the CSP allows exactly the inline style the pages
// carry and no script.
func TestPageCSP(t *testing.T) {
	e := newEnv(t, twoIdentities(t))
	for _, p := range []string{"/", "/u/alice"} {
		resp, body := e.get(t, p)
		csp := resp.Header.Get("Content-Security-Policy")
		m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("%s: no style", p)
		}
		sum := sha256.Sum256(m[1])
		if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
			t.Errorf("%s: CSP %q does not allow the page's style", p, csp)
		}
		if strings.Contains(csp, "script-src") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if resp.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Errorf("%s: Cache-Control %q", p, resp.Header.Get("Cache-Control"))
		}
	}
}

// TestTwoIdentities checks every document of one identity carries nothing
// of the other.
func TestTwoIdentities(t *testing.T) {
	dir := twoIdentities(t)
	e := newEnv(t, dir)
	ak, bk := testKeys(t)
	strip := func(k string) string { // a distinctive line of the key
		return strings.Split(k, "\n")[3]
	}
	for _, c := range []struct {
		user, guid, key, otherUser, otherGUID, otherKey string
	}{
		{"alice", aliceGUID, ak, "bob", bobGUID, bk},
		{"bob", bobGUID, bk, "alice", aliceGUID, ak},
	} {
		paths := []string{
			"/.well-known/webfinger?resource=acct:" + c.user + "@relay.example",
			"/.well-known/webfinger.xml?resource=acct:" + c.user + "@relay.example",
			"/hcard/users/" + c.guid,
			"/u/" + c.user,
			"/people/" + c.guid,
		}
		for _, p := range paths {
			resp, body := e.get(t, p)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", p, resp.StatusCode)
			}
			for _, other := range []string{c.otherUser, c.otherGUID, strip(c.otherKey)} {
				if bytes.Contains(body, []byte(other)) {
					t.Errorf("%s carries %q of the other identity", p, other)
				}
			}
			if !bytes.Contains(body, []byte(c.user)) {
				t.Errorf("%s does not name %s", p, c.user)
			}
		}
		_, body := e.get(t, "/hcard/users/"+c.guid)
		if !bytes.Contains(body, []byte(strip(c.key))) {
			t.Errorf("hcard of %s lacks its key", c.user)
		}
	}
}

func TestEscaping(t *testing.T) {
	ak, _ := testKeys(t)
	dir := &fakeDir{ids: []Identity{{Username: "mallory", GUID: aliceGUID, PublicKeyPEM: ak, Profile: Profile{
		FullName: `<script>alert(1)</script>`, Bio: `<img src=x onerror=alert(1)>"&`, Public: true,
		PhotoLarge: `javascript:alert(1)`,
	}}}}
	e := newEnv(t, dir)
	resp, body := e.get(t, "/u/mallory")
	expect(t, resp, 200, "text/html; charset=utf-8")
	for _, bad := range []string{"<script>", "<img src=x", "javascript:"} {
		if bytes.Contains(body, []byte(bad)) {
			t.Errorf("unescaped %q in:\n%s", bad, body)
		}
	}
	if !bytes.Contains(body, []byte("&lt;script&gt;alert(1)&lt;/script&gt;")) {
		t.Errorf("escaped name missing:\n%s", body)
	}
	if !strings.Contains(e.log.String(), "avatar URL refused") {
		t.Error("refused avatar not logged")
	}
	// The hCard escapes too and round-trips the name.
	resp, body = e.get(t, "/hcard/users/"+aliceGUID)
	expect(t, resp, 200, "text/html; charset=utf-8")
	hc, err := discovery.ParseHCard(body)
	if err != nil {
		t.Fatal(err)
	}
	if hc.FullName != `<script>alert(1)</script>` || hc.PhotoLarge != DefaultAvatarPath {
		t.Errorf("hcard %+v", hc)
	}
}

// TestUnpublishableIdentity: data an hCard cannot carry (';' in a name, a
// bad key) is a server error, logged, never leaked, and never 404.
func TestUnpublishableIdentity(t *testing.T) {
	ak, _ := testKeys(t)
	dir := &fakeDir{ids: []Identity{
		{Username: "semi", GUID: aliceGUID, PublicKeyPEM: ak, Profile: Profile{FirstName: "Semi;colon"}},
		{Username: "nokey", GUID: bobGUID, PublicKeyPEM: "", Profile: Profile{FirstName: "No"}},
	}}
	e := newEnv(t, dir)
	for _, guid := range []string{aliceGUID, bobGUID} {
		resp, body := e.get(t, "/hcard/users/"+guid)
		expect(t, resp, 500, "text/plain; charset=utf-8")
		if string(body) != "internal server error\n" {
			t.Errorf("500 body %q", body)
		}
	}
	logs := e.log.String()
	if !strings.Contains(logs, "contains ';'") || !strings.Contains(logs, "cannot be published as an hCard") {
		t.Errorf("reason not logged: %s", logs)
	}
	// WebFinger and the profile page do not depend on the hCard rules.
	resp, _ := e.get(t, "/.well-known/webfinger?resource=acct:semi@relay.example")
	expect(t, resp, 200, "")
	resp, body := e.get(t, "/u/semi")
	expect(t, resp, 200, "")
	if !bytes.Contains(body, []byte("Semi;colon")) {
		t.Error("name missing from profile page")
	}
}

func TestInvalidDirectoryData(t *testing.T) {
	ak, _ := testKeys(t)
	dir := &fakeDir{ids: []Identity{
		{Username: "Upper", GUID: aliceGUID, PublicKeyPEM: ak},
		{Username: "badguid", GUID: "x", PublicKeyPEM: ak},
	}}
	e := newEnv(t, dir)
	for _, p := range []string{
		"/hcard/users/" + aliceGUID,                                  // username "Upper" is not a user part
		"/.well-known/webfinger?resource=acct:badguid@relay.example", // invalid GUID
		"/u/badguid",
	} {
		resp, body := e.get(t, p)
		expect(t, resp, 500, "")
		if string(body) != "internal server error\n" {
			t.Errorf("%s: body %q", p, body)
		}
	}
}

func TestDirectoryErrors(t *testing.T) {
	dir := twoIdentities(t)
	dir.err = errors.New("db: connection refused to 10.0.0.7 password=hunter2")
	e := newEnv(t, dir)
	for _, p := range []string{
		"/.well-known/webfinger?resource=acct:alice@relay.example",
		"/.well-known/webfinger.xml?resource=acct:alice@relay.example",
		"/hcard/users/" + aliceGUID,
		"/nodeinfo/2.1",
		"/u/alice",
		"/people/" + aliceGUID,
	} {
		resp, body := e.get(t, p)
		expect(t, resp, 500, "text/plain; charset=utf-8")
		if string(body) != "internal server error\n" {
			t.Errorf("%s: body %q", p, body)
		}
	}
	if n := strings.Count(e.log.String(), "hunter2"); n != 6 {
		t.Errorf("%d directory errors logged, want 6:\n%s", n, e.log.String())
	}
	// Static documents do not need the directory.
	for _, p := range []string{"/", "/.well-known/host-meta", "/.well-known/nodeinfo"} {
		resp, _ := e.get(t, p)
		expect(t, resp, 200, "")
	}
}

func TestMethodsAndUnknownPaths(t *testing.T) {
	e := newEnv(t, twoIdentities(t))
	paths := []string{"/", "/.well-known/host-meta", "/.well-known/webfinger?resource=acct:alice@relay.example",
		"/.well-known/nodeinfo", "/nodeinfo/2.1", "/hcard/users/" + aliceGUID, "/u/alice", "/people/" + aliceGUID}
	for _, p := range paths {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
			resp, _ := e.do(t, m, p)
			expect(t, resp, 405, "")
			if a := resp.Header.Get("Allow"); a != "GET, HEAD" {
				t.Errorf("%s %s: Allow %q", m, p, a)
			}
		}
		resp, body := e.do(t, http.MethodHead, p)
		expect(t, resp, 200, "")
		if len(body) != 0 {
			t.Errorf("HEAD %s: body", p)
		}
	}
	for _, p := range []string{"/nope", "/receive/public", "/fetch/post/" + aliceGUID, "/.well-known/x-social-relay",
		"/public/alice.atom", "/people", "/u/alice/extra", "/.well-known/webfinger/x"} {
		resp, _ := e.get(t, p)
		expect(t, resp, 404, "")
	}
}

func TestNewOptions(t *testing.T) {
	dir := &fakeDir{}
	for _, d := range []string{"", "Relay.Example", "relay.example/", "https://relay.example", "relay.example.", "bad host", "relay.example:08443", "user@relay.example"} {
		if _, err := New(dir, Options{Domain: d}); err == nil {
			t.Errorf("New accepted Domain %q", d)
		}
	}
	for _, d := range []string{"relay.example", "relay.example:8443", "127.0.0.1:8443"} {
		if _, err := New(dir, Options{Domain: d}); err != nil {
			t.Errorf("New(%q): %v", d, err)
		}
	}
	if _, err := New(nil, Options{Domain: "relay.example"}); err == nil {
		t.Error("New accepted a nil Directory")
	}
}

func TestPortDomain(t *testing.T) {
	ak, _ := testKeys(t)
	dir := &fakeDir{ids: []Identity{{Username: "alice", GUID: aliceGUID, PublicKeyPEM: ak}}}
	h, err := New(dir, Options{Domain: "relay.example:8443"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/.well-known/webfinger?resource=acct:alice@relay.example:8443")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wf, err := discovery.ParseJRD(body, "alice@relay.example:8443")
	if err != nil {
		t.Fatal(err)
	}
	if pod, _ := wf.PodURL(); pod != "https://relay.example:8443" {
		t.Errorf("pod URL %q", pod)
	}
}

// liarDir answers every lookup with alice.
type liarDir struct{ fakeDir }

func (d *liarDir) ByUsername(ctx context.Context, _ string) (Identity, bool, error) {
	return d.fakeDir.ByUsername(ctx, "alice")
}

func (d *liarDir) ByGUID(ctx context.Context, _ string) (Identity, bool, error) {
	return d.fakeDir.ByGUID(ctx, aliceGUID)
}

// TestDirectoryMismatch: an identity other than the one asked for is never
// published under the asked name.
func TestDirectoryMismatch(t *testing.T) {
	dir := &liarDir{fakeDir: *twoIdentities(t)}
	h, err := New(dir, Options{Domain: domain})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/.well-known/webfinger?resource=acct:bob@relay.example", "/u/bob", "/hcard/users/" + bobGUID, "/people/" + bobGUID} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != 500 || strings.Contains(rec.Body.String(), "alice") {
			t.Errorf("%s: %d %q", p, rec.Code, rec.Body.String())
		}
	}
}
