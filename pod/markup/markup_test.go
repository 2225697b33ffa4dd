package markup

import (
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// people is a PersonURL that knows every handle on example.org.
func people(handle, name string) (string, string, bool) {
	if !strings.HasSuffix(handle, "@example.org") {
		return "", "", false
	}
	return "/people/" + handle, "", true
}

func render(t *testing.T, src string, opts Options) Rendered {
	t.Helper()
	r, err := Render(src, opts)
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	if err := unsafeHTML(r.HTML); err != nil {
		t.Fatalf("Render(%q) = %s\nunsafe: %v", src, r.HTML, err)
	}
	return r
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want error  // nil, ErrTooLong or ErrInvalidText
		msg  string // in the error message
	}{
		{"empty", "", nil, ""},
		{"text", "Hello, *world*!\r\n\tnext line", nil, ""},
		{"unicode", "héllo 日本語 🎉 \u200d \ufeff", nil, ""},
		{"replacement char is valid", "a\ufffdb", nil, ""},
		{"max", strings.Repeat("é", MaxLength), nil, ""},
		{"one too many", strings.Repeat("a", MaxLength+1), ErrTooLong, "65536 characters"},
		{"far too many bytes", strings.Repeat("a", 5*MaxLength), ErrTooLong, "bytes"},
		{"bad utf8", "ab\xffcd", ErrInvalidText, "invalid UTF-8 at byte 2"},
		{"truncated rune", "ab\xe6\x97", ErrInvalidText, "invalid UTF-8 at byte 2"},
		{"surrogate half", "a\xed\xa0\x80", ErrInvalidText, "invalid UTF-8 at byte 1"},
		{"NUL", "abc\x00", ErrInvalidText, "U+0000 at byte 3"},
		{"bell", "\x07", ErrInvalidText, "U+0007 at byte 0"},
		{"escape", "a\x1b[31m", ErrInvalidText, "U+001B"},
		{"DEL", "a\x7f", ErrInvalidText, "U+007F"},
		{"C1", "a\u0085", ErrInvalidText, "U+0085 at byte 1"},
		{"vertical tab", "a\vb", ErrInvalidText, "U+000B"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Check(c.in)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Check = %v; want %v saying %q", err, c.want, c.msg)
			}
			if _, rerr := Render(c.in, Options{}); !errors.Is(rerr, c.want) {
				t.Errorf("Render = %v; want %v", rerr, c.want)
			}
			if Tags(c.in+" #tag") != nil || Mentions(c.in+" @{a@example.org}") != nil {
				t.Errorf("Tags or Mentions extracted from text that fails Check")
			}
		})
	}
}

func TestTags(t *testing.T) {
	long := strings.Repeat("a", MaxTagLength)
	cases := []struct {
		in   string
		want []string
	}{
		{"#tag", []string{"tag"}},
		{"a #tag.", []string{"tag"}},
		{"#Tag #TAG #tag #other", []string{"tag", "other"}},
		{"#foo_bar #foo-bar #foo_", []string{"foo_bar", "foo-bar", "foo_"}},
		{"#café #日本語 #Straße #ΑΒΓ", []string{"café", "日本語", "straße", "αβγ"}},
		{"#ab\u055bc", []string{"ab\u055bc"}}, // Armenian emphasis mark
		{"issue #123", []string{"123"}},
		{"#<3 and #<3love", []string{"<3"}},
		{"#c++ #c#", []string{"c"}},
		{"#tag's", []string{"tag"}},
		{"line\n#next\n\n#para", []string{"next", "para"}},
		{"**#bold** *#em* _#under_ ~~#gone~~", []string{"bold", "em", "under", "gone"}},
		{"# Heading #inside", []string{"inside"}},
		{"> #quoted\n>#tight", []string{"quoted", "tight"}},
		{"- #item\n1. #numbered", []string{"item", "numbered"}},
		{"a|b\n-|-\n#cell|x", []string{"cell"}},
		{"#" + long, []string{long}},

		// Not tags.
		{"#" + long + "a", nil},
		{"a#b", nil},
		{"x*#no*", nil},
		{"(#paren)", nil},
		{"[#bracket]", nil},
		{"&#123; &#x41;", nil},
		{"\\#escaped", nil},
		{"##double", nil},
		{"#", nil},
		{"# ", nil},
		{"#!", nil},
		{"`#code`", nil},
		{"```\n#fenced\n```", nil},
		{"    #indented code", nil},
		{"https://example.org/page#frag", nil},
		{"example.org/page#frag", nil},
		{"<https://example.org/#frag>", nil},
		{"[#in link text](https://example.org)", nil},
		{"![#in alt](https://example.org/i.png)", nil},
		{"<a href=\"#x\">", nil},
		{"@{#name; a@example.org}", nil},
	}
	for _, c := range cases {
		t.Run(c.in[:min(len(c.in), 30)], func(t *testing.T) {
			if got := Tags(c.in); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Tags(%q) = %q; want %q", c.in, got, c.want)
			}
			r := render(t, c.in, Options{})
			if !reflect.DeepEqual(r.Tags, c.want) {
				t.Errorf("Render(%q).Tags = %q; want %q", c.in, r.Tags, c.want)
			}
			for _, tag := range c.want {
				if !strings.Contains(r.HTML, `class="tag"`) {
					t.Errorf("Render(%q) = %s; no link for #%s", c.in, r.HTML, tag)
				}
			}
		})
	}
}

