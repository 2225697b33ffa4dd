package federation_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/httpclient"
	"seedpod/pod/podtest/podnet"
	"seedpod/pod/store"
)

// TestRelayMove: alice moves from relay A to relay B. Bob's and carol's
// pods follow the AccountMigration: alice keeps her place in their
// aspects, the conversation of the three goes on in both directions with
// its history, and what still reaches her old relay reaches her.
func TestRelayMove(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four relays and three pods")
	}
	w := newWorld(t)
	ctx := w.ctx
	w.share(w.alice, w.bh, friends)
	w.share(w.alice, w.ch, friends)
	w.share(w.bob, w.ah, friends)
	w.share(w.carol, w.ah, friends)
	w.sharing(w.alice, w.bh, true)
	w.sharing(w.alice, w.ch, true)
	w.sharing(w.bob, w.ah, true)
	w.sharing(w.carol, w.ah, true)

	bob, err := w.alice.Pod.PersonByHandle(ctx, w.bh)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := w.alice.Pod.PersonByHandle(ctx, w.ch)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := w.alice.Pod.CreateConversation(ctx, "moving day", "I'm moving", []string{bob.GUID, carol.GUID})
	if err != nil {
		t.Fatal(err)
	}
	messages := func(at *podnet.PodNode) map[string]bool {
		ms, _, err := at.Pod.ConversationMessages(ctx, conv.GUID, apiv1.IndexPage{Page: 1, PerPage: 50})
		got := map[string]bool{}
		if err != nil {
			return got
		}
		for _, m := range ms {
			got[m.Author.DiasporaID+": "+m.Body] = true
		}
		return got
	}
	has := func(at *podnet.PodNode, want ...string) func() (bool, error) {
		return func() (bool, error) {
			got := messages(at)
			for _, x := range want {
				if !got[x] {
					return false, nil
				}
			}
			return true, nil
		}
	}
	podnet.Eventually(t, wait, "bob has the conversation", has(w.bob, w.ah+": I'm moving"))
	if _, err := w.bob.Pod.SendMessage(ctx, conv.GUID, "where to?"); err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, wait, "alice has bob's question", has(w.alice, w.bh+": where to?"))

	// The move.
	rb2 := w.net.Relay("alicenew")
	oldHandle := w.ah
	newHandle, err := w.alice.Pod.MoveRelay(ctx, rb2.URL, rb2.Invite(t, "alice"), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "alice@" + rb2.Domain; newHandle != want {
		t.Fatalf("new diaspora ID %q, want %q", newHandle, want)
	}
	st, err := w.alice.Pod.FederationStatus(ctx)
	if err != nil || st.Relay != rb2.URL {
		t.Fatalf("status after the move: %+v, %v", st, err)
	}
	// Moving again to where she is is refused.
	if _, err := w.alice.Pod.MoveRelay(ctx, rb2.URL, "x", ""); err == nil {
		t.Fatal("a move to the relay the identity is on was accepted")
	}

	// The old relay points to the new identity.
	podnet.Eventually(t, wait, "alice's old relay names her new profile", func() (bool, error) {
		st, body := w.fetch(w.ra, "/.well-known/webfinger?resource=acct:"+oldHandle)
		return st == http.StatusOK && strings.Contains(body, `"https://`+rb2.Domain+`/u/alice"`), nil
	})

	// Bob and carol follow: the old ID moved, the person (same guid) is
	// now the new ID, still in their Friends, still sharing.
	for _, at := range []*podnet.PodNode{w.bob, w.carol} {
		podnet.Eventually(t, wait, at.Name+" follows alice's move", func() (bool, error) {
			to, err := store.MovedTo(ctx, at.Pod.DB().R, oldHandle)
			if err != nil || to != newHandle {
				return false, err
			}
			p, ok, err := store.PersonByHandle(ctx, at.Pod.DB().R, newHandle)
			if err != nil || !ok || !p.Sharing {
				return false, err
			}
			in, err := store.IsMember(ctx, at.Pod.DB().R, store.AspectSetName(friends), p.GUID)
			return in, err
		})
	}

	// The conversation goes on, with its history, both ways.
	if _, err := w.alice.Pod.SendMessage(ctx, conv.GUID, "to relay B"); err != nil {
		t.Fatal(err)
	}
	for _, at := range []*podnet.PodNode{w.bob, w.carol} {
		podnet.Eventually(t, wait, at.Name+" has alice's message from her new home",
			has(at, oldHandle+": I'm moving", w.bh+": where to?", newHandle+": to relay B"))
	}
	if _, err := w.carol.Pod.SendMessage(ctx, conv.GUID, "welcome"); err != nil {
		t.Fatal(err)
	}
	// On alice's pod every message of hers, before and after the move, is
	// hers (shown under her ID as it is now).
	podnet.Eventually(t, wait, "alice has carol's answer at her new relay",
		has(w.alice, newHandle+": I'm moving", w.bh+": where to?", newHandle+": to relay B", w.ch+": welcome"))
	if got := messages(w.alice); got[oldHandle+": I'm moving"] {
		t.Errorf("alice's pod shows her own message under her old ID: %v", got)
	}

	// Her posts reach her contacts from the new relay.
	guid := w.post(w.alice, "hello from relay B", false, friends)
	row := w.waitPost(w.bob, guid, nil)
	if row.Author != newHandle {
		t.Fatalf("bob's copy of alice's post: author %q, want %q", row.Author, newHandle)
	}

	// A pod that never heard of the move still delivers to the old relay:
	// alice reads that inbox too.
	bobKey, err := w.bob.Pod.IdentityKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	late := "1a7e0000000000000000000000000001"
	payload, err := entity.Marshal(&entity.StatusMessage{AuthorID: w.bh, ID: late, CreatedAt: time.Now().UTC().Truncate(time.Second),
		Public: true, Text: "sent to the old address"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := envelope.Sign(payload, w.bh, bobKey)
	if err != nil {
		t.Fatal(err)
	}
	c := httpclient.New(w.net.ClientOptions(httpclient.Options{NoRedirects: true, Timeout: 10 * time.Second}))
	req, _ := http.NewRequestWithContext(ctx, "POST", w.ra.URL+"/receive/public", bytes.NewReader(doc))
	req.Header.Set("Content-Type", "application/magic-envelope+xml")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deliver to alice's old relay: %d", resp.StatusCode)
	}
	row = w.waitPost(w.alice, late, nil)
	if !strings.Contains(row.Text, "old address") {
		t.Fatalf("alice's copy: %+v", row)
	}
}
