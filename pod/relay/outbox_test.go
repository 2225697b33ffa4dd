package relay

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"seedpod/pod/httpclient"
	"seedpod/pod/podtest"
)

// remotePod is a fake diaspora* pod on loopback HTTPS: it records every
// delivery and answers with the statuses it is told to.
type remotePod struct {
	srv   *httptest.Server
	host  string // pod.example:PORT
	mu    sync.Mutex
	got   map[string]int // body → deliveries
	plan  []int          // statuses to answer, in order; then 202
	retry string         // Retry-After to send with 429/503
}

func newRemotePod(t *testing.T, ca *podtest.CA, name string) *remotePod {
	t.Helper()
	certPEM, keyPEM, err := ca.Leaf(name)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	p := &remotePod{got: map[string]int{}}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		status := http.StatusAccepted
		if len(p.plan) > 0 {
			status, p.plan = p.plan[0], p.plan[1:]
		}
		if status < 300 {
			p.got[string(b)]++
		}
		p.mu.Unlock()
		if p.retry != "" && (status == 429 || status == 503) {
			w.Header().Set("Retry-After", p.retry)
		}
		w.WriteHeader(status)
	}))
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.host = name + ":" + p.srv.URL[strings.LastIndex(p.srv.URL, ":")+1:]
	return p
}

func (p *remotePod) deliveries(body string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[body]
}

