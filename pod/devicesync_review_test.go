package pod

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"seedpod/pod/oplog"
	"seedpod/pod/store"
	"seedpod/sync/p2p"
)

// pairTwo pairs a fresh "laptop" with desktop (which has the identity) and
// waits until the laptop holds the identity.
func pairTwo(t *testing.T, desktop *Pod, name string) *Pod {
	t.Helper()
	ctx := context.Background()
	laptop := openSyncPod(t, name)
	code, err := desktop.OpenPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.Join(ctx, code.Code); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, name+" has the identity", func() (bool, error) {
		id, err := laptop.Identity(ctx)
		return err == nil && id.Exists, err
	})
	return laptop
}

// A revoked device (same device key, wiped database) that is handed a
// pairing code is refused before the bundle: it must not end up holding
// the identity key while the existing device refuses to register it.
func TestReviewRevokedCannotRepair(t *testing.T) {
	ctx := context.Background()
	desktop := openSyncPod(t, "desktop")
	readyIdentity(t, desktop, "Alice", "alice")
	laptop := pairTwo(t, desktop, "laptop")
	var seed []byte
	if err := laptop.db.W.QueryRowContext(ctx, "SELECT seed FROM device WHERE id = 1").Scan(&seed); err != nil {
		t.Fatal(err)
	}
	if err := desktop.RevokeDevice(ctx, hex.EncodeToString(laptop.ThisDevice())); err != nil {
		t.Fatal(err)
	}
	laptop.Close()

	// A wiped laptop that kept its device key.
	dir := filepath.Join(t.TempDir(), "wiped")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, DatabaseName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.OpenLog(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.ExecContext(ctx, "UPDATE device SET seed = ? WHERE id = 1", seed); err != nil {
		t.Fatal(err)
	}
	db.Close()
	wiped, err := Open(ctx, Config{DataDir: dir, KeyBits: 1024, Version: "test",
		Sync: &SyncConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DeviceName: "wiped"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wiped.Close() })
	if !wiped.ThisDevice().Equal(laptop.ThisDevice()) {
		t.Fatal("the wiped pod did not keep the device key")
	}

	code, err := desktop.OpenPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wiped.Join(ctx, code.Code); !errors.Is(err, ErrForbidden) {
		t.Errorf("a revoked device joined again: %v, want ErrForbidden", err)
	}
	if k, _, err := wiped.storedKey(ctx); err != nil || k != "" {
		t.Errorf("the revoked device holds the identity key after pairing (%v)", err)
	}
}

// Join stores the identity key and the registry together: when the
// registry cannot be written, no key is left behind (a pod with the key
// but no registry can never sync nor join again).
func TestReviewJoinAtomic(t *testing.T) {
	ctx := context.Background()
	desktop := openSyncPod(t, "desktop")
	readyIdentity(t, desktop, "Alice", "alice")
	laptop := openSyncPod(t, "laptop")
	// The laptop's registry refuses the desktop (revoked there before).
	dk := hex.EncodeToString(desktop.ThisDevice())
	if err := laptop.RegisterDevices(ctx, map[string]string{dk: "desktop"}); err != nil {
		t.Fatal(err)
	}
	if err := laptop.RevokeDevice(ctx, dk); err != nil {
		t.Fatal(err)
	}
	code, err := desktop.OpenPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.Join(ctx, code.Code); err == nil {
		t.Fatal("the join succeeded with a registry that refuses the desktop")
	}
	k, _, err := laptop.storedKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k != "" {
		t.Fatal("a failed join left the identity key stored (half-joined)")
	}
}

// A device restored from an older copy (its database copied before it
// wrote more), told so by two peers at once, goes on in one new epoch:
// not one per session.
func TestReviewRestoredNewEpoch(t *testing.T) {
	ctx := context.Background()
	a := openSyncPod(t, "a")
	readyIdentity(t, a, "Alice", "alice")
	b := pairTwo(t, a, "b")
	c := pairTwo(t, a, "c")
	converge3 := func(what string) {
		eventually(t, 30*time.Second, what, func() (bool, error) {
			ha, err := a.db.Heads(ctx)
			if err != nil {
				return false, err
			}
			for _, p := range []*Pod{b, c} {
				hp, err := p.db.Heads(ctx)
				if err != nil || fmt.Sprint(hp) != fmt.Sprint(ha) {
					return false, err
				}
			}
			return true, nil
		})
	}
	converge3("a, b and c converge")

	// Copy a's database as it is now (the "backup"), then write on.
	backup := filepath.Join(t.TempDir(), DatabaseName)
	if _, err := a.db.W.ExecContext(ctx, "VACUUM INTO ?", backup); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		publicPost(t, a, fmt.Sprintf("after the backup %d", i))
	}
	converge3("the posts after the backup reach b and c")
	aID := a.log.ID()
	aPeer := a.sync.host.ID()
	a.Close()
	// b and c hear of the restored copy at the same moment, so both their
	// sessions tell it at once.
	for _, p := range []*Pod{b, c} {
		if err := p.sync.setBlocked(ctx, aPeer); err != nil {
			t.Fatal(err)
		}
	}
	restored, err := Open(ctx, Config{DataDir: filepath.Dir(backup), KeyBits: 1024, Version: "test",
		Sync: &SyncConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DeviceName: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restored.Close() })
	if !restored.log.ID().Equal(aID) {
		t.Fatalf("the restored copy runs log %s, want %s", restored.log.ID(), aID)
	}
	var addrs []ma.Multiaddr
	for _, s := range restored.SyncAddrs() {
		m, err := ma.NewMultiaddr(s[:strings.Index(s, "/p2p/")])
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, m)
	}
	time.Sleep(300 * time.Millisecond)
	var wg sync.WaitGroup
	for _, p := range []*Pod{b, c} {
		if err := p.sync.host.SetAddrs(aPeer, addrs); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := p.sync.setBlocked(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	eventually(t, 30*time.Second, "the restored copy starts a new epoch", func() (bool, error) {
		return !restored.log.ID().Equal(aID), nil
	})
	time.Sleep(2 * time.Second) // both sessions have said so by now
	var epochs []oplog.LogID
	hs, err := restored.db.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Log.Device.Equal(aID.Device) {
			epochs = append(epochs, h.Log)
		}
	}
	if got := restored.log.ID(); !slices0(epochs, got) {
		epochs = append(epochs, got) // the new epoch has no op yet
	}
	if len(epochs) != 2 {
		t.Fatalf("the restored device has logs %v: want the old epoch and one new one", epochs)
	}
}

