package relayclient_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"seedpod/pod/relayclient"
)

// Two devices of one identity, each with its own client and Device:
// both pull every item, and the relay deletes an item once both
// acknowledged it. An unlisted device is refused with 403.
func TestDeviceCursors(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	laptop := g.enrolled()
	k, _ := testKeys(t)
	desktop, err := relayclient.New(g.base, "alice", k, g.http)
	if err != nil {
		t.Fatal(err)
	}
	laptop.Device, desktop.Device = strings.Repeat("a", 64), strings.Repeat("d", 64)
	if _, err := laptop.Pull(ctx(t), 0, 10, 0); err == nil {
		t.Fatal("pull as a device before the device list names it")
	} else if ae := (*relayclient.APIError)(nil); !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Fatalf("pull as an unlisted device: %v", err)
	}
	devs, err := laptop.PutDevices(ctx(t), []string{laptop.Device, desktop.Device})
	if err != nil || len(devs) != 2 {
		t.Fatalf("PutDevices: %+v %v", devs, err)
	}
	_, other := testKeys(t)
	g.deliver(statusMessage(t, "bob@bob.test", guid1, "one", other))
	g.deliver(statusMessage(t, "bob@bob.test", guid2, "two", other))
	for _, c := range []*relayclient.Client{laptop, desktop} {
		p, err := c.Pull(ctx(t), 0, 10, 0)
		if err != nil || len(p.Items) != 2 {
			t.Fatalf("pull as %s: %d items, %v", c.Device[:4], len(p.Items), err)
		}
		if _, err := c.Ack(ctx(t), p.Cursor); err != nil {
			t.Fatal(err)
		}
		if p, err := c.Pull(ctx(t), 0, 10, 0); err != nil || len(p.Items) != 0 {
			t.Fatalf("pull as %s after its ack: %d items, %v", c.Device[:4], len(p.Items), err)
		}
	}
	if _, err := laptop.PutDevices(ctx(t), []string{"not hex"}); err == nil {
		t.Fatal("PutDevices with a malformed key")
	}
}
