package markup

import (
	"bytes"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	textm "github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// linkBudgetSlack is added to twice the text's length to give the bytes of
// link and image destinations and titles a text may render. A reference
// definition can be used any number of times ("[a]" ×10,000 with a 30 KB
// URL would write 300 MB); past the budget, links render as their text.
const linkBudgetSlack = 16 << 10

// walk is one pass over a parsed document, between goldmark's parser and
// its renderer. It collects tags, mentions and plain text, resolves tag and
// mention links through Options, and decides which links, images and raw
// HTML stay what goldmark made of them. Changes to the tree are queued and
// applied after the pass, since ast.Walk cannot follow a tree that changes
// under it.
type walk struct {
	src  []byte
	opts *Options // nil: extraction only, nothing is resolved

	tags     []string
	seenTag  map[string]bool
	mentions []Mention
	seenWho  map[string]bool
	people   map[[2]string]person // PersonURL answers, per (handle, name)

	buf                  []byte // plain text, whitespace not yet collapsed
	titleStart, titleEnd int    // the leading heading's text in buf; -1 if none

	inLink  int // inside a link's text or an image's alt text
	inImage int
	inCode  int
	budget  int
	edits   []func()
}

type person struct {
	url, display string
}

func newWalk(src []byte, opts *Options) *walk {
	return &walk{
		src:        src,
		opts:       opts,
		seenTag:    map[string]bool{},
		seenWho:    map[string]bool{},
		people:     map[[2]string]person{},
		titleStart: -1,
		titleEnd:   -1,
		budget:     2*len(src) + linkBudgetSlack,
	}
}

func (w *walk) run(doc ast.Node) {
	first := doc.FirstChild()
	titled := first != nil && first.Kind() == ast.KindHeading
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if titled && n == first {
			if entering {
				w.titleStart = len(w.buf)
			} else {
				w.titleEnd = len(w.buf)
			}
		}
		if n.Type() == ast.TypeBlock {
			w.space()
		}
		return w.visit(n, entering), nil
	})
	for _, edit := range w.edits {
		edit()
	}
}

