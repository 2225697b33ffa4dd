package web

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/apiv1/apiv1test"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// draftsState is what the drafts tables and ops hold, to check that a
// refusal changed nothing.
func draftsState(t *testing.T, r *apiRig) [2]int {
	t.Helper()
	var ops, rows int
	db := r.pod.DB().R
	if err := db.QueryRow("SELECT count(*) FROM ops").Scan(&ops); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM drafts").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	return [2]int{ops, rows}
}

func TestDraftsCRUD(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	var d pod.Draft
	_, h, b := r.do("POST", APIPrefix+"/drafts", map[string]any{"body": "Hello #world", "public": false,
		"aspects": []int{1, 2, 2}, "photos": []string{}, "location": map[string]any{"address": "Berlin", "lat": 52.5, "lng": 13.4}})
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("create: %s", b)
	}
	if !pod.ValidDraftID(d.ID) || d.Body != "Hello #world" || d.Public || !reflect.DeepEqual(d.Aspects, []int64{1, 2}) ||
		d.Location == nil || d.Location.Address != "Berlin" || len(d.Conflicts) != 0 || d.Revision == "" {
		t.Fatalf("created draft: %s", b)
	}
	if h.Get("ETag") != `"`+d.Revision+`"` {
		t.Fatalf("ETag %q, revision %q", h.Get("ETag"), d.Revision)
	}
	// The JSON shape: lists are [] and the times are set.
	var raw map[string]any
	json.Unmarshal(b, &raw)
	for _, k := range []string{"id", "body", "public", "aspects", "photos", "created_at", "updated_at", "revision", "conflicts"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("draft JSON lacks %q: %s", k, b)
		}
	}
	if _, ok := raw["poll"]; ok {
		t.Errorf("draft without a poll shows one: %s", b)
	}

	var got pod.Draft
	r.json("GET", APIPrefix+"/drafts/"+d.ID, nil, http.StatusOK, &got)
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("GET differs from POST:\n%+v\n%+v", got, d)
	}
	r.json("GET", APIPrefix+"/drafts/"+d.ID+".json", nil, http.StatusOK, nil)

	// A merge patch changes what it names and keeps the rest.
	old := d.Revision
	st, h, b := r.doHeaders("PATCH", APIPrefix+"/drafts/"+d.ID, `{"body":"Hello again","location":null}`,
		map[string]string{"If-Match": `"` + old + `"`, "Content-Type": "application/merge-patch+json"})
	if st != http.StatusOK {
		t.Fatalf("patch: %d %s", st, b)
	}
	d = pod.Draft{}
	json.Unmarshal(b, &d)
	if d.Body != "Hello again" || d.Location != nil || !reflect.DeepEqual(d.Aspects, []int64{1, 2}) || d.Revision == old ||
		h.Get("ETag") != `"`+d.Revision+`"` {
		t.Fatalf("patched: %s (ETag %q)", b, h.Get("ETag"))
	}
	// A stale If-Match is refused and changes nothing.
	before := draftsState(t, r)
	st, _, b = r.doHeaders("PATCH", APIPrefix+"/drafts/"+d.ID, `{"body":"lost"}`, map[string]string{"If-Match": `"` + old + `"`})
	if st != http.StatusPreconditionFailed {
		t.Fatalf("stale patch: %d %s", st, b)
	}
	st, _, b = r.doHeaders("DELETE", APIPrefix+"/drafts/"+d.ID, nil, map[string]string{"If-Match": `"` + old + `"`})
	if st != http.StatusPreconditionFailed {
		t.Fatalf("stale delete: %d %s", st, b)
	}
	if after := draftsState(t, r); after != before {
		t.Fatalf("refused writes changed the store: %v → %v", before, after)
	}
	// PUT is PATCH; without If-Match a draft with one version is written.
	r.json("PUT", APIPrefix+"/drafts/"+d.ID, map[string]any{"public": true}, http.StatusOK, &d)
	if !d.Public || d.Body != "Hello again" {
		t.Fatalf("put: %+v", d)
	}
	var list []pod.Draft
	r.json("GET", APIPrefix+"/drafts", nil, http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != d.ID {
		t.Fatalf("list: %+v", list)
	}
	r.json("DELETE", APIPrefix+"/drafts/"+d.ID, nil, http.StatusNoContent, nil)
	r.json("GET", APIPrefix+"/drafts/"+d.ID, nil, http.StatusNotFound, nil)
	r.json("PATCH", APIPrefix+"/drafts/"+d.ID, `{"body":"x"}`, http.StatusNotFound, nil)
	r.json("DELETE", APIPrefix+"/drafts/"+d.ID, nil, http.StatusNotFound, nil)
	r.json("GET", APIPrefix+"/drafts/not-a-draft", nil, http.StatusNotFound, nil)
	b = r.json("GET", APIPrefix+"/drafts", nil, http.StatusOK, &list)
	if len(list) != 0 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("list after delete: %s", b)
	}
}

