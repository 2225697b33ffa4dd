package web

import (
	"net/http"
	"testing"
)

// Without a relay, GET /relay counts what waits in the outbox as /counts
// does (the federation engine only counts while it runs), and own posts say
// they are queued (seedpod.delivery.state).
func TestRelayStatusCountsTheOutboxWithoutARelay(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	var st struct {
		State         string `json:"state"`
		OutboxPending int    `json:"outbox_pending"`
	}
	var counts struct {
		OutboxPending int `json:"outbox_pending"`
	}
	r.json("GET", APIPrefix+"/counts", nil, http.StatusOK, &counts)
	before := counts.OutboxPending
	for _, body := range []string{"one", "two"} {
		var p struct {
			Seedpod struct {
				Delivery struct {
					State string `json:"state"`
				} `json:"delivery"`
			} `json:"seedpod"`
		}
		r.json("POST", V1Prefix+"/posts", map[string]any{"body": body, "public": true}, http.StatusOK, &p)
		if p.Seedpod.Delivery.State != "queued" {
			t.Fatalf("an own post without a relay: delivery state %q, want queued", p.Seedpod.Delivery.State)
		}
	}
	r.json("GET", APIPrefix+"/relay", nil, http.StatusOK, &st)
	r.json("GET", APIPrefix+"/counts", nil, http.StatusOK, &counts)
	if st.State != "off" || counts.OutboxPending < before+2 || st.OutboxPending != counts.OutboxPending {
		t.Fatalf("relay status %+v, counts' outbox_pending %d (before the posts %d)", st, counts.OutboxPending, before)
	}
}
