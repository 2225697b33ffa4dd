package pair

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// testPeer returns the peer ID of a deterministic Ed25519 key (the form devices use).
func testPeer(tb testing.TB, seed byte) string {
	tb.Helper()
	var s [ed25519.SeedSize]byte
	s[0] = seed
	pub := ed25519.NewKeyFromSeed(s[:]).Public().(ed25519.PublicKey)
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		tb.Fatal(err)
	}
	return id.String()
}

var (
	rsaOnce sync.Once
	rsaDER  []byte
	rsaErr  error
)

// testRSAKey returns a 2048-bit test key (shared vectors) as PKCS#8 DER.
func testRSAKey(tb testing.TB) []byte {
	tb.Helper()
	rsaOnce.Do(func() {
		var p []byte
		p, rsaErr = os.ReadFile("/work/shared/vectors/keys/bob_generated_rsa2048.private.pem")
		if rsaErr != nil {
			return
		}
		b, _ := pem.Decode(p)
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			rsaErr = err
			return
		}
		rsaDER, rsaErr = x509.MarshalPKCS8PrivateKey(k)
	})
	if rsaErr != nil {
		tb.Fatal(rsaErr)
	}
	return rsaDER
}

func testBundle(tb testing.TB, e, n string) Bundle {
	return Bundle{
		Version:  BundleVersion,
		Handle:   "alice@relay.example.org",
		GUID:     "0123456789abcdef0123456789abcdef",
		RelayURL: "https://relay.example.org",
		RSAKey:   testRSAKey(tb),
		Devices: []BundleDevice{
			{Peer: e, Name: "laptop", Addrs: []string{"/ip4/192.168.1.10/tcp/4001", "/ip4/192.168.1.10/udp/4001/quic-v1"}},
			{Peer: n, Name: "desktop"},
		},
	}
}

// result is what one side of an exchange returned.
type result struct {
	dev    Device
	bundle []byte
	err    error
}

// exchange runs Existing on one end of a net.Pipe and Join on the other, remote being the
// peer ID the existing side sees (the transport's word), and returns both results.
func exchange(t testing.TB, w *Window, remote string, code Code, self Device, bundle func(Device) ([]byte, error)) (e, n result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ce, cn := net.Pipe()
	defer ce.Close()
	defer cn.Close()
	done := make(chan result)
	go func() {
		d, err := Existing(ctx, ce, w, remote, bundle)
		ce.Close()
		done <- result{dev: d, err: err}
	}()
	b, err := Join(ctx, cn, code, self)
	cn.Close()
	n = result{bundle: b, err: err}
	e = <-done
	return e, n
}

func staticBundle(b []byte) func(Device) ([]byte, error) {
	return func(Device) ([]byte, error) { return b, nil }
}
