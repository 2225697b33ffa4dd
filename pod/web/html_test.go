package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/apiv1/apiv1test"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/store"
)

// Rendered HTML in the API: seedpod.html on every Post, and "html" on
// comments and messages when the client asks with html=1 (their schema
// objects are closed).

const (
	htmlBob    = "bob@pod-b.example"    // known, mutual contact
	htmlCarol  = "carol@pod-c.example"  // known
	htmlNobody = "nobody@pod-z.example" // never discovered
)

// htmlText has Markdown, a tag, mentions of a known and an unknown person,
// a footnote and two XSS attempts.
const htmlText = "Hello **world** #Seedpod with @{Bob; " + htmlBob + "} and @{" + htmlNobody + "}.\n\n" +
	"<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n" +
	"[x](javascript:alert(1)) [y](JavaScript:alert%281%29)\n\n" +
	"A note[^1].\n\n[^1]: the note"

// htmlHandlerAttr finds an event handler attribute inside a tag.
var htmlHandlerAttr = regexp.MustCompile(`<[a-z][^>]*\son[a-z]+\s*=`)

func htmlGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// htmlRig is a pod with the identity and two known people; guids maps their
// handles to person guids. Bob is a mutual contact.
type htmlRig struct {
	*apiRig
	guids map[string]string
}

func newHTMLRig(t *testing.T) *htmlRig {
	t.Helper()
	r := &htmlRig{apiRig: newAPIRig(t).withIdentity(), guids: map[string]string{}}
	ctx := context.Background()
	for _, h := range []string{htmlBob, htmlCarol} {
		g := htmlGUID()
		r.guids[h] = g
		name := strings.ToUpper(h[:1]) + h[1:strings.Index(h, "@")]
		if err := r.pod.AddPerson(ctx, store.PersonRecord{GUID: g, DiasporaID: h, FirstName: name + " Known",
			Searchable: true}); err != nil {
			t.Fatal(err)
		}
	}
	r.json("POST", V1Prefix+"/aspects/1/contacts", map[string]string{"person_guid": r.guids[htmlBob]}, http.StatusNoContent, nil)
	r.htmlReceive(&entity.Contact{AuthorID: htmlBob, Recipient: r.htmlMe(), Following: true, Sharing: true})
	return r
}

