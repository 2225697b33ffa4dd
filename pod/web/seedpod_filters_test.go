package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/apiv1/apiv1test"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Mute filters (API.md §6.2) through the real handlers: the CRUD routes
// and their refusals, and the filters' effect on streams (paging across
// hidden posts included), search, notifications and counts.

const filtersPath = APIPrefix + "/filters"

// filterJSON is the Filter shape, decoded loosely to check every key.
type filterJSON struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Value     string   `json:"value"`
	Match     string   `json:"match"`
	Contexts  []string `json:"contexts"`
	Action    string   `json:"action"`
	ExpiresAt *string  `json:"expires_at"`
	CreatedAt string   `json:"created_at"`
	Expired   bool     `json:"expired"`
}

func (r *apiRig) createFilter(body map[string]any) filterJSON {
	r.t.Helper()
	var f filterJSON
	b := r.json("POST", filtersPath, body, http.StatusCreated, &f)
	filterKeys(r.t, b)
	return f
}

// filterKeys checks that a Filter object has exactly the contract's keys.
func filterKeys(t testing.TB, b []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := "action contexts created_at expired expires_at id kind match value"; strings.Join(keys, " ") != want {
		t.Fatalf("filter keys %v, want %s: %s", keys, want, b)
	}
}

func (r *apiRig) filterPost(author, text string, at time.Time) string {
	r.t.Helper()
	g := iaGUID()
	r.iaReceive(&entity.StatusMessage{AuthorID: author, ID: g, CreatedAt: at.UTC().Truncate(time.Second), Public: true, Text: text})
	return g
}

// streamPage reads a stream page; the GUIDs, the filtered markers by guid
// and the next link ("" when none).
func (r *apiRig) streamPage(path string) (guids []string, marks map[string]*apiv1.PostFiltered, next string) {
	r.t.Helper()
	st, h, b := r.do("GET", path, nil)
	if st != http.StatusOK {
		r.t.Fatalf("GET %s: %d %s", path, st, b)
	}
	apiv1test.Validate(r.t, "posts", b)
	var posts []apiv1.Post
	if err := json.Unmarshal(b, &posts); err != nil {
		r.t.Fatal(err)
	}
	marks = map[string]*apiv1.PostFiltered{}
	for _, p := range posts {
		guids = append(guids, p.GUID)
		if p.Seedpod != nil && p.Seedpod.Filtered != nil {
			marks[p.GUID] = p.Seedpod.Filtered
		}
	}
	if l := h.Get("Link"); l != "" {
		start, end := strings.Index(l, "<"), strings.Index(l, ">")
		u, err := url.Parse(l[start+1 : end])
		if err != nil {
			r.t.Fatal(err)
		}
		next = u.RequestURI()
	}
	return guids, marks, next
}

