package notify

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// targets collects what OnInvoke receives.
type targets struct {
	mu  sync.Mutex
	got []string
}

func (g *targets) add(s string) { g.mu.Lock(); g.got = append(g.got, s); g.mu.Unlock() }
func (g *targets) list() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.got...)
}

func newTestNotifier(t *testing.T, addr string, cfg Config) *Notifier {
	t.Helper()
	cfg.Address = addr
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 2 * time.Second
	}
	n := New(cfg)
	t.Cleanup(func() { n.Close() })
	waitFor(t, "the first connection attempt", func() bool { return n.Status().Known })
	return n
}

func TestNotifySends(t *testing.T) {
	bus := startBus(t, t.TempDir())
	hostile := "<b>bold</b> & <a href=\"http://evil.example\">click</a> <img src=x>\x00\x1b[31m\u202eevil\nline\ttab \xff end"
	tests := []struct {
		name        string
		caps        []string
		in          Notification
		wantSummary string
		wantBody    string
		wantActions []string
	}{
		{name: "plain", caps: []string{"actions", "body", "body-markup"},
			in:          Notification{Summary: "Alice commented on your post", Body: "Nice photo!", Category: "im.received", Urgency: UrgencyNormal, Target: "#/post/abc"},
			wantSummary: "Alice commented on your post", wantBody: "Nice photo!", wantActions: []string{"default", "Open"}},
		{name: "hostile remote text is escaped for a markup server", caps: []string{"actions", "body-markup"},
			in:          Notification{Summary: "Eve <i>x</i>\x07", Body: hostile},
			wantSummary: "Eve <i>x</i>", // the summary is never markup (spec)
			wantBody:    "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=\"http://evil.example\"&gt;click&lt;/a&gt; &lt;img src=x&gt; [31mevil line tab \uFFFD end",
			wantActions: []string{"default", "Open"}},
		{name: "no markup, no actions", caps: []string{"body"},
			in:          Notification{Summary: "s", Body: "a < b & c"},
			wantSummary: "s", wantBody: "a < b & c"},
		{name: "long text is cut", caps: []string{"body-markup", "actions"},
			in:          Notification{Summary: strings.Repeat("s", 500), Body: strings.Repeat("é", 1000)},
			wantSummary: strings.Repeat("s", maxSummaryRunes-1) + "…", wantBody: strings.Repeat("é", maxBodyRunes-1) + "…",
			wantActions: []string{"default", "Open"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, bus.addr, tc.caps...)
			n := newTestNotifier(t, bus.addr, Config{Icon: "seedpod", DesktopEntry: "seedpod", Expire: 8 * time.Second})
			if st := n.Status(); !st.Available || st.Server != "testd 1.0" {
				t.Fatalf("status %+v, want available from testd 1.0", st)
			}
			if !n.Show(tc.in) {
				t.Fatal("Show dropped the notification")
			}
			c := srv.waitCalls(t, 1)[0]
			if c.App != "Seedpod" || c.Icon != "seedpod" || c.Replaces != 0 || c.Expire != 8000 {
				t.Errorf("app %q icon %q replaces %d expire %d", c.App, c.Icon, c.Replaces, c.Expire)
			}
			if c.Summary != tc.wantSummary {
				t.Errorf("summary %q, want %q", c.Summary, tc.wantSummary)
			}
			if c.Body != tc.wantBody {
				t.Errorf("body %q, want %q", c.Body, tc.wantBody)
			}
			if !slices.Equal(c.Actions, tc.wantActions) {
				t.Errorf("actions %q, want %q", c.Actions, tc.wantActions)
			}
			if u, ok := c.Hints["urgency"].Value().(byte); !ok || u != byte(tc.in.Urgency) {
				t.Errorf("urgency hint %v", c.Hints["urgency"])
			}
			if cat, _ := c.Hints["category"].Value().(string); cat != tc.in.Category {
				t.Errorf("category hint %q, want %q", cat, tc.in.Category)
			}
			if de, _ := c.Hints["desktop-entry"].Value().(string); de != "seedpod" {
				t.Errorf("desktop-entry hint %q", de)
			}
			n.Close()
			srv.conn.ReleaseName(busName)
		})
	}
}

