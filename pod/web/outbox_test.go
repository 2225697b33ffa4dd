package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/store"
)

// The outbox view (GET /api/seedpod/v1/outbox, /deliveries/:guid).

const (
	obBob   = "bob@pod-b.example"   // mutual: in aspect 1, shares with me
	obCarol = "carol@pod-c.example" // shares with me, in no aspect
	obDave  = "dave@pod-d.example"  // in aspect 2, does not share
	obErin  = "erin@pod-e.example"  // no contact; mentioned
)

type outboxRig struct {
	*searchRig
}

func newOutboxRig(t *testing.T) *outboxRig {
	t.Helper()
	r := &outboxRig{&searchRig{apiRig: newAPIRig(t).withIdentity(), people: map[string]string{}}}
	for _, h := range []string{obBob, obCarol, obDave, obErin} {
		g := searchGUID()
		r.people[h] = g
		if err := r.pod.AddPerson(context.Background(), store.PersonRecord{GUID: g, DiasporaID: h, Searchable: true}); err != nil {
			t.Fatal(err)
		}
	}
	r.json("POST", V1Prefix+"/aspects/1/contacts", map[string]string{"person_guid": r.people[obBob]}, http.StatusNoContent, nil)
	r.json("POST", V1Prefix+"/aspects/2/contacts", map[string]string{"person_guid": r.people[obDave]}, http.StatusNoContent, nil)
	for _, h := range []string{obBob, obCarol} {
		r.receive(&entity.Contact{AuthorID: h, Recipient: searchMe, Following: true, Sharing: true})
	}
	return r
}

// outbox reads the whole outbox, page by page.
func (r *outboxRig) outbox(perPage string) []pod.OutboxEntry {
	r.t.Helper()
	var all []pod.OutboxEntry
	path := APIPrefix + "/outbox?per_page=" + perPage
	for n := 0; path != ""; n++ {
		if n > 50 {
			r.t.Fatal("outbox paging does not end")
		}
		st, h, b := r.do("GET", path, nil)
		if st != http.StatusOK {
			r.t.Fatalf("%s: %d %s", path, st, b)
		}
		var page []pod.OutboxEntry
		if err := json.Unmarshal(b, &page); err != nil {
			r.t.Fatal(err)
		}
		all = append(all, page...)
		path = ""
		if l := h.Get("Link"); l != "" {
			path = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
		}
	}
	return all
}

func obEntry(t *testing.T, es []pod.OutboxEntry, guid string) pod.OutboxEntry {
	t.Helper()
	for _, e := range es {
		if e.GUID == guid {
			return e
		}
	}
	t.Fatalf("no outbox entry %s in %+v", guid, es)
	return pod.OutboxEntry{}
}

func obHandles(e pod.OutboxEntry) []string {
	var out []string
	for _, r := range e.Recipients {
		out = append(out, r.DiasporaID)
	}
	return out
}