func (w *walk) visit(n ast.Node, entering bool) ast.WalkStatus {
	switch n := n.(type) {
	case *tagNode:
		if !entering {
			break
		}
		w.buf = append(w.buf, '#')
		w.buf = append(w.buf, n.raw...)
		if w.inLink > 0 {
			// A link cannot hold a link: the tag is text here, and a tag
			// not shown as one is not indexed either. (diaspora indexes
			// the raw text: "[a #b](…)" counts there, "[#b](…)" does not.)
			w.replace(n, rawString("#"+string(n.raw)))
			break
		}
		if !w.seenTag[n.name] {
			w.seenTag[n.name] = true
			w.tags = append(w.tags, n.name)
		}
		n.url = w.tagURL(n.name)
	case *mentionNode:
		if !entering {
			break
		}
		if !w.seenWho[n.handle] {
			w.seenWho[n.handle] = true
			w.mentions = append(w.mentions, Mention{Name: n.name, Handle: n.handle})
		}
		p := w.person(n.handle, n.name)
		n.display = p.display
		w.buf = append(w.buf, p.display...)
		if w.inLink > 0 {
			w.replace(n, rawString("@"+p.display))
			break
		}
		n.url = p.url
	case *ast.Link:
		if entering {
			if !w.allowLink(n.Destination, n.Title, allowedHref) {
				w.unwrap(n)
			}
			w.inLink++
		} else {
			w.inLink--
		}
	case *ast.Image:
		if entering {
			if !w.allowLink(n.Destination, n.Title, allowedSrc) {
				w.unwrap(n)
			}
			w.inLink++
			w.inImage++
		} else {
			w.inLink--
			w.inImage--
		}
	case *ast.AutoLink:
		if !entering {
			break
		}
		label := n.Label(w.src)
		w.buf = append(w.buf, label...)
		u := util.URLEscape(n.URL(w.src), false)
		if n.AutoLinkType == ast.AutoLinkEmail && !hasPrefixFold(u, "mailto:") {
			u = append([]byte("mailto:"), u...)
		}
		// Inside a link's text it would be a link in a link.
		if w.inLink > 0 || !allowedHref(u) {
			w.replace(n, rawString(string(label)))
		}
	case *ast.CodeSpan:
		if entering {
			w.inCode++
		} else {
			w.inCode--
		}
	case *ast.Text:
		if !entering {
			break
		}
		v := n.Segment.Value(w.src)
		if !n.IsRaw() && w.inCode == 0 {
			v = util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(v)))
		}
		w.buf = append(w.buf, v...)
		if n.SoftLineBreak() || n.HardLineBreak() {
			w.space()
			if w.inImage > 0 {
				// goldmark would write its <br> into the alt attribute.
				w.edits = append(w.edits, func() {
					n.SetSoftLineBreak(false)
					n.SetHardLineBreak(false)
					if p := n.Parent(); p != nil {
						p.InsertAfter(p, n, rawString(" "))
					}
				})
			}
		}
	case *ast.String:
		if entering {
			w.buf = append(w.buf, n.Value...)
		}
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		if entering {
			w.lines(n.Lines())
		}
	case *ast.RawHTML:
		if !entering {
			break
		}
		// goldmark would drop it silently. diaspora's web client keeps a
		// few harmless tags (markdown-it-sanitizer) and escapes the rest;
		// here all of it is shown as text, so nothing is lost unseen.
		var texts []ast.Node
		for i := 0; i < n.Segments.Len(); i++ {
			seg := n.Segments.At(i)
			w.buf = append(w.buf, seg.Value(w.src)...)
			t := ast.NewRawTextSegment(seg)
			texts = append(texts, t)
		}
		w.replace(n, texts...)
	case *ast.HTMLBlock:
		if !entering {
			break
		}
		lines := textm.NewSegments()
		for i := 0; i < n.Lines().Len(); i++ {
			lines.Append(n.Lines().At(i))
		}
		if n.HasClosure() {
			lines.Append(n.ClosureLine)
		}
		w.lines(lines)
		p := ast.NewParagraph()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			p.AppendChild(p, ast.NewRawTextSegment(seg.TrimRightSpace(w.src)))
			if i < lines.Len()-1 {
				// A raw text node carries no line break; an empty one
				// does, and renders as <br> like any other newline.
				br := ast.NewText()
				br.SetSoftLineBreak(true)
				p.AppendChild(p, br)
			}
		}
		w.replace(n, p)
	case *east.FootnoteLink, *east.FootnoteBacklink:
		return ast.WalkSkipChildren
	}
	return ast.WalkContinue
}

// allowLink reports whether a link or image may keep its destination, and
// charges it to the budget.
func (w *walk) allowLink(dest, title []byte, allowed func([]byte) bool) bool {
	// The budget first: it also bounds the work of checking.
	w.budget -= len(dest) + len(title)
	if w.budget < 0 {
		return false
	}
	// The same resolution and escaping goldmark's renderer applies, so the
	// URL checked is the URL written.
	return allowed(util.URLEscape(dest, true))
}

func (w *walk) lines(l *textm.Segments) {
	for i := 0; i < l.Len(); i++ {
		seg := l.At(i)
		w.buf = append(w.buf, seg.Value(w.src)...)
		w.space()
	}
}

func (w *walk) space() {
	if len(w.buf) > 0 && w.buf[len(w.buf)-1] != ' ' {
		w.buf = append(w.buf, ' ')
	}
}

// replace queues replacing n by nodes.
func (w *walk) replace(n ast.Node, nodes ...ast.Node) {
	w.edits = append(w.edits, func() {
		parent := n.Parent()
		if parent == nil {
			return
		}
		for _, c := range nodes {
			parent.InsertBefore(parent, n, c)
		}
		parent.RemoveChild(parent, n)
	})
}

// unwrap queues replacing n by its children.
func (w *walk) unwrap(n ast.Node) {
	w.edits = append(w.edits, func() {
		parent := n.Parent()
		if parent == nil {
			return
		}
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	})
}

