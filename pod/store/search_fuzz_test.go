package store

import (
	"context"
	"path/filepath"
	"testing"
	"unicode/utf16"
)

// FuzzSearchQuery: whatever a user types, the parsed query never panics,
// its FTS5 expression is never an FTS5 syntax error (every kind of search
// runs against a real database), and snippets stay inside their text.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"garden", `"unbalanced`, "a OR b", "NEAR(x y)", "*", "col:x", "#tag @bob@pod.example", "((((",
		"x AND", "\x00\xff", "émile müller", "- -x +y", "^start", "a\"b'c", "#", "@"} {
		f.Add(s, "a garden path with émile and #tags")
	}
	db, err := Open(context.Background(), filepath.Join(f.TempDir(), "pod.db"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, q, text string) {
		terms := ParseSearchQuery(q)
		expr := terms.MatchExpr()
		if !terms.Empty() && expr != "" {
			for _, table := range []string{"posts_fts", "comments_fts", "messages_fts", "people_fts"} {
				rows, err := db.R.Query("SELECT rowid FROM "+table+" WHERE "+table+" MATCH ? LIMIT 1", expr)
				if err != nil {
					t.Fatalf("query %q → expression %q: %v", q, expr, err)
				}
				rows.Close()
			}
		}
		for _, kind := range []string{"posts", "comments", "messages"} {
			if _, err := Search(context.Background(), db.R, kind, SearchOptions{Terms: terms, Limit: 5}); err != nil {
				t.Fatalf("search %s for %q: %v", kind, q, err)
			}
		}
		snip, hs := Snippet(text, terms, 120)
		n := len(utf16.Encode([]rune(snip)))
		for _, h := range hs {
			if h.Start < 0 || h.End > n || h.Start >= h.End {
				t.Fatalf("highlight %+v outside snippet %q (%d units)", h, snip, n)
			}
		}
	})
}
