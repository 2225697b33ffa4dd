package federation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"seedpod/pod/diaspora/id"
	"seedpod/pod/relay"
	"seedpod/pod/relayclient"
)

// Enroll claims username on the relay at relayURL with the invite code
// and switches federation on: the identity becomes username@domain.
func (e *Engine) Enroll(ctx context.Context, relayURL, code, username string) (string, error) {
	self, err := e.cfg.Host.Self(ctx)
	if err != nil {
		return "", err
	}
	base, domain, err := relayBase(relayURL)
	if err != nil {
		return "", err
	}
	if username == "" {
		username = self.Username
	}
	resp, err := relayclient.Enroll(ctx, e.cfg.Relay, base, strings.TrimSpace(code), username, self.GUID, self.Key, self.Profile)
	if err != nil {
		return "", fmt.Errorf("enrol with %s: %w", base, err)
	}
	if want := username + "@" + domain; !strings.EqualFold(resp.DiasporaID, want) {
		return "", fmt.Errorf("enrol with %s: the relay named the identity %q, expected %q", base, resp.DiasporaID, want)
	}
	if err := e.cfg.Host.SetRelay(ctx, base, domain); err != nil {
		return "", err
	}
	e.log.Info("enrolled", "relay", base, "diaspora_id", resp.DiasporaID)
	e.poke()
	return strings.ToLower(resp.DiasporaID), nil
}

// MoveRelay moves the identity to another relay: it enrols there with
// the same key and guid (username defaults to the current one), records
// the move (the identity is now username@new-domain; the old diaspora* ID
// is a former one, announced to every contact by an AccountMigration that
// Pending builds, and the old relay's inbox is still read), and returns
// the new diaspora* ID. The old relay is not needed: moving away from a
// relay that is gone works.
func (e *Engine) MoveRelay(ctx context.Context, relayURL, code, username string) (string, error) {
	self, err := e.cfg.Host.Self(ctx)
	if err != nil {
		return "", err
	}
	if self.RelayURL == "" {
		return "", fmt.Errorf("%w: no relay is set up yet: set one up instead of moving", ErrInvalid)
	}
	base, domain, err := relayBase(relayURL)
	if err != nil {
		return "", err
	}
	if username == "" {
		username = self.Username
	}
	if base == self.RelayURL && username == self.Username {
		return "", fmt.Errorf("%w: the identity already federates through %s as %s", ErrInvalid, base, self.Handle)
	}
	resp, err := relayclient.Enroll(ctx, e.cfg.Relay, base, strings.TrimSpace(code), username, self.GUID, self.Key, self.Profile)
	if err != nil {
		return "", fmt.Errorf("enrol with %s: %w", base, err)
	}
	if want := username + "@" + domain; !strings.EqualFold(resp.DiasporaID, want) {
		return "", fmt.Errorf("enrol with %s: the relay named the identity %q, expected %q", base, resp.DiasporaID, want)
	}
	former := FormerRelay{URL: self.RelayURL, Username: self.Username, Handle: self.Handle}
	if err := e.cfg.Host.MoveRelay(ctx, base, domain, username, former); err != nil {
		return "", err
	}
	e.log.Info("moved to another relay", "from", self.Handle, "to", resp.DiasporaID, "relay", base)
	e.poke()
	select {
	case e.moved <- struct{}{}:
	default:
	}
	return strings.ToLower(resp.DiasporaID), nil
}

// relayBase checks a relay URL ("https://host[:port]", a path of "/" at
// most) and returns its origin and the identity domain (host[:port]).
func relayBase(raw string) (base, domain string, err error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%w: relay %q: want https://host (an origin, nothing after it)", ErrInvalid, clip(raw))
	}
	host := strings.ToLower(strings.TrimSuffix(u.Host, "."))
	if _, err := id.Normalize("u@" + host); err != nil {
		return "", "", fmt.Errorf("%w: relay %q: %v", ErrInvalid, clip(raw), err)
	}
	return "https://" + host, host, nil
}

