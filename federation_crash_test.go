package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/httpclient"
	"seedpod/pod/oplog"
	"seedpod/pod/podtest/podnet"
	"seedpod/pod/relay"
	"seedpod/pod/store"
	"seedpod/pod/web"
)

// Crash safety of inbound federation, end to end. Alice is a real
// `seedpod serve` process; bob is an in-process pod; each has a real
// relay on a loopback network with a test CA. While alice's pod is down,
// bob's comments wait in her relay's inbox and arrive when she is back.
// Then, while bob keeps commenting, alice's pod is killed with SIGKILL and
// restarted, again and again: either at a random moment after her relay
// answered a pull with items (she is working on that page), or when she
// asks to acknowledge a page she has stored (the relay holds that request
// until she is dead, so the page comes again). In the end every comment is
// there exactly once: in the API, in the comments table and as one
// Received op each.
func TestFederationInboundSurvivesOfflineAndKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 soak of a real serve process: skipped in -short")
	}
	const (
		offline = 20 // comments while alice is down
		wait    = 60 * time.Second
	)
	// Comments while alice is killed again and again. Under -race the
	// pure-Go SQLite is about 25 times slower (as of 2026-11: alice stores
	// ~8 received comments a second, bob makes ~5), so the soak is smaller.
	soak := 300
	if raceBuild() {
		soak = 60
	}
	began := time.Now()
	ctx := context.Background()
	nw := podnet.NewNetwork(t)
	// Alice's logs are printed when the test fails (or always, with
	// FEDCRASH_DUMP=1; SEEDPOD_LOG=debug makes them chattier).
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("FEDCRASH_DUMP") != "" {
			t.Logf("alice's serve logs (stderr of every process):\n%s", logs.tail(2000))
		}
	})

	ra := startWatchedRelay(t, nw, "alice")
	rb := nw.Relay("bob")
	bob := nw.Pod("bob", podnet.PodOptions{})
	aliceData := filepath.Join(t.TempDir(), "alice")
	start := func() *serveProcess { return startFederatingServe(t, aliceData, nw.CAFile, logs) }

	// Alice: identity (her key is generated in her process while bob's
	// is generated here), relay enrolment.
	alice := start()
	if _, err := alice.call("POST", web.APIPrefix+"/identity", map[string]string{"name": "Alice", "username": "alice"}, nil); err != nil {
		t.Fatal(err)
	}
	bh := bob.Join(t, rb)
	podnet.Eventually(t, wait, "alice's identity key", func() (bool, error) {
		var id pod.Identity
		_, err := alice.call("GET", web.APIPrefix+"/identity", nil, &id)
		if id.Key.State == "failed" {
			t.Fatalf("alice's key generation failed: %s", id.Key.Error)
		}
		return id.Key.State == "ready", err
	})
	var enrolled struct {
		DiasporaID string `json:"diaspora_id"`
	}
	if _, err := alice.call("POST", web.APIPrefix+"/relay", map[string]string{"url": ra.url, "code": ra.invite(t, "alice"), "username": "alice"}, &enrolled); err != nil {
		t.Fatal(err)
	}
	ah := enrolled.DiasporaID
	if ah != "alice@"+ra.domain {
		t.Fatalf("alice enrolled as %q, want alice@%s", ah, ra.domain)
	}

	// Alice and bob share with each other.
	var bobPerson apiv1.Person
	if _, err := alice.call("POST", web.APIPrefix+"/people/discover", map[string]string{"diaspora_id": bh}, &bobPerson); err != nil {
		t.Fatal(err)
	}
	var aspects []apiv1.Aspect
	if _, err := alice.call("GET", web.V1Prefix+"/aspects", nil, &aspects); err != nil {
		t.Fatal(err)
	}
	friends := aspectID(t, aspects, "Friends")
	if _, err := alice.call("POST", fmt.Sprintf("%s/aspects/%d/contacts", web.V1Prefix, friends), map[string]string{"person_guid": bobPerson.GUID}, nil); err != nil {
		t.Fatal(err)
	}
	sp, err := bob.Pod.DiscoverPerson(ctx, ah)
	if err != nil {
		t.Fatalf("bob discovers %s: %v", ah, err)
	}
	bobAspects, _, err := bob.Pod.Aspects(ctx, apiv1.IndexPage{Page: 1, PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Pod.AddToAspect(ctx, aspectID(t, bobAspects, "Friends"), sp.GUID); err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, wait, "alice sees bob as a mutual contact", func() (bool, error) {
		var cs []pod.ContactEntry
		_, err := alice.call("GET", web.APIPrefix+"/contacts?relationship=mutual", nil, &cs)
		for _, c := range cs {
			if c.Person.DiasporaID == bh {
				return true, nil
			}
		}
		return false, err
	})

	// Alice posts publicly; bob gets the post.
	var post apiv1.Post
	if _, err := alice.call("POST", web.V1Prefix+"/posts", map[string]any{"body": "comment on this, bob", "public": true}, &post); err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, wait, "bob has alice's post", func() (bool, error) {
		_, ok, err := store.PostByGUID(ctx, bob.Pod.DB().R, post.GUID)
		return ok, err
	})
	t.Logf("set-up done after %s", time.Since(began).Round(time.Millisecond))

	var (
		mu   sync.Mutex
		sent []string // guids of bob's comments, in the order bob made them
	)
	comment := func(text string) error {
		c, err := bob.Pod.AddComment(ctx, post.GUID, text)
		if err != nil {
			return fmt.Errorf("bob comments %q: %w", text, err)
		}
		mu.Lock()
		sent = append(sent, c.GUID)
		mu.Unlock()
		return nil
	}
	// acked is how many of bob's comments alice has acknowledged to her
	// relay (she acknowledges only what she has stored). Watching the
	// relay rather than alice keeps the soak from loading her process.
	acked := func() (int, error) {
		in, err := ra.unacked()
		return ra.deliveredComments() - len(in.comments), err
	}

	// Offline: alice's pod is stopped; bob's comments wait in her relay's
	// inbox and are processed when she is back.
	alice.stop(t)
	for i := range offline {
		if err := comment(fmt.Sprintf("while you were away %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	podnet.Eventually(t, wait, "bob's offline comments waiting in alice's relay inbox", func() (bool, error) {
		in, err := ra.unacked()
		return len(in.comments) == offline, err
	})
	alice = start()
	podnet.Eventually(t, wait, "alice acknowledges bob's offline comments", func() (bool, error) {
		n, err := acked()
		return n == offline, err
	})
	checkComments(t, alice, post.GUID, sent)
	t.Logf("offline comments arrived after %s", time.Since(began).Round(time.Millisecond))

	// Soak: bob comments from four goroutines while alice's pod is killed
	// at five random points of progress and restarted.
	next := make(chan int, soak)
	for i := range soak {
		next <- i
	}
	close(next)
	produceErr := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range next {
				if err := comment(fmt.Sprintf("soak %d", i)); err != nil {
					produceErr <- err
					return
				}
				time.Sleep(time.Duration(10+rand.IntN(50)) * time.Millisecond)
			}
		})
	}
	produced := make(chan struct{})
	go func() { wg.Wait(); close(produced) }()
	defer func() { <-produced }() // no AddComment after the network closes

	// The kills come at five random points of bob's progress, so they fall
	// while comments flow; each waits for alice to be at work.
	thresholds := killPoints(soak)
	var kills, afterStore int
	soakWait := 2 * wait
	deadline := time.Now().Add(soakWait)
	for kills < len(thresholds) {
		select {
		case err := <-produceErr:
			t.Fatal(err)
		default:
		}
		mu.Lock()
		made := len(sent) - offline
		mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("after %s bob made %d of %d soak comments and alice was killed %d times", soakWait, made, soak, kills)
		}
		if made < thresholds[kills] {
			time.Sleep(time.Duration(10+rand.IntN(20)) * time.Millisecond)
			continue
		}
		// Odd kills while alice works on a page; even kills when she
		// asks to acknowledge one.
		atAck := kills%2 == 1
		var how string
		if atAck {
			release := ra.trapAck()
			if ra.await(ra.acks, wait) {
				how = "when she acknowledged a page"
			} else {
				how = "while idle (nothing left to acknowledge)"
				atAck = false
			}
			alice.kill()
			ra.untrap(release)
		} else {
			ra.drainPulls()
			if ra.await(ra.pulls, wait) {
				time.Sleep(time.Duration(rand.IntN(120)) * time.Millisecond)
				how = "during a page it had pulled"
			} else {
				how = "while idle (nothing left to pull)"
			}
			alice.kill()
		}
		kills++
		// Which of the unacknowledged items were stored already: they
		// come again after the restart and must not count twice.
		stored, dup := inflightStored(t, ra, aliceData, post.GUID)
		if dup > 0 {
			afterStore++
		}
		t.Logf("kill %d %s: %d comments stored, %d of them not acknowledged", kills, how, stored, dup)
		if atAck && dup == 0 {
			t.Fatalf("kill %d: alice asked to acknowledge a page before storing it", kills)
		}
		alice = start()
	}
	<-produced
	select {
	case err := <-produceErr:
		t.Fatal(err)
	default:
	}
	if afterStore == 0 {
		t.Fatal("no kill fell between storing a page and acknowledging it: the soak did not test redelivery")
	}
	// After the last restart alice catches up.
	for {
		n, err := acked()
		in, uerr := ra.unacked()
		if err == nil && uerr == nil && n >= offline+soak && in.total == 0 {
			break
		}
		if time.Now().After(deadline) {
			var ast any
			_, aerr := alice.call("GET", web.APIPrefix+"/relay", nil, &ast)
			t.Fatalf("after %s alice acknowledged %d of %d comments (%v); her relay holds %d unacknowledged items (%d comments; %v), "+
				"saw %d pulls (%d with items) and %d acknowledgements; alice's federation: %v %v",
				soakWait, n, offline+soak, err, in.total, len(in.comments), uerr, ra.nPulls.Load(), ra.nFull.Load(), ra.nAcks.Load(), ast, aerr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	all := append([]string(nil), sent...)
	mu.Unlock()
	checkComments(t, alice, post.GUID, all)
	alice.stop(t)
	checkReceivedOnce(t, aliceData, post.GUID, all)
	t.Logf("%d comments (%d while offline), %d kill -9s (%d between storing and acknowledging), %s in all",
		len(all), offline, kills, afterStore, time.Since(began).Round(time.Millisecond))
}

// raceBuild reports whether this binary was built with -race.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func aspectID(t *testing.T, as []apiv1.Aspect, name string) int64 {
	t.Helper()
	for _, a := range as {
		if a.Name == name {
			return a.ID
		}
	}
	t.Fatalf("no aspect %q in %+v", name, as)
	return 0
}

// checkComments reads a post's comments through alice's API, page by page,
// and wants exactly the guids of want, each once.
func checkComments(t *testing.T, p *serveProcess, postGUID string, want []string) {
	t.Helper()
	seen := map[string]int{}
	path := fmt.Sprintf("%s/posts/%s/comments?per_page=100", web.V1Prefix, postGUID)
	for pages := 0; path != ""; pages++ {
		if pages > 100 {
			t.Fatal("comments: more than 100 pages")
		}
		var cs []apiv1.Comment
		h, err := p.call("GET", path, nil, &cs)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			seen[c.GUID]++
		}
		path = nextLink(h.Get("Link"))
	}
	wanted := map[string]bool{}
	for _, g := range want {
		wanted[g] = true
	}
	var missing, twice, foreign int
	for _, g := range want {
		if seen[g] == 0 {
			missing++
		}
	}
	for g, n := range seen {
		if n > 1 {
			twice++
		}
		if !wanted[g] {
			foreign++
		}
	}
	if missing > 0 || twice > 0 || foreign > 0 || len(wanted) != len(want) {
		t.Fatalf("alice's API lists %d distinct comments for %d sent: %d missing, %d listed more than once, %d unknown",
			len(seen), len(want), missing, twice, foreign)
	}
}

