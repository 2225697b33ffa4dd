package federation_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/httpclient"
	"seedpod/pod/podtest/podnet"
	"seedpod/pod/store"
)

// Scenario tests: alice, bob and carol, each a Seedpod with their own
// relay, on a loopback network with real HTTPS.

// wait is generous: under -race on a loaded 2-core machine a failed hand-over
// backs off before it retries.
const wait = 60 * time.Second

type world struct {
	t                 *testing.T
	net               *podnet.Network
	alice, bob, carol *podnet.PodNode
	ra, rb, rc        *podnet.RelayNode
	ah, bh, ch        string // handles
	ctx               context.Context
}

func newWorld(t *testing.T) *world {
	t.Helper()
	n := podnet.NewNetwork(t)
	w := &world{t: t, net: n, ctx: context.Background()}
	w.ra, w.rb, w.rc = n.Relay("alice"), n.Relay("bob"), n.Relay("carol")
	w.alice, w.bob, w.carol = n.Pod("alice", podnet.PodOptions{}), n.Pod("bob", podnet.PodOptions{}), n.Pod("carol", podnet.PodOptions{})
	w.ah = w.alice.Join(t, w.ra)
	w.bh = w.bob.Join(t, w.rb)
	w.ch = w.carol.Join(t, w.rc)
	return w
}

// in is the world seen from test t (a subtest fails itself, not its parent).
func (w *world) in(t *testing.T) *world {
	c := *w
	c.t = t
	return &c
}

// share makes from share with to (aspect id) after discovering them.
func (w *world) share(from *podnet.PodNode, toHandle string, aspect int64) {
	w.t.Helper()
	sp, err := from.Pod.DiscoverPerson(w.ctx, toHandle)
	if err != nil {
		w.t.Fatalf("%s discovers %s: %v", from.Name, toHandle, err)
	}
	if err := from.Pod.AddToAspect(w.ctx, aspect, sp.GUID); err != nil {
		w.t.Fatalf("%s adds %s to aspect %d: %v", from.Name, toHandle, aspect, err)
	}
}

// sharing waits until at sees who sharing with them (or not).
func (w *world) sharing(at *podnet.PodNode, who string, want bool) {
	w.t.Helper()
	podnet.Eventually(w.t, wait, at.Name+" sees "+who+" sharing="+map[bool]string{true: "true", false: "false"}[want], func() (bool, error) {
		sp, ok, err := store.PersonByHandle(w.ctx, at.Pod.DB().R, who)
		return err == nil && ok && sp.Sharing == want, err
	})
}

func (w *world) hasPost(at *podnet.PodNode, guid string) bool {
	_, ok, err := store.PostByGUID(w.ctx, at.Pod.DB().R, guid)
	if err != nil {
		w.t.Fatal(err)
	}
	return ok
}

func (w *world) waitPost(at *podnet.PodNode, guid string, cond func(store.PostRow) bool) store.PostRow {
	w.t.Helper()
	var row store.PostRow
	podnet.Eventually(w.t, wait, at.Name+" has post "+guid, func() (bool, error) {
		r, ok, err := store.PostByGUID(w.ctx, at.Pod.DB().R, guid)
		row = r
		return ok && (cond == nil || cond(r)), err
	})
	return row
}

func (w *world) post(from *podnet.PodNode, text string, public bool, aspects ...int64) string {
	w.t.Helper()
	b := apiv1.Bool(public)
	p, err := from.Pod.CreatePost(w.ctx, pod.PostInput{Body: text, Public: &b, Aspects: aspects})
	if err != nil {
		w.t.Fatalf("%s posts: %v", from.Name, err)
	}
	return p.GUID
}

