package drafts

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want File
		err  string // a part of the error; "" = no error
	}{
		{"no front matter", "Hello\nworld\n", File{Body: "Hello\nworld"}, ""},
		{"empty file", "", File{}, ""},
		{"empty front matter", "---\n---\nText", File{Body: "Text"}, ""},
		{"null front matter", "---\n~\n---\nText", File{Body: "Text"}, ""},
		{"everything", `---
audience: public
tags: [cats, "#Caturday", cats]
nsfw: true
content_warning: " spoilers "
location: {address: Berlin, lat: 52.52, lng: 13.405}
photos:
  - photos/cat.jpg
  - photo:abc123
poll:
  question: Tea or coffee?
  answers: [Tea, Coffee]
---

The text.

More.  
`, File{Audience: Audience{Public: true}, Tags: []string{"cats", "Caturday"}, NSFW: true, ContentWarning: "spoilers",
			Location: &Location{Address: "Berlin", Lat: 52.52, Lng: 13.405}, Photos: []string{"photos/cat.jpg", "photo:abc123"},
			Poll: &Poll{Question: "Tea or coffee?", Answers: []string{"Tea", "Coffee"}}, Body: "The text.\n\nMore."}, ""},
		{"aspects list", "---\naudience: [Friends, Work]\n---\nx", File{Audience: Audience{Aspects: []string{"Friends", "Work"}}, Body: "x"}, ""},
		{"one aspect", "---\naudience: Friends\n---\nx", File{Audience: Audience{Aspects: []string{"Friends"}}, Body: "x"}, ""},
		{"an aspect named public stays limited", "---\naudience: [Public]\n---\nx", File{Audience: Audience{Aspects: []string{"Public"}}, Body: "x"}, ""},
		{"PUBLIC", "---\naudience: PUBLIC\n---\nx", File{Audience: Audience{Public: true}, Body: "x"}, ""},
		{"tags as text", "---\ntags: '#a, b c'\n---\n", File{Tags: []string{"a", "b", "c"}}, ""},
		{"CRLF and BOM", "\ufeff---\r\nnsfw: yes\r\n---\r\nHi\r\n", File{NSFW: true, Body: "Hi"}, ""},
		{"closing ...", "---\nnsfw: false\n...\nHi", File{Body: "Hi"}, ""},
		{"indented first line kept", "---\n---\n\n    code\n", File{Body: "    code"}, ""},
		{"dashes later are text", "Title\n---\nText", File{Body: "Title\n---\nText"}, ""},
		{"incomplete poll is a draft's", "---\npoll: {answers: [a]}\n---\n", File{Poll: &Poll{Answers: []string{"a"}}}, ""},

		{"unclosed", "---\naudience: public\nText", File{}, "no line --- closes it"},
		{"unclosed, one line", "---", File{}, "no line --- closes it"},
		{"bad YAML", "---\naudience: [public\n---\n", File{}, "not valid YAML"},
		{"unknown key", "---\naudiance: public\n---\n", File{}, `line 2: unknown key "audiance"`},
		{"twice", "---\nnsfw: true\nnsfw: false\n---\n", File{}, `line 3: "nsfw" is given twice`},
		{"not a mapping", "---\n- a\n---\n", File{}, "not a list"},
		{"alias", "---\ntags: &t [a]\npoll: {question: q, answers: *t}\n---\n", File{}, "anchors and aliases"},
		{"nsfw not bool", "---\nnsfw: maybe\n---\n", File{}, "nsfw is true or false"},
		{"lat out of range", "---\nlocation: {lat: 91, lng: 0}\n---\n", File{}, "location.lat 91 is not between -90 and 90"},
		{"lat not number", "---\nlocation: {lat: north, lng: 0}\n---\n", File{}, "location.lat is a number"},
		{"location without lng", "---\nlocation: {address: x, lat: 1}\n---\n", File{}, "needs lat and lng"},
		{"location unknown key", "---\nlocation: {lat: 1, lng: 2, alt: 3}\n---\n", File{}, `"alt" is not one`},
		{"photo escapes", "---\nphotos: [../secret.jpg]\n---\n", File{}, "inside the drafts folder"},
		{"photo absolute", "---\nphotos: [/etc/passwd]\n---\n", File{}, "inside the drafts folder"},
		{"photo home", "---\nphotos: [~/x.jpg]\n---\n", File{}, "inside the drafts folder"},
		{"photo unclean", "---\nphotos: [a/../b.jpg]\n---\n", File{}, "inside the drafts folder"},
		{"photo backslash", "---\nphotos: ['a\\b.jpg']\n---\n", File{}, "backslashes"},
		{"photo bad guid", "---\nphotos: ['photo:a b']\n---\n", File{}, "photo guid"},
		{"cw two lines", "---\ncontent_warning: \"a\\nb\"\n---\n", File{}, "one line"},
		{"cw too long", "---\ncontent_warning: " + strings.Repeat("x", 256) + "\n---\n", File{}, "longer than 255"},
		{"tag with space", "---\ntags: ['a b']\n---\n", File{}, "one word"},
		{"empty tag", "---\ntags: ['#']\n---\n", File{}, "a tag is empty"},
		{"too many tags", "---\ntags: [" + strings.Repeat("t,", 51) + "t]\n---\n", File{}, "at most 50"},
		{"aspect twice", "---\naudience: [Work, work]\n---\n", File{}, "named twice"},
		{"audience mapping", "---\naudience: {public: true}\n---\n", File{}, "audience is a list"},
		{"poll without question... and with too many answers", "---\npoll: {answers: [" + strings.Repeat("a,", 20) + "a]}\n---\n", File{}, "at most 20 answers"},
		{"not UTF-8", "caf\xe9", File{}, "not valid UTF-8"},
		{"too large", strings.Repeat("x", MaxFileSize+1), File{}, "1 MiB"},
		{"deep", "---\npoll: " + strings.Repeat("[", 30) + strings.Repeat("]", 30) + "\n---\n", File{}, "nests too deeply"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrFrontMatter) {
					t.Fatalf("error %v, want one with %q wrapping ErrFrontMatter", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %#v\nwant %#v", got, c.want)
			}
		})
	}
}

