package markup

import (
	"bytes"
	"regexp"
	"sort"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Limits that keep hostile text cheap. Each is far above what a person
// writes, and each replaces a cost that grows faster than the text (see
// TestHostileInputs and BenchmarkRenderHostile for the inputs behind them).
const (
	// maxNesting is the deepest block quotes, lists and footnote
	// definitions may nest; deeper markers stay text. goldmark's cost for
	// nested containers grows with the square of the depth (65,535 '>' took
	// 2.9 s). markdown-it, diaspora's web renderer, stops at 100 levels of
	// any kind; 32 is still more than any post needs.
	maxNesting = 32
	// maxDestination is the longest inline link destination, in bytes, that
	// is looked for. goldmark scans to the end of the line for every "](",
	// so "[a](" repeated took 2 s for 64 KiB; with the cap it is linear.
	maxDestination = 4096
	// maxParenDepth is CommonMark's (and cmark's) limit for nested
	// parentheses in a link destination.
	maxParenDepth = 32
	// maxOpenBrackets is how many '[' and '![' may wait for their ']' in a
	// block; later ones are text. At every ']' goldmark walks everything
	// since its '[', so 32,000 '[' then 32,000 ']' took 0.5 s; with at most
	// maxOpenBrackets open, each node is walked at most that many times.
	maxOpenBrackets = 32
	// maxFootnoteRefs caps footnote references per text. Each costs about
	// 180 bytes of HTML (the reference and its back-link), so 16,000 of
	// them made 2.9 MB; the rest stay text.
	maxFootnoteRefs = 256
	// tableCellsPerByte: a table may have at most this many cells per byte
	// of its paragraph (plus tableCellsSlack). GFM fills short rows with
	// empty cells, so a wide header over many one-character rows costs
	// rows × columns: quadratic. Real tables have about one cell per 5+
	// bytes.
	tableCellsPerByte = 2
	tableCellsSlack   = 64
	// maxReferenceLines: a paragraph longer than this is not searched for
	// link reference definitions. goldmark's search costs the number of
	// definitions times the number of lines ("[a]: b" ×8,000 lines took
	// 0.1 s and grew fourfold with each doubling).
	maxReferenceLines = 1024
)

// engine is the goldmark parser/renderer and the bluemonday policy. Both are
// immutable once built and safe for concurrent use, so one is built on first
// use and shared: it is compiled configuration, like a regexp, not state.
var engine = sync.OnceValue(newEngine)

type markupEngine struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

func newEngine() *markupEngine {
	blocks := parser.DefaultBlockParsers()
	for i, b := range blocks {
		switch b.Value {
		case parser.NewBlockquoteParser(), parser.NewListParser(), parser.NewListItemParser():
			blocks[i].Value = nestGuard{b.Value.(parser.BlockParser)}
		}
	}
	blocks = append(blocks,
		util.Prioritized(nestGuard{extension.NewFootnoteBlockParser()}, 999))

	inlines := parser.DefaultInlineParsers()
	for i, p := range inlines {
		if p.Value == parser.NewLinkParser() {
			inlines[i].Value = linkGuard{p.Value.(linkParser)}
		}
	}
	inlines = append(inlines,
		util.Prioritized(footnoteCap{extension.NewFootnoteParser()}, 101),
		util.Prioritized(tagParser{}, 150),
		util.Prioritized(mentionParser{}, 150),
	)

	paragraphs := parser.DefaultParagraphTransformers()
	for i, p := range paragraphs {
		if p.Value == parser.LinkReferenceParagraphTransformer {
			paragraphs[i].Value = referenceGuard{p.Value.(parser.ParagraphTransformer)}
		}
	}
	paragraphs = append(paragraphs,
		util.Prioritized(tableGuard{extension.NewTableParagraphTransformer()}, 200))

	p := parser.NewParser(
		parser.WithBlockParsers(blocks...),
		parser.WithInlineParsers(inlines...),
		parser.WithParagraphTransformers(paragraphs...),
		parser.WithASTTransformers(
			util.Prioritized(extension.NewTableASTTransformer(), 0),
			util.Prioritized(extension.NewFootnoteASTTransformer(), 999),
		),
	)
	md := goldmark.New(
		goldmark.WithParser(p),
		goldmark.WithExtensions(
			extension.Strikethrough,
			// diaspora autolinks bare URLs (Redcarpet autolink, markdown-it
			// linkify). Only http and https: the pod links nothing else.
			extension.NewLinkify(extension.WithLinkifyAllowedProtocols([]string{"http:", "https:"})),
		),
		goldmark.WithRendererOptions(
			// diaspora turns every newline into <br> (hard_wrap, and
			// markdown-it's breaks: true).
			html.WithHardWraps(),
			renderer.WithNodeRenderers(
				// Alignment as an attribute: the policy allows no style.
				util.Prioritized(extension.NewTableHTMLRenderer(
					extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)), 500),
				util.Prioritized(extension.NewFootnoteHTMLRenderer(
					extension.WithFootnoteIDPrefixFunction(footnoteIDPrefix)), 500),
				util.Prioritized(nodeRenderer{}, 500),
			),
		),
	)
	return &markupEngine{md: md, policy: newPolicy()}
}

