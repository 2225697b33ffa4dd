package federation_test

import (
	"context"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/podtest/podnet"
	"seedpod/pod/store"
)

// TestOfflinePostsDeliveredOnceInOrder: alice's relay is down while she
// publishes three posts (the app works offline: they wait in her outbox);
// when it is back, all three are delivered to bob once, and bob shows them
// in the order she wrote them.
func TestOfflinePostsDeliveredOnceInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts relays and pods")
	}
	w := newWorld(t)
	ctx := w.ctx
	w.share(w.alice, w.bh, friends)
	w.share(w.bob, w.ah, friends)
	w.sharing(w.alice, w.bh, true)

	w.ra.Stop()
	var guids []string
	for i, text := range []string{"first, offline", "second, offline", "third, offline"} {
		if i > 0 {
			// diaspora* timestamps are whole seconds: posts written in
			// one second cannot be told apart by their receivers.
			time.Sleep(1100 * time.Millisecond)
		}
		guids = append(guids, w.post(w.alice, text, false, friends))
	}
	for _, g := range guids {
		e, err := w.alice.Pod.OutboxEntryOf(ctx, g)
		if err != nil || e.State != pod.OutboxStateQueued {
			t.Fatalf("outbox entry of %s while the relay is down: %+v, %v", g, e, err)
		}
	}
	w.ra.Restart(t)

	for _, g := range guids {
		w.waitPost(w.bob, g, nil)
		podnet.Eventually(t, wait, "delivery of "+g+" reported once", func() (bool, error) {
			d, err := w.alice.Pod.DeliveryOf(ctx, g)
			if err != nil || len(d.Pods) != 1 {
				return false, err
			}
			p := d.Pods[0]
			return p.State == pod.DeliveryDelivered && p.Attempts == 1 && d.Summary.Delivered == 1, nil
		})
	}
	// Once each at bob, in the order written.
	rows, err := w.bob.Pod.DB().R.QueryContext(context.Background(), `SELECT guid FROM posts WHERE author = ? ORDER BY id`, w.ah)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		got = append(got, g)
	}
	if len(got) != 3 || got[0] != guids[0] || got[1] != guids[1] || got[2] != guids[2] {
		t.Fatalf("bob's posts by alice: %v, want %v in that order", got, guids)
	}
	var received int
	if err := w.bob.Pod.DB().R.QueryRowContext(ctx, `SELECT count(*) FROM st_received WHERE author = ? AND entity_type = ?`,
		w.ah, store.EntityStatusMessage).Scan(&received); err != nil || received != 3 {
		t.Fatalf("bob received %d status messages from alice (%v), want 3", received, err)
	}
}