// Render writes what Parse reads back, with the keys in a fixed order and
// nothing for what is unset.
func TestRender(t *testing.T) {
	cases := []struct {
		name string
		in   File
		want string
	}{
		{"body only", File{Body: "Hello"}, "Hello\n"},
		{"empty", File{}, ""},
		{"body that looks like front matter", File{Body: "---\nnot: yaml\n---"}, "---\n---\n\n---\nnot: yaml\n---\n"},
		{"everything", File{Audience: Audience{Aspects: []string{"Friends", "yes"}}, Tags: []string{"cats"}, NSFW: true,
			ContentWarning: "spoilers: all", Location: &Location{Address: "Berlin", Lat: 52.5, Lng: 13}, Photos: []string{"a.jpg"},
			Poll: &Poll{Question: "Q?", Answers: []string{"1", "no"}}, Body: "Text"},
			"---\naudience:\n  - Friends\n  - \"yes\"\ntags: [cats]\nnsfw: true\ncontent_warning: 'spoilers: all'\nlocation:\n  address: Berlin\n  lat: 52.5\n  lng: 13\nphotos:\n  - a.jpg\npoll:\n  question: Q?\n  answers:\n    - \"1\"\n    - \"no\"\n---\n\nText\n"},
		{"public", File{Audience: Audience{Public: true}}, "---\naudience: public\n---\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Render(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Fatalf("got\n%s\nwant\n%s", b, c.want)
			}
			back, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, c.in) {
				t.Fatalf("round trip: got %#v, want %#v", back, c.in)
			}
		})
	}
}

// FuzzParse: Parse never panics; whatever it accepts, Render writes and
// Parse reads back the same (the watcher relies on that to rewrite a
// file); whatever it refuses wraps ErrFrontMatter.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "Hello", "---\n---\n", "---\naudience: public\ntags: [a, b]\n---\nText\n",
		"---\naudience: [Friends]\nnsfw: true\ncontent_warning: cw\nlocation: {address: x, lat: 1, lng: 2}\nphotos: [a.jpg, 'photo:g1']\npoll: {question: q, answers: [a, b]}\n---\nBody",
		"---\r\ntags: 'x y'\r\n...\r\n\r\nb", "\ufeff---\n---\n---\n", "---\na: &x 1\nb: *x\n---\n", "---\n[[[[\n---\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrFrontMatter) {
				t.Fatalf("error %v does not wrap ErrFrontMatter", err)
			}
			return
		}
		out, err := Render(got)
		if err != nil {
			t.Fatalf("render %#v: %v", got, err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("parse the rendered file %q: %v", out, err)
		}
		if !reflect.DeepEqual(back, got) {
			t.Fatalf("round trip of %q:\n got  %#v\n want %#v\n(rendered %q)", b, back, got, out)
		}
	})
}