func rawString(s string) *ast.String {
	n := ast.NewString([]byte(s))
	n.SetRaw(true)
	return n
}

// tagURL is where a tag links to, or "" for plain text.
func (w *walk) tagURL(tag string) string {
	if w.opts == nil {
		return ""
	}
	u := "/tags/" + url.PathEscape(tag)
	if w.opts.TagURL != nil {
		u = w.opts.TagURL(tag)
	}
	return checkedURL(u)
}

// person asks PersonURL once per (handle, name).
func (w *walk) person(handle, name string) person {
	fallback := name
	if fallback == "" {
		fallback = handle
	}
	if w.opts == nil || w.opts.PersonURL == nil {
		return person{display: fallback}
	}
	key := [2]string{handle, name}
	if p, ok := w.people[key]; ok {
		return p
	}
	u, display, ok := w.opts.PersonURL(handle, name)
	p := person{display: fallback}
	if ok {
		if display != "" {
			p.display = display
		}
		p.url = checkedURL(u)
	}
	w.people[key] = p
	return p
}

// checkedURL escapes a URL from the caller as goldmark escapes one from the
// text, and returns it if it is allowed, else "".
func checkedURL(u string) string {
	b := util.URLEscape([]byte(u), false)
	if !allowedHref(b) {
		return ""
	}
	return string(b)
}

// allowedHref is the link rule: http and https URLs with a host, mailto,
// and the pod's own tag and people pages. Everything else — javascript:,
// data:, protocol-relative "//host", other paths, bare fragments — is not
// a link. The sanitiser checks the same again.
func allowedHref(u []byte) bool {
	switch {
	case hasPrefixFold(u, "http://"), hasPrefixFold(u, "https://"):
		return hasHost(u)
	case hasPrefixFold(u, "mailto:"):
		return len(u) > len("mailto:")
	case bytes.HasPrefix(u, []byte("/tags/")), bytes.HasPrefix(u, []byte("/people/")):
		return true
	}
	return false
}

// allowedSrc is the image rule: http and https only. diaspora shows remote
// images too; loading one tells its host that someone is reading.
func allowedSrc(u []byte) bool {
	return (hasPrefixFold(u, "http://") || hasPrefixFold(u, "https://")) && hasHost(u)
}

func hasHost(u []byte) bool {
	p, err := url.Parse(string(u))
	return err == nil && p.Host != "" && !strings.ContainsAny(p.Host, `\`)
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// text is the plain text: control characters as spaces, whitespace
// collapsed.
func (w *walk) text() string {
	return collapse(w.buf)
}

func (w *walk) title() string {
	if w.titleStart >= 0 {
		if t := collapse(w.buf[w.titleStart:w.titleEnd]); t != "" {
			return truncate(t, TitleLength)
		}
	}
	return truncate(w.text(), TitleLength)
}

func collapse(b []byte) string {
	fields := bytes.FieldsFunc(b, func(r rune) bool {
		return unicode.IsSpace(r) || isControl(r)
	})
	return string(bytes.Join(fields, []byte(" ")))
}

// truncate cuts s to at most n characters, the "…" included, on a
// character boundary, without a space before the "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut, count := 0, 0
	for i := range s {
		if count == n-1 {
			cut = i
			break
		}
		count++
	}
	return strings.TrimRightFunc(s[:cut], unicode.IsSpace) + "…"
}

// idPrefixMeta is the document metadata key that carries Options.IDPrefix
// to the footnote renderer.
const idPrefixMeta = "seedpod/markup.IDPrefix"

func footnoteIDPrefix(n ast.Node) []byte {
	doc := n.OwnerDocument()
	if doc == nil {
		return nil
	}
	p, _ := doc.Meta()[idPrefixMeta].([]byte)
	return p
}

// idPrefix keeps what may appear in an id attribute and a URL fragment
// unescaped.
func idPrefix(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() == 64 {
			break
		}
		if r < utf8.RuneSelf && (r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
