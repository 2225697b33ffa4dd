package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"seedpod/pod/httpclient"
)

// redirectRule judges a redirect target (already resolved against the URL
// that answered) and returns the URL to request next.
type redirectRule func(to *url.URL) (*url.URL, error)

// drainLimit is how much of an unwanted body (a redirect's, an error
// page's) is read so the connection can be reused; beyond it, it is closed.
const drainLimit = 4 << 10

// get GETs raw through the guarded client and returns the body of a 200
// answer (at most the client's body cap). It follows up to maxRedirects
// redirects, each approved by next and each a new request through the
// client (so the dial guard judges every hop). 404 and 410 are ErrNotFound;
// an oversized body or a refused redirect is ErrInvalid; any other status
// is a plain error. Every error names the URL.
func (d *Discoverer) get(ctx context.Context, raw, accept string, next redirectRule) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: url %q: %w", ErrInvalid, raw, err)
	}
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("%w: GET %s: %w", ErrInvalid, u.Redacted(), err)
		}
		req.Header.Set("Accept", accept)
		resp, err := d.client.Do(req)
		if err != nil {
			if errors.Is(err, httpclient.ErrTooLarge) {
				return nil, fmt.Errorf("%w: GET %s: %w", ErrInvalid, u.Redacted(), err)
			}
			return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			body, err := d.client.ReadBody(resp)
			if errors.Is(err, httpclient.ErrTooLarge) {
				return nil, fmt.Errorf("%w: GET %s: %w", ErrInvalid, u.Redacted(), err)
			}
			if err != nil {
				return nil, fmt.Errorf("GET %s: reading the body: %w", u.Redacted(), err)
			}
			return body, nil
		case http.StatusNotFound, http.StatusGone:
			drain(resp)
			return nil, fmt.Errorf("%w: GET %s: %s", ErrNotFound, u.Redacted(), resp.Status)
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
			http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc := resp.Header.Get("Location")
			drain(resp)
			if hop >= maxRedirects {
				return nil, fmt.Errorf("%w: GET %s: more than %d redirects", ErrInvalid, u.Redacted(), maxRedirects)
			}
			if loc == "" {
				return nil, fmt.Errorf("%w: GET %s: %s without Location", ErrInvalid, u.Redacted(), resp.Status)
			}
			to, err := u.Parse(loc)
			if err != nil {
				return nil, fmt.Errorf("%w: GET %s: redirect to %q: %w", ErrInvalid, u.Redacted(), loc, err)
			}
			nu, err := next(to)
			if err != nil {
				return nil, fmt.Errorf("%w: GET %s: redirect to %q refused: %w", ErrInvalid, u.Redacted(), loc, err)
			}
			d.log.DebugContext(ctx, "discover: following redirect", "from", u.Redacted(), "to", nu.Redacted())
			u = nu
		default:
			drain(resp)
			return nil, fmt.Errorf("GET %s: unexpected status %s", u.Redacted(), resp.Status)
		}
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	_ = resp.Body.Close()
}

// sameHostRedirect allows discovery redirects that stay on https and on the
// person's host (the path may change: /.well-known/webfinger → /webfinger).
func sameHostRedirect(home string) redirectRule {
	return func(to *url.URL) (*url.URL, error) {
		if err := checkSameHost(to, home); err != nil {
			return nil, err
		}
		return to, nil
	}
}
