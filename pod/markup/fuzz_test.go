package markup

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"

	"seedpod/pod/diaspora/id"
)

// FuzzRender feeds arbitrary text to Render. Invariants:
//   - it never panics; text that fails Check gives an error wrapping
//     ErrInvalidText or ErrTooLong;
//   - the HTML passes unsafeHTML: only allow-listed elements and
//     attributes, so no <script>, no on…= event handler, no style; and no
//     href or src but http(s), mailto, the pod's /tags/ and /people/ paths
//     and footnote fragments — so no javascript: or data: URL (the word
//     "javascript:" may still appear as text, escaped);
//   - Tags are lowercase, unique, 1 to MaxTagLength characters, and equal
//     Tags(src); Mentions are unique by handle, their handles valid
//     canonical diaspora IDs, and equal Mentions(src);
//   - the Title is at most TitleLength characters;
//   - rendering again gives the same result.
//
// Each input is checked twice: as it is, and read as a string of Markdown
// tokens (see tokens), which reaches nested and interleaved constructs far
// sooner than random bytes do.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"",
		typicalPost,
		"# Title #tag\n\n@{Alice; alice@example.org} **#bold** _#em_ `#code`",
		"[x](javascript:alert(1)) <javascript:alert(1)> ![x](data:image/png;base64,AA)",
		"<script>alert(1)</script><img src=x onerror=alert(1)>",
		"@{<script>; a@b.example} @{\"><b>; a@b.example}",
		"a|b\n-|:-:\n#1|@{a@b.example}\n\nx[^1]\n\n[^1]: y",
		"> > > - 1. [a](</tags/x>) www.example.org a@b.example",
		"&#x3C;script&#x3E; &amp;#106;avascript: \\#no",
		"[r]: https://e.example \"t\"\n\n[r] [r][] [x][r]",
		"```js\n#x @{a@b.example}\n```\n<div>\n#y\n</div>",
		"#<3 #ab\u055bc #Straße #İstanbul",
		strings.Repeat(">", 100) + strings.Repeat("[", 100) + strings.Repeat("*", 100),
		"a\xffb", "a\x00b",
		// Found by the fuzzer (testdata/fuzz/FuzzRender/userinfo-url-tokens):
		// an http URL whose user info reads "javascript:", which an
		// invariant that looked for the word rather than the scheme refused.
		"> > www.javascript:alice@example.org",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		checkRender(t, src)
		checkRender(t, fromTokens(src))
	})
}

// tokens are the pieces of Markdown, HTML and URLs that fromTokens builds
// text from.
var tokens = []string{
	"\n", "\n\n", " ", "  \n", "\t", "a", "word", "é", "日本",
	"#", "#tag", "#Tag_x", "#<3", "&", "&#", "&#x3C;", "&#106;", "&amp;", ";", "\\",
	"@", "@{", "}", "; ", "alice@example.org", "Name; bob@pod.example", "@{A; a@example.org}",
	"*", "**", "_", "~", "~~", "`", "```", "```js\n",
	"[", "]", "](", ")", "(", "![", "[^1]", "[^1]: ", "[r]: ", "[r]", "\"", "'", "<", ">",
	"> ", "- ", "1. ", "    ", "# ", "---", "===", "|", "-|-",
	"http://", "https://", "www.", "mailto:", "javascript:", "JaVaScRiPt:", "data:", "//", "/tags/", "/people/",
	"alert(1)", "<script>", "</script>", "<img src=x onerror=alert(1)>", "<a href=", " onclick=",
}

// fromTokens reads each byte of s as an index into tokens.
func fromTokens(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString(tokens[int(s[i])%len(tokens)])
	}
	return b.String()
}

