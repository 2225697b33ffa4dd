package pod

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// benchOps is the size of the history BenchmarkSyncInitial moves.
const benchOps = 100_000

// seedOps appends n SetField ops to p's log, 1000 per transaction.
func seedOps(b *testing.B, p *Pod, n int) {
	b.Helper()
	ctx := context.Background()
	for done := 0; done < n; {
		k := min(1000, n-done)
		if err := p.log.Write(ctx, func(w *store.Writer) error {
			for i := range k {
				if _, err := w.Append(oplog.SetField{Key: fmt.Sprintf("settings/bench_%d", (done+i)%5000), Value: fmt.Sprint(done + i)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

func headsEqual(ctx context.Context, a, b *Pod) (bool, error) {
	ha, err := a.db.Heads(ctx)
	if err != nil {
		return false, err
	}
	hb, err := b.db.Heads(ctx)
	if err != nil {
		return false, err
	}
	return slices.EqualFunc(ha, hb, func(x, y store.LogHead) bool { return x.Log.Equal(y.Log) && x.Head == y.Head }), nil
}

// BenchmarkSyncInitial: a fresh device joins an identity whose desktop
// holds a history of 100k ops and pulls all of it over libp2p (TCP on
// loopback), pod to pod, every check on. Reports ops/s (target ≥ 20,000).
func BenchmarkSyncInitial(b *testing.B) {
	ctx := context.Background()
	desktop := openSyncPod(b, "desktop")
	readyIdentity(b, desktop, "Alice", "alice")
	seedOps(b, desktop, benchOps)
	hs, _ := desktop.db.Heads(ctx)
	total := 0
	for _, h := range hs {
		total += int(h.Head.Seq)
	}
	b.ResetTimer()
	var elapsed time.Duration
	for i := range b.N {
		b.StopTimer()
		laptop := openSyncPod(b, fmt.Sprintf("laptop%d", i))
		code, err := desktop.OpenPairing(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := laptop.Join(ctx, code.Code); err != nil {
			b.Fatal(err)
		}
		for {
			ok, err := headsEqual(ctx, desktop, laptop)
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		laptop.Close()
		// The desktop forgets the laptop so the next one pairs afresh.
	}
	b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "ops/s")
}

// BenchmarkSyncLive: two paired devices in live mode; one write on the
// desktop until the laptop has applied it. Reports p50 and p99 (target
// p99 ≤ 50 ms).
func BenchmarkSyncLive(b *testing.B) {
	ctx := context.Background()
	desktop := openSyncPod(b, "desktop")
	readyIdentity(b, desktop, "Alice", "alice")
	laptop := openSyncPod(b, "laptop")
	code, err := desktop.OpenPairing(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := laptop.Join(ctx, code.Code); err != nil {
		b.Fatal(err)
	}
	arrived := make(chan struct{}, 1)
	cancel := laptop.log.Listen(func(ch []store.Change) {
		for _, c := range ch {
			if c.Kind == oplog.KindSetField && c.Key == "settings/live" {
				select {
				case arrived <- struct{}{}:
				default:
				}
			}
		}
	})
	defer cancel()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if ok, _ := headsEqual(ctx, desktop, laptop); ok {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the devices did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := desktop.log.Write(ctx, func(w *store.Writer) error {
			_, err := w.Append(oplog.SetField{Key: "settings/live", Value: fmt.Sprint(i)})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			b.Fatalf("write %d did not arrive in 10 s", i)
		}
		lat = append(lat, time.Since(start))
		// Space the writes past the push throttle, as a user's are.
		time.Sleep(15 * time.Millisecond)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
