package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/apiv1/apiv1test"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/store"
)

// Full-text search (GET /api/seedpod/v1/search) through the real handler.

const (
	searchBob   = "bob@pod-b.example"
	searchCarol = "carol@pod-c.example"
	searchMe    = "alice@localhost"
)

func searchGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// searchRig is a pod with the identity, Bob Builder and Carol Singer.
type searchRig struct {
	*apiRig
	people map[string]string // handle → guid
}

func newSearchRig(t *testing.T) *searchRig {
	t.Helper()
	r := &searchRig{apiRig: newAPIRig(t).withIdentity(), people: map[string]string{}}
	for h, name := range map[string][2]string{searchBob: {"Bob", "Builder"}, searchCarol: {"Carol", "Singer"}} {
		g := searchGUID()
		r.people[h] = g
		if err := r.pod.AddPerson(context.Background(), store.PersonRecord{GUID: g, DiasporaID: h, FirstName: name[0],
			LastName: name[1], Searchable: true}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *searchRig) receive(e entity.Entity) {
	r.t.Helper()
	payload, err := entity.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.pod.Receive(context.Background(), payload); err != nil {
		r.t.Fatal(err)
	}
}

// post receives a public post by author, created at a given time.
func (r *searchRig) post(author, text string, at time.Time) string {
	r.t.Helper()
	g := searchGUID()
	r.receive(&entity.StatusMessage{AuthorID: author, ID: g, CreatedAt: at.UTC().Truncate(time.Second), Public: true, Text: text})
	return g
}

// search runs a query and checks every item against the v1 schema.
func (r *searchRig) search(query string) ([]pod.SearchResult, http.Header) {
	r.t.Helper()
	st, h, b := r.do("GET", APIPrefix+"/search?"+query, nil)
	if st != http.StatusOK {
		r.t.Fatalf("search %s: %d %s", query, st, b)
	}
	var raw []struct {
		Kind string          `json:"kind"`
		Item json.RawMessage `json:"item"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		r.t.Fatalf("search %s: %s", query, b)
	}
	for _, x := range raw {
		switch x.Kind {
		case "post":
			apiv1test.Validate(r.t, "post", x.Item)
		case "comment":
			apiv1test.Validate(r.t, "comments", []byte("["+string(x.Item)+"]"))
		case "message":
			apiv1test.Validate(r.t, "messages", []byte("["+string(x.Item)+"]"))
		case "person":
			apiv1test.Validate(r.t, "short_profile", x.Item)
		default:
			r.t.Errorf("result kind %q", x.Kind)
		}
	}
	var out []pod.SearchResult
	if err := json.Unmarshal(b, &out); err != nil {
		r.t.Fatal(err)
	}
	return out, h
}

func searchGUIDs(rs []pod.SearchResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Kind+":"+r.GUID)
	}
	return out
}

func TestSearchEverything(t *testing.T) {
	r := newSearchRig(t)
	base := time.Now().Add(-time.Hour)
	var own apiv1.Post
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": "Baking **sourdough** bread today", "public": true}, http.StatusOK, &own)
	p1 := r.post(searchBob, "Fresh bread from the market", base)
	p2 := r.post(searchBob, "Nothing to see here", base.Add(time.Minute))
	p3 := r.post(searchCarol, "Bread again #Baking", base.Add(2*time.Minute))
	cm := searchGUID()
	r.receive(&entity.Comment{AuthorID: searchCarol, ID: cm, Parent: own.GUID, Text: "Your bread looks great",
		CreatedAt: time.Now().UTC().Add(time.Minute).Truncate(time.Second), Relay: entity.Relay{Signature: "c2ln"}})
	conv, msg := searchGUID(), searchGUID()
	at := base.Add(3 * time.Minute).UTC().Truncate(time.Second)
	r.receive(&entity.Conversation{AuthorID: searchBob, ID: conv, Subject: "Baking", CreatedAt: at,
		Participants: []string{searchBob, searchMe},
		Messages:     []*entity.Message{{AuthorID: searchBob, ID: msg, Text: "Shall we bake bread together?", CreatedAt: at, ConversationGUID: conv}}})

	res, _ := r.search("q=bread")
	want := []string{"comment:" + cm, "post:" + own.GUID, "message:" + msg, "post:" + p3, "post:" + p1}
	if got := searchGUIDs(res); !slices.Equal(got, want) {
		t.Fatalf("q=bread newest first:\n got %v\nwant %v", got, want)
	}
	for _, x := range res {
		if len(x.Highlights) == 0 {
			t.Errorf("%s %s: no highlight in %q", x.Kind, x.GUID, x.Snippet)
			continue
		}
		u := []rune(x.Snippet) // ASCII here: UTF-16 offsets are rune offsets
		if hl := strings.ToLower(string(u[x.Highlights[0].Start:x.Highlights[0].End])); !strings.HasPrefix(hl, "bread") {
			t.Errorf("%s: highlight %q in %q", x.GUID, hl, x.Snippet)
		}
		if x.Score != nil {
			t.Errorf("recent order has a score: %+v", x)
		}
	}
	if res[0].PostGUID != own.GUID || res[2].ConversationGUID != conv {
		t.Errorf("parents: %+v / %+v", res[0], res[2])
	}
	if !strings.Contains(res[1].Snippet, "Baking sourdough bread") {
		t.Errorf("post snippet is not plain text: %q", res[1].Snippet)
	}
	// in= narrows, prefixes match as you type, #tags and @handles work.
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"q=bread&in=posts", []string{"post:" + own.GUID, "post:" + p3, "post:" + p1}},
		{"q=bre&in=posts,comments", []string{"comment:" + cm, "post:" + own.GUID, "post:" + p3, "post:" + p1}},
		{"q=%23baking", []string{"post:" + p3}},
		{"q=%40bob+bread&in=posts", []string{"post:" + p1}},
		{"q=%40carol&in=posts&in=comments", []string{"comment:" + cm, "post:" + p3}},
		{"q=builder&in=people", []string{"person:" + r.people[searchBob]}},
		{"q=car&in=people", []string{"person:" + r.people[searchCarol]}},
		{"q=%40bob@pod-b&in=people", []string{"person:" + r.people[searchBob]}},
		{"q=nothing+see", []string{"post:" + p2}},
		{"q=unheardof", nil},
	} {
		res, _ := r.search(c.q)
		if got := searchGUIDs(res); !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.q, got, c.want)
		}
	}
	res, _ = r.search("q=builder&in=people")
	if p, ok := res[0].Item.(map[string]any); !ok || p["name"] != "Bob Builder" {
		t.Errorf("person item: %+v", res[0].Item)
	}
	// Relevance: every match of the bounded set, best first, with scores.
	res, _ = r.search("q=bread&sort=relevance")
	if len(res) != 5 {
		t.Fatalf("relevance: %v", searchGUIDs(res))
	}
	for i, x := range res {
		if x.Score == nil || i > 0 && *x.Score > *res[i-1].Score {
			t.Fatalf("relevance order: %+v", res)
		}
	}
	// Paging: per_page=2 walks the same list without repeats, both orders.
	for _, sort := range []string{"recent", "relevance"} {
		all, _ := r.search("q=bread&sort=" + sort)
		var paged []string
		path := APIPrefix + "/search?q=bread&per_page=2&sort=" + sort
		for n := 0; path != ""; n++ {
			if n > 5 {
				t.Fatal("paging does not end")
			}
			u, _ := url.Parse(path)
			res, h := r.search(u.RawQuery)
			if len(res) > 2 {
				t.Fatalf("page of %d", len(res))
			}
			paged = append(paged, searchGUIDs(res)...)
			path = ""
			if l := h.Get("Link"); l != "" {
				path = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			}
		}
		if !slices.Equal(paged, searchGUIDs(all)) {
			t.Errorf("%s paged:\n got %v\nwant %v", sort, paged, searchGUIDs(all))
		}
	}
}

func TestSearchExclusions(t *testing.T) {
	r := newSearchRig(t)
	now := time.Now()
	bobPost := r.post(searchBob, "the zebra crossing", now.Add(-time.Minute))
	carolPost := r.post(searchCarol, "a zebra at the zoo", now.Add(-2*time.Minute))
	var own apiv1.Post
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": "my zebra", "public": true}, http.StatusOK, &own)
	conv, msg := searchGUID(), searchGUID()
	at := now.UTC().Truncate(time.Second)
	r.receive(&entity.Conversation{AuthorID: searchBob, ID: conv, Subject: "Zebras", CreatedAt: at,
		Participants: []string{searchBob, searchMe},
		Messages:     []*entity.Message{{AuthorID: searchBob, ID: msg, Text: "zebra talk", CreatedAt: at, ConversationGUID: conv}}})
	res, _ := r.search("q=zebra")
	if len(res) != 4 {
		t.Fatalf("before: %v", searchGUIDs(res))
	}
	// A retracted post (by its author) and a deleted own post are gone.
	r.receive(&entity.Retraction{AuthorID: searchBob, Target: bobPost, TargetTypeName: "Post"})
	r.json("DELETE", V1Prefix+"/posts/"+own.GUID, nil, http.StatusNoContent, nil)
	// Carol is blocked: her posts are left out.
	r.json("POST", V1Prefix+"/users/"+r.people[searchCarol]+"/block", nil, http.StatusCreated, nil)
	// The conversation is hidden.
	r.json("DELETE", V1Prefix+"/conversations/"+conv, nil, http.StatusNoContent, nil)
	res, _ = r.search("q=zebra")
	if len(res) != 0 {
		t.Fatalf("after retraction, delete, block and hide: %v", searchGUIDs(res))
	}
	r.json("DELETE", V1Prefix+"/users/"+r.people[searchCarol]+"/block", nil, http.StatusNoContent, nil)
	res, _ = r.search("q=zebra")
	if got := searchGUIDs(res); !slices.Equal(got, []string{"post:" + carolPost}) {
		t.Fatalf("after unblock: %v", got)
	}
	// A refold gives the same answers.
	before, _ := json.Marshal(res)
	if err := r.pod.Log().Refold(context.Background(), store.RefoldOptions{Shuffle: 7}); err != nil {
		t.Fatal(err)
	}
	res, _ = r.search("q=zebra")
	if after, _ := json.Marshal(res); string(after) != string(before) {
		t.Fatalf("refold changed the search:\n%s\n%s", before, after)
	}
}

// TestSearchHostileQueries: nothing a user types makes the search fail.
func TestSearchHostileQueries(t *testing.T) {
	r := newSearchRig(t)
	r.post(searchBob, `quotes " and stars * and NEAR(a b) OR (unbalanced`, time.Now())
	hostile := []string{`"`, `*`, `NEAR(`, `NEAR(a b, 2)`, `OR`, `a OR b`, `AND`, `NOT x`, `(((`, `)`, `"unbalanced`,
		`col:x`, `text:quotes`, `^x`, `-x`, `+x`, `{text}`, `#`, `@`, `#"`, `@@@`, `\`, `'`, `%`, `_`,
		strings.Repeat("lorem ipsum dolor ", 600), "\x00\x01\x1f\x7f", "\u202e\u200b", "🙂🙃", "\xff\xfe", "e\u0301"}
	for _, q := range hostile {
		for _, sort := range []string{"recent", "relevance"} {
			st, _, b := r.do("GET", APIPrefix+"/search?sort="+sort+"&q="+url.QueryEscape(q), nil)
			if st != http.StatusOK {
				t.Errorf("q=%.30q sort=%s: %d %s", q, sort, st, b)
			}
		}
	}
	res, _ := (&searchRig{apiRig: r.apiRig}).search("q=" + url.QueryEscape(`NEAR( "stars" OR`))
	if len(res) != 1 {
		t.Errorf("operator words as words: %v", searchGUIDs(res))
	}
	for _, bad := range []string{"", "q=", "q=+++", "q=x&sort=best", "q=x&in=drafts", "q=x&cursor=bogus",
		"q=x&cursor=" + url.QueryEscape("eyJzIjoicmVjZW50IiwicCI6eyJwb3N0cyI6LTF9fQ")} {
		if st, _, b := r.do("GET", APIPrefix+"/search?"+bad, nil); st != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", bad, st, b)
		}
	}
}
