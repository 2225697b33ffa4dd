package session

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Benchmarks, both ends in one process over TCP on 127.0.0.1 with real
// SQLite on both sides (go test -run '^$' -bench . ./sync/session).
//
// Targets (docs/sync.md, notes/sync.md §4.3): initial sync ≥ 20,000 ops/s;
// live propagation p99 ≤ 50 ms. BenchmarkApplyBaseline is the same ops
// through Replica.Apply alone, in the same batches, without a session: the
// ceiling the session can reach.

const benchOps = 100_000

var benchSources sync.Map // mix → *replica (the source database, built once)

// benchSource is a replica holding benchOps ops of the given mix, built
// once per test binary.
func benchSource(b *testing.B, mix string) *replica {
	if r, ok := benchSources.Load(mix); ok {
		return r.(*replica)
	}
	// Not b.TempDir: the source outlives the sub-benchmark that built it.
	dir, err := osMkdirTemp()
	if err != nil {
		b.Fatal(err)
	}
	r := &replica{t: b, name: "src-" + mix, path: dir + "/pod.db", subs: map[int]chan struct{}{}}
	r.open()
	start := time.Now()
	rnd := newGen(1<<8 | 1)
	ctx := context.Background()
	for done := 0; done < benchOps; done += 1000 {
		err := r.log.Write(ctx, func(w *store.Writer) error {
			for i := range 1000 {
				var body oplog.Body
				switch mix {
				case "fields":
					if i%2 == 0 {
						body = oplog.SetField{Key: fmt.Sprintf("setting/%d", (done+i)%500), Value: fmt.Sprint(done + i)}
					} else {
						body = oplog.SetAdd{Set: "tags", Member: fmt.Sprintf("tag%d", (done+i)%300)}
					}
				default:
					var err error
					if body, err = rnd.body(ctx, w); err != nil {
						return err
					}
				}
				if _, err := w.Append(body); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	r.t = nil // not tied to the building benchmark
	b.Logf("source %q: %d ops written in %s", mix, benchOps, time.Since(start).Round(time.Millisecond))
	benchSources.Store(mix, r)
	return r
}

// BenchmarkInitialSync: 100k ops from one replica to an empty one.
func BenchmarkInitialSync(b *testing.B) {
	for _, mix := range []string{"fields", "mixed"} {
		b.Run(mix, func(b *testing.B) {
			src := benchSource(b, mix)
			src.t = b
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				dst := openReplica(b, "dst")
				b.StartTimer()
				start := time.Now()
				ra, rb := pair(b, src, dst, pairOpts{tcp: true, timeout: 5 * time.Minute})
				total += time.Since(start)
				if !orderly(ra.err) || !orderly(rb.err) || rb.stats.OpsApplied != benchOps {
					b.Fatalf("sync ended with %v / %v, %d ops applied", ra.err, rb.err, rb.stats.OpsApplied)
				}
			}
			b.ReportMetric(float64(benchOps*b.N)/total.Seconds(), "ops/s")
		})
	}
}

// BenchmarkApplyBaseline: the same ops read from the source and applied
// to an empty replica in batches of 1000, one after another, no session.
func BenchmarkApplyBaseline(b *testing.B) {
	for _, mix := range []string{"fields", "mixed"} {
		b.Run(mix, func(b *testing.B) {
			src := benchSource(b, mix)
			src.t = b
			ctx := context.Background()
			heads, err := src.Heads(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var batches [][]oplog.Signed
			for from := uint64(1); from <= heads[0].Head.Seq; from += 1000 {
				ops, err := src.Ops(ctx, heads[0].Log, from, 1000)
				if err != nil {
					b.Fatal(err)
				}
				batches = append(batches, ops)
			}
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				dst := openReplica(b, "dst")
				b.StartTimer()
				start := time.Now()
				for _, batch := range batches {
					if _, err := dst.Apply(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(benchOps*b.N)/total.Seconds(), "ops/s")
		})
	}
}

// BenchmarkLivePropagation: one write on a until it is committed in b's
// database, with the session open; p50 and p99 in ms.
func BenchmarkLivePropagation(b *testing.B) {
	a, c := openReplica(b, "a"), openReplica(b, "b")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pair(b, a, c, pairOpts{tcp: true, keepOpen: true, stop: stop})
	}()
	changed, unregister := c.Changed()
	defer unregister()
	ctx := context.Background()
	self := a.self()
	seen := func(seq uint64) bool {
		hs, err := c.db.Heads(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, h := range hs {
			if h.Log.Equal(self) {
				return h.Head.Seq >= seq
			}
		}
		return false
	}
	var lat []time.Duration
	seq := uint64(0)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := a.log.Write(ctx, func(w *store.Writer) error {
			_, err := w.Append(oplog.SetField{Key: "live", Value: fmt.Sprint(i)})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		seq++
		for !seen(seq) {
			select {
			case <-changed:
			case <-time.After(5 * time.Second):
				b.Fatalf("write %d not seen in 5 s", seq)
			}
		}
		lat = append(lat, time.Since(start))
		// Writes 20 ms apart: each one is a live push after a quiet time.
		b.StopTimer()
		time.Sleep(20 * time.Millisecond)
		b.StartTimer()
	}
	close(stop)
	<-done
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "seedpod-sync-bench-") }

func TestMain(m *testing.M) {
	code := m.Run()
	benchSources.Range(func(_, v any) bool {
		r := v.(*replica)
		r.close()
		os.RemoveAll(filepath.Dir(r.path))
		return true
	})
	os.Exit(code)
}
