package federation_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"seedpod/pod/httpclient"
	"seedpod/pod/podtest/podnet"
	"seedpod/pod/relayclient"
)

// With a second device in alice's registry, her engine tells her relay
// the device list and pulls with this device's own cursor: her relay
// lists both devices, this one's cursor moves as she receives, the other
// (which never pulls) holds its place, and a revoked device leaves the
// relay's list.
func TestDevicesOnTheRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts relays and pods")
	}
	w := newWorld(t)
	ctx := w.ctx
	laptop := strings.Repeat("ab", 32)
	self := hex.EncodeToString(w.alice.Pod.ThisDevice())
	if err := w.alice.Pod.RegisterDevices(ctx, map[string]string{laptop: "Laptop"}); err != nil {
		t.Fatal(err)
	}
	key, err := w.alice.Pod.IdentityKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := relayclient.New(w.ra.URL, "alice", key,
		httpclient.New(w.net.ClientOptions(relayclient.HTTPOptions(httpclient.Options{NoRedirects: true}))))
	if err != nil {
		t.Fatal(err)
	}
	cursors := func() map[string]int64 {
		devs, err := c.Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cur := map[string]int64{}
		for _, d := range devs {
			cur[d.Device] = d.Acked
		}
		return cur
	}
	w.share(w.bob, w.ah, friends)
	w.sharing(w.alice, w.bh, true)
	podnet.Eventually(t, wait, "alice's relay lists both her devices", func() (bool, error) {
		cur := cursors()
		_, a := cur[self]
		_, b := cur[laptop]
		return len(cur) == 2 && a && b, nil
	})
	// What arrives now moves this device's cursor; the laptop's stays.
	w.share(w.carol, w.ah, friends)
	w.sharing(w.alice, w.ch, true)
	podnet.Eventually(t, wait, "alice's cursor past carol's contact, the laptop's where it was", func() (bool, error) {
		cur := cursors()
		return cur[self] > cur[laptop], nil
	})
	if err := w.alice.Pod.RevokeDevice(ctx, laptop); err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, wait, "the revoked laptop leaves the relay's list", func() (bool, error) {
		cur := cursors()
		_, a := cur[self]
		return len(cur) == 1 && a, nil
	})
}
