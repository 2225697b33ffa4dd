package p2p

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

const (
	syncProto = protocol.ID("/seedpod/test-sync/1")
	pairProto = protocol.ID("/seedpod/test-pair/1")
)

var (
	tcpLoopback  = []string{"/ip4/127.0.0.1/tcp/0"}
	quicLoopback = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	bothLoopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1", "/ip6/::1/tcp/0", "/ip6/::1/udp/0/quic-v1"}
)

func testLogger() *slog.Logger {
	if os.Getenv("P2P_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newHost starts a host with echo handlers on syncProto (AdmitPaired) and pairProto
// (AdmitPairing); Close runs at cleanup.
func newHost(t testing.TB, key ed25519.PrivateKey, listen []string) *Host {
	t.Helper()
	if key == nil {
		key = newKey(t)
	}
	h, err := NewHost(context.Background(), Config{
		Key: key, ListenAddrs: listen, Logger: testLogger(),
		DialTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	for _, hd := range []struct {
		p protocol.ID
		a Admission
	}{{syncProto, AdmitPaired}, {pairProto, AdmitPairing}} {
		if err := h.Handle(hd.p, echo, hd.a); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// echo sends back what it reads (at most 64 KiB), then closes.
func echo(s network.Stream) {
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(s, io.LimitReader(s, 64<<10)); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// exchange opens a stream from → to on proto and checks the echo.
func exchange(ctx context.Context, from *Host, to peer.ID, proto protocol.ID) error {
	s, err := from.NewStream(ctx, to, proto)
	if err != nil {
		return err
	}
	_ = s.SetDeadline(time.Now().Add(3 * time.Second))
	msg := []byte(fmt.Sprintf("hello %s over %s", to.ShortString(), proto))
	if _, err := s.Write(msg); err != nil {
		_ = s.Reset()
		return fmt.Errorf("write: %w", err)
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return fmt.Errorf("close write: %w", err)
	}
	got, err := io.ReadAll(io.LimitReader(s, 1024))
	if err != nil {
		_ = s.Reset()
		return fmt.Errorf("read: %w", err)
	}
	_ = s.Close()
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// pair makes every host pair with all others and know their addresses.
func pair(t testing.TB, hs ...*Host) {
	t.Helper()
	for _, a := range hs {
		var ids []peer.ID
		for _, b := range hs {
			if b != a {
				ids = append(ids, b.ID())
			}
		}
		if err := a.SetPaired(ids); err != nil {
			t.Fatal(err)
		}
		for _, b := range hs {
			if b != a && len(b.Addrs()) > 0 {
				if err := a.SetAddrs(b.ID(), b.Addrs()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connsTo(h *Host, p peer.ID) int { return len(h.Libp2p().Network().ConnsToPeer(p)) }