func TestTagRendering(t *testing.T) {
	cases := []struct {
		in   string
		opts Options
		want string
	}{
		{"#Tag", Options{}, `<p><a href="/tags/tag" class="tag">#Tag</a></p>`},
		{"#café", Options{}, `<p><a href="/tags/caf%C3%A9" class="tag">#café</a></p>`},
		{"#<3", Options{}, `<p><a href="/tags/%3C3" class="tag">#&lt;3</a></p>`},
		{"#x", Options{TagURL: func(tag string) string { return "https://pod.example/tags/" + tag }},
			`<p><a href="https://pod.example/tags/x" class="tag" rel="nofollow noreferrer noopener" target="_blank">#x</a></p>`},
		// A URL the pod would not link stays text, and the tag still counts.
		{"#x", Options{TagURL: func(string) string { return "javascript:alert(1)" }}, `<p>#x</p>`},
		{"#x", Options{TagURL: func(string) string { return "/elsewhere/x" }}, `<p>#x</p>`},
		{"[#x](https://e.example)", Options{},
			`<p><a href="https://e.example" rel="nofollow noreferrer noopener" target="_blank">#x</a></p>`},
	}
	for _, c := range cases {
		r := render(t, c.in, c.opts)
		if got := strings.TrimSpace(r.HTML); got != c.want {
			t.Errorf("Render(%q).HTML =\n%s\nwant\n%s", c.in, got, c.want)
		}
	}
}

func TestMentions(t *testing.T) {
	m := func(name, handle string) Mention { return Mention{Name: name, Handle: handle} }
	cases := []struct {
		in   string
		want []Mention
	}{
		{"@{Alice; alice@example.org}", []Mention{m("Alice", "alice@example.org")}},
		{"@{alice@example.org}", []Mention{m("", "alice@example.org")}},
		{"hi @{ Alice Smith ; Alice@Example.ORG }!", []Mention{m("Alice Smith", "alice@example.org")}},
		{"@{A; B; c@example.org}", []Mention{m("A; B", "c@example.org")}},
		{"@{;; c@example.org}", []Mention{m(";", "c@example.org")}},
		{"@{a@pod.example:3000}", []Mention{m("", "a@pod.example:3000")}},
		{"@{a@bücher.example}", []Mention{m("", "a@xn--bcher-kva.example")}},
		{"@{a_b.c-d@127.0.0.1}", []Mention{m("", "a_b.c-d@127.0.0.1")}},
		{"x@{a@example.org}y", []Mention{m("", "a@example.org")}},
		{"@{A; a@example.org} @{B; a@example.org} @{b@example.org}",
			[]Mention{m("A", "a@example.org"), m("", "b@example.org")}},
		{"@{foo @{a@example.org}", []Mention{m("", "a@example.org")}},
		{"@{<script>; a@example.org}", []Mention{m("<script>", "a@example.org")}},
		{"[@{A; a@example.org}](https://e.example)", []Mention{m("A", "a@example.org")}},
		{"# @{A; a@example.org}", []Mention{m("A", "a@example.org")}},

		// Not mentions.
		{"alice@example.org", nil},
		{"@alice@example.org", nil},
		{"@{no handle}", nil},
		{"@{a@}", nil},
		{"@{@example.org}", nil},
		{"@{a b@example.org}", nil},
		{"@{a@exa mple.org}", nil},
		{"@{A;a@example.org}", nil},
		{"@{a@example.org", nil},
		{"@{a@ex_ample.org}", nil},
		{"@{a@example.org:99999}", nil},
		{"@{acct:a@example.org}", nil},
		{"@{A; a@example.org\n}", nil},
		{"`@{a@example.org}`", nil},
		{"```\n@{a@example.org}\n```", nil},
		{"    @{a@example.org}", nil},
		{"@{" + strings.Repeat("n", maxMentionBytes) + "; a@example.org}", nil},
	}
	for _, c := range cases {
		t.Run(c.in[:min(len(c.in), 30)], func(t *testing.T) {
			if got := Mentions(c.in); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Mentions(%q) = %q; want %q", c.in, got, c.want)
			}
			r := render(t, c.in, Options{PersonURL: people})
			if !reflect.DeepEqual(r.Mentions, c.want) {
				t.Errorf("Render(%q).Mentions = %q; want %q", c.in, r.Mentions, c.want)
			}
		})
	}
}