// parse parses src into a goldmark document.
func (e *markupEngine) parse(src []byte) ast.Node {
	return e.md.Parser().Parse(text.NewReader(src))
}

func (e *markupEngine) render(s string, opts *Options) (Rendered, error) {
	src := []byte(s)
	doc := e.parse(src)
	w := newWalk(src, opts)
	w.run(doc)
	if p := idPrefix(opts.IDPrefix); p != "" {
		doc.OwnerDocument().AddMeta(idPrefixMeta, []byte(p))
	}
	var buf bytes.Buffer
	buf.Grow(2 * len(src))
	if err := e.md.Renderer().Render(&buf, src, doc); err != nil {
		return Rendered{}, err
	}
	return Rendered{
		HTML:     string(e.policy.SanitizeBytes(buf.Bytes())),
		Text:     w.text(),
		Title:    w.title(),
		Tags:     w.tags,
		Mentions: w.mentions,
	}, nil
}

// extract is render without the HTML, for Tags and Mentions.
func (e *markupEngine) extract(s string) *walk {
	src := []byte(s)
	w := newWalk(src, nil)
	w.run(e.parse(src))
	return w
}

// nestGuard refuses to open a container block (block quote, list, list
// item, footnote definition) inside maxNesting others; the marker is then
// read as paragraph text.
type nestGuard struct{ parser.BlockParser }

func (g nestGuard) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	depth := 0
	for n := parent; n != nil; n = n.Parent() {
		switch n.Kind() {
		case ast.KindBlockquote, ast.KindList, ast.KindListItem, east.KindFootnote:
			depth++
		}
	}
	if depth >= maxNesting {
		return nil, parser.NoChildren
	}
	return g.BlockParser.Open(parent, reader, pc)
}

// linkParser is goldmark's link parser: an inline parser that also closes
// its open brackets at the end of a block.
type linkParser interface {
	parser.InlineParser
	parser.CloseBlocker
}

// linkGuard lets goldmark's link parser see "](" only when the destination
// ends within maxDestination bytes and maxParenDepth parentheses, and see
// '[' only while fewer than maxOpenBrackets are open; otherwise the
// character stays text. That bounds the rescans goldmark makes at every
// "](" and every ']'.
//
// The count of open brackets is this guard's own: +1 for each '[' goldmark
// takes, -1 for each ']' it is shown while one is open. goldmark also drops
// openers on its own (a link deactivates the '[' before it), so the count
// can only be too high, which errs on the side of text.
type linkGuard struct{ linkParser }

var openBracketsKey = parser.NewContextKey()

func (g linkGuard) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, _ := block.PeekLine()
	open, _ := pc.Get(openBracketsKey).(int)
	switch {
	case line[0] == '[' || line[0] == '!':
		if open >= maxOpenBrackets {
			return nil
		}
		node := g.linkParser.Parse(parent, block, pc)
		if node != nil {
			pc.Set(openBracketsKey, open+1)
		}
		return node
	case open == 0:
		return g.linkParser.Parse(parent, block, pc) // no opener: cheap
	}
	pc.Set(openBracketsKey, open-1)
	if len(line) > 1 && line[1] == '(' && !destinationEnds(line[2:]) {
		return nil
	}
	return g.linkParser.Parse(parent, lineIndex(parent, block), pc)
}

func (g linkGuard) CloseBlock(parent ast.Node, block text.Reader, pc parser.Context) {
	pc.Set(openBracketsKey, 0)
	g.linkParser.CloseBlock(parent, block, pc)
}

// destinationEnds reports whether a link destination at the start of rest
// (after "](") ends soon enough: the same scan as goldmark's, bounded.
// A destination on the next line is left to goldmark: that scan is bounded
// by the line.
func destinationEnds(rest []byte) bool {
	i := 0
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	rest = rest[i:]
	if len(rest) == 0 || rest[0] == '\n' || rest[0] == '\r' {
		return true
	}
	if len(rest) > maxDestination+2 {
		rest = rest[:maxDestination+2]
	}
	if rest[0] == '<' {
		for j := 1; j < len(rest); j++ {
			switch rest[j] {
			case '\\':
				j++
			case '>':
				return true
			case '\n', '<':
				return false
			}
		}
		return false
	}
	depth := 0
	for j := 0; j < len(rest); j++ {
		switch c := rest[j]; c {
		case '\\':
			j++
		case '(':
			depth++
			if depth > maxParenDepth {
				return false
			}
		case ')':
			depth--
			if depth < 0 {
				return true
			}
		case ' ', '\t', '\n', '\r':
			return true
		}
	}
	return false
}

// indexedReader is the reader goldmark gives inline parsers, with a Value
// that finds a segment's first line by binary search. goldmark's own scans
// back from the block's last line, so every link label, link title and
// footnote reference cost the lines after it: "[a][]\n" ×12,800 took
// 0.5 s and grew fourfold with each doubling. The result is the same
// (TestIndexedReader compares them).
type indexedReader struct {
	text.Reader
	lines *text.Segments
}

