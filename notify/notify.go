// Package notify shows OS notifications for the desktop window over D-Bus
// (org.freedesktop.Notifications, Desktop Notifications Specification 1.2)
// and reports which one the user clicked. Wails v2 has no notification API.
//
// It owns the session-bus connection, the queue (bounded), burst collapsing,
// the escaping of remote text for servers that render body markup, and the
// ActionInvoked / NotificationClosed signals. glue.go decides what a pod's
// new notifications and messages become (preferences, focus).
//
// It must not import Wails or anything that needs GTK: it builds and tests
// with CGO off, against a real dbus-daemon. app/ does the window side.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/godbus/dbus/v5"
)

// The service's well-known name, object path and interface.
const (
	busName   = "org.freedesktop.Notifications"
	objPath   = dbus.ObjectPath("/org/freedesktop/Notifications")
	iface     = "org.freedesktop.Notifications"
	appName   = "Seedpod"
	actionKey = "default" // the spec's "default action": a click on the notification
)

// Defaults of Config.
const (
	defaultCallTimeout = 5 * time.Second
	defaultQueue       = 32
	defaultBurstMax    = 3
	defaultBurstWindow = 10 * time.Second
	defaultRetry       = time.Minute
	// maxOpen bounds the ids remembered for ActionInvoked: a server that
	// never sends NotificationClosed does not make the map grow.
	maxOpen = 64
	// The spec has no limits; servers truncate anyway. Ours keep hostile
	// remote text from making multi-megabyte D-Bus messages.
	maxSummaryRunes = 120
	maxBodyRunes    = 400
)

// Urgency is the spec's urgency hint.
type Urgency byte

// Urgency levels.
const (
	UrgencyLow      Urgency = 0
	UrgencyNormal   Urgency = 1
	UrgencyCritical Urgency = 2
)

// Notification is one notification to show. Summary and Body are plain
// text: the notifier escapes them as the server needs.
type Notification struct {
	Summary string
	Body    string
	// Category is the spec's category hint ("im.received", …); "" for none.
	Category string
	Urgency  Urgency
	// Target says what the notification is for; it comes back through
	// Config.OnInvoke when the user clicks it (a UI route such as
	// "#/post/<guid>").
	Target string
}

// Config configures a Notifier.
type Config struct {
	// Address is the bus address; "" reads DBUS_SESSION_BUS_ADDRESS.
	Address string
	// Icon is the app_icon sent with each notification (a theme icon name
	// or a file:// URI); "" for none.
	Icon string
	// DesktopEntry is the desktop-entry hint (the .desktop file's name
	// without the suffix), so servers show the app's name and icon.
	DesktopEntry string
	// Expire is the expire_timeout; 0 means the server's default (-1 on
	// the wire).
	Expire time.Duration
	// CallTimeout bounds every D-Bus call and the connection (default 5 s).
	CallTimeout time.Duration
	// Queue is how many notifications may wait (default 32); past it Show
	// drops them.
	Queue int
	// A burst — more than BurstMax notifications within BurstWindow
	// (defaults 3 and 10 s) — collapses into one summary notification.
	BurstMax    int
	BurstWindow time.Duration
	// SummaryTarget is the Target of the burst summary.
	SummaryTarget string
	// Retry is how long after a failure the notifier waits before it
	// connects again, and only when there is something to show (default 1
	// min). Between, notifications are dropped without a word.
	Retry time.Duration
	// OnInvoke receives the Target of a notification the user clicked. It
	// runs on the notifier's goroutine: it must return quickly.
	OnInvoke func(target string)
	// OnStatus is told every change of availability (and the first state);
	// reason says why it is unavailable. Same goroutine rule.
	OnStatus func(available bool, reason string)
	Logger   *slog.Logger
}

// Status is whether notifications can be shown.
type Status struct {
	Known     bool   // false until the first connection attempt ended
	Available bool   // a notification service answered
	Reason    string // why not, when not
	Server    string // the server's name and version, when available
}

// Notifier shows notifications from one goroutine that owns the
// connection. Its methods are safe for concurrent use.
type Notifier struct {
	cfg   Config
	log   *slog.Logger
	queue chan Notification
	stop  context.CancelFunc
	done  chan struct{}

	mu     sync.Mutex
	status Status
	drops  int
	sent   int
}

