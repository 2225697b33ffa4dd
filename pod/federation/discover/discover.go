// Package discover owns the federation engine's outbound reads: discovering
// a diaspora* person (WebFinger JRD, the legacy host-meta → XRD path, then
// the hCard; PROTOCOL.md §2.4) and fetching a public entity's magic envelope
// from /fetch/:type/:guid (§8.1). It applies the trust rules of §12 around
// the pure parsers of pod/diaspora/discovery: https only, every discovery
// URL on the person's own host, the document's ID equal to the one asked
// for, keys of at least 2048 bits, redirects followed by hand and only where
// the protocol sends them, and concurrent identical requests shared.
//
// All HTTP goes through pod/httpclient (the dial-time address guard, body
// caps, timeouts). It must not import net/http clients of its own, the
// database (it returns store.PersonRecord values and stores nothing), the
// pod's use cases (package pod) or the relay.
package discover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/diaspora/id"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/httpclient"
	"seedpod/pod/store"
)

var (
	// ErrNotFound: the server answered 404 or 410, or has no such person.
	ErrNotFound = errors.New("discover: not found")
	// ErrInvalid: a malformed or oversized document, a document about
	// another ID, a bad or short key, or a URL or redirect we refuse.
	ErrInvalid = errors.New("discover: invalid answer")
)

// MinKeyBits is the smallest person key accepted. diaspora* has generated
// 4096-bit keys for a decade; pod/diaspora/keys still verifies 1024-bit
// ones (old vectors), but a key discovered now is pinned for good (§2.4
// step 5), so a weak one is refused here.
const MinKeyBits = 2048

// maxRedirects is how many redirects one request follows: diaspora's
// Faraday client follows 4 (§2.1, §8.1).
const maxRedirects = 4

// Accept headers, as diaspora sends them where it sends one.
const (
	acceptJRD      = "application/jrd+json, application/json;q=0.9"
	acceptXRD      = "application/xrd+xml, application/xml;q=0.9"
	acceptHTML     = "text/html"
	acceptEnvelope = "application/magic-envelope+xml"
)

// Options configure a Discoverer.
type Options struct {
	// Client is the guarded outbound client. It must be built with
	// NoRedirects: true — the Discoverer follows redirects itself, with
	// the protocol's rules; a client that follows them on its own would
	// bypass those. nil: a production client with NoRedirects.
	Client *httpclient.Client
	Now    func() time.Time // default time.Now
	Log    *slog.Logger     // default: discard
}

// Discoverer resolves people and fetches entities. Safe for concurrent use;
// the zero value is not usable, call New.
type Discoverer struct {
	client  *httpclient.Client
	now     func() time.Time
	log     *slog.Logger
	persons flight[store.PersonRecord]
	fetches flight[[]byte]
}

