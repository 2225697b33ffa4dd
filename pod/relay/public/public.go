// Package public owns the relay's public, read-only HTTP surface: the
// documents other diaspora* pods and people's browsers fetch to discover
// and look at the identities a Seedpod relay hosts (PROTOCOL.md §2, §5.1).
//
// It serves WebFinger (JRD and the legacy XRD form), host-meta, hCards,
// NodeInfo, a small root page and one HTML profile page per identity.
// Every document is built by seedpod/pod/diaspora/discovery; this package
// only maps requests to identities, picks content types and sets headers.
// It never holds private keys, writes nothing, and reaches no network:
// identities come from a Directory supplied by the caller.
//
// Only GET and HEAD are served; other methods get 405 with Allow, other
// paths 404. The inboxes (/receive/...) and /fetch/... are not here: mount
// this handler as the fallback of the relay's mux.
//
// Identity data a document cannot carry (a name with ';', a name too long
// for the hCard, a bad key or GUID, a username that is not a lowercase
// diaspora user part) is a server-side error: the request gets a generic
// 500 and the reason is logged. It is never "404", which would tell other
// pods the person does not exist. Avatar URLs that are not absolute
// http(s) URLs are replaced by the default avatar, with a warning logged.
package public

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/diaspora/id"
)

// Profile is the public profile of an identity.
type Profile struct {
	FirstName, LastName, FullName string // FullName "" ⇒ "first last"
	Searchable                    bool
	// Avatar URLs (300×300, 100×100, 50×50): absolute http(s) URLs, or ""
	// for the default avatar.
	PhotoLarge, PhotoMedium, PhotoSmall string
	Bio                                 string // shown only if Public
	Public                              bool
}

// Identity is one person hosted by the relay. Its diaspora ID is
// Username + "@" + Options.Domain; Username must be the lowercase user part.
type Identity struct {
	Username, GUID, PublicKeyPEM string
	Profile                      Profile
	// MovedTo is the diaspora* ID the identity moved to ("" if it did
	// not): WebFinger names that identity's profile among its aliases.
	MovedTo string
}

// Directory looks up the identities the relay hosts. Lookups that find
// nothing return ok == false and a nil error; an error is a failure of the
// directory itself (answered with 500).
type Directory interface {
	ByUsername(ctx context.Context, username string) (Identity, bool, error)
	ByGUID(ctx context.Context, guid string) (Identity, bool, error)
	Count(ctx context.Context) (int, error)
}

// Options configures the handler.
type Options struct {
	// Domain is host[:port] the relay is reached at, lowercase ASCII
	// (punycode); the base URL is https://Domain.
	Domain string
	// Version is the software version announced in NodeInfo ("unknown"
	// if empty).
	Version string
	// Logger receives directory failures and invalid identity data; nil
	// discards.
	Logger *slog.Logger
}

// DefaultAvatarPath is where diaspora serves its default avatar; hCards of
// identities without a photo point there (a receiving pod resolves it
// against its own URL), and this package serves a small image there.
const DefaultAvatarPath = "/assets/user/default.png"

// NodeInfoVersions are the NodeInfo versions served and advertised.
var NodeInfoVersions = []string{"2.0", "2.1"}

// maxResource bounds the WebFinger resource parameter; longer values cannot
// name a valid diaspora ID and are answered 404 without a lookup.
const maxResource = 4 * id.MaxLen

// Cache lifetimes.
const (
	cacheDiscovery = "public, max-age=300"
	cacheHTML      = "public, max-age=60"
	cacheAsset     = "public, max-age=86400"
	cacheNone      = "no-store"
)

// Content types.
const (
	typeJRD  = "application/jrd+json; charset=utf-8"
	typeXRD  = "application/xrd+xml; charset=utf-8"
	typeJSON = "application/json; charset=utf-8"
	typeHTML = "text/html; charset=utf-8"
	typeText = "text/plain; charset=utf-8"
)