// New starts a notifier on the session bus (DBUS_SESSION_BUS_ADDRESS, or
// cfg.Address). It connects at once in the background; Status tells the
// outcome. Close stops it.
func New(cfg Config) *Notifier {
	if cfg.Address == "" {
		cfg.Address = os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = defaultCallTimeout
	}
	if cfg.Queue <= 0 {
		cfg.Queue = defaultQueue
	}
	if cfg.BurstMax <= 0 {
		cfg.BurstMax = defaultBurstMax
	}
	if cfg.BurstWindow <= 0 {
		cfg.BurstWindow = defaultBurstWindow
	}
	if cfg.Retry <= 0 {
		cfg.Retry = defaultRetry
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{cfg: cfg, log: log, queue: make(chan Notification, cfg.Queue), stop: cancel, done: make(chan struct{})}
	go n.run(ctx)
	return n
}

// Show queues a notification and returns at once; it reports false when
// the queue is full. A queued notification is dropped later, without a
// word, while the service is unavailable and not due for another try
// (Counts tells how many).
func (n *Notifier) Show(x Notification) bool {
	select {
	case n.queue <- x:
		return true
	default:
		n.mu.Lock()
		n.drops++
		n.mu.Unlock()
		return false
	}
}

// Status is the notifier's current state.
func (n *Notifier) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status
}

// Close stops the notifier and closes its connection; queued
// notifications are dropped.
func (n *Notifier) Close() error {
	n.stop()
	<-n.done
	return nil
}

// conn is one connection to the bus with what the server told about itself.
type conn struct {
	c       *dbus.Conn
	obj     dbus.BusObject
	signals chan *dbus.Signal
	markup  bool // body-markup: escape remote text
	actions bool
}

// state is the run goroutine's own: no lock.
type state struct {
	cn        *conn
	lastTry   time.Time // the last failed connection attempt
	open      map[uint32]string
	openOrder []uint32
	// The current burst: when its notifications came, which individual
	// ones are still open, and the summary (id and count) while open.
	times      []time.Time
	burstIDs   []uint32
	summaryID  uint32
	summaryN   int
	collapsing bool
}

func (n *Notifier) run(ctx context.Context) {
	defer close(n.done)
	st := &state{open: map[uint32]string{}}
	defer func() {
		if st.cn != nil {
			st.cn.c.Close()
		}
	}()
	n.connect(ctx, st)
	for {
		var sig chan *dbus.Signal
		var gone <-chan struct{}
		if st.cn != nil {
			sig, gone = st.cn.signals, st.cn.c.Context().Done()
		}
		select {
		case <-ctx.Done():
			return
		case <-gone:
			n.fail(st, errors.New("the session bus closed the connection"))
		case s, ok := <-sig:
			if !ok {
				n.fail(st, errors.New("the session bus closed the connection"))
				continue
			}
			n.signal(st, s)
		case x := <-n.queue:
			if st.cn == nil {
				if time.Since(st.lastTry) < n.cfg.Retry {
					n.drop()
					continue
				}
				if !n.connect(ctx, st) {
					n.drop()
					continue
				}
			}
			if err := n.show(ctx, st, x); err != nil {
				n.fail(st, err)
			}
		}
	}
}

func (n *Notifier) drop() {
	n.mu.Lock()
	n.drops++
	n.mu.Unlock()
}

// setStatus records the state and tells OnStatus and the log about a
// change: one warning when notifications become unavailable, not one per
// notification.
func (n *Notifier) setStatus(s Status) {
	s.Known = true
	n.mu.Lock()
	old := n.status
	n.status = s
	n.mu.Unlock()
	if old.Known && old.Available == s.Available {
		return
	}
	if s.Available {
		n.log.Info("notify: OS notifications available", "server", s.Server)
	} else {
		n.log.Warn("notify: OS notifications unavailable", "reason", s.Reason)
	}
	if n.cfg.OnStatus != nil {
		n.cfg.OnStatus(s.Available, s.Reason)
	}
}

// fail drops the connection after an error; the next notification after
// cfg.Retry connects again.
func (n *Notifier) fail(st *state, err error) {
	if st.cn != nil {
		st.cn.c.Close()
		st.cn = nil
	}
	st.lastTry = time.Now()
	st.open, st.openOrder = map[uint32]string{}, nil
	st.burstIDs, st.summaryID, st.summaryN, st.collapsing = nil, 0, 0, false
	n.setStatus(Status{Reason: err.Error()})
}

