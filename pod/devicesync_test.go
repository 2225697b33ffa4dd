package pod

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"seedpod/pod/apiv1"
)

// openSyncPod opens a pod with device sync on loopback.
func openSyncPod(t testing.TB, name string) *Pod {
	t.Helper()
	p, err := Open(context.Background(), Config{DataDir: filepath.Join(t.TempDir(), name), KeyBits: 1024, Version: "test",
		Sync: &SyncConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}, DeviceName: name}})
	if err != nil {
		t.Fatal(err)
	}
	if p.sync == nil {
		t.Fatalf("sync did not start: %v", p.syncErr)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func eventually(t testing.TB, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last error: %v)", what, d, last)
}

func readyIdentity(t testing.TB, p *Pod, name, username string) Identity {
	t.Helper()
	ctx := context.Background()
	if _, err := p.CreateIdentity(ctx, name, username); err != nil {
		t.Fatal(err)
	}
	var id Identity
	eventually(t, 30*time.Second, "the identity key", func() (bool, error) {
		var err error
		id, err = p.Identity(ctx)
		return id.Key.State == "ready", err
	})
	return id
}

func publicPost(t testing.TB, p *Pod, body string) apiv1.Post {
	t.Helper()
	yes := apiv1.Bool(true)
	post, err := p.CreatePost(context.Background(), PostInput{Body: body, Public: &yes})
	if err != nil {
		t.Fatal(err)
	}
	return post
}

// Pairing end to end: a fresh device joins with the code the desktop
// shows, receives the identity key and the whole history, publishes as
// the same identity, and both stay in sync live. The code works once. A
// revoked device is disconnected and gets nothing more.
func TestPairAndSync(t *testing.T) {
	ctx := context.Background()
	desktop := openSyncPod(t, "desktop")
	id := readyIdentity(t, desktop, "Alice", "alice")
	var guids []string
	for i := range 3 {
		guids = append(guids, publicPost(t, desktop, fmt.Sprintf("Before the laptop, post %d", i)).GUID)
	}
	if _, err := desktop.CreateAspect(ctx, "Book club"); err != nil {
		t.Fatal(err)
	}

	laptop := openSyncPod(t, "laptop")
	// Refusals first: no window open, a garbled code.
	if _, err := laptop.Join(ctx, "seedpod-pair:1:nonsense"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("join with a garbled code: %v", err)
	}
	code, err := desktop.OpenPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(code.Code, "seedpod-pair:1:") || len(code.QR) < 100 || time.Until(code.Expires) < 9*time.Minute {
		t.Fatalf("pairing code %q, %d bytes of QR, expires %s", code.Code, len(code.QR), code.Expires)
	}
	res, err := laptop.Join(ctx, code.Code)
	if err != nil {
		t.Fatal(err)
	}
	if res.Handle != id.Handle || res.GUID != id.GUID || len(res.Devices) != 2 {
		t.Fatalf("join result %+v, identity %+v", res, id)
	}
	// The whole history arrives: identity, posts, aspects.
	eventually(t, 30*time.Second, "the laptop has the identity and the posts", func() (bool, error) {
		lid, err := laptop.Identity(ctx)
		if err != nil || !lid.Exists || lid.GUID != id.GUID || lid.Key.State != "ready" {
			return false, err
		}
		for _, g := range guids {
			if _, err := laptop.Post(ctx, g); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	dk, _ := desktop.IdentityKey(ctx)
	lk, err := laptop.IdentityKey(ctx)
	if err != nil || !lk.Equal(dk) {
		t.Fatalf("the laptop's identity key: %v", err)
	}
	as, _, err := laptop.Aspects(ctx, apiv1.IndexPage{Page: 1, PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range as {
		found = found || a.Name == "Book club"
	}
	if !found {
		t.Fatalf("aspects on the laptop: %+v", as)
	}
	// The laptop publishes as the identity; the desktop gets it live.
	lp := publicPost(t, laptop, "Written on the laptop")
	eventually(t, 10*time.Second, "the desktop has the laptop's post", func() (bool, error) {
		p, err := desktop.Post(ctx, lp.GUID)
		return err == nil && p.Author.GUID == id.GUID, nil
	})
	dp := publicPost(t, desktop, "Written on the desktop, after pairing")
	eventually(t, 10*time.Second, "the laptop has the desktop's new post", func() (bool, error) {
		_, err := laptop.Post(ctx, dp.GUID)
		return err == nil, nil
	})
	// Both list both devices; the desktop sees the laptop connected.
	devs, err := desktop.Devices(ctx)
	if err != nil || len(devs) != 2 || !devs[0].This || devs[0].Name != "desktop" || devs[1].Name != "laptop" || !devs[1].Connected {
		t.Fatalf("the desktop's devices: %+v %v", devs, err)
	}
	ldevs, err := laptop.Devices(ctx)
	if err != nil || len(ldevs) != 2 || !ldevs[0].This || ldevs[0].Name != "laptop" {
		t.Fatalf("the laptop's devices: %+v %v", ldevs, err)
	}
	// The code was used: a third device cannot join with it.
	third := openSyncPod(t, "third")
	if _, err := third.Join(ctx, code.Code); err == nil {
		t.Fatal("a used code let another device join")
	}
	if _, err := third.Identity(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _, _ := third.storedKey(ctx); k != "" {
		t.Fatal("the refused device stored a key")
	}

	// Revoked: disconnected, and what it writes no longer arrives.
	lkey := hex.EncodeToString(laptop.ThisDevice())
	if err := desktop.RevokeDevice(ctx, lkey); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the revoked laptop is disconnected", func() (bool, error) {
		devs, err := desktop.Devices(ctx)
		if err != nil {
			return false, err
		}
		for _, d := range devs {
			if d.Key == lkey {
				return d.Revoked && !d.Connected, nil
			}
		}
		return false, nil
	})
	late := publicPost(t, laptop, "Written after the revocation")
	time.Sleep(1500 * time.Millisecond) // longer than the reconnect loop's first retry
	if _, err := desktop.Post(ctx, late.GUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a revoked device's post reached the desktop: %v", err)
	}
}