var nextLinkRE = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

func nextLink(h string) string {
	if m := nextLinkRE.FindStringSubmatch(h); m != nil {
		return m[1]
	}
	return ""
}

// checkReceivedOnce opens alice's stopped pod read-only and wants every
// sent comment as exactly one Received op, one st_received row and one
// comments row.
func checkReceivedOnce(t *testing.T, data, postGUID string, want []string) {
	t.Helper()
	db := openReadOnly(t, filepath.Join(data, pod.DatabaseName))
	defer db.Close()
	ops := map[string]int{}
	rows, err := db.Query("SELECT bytes FROM ops WHERE kind = ?", int64(oplog.KindReceived))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		op, err := oplog.Decode(b)
		if err != nil {
			t.Fatalf("an op in alice's log: %v", err)
		}
		var rec oplog.Received
		if err := json.Unmarshal(op.Body, &rec); err != nil {
			t.Fatalf("a Received op's body: %v", err)
		}
		if rec.EntityType == "comment" {
			ops[rec.GUID]++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	count := func(q string, args ...any) map[string]int {
		out := map[string]int{}
		rows, err := db.Query(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var g string
			if err := rows.Scan(&g); err != nil {
				t.Fatal(err)
			}
			out[g]++
		}
		return out
	}
	for _, c := range []struct {
		what string
		got  map[string]int
	}{
		{"Received ops of comments", ops},
		{"st_received rows of comments", count("SELECT guid FROM st_received WHERE entity_type = 'comment'")},
		{"comments rows", count("SELECT guid FROM comments WHERE post_guid = ?", postGUID)},
	} {
		total, missing, twice := 0, 0, 0
		for _, g := range want {
			switch c.got[g] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
		}
		for _, n := range c.got {
			total += n
		}
		if total != len(want) || missing > 0 || twice > 0 {
			t.Errorf("%s: %d for %d comments sent (%d distinct; %d missing, %d more than once)",
				c.what, total, len(want), len(c.got), missing, twice)
		}
	}
}

func openReadOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// inflightStored looks at alice's stopped pod and her relay's inbox: how
// many comments she has stored, and how many of the inbox items she has
// not acknowledged are among them (she stored them and died before the
// acknowledgement; they come again).
func inflightStored(t *testing.T, ra *watchedRelay, data, postGUID string) (stored, dup int) {
	t.Helper()
	in, err := ra.unacked()
	if err != nil {
		t.Fatal(err)
	}
	db := openReadOnly(t, filepath.Join(data, pod.DatabaseName))
	defer db.Close()
	have := map[string]bool{}
	rows, err := db.Query("SELECT guid FROM comments WHERE post_guid = ?", postGUID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		have[g] = true
	}
	for _, g := range in.comments {
		if have[g] {
			dup++
		}
	}
	return len(have), dup
}

// serveProcess is a `seedpod serve` process with federation in test mode,
// logged in through its one-time link.
type serveProcess struct {
	cmd    *exec.Cmd
	base   string
	client *http.Client
	csrf   string
	done   chan struct{} // closed when the process has exited
	err    error         // its exit, once done is closed
}

var servingRE = regexp.MustCompile(`serving your pod at (http://\S+)/`)

func startFederatingServe(t *testing.T, data, caFile string, logs *lockedBuffer) *serveProcess {
	t.Helper()
	return startServeProcess(t, data, logs, "--drafts", "off", "--p2p-listen", "off",
		"--test-outbound-loopback", "--test-outbound-ca", caFile, "--test-key-bits", "2048", "--test-poll-wait", "2s")
}

// startServeProcess starts `seedpod serve --data data` with more flags,
// logs in and takes the session's CSRF token.
func startServeProcess(t *testing.T, data string, logs *lockedBuffer, flags ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, flags...)...)
	cmd.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
	lines := make(chan string, 64)
	fmt.Fprintf(logs, "=== %s: seedpod serve --data %s\n", time.Now().Format("15:04:05.000"), data)
	cmd.Stdout = &lineWriter{lines: lines}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	var login string
	deadline := time.After(30 * time.Second)
	for login == "" {
		select {
		case l := <-lines:
			if m := servingRE.FindStringSubmatch(l); m != nil {
				p.base = m[1]
			}
			if m := loginRE.FindStringSubmatch(l); m != nil {
				login = m[1]
			}
		case <-p.done:
			t.Fatalf("serve exited (%v) before printing a login link", p.err)
		case <-deadline:
			t.Fatal("serve printed no login link in 30 s")
		}
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.client = &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := p.client.Get(login)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var sess struct {
		CSRFToken string `json:"csrf_token"`
	}
	if _, err := p.call("GET", web.APIPrefix+"/session", nil, &sess); err != nil || sess.CSRFToken == "" {
		t.Fatalf("session: %v (token %q)", err, sess.CSRFToken)
	}
	p.csrf = sess.CSRFToken
	return p
}