type server struct {
	dir      Directory
	domain   string // canonical host[:port]
	base     string // https://domain
	version  string
	log      *slog.Logger
	hostMeta []byte
	wellKnow []byte
	rootPage []byte
}

// New returns the handler of the relay's public surface. It fails if
// Domain is not a canonical host[:port].
func New(dir Directory, opts Options) (http.Handler, error) {
	if dir == nil {
		return nil, errors.New("relay/public: nil Directory")
	}
	d := opts.Domain
	if d == "" {
		return nil, errors.New("relay/public: empty Domain")
	}
	if n, err := id.Normalize("relay@" + d); err != nil || n != "relay@"+d {
		return nil, fmt.Errorf("relay/public: Domain %q is not a canonical lowercase host[:port]", d)
	}
	if u, err := url.Parse("https://" + d); err != nil || u.Host != d || u.Path != "" {
		return nil, fmt.Errorf("relay/public: Domain %q is not host[:port]", d)
	}
	s := &server{dir: dir, domain: d, base: "https://" + d, version: opts.Version, log: opts.Logger}
	if s.version == "" {
		s.version = "unknown"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.hostMeta, err = discovery.HostMeta(s.base); err != nil {
		return nil, fmt.Errorf("relay/public: host-meta: %w", err)
	}
	if s.wellKnow, err = discovery.WellKnownNodeInfo(s.base, NodeInfoVersions...); err != nil {
		return nil, fmt.Errorf("relay/public: nodeinfo links: %w", err)
	}
	if s.rootPage, err = renderRoot(d); err != nil {
		return nil, fmt.Errorf("relay/public: root page: %w", err)
	}
	// A NodeInfo document must build now, not on the first request.
	if _, err := s.nodeInfo("2.1", 0); err != nil {
		return nil, fmt.Errorf("relay/public: nodeinfo: %w", err)
	}

	mux := http.NewServeMux()
	// "GET" patterns also match HEAD; ServeMux answers other methods with
	// 405 and "Allow: GET, HEAD", and unmatched paths with 404.
	mux.HandleFunc("GET /{$}", s.root)
	mux.HandleFunc("GET /.well-known/host-meta", s.hostMetaDoc)
	mux.HandleFunc("GET /.well-known/webfinger", s.webfinger)
	mux.HandleFunc("GET /.well-known/webfinger.xml", s.webfinger)
	mux.HandleFunc("GET /.well-known/nodeinfo", s.wellKnownNodeInfo)
	mux.HandleFunc("GET /nodeinfo/{version}", s.nodeInfoDoc)
	mux.HandleFunc("GET /hcard/users/{guid}", s.hcard)
	mux.HandleFunc("GET /u/{username}", s.profileByUsername)
	mux.HandleFunc("GET /people/{guid}", s.profileByGUID)
	mux.HandleFunc("GET "+DefaultAvatarPath, s.defaultAvatar)
	return withBaseHeaders(mux), nil
}

// withBaseHeaders sets the headers every response carries, including the
// mux's own 404 and 405 answers. HTML pages replace the CSP.
func withBaseHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		next.ServeHTTP(w, r)
	})
}

// reply writes a complete response.
func reply(w http.ResponseWriter, status int, ctype, cache string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", cache)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func replyError(w http.ResponseWriter, status int, msg string) {
	reply(w, status, typeText, cacheNone, []byte(msg+"\n"))
}

func notFound(w http.ResponseWriter) { replyError(w, http.StatusNotFound, "not found") }

// internalError logs err and answers a generic 500: nothing of err reaches
// the client.
func (s *server) internalError(w http.ResponseWriter, r *http.Request, msg string, err error) {
	s.log.ErrorContext(r.Context(), "relay public: "+msg, "method", r.Method, "path", r.URL.Path, "err", err)
	replyError(w, http.StatusInternalServerError, "internal server error")
}

