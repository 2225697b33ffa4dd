package discovery

import (
	"bytes"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"seedpod/pod/diaspora/id"
	"seedpod/pod/diaspora/keys"
)

// maxHTMLTags bounds the number of '<' in an hCard before it is parsed: the
// HTML tree builder's scope checks are linear in the open-element stack, so
// a deeply nested document costs quadratic time. diaspora's hCard has ~60
// tags.
const maxHTMLTags = 4096

// Name length limits of the reference's validators (§9).
const (
	maxFullName     = 70
	maxName         = 32
	maxNicknameRune = 255
)

// HCard is a person's profile card (§2.3): the input of HTML and the result
// of ParseHCard.
type HCard struct {
	GUID      string // person GUID (valid per §9)
	Nickname  string // local part of the ID; optional
	FullName  string // "first last"; ≤70 characters, no ';'
	FirstName string // ≤32, no ';'; may be empty
	LastName  string // ≤32, no ';'; may be empty
	// PublicKeyPEM is the key as published (SPKI "PUBLIC KEY" or PKCS#1
	// "RSA PUBLIC KEY" PEM), trimmed, with one final newline. HTML uses
	// it, or MarshalPublic(PublicKey) when it is empty.
	PublicKeyPEM string
	PublicKey    *rsa.PublicKey // parsed by ParseHCard
	// Avatar URLs, 300×300, 100×100 and 50×50: absolute http(s) URLs with
	// a host and path, or a root-relative path ("/assets/user/default.png",
	// what diaspora serves without an avatar) to resolve against the URL
	// the hCard was fetched from.
	PhotoLarge, PhotoMedium, PhotoSmall string
	Searchable                          bool
}

// HTML returns the hCard page, byte for byte what the reference's
// HCard#to_html emits.
func (h *HCard) HTML() ([]byte, error) {
	c := *h
	if c.PublicKeyPEM == "" && c.PublicKey != nil {
		c.PublicKeyPEM = string(keys.MarshalPublic(c.PublicKey))
	}
	c.PublicKeyPEM = strings.TrimSpace(c.PublicKeyPEM) + "\n"
	if _, err := c.validate(); err != nil {
		return nil, err
	}
	var b strings.Builder
	fn := htmlText(c.FullName)
	b.WriteString(`<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN" "http://www.w3.org/TR/REC-html40/loose.dtd">
<html>
  <head>
    <meta charset="UTF-8"/>
    <title>` + fn + `</title>
  </head>
  <body>
    <div id="content">
      <h1>` + fn + `</h1>
      <div id="content_inner" class="entity_profile vcard author">
        <h2>User profile</h2>
`)
	prop := func(name, inner string) {
		b.WriteString(`        <dl class="entity_` + name + `">
          <dt>` + strings.ToUpper(name[:1]) + name[1:] + `</dt>
          <dd>
            ` + inner + `
          </dd>
        </dl>
`)
	}
	span := func(name, class, v string) { prop(name, `<span class="`+class+`">`+htmlText(v)+`</span>`) }
	img := func(name, size, src string) {
		prop(name, `<img class="photo avatar" width="`+size+`" height="`+size+`" src="`+xmlAttr(src)+`"/>`)
	}
	span("uid", "uid", c.GUID)
	span("nickname", "nickname", c.Nickname)
	span("full_name", "fn", c.FullName)
	span("searchable", "searchable", fmt.Sprint(c.Searchable))
	prop("key", `<pre class="key">`+htmlText(c.PublicKeyPEM)+`</pre>`)
	span("first_name", "given_name", c.FirstName)
	span("family_name", "family_name", c.LastName)
	img("photo", "300", c.PhotoLarge)
	img("photo_medium", "100", c.PhotoMedium)
	img("photo_small", "50", c.PhotoSmall)
	b.WriteString("      </div>\n    </div>\n  </body>\n</html>\n")
	return []byte(b.String()), nil
}

// maxFormattingTags bounds the HTML "formatting" elements in an hCard. The
// HTML tree builder reopens every open formatting element each time new
// text arrives ("reconstruct the active formatting elements"), so N of them
// followed by M paragraphs build N×M elements: a 34 KB document cost 4.5 s
// and 1.8 GB before this check. diaspora's hCard has none.
const maxFormattingTags = 16