// call makes one API request with a JSON body (in, when not nil) and
// decodes a 2xx answer into out; anything else is an error.
func (p *serveProcess) call(method, path string, in, out any) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != "GET" {
		req.Header.Set(web.CSRFHeader, p.csrf)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.Header, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: %w: %.200s", method, path, err, b)
		}
	}
	return resp.Header, nil
}

// kill is kill -9: no shutdown, no checkpoint.
func (p *serveProcess) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop is SIGTERM and a clean exit.
func (p *serveProcess) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("serve after SIGTERM: %v", p.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s of SIGTERM")
	}
}

// watchedRelay is a real relay (relay.Open behind TLS from the network's
// CA) whose owner API is watched: every pull that returns items is
// reported on pulls, and an acknowledgement can be trapped (reported on
// acks and held), so a test can kill the pod at either point.
type watchedRelay struct {
	url, domain, data string
	pulls             chan struct{} // a pull returned items
	acks              chan struct{} // a trapped acknowledgement arrived
	db                *sql.DB       // read-only view of the relay's database

	nPulls, nFull, nAcks atomic.Int64 // pulls, pulls with items, acknowledgements

	mu        sync.Mutex
	release   chan struct{}   // non-nil: the next acknowledgement is trapped
	delivered map[string]bool // guids of comments the relay accepted (202)
}