func cors(w http.ResponseWriter) { w.Header().Set("Access-Control-Allow-Origin", "*") }

func (s *server) root(w http.ResponseWriter, r *http.Request) {
	setPageCSP(w)
	reply(w, http.StatusOK, typeHTML, cacheHTML, s.rootPage)
}

func (s *server) hostMetaDoc(w http.ResponseWriter, r *http.Request) {
	cors(w)
	reply(w, http.StatusOK, typeXRD, cacheDiscovery, s.hostMeta)
}

func (s *server) wellKnownNodeInfo(w http.ResponseWriter, r *http.Request) {
	cors(w)
	reply(w, http.StatusOK, typeJSON, cacheDiscovery, s.wellKnow)
}

func (s *server) nodeInfoDoc(w http.ResponseWriter, r *http.Request) {
	v := r.PathValue("version")
	if !servedNodeInfo(v) {
		notFound(w)
		return
	}
	n, err := s.dir.Count(r.Context())
	if err != nil {
		s.internalError(w, r, "directory count failed", err)
		return
	}
	doc, err := s.nodeInfo(v, n)
	if err != nil {
		s.internalError(w, r, "building nodeinfo failed", err)
		return
	}
	cors(w)
	reply(w, http.StatusOK, discovery.NodeInfoContentType(v), cacheDiscovery, doc)
}

func servedNodeInfo(v string) bool {
	for _, x := range NodeInfoVersions {
		if v == x {
			return true
		}
	}
	return false
}

func (s *server) nodeInfo(version string, users int) ([]byte, error) {
	if users < 0 {
		return nil, fmt.Errorf("negative user count %d", users)
	}
	total := int64(users)
	ni := discovery.NodeInfo{
		Version:           version,
		Software:          discovery.Software{Name: "seedpod", Version: s.version},
		Protocols:         []string{"diaspora"},
		OpenRegistrations: false,
		Usage:             discovery.Usage{Users: discovery.UserCounts{Total: &total}},
		Metadata:          discovery.NodeMetadata{NodeName: "Seedpod relay for " + s.domain},
	}
	return ni.JSON()
}

// webfinger serves /.well-known/webfinger (JRD, or XRD when the client
// prefers application/xrd+xml) and /.well-known/webfinger.xml (XRD).
func (s *server) webfinger(w http.ResponseWriter, r *http.Request) {
	xrd := r.URL.Path == "/.well-known/webfinger.xml"
	if !xrd {
		w.Header().Set("Vary", "Accept")
		xrd = prefersXRD(r.Header.Values("Accept"))
	}
	res, present := resourceParam(r.URL.RawQuery)
	user, status := s.resourceUser(res, present)
	if status != http.StatusOK {
		if status == http.StatusBadRequest {
			replyError(w, status, "missing resource parameter")
		} else {
			notFound(w)
		}
		return
	}
	ident, ok := s.byUsername(w, r, user)
	if !ok {
		return
	}
	wf, err := discovery.ForAccount(s.base, ident.Username+"@"+s.domain, ident.GUID)
	if err != nil {
		s.internalError(w, r, "invalid identity for webfinger", err)
		return
	}
	if user, host, ok := strings.Cut(ident.MovedTo, "@"); ok {
		// Where the identity lives now: its profile on its new host.
		wf.Aliases = append(wf.Aliases, "https://"+host+"/u/"+url.PathEscape(user))
	}
	var doc []byte
	ctype := typeJRD
	if xrd {
		doc, err = wf.XRD()
		ctype = typeXRD
	} else {
		doc, err = wf.JRD()
	}
	if err != nil {
		s.internalError(w, r, "building webfinger failed", err)
		return
	}
	cors(w)
	reply(w, http.StatusOK, ctype, cacheDiscovery, doc)
}

