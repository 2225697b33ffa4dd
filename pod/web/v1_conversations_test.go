package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/apiv1/apiv1test"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/store"
)

// Conversations (API.md §3.9) through the real handler: creation with
// mutual contacts only, the read flag, hiding, messages, received
// conversations and messages, counts and refold.

const (
	convMe    = "alice@localhost"
	convBob   = "bob@pod-b.example"   // mutual contact
	convCarol = "carol@pod-c.example" // shares with me only
	convDave  = "dave@pod-d.example"  // I share with him only
)

func convGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// convRig is a pod with the identity and three remote people: bob (mutual),
// carol (she shares with me) and dave (I share with him). guids maps their
// handles to person guids.
type convRig struct {
	*apiRig
	guids map[string]string
}

func newConvRig(t *testing.T) *convRig {
	t.Helper()
	r := &convRig{apiRig: newAPIRig(t).withIdentity(), guids: map[string]string{}}
	ctx := context.Background()
	for _, h := range []string{convBob, convCarol, convDave} {
		g := convGUID()
		r.guids[h] = g
		name := strings.ToUpper(h[:1]) + h[1:strings.Index(h, "@")]
		if err := r.pod.AddPerson(ctx, store.PersonRecord{GUID: g, DiasporaID: h, FirstName: name, Searchable: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{convBob, convDave} {
		r.json("POST", V1Prefix+"/aspects/1/contacts", map[string]string{"person_guid": r.guids[h]}, http.StatusNoContent, nil)
	}
	for _, h := range []string{convBob, convCarol} {
		r.convReceive(&entity.Contact{AuthorID: h, Recipient: convMe, Following: true, Sharing: true})
	}
	return r
}

// convReceive records an entity as the federation engine would.
func (r *apiRig) convReceive(e entity.Entity) {
	r.t.Helper()
	payload, err := entity.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.pod.Receive(context.Background(), payload); err != nil {
		r.t.Fatal(err)
	}
}

// convOps counts the ops: a refusal must not add any.
func (r *apiRig) convOps() int { return r.opCount() }

// convGet reads one conversation and validates it.
func (r *apiRig) convGet(guid string) apiv1.Conversation {
	r.t.Helper()
	b := r.json("GET", V1Prefix+"/conversations/"+guid, nil, http.StatusOK, nil)
	apiv1test.Validate(r.t, "conversation", b)
	var c apiv1.Conversation
	if err := json.Unmarshal(b, &c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

// convList lists conversations and validates the list.
func (r *apiRig) convList(query string) ([]apiv1.Conversation, http.Header) {
	r.t.Helper()
	st, h, b := r.do("GET", V1Prefix+"/conversations"+query, nil)
	if st != http.StatusOK {
		r.t.Fatalf("GET conversations%s: %d %s", query, st, b)
	}
	apiv1test.Validate(r.t, "conversations", b)
	var out []apiv1.Conversation
	if err := json.Unmarshal(b, &out); err != nil {
		r.t.Fatal(err)
	}
	return out, h
}

// convMessages lists a conversation's messages and validates the list.
func (r *apiRig) convMessages(guid, query string) ([]apiv1.Message, http.Header) {
	r.t.Helper()
	st, h, b := r.do("GET", V1Prefix+"/conversations/"+guid+"/messages"+query, nil)
	if st != http.StatusOK {
		r.t.Fatalf("GET messages: %d %s", st, b)
	}
	apiv1test.Validate(r.t, "messages", b)
	var out []apiv1.Message
	if err := json.Unmarshal(b, &out); err != nil {
		r.t.Fatal(err)
	}
	return out, h
}

// convCounts reads the Seedpod counts.
func (r *apiRig) convCounts() (notifications, conversations int) {
	r.t.Helper()
	var c struct {
		N int `json:"notifications_unread"`
		C int `json:"conversations_unread"`
	}
	r.json("GET", APIPrefix+"/counts", nil, http.StatusOK, &c)
	return c.N, c.C
}

// convCreate starts a conversation and validates the answer.
func (r *convRig) convCreate(subject, body string, recipients ...string) apiv1.Conversation {
	r.t.Helper()
	var guids []string
	for _, h := range recipients {
		guids = append(guids, r.guids[h])
	}
	b := r.json("POST", V1Prefix+"/conversations", map[string]any{"subject": subject, "body": body, "recipients": guids},
		http.StatusCreated, nil)
	apiv1test.Validate(r.t, "conversation", b)
	var c apiv1.Conversation
	if err := json.Unmarshal(b, &c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

// convReceiveMessage receives a message by author in a conversation.
func (r *apiRig) convReceiveMessage(author, conv, text string) string {
	r.t.Helper()
	time.Sleep(2 * time.Millisecond) // arrivals in distinct milliseconds
	g := convGUID()
	r.convReceive(&entity.Message{AuthorID: author, ID: g, Text: text, CreatedAt: time.Now().UTC().Add(time.Second).Truncate(time.Second),
		ConversationGUID: conv})
	return g
}

func convHandles(ps []apiv1.Person) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.DiasporaID)
	}
	return out
}

func TestConversationsCreateAndRefusals(t *testing.T) {
	r := newConvRig(t)
	long := strings.Repeat("s", 256)
	for _, tc := range []struct {
		name string
		body any
		want string // in the message
	}{
		{"no subject", map[string]any{"body": "hi", "recipients": []string{r.guids[convBob]}}, "subject"},
		{"blank subject", map[string]any{"subject": "  ", "body": "hi", "recipients": []string{r.guids[convBob]}}, "subject"},
		{"long subject", map[string]any{"subject": long, "body": "hi", "recipients": []string{r.guids[convBob]}}, "subject"},
		{"no body", map[string]any{"subject": "s", "recipients": []string{r.guids[convBob]}}, "body"},
		{"control character", map[string]any{"subject": "s", "body": "a\x00b", "recipients": []string{r.guids[convBob]}}, "body"},
		{"long body", map[string]any{"subject": "s", "body": strings.Repeat("b", 65536), "recipients": []string{r.guids[convBob]}}, "body"},
		{"no recipients", map[string]any{"subject": "s", "body": "hi"}, "recipients"},
		{"empty recipients", map[string]any{"subject": "s", "body": "hi", "recipients": []string{}}, "recipients"},
		{"only sharing with me", map[string]any{"subject": "s", "body": "hi", "recipients": []string{r.guids[convBob], r.guids[convCarol]}}, convCarol},
		{"only I share", map[string]any{"subject": "s", "body": "hi", "recipients": []string{r.guids[convDave]}}, convDave},
		{"unknown person", map[string]any{"subject": "s", "body": "hi", "recipients": []string{"0123456789abcdef0123456789abcdef"}}, "0123456789abcdef"},
		{"not JSON", "subject=s", "JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.convOps()
			st, _, b := r.do("POST", V1Prefix+"/conversations", tc.body)
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", st, b)
			}
			if !strings.Contains(string(b), tc.want) {
				t.Errorf("message does not name %q: %s", tc.want, b)
			}
			if after := r.convOps(); after != before {
				t.Errorf("refused but wrote %d ops", after-before)
			}
		})
	}
	// Myself as recipient.
	var id struct {
		GUID string `json:"guid"`
	}
	r.json("GET", APIPrefix+"/identity", nil, http.StatusOK, &id)
	before := r.convOps()
	r.json("POST", V1Prefix+"/conversations", map[string]any{"subject": "s", "body": "hi", "recipients": []string{id.GUID}},
		http.StatusUnprocessableEntity, nil)
	if list, _ := r.convList(""); len(list) != 0 || r.convOps() != before {
		t.Fatalf("refusals created conversations: %v", list)
	}

	c := r.convCreate("Lunch?", "Shall we meet **tomorrow**?", convBob, convBob)
	if c.Subject != "Lunch?" || !c.Read || len(c.GUID) != 32 {
		t.Fatalf("created: %+v", c)
	}
	if got := convHandles(c.Participants); strings.Join(got, " ") != convMe+" "+convBob {
		t.Fatalf("participants %v", got)
	}
	// The recipients are frozen in both Publishes.
	var recips []string
	rows, err := r.pod.DB().R.Query("SELECT kind, recipients FROM st_published WHERE guid = ? OR parent = ? ORDER BY kind", c.GUID, c.GUID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var kind, rc string
		if err := rows.Scan(&kind, &rc); err != nil {
			t.Fatal(err)
		}
		recips = append(recips, kind+" "+rc)
	}
	rows.Close()
	want := []string{`conversation ["` + r.guids[convBob] + `"]`, `message ["` + r.guids[convBob] + `"]`}
	if strings.Join(recips, "|") != strings.Join(want, "|") {
		t.Fatalf("publishes %v, want %v", recips, want)
	}
	msgs, _ := r.convMessages(c.GUID, "")
	if len(msgs) != 1 || msgs[0].Body != "Shall we meet **tomorrow**?" || msgs[0].Author.DiasporaID != convMe {
		t.Fatalf("messages %+v", msgs)
	}
	if got := r.convGet(c.GUID); got.GUID != c.GUID || !got.Read {
		t.Fatalf("GET %+v", got)
	}
	r.json("GET", V1Prefix+"/conversations/0123456789abcdef0123456789abcdef", nil, http.StatusNotFound, nil)
	r.json("GET", V1Prefix+"/conversations/0123456789abcdef0123456789abcdef/messages", nil, http.StatusNotFound, nil)
}

func TestConversationsMessagesReadAndHide(t *testing.T) {
	r := newConvRig(t)
	c := r.convCreate("Plans", "first", convBob)
	if _, n := r.convCounts(); n != 0 {
		t.Fatalf("unread after create: %d", n)
	}

	// A reply of mine.
	b := r.json("POST", V1Prefix+"/conversations/"+c.GUID+"/messages", map[string]string{"body": "second"}, http.StatusCreated, nil)
	apiv1test.Validate(t, "messages", []byte("["+string(b)+"]"))
	var mine apiv1.Message
	if err := json.Unmarshal(b, &mine); err != nil {
		t.Fatal(err)
	}
	if mine.Body != "second" || mine.Author.DiasporaID != convMe {
		t.Fatalf("sent %+v", mine)
	}
	for _, tc := range []struct {
		path string
		body any
		want int
	}{
		{V1Prefix + "/conversations/" + c.GUID + "/messages", map[string]string{"body": " "}, 422},
		{V1Prefix + "/conversations/" + c.GUID + "/messages", map[string]string{}, 422},
		{V1Prefix + "/conversations/0123456789abcdef0123456789abcdef/messages", map[string]string{"body": "x"}, 404},
	} {
		before := r.convOps()
		if st, _, b := r.do("POST", tc.path, tc.body); st != tc.want {
			t.Errorf("POST %s %v: %d, want %d: %s", tc.path, tc.body, st, tc.want, b)
		}
		if r.convOps() != before {
			t.Errorf("refused message wrote ops")
		}
	}

	// Bob answers: unread.
	r.convReceiveMessage(convBob, c.GUID, "third, from Bob")
	if got := r.convGet(c.GUID); got.Read {
		t.Fatal("read after Bob's message")
	}
	if _, n := r.convCounts(); n != 1 {
		t.Fatalf("conversations_unread %d, want 1", n)
	}
	msgs, _ := r.convMessages(c.GUID, "")
	if len(msgs) != 3 || msgs[2].Author.DiasporaID != convBob || msgs[2].Author.Name != "Bob" {
		t.Fatalf("messages %+v", msgs)
	}
	// A message from someone who does not take part is not shown.
	r.convReceiveMessage(convCarol, c.GUID, "intruder")
	if msgs, _ := r.convMessages(c.GUID, ""); len(msgs) != 3 {
		t.Fatalf("a non-participant's message shows: %+v", msgs)
	}

	// The read flag, round trip, PATCH and PUT.
	mark := func(method string, read any, want bool) {
		t.Helper()
		b := r.json(method, V1Prefix+"/conversations/"+c.GUID, map[string]any{"read": read}, http.StatusOK, nil)
		apiv1test.Validate(t, "conversation", b)
		var got apiv1.Conversation
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Read != want || r.convGet(c.GUID).Read != want {
			t.Fatalf("%s read=%v: read %v", method, read, got.Read)
		}
	}
	mark("PATCH", true, true)
	mark("PUT", false, false)
	if list, _ := r.convList("?only_unread=true"); len(list) != 1 {
		t.Fatalf("only_unread: %d", len(list))
	}
	mark("PATCH", "true", true)
	if list, _ := r.convList("?only_unread=true"); len(list) != 0 {
		t.Fatalf("only_unread after read: %d", len(list))
	}
	if _, n := r.convCounts(); n != 0 {
		t.Fatalf("conversations_unread %d after read", n)
	}
	mark("PATCH", false, false)
	r.convReceiveMessage(convBob, c.GUID, "fourth")
	mark("PATCH", true, true)
	for _, tc := range []struct {
		path string
		body any
	}{
		{V1Prefix + "/conversations/" + c.GUID, map[string]any{}},
		{V1Prefix + "/conversations/" + c.GUID, map[string]any{"read": "banana"}},
		{V1Prefix + "/conversations/0123456789abcdef0123456789abcdef", map[string]any{"read": true}},
	} {
		before := r.convOps()
		if st, _, b := r.do("PATCH", tc.path, tc.body); st != http.StatusUnprocessableEntity {
			t.Errorf("PATCH %s %v: %d, want 422: %s", tc.path, tc.body, st, b)
		}
		if r.convOps() != before {
			t.Errorf("refused PATCH wrote ops")
		}
	}

	// Hide: gone from the list, the counts and lookups.
	other := r.convCreate("Other", "hello", convBob)
	r.json("DELETE", V1Prefix+"/conversations/"+c.GUID, nil, http.StatusNoContent, nil)
	r.json("DELETE", V1Prefix+"/conversations/"+c.GUID, nil, http.StatusNotFound, nil)
	r.json("DELETE", V1Prefix+"/conversations/0123456789abcdef0123456789abcdef", nil, http.StatusNotFound, nil)
	if list, _ := r.convList(""); len(list) != 1 || list[0].GUID != other.GUID {
		t.Fatalf("list after hide: %+v", list)
	}
	r.json("GET", V1Prefix+"/conversations/"+c.GUID, nil, http.StatusNotFound, nil)
	r.json("GET", V1Prefix+"/conversations/"+c.GUID+"/messages", nil, http.StatusNotFound, nil)
	r.json("POST", V1Prefix+"/conversations/"+c.GUID+"/messages", map[string]string{"body": "x"}, http.StatusNotFound, nil)
	r.json("PATCH", V1Prefix+"/conversations/"+c.GUID, map[string]any{"read": true}, http.StatusUnprocessableEntity, nil)
	// A new message from Bob brings it back, unread.
	r.convReceiveMessage(convBob, c.GUID, "are you there?")
	if list, _ := r.convList(""); len(list) != 2 || list[0].GUID != c.GUID || list[0].Read {
		t.Fatalf("list after Bob wrote in the hidden conversation: %+v", list)
	}
	if _, n := r.convCounts(); n != 1 {
		t.Fatalf("conversations_unread %d, want 1", n)
	}
	// Reading it un-hides it for good.
	mark("PATCH", true, true)
	if list, _ := r.convList(""); len(list) != 2 {
		t.Fatalf("list after reading: %+v", list)
	}
	if in, err := store.IsMember(context.Background(), r.pod.DB().R, store.HiddenConversationsSet, c.GUID); err != nil || in {
		t.Fatalf("still hidden: %v %v", in, err)
	}
	r.convRefoldSame()
}

func TestConversationsReceived(t *testing.T) {
	r := newConvRig(t)
	conv, first := convGUID(), convGUID()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	r.convReceive(&entity.Conversation{AuthorID: convBob, ID: conv, Subject: "From Bob", CreatedAt: at,
		Participants: []string{convBob, convMe, convCarol},
		Messages:     []*entity.Message{{AuthorID: convBob, ID: first, Text: "Hello both", CreatedAt: at, ConversationGUID: conv}}})
	c := r.convGet(conv)
	if c.Subject != "From Bob" || c.Read || !c.CreatedAt.Equal(at) {
		t.Fatalf("received %+v", c)
	}
	if got := strings.Join(convHandles(c.Participants), " "); got != convBob+" "+convMe+" "+convCarol {
		t.Fatalf("participants %s", got)
	}
	// Carol answers, then I do: my own message reads the conversation.
	r.convReceiveMessage(convCarol, conv, "Hi!")
	r.convReceiveMessage(convDave, conv, "not a participant")
	msgs, _ := r.convMessages(conv, "")
	if len(msgs) != 2 || msgs[0].GUID != first || msgs[1].Author.DiasporaID != convCarol {
		t.Fatalf("messages %+v", msgs)
	}
	r.json("POST", V1Prefix+"/conversations/"+conv+"/messages", map[string]string{"body": "Hello"}, http.StatusCreated, nil)
	if c := r.convGet(conv); !c.Read {
		t.Fatal("unread after my answer")
	}
	// The answer goes to the others.
	var rc string
	if err := r.pod.DB().R.QueryRow("SELECT recipients FROM st_published WHERE parent = ? AND kind = 'message'", conv).Scan(&rc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, h := range []string{convBob, convCarol} {
		want = append(want, `"`+r.guids[h]+`"`)
	}
	if rc != "["+strings.Join(want, ",")+"]" {
		t.Fatalf("recipients %s, want %v", rc, want)
	}

	// A message that arrives before its conversation shows once the
	// conversation does.
	conv2 := convGUID()
	early := r.convReceiveMessage(convBob, conv2, "early bird")
	r.convReceive(&entity.Conversation{AuthorID: convBob, ID: conv2, Subject: "Second", CreatedAt: at,
		Participants: []string{convBob, convMe},
		Messages:     []*entity.Message{{AuthorID: convBob, ID: convGUID(), Text: "opening", CreatedAt: at, ConversationGUID: conv2}}})
	msgs, _ = r.convMessages(conv2, "")
	if len(msgs) != 2 || msgs[1].GUID != early {
		t.Fatalf("messages of the second conversation %+v", msgs)
	}
	r.convRefoldSame()
}

func TestConversationsListPaging(t *testing.T) {
	r := newConvRig(t)
	var guids []string
	for i := range 4 {
		c := r.convCreate(fmt.Sprintf("Subject %d", i), "body", convBob)
		guids = append(guids, c.GUID)
		time.Sleep(2 * time.Millisecond)
	}
	// Activity moves a conversation to the top.
	r.convReceiveMessage(convBob, guids[0], "bump")
	want := []string{guids[0], guids[3], guids[2], guids[1]}
	var got []string
	query := "?per_page=3"
	for range 5 {
		list, h := r.convList(query)
		if len(list) == 0 {
			break
		}
		for _, c := range list {
			got = append(got, c.GUID)
		}
		link := h.Get("Link")
		i, j := strings.Index(link, "<"), strings.Index(link, `>; rel="next"`)
		if i < 0 || j < 0 {
			t.Fatalf("Link %q", link)
		}
		next := link[i+1 : j]
		query = next[strings.Index(next, "?"):]
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("order %v, want %v", got, want)
	}
	// only_after: updated at or after.
	future := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05Z")
	if list, _ := r.convList("?only_after=" + future); len(list) != 0 {
		t.Fatalf("only_after in the future: %d", len(list))
	}
	if list, _ := r.convList("?only_after=2000-01-01"); len(list) != 4 {
		t.Fatalf("only_after 2000: %d", len(list))
	}
	for _, q := range []string{"?only_after=yesterday", "?only_unread=banana", "?before=x"} {
		r.json("GET", V1Prefix+"/conversations"+q, nil, http.StatusUnprocessableEntity, nil)
	}
	// Messages: the index pager, oldest first.
	for i := range 3 {
		r.json("POST", V1Prefix+"/conversations/"+guids[1]+"/messages", map[string]string{"body": fmt.Sprint("m", i)}, http.StatusCreated, nil)
	}
	page1, h := r.convMessages(guids[1], "?per_page=2")
	if len(page1) != 2 || page1[0].Body != "body" || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("page 1 %+v %q", page1, h.Get("Link"))
	}
	page2, h := r.convMessages(guids[1], "?per_page=2&page=2")
	if len(page2) != 2 || page2[1].Body != "m2" || strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("page 2 %+v %q", page2, h.Get("Link"))
	}
}

// convTables dumps the conversations tables, for refold comparisons.
func (r *apiRig) convTables() string {
	r.t.Helper()
	return r.dumpQueries(
		"SELECT id, guid, own, author, subject, participants, created_at, updated_at FROM conversations ORDER BY guid",
		"SELECT id, guid, conversation_guid, own, author, text, created_at, received_at FROM messages ORDER BY guid",
		"SELECT guid, type, target_guid, actors, created_at FROM notifications ORDER BY guid",
	)
}

// convRefoldSame refolds in shuffled orders and checks that the tables and
// the API's answers are unchanged.
func (r *apiRig) convRefoldSame() {
	r.t.Helper()
	answers := func() string {
		var sb strings.Builder
		for _, p := range []string{V1Prefix + "/conversations?per_page=100", V1Prefix + "/notifications?per_page=100",
			APIPrefix + "/counts"} {
			sb.Write(r.json("GET", p, nil, http.StatusOK, nil))
		}
		return sb.String()
	}
	tables, api := r.convTables(), answers()
	for _, seed := range []uint64{7, 11} {
		if err := r.pod.Log().Refold(context.Background(), store.RefoldOptions{Shuffle: seed}); err != nil {
			r.t.Fatal(err)
		}
		if got := r.convTables(); got != tables {
			r.t.Fatalf("tables differ after refold (seed %d):\n%s\nwant:\n%s", seed, got, tables)
		}
		if got := answers(); got != api {
			r.t.Fatalf("API differs after refold (seed %d):\n%s\nwant:\n%s", seed, got, api)
		}
	}
}
