package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"seedpod/pod"
	"seedpod/pod/store"
)

// GET /api/seedpod/v1/events: the live event stream (server-sent events).
//
// One hub per Server listens to the pod's commits (store.Log.Listen). The
// listener runs on the committing goroutine, so it only queues the changes
// (bounded) and wakes a worker; the worker names the events (pod's
// EventTranslator, which reads the database), numbers them, keeps the last
// ringSize in memory for Last-Event-ID resumes, and hands each to every
// client's bounded queue without waiting. A client whose queue is full is
// dropped with a reset event: it reconnects and reloads. Nothing a client
// does can slow a write down.
//
// Event ids are "<hub>-<n>": n counts up from 1 in this process, and hub is
// random per process, so an id from before a restart is recognised as
// unknown (reset) rather than mistaken for a recent one.

const (
	// eventRing is how many events a reconnecting client can catch up on.
	eventRing = 1000
	// eventClientQueue is how many events may wait for one client. A client
	// that falls this far behind is dropped (reset).
	eventClientQueue = 256
	// eventPending bounds the changes waiting for the worker; past it the
	// hub forgets them and tells every client to reload.
	eventPending = 100000
	// eventBatchMax: a commit with more changes than this (a sync batch, a
	// seed) is not told change by change: clients get a reset and reload.
	eventBatchMax = 500
	// eventHeartbeat keeps proxies and the browser from closing an idle
	// stream, and finds dead connections.
	eventHeartbeat = 15 * time.Second
	// eventWriteTimeout is how long one write to a client may take before
	// the client counts as gone.
	eventWriteTimeout = 10 * time.Second
	// eventRetryMS is the reconnection delay the stream asks browsers for.
	eventRetryMS = 2000
)

// eventReset is the event that tells a client to reload everything: its
// Last-Event-ID is unknown or too old, it fell behind, or the hub dropped
// changes.
const eventReset = "reset"

type sseEvent struct {
	id   uint64
	typ  string
	data []byte
}

type eventClient struct {
	ch     chan sseEvent
	kicked chan struct{} // closed when the hub drops the client
}

type eventHub struct {
	pod    *pod.Pod
	log    *slog.Logger
	prefix string

	// Tunables, fixed before the hub serves (tests shorten them).
	clientQueue  int
	heartbeat    time.Duration
	writeTimeout time.Duration

	mu       sync.Mutex
	pending  [][]store.Change
	npending int
	overflow bool
	running  bool
	last     uint64
	ring     []sseEvent // the last eventRing events, oldest first
	clients  map[*eventClient]struct{}
	tr       *pod.EventTranslator // set once; used by the (single) worker only

	dropped int // clients dropped for falling behind (tests read it)
}

// newEventHub starts listening to p's commits. The listener stays for the
// life of the process, as the Server does.
func newEventHub(p *pod.Pod, log *slog.Logger) *eventHub {
	var b [4]byte
	rand.Read(b[:])
	h := &eventHub{pod: p, log: log, prefix: hex.EncodeToString(b[:]), clientQueue: eventClientQueue,
		heartbeat: eventHeartbeat, writeTimeout: eventWriteTimeout, clients: map[*eventClient]struct{}{}}
	// The translator starts from the notifications as they are now, so the
	// first commit's new notifications are told.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.tr = p.NewEventTranslator(ctx)
	cancel()
	p.Log().Listen(h.onCommit)
	p.ListenFederation(func(state string) {
		data, _ := json.Marshal(pod.EventData{Kind: "state", State: state})
		h.mu.Lock()
		h.publish(pod.EventFederation, data)
		h.mu.Unlock()
	})
	// A draft's file (its path, or the error that keeps it from being
	// read) changed in the drafts folder: no commit tells that.
	p.ListenDraftFiles(func(e pod.Event) {
		data, _ := json.Marshal(e.Data)
		h.mu.Lock()
		h.publish(e.Type, data)
		h.mu.Unlock()
	})
	return h
}

// onCommit runs on the committing goroutine: queue and return.
func (h *eventHub) onCommit(ch []store.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.npending+len(ch) > eventPending {
		h.overflow = true
	} else {
		h.pending = append(h.pending, ch)
		h.npending += len(ch)
	}
	if !h.running {
		h.running = true
		go h.work()
	}
}

// work translates queued changes until none are left, then ends.
func (h *eventHub) work() {
	for {
		h.mu.Lock()
		batches, overflow := h.pending, h.overflow
		h.pending, h.npending, h.overflow = nil, 0, false
		if len(batches) == 0 && !overflow {
			h.running = false
			h.mu.Unlock()
			return
		}
		tr := h.tr
		h.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var evs []pod.Event
		for _, b := range batches {
			if len(b) > eventBatchMax {
				overflow = true
				continue
			}
			evs = append(evs, tr.Translate(ctx, b)...)
		}
		cancel()

		h.mu.Lock()
		if overflow {
			h.publish(eventReset, []byte(`{"kind":"reset"}`))
		}
		for _, e := range evs {
			data, err := json.Marshal(e.Data)
			if err != nil {
				continue
			}
			h.publish(e.Type, data)
		}
		h.mu.Unlock()
	}
}

