package markup

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"seedpod/pod/diaspora/id"
)

// MaxTagLength is the longest tag in characters. diaspora refuses a post
// with a longer one (taggable.rb, tag_name_max_length, after
// acts-as-taggable-on's column); here a longer "#word" is just text.
const MaxTagLength = 255

// maxMentionBytes bounds the search for a mention's closing '}', so that
// many unclosed "@{" on a long line cost a bounded scan each. A diaspora
// name is two 32-character fields and an ID at most 255 characters.
const maxMentionBytes = 1024

// Node kinds for tags and mentions. Registered once, like goldmark's own.
var (
	kindTag     = ast.NewNodeKind("MarkupTag")
	kindMention = ast.NewNodeKind("MarkupMention")
)

// tagNode is a #tag found by tagParser. walk fills in url.
type tagNode struct {
	ast.BaseInline
	raw  []byte // as written, without '#'
	name string // lowercase
	url  string // "" renders the tag as plain text
}

func (n *tagNode) Kind() ast.NodeKind { return kindTag }

func (n *tagNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"Name": n.name}, nil)
}

// mentionNode is an @{…} mention found by mentionParser. walk fills in url
// and display.
type mentionNode struct {
	ast.BaseInline
	name    string // as written, trimmed; may be ""
	handle  string // normalised diaspora ID
	url     string // "" renders the mention as plain text
	display string
}

func (n *mentionNode) Kind() ast.NodeKind { return kindMention }

func (n *mentionNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"Name": n.name, "Handle": n.handle}, nil)
}

// tagParser reads "#tag". Being an inline parser, it never runs inside code
// spans, code blocks, autolinks or raw HTML, and it reads the whole tag
// before emphasis sees the '_' in "#snake_case".
type tagParser struct{}

func (tagParser) Trigger() []byte { return []byte{'#'} }

func (tagParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, seg := block.PeekLine()
	if block.PrecendingCharacter() == '&' {
		return numericReference(parent, block, line, seg.Start)
	}
	ok, delim := tagMayStart(block, seg.Start)
	if !ok {
		return nil
	}
	n := 1
	for n < len(line) {
		r, size := utf8.DecodeRune(line[n:])
		if !isTagRune(r) {
			break
		}
		n += size
	}
	if delim == '_' {
		// "_#tag_": the closing '_' belongs to the emphasis, not the tag.
		for n > 2 && line[n-1] == '_' {
			n--
		}
	}
	if n == 1 {
		// diaspora's one exception to the alphabet: "#<3", "because the
		// world needs more love".
		if !bytes.HasPrefix(line[1:], []byte("<3")) {
			return nil
		}
		n = 3
	}
	raw := line[1:n]
	if utf8.RuneCount(raw) > MaxTagLength {
		return nil
	}
	block.Advance(n)
	return &tagNode{raw: raw, name: strings.ToLower(string(raw))}
}

// numericReference keeps a character reference such as "&#x3C;" in one
// text node. Declining the '#' is not enough: goldmark then ends the text
// node before the '#', and an entity split across two nodes is never
// resolved, so "&#x3C;" at the end of a line would show as "&amp;#x3C;".
// It moves the '&' out of the preceding text node into a node that holds
// the whole reference, or returns nil when there is no reference here.
func numericReference(parent ast.Node, block text.Reader, line []byte, pos int) ast.Node {
	n := 1 // '#'
	hex := len(line) > 1 && (line[1] == 'x' || line[1] == 'X')
	if hex {
		n++
	}
	digits := 0
	for n < len(line) && digits < 8 && (isDigit(line[n]) || hex && isHexLetter(line[n])) {
		n++
		digits++
	}
	if digits == 0 || n >= len(line) || line[n] != ';' {
		return nil
	}
	n++
	prev, ok := parent.LastChild().(*ast.Text)
	if !ok || prev.IsRaw() || prev.SoftLineBreak() || prev.HardLineBreak() ||
		prev.Segment.Stop != pos || prev.Segment.Len() == 0 {
		return nil
	}
	prev.Segment = prev.Segment.WithStop(pos - 1)
	if prev.Segment.Len() == 0 {
		parent.RemoveChild(parent, prev)
	}
	block.Advance(n)
	return ast.NewTextSegment(text.NewSegment(pos-1, pos+n))
}

