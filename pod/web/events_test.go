package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/store"
)

// The live event stream (GET /api/seedpod/v1/events, server-sent events).

type sseMsg struct {
	id, event, data string
	comment         bool
}

// sseClient reads an event stream in the background.
type sseClient struct {
	resp *http.Response
	ch   chan sseMsg
}

func openSSE(t *testing.T, url, lastID string) *sseClient {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{resp: resp, ch: make(chan sseMsg, 1000)}
	go func() {
		defer close(c.ch)
		sc := bufio.NewScanner(resp.Body)
		var m sseMsg
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.event != "" || m.comment {
					c.ch <- m
				}
				m = sseMsg{}
			case strings.HasPrefix(line, ":"):
				m.comment = true
			case strings.HasPrefix(line, "id: "):
				m.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.data = line[6:]
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return c
}

// waitFor reads events until one of type typ whose data holds want.
func (c *sseClient) waitFor(t *testing.T, typ, want string) sseMsg {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c.ch:
			if !ok {
				t.Fatalf("stream ended waiting for %s %s", typ, want)
			}
			if m.event == typ && strings.Contains(m.data, want) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s event with %s", typ, want)
		}
	}
}

func TestEventsStream(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	url := r.srv.URL + APIPrefix + "/events"
	c := openSSE(t, url, "")
	var post apiv1.Post
	r.json("POST", V1Prefix+"/posts", map[string]any{"body": "live!", "public": true}, http.StatusOK, &post)
	m := c.waitFor(t, "post", post.GUID)
	var data pod.EventData
	if err := json.Unmarshal([]byte(m.data), &data); err != nil || data.Kind != "post" || data.GUID != post.GUID || m.id == "" {
		t.Fatalf("post event: %+v %v", m, err)
	}
	var d pod.Draft
	r.json("POST", APIPrefix+"/drafts", map[string]any{"body": "draft"}, http.StatusCreated, &d)
	c.waitFor(t, "draft", d.ID)
	r.json("POST", V1Prefix+"/aspects", map[string]any{"name": "Climbing"}, http.StatusOK, nil)
	c.waitFor(t, "aspects", `"kind":"aspect"`)
	r.json("POST", V1Prefix+"/posts/"+post.GUID+"/comments", map[string]string{"body": "self-comment"}, http.StatusCreated, nil)
	m2 := c.waitFor(t, "post", `"kind":"comment"`)
	if !strings.Contains(m2.data, post.GUID) {
		t.Errorf("comment event without its post: %s", m2.data)
	}
	// Someone else's comment on my post: a post event and a notification.
	if err := r.pod.AddPerson(context.Background(), store.PersonRecord{GUID: searchGUID(), DiasporaID: searchBob, FirstName: "Bob"}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "profile", `"kind":"person"`)
	sr := &searchRig{apiRig: r}
	cg := searchGUID()
	sr.receive(&entity.Comment{AuthorID: searchBob, ID: cg, Parent: post.GUID, Text: "hi",
		CreatedAt: time.Now().UTC().Truncate(time.Second), Relay: entity.Relay{Signature: "c2ln"}})
	c.waitFor(t, "post", cg)
	c.waitFor(t, "notification", `"kind"`)
	c.resp.Body.Close()

	// Resume: events written while away come first on reconnection.
	var missed []string
	for i := range 3 {
		var p apiv1.Post
		r.json("POST", V1Prefix+"/posts", map[string]any{"body": fmt.Sprint("while away ", i), "public": true}, http.StatusOK, &p)
		missed = append(missed, p.GUID)
	}
	c2 := openSSE(t, url, m2.id)
	for _, g := range missed {
		c2.waitFor(t, "post", g)
	}
	// An id from another process (or far too old) asks for a reset.
	c3 := openSSE(t, url, "0badc0de-12")
	if m := <-c3.ch; m.event != "reset" {
		t.Fatalf("unknown Last-Event-ID: first event %+v", m)
	}
}

