package federation_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/federation"
	"seedpod/pod/httpclient"
	"seedpod/pod/podtest/podnet"
	"seedpod/pod/relay"
	"seedpod/pod/store"
	"seedpod/pod/web"
)

// Benchmarks for issue 6's inbound targets:
//
//   - BenchmarkInboundPublic: ≥ 1,000 public posts per second per core
//     through Engine.Process with the authors' keys cached. Run it with
//     `-cpu 1,2` to see the per-core figure (Process is one goroutine, so
//     GOMAXPROCS mostly buys the runtime and SQLite room beside it).
//   - BenchmarkBacklogDrain: a 50,000-envelope relay backlog drained in
//     ≤ 60 s while the API answers within 50 ms. Runs once; size with
//     SEEDPOD_BENCH_BACKLOG (default 50000); skipped under -short.
//
// As of 2026-11 on the 2-core dev box (Xeon 2.5 GHz, quiet): Inbound
// 984–1,251 posts/s at -cpu 1 (~1,000–1,260 per CPU second; it was
// 540–620 before keys.Verify's math/big path) and ~1,300–1,640 posts/s at
// -cpu 2 (a page verified on every core, payloads parsed on the side);
// backlog of 50,000: 56.0 s (60.8 s before the write prefetch, 112 s before
// the fast verification and the pipelined pull), API p99 24 ms, max 55 ms.
// See the closing notes of issue 6 for the history.
//
// Remote authors sign with 4096-bit keys, as diaspora* generates them: the
// RSA verification is the floor of the inbound cost, and its size matters.
// Signing is the expensive part of the fixture (~16 ms an envelope here),
// so the signed envelopes are built once per test binary and shared by
// every run and both benchmarks (each run opens a fresh pod).

// benchAuthorBits is diaspora's key size.
const benchAuthorBits = 4096

// benchAuthors are the remote people whose posts arrive.
type benchAuthor struct {
	handle string
	guid   string
	key    *rsa.PrivateKey
	pem    string
}

var authors struct {
	once sync.Once
	list []benchAuthor
	err  error
}

// benchAuthors generates four 4096-bit authors once per test binary.
func benchAuthors(tb testing.TB) []benchAuthor {
	tb.Helper()
	authors.once.Do(func() {
		list := make([]benchAuthor, 4)
		errs := make([]error, len(list))
		var wg sync.WaitGroup
		for i := range list {
			wg.Go(func() {
				k, err := keys.Generate(benchAuthorBits)
				if err != nil {
					errs[i] = err
					return
				}
				list[i] = benchAuthor{handle: fmt.Sprintf("author%d@far.test", i), guid: fmt.Sprintf("benchauthor%021d", i),
					key: k, pem: string(keys.MarshalPublic(&k.PublicKey))}
			})
		}
		wg.Wait()
		authors.list, authors.err = list, errors.Join(errs...)
	})
	if authors.err != nil {
		tb.Fatalf("generate %d-bit author keys: %v", benchAuthorBits, authors.err)
	}
	return authors.list
}

// pool holds signed public status messages, grown on demand; entry i is
// by author i%4 with guid benchpost<i>.
var pool struct {
	mu   sync.Mutex
	envs [][]byte
}

