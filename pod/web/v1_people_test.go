package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
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

// --- helpers -----------------------------------------------------------

// peopleGUID makes a 32-hex guid from a short name.
func peopleGUID(name string) string {
	s := fmt.Sprintf("%x", name)
	return (s + strings.Repeat("0", 32))[:32]
}

// addPeoplePerson records a discovered person and returns their guid.
func (r *apiRig) addPeoplePerson(handle, first string, searchable bool, mod ...func(*store.PersonRecord)) string {
	r.t.Helper()
	user, _, _ := strings.Cut(handle, "@")
	rec := store.PersonRecord{GUID: peopleGUID(user), DiasporaID: handle, FirstName: first, Searchable: searchable,
		AvatarMedium: "https://" + strings.SplitN(handle, "@", 2)[1] + "/a/" + user + ".jpg", FetchedAt: 1000}
	for _, m := range mod {
		m(&rec)
	}
	if err := r.pod.AddPerson(context.Background(), rec); err != nil {
		r.t.Fatal(err)
	}
	return rec.GUID
}

// receivePeople receives an entity.
func (r *apiRig) receivePeople(e entity.Entity) {
	r.t.Helper()
	b, err := entity.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.pod.Receive(context.Background(), b); err != nil {
		r.t.Fatal(err)
	}
}

// peopleOps counts the stored ops.
func (r *apiRig) peopleOps() int { return r.opCount() }

// peopleTables dumps the people area's tables, sorted.
func (r *apiRig) peopleTables() string {
	r.t.Helper()
	return r.dumpQueries(
		"SELECT guid, handle, name, avatar_medium, bio, location, gender, birthday, tags, searchable, nsfw, public_details, public_key, sharing, updated_at FROM people ORDER BY guid",
		"SELECT id, name, ord FROM aspects ORDER BY id",
		"SELECT person_guid, receiving, sharing FROM contacts ORDER BY person_guid",
		"SELECT guid FROM people WHERE rowid IN (SELECT rowid FROM people_fts WHERE people_fts MATCH 'a* OR b* OR c* OR d* OR z*') ORDER BY guid",
	)
}

// withoutNulls drops null members of a JSON object: diaspora's schema types
// birthday and gender as strings although its presenter sends null (see
// apiv1's TestSchemaQuirks), so documents are validated without them.
func withoutNulls(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range m {
		if string(v) == "null" {
			delete(m, k)
		}
	}
	out, _ := json.Marshal(m)
	return out
}

func (r *apiRig) ownProfile() (apiv1.OwnProfile, []byte) {
	r.t.Helper()
	var p apiv1.OwnProfile
	b := r.json("GET", V1Prefix+"/user", nil, http.StatusOK, &p)
	return p, b
}

// --- own profile -------------------------------------------------------

