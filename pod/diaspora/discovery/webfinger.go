package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"seedpod/pod/diaspora/id"
)

// Link relations of the WebFinger documents (PROTOCOL.md §2.1 table).
const (
	RelHCard        = "http://microformats.org/profile/hcard"
	RelSeedLocation = "http://joindiaspora.com/seed_location"
	RelProfilePage  = "http://webfinger.net/rel/profile-page"
	RelUpdatesFrom  = "http://schemas.google.com/g/2010#updates-from"
	RelSalmon       = "salmon"
	RelSubscribe    = "http://ostatus.org/schema/1.0/subscribe"
	RelOpenIDIssuer = "http://openid.net/specs/connect/1.0/issuer"
)

// Link is one WebFinger link, in the attribute order the reference emits.
type Link struct {
	Rel      string `json:"rel"`
	Type     string `json:"type,omitempty"`
	Href     string `json:"href,omitempty"`
	Template string `json:"template,omitempty"`
}

// WebFinger is an account's WebFinger document, the input of JRD and XRD
// and the result of ParseJRD and ParseXRD. Every URL a parser returns has
// been validated: http(s), a host, no userinfo.
type WebFinger struct {
	ID                string   // normalised diaspora ID; the subject is "acct:"+ID
	Aliases           []string // diaspora: https://pod/people/<guid>
	HCardURL          string   // required; host and path
	SeedURL           string   // required; the pod (only scheme/host/port count)
	ProfileURL        string   // optional
	AtomURL           string   // optional
	SalmonURL         string   // optional; informational only
	SubscribeTemplate string   // optional; holds "{uri}"
	// Extra holds links with other relations, emitted after the standard
	// ones (diaspora adds the OpenID Connect issuer). A parser keeps only
	// those whose href/template validate; it drops the rest.
	Extra []Link
}

// ForAccount builds the WebFinger document diaspora serves for a local
// account: pod is the pod's base URL (no path), diasporaID the account's ID
// (user@host), guid its person GUID.
func ForAccount(pod, diasporaID, guid string) (*WebFinger, error) {
	base, err := podBase(pod)
	if err != nil {
		return nil, err
	}
	n, err := id.Normalize(diasporaID)
	if err != nil {
		return nil, fmt.Errorf("%w: id: %w", ErrInvalid, err)
	}
	if !id.ValidGUID(guid) {
		return nil, invalid("guid", guid, "not a valid GUID")
	}
	user, _ := id.Split(n)
	u := url.PathEscape(user)
	return &WebFinger{
		ID:                n,
		Aliases:           []string{base + "/people/" + guid},
		HCardURL:          base + "/hcard/users/" + guid,
		SeedURL:           base + "/",
		ProfileURL:        base + "/u/" + u,
		AtomURL:           base + "/public/" + u + ".atom",
		SalmonURL:         base + "/receive/users/" + guid,
		SubscribeTemplate: base + "/people?q={uri}",
	}, nil
}

// PodURL returns the person's pod as scheme://host[:port], taken from the
// seed location; every later URL for the person is built from it (§2.1).
func (w *WebFinger) PodURL() (string, error) {
	if err := checkHTTPURL("seed_location", w.SeedURL, false); err != nil {
		return "", err
	}
	u, _ := url.Parse(w.SeedURL)
	return u.Scheme + "://" + u.Host, nil
}

// links returns the links in the order diaspora emits them.
func (w *WebFinger) links() []Link {
	var ls []Link
	add := func(l Link) {
		if l.Href != "" || l.Template != "" {
			ls = append(ls, l)
		}
	}
	add(Link{Rel: RelHCard, Type: "text/html", Href: w.HCardURL})
	add(Link{Rel: RelSeedLocation, Type: "text/html", Href: w.SeedURL})
	add(Link{Rel: RelProfilePage, Type: "text/html", Href: w.ProfileURL})
	add(Link{Rel: RelUpdatesFrom, Type: "application/atom+xml", Href: w.AtomURL})
	add(Link{Rel: RelSalmon, Href: w.SalmonURL})
	add(Link{Rel: RelSubscribe, Template: w.SubscribeTemplate})
	return append(ls, w.Extra...)
}

// validate checks a document before it is emitted: the same rules a parser
// applies, so what we serve is what we would accept.
func (w *WebFinger) validate() error {
	if !id.Valid(w.ID) {
		return invalid("subject", w.ID, "not a normalised diaspora ID")
	}
	if len(w.Aliases) > maxAliases || len(w.links()) > maxLinks {
		return fmt.Errorf("%w: too many aliases or links", ErrInvalid)
	}
	for _, a := range w.Aliases {
		if err := checkHTTPURL("alias", a, false); err != nil {
			return err
		}
	}
	if err := w.checkLinks(); err != nil {
		return err
	}
	for _, l := range w.Extra {
		if err := checkExtra(l); err != nil {
			return err
		}
		if isStandardRel(l.Rel) {
			return invalid("link rel", l.Rel, "standard relation in Extra")
		}
	}
	return nil
}

