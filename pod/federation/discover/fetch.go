package discover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/id"
)

// fetchTypeRE is a snake_case entity name ("post", "status_message"); 64
// characters is far beyond the longest diaspora type.
var fetchTypeRE = regexp.MustCompile(`^[a-z]+(?:_[a-z]+)*$`)

const maxFetchType = 64

// Fetch GETs https://<host>/fetch/<typ>/<guid> and returns the body of a 200
// answer that envelope.Parse accepts: the magic envelope, not verified (the
// caller verifies the signature, the author and the type and GUID inside,
// §12 #3). host is host[:port]. It follows up to 4 redirects, each to https
// and to exactly /fetch/<typ>/<guid> on any host (diaspora redirects to the
// author's pod); every hop is a new request through the guarded client.
// Concurrent fetches of the same (host, typ, guid) share one request; each
// caller gets its own copy of the bytes.
func (d *Discoverer) Fetch(ctx context.Context, host, typ, guid string) ([]byte, error) {
	hp, err := canonHost(host)
	if err != nil {
		return nil, fmt.Errorf("fetch %s/%s from %q: %w: %w", typ, guid, host, ErrInvalid, err)
	}
	if len(typ) > maxFetchType || !fetchTypeRE.MatchString(typ) {
		return nil, fmt.Errorf("fetch from %s: %w: type %q is not a snake_case entity name", hp, ErrInvalid, typ)
	}
	if err := id.CheckGUID(guid); err != nil {
		return nil, fmt.Errorf("fetch %s from %s: %w: %w", typ, hp, ErrInvalid, err)
	}
	doc, err := d.fetches.do(ctx, fetchKey(hp, typ, guid), func(ctx context.Context) ([]byte, error) {
		return d.fetch(ctx, hp, typ, guid)
	})
	if err != nil {
		return nil, fmt.Errorf("fetch https://%s/fetch/%s/%s: %w", hp, typ, guid, err)
	}
	return bytes.Clone(doc), nil
}

// fetchKey names a fetch in the flight table; none of the three parts
// holds a space.
func fetchKey(hp, typ, guid string) string { return hp + " " + typ + " " + guid }

func (d *Discoverer) fetch(ctx context.Context, hp, typ, guid string) ([]byte, error) {
	path := "/fetch/" + typ + "/" + guid
	u := "https://" + hp + path
	doc, err := d.get(ctx, u, acceptEnvelope, fetchRedirect(path))
	if err != nil {
		return nil, err
	}
	if _, err := envelope.Parse(doc); err != nil {
		return nil, fmt.Errorf("%w: not a magic envelope: %w", ErrInvalid, err)
	}
	return doc, nil
}

// fetchRedirect allows a redirect to https://<any host>/fetch/<typ>/<guid>
// and nothing else (no other path, no query, no userinfo). The next request
// is rebuilt from the host alone.
func fetchRedirect(path string) redirectRule {
	return func(to *url.URL) (*url.URL, error) {
		if to.Scheme != "https" {
			return nil, fmt.Errorf("scheme %q is not https", to.Scheme)
		}
		if to.User != nil || to.Opaque != "" {
			return nil, errors.New("userinfo or opaque URL")
		}
		if to.Path != path || (to.RawPath != "" && to.RawPath != path) || to.RawQuery != "" || to.ForceQuery {
			return nil, fmt.Errorf("not %s", path)
		}
		h, err := canonHost(to.Host)
		if err != nil {
			return nil, err
		}
		return &url.URL{Scheme: "https", Host: h, Path: path}, nil
	}
}