// lineIndex wraps block when parent is the block whose lines it reads,
// which is how goldmark calls inline parsers.
func lineIndex(parent ast.Node, block text.Reader) text.Reader {
	if parent.Type() != ast.TypeBlock || parent.Lines() == nil || parent.Lines().Len() < 2 {
		return block
	}
	return indexedReader{block, parent.Lines()}
}

func (r indexedReader) Value(seg text.Segment) []byte {
	return segmentValue(r.Source(), r.lines, seg)
}

// segmentValue is text.blockReader.Value with a binary search: the bytes
// of seg within lines, with each line's padding, from the last line that
// starts at or before seg.Start.
func segmentValue(src []byte, lines *text.Segments, seg text.Segment) []byte {
	n := lines.Len()
	line := sort.Search(n, func(i int) bool { return lines.At(i).Start > seg.Start }) - 1
	line = max(line, 0)
	ret := make([]byte, 0, seg.Stop-seg.Start+1)
	i := seg.Start
	for ; line < n; line++ {
		s := lines.At(line)
		if i < 0 {
			i = s.Start
		}
		ret = s.ConcatPadding(ret)
		if stop := min(seg.Stop, s.Stop); i < stop {
			ret = append(ret, src[i:stop]...)
		}
		i = -1
		if s.Stop > seg.Stop {
			break
		}
	}
	return ret
}

// referenceGuard passes goldmark's link reference transformer only
// paragraphs of at most maxReferenceLines lines.
type referenceGuard struct{ parser.ParagraphTransformer }

func (g referenceGuard) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	if node.Lines().Len() > maxReferenceLines {
		return
	}
	g.ParagraphTransformer.Transform(node, reader, pc)
}

// footnoteCap passes the first maxFootnoteRefs footnote references to
// goldmark's parser; later ones stay text.
type footnoteCap struct{ parser.InlineParser }

var footnoteRefsKey = parser.NewContextKey()

func (f footnoteCap) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	n, _ := pc.Get(footnoteRefsKey).(int)
	if n >= maxFootnoteRefs {
		return nil
	}
	node := f.InlineParser.Parse(parent, lineIndex(parent, block), pc)
	if node != nil {
		pc.Set(footnoteRefsKey, n+1)
	}
	return node
}

// tableGuard lets goldmark's table transformer see a paragraph only when
// its table could not have more than tableCellsPerByte cells per byte.
// The column count is over-estimated from the most '|' on any line, so the
// check needs no second parse.
type tableGuard struct{ parser.ParagraphTransformer }

func (g tableGuard) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	lines := node.Lines()
	if lines.Len() < 2 {
		return
	}
	src := reader.Source()
	size, cols := 0, 0
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		v := seg.Value(src)
		size += len(v)
		cols = max(cols, bytes.Count(v, []byte("|"))+1)
	}
	if cols*lines.Len() > tableCellsPerByte*size+tableCellsSlack {
		return
	}
	g.ParagraphTransformer.Transform(node, reader, pc)
}

// newPolicy is the second wall: whatever goldmark wrote, only these
// elements, attributes and URLs survive.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
		"blockquote", "pre", "code", "em", "strong", "del", "sup",
		"ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "div")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(left|center|right)$`)).OnElements("th", "td")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+#.-]{1,64}$`)).OnElements("code")

	// Links: http, https and mailto, the pod's own /tags/ and /people/
	// pages, and footnote fragments. bluemonday also parses each URL and
	// checks its scheme; both must pass.
	p.RequireParseableURLs(true)
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(true)
	p.AllowAttrs("href").Matching(regexp.MustCompile(
		`^(?i:https?://[^/\\]|mailto:|/tags/|/people/|#[A-Za-z0-9_-]*fn(ref[0-9]*)?:[0-9]+$)`)).OnElements("a")
	p.AllowAttrs("title").OnElements("a", "img")
	p.AllowAttrs("class").Matching(regexp.MustCompile(
		`^(mention|tag|footnote-ref|footnote-backref)$`)).OnElements("a")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^footnotes$`)).OnElements("div")
	p.AllowAttrs("role").Matching(regexp.MustCompile(
		`^(doc-noteref|doc-backlink|doc-endnotes)$`)).OnElements("a", "div")
	p.AllowAttrs("id").Matching(regexp.MustCompile(
		`^[A-Za-z0-9_-]*fn(ref[0-9]*)?:[0-9]+$`)).OnElements("sup", "li")
	// Links that leave the pod open outside it and tell the other site
	// nothing; bluemonday adds noopener with target=_blank. Links within
	// the pod (tags, people, footnotes) get neither.
	p.RequireNoFollowOnFullyQualifiedLinks(true)
	p.RequireNoReferrerOnFullyQualifiedLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)

	// Images: http and https, as diaspora allows. Loading one tells its
	// host the reader's address; a camo-like proxy is the caller's choice.
	p.AllowAttrs("src").Matching(regexp.MustCompile(`^(?i:https?://[^/\\])`)).OnElements("img")
	p.AllowAttrs("alt").OnElements("img")
	return p
}
