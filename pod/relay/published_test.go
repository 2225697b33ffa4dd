package relay

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"seedpod/pod/diaspora"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/internal/vectors"
)

const (
	pubAlice = "alice@" + domain
	pubBob   = "bob@" + domain
	// The vectors' author, replaced by the relay's identities.
	pubVectorAuthor = "alice@pod-a.example"
	pubSMGUID       = "17418fb029e6013487743131731751e9" // status_message_minimal.xml
	pubFullGUID     = "e05828d029e7013487753131731751e9" // status_message_full.xml
	pubPollGUID     = "2a22d6c029e9013487753131731751e9"
	pubCommentGUID  = "5c241a3029f8013487763131731751e9"
	pubReshareGUID  = "a0b53e5029f6013487753131731751e9"
)

// pubVector reads an entity vector with its author replaced by author.
func pubVector(t *testing.T, name, author string) []byte {
	t.Helper()
	return bytes.ReplaceAll(vectors.Read(t, "generated/entities/"+name), []byte(pubVectorAuthor), []byte(author))
}

// pubStatus is the minimal status message vector, authored by author and
// changed by edit.
func pubStatus(t *testing.T, author string, edit func(*entity.StatusMessage)) []byte {
	t.Helper()
	e, err := entity.Parse(pubVector(t, "status_message_minimal.xml", author))
	if err != nil {
		t.Fatal(err)
	}
	sm := e.(*entity.StatusMessage)
	if edit != nil {
		edit(sm)
	}
	b, err := entity.Marshal(sm)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pubSeal(t *testing.T, payload []byte, sender string, k *rsa.PrivateKey) []byte {
	t.Helper()
	doc, err := envelope.Sign(payload, sender, k)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func pubBody(items ...PublishItem) []byte {
	b, _ := json.Marshal(PublishRequest{Items: items})
	return b
}

// get is a GET (or HEAD) with headers returned too.
func (g *rig) pubGet(method, path string) (int, http.Header, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(method, g.base+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (g *rig) pubPublish(who string, k *rsa.PrivateKey, items ...PublishItem) {
	g.t.Helper()
	if st, b := g.do("POST", OwnerPrefix+"/published", pubBody(items...), signer(g.t, who, k)); st != http.StatusCreated {
		g.t.Fatalf("publish as %s: %d %s", who, st, b)
	}
}

func TestPublishAndFetch(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)

	status := pubSeal(t, pubVector(t, "status_message_minimal.xml", pubAlice), pubAlice, ka)
	full := pubSeal(t, pubVector(t, "status_message_full.xml", pubAlice), pubAlice, ka)
	signedComment, err := entity.SignRelayable(pubVector(t, "comment.xml", pubAlice), ka)
	if err != nil {
		t.Fatal(err)
	}
	comment := pubSeal(t, signedComment, pubAlice, ka)
	reshare := pubSeal(t, pubVector(t, "reshare.xml", pubAlice), pubAlice, ka)
	profile := pubSeal(t, pubVector(t, "profile_base_only.xml", pubAlice), pubAlice, ka)

	st, b := g.do("POST", OwnerPrefix+"/published", pubBody(
		PublishItem{Type: "status_message", GUID: pubSMGUID, Envelope: status},
		PublishItem{Type: "status_message", GUID: pubFullGUID, Envelope: full},
		PublishItem{Type: "comment", GUID: pubCommentGUID, Envelope: comment},
		PublishItem{Type: "reshare", GUID: pubReshareGUID, Envelope: reshare},
		PublishItem{Type: "profile", GUID: guidA, Envelope: profile},
	), signer(t, "alice", ka))
	var resp PublishResponse
	if st != http.StatusCreated || json.Unmarshal(b, &resp) != nil || resp.Stored != 5 {
		t.Fatalf("publish: %d %s", st, b)
	}

	keysOf := diaspora.Keys{pubAlice: &ka.PublicKey}
	for _, c := range []struct {
		path string
		want []byte
		typ  string
	}{
		{"/fetch/status_message/" + pubSMGUID, status, "status_message"},
		{"/fetch/post/" + pubSMGUID, status, "status_message"},
		{"/fetch/post/" + pubReshareGUID, reshare, "reshare"},
		{"/fetch/reshare/" + pubReshareGUID, reshare, "reshare"},
		{"/fetch/poll/" + pubPollGUID, full, "status_message"},
		{"/fetch/comment/" + pubCommentGUID, comment, "comment"},
		{"/fetch/profile/" + guidA, profile, "profile"},
	} {
		st, h, body := g.pubGet("GET", c.path)
		if st != 200 || h.Get("Content-Type") != "application/magic-envelope+xml" || !bytes.Equal(body, c.want) {
			t.Errorf("GET %s: %d %q, body equal: %v", c.path, st, h.Get("Content-Type"), bytes.Equal(body, c.want))
			continue
		}
		if c.typ == "comment" || c.typ == "reshare" {
			continue // ReceivePublic needs their parent / root, unknown here
		}
		got, err := diaspora.ReceivePublic(body, keysOf, nil)
		if err != nil || got.Entity.Type() != c.typ || got.Sender != pubAlice {
			t.Errorf("GET %s: ReceivePublic: %v %+v", c.path, err, got)
		}
	}
	if st, h, body := g.pubGet("HEAD", "/fetch/post/"+pubSMGUID); st != 200 || len(body) != 0 || h.Get("Content-Length") != fmt.Sprint(len(status)) {
		t.Errorf("HEAD: %d %d bytes, Content-Length %s", st, len(body), h.Get("Content-Length"))
	}

	// Unknown, unsupported and mistyped lookups are 404.
	for _, p := range []string{
		"/fetch/reshare/" + pubSMGUID,
		"/fetch/comment/" + pubSMGUID,
		"/fetch/status_message/ffffffffffffffffffffffffffffffff",
		"/fetch/poll/" + pubSMGUID,
		"/fetch/contact/" + pubSMGUID,
		"/fetch/nope/" + pubSMGUID,
		"/fetch/status_message/short",
		"/fetch/status_message/" + pubSMGUID + "!x",
		"/posts/ffffffffffffffffffffffffffffffff",
		"/posts/" + pubReshareGUID,
		"/posts/bad",
		"/public/nobody.atom",
		"/public/alice",
		"/public/alice.rss",
	} {
		if st, _, _ := g.pubGet("GET", p); st != 404 {
			t.Errorf("GET %s: %d, want 404", p, st)
		}
	}

	// Another identity cannot take over alice's poll either (/fetch/poll).
	bobFull := bytes.ReplaceAll(pubVector(t, "status_message_full.xml", pubBob), []byte(pubFullGUID), []byte(guidB))
	if st, b := g.do("POST", OwnerPrefix+"/published", pubBody(PublishItem{Type: "status_message", GUID: guidB,
		Envelope: pubSeal(t, bobFull, pubBob, kb)}), signer(t, "bob", kb)); st != http.StatusConflict {
		t.Errorf("bob reusing alice's poll guid: %d %s", st, b)
	}

	// An edit replaces the envelope.
	edited := pubSeal(t, pubStatus(t, pubAlice, func(sm *entity.StatusMessage) {
		sm.Text = "edited"
		sm.EditedAt = sm.CreatedAt.Add(time.Minute)
	}), pubAlice, ka)
	g.pubPublish("alice", ka, PublishItem{Type: "status_message", GUID: pubSMGUID, Envelope: edited})
	if _, _, body := g.pubGet("GET", "/fetch/post/"+pubSMGUID); !bytes.Equal(body, edited) {
		t.Errorf("after the edit /fetch serves %q", body)
	}
}

func TestPublishRefusals(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	original := pubSeal(t, pubVector(t, "status_message_minimal.xml", pubAlice), pubAlice, ka)
	g.pubPublish("alice", ka, PublishItem{Type: "status_message", GUID: pubSMGUID, Envelope: original})

	const other = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
	aliceStatus := func(guid string, edit func(*entity.StatusMessage)) []byte {
		return pubStatus(t, pubAlice, func(sm *entity.StatusMessage) {
			sm.ID = guid
			if edit != nil {
				edit(sm)
			}
		})
	}
	item := func(typ, guid string, env []byte) []byte {
		return pubBody(PublishItem{Type: typ, GUID: guid, Envelope: env})
	}
	many := make([]PublishItem, maxPublishItems+1)
	good := pubSeal(t, aliceStatus(other, nil), pubAlice, ka)
	for i := range many {
		many[i] = PublishItem{Type: "status_message", GUID: other, Envelope: good}
	}
	unsignedComment := pubSeal(t, pubVector(t, "comment.xml", pubAlice), pubAlice, ka) // author_signature made by another key
	asAlice := signer(t, "alice", ka)

	cases := []struct {
		name string
		body []byte
		sign func(*http.Request, []byte)
		want int
	}{
		{"unsigned request", item("status_message", other, pubSeal(t, aliceStatus(other, nil), pubAlice, ka)), nil, 401},
		{"request signed by another key", item("status_message", other, pubSeal(t, aliceStatus(other, nil), pubAlice, ka)), signer(t, "alice", kb), 401},
		{"bad JSON", []byte(`{"items":`), asAlice, 400},
		{"no items", []byte(`{"items":[]}`), asAlice, 422},
		{"too many items", pubBody(many...), asAlice, 422},
		{"not an envelope", item("status_message", other, []byte("<html/>")), asAlice, 422},
		{"empty envelope", item("status_message", other, nil), asAlice, 422},
		{"bad guid", item("status_message", "short", pubSeal(t, aliceStatus(other, nil), pubAlice, ka)), asAlice, 422},
		{"unpublishable type", item("contact", other, pubSeal(t, aliceStatus(other, nil), pubAlice, ka)), asAlice, 422},
		{"wrong sender", item("status_message", other, pubSeal(t, aliceStatus(other, nil), pubBob, kb)), asAlice, 403},
		{"bad signature", item("status_message", other, pubSeal(t, aliceStatus(other, nil), pubAlice, kb)), asAlice, 422},
		{"private entity", item("status_message", other, pubSeal(t, aliceStatus(other, func(sm *entity.StatusMessage) { sm.Public = false }), pubAlice, ka)), asAlice, 422},
		{"guid mismatch", item("status_message", other, pubSeal(t, aliceStatus(pubSMGUID, nil), pubAlice, ka)), asAlice, 422},
		{"type mismatch", item("reshare", other, pubSeal(t, aliceStatus(other, nil), pubAlice, ka)), asAlice, 422},
		{"author is not the identity", item("status_message", other, pubSeal(t, pubStatus(t, pubBob, func(sm *entity.StatusMessage) { sm.ID = other }), pubAlice, ka)), asAlice, 403},
		{"profile under another guid", item("profile", guidB, pubSeal(t, pubVector(t, "profile_base_only.xml", pubAlice), pubAlice, ka)), asAlice, 422},
		{"private extended profile", item("profile", guidA, pubSeal(t, pubVector(t, "profile.xml", pubAlice), pubAlice, ka)), asAlice, 422},
		{"relayable with a bad author_signature", item("comment", pubCommentGUID, unsignedComment), asAlice, 422},
		{"reshare reusing a post guid", item("reshare", pubSMGUID, pubSeal(t, bytes.ReplaceAll(pubVector(t, "reshare.xml", pubAlice), []byte(pubReshareGUID), []byte(pubSMGUID)), pubAlice, ka)), asAlice, 409},
		{"another identity's guid", item("status_message", pubSMGUID, pubSeal(t, pubStatus(t, pubBob, func(sm *entity.StatusMessage) { sm.Text = "mine now" }), pubBob, kb)), signer(t, "bob", kb), 409},
		{"bad one among good ones", pubBody(
			PublishItem{Type: "status_message", GUID: other, Envelope: pubSeal(t, pubStatus(t, pubBob, func(sm *entity.StatusMessage) { sm.ID = other }), pubBob, kb)},
			PublishItem{Type: "status_message", GUID: other, Envelope: good}), signer(t, "bob", kb), 403},
	}
	for _, c := range cases {
		if st, b := g.do("POST", OwnerPrefix+"/published", c.body, c.sign); st != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, st, b, c.want)
		}
	}
	// Nothing but the original was stored, and it is unchanged.
	var n int
	if err := g.relay.db.R.QueryRow("SELECT count(*) FROM published").Scan(&n); err != nil || n != 1 {
		t.Fatalf("published rows: %d %v, want 1", n, err)
	}
	if _, _, body := g.pubGet("GET", "/fetch/post/"+pubSMGUID); !bytes.Equal(body, original) {
		t.Fatal("alice's post was replaced")
	}
	// A whole request is refused when one item conflicts: nothing of it stays.
	st, _ := g.do("POST", OwnerPrefix+"/published", pubBody(
		PublishItem{Type: "status_message", GUID: guidB, Envelope: pubSeal(t, pubStatus(t, pubBob, func(sm *entity.StatusMessage) { sm.ID = guidB }), pubBob, kb)},
		PublishItem{Type: "status_message", GUID: pubSMGUID, Envelope: pubSeal(t, pubStatus(t, pubBob, nil), pubBob, kb)}), signer(t, "bob", kb))
	if st != 409 {
		t.Fatalf("conflicting batch: %d", st)
	}
	if st, _, _ := g.pubGet("GET", "/fetch/post/"+guidB); st != 404 {
		t.Fatalf("the conflicting batch's other item was stored: %d", st)
	}
}

func TestUnpublish(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	env := pubSeal(t, pubVector(t, "status_message_minimal.xml", pubAlice), pubAlice, ka)
	g.pubPublish("alice", ka, PublishItem{Type: "status_message", GUID: pubSMGUID, Envelope: env})
	path := OwnerPrefix + "/published/status_message/" + pubSMGUID

	for _, c := range []struct {
		name, path string
		sign       func(*http.Request, []byte)
		want       int
	}{
		{"unsigned", path, nil, 401},
		{"by another identity", path, signer(t, "bob", kb), 404},
		{"another identity as post", OwnerPrefix + "/published/post/" + pubSMGUID, signer(t, "bob", kb), 404},
		{"unknown type", OwnerPrefix + "/published/contact/" + pubSMGUID, signer(t, "alice", ka), 404},
		{"wrong type", OwnerPrefix + "/published/reshare/" + pubSMGUID, signer(t, "alice", ka), 404},
	} {
		if st, b := g.do("DELETE", c.path, nil, c.sign); st != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, st, b, c.want)
		}
	}
	if st, _, _ := g.pubGet("GET", "/fetch/post/"+pubSMGUID); st != 200 {
		t.Fatalf("after refused deletes: %d", st)
	}
	if st, b := g.do("DELETE", path, nil, signer(t, "alice", ka)); st != 204 {
		t.Fatalf("delete by the owner: %d %s", st, b)
	}
	for _, p := range []string{"/fetch/post/" + pubSMGUID, "/fetch/status_message/" + pubSMGUID, "/posts/" + pubSMGUID} {
		if st, _, _ := g.pubGet("GET", p); st != 404 {
			t.Errorf("GET %s after delete: %d", p, st)
		}
	}
	if st, _ := g.do("DELETE", path, nil, signer(t, "alice", ka)); st != 404 {
		t.Errorf("second delete: %d", st)
	}
	// Deleted, the guid is free again (bob may not have it while alice does).
	g.pubPublish("alice", ka, PublishItem{Type: "status_message", GUID: pubSMGUID, Envelope: env})
	if st, b := g.do("DELETE", OwnerPrefix+"/published/post/"+pubSMGUID, nil, signer(t, "alice", ka)); st != 204 {
		t.Fatalf("delete as post: %d %s", st, b)
	}
}