func TestOutboxRecipients(t *testing.T) {
	r := newOutboxRig(t)
	var public, limited apiv1.Post
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": "Hello @{Erin; " + obErin + "}", "public": true}, http.StatusOK, &public)
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": "Just for aspect 2, not @{Erin; " + obErin + "}", "public": false, "aspects": []int{2}}, http.StatusOK, &limited)
	// Bob joins aspect 2 afterwards: the limited post's recipients are frozen.
	r.json("POST", V1Prefix+"/aspects/2/contacts", map[string]string{"person_guid": r.people[obBob]}, http.StatusNoContent, nil)
	remote := r.post(obCarol, "Carol's post", time.Now().Add(-time.Hour))
	var onRemote, onLimited apiv1.Comment
	r.json("POST", V1Prefix+"/posts/"+remote+"/comments", map[string]string{"body": "Nice one"}, http.StatusCreated, &onRemote)
	r.json("POST", V1Prefix+"/posts/"+limited.GUID+"/comments", map[string]string{"body": "Adding to mine"}, http.StatusCreated, &onLimited)
	r.json("POST", V1Prefix+"/posts/"+remote+"/likes", nil, http.StatusNoContent, nil)
	// A conversation Bob started with me and Carol; I answer.
	conv, at := searchGUID(), time.Now().UTC().Truncate(time.Second)
	r.receive(&entity.Conversation{AuthorID: obBob, ID: conv, Subject: "Plans", CreatedAt: at,
		Participants: []string{obBob, searchMe, obCarol},
		Messages:     []*entity.Message{{AuthorID: obBob, ID: searchGUID(), Text: "Hi", CreatedAt: at, ConversationGUID: conv}}})
	var msg apiv1.Message
	r.json("POST", V1Prefix+"/conversations/"+conv+"/messages", map[string]string{"body": "Hello both"}, http.StatusCreated, &msg)

	all := r.outbox("100")
	check := func(guid, kind, entityType string, public bool, want ...string) {
		t.Helper()
		e := obEntry(t, all, guid)
		slices.Sort(want)
		if e.Kind != kind || e.EntityType != entityType || e.Public != public || !slices.Equal(obHandles(e), want) || e.State != "queued" {
			t.Errorf("%s: %+v, want %s %s public=%v to %v", guid, e, kind, entityType, public, want)
		}
		for _, rc := range e.Recipients {
			if rc.PersonGUID != r.people[rc.DiasporaID] || rc.Pod != rc.DiasporaID[strings.Index(rc.DiasporaID, "@")+1:] {
				t.Errorf("%s: recipient %+v", guid, rc)
			}
		}
	}
	check(public.GUID, "post", "status_message", true, obBob, obCarol, obErin)
	check(limited.GUID, "post", "status_message", false, obDave)
	check(onRemote.GUID, "comment", "comment", true, obCarol)
	check(onLimited.GUID, "comment", "comment", false, obDave)
	check(msg.GUID, "message", "message", false, obBob, obCarol)
	check("profile:"+r.meGUID(), "profile", "profile", false, obBob, obDave)
	check("contact:"+r.people[obBob], "contact", "contact", false, obBob)
	check("contact:"+r.people[obDave], "contact", "contact", false, obDave)
	var likes int
	for _, e := range all {
		if e.Kind == "like" {
			likes++
			if e.Target != remote || !slices.Equal(obHandles(e), []string{obCarol}) {
				t.Errorf("like: %+v", e)
			}
		}
	}
	if likes != 1 {
		t.Errorf("%d likes in the outbox", likes)
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt.Time) {
			t.Errorf("not newest first at %d: %+v", i, all[i])
		}
	}
	// Paging gives the same list.
	if paged := r.outbox("2"); !equalJSON(paged, all) {
		t.Errorf("paged outbox differs:\n%+v\n%+v", paged, all)
	}
	n, err := store.OutboxCount(context.Background(), r.pod.DB().R)
	if err != nil || n != len(all) {
		t.Errorf("OutboxCount %d %v, outbox lists %d", n, err, len(all))
	}

	// Deleting the public post: its entry becomes a retraction to the same
	// people. Removing Dave from aspect 2 leaves a contact entry for him.
	r.json("DELETE", V1Prefix+"/posts/"+public.GUID, nil, http.StatusNoContent, nil)
	r.json("DELETE", V1Prefix+"/aspects/2/contacts/"+r.people[obDave], nil, http.StatusNoContent, nil)
	all = r.outbox("100")
	for _, e := range all {
		if e.GUID == public.GUID {
			t.Errorf("a deleted post is still queued: %+v", e)
		}
	}
	check("retraction:"+public.GUID, "retraction", "retraction", true, obBob, obCarol, obErin)
	check("contact:"+r.people[obDave], "contact", "contact", false, obDave)
	if e := obEntry(t, all, "profile:"+r.meGUID()); !slices.Equal(obHandles(e), []string{obBob}) {
		t.Errorf("profile after Dave left: %v", obHandles(e))
	}

	// One entry's delivery status.
	var d pod.Delivery
	r.json("GET", APIPrefix+"/deliveries/retraction:"+public.GUID, nil, http.StatusOK, &d)
	if d.Summary.Total != 3 || d.Summary.Pending != 3 || len(d.Pods) != 3 || d.Pods[0].Host != "pod-b.example" ||
		d.Pods[0].State != "queued" || !slices.Equal(d.Pods[0].People, []string{obBob}) {
		t.Errorf("delivery: %+v", d)
	}
	r.json("GET", APIPrefix+"/deliveries/"+limited.GUID, nil, http.StatusOK, &d)
	if d.Summary.Total != 1 || d.Pods[0].Host != "pod-d.example" {
		t.Errorf("limited delivery: %+v", d)
	}
	r.json("GET", APIPrefix+"/deliveries/"+remote, nil, http.StatusNotFound, nil)
	r.json("GET", APIPrefix+"/deliveries/"+public.GUID, nil, http.StatusNotFound, nil)
	r.json("GET", APIPrefix+"/outbox?cursor=nonsense", nil, http.StatusUnprocessableEntity, nil)

	// Refold: the same outbox from the ops alone.
	before := r.outbox("100")
	if err := r.pod.Log().Refold(context.Background(), store.RefoldOptions{Shuffle: 7}); err != nil {
		t.Fatal(err)
	}
	if after := r.outbox("100"); !equalJSON(before, after) {
		t.Errorf("refold changed the outbox:\n%+v\n%+v", before, after)
	}
}

func (r *outboxRig) meGUID() string {
	me, err := r.pod.DB().Me(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return me.GUID
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