func TestBurstCollapses(t *testing.T) {
	bus := startBus(t, t.TempDir())
	srv := startServer(t, bus.addr)
	n := newTestNotifier(t, bus.addr, Config{SummaryTarget: "#/notifications"})
	for i := 1; i <= 5; i++ {
		n.Show(Notification{Summary: fmt.Sprintf("n%d", i), Target: fmt.Sprintf("#/post/%d", i)})
	}
	calls := srv.waitCalls(t, 5)
	var got []string
	for _, c := range calls {
		got = append(got, fmt.Sprintf("%s/%d->%d", c.Summary, c.Replaces, c.ID))
	}
	// Three shown; the fourth closes them and becomes the summary, which
	// the fifth replaces in place.
	want := []string{"n1/0->1", "n2/0->2", "n3/0->3", "4 new notifications/0->4", "5 new notifications/4->4"}
	if !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	_, closed := srv.snapshot()
	if !slices.Equal(closed, []uint32{1, 2, 3}) {
		t.Errorf("closed %v, want the three individual ones", closed)
	}
	// A click on the summary opens the summary's target.
	var tg targets
	n.Close()
	n = newTestNotifier(t, bus.addr, Config{SummaryTarget: "#/notifications", BurstMax: 1, OnInvoke: tg.add})
	n.Show(Notification{Summary: "a", Target: "#/post/a"})
	n.Show(Notification{Summary: "b", Target: "#/post/b"})
	calls = srv.waitCalls(t, 7)
	if calls[6].Summary != "2 new notifications" {
		t.Fatalf("summary %q", calls[6].Summary)
	}
	srv.click(t, calls[6].ID, "default")
	waitFor(t, "the click", func() bool { return len(tg.list()) == 1 })
	if got := tg.list(); got[0] != "#/notifications" {
		t.Errorf("summary click opened %q", got[0])
	}
}

func TestActionInvoked(t *testing.T) {
	bus := startBus(t, t.TempDir())
	srv := startServer(t, bus.addr)
	var tg targets
	n := newTestNotifier(t, bus.addr, Config{OnInvoke: tg.add})
	n.Show(Notification{Summary: "one", Target: "#/post/1"})
	n.Show(Notification{Summary: "two", Target: "#/conversations/7"})
	calls := srv.waitCalls(t, 2)
	srv.click(t, 999, "default")         // not ours
	srv.click(t, calls[0].ID, "other")   // not the default action
	srv.click(t, calls[1].ID, "default") // the second one
	waitFor(t, "the click", func() bool { return len(tg.list()) >= 1 })
	// Closed notifications are forgotten: a late click does nothing.
	srv.CloseNotification(calls[0].ID)
	time.Sleep(50 * time.Millisecond)
	srv.click(t, calls[0].ID, "default")
	srv.click(t, calls[1].ID, "default")
	waitFor(t, "the second click", func() bool { return len(tg.list()) >= 2 })
	time.Sleep(50 * time.Millisecond)
	if got := tg.list(); !slices.Equal(got, []string{"#/conversations/7", "#/conversations/7"}) {
		t.Errorf("OnInvoke got %q", got)
	}
}

func TestUnavailable(t *testing.T) {
	bus := startBus(t, t.TempDir())
	tests := []struct {
		name, addr, reason string
	}{
		{"no bus address", "", "DBUS_SESSION_BUS_ADDRESS is not set"},
		{"no bus at the address", "unix:path=" + t.TempDir() + "/nothing", "connect to the session bus"},
		{"no notification service", bus.addr, "no notification service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
			var mu sync.Mutex
			var statuses []string
			start := time.Now()
			n := newTestNotifier(t, tc.addr, Config{OnStatus: func(ok bool, reason string) {
				mu.Lock()
				statuses = append(statuses, fmt.Sprint(ok, reason))
				mu.Unlock()
			}})
			if d := time.Since(start); d > time.Second {
				t.Errorf("finding out took %v", d)
			}
			st := n.Status()
			if st.Available || !strings.Contains(st.Reason, tc.reason) {
				t.Fatalf("status %+v, want unavailable with %q", st, tc.reason)
			}
			// Further notifications are dropped quietly: no call, no new
			// status, no block.
			for range 100 {
				n.Show(Notification{Summary: "x"})
			}
			waitFor(t, "the drops", func() bool { return n.Counts().Dropped == 100 })
			mu.Lock()
			defer mu.Unlock()
			if len(statuses) != 1 || !strings.HasPrefix(statuses[0], "false") {
				t.Errorf("OnStatus got %q, want one unavailable", statuses)
			}
		})
	}
}