func checkRender(t *testing.T, src string) {
	t.Helper()
	{
		opts := Options{PersonURL: people, IDPrefix: "p"}
		r, err := Render(src, opts)
		if cerr := Check(src); cerr != nil {
			if err == nil || !(errors.Is(err, ErrInvalidText) || errors.Is(err, ErrTooLong)) {
				t.Fatalf("Check = %v but Render = %v", cerr, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if err := unsafeHTML(r.HTML); err != nil {
			t.Fatalf("unsafe HTML: %v\n%s", err, r.HTML)
		}
		seen := map[string]bool{}
		for _, tag := range r.Tags {
			if tag == "" || tag != strings.ToLower(tag) || seen[tag] || utf8.RuneCountInString(tag) > MaxTagLength {
				t.Fatalf("bad tag %q in %q", tag, r.Tags)
			}
			seen[tag] = true
		}
		if got := Tags(src); !reflect.DeepEqual(got, r.Tags) {
			t.Fatalf("Tags = %q; Render's = %q", got, r.Tags)
		}
		who := map[string]bool{}
		for _, m := range r.Mentions {
			if !id.Valid(m.Handle) || who[m.Handle] {
				t.Fatalf("bad mention %q in %q", m.Handle, r.Mentions)
			}
			who[m.Handle] = true
		}
		if got := Mentions(src); !reflect.DeepEqual(got, r.Mentions) {
			t.Fatalf("Mentions = %q; Render's = %q", got, r.Mentions)
		}
		if utf8.RuneCountInString(r.Title) > TitleLength {
			t.Fatalf("title %q is too long", r.Title)
		}
		again, err := Render(src, opts)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("second render differs: %v\n%+v\n%+v", err, r, again)
		}
	}
}

// allowedAttrs is what the HTML may hold: element → attributes. It mirrors
// newPolicy, written out again so that a change there has to be made here
// on purpose.
var allowedAttrs = map[string][]string{
	"p": nil, "br": nil, "hr": nil, "h1": nil, "h2": nil, "h3": nil, "h4": nil, "h5": nil, "h6": nil,
	"blockquote": nil, "pre": nil, "em": nil, "strong": nil, "del": nil,
	"ul": nil, "table": nil, "thead": nil, "tbody": nil, "tr": nil,
	"code": {"class"},
	"sup":  {"id"},
	"li":   {"id"},
	"ol":   {"start"},
	"th":   {"align"},
	"td":   {"align"},
	"div":  {"class", "role"},
	"a":    {"href", "title", "class", "role", "rel", "target"},
	"img":  {"src", "alt", "title"},
}

// unsafeHTML returns why s is not HTML this package may produce, or nil.
func unsafeHTML(s string) error {
	if strings.Contains(strings.ToLower(s), "<script") {
		return errors.New("<script")
	}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				return nil
			}
			return z.Err()
		case html.CommentToken, html.DoctypeToken:
			return fmt.Errorf("%s", z.Token())
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tok := z.Token()
			attrs, ok := allowedAttrs[tok.Data]
			if !ok {
				return fmt.Errorf("element <%s>", tok.Data)
			}
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				if strings.HasPrefix(key, "on") || key == "style" || !contains(attrs, key) {
					return fmt.Errorf("attribute %s=%q on <%s>", a.Key, a.Val, tok.Data)
				}
				// What a browser would make of the value: no whitespace
				// or control characters, any case.
				v := strings.ToLower(strings.Map(func(r rune) rune {
					if r <= ' ' || r == 0x7f {
						return -1
					}
					return r
				}, a.Val))
				// A scheme is what counts: "http://www.javascript:x@host"
				// is an http URL (with user info).
				if hasAnyPrefix(v, "javascript:", "vbscript:", "data:", "file:") {
					return fmt.Errorf("attribute %s=%q on <%s>", a.Key, a.Val, tok.Data)
				}
				switch key {
				case "href":
					if !hasAnyPrefix(v, "http://", "https://", "mailto:", "/tags/", "/people/", "#") ||
						strings.HasPrefix(v, "http:///") || strings.HasPrefix(v, "https:///") {
						return fmt.Errorf("href=%q", a.Val)
					}
				case "src":
					if !hasAnyPrefix(v, "http://", "https://") {
						return fmt.Errorf("src=%q", a.Val)
					}
				case "target":
					if a.Val != "_blank" {
						return fmt.Errorf("target=%q", a.Val)
					}
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
