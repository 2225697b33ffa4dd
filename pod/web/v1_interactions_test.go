package web

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

// Interactions (API.md §3.2–3.5) through the real handler: comments,
// likes, reshares, poll votes, subscribe/mute/hide/report, received
// interactions, concurrent devices and refold.

const (
	iaBob   = "bob@pod-b.example"
	iaCarol = "carol@pod-c.example"
)

func iaGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newIARig is a pod with the identity and two known remote people.
func newIARig(t *testing.T) *apiRig {
	t.Helper()
	r := newAPIRig(t).withIdentity()
	for _, h := range []string{iaBob, iaCarol} {
		name := strings.ToUpper(h[:1]) + h[1:strings.Index(h, "@")]
		if err := r.pod.AddPerson(context.Background(), store.PersonRecord{GUID: iaGUID(), DiasporaID: h,
			FirstName: name, Searchable: true}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// iaReceive records an entity as the federation engine would.
func (r *apiRig) iaReceive(e entity.Entity) {
	r.t.Helper()
	payload, err := entity.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.pod.Receive(context.Background(), payload); err != nil {
		r.t.Fatal(err)
	}
}

// iaReceivePost receives a status message by author.
func (r *apiRig) iaReceivePost(author string, public bool, text string, poll *entity.Poll) string {
	r.t.Helper()
	g := iaGUID()
	r.iaReceive(&entity.StatusMessage{AuthorID: author, ID: g, CreatedAt: time.Now().UTC().Truncate(time.Second),
		Public: public, Text: text, Poll: poll})
	return g
}

// iaReceiveComment receives a comment by author on parent.
func (r *apiRig) iaReceiveComment(author, parent, text string, at time.Time) string {
	r.t.Helper()
	g := iaGUID()
	r.iaReceive(&entity.Comment{AuthorID: author, ID: g, Parent: parent, Text: text, CreatedAt: at.UTC().Truncate(time.Second),
		Relay: entity.Relay{Signature: "c2ln"}})
	return g
}

// iaReceiveLike receives a like (or dislike) by author.
func (r *apiRig) iaReceiveLike(author, parent, parentType string, positive bool) string {
	r.t.Helper()
	g := iaGUID()
	r.iaReceive(&entity.Like{AuthorID: author, ID: g, Parent: parent, ParentTypeName: parentType, Positive: positive,
		Relay: entity.Relay{Signature: "c2ln"}})
	return g
}

// iaOwnPost publishes an own post as the posts area's use case does (a
// post Publish, docs/data-model.md), so these tests depend only on the
// posts projection.
func (r *apiRig) iaOwnPost(text string, public bool, poll *store.PostPoll) string {
	r.t.Helper()
	g := iaGUID()
	body := store.PostBody{Text: text, Public: public, Poll: poll}
	if !public {
		body.AspectIDs = []int64{1}
	}
	b, err := json.Marshal(body)
	if err != nil {
		r.t.Fatal(err)
	}
	err = r.pod.Log().Write(context.Background(), func(w *store.Writer) error {
		_, err := w.Append(oplog.Publish{GUID: g, Kind: "post", CreatedAt: time.Now().UnixMilli(), Body: b})
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return g
}

// iaOps counts the ops: a refusal must not add any.
func (r *apiRig) iaOps() int { return r.opCount() }

// iaRefuse sends a request that must be refused with want and change
// nothing.
func (r *apiRig) iaRefuse(method, path string, body any, want int) {
	r.t.Helper()
	before := r.iaOps()
	st, _, b := r.do(method, path, body)
	if st != want {
		r.t.Errorf("%s %s %v: status %d, want %d: %s", method, path, body, st, want, b)
	}
	if after := r.iaOps(); after != before {
		r.t.Errorf("%s %s refused with %d but wrote %d ops", method, path, st, after-before)
	}
}

// iaComments lists a post's comments and validates the list.
func (r *apiRig) iaComments(post, query string) ([]apiv1.Comment, http.Header) {
	r.t.Helper()
	st, h, b := r.do("GET", V1Prefix+"/posts/"+post+"/comments"+query, nil)
	if st != http.StatusOK {
		r.t.Fatalf("GET comments: %d %s", st, b)
	}
	apiv1test.Validate(r.t, "comments", b)
	var out []apiv1.Comment
	if err := json.Unmarshal(b, &out); err != nil {
		r.t.Fatal(err)
	}
	return out, h
}

func (r *apiRig) iaLikes(path string) []apiv1.Like {
	r.t.Helper()
	b := r.json("GET", path, nil, http.StatusOK, nil)
	apiv1test.Validate(r.t, "likes", b)
	var out []apiv1.Like
	if err := json.Unmarshal(b, &out); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// iaPost reads a post through the posts area's route and validates it.
func (r *apiRig) iaPost(guid string) apiv1.Post {
	r.t.Helper()
	var out apiv1.Post
	b := r.json("GET", V1Prefix+"/posts/"+guid, nil, http.StatusOK, &out)
	apiv1test.Validate(r.t, "post", b)
	return out
}

// iaTables dumps the interactions tables, for refold comparisons.
func (r *apiRig) iaTables() string {
	r.t.Helper()
	return r.dumpQueries(
		"SELECT id, guid, post_guid, own, author, text, created_at FROM comments ORDER BY guid",
		"SELECT handle, comment_id FROM comment_mentions ORDER BY handle, comment_id",
		"SELECT guid, target_guid, target_type, own, author, positive, created_at FROM likes ORDER BY guid",
		"SELECT guid, post_guid, poll_guid, answer_id, own, author, created_at, answer_guid FROM poll_votes ORDER BY guid",
		"SELECT guid, interacted_at FROM posts ORDER BY guid",
	)
}

// iaRefoldSame refolds in a shuffled order and checks the tables and the
// given API answers are unchanged.
func (r *apiRig) iaRefoldSame(paths ...string) {
	r.t.Helper()
	answers := func() []string {
		var out []string
		for _, p := range paths {
			_, _, b := r.do("GET", p, nil)
			out = append(out, string(b))
		}
		return out
	}
	tables, before := r.iaTables(), answers()
	for _, seed := range []uint64{7, 8} {
		if err := r.pod.Log().Refold(context.Background(), store.RefoldOptions{Shuffle: seed}); err != nil {
			r.t.Fatal(err)
		}
		if got := r.iaTables(); got != tables {
			r.t.Errorf("refold (shuffle %d) changed the tables:\nbefore:\n%s\nafter:\n%s", seed, tables, got)
		}
		for i, a := range answers() {
			if a != before[i] {
				r.t.Errorf("refold (shuffle %d) changed GET %s:\nbefore: %s\nafter:  %s", seed, paths[i], before[i], a)
			}
		}
	}
}

func TestInteractionsComments(t *testing.T) {
	r := newIARig(t)
	ctx := context.Background()
	bobPost := r.iaReceivePost(iaBob, true, "hello from bob", nil)
	mine := r.iaOwnPost("my post", true, nil)
	base := V1Prefix + "/posts/"

	// Create: 201 and a valid Comment, mentions resolved.
	var c apiv1.Comment
	b := r.json("POST", base+bobPost+"/comments", map[string]string{"body": "hi @{Bob; " + iaBob + "} and @{nobody@nowhere.example}"},
		http.StatusCreated, &c)
	apiv1test.Validate(t, "comments", []byte("["+string(b)+"]"))
	if len(c.GUID) != 32 || c.Author.DiasporaID != "alice@localhost" || c.Author.Name != "Alice" ||
		len(c.MentionedPeople) != 1 || c.MentionedPeople[0].DiasporaID != iaBob || c.Reported || c.Interactions.Liked {
		t.Fatalf("created comment: %+v", c)
	}

	// A limited post the user can see takes comments too; mentioning the
	// user shows them.
	limited := r.iaReceivePost(iaBob, false, "just for alice", nil)
	var lc apiv1.Comment
	r.json("POST", base+limited+"/comments", map[string]string{"body": "thanks @{alice@localhost}"}, http.StatusCreated, &lc)
	if len(lc.MentionedPeople) != 1 || lc.MentionedPeople[0].DiasporaID != "alice@localhost" {
		t.Errorf("comment on a limited post: %+v", lc)
	}

	// Refusals, each changing nothing.
	long := strings.Repeat("x", 65536)
	for _, tc := range []struct {
		name, post string
		body       any
		want       int
	}{
		{"unknown post", iaGUID(), map[string]string{"body": "x"}, 404},
		{"empty", bobPost, map[string]string{"body": "  \n"}, 422},
		{"no body key", bobPost, map[string]string{}, 422},
		{"too long", bobPost, map[string]string{"body": long}, 422},
		{"control character", bobPost, map[string]string{"body": "a\u0001b"}, 422},
		{"not JSON", bobPost, "body=x", 422},
	} {
		t.Run(tc.name, func(t *testing.T) { r.iaRefuse("POST", base+tc.post+"/comments", tc.body, tc.want) })
	}
	// Invalid UTF-8 cannot arrive through JSON (the decoder replaces it);
	// the use case refuses it all the same.
	before := r.iaOps()
	if _, err := r.pod.AddComment(ctx, bobPost, "bad \xff text"); !errors.Is(err, pod.ErrInvalid) {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := r.pod.AddComment(ctx, bobPost, strings.Repeat("é", 65535)); err != nil {
		t.Errorf("65535 characters: %v", err)
	}
	if r.iaOps() != before+1 {
		t.Errorf("ops: %d, want %d", r.iaOps(), before+1)
	}

	// Received comments: oldest first by default, paging with Link.
	t0 := time.Now().Add(-time.Hour)
	var remote []string
	for i := range 3 {
		remote = append(remote, r.iaReceiveComment(iaCarol, mine, fmt.Sprint("carol ", i), t0.Add(time.Duration(i)*time.Minute)))
	}
	own, _ := r.pod.AddComment(ctx, mine, "my own comment")
	list, h := r.iaComments(mine, "")
	if len(list) != 4 || list[0].GUID != remote[0] || list[2].GUID != remote[2] || list[3].GUID != own.GUID {
		t.Fatalf("comments of my post: %+v", list)
	}
	if list[0].Author.DiasporaID != iaCarol || list[0].Author.Name != "Carol" {
		t.Errorf("remote author: %+v", list[0].Author)
	}
	if !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Errorf("Link: %q", h.Get("Link"))
	}
	page1, h := r.iaComments(mine, "?per_page=2")
	if len(page1) != 2 || page1[1].GUID != remote[1] {
		t.Fatalf("page 1: %+v", page1)
	}
	next := pathOf(t, strings.TrimPrefix(strings.Split(h.Get("Link"), ">")[0], "<"))
	page2, _ := r.iaComments(mine, next[strings.Index(next, "?"):])
	if len(page2) != 2 || page2[0].GUID != remote[2] || page2[1].GUID != own.GUID {
		t.Fatalf("page 2 (%s): %+v", next, page2)
	}
	desc, _ := r.iaComments(mine, "?before="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if len(desc) != 4 || desc[0].GUID != own.GUID {
		t.Fatalf("newest first: %+v", desc)
	}
	r.iaRefuse("GET", base+mine+"/comments?before=yesterday", nil, 422)
	r.iaRefuse("GET", base+iaGUID()+"/comments", nil, 404)

	// Report a comment: 204, then 409; a reason is required.
	r.iaRefuse("POST", base+mine+"/comments/"+remote[0]+"/report", map[string]string{}, 422)
	r.iaRefuse("POST", base+mine+"/comments/"+remote[0]+"/report", map[string]string{"reason": " "}, 422)
	r.iaRefuse("POST", base+bobPost+"/comments/"+remote[0]+"/report", map[string]string{"reason": "spam"}, 404)
	r.json("POST", base+mine+"/comments/"+remote[0]+"/report", map[string]string{"reason": "spam"}, http.StatusNoContent, nil)
	r.iaRefuse("POST", base+mine+"/comments/"+remote[0]+"/report", map[string]string{"reason": "spam"}, 409)
	if v, _ := store.Field(ctx, r.pod.DB().R, "report/"+remote[0]); v != "spam" {
		t.Errorf("report reason: %q", v)
	}
	list, _ = r.iaComments(mine, "")
	if !list[0].Reported || list[1].Reported {
		t.Errorf("reported flags: %+v", list)
	}

	// Delete: someone else's comment on someone else's post is refused;
	// one not on this post is not found.
	bobsComment := r.iaReceiveComment(iaBob, bobPost, "bob replies", time.Now())
	r.iaRefuse("DELETE", base+bobPost+"/comments/"+bobsComment, nil, 403)
	r.iaRefuse("DELETE", base+mine+"/comments/"+bobsComment, nil, 404)
	r.iaRefuse("DELETE", base+iaGUID()+"/comments/"+bobsComment, nil, 404)
	r.iaRefuse("DELETE", base+bobPost+"/comments/"+iaGUID(), nil, 404)
	// My own comment is retracted; someone else's on my post is hidden.
	r.json("DELETE", base+bobPost+"/comments/"+c.GUID, nil, http.StatusNoContent, nil)
	r.json("DELETE", base+mine+"/comments/"+remote[1], nil, http.StatusNoContent, nil)
	r.iaRefuse("DELETE", base+mine+"/comments/"+remote[1], nil, 404)
	r.iaRefuse("DELETE", base+bobPost+"/comments/"+c.GUID, nil, 404)
	list, _ = r.iaComments(mine, "")
	if len(list) != 3 || list[1].GUID != remote[2] {
		t.Fatalf("after hiding carol's comment: %+v", list)
	}
	list, _ = r.iaComments(bobPost, "")
	for _, x := range list {
		if x.GUID == c.GUID {
			t.Fatalf("retracted comment still listed: %+v", list)
		}
	}
	if pi, _ := store.InteractionsOf(ctx, r.pod.DB().R, mine); pi.Comments != 3 {
		t.Errorf("comment count of my post: %+v", pi)
	}
	if p := r.iaPost(mine); p.InteractionCounters.Comments != 3 || !p.OwnInteractionState.Subscribed {
		t.Errorf("my post: %+v %+v", p.InteractionCounters, p.OwnInteractionState)
	}
	if p := r.iaPost(bobPost); p.InteractionCounters.Comments != 2 || !p.OwnInteractionState.Subscribed {
		t.Errorf("bob's post (my 65535-character comment and bob's): %+v %+v", p.InteractionCounters, p.OwnInteractionState)
	}
	// A retracted comment has no row; the hidden one keeps its row.
	var n int
	r.pod.DB().R.QueryRow("SELECT count(*) FROM comments WHERE guid IN (?, ?)", c.GUID, remote[1]).Scan(&n)
	if n != 1 {
		t.Errorf("rows of the retracted and the hidden comment: %d, want 1", n)
	}
	var mentions int
	r.pod.DB().R.QueryRow("SELECT count(*) FROM comment_mentions WHERE comment_id NOT IN (SELECT id FROM comments)").Scan(&mentions)
	if mentions != 0 {
		t.Errorf("mentions of a retracted comment remain: %d", mentions)
	}
	r.pod.DB().R.QueryRow("SELECT count(*) FROM comment_mentions").Scan(&mentions)
	if mentions != 1 {
		t.Errorf("mentions: %d, want 1 (the comment on the limited post)", mentions)
	}

	// interacted_at follows the newest comment.
	var interacted, created int64
	r.pod.DB().R.QueryRow("SELECT interacted_at, created_at FROM posts WHERE guid = ?", mine).Scan(&interacted, &created)
	if interacted < own.CreatedAt.UnixMilli() {
		t.Errorf("interacted_at %d, newest comment %d", interacted, own.CreatedAt.UnixMilli())
	}

	r.iaRefoldSame(base+mine+"/comments", base+bobPost+"/comments")
}

func TestInteractionsCommentOnDeletedPost(t *testing.T) {
	r := newIARig(t)
	base := V1Prefix + "/posts/"
	post := r.iaReceivePost(iaBob, true, "soon gone", nil)
	r.json("POST", base+post+"/comments", map[string]string{"body": "quick"}, http.StatusCreated, nil)
	// Bob deletes his post; carol's retraction of it is no retraction.
	r.iaReceive(&entity.Retraction{AuthorID: iaCarol, Target: post, TargetTypeName: "Post"})
	r.json("GET", base+post+"/comments", nil, http.StatusOK, nil)
	r.iaReceive(&entity.Retraction{AuthorID: iaBob, Target: post, TargetTypeName: "Post"})
	r.iaRefuse("POST", base+post+"/comments", map[string]string{"body": "too late"}, 404)
	r.iaRefuse("GET", base+post+"/comments", nil, 404)
	r.iaRefuse("POST", base+post+"/likes", nil, 404)
	r.iaRefuse("POST", base+post+"/reshares", nil, 422)
	r.iaRefuse("POST", base+post+"/subscribe", nil, 404)
	r.iaRefuse("POST", base+post+"/report", map[string]string{"reason": "x"}, 404)
}

func TestInteractionsLikes(t *testing.T) {
	r := newIARig(t)
	ctx := context.Background()
	base := V1Prefix + "/posts/"
	post := r.iaReceivePost(iaBob, true, "like me", nil)
	likes := base + post + "/likes"

	r.json("POST", likes, nil, http.StatusNoContent, nil)
	r.iaRefuse("POST", likes, nil, 409)
	r.iaRefuse("POST", base+iaGUID()+"/likes", nil, 404)
	r.iaRefuse("GET", base+iaGUID()+"/likes", nil, 404)
	// Received likes: carol likes, bob dislikes (kept, not counted).
	carolLike := r.iaReceiveLike(iaCarol, post, "Post", true)
	r.iaReceiveLike(iaBob, post, "Post", false)
	var n int
	r.pod.DB().R.QueryRow("SELECT count(*) FROM likes WHERE target_guid = ? AND positive = 0", post).Scan(&n)
	if n != 1 {
		t.Errorf("dislike rows: %d", n)
	}
	l := r.iaLikes(likes)
	if len(l) != 2 || l[0].Author.DiasporaID != "alice@localhost" || l[1].GUID != carolLike {
		t.Fatalf("likes, mine first: %+v", l)
	}
	if pi, _ := store.InteractionsOf(ctx, r.pod.DB().R, post); pi.Likes != 2 || !pi.Liked || !pi.Subscribed {
		t.Errorf("post interactions: %+v", pi)
	}
	if p := r.iaPost(post); p.InteractionCounters.Likes != 2 || !p.OwnInteractionState.Liked {
		t.Errorf("post: %+v %+v", p.InteractionCounters, p.OwnInteractionState)
	}
	// Index paging.
	st, h, b := r.do("GET", likes+"?per_page=1", nil)
	if st != 200 || !strings.Contains(h.Get("Link"), `rel="next"`) || strings.Contains(h.Get("Link"), "previous") {
		t.Errorf("page 1: %d %s %q", st, b, h.Get("Link"))
	}
	if l := r.iaLikes(likes + "?per_page=1&page=2"); len(l) != 1 || l[0].GUID != carolLike {
		t.Errorf("page 2: %+v", l)
	}

	r.json("DELETE", likes, nil, http.StatusNoContent, nil)
	r.iaRefuse("DELETE", likes, nil, 410)
	if l := r.iaLikes(likes); len(l) != 1 {
		t.Errorf("after unlike: %+v", l)
	}
	if p := r.iaPost(post); p.InteractionCounters.Likes != 1 || p.OwnInteractionState.Liked {
		t.Errorf("post after unlike: %+v %+v", p.InteractionCounters, p.OwnInteractionState)
	}

	// Likes of comments.
	cm := r.iaReceiveComment(iaCarol, post, "a comment", time.Now())
	cl := base + post + "/comments/" + cm + "/likes"
	r.json("POST", cl, nil, http.StatusNoContent, nil)
	r.iaRefuse("POST", cl, nil, 409)
	r.iaReceiveLike(iaBob, cm, "Comment", true)
	other := r.iaReceivePost(iaCarol, true, "other", nil)
	for _, m := range []string{"GET", "POST", "DELETE"} {
		st, _, b := r.do(m, base+other+"/comments/"+cm+"/likes", nil)
		if st != 404 || !strings.Contains(string(b), "Comment not found for the given post") {
			t.Errorf("%s like of a comment of another post: %d %s", m, st, b)
		}
	}
	r.iaRefuse("POST", base+post+"/comments/"+iaGUID()+"/likes", nil, 404)
	if l := r.iaLikes(cl); len(l) != 2 || l[0].Author.DiasporaID != "alice@localhost" {
		t.Errorf("comment likes: %+v", l)
	}
	list, _ := r.iaComments(post, "")
	if len(list) != 1 || !list[0].Interactions.Liked || list[0].Interactions.LikesCount != 2 {
		t.Errorf("comment interactions: %+v", list)
	}
	r.json("DELETE", cl, nil, http.StatusNoContent, nil)
	r.iaRefuse("DELETE", cl, nil, 410)
	list, _ = r.iaComments(post, "")
	if list[0].Interactions.Liked || list[0].Interactions.LikesCount != 1 {
		t.Errorf("comment interactions after unlike: %+v", list)
	}
	// The post's likes are not the comment's.
	if l := r.iaLikes(likes); len(l) != 1 || l[0].GUID != carolLike {
		t.Errorf("post likes: %+v", l)
	}
	r.iaRefoldSame(likes, cl, base+post+"/comments")
}

func TestInteractionsReceivedRetractions(t *testing.T) {
	r := newIARig(t)
	base := V1Prefix + "/posts/"
	post := r.iaOwnPost("mine", true, nil)
	cm := r.iaReceiveComment(iaBob, post, "bob's comment", time.Now())
	like := r.iaReceiveLike(iaBob, post, "Post", true)
	// Only the author's own retraction counts.
	r.iaReceive(&entity.Retraction{AuthorID: iaCarol, Target: cm, TargetTypeName: "Comment"})
	r.iaReceive(&entity.Retraction{AuthorID: iaCarol, Target: like, TargetTypeName: "Like"})
	if list, _ := r.iaComments(post, ""); len(list) != 1 {
		t.Fatalf("comment retracted by someone else: %+v", list)
	}
	if l := r.iaLikes(base + post + "/likes"); len(l) != 1 {
		t.Fatalf("like retracted by someone else: %+v", l)
	}
	r.iaReceive(&entity.Retraction{AuthorID: iaBob, Target: cm, TargetTypeName: "Comment"})
	r.iaReceive(&entity.Retraction{AuthorID: iaBob, Target: like, TargetTypeName: "Like"})
	if list, _ := r.iaComments(post, ""); len(list) != 0 {
		t.Errorf("comment retracted by its author: %+v", list)
	}
	if l := r.iaLikes(base + post + "/likes"); len(l) != 0 {
		t.Errorf("like retracted by its author: %+v", l)
	}
	// A comment that names another author than the one who sent it shows
	// nothing; neither does a comment arriving before its post until the
	// post is there.
	early := iaGUID()
	cm2 := r.iaReceiveComment(iaCarol, early, "before the post", time.Now())
	r.iaRefuse("GET", base+early+"/comments", nil, 404)
	r.iaReceive(&entity.StatusMessage{AuthorID: iaCarol, ID: early, CreatedAt: time.Now().UTC().Truncate(time.Second), Public: true, Text: "late"})
	if list, _ := r.iaComments(early, ""); len(list) != 1 || list[0].GUID != cm2 {
		t.Errorf("comment that came before its post: %+v", list)
	}
	r.iaRefoldSame(base+post+"/comments", base+early+"/comments", base+post+"/likes")
}

func TestInteractionsReshares(t *testing.T) {
	r := newIARig(t)
	base := V1Prefix + "/posts/"
	post := r.iaReceivePost(iaBob, true, "reshare me", nil)
	limited := r.iaReceivePost(iaBob, false, "only for alice", nil)
	mine := r.iaOwnPost("my own", true, nil)

	r.iaRefuse("POST", base+iaGUID()+"/reshares", nil, 422)
	r.iaRefuse("POST", base+mine+"/reshares", nil, 422)
	r.iaRefuse("POST", base+limited+"/reshares", nil, 404)
	r.iaRefuse("GET", base+limited+"/reshares", nil, 404)
	r.iaRefuse("GET", base+iaGUID()+"/reshares", nil, 404)

	// Carol reshared bob's post before me.
	carolReshare := iaGUID()
	r.iaReceive(&entity.Reshare{AuthorID: iaCarol, ID: carolReshare, CreatedAt: time.Now().Add(-time.Minute).UTC().Truncate(time.Second),
		RootAuthorID: iaBob, RootID: post})
	var rp apiv1.Post
	b := r.json("POST", base+post+"/reshares", nil, http.StatusOK, &rp)
	apiv1test.Validate(t, "post", b)
	if rp.PostType != apiv1.PostTypeReshare || rp.Root == nil || rp.Root.GUID != post || rp.Body != "reshare me" ||
		rp.Author.DiasporaID != "alice@localhost" || !rp.Public {
		t.Fatalf("reshare: %s", b)
	}
	r.iaRefuse("POST", base+post+"/reshares", nil, 409)
	if p := r.iaPost(post); p.InteractionCounters.Reshares != 2 || !p.OwnInteractionState.Reshared {
		t.Errorf("post: %+v %+v", p.InteractionCounters, p.OwnInteractionState)
	}
	// Resharing carol's reshare reshares the original: already done.
	r.iaRefuse("POST", base+carolReshare+"/reshares", nil, 409)
	var list []apiv1.ReshareEntry
	b = r.json("GET", base+post+"/reshares", nil, http.StatusOK, &list)
	apiv1test.Validate(t, "reshares", b)
	if len(list) != 2 || list[0].Author.DiasporaID != "alice@localhost" || list[1].GUID != carolReshare {
		t.Fatalf("reshares, mine first: %+v", list)
	}
	mineGUID := list[0].GUID
	// Resharing my own reshare is resharing my own post.
	r.iaRefuse("POST", base+mineGUID+"/reshares", nil, 422)

	// A reshare of a reshare points at the absolute root.
	other := r.iaReceivePost(iaCarol, true, "carol's", nil)
	bobReshare := iaGUID()
	r.iaReceive(&entity.Reshare{AuthorID: iaBob, ID: bobReshare, CreatedAt: time.Now().UTC().Truncate(time.Second),
		RootAuthorID: iaCarol, RootID: other})
	r.json("POST", base+bobReshare+"/reshares", nil, http.StatusOK, nil)
	r.iaRefuse("POST", base+other+"/reshares", nil, 409)
	var root string
	r.pod.DB().R.QueryRow("SELECT parent FROM st_published WHERE kind = 'reshare' AND parent = ?", other).Scan(&root)
	if root != other {
		t.Errorf("reshare of a reshare: parent %q, want the root %q", root, other)
	}
	if p := r.iaPost(post); p.InteractionCounters.Reshares != 2 || !p.OwnInteractionState.Reshared || !p.OwnInteractionState.Subscribed {
		t.Errorf("post: %+v %+v", p.InteractionCounters, p.OwnInteractionState)
	}
	r.iaRefoldSame(base+post+"/reshares", base+other+"/reshares", base+post, base+mineGUID)

	// Deleting the reshare is deleting the post (the posts area's route);
	// then the post can be reshared again.
	r.json("DELETE", base+mineGUID, nil, http.StatusNoContent, nil)
	b = r.json("GET", base+post+"/reshares", nil, http.StatusOK, &list)
	if len(list) != 1 || list[0].GUID != carolReshare {
		t.Fatalf("reshares after deleting mine: %s", b)
	}
	if p := r.iaPost(post); p.InteractionCounters.Reshares != 1 || p.OwnInteractionState.Reshared {
		t.Errorf("post after deleting my reshare: %+v %+v", p.InteractionCounters, p.OwnInteractionState)
	}
	r.json("POST", base+post+"/reshares", nil, http.StatusOK, nil)
}

func TestInteractionsVote(t *testing.T) {
	r := newIARig(t)
	base := V1Prefix + "/posts/"
	pollGUID := iaGUID()
	answers := []*entity.PollAnswer{{ID: iaGUID(), Answer: "yes"}, {ID: iaGUID(), Answer: "no"}}
	post := r.iaReceivePost(iaBob, true, "vote!", &entity.Poll{ID: pollGUID, Question: "ok?", Answers: answers})
	plain := r.iaReceivePost(iaBob, true, "no poll here", nil)
	vote := base + post + "/vote"

	r.iaRefuse("POST", base+iaGUID()+"/vote", map[string]int{"poll_answer": 1}, 404)
	r.iaRefuse("POST", base+plain+"/vote", map[string]int{"poll_answer": 1}, 422)
	r.iaRefuse("POST", vote, map[string]int{"poll_answer": 3}, 422)
	r.iaRefuse("POST", vote, map[string]any{}, 422)
	r.iaRefuse("POST", vote, map[string]any{"poll_answer": "one"}, 422)
	r.json("POST", vote, map[string]int{"poll_answer": 2}, http.StatusNoContent, nil)
	r.iaRefuse("POST", vote, map[string]int{"poll_answer": 2}, 422)
	r.iaRefuse("POST", vote, map[string]int{"poll_answer": 1}, 422)

	// Carol's participation names the answer by guid.
	r.iaReceive(&entity.PollParticipation{AuthorID: iaCarol, ID: iaGUID(), Parent: pollGUID, PollAnswerGUID: answers[0].ID,
		Relay: entity.Relay{Signature: "c2ln"}})
	var pr store.PostPoll
	json.Unmarshal([]byte(iaPollColumn(t, r, post)), &pr)
	tally, err := store.PollTallyOf(context.Background(), r.pod.DB().R, post, &pr)
	if err != nil || tally.Total != 2 || tally.Counts[1] != 1 || tally.Counts[2] != 1 || tally.Own != 2 {
		t.Errorf("tally: %+v %v", tally, err)
	}
	p := r.iaPost(post)
	if p.Poll == nil || p.Poll.ParticipationCount != 2 || !p.Poll.AlreadyParticipated || len(p.Poll.Answers) != 2 ||
		p.Poll.Answers[0].VoteCount != 1 || p.Poll.Answers[1].VoteCount != 1 ||
		p.Poll.Answers[1].OwnAnswer == nil || !*p.Poll.Answers[1].OwnAnswer {
		t.Errorf("poll: %+v", p.Poll)
	}
	r.iaRefoldSame(base + post)
	tally2, _ := store.PollTallyOf(context.Background(), r.pod.DB().R, post, &pr)
	if fmt.Sprint(tally2) != fmt.Sprint(tally) {
		t.Errorf("tally after refold: %+v, before %+v", tally2, tally)
	}
}

func iaPollColumn(t *testing.T, r *apiRig, post string) string {
	var s string
	if err := r.pod.DB().R.QueryRow("SELECT poll FROM posts WHERE guid = ?", post).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInteractionsPostSets(t *testing.T) {
	r := newIARig(t)
	ctx := context.Background()
	base := V1Prefix + "/posts/"
	post := r.iaReceivePost(iaBob, true, "notify me", nil)
	mine := r.iaOwnPost("mine", true, nil)
	subscribed := func(g string) bool {
		s, err := store.Subscribed(ctx, r.pod.DB().R, g)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	unknown := iaGUID()
	for _, path := range []string{"/subscribe", "/mute"} {
		r.iaRefuse("POST", base+unknown+path, nil, 404)
	}
	r.iaRefuse("POST", base+unknown+"/hide", map[string]bool{"hide": true}, 404)
	r.iaRefuse("POST", base+unknown+"/report", map[string]string{"reason": "x"}, 404)

	// Subscribe / mute.
	if subscribed(post) || !subscribed(mine) {
		t.Fatalf("implicit subscriptions: post %v, mine %v", subscribed(post), subscribed(mine))
	}
	r.iaRefuse("POST", base+post+"/mute", nil, 410)
	r.iaRefuse("POST", base+mine+"/subscribe", nil, 409)
	r.json("POST", base+post+"/subscribe", nil, http.StatusNoContent, nil)
	r.iaRefuse("POST", base+post+"/subscribe", nil, 409)
	r.json("POST", base+post+"/mute", nil, http.StatusNoContent, nil)
	r.iaRefuse("POST", base+post+"/mute", nil, 410)
	if subscribed(post) {
		t.Error("muted post still subscribed")
	}
	r.json("POST", base+mine+"/mute", nil, http.StatusNoContent, nil)
	if subscribed(mine) {
		t.Error("muted own post still subscribed")
	}
	// Commenting takes part again: the mute goes.
	r.json("POST", base+post+"/comments", map[string]string{"body": "back"}, http.StatusCreated, nil)
	if !subscribed(post) {
		t.Error("commenting did not resubscribe")
	}
	r.json("POST", base+mine+"/subscribe", nil, http.StatusNoContent, nil)
	if !subscribed(mine) {
		t.Error("subscribe after mute")
	}

	// Hide.
	r.iaRefuse("POST", base+post+"/hide", map[string]any{}, 422)
	r.iaRefuse("POST", base+post+"/hide", map[string]any{"hide": "yes"}, 422)
	r.iaRefuse("POST", base+post+"/hide", map[string]bool{"hide": false}, 410)
	r.json("POST", base+post+"/hide", map[string]bool{"hide": true}, http.StatusNoContent, nil)
	r.iaRefuse("POST", base+post+"/hide", map[string]bool{"hide": true}, 409)
	if in, _ := store.IsMember(ctx, r.pod.DB().R, store.HiddenSet, post); !in {
		t.Error("not in the hidden set")
	}
	r.json("POST", base+post+"/hide", map[string]bool{"hide": false}, http.StatusNoContent, nil)
	r.iaRefuse("POST", base+post+"/hide", map[string]bool{"hide": false}, 410)

	// Report.
	r.iaRefuse("POST", base+post+"/report", map[string]any{}, 422)
	r.iaRefuse("POST", base+post+"/report", nil, 422)
	r.json("POST", base+post+"/report", map[string]string{"reason": "rude"}, http.StatusNoContent, nil)
	r.iaRefuse("POST", base+post+"/report", map[string]string{"reason": "again"}, 409)
	if v, _ := store.Field(ctx, r.pod.DB().R, "report/"+post); v != "rude" {
		t.Errorf("report reason %q", v)
	}
	if p := r.iaPost(post); !p.OwnInteractionState.Reported || !p.OwnInteractionState.Subscribed {
		t.Errorf("own interaction state: %+v", p.OwnInteractionState)
	}
}

// iaDevice is another device of the same user, writing its own log.
type iaDevice struct {
	log *oplog.Log
}

func newIADevice(seed byte) *iaDevice {
	k := make([]byte, ed25519.SeedSize)
	k[0], k[1] = seed, 0x1a
	return &iaDevice{log: oplog.NewLog(ed25519.NewKeyFromSeed(k), uint64(seed)<<40|0x1a, time.Now)}
}

// sign makes this device's next op.
func (d *iaDevice) sign(t *testing.T, b oplog.Body) oplog.Signed {
	t.Helper()
	raw, err := oplog.EncodeBody(b)
	if err != nil {
		t.Fatal(err)
	}
	_, s, err := d.log.Append(b.OpKind(), oplog.CurrentSchema, raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestInteractionsConcurrentDevices: two devices of the user like the same
// post (and vote in the same poll) before they sync. Both publishes stay
// (different guids, two rows); the user is counted once, shows as liked,
// and one unlike retracts both.
func TestInteractionsConcurrentDevices(t *testing.T) {
	r := newIARig(t)
	ctx := context.Background()
	base := V1Prefix + "/posts/"
	pollGUID := iaGUID()
	post := r.iaReceivePost(iaBob, true, "popular", &entity.Poll{ID: pollGUID, Question: "?",
		Answers: []*entity.PollAnswer{{ID: iaGUID(), Answer: "a"}, {ID: iaGUID(), Answer: "b"}}})
	r.iaReceiveLike(iaCarol, post, "Post", true)

	// This device likes and votes 1; the other device did the same,
	// voting 2, without having seen ours.
	r.json("POST", base+post+"/likes", nil, http.StatusNoContent, nil)
	r.json("POST", base+post+"/vote", map[string]int{"poll_answer": 1}, http.StatusNoContent, nil)
	d := newIADevice(9)
	at := time.Now().UnixMilli() + 5000
	batch := []oplog.Signed{
		d.sign(t, oplog.Publish{GUID: iaGUID(), Kind: "like", Parent: post, CreatedAt: at, Body: []byte(`{"target_type":"Post"}`)}),
		d.sign(t, oplog.Publish{GUID: iaGUID(), Kind: "poll_vote", Parent: post, CreatedAt: at,
			Body: []byte(`{"poll_guid":"` + pollGUID + `","answer_id":2}`)}),
	}
	if _, err := r.pod.Log().Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var rows int
	r.pod.DB().R.QueryRow("SELECT count(*) FROM likes WHERE target_guid = ? AND own = 1", post).Scan(&rows)
	if rows != 2 {
		t.Fatalf("own like rows: %d, want 2 (one per device)", rows)
	}
	l := r.iaLikes(base + post + "/likes")
	if len(l) != 2 || l[0].Author.DiasporaID != "alice@localhost" || l[1].Author.DiasporaID != iaCarol {
		t.Errorf("likes list counts the user once: %+v", l)
	}
	if p := r.iaPost(post); p.InteractionCounters.Likes != 2 || !p.OwnInteractionState.Liked ||
		p.Poll.ParticipationCount != 1 || p.Poll.Answers[0].VoteCount != 1 || p.Poll.Answers[1].VoteCount != 0 {
		t.Errorf("post counts the user once: %+v %+v %+v", p.InteractionCounters, p.OwnInteractionState, p.Poll)
	}
	var pr store.PostPoll
	json.Unmarshal([]byte(iaPollColumn(t, r, post)), &pr)
	tally, _ := store.PollTallyOf(ctx, r.pod.DB().R, post, &pr)
	if tally.Total != 1 || tally.Own != 1 {
		t.Errorf("tally counts the user's first vote once: %+v", tally)
	}
	r.iaRefuse("POST", base+post+"/likes", nil, 409)
	r.iaRefoldSame(base+post+"/likes", base+post)

	// One unlike retracts both.
	r.json("DELETE", base+post+"/likes", nil, http.StatusNoContent, nil)
	if pi, _ := store.InteractionsOf(ctx, r.pod.DB().R, post); pi.Liked || pi.Likes != 1 {
		t.Errorf("after unlike: %+v", pi)
	}
	r.iaRefuse("DELETE", base+post+"/likes", nil, 410)

	// The other device, not having seen the unlike, likes again: a new
	// like, and the user likes the post again.
	if _, err := r.pod.Log().Apply(ctx, []oplog.Signed{d.sign(t, oplog.Publish{GUID: iaGUID(), Kind: "like",
		Parent: post, CreatedAt: at + 1, Body: []byte(`{"target_type":"Post"}`)})}); err != nil {
		t.Fatal(err)
	}
	if pi, _ := store.InteractionsOf(ctx, r.pod.DB().R, post); !pi.Liked || pi.Likes != 2 {
		t.Errorf("after the other device's new like: %+v", pi)
	}
	r.iaRefoldSame(base + post + "/likes")
}