func TestFiltersCRUD(t *testing.T) {
	r := newAPIRig(t)
	// No identity yet: nothing to filter for.
	r.json("POST", filtersPath, map[string]any{"kind": "word", "value": "x"}, http.StatusConflict, nil)
	r.withIdentity()
	var list []filterJSON
	if b := r.json("GET", filtersPath, nil, http.StatusOK, &list); strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("empty list: %s", b)
	}
	before := time.Now().Add(-time.Second)
	w := r.createFilter(map[string]any{"kind": "word", "value": "  Spoiler "})
	if w.Kind != "word" || w.Value != "Spoiler" || w.Match != "word" || !slices.Equal(w.Contexts, []string{"streams", "notifications"}) ||
		w.Action != "collapse" || w.ExpiresAt != nil || w.Expired || len(w.ID) != 26 || !pod.ValidDraftID(w.ID) {
		t.Fatalf("defaults: %+v", w)
	}
	if at, err := time.Parse(time.RFC3339, w.CreatedAt); err != nil || at.Before(before) {
		t.Fatalf("created_at %q: %v", w.CreatedAt, err)
	}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	tg := r.createFilter(map[string]any{"kind": "tag", "value": "#NSFW", "match": "substring", "contexts": []string{"search", "streams"},
		"action": "hide", "expires_at": exp.Format(time.RFC3339Nano)})
	if tg.Value != "nsfw" || tg.Match != "word" || !slices.Equal(tg.Contexts, []string{"streams", "search"}) || tg.Action != "hide" ||
		tg.ExpiresAt == nil {
		t.Fatalf("tag: %+v", tg)
	}
	if at, err := time.Parse(time.RFC3339, *tg.ExpiresAt); err != nil || !at.Equal(exp) {
		t.Fatalf("expires_at %q, want %s", *tg.ExpiresAt, exp)
	}
	pe := r.createFilter(map[string]any{"kind": "person", "value": "acct:Bob@Pod-B.Example"})
	po := r.createFilter(map[string]any{"kind": "pod", "value": "Pod-C.Example:8443"})
	if pe.Value != "bob@pod-b.example" || po.Value != "pod-c.example:8443" {
		t.Fatalf("person %q, pod %q", pe.Value, po.Value)
	}
	// Newest first.
	b := r.json("GET", filtersPath, nil, http.StatusOK, &list)
	var raw []json.RawMessage
	json.Unmarshal(b, &raw)
	for _, x := range raw {
		filterKeys(t, x)
	}
	var ids []string
	for _, f := range list {
		ids = append(ids, f.ID)
	}
	if !slices.Equal(ids, []string{po.ID, pe.ID, tg.ID, w.ID}) {
		t.Fatalf("order %v", ids)
	}

	// Refusals write nothing.
	ops := r.opCount()
	for _, c := range []struct {
		body any
		want int
	}{
		{map[string]any{"value": "x"}, 422},
		{map[string]any{"kind": "word"}, 422},
		{map[string]any{"kind": "phrase", "value": "x"}, 422},
		{map[string]any{"kind": "word", "value": ""}, 422},
		{map[string]any{"kind": "word", "value": strings.Repeat("a", 101)}, 422},
		{map[string]any{"kind": "word", "value": "x", "match": "regex"}, 422},
		{map[string]any{"kind": "word", "value": "x", "contexts": []string{"profiles"}}, 422},
		{map[string]any{"kind": "word", "value": "x", "contexts": []string{}}, 422},
		{map[string]any{"kind": "word", "value": "x", "action": "delete"}, 422},
		{map[string]any{"kind": "word", "value": "x", "expires_at": time.Now().Add(-time.Minute).Format(time.RFC3339)}, 422},
		{map[string]any{"kind": "word", "value": "x", "expires_at": "soon"}, 422},
		{map[string]any{"kind": "person", "value": "bob"}, 422},
		{map[string]any{"kind": "pod", "value": "https://pod.example/"}, 422},
		{map[string]any{"kind": "tag", "value": "two words"}, 422},
		{map[string]any{"kind": 1, "value": "x"}, 422},
		{"not json", 422},
		{map[string]any{"kind": "word", "value": "SPOILER"}, 409}, // same word, any case
		{map[string]any{"kind": "person", "value": "bob@pod-b.example"}, 409},
	} {
		st, _, b := r.do("POST", filtersPath, c.body)
		if st != c.want {
			t.Errorf("POST %v: %d, want %d: %s", c.body, st, c.want, b)
			continue
		}
		var e struct {
			Error, Message string
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" || e.Message == "" {
			t.Errorf("POST %v: error body %s", c.body, b)
		}
	}
	// The same word as a substring filter is another filter.
	sub := r.createFilter(map[string]any{"kind": "word", "value": "spoiler", "match": "substring"})
	ops = r.opCount()
	for _, c := range []struct {
		method, id string
		body       any
		want       int
	}{
		{"PATCH", "01ARZ3NDEKTSV4RRFFQ69G5FAV", map[string]any{"action": "hide"}, 404},
		{"PATCH", "nope", map[string]any{"action": "hide"}, 404},
		{"DELETE", "01ARZ3NDEKTSV4RRFFQ69G5FAV", nil, 404},
		{"PATCH", w.ID, map[string]any{"action": "mute"}, 422},
		{"PATCH", w.ID, map[string]any{"contexts": []string{"streams", "everywhere"}}, 422},
		{"PATCH", w.ID, map[string]any{"kind": "person"}, 422}, // "Spoiler" is no diaspora ID
		{"PATCH", w.ID, map[string]any{"expires_at": "2001-01-01T00:00:00Z"}, 422},
		{"PATCH", sub.ID, map[string]any{"match": "word"}, 409}, // would duplicate w
	} {
		if st, _, b := r.do(c.method, filtersPath+"/"+c.id, c.body); st != c.want {
			t.Errorf("%s %s %v: %d, want %d: %s", c.method, c.id, c.body, st, c.want, b)
		}
	}
	if n := r.opCount(); n != ops {
		t.Fatalf("refused requests wrote %d ops", n-ops)
	}

	// PATCH is partial; expires_at null clears; only changed fields are written.
	var got filterJSON
	b = r.json("PATCH", filtersPath+"/"+tg.ID, map[string]any{"expires_at": nil, "contexts": []string{"notifications"}}, http.StatusOK, &got)
	filterKeys(t, b)
	if got.ExpiresAt != nil || got.Action != "hide" || got.Value != "nsfw" || !slices.Equal(got.Contexts, []string{"notifications"}) ||
		got.CreatedAt != tg.CreatedAt {
		t.Fatalf("patched: %+v", got)
	}
	ops = r.opCount()
	r.json("PATCH", filtersPath+"/"+tg.ID, map[string]any{"action": "hide"}, http.StatusOK, &got)
	if r.opCount() != ops {
		t.Fatal("a PATCH that changes nothing wrote ops")
	}
	r.json("PATCH", filtersPath+"/"+w.ID, map[string]any{"kind": "tag", "value": "Spoilers"}, http.StatusOK, &got)
	if got.Kind != "tag" || got.Value != "spoilers" || got.Match != "word" {
		t.Fatalf("kind change: %+v", got)
	}
	r.json("DELETE", filtersPath+"/"+w.ID, nil, http.StatusNoContent, nil)
	r.json("DELETE", filtersPath+"/"+w.ID, nil, http.StatusNotFound, nil)
	r.json("PATCH", filtersPath+"/"+w.ID, map[string]any{"action": "hide"}, http.StatusNotFound, nil)
	r.json("GET", filtersPath, nil, http.StatusOK, &list)
	if len(list) != 4 || slices.ContainsFunc(list, func(f filterJSON) bool { return f.ID == w.ID }) {
		t.Fatalf("after delete: %+v", list)
	}

	// An expired filter is listed as such (its time written as another
	// device would have, the API refusing past times).
	r.writeOps(oplog.SetField{Key: store.FilterField(pe.ID, "expires_at"), Value: strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)})
	r.json("GET", filtersPath, nil, http.StatusOK, &list)
	for _, f := range list {
		if (f.ID == pe.ID) != f.Expired {
			t.Fatalf("expired flags: %+v", list)
		}
	}

	// At most pod.MaxFilters.
	var bodies []oplog.Body
	for i := len(list); i < pod.MaxFilters; i++ {
		fid := fmt.Sprintf("01ARZ3NDEKTSV4RRFFQ6%06d", i)
		bodies = append(bodies, oplog.SetAdd{Set: store.SetFilters, Member: fid},
			oplog.SetField{Key: store.FilterField(fid, "kind"), Value: "word"},
			oplog.SetField{Key: store.FilterField(fid, "value"), Value: fmt.Sprintf("word%d", i)})
	}
	r.writeOps(bodies...)
	r.json("GET", filtersPath, nil, http.StatusOK, &list)
	if len(list) != pod.MaxFilters {
		t.Fatalf("%d filters", len(list))
	}
	r.json("POST", filtersPath, map[string]any{"kind": "word", "value": "one too many"}, http.StatusUnprocessableEntity, nil)
}