// publish numbers an event, keeps it in the ring and offers it to every
// client; h.mu is held.
func (h *eventHub) publish(typ string, data []byte) {
	h.last++
	ev := sseEvent{id: h.last, typ: typ, data: data}
	if len(h.ring) == eventRing {
		copy(h.ring, h.ring[1:])
		h.ring = h.ring[:eventRing-1]
	}
	h.ring = append(h.ring, ev)
	for c := range h.clients {
		select {
		case c.ch <- ev:
		default:
			delete(h.clients, c)
			close(c.kicked)
			h.dropped++
			h.log.Debug("events: a client fell behind and was dropped", "queue", cap(c.ch))
		}
	}
}

// subscribe registers a client and returns what it missed since lastID
// ("" for a new client), or reset when that cannot be told.
func (h *eventHub) subscribe(lastID string) (c *eventClient, replay []sseEvent, reset bool, at uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c = &eventClient{ch: make(chan sseEvent, h.clientQueue), kicked: make(chan struct{})}
	h.clients[c] = struct{}{}
	if lastID == "" {
		return c, nil, false, h.last
	}
	n, ok := h.parseID(lastID)
	switch {
	case !ok || n > h.last:
		return c, nil, true, h.last
	case len(h.ring) > 0 && n+1 < h.ring[0].id:
		return c, nil, true, h.last // the ring has forgotten events after n
	}
	for _, ev := range h.ring {
		if ev.id > n {
			replay = append(replay, ev)
		}
	}
	return c, replay, false, h.last
}

func (h *eventHub) unsubscribe(c *eventClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// clientCount is the number of connected clients (tests).
func (h *eventHub) clientCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// droppedCount is the number of clients dropped for falling behind (tests).
func (h *eventHub) droppedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

func (h *eventHub) formatID(n uint64) string { return h.prefix + "-" + strconv.FormatUint(n, 10) }

func (h *eventHub) parseID(s string) (uint64, bool) {
	p, n, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok || p != h.prefix {
		return 0, false
	}
	v, err := strconv.ParseUint(n, 10, 64)
	return v, err == nil
}

// ServeHTTP streams events until the client goes away, falls behind or
// the server shuts down.
func (h *eventHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id") // for EventSource polyfills without headers
	}
	c, replay, reset, at := h.subscribe(lastID)
	defer h.unsubscribe(c)

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var buf []byte
	send := func() bool {
		// A client that cannot take a write in writeTimeout is gone.
		_ = rc.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		if _, err := w.Write(buf); err != nil {
			return false
		}
		buf = buf[:0]
		return rc.Flush() == nil
	}
	buf = fmt.Appendf(buf, "retry: %d\n\n", eventRetryMS)
	if reset {
		buf = h.appendEvent(buf, sseEvent{id: at, typ: eventReset, data: []byte(`{"kind":"reset"}`)})
	}
	for _, ev := range replay {
		buf = h.appendEvent(buf, ev)
	}
	if !send() {
		return
	}
	tick := time.NewTicker(h.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.kicked:
			h.mu.Lock()
			at := h.last
			h.mu.Unlock()
			buf = h.appendEvent(buf, sseEvent{id: at, typ: eventReset, data: []byte(`{"kind":"reset","reason":"behind"}`)})
			send()
			return
		case ev := <-c.ch:
			buf = h.appendEvent(buf, ev)
			// Take whatever else is waiting into the same write.
		more:
			for len(buf) < 64<<10 {
				select {
				case ev := <-c.ch:
					buf = h.appendEvent(buf, ev)
				default:
					break more
				}
			}
			if !send() {
				return
			}
		case <-tick.C:
			buf = append(buf, ": ping\n\n"...)
			if !send() {
				return
			}
		}
	}
}

// appendEvent writes one event in the text/event-stream format. data is
// JSON without newlines, so it fits one data line.
func (h *eventHub) appendEvent(b []byte, ev sseEvent) []byte {
	b = append(b, "id: "...)
	b = append(b, h.formatID(ev.id)...)
	b = append(b, "\nevent: "...)
	b = append(b, ev.typ...)
	b = append(b, "\ndata: "...)
	b = append(b, ev.data...)
	return append(b, "\n\n"...)
}

// Events delivers the live events to fn, in order, until ctx ends: what
// GET /events streams, for a client that is not a browser (the desktop
// window hands them to its page as Wails events, since its webview does
// not stream responses). data is the event's JSON. A subscriber that falls
// behind gets a "reset" event and carries on from the newest events.
// Without a pod it returns at once.
func (s *Server) Events(ctx context.Context, fn func(typ string, data []byte)) {
	h := s.events
	if h == nil {
		return
	}
	for ctx.Err() == nil {
		c, _, _, _ := h.subscribe("")
		kicked := false
		for !kicked && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-c.kicked:
				kicked = true
				fn(eventReset, []byte(`{"kind":"reset","reason":"behind"}`))
			case ev := <-c.ch:
				fn(ev.typ, ev.data)
			}
		}
		h.unsubscribe(c)
	}
}
