// Package relayclient owns the device side of the relay's owner API: the
// calls a Seedpod device makes to the relay that hosts its identity
// (enrolment, inbox pull and acknowledgement, outbox hand-over and delivery
// status, publishing pre-signed public entities, profile, media, account
// deletion). Every request is signed with the identity key (pod/relay/ownerauth),
// request bodies are kept within the relay's caps (large hand-overs and
// publishes are split into requests the relay accepts), and every response
// is read through pod/httpclient's body cap.
//
// The wire types are pod/relay's own (relay.OutboxItem, relay.InboxPage, …);
// this package defines none of its own. It imports pod/relay, its ownerauth
// and public packages, pod/httpclient and pod/diaspora/keys. It must not import
// package pod, the database (pod/store) or pod/web: it is called by the
// federation engine and knows nothing of what the items mean.
package relayclient

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"seedpod/pod/httpclient"
	"seedpod/pod/relay"
	"seedpod/pod/relay/ownerauth"
)

// The relay's caps, mirrored from pod/relay (where they are unexported).
// The client never sends a request over them; TestLimitsMatchRelay fails when
// a relay constant drifts away from its mirror here.
const (
	// MaxOutboxItems is the relay's maxOutboxItems: items per hand-over
	// request (more are 422).
	MaxOutboxItems = 100
	// MaxOutboxBody is the relay's maxOutboxBody: bytes of one hand-over
	// request body, the JSON with every item's body in base64 (more are 413).
	MaxOutboxBody = 8 << 20
	// MaxPublishItems is the relay's maxPublishItems: items per publish
	// request.
	MaxPublishItems = 50
	// MaxPublishBody is the relay's maxPublishBody: bytes of one publish
	// request body.
	MaxPublishBody = 8 << 20
	// MaxOwnerBody is the relay's maxOwnerBody: the cap on every other owner
	// request body (enrolment, acknowledgement, profile).
	MaxOwnerBody = 256 << 10
	// MaxMediaBody is the relay's maxMediaBody: bytes of one media upload.
	MaxMediaBody = 10 << 20
	// MaxPullItems is the relay's maxPullItems: a larger Pull limit is
	// lowered to it (by the relay and by Pull).
	MaxPullItems = 100
	// MaxWait is the relay's maxWait: the longest long poll.
	MaxWait = 30 * time.Second
)

// What the guarded HTTP client must allow for the owner API; HTTPOptions
// applies them.
const (
	// MinTimeout outlasts a MaxWait long poll and leaves time to move a
	// full inbox page or a MaxMediaBody upload over a slow link (10 MiB at
	// 1 Mbit/s is 84 s).
	MinTimeout = MaxWait + 90*time.Second
	// MinMaxBody holds the largest inbox page: the relay puts at most
	// 8 MiB of item bodies in one page (maxPullBytes), which base64 makes
	// 10⅔ MiB, plus at most MaxPullItems items' JSON around them.
	MinMaxBody = 12 << 20
)

// maxRetryAfter bounds a Retry-After the relay sends: a broken or hostile
// header cannot park a device for days.
const maxRetryAfter = 24 * time.Hour

// HTTPOptions returns o with a Timeout of at least MinTimeout and a MaxBody
// of at least MinMaxBody: a client built from it can wait out a long poll and
// read a full inbox page. Callers build the httpclient they pass to New
// from it.
func HTTPOptions(o httpclient.Options) httpclient.Options {
	o.Timeout = max(o.Timeout, MinTimeout)
	o.MaxBody = max(o.MaxBody, MinMaxBody)
	return o
}

// Client talks to one relay as one identity. It is safe for concurrent use.
type Client struct {
	// Now is the clock requests are signed with; nil means time.Now. Set
	// it before the first request.
	Now func() time.Time
	// Device, when set, is this device's key (64 lowercase hex digits):
	// inbox pulls and acknowledgements then use the device's own cursor
	// (PutDevices lists the identity's devices). Set it before the first
	// request.
	Device string

	origin   string // "https://host[:port]", lowercase
	username string
	key      *rsa.PrivateKey
	http     *httpclient.Client
	// offset is added to Now when signing (nanoseconds): learnt from the
	// relay's Date header when it refused a request as expired.
	offset atomic.Int64
}

// New returns a client for the relay at base ("https://alice.example" or
// "https://alice.example:40123": an https origin, with no path beyond "/",
// no query, fragment or user info), acting as username with key. http is
// the guarded client; build it with HTTPOptions so that long polls and full
// inbox pages fit.
func New(base, username string, key *rsa.PrivateKey, http *httpclient.Client) (*Client, error) {
	origin, err := checkBase(base)
	if err != nil {
		return nil, err
	}
	if !validUsername(username) {
		return nil, fmt.Errorf("%w: username %q: 1–32 of a-z 0-9 _ . -, starting and ending with a letter or digit", ErrInvalid, clip(username))
	}
	if key == nil {
		return nil, fmt.Errorf("%w: no identity key for %s", ErrInvalid, username)
	}
	if http == nil {
		return nil, fmt.Errorf("%w: no HTTP client", ErrInvalid)
	}
	return &Client{origin: origin, username: username, key: key, http: http}, nil
}

// Base is the relay's origin as the client uses it.
func (c *Client) Base() string { return c.origin }

// ClockOffset is what the client adds to its clock when signing: zero until
// the relay refused a request as outside its clock skew, then the
// difference between the relay's Date and this device's clock.
func (c *Client) ClockOffset() time.Duration { return time.Duration(c.offset.Load()) }