// writeOps appends ops as the pod's own writes.
func (r *apiRig) writeOps(bodies ...oplog.Body) {
	r.t.Helper()
	err := r.pod.Log().Write(context.Background(), func(w *store.Writer) error {
		for _, b := range bodies {
			if _, err := w.Append(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

func TestFiltersStreams(t *testing.T) {
	r := newIARig(t)
	base := time.Now().Add(-time.Hour)
	quiet := r.filterPost(iaBob, "a quiet morning in the garden", base)
	spoiler := r.filterPost(iaBob, "SPOILER: the butler did it", base.Add(time.Second))
	crypto := r.filterPost(iaBob, "buy cryptocurrency now", base.Add(2*time.Second))
	tagged := r.filterPost(iaBob, "look at this #NSFW", base.Add(3*time.Second))
	carols := r.filterPost(iaCarol, "carol here", base.Add(4*time.Second))
	// Bob reshares Carol's spoiler: the root's text and author count.
	carolSpoiler := r.filterPost(iaCarol, "the finale spoiler", base.Add(5*time.Second))
	reshare := iaGUID()
	r.iaReceive(&entity.Reshare{AuthorID: iaBob, ID: reshare, CreatedAt: base.Add(6 * time.Second).UTC().Truncate(time.Second),
		RootAuthorID: iaCarol, RootID: carolSpoiler})
	var own struct {
		GUID string `json:"guid"`
	}
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": "my own spoiler about crypto #nsfw", "public": true}, http.StatusOK, &own)

	stream := APIPrefix + "/streams/public?per_page=50"
	all, _, _ := r.streamPage(stream)
	if len(all) != 8 {
		t.Fatalf("unfiltered: %v", all)
	}
	spoilerF := r.createFilter(map[string]any{"kind": "word", "value": "spoiler"}) // collapse
	cryptoF := r.createFilter(map[string]any{"kind": "word", "value": "crypto", "match": "substring", "action": "hide"})
	r.createFilter(map[string]any{"kind": "tag", "value": "nsfw", "action": "hide"})
	carolF := r.createFilter(map[string]any{"kind": "person", "value": iaCarol, "contexts": []string{"streams"}})

	got, marks, _ := r.streamPage(stream)
	want := []string{own.GUID, reshare, carolSpoiler, carols, spoiler, quiet}
	if !slices.Equal(got, want) {
		t.Fatalf("filtered stream %v, want %v (crypto %s, tagged %s)", got, want, crypto, tagged)
	}
	if _, ok := marks[own.GUID]; ok {
		t.Error("my own post was marked")
	}
	refs := func(g string) string {
		m := marks[g]
		if m == nil {
			return ""
		}
		if m.Action != "collapse" {
			t.Errorf("%s: action %q", g, m.Action)
		}
		var out []string
		for _, f := range m.Filters {
			out = append(out, f.Kind+":"+f.Value+":"+f.ID)
		}
		return strings.Join(out, ",")
	}
	for g, w := range map[string]string{
		spoiler:      "word:spoiler:" + spoilerF.ID,
		reshare:      "person:" + iaCarol + ":" + carolF.ID + ",word:spoiler:" + spoilerF.ID,
		carolSpoiler: "person:" + iaCarol + ":" + carolF.ID + ",word:spoiler:" + spoilerF.ID,
		carols:       "person:" + iaCarol + ":" + carolF.ID,
		quiet:        "",
	} {
		if got := refs(g); got != w {
			t.Errorf("marks of %s: %q, want %q", g, got, w)
		}
	}
	// Hide wins: Carol's person filter turned to hide takes her posts and
	// Bob's reshare of one away.
	r.json("PATCH", filtersPath+"/"+carolF.ID, map[string]any{"action": "hide"}, http.StatusOK, nil)
	got, _, _ = r.streamPage(stream)
	if want := []string{own.GUID, spoiler, quiet}; !slices.Equal(got, want) {
		t.Fatalf("with carol hidden: %v, want %v", got, want)
	}
	// Not on a person's posts, nor the single post.
	var carolGUID string
	r.pod.DB().R.QueryRow("SELECT guid FROM people WHERE handle = ?", iaCarol).Scan(&carolGUID)
	if got, _, _ := r.streamPage(V1Prefix + "/users/" + carolGUID + "/posts"); len(got) != 2 {
		t.Fatalf("carol's profile posts: %v", got)
	}
	r.json("GET", V1Prefix+"/posts/"+crypto, nil, http.StatusOK, nil)
	// The v1 streams filter too (main holds what tags and sharing bring:
	// follow #nsfw to see Bob's tagged post there, hidden).
	r.json("POST", V1Prefix+"/tag_followings", map[string]string{"name": "nsfw"}, http.StatusNoContent, nil)
	if got, _, _ := r.streamPage(V1Prefix + "/streams/tags"); !slices.Equal(got, []string{own.GUID}) {
		t.Fatalf("followed tags stream: %v", got)
	}
	if got, _, _ := r.streamPage(APIPrefix + "/streams/tag/nsfw"); !slices.Equal(got, []string{own.GUID}) {
		t.Fatalf("tag stream: %v", got)
	}
	// Expired filters and filters of other contexts do nothing; deleting
	// one brings its posts back.
	r.writeOps(oplog.SetField{Key: store.FilterField(cryptoF.ID, "expires_at"), Value: strconv.FormatInt(time.Now().Add(-time.Second).UnixMilli(), 10)})
	r.json("PATCH", filtersPath+"/"+carolF.ID, map[string]any{"contexts": []string{"search", "notifications"}}, http.StatusOK, nil)
	got, _, _ = r.streamPage(stream)
	if want := []string{own.GUID, reshare, carolSpoiler, carols, crypto, spoiler, quiet}; !slices.Equal(got, want) {
		t.Fatalf("expired and out-of-context filters: %v, want %v", got, want)
	}
}

// A page whose rows are all hidden comes back short (even empty) with a
// next link past them; following the links gives exactly the unfiltered
// posts, in order, each once.
func TestFiltersPaging(t *testing.T) {
	r := newIARig(t)
	base := time.Now().Add(-2 * time.Hour)
	var visible []string
	const n = 70
	for i := range n {
		text := fmt.Sprintf("post %d about gardens", i)
		// 6..59 (oldest first: the newest 10 and the oldest 6 show) are
		// hidden: 54 in a row, more than a page's bounded scan.
		hidden := i >= 6 && i < 60
		if hidden {
			text = fmt.Sprintf("post %d about politics", i)
		}
		g := r.filterPost(iaBob, text, base.Add(time.Duration(i)*time.Second))
		if !hidden {
			visible = append(visible, g)
		}
	}
	slices.Reverse(visible) // newest first
	r.createFilter(map[string]any{"kind": "word", "value": "politics", "action": "hide"})
	var got []string
	pages, empty := 0, 0
	next := APIPrefix + "/streams/public?per_page=5"
	for next != "" {
		if pages++; pages > 40 {
			t.Fatal("paging does not end")
		}
		var page []string
		page, _, next = r.streamPage(next)
		if len(page) > 5 {
			t.Fatalf("page of %d", len(page))
		}
		if len(page) == 0 && next != "" {
			empty++
		}
		if len(page) == 0 && next == "" {
			break
		}
		got = append(got, page...)
	}
	if !slices.Equal(got, visible) {
		t.Fatalf("paged %d posts %v,\nwant %d %v", len(got), got, len(visible), visible)
	}
	if empty == 0 {
		t.Fatal("no page was wholly hidden: the test does not test the bound")
	}
	// Oldest first (after=) works the same way.
	got = nil
	next = APIPrefix + "/streams/public?per_page=4&after=2000-01-01T00:00:00Z"
	for pages = 0; next != ""; {
		if pages++; pages > 40 {
			t.Fatal("ascending paging does not end")
		}
		var page []string
		page, _, next = r.streamPage(next)
		if len(page) == 0 && next == "" {
			break
		}
		got = append(got, page...)
	}
	slices.Reverse(visible)
	if !slices.Equal(got, visible) {
		t.Fatalf("ascending: %v, want %v", got, visible)
	}
}

func TestFiltersSearch(t *testing.T) {
	r := newSearchRig(t)
	base := time.Now().Add(-time.Hour)
	a := r.post(searchBob, "gardens and politics", base)
	b := r.post(searchCarol, "gardens in winter", base.Add(time.Second))
	c := r.post(searchCarol, "gardens and spoilers", base.Add(2*time.Second))
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": "my gardens and politics", "public": true}, http.StatusOK, nil)
	res, _ := r.search("q=gardens&in=posts")
	if len(res) != 4 {
		t.Fatalf("unfiltered: %v", searchGUIDs(res))
	}
	// Streams-only filters leave search alone.
	r.createFilter(map[string]any{"kind": "word", "value": "politics", "action": "hide"})
	if res, _ := r.search("q=gardens&in=posts"); len(res) != 4 {
		t.Fatalf("a streams filter acted on search: %v", searchGUIDs(res))
	}
	r.createFilter(map[string]any{"kind": "word", "value": "politics", "match": "substring", "action": "hide", "contexts": []string{"search"}})
	sp := r.createFilter(map[string]any{"kind": "word", "value": "spoilers", "contexts": []string{"search"}})
	st, _, body := r.do("GET", APIPrefix+"/search?q=gardens&in=posts", nil)
	if st != 200 {
		t.Fatal(st)
	}
	var out []struct {
		GUID string     `json:"guid"`
		Item apiv1.Post `json:"item"`
	}
	json.Unmarshal(body, &out)
	var guids []string
	for _, x := range out {
		guids = append(guids, x.GUID)
		f := x.Item.Seedpod
		switch x.GUID {
		case c:
			if f == nil || f.Filtered == nil || f.Filtered.Action != "collapse" || len(f.Filtered.Filters) != 1 || f.Filtered.Filters[0].ID != sp.ID {
				t.Errorf("collapsed result: %+v", f)
			}
		default:
			if f != nil && f.Filtered != nil {
				t.Errorf("%s marked: %+v", x.GUID, f.Filtered)
			}
		}
	}
	if len(guids) != 3 || slices.Contains(guids, a) || !slices.Contains(guids, b) || !slices.Contains(guids, c) {
		t.Fatalf("filtered search: %v (bob's %s hidden, my own kept)", guids, a)
	}
}

func TestFiltersNotifications(t *testing.T) {
	r := newConvRig(t)
	mine := r.notifOwnPost("my post")
	// Bob mentions me in a spoiler; Carol comments on my post; Bob and Dave like it.
	bobPost := r.convGUIDPost(convBob, "SPOILER for @{Alice; "+convMe+"}")
	r.notifComment(convCarol, mine, "nice")
	r.notifLike(convBob, mine, "Post")
	r.notifLike(convDave, mine, "Post")
	list := func() []string {
		var out []string
		for _, n := range r.notifList("?per_page=50") {
			out = append(out, n.Type+":"+notifActors(n))
		}
		slices.Sort(out)
		return out
	}
	all := list()
	n0, _ := r.convCounts()
	if len(all) != n0 || !slices.Contains(all, "mentioned:"+convBob) || !slices.Contains(all, "comment_on_post:"+convCarol) ||
		!slices.Contains(all, "liked:"+convBob+" "+convDave) || !slices.Contains(all, "started_sharing:"+convCarol) {
		t.Fatalf("unfiltered: %v, %d unread", all, n0)
	}
	// Filters in streams only leave notifications alone.
	r.createFilter(map[string]any{"kind": "word", "value": "spoiler", "contexts": []string{"streams"}})
	r.createFilter(map[string]any{"kind": "person", "value": convCarol, "contexts": []string{"streams"}})
	if got := list(); !slices.Equal(got, all) {
		t.Fatalf("streams filters: %v", got)
	}
	// Collapse acts as hide for notifications: the target post matches.
	r.createFilter(map[string]any{"kind": "word", "value": "spoiler", "match": "substring", "contexts": []string{"notifications"}})
	// Carol's pod muted: her comment and her sharing go; Dave muted: the
	// like stays, by Bob alone.
	r.createFilter(map[string]any{"kind": "pod", "value": "pod-c.example", "contexts": []string{"notifications"}})
	r.createFilter(map[string]any{"kind": "person", "value": convDave, "action": "hide", "contexts": []string{"notifications"}})
	var want []string
	for _, x := range all {
		switch {
		case x == "mentioned:"+convBob, strings.HasSuffix(x, ":"+convCarol):
		case x == "liked:"+convBob+" "+convDave:
			want = append(want, "liked:"+convBob)
		default:
			want = append(want, x)
		}
	}
	slices.Sort(want)
	if got := list(); !slices.Equal(got, want) {
		t.Fatalf("filtered notifications: %v, want %v (bob's post %s)", got, want, bobPost)
	}
	if n, _ := r.convCounts(); n != len(want) || n >= n0 {
		t.Fatalf("unread count %d, want %d", n, len(want))
	}
	// Paging: one per page still reaches the liked one, then ends.
	st, h, b := r.do("GET", V1Prefix+"/notifications?per_page=1", nil)
	if st != 200 || !strings.Contains(string(b), store.NotifyLiked) || h.Get("Link") == "" {
		t.Fatalf("first page: %d %s %q", st, b, h.Get("Link"))
	}
}

// convGUIDPost receives a public post by author.
func (r *apiRig) convGUIDPost(author, text string) string {
	r.t.Helper()
	g := convGUID()
	r.notifReceive(&entity.StatusMessage{AuthorID: author, ID: g, CreatedAt: time.Now().UTC().Truncate(time.Second), Public: true, Text: text})
	return g
}

// Each change emits a "filters" event.
func TestFiltersEvents(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	c := openSSE(t, r.srv.URL+APIPrefix+"/events", "")
	f := r.createFilter(map[string]any{"kind": "word", "value": "x"})
	c.waitFor(t, "filters", f.ID)
	r.json("PATCH", filtersPath+"/"+f.ID, map[string]any{"action": "hide"}, http.StatusOK, nil)
	c.waitFor(t, "filters", f.ID)
	r.json("DELETE", filtersPath+"/"+f.ID, nil, http.StatusNoContent, nil)
	c.waitFor(t, "filters", f.ID)
}

// BenchmarkFilteredStream: a public stream page (15 posts) on a seeded pod
// with no filters and with 100 word filters (collapse; one matches seeded
// words, so pages carry markers). Run with -bench FilteredStream.
func BenchmarkFilteredStream(b *testing.B) {
	p, err := pod.Open(context.Background(), pod.Config{DataDir: b.TempDir(), KeyBits: 1024})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := p.Seed(context.Background(), pod.SeedOptions{Posts: 5000, Contacts: 200, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	h, err := New(p, Options{Mode: ModeWindow})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(b *testing.B, path string) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		var posts []json.RawMessage
		err = json.NewDecoder(resp.Body).Decode(&posts)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(posts) == 0 {
			b.Fatalf("GET %s: %d %v (%d posts)", path, resp.StatusCode, err, len(posts))
		}
	}
	path := APIPrefix + "/streams/public"
	b.Run("filters=0", func(b *testing.B) {
		for b.Loop() {
			get(b, path)
		}
	})
	str := func(s string) *string { return &s }
	for i := range 99 {
		if _, err := p.CreateFilter(context.Background(), pod.FilterInput{Kind: str("word"), Value: str(fmt.Sprintf("nomatch%d", i))}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := p.CreateFilter(context.Background(), pod.FilterInput{Kind: str("word"), Value: str("coffee")}); err != nil {
		b.Fatal(err)
	}
	b.Run("filters=100", func(b *testing.B) {
		for b.Loop() {
			get(b, path)
		}
	})
}
