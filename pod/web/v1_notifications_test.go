package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/apiv1/apiv1test"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/store"
)

// Notifications (API.md §3.10, §6.2) through the real handler: each type
// produced by entities received from remote people, none for my own
// actions, retractions and blocks removing events, the read rule with
// read_all, the type filter, counts and refold.

// notifList lists notifications and validates the list.
func (r *apiRig) notifList(query string) []apiv1.Notification {
	r.t.Helper()
	st, _, b := r.do("GET", V1Prefix+"/notifications"+query, nil)
	if st != http.StatusOK {
		r.t.Fatalf("GET notifications%s: %d %s", query, st, b)
	}
	apiv1test.Validate(r.t, "notifications", b)
	var out []apiv1.Notification
	if err := json.Unmarshal(b, &out); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// notifGet reads one notification and validates it.
func (r *apiRig) notifGet(guid string) apiv1.Notification {
	r.t.Helper()
	b := r.json("GET", V1Prefix+"/notifications/"+guid, nil, http.StatusOK, nil)
	apiv1test.Validate(r.t, "notification", b)
	var n apiv1.Notification
	if err := json.Unmarshal(b, &n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// notifByType finds the notification of a type about a target post ("" for
// any target).
func notifByType(ns []apiv1.Notification, typ, target string) (apiv1.Notification, bool) {
	for _, n := range ns {
		if n.Type == typ && (target == "" || n.Target != nil && n.Target.GUID == target) {
			return n, true
		}
	}
	return apiv1.Notification{}, false
}

// notifActors are a notification's event creators' handles, in order.
func notifActors(n apiv1.Notification) string { return strings.Join(convHandles(n.EventCreators), " ") }

// notifOwnPost publishes a public post through the API.
func (r *apiRig) notifOwnPost(text string) string {
	r.t.Helper()
	var p struct {
		GUID string `json:"guid"`
	}
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": text, "public": true}, http.StatusOK, &p)
	return p.GUID
}

// notifReceive receives an entity after a pause, so events reach the pod
// in distinct milliseconds (their notification times).
func (r *apiRig) notifReceive(e entity.Entity) {
	r.t.Helper()
	time.Sleep(2 * time.Millisecond)
	r.convReceive(e)
}

func (r *apiRig) notifComment(author, parent, text string) string {
	r.t.Helper()
	g := convGUID()
	r.notifReceive(&entity.Comment{AuthorID: author, ID: g, Parent: parent, Text: text,
		CreatedAt: time.Now().UTC().Truncate(time.Second), Relay: entity.Relay{Signature: "c2ln"}})
	return g
}

func (r *apiRig) notifLike(author, parent, parentType string) string {
	r.t.Helper()
	g := convGUID()
	r.notifReceive(&entity.Like{AuthorID: author, ID: g, Parent: parent, ParentTypeName: parentType, Positive: true,
		Relay: entity.Relay{Signature: "c2ln"}})
	return g
}

func TestNotificationsTypes(t *testing.T) {
	r := newConvRig(t)
	// started_sharing: Bob and Carol share with me (newConvRig).
	ns := r.notifList("")
	if len(ns) != 2 {
		t.Fatalf("after the contacts: %+v", ns)
	}
	for _, h := range []string{convBob, convCarol} {
		found := false
		for _, n := range ns {
			if n.Type == store.NotifyStartedSharing && notifActors(n) == h && n.Target == nil && !n.Read {
				found = true
			}
		}
		if !found {
			t.Errorf("no started_sharing by %s: %+v", h, ns)
		}
	}

	post := r.notifOwnPost("my post")
	r.notifComment(convBob, post, "nice")
	r.notifComment(convCarol, post, "indeed")
	bobLike := r.notifLike(convBob, post, "Post")
	reshare := convGUID()
	r.notifReceive(&entity.Reshare{AuthorID: convCarol, ID: reshare, CreatedAt: time.Now().UTC().Truncate(time.Second),
		RootAuthorID: convMe, RootID: post})
	bobPost := convGUID()
	r.notifReceive(&entity.StatusMessage{AuthorID: convBob, ID: bobPost, CreatedAt: time.Now().UTC().Truncate(time.Second),
		Public: true, Text: "hello @{Alice; " + convMe + "}"})
	r.notifComment(convCarol, bobPost, "yes @{Alice; "+convMe+"}, look")
	// I comment on Bob's post; Dave comments after me.
	var mine struct {
		GUID string `json:"guid"`
	}
	r.json("POST", V1Prefix+"/posts/"+bobPost+"/comments", map[string]string{"body": "me too"}, http.StatusCreated, &mine)
	time.Sleep(1100 * time.Millisecond) // comment times have whole seconds: Dave's is after mine
	r.notifComment(convDave, bobPost, "and me")
	r.notifLike(convBob, mine.GUID, "Comment")
	// My own actions notify nobody, me least of all.
	before := r.json("GET", V1Prefix+"/notifications?per_page=100", nil, http.StatusOK, nil)
	r.json("POST", V1Prefix+"/posts/"+post+"/comments", map[string]string{"body": "thanks @{Alice; " + convMe + "}"}, http.StatusCreated, nil)
	r.json("POST", V1Prefix+"/posts/"+post+"/likes", nil, http.StatusNoContent, nil)
	r.notifOwnPost("another @{Alice; " + convMe + "}")
	if after := r.json("GET", V1Prefix+"/notifications?per_page=100", nil, http.StatusOK, nil); string(after) != string(before) {
		t.Fatalf("my own actions changed the notifications:\n%s\nwas\n%s", after, before)
	}

	ns = r.notifList("?per_page=100")
	for _, tc := range []struct {
		typ, target, actors, targetAuthor string
	}{
		{store.NotifyCommentOnPost, post, convBob + " " + convCarol, convMe},
		{store.NotifyLiked, post, convBob, convMe},
		{store.NotifyReshared, post, convCarol, convMe},
		{store.NotifyMentioned, bobPost, convBob, convBob},
		{store.NotifyMentionedInComment, bobPost, convCarol, convBob},
		{store.NotifyAlsoCommented, bobPost, convDave, convBob},
		{store.NotifyLikedComment, bobPost, convBob, convBob},
	} {
		n, ok := notifByType(ns, tc.typ, tc.target)
		if !ok {
			t.Errorf("no %s about %s", tc.typ, tc.target)
			continue
		}
		if got := notifActors(n); got != tc.actors {
			t.Errorf("%s actors %q, want %q", tc.typ, got, tc.actors)
		}
		if n.Target.Author == nil || n.Target.Author.DiasporaID != tc.targetAuthor {
			t.Errorf("%s target %+v", tc.typ, n.Target)
		}
		if n.Read {
			t.Errorf("%s read", tc.typ)
		}
	}
	if len(ns) != 9 {
		t.Errorf("%d notifications, want 9: %+v", len(ns), ns)
	}
	for i := 1; i < len(ns); i++ {
		if ns[i].CreatedAt.After(ns[i-1].CreatedAt.Time) {
			t.Errorf("not newest first at %d", i)
		}
	}
	if n, _ := r.convCounts(); n != 9 {
		t.Errorf("notifications_unread %d, want 9", n)
	}

	// The type filter.
	for q, want := range map[string]int{
		"?type=liked": 1, "?type[]=liked&type[]=reshared": 2, "?type=started_sharing": 2, "?type=contacts_birthday": 0,
	} {
		if got := r.notifList(q); len(got) != want {
			t.Errorf("%s: %d, want %d", q, len(got), want)
		}
	}
	for _, q := range []string{"?type=commented_on_post", "?only_after=soon", "?only_unread=maybe", "?after=x"} {
		r.json("GET", V1Prefix+"/notifications"+q, nil, http.StatusUnprocessableEntity, nil)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if got := r.notifList("?only_after=" + today); len(got) != 9 {
		t.Errorf("only_after today: %d", len(got))
	}
	if got := r.notifList("?only_after=" + time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")); len(got) != 0 {
		t.Errorf("only_after tomorrow: %d", len(got))
	}

	// A retraction removes its event; the last one removes the notification.
	liked, _ := notifByType(ns, store.NotifyLiked, post)
	r.notifReceive(&entity.Retraction{AuthorID: convBob, Target: bobLike, TargetTypeName: "Like"})
	r.json("GET", V1Prefix+"/notifications/"+liked.GUID, nil, http.StatusNotFound, nil)
	carolLike := r.notifLike(convCarol, post, "Post")
	if n := r.notifGet(liked.GUID); notifActors(n) != convCarol {
		t.Fatalf("liked again: %+v", n)
	}
	r.notifReceive(&entity.Retraction{AuthorID: convBob, Target: carolLike, TargetTypeName: "Like"}) // not Bob's to retract
	if n := r.notifGet(liked.GUID); notifActors(n) != convCarol {
		t.Fatalf("a retraction by someone else removed the like: %+v", n)
	}

	// Blocking someone removes their events; unblocking brings them back.
	commented, _ := notifByType(ns, store.NotifyCommentOnPost, post)
	r.json("POST", V1Prefix+"/users/"+r.guids[convCarol]+"/block", nil, http.StatusCreated, nil)
	if n := r.notifGet(commented.GUID); notifActors(n) != convBob {
		t.Fatalf("after blocking Carol: %+v", n)
	}
	if got := r.notifList("?type=reshared"); len(got) != 0 {
		t.Fatalf("reshared by a blocked person: %+v", got)
	}
	r.json("DELETE", V1Prefix+"/users/"+r.guids[convCarol]+"/block", nil, http.StatusNoContent, nil)
	if n := r.notifGet(commented.GUID); notifActors(n) != convBob+" "+convCarol {
		t.Fatalf("after unblocking Carol: %+v", n)
	}
	r.convRefoldSame()
}

func TestNotificationsReadState(t *testing.T) {
	r := newConvRig(t)
	post := r.notifOwnPost("my post")
	r.notifComment(convBob, post, "first")
	r.notifLike(convBob, post, "Post")
	ns := r.notifList("")
	if len(ns) != 4 {
		t.Fatalf("notifications %+v", ns)
	}
	commented, _ := notifByType(ns, store.NotifyCommentOnPost, post)
	unread := func() int {
		t.Helper()
		n, _ := r.convCounts()
		if got := len(r.notifList("?only_unread=true")); got != n {
			t.Fatalf("only_unread lists %d, counts say %d", got, n)
		}
		return n
	}
	mark := func(guid string, body any, want int) {
		t.Helper()
		before := r.convOps()
		st, _, b := r.do("PATCH", V1Prefix+"/notifications/"+guid, body)
		if st != want {
			t.Fatalf("PATCH %v: %d, want %d: %s", body, st, want, b)
		}
		if st == http.StatusNoContent && len(b) != 0 {
			t.Fatalf("204 with a body: %s", b)
		}
		if st != http.StatusNoContent && r.convOps() != before {
			t.Fatalf("refused PATCH wrote ops")
		}
	}
	// GET does not mark read.
	if n := r.notifGet(commented.GUID); n.Read {
		t.Fatal("read before any mark")
	}
	if unread() != 4 {
		t.Fatal("GET marked read")
	}
	mark(commented.GUID, map[string]any{"read": true}, http.StatusNoContent)
	if !r.notifGet(commented.GUID).Read || unread() != 3 {
		t.Fatal("read=true")
	}
	mark(commented.GUID, map[string]any{"read": false}, http.StatusNoContent)
	if r.notifGet(commented.GUID).Read || unread() != 4 {
		t.Fatal("read=false")
	}
	mark(commented.GUID, map[string]any{"read": "1"}, http.StatusNoContent)
	mark(commented.GUID, map[string]any{}, http.StatusUnprocessableEntity)
	mark(commented.GUID, `{"read": "perhaps"}`, http.StatusUnprocessableEntity)
	mark("0123456789abcdef0123456789abcdef", map[string]any{"read": true}, http.StatusNotFound)
	r.json("GET", V1Prefix+"/notifications/0123456789abcdef0123456789abcdef", nil, http.StatusNotFound, nil)
	// PUT too.
	st, _, _ := r.do("PUT", V1Prefix+"/notifications/"+commented.GUID, map[string]any{"read": false})
	if st != http.StatusNoContent || r.notifGet(commented.GUID).Read {
		t.Fatalf("PUT read=false: %d", st)
	}

	// A new event makes a read notification unread again.
	mark(commented.GUID, map[string]any{"read": true}, http.StatusNoContent)
	r.notifComment(convCarol, post, "second")
	if n := r.notifGet(commented.GUID); n.Read || notifActors(n) != convBob+" "+convCarol {
		t.Fatalf("after a new comment: %+v", n)
	}

	// read_all, then unread again under the watermark, then read_all.
	r.json("POST", APIPrefix+"/notifications/read_all", nil, http.StatusNoContent, nil)
	if unread() != 0 {
		t.Fatal("unread after read_all")
	}
	mark(commented.GUID, map[string]any{"read": false}, http.StatusNoContent)
	if unread() != 1 || r.notifGet(commented.GUID).Read {
		t.Fatal("read=false under the watermark")
	}
	mark(commented.GUID, map[string]any{"read": true}, http.StatusNoContent)
	if unread() != 0 {
		t.Fatal("read=true under the watermark")
	}
	mark(commented.GUID, map[string]any{"read": false}, http.StatusNoContent)
	r.json("POST", APIPrefix+"/notifications/read_all", map[string]any{}, http.StatusNoContent, nil)
	if unread() != 0 {
		t.Fatal("read_all left an unread mark")
	}
	// read_all with before: only what was created up to then.
	time.Sleep(5 * time.Millisecond)
	cut := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	r.notifComment(convBob, post, "third")
	r.notifLike(convCarol, post, "Post")
	if unread() != 2 {
		t.Fatalf("unread %d, want 2", unread())
	}
	r.json("POST", APIPrefix+"/notifications/read_all", map[string]any{"before": cut.Add(-time.Hour)}, http.StatusNoContent, nil)
	if unread() != 2 {
		t.Fatal("read_all before an hour ago read new ones")
	}
	r.json("POST", APIPrefix+"/notifications/read_all", `{"before": "not a time"}`, http.StatusUnprocessableEntity, nil)
	r.json("POST", APIPrefix+"/notifications/read_all", map[string]any{"before": apiv1.NewTime(time.Now())}, http.StatusNoContent, nil)
	if unread() != 0 {
		t.Fatal("read_all before now")
	}
	r.convRefoldSame()
}

func TestNotificationsBirthday(t *testing.T) {
	r := newConvRig(t)
	ctx := context.Background()
	now := time.Now()
	// Bob (mutual) has his birthday today; Carol (not mutual) too.
	for _, h := range []string{convBob, convCarol} {
		if err := r.pod.AddPerson(ctx, store.PersonRecord{GUID: r.guids[h], DiasporaID: h, FirstName: "B",
			Birthday: now.AddDate(-30, 0, 0).Format("2006-01-02"), Searchable: true, FetchedAt: now.UnixMilli() + 1}); err != nil {
			t.Fatal(err)
		}
	}
	ns := r.notifList("?type=contacts_birthday")
	if len(ns) != 1 || notifActors(ns[0]) != convBob || ns[0].Target != nil || ns[0].Read {
		t.Fatalf("birthdays %+v", ns)
	}
	b := r.notifGet(ns[0].GUID)
	if b.GUID != ns[0].GUID {
		t.Fatalf("GET birthday %+v", b)
	}
	before, _ := r.convCounts()
	r.json("PATCH", V1Prefix+"/notifications/"+b.GUID, map[string]any{"read": true}, http.StatusNoContent, nil)
	if !r.notifGet(b.GUID).Read {
		t.Fatal("birthday not read")
	}
	if after, _ := r.convCounts(); after != before-1 {
		t.Fatalf("counts %d → %d", before, after)
	}
	all := r.notifList("?per_page=100")
	if !slices.ContainsFunc(all, func(n apiv1.Notification) bool { return n.GUID == b.GUID && n.Read }) {
		t.Fatalf("birthday missing from the list: %+v", all)
	}
}