// checkBase validates a relay origin and returns it normalised
// ("https://" + lowercase host[:port]).
func checkBase(base string) (string, error) {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: relay base %q: %v", ErrInvalid, clip(base), err)
	case u.Scheme != "https":
		return "", fmt.Errorf("%w: relay base %q: the scheme must be https", ErrInvalid, clip(base))
	case u.Opaque != "" || u.Host == "":
		return "", fmt.Errorf("%w: relay base %q: no host", ErrInvalid, clip(base))
	case u.User != nil:
		return "", fmt.Errorf("%w: relay base %q: user info is not allowed", ErrInvalid, clip(base))
	case u.Path != "" && u.Path != "/", u.RawPath != "":
		return "", fmt.Errorf("%w: relay base %q: a path is not allowed (the owner API lives at %s)", ErrInvalid, clip(base), relay.OwnerPrefix)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("%w: relay base %q: a query is not allowed", ErrInvalid, clip(base))
	case u.Fragment != "" || strings.Contains(base, "#"):
		return "", fmt.Errorf("%w: relay base %q: a fragment is not allowed", ErrInvalid, clip(base))
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.ContainsRune(u.Host, '%') {
		return "", fmt.Errorf("%w: relay base %q: no usable host", ErrInvalid, clip(base))
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 0x80 || c <= ' ' {
			return "", fmt.Errorf("%w: relay base %q: the host must be ASCII (punycode for international names)", ErrInvalid, clip(base))
		}
	}
	hostport := host
	if strings.Contains(host, ":") { // an IPv6 literal
		hostport = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return "", fmt.Errorf("%w: relay base %q: port %q", ErrInvalid, clip(base), p)
		}
		hostport = net.JoinHostPort(host, p)
	} else if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("%w: relay base %q: empty port", ErrInvalid, clip(base))
	}
	return "https://" + hostport, nil
}

// validUsername is the relay's rule (relay.validUsername): 1–32 of
// [a-z0-9_.-], starting and ending with a letter or digit.
func validUsername(s string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if len(s) == 0 || len(s) > 32 || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// now is the signing clock: Now plus the learnt offset.
func (c *Client) now() time.Time {
	return c.clock().Add(c.ClockOffset())
}

func (c *Client) clock() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// request is one owner API call.
type request struct {
	method string
	path   string     // below relay.OwnerPrefix, e.g. "/inbox"
	query  url.Values // nil for none
	ctype  string     // the body's Content-Type; "" for none
	body   []byte
	limit  int   // the relay's cap on this route's body
	ok     []int // the success statuses
	out    any   // the JSON answer is decoded into it (nil: ignored)
}

// do signs and sends r, retrying once (with a fresh signature) when the
// relay refused it as expired and told its time in Date. Errors say which
// call failed: an *APIError for an answer that is not a success, a
// transport error, or ErrTooLarge / ErrInvalid for what was never sent.
func (c *Client) do(ctx context.Context, r request) error {
	what := r.method + " " + relay.OwnerPrefix + r.path
	if len(r.body) > r.limit {
		return fmt.Errorf("%s: %w: body of %d bytes, the relay takes at most %d", what, ErrTooLarge, len(r.body), r.limit)
	}
	target := c.origin + relay.OwnerPrefix + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		status, header, body, err := c.roundTrip(ctx, r, target)
		if err != nil {
			return fmt.Errorf("%s: %w", what, clippedError{err})
		}
		for _, ok := range r.ok {
			if status != ok {
				continue
			}
			if r.out != nil {
				if err := json.Unmarshal(body, r.out); err != nil {
					// Not %w: the decoder quotes the offending literal,
					// which the relay controls (up to the body cap).
					return fmt.Errorf("%s: %w: the relay's %d answer is not the expected JSON: %s", what, ErrBadAnswer,
						status, clipText(err.Error(), 200))
				}
			}
			return nil
		}
		ae := newAPIError(status, header, body, c.clock())
		if attempt == 0 && ae.Status == http.StatusUnauthorized && ae.Code == "expired" && c.learnOffset(header) {
			continue // signed again with the relay's time
		}
		return fmt.Errorf("%s: %w", what, ae)
	}
}

// roundTrip sends one signed request and reads the answer through the
// httpclient's cap.
func (c *Client) roundTrip(ctx context.Context, r request, target string) (int, http.Header, []byte, error) {
	// A bytes.Reader lets net/http set Content-Length and GetBody (to
	// resend on a fresh connection); an empty one is http.NoBody.
	req, err := http.NewRequestWithContext(ctx, r.method, target, bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	req.Header.Set("Accept", "application/json")
	if err := ownerauth.Sign(req, r.body, c.username, c.key, c.now()); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, &transportError{err}
	}
	body, err := c.http.ReadBody(resp)
	if err != nil {
		return 0, nil, nil, &transportError{fmt.Errorf("read the %d answer: %w", resp.StatusCode, err)}
	}
	return resp.StatusCode, resp.Header, body, nil
}

// learnOffset sets the clock offset from a response's Date header and
// reports whether there was one to learn.
func (c *Client) learnOffset(h http.Header) bool {
	d, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return false
	}
	c.offset.Store(int64(d.Sub(c.clock())))
	return true
}

// jsonBody marshals v; the relay types always marshal.
func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("relayclient: marshal %T: %v", v, err))
	}
	return b
}