// connect opens the bus and asks the service who it is, all within
// cfg.CallTimeout. It reports whether notifications can be shown.
func (n *Notifier) connect(ctx context.Context, st *state) bool {
	cn, server, err := n.dial(ctx)
	if err != nil {
		st.lastTry = time.Now()
		n.setStatus(Status{Reason: err.Error()})
		return false
	}
	st.cn = cn
	n.setStatus(Status{Available: true, Server: server})
	return true
}

func (n *Notifier) dial(ctx context.Context) (*conn, string, error) {
	if n.cfg.Address == "" {
		return nil, "", errors.New("no session bus: DBUS_SESSION_BUS_ADDRESS is not set")
	}
	// The connection lives as long as cctx; Auth and Hello take no
	// context, so a timer cancels cctx (which closes the connection and
	// fails them) when connecting takes too long.
	cctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(n.cfg.CallTimeout, cancel)
	c, err := dbus.Connect(n.cfg.Address, dbus.WithContext(cctx))
	if !timer.Stop() {
		if err == nil {
			c.Close()
		}
		err = fmt.Errorf("no answer within %v", n.cfg.CallTimeout)
	}
	if err != nil {
		cancel()
		return nil, "", fmt.Errorf("connect to the session bus %q: %w", n.cfg.Address, err)
	}
	fail := func(err error) (*conn, string, error) {
		c.Close()
		cancel()
		return nil, "", err
	}
	cn := &conn{c: c, obj: c.Object(busName, objPath), signals: make(chan *dbus.Signal, 16)}
	call := func(method string, out ...any) error {
		cctx, ccancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
		defer ccancel()
		return cn.obj.CallWithContext(cctx, iface+"."+method, 0).Store(out...)
	}
	var name, vendor, version, spec string
	if err := call("GetServerInformation", &name, &vendor, &version, &spec); err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" {
			return fail(fmt.Errorf("no notification service (%s) on the session bus", busName))
		}
		return fail(fmt.Errorf("ask the notification service for its information: %w", err))
	}
	var caps []string
	if err := call("GetCapabilities", &caps); err != nil {
		return fail(fmt.Errorf("ask the notification service %s for its capabilities: %w", name, err))
	}
	for _, c := range caps {
		switch c {
		case "body-markup":
			cn.markup = true
		case "actions":
			cn.actions = true
		}
	}
	mctx, mcancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
	defer mcancel()
	if err := c.AddMatchSignalContext(mctx, dbus.WithMatchObjectPath(objPath), dbus.WithMatchInterface(iface)); err != nil {
		return fail(fmt.Errorf("subscribe to the notification signals: %w", err))
	}
	c.Signal(cn.signals)
	return cn, strings.TrimSpace(name + " " + version), nil
}

// show sends one notification, or folds it into the burst summary.
func (n *Notifier) show(ctx context.Context, st *state, x Notification) error {
	now := time.Now()
	keep := st.times[:0]
	for _, t := range st.times {
		if now.Sub(t) < n.cfg.BurstWindow {
			keep = append(keep, t)
		}
	}
	st.times = append(keep, now)
	if len(st.times) == 1 {
		st.collapsing = false
		st.burstIDs = nil
	}
	if !st.collapsing && len(st.times) <= n.cfg.BurstMax {
		id, err := n.notify(ctx, st, 0, x)
		if err != nil {
			return err
		}
		st.burstIDs = append(st.burstIDs, id)
		return nil
	}
	// A burst: the individual notifications of this burst that are still
	// open make way for one summary, which later ones update in place.
	if !st.collapsing {
		st.collapsing = true
		if st.summaryID == 0 {
			st.summaryN = 0
		}
		for _, id := range st.burstIDs {
			if _, ok := st.open[id]; ok {
				if err := n.close(ctx, st, id); err != nil {
					return err
				}
			}
		}
		st.summaryN += len(st.burstIDs)
		st.burstIDs = nil
	}
	st.summaryN++
	text := fmt.Sprintf("%d new notifications", st.summaryN)
	if st.summaryN == 1 {
		text = "1 new notification"
	}
	sum := Notification{Summary: text, Body: "Open Seedpod to see them.",
		Category: x.Category, Urgency: UrgencyNormal, Target: n.cfg.SummaryTarget}
	id, err := n.notify(ctx, st, st.summaryID, sum)
	if err != nil {
		return err
	}
	st.summaryID = id
	return nil
}