func TestMentionRendering(t *testing.T) {
	named := func(handle, name string) (string, string, bool) {
		return "https://pod.example/people/1", "Alice A.", true
	}
	cases := []struct {
		in   string
		opts Options
		want string
	}{
		{"@{Alice; alice@example.org}", Options{PersonURL: people},
			`<p><a href="/people/alice@example.org" class="mention">@Alice</a></p>`},
		{"@{alice@example.org}", Options{PersonURL: people},
			`<p><a href="/people/alice@example.org" class="mention">@alice@example.org</a></p>`},
		{"@{Al; alice@example.org}", Options{PersonURL: named},
			`<p><a href="https://pod.example/people/1" class="mention" rel="nofollow noreferrer noopener" target="_blank">@Alice A.</a></p>`},
		// Unknown people, or no PersonURL: plain text.
		{"@{Bob; bob@else.example}", Options{PersonURL: people}, `<p>@Bob</p>`},
		{"@{bob@else.example}", Options{PersonURL: people}, `<p>@bob@else.example</p>`},
		{"@{Bob; bob@example.org}", Options{}, `<p>@Bob</p>`},
		// A hostile name is text, escaped.
		{`@{<script>alert(1)</script>; alice@example.org}`, Options{PersonURL: people},
			`<p><a href="/people/alice@example.org" class="mention">@&lt;script&gt;alert(1)&lt;/script&gt;</a></p>`},
		{`@{"><img src=x onerror=alert(1)>; a@b.example}`, Options{},
			`<p>@&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</p>`},
		// A hostile URL or display from the caller.
		{"@{alice@example.org}", Options{PersonURL: func(string, string) (string, string, bool) {
			return "javascript:alert(1)", "<b>x</b>", true
		}}, `<p>@&lt;b&gt;x&lt;/b&gt;</p>`},
		{"@{alice@example.org}", Options{PersonURL: func(string, string) (string, string, bool) {
			return `/people/x" onclick="alert(1)`, "x", true
		}}, `<p><a href="/people/x%22%20onclick=%22alert(1)" class="mention">@x</a></p>`},
		// Inside a link's text a mention is text: links do not nest.
		{"[hi @{A; alice@example.org}](https://e.example)", Options{PersonURL: people},
			`<p><a href="https://e.example" rel="nofollow noreferrer noopener" target="_blank">hi @A</a></p>`},
		{"![@{A; alice@example.org}](https://e.example/i.png)", Options{PersonURL: people},
			`<p><img src="https://e.example/i.png" alt="@A"></p>`},
	}
	for _, c := range cases {
		r := render(t, c.in, c.opts)
		if got := strings.TrimSpace(r.HTML); got != c.want {
			t.Errorf("Render(%q).HTML =\n%s\nwant\n%s", c.in, got, c.want)
		}
	}
}

func TestPersonURLCalledOncePerPerson(t *testing.T) {
	calls := map[string]int{}
	opts := Options{PersonURL: func(handle, name string) (string, string, bool) {
		calls[handle+"|"+name]++
		return "/people/" + handle, "", true
	}}
	render(t, "@{A; a@example.org} @{A; a@example.org} @{B; a@example.org} @{a@example.org} "+
		"[@{A; a@example.org}](https://e.example)", opts)
	want := map[string]int{"a@example.org|A": 1, "a@example.org|B": 1, "a@example.org|": 1}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("PersonURL calls = %v; want %v", calls, want)
	}
}