// ErrInvalid marks bad input from the user (relay URL, code).
var ErrInvalid = errors.New("invalid")

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// Run runs federation until ctx ends: while no relay is set up it waits;
// then it pulls the inbox and sends the outbox, each in its own loop, with
// backoff on failures.
func (e *Engine) Run(ctx context.Context) {
	for {
		self, err := e.cfg.Host.Self(ctx)
		if err == nil && self.RelayURL != "" {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-e.cfg.Host.Changed():
		case <-time.After(30 * time.Second):
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { e.inboundLoop(ctx) })
	wg.Go(func() { e.outboundLoop(ctx) })
	wg.Go(func() { e.formerRelays(ctx, &wg) })
	wg.Wait()
}

// formerRelays starts a formerLoop for each relay the identity moved away
// from, as they appear.
func (e *Engine) formerRelays(ctx context.Context, wg *sync.WaitGroup) {
	running := map[FormerRelay]bool{}
	for {
		if self, err := e.cfg.Host.Self(ctx); err == nil {
			for _, fr := range self.Former {
				if !running[fr] && fr.URL != "" {
					running[fr] = true
					wg.Go(func() { e.formerLoop(ctx, fr) })
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.moved:
		case <-time.After(30 * time.Second):
		}
	}
}

// formerLoop reads the inbox of a relay the identity moved away from:
// pods that have not followed the move yet still deliver there. It first
// tells that relay where the identity lives now (relayclient.Moved). Items are
// processed as addressed to the former identity (private deliveries are
// bound to their recipient), then acknowledged, as the inbound loop does.
// A relay that is gone is retried with backoff, quietly.
func (e *Engine) formerLoop(ctx context.Context, fr FormerRelay) {
	fails := 0
	var after int64
	told := false // the former relay knows where the identity lives now
	for ctx.Err() == nil {
		self, err := e.cfg.Host.Self(ctx)
		var c *relayclient.Client
		if err == nil {
			c, err = relayclient.New(fr.URL, fr.Username, self.Key, e.cfg.Relay)
		}
		if err == nil && !told {
			// Its WebFinger then names the new identity.
			if err = c.Moved(ctx, self.Handle); err == nil {
				told = true
			}
		}
		var page relay.InboxPage
		if err == nil {
			page, err = c.Pull(ctx, after, pageSize, e.cfg.PollWait)
		}
		if err == nil && len(page.Items) > 0 {
			as := self
			as.Handle, as.Username, as.RelayURL = fr.Handle, fr.Username, fr.URL
			host := strings.TrimPrefix(fr.URL, "https://")
			if err = e.Process(ctx, as, host, page.Items); err == nil {
				_, err = c.Ack(ctx, page.Cursor)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Info("federation: former relay", "relay", fr.URL, "err", clipError(err.Error()))
			if !e.backoff(ctx, fails+3) {
				return
			}
			fails = min(fails+1, 8)
			continue
		}
		fails = 0
		if len(page.Items) > 0 {
			after = page.Cursor
		}
	}
}

// client builds the relay client for the identity as it is now.
func (e *Engine) client(ctx context.Context) (*relayclient.Client, Self, error) {
	self, err := e.cfg.Host.Self(ctx)
	if err != nil {
		return nil, Self{}, err
	}
	c, err := relayclient.New(self.RelayURL, self.Username, self.Key, e.cfg.Relay)
	if err != nil {
		return nil, Self{}, err
	}
	if len(self.Devices) > 0 {
		if err := e.putDevices(ctx, c, self); err != nil {
			return nil, Self{}, err
		}
		c.Device = self.Device
	}
	e.update(func(s *Status) {
		s.Relay, s.DiasporaID = self.RelayURL, self.Handle
		if s.State == "off" {
			s.State = "connecting"
		}
	})
	return c, self, nil
}

// putDevices tells the relay the identity's devices when the list (or the
// relay) changed since the last time it was told.
func (e *Engine) putDevices(ctx context.Context, c *relayclient.Client, self Self) error {
	key := self.RelayURL + " " + strings.Join(self.Devices, ",")
	e.devicesMu.Lock()
	defer e.devicesMu.Unlock()
	if e.devicesPut == key {
		return nil
	}
	if _, err := c.PutDevices(ctx, self.Devices); err != nil {
		return fmt.Errorf("tell the relay the devices: %w", err)
	}
	e.devicesPut = key
	return nil
}

// backoff waits before retry n (0-based): Backoff·2^n up to 2 minutes,
// with jitter; false when ctx ended.
func (e *Engine) backoff(ctx context.Context, n int) bool {
	d := e.cfg.Backoff << min(n, 7)
	d = min(d, 2*time.Minute)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (e *Engine) failed(where string, err error) {
	msg := clipError(where + ": " + err.Error())
	e.log.Warn("federation: "+where, "err", msg)
	e.update(func(s *Status) { s.State, s.LastError = "error", msg })
}

// clipError bounds an error's text for the status and the logs: errors
// may quote what a remote server sent.
func clipError(s string) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	if len(s) <= maxErrorText {
		return s
	}
	n := maxErrorText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// maxErrorText is the longest error text the engine keeps.
const maxErrorText = 500

func (e *Engine) contacted() {
	e.update(func(s *Status) { s.State, s.LastContact, s.LastError = "connected", e.cfg.Now().UTC(), "" })
}

// inboundLoop pulls, processes and acknowledges the relay inbox. While a
// page is processed, the next one is already being pulled (without
// waiting: an empty answer sends the loop back to long-polling).
func (e *Engine) inboundLoop(ctx context.Context) {
	type pulled struct {
		page relay.InboxPage
		err  error
	}
	fails := 0
	var after int64
	var relayURL string   // the relay `after` belongs to
	var ahead chan pulled // the pull of the page after `after`, in flight
	drop := func() {
		if ahead != nil {
			<-ahead
			ahead = nil
		}
	}
	defer drop()
	for ctx.Err() == nil {
		c, self, err := e.client(ctx)
		if err != nil {
			drop()
			e.failed("inbox", err)
			if !e.backoff(ctx, fails) {
				return
			}
			fails++
			continue
		}
		if self.RelayURL != relayURL {
			// Moved to another relay: its inbox has cursors of its own
			// (the former one is read by formerLoop).
			drop()
			after, relayURL = 0, self.RelayURL
		}
		var page relay.InboxPage
		if ahead != nil {
			r := <-ahead
			ahead = nil
			page, err = r.page, r.err
		} else {
			page, err = c.Pull(ctx, after, pageSize, e.cfg.PollWait)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.failed("inbox pull", err)
			if !e.backoff(ctx, fails) {
				return
			}
			fails++
			continue
		}
		e.contacted()
		if len(page.Items) == 0 {
			fails = 0
			continue
		}
		ahead = make(chan pulled, 1)
		go func(after int64) {
			p, err := c.Pull(ctx, after, pageSize, 0)
			ahead <- pulled{p, err}
		}(page.Cursor)
		e.update(func(s *Status) { s.InboxBacklog = len(page.Items) })
		host := strings.TrimPrefix(self.RelayURL, "https://")
		if err := e.Process(ctx, self, host, page.Items); err != nil {
			drop()
			if ctx.Err() != nil {
				return
			}
			e.failed("inbox processing", err)
			if !e.backoff(ctx, fails) {
				return
			}
			fails++
			continue // not acknowledged: pulled again
		}
		if _, err := c.Ack(ctx, page.Cursor); err != nil {
			drop()
			if ctx.Err() != nil {
				return
			}
			// Processing is idempotent: a lost ack means the items
			// come again and are skipped.
			e.failed("inbox ack", err)
			if !e.backoff(ctx, fails) {
				return
			}
			fails++
			continue
		}
		e.log.Debug("federation: inbox page stored and acknowledged", "items", len(page.Items), "cursor", page.Cursor)
		after = page.Cursor
		fails = 0
		e.update(func(s *Status) { s.InboxBacklog = 0 })
	}
}

// pageSize is how many inbox items one pull asks for (the relay's most).
const pageSize = 100

// outboundLoop hands pending items to the relay whenever the pod changes
// (and every 30 s, to retry).
func (e *Engine) outboundLoop(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		n, err := e.SendPending(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			e.failed("outbox", err)
			if !e.backoff(ctx, fails) {
				return
			}
			fails++
			continue
		case n > 0:
			fails = 0
			continue // there may be more
		}
		fails = 0
		select {
		case <-ctx.Done():
			return
		case <-e.cfg.Host.Changed():
			// Commits come in bursts (an inbox page, a sync batch):
			// look once they settle rather than after each.
			select {
			case <-ctx.Done():
				return
			case <-time.After(outboundSettle):
			}
		case <-e.wake:
		case <-time.After(30 * time.Second):
		}
	}
}

// outboundSettle is how long the outbox waits after a commit before
// looking for pending changes; short enough that a post leaves at once
// to a person's eye.
const outboundSettle = 50 * time.Millisecond

// RelayP2P is how this device reaches its relay's circuit relay (device
// sync across networks, docs/sync.md); the relay is told the identity's
// devices first, so its ACL admits this one.
func (e *Engine) RelayP2P(ctx context.Context) (relay.P2PInfo, error) {
	c, _, err := e.client(ctx)
	if err != nil {
		return relay.P2PInfo{}, err
	}
	return c.P2P(ctx)
}
