package federation_test

import (
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/podtest/podnet"
)

// Two devices of alice that cannot dial each other (neither listens
// anywhere) sync through her relay's circuit relay: after pairing on the
// LAN, both restart without listen addresses; each reserves a slot on the
// relay, and a post written on one reaches the other over the relayed
// connection.
func TestSyncThroughTheRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a relay and two pods")
	}
	n := podnet.NewNetwork(t)
	n.RelayP2P = true
	ra := n.Relay("alice")
	lan := func(name string) podnet.PodOptions {
		return podnet.PodOptions{Sync: &pod.SyncConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DeviceName: name}}
	}
	desktop := n.Pod("desktop", lan("desktop"))
	handle := desktop.Join(t, ra)
	laptop := n.Pod("laptop", lan("laptop"))
	ctx := t.Context()
	code, err := desktop.Pod.OpenPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.Pod.Join(ctx, code.Code); err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, wait, "the laptop has the identity", func() (bool, error) {
		id, err := laptop.Pod.Identity(ctx)
		return id.Handle == handle, err
	})

	// Both restart, listening nowhere: only the relay joins them.
	desktop.Stop()
	laptop.Stop()
	hidden := func(name string) podnet.PodOptions {
		return podnet.PodOptions{Sync: &pod.SyncConfig{ListenAddrs: []string{}, DeviceName: name}}
	}
	desktop = n.Pod("desktop", hidden("desktop"))
	laptop = n.Pod("laptop", hidden("laptop"))
	if a := desktop.Pod.SyncStatus().Addrs; len(a) != 0 {
		t.Fatalf("the desktop listens at %v", a)
	}
	yes := apiv1.Bool(true)
	post, err := desktop.Pod.CreatePost(ctx, pod.PostInput{Body: "Through the relay", Public: &yes})
	if err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, 60*time.Second, "the laptop has the desktop's post, over the relay", func() (bool, error) {
		_, err := laptop.Pod.Post(ctx, post.GUID)
		return err == nil, nil
	})
	devs, err := laptop.Pod.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if !d.This && (!d.Connected || d.Path != "relay") {
			t.Fatalf("the laptop's view of the desktop: %+v", d)
		}
	}
}