func TestTitle(t *testing.T) {
	long := strings.Repeat("word ", 30)
	cases := []struct{ in, want string }{
		{"", ""},
		{"   \n\n  ", ""},
		{"# Heading\n\nbody text", "Heading"},
		{"\n\n  ## *Bold* #tag heading ##\nbody", "Bold #tag heading"},
		{"Setext\n======\nbody", "Setext"},
		{"Setext two\n---\nbody", "Setext two"},
		{"Just text.\nMore text.", "Just text. More text."},
		// diaspora takes the heading only when the post starts with it.
		{"intro\n\n# Heading", "intro Heading"},
		{"#tag first", "#tag first"},
		{"#\n\nempty heading", "empty heading"},
		{"@{Alice; a@example.org} says hi", "Alice says hi"},
		{"[link text](https://example.org) and `code`", "link text and code"},
		{"![alt text](https://example.org/i.png)", "alt text"},
		{"<b>raw</b> &amp; \\*escaped\\*", "<b>raw</b> & *escaped*"},
		{long, strings.Repeat("word ", 13) + "word…"},
		{"# " + long, strings.Repeat("word ", 13) + "word…"},
		{strings.Repeat("é", 80), strings.Repeat("é", 69) + "…"},
		{strings.Repeat("日本", 40), strings.Repeat("日本", 34) + "日…"},
		{strings.Repeat("a", 69) + " bcd", strings.Repeat("a", 69) + "…"},
		{strings.Repeat("a", 70), strings.Repeat("a", 70)},
	}
	for _, c := range cases {
		r := render(t, c.in, Options{})
		if r.Title != c.want {
			t.Errorf("Title of %q = %q; want %q", c.in, r.Title, c.want)
		}
		if n := len([]rune(r.Title)); n > TitleLength {
			t.Errorf("Title of %q is %d characters", c.in, n)
		}
	}
}

