// Package markup owns the text of diaspora* posts, comments and private
// messages: it turns their Markdown into safe HTML, and extracts what the pod
// indexes from them — #tags, @mentions, a title and plain text for search.
//
// The rules follow diaspora* (lib/diaspora/message_renderer.rb,
// mentionable.rb, taggable.rb and the markdown-it set-up of its web client)
// where that is safe; where this package differs, the comment at the rule
// says why. Rendering has two walls. First, between goldmark's parser and
// its renderer, while it is still known what is a link: raw HTML becomes
// text, and links and images to anything but http(s), mailto and the pod's
// own pages become their text. Then bluemonday re-parses the HTML and keeps
// only an allow-list of elements, attributes and URLs. Limits in engine.go
// keep hostile text (deep nesting, rescans, expansion) cheap.
//
// The package is pure: no database, no network, no files (a test enforces
// the import rule). What the pod knows about people and tag pages comes in
// through Options. Everything it computes is a function of the input:
// the same text and options always give the same output.
package markup

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLength is diaspora's limit for a post's text, in characters (Unicode
// code points, which is what Ruby's String#length counts):
// app/models/status_message.rb validates_length_of :text, maximum: 65535;
// diaspora_federation's CommentValidator has the same limit for comments.
const MaxLength = 65535

var (
	// ErrTooLong is wrapped by Check when the text is longer than MaxLength.
	ErrTooLong = errors.New("markup: text too long")
	// ErrInvalidText is wrapped by Check when the text is not valid UTF-8 or
	// holds a control character other than tab, newline and carriage return.
	ErrInvalidText = errors.New("markup: invalid text")
)

// Mention is a person named in the text with diaspora's mention syntax,
// @{Name; user@host} or @{user@host}.
type Mention struct {
	// Name is the name written in the mention, "" when there is none. It is
	// what the author typed, not what the pod knows the person as.
	Name string
	// Handle is the diaspora ID in canonical form (lowercase, punycode
	// host), as pod/diaspora/id.Normalize returns it.
	Handle string
}

// Rendered is the result of Render.
type Rendered struct {
	// HTML is sanitised HTML, safe to put into a page as it is.
	HTML string
	// Text is the plain text, for search indexing and titles: no markup,
	// mentions as the names they are shown with (see Options.PersonURL),
	// tags as "#tag", link texts without their URLs, image alt texts, code
	// as its text, raw HTML as written; whitespace collapsed.
	Text string
	// Title is diaspora's title rule (MessageRenderer#title): the text of
	// the heading the post starts with, if it starts with one, otherwise
	// the plain text; at most TitleLength characters, cut with "…".
	// "" when there is no text.
	Title string
	// Tags are the hashtags, lowercase, unique, in order of appearance,
	// without '#'.
	Tags []string
	// Mentions are unique by handle, in order of appearance; the first
	// mention of a handle gives the name.
	Mentions []Mention
}

// TitleLength is the longest Title in characters, the "…" included:
// diaspora's default for MessageRenderer#title (Rails' truncate counts the
// omission into the length too).
const TitleLength = 70

// Options is what the caller knows about the world. The zero value is
// usable: no mention becomes a link, and tags link to "/tags/<tag>".
type Options struct {
	// PersonURL returns the link for a mentioned handle, and the display
	// name to show ("" means: the name written in the mention, else the
	// handle). ok=false renders the mention as plain text "@Name" (or
	// "@handle" when it has no name). The URL must be http(s) or a path
	// under /people/; any other URL also renders the mention as plain text.
	// It is called once per distinct (handle, name) pair in a text.
	PersonURL func(handle, name string) (url, display string, ok bool)
	// TagURL returns the link for a tag (lowercase, without '#'); nil means
	// "/tags/<tag>", path-escaped. The URL must be http(s) or a path under
	// /tags/; any other URL renders the tag as plain text.
	TagURL func(tag string) string
	// IDPrefix is put before the id attributes of footnotes ("fn:1"), so
	// that several rendered texts can share a page; the post's GUID is a
	// good choice. Only ASCII letters, digits, '-' and '_' are kept, at
	// most 64 of them.
	IDPrefix string
}

// Check reports whether src is acceptable text: at most MaxLength
// characters, valid UTF-8, and no control characters (C0, DEL, C1) except
// tab, newline and carriage return. The error wraps ErrTooLong or
// ErrInvalidText and says where the problem is.
func Check(src string) error {
	// Cheap refusal before the scan: a rune is at most 4 bytes.
	if len(src) > 4*MaxLength {
		return fmt.Errorf("%w: %d bytes is more than %d characters", ErrTooLong, len(src), MaxLength)
	}
	n := 0
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrInvalidText, i)
		}
		if isControl(r) {
			return fmt.Errorf("%w: control character %U at byte %d", ErrInvalidText, r, i)
		}
		i += size
		n++
	}
	if n > MaxLength {
		return fmt.Errorf("%w: %d characters, the limit is %d", ErrTooLong, n, MaxLength)
	}
	return nil
}

// isControl reports the control characters Check refuses: the C0 set but
// tab, LF and CR, then DEL and the C1 set. This is what unicode.IsControl
// covers, spelled out so the rule is visible.
func isControl(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20, r == 0x7f, 0x80 <= r && r <= 0x9f:
		return true
	}
	return false
}

// Render checks src, then renders it to sanitised HTML and extracts its
// tags, mentions, plain text and title.
func Render(src string, opts Options) (Rendered, error) {
	if err := Check(src); err != nil {
		return Rendered{}, err
	}
	if src == "" {
		return Rendered{}, nil
	}
	return engine().render(newlines(src), &opts)
}

// Tags returns the hashtags of src as Render would: lowercase, unique, in
// order of appearance, without '#'. Text that fails Check has none.
func Tags(src string) []string {
	if src == "" || Check(src) != nil {
		return nil
	}
	return engine().extract(newlines(src)).tags
}

// Mentions returns the mentions of src as Render would. Text that fails
// Check has none.
func Mentions(src string) []Mention {
	if src == "" || Check(src) != nil {
		return nil
	}
	return engine().extract(newlines(src)).mentions
}

// newlines turns CRLF and lone CR line ends into LF. goldmark reads CRLF but
// takes a lone CR for a line end without the line break that makes a <br>.
func newlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