// resourceParam returns the last "resource" value of a query, as Rack
// does when a key repeats. present is false when the parameter is absent.
func resourceParam(rawQuery string) (string, bool) {
	q, _ := url.ParseQuery(rawQuery) // malformed pairs are dropped, as Rack does
	vs := q["resource"]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// resourceUser maps a WebFinger resource to a local username the way the
// reference does (strip, downcase, remove the first "acct:"; a blank
// parameter is missing ⇒ 400), then requires a valid diaspora ID on this
// relay's domain (otherwise 404).
func (s *server) resourceUser(res string, present bool) (string, int) {
	q := strings.Trim(res, " \t\n\v\f\r\x00")
	if !present || q == "" {
		return "", http.StatusBadRequest
	}
	if len(q) > maxResource {
		return "", http.StatusNotFound
	}
	q = strings.Replace(strings.ToLower(q), "acct:", "", 1)
	if !id.Valid(q) {
		return "", http.StatusNotFound
	}
	user, host := id.Split(q)
	if host != s.domain {
		return "", http.StatusNotFound
	}
	return user, http.StatusOK
}

// prefersXRD reports whether an Accept header ranks application/xrd+xml
// above the JSON forms. Without a preference the answer is JRD.
func prefersXRD(accept []string) bool {
	var xrdQ, jrdQ float64
	for _, line := range accept {
		for _, part := range strings.Split(line, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
					q = f
				} else {
					continue
				}
			}
			switch mt {
			case "application/xrd+xml":
				xrdQ = max(xrdQ, q)
			case "application/jrd+json", "application/json":
				jrdQ = max(jrdQ, q)
			}
		}
	}
	return xrdQ > 0 && xrdQ > jrdQ
}

// byUsername looks an identity up and checks it; on failure it has
// answered the request.
func (s *server) byUsername(w http.ResponseWriter, r *http.Request, user string) (Identity, bool) {
	ident, ok, err := s.dir.ByUsername(r.Context(), user)
	if err != nil {
		s.internalError(w, r, "directory lookup by username failed", err)
		return Identity{}, false
	}
	if !ok {
		notFound(w)
		return Identity{}, false
	}
	if ident.Username != user {
		s.internalError(w, r, "directory returned another identity",
			fmt.Errorf("asked for username %q, got %q", user, ident.Username))
		return Identity{}, false
	}
	if err := s.checkIdentity(ident); err != nil {
		s.internalError(w, r, "invalid identity in directory", err)
		return Identity{}, false
	}
	return ident, true
}

// byGUID is byUsername for a GUID from the path; an invalid GUID is 404
// without a lookup.
func (s *server) byGUID(w http.ResponseWriter, r *http.Request) (Identity, bool) {
	guid := r.PathValue("guid")
	if !id.ValidGUID(guid) {
		notFound(w)
		return Identity{}, false
	}
	ident, ok, err := s.dir.ByGUID(r.Context(), guid)
	if err != nil {
		s.internalError(w, r, "directory lookup by guid failed", err)
		return Identity{}, false
	}
	if !ok {
		notFound(w)
		return Identity{}, false
	}
	if ident.GUID != guid {
		s.internalError(w, r, "directory returned another identity",
			fmt.Errorf("asked for guid %q, got %q", guid, ident.GUID))
		return Identity{}, false
	}
	if err := s.checkIdentity(ident); err != nil {
		s.internalError(w, r, "invalid identity in directory", err)
		return Identity{}, false
	}
	return ident, true
}

// checkIdentity verifies what every page relies on: a valid diaspora ID on
// this domain whose user part is Username as is, and a valid GUID.
func (s *server) checkIdentity(ident Identity) error {
	did := ident.Username + "@" + s.domain
	if ident.Username == "" || !id.Valid(did) {
		return fmt.Errorf("username %q does not make a valid diaspora ID", ident.Username)
	}
	if !id.ValidGUID(ident.GUID) {
		return fmt.Errorf("identity %q: invalid GUID %q", did, ident.GUID)
	}
	return nil
}