func (w *WebFinger) checkLinks() error {
	if err := checkHTTPURL("hcard_url", w.HCardURL, true); err != nil {
		return err
	}
	if err := checkHTTPURL("seed_location", w.SeedURL, false); err != nil {
		return err
	}
	for _, o := range []struct{ field, v string }{
		{"profile-page", w.ProfileURL}, {"updates-from", w.AtomURL}, {"salmon", w.SalmonURL},
	} {
		if o.v != "" {
			if err := checkHTTPURL(o.field, o.v, true); err != nil {
				return err
			}
		}
	}
	if w.SubscribeTemplate != "" {
		if err := checkTemplate("subscribe template", w.SubscribeTemplate); err != nil {
			return err
		}
	}
	return nil
}

func isStandardRel(rel string) bool {
	switch rel {
	case RelHCard, RelSeedLocation, RelProfilePage, RelUpdatesFrom, RelSalmon, RelSubscribe:
		return true
	}
	return false
}

func checkExtra(l Link) error {
	if l.Rel == "" {
		return invalid("link rel", "", "missing")
	}
	if l.Href == "" && l.Template == "" {
		return invalid("link "+l.Rel, "", "no href or template")
	}
	if l.Href != "" {
		if err := checkHTTPURL("link "+l.Rel, l.Href, false); err != nil {
			return err
		}
	}
	if l.Template != "" {
		if err := checkTemplate("link "+l.Rel, l.Template); err != nil {
			return err
		}
	}
	return nil
}

type jrd struct {
	Subject string   `json:"subject"`
	Aliases []string `json:"aliases,omitempty"`
	Links   []Link   `json:"links"`
}

// JRD returns the document as application/jrd+json, byte for byte what the
// reference emits (pretty-printed, two-space indent, a final newline).
func (w *WebFinger) JRD() ([]byte, error) {
	if err := w.validate(); err != nil {
		return nil, err
	}
	return marshalJSON(jrd{Subject: "acct:" + w.ID, Aliases: w.Aliases, Links: w.links()}, true)
}

// marshalJSON encodes like Ruby's JSON generator: no HTML escaping, and
// with indent like JSON.pretty_generate; a final newline either way.
func marshalJSON(v any, indent bool) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return b.Bytes(), nil
}

// rawWebFinger is what both the JRD and XRD readers extract; fromRaw applies
// the reference's reading rules and our validation to it.
type rawWebFinger struct {
	subject    string
	hasSubject bool
	aliases    []string
	links      []Link
}

// ParseJRD reads a JRD WebFinger document fetched for askedID. It fails with
// ErrSubjectMismatch unless the subject (trimmed, without acct:, lowercased)
// is askedID, and with ErrInvalid unless the hcard (host and path) and
// seed_location (host) links are present; optional links must be valid
// when present. The first link of each relation wins, as in the reference.
// Aliases that are not http(s) URLs and invalid extra links are dropped.
func ParseJRD(doc []byte, askedID string) (*WebFinger, error) {
	if err := checkSize(doc); err != nil {
		return nil, err
	}
	var d struct {
		Subject *string  `json:"subject"`
		Aliases []string `json:"aliases"`
		Links   []Link   `json:"links"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("%w: JRD: %v", ErrMalformed, err)
	}
	r := rawWebFinger{aliases: d.Aliases, links: d.Links}
	if d.Subject != nil {
		r.subject, r.hasSubject = *d.Subject, true
	}
	return r.webFinger(askedID)
}

func (r *rawWebFinger) webFinger(askedID string) (*WebFinger, error) {
	asked, err := id.Normalize(askedID)
	if err != nil {
		return nil, fmt.Errorf("%w: requested ID: %w", ErrInvalid, err)
	}
	if !r.hasSubject {
		return nil, invalid("subject", "", "missing")
	}
	subj, err := id.Normalize(r.subject)
	if err != nil || subj != asked {
		return nil, fmt.Errorf("%w: subject %q, asked for %q", ErrSubjectMismatch, short(r.subject), asked)
	}
	if len(r.aliases) > maxAliases {
		return nil, fmt.Errorf("%w: %d aliases (limit %d)", ErrInvalid, len(r.aliases), maxAliases)
	}
	if len(r.links) > maxLinks {
		return nil, fmt.Errorf("%w: %d links (limit %d)", ErrInvalid, len(r.links), maxLinks)
	}
	w := &WebFinger{ID: subj}
	for _, a := range r.aliases {
		a = strings.TrimSpace(a)
		if checkHTTPURL("alias", a, false) == nil {
			w.Aliases = append(w.Aliases, a)
		}
	}
	seen := map[string]bool{}
	for _, l := range r.links {
		l.Rel, l.Type = strings.TrimSpace(l.Rel), strings.TrimSpace(l.Type)
		l.Href, l.Template = strings.TrimSpace(l.Href), strings.TrimSpace(l.Template)
		if l.Rel == "" || seen[l.Rel] {
			continue // first link per rel wins
		}
		seen[l.Rel] = true
		switch l.Rel {
		case RelHCard:
			w.HCardURL = l.Href
		case RelSeedLocation:
			w.SeedURL = l.Href
		case RelProfilePage:
			w.ProfileURL = l.Href
		case RelUpdatesFrom:
			w.AtomURL = l.Href
		case RelSalmon:
			w.SalmonURL = l.Href
		case RelSubscribe:
			w.SubscribeTemplate = l.Template
		default:
			if checkExtra(l) == nil {
				w.Extra = append(w.Extra, l)
			}
		}
	}
	if err := w.checkLinks(); err != nil {
		return nil, err
	}
	return w, nil
}