// fetch GETs a path on a relay as an outsider would.
func (w *world) fetch(r *podnet.RelayNode, path string) (int, string) {
	w.t.Helper()
	c := httpclient.New(w.net.ClientOptions(httpclient.Options{NoRedirects: true, Timeout: 10 * time.Second}))
	req, _ := http.NewRequestWithContext(w.ctx, "GET", r.URL+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const (
	family  = 1
	friends = 2
	work    = 3
)

func TestFederationScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three relays and three pods")
	}
	w := newWorld(t)
	ctx := w.ctx

	// Sharing: alice ↔ bob (Friends), alice ↔ carol (Work), bob ↔ carol.
	w.share(w.alice, w.bh, friends)
	w.share(w.alice, w.ch, work)
	w.sharing(w.bob, w.ah, true)
	w.sharing(w.carol, w.ah, true)
	w.share(w.bob, w.ah, friends)
	w.share(w.carol, w.ah, friends)
	w.share(w.bob, w.ch, friends)
	w.share(w.carol, w.bh, friends)
	w.sharing(w.alice, w.bh, true)
	w.sharing(w.alice, w.ch, true)
	w.sharing(w.bob, w.ch, true)

	t.Run("limited post reaches exactly its aspect", func(t *testing.T) {
		w := w.in(t)
		guid := w.post(w.alice, "for friends only", false, friends)
		row := w.waitPost(w.bob, guid, nil)
		if row.Public || row.Text != "for friends only" || row.Author != w.ah {
			t.Fatalf("bob's copy: %+v", row)
		}
		// Carol is not in Friends: she never gets it, and nobody can
		// fetch it from alice's relay.
		public := w.post(w.alice, "a later public post", true)
		w.waitPost(w.carol, public, nil)
		if w.hasPost(w.carol, guid) {
			t.Fatal("carol received a post limited to alice's Friends")
		}
		if st, _ := w.fetch(w.ra, "/fetch/post/"+guid); st != http.StatusNotFound {
			t.Fatalf("fetch of a limited post: %d", st)
		}
		if st, body := w.fetch(w.ra, "/fetch/post/"+public); st != http.StatusOK || !strings.Contains(body, "me:env") {
			t.Fatalf("fetch of a public post: %d %.200s", st, body)
		}
	})

	t.Run("comment relayed by the root author", func(t *testing.T) {
		w := w.in(t)
		guid := w.post(w.alice, "comment on this", true)
		w.waitPost(w.bob, guid, nil)
		w.waitPost(w.carol, guid, nil)
		c, err := w.bob.Pod.AddComment(ctx, guid, "bob was here")
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []*podnet.PodNode{w.alice, w.carol} {
			podnet.Eventually(t, wait, at.Name+" has bob's comment", func() (bool, error) {
				cs, err := at.Pod.PostComments(ctx, guid, store.TimeBound{Limit: 100})
				for _, x := range cs {
					if x.GUID == c.GUID && x.Body == "bob was here" && x.Author.DiasporaID == w.bh {
						return true, nil
					}
				}
				return false, err
			})
		}
	})

	t.Run("likes, reshares, poll votes", func(t *testing.T) {
		w := w.in(t)
		b := apiv1.Bool(true)
		p, err := w.alice.Pod.CreatePost(ctx, pod.PostInput{Body: "vote please", Public: &b,
			Poll: &pod.PollInput{Question: "which?", Answers: []string{"one", "two"}}})
		if err != nil {
			t.Fatal(err)
		}
		w.waitPost(w.bob, p.GUID, nil)
		w.waitPost(w.carol, p.GUID, nil)
		if err := w.bob.Pod.Like(ctx, p.GUID, ""); err != nil {
			t.Fatal(err)
		}
		if err := w.carol.Pod.Vote(ctx, p.GUID, 2); err != nil {
			t.Fatal(err)
		}
		reshare, err := w.carol.Pod.Reshare(ctx, p.GUID)
		if err != nil {
			t.Fatal(err)
		}
		// alice gets all three; carol sees bob's like relayed by alice,
		// bob sees carol's vote relayed by alice.
		likedBy := func(at *podnet.PodNode, who string) func() (bool, error) {
			return func() (bool, error) {
				ls, _, err := at.Pod.Likes(ctx, p.GUID, "", 0, 50)
				for _, l := range ls {
					if l.Author.DiasporaID == who {
						return true, nil
					}
				}
				return false, err
			}
		}
		podnet.Eventually(t, wait, "alice sees bob's like", likedBy(w.alice, w.bh))
		podnet.Eventually(t, wait, "carol sees bob's like (relayed)", likedBy(w.carol, w.bh))
		tally := func(at *podnet.PodNode) func() (bool, error) {
			return func() (bool, error) {
				row, ok, err := store.PostByGUID(ctx, at.Pod.DB().R, p.GUID)
				if err != nil || !ok {
					return false, err
				}
				tl, err := store.PollTallyOf(ctx, at.Pod.DB().R, p.GUID, row.Poll)
				return tl.Total == 1 && tl.Counts[2] == 1, err
			}
		}
		podnet.Eventually(t, wait, "alice counts carol's vote", tally(w.alice))
		podnet.Eventually(t, wait, "bob counts carol's vote (relayed)", tally(w.bob))
		row := w.waitPost(w.alice, reshare, nil)
		if row.RootGUID != p.GUID || row.Author != w.ch {
			t.Fatalf("alice's copy of carol's reshare: %+v", row)
		}
		// bob shares with carol: the reshare reaches him too.
		w.waitPost(w.bob, reshare, nil)
	})

	t.Run("edits, deletions and profile updates", func(t *testing.T) {
		w := w.in(t)
		guid := w.post(w.alice, "first version", true)
		w.waitPost(w.bob, guid, nil)
		text := "second version"
		if _, err := w.alice.Pod.EditPost(ctx, guid, pod.PostEdit{Body: &text}); err != nil {
			t.Fatal(err)
		}
		w.waitPost(w.bob, guid, func(r store.PostRow) bool { return r.Text == "second version" && r.EditedAt > 0 })
		w.waitPost(w.carol, guid, func(r store.PostRow) bool { return r.Text == "second version" })
		if st, body := w.fetch(w.ra, "/fetch/post/"+guid); st != http.StatusOK || !strings.Contains(body, "me:env") {
			t.Fatalf("fetch of the edited post: %d", st)
		}
		if err := w.alice.Pod.DeletePost(ctx, guid); err != nil {
			t.Fatal(err)
		}
		for _, at := range []*podnet.PodNode{w.bob, w.carol} {
			podnet.Eventually(t, wait, at.Name+" drops the deleted post", func() (bool, error) { return !w.hasPost(at, guid), nil })
		}
		if st, _ := w.fetch(w.ra, "/fetch/post/"+guid); st != http.StatusNotFound {
			t.Fatalf("fetch of a deleted post: %d", st)
		}
		name := "Alice Liddell"
		if _, err := w.alice.Pod.UpdateProfile(ctx, pod.ProfileUpdate{Name: &name}); err != nil {
			t.Fatal(err)
		}
		podnet.Eventually(t, wait, "bob sees alice's new name", func() (bool, error) {
			sp, ok, err := store.PersonByHandle(ctx, w.bob.Pod.DB().R, w.ah)
			return ok && sp.Name == "Alice Liddell", err
		})
	})

	t.Run("a private conversation between the three", func(t *testing.T) {
		w := w.in(t)
		bob, err := w.alice.Pod.PersonByHandle(ctx, w.bh)
		if err != nil {
			t.Fatal(err)
		}
		carol, err := w.alice.Pod.PersonByHandle(ctx, w.ch)
		if err != nil {
			t.Fatal(err)
		}
		c, err := w.alice.Pod.CreateConversation(ctx, "tea?", "at five", []string{bob.GUID, carol.GUID})
		if err != nil {
			t.Fatal(err)
		}
		messages := func(at *podnet.PodNode, want ...string) func() (bool, error) {
			return func() (bool, error) {
				ms, _, err := at.Pod.ConversationMessages(ctx, c.GUID, apiv1.IndexPage{Page: 1, PerPage: 50})
				if err != nil {
					return false, nil // not here yet
				}
				got := map[string]bool{}
				for _, m := range ms {
					got[m.Author.DiasporaID+": "+m.Body] = true
				}
				for _, x := range want {
					if !got[x] {
						return false, nil
					}
				}
				return true, nil
			}
		}
		podnet.Eventually(t, wait, "bob has the conversation", messages(w.bob, w.ah+": at five"))
		podnet.Eventually(t, wait, "carol has the conversation", messages(w.carol, w.ah+": at five"))
		if _, err := w.bob.Pod.SendMessage(ctx, c.GUID, "yes please"); err != nil {
			t.Fatal(err)
		}
		for _, at := range []*podnet.PodNode{w.alice, w.carol} {
			podnet.Eventually(t, wait, at.Name+" has bob's reply", messages(at, w.ah+": at five", w.bh+": yes please"))
		}
	})

	t.Run("status and delivery per pod", func(t *testing.T) {
		w := w.in(t)
		st, err := w.alice.Pod.FederationStatus(ctx)
		if err != nil || st.State != "connected" || st.DiasporaID != w.ah || st.Relay != w.ra.URL {
			t.Fatalf("status: %+v %v", st, err)
		}
		guid := w.post(w.alice, "who got this?", true)
		podnet.Eventually(t, wait, "delivered to bob's and carol's pods", func() (bool, error) {
			d, err := w.alice.Pod.DeliveryOf(ctx, guid)
			if err != nil {
				return false, err
			}
			got := map[string]string{}
			for _, p := range d.Pods {
				got[p.Host] = p.State
			}
			return d.Summary.Delivered == 2 && got[w.rb.Domain] == pod.DeliveryDelivered && got[w.rc.Domain] == pod.DeliveryDelivered, nil
		})
		n, err := w.alice.Pod.OutboxPending(ctx)
		if err != nil || n != 0 {
			t.Fatalf("outbox pending after delivery: %d %v", n, err)
		}
	})

	t.Run("a reshare's missing root is fetched", func(t *testing.T) {
		w := w.in(t)
		rd := w.net.Relay("dave")
		dave := w.net.Pod("dave", podnet.PodOptions{})
		dh := dave.Join(t, rd)
		w.share(w.bob, dh, friends)
		w.share(dave, w.bh, friends)
		w.sharing(dave, w.bh, true)
		w.sharing(w.bob, dh, true)
		root := w.post(w.carol, "worth resharing", true)
		w.waitPost(w.bob, root, nil)
		reshare, err := w.bob.Pod.Reshare(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		// dave never heard of carol: he fetches the root from carol's
		// relay and discovers her on the way.
		w.waitPost(dave, reshare, nil)
		row := w.waitPost(dave, root, nil)
		if row.Author != w.ch || row.Text != "worth resharing" {
			t.Fatalf("dave's copy of the root: %+v", row)
		}
	})

	t.Run("photos and avatars live on the relay", func(t *testing.T) {
		w := w.in(t)
		ph, err := w.alice.Pod.UploadPhoto(ctx, pod.PhotoUpload{Image: bytes.NewReader(testPNG(t)), Filename: "dot.png",
			ContentType: "image/png", Pending: true})
		if err != nil {
			t.Fatal(err)
		}
		b := apiv1.Bool(true)
		p, err := w.alice.Pod.CreatePost(ctx, pod.PostInput{Body: "look", Public: &b, Photos: []string{ph.GUID}})
		if err != nil {
			t.Fatal(err)
		}
		row := w.waitPost(w.bob, p.GUID, nil)
		if len(row.Photos) != 1 || row.Photos[0] != ph.GUID {
			t.Fatalf("bob's copy has photos %v", row.Photos)
		}
		got, ok, err := store.PhotoByGUID(ctx, w.bob.Pod.DB().R, ph.GUID)
		if err != nil || !ok {
			t.Fatalf("bob's photo row: %v %v", ok, err)
		}
		if !strings.HasPrefix(got.Sizes.Raw, w.ra.URL+"/media/alice/") {
			t.Fatalf("bob's photo URL %q is not on alice's relay", got.Sizes.Raw)
		}
		if st, body := w.fetch(w.ra, strings.TrimPrefix(got.Sizes.Raw, w.ra.URL)); st != http.StatusOK || !strings.HasPrefix(body, "\x89PNG") {
			t.Fatalf("GET %s: %d", got.Sizes.Raw, st)
		}
		// The avatar: its files on the relay, its URLs in the profile bob sees.
		if _, err := w.alice.Pod.UploadPhoto(ctx, pod.PhotoUpload{Image: bytes.NewReader(testPNG(t)), Filename: "me.png",
			ContentType: "image/png", SetProfilePhoto: true}); err != nil {
			t.Fatal(err)
		}
		podnet.Eventually(t, wait, "bob sees alice's avatar on her relay", func() (bool, error) {
			sp, ok, err := store.PersonByHandle(ctx, w.bob.Pod.DB().R, w.ah)
			return ok && strings.HasPrefix(sp.AvatarLarge, w.ra.URL+"/media/alice/"), err
		})
		sp, _, _ := store.PersonByHandle(ctx, w.bob.Pod.DB().R, w.ah)
		if st, _ := w.fetch(w.ra, strings.TrimPrefix(sp.AvatarSmall, w.ra.URL)); st != http.StatusOK {
			t.Fatalf("GET %s: %d", sp.AvatarSmall, st)
		}
	})

	t.Run("participants of a public post get its interactions", func(t *testing.T) {
		w := w.in(t)
		// erin follows only bob; she sees alice's post through bob's
		// reshare, and comments on it.
		re := w.net.Relay("erin")
		erin := w.net.Pod("erin", podnet.PodOptions{})
		eh := erin.Join(t, re)
		w.share(w.bob, eh, friends)
		w.share(erin, w.bh, friends)
		w.sharing(erin, w.bh, true)
		root := w.post(w.alice, "tell your friends", true)
		w.waitPost(w.bob, root, nil)
		w.waitPost(w.carol, root, nil)
		if _, err := w.bob.Pod.Reshare(ctx, root); err != nil {
			t.Fatal(err)
		}
		w.waitPost(erin, root, nil)
		if _, err := erin.Pod.AddComment(ctx, root, "erin takes part"); err != nil {
			t.Fatal(err)
		}
		hasComment := func(at *podnet.PodNode, author, text string) func() (bool, error) {
			return func() (bool, error) {
				cs, err := at.Pod.PostComments(ctx, root, store.TimeBound{Limit: 100})
				for _, x := range cs {
					if x.Author.DiasporaID == author && x.Body == text {
						return true, nil
					}
				}
				return false, err
			}
		}
		podnet.Eventually(t, wait, "alice has erin's comment", hasComment(w.alice, eh, "erin takes part"))
		// erin's pod also asked alice to keep her posted (a Participation,
		// which diaspora* pods need to relay to a commenter), once.
		if err := erin.Pod.Like(ctx, root, ""); err != nil {
			t.Fatal(err)
		}
		podnet.Eventually(t, wait, "alice has erin's participation", func() (bool, error) {
			var n int
			err := w.alice.Pod.DB().R.QueryRowContext(ctx, `SELECT count(*) FROM st_received
				WHERE entity_type = 'participation' AND author = ? AND instr(payload, ?) > 0`, eh, root).Scan(&n)
			if n > 1 {
				return false, fmt.Errorf("%d participations from erin", n)
			}
			return n == 1, err
		})
		podnet.Eventually(t, wait, "alice has erin's like", func() (bool, error) {
			ls, _, err := w.alice.Pod.Likes(ctx, root, "", 0, 50)
			for _, l := range ls {
				if l.Author.DiasporaID == eh {
					return true, nil
				}
			}
			return false, err
		})
		var parts int
		if err := w.alice.Pod.DB().R.QueryRowContext(ctx, `SELECT count(*) FROM st_received
			WHERE entity_type = 'participation' AND author = ?`, eh).Scan(&parts); err != nil || parts != 1 {
			t.Fatalf("participations from erin after her comment and like: %d, %v (want 1)", parts, err)
		}
		// carol's comment reaches erin, relayed by alice: erin follows
		// nobody alice's audience holds, she took part.
		if _, err := w.carol.Pod.AddComment(ctx, root, "carol answers"); err != nil {
			t.Fatal(err)
		}
		podnet.Eventually(t, wait, "erin has carol's comment", hasComment(erin, w.ch, "carol answers"))
	})

	t.Run("bob moves to another relay and his contacts follow", func(t *testing.T) {
		w := w.in(t)
		// A conversation with bob before he moves.
		bob, err := w.alice.Pod.PersonByHandle(ctx, w.bh)
		if err != nil {
			t.Fatal(err)
		}
		conv, err := w.alice.Pod.CreateConversation(ctx, "moving?", "where to?", []string{bob.GUID})
		if err != nil {
			t.Fatal(err)
		}
		// bob's new home: another relay, another key.
		rn := w.net.Relay("bobnew")
		bob2 := w.net.Pod("bob2", podnet.PodOptions{})
		nh := bob2.Join(t, rn)
		oldKey, err := w.bob.Pod.IdentityKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		newKey, err := bob2.Pod.IdentityKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The migration as diaspora* sends it: author the old identity,
		// signed by the new one, in an envelope signed by the old one,
		// to the public inboxes of his contacts' relays.
		m := &entity.AccountMigration{AuthorID: w.bh, OldIdentityID: w.bh,
			Profile: &entity.Profile{AuthorID: nh, FirstName: "Bob", LastName: "Moved", Searchable: true}}
		if err := m.Sign(newKey); err != nil {
			t.Fatal(err)
		}
		payload, err := entity.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := envelope.Sign(payload, w.bh, oldKey)
		if err != nil {
			t.Fatal(err)
		}
		c := httpclient.New(w.net.ClientOptions(httpclient.Options{NoRedirects: true, Timeout: 10 * time.Second}))
		for _, r := range []*podnet.RelayNode{w.ra, w.rc} {
			req, _ := http.NewRequestWithContext(ctx, "POST", r.URL+"/receive/public", bytes.NewReader(doc))
			req.Header.Set("Content-Type", "application/magic-envelope+xml")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("deliver the migration to %s: %d", r.Domain, resp.StatusCode)
			}
		}
		for _, at := range []*podnet.PodNode{w.alice, w.carol} {
			podnet.Eventually(t, wait, at.Name+" follows bob's move", func() (bool, error) {
				old, ok, err := store.PersonByHandle(ctx, at.Pod.DB().R, w.bh)
				if err != nil || !ok || old.MovedTo != nh || old.Sharing {
					return false, err
				}
				nw, ok, err := store.PersonByHandle(ctx, at.Pod.DB().R, nh)
				if err != nil || !ok || !nw.Sharing {
					return false, err
				}
				inNew, err := store.IsMember(ctx, at.Pod.DB().R, store.AspectSetName(friends), nw.GUID)
				if err != nil {
					return false, err
				}
				inOld, err := store.IsMember(ctx, at.Pod.DB().R, store.AspectSetName(friends), old.GUID)
				return inNew && !inOld, err
			})
		}
		// alice's Friends post now reaches bob at his new home, and her
		// message in their conversation goes there, not to his old relay.
		guid := w.post(w.alice, "welcome to your new home", false, friends)
		row := w.waitPost(bob2, guid, nil)
		if row.Author != w.ah || row.Public {
			t.Fatalf("bob2's copy: %+v", row)
		}
		// alice's aspects now hold bob's new identity: she shares with it.
		w.sharing(bob2, w.ah, true)
		msg, err := w.alice.Pod.SendMessage(ctx, conv.GUID, "still here?")
		if err != nil {
			t.Fatal(err)
		}
		podnet.Eventually(t, wait, "alice's message delivered to bob's new relay", func() (bool, error) {
			d, err := w.alice.Pod.DeliveryOf(ctx, msg.GUID)
			if err != nil {
				return false, err
			}
			hosts := map[string]string{}
			for _, p := range d.Pods {
				hosts[p.Host] = p.State
			}
			if _, old := hosts[w.rb.Domain]; old {
				return false, fmt.Errorf("the message went to bob's old relay: %+v", d.Pods)
			}
			return hosts[rn.Domain] == pod.DeliveryDelivered, nil
		})
	})
}

// testPNG is a small valid PNG.
func testPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