// benchEnvelopes returns n distinct signed public status messages (the
// same n on every call), signing the missing ones on every core.
func benchEnvelopes(tb testing.TB, n int) [][]byte {
	tb.Helper()
	as := benchAuthors(tb)
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if have := len(pool.envs); have < n {
		more := make([][]byte, n-have)
		errs := make([]error, runtime.GOMAXPROCS(0))
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := range errs {
			wg.Go(func() {
				for {
					j := int(next.Add(1)) - 1
					if j >= len(more) {
						return
					}
					doc, err := signedPost(as, have+j)
					if err != nil {
						errs[w] = err
						return
					}
					more[j] = doc
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			tb.Fatal(err)
		}
		pool.envs = append(pool.envs, more...)
	}
	return pool.envs[:n]
}

// benchStart is the created_at of post 0; posts are a second apart.
var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// signedPost builds post i: a public status message of typical length
// with a tag and a link (so markup, tags and the search index all work).
func signedPost(as []benchAuthor, i int) ([]byte, error) {
	a := as[i%len(as)]
	m := &entity.StatusMessage{AuthorID: a.handle, ID: fmt.Sprintf("benchpost%023d", i), Public: true,
		CreatedAt: benchStart.Add(time.Duration(i) * time.Second),
		Text: fmt.Sprintf("Post number %d from %s. Walked along the river this morning, the light was "+
			"**lovely** and the herons were out. #walking #post%d — more at [the blog](https://far.test/blog/%d)", i, a.handle, i%50, i)}
	payload, err := entity.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal post %d: %w", i, err)
	}
	doc, err := envelope.Sign(payload, a.handle, a.key)
	if err != nil {
		return nil, fmt.Errorf("sign post %d: %w", i, err)
	}
	return doc, nil
}

// warmEnvelopes are one post per author outside the pool's guid range,
// processed before the timer so the engine's key cache is warm.
var warm struct {
	once sync.Once
	envs [][]byte
	err  error
}

func warmEnvelopes(tb testing.TB) [][]byte {
	tb.Helper()
	as := benchAuthors(tb)
	warm.once.Do(func() {
		for i := range as {
			// 1e9+i: far beyond any pool index, same author as i.
			doc, err := signedPost(as, 1_000_000_000+i)
			if err != nil {
				warm.err = err
				return
			}
			warm.envs = append(warm.envs, doc)
		}
	})
	if warm.err != nil {
		tb.Fatal(warm.err)
	}
	return warm.envs
}

// addAuthors makes the pod know every author (their pinned keys).
func addAuthors(tb testing.TB, p *pod.Pod) {
	tb.Helper()
	for _, a := range benchAuthors(tb) {
		if err := p.AddPerson(context.Background(), store.PersonRecord{GUID: a.guid, DiasporaID: a.handle, PublicKey: a.pem,
			FirstName: "Author", Searchable: true}); err != nil {
			tb.Fatalf("add %s: %v", a.handle, err)
		}
	}
}

// offlineClient reaches nothing: every name fails to resolve.
func offlineClient() *httpclient.Client {
	return httpclient.New(httpclient.Options{NoRedirects: true, Timeout: 2 * time.Second,
		Lookup: func(context.Context, string) ([]netip.Addr, error) {
			return nil, errors.New("benchmark: no network")
		}})
}

// waitKey waits until the pod's identity key is ready.
func waitKey(tb testing.TB, p *pod.Pod) pod.Identity {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		id, err := p.Identity(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		if id.Key.State == "ready" {
			return id
		}
		if id.Key.State == "failed" || time.Now().After(deadline) {
			tb.Fatalf("identity key: %+v", id.Key)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inboxPage is how the relay hands items out (at most 100 a pull).
const inboxPage = 100

func pages(envs [][]byte, firstID int64) [][]relay.InboxItem {
	var out [][]relay.InboxItem
	for start := 0; start < len(envs); start += inboxPage {
		end := min(start+inboxPage, len(envs))
		page := make([]relay.InboxItem, 0, end-start)
		for i := start; i < end; i++ {
			page = append(page, relay.InboxItem{ID: firstID + int64(i), Route: "public",
				ContentType: "application/magic-envelope+xml", Body: envs[i]})
		}
		out = append(out, page)
	}
	return out
}

// BenchmarkInboundPublic feeds b.N public status messages from known
// authors (keys cached) through Engine.Process in relay-sized pages: the
// whole inbound pipeline (parse, verify, receive rules, store in one
// transaction per page) without the network. It also times the bare
// RSA-4096 verification of the same envelopes in the same run
// (verify-µs/op), so posts/s can be read against the verification bound.
//
// Target (issue 6): ≥ 1,000 posts/s per core: compare -cpu 1.
func BenchmarkInboundPublic(b *testing.B) {
	ctx := context.Background()
	envs := benchEnvelopes(b, b.N)
	warmup := warmEnvelopes(b)

	p, err := pod.Open(ctx, pod.Config{DataDir: filepath.Join(b.TempDir(), "pod"), Version: "bench", KeyBits: 2048,
		Federation: &pod.FederationConfig{Outbound: offlineClient(), Relay: offlineClient()}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if _, err := p.CreateIdentity(ctx, "Bench", "bench"); err != nil {
		b.Fatal(err)
	}
	id := waitKey(b, p)
	key, err := p.IdentityKey(ctx)
	if err != nil {
		b.Fatal(err)
	}
	self := federation.Self{GUID: id.GUID, Handle: id.Handle, Username: id.Username, Key: key}
	addAuthors(b, p)
	eng := p.Federation()
	if err := eng.Process(ctx, self, "relay.test", pages(warmup, 1)[0]); err != nil {
		b.Fatal(err)
	}
	ps := pages(envs, 100)
	runtime.GC()

	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for _, page := range ps {
		if err := eng.Process(ctx, self, "relay.test", page); err != nil {
			b.Fatal(err)
		}
	}
	elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
	b.StopTimer()

	if st := eng.Status(); st.Received != int64(b.N+len(warmup)) || st.Rejected != 0 {
		b.Fatalf("after %d posts (+%d warm-up): received %d, rejected %d", b.N, len(warmup), st.Received, st.Rejected)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "posts/cpu-s")
	wall, cpuVerify := verifyMicros(b, envs)
	b.ReportMetric(wall, "verify-µs/op")
	b.ReportMetric(cpuVerify, "verify-cpu-µs/op")
}

// cpuTime is the CPU time (user and system, every thread) the process has
// used. On a shared machine, posts per CPU-second is the steadier figure:
// wall time also counts what other processes took.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// verifyMicros is the mean bare signature check (envelope.Verify, i.e.
// keys.Verify over the signature base) of up to 100 of envs, in µs of
// wall and of CPU time.
func verifyMicros(b *testing.B, envs [][]byte) (wall, cpu float64) {
	keyOf := map[string]*rsa.PublicKey{}
	for _, a := range benchAuthors(b) {
		keyOf[a.handle] = &a.key.PublicKey
	}
	envs = envs[:min(len(envs), 100)]
	parsed := make([]*envelope.Envelope, len(envs))
	for i, doc := range envs {
		e, err := envelope.Parse(doc)
		if err != nil {
			b.Fatal(err)
		}
		parsed[i] = e
	}
	start, cpu0 := time.Now(), cpuTime(b)
	for _, e := range parsed {
		if err := e.Verify(keyOf[e.Sender]); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(len(parsed))
	return float64(time.Since(start).Microseconds()) / n, float64((cpuTime(b) - cpu0).Microseconds()) / n
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkBacklogDrain: a pod that was away comes back to a relay inbox
// of SEEDPOD_BENCH_BACKLOG (default 50,000) public posts from people it
// knows, on the loopback rig (real relay, real HTTPS, inbox pulls of 100
// and acks). It measures the time from reopening the pod until every
// item is stored, while a reader asks the API for the public stream every
// 50 ms, as the UI would.
//
// Targets (issue 6): drained in ≤ 60 s (≥ 833 envelopes/s) and the API
// within 50 ms throughout. One drain is the measurement, whatever b.N is:
// it takes longer than the default -benchtime, so the framework runs it
// once (b.N = 1); read drain-s, not ns/op.
func BenchmarkBacklogDrain(b *testing.B) {
	if testing.Short() {
		b.Skip("signs and drains a backlog of tens of thousands of envelopes")
	}
	n := envInt("SEEDPOD_BENCH_BACKLOG", 50_000)
	prep := time.Now()
	envs := benchEnvelopes(b, n)
	b.Logf("%d signed envelopes ready in %s", n, time.Since(prep).Round(time.Millisecond))

	nw := podnet.NewNetwork(b)
	r := nw.Relay("alice")
	first := nw.Pod("alice", podnet.PodOptions{})
	first.Join(b, r)
	addAuthors(b, first.Pod)
	// Away: nothing pulls while the backlog arrives.
	first.Stop()

	prep = time.Now()
	post(b, nw, r, envs)
	b.Logf("%d envelopes posted to the relay in %s", n, time.Since(prep).Round(time.Millisecond))

	b.ResetTimer()
	start := time.Now()
	back := nw.Pod("alice", podnet.PodOptions{}) // same data directory
	if back.Data != first.Data {
		b.Fatalf("reopened %s, not %s", back.Data, first.Data)
	}
	p := back.Pod
	api, err := web.New(p, web.Options{Mode: web.ModeWindow})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	var lat []time.Duration
	var apiErr error
	var readers sync.WaitGroup
	readers.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			req := httptest.NewRequest("GET", "http://127.0.0.1/api/seedpod/v1/streams/public?per_page=15", nil)
			w := httptest.NewRecorder()
			t0 := time.Now()
			api.ServeHTTP(w, req)
			lat = append(lat, time.Since(t0))
			if w.Code != http.StatusOK && apiErr == nil {
				apiErr = fmt.Errorf("GET streams/public: %d %.200s", w.Code, w.Body)
			}
		}
	})

	var st federation.Status
	deadline := start.Add(10 * time.Minute)
	for {
		st = p.Federation().Status()
		if st.Received+st.Rejected >= int64(n) {
			break
		}
		if time.Now().After(deadline) {
			close(done)
			readers.Wait()
			b.Fatalf("backlog not drained in %s: %+v", time.Since(start).Round(time.Second), st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	drain := time.Since(start)
	b.StopTimer()
	close(done)
	readers.Wait()

	if apiErr != nil {
		b.Fatal(apiErr)
	}
	if st.Rejected != 0 || st.Received != int64(n) {
		b.Fatalf("received %d, rejected %d of %d (last error %q)", st.Received, st.Rejected, n, st.LastError)
	}
	if len(lat) == 0 {
		b.Fatal("the API reader never ran")
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(f float64) float64 { return ms(lat[int(f*float64(len(lat)-1))]) }
	over := 0
	for _, d := range lat {
		if d > 50*time.Millisecond {
			over++
		}
	}
	b.ReportMetric(drain.Seconds(), "drain-s")
	b.ReportMetric(float64(n)/drain.Seconds(), "envelopes/s")
	b.ReportMetric(q(0.50), "api-p50-ms")
	b.ReportMetric(q(0.99), "api-p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "api-max-ms")
	b.ReportMetric(float64(over), "api-over-50ms")
	b.ReportMetric(float64(len(lat)), "api-calls")
}

// post delivers envs to the relay's public inbox from many senders at
// once, as the network would; each one is durable once answered 202.
func post(b *testing.B, nw *podnet.Network, r *podnet.RelayNode, envs [][]byte) {
	b.Helper()
	const senders = 16
	c := httpclient.New(nw.ClientOptions(httpclient.Options{NoRedirects: true, Timeout: 30 * time.Second, MaxConnsPerHost: senders}))
	var next atomic.Int64
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(envs) {
					return
				}
				req, err := http.NewRequestWithContext(context.Background(), "POST", r.URL+"/receive/public", bytes.NewReader(envs[i]))
				if err != nil {
					errs[s] = err
					return
				}
				req.Header.Set("Content-Type", "application/magic-envelope+xml")
				resp, err := c.Do(req)
				if err != nil {
					errs[s] = fmt.Errorf("post envelope %d: %w", i, err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					errs[s] = fmt.Errorf("post envelope %d: status %d", i, resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
}