// deliveredComments is how many distinct comments remote pods delivered.
func (w *watchedRelay) deliveredComments() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.delivered)
}

// await waits for an event on ch; false when none came because alice's
// inbox is empty (she has nothing left to pull or acknowledge) or after
// timeout.
func (w *watchedRelay) await(ch <-chan struct{}, timeout time.Duration) bool {
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	empty := 0
	for {
		select {
		case <-ch:
			return true
		case <-deadline:
			return false
		case <-tick.C:
			if in, err := w.unacked(); err == nil && in.total == 0 {
				empty++
			} else {
				empty = 0
			}
			if empty >= 10 { // a second with nothing to do
				return false
			}
		}
	}
}

// trapAck arms the trap for the next acknowledgement: it is reported on
// acks and held, then refused (never reaching the relay) once untrap
// closes the returned channel.
func (w *watchedRelay) trapAck() chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.acks: // from a trap that went off as it was disarmed
	default:
	}
	w.release = make(chan struct{})
	return w.release
}

func (w *watchedRelay) untrap(release chan struct{}) {
	w.mu.Lock()
	if w.release == release {
		w.release = nil
	}
	w.mu.Unlock()
	close(release)
}

func startWatchedRelay(t *testing.T, nw *podnet.Network, name string) *watchedRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := name + ".test"
	w := &watchedRelay{domain: fmt.Sprintf("%s:%d", host, ln.Addr().(*net.TCPAddr).Port),
		data: filepath.Join(t.TempDir(), "relay-"+name), pulls: make(chan struct{}, 64), acks: make(chan struct{}, 1), delivered: map[string]bool{}}
	w.url = "https://" + w.domain
	out := httpclient.New(nw.ClientOptions(httpclient.Options{NoRedirects: true, Timeout: 10 * time.Second}))
	r, err := relay.Open(context.Background(), relay.Config{Domain: w.domain, DataDir: w.data, Version: "test",
		Outbound: out, NoRateLimit: true})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	certPEM, keyPEM, err := nw.CA.Leaf(host)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	inner := r.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.Method == "POST" && req.URL.Path == relay.OwnerPrefix+"/inbox/ack" {
			w.nAcks.Add(1)
			w.mu.Lock()
			release := w.release
			w.release = nil
			w.mu.Unlock()
			if release != nil {
				w.acks <- struct{}{}
				<-release
				http.Error(rw, "held by the test", http.StatusServiceUnavailable)
				return
			}
		}
		if req.Method == "POST" && strings.HasPrefix(req.URL.Path, "/receive/") {
			w.receive(inner, rw, req)
			return
		}
		if req.Method != "GET" || req.URL.Path != relay.OwnerPrefix+"/inbox" {
			inner.ServeHTTP(rw, req)
			return
		}
		tee := &teeWriter{ResponseWriter: rw}
		inner.ServeHTTP(tee, req)
		w.nPulls.Add(1)
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if json.Unmarshal(tee.body.Bytes(), &page) == nil && len(page.Items) > 0 {
			w.nFull.Add(1)
			select {
			case w.pulls <- struct{}{}:
			default:
			}
		}
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	w.db = openReadOnly(t, filepath.Join(r.DataDir(), relay.DatabaseName))
	t.Cleanup(func() {
		w.db.Close()
		srv.Close()
		r.Close()
	})
	return w
}

