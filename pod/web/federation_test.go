package web

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/podtest/podnet"
)

// The federation routes over HTTP, against real relays on loopback.
func TestRelayAndDiscoveryRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts relays")
	}
	n := podnet.NewNetwork(t)
	ra, rb := n.Relay("alice"), n.Relay("bob")
	bob := n.Pod("bob", podnet.PodOptions{})
	bh := bob.Join(t, rb)

	alice := n.Pod("alice", podnet.PodOptions{})
	h, err := New(alice.Pod, Options{Mode: ModeWindow})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r := &apiRig{t: t, pod: alice.Pod, srv: srv}

	var st struct {
		State      string `json:"state"`
		DiasporaID string `json:"diaspora_id"`
		Relay      string `json:"relay"`
	}
	r.json("GET", APIPrefix+"/relay", nil, 200, &st)
	if st.State != "off" {
		t.Fatalf("status before set-up: %+v", st)
	}
	// No identity yet.
	r.json("POST", APIPrefix+"/relay", map[string]string{"url": ra.URL, "code": "x"}, 409, nil)
	if _, err := alice.Pod.CreateIdentity(context.Background(), "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, time.Minute, "alice's key", func() (bool, error) {
		id, err := alice.Pod.Identity(context.Background())
		return id.Key.State == "ready", err
	})
	// The event stream tells the relay set-up and the engine's state.
	events := make(chan string, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+APIPrefix+"/events", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case events <- sc.Text():
			default:
			}
		}
		close(events)
	}()
	ops := r.opCount()
	for _, c := range []struct {
		name string
		body any
		want int
	}{
		{"not an origin", map[string]string{"url": ra.URL + "/path", "code": "x"}, 422},
		{"plain http", map[string]string{"url": "http://alice.test", "code": "x"}, 422},
		{"no code", map[string]string{"url": ra.URL}, 422},
		{"wrong code", map[string]string{"url": ra.URL, "code": "not-the-code"}, 422},
		{"not JSON", "{", 422},
	} {
		t.Run(c.name, func(t *testing.T) {
			r.json("POST", APIPrefix+"/relay", c.body, c.want, nil)
		})
	}
	if got := r.opCount(); got != ops {
		t.Fatalf("refused enrolments wrote %d ops", got-ops)
	}
	r.json("POST", APIPrefix+"/relay", map[string]string{"url": ra.URL, "code": ra.Invite(t, "alice")}, 201, &st)
	if st.DiasporaID != "alice@"+ra.Domain || st.Relay != ra.URL {
		t.Fatalf("after enrolment: %+v", st)
	}
	r.json("POST", APIPrefix+"/relay", map[string]string{"url": ra.URL, "code": "any"}, 409, nil)
	// Moving: a code is needed, the URL must be an origin, the relay the
	// identity is on is not a move, and a wrong code is refused by the
	// relay; nothing changes.
	for _, c := range []struct {
		body map[string]string
		want int
	}{
		{map[string]string{"url": rb.URL}, 422},
		{map[string]string{"url": "https://x.test/path", "code": "c"}, 422},
		{map[string]string{"url": ra.URL, "code": "c"}, 422},
		{map[string]string{"url": rb.URL, "code": "wrong"}, 422},
	} {
		r.json("POST", APIPrefix+"/relay/move", c.body, c.want, nil)
	}
	r.json("GET", APIPrefix+"/relay", nil, 200, &st)
	if st.DiasporaID != "alice@"+ra.Domain || st.Relay != ra.URL {
		t.Fatalf("after refused moves: %+v", st)
	}
	podnet.Eventually(t, 30*time.Second, "connected", func() (bool, error) {
		r.json("GET", APIPrefix+"/relay", nil, 200, &st)
		return st.State == "connected", nil
	})

	seen := map[string]bool{}
	podnet.Eventually(t, 30*time.Second, "federation events", func() (bool, error) {
		for {
			select {
			case l := <-events:
				if strings.HasPrefix(l, "data: ") {
					seen[l] = true
				}
				continue
			default:
			}
			break
		}
		return seen[`data: {"kind":"relay"}`] && seen[`data: {"kind":"state","state":"connected"}`], nil
	})

	var person apiv1.Person
	r.json("POST", APIPrefix+"/people/discover", map[string]string{"diaspora_id": bh}, 200, &person)
	if person.DiasporaID != bh || person.GUID == "" {
		t.Fatalf("discovered: %+v", person)
	}
	r.json("POST", APIPrefix+"/people/discover", map[string]string{"diaspora_id": "nobody@" + rb.Domain}, 404, nil)
	r.json("POST", APIPrefix+"/people/discover", map[string]string{"diaspora_id": "not an id"}, 422, nil)

	// A post goes out; its delivery to bob's pod shows.
	b := apiv1.Bool(true)
	if err := alice.Pod.AddToAspect(context.Background(), 1, person.GUID); err != nil {
		t.Fatal(err)
	}
	bp, err := bob.Pod.DiscoverPerson(context.Background(), "alice@"+ra.Domain)
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Pod.AddToAspect(context.Background(), 1, bp.GUID); err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, 30*time.Second, "bob shares with alice", func() (bool, error) {
		sp, err := alice.Pod.PersonByHandle(context.Background(), bh)
		return err == nil && sp.Sharing, nil
	})
	p, err := alice.Pod.CreatePost(context.Background(), pod.PostInput{Body: "hello network", Public: &b})
	if err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, 30*time.Second, "delivered", func() (bool, error) {
		var d pod.Delivery
		r.json("GET", APIPrefix+"/deliveries/"+p.GUID, nil, 200, &d)
		return d.Summary.Delivered == 1 && len(d.Pods) == 1 && d.Pods[0].Host == rb.Domain && d.Pods[0].State == "delivered", nil
	})
	var counts pod.Counts
	r.json("GET", APIPrefix+"/counts", nil, 200, &counts)
	if counts.OutboxPending != 0 {
		t.Fatalf("outbox_pending after delivery: %d", counts.OutboxPending)
	}
}