func (r *htmlRig) htmlMe() string {
	r.t.Helper()
	me, err := r.pod.DB().Me(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return me.Handle()
}

func (r *htmlRig) htmlMyGUID() string {
	r.t.Helper()
	me, err := r.pod.DB().Me(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return me.GUID
}

func (r *htmlRig) htmlReceive(e entity.Entity) {
	r.t.Helper()
	payload, err := entity.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.pod.Receive(context.Background(), payload); err != nil {
		r.t.Fatal(err)
	}
}

// htmlPost reads a post, validates it against the schema's post (the html
// key included) and returns it.
func (r *htmlRig) htmlPost(guid string) apiv1.Post {
	r.t.Helper()
	var p apiv1.Post
	b := r.json("GET", V1Prefix+"/posts/"+guid, nil, http.StatusOK, &p)
	apiv1test.Validate(r.t, "post", b)
	return p
}

// htmlSafe checks rendered HTML for what must never get through.
func htmlSafe(t *testing.T, what, h string) {
	t.Helper()
	low := strings.ToLower(h)
	for _, bad := range []string{"<script", "javascript:", "<img"} {
		if strings.Contains(low, bad) {
			t.Errorf("%s: %q got through:\n%s", what, bad, h)
		}
	}
	// Raw HTML stays text; no tag carries an event handler.
	if htmlHandlerAttr.MatchString(low) {
		t.Errorf("%s: an event handler got through:\n%s", what, h)
	}
}

// htmlHasKey reports whether any object of a JSON array (or the object)
// has key.
func htmlHasKey(t *testing.T, body []byte, key string) bool {
	t.Helper()
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(body, &one); err != nil {
			t.Fatalf("not JSON: %s", body)
		}
		list = append(list, one)
	}
	for _, o := range list {
		if _, ok := o[key]; ok {
			return true
		}
	}
	return false
}

func TestHTMLPost(t *testing.T) {
	r := newHTMLRig(t)
	myGUID := r.htmlMyGUID()
	text := htmlText + "\n\nand me: @{" + r.htmlMe() + "}"
	var created apiv1.Post
	b := r.json("POST", V1Prefix+"/posts", map[string]any{"body": text, "public": true}, http.StatusOK, &created)
	apiv1test.Validate(t, "post", b)
	if created.Seedpod == nil || created.Seedpod.HTML == "" {
		t.Fatalf("created post without seedpod.html: %s", b)
	}

	p := r.htmlPost(created.GUID)
	if p.Body != text {
		t.Errorf("body changed: %q", p.Body)
	}
	h := p.Seedpod.HTML
	htmlSafe(t, "post", h)
	for _, want := range []string{
		"<strong>world</strong>",
		`href="/tags/seedpod"`,
		"&lt;script&gt;", // raw HTML is text
		`href="/people/` + r.guids[htmlBob] + `"`,
		"Bob Known",                     // the display name from the people table
		`href="/people/` + myGUID + `"`, // a mention of me
		created.GUID + "fn:1",           // footnote ids carry the post guid
	} {
		if !strings.Contains(h, want) {
			t.Errorf("post html lacks %q:\n%s", want, h)
		}
	}
	if strings.Count(h, `href="/people/`) != 2 {
		t.Errorf("want links to Bob and me only (the unknown handle is text):\n%s", h)
	}
	if !strings.Contains(h, htmlNobody) {
		t.Errorf("the unknown mention is gone:\n%s", h)
	}
	if created.Seedpod.HTML != h {
		t.Errorf("the create answer and the read differ:\n%s\n%s", created.Seedpod.HTML, h)
	}

	// A post without text has no html, and no empty extension.
	bare := r.htmlPost(r.htmlReceivedPost(htmlCarol, ""))
	if bare.Seedpod != nil {
		t.Errorf("post without text: seedpod %+v", bare.Seedpod)
	}

	// In a stream too.
	st, _, sb := r.do("GET", V1Prefix+"/streams/main", nil)
	if st != http.StatusOK {
		t.Fatalf("stream: %d %s", st, sb)
	}
	apiv1test.Validate(t, "posts", sb)
	var ps []apiv1.Post
	if err := json.Unmarshal(sb, &ps); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sp := range ps {
		if sp.GUID == created.GUID {
			found = sp.Seedpod != nil && sp.Seedpod.HTML == h
		}
	}
	if !found {
		t.Errorf("the stream lacks the post with its html: %s", sb)
	}
}

// htmlReceivedPost receives a public status message by author.
func (r *htmlRig) htmlReceivedPost(author, text string) string {
	r.t.Helper()
	g := htmlGUID()
	r.htmlReceive(&entity.StatusMessage{AuthorID: author, ID: g, CreatedAt: time.Now().UTC().Truncate(time.Second),
		Public: true, Text: text})
	return g
}

func TestHTMLReshare(t *testing.T) {
	r := newHTMLRig(t)
	root := r.htmlReceivedPost(htmlBob, htmlText)
	plain := r.htmlReceivedPost(htmlBob, "just #text")

	reshare := func(of string) string {
		g := htmlGUID()
		r.htmlReceive(&entity.Reshare{AuthorID: htmlCarol, ID: g, CreatedAt: time.Now().UTC().Truncate(time.Second),
			RootAuthorID: htmlBob, RootID: of})
		return g
	}
	rs, rsPlain := reshare(root), reshare(plain)

	rp := r.htmlPost(root)
	p := r.htmlPost(rs)
	if p.Seedpod == nil || p.Seedpod.HTML == "" || p.Root == nil || p.Root.Seedpod == nil {
		t.Fatalf("reshare without html: %+v", p)
	}
	htmlSafe(t, "reshare", p.Seedpod.HTML)
	// The root's text, with the reshare's footnote ids.
	if !strings.Contains(p.Seedpod.HTML, `href="/people/`+r.guids[htmlBob]+`"`) ||
		!strings.Contains(p.Seedpod.HTML, rs+"fn:1") || strings.Contains(p.Seedpod.HTML, root+"fn:1") {
		t.Errorf("reshare html:\n%s", p.Seedpod.HTML)
	}
	if p.Root.Seedpod.HTML != rp.Seedpod.HTML || !strings.Contains(rp.Seedpod.HTML, root+"fn:1") {
		t.Errorf("root html in the reshare differs from the post's:\n%s\n%s", p.Root.Seedpod.HTML, rp.Seedpod.HTML)
	}
	// Without footnotes the root's rendering is the reshare's.
	pp := r.htmlPost(rsPlain)
	if pp.Seedpod == nil || pp.Seedpod.HTML != r.htmlPost(plain).Seedpod.HTML ||
		!strings.Contains(pp.Seedpod.HTML, `href="/tags/text"`) {
		t.Errorf("plain reshare html: %+v", pp.Seedpod)
	}
}

func TestHTMLComments(t *testing.T) {
	r := newHTMLRig(t)
	post := r.htmlReceivedPost(htmlBob, "a post")
	path := V1Prefix + "/posts/" + post + "/comments"

	// Default answers: schema-valid, no html.
	b := r.json("POST", path, map[string]string{"body": htmlText}, http.StatusCreated, nil)
	apiv1test.Validate(t, "comments", []byte("["+string(b)+"]"))
	if htmlHasKey(t, b, "html") {
		t.Errorf("html unasked: %s", b)
	}
	r.htmlReceive(&entity.Comment{AuthorID: htmlCarol, ID: htmlGUID(), Parent: post,
		Text: "#Reply to @{" + htmlBob + "}", CreatedAt: time.Now().UTC().Truncate(time.Second),
		Relay: entity.Relay{Signature: "c2ln"}})
	b = r.json("GET", path, nil, http.StatusOK, nil)
	apiv1test.Validate(t, "comments", b)
	if htmlHasKey(t, b, "html") {
		t.Errorf("html unasked: %s", b)
	}
	b = r.json("GET", path+"?html=0", nil, http.StatusOK, nil)
	apiv1test.Validate(t, "comments", b)
	if htmlHasKey(t, b, "html") {
		t.Errorf("html=0: %s", b)
	}

	// html=1: every comment carries it.
	var cs []apiv1.Comment
	r.json("GET", path+"?html=1", nil, http.StatusOK, &cs)
	if len(cs) != 2 {
		t.Fatalf("%d comments", len(cs))
	}
	bobLink := `href="/people/` + r.guids[htmlBob] + `"`
	for _, c := range cs {
		htmlSafe(t, "comment", c.HTML)
		if !strings.Contains(c.HTML, bobLink) {
			t.Errorf("comment %q: html lacks the link to Bob:\n%s", c.Body, c.HTML)
		}
		switch h := c.HTML; c.Body {
		case htmlText:
			if !strings.Contains(h, "<strong>world</strong>") || !strings.Contains(h, `href="/tags/seedpod"`) ||
				!strings.Contains(h, "&lt;script&gt;") || !strings.Contains(h, c.GUID+"fn:1") ||
				strings.Count(h, `href="/people/`) != 1 || !strings.Contains(h, htmlNobody) {
				t.Errorf("own comment html:\n%s", h)
			}
		default:
			if !strings.Contains(h, `href="/tags/reply"`) {
				t.Errorf("received comment html:\n%s", h)
			}
		}
	}

	// The POST answer with html=1 in the query.
	var c apiv1.Comment
	r.json("POST", path+"?html=1", map[string]string{"body": "*hi* @{" + htmlCarol + "}"}, http.StatusCreated, &c)
	if !strings.Contains(c.HTML, "<em>hi</em>") || !strings.Contains(c.HTML, `href="/people/`+r.guids[htmlCarol]+`"`) {
		t.Errorf("posted comment html: %q", c.HTML)
	}

	// A bad value is refused before anything is written.
	var before int
	r.pod.DB().R.QueryRow("SELECT count(*) FROM ops").Scan(&before)
	if st, _, b := r.do("POST", path+"?html=banana", map[string]string{"body": "x"}); st != http.StatusUnprocessableEntity {
		t.Errorf("html=banana: %d %s", st, b)
	}
	var after int
	r.pod.DB().R.QueryRow("SELECT count(*) FROM ops").Scan(&after)
	if after != before {
		t.Errorf("a refused request wrote %d ops", after-before)
	}
	if st, _, b := r.do("GET", path+"?html=banana", nil); st != http.StatusUnprocessableEntity {
		t.Errorf("GET html=banana: %d %s", st, b)
	}
}

func TestHTMLMessages(t *testing.T) {
	r := newHTMLRig(t)
	var conv apiv1.Conversation
	b := r.json("POST", V1Prefix+"/conversations", map[string]any{"subject": "Plans", "body": htmlText,
		"recipients": []string{r.guids[htmlBob]}}, http.StatusCreated, &conv)
	apiv1test.Validate(t, "conversation", b)
	path := V1Prefix + "/conversations/" + conv.GUID + "/messages"

	// Default answers: schema-valid, no html.
	b = r.json("POST", path, map[string]string{"body": "second #two"}, http.StatusCreated, nil)
	apiv1test.Validate(t, "messages", []byte("["+string(b)+"]"))
	if htmlHasKey(t, b, "html") {
		t.Errorf("html unasked: %s", b)
	}
	b = r.json("GET", path, nil, http.StatusOK, nil)
	apiv1test.Validate(t, "messages", b)
	if htmlHasKey(t, b, "html") {
		t.Errorf("html unasked: %s", b)
	}

	// html=1.
	var ms []apiv1.Message
	r.json("GET", path+"?html=1", nil, http.StatusOK, &ms)
	if len(ms) != 2 {
		t.Fatalf("%d messages", len(ms))
	}
	h := ms[0].HTML
	htmlSafe(t, "message", h)
	for _, want := range []string{"<strong>world</strong>", `href="/tags/seedpod"`, "&lt;script&gt;",
		`href="/people/` + r.guids[htmlBob] + `"`, "Bob Known", ms[0].GUID + "fn:1"} {
		if !strings.Contains(h, want) {
			t.Errorf("message html lacks %q:\n%s", want, h)
		}
	}
	if strings.Count(h, `href="/people/`) != 1 || !strings.Contains(h, htmlNobody) {
		t.Errorf("the unknown mention must stay text:\n%s", h)
	}
	if !strings.Contains(ms[1].HTML, `href="/tags/two"`) {
		t.Errorf("second message html: %q", ms[1].HTML)
	}

	// The POST answer with html=1, a mention of me included.
	var m apiv1.Message
	r.json("POST", path+"?html=1", map[string]string{"body": "@{" + r.htmlMe() + "} **yes**"}, http.StatusCreated, &m)
	if !strings.Contains(m.HTML, "<strong>yes</strong>") || !strings.Contains(m.HTML, `href="/people/`+r.htmlMyGUID()+`"`) {
		t.Errorf("posted message html: %q", m.HTML)
	}
	if st, _, b := r.do("GET", path+"?html=banana", nil); st != http.StatusUnprocessableEntity {
		t.Errorf("GET html=banana: %d %s", st, b)
	}
}
