// Package httpclient owns Seedpod's outbound HTTP: it is the only client that
// reaches other pods (relay deliveries now; discovery and fetches later).
//
// It refuses private and special-purpose addresses at dial time, on the
// resolved socket address (so DNS rebinding is covered), ignores proxy
// environment variables, requires TLS 1.2+, bounds every phase with a
// timeout, caps response bodies even when Content-Length lies or is absent,
// and follows redirects only within one origin (or not at all).
//
// It imports only the standard library and must not import other Seedpod
// packages: everything it needs is passed in through Options.
package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

var (
	// ErrTooLarge: a response body is, or declares itself, over MaxBody.
	ErrTooLarge = errors.New("httpclient: response body too large")
	// ErrRedirect: a redirect left the request's origin, or there were
	// more than MaxRedirects.
	ErrRedirect = errors.New("httpclient: redirect refused")
)

// Defaults. Timeout matches diaspora's own 30 s federation timeout; 1 MiB is
// Mastodon's body_with_limit and ample for envelopes, WebFinger and
// hcard documents.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultDialTimeout     = 10 * time.Second
	DefaultMaxBody         = 1 << 20
	DefaultMaxConnsPerHost = 4
	// MaxRedirects is how many same-origin redirects are followed.
	MaxRedirects = 3

	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	maxResponseHeader   = 64 << 10
)

// Options configure a Client. The zero value is a usable production client.
type Options struct {
	Timeout         time.Duration  // whole request including body; default 30 s
	DialTimeout     time.Duration  // TCP connect; default 10 s
	MaxBody         int64          // response body cap; default 1 MiB
	AllowLoopback   bool           // tests only: permits 127.0.0.0/8 and ::1, nothing else private
	RootCAs         *x509.CertPool // nil = system roots; when set, only these are trusted
	UserAgent       string         // default "Seedpod/<Version>"
	Version         string         // default "dev"
	MaxConnsPerHost int            // default 4
	// NoRedirects returns 3xx responses as they are (diaspora deliveries
	// never follow redirects). Otherwise up to MaxRedirects same-origin
	// redirects are followed and any other fails with ErrRedirect.
	NoRedirects bool
	// Lookup replaces DNS resolution; tests only (e.g. evil.example →
	// 127.0.0.1). The dial guard still judges every address it returns.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Client is the hardened outbound client. Safe for concurrent use.
type Client struct {
	hc        *http.Client
	dialer    *net.Dialer
	lookup    func(ctx context.Context, host string) ([]netip.Addr, error)
	maxBody   int64
	userAgent string
}

// New builds a Client from o, filling in defaults.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxConnsPerHost <= 0 {
		o.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.UserAgent == "" {
		o.UserAgent = "Seedpod/" + o.Version
	}
	allowLoopback := o.AllowLoopback
	c := &Client{
		dialer: &net.Dialer{
			Timeout:   o.DialTimeout,
			KeepAlive: 30 * time.Second,
			ControlContext: func(_ context.Context, network, address string, _ syscall.RawConn) error {
				return checkDial(network, address, allowLoopback)
			},
		},
		lookup:    o.Lookup,
		maxBody:   o.MaxBody,
		userAgent: o.UserAgent,
	}
	tr := &http.Transport{
		Proxy:       nil, // never from the environment
		DialContext: c.dial,
		TLSClientConfig: &tls.Config{
			RootCAs:    o.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ResponseHeaderTimeout:  o.Timeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        idleConnTimeout,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    o.MaxConnsPerHost,
		MaxConnsPerHost:        o.MaxConnsPerHost,
		MaxResponseHeaderBytes: maxResponseHeader,
	}
	c.hc = &http.Client{
		Transport:     tr,
		Timeout:       o.Timeout,
		CheckRedirect: checkRedirect(o.NoRedirects),
	}
	return c
}

// HTTP returns the underlying client for callers that need an *http.Client.
// It has the dial guard, timeouts and redirect policy, but not the body cap
// or the User-Agent: prefer Do.
func (c *Client) HTTP() *http.Client { return c.hc }

// dial enforces tcp-only and, with a Lookup hook, resolves through it. The
// address check itself is in the dialer's ControlContext, on the real socket
// address, whichever way the name was resolved.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("%w: network %q", ErrForbiddenAddress, network)
	}
	if c.lookup == nil {
		return c.dialer.DialContext(ctx, network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = c.lookup(ctx, host); err != nil {
		return nil, fmt.Errorf("lookup %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("lookup %s: no addresses", host)
	}
	var errs []error
	for _, ip := range ips {
		conn, err := c.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func checkRedirect(none bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if none {
			return http.ErrUseLastResponse
		}
		if len(via) > MaxRedirects {
			return fmt.Errorf("%w: more than %d redirects", ErrRedirect, MaxRedirects)
		}
		if from := via[0].URL; !sameOrigin(from, req.URL) {
			return fmt.Errorf("%w: %s leaves origin %s", ErrRedirect, req.URL.Redacted(), origin(from))
		}
		return nil
	}
}

// origin is scheme://host:port with the default port made explicit, so
// https://a and https://a:443 are one origin.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

func sameOrigin(a, b *url.URL) bool {
	return origin(a) == origin(b) // url.Parse lower-cases the scheme; hosts compared as written
}

// Do sends req. The response body is capped at MaxBody: reading past it
// fails with ErrTooLarge whatever Content-Length said, and a declared
// Content-Length over MaxBody fails here, before any body is read. A
// non-nil response comes only with a nil error. Do sets User-Agent unless
// req has one, without modifying req.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if s := req.URL.Scheme; s != "https" && s != "http" {
		return nil, fmt.Errorf("httpclient: scheme %q not allowed", s)
	}
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if resp != nil && resp.Body != nil { // CheckRedirect failure: body already closed
			resp.Body.Close()
		}
		return nil, err
	}
	if resp.ContentLength > c.maxBody && req.Method != http.MethodHead {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s declares %d bytes, limit %d", ErrTooLarge, req.URL.Redacted(), resp.ContentLength, c.maxBody)
	}
	resp.Body = &cappedBody{rc: resp.Body, left: c.maxBody, max: c.maxBody}
	return resp, nil
}

// ReadBody reads resp's body to the end (at most MaxBody) and closes it.
// Reading to EOF lets the connection be reused.
func (c *Client) ReadBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(&cappedBody{rc: resp.Body, left: c.maxBody, max: c.maxBody})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// PostBody POSTs body and returns the status, header and body (at most
// MaxBody) of the response. status and header are set whenever a response
// arrived, even if reading its body then failed.
func (c *Client) PostBody(ctx context.Context, url, contentType string, body []byte) (status int, header http.Header, respBody []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	return c.roundTrip(req)
}

// Get GETs url with the given Accept header ("" for none) and returns as
// PostBody does.
func (c *Client) Get(ctx context.Context, url, accept string) (status int, header http.Header, respBody []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return c.roundTrip(req)
}

func (c *Client) roundTrip(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	b, err := c.ReadBody(resp)
	return resp.StatusCode, resp.Header, b, err
}

// cappedBody fails with ErrTooLarge once more than max bytes arrive. It
// reads at most one byte past the cap, so a huge body costs max+1 bytes.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
	err  error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = 0
		b.err = fmt.Errorf("%w: body exceeds %d bytes", ErrTooLarge, b.max)
		return n, b.err
	}
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