func (s *server) hcard(w http.ResponseWriter, r *http.Request) {
	ident, ok := s.byGUID(w, r)
	if !ok {
		return
	}
	p := ident.Profile
	hc := discovery.HCard{
		GUID:         ident.GUID,
		Nickname:     ident.Username,
		FullName:     fullName(p),
		FirstName:    p.FirstName,
		LastName:     p.LastName,
		PublicKeyPEM: ident.PublicKeyPEM,
		PhotoLarge:   s.photo(r, ident, "photo_large", p.PhotoLarge, false),
		PhotoMedium:  s.photo(r, ident, "photo_medium", p.PhotoMedium, false),
		PhotoSmall:   s.photo(r, ident, "photo_small", p.PhotoSmall, false),
		Searchable:   p.Searchable,
	}
	doc, err := hc.HTML()
	if err != nil {
		s.internalError(w, r, "identity cannot be published as an hCard", err)
		return
	}
	setPageCSP(w)
	reply(w, http.StatusOK, typeHTML, cacheDiscovery, doc)
}

// fullName is Profile.FullName, or "first last" stripped as diaspora
// builds it.
func fullName(p Profile) string {
	if p.FullName != "" {
		return p.FullName
	}
	return strings.TrimSpace(p.FirstName + " " + p.LastName)
}

// photo returns an avatar URL fit for publishing: the configured one if it
// is an absolute http(s) URL with a host and a path (https only when
// httpsOnly), DefaultAvatarPath otherwise. A non-empty URL that is refused
// is logged.
func (s *server) photo(r *http.Request, ident Identity, field, v string, httpsOnly bool) string {
	if v == "" {
		return DefaultAvatarPath
	}
	u, err := url.Parse(v)
	ok := err == nil && u.Host != "" && u.User == nil && u.Path != "" && u.Fragment == "" &&
		!strings.ContainsAny(v, " \t\r\n\"<>\\") &&
		(u.Scheme == "https" || (u.Scheme == "http" && !httpsOnly))
	if ok {
		return v
	}
	// An http avatar is fine in an hCard; the HTML page (CSP img-src
	// https:) just shows the default instead, which is not worth a warning.
	if !(httpsOnly && err == nil && u.Scheme == "http") {
		s.log.WarnContext(r.Context(), "relay public: avatar URL refused, default used",
			"username", ident.Username, "field", field, "url", v)
	}
	return DefaultAvatarPath
}

func (s *server) profileByUsername(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("username")
	if !id.Valid(user + "@" + s.domain) {
		notFound(w)
		return
	}
	ident, ok := s.byUsername(w, r, user)
	if !ok {
		return
	}
	s.profilePage(w, r, ident)
}

func (s *server) profileByGUID(w http.ResponseWriter, r *http.Request) {
	ident, ok := s.byGUID(w, r)
	if !ok {
		return
	}
	s.profilePage(w, r, ident)
}

func (s *server) profilePage(w http.ResponseWriter, r *http.Request, ident Identity) {
	p := ident.Profile
	name := fullName(p)
	if name == "" {
		name = ident.Username
	}
	v := profileView{
		Name:       truncate(name, maxNameDisplay),
		DiasporaID: ident.Username + "@" + s.domain,
		Photo:      s.photo(r, ident, "photo_large", p.PhotoLarge, true),
		Domain:     s.domain,
	}
	if p.Public {
		v.Bio = truncate(strings.TrimSpace(p.Bio), maxBioDisplay)
	}
	doc, err := renderProfile(v)
	if err != nil {
		s.internalError(w, r, "rendering profile page failed", err)
		return
	}
	setPageCSP(w)
	reply(w, http.StatusOK, typeHTML, cacheHTML, doc)
}

func (s *server) defaultAvatar(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, "image/png", cacheAsset, defaultAvatarPNG)
}