// slowListener makes the server's sockets tiny, so a client that does not
// read fills them after a few events.
type slowListener struct{ net.Listener }

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestEventsSlowClientDropped(t *testing.T) {
	p, err := pod.Open(context.Background(), pod.Config{DataDir: filepath.Join(t.TempDir(), "data"), KeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(p, Options{Mode: ModeWindow})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := s.mux.Handler(httptest.NewRequest("GET", APIPrefix+"/events", nil))
	hub, ok := h.(*eventHub)
	if !ok {
		t.Fatalf("events handler is %T", h)
	}
	hub.clientQueue = 4
	hub.heartbeat = 50 * time.Millisecond
	srv := httptest.NewUnstartedServer(s)
	srv.Listener = slowListener{srv.Listener}
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	if _, err := p.CreateIdentity(context.Background(), "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	// A reading client sees heartbeats.
	reader := openSSE(t, srv.URL+APIPrefix+"/events", "")
	for beat := false; !beat; {
		select {
		case m := <-reader.ch:
			beat = m.comment
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
	reader.resp.Body.Close()

	// A client that never reads.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(1024)
	fmt.Fprintf(conn, "GET %s/events HTTP/1.1\r\nHost: %s\r\n\r\n", APIPrefix, srv.Listener.Addr())
	deadline := time.Now().Add(5 * time.Second)
	for hub.clientCount() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Writes go on at full speed; the hub drops the client.
	ctx := context.Background()
	var slowest time.Duration
	writes := 0
	for ; writes < 5000 && hub.droppedCount() == 0; writes++ {
		start := time.Now()
		if _, err := p.CreateDraft(ctx, pod.DraftContent{Body: strings.Repeat("x", 200)}); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
		if writes%50 == 49 {
			time.Sleep(20 * time.Millisecond) // let the worker and the handler run
		}
	}
	if hub.droppedCount() == 0 {
		t.Fatalf("the client that does not read was never dropped (%d writes)", writes)
	}
	if slowest > 2*time.Second {
		t.Fatalf("a write took %v while a client did not read", slowest)
	}
	t.Logf("dropped after %d writes; slowest write %v", writes, slowest)
	// When it finally reads, its stream ends with a reset.
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(conn)
	var sawReset bool
	for !sawReset {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (no reset)", err)
		}
		sawReset = strings.HasPrefix(line, "event: reset")
	}
	deadline = time.Now().Add(5 * time.Second)
	for hub.clientCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := hub.clientCount(); n != 0 {
		t.Fatalf("%d clients still subscribed", n)
	}
}

// TestServerEvents: the Go-level subscription the desktop window uses gets
// the same events as the stream, in order; a subscriber that falls behind
// gets a reset and then newer events; it ends with its context.
func TestServerEvents(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	srv, err := New(r.pod, Options{Mode: ModeWindow})
	if err != nil {
		t.Fatal(err)
	}
	type ev struct{ typ, data string }
	got := make(chan ev, 4096)
	stall := make(chan struct{})
	stalled := false
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Events(ctx, func(typ string, data []byte) {
			if typ == "draft" && !stalled {
				stalled = true
				<-stall // a slow page: the hub's queue for it fills up
			}
			got <- ev{typ, string(data)}
		})
	}()
	wait := func(typ, has string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e := <-got:
				if e.typ == typ && strings.Contains(e.data, has) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s event with %q", typ, has)
			}
		}
	}
	// The subscription is made as Events starts: wait for it before writing.
	for deadline := time.Now().Add(5 * time.Second); srv.events.clientCount() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("Events did not subscribe")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var post apiv1.Post
	h := &apiRig{t: t, pod: r.pod, srv: httptest.NewServer(srv)}
	defer h.srv.Close()
	h.json("POST", V1Prefix+"/posts", map[string]any{"body": "to the window", "public": true}, http.StatusOK, &post)
	wait("post", post.GUID)

	// Stall on a draft event while more events than the queue holds are made.
	h.json("POST", APIPrefix+"/drafts", map[string]any{"body": "first"}, http.StatusCreated, nil)
	for i := range eventClientQueue + 20 {
		h.json("POST", V1Prefix+"/aspects", map[string]any{"name": fmt.Sprintf("A%d", i)}, http.StatusOK, nil)
	}
	close(stall)
	wait("reset", `"behind"`)
	var late apiv1.Post
	h.json("POST", V1Prefix+"/posts", map[string]any{"body": "after the reset", "public": true}, http.StatusOK, &late)
	wait("post", late.GUID)

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Events did not return when its context ended")
	}
}
