package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The composer's preview (POST /api/seedpod/v1/markup/preview) through the
// real handler: what it answers is what the posted post's seedpod.html is.
func TestMarkupPreview(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	bob := r.addPeoplePerson("bob@other.example", "Bob", true)
	path := APIPrefix + "/markup/preview"

	for _, tc := range []struct {
		name string
		text string
		want []string // substrings of the html
		not  []string
	}{
		{"markdown", "**bold** and _it_", []string{"<strong>bold</strong>", "<em>it</em>"}, nil},
		{"tag", "hello #Garden", []string{`href="/tags/garden"`}, nil},
		{"known mention", "hi @{Bob; bob@other.example}", []string{`href="/people/` + bob + `"`}, nil},
		{"short mention", "hi @{bob@other.example}", []string{`href="/people/` + bob + `"`}, nil},
		{"unknown mention", "hi @{Zed; zed@nowhere.example}", []string{"@Zed"}, []string{"/people/"}},
		{"own mention", "me: @{alice@" + strings.TrimPrefix(r.srv.URL, "http://") + "}", nil, nil},
		{"script", "<script>alert(1)</script>", nil, []string{"<script"}},
		{"blank", "  \n ", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got markupPreview
			r.json("POST", path, map[string]string{"text": tc.text}, http.StatusOK, &got)
			for _, w := range tc.want {
				if !strings.Contains(got.HTML, w) {
					t.Errorf("html %q lacks %q", got.HTML, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got.HTML, n) {
					t.Errorf("html %q has %q", got.HTML, n)
				}
			}
			if strings.TrimSpace(tc.text) == "" && got.HTML != "" {
				t.Errorf("blank text gave %q", got.HTML)
			}
			if strings.TrimSpace(tc.text) == "" {
				return
			}
			// The same text posted renders the same (footnote ids aside).
			p := r.postsCreate(map[string]any{"body": tc.text, "public": true})
			var html string
			if p.Seedpod != nil {
				html = p.Seedpod.HTML
			}
			if html != got.HTML {
				t.Errorf("preview %q, posted %q", got.HTML, html)
			}
		})
	}
}

func TestMarkupPreviewRefuses(t *testing.T) {
	r := newAPIRig(t).withIdentity()
	path := APIPrefix + "/markup/preview"
	for _, tc := range []struct {
		name string
		body any
		want int
		msg  string
	}{
		{"not json", "text=hi", http.StatusUnprocessableEntity, "JSON object"},
		{"array", `["hi"]`, http.StatusUnprocessableEntity, "JSON object"},
		{"null", `null`, http.StatusUnprocessableEntity, "JSON object"},
		{"no text", `{"body":"hi"}`, http.StatusUnprocessableEntity, "text is required"},
		{"number", `{"text":5}`, http.StatusUnprocessableEntity, "must be a string"},
		{"null text", `{"text":null}`, http.StatusUnprocessableEntity, "must be a string"},
		{"object text", `{"text":{"a":1}}`, http.StatusUnprocessableEntity, "must be a string"},
		{"empty body", "", http.StatusUnprocessableEntity, "empty"},
		{"control char", `{"text":"a\u0001b"}`, http.StatusUnprocessableEntity, "control characters"},
		{"too long", map[string]string{"text": strings.Repeat("a", 65536)}, http.StatusUnprocessableEntity, "longer than 65535"},
		{"over the body cap", `{"text":"` + strings.Repeat("a", maxBodyBytes) + `"}`, http.StatusUnprocessableEntity, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _, b := r.do("POST", path, tc.body)
			if st != tc.want {
				t.Fatalf("status %d, want %d: %s", st, tc.want, b)
			}
			var e struct{ Error, Message string }
			if err := json.Unmarshal(b, &e); err != nil || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %s, want it to say %q", b, tc.msg)
			}
		})
	}
}

// previewText parses the body itself: anything is refused or gives a
// string, never a panic; a valid {"text": s} gives s back.
func FuzzPreviewText(f *testing.F) {
	for _, s := range []string{`{"text":"hi"}`, `{"text":5}`, `[]`, `null`, `{"text":"\ud800"}`, `{"text":"a","text":"b"}`, ``, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		text, err := previewText(b)
		if err != nil {
			return
		}
		var v struct{ Text *string }
		if json.Unmarshal(b, &v) != nil || v.Text == nil {
			t.Fatalf("%q accepted as %q but is not {text: string}", b, text)
		}
	})
}