// New builds a Discoverer from o, filling in defaults.
func New(o Options) *Discoverer {
	if o.Client == nil {
		o.Client = httpclient.New(httpclient.Options{NoRedirects: true})
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Discoverer{client: o.Client, now: o.Now, log: o.Log}
}

// Person resolves a diaspora ID to the record the pod stores: WebFinger
// (JRD; on a 404 or a non-JRD answer the legacy host-meta → XRD path), then
// the hCard. The WebFinger document must be about exactly this ID, its
// seed_location and hcard links must be https URLs on the ID's own host, and
// the hCard's key must parse and have at least MinKeyBits. Avatars that are
// not absolute https URLs are dropped. Concurrent calls for one ID share one
// lookup; each caller may still leave early through its own ctx.
func (d *Discoverer) Person(ctx context.Context, diasporaID string) (store.PersonRecord, error) {
	did, err := id.Normalize(diasporaID)
	if err != nil {
		return store.PersonRecord{}, fmt.Errorf("discover %q: %w: %w", diasporaID, ErrInvalid, err)
	}
	rec, err := d.persons.do(ctx, did, func(ctx context.Context) (store.PersonRecord, error) {
		return d.person(ctx, did)
	})
	if err != nil {
		return store.PersonRecord{}, fmt.Errorf("discover %s: %w", did, err)
	}
	return rec, nil
}

// person is one uncached lookup of a normalised ID.
func (d *Discoverer) person(ctx context.Context, did string) (store.PersonRecord, error) {
	_, hostport := id.Split(did)
	home, err := canonHost(hostport)
	if err != nil {
		return store.PersonRecord{}, fmt.Errorf("%w: host %q: %w", ErrInvalid, hostport, err)
	}
	wf, err := d.webFinger(ctx, did, home)
	if err != nil {
		return store.PersonRecord{}, err
	}
	if _, err := onHost("seed_location", wf.SeedURL, home); err != nil {
		return store.PersonRecord{}, err
	}
	hcURL, err := onHost("hcard", wf.HCardURL, home)
	if err != nil {
		return store.PersonRecord{}, err
	}
	body, err := d.get(ctx, hcURL, acceptHTML, sameHostRedirect(home))
	if err != nil {
		return store.PersonRecord{}, err
	}
	hc, err := discovery.ParseHCard(body)
	if err != nil {
		return store.PersonRecord{}, fmt.Errorf("%w: hcard %s: %w", ErrInvalid, hcURL, err)
	}
	if n := hc.PublicKey.N.BitLen(); n < MinKeyBits {
		return store.PersonRecord{}, fmt.Errorf("%w: hcard %s: %d-bit key (at least %d)", ErrInvalid, hcURL, n, MinKeyBits)
	}
	rec := store.PersonRecord{
		GUID:         hc.GUID,
		DiasporaID:   did,
		PublicKey:    string(keys.MarshalPublic(hc.PublicKey)),
		FirstName:    hc.FirstName,
		LastName:     hc.LastName,
		AvatarLarge:  avatar(hc.PhotoLarge),
		AvatarMedium: avatar(hc.PhotoMedium),
		AvatarSmall:  avatar(hc.PhotoSmall),
		Searchable:   hc.Searchable,
		FetchedAt:    d.now().UnixMilli(),
	}
	if rec.FirstName == "" && rec.LastName == "" {
		// Software other than diaspora may fill only .fn; keep the name.
		rec.FirstName = hc.FullName
	}
	return rec, nil
}

// errNoLegacy: the pod offers no legacy discovery (no host-meta, or one
// without an lrdd link, as diaspora ≥ 0.9 serves).
var errNoLegacy = errors.New("no legacy discovery")

// webFinger gets the person's WebFinger document: JRD first, and the
// legacy XRD when the JRD endpoint answers 404 or something that is not
// JSON. A JRD about another ID, or with bad links, is final.
func (d *Discoverer) webFinger(ctx context.Context, did, home string) (*discovery.WebFinger, error) {
	u := "https://" + home + "/.well-known/webfinger?resource=acct:" + queryEscape(did)
	body, err := d.get(ctx, u, acceptJRD, sameHostRedirect(home))
	if err == nil {
		wf, perr := discovery.ParseJRD(body, did)
		if perr == nil {
			return wf, nil
		}
		if !errors.Is(perr, discovery.ErrMalformed) {
			return nil, fmt.Errorf("%w: webfinger %s: %w", ErrInvalid, u, perr)
		}
		err = fmt.Errorf("%w: webfinger %s: %w", ErrInvalid, u, perr)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	d.log.DebugContext(ctx, "discover: trying legacy webfinger", "id", did, "jrd_err", err)
	wf, lerr := d.legacy(ctx, did, home)
	switch {
	case lerr == nil:
		return wf, nil
	case errors.Is(lerr, errNoLegacy):
		return nil, err // what the JRD endpoint said is the better answer
	default:
		return nil, lerr
	}
}

// legacy is the host-meta → lrdd template → XRD path (§2.2).
func (d *Discoverer) legacy(ctx context.Context, did, home string) (*discovery.WebFinger, error) {
	hm := "https://" + home + "/.well-known/host-meta"
	body, err := d.get(ctx, hm, acceptXRD, sameHostRedirect(home))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", errNoLegacy, err)
	}
	if err != nil {
		return nil, err
	}
	tmpl, err := discovery.ParseHostMeta(body)
	if err != nil {
		return nil, fmt.Errorf("%w: host-meta %s: %w", errNoLegacy, hm, err)
	}
	xrdURL, err := onHost("lrdd template", discovery.ExpandLRDD(tmpl, queryEscape(did)), home)
	if err != nil {
		return nil, err
	}
	body, err = d.get(ctx, xrdURL, acceptXRD, sameHostRedirect(home))
	if err != nil {
		return nil, err
	}
	wf, err := discovery.ParseXRD(body, did)
	if err != nil {
		return nil, fmt.Errorf("%w: xrd %s: %w", ErrInvalid, xrdURL, err)
	}
	return wf, nil
}

// avatar keeps an absolute https URL with a host and no userinfo, and drops
// anything else (root-relative defaults, http, other schemes).
func avatar(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return raw
}

// canonHost returns host[:port] in the form diaspora IDs use (lowercase,
// punycode, no trailing dot, canonical port), with the default https port
// dropped, so that "Bob.Test:443" and "bob.test" compare equal.
func canonHost(hostport string) (string, error) {
	if hostport == "" || strings.ContainsAny(hostport, "@/?#") {
		return "", fmt.Errorf("host %q is not host[:port]", hostport)
	}
	n, err := id.Normalize("x@" + hostport)
	if err != nil {
		return "", err
	}
	_, hp := id.Split(n)
	return strings.TrimSuffix(hp, ":443"), nil
}

// onHost parses a URL a document gave us and requires https, no userinfo,
// and the host home; it returns the URL to request.
func onHost(field, raw, home string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s %q: %w", ErrInvalid, field, raw, err)
	}
	if err := checkSameHost(u, home); err != nil {
		return "", fmt.Errorf("%w: %s %q: %w", ErrInvalid, field, raw, err)
	}
	return u.String(), nil
}

// checkSameHost: https, a host equal to home, no userinfo.
func checkSameHost(u *url.URL, home string) error {
	if u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not https", u.Scheme)
	}
	if u.User != nil || u.Opaque != "" {
		return errors.New("userinfo or opaque URL")
	}
	h, err := canonHost(u.Host)
	if err != nil {
		return err
	}
	if h != home {
		return fmt.Errorf("host %s is not the person's host %s", h, home)
	}
	return nil
}

// queryEscape percent-encodes what may not stand in a query as is, keeping
// ':' and '@' readable as diaspora sends them ("resource=acct:bob@host").
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '@' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