var formattingTags = map[string]bool{"a": true, "b": true, "big": true, "code": true, "em": true,
	"font": true, "i": true, "nobr": true, "s": true, "small": true, "strike": true,
	"strong": true, "tt": true, "u": true}

// checkFormatting counts formatting start tags with the tokenizer, which is
// linear, before the tree builder sees the document.
func checkFormatting(doc []byte) error {
	z := html.NewTokenizer(bytes.NewReader(doc))
	n := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return nil
		case html.StartTagToken:
			name, _ := z.TagName()
			if formattingTags[string(name)] {
				if n++; n > maxFormattingTags {
					return fmt.Errorf("%w: hCard has more than %d formatting elements (<b>, <a>, …)", ErrMalformed, maxFormattingTags)
				}
			}
		}
	}
}

// htmlText escapes text content like libxml2's XHTML serialiser.
func htmlText(s string) string { return xmlTextEscaper.Replace(s) }

// ParseHCard reads an hCard page with the reference's selectors (.uid,
// .nickname, .fn, .given_name, .family_name, .key, .searchable, and
// .entity_photo / .entity_photo_medium / .entity_photo_small .photo[src]);
// the first match in document order wins; text values are trimmed. It
// requires a valid GUID, the .fn element, a valid RSA public key and the
// three photos, and fails with ErrInvalid otherwise.
func ParseHCard(doc []byte) (*HCard, error) {
	if err := checkSize(doc); err != nil {
		return nil, err
	}
	if !utf8.Valid(doc) {
		return nil, fmt.Errorf("%w: hCard is not UTF-8", ErrMalformed)
	}
	if n := bytes.Count(doc, []byte("<")); n > maxHTMLTags {
		return nil, fmt.Errorf("%w: hCard has %d tags (limit %d)", ErrMalformed, n, maxHTMLTags)
	}
	if err := checkFormatting(doc); err != nil {
		return nil, err
	}
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("%w: hCard: %v", ErrMalformed, err)
	}
	f := newFinder()
	f.walk(root, nil)
	if f.text["fn"] == nil {
		return nil, invalid("hcard .fn", "", "missing")
	}
	for _, p := range []string{"entity_photo", "entity_photo_medium", "entity_photo_small"} {
		if _, ok := f.photo[p]; !ok {
			return nil, invalid("hcard ."+p+" .photo[src]", "", "missing")
		}
	}
	h := &HCard{
		GUID:       f.textOf("uid"),
		Nickname:   f.textOf("nickname"),
		FullName:   f.textOf("fn"),
		FirstName:  f.textOf("given_name"),
		LastName:   f.textOf("family_name"),
		Searchable: f.textOf("searchable") == "true",
		// The key keeps its own line structure; only the ends are trimmed.
		PublicKeyPEM: f.textOf("key") + "\n",
		PhotoLarge:   strings.TrimSpace(f.photo["entity_photo"]),
		PhotoMedium:  strings.TrimSpace(f.photo["entity_photo_medium"]),
		PhotoSmall:   strings.TrimSpace(f.photo["entity_photo_small"]),
	}
	if f.text["key"] == nil {
		h.PublicKeyPEM = ""
	}
	k, err := h.validate()
	if err != nil {
		return nil, err
	}
	h.PublicKey = k
	return h, nil
}

// finder collects the first element per selector in document order.
type finder struct {
	text  map[string]*html.Node // class → first element with it
	photo map[string]string     // entity_photo* → src of the first .photo[src] inside
}

var textClasses = []string{"uid", "nickname", "fn", "given_name", "family_name", "key", "searchable"}

func newFinder() *finder {
	return &finder{text: map[string]*html.Node{}, photo: map[string]string{}}
}

