package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"seedpod/pod"
)

// Scale benchmarks: a pod seeded with SEEDPOD_BENCH_POSTS posts (default
// 100,000) and SEEDPOD_BENCH_CONTACTS contacts (default 1,000) through the
// op log, then API requests over loopback. Each reports p50 and p99 in
// milliseconds (the budgets: stream page p99 ≤ 5 ms, search p99 ≤
// 50 ms) and the seeding rate in ops/s. The fixture is built once per test
// process.

var scale struct {
	once  sync.Once
	srv   *httptest.Server
	err   error
	posts int
	rate  float64
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func scaleServer(b *testing.B) *httptest.Server {
	scale.once.Do(func() {
		dir, err := os.MkdirTemp("", "seedpod-scale-")
		if err != nil {
			scale.err = err
			return
		}
		p, err := pod.Open(context.Background(), pod.Config{DataDir: filepath.Join(dir, "data"), KeyBits: 1024})
		if err != nil {
			scale.err = err
			return
		}
		scale.posts = envInt("SEEDPOD_BENCH_POSTS", 100_000)
		start := time.Now()
		if err := p.Seed(context.Background(), pod.SeedOptions{Posts: scale.posts, Contacts: envInt("SEEDPOD_BENCH_CONTACTS", 1000), Seed: 1}); err != nil {
			scale.err = err
			return
		}
		heads, err := p.DB().Heads(context.Background())
		if err != nil {
			scale.err = err
			return
		}
		var ops uint64
		for _, h := range heads {
			ops += h.Head.Seq
		}
		scale.rate = float64(ops) / time.Since(start).Seconds()
		h, err := New(p, Options{Mode: ModeWindow})
		if err != nil {
			scale.err = err
			return
		}
		scale.srv = httptest.NewServer(h)
		// The fixture lives for the process: benchmarks share it.
	})
	if scale.err != nil {
		b.Fatal(scale.err)
	}
	return scale.srv
}

// latency runs GET path b.N times and reports p50 and p99 in ms.
func latency(b *testing.B, path string) {
	srv := scaleServer(b)
	client := srv.Client()
	get := func() {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	get() // warm the page cache and statements
	var ds []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		get()
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	q := func(f float64) float64 { return float64(ds[int(f*float64(len(ds)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(scale.posts), "posts")
	b.ReportMetric(scale.rate, "seed-ops/s")
}

func BenchmarkScaleStreamMain(b *testing.B) { latency(b, "/api/v1/streams/main?per_page=15") }
func BenchmarkScaleStreamPublic(b *testing.B) {
	latency(b, "/api/seedpod/v1/streams/public?per_page=15")
}
func BenchmarkScaleStreamDeep(b *testing.B) {
	// A page far back: the cursor's id bound must keep it an index seek.
	latency(b, "/api/v1/streams/main?per_page=15&before="+time.Now().Add(-time.Duration(envInt("SEEDPOD_BENCH_POSTS", 100_000)/2)*time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"))
}
func BenchmarkScaleStreamTag(b *testing.B) { latency(b, "/api/v1/search/posts?tag=music&per_page=15") }
func BenchmarkScaleSearchCommon(b *testing.B) {
	latency(b, "/api/seedpod/v1/search?q=the&in=posts&per_page=15")
}
func BenchmarkScaleSearchRare(b *testing.B) {
	latency(b, "/api/seedpod/v1/search?q=seedpod+federation&in=posts,comments&per_page=15")
}
func BenchmarkScaleSearchRelevance(b *testing.B) {
	latency(b, "/api/seedpod/v1/search?q=garden&sort=relevance&per_page=15")
}