// receive passes a delivery to the relay and, when it was accepted,
// remembers the comment it carries (public deliveries: the others are
// encrypted).
func (w *watchedRelay) receive(inner http.Handler, rw http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, envelope.MaxEnvelopeBytes+1))
	if err != nil {
		http.Error(rw, "read", http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	sw := &teeWriter{ResponseWriter: rw, status: http.StatusOK}
	inner.ServeHTTP(sw, req)
	if sw.status != http.StatusAccepted {
		return
	}
	if env, err := envelope.Parse(body); err == nil {
		if e, err := entity.Parse(env.Payload); err == nil && e.Type() == "comment" {
			w.mu.Lock()
			w.delivered[entity.GUIDOf(e)] = true
			w.mu.Unlock()
		}
	}
}

func (w *watchedRelay) invite(t *testing.T, username string) string {
	t.Helper()
	code, err := relay.Invite(context.Background(), w.data, username, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (w *watchedRelay) drainPulls() {
	for {
		select {
		case <-w.pulls:
		default:
			return
		}
	}
}

// inboxState is what alice has not acknowledged: every item, and the guids
// of the comments among the public ones.
type inboxState struct {
	total    int
	comments []string
}

func (w *watchedRelay) unacked() (inboxState, error) {
	var st inboxState
	rows, err := w.db.Query(`SELECT username IS NOT NULL, body FROM inbox
		WHERE (username = 'alice' OR username IS NULL) AND id > (SELECT acked FROM identities WHERE username = 'alice')`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var private bool
		var body []byte
		if err := rows.Scan(&private, &body); err != nil {
			return st, err
		}
		st.total++
		if private {
			continue // encrypted to alice
		}
		env, err := envelope.Parse(body)
		if err != nil {
			return st, fmt.Errorf("an inbox item: %w", err)
		}
		e, err := entity.Parse(env.Payload)
		if err != nil {
			return st, fmt.Errorf("an inbox item's entity: %w", err)
		}
		if e.Type() == "comment" {
			st.comments = append(st.comments, entity.GUIDOf(e))
		}
	}
	return st, rows.Err()
}

// teeWriter keeps a copy of the response's status and body.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// lineWriter hands complete lines to a channel (dropping them when nobody
// reads).
type lineWriter struct {
	lines chan string
	buf   []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		select {
		case l.lines <- string(l.buf[:i]):
		default:
		}
		l.buf = l.buf[i+1:]
	}
}

// lockedBuffer collects the logs of every process, safe for concurrent
// writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail is the last n lines.
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(b.buf.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