func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isHexLetter(c byte) bool { return 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// isTagRune is diaspora's tag alphabet (Tag.tag_text_regexp): Ruby's
// [[:word:]] — letters, marks, decimal digits, connector punctuation such
// as '_' — plus '-' and four Armenian punctuation marks used inside words.
func isTagRune(r rune) bool {
	switch r {
	case '-', '\u055b', '\u055c', '\u055e', '\u058a':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || unicode.Is(unicode.Pc, r)
}

// tagMayStart reports whether a '#' at source offset pos can start a tag,
// and the emphasis delimiter it follows, if any. diaspora indexes "#tag"
// only at the start of the text or after whitespace ((?:^|\s)#,
// taggable.rb), while its web client also links a tag that starts a text
// run, as in "**#tag**". Here a tag may follow the start of a line or block,
// whitespace, '>' (diaspora's HTML-side rule allows it; here it ends a
// block-quote marker), or an emphasis or strike-through run that does not
// itself follow a letter or digit. So "a#b", "&#123;", "/page#frag" and
// "(#x)" are not tags.
func tagMayStart(block text.Reader, pos int) (ok bool, delim byte) {
	prev := block.PrecendingCharacter()
	if unicode.IsSpace(prev) || prev == '>' {
		return true, 0
	}
	if prev != '*' && prev != '_' && prev != '~' {
		return false, 0
	}
	src := block.Source()
	i := pos
	for i > 0 && (src[i-1] == '*' || src[i-1] == '_' || src[i-1] == '~') {
		i--
	}
	if i > 0 {
		r, _ := utf8.DecodeLastRune(src[:i])
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
			return false, 0
		}
	}
	return true, byte(prev)
}

// mentionParser reads diaspora's mention syntax, "@{Name; user@host}" and
// "@{user@host}" (mentionable.rb, REGEX). The name is everything before
// the last "; ", as diaspora's lazy match gives it. An invalid handle leaves
// the text as it is.
type mentionParser struct{}

func (mentionParser) Trigger() []byte { return []byte{'@'} }

func (mentionParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, _ := block.PeekLine()
	if len(line) < 3 || line[1] != '{' {
		return nil
	}
	body := line[2:min(len(line), 2+maxMentionBytes)]
	end := bytes.IndexByte(body, '}')
	if end < 0 {
		return nil
	}
	name, handle := splitMention(string(body[:end]))
	if handle == "" || strings.ContainsAny(handle, " \t") || strings.HasPrefix(strings.ToLower(handle), "acct:") {
		return nil
	}
	h, err := id.Normalize(handle)
	if err != nil {
		return nil
	}
	block.Advance(2 + end + 1)
	return &mentionNode{name: name, handle: h}
}

// splitMention splits the inside of "@{…}" into name and handle, both
// trimmed.
func splitMention(s string) (name, handle string) {
	if i := strings.LastIndex(s, "; "); i >= 0 {
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+2:])
	}
	return "", strings.TrimSpace(s)
}

// nodeRenderer writes tags and mentions.
type nodeRenderer struct{}

func (nodeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindTag, renderTag)
	reg.Register(kindMention, renderMention)
}

func renderTag(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*tagNode)
	if n.url == "" {
		_ = w.WriteByte('#')
		_, _ = w.Write(util.EscapeHTML(n.raw))
		return ast.WalkContinue, nil
	}
	_, _ = w.WriteString(`<a href="`)
	_, _ = w.Write(util.EscapeHTML([]byte(n.url)))
	_, _ = w.WriteString(`" class="tag">#`)
	_, _ = w.Write(util.EscapeHTML(n.raw))
	_, _ = w.WriteString(`</a>`)
	return ast.WalkContinue, nil
}

func renderMention(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*mentionNode)
	if n.url == "" {
		_ = w.WriteByte('@')
		_, _ = w.Write(util.EscapeHTML([]byte(n.display)))
		return ast.WalkContinue, nil
	}
	_, _ = w.WriteString(`<a href="`)
	_, _ = w.Write(util.EscapeHTML([]byte(n.url)))
	_, _ = w.WriteString(`" class="mention">@`)
	_, _ = w.Write(util.EscapeHTML([]byte(n.display)))
	_, _ = w.WriteString(`</a>`)
	return ast.WalkContinue, nil
}