func TestPeopleOwnProfile(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	ctx := context.Background()
	_, b := r.ownProfile()
	apiv1test.Validate(t, "own_user", withoutNulls(t, b))
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["name"] != "Alice" || m["diaspora_id"] != "alice@localhost" || m["searchable"] != true ||
		m["show_profile_info"] != false || m["birthday"] != nil || m["bio"] != "" || len(m["tags"].([]any)) != 0 {
		t.Fatalf("fresh profile: %s", b)
	}
	if _, ok := m["avatar"]; ok {
		t.Fatalf("avatar without one: %s", b)
	}

	// A last name (as another device might have it) is cleared by name.
	if err := r.pod.Log().Write(ctx, func(w *store.Writer) error {
		_, err := w.Append(oplog.SetField{Key: "profile/last_name", Value: "Liddell"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if p, _ := r.ownProfile(); p.Name != "Alice Liddell" {
		t.Fatalf("name with last name: %q", p.Name)
	}

	patch := map[string]any{"bio": "Down the **rabbit** hole", "birthday": "1852-05-04", "gender": "female",
		"location": "Oxford", "name": "Alice L", "nsfw": true, "searchable": false, "show_profile_info": true,
		"tags": []string{"#Tea", "rabbits", "tea"}, "guid": "ignored", "favourite_colour": "blue"}
	b = r.json("PATCH", V1Prefix+"/user", patch, http.StatusOK, nil)
	apiv1test.Validate(t, "own_user", b)
	var got apiv1.OwnProfile
	var raw map[string]any
	json.Unmarshal(b, &raw)
	json.Unmarshal(b, &got)
	if got.Name != "Alice L" || got.Bio != "Down the **rabbit** hole" || raw["birthday"] != "1852-05-04" ||
		raw["gender"] != "female" || got.Location != "Oxford" || !got.NSFW || got.Searchable || !got.ShowProfileInfo ||
		!slices.Equal(got.Tags, []string{"tea", "rabbits"}) {
		t.Fatalf("patched: %s", b)
	}
	if last, _ := store.Field(ctx, r.pod.DB().R, "profile/last_name"); last != "" {
		t.Fatalf("last name after name: %q", last)
	}
	// GET answers the same; PUT works too; an unchanged value writes nothing.
	if _, again := r.ownProfile(); string(again) != string(b) {
		t.Fatalf("GET after PATCH:\n%s\n%s", again, b)
	}
	n := r.peopleOps()
	r.json("PUT", V1Prefix+"/user", map[string]any{"location": "Oxford", "bio": "Down the **rabbit** hole"}, http.StatusOK, nil)
	if r.peopleOps() != n {
		t.Fatalf("an unchanged PUT wrote %d ops", r.peopleOps()-n)
	}
	r.json("PUT", V1Prefix+"/user", map[string]any{"location": "London"}, http.StatusOK, &got)
	if got.Location != "London" || r.peopleOps() != n+1 {
		t.Fatalf("PUT location: %+v, %d ops", got, r.peopleOps()-n)
	}
	// Clearing: null and "" clear, tags [] clears.
	b = r.json("PATCH", V1Prefix+"/user", map[string]any{"birthday": nil, "gender": "", "tags": []string{}}, http.StatusOK, nil)
	json.Unmarshal(b, &raw)
	if raw["birthday"] != nil || raw["gender"] != nil || len(raw["tags"].([]any)) != 0 {
		t.Fatalf("cleared: %s", b)
	}
	// The avatar comes from the profile/avatar field (the posts area sets it).
	if err := r.pod.Log().Write(ctx, func(w *store.Writer) error {
		_, err := w.Append(oplog.SetField{Key: "profile/avatar", Value: `{"small":"s1","medium":"m1","large":"l1","raw":"r1"}`})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Over loopback HTTP the API answers absolute URLs (the v1 schema wants
	// them); the pod itself, without a base URL, keeps them relative.
	if p, _ := r.ownProfile(); p.Avatar == nil || p.Avatar.Medium != r.srv.URL+"/api/seedpod/v1/media/m1" || p.Avatar.Raw != r.srv.URL+"/api/seedpod/v1/media/r1" {
		t.Fatalf("avatar: %+v", p.Avatar)
	}
	if me, err := r.pod.MePerson(ctx); err != nil || me.Avatar != "/api/seedpod/v1/media/m1" || me.Name != "Alice L" ||
		me.DiasporaID != "alice@localhost" {
		t.Fatalf("MePerson: %+v %v", me, err)
	}
}

func TestPeopleOwnProfileRefusals(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	r.json("PATCH", V1Prefix+"/user", map[string]any{"bio": "keep", "birthday": "1990-01-02", "tags": []string{"a"}}, http.StatusOK, nil)
	_, before := r.ownProfile()
	ops := r.peopleOps()
	long := func(n int) string { return strings.Repeat("é", n) }
	for _, c := range []struct {
		name string
		body any
	}{
		{"id key", map[string]any{"id": 5, "bio": "changed"}},
		{"bad birthday", map[string]any{"birthday": "1990-02-30", "bio": "changed"}},
		{"birthday not a date", map[string]any{"birthday": "yesterday"}},
		{"birthday other format", map[string]any{"birthday": "02/01/1990"}},
		{"six tags", map[string]any{"tags": []string{"a", "b", "c", "d", "e", "f"}}},
		{"bad tag", map[string]any{"tags": []string{"two words"}}},
		{"blank tag", map[string]any{"tags": []string{"#"}}},
		{"tags not a list", map[string]any{"tags": "a"}},
		{"name too long", map[string]any{"name": long(33)}},
		{"name with semicolon", map[string]any{"name": "a;b"}},
		{"location too long", map[string]any{"location": long(256)}},
		{"gender too long", map[string]any{"gender": long(256)}},
		{"bio too long", map[string]any{"bio": long(65536)}},
		{"bio with a control character", map[string]any{"bio": "a\x00b"}},
		{"nsfw not a boolean", map[string]any{"nsfw": "banana"}},
		{"name not a string", map[string]any{"name": 5}},
		{"not JSON", "nope"},
		{"not an object", "[1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if st, _, b := r.do("PATCH", V1Prefix+"/user", c.body); st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d: %s", st, b)
			}
			if _, after := r.ownProfile(); string(after) != string(before) || r.peopleOps() != ops {
				t.Fatalf("changed:\n%s\n%s (%d new ops)", before, after, r.peopleOps()-ops)
			}
		})
	}
	// Limits are inclusive.
	r.json("PATCH", V1Prefix+"/user", map[string]any{"name": long(32), "location": long(255), "tags": []string{"a", "b", "c", "d", "e"}}, http.StatusOK, nil)
}

func TestPeopleBioVersions(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	ctx := context.Background()
	var vs []pod.BioVersion
	r.json("GET", APIPrefix+"/profile/bio/versions", nil, http.StatusOK, &vs)
	if len(vs) != 0 {
		t.Fatalf("fresh: %+v", vs)
	}
	r.json("PATCH", V1Prefix+"/user", map[string]any{"bio": "one"}, http.StatusOK, nil)
	// Another device wrote concurrently: a version that did not see "one".
	if err := r.pod.Log().Write(ctx, func(w *store.Writer) error {
		_, err := w.Append(oplog.DraftWrite{Register: "profile/bio", Value: "two"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r.json("GET", APIPrefix+"/profile/bio/versions", nil, http.StatusOK, &vs)
	if len(vs) != 2 || vs[0].Bio != "one" || vs[1].Bio != "two" || vs[0].Version == vs[1].Version || vs[0].Device == "" {
		t.Fatalf("concurrent versions: %+v", vs)
	}
	if p, _ := r.ownProfile(); p.Bio != "two" {
		t.Fatalf("v1 shows %q, want the newest", p.Bio)
	}
	// A write supersedes every version it saw, even with a value one had.
	r.json("PATCH", V1Prefix+"/user", map[string]any{"bio": "two"}, http.StatusOK, nil)
	r.json("GET", APIPrefix+"/profile/bio/versions", nil, http.StatusOK, &vs)
	if len(vs) != 1 || vs[0].Bio != "two" {
		t.Fatalf("after merge: %+v", vs)
	}
}

// --- aspects -----------------------------------------------------------

func TestPeopleAspects(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	var as []apiv1.Aspect
	b := r.json("GET", V1Prefix+"/aspects", nil, http.StatusOK, &as)
	apiv1test.Validate(t, "aspects", b)
	if len(as) != 4 || as[0].Name != "Family" || as[3].Name != "Acquaintances" || as[3].Order != 3 || as[1].ID != 2 {
		t.Fatalf("seeded: %s", b)
	}
	b = r.json("GET", V1Prefix+"/aspects/2", nil, http.StatusOK, nil)
	apiv1test.Validate(t, "aspect", b)

	var a apiv1.Aspect
	b = r.json("POST", V1Prefix+"/aspects", map[string]string{"name": "  Book club "}, http.StatusOK, &a)
	apiv1test.Validate(t, "aspect", b)
	if a.Name != "Book club" || a.ID < 1000 || a.ID >= 1<<31 || a.Order != 4 {
		t.Fatalf("created: %+v", a)
	}
	// Refusals change nothing.
	before := r.json("GET", V1Prefix+"/aspects", nil, http.StatusOK, nil)
	ops := r.peopleOps()
	for _, c := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/aspects", map[string]string{"name": "book CLUB"}, 422},
		{"POST", "/aspects", map[string]string{"name": "  "}, 422},
		{"POST", "/aspects", map[string]string{}, 422},
		{"POST", "/aspects", map[string]string{"name": strings.Repeat("x", 256)}, 422},
		{"POST", "/aspects", map[string]any{"name": 5}, 422},
		{"PATCH", "/aspects/2", map[string]string{"name": "family"}, 422},
		{"PATCH", "/aspects/2", map[string]string{"name": ""}, 422},
		{"PATCH", "/aspects/2", map[string]any{"order": -1}, 422},
		{"PATCH", "/aspects/2", map[string]any{"order": "first"}, 422},
		{"PATCH", "/aspects/77", map[string]string{"name": "x"}, 404},
		{"PUT", "/aspects/x", map[string]string{"name": "x"}, 404},
		{"GET", "/aspects/77", nil, 404},
		{"GET", "/aspects/abc", nil, 404},
		{"DELETE", "/aspects/77", nil, 404},
	} {
		if st, _, body := r.do(c.method, V1Prefix+c.path, c.body); st != c.want {
			t.Errorf("%s %s %v: %d %s, want %d", c.method, c.path, c.body, st, body, c.want)
		}
	}
	if after := r.json("GET", V1Prefix+"/aspects", nil, http.StatusOK, nil); string(after) != string(before) || r.peopleOps() != ops {
		t.Fatalf("refusals changed the aspects:\n%s\n%s", before, after)
	}
	r.json("POST", V1Prefix+"/aspects", map[string]string{"name": strings.Repeat("x", 255)}, http.StatusOK, nil)

	// Rename (own name in another case is fine), then move to the front.
	r.json("PATCH", V1Prefix+"/aspects/"+fmt.Sprint(a.ID), map[string]string{"name": "Book Club"}, http.StatusOK, &a)
	if a.Name != "Book Club" || a.Order != 4 {
		t.Fatalf("renamed: %+v", a)
	}
	ops = r.peopleOps()
	r.json("PUT", V1Prefix+"/aspects/"+fmt.Sprint(a.ID), map[string]any{"order": 0}, http.StatusOK, &a)
	if a.Order != 0 {
		t.Fatalf("moved: %+v", a)
	}
	r.json("GET", V1Prefix+"/aspects", nil, http.StatusOK, &as)
	names := func() []string {
		var out []string
		for i, x := range as {
			if x.Order != i {
				t.Errorf("aspect %q has order %d at position %d", x.Name, x.Order, i)
			}
			out = append(out, x.Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got[:5], []string{"Book Club", "Family", "Friends", "Work", "Acquaintances"}) {
		t.Fatalf("after move: %v", got)
	}
	if n := r.peopleOps() - ops; n != 5 {
		t.Fatalf("the move wrote %d order fields, want 5 (the 6th aspect keeps its order)", n)
	}
	// Past the end clamps; a move to the same place writes nothing.
	r.json("PATCH", V1Prefix+"/aspects/2", map[string]any{"order": 99}, http.StatusOK, &a)
	r.json("GET", V1Prefix+"/aspects", nil, http.StatusOK, &as)
	if got := names(); got[len(got)-1] != "Friends" || a.Order != len(got)-1 {
		t.Fatalf("after move to the end: %v (%+v)", got, a)
	}
	ops = r.peopleOps()
	r.json("PATCH", V1Prefix+"/aspects/2", map[string]any{"order": "5", "name": "Friends"}, http.StatusOK, &a)
	if r.peopleOps() != ops || a.Order != 5 {
		t.Fatalf("a no-op update wrote %d ops (%+v)", r.peopleOps()-ops, a)
	}

	// Paging.
	st, h, b := r.do("GET", V1Prefix+"/aspects?per_page=4", nil)
	if st != 200 || !strings.Contains(h.Get("Link"), `page=2>; rel="next"`) {
		t.Fatalf("page 1: %d %q %s", st, h.Get("Link"), b)
	}
	r.json("GET", V1Prefix+"/aspects?per_page=4&page=2", nil, http.StatusOK, &as)
	if len(as) != 2 {
		t.Fatalf("page 2: %+v", as)
	}

	// Delete.
	r.do("DELETE", V1Prefix+"/aspects/1", nil)
	if st, _, _ := r.do("DELETE", V1Prefix+"/aspects/1", nil); st != 404 {
		t.Fatalf("delete twice: %d", st)
	}
	r.json("GET", V1Prefix+"/aspects/1", nil, http.StatusNotFound, nil)
	// The name is free again.
	r.json("POST", V1Prefix+"/aspects", map[string]string{"name": "Family"}, http.StatusOK, nil)
}

func TestPeopleAspectMembers(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	bob := r.addPeoplePerson("bob@b.example", "Bob", true)
	carol := r.addPeoplePerson("carol@c.example", "carol", true)
	dave := r.addPeoplePerson("dave@d.example", "Dave", false)

	r.json("POST", V1Prefix+"/aspects/1/contacts", map[string]string{"person_guid": dave}, http.StatusNoContent, nil)
	r.json("POST", V1Prefix+"/aspects/1/contacts", map[string]string{"person": carol}, http.StatusNoContent, nil)
	r.json("POST", V1Prefix+"/aspects/1/contacts", map[string]string{"person_guid": bob}, http.StatusNoContent, nil)
	r.json("POST", V1Prefix+"/aspects/2/contacts", map[string]string{"person_guid": bob}, http.StatusNoContent, nil)

	var ps []apiv1.Person
	b := r.json("GET", V1Prefix+"/aspects/1/contacts", nil, http.StatusOK, &ps)
	apiv1test.Validate(t, "users", b)
	if len(ps) != 3 || ps[0].Name != "Bob" || ps[1].Name != "carol" || ps[2].Name != "Dave" || ps[0].GUID != bob ||
		ps[0].DiasporaID != "bob@b.example" || ps[0].Avatar != "https://b.example/a/bob.jpg" {
		t.Fatalf("members sorted by name: %s", b)
	}
	st, h, _ := r.do("GET", V1Prefix+"/aspects/1/contacts?per_page=2", nil)
	if st != 200 || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("paged members: %d %q", st, h.Get("Link"))
	}

	// Refusals.
	ops := r.peopleOps()
	before := r.peopleTables()
	for _, c := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/aspects/1/contacts", map[string]string{"person_guid": bob}, 422},             // already
		{"POST", "/aspects/1/contacts", map[string]string{"person_guid": peopleGUID("x")}, 422}, // unknown person
		{"POST", "/aspects/1/contacts", map[string]string{}, 422},
		{"POST", "/aspects/77/contacts", map[string]string{"person_guid": bob}, 404},
		{"POST", "/aspects/3/contacts", map[string]string{"person_guid": r.myGUID()}, 422},
		{"DELETE", "/aspects/3/contacts/" + bob, nil, 422}, // not a member
		{"DELETE", "/aspects/77/contacts/" + bob, nil, 404},
		{"GET", "/aspects/77/contacts", nil, 404},
	} {
		if st, _, body := r.do(c.method, V1Prefix+c.path, c.body); st != c.want {
			t.Errorf("%s %s %v: %d %s, want %d", c.method, c.path, c.body, st, body, c.want)
		}
	}
	if r.peopleOps() != ops || r.peopleTables() != before {
		t.Fatalf("refusals changed something")
	}

	rel := func(guid string) apiv1.Relationship {
		t.Helper()
		var u apiv1.OtherProfile
		r.json("GET", V1Prefix+"/users/"+guid, nil, http.StatusOK, &u)
		return u.Relationship
	}
	if !rel(bob).Receiving {
		t.Fatal("bob: adding to an aspect starts sharing")
	}
	// Removing from one aspect of two keeps sharing; from the last stops it.
	r.json("DELETE", V1Prefix+"/aspects/1/contacts/"+bob, nil, http.StatusNoContent, nil)
	if !rel(bob).Receiving {
		t.Fatal("bob: still in Friends")
	}
	r.json("DELETE", V1Prefix+"/aspects/2/contacts/"+bob, nil, http.StatusNoContent, nil)
	if rel(bob).Receiving {
		t.Fatal("bob: removed from the last aspect but still receiving")
	}
	// Add again after remove (OR-set): a member again.
	r.json("POST", V1Prefix+"/aspects/1/contacts", map[string]string{"person_guid": bob}, http.StatusNoContent, nil)
	r.json("GET", V1Prefix+"/aspects/1/contacts", nil, http.StatusOK, &ps)
	if len(ps) != 3 || !rel(bob).Receiving {
		t.Fatalf("re-added: %+v", ps)
	}
	// A concurrent add (one the remove did not observe) survives the remove.
	ctx := context.Background()
	if err := r.pod.Log().Write(ctx, func(w *store.Writer) error {
		tags, err := store.SetTags(ctx, w, "aspect/1", carol)
		if err != nil {
			return err
		}
		if _, err := w.Append(oplog.AspectAdd{Aspect: "1", Member: carol}); err != nil { // "another device"
			return err
		}
		_, err = w.Append(oplog.AspectRemove{Aspect: "1", Member: carol, Observed: oplog.Refs(tags)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !rel(carol).Receiving {
		t.Fatal("carol: the concurrent add should survive")
	}
	// Deleting an aspect stops sharing with whoever was only in it.
	r.json("DELETE", V1Prefix+"/aspects/1", nil, http.StatusNoContent, nil)
	if rel(bob).Receiving || rel(carol).Receiving || rel(dave).Receiving {
		t.Fatal("receiving after the aspect was deleted")
	}
	var cs []apiv1.Person
	r.json("GET", V1Prefix+"/users/"+r.myGUID()+"/contacts", nil, http.StatusOK, &cs)
	if len(cs) != 0 {
		t.Fatalf("contacts after delete: %+v", cs)
	}
	r.json("POST", V1Prefix+"/aspects/3/contacts", map[string]string{"person_guid": dave}, http.StatusNoContent, nil)

	// Refold (shuffled) rebuilds the same tables.
	before = r.peopleTables()
	if err := r.pod.Log().Refold(ctx, store.RefoldOptions{Shuffle: 7}); err != nil {
		t.Fatal(err)
	}
	if after := r.peopleTables(); after != before {
		t.Fatalf("refold changed the tables:\n%s\n%s", before, after)
	}
}

func (r *apiRig) myGUID() string {
	r.t.Helper()
	me, err := r.pod.DB().Me(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return me.GUID
}

// --- users, contacts, blocks ---------------------------------------------

func TestPeopleUsers(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	bob := r.addPeoplePerson("bob@b.example", "Bob", true, func(p *store.PersonRecord) {
		p.Bio, p.Location, p.Birthday, p.Gender, p.Tags = "bio", "Berlin", "1980-03-04", "male", []string{"cats"}
		p.AvatarLarge, p.AvatarSmall = "https://b.example/a/l.jpg", "https://b.example/a/s.jpg"
	})
	carol := r.addPeoplePerson("carol@c.example", "Carol", true, func(p *store.PersonRecord) {
		p.Bio, p.PublicDetails = "public bio", true
	})

	// Bob: details hidden (not public, not sharing with me).
	var m map[string]any
	b := r.json("GET", V1Prefix+"/users/"+bob, nil, http.StatusOK, &m)
	apiv1test.Validate(t, "user", b)
	if _, ok := m["bio"]; ok || m["blocked"] != false || m["name"] != "Bob" {
		t.Fatalf("bob hidden: %s", b)
	}
	// Carol: public details.
	b = r.json("GET", V1Prefix+"/users/"+carol, nil, http.StatusOK, &m)
	apiv1test.Validate(t, "user", withoutNulls(t, b))
	if m["bio"] != "public bio" {
		t.Fatalf("carol public: %s", b)
	}
	// Bob starts sharing with me: details shown, relationship sharing.
	r.receivePeople(&entity.Contact{AuthorID: "bob@b.example", Recipient: "alice@pod.example", Following: true, Sharing: true})
	r.json("POST", V1Prefix+"/aspects/2/contacts", map[string]string{"person_guid": bob}, http.StatusNoContent, nil)
	b = r.json("GET", V1Prefix+"/users/"+bob, nil, http.StatusOK, &m)
	apiv1test.Validate(t, "user", b)
	var u apiv1.OtherProfile
	json.Unmarshal(b, &u)
	if m["bio"] != "bio" || m["birthday"] != "1980-03-04" || m["gender"] != "male" || m["location"] != "Berlin" ||
		!u.Relationship.Sharing || !u.Relationship.Receiving || len(u.Aspects) != 1 || u.Aspects[0].Name != "Friends" ||
		!slices.Equal(u.Tags, []string{"cats"}) || u.Avatar == nil || u.Avatar.Large != "https://b.example/a/l.jpg" {
		t.Fatalf("bob sharing: %s", b)
	}
	if ok, err := r.pod.IsMutual(context.Background(), bob); err != nil || !ok {
		t.Fatalf("IsMutual(bob) = %v %v", ok, err)
	}
	if ms, err := r.pod.AspectMembers(context.Background(), []int64{2, 3, 99}); err != nil || !slices.Equal(ms, []string{bob}) {
		t.Fatalf("AspectMembers: %v %v", ms, err)
	}
	// Short persons for other areas: known people, me ("" or my handle).
	for _, c := range []struct{ handle, guid, name string }{
		{"BOB@b.example", bob, "Bob"}, {"", r.myGUID(), "Alice"}, {"alice@localhost", r.myGUID(), "Alice"},
	} {
		sp, err := r.pod.ShortPerson(context.Background(), c.handle)
		if err != nil || sp.GUID != c.guid || sp.Name != c.name {
			t.Fatalf("ShortPerson(%q) = %+v, %v", c.handle, sp, err)
		}
		b, _ := json.Marshal(sp)
		apiv1test.Validate(t, "short_profile", b)
	}
	if sp, err := r.pod.ShortPerson(context.Background(), "zed@z.example"); err != nil || sp.DiasporaID != "zed@z.example" || sp.GUID != "" {
		t.Fatalf("ShortPerson(unknown) = %+v, %v", sp, err)
	}
	if sp, err := pod.ShortPersonByGUIDIn(context.Background(), r.pod.DB().R, carol); err != nil || sp.DiasporaID != "carol@c.example" {
		t.Fatalf("ShortPersonByGUIDIn = %+v, %v", sp, err)
	}
	// Own guid: own shape. Unknown: 404.
	b = r.json("GET", V1Prefix+"/users/"+r.myGUID(), nil, http.StatusOK, &m)
	if _, ok := m["show_profile_info"]; !ok {
		t.Fatalf("own guid: %s", b)
	}
	apiv1test.Validate(t, "own_user", withoutNulls(t, b))
	r.json("GET", V1Prefix+"/users/"+peopleGUID("nobody"), nil, http.StatusNotFound, nil)

	// users/:guid/contacts: mine only.
	var cs []apiv1.Person
	b = r.json("GET", V1Prefix+"/users/"+r.myGUID()+"/contacts", nil, http.StatusOK, &cs)
	apiv1test.Validate(t, "users", b)
	if len(cs) != 1 || cs[0].GUID != bob {
		t.Fatalf("my contacts: %s", b)
	}
	r.json("GET", V1Prefix+"/users/"+bob+"/contacts", nil, http.StatusNotFound, nil)

	// Seedpod contacts list.
	var entries []pod.ContactEntry
	r.json("GET", APIPrefix+"/contacts?relationship=mutual", nil, http.StatusOK, &entries)
	if len(entries) != 1 || entries[0].Person.GUID != bob || !entries[0].Relationship.Sharing || len(entries[0].Aspects) != 1 {
		t.Fatalf("mutual contacts: %+v", entries)
	}
	r.json("GET", APIPrefix+"/contacts?aspect=1", nil, http.StatusOK, &entries)
	if len(entries) != 0 {
		t.Fatalf("contacts in aspect 1: %+v", entries)
	}
	r.json("GET", APIPrefix+"/contacts?relationship=friends", nil, http.StatusUnprocessableEntity, nil)
	r.json("GET", APIPrefix+"/contacts?aspect=x", nil, http.StatusUnprocessableEntity, nil)
	r.json("GET", APIPrefix+"/contacts?aspect=77", nil, http.StatusUnprocessableEntity, nil)

	// Block: 201, removes from every aspect; again 409; unknown 404.
	r.json("POST", V1Prefix+"/users/"+bob+"/block", nil, http.StatusCreated, nil)
	r.json("GET", V1Prefix+"/users/"+bob, nil, http.StatusOK, &u)
	if !u.Blocked || u.Relationship.Receiving || len(u.Aspects) != 0 {
		t.Fatalf("blocked bob: %+v", u)
	}
	ops := r.peopleOps()
	r.json("POST", V1Prefix+"/users/"+bob+"/block", nil, http.StatusConflict, nil)
	r.json("POST", V1Prefix+"/users/"+peopleGUID("nobody")+"/block", nil, http.StatusNotFound, nil)
	r.json("POST", V1Prefix+"/aspects/2/contacts", map[string]string{"person_guid": bob}, http.StatusUnprocessableEntity, nil)
	r.json("DELETE", V1Prefix+"/users/"+carol+"/block", nil, http.StatusGone, nil)
	r.json("DELETE", V1Prefix+"/users/"+peopleGUID("nobody")+"/block", nil, http.StatusNotFound, nil)
	if r.peopleOps() != ops {
		t.Fatal("refused block changes wrote ops")
	}
	r.json("DELETE", V1Prefix+"/users/"+bob+"/block", nil, http.StatusNoContent, nil)
	r.json("DELETE", V1Prefix+"/users/"+bob+"/block", nil, http.StatusGone, nil)
	r.json("POST", V1Prefix+"/users/"+bob+"/block", nil, http.StatusCreated, nil) // block again (OR-set)
	r.json("GET", V1Prefix+"/users/"+bob, nil, http.StatusOK, &u)
	if !u.Blocked {
		t.Fatal("blocked again")
	}

	// Ignore (Seedpod).
	r.json("POST", APIPrefix+"/people/"+carol+"/ignore", nil, http.StatusNoContent, nil)
	r.json("POST", APIPrefix+"/people/"+carol+"/ignore", nil, http.StatusConflict, nil)
	if in, _ := store.IsMember(context.Background(), r.pod.DB().R, store.SetIgnores, carol); !in {
		t.Fatal("carol not ignored")
	}
	// The profile says so (a Seedpod key: the profile object is open).
	var cu struct {
		Ignored *bool `json:"ignored"`
	}
	r.json("GET", V1Prefix+"/users/"+carol, nil, http.StatusOK, &cu)
	if cu.Ignored == nil || !*cu.Ignored {
		t.Fatalf("carol's profile: ignored %v, want true", cu.Ignored)
	}
	r.json("DELETE", APIPrefix+"/people/"+carol+"/ignore", nil, http.StatusNoContent, nil)
	cu.Ignored = nil
	r.json("GET", V1Prefix+"/users/"+carol, nil, http.StatusOK, &cu)
	if cu.Ignored != nil {
		t.Fatalf("carol's profile after unignoring: ignored %v, want the key absent", *cu.Ignored)
	}
	r.json("DELETE", APIPrefix+"/people/"+carol+"/ignore", nil, http.StatusGone, nil)
	r.json("POST", APIPrefix+"/people/"+peopleGUID("nobody")+"/ignore", nil, http.StatusNotFound, nil)

	// Bob stops sharing: the newest Contact wins.
	r.receivePeople(&entity.Contact{AuthorID: "bob@b.example", Recipient: "alice@pod.example"})
	if rel, _ := store.ContactOf(context.Background(), r.pod.DB().R, bob); rel.Sharing {
		t.Fatal("bob still sharing after an unsharing Contact")
	}
}

// --- tags ----------------------------------------------------------------

func TestPeopleTagFollowings(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	var tags []string
	b := r.json("GET", V1Prefix+"/tag_followings", nil, http.StatusOK, &tags)
	if string(b) != "[]\n" {
		t.Fatalf("fresh: %q", b)
	}
	r.json("POST", V1Prefix+"/tag_followings", map[string]string{"name": "#Photography"}, http.StatusNoContent, nil)
	r.json("POST", V1Prefix+"/tag_followings", map[string]string{"name": "cats"}, http.StatusNoContent, nil)
	b = r.json("GET", V1Prefix+"/tag_followings", nil, http.StatusOK, &tags)
	apiv1test.Validate(t, "tags", b)
	if !slices.Equal(tags, []string{"cats", "photography"}) {
		t.Fatalf("followed: %v", tags)
	}
	ops := r.peopleOps()
	for _, c := range []struct {
		body any
		want int
	}{
		{map[string]string{"name": "PHOTOGRAPHY"}, 409},
		{map[string]string{"name": ""}, 422},
		{map[string]string{"name": " # "}, 422},
		{map[string]string{}, 422},
		{map[string]string{"name": "two words"}, 422},
		{map[string]string{"name": "a/b"}, 422},
	} {
		if st, _, body := r.do("POST", V1Prefix+"/tag_followings", c.body); st != c.want {
			t.Errorf("POST %v: %d %s, want %d", c.body, st, body, c.want)
		}
	}
	r.json("DELETE", V1Prefix+"/tag_followings/dogs", nil, http.StatusGone, nil)
	if r.peopleOps() != ops {
		t.Fatal("refusals wrote ops")
	}
	r.json("DELETE", V1Prefix+"/tag_followings/Cats", nil, http.StatusNoContent, nil)
	r.json("DELETE", V1Prefix+"/tag_followings/cats", nil, http.StatusGone, nil)
	r.json("POST", V1Prefix+"/tag_followings", map[string]string{"name": "cats"}, http.StatusNoContent, nil)
	r.json("GET", V1Prefix+"/tag_followings", nil, http.StatusOK, &tags)
	if !slices.Equal(tags, []string{"cats", "photography"}) {
		t.Fatalf("after unfollow and follow: %v", tags)
	}

	// search/tags: prefix over followed (and posts') tags.
	r.json("POST", V1Prefix+"/tag_followings", map[string]string{"name": "photo"}, http.StatusNoContent, nil)
	b = r.json("GET", V1Prefix+"/search/tags?query=%23Pho", nil, http.StatusOK, &tags)
	apiv1test.Validate(t, "tags", b)
	if !slices.Equal(tags, []string{"photo", "photography"}) {
		t.Fatalf("search/tags: %v", tags)
	}
	st, h, _ := r.do("GET", V1Prefix+"/search/tags?query=p&per_page=1", nil)
	if st != 200 || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("paged tags: %d %q", st, h.Get("Link"))
	}
	r.json("GET", V1Prefix+"/search/tags?query=_", nil, http.StatusOK, &tags)
	if len(tags) != 0 {
		t.Fatalf("LIKE wildcard not escaped: %v", tags)
	}
	r.json("GET", V1Prefix+"/search/tags", nil, http.StatusUnprocessableEntity, nil)
	r.json("GET", V1Prefix+"/search/tags?query=", nil, http.StatusUnprocessableEntity, nil)
}

// --- search ------------------------------------------------------------

func TestPeopleSearchUsers(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	bob := r.addPeoplePerson("bob@b.example", "Bob Builder", true, func(p *store.PersonRecord) { p.Tags = []string{"tools"} })
	zoe := r.addPeoplePerson("zoe@z.example", "Zoë Müller", true, func(p *store.PersonRecord) { p.Tags = []string{"tools", "art"} })
	hid := r.addPeoplePerson("hidden@h.example", "Hidden Bob", false)
	r.addPeoplePerson("other@o.example", "Someone", true)

	search := func(q string) []string {
		t.Helper()
		var ps []apiv1.Person
		b := r.json("GET", V1Prefix+"/search/users?"+q, nil, http.StatusOK, &ps)
		apiv1test.Validate(t, "users", b)
		var out []string
		for _, p := range ps {
			out = append(out, p.GUID)
		}
		return out
	}
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"name_or_handle=bob", []string{bob}},      // hidden bob is not searchable
		{"name_or_handle=BUILD", []string{bob}},    // substring, any case
		{"name_or_handle=z.exam", []string{zoe}},   // handle
		{"name_or_handle=muller", []string{zoe}},   // FTS folds diacritics on word prefixes
		{"name_or_handle=M%C3%9CL", []string{zoe}}, // and case beyond ASCII
		{"name_or_handle=%25", nil},                // LIKE wildcards are literal
		{"tag=tools", []string{bob, zoe}},
		{"tag=%23Art", []string{zoe}},
		{"name_or_handle=o&filter=contacts", nil},
	} {
		if got := search(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
	// Contacts are found although not searchable; filters AND, aspect ids OR.
	r.json("POST", V1Prefix+"/aspects/1/contacts", map[string]string{"person_guid": hid}, http.StatusNoContent, nil)
	r.json("POST", V1Prefix+"/aspects/2/contacts", map[string]string{"person_guid": bob}, http.StatusNoContent, nil)
	r.receivePeople(&entity.Contact{AuthorID: "zoe@z.example", Recipient: "alice@pod.example", Following: true, Sharing: true})
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"name_or_handle=bob", []string{bob, hid}},
		{"name_or_handle=bob&filter=aspect:1", []string{hid}},
		{"name_or_handle=bob&filter=aspect:1,2", []string{bob, hid}},
		{"name_or_handle=bob&filter[]=aspect:1,2&filter[]=aspect:2", []string{bob}},
		{"name_or_handle=e&filter=contacts", []string{bob, hid, zoe}},
		{"name_or_handle=e&filter=contacts:receiving", []string{bob, hid}},
		{"name_or_handle=e&filter=contacts:sharing", []string{zoe}},
		{"name_or_handle=e&filter=contacts:sharing&filter=contacts:receiving", nil},
		{"tag=tools&filter=contacts:sharing", []string{zoe}},
	} {
		if got := search(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
	st, h, _ := r.do("GET", V1Prefix+"/search/users?name_or_handle=e&per_page=2", nil)
	if st != 200 || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("paged search: %d %q", st, h.Get("Link"))
	}
	for _, q := range []string{"", "name_or_handle=a&tag=b", "name_or_handle=a&filter=friends", "name_or_handle=a&filter=aspect:x",
		"name_or_handle=a&filter=aspect:77", "name_or_handle=a&filter=aspect:", "tag=two%20words"} {
		if st, _, b := r.do("GET", V1Prefix+"/search/users?"+q, nil); st != 422 {
			t.Errorf("%q: %d %s, want 422", q, st, b)
		}
	}
}

// --- projection order ----------------------------------------------------

// TestPeopleProjectionOrder receives the same person records, profiles and
// contact in different orders (and refolds them shuffled): the people rows
// must come out the same.
func TestPeopleProjectionOrder(t *testing.T) {
	key := "-----BEGIN PUBLIC KEY-----\nMFw=\n-----END PUBLIC KEY-----\n"
	rec := func(handle, guid, first string, at int64) store.PersonRecord {
		return store.PersonRecord{GUID: peopleGUID(guid), DiasporaID: handle, PublicKey: key, FirstName: first,
			Searchable: true, FetchedAt: at, AvatarMedium: "/uploads/" + first + ".jpg"}
	}
	ms := func(n int64) time.Time { return time.UnixMilli(n).UTC() }
	items := []any{
		rec("ann@a.example", "ann", "Ann1", 1000),
		rec("ann@a.example", "ann", "Ann3", 3000),
		&entity.Profile{AuthorID: "ann@a.example", EditedAt: ms(2000), FirstName: "Ann2", Searchable: true},
		&entity.Profile{AuthorID: "ann@a.example", EditedAt: ms(4000), FirstName: "Ann4", Bio: "four", Searchable: true,
			TagString: "#One #two", Public: true, ImageURLMedium: "/img/4.png"},
		&entity.Profile{AuthorID: "ann@a.example", EditedAt: ms(3500), FirstName: "Ann3.5", Searchable: true},
		&entity.Contact{AuthorID: "ann@a.example", Recipient: "alice@pod.example", Following: true, Sharing: true},
		// Three handles claim one guid: the newest record holds it (dan),
		// until dan's newest record names another guid; then cid's does.
		rec("cat@c.example", "shared", "Cat", 1000),
		rec("cid@c.example", "shared", "Cid", 2000),
		rec("dan@d.example", "shared", "Dan", 3000),
		rec("dan@d.example", "dan2", "Dan2", 5000),
		// A profile without any person record shows nothing.
		&entity.Profile{AuthorID: "eve@e.example", EditedAt: ms(1000), FirstName: "Eve"},
		// A guid changes hands: the old one is free for nobody else here.
		rec("fay@f.example", "fay", "Fay", 1000),
		rec("fay@f.example", "fay2", "Fay2", 2000),
	}
	orders := [][]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
		{5, 3, 0, 7, 12, 2, 9, 4, 6, 1, 10, 11, 8},
		{4, 1, 11, 10, 6, 8, 3, 7, 0, 12, 9, 5, 2},
		{9, 8, 7, 6, 0, 1, 2, 3, 4, 5, 10, 11, 12},
	}
	var want string
	for i, order := range orders {
		r := newAPIRig(t).withIdentity()
		for _, j := range order {
			switch it := items[j].(type) {
			case store.PersonRecord:
				if err := r.pod.AddPerson(context.Background(), it); err != nil {
					t.Fatal(err)
				}
			case entity.Entity:
				r.receivePeople(it)
			}
		}
		got := r.peopleTables()
		if i == 0 {
			want = got
			for _, s := range []string{"Ann4 https://a.example/img/4.png four", `["one","two"]`, "Cid", "Dan2", "Fay2"} {
				if !strings.Contains(got, s) {
					t.Fatalf("order %d: no %q in\n%s", i, s, got)
				}
			}
			for _, s := range []string{"Cat", "Dan ", "Eve", "Ann3.5", "Fay "} {
				if strings.Contains(got, s) {
					t.Fatalf("order %d: %q should not show in\n%s", i, s, got)
				}
			}
		} else if got != want {
			t.Fatalf("order %v gives\n%s\nwant\n%s", order, got, want)
		}
		for _, seed := range []uint64{3, 11} {
			if err := r.pod.Log().Refold(context.Background(), store.RefoldOptions{Shuffle: seed}); err != nil {
				t.Fatal(err)
			}
			if got := r.peopleTables(); got != want {
				t.Fatalf("refold %d of order %v gives\n%s\nwant\n%s", seed, order, got, want)
			}
		}
	}
}