// outbound is the real outbound client (pod/httpclient), allowed to reach
// loopback and trusting the test CA; every *.example name resolves to
// 127.0.0.1.
func outbound(ca *podtest.CA) Poster {
	return httpclient.New(httpclient.Options{AllowLoopback: true, RootCAs: ca.Pool(), NoRedirects: true,
		Lookup: func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}})
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newOutboxRig(t *testing.T, clk *clock) (*rig, *podtest.CA) {
	t.Helper()
	ca, err := podtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, _ := ca.Leaf(domain)
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	data := filepath.Join(t.TempDir(), "relay")
	cfg := Config{Domain: domain, DataDir: data, Outbound: outbound(ca)}
	if clk != nil {
		cfg.Now = clk.Now
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
	g := &rig{t: t, relay: r, base: "https://" + domain + ":" + port, client: ca.Client(10 * time.Second), data: data}
	if clk != nil {
		g.now = clk.Now
	}
	return g, ca
}

func (g *rig) handOver(who string, items ...OutboxItem) OutboxResponse {
	g.t.Helper()
	ka, kb := testKeys(g.t)
	k := ka
	if who == "bob" {
		k = kb
	}
	body, _ := json.Marshal(OutboxRequest{Items: items})
	st, b := g.do("POST", OwnerPrefix+"/outbox", body, g.sign(who, k))
	if st != http.StatusAccepted {
		g.t.Fatalf("hand over: %d %s", st, b)
	}
	var r OutboxResponse
	json.Unmarshal(b, &r)
	return r
}

func (g *rig) status(who, guid string) []DeliveryStatus {
	g.t.Helper()
	ka, kb := testKeys(g.t)
	k := ka
	if who == "bob" {
		k = kb
	}
	st, b := g.do("GET", OwnerPrefix+"/outbox/status?guid="+guid, nil, g.sign(who, k))
	if st != 200 {
		g.t.Fatalf("status: %d %s", st, b)
	}
	var s []DeliveryStatus
	json.Unmarshal(b, &s)
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const postGUID = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"

func TestOutboxDeliversOnceToEachRecipient(t *testing.T) {
	g, ca := newOutboxRig(t, nil)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	p1 := newRemotePod(t, ca, "pod-one.example")
	p2 := newRemotePod(t, ca, "pod-two.example")
	item := func(host, path, body string) OutboxItem {
		return OutboxItem{GUID: postGUID, Recipient: "https://" + host + path, Body: []byte(body)}
	}
	r := g.handOver("alice",
		item(p1.host, "/receive/public", "public-post"),
		item(p2.host, "/receive/users/e5e5e5e5e5e5e5e5", "private-for-p2"))
	if r.Accepted != 2 || r.Duplicates != 0 {
		t.Fatalf("hand over: %+v", r)
	}
	// A second device hands the same items: nothing new.
	if r := g.handOver("alice", item(p1.host, "/receive/public", "public-post")); r.Accepted != 0 || r.Duplicates != 1 {
		t.Fatalf("second device: %+v", r)
	}
	waitFor(t, "both deliveries", func() bool {
		return p1.deliveries("public-post") == 1 && p2.deliveries("private-for-p2") == 1
	})
	waitFor(t, "delivered status", func() bool {
		s := g.status("alice", postGUID)
		return len(s) == 2 && s[0].State == "delivered" && s[1].State == "delivered"
	})
	// Bob sees nothing of alice's outbox.
	if s := g.status("bob", postGUID); len(s) != 0 {
		t.Fatalf("bob sees alice's deliveries: %+v", s)
	}
	time.Sleep(200 * time.Millisecond)
	if n := p1.deliveries("public-post"); n != 1 {
		t.Fatalf("delivered %d times, want once", n)
	}
}

func TestOutboxRetries(t *testing.T) {
	clk := &clock{t: time.Now()}
	g, ca := newOutboxRig(t, clk)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	flaky := newRemotePod(t, ca, "flaky.example")
	flaky.plan = []int{503, 429, 202}
	flaky.retry = "120"
	gone := newRemotePod(t, ca, "gone.example")
	gone.plan = []int{410}

	g.handOver("alice",
		OutboxItem{GUID: postGUID, Recipient: "https://" + flaky.host + "/receive/public", Body: []byte("to-flaky")},
		OutboxItem{GUID: postGUID, Recipient: "https://" + gone.host + "/receive/public", Body: []byte("to-gone")})
	byHost := func(host string) DeliveryStatus {
		for _, s := range g.status("alice", postGUID) {
			if strings.Contains(s.Recipient, host) {
				return s
			}
		}
		return DeliveryStatus{}
	}
	waitFor(t, "first attempts", func() bool {
		return byHost("flaky").Attempts == 1 && byHost("gone").State == "failed"
	})
	s := byHost("flaky")
	if s.State != "retrying" || s.LastStatus != 503 || s.NextAttemptAt < clk.Now().Add(120*time.Second).Unix() {
		t.Fatalf("after a 503 with Retry-After 120: %+v", s)
	}
	if s := byHost("gone"); s.LastStatus != 410 || s.Attempts != 1 {
		t.Fatalf("a 410 is final: %+v", s)
	}
	// Time passes: the retry happens, meets a 429, and then succeeds.
	for i := 0; i < 2; i++ {
		clk.Add(3 * time.Hour)
		g.relay.poke()
		want := i + 2
		waitFor(t, "attempt "+strconv.Itoa(want), func() bool { return byHost("flaky").Attempts == want })
	}
	if s := byHost("flaky"); s.State != "delivered" || flaky.deliveries("to-flaky") != 1 {
		t.Fatalf("after 503, 429, 202: %+v, %d deliveries", s, flaky.deliveries("to-flaky"))
	}
}

func TestBackoffFollowsDiaspora(t *testing.T) {
	noJitter := func(int) int { return 0 }
	var total time.Duration
	for n := range maxRetries {
		total += backoff(n, noJitter)
	}
	// (n+3)^4 for n = 0…9: 81 + 256 + … + 20736 s ≈ 17 h.
	if total < 16*time.Hour || total > 18*time.Hour {
		t.Fatalf("10 retries span %v, want about 17 h", total)
	}
	if d := backoff(0, func(int) int { return 29 }); d != (81+29)*time.Second {
		t.Fatalf("first retry with jitter: %v", d)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{{"", 0}, {"30", 30 * time.Second}, {"-5", 0}, {"soon", 0},
		{now.Add(time.Minute).Format(http.TimeFormat), time.Minute}} {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		if got := retryAfter(h, now); got != c.want {
			t.Errorf("Retry-After %q: %v, want %v", c.v, got, c.want)
		}
	}
}

func TestOutboxRefusals(t *testing.T) {
	g, _ := newOutboxRig(t, nil)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	for _, c := range []struct {
		name string
		item OutboxItem
	}{
		{"http recipient", OutboxItem{GUID: postGUID, Recipient: "http://pod.example/receive/public", Body: []byte("x")}},
		{"not a receive URL", OutboxItem{GUID: postGUID, Recipient: "https://pod.example/admin", Body: []byte("x")}},
		{"userinfo", OutboxItem{GUID: postGUID, Recipient: "https://u:p@pod.example/receive/public", Body: []byte("x")}},
		{"bad user guid", OutboxItem{GUID: postGUID, Recipient: "https://pod.example/receive/users/x", Body: []byte("x")}},
		{"bad guid", OutboxItem{GUID: "nope", Recipient: "https://pod.example/receive/public", Body: []byte("x")}},
		{"empty body", OutboxItem{GUID: postGUID, Recipient: "https://pod.example/receive/public"}},
		{"bad kind", OutboxItem{GUID: postGUID, Recipient: "https://pod.example/receive/public", Body: []byte("x"), Kind: "urgent"}},
	} {
		body, _ := json.Marshal(OutboxRequest{Items: []OutboxItem{c.item}})
		if st, b := g.do("POST", OwnerPrefix+"/outbox", body, signer(t, "alice", ka)); st != 422 {
			t.Errorf("%s: %d %s, want 422", c.name, st, b)
		}
	}
	many := make([]OutboxItem, maxOutboxItems+1)
	for i := range many {
		many[i] = OutboxItem{GUID: postGUID, Recipient: fmt.Sprintf("https://p%d.example/receive/public", i), Body: []byte("x")}
	}
	body, _ := json.Marshal(OutboxRequest{Items: many})
	if st, _ := g.do("POST", OwnerPrefix+"/outbox", body, signer(t, "alice", ka)); st != 422 {
		t.Errorf("too many items: %d", st)
	}
	if st, _ := g.do("POST", OwnerPrefix+"/outbox", []byte(`{"items":[]}`), nil); st != 401 {
		t.Errorf("unsigned: %d", st)
	}
}

// One slow pod's backlog does not hold up deliveries to other pods, and a
// delivered row keeps its status but not its body.
func TestOutboxNoHeadOfLineBlocking(t *testing.T) {
	g, ca := newOutboxRig(t, nil)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	release := make(chan struct{})
	slow := newRemotePod(t, ca, "slow.example")
	slow.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the test ends
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	fast := newRemotePod(t, ca, "fast.example")

	for b := 0; b < 3; b++ {
		var items []OutboxItem
		for i := range 100 {
			items = append(items, OutboxItem{GUID: fmt.Sprintf("%032x", b*100+i+1),
				Recipient: "https://" + slow.host + "/receive/public", Body: []byte("to-slow")})
		}
		g.handOver("alice", items...)
	}
	g.handOver("bob", OutboxItem{GUID: postGUID, Recipient: "https://" + fast.host + "/receive/public", Body: []byte("to-fast")})
	waitFor(t, "bob's delivery past alice's backlog", func() bool { return fast.deliveries("to-fast") == 1 })
	waitFor(t, "delivered status", func() bool {
		s := g.status("bob", postGUID)
		return len(s) == 1 && s[0].State == "delivered"
	})
	var body []byte
	if err := g.relay.db.R.QueryRow("SELECT body FROM outbox WHERE guid = ?", postGUID).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 0 {
		t.Fatalf("a delivered row still holds its %d-byte body", len(body))
	}
}
