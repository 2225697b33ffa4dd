package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"seedpod/pod"
)

// The glue between a pod and the notifier: on the pod's live events it
// reads the newest unread notifications and messages, keeps those it has
// not told yet, checks the synced preferences and the window's focus, and
// shows them.

// Source is what the watcher reads from the pod (*pod.Pod has both).
type Source interface {
	RecentNotices(ctx context.Context, limit int) ([]pod.OSNotice, error)
	Settings(ctx context.Context) (pod.Settings, error)
}

// Watcher tunables.
const (
	// recentLimit is how many notifications and messages each check reads.
	recentLimit = 20
	// maxAge: what happened longer ago is not news (a device catching up
	// through sync, a fetched old thread).
	maxAge = 24 * time.Hour
	// settle gathers the events of one sync batch into one check.
	settle = 200 * time.Millisecond
	// checkTimeout bounds one check's reads.
	checkTimeout = 10 * time.Second
)

// Watcher decides what becomes an OS notification.
type Watcher struct {
	src Source
	// Show shows one notification (Notifier.Show).
	show func(Notification) bool
	// focused reports whether the window has the user's attention; nil
	// means unknown, and everything is told.
	focused func() bool
	now     func() time.Time
	log     *slog.Logger
	seen    map[string]bool
}

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	Source  Source
	Show    func(Notification) bool
	Focused func() bool
	Now     func() time.Time
	Logger  *slog.Logger
}

// NewWatcher starts from what is unread now: only what comes after is
// told.
func NewWatcher(ctx context.Context, cfg WatcherConfig) (*Watcher, error) {
	w := &Watcher{src: cfg.Source, show: cfg.Show, focused: cfg.Focused, now: cfg.Now, log: cfg.Logger}
	if w.now == nil {
		w.now = time.Now
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	notices, err := w.src.RecentNotices(ctx, recentLimit)
	if err != nil {
		return nil, fmt.Errorf("notify: read the current notifications: %w", err)
	}
	w.seen = keys(notices)
	return w, nil
}

func keys(ns []pod.OSNotice) map[string]bool {
	m := make(map[string]bool, len(ns))
	for _, n := range ns {
		m[n.Key] = true
	}
	return m
}

// Check reads the newest notices and shows those not told before, oldest
// first; it returns what it showed. What arrives while the window is
// focused, what the preferences turn off and what is stale counts as told.
func (w *Watcher) Check(ctx context.Context) ([]Notification, error) {
	notices, err := w.src.RecentNotices(ctx, recentLimit)
	if err != nil {
		return nil, fmt.Errorf("notify: read new notifications: %w", err)
	}
	var fresh []pod.OSNotice
	for _, n := range notices {
		if !w.seen[n.Key] && w.now().Sub(n.At) < maxAge {
			fresh = append(fresh, n)
		}
	}
	// Only what the last read returned is remembered: the map stays as
	// small as the reads.
	w.seen = keys(notices)
	if len(fresh) == 0 || (w.focused != nil && w.focused()) {
		return nil, nil
	}
	st, err := w.src.Settings(ctx)
	if err != nil {
		return nil, fmt.Errorf("notify: read the notification settings: %w", err)
	}
	slices.SortStableFunc(fresh, func(a, b pod.OSNotice) int { return a.At.Compare(b.At) })
	var shown []Notification
	for _, n := range fresh {
		if !st.Notifications.Wants(n.Type) {
			continue
		}
		x := Format(n)
		if w.show(x) {
			shown = append(shown, x)
		}
	}
	return shown, nil
}

// Run checks after every event that can mean something new (new
// notifications, messages, a reset) until ctx ends. events is
// web.Server.Events.
func (w *Watcher) Run(ctx context.Context, events func(ctx context.Context, fn func(typ string, data []byte))) {
	kick := make(chan struct{}, 1)
	go events(ctx, func(typ string, _ []byte) {
		switch typ {
		case pod.EventNotification, pod.EventConversation, "reset":
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(settle):
		}
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		if _, err := w.Check(cctx); err != nil && ctx.Err() == nil {
			w.log.Warn("notify: check", "err", err)
		}
		cancel()
	}
}

// Format is what a notice says: the summary names who did what, the body
// is the excerpt (plain text: the notifier escapes it).
func Format(n pod.OSNotice) Notification {
	who := actors(n.Actors)
	x := Notification{Body: n.Excerpt, Urgency: UrgencyNormal, Target: n.Route, Category: "x-seedpod." + n.Type}
	switch n.Type {
	case "also_commented":
		x.Summary = who + " also commented on a post"
	case "comment_on_post":
		x.Summary = who + " commented on your post"
	case "liked":
		x.Summary = who + " liked your post"
	case "liked_comment":
		x.Summary = who + " liked your comment"
	case "mentioned":
		x.Summary = who + " mentioned you"
	case "mentioned_in_comment":
		x.Summary = who + " mentioned you in a comment"
	case "reshared":
		x.Summary = who + " reshared your post"
	case "started_sharing":
		x.Summary = who + " started sharing with you"
	case "contacts_birthday":
		x.Summary = who + " has a birthday today"
	case pod.NotifyConversation:
		x.Summary = "Message from " + who
		x.Category = "im.received"
		if n.Subject != "" {
			x.Body = n.Subject + ": " + n.Excerpt
		}
	default:
		x.Summary = "New notification from " + who
	}
	return x
}

// actors names the newest actor and counts the others.
func actors(names []string) string {
	switch len(names) {
	case 0:
		return "Someone"
	case 1:
		return names[0]
	case 2:
		return names[1] + " and " + names[0]
	}
	return fmt.Sprintf("%s and %d others", names[len(names)-1], len(names)-1)
}
