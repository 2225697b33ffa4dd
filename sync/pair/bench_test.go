package pair

import (
	"testing"
	"time"
)

// BenchmarkExchange runs the whole pairing (five frames, three MACs each side, HKDF, a
// real bundle sealed: a 2048-bit key and two devices, about 2 KiB) over net.Pipe, with a
// fresh window each time.
func BenchmarkExchange(b *testing.B) {
	f := newFixture(b, time.Now())
	for b.Loop() {
		w, err := NewWindow(f.e, nil, DefaultTTL, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		e, n := exchange(b, w, f.n, w.Code(), f.self, staticBundle(f.bundle))
		if e.err != nil || n.err != nil {
			b.Fatal(e.err, n.err)
		}
	}
}

// BenchmarkParseCode is what a paste costs.
func BenchmarkParseCode(b *testing.B) {
	w, err := NewWindow(testPeer(b, 1), []string{"/ip4/192.168.1.10/tcp/4001", "/ip6/fe80::1/udp/4001/quic-v1"}, DefaultTTL, t0)
	if err != nil {
		b.Fatal(err)
	}
	s := w.Code().Format()
	for b.Loop() {
		if _, err := ParseCode(s, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseBundle is dominated by checking the RSA key.
func BenchmarkParseBundle(b *testing.B) {
	data, err := testBundle(b, testPeer(b, 1), testPeer(b, 2)).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParseBundle(data); err != nil {
			b.Fatal(err)
		}
	}
}
