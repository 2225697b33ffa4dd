package relay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"seedpod/pod/internal/vectors"
)

// An identity's devices each pull the inbox with a cursor of their own:
// every device gets every item, rows go once every active device has
// acknowledged them, an idle device stops holding them back, and only
// listed devices may pull as devices.
func TestDeviceCursors(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	sign := signer(t, "alice", ka)
	d1, d2, d3 := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)
	private := vectors.Read(t, "generated/envelopes/private_status_message.encrypted.json")
	deliver := func(n int) {
		for range n {
			if st, b := g.do("POST", "/receive/users/"+guidA, private, nil); st != 202 {
				t.Fatalf("deliver: %d %s", st, b)
			}
		}
	}
	put := func(devs ...string) (int, []DeviceCursor) {
		b, _ := json.Marshal(DevicesRequest{Devices: devs})
		st, body := g.do("PUT", OwnerPrefix+"/devices", b, sign)
		var out struct {
			Devices []DeviceCursor `json:"devices"`
		}
		json.Unmarshal(body, &out)
		return st, out.Devices
	}
	ack := func(dev string, upto int64) int {
		b, _ := json.Marshal(AckRequest{UpTo: upto, Device: dev})
		st, _ := g.do("POST", OwnerPrefix+"/inbox/ack", b, sign)
		return st
	}
	pullAs := func(dev string) InboxPage { return g.pull("alice", ka, "?device="+dev) }

	deliver(2)
	if st, devs := put(d1, d2); st != 200 || len(devs) != 2 || devs[0].Device != d1 || devs[0].Acked != 0 {
		t.Fatalf("PUT devices: %d %+v", st, devs)
	}
	for _, c := range []struct {
		name string
		body string
		want int
	}{
		{"not hex", `{"devices":["` + strings.Repeat("g", 64) + `"]}`, 422},
		{"uppercase", `{"devices":["` + strings.Repeat("A", 64) + `"]}`, 422},
		{"short", `{"devices":["abcd"]}`, 422},
		{"unknown field", `{"devices":[],"x":1}`, 400},
		{"not JSON", `devices`, 400},
		{"too many", fmt.Sprintf(`{"devices":[%s"%s"]}`, strings.Repeat(`"`+d3+`",`, maxDevices), d3), 422},
	} {
		if st, b := g.do("PUT", OwnerPrefix+"/devices", []byte(c.body), sign); st != c.want {
			t.Errorf("PUT devices, %s: %d %s, want %d", c.name, st, b, c.want)
		}
	}
	if st, _ := g.do("PUT", OwnerPrefix+"/devices", []byte(`{"devices":[]}`), nil); st != http.StatusUnauthorized {
		t.Errorf("unsigned PUT devices: %d", st)
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{"?device=" + d3, 403},
		{"?device=xyz", 400},
	} {
		if st, b := g.do("GET", OwnerPrefix+"/inbox"+c.query, nil, sign); st != c.want {
			t.Errorf("pull %s: %d %s, want %d", c.query, st, b, c.want)
		}
	}
	if st := ack(d3, 1); st != 403 {
		t.Errorf("ack as an unlisted device: %d", st)
	}

	p1, p2 := pullAs(d1), pullAs(d2)
	if len(p1.Items) != 2 || len(p2.Items) != 2 {
		t.Fatalf("pulls: %d and %d items, want 2 each", len(p1.Items), len(p2.Items))
	}
	if st := ack(d1, p1.Cursor); st != 200 {
		t.Fatalf("ack d1: %d", st)
	}
	if n := g.count(t); n != 2 {
		t.Fatalf("rows after one device's ack: %d, want 2", n)
	}
	if p := pullAs(d1); len(p.Items) != 0 {
		t.Fatalf("d1 after its ack: %d items", len(p.Items))
	}
	if p := pullAs(d2); len(p.Items) != 2 {
		t.Fatalf("d2 before its ack: %d items", len(p.Items))
	}
	ack(d2, p2.Cursor)
	if n := g.count(t); n != 0 {
		t.Fatalf("rows after both acks: %d, want 0", n)
	}

	// d2 idle for longer than deviceIdle: d1's acks alone delete.
	deliver(1)
	if _, err := g.relay.db.W.Exec("UPDATE devices SET seen_at = 0 WHERE device = ?", d2); err != nil {
		t.Fatal(err)
	}
	p1 = pullAs(d1)
	ack(d1, p1.Cursor)
	if n := g.count(t); n != 0 {
		t.Fatalf("rows with d2 idle: %d, want 0", n)
	}
	// d2 comes back: it starts where the identity stands, not before.
	if p := pullAs(d2); len(p.Items) != 0 {
		t.Fatalf("d2 back from idle: %d items", len(p.Items))
	}
	// A device taken off the list (revoked) may no longer pull; a new one
	// starts at the identity's acknowledgement; d1 keeps its cursor.
	deliver(1)
	if st, devs := put(d1, d3); st != 200 || len(devs) != 2 || devs[1].Device != d3 || devs[1].Acked != devs[0].Acked {
		t.Fatalf("PUT d1, d3: %d %+v", st, devs)
	}
	if st, _ := g.do("GET", OwnerPrefix+"/inbox?device="+d2, nil, sign); st != 403 {
		t.Errorf("pull as a removed device: %d", st)
	}
	if p := pullAs(d3); len(p.Items) != 1 {
		t.Fatalf("new device d3: %d items, want the 1 not yet acknowledged", len(p.Items))
	}
	// Without a device, the identity's cursor works as before.
	if p := g.pull("alice", ka, ""); len(p.Items) != 1 {
		t.Fatalf("pull without a device: %d items", len(p.Items))
	}
}
