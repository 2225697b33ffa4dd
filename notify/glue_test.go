package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/store"
	"seedpod/pod/web"
)

// The glue against a real pod (SQLite in a temp dir, entities received as
// the federation engine hands them in) and the real dbus-daemon.

const (
	me  = "alice@localhost"
	bob = "bob@pod-b.example"
	eve = "eve@pod-e.example"
)

func guid() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type podRig struct {
	t    *testing.T
	p    *pod.Pod
	post string // my public post
	conv string // Bob's conversation with me
}

func newPodRig(t *testing.T) *podRig {
	t.Helper()
	ctx := context.Background()
	p, err := pod.Open(ctx, pod.Config{DataDir: filepath.Join(t.TempDir(), "data"), KeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := p.CreateIdentity(ctx, "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	for _, pe := range []store.PersonRecord{
		{GUID: guid(), DiasporaID: bob, FirstName: "Bob", Searchable: true},
		// A hostile name: the summary is not markup, the body is.
		{GUID: guid(), DiasporaID: eve, FirstName: "<b>Eve</b> &", Searchable: true},
	} {
		if err := p.AddPerson(ctx, pe); err != nil {
			t.Fatal(err)
		}
	}
	post, err := p.CreatePost(ctx, pod.PostInput{Body: "My **garden** in spring, with roses and a very long sentence that goes on " +
		strings.Repeat("and on ", 30), Public: new(apiv1.Bool(true))})
	if err != nil {
		t.Fatal(err)
	}
	r := &podRig{t: t, p: p, post: post.GUID, conv: guid()}
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	r.receive(&entity.Contact{AuthorID: bob, Recipient: me, Following: true, Sharing: true})
	r.receive(&entity.Conversation{AuthorID: bob, ID: r.conv, Subject: "Plans", CreatedAt: at, Participants: []string{bob, me},
		Messages: []*entity.Message{{AuthorID: bob, ID: guid(), Text: "first", CreatedAt: at, ConversationGUID: r.conv}}})
	return r
}

func (r *podRig) receive(e entity.Entity) {
	r.t.Helper()
	payload, err := entity.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.p.Receive(context.Background(), payload); err != nil {
		r.t.Fatal(err)
	}
}

func (r *podRig) comment(author, text string) {
	r.receive(&entity.Comment{AuthorID: author, ID: guid(), Parent: r.post, Text: text,
		CreatedAt: time.Now().UTC().Truncate(time.Second)})
}

func (r *podRig) message(author, text string) {
	time.Sleep(2 * time.Millisecond) // arrivals in distinct milliseconds
	r.receive(&entity.Message{AuthorID: author, ID: guid(), Text: text, CreatedAt: time.Now().UTC().Truncate(time.Second),
		ConversationGUID: r.conv})
}

func TestWatcherDecides(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newPodRig(t)
	bus := startBus(t, t.TempDir())
	srv := startServer(t, bus.addr)
	var tg targets
	n := newTestNotifier(t, bus.addr, Config{OnInvoke: tg.add, BurstMax: 10})
	var focused atomic.Bool
	w, err := NewWatcher(ctx, WatcherConfig{Source: r.p, Show: n.Show, Focused: focused.Load})
	if err != nil {
		t.Fatal(err)
	}
	check := func(want ...string) []Notification {
		t.Helper()
		shown, err := w.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range shown {
			got = append(got, x.Summary)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("shown %q, want %q", got, want)
		}
		return shown
	}
	// What was unread before the watcher started is not told.
	check()

	// A comment on my post: who, and the post's excerpt as plain text.
	r.comment(bob, "Lovely!")
	x := check("Bob commented on your post")[0]
	if x.Target != "#/post/"+r.post {
		t.Errorf("target %q", x.Target)
	}
	if !strings.HasPrefix(x.Body, "My garden in spring") || len([]rune(x.Body)) != pod.NoticeExcerptRunes ||
		!strings.HasSuffix(x.Body, "…") {
		t.Errorf("excerpt %q (%d runes)", x.Body, len([]rune(x.Body)))
	}
	c := srv.waitCalls(t, 1)[0]
	if c.Summary != "Bob commented on your post" || c.Body != x.Body {
		t.Errorf("sent %q / %q", c.Summary, c.Body)
	}
	// Checking again tells nothing new.
	check()

	// Eve joins the grouped notification: a new event, told again with
	// both; her hostile name stays text in the summary.
	r.comment(eve, "me too")
	check("<b>Eve</b> & and Bob commented on your post")

	// A message from Bob: the conversation's subject and the text.
	r.message(bob, "See you at <8> & bring <script>alert(1)</script>")
	x = check("Message from Bob")[0]
	if x.Target != "#/conversations/"+r.conv || x.Category != "im.received" {
		t.Errorf("message notification %+v", x)
	}
	c = srv.waitCalls(t, 3)[2]
	if want := "Plans: See you at &lt;8&gt; &amp; bring &lt;script&gt;alert(1)&lt;/script&gt;"; c.Body != want {
		t.Errorf("sent body %q, want %q", c.Body, want)
	}

	// Focused: nothing is shown, and it is not told later either.
	focused.Store(true)
	r.message(bob, "while you look")
	check()
	focused.Store(false)
	check()

	// Preferences: messages off; comments still on. OS off: nothing.
	if _, err := r.p.PatchSettings(ctx, pod.SettingsPatch{SetTypes: true, Types: []string{"comment_on_post"}}); err != nil {
		t.Fatal(err)
	}
	r.message(bob, "muted")
	check()
	if _, err := r.p.PatchSettings(ctx, pod.SettingsPatch{SetOS: true, OS: new(false), SetTypes: true}); err != nil {
		t.Fatal(err)
	}
	r.comment(bob, "again")
	r.message(bob, "again")
	check()
	if _, err := r.p.PatchSettings(ctx, pod.SettingsPatch{SetOS: true}); err != nil {
		t.Fatal(err)
	}
	r.message(bob, "back on")
	check("Message from Bob")

	// A click on the comment notification reaches OnInvoke with its route.
	calls := srv.waitCalls(t, 4)
	srv.click(t, calls[0].ID, "default")
	waitFor(t, "the click", func() bool { return len(tg.list()) == 1 })
	if got := tg.list()[0]; got != "#/post/"+r.post {
		t.Errorf("click opened %q", got)
	}

	// Read elsewhere (another device, the UI): an unread-only source
	// keeps it out.
	if err := r.p.ReadAllNotifications(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	check()
}

// TestWatcherRun goes through the pod's live events, as the window does.
func TestWatcherRun(t *testing.T) {
	t.Parallel()
	r := newPodRig(t)
	bus := startBus(t, t.TempDir())
	srv := startServer(t, bus.addr)
	n := newTestNotifier(t, bus.addr, Config{})
	api, err := web.New(r.p, web.Options{Mode: web.ModeWindow})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w, err := NewWatcher(ctx, WatcherConfig{Source: r.p, Show: n.Show})
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.Run(ctx, api.Events); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(50 * time.Millisecond) // the subscription
	r.comment(bob, "live")
	if c := srv.waitCalls(t, 1)[0]; c.Summary != "Bob commented on your post" {
		t.Errorf("first %q", c.Summary)
	}
	r.message(bob, "live message")
	if c := srv.waitCalls(t, 2)[1]; c.Summary != "Message from Bob" || !strings.Contains(c.Body, "live message") {
		t.Errorf("second %q %q", c.Summary, c.Body)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		n    pod.OSNotice
		want string
	}{
		{pod.OSNotice{Type: "liked", Actors: []string{"A"}}, "A liked your post"},
		{pod.OSNotice{Type: "reshared", Actors: []string{"A", "B"}}, "B and A reshared your post"},
		{pod.OSNotice{Type: "also_commented", Actors: []string{"A", "B", "C"}}, "C and 2 others also commented on a post"},
		{pod.OSNotice{Type: "started_sharing"}, "Someone started sharing with you"},
		{pod.OSNotice{Type: "contacts_birthday", Actors: []string{"A"}}, "A has a birthday today"},
		{pod.OSNotice{Type: "mentioned_in_comment", Actors: []string{"A"}}, "A mentioned you in a comment"},
	}
	for _, tc := range tests {
		if got := Format(tc.n).Summary; got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.n, got, tc.want)
		}
	}
	// Every type the settings know has its own sentence.
	for _, typ := range pod.NotifyTypes() {
		if s := Format(pod.OSNotice{Type: typ, Actors: []string{"A"}}).Summary; strings.HasPrefix(s, "New notification") {
			t.Errorf("type %s has no sentence: %q", typ, s)
		}
	}
}
