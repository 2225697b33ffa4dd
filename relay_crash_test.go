package main

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/podtest"
	"seedpod/pod/relay"
	"seedpod/pod/relay/ownerauth"
)

// relayProc is a `seedpod relay` process on a fixed data dir.
type relayProc struct {
	cmd  *exec.Cmd
	port string
}

// relayFixture is what the relay process tests share: a test CA, the
// relay's certificate and data directory, a client that trusts only the CA,
// and alice's identity key.
type relayFixture struct {
	t                       *testing.T
	ca                      *podtest.CA
	cert, key, caFile, data string
	client                  *http.Client
	alice                   *rsa.PrivateKey
}

func newRelayFixture(t *testing.T) *relayFixture {
	t.Helper()
	ca, err := podtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key, err := ca.WriteLeaf(dir, "relay.example")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	alice, err := keys.Generate(2048)
	if err != nil {
		t.Fatal(err)
	}
	return &relayFixture{t: t, ca: ca, cert: cert, key: key, caFile: caFile, data: filepath.Join(dir, "data"),
		client: ca.Client(10 * time.Second), alice: alice}
}

// start runs `seedpod relay` for relay.example on a free loopback port.
func (f *relayFixture) start(extra ...string) *relayProc {
	f.t.Helper()
	args := append([]string{"relay", "--domain", "relay.example", "--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--data", f.data, "--tls-cert", f.cert, "--tls-key", f.key}, extra...)
	return startRelayArgs(f.t, args...)
}

// invite makes an enrollment code with a second process, as an operator
// would while the relay runs.
func (f *relayFixture) invite(user string) string {
	f.t.Helper()
	inv := exec.Command(os.Args[0], "relay", "invite", user, "--data", f.data)
	inv.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
	out, err := inv.Output()
	if err != nil {
		f.t.Fatalf("relay invite: %v %s", err, out)
	}
	return string(bytes.TrimSpace(out))
}