func TestText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"# Title\n\nSome *emphasis*, **strong** and ~~strike~~.\n\n- one\n- two",
			"Title Some emphasis, strong and strike. one two"},
		{"@{Alice; a@example.org} and @{b@example.org} #Tag", "Alice and b@example.org #Tag"},
		{"see [the docs](https://example.org/docs) or https://example.org/x", "see the docs or https://example.org/x"},
		{"`code span` and\n\n```go\nfunc main() {}\n```", "code span and func main() {}"},
		{"> quoted\n> text", "quoted text"},
		{"a|b\n-|-\n1|2", "a b 1 2"},
		{"&lt;not html&gt; &copy; &#65;", "<not html> © A"},
		{"<div>\nblock html\n</div>", "<div> block html </div>"},
		{"text[^1]\n\n[^1]: the note", "text the note"},
		{"line one  \nline two\\\nline three", "line one line two line three"},
		{"&#7;bell", "bell"},
	}
	for _, c := range cases {
		r := render(t, c.in, Options{})
		if r.Text != c.want {
			t.Errorf("Text of %q = %q; want %q", c.in, r.Text, c.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"hard wraps", "one\ntwo", "<p>one<br>\ntwo</p>"},
		{"CRLF and CR", "one\r\ntwo\rthree\r\n\r\nfour", "<p>one<br>\ntwo<br>\nthree</p>\n<p>four</p>"},
		{"line break in alt text", "![a\nb](https://e.example/i.png)", `<p><img src="https://e.example/i.png" alt="a b"></p>`},
		{"paragraphs", "one\n\ntwo", "<p>one</p>\n<p>two</p>"},
		{"emphasis", "*a* _b_ **c** ~~d~~ ~e~", "<p><em>a</em> <em>b</em> <strong>c</strong> <del>d</del> <del>e</del></p>"},
		{"no intra-word underscore emphasis", "snake_case_name", "<p>snake_case_name</p>"},
		{"headings", "# One\n###### Six\n####### seven",
			"<h1>One</h1>\n<h6>Six</h6>\n<p>####### seven</p>"},
		{"code span", "`a <b> *c* #d @{e@example.org}`",
			"<p><code>a &lt;b&gt; *c* #d @{e@example.org}</code></p>"},
		{"fenced code", "```go\nx := 1 < 2 #no\n```",
			"<pre><code class=\"language-go\">x := 1 &lt; 2 #no\n</code></pre>"},
		{"hostile info string", "```\"><script>\nx\n```", "<pre><code>x\n</code></pre>"},
		{"link", `[a](https://example.org/x?y=1&z=2 "T")`,
			`<p><a href="https://example.org/x?y=1&amp;z=2" title="T" rel="nofollow noreferrer noopener" target="_blank">a</a></p>`},
		{"mailto", "[m](mailto:a@example.org) a@example.org",
			`<p><a href="mailto:a@example.org">m</a> <a href="mailto:a@example.org">a@example.org</a></p>`},
		{"linkify www", "see www.example.org.",
			`<p>see <a href="http://www.example.org" rel="nofollow noreferrer noopener" target="_blank">www.example.org</a>.</p>`},
		{"linkify ftp is text", "ftp://example.org/x", `<p>ftp://example.org/x</p>`},
		{"pod paths", "[t](/tags/x) [p](/people/abc) [o](/posts/1) [f](#top)",
			`<p><a href="/tags/x">t</a> <a href="/people/abc">p</a> o f</p>`},
		{"image", `![a "b"](http://example.org/i.png)`, `<p><img src="http://example.org/i.png" alt="a &#34;b&#34;"></p>`},
		{"list", "1. a\n2. b\n\n- c", "<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n<ul>\n<li>c</li>\n</ul>"},
		{"ordered start", "3. a", "<ol start=\"3\">\n<li>a</li>\n</ol>"},
		{"blockquote", "> a", "<blockquote>\n<p>a</p>\n</blockquote>"},
		{"rule", "a\n\n***", "<p>a</p>\n<hr>"},
		{"table", "a|b|c\n:-|:-:|-:\n1|2|3",
			"<table>\n<thead>\n<tr>\n<th align=\"left\">a</th>\n<th align=\"center\">b</th>\n<th align=\"right\">c</th>\n</tr>\n</thead>\n" +
				"<tbody>\n<tr>\n<td align=\"left\">1</td>\n<td align=\"center\">2</td>\n<td align=\"right\">3</td>\n</tr>\n</tbody>\n</table>"},
		{"raw html shown as text", "<b>bold</b>", "<p>&lt;b&gt;bold&lt;/b&gt;</p>"},
		{"html block shown as text", "<div>\n*x*\n</div>", "<p>&lt;div&gt;<br>\n*x*<br>\n&lt;/div&gt;</p>"},
		{"entities", "&amp; &lt;b&gt; &#x3C;i&#x3E; &nbsp;", "<p>&amp; &lt;b&gt; &lt;i&gt; \u00a0</p>"},
		{"task list is not a checkbox", "- [ ] x", "<ul>\n<li>[ ] x</li>\n</ul>"},
		{"footnote", "a[^n]\n\n[^n]: b",
			"<p>a<sup id=\"fnref:1\"><a href=\"#fn:1\" class=\"footnote-ref\" role=\"doc-noteref\">1</a></sup></p>\n" +
				"<div class=\"footnotes\" role=\"doc-endnotes\">\n<hr>\n<ol>\n<li id=\"fn:1\">\n" +
				"<p>b\u00a0<a href=\"#fnref:1\" class=\"footnote-backref\" role=\"doc-backlink\">↩\ufe0e</a></p>\n</li>\n</ol>\n</div>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := render(t, c.in, Options{})
			if got := strings.TrimSpace(r.HTML); got != c.want {
				t.Errorf("Render(%q).HTML =\n%s\nwant\n%s", c.in, got, c.want)
			}
		})
	}
}

func TestFootnoteIDPrefix(t *testing.T) {
	r := render(t, "a[^n]\n\n[^n]: b", Options{IDPrefix: `p-1_x"><`})
	for _, want := range []string{`id="p-1_xfnref:1"`, `href="#p-1_xfn:1"`, `id="p-1_xfn:1"`, `href="#p-1_xfnref:1"`} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("HTML has no %s:\n%s", want, r.HTML)
		}
	}
	if r2 := render(t, "a[^n]\n\n[^n]: b", Options{}); strings.Contains(r2.HTML, "p-1") {
		t.Errorf("IDPrefix leaked into another render:\n%s", r2.HTML)
	}
}