// walk visits the tree in document order; containers holds the
// entity_photo* classes of the ancestors. It is iterative over siblings and
// recursive over depth, which maxHTMLTags bounds.
func (f *finder) walk(n *html.Node, containers []string) {
	for ; n != nil; n = n.NextSibling {
		inner := containers
		if n.Type == html.ElementNode {
			classes := strings.Fields(attr(n, "class"))
			for _, c := range classes {
				for _, t := range textClasses {
					if c == t && f.text[c] == nil {
						f.text[c] = n
					}
				}
			}
			if src, ok := attrOK(n, "src"); ok && contains(classes, "photo") {
				for _, c := range containers {
					if _, done := f.photo[c]; !done {
						f.photo[c] = src
					}
				}
			}
			for _, c := range classes {
				if c == "entity_photo" || c == "entity_photo_medium" || c == "entity_photo_small" {
					inner = append(inner[:len(inner):len(inner)], c)
				}
			}
		}
		f.walk(n.FirstChild, inner)
	}
}

func (f *finder) textOf(class string) string {
	n := f.text[class]
	if n == nil {
		return ""
	}
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
			rec(c)
		}
	}
	rec(n)
	return strings.TrimSpace(b.String())
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// validate applies the reference's hCard rules and returns the parsed key.
func (h *HCard) validate() (*rsa.PublicKey, error) {
	if !id.ValidGUID(h.GUID) {
		return nil, invalid("hcard uid", h.GUID, "not a valid GUID")
	}
	if err := checkName("hcard nickname", h.Nickname, maxNicknameRune); err != nil {
		return nil, err
	}
	if err := checkName("hcard fn", h.FullName, maxFullName); err != nil {
		return nil, err
	}
	if err := checkName("hcard given_name", h.FirstName, maxName); err != nil {
		return nil, err
	}
	if err := checkName("hcard family_name", h.LastName, maxName); err != nil {
		return nil, err
	}
	for _, p := range []struct{ f, v string }{
		{"hcard photo", h.PhotoLarge}, {"hcard photo_medium", h.PhotoMedium}, {"hcard photo_small", h.PhotoSmall},
	} {
		if err := checkPhotoURL(p.f, p.v); err != nil {
			return nil, err
		}
	}
	return checkPublicKey(h.PublicKeyPEM)
}

// checkName: trimmed, no ';' (the mention delimiter), no control
// characters, at most max characters.
func checkName(field, v string, max int) error {
	if v != strings.TrimSpace(v) {
		return invalid(field, v, "surrounding space")
	}
	if strings.Contains(v, ";") {
		return invalid(field, v, "contains ';'")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return invalid(field, v, fmt.Sprintf("%d characters (limit %d)", n, max))
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return invalid(field, v, "contains a control character")
		}
	}
	return nil
}

// checkPhotoURL: an absolute http(s) URL with host and path, or a path
// starting with a single '/'.
func checkPhotoURL(field, v string) error {
	if v == "" {
		return invalid(field, v, "missing")
	}
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" || strings.ContainsAny(v, " \t\r\n") {
			return invalid(field, v, "bad relative URL")
		}
		return nil
	}
	return checkHTTPURL(field, v, true)
}

// checkPublicKey: after trimming, the PEM must start and end with the
// PUBLIC KEY or RSA PUBLIC KEY markers (the reference's rule), be exactly
// one PEM block, and hold an RSA key keys.ParsePublic accepts.
func checkPublicKey(p string) (*rsa.PublicKey, error) {
	t := strings.TrimSpace(p)
	ok := false
	for _, typ := range []string{"PUBLIC KEY", "RSA PUBLIC KEY"} {
		if strings.HasPrefix(t, "-----BEGIN "+typ+"-----") && strings.HasSuffix(t, "-----END "+typ+"-----") {
			ok = true
		}
	}
	if !ok {
		return nil, invalid("hcard key", p, "not a PUBLIC KEY or RSA PUBLIC KEY PEM")
	}
	blk, rest := pem.Decode([]byte(t))
	if blk == nil || len(bytes.TrimSpace(rest)) != 0 {
		return nil, invalid("hcard key", p, "not exactly one PEM block")
	}
	k, err := keys.ParsePublic([]byte(t))
	if err != nil {
		return nil, fmt.Errorf("%w: hcard key: %w", ErrInvalid, err)
	}
	return k, nil
}
