package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"seedpod/pod/internal/vectors"
	"seedpod/sync/p2p"
)

// newP2PRig is newRig with the circuit relay on loopback.
func newP2PRig(t testing.TB) *rig {
	t.Helper()
	return newRigWith(t, func(c *Config) {
		c.NoRateLimit = true
		c.P2PListen = []string{"/ip4/127.0.0.1/tcp/0"}
	})
}

const echoProto = "/seedpod-review/echo/1"

// reviewDevice is a device host that listens on nothing (reachable only
// through the relay) and echoes one byte on echoProto.
type reviewDevice struct {
	h   *p2p.Host
	key string // hex public key
}

func newReviewDevice(t *testing.T) reviewDevice {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2p.NewHost(context.Background(), p2p.Config{Key: priv, ListenAddrs: []string{}, DialTimeout: 3 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.Handle(echoProto, func(s network.Stream) {
		defer s.Close()
		b := make([]byte, 1)
		if _, err := io.ReadFull(s, b); err == nil {
			s.Write(b)
		}
	}, p2p.AdmitPaired); err != nil {
		t.Fatal(err)
	}
	return reviewDevice{h: h, key: hex.EncodeToString(pub)}
}

// reaches: from opens an echo stream to to (through the relay) and gets
// its byte back.
func reaches(from, to reviewDevice) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	s, err := from.h.NewStream(ctx, to.h.ID(), echoProto)
	if err != nil {
		return err
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := s.Write([]byte{7}); err != nil {
		return err
	}
	b := make([]byte, 1)
	_, err = io.ReadFull(s, b)
	return err
}

// The circuit relay's ACL goes by identity: another identity listing one
// of alice's device keys (PUT /devices takes any key) must not cut alice's
// own devices off from each other through the relay.
func TestReviewRelayACLSharedDevice(t *testing.T) {
	g := newP2PRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	d1, d2, bd := newReviewDevice(t), newReviewDevice(t), newReviewDevice(t)
	// Every device admits every other: only the relay decides.
	all := []peer.ID{d1.h.ID(), d2.h.ID(), bd.h.ID()}
	for _, d := range []reviewDevice{d1, d2, bd} {
		if err := d.h.SetPaired(all); err != nil {
			t.Fatal(err)
		}
	}
	put := func(who string, k any, devs ...string) {
		t.Helper()
		b, _ := json.Marshal(DevicesRequest{Devices: devs})
		sign := signer(t, who, ka)
		if who == "bob" {
			sign = signer(t, who, kb)
		}
		if st, body := g.do("PUT", OwnerPrefix+"/devices", b, sign); st != 200 {
			t.Fatalf("PUT devices as %s: %d %s", who, st, body)
		}
	}
	put("alice", ka, d1.key, d2.key)
	put("bob", kb, bd.key, d1.key) // bob claims alice's d1
	ai := g.relay.p2p.AddrInfo()
	for _, d := range []reviewDevice{d1, d2, bd} {
		if err := d.h.Reserve(context.Background(), ai); err != nil {
			t.Fatalf("reserve: %v", err)
		}
	}
	if err := reaches(d2, d1); err != nil {
		t.Errorf("alice's d2 cannot reach alice's d1 through the relay once bob listed d1: %v", err)
	}
	if err := reaches(d1, d2); err != nil {
		t.Errorf("alice's d1 cannot reach alice's d2 through the relay once bob listed d1: %v", err)
	}
	// Alice takes d2 off her list: the relay drops its connection (and
	// with it the reservation and circuits) at once, and no new circuit
	// reaches it.
	put("alice", ka, d1.key)
	deadline := time.Now().Add(3 * time.Second)
	for d2.h.Libp2p().Network().Connectedness(ai.ID) == network.Connected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d2.h.Libp2p().Network().Connectedness(ai.ID) == network.Connected {
		t.Error("the relay kept its connection to d2 after alice removed it")
	}
	d2.h.Libp2p().Network().ClosePeer(d1.h.ID())
	d1.h.Libp2p().Network().ClosePeer(d2.h.ID())
	if err := reaches(d1, d2); err == nil {
		t.Error("d1 reached d2 through the relay after alice removed d2")
	}
}

// A device that keeps pulling the inbox is active even when it had
// nothing to acknowledge for a while: the others' acknowledgements must
// not delete an item it has not pulled yet.
func TestReviewPullingDeviceKeepsItems(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	sign := signer(t, "alice", ka)
	d1, d2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	b, _ := json.Marshal(DevicesRequest{Devices: []string{d1, d2}})
	if st, body := g.do("PUT", OwnerPrefix+"/devices", b, sign); st != 200 {
		t.Fatalf("PUT devices: %d %s", st, body)
	}
	// d1 acknowledged nothing for longer than deviceIdle (the inbox was
	// quiet), but it is online and pulls.
	if _, err := g.relay.db.W.Exec("UPDATE devices SET seen_at = 0 WHERE device = ?", d1); err != nil {
		t.Fatal(err)
	}
	if p := g.pull("alice", ka, "?device="+d1); len(p.Items) != 0 {
		t.Fatalf("d1's first pull: %d items", len(p.Items))
	}
	private := vectors.Read(t, "generated/envelopes/private_status_message.encrypted.json")
	if st, body := g.do("POST", "/receive/users/"+guidA, private, nil); st != 202 {
		t.Fatalf("deliver: %d %s", st, body)
	}
	p2 := g.pull("alice", ka, "?device="+d2)
	if len(p2.Items) != 1 {
		t.Fatalf("d2's pull: %d items", len(p2.Items))
	}
	ack, _ := json.Marshal(AckRequest{UpTo: p2.Cursor, Device: d2})
	if st, body := g.do("POST", OwnerPrefix+"/inbox/ack", ack, sign); st != 200 {
		t.Fatalf("ack d2: %d %s", st, body)
	}
	if p := g.pull("alice", ka, "?device="+d1); len(p.Items) != 1 {
		t.Fatalf("d1, pulling all along, lost the item d2 acknowledged: %d items", len(p.Items))
	}
}