// notify calls Notify and remembers the id's target.
func (n *Notifier) notify(ctx context.Context, st *state, replaces uint32, x Notification) (uint32, error) {
	summary := Clean(x.Summary, maxSummaryRunes)
	body := Clean(x.Body, maxBodyRunes)
	if st.cn.markup {
		body = Escape(body)
	}
	var actions []string
	if st.cn.actions {
		actions = []string{actionKey, "Open"}
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(byte(x.Urgency))}
	if x.Category != "" {
		hints["category"] = dbus.MakeVariant(x.Category)
	}
	if n.cfg.DesktopEntry != "" {
		hints["desktop-entry"] = dbus.MakeVariant(n.cfg.DesktopEntry)
	}
	expire := int32(-1)
	if n.cfg.Expire > 0 {
		expire = int32(min(n.cfg.Expire.Milliseconds(), 1<<31-1))
	}
	cctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
	defer cancel()
	var id uint32
	err := st.cn.obj.CallWithContext(cctx, iface+".Notify", 0,
		appName, replaces, n.cfg.Icon, summary, body, actions, hints, expire).Store(&id)
	if err != nil {
		return 0, fmt.Errorf("notify %q: %w", summary, err)
	}
	n.mu.Lock()
	n.sent++
	n.mu.Unlock()
	if _, ok := st.open[id]; !ok {
		st.openOrder = append(st.openOrder, id)
	}
	st.open[id] = x.Target
	for len(st.openOrder) > maxOpen {
		delete(st.open, st.openOrder[0])
		st.openOrder = st.openOrder[1:]
	}
	return id, nil
}

func (n *Notifier) close(ctx context.Context, st *state, id uint32) error {
	cctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
	defer cancel()
	if err := st.cn.obj.CallWithContext(cctx, iface+".CloseNotification", 0, id).Err; err != nil {
		return fmt.Errorf("close notification %d: %w", id, err)
	}
	n.forget(st, id)
	return nil
}

func (n *Notifier) forget(st *state, id uint32) {
	delete(st.open, id)
	for i, o := range st.openOrder {
		if o == id {
			st.openOrder = append(st.openOrder[:i], st.openOrder[i+1:]...)
			break
		}
	}
	if id == st.summaryID {
		st.summaryID, st.summaryN = 0, 0
	}
}

// signal handles ActionInvoked and NotificationClosed for our ids; other
// applications' notifications share the interface and are ignored.
func (n *Notifier) signal(st *state, s *dbus.Signal) {
	switch s.Name {
	case iface + ".ActionInvoked":
		var id uint32
		var key string
		if err := dbus.Store(s.Body, &id, &key); err != nil {
			return
		}
		target, ok := st.open[id]
		if !ok || key != actionKey {
			return
		}
		if n.cfg.OnInvoke != nil {
			n.cfg.OnInvoke(target)
		}
	case iface + ".NotificationClosed":
		var id, reason uint32
		if err := dbus.Store(s.Body, &id, &reason); err != nil {
			return
		}
		if _, ok := st.open[id]; ok {
			n.forget(st, id)
		}
	}
}

// Counts are what the notifier did since it started (for tests and logs).
type Counts struct{ Sent, Dropped int }

// Counts reports how many notifications were sent and dropped.
func (n *Notifier) Counts() Counts {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Counts{Sent: n.sent, Dropped: n.drops}
}

// Clean makes remote text fit for a notification: valid UTF-8, no control
// or format characters (bidi overrides would reorder what follows), runs of
// white space and line breaks as one space, at most max runes (an ellipsis
// marks a cut).
func Clean(s string, max int) string {
	rs := make([]rune, 0, min(len(s), 4*max))
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			space = len(rs) > 0
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		if space {
			rs = append(rs, ' ')
			space = false
		}
		rs = append(rs, r)
		if len(rs) > max {
			break
		}
	}
	if max > 0 && len(rs) > max {
		rs = append(rs[:max-1], '…')
	}
	return string(rs)
}

// Escape escapes the characters the spec's body markup gives meaning to,
// so remote text shows as text on servers that render markup.
func Escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