// doHeaders is do with request headers.
func (r *apiRig) doHeaders(method, path string, body any, headers map[string]string) (int, http.Header, []byte) {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

func TestDraftsRefusals(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	var d pod.Draft
	r.json("POST", APIPrefix+"/drafts", map[string]any{"body": "keep me", "aspects": []int{3}}, http.StatusCreated, &d)
	cases := []struct {
		name string
		body any
	}{
		{"malformed JSON", `{"body": "x"`},
		{"not an object", `["body"]`},
		{"trailing data", `{"body":"x"} {}`},
		{"empty", ``},
		{"unknown aspect", `{"body":"x","aspects":[1,99]}`},
		{"aspect not a number", `{"aspects":["friends"]}`},
		{"public not a bool", `{"public":"yes"}`},
		{"invalid UTF-8", []byte("{\"body\":\"caf\xe9\"}")},
		{"control character", `{"body":"a\u0007b"}`},
		{"too long", `{"body":"` + strings.Repeat("a", 65536) + `"}`},
		{"bad photo guid", `{"photos":["../etc/passwd"]}`},
		{"bad location", `{"location":{"address":"x","lat":91,"lng":0}}`},
		{"bad poll", `{"poll":{"question":"` + strings.Repeat("q", 300) + `","poll_answers":[]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := draftsState(t, r)
			if st, _, b := r.do("POST", APIPrefix+"/drafts", c.body); st != http.StatusUnprocessableEntity {
				t.Errorf("POST: %d %s", st, b)
			}
			if st, _, b := r.do("PATCH", APIPrefix+"/drafts/"+d.ID, c.body); st != http.StatusUnprocessableEntity {
				t.Errorf("PATCH: %d %s", st, b)
			}
			if after := draftsState(t, r); after != before {
				t.Errorf("a refusal changed the store: %v → %v", before, after)
			}
			var now pod.Draft
			r.json("GET", APIPrefix+"/drafts/"+d.ID, nil, http.StatusOK, &now)
			if !reflect.DeepEqual(now, d) {
				t.Errorf("draft changed:\n%+v\n%+v", now, d)
			}
		})
	}
	if st, _, b := r.doHeaders("POST", APIPrefix+"/drafts", "body=x", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); st != http.StatusUnprocessableEntity {
		t.Errorf("form body: %d %s", st, b)
	}
}

// otherDevice is a second device of the same user: its own key and log.
type otherDevice struct {
	log *oplog.Log
	now time.Time
}

func newOtherDevice(seed byte, now time.Time) *otherDevice {
	k := make([]byte, ed25519.SeedSize)
	k[0] = seed
	d := &otherDevice{now: now}
	d.log = oplog.NewLog(ed25519.NewKeyFromSeed(k), uint64(seed)<<32|7, func() time.Time { return d.now })
	return d
}

// write signs one op of this device and applies it to the pod, as sync does.
func (d *otherDevice) write(t *testing.T, p *pod.Pod, b oplog.Body) *oplog.Op {
	t.Helper()
	raw, err := oplog.EncodeBody(b)
	if err != nil {
		t.Fatal(err)
	}
	op, s, err := d.log.Append(b.OpKind(), oplog.CurrentSchema, raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Log().Apply(context.Background(), []oplog.Signed{s}); err != nil {
		t.Fatal(err)
	}
	return op
}

func TestDraftsConcurrentVersions(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	ctx := context.Background()
	var d pod.Draft
	r.json("POST", APIPrefix+"/drafts", map[string]any{"body": "first"}, http.StatusCreated, &d)
	vs, err := store.RegisterVersions(ctx, r.pod.DB().R, store.DraftRegister(d.ID))
	if err != nil || len(vs) != 1 {
		t.Fatalf("versions: %v %v", vs, err)
	}
	// Device B saw "first" and edits it offline, a little later.
	b := newOtherDevice(2, time.Now().Add(time.Minute))
	value, _ := json.Marshal(pod.DraftContent{Body: "from the laptop", Aspects: []int64{2}})
	bop := b.write(t, r.pod, oplog.DraftWrite{Register: store.DraftRegister(d.ID), Value: string(value), Pred: store.Preds(vs)})
	// Meanwhile device C, which also saw only "first", edits it too: both
	// writes supersede "first", neither the other, so both stay live.
	c := newOtherDevice(3, time.Now())
	value, _ = json.Marshal(pod.DraftContent{Body: "from the phone"})
	c.write(t, r.pod, oplog.DraftWrite{Register: store.DraftRegister(d.ID), Value: string(value), Pred: store.Preds(vs)})

	var got pod.Draft
	r.json("GET", APIPrefix+"/drafts/"+d.ID, nil, http.StatusOK, &got)
	if got.Body != "from the laptop" || !reflect.DeepEqual(got.Aspects, []int64{2}) || len(got.Conflicts) != 1 {
		t.Fatalf("concurrent versions: %+v", got)
	}
	cd := hex.EncodeToString(c.log.ID().Device)
	if cf := got.Conflicts[0]; cf.Body != "from the phone" || !strings.HasPrefix(cd, cf.Device) || len(cf.Device) < 8 {
		t.Fatalf("conflict: %+v (device %s)", cf, cd)
	}
	if got.Revision == d.Revision {
		t.Fatal("revision unchanged by concurrent writes")
	}
	// Without If-Match the conflict is not overwritten.
	before := draftsState(t, r)
	if st, _, body := r.do("PATCH", APIPrefix+"/drafts/"+d.ID, `{"body":"blind"}`); st != http.StatusConflict ||
		!strings.Contains(string(body), got.Revision) {
		t.Fatalf("patch of a conflicted draft without If-Match: %d %s", st, body)
	}
	if after := draftsState(t, r); after != before {
		t.Fatalf("refused patch changed the store")
	}
	// With the current revision, the write supersedes both versions.
	var merged pod.Draft
	st, _, body := r.doHeaders("PATCH", APIPrefix+"/drafts/"+d.ID, `{"body":"merged"}`, map[string]string{"If-Match": `"` + got.Revision + `"`})
	if st != http.StatusOK {
		t.Fatalf("resolving patch: %d %s", st, body)
	}
	json.Unmarshal(body, &merged)
	if merged.Body != "merged" || len(merged.Conflicts) != 0 || !reflect.DeepEqual(merged.Aspects, []int64{2}) {
		t.Fatalf("merged: %+v", merged)
	}
	vs, _ = store.RegisterVersions(ctx, r.pod.DB().R, store.DraftRegister(d.ID))
	if len(vs) != 1 {
		t.Fatalf("live versions after the merge: %d", len(vs))
	}
	// A delete on device B that saw only its own version leaves the merge
	// alone (it supersedes exactly what it saw, and that is gone already).
	b.now = b.now.Add(time.Minute)
	b.write(t, r.pod, oplog.DraftWrite{Register: store.DraftRegister(d.ID), Deleted: true, Pred: []oplog.OpRef{oplog.RefOf(bop.ID())}})
	r.json("GET", APIPrefix+"/drafts/"+d.ID, nil, http.StatusOK, &got)
	if got.Body != "merged" || len(got.Conflicts) != 0 {
		t.Fatalf("after a stale remote delete: %+v", got)
	}

	// Refold: the same drafts from the ops alone, in any order.
	var list1, list2 []pod.Draft
	r.json("POST", APIPrefix+"/drafts", map[string]any{"body": "second"}, http.StatusCreated, nil)
	r.json("GET", APIPrefix+"/drafts", nil, http.StatusOK, &list1)
	rows1 := draftRows(t, r)
	if err := r.pod.Log().Refold(ctx, store.RefoldOptions{Shuffle: 7}); err != nil {
		t.Fatal(err)
	}
	r.json("GET", APIPrefix+"/drafts", nil, http.StatusOK, &list2)
	if !reflect.DeepEqual(list1, list2) || !reflect.DeepEqual(rows1, draftRows(t, r)) || len(list1) != 2 {
		t.Fatalf("refold changed the drafts:\n%+v\n%+v", list1, list2)
	}
}

func draftRows(t *testing.T, r *apiRig) []string {
	t.Helper()
	rows, err := r.pod.DB().R.Query("SELECT id, version, body, updated_at, created_at FROM drafts ORDER BY id, version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, v, b string
		var u, c int64
		if err := rows.Scan(&id, &v, &b, &u, &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{id, v, b, time.UnixMilli(u).String(), time.UnixMilli(c).String()}, "|"))
	}
	return out
}

func TestDraftsPaging(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	want := map[string]bool{}
	for i := range 5 {
		var d pod.Draft
		r.json("POST", APIPrefix+"/drafts", map[string]any{"body": strings.Repeat("x", i+1)}, http.StatusCreated, &d)
		want[d.ID] = true
	}
	path := APIPrefix + "/drafts?per_page=2"
	seen := map[string]bool{}
	var last pod.Draft
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		st, h, b := r.do("GET", path, nil)
		if st != http.StatusOK {
			t.Fatalf("%s: %d %s", path, st, b)
		}
		var page []pod.Draft
		json.Unmarshal(b, &page)
		if len(page) > 2 {
			t.Fatalf("page of %d", len(page))
		}
		for _, d := range page {
			if seen[d.ID] {
				t.Fatalf("draft %s twice", d.ID)
			}
			seen[d.ID] = true
			if last.ID != "" && (d.UpdatedAt.After(last.UpdatedAt.Time) || d.UpdatedAt.Equal(last.UpdatedAt.Time) && d.ID > last.ID) {
				t.Fatalf("order: %s after %s", d.ID, last.ID)
			}
			last = d
		}
		path = ""
		if l := h.Get("Link"); l != "" {
			if !strings.HasSuffix(l, `>; rel="next"`) || !strings.HasPrefix(l, "<") {
				t.Fatalf("Link %q", l)
			}
			path = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			if !strings.Contains(path, "per_page=2") {
				t.Fatalf("Link lost per_page: %q", l)
			}
		}
	}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("paged %v, want %v", seen, want)
	}
	r.json("GET", APIPrefix+"/drafts?cursor=garbage", nil, http.StatusUnprocessableEntity, nil)
}

func TestDraftsPublish(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	var d pod.Draft
	r.json("POST", APIPrefix+"/drafts", map[string]any{"body": "From a draft #drafts", "public": true,
		"location": map[string]any{"address": "Lisbon", "lat": 38.7, "lng": -9.1}}, http.StatusCreated, &d)
	b := r.json("POST", APIPrefix+"/drafts/"+d.ID+"/publish", nil, http.StatusCreated, nil)
	apiv1test.Validate(t, "post", b)
	var post apiv1.Post
	json.Unmarshal(b, &post)
	if post.Body != "From a draft #drafts" || !post.Public || post.Seedpod == nil || post.Seedpod.DraftID != d.ID ||
		post.Location == nil || post.Location.Address != "Lisbon" {
		t.Fatalf("published: %s", b)
	}
	r.json("GET", APIPrefix+"/drafts/"+d.ID, nil, http.StatusNotFound, nil)
	r.json("GET", V1Prefix+"/posts/"+post.GUID, nil, http.StatusOK, nil)
	r.json("POST", APIPrefix+"/drafts/"+d.ID+"/publish", nil, http.StatusNotFound, nil)

	// A limited draft goes to its aspects; a poll comes along.
	r.json("POST", APIPrefix+"/drafts", map[string]any{"body": "Friends only", "public": false, "aspects": []int{2},
		"poll": map[string]any{"question": "Tea?", "poll_answers": []string{"Yes", "No"}}}, http.StatusCreated, &d)
	st, _, b := r.doHeaders("POST", APIPrefix+"/drafts/"+d.ID+"/publish", `{"keep_created_at": false}`,
		map[string]string{"If-Match": `"` + d.Revision + `"`})
	if st != http.StatusCreated {
		t.Fatalf("limited publish: %d %s", st, b)
	}
	post = apiv1.Post{}
	json.Unmarshal(b, &post)
	if post.Public || post.Poll == nil || post.Poll.Question != "Tea?" || len(post.Poll.Answers) != 2 {
		t.Fatalf("limited post: %s", b)
	}

	// Refusals change nothing.
	for _, c := range []struct {
		name    string
		draft   map[string]any
		headers map[string]string
		body    string
		want    int
	}{
		{"empty", map[string]any{"body": "  ", "public": true}, nil, "", http.StatusUnprocessableEntity},
		{"limited without aspects", map[string]any{"body": "x", "public": false}, nil, "", http.StatusUnprocessableEntity},
		{"stale If-Match", map[string]any{"body": "x", "public": true}, map[string]string{"If-Match": `"0000"`}, "", http.StatusPreconditionFailed},
		{"keep_created_at", map[string]any{"body": "x", "public": true}, nil, `{"keep_created_at": true}`, http.StatusUnprocessableEntity},
		{"bad body", map[string]any{"body": "x", "public": true}, nil, `{"keep_created_at": `, http.StatusUnprocessableEntity},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d pod.Draft
			r.json("POST", APIPrefix+"/drafts", c.draft, http.StatusCreated, &d)
			before := draftsState(t, r)
			var body any
			if c.body != "" {
				body = c.body
			}
			if st, _, b := r.doHeaders("POST", APIPrefix+"/drafts/"+d.ID+"/publish", body, c.headers); st != c.want {
				t.Fatalf("%d %s, want %d", st, b, c.want)
			}
			if after := draftsState(t, r); after != before {
				t.Fatalf("refused publish changed the store: %v → %v", before, after)
			}
			var now pod.Draft
			r.json("GET", APIPrefix+"/drafts/"+d.ID, nil, http.StatusOK, &now)
			if !reflect.DeepEqual(now, d) {
				t.Fatalf("draft changed: %+v", now)
			}
		})
	}
	// A post the posts area refuses (a photo that is not a pending upload)
	// puts the draft back, under a new revision.
	r.json("POST", APIPrefix+"/drafts", map[string]any{"body": "with a photo", "public": true,
		"photos": []string{"0123456789abcdef0123456789abcdef"}}, http.StatusCreated, &d)
	r.json("POST", APIPrefix+"/drafts/"+d.ID+"/publish", nil, http.StatusUnprocessableEntity, nil)
	var back pod.Draft
	r.json("GET", APIPrefix+"/drafts/"+d.ID, nil, http.StatusOK, &back)
	if back.DraftContent.Body != d.Body || !reflect.DeepEqual(back.Photos, d.Photos) || len(back.Conflicts) != 0 {
		t.Fatalf("draft after a refused post: %+v", back)
	}
	// A draft in conflict must be resolved first.
	vs, _ := store.RegisterVersions(context.Background(), r.pod.DB().R, store.DraftRegister(back.ID))
	other := newOtherDevice(4, time.Now())
	value, _ := json.Marshal(pod.DraftContent{Body: "other text", Public: true})
	other.write(t, r.pod, oplog.DraftWrite{Register: store.DraftRegister(back.ID), Value: string(value), Pred: store.Preds(vs[:0])})
	r.json("GET", APIPrefix+"/drafts/"+back.ID, nil, http.StatusOK, &back)
	if len(back.Conflicts) != 1 {
		t.Fatalf("no conflict: %+v", back)
	}
	st, _, b = r.doHeaders("POST", APIPrefix+"/drafts/"+back.ID+"/publish", nil, map[string]string{"If-Match": `"` + back.Revision + `"`})
	if st != http.StatusConflict {
		t.Fatalf("publish in conflict: %d %s", st, b)
	}
}