func slices0(ls []oplog.LogID, l oplog.LogID) bool {
	for _, x := range ls {
		if x.Equal(l) {
			return true
		}
	}
	return false
}

// Close stops the libp2p host: nothing listens on its addresses after.
func TestReviewCloseStopsHost(t *testing.T) {
	p, err := Open(context.Background(), Config{DataDir: filepath.Join(t.TempDir(), "p"), KeyBits: 1024, Version: "test",
		Sync: &SyncConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DeviceName: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	var tcp string
	for _, a := range p.sync.host.Addrs() {
		if port, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			tcp = "127.0.0.1:" + port
		}
	}
	if tcp == "" {
		t.Fatal("no TCP address")
	}
	if c, err := net.Dial("tcp", tcp); err != nil {
		t.Fatalf("the host does not listen while open: %v", err)
	} else {
		c.Close()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", tcp); err == nil {
		c.Close()
		t.Fatal("the libp2p host still listens after Close")
	}
}

// Close returns while many devices are connected: the session manager's
// connection-event subscription must not block the host's shutdown (each
// disconnection is an event; a full, unread subscription stalls the swarm
// that emits them).
func TestReviewCloseWithManyPeers(t *testing.T) {
	ctx := context.Background()
	p, err := Open(ctx, Config{DataDir: filepath.Join(t.TempDir(), "p"), KeyBits: 1024, Version: "test",
		Sync: &SyncConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DeviceName: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	closing := false // a hung Close is not called again by the cleanup
	t.Cleanup(func() {
		if !closing {
			p.Close()
		}
	})
	const n = 24
	devs := map[string]string{}
	var hosts []*p2p.Host
	for i := range n {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		h, err := p2p.NewHost(ctx, p2p.Config{Key: priv, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		if err := h.SetPaired([]peer.ID{p.sync.host.ID()}); err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
		devs[hex.EncodeToString(pub)] = fmt.Sprintf("device %d", i)
	}
	if err := p.RegisterDevices(ctx, devs); err != nil {
		t.Fatal(err)
	}
	ai := p.sync.host.AddrInfo()
	eventually(t, 10*time.Second, "the pod admits every device", func() (bool, error) {
		return len(p.sync.host.Paired()) == n, nil
	})
	for _, h := range hosts {
		if err := h.Connect(ctx, ai); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "every device is connected", func() (bool, error) {
		for _, h := range hosts {
			if !p.sync.host.Connected(h.ID()) {
				return false, nil
			}
		}
		return true, nil
	})
	done := make(chan error, 1)
	closing = true
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Pod.Close hangs with many devices connected")
	}
}

// Pairing another device keeps the name the user gave this one: the
// existing device registers itself only when it is not registered yet.
func TestReviewPairingKeepsOwnName(t *testing.T) {
	ctx := context.Background()
	desktop := openSyncPod(t, "desktop")
	readyIdentity(t, desktop, "Alice", "alice")
	pairTwo(t, desktop, "laptop")
	self := hex.EncodeToString(desktop.ThisDevice())
	if err := desktop.RenameDevice(ctx, self, "Work desktop"); err != nil {
		t.Fatal(err)
	}
	pairTwo(t, desktop, "phone")
	eventually(t, 10*time.Second, "the phone is registered", func() (bool, error) {
		devs, err := desktop.RegisteredDevices(ctx)
		return len(devs) == 3, err
	})
	devs, err := desktop.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !devs[0].This || devs[0].Name != "Work desktop" {
		t.Fatalf("after pairing the phone the desktop is named %q, want the user's %q", devs[0].Name, "Work desktop")
	}
}

// A peer whose session stream hangs while being opened must not delay a
// revocation: the session manager once opened streams one by one on its
// own goroutine, so a hanging dial (up to 20 s) held up the registry
// refresh that disconnects a revoked device, which went on receiving ops.
func TestReviewHangingDialDoesNotDelayRevoke(t *testing.T) {
	ctx := context.Background()
	desktop := openSyncPod(t, "desktop")
	readyIdentity(t, desktop, "Alice", "alice")
	self := desktop.sync.host.ID()
	// Session streams are opened by the smaller peer ID: the desktop opens
	// to x (whose dial will hang), r opens to the desktop.
	var x, r *Pod
	for i := 0; x == nil || r == nil; i++ {
		if i > 64 {
			t.Fatal("no device keys on both sides of the desktop's")
		}
		c := openSyncPod(t, fmt.Sprintf("cand%d", i))
		switch id := c.sync.host.ID(); {
		case id > self && x == nil:
			x = c
		case id < self && r == nil:
			r = c
		default:
			c.Close()
		}
	}
	join := func(p *Pod) {
		t.Helper()
		code, err := desktop.OpenPairing(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Join(ctx, code.Code); err != nil {
			t.Fatal(err)
		}
	}
	join(r)
	rkey := hex.EncodeToString(r.ThisDevice())
	connected := func(key string) (bool, error) {
		devs, err := desktop.Devices(ctx)
		if err != nil {
			return false, err
		}
		for _, d := range devs {
			if d.Key == key {
				return d.Connected, nil
			}
		}
		return false, nil
	}
	eventually(t, 30*time.Second, "r is connected", func() (bool, error) { return connected(rkey) })

	xID := x.sync.host.ID()
	ds := desktop.sync
	ds.mu.Lock()
	orig := ds.openStream
	ds.openStream = func(ctx context.Context, pid peer.ID) (network.Stream, error) {
		if pid == xID {
			<-ctx.Done() // the dial hangs until its timeout
			return nil, ctx.Err()
		}
		return orig(ctx, pid)
	}
	ds.mu.Unlock()
	join(x)
	eventually(t, 30*time.Second, "the desktop is opening a session to x", func() (bool, error) {
		ds.mu.Lock()
		defer ds.mu.Unlock()
		return ds.opening[xID], nil
	})

	start := time.Now()
	if err := desktop.RevokeDevice(ctx, rkey); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the revoked r is disconnected", func() (bool, error) {
		c, err := connected(rkey)
		return !c, err
	})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the revoked device stayed connected %s while another dial hung", d)
	}
	ds.mu.Lock()
	stillOpening := ds.opening[xID]
	ds.mu.Unlock()
	if !stillOpening {
		t.Error("the hanging dial ended before the revocation was checked: the test proved nothing")
	}
}
