package relay

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"seedpod/pod/internal/vectors"
)

// BenchmarkReceivePublic is the relay's inbox throughput: concurrent remote
// pods POST public envelopes over loopback HTTP and each waits for its 202,
// which the relay sends only after the group commit holding the envelope
// has been fsynced (synchronous=FULL). ns/op is per delivery across all
// senders, so 1e9/ns_per_op is deliveries per second. Target (issue 5):
// ≥ 2,000/s on this 2-core machine.
func BenchmarkReceivePublic(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(map[int]string{1: "1_sender", 64: "64_senders"}[senders], func(b *testing.B) {
			r, err := Open(context.Background(), Config{Domain: domain, DataDir: filepath.Join(b.TempDir(), "relay"), MaxInbox: 10_000_000, NoRateLimit: true})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			srv := httptest.NewServer(r.Handler())
			defer srv.Close()
			env := vectors.Read(b, "generated/envelopes/public_status_message.xml")
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
			b.SetParallelism((senders + 1) / 2) // RunParallel starts parallelism × GOMAXPROCS goroutines
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(srv.URL+"/receive/public", "application/magic-envelope+xml", bytes.NewReader(env))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