func TestPostPageEscapes(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	text := `<script>alert("x")</script> & <b onclick=1>bold</b>`
	env := pubSeal(t, pubStatus(t, pubAlice, func(sm *entity.StatusMessage) { sm.Text = text }), pubAlice, ka)
	g.pubPublish("alice", ka, PublishItem{Type: "status_message", GUID: pubSMGUID, Envelope: env})
	st, h, body := g.pubGet("GET", "/posts/"+pubSMGUID)
	if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Content-Security-Policy") == "" {
		t.Fatalf("post page: %d %v", st, h)
	}
	page := string(body)
	for _, bad := range []string{"<script>", "<b onclick", "<b>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q:\n%s", bad, page)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "&amp;", pubAlice, "2016-07-11T22:38:19Z"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}

// pubAtomDoc is what a feed reader reads.
type pubAtomDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Author  struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Links []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Content struct {
			Type string `xml:"type,attr"`
			Text string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

func TestAtomFeed(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const posts = maxFeedEntries + 2
	var items []PublishItem
	for i := range posts {
		guid := fmt.Sprintf("feed%028d", i)
		env := pubSeal(t, pubStatus(t, pubAlice, func(sm *entity.StatusMessage) {
			sm.ID = guid
			sm.CreatedAt = base.Add(time.Duration(i) * time.Hour)
			sm.Text = fmt.Sprintf("post %d <i>&</i>", i)
		}), pubAlice, ka)
		items = append(items, PublishItem{Type: "status_message", GUID: guid, Envelope: env})
	}
	// Published in a shuffled order: the feed sorts by created_at.
	items[0], items[posts-1] = items[posts-1], items[0]
	items[3], items[7] = items[7], items[3]
	g.pubPublish("alice", ka, items...)
	// Bob's post and alice's reshare are not in alice's feed.
	g.pubPublish("bob", kb, PublishItem{Type: "status_message", GUID: guidB,
		Envelope: pubSeal(t, pubStatus(t, pubBob, func(sm *entity.StatusMessage) { sm.ID = guidB }), pubBob, kb)})
	g.pubPublish("alice", ka, PublishItem{Type: "reshare", GUID: pubReshareGUID, Envelope: pubSeal(t, pubVector(t, "reshare.xml", pubAlice), pubAlice, ka)})

	st, h, body := g.pubGet("GET", "/public/alice.atom")
	if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("feed: %d %v", st, h)
	}
	var f pubAtomDoc
	if err := xml.Unmarshal(body, &f); err != nil {
		t.Fatalf("feed does not parse: %v\n%s", err, body)
	}
	self := "https://" + domain + "/public/alice.atom"
	if f.ID == "" || f.Title == "" || f.Author.Name != "alice" || f.Updated != base.Add((posts-1)*time.Hour).Format(time.RFC3339) {
		t.Errorf("feed head: %+v", f)
	}
	hasSelf := false
	for _, l := range f.Links {
		hasSelf = hasSelf || l.Rel == "self" && l.Href == self
	}
	if !hasSelf {
		t.Errorf("no rel=self link to %s: %+v", self, f.Links)
	}
	if len(f.Entries) != maxFeedEntries {
		t.Fatalf("%d entries, want %d", len(f.Entries), maxFeedEntries)
	}
	for k, e := range f.Entries {
		i := posts - 1 - k // newest first
		guid := fmt.Sprintf("feed%028d", i)
		text := fmt.Sprintf("post %d <i>&</i>", i)
		if e.ID != "https://"+domain+"/posts/"+guid || e.Content.Text != text || e.Title != text ||
			e.Updated != base.Add(time.Duration(i)*time.Hour).Format(time.RFC3339) {
			t.Errorf("entry %d: %+v, want guid %s", k, e, guid)
		}
	}
	if bytes.Contains(body, []byte("<i>")) {
		t.Error("the text is not escaped in the feed")
	}
	// Bob's feed holds his one post.
	var fb pubAtomDoc
	if st, _, body := g.pubGet("GET", "/public/bob.atom"); st != 200 || xml.Unmarshal(body, &fb) != nil || len(fb.Entries) != 1 {
		t.Errorf("bob's feed: %d %d entries", st, len(fb.Entries))
	}
	if st, _, _ := g.pubGet("GET", "/public/nobody.atom"); st != 404 {
		t.Errorf("unknown user's feed: %d", st)
	}
}

// One identity's published entities are bounded: past its quota the relay
// answers 507 and stores nothing of the request.
func TestPublishQuota(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.relay.cfg.MaxPublishedItems = 2
	self := "alice@" + domain
	item := func(guid string) PublishItem {
		payload := pubStatus(t, self, func(sm *entity.StatusMessage) { sm.ID = guid })
		return PublishItem{Type: "status_message", GUID: guid, Envelope: pubSeal(t, payload, self, ka)}
	}
	g.pubPublish("alice", ka, item("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"), item("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"))
	st, b := g.do("POST", OwnerPrefix+"/published", pubBody(item("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3")), signer(t, "alice", ka))
	if st != http.StatusInsufficientStorage {
		t.Fatalf("a third item past a quota of two: %d %s", st, b)
	}
	if st, _, _ := g.pubGet("GET", "/fetch/status_message/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3"); st != 404 {
		t.Fatalf("the refused item was stored: %d", st)
	}
}
