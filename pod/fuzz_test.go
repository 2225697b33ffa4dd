package pod

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDraftInput: a draft body and a merge patch from a client never
// panic; a refusal wraps ErrInvalid; an accepted patch yields JSON that
// decodes again.
func FuzzDraftInput(f *testing.F) {
	f.Add([]byte(`{"body":"hi","public":true,"aspects":[1]}`), []byte(`{"body":"there","poll":null}`))
	f.Add([]byte(`{}`), []byte(`{"aspects":[1,2,3],"location":{"address":"x","lat":1,"lng":2}}`))
	f.Add([]byte(`not json`), []byte(`[1,2]`))
	f.Add([]byte(`{"body":1}`), []byte(`{"a":{"b":{"c":null}}}`))
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		if _, err := DecodeDraft(doc); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("DecodeDraft(%q): %v does not wrap ErrInvalid", doc, err)
		}
		out, err := mergePatch(doc, patch)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("mergePatch: %v does not wrap ErrInvalid", err)
			}
			return
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("merge result %q is not JSON: %v", out, err)
		}
	})
}

// FuzzSearchCursor: a cursor from a client never panics and is either
// refused with ErrInvalid or re-encodes to a cursor that parses the same.
func FuzzSearchCursor(f *testing.F) {
	f.Add("", "recent")
	f.Add("eyJzb3J0IjoicmVjZW50IiwicG9zIjp7InBvc3RzIjoxMjN9fQ", "recent")
	f.Add("%%%", "relevance")
	f.Fuzz(func(t *testing.T, s, sort string) {
		c, err := parseSearchCursor(s, sort)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parseSearchCursor(%q): %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if _, err := parseSearchCursor(c.encode(), sort); err != nil {
			t.Fatalf("cursor %q re-encoded does not parse: %v", s, err)
		}
	})
}