func TestBusGoneMidway(t *testing.T) {
	dir := t.TempDir()
	bus := startBus(t, dir)
	srv := startServer(t, bus.addr)
	const timeout = 300 * time.Millisecond
	// The daemon's address carries its guid, which a new daemon changes:
	// the notifier gets the path alone, as a restarted session would.
	addr, _, _ := strings.Cut(bus.addr, ",")
	n := newTestNotifier(t, addr, Config{CallTimeout: timeout, Retry: 100 * time.Millisecond})
	n.Show(Notification{Summary: "before"})
	srv.waitCalls(t, 1)

	// A frozen bus: the call fails within the timeout and the notifier
	// says unavailable.
	bus.cmd.Process.Signal(syscall.SIGSTOP)
	start := time.Now()
	n.Show(Notification{Summary: "frozen"})
	waitFor(t, "unavailable", func() bool { return !n.Status().Available })
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("the frozen call failed after %v, timeout %v", d, timeout)
	}
	if r := n.Status().Reason; !strings.Contains(r, "frozen") {
		t.Errorf("reason %q", r)
	}

	// The bus dies; a new one comes up at the same address with a
	// service: after Retry the next notification reconnects.
	bus.kill()
	time.Sleep(150 * time.Millisecond)
	n.Show(Notification{Summary: "no bus"}) // dropped: the retry is not due, or the bus is gone
	bus2 := startBus(t, dir)
	if a, _, _ := strings.Cut(bus2.addr, ","); a != addr {
		t.Fatalf("address changed: %s → %s", bus.addr, bus2.addr)
	}
	srv2 := startServer(t, bus2.addr)
	waitFor(t, "a reconnect", func() bool {
		n.Show(Notification{Summary: "after"})
		time.Sleep(20 * time.Millisecond)
		calls, _ := srv2.snapshot()
		return len(calls) > 0
	})
	if !n.Status().Available {
		t.Errorf("status %+v after the reconnect", n.Status())
	}
	calls, _ := srv2.snapshot()
	if calls[0].Summary != "after" {
		t.Errorf("first call on the new bus %q", calls[0].Summary)
	}
}

func TestQueueBounded(t *testing.T) {
	// No connection attempt can finish while the bus is frozen, so the
	// queue fills: Show never blocks, and drops past the cap.
	bus := startBus(t, t.TempDir())
	startServer(t, bus.addr)
	bus.cmd.Process.Signal(syscall.SIGSTOP)
	n := New(Config{Address: bus.addr, Queue: 4, CallTimeout: time.Second})
	defer n.Close()
	accepted := 0
	start := time.Now()
	for range 50 {
		if n.Show(Notification{Summary: "x"}) {
			accepted++
		}
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("50 Shows took %v", d)
	}
	if accepted != 4 {
		t.Errorf("accepted %d, want the queue's 4", accepted)
	}
	// Connecting to the frozen bus gives up after the timeout.
	waitFor(t, "the connection attempt to end", func() bool { return n.Status().Known })
	if st := n.Status(); st.Available || !strings.Contains(st.Reason, "no answer within 1s") {
		t.Errorf("status %+v", st)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the attempt ended after %v", d)
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"  lead\n\n and\ttrail  ", 50, "lead and trail"},
		{"a\u202eb\u200bc", 10, "abc"},
		{"bad \xff\xfe utf8", 20, "bad \uFFFD utf8"},
		{"abcdef", 4, "abc…"},
		{"abcd", 4, "abcd"},
		{"nul\x00byte", 20, "nul byte"},
	}
	for _, tc := range tests {
		if got := Clean(tc.in, tc.max); got != tc.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