// send makes one request to the relay on port, signed as alice if asked.
func (f *relayFixture) send(port, method, path string, body []byte, signed bool) (int, []byte, error) {
	req, err := http.NewRequest(method, "https://relay.example:"+port+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if signed {
		if err := ownerauth.Sign(req, body, "alice", f.alice, time.Now()); err != nil {
			return 0, nil, err
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// enroll invites and enrolls alice on the relay running on port.
func (f *relayFixture) enroll(port string) {
	f.t.Helper()
	body, _ := json.Marshal(relay.EnrollRequest{Code: f.invite("alice"), Username: "alice",
		GUID: "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", PublicKey: string(keys.MarshalPublic(&f.alice.PublicKey))})
	if st, b, err := f.send(port, "POST", relay.OwnerPrefix+"/enroll", body, true); st != http.StatusCreated {
		f.t.Fatalf("enroll: %d %s %v", st, b, err)
	}
}

func (p *relayProc) kill() {
	p.cmd.Process.Kill() // SIGKILL: no shutdown, no checkpoint
	p.cmd.Wait()
}

// Crash safety of the inbox: deliveries race against kill -9 of the relay;
// every envelope that got a 202 is in the inbox after the restarts.
func TestRelayInboxSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 soak: skipped in -short")
	}
	const deliveries = 1000
	f := newRelayFixture(t)
	client := f.client
	// One enrolled identity, to read the inbox back at the end.
	p := f.start("--rate", "0")
	f.enroll(p.port)

	// Unique, well-formed envelopes from a remote author.
	remote, err := keys.Generate(2048)
	if err != nil {
		t.Fatal(err)
	}
	envs := make([][]byte, deliveries)
	for i := range envs {
		payload := fmt.Sprintf("<status_message>\n  <author>bob@pod-b.example</author>\n  <guid>%032x</guid>\n  <created_at>2026-11-26T10:00:00Z</created_at>\n  <public>true</public>\n  <text>post %d</text>\n</status_message>", i+1, i)
		if envs[i], err = envelope.Sign([]byte(payload), "bob@pod-b.example", remote); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu       sync.Mutex
		accepted = map[int]bool{}
		port     = p.port
	)
	currentPort := func() string { mu.Lock(); defer mu.Unlock(); return port }
	next := make(chan int, deliveries)
	for i := range deliveries {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range 4 { // few senders, so the run spans several kills
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				for try := 0; try < 50; try++ { // a sender retries until it gets its 202
					resp, err := client.Post("https://relay.example:"+currentPort()+"/receive/public",
						"application/magic-envelope+xml", bytes.NewReader(envs[i]))
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusAccepted {
							mu.Lock()
							accepted[i] = true
							mu.Unlock()
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	// Kill -9 the relay at random moments while the deliveries run: at
	// five random points of progress spread over the run.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	thresholds := killPoints(deliveries)
	kills := 0
	progress := func() int { mu.Lock(); defer mu.Unlock(); return len(accepted) }
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(time.Duration(5+rand.IntN(20)) * time.Millisecond):
			if kills < len(thresholds) && progress() >= thresholds[kills] {
				p.kill()
				kills++
				p = f.start("--rate", "0")
				mu.Lock()
				port = p.port
				mu.Unlock()
			}
		}
	}
	if len(accepted) != deliveries {
		t.Fatalf("only %d of %d deliveries ever got a 202", len(accepted), deliveries)
	}
	if kills < 3 {
		t.Fatalf("the deliveries finished after %d kills; the soak needs at least 3 to mean anything", kills)
	}
	p.kill()
	p = f.start("--rate", "0")
	defer p.kill()

	// Read the whole inbox back as alice.
	seen := map[string]bool{}
	after := int64(0)
	for {
		st, b, err := f.send(p.port, "GET", fmt.Sprintf("%s/inbox?limit=100&after=%d", relay.OwnerPrefix, after), nil, true)
		if err != nil || st != 200 {
			t.Fatalf("pull: %d %v", st, err)
		}
		var page relay.InboxPage
		json.Unmarshal(b, &page)
		if len(page.Items) == 0 {
			break
		}
		for _, it := range page.Items {
			seen[string(it.Body)] = true
		}
		after = page.Cursor
	}
	missing := 0
	for i := range deliveries {
		if accepted[i] && !seen[string(envs[i])] {
			missing++
		}
	}
	t.Logf("%d deliveries, %d kill -9s, %d distinct envelopes in the inbox", deliveries, kills, len(seen))
	if missing > 0 {
		t.Fatalf("%d envelopes got a 202 but are not in the inbox", missing)
	}
}

// Crash safety of the outbox: 1,000 items handed over while the relay is
// killed with SIGKILL at random moments all reach the remote pod. Delivery
// is at least once: an item whose POST had gone out when the relay died is
// sent again after the restart (the remote pod ignores a GUID it already
// has, as diaspora does), so duplicates are bounded by what was in flight
// at the kills.
func TestRelayOutboxSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 soak: skipped in -short")
	}
	const items = 1000
	f := newRelayFixture(t)

	// The remote pod: HTTPS on loopback, counting what it receives.
	var mu sync.Mutex
	got := map[string]int{}
	podCert, podKey, err := f.ca.Leaf("pod.example")
	if err != nil {
		t.Fatal(err)
	}
	pair, _ := tls.X509KeyPair(podCert, podKey)
	pod := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[string(b)]++
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	pod.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	pod.StartTLS()
	defer pod.Close()
	podURL := "https://pod.example:" + pod.URL[strings.LastIndex(pod.URL, ":")+1:] + "/receive/public"

	start := func() *relayProc {
		return f.start("--rate", "0", "--test-outbound-loopback", "--test-outbound-ca", f.caFile)
	}
	p := start()
	var pmu sync.Mutex
	port := func() string { pmu.Lock(); defer pmu.Unlock(); return p.port }
	signed := func(method, path string, body []byte) (int, error) {
		st, _, err := f.send(port(), method, path, body, true)
		return st, err
	}
	f.enroll(p.port)

	// Hand over the items in batches, retrying each batch until it gets
	// its 202 (handing over twice is harmless: the relay deduplicates).
	handed := make(chan struct{})
	go func() {
		defer close(handed)
		for b := 0; b < items/100; b++ {
			var req relay.OutboxRequest
			for i := b * 100; i < (b+1)*100; i++ {
				req.Items = append(req.Items, relay.OutboxItem{GUID: fmt.Sprintf("%032x", i+1), Recipient: podURL,
					Body: []byte(fmt.Sprintf("item %d", i))})
			}
			body, _ := json.Marshal(req)
			for {
				if st, err := signed("POST", relay.OwnerPrefix+"/outbox", body); err == nil && st == http.StatusAccepted {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	complete := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == items
	}
	kills := 0
	thresholds := killPoints(items)
	progress := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	// A lost item stalls the delivery for good; a slow machine (the race
	// detector beside other work) only slows it. So the limit is on a
	// stall: no new item for a minute.
	const stall = 60 * time.Second
	lastN, lastAt := 0, time.Now()
	for !complete() {
		if n := progress(); n != lastN {
			lastN, lastAt = n, time.Now()
		} else if time.Since(lastAt) > stall {
			t.Fatalf("the remote pod has %d of %d items, and got none in the last %s", n, items, stall)
		}
		time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond)
		if kills < len(thresholds) && progress() >= thresholds[kills] {
			p.kill()
			kills++
			np := start()
			pmu.Lock()
			p = np
			pmu.Unlock()
		}
	}
	<-handed
	p.kill()
	if kills < 3 {
		t.Fatalf("the deliveries finished after %d kills; the soak needs at least 3 to mean anything", kills)
	}
	dups := 0
	mu.Lock()
	for _, n := range got {
		dups += n - 1
	}
	mu.Unlock()
	t.Logf("%d items, %d kill -9s, %d duplicate deliveries", items, kills, dups)
	// At most what was in flight at each kill: 16 concurrent deliveries.
	if dups > kills*16 {
		t.Fatalf("%d duplicates after %d kills: more than were in flight", dups, kills)
	}
}

func startRelayArgs(t *testing.T, args ...string) *relayProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`listening on https://127\.0\.0\.1:(\d+)/`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stdout)
			return &relayProc{cmd: cmd, port: m[1]}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatalf("relay did not start: %s", stderr.String())
	return nil
}

// killPoints returns five increasing random progress marks spread over n.
func killPoints(n int) []int {
	pts := make([]int, 5)
	for i := range pts {
		lo := n * (2*i + 1) / 12 // 1/12, 3/12, … 9/12 of the way
		pts[i] = lo + rand.IntN(n/12)
	}
	return pts
}