// TestXSS renders attempts to get script into the page. Every output must
// pass unsafeHTML (checked in render); some also have an exact rendering.
func TestXSS(t *testing.T) {
	cases := []struct {
		name, in string
		want     string // exact HTML, or "" to check safety only
	}{
		{"script tag", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"script block", "<script>\nalert(1)\n</script>", "<p>&lt;script&gt;<br>\nalert(1)<br>\n&lt;/script&gt;</p>"},
		{"img onerror", "<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"},
		{"svg onload", "<svg/onload=alert(1)>", "<p>&lt;svg/onload=alert(1)&gt;</p>"},
		{"style", "<style>*{display:none}</style>", ""},
		{"iframe", `<iframe src="https://evil.example"></iframe>`, ""},
		{"raw anchor", `<a href="javascript:alert(1)">x</a>`, `<p>&lt;a href=&#34;javascript:alert(1)&#34;&gt;x&lt;/a&gt;</p>`},
		{"markdown js link", "[x](javascript:alert(1))", "<p>x</p>"},
		{"markdown js link upper", "[x](JaVaScRiPt:alert(1))", "<p>x</p>"},
		{"markdown js link spaces", "[x]( javascript:alert(1) )", "<p>x</p>"},
		{"markdown js link entity", "[x](jav&#x61;script:alert(1))", "<p>x</p>"},
		{"markdown js link decimal entity", "[x](&#106;avascript:alert(1))", "<p>x</p>"},
		{"markdown js link tab entity", "[x](java&#9;script:alert(1))", "<p>x</p>"},
		{"markdown js link escape", "[x](javascript\\:alert(1))", "<p>x</p>"},
		{"markdown js angle", "[x](<javascript:alert(1)>)", "<p>x</p>"},
		{"reference js link", "[x]\n\n[x]: javascript:alert(1)", "<p>x</p>"},
		{"vbscript", "[x](vbscript:msgbox(1))", "<p>x</p>"},
		{"data link", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "<p>x</p>"},
		{"data image", "![x](data:image/png;base64,iVBORw0KGgo=)", "<p>x</p>"},
		{"data svg image", "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)", "<p>x</p>"},
		{"js image", "![x](javascript:alert(1))", "<p>x</p>"},
		{"file link", "[x](file:///etc/passwd)", "<p>x</p>"},
		{"protocol relative", "[x](//evil.example/a)", "<p>x</p>"},
		{"backslash host", "[x](/\\evil.example)", "<p>x</p>"},
		{"http backslash host", "[x](http:/\\evil.example)", "<p>x</p>"},
		{"js autolink", "<javascript:alert(1)>", "<p>javascript:alert(1)</p>"},
		{"data autolink", "<data:text/html,<script>alert(1)</script>>", ""},
		{"js bare", "javascript:alert(1)", "<p>javascript:alert(1)</p>"},
		{"title breakout", `[x](https://e.example "a\" onmouseover=\"alert(1)")`,
			`<p><a href="https://e.example" title="a&#34; onmouseover=&#34;alert(1)" rel="nofollow noreferrer noopener" target="_blank">x</a></p>`},
		{"href breakout", `[x](https://e.example/"onmouseover="alert(1))`,
			`<p><a href="https://e.example/%22onmouseover=%22alert(1)" rel="nofollow noreferrer noopener" target="_blank">x</a></p>`},
		{"linkify breakout", `www.example.org/"onmouseover="alert(1)"`, ""},
		{"autolink breakout", `<https://e.example/"onclick="alert(1)>`, ""},
		{"entity script", "&#x3C;script&#x3E;alert(1)&#x3C;/script&#x3E;", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"entity names", "&lt;script&gt;", "<p>&lt;script&gt;</p>"},
		{"entities at line ends", "&#60;b&#62;\n&#x3c;i&#x3E;\n*&#65;*", "<p>&lt;b&gt;<br>\n&lt;i&gt;<br>\n<em>A</em></p>"},
		{"not entities", "&#; &#x; &#12345678901; &#65 &#zz;", "<p>&amp;#; &amp;#x; &amp;#12345678901; &amp;#65 &amp;#zz;</p>"},
		{"double escaped", "&amp;lt;script&amp;gt;", "<p>&amp;lt;script&amp;gt;</p>"},
		{"mention name script", "@{<script>; a@b.example}", "<p>@&lt;script&gt;</p>"},
		{"mention name tag", `@{<img src=x onerror=alert(1)>; a@b.example}`, "<p>@&lt;img src=x onerror=alert(1)&gt;</p>"},
		{"mention handle script", "@{a@<script>}", "<p>@{a@&lt;script&gt;}</p>"},
		{"tag with html", "#<script>", "<p>#&lt;script&gt;</p>"},
		{"code info", "```js\" onclick=\"alert(1)\nx\n```", ""},
		{"html comment", "<!-- <script>alert(1)</script> -->", ""},
		{"cdata", "<![CDATA[<script>alert(1)</script>]]>", ""},
		{"processing instruction", "<?php echo 1 ?>", ""},
		{"form", `<form action="https://evil.example"><input name=x></form>`, ""},
		{"meta refresh", `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`, ""},
		{"link in image alt", `![<img src=x onerror=alert(1)>](https://e.example/i.png)`, ""},
		{"autolink in link", "[<https://a.example> x](https://b.example)",
			`<p><a href="https://b.example" rel="nofollow noreferrer noopener" target="_blank">https://a.example x</a></p>`},
		{"nested link image", "[![x](javascript:alert(1))](javascript:alert(2))", "<p>x</p>"},
		{"footnote label", "[^<script>]\n\n[^<script>]: x", ""},
		{"table html", "a|b\n-|-\n<script>|<img src=x onerror=alert(1)>", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := render(t, c.in, Options{PersonURL: people})
			if c.want != "" && strings.TrimSpace(r.HTML) != c.want {
				t.Errorf("Render(%q).HTML =\n%s\nwant\n%s", c.in, strings.TrimSpace(r.HTML), c.want)
			}
			if strings.Contains(strings.ToLower(r.HTML), "<script") {
				t.Errorf("script element in %s", r.HTML)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	src := typicalPost + "\n\n" + strings.Repeat("@{P; p@example.org} #t [l](https://e.example) ", 50)
	opts := Options{PersonURL: people, IDPrefix: "x"}
	first := render(t, src, opts)
	for i := 0; i < 20; i++ {
		if again := render(t, src, opts); !reflect.DeepEqual(first, again) {
			t.Fatalf("render %d differs:\n%+v\n%+v", i, first, again)
		}
	}
}

func TestEmpty(t *testing.T) {
	for _, src := range []string{"", " ", "\n\n", "\t"} {
		r := render(t, src, Options{})
		if r.Text != "" || r.Title != "" || r.Tags != nil || r.Mentions != nil {
			t.Errorf("Render(%q) = %+v", src, r)
		}
	}
}

// TestNestingGuard checks that the limits in engine.go are in place: a
// hostile input costs a bounded structure, not one as deep as the input.
func TestNestingGuard(t *testing.T) {
	count := func(html, s string) int { return strings.Count(html, s) }
	r := render(t, strings.Repeat(">", 10000)+" a", Options{})
	if n := count(r.HTML, "<blockquote>"); n != maxNesting {
		t.Errorf("10,000 '>' made %d block quotes; want %d", n, maxNesting)
	}
	r = render(t, strings.Repeat("> - ", 5000)+"a", Options{})
	if n := count(r.HTML, "<blockquote>") + count(r.HTML, "<ul>") + count(r.HTML, "<li>"); n > maxNesting {
		t.Errorf("'> - ' ×5,000 made %d containers; want at most %d", n, maxNesting)
	}
	// Below the limit nothing changes.
	r = render(t, strings.Repeat(">", maxNesting-1)+" a", Options{})
	if n := count(r.HTML, "<blockquote>"); n != maxNesting-1 {
		t.Errorf("%d '>' made %d block quotes", maxNesting-1, n)
	}

	r = render(t, "[^a]: x\n\n"+strings.Repeat("[^a]", 1000), Options{})
	if n := count(r.HTML, `class="footnote-ref"`); n != maxFootnoteRefs {
		t.Errorf("1,000 footnote references made %d; want %d", n, maxFootnoteRefs)
	}

	// Brackets: at most maxOpenBrackets wait for a ']'; one more is text,
	// so its ']' closes the one before it, and "[a" is no reference.
	link := "[a]\n\n[a]: https://e.example"
	if r := render(t, strings.Repeat("[", maxOpenBrackets-1)+link, Options{}); !strings.Contains(r.HTML, "<a ") {
		t.Errorf("a link after %d '[' is not a link: %s", maxOpenBrackets-1, r.HTML)
	}
	if r := render(t, strings.Repeat("[", maxOpenBrackets)+link, Options{}); strings.Contains(r.HTML, "<a ") {
		t.Errorf("a link after %d '[' is a link", maxOpenBrackets)
	}

	// Destinations: a long one is fine, an unended one beyond the limit is
	// not looked for.
	long := "https://e.example/" + strings.Repeat("a", maxDestination-100)
	if r := render(t, "[l]("+long+")", Options{}); !strings.Contains(r.HTML, "<a ") {
		t.Errorf("a %d-byte destination is not a link", len(long))
	}
	if r := render(t, "[l](https://e.example/"+strings.Repeat("a", maxDestination)+")", Options{}); strings.Contains(r.HTML, "<a ") {
		t.Errorf("a destination over %d bytes is a link", maxDestination)
	}
	if r := render(t, "[l](https://e.example/"+strings.Repeat("(", maxParenDepth+1)+")", Options{}); strings.Contains(r.HTML, "<a ") {
		t.Errorf("a destination with %d nested parentheses is a link", maxParenDepth+1)
	}

	// Tables: GFM fills short rows, so cells are limited by the bytes.
	wide := strings.Repeat("a|", 300) + "\n" + strings.Repeat("-|", 300) + "\n" + strings.Repeat("x\n", 300)
	if r := render(t, wide, Options{}); strings.Contains(r.HTML, "<table>") {
		t.Errorf("a 300×300 table from %d bytes was made", len(wide))
	}
	if r := render(t, "a|b|c\n-|-|-\n1|2|3\n4|5\n6", Options{}); !strings.Contains(r.HTML, "<table>") {
		t.Errorf("a small table with short rows was not made: %s", r.HTML)
	}

	// A reference used many times: past the budget, links are text.
	ref := "[r]: https://e.example/" + strings.Repeat("a", 20000) + "\n\n" + strings.Repeat("[r] ", 100)
	if r := render(t, ref, Options{}); count(r.HTML, "<a ") > 4 {
		t.Errorf("a 20 KB reference was expanded %d times", count(r.HTML, "<a "))
	}
}

// TestHostileInputs renders every hostile input and bounds what it makes:
// safe HTML no more than 20 times the input (the worst legitimate case is
// a text of "#a" tags: 37 bytes of HTML for 3 bytes of text). Time is
// measured by BenchmarkRenderHostile.
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("64 KiB inputs; slow under -race")
	}
	for _, h := range hostileInputs() {
		t.Run(h.name, func(t *testing.T) {
			if err := Check(h.src); err != nil {
				t.Fatalf("the input itself: %v", err)
			}
			r := render(t, h.src, Options{PersonURL: people})
			if len(r.HTML) > 20*len(h.src) {
				t.Errorf("%d bytes made %d bytes of HTML", len(h.src), len(r.HTML))
			}
		})
	}
}

// The package is pure: it must not reach the database, the network, files,
// processes or the UI. Its only seedpod import is the diaspora ID rules.
func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports ","}}`, "seedpod/pod/markup").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Split(strings.TrimSpace(string(out)), ",") {
		switch {
		case imp == "net", imp == "net/http", imp == "database/sql", imp == "os", imp == "os/exec",
			imp == "io/ioutil", imp == "syscall", imp == "log", imp == "unsafe", imp == "plugin",
			strings.HasPrefix(imp, "net/http/"),
			strings.HasPrefix(imp, "github.com/wailsapp/"),
			strings.HasPrefix(imp, "modernc.org/"),
			strings.HasPrefix(imp, "seedpod/") && imp != "seedpod/pod/diaspora/id":
			t.Errorf("pod/markup imports %s: it must stay pure", imp)
		}
	}
}

func Example() {
	r, err := Render("# Hello #World\n\nHi @{Alice; alice@example.org}!", Options{
		PersonURL: func(handle, name string) (string, string, bool) {
			return "/people/" + handle, "", true
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.HTML)
	fmt.Println(r.Title, r.Tags, r.Mentions)
	// Output:
	// <h1>Hello <a href="/tags/world" class="tag">#World</a></h1>
	// <p>Hi <a href="/people/alice@example.org" class="mention">@Alice</a>!</p>
	//
	// Hello #World [world] [{Alice alice@example.org}]
}
