package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Full-text search over the FTS5 tables of 0003_domain.sql (posts_fts,
// comments_fts, messages_fts, people_fts), kept in step with their tables
// by the projections (posts, comments: 0009_speed.sql) or by triggers
// (messages, people). The tables are contentless: FTS5 answers which rowids match
// (and their bm25 rank), the text comes from the source rows.
//
// User input never reaches FTS5 as syntax. ParseSearchQuery cuts it into
// words (runs of letters, digits and marks, as the unicode61 tokenizer
// does), #tags and @handles, and MatchExpr quotes every word, so quotes,
// stars, NEAR(, OR, parentheses and control characters are just
// separators: no input can be an FTS5 syntax error or change the query.
//
// Cost (BenchmarkSearch has the figures): "recent" order walks the index
// newest first (ORDER BY rowid DESC, which FTS5 serves without sorting, the
// rowids being time ids) and stops after a page: under 1 ms at 1M posts.
// "relevance" ranks by bm25 only among the newest SearchCandidates matches
// of each table (older matches are reachable in recent order); bm25's idf
// still reads each term's posting list once, so a word in a third of 1M
// posts takes ~40 ms. Prefix matching has its own bound (prefixBudget).

// SearchCandidates bounds the matches ranked by relevance, per table.
const SearchCandidates = 2000

// Limits on what a query may hold; the rest of the input is ignored.
const (
	maxSearchWords   = 16
	maxSearchWordLen = 64 // characters
)

// Prefix matching of the last word (search as you type). FTS5 answers a
// prefix query by merging the postings of every term with that prefix, so
// its cost grows with the number of posts holding those terms, not with
// the page: "comm"* over 100,000 posts where "common" is in a third of
// them takes ~4 ms (2026-11, 2-core build machine), ~45 ms or more at 1M;
// a 2-letter prefix is several times that. A prefix index (prefix='2 3 4') makes
// short prefixes as fast as a word but triples the index. Instead: no
// prefix under minPrefixLen characters, and a prefix query that does not
// answer within prefixBudget is cancelled and asked again with the word
// taken whole (exact words stream newest first and cost a page).
const (
	minPrefixLen = 3
	prefixBudget = 40 * time.Millisecond
)

// SearchTerms is a parsed query.
type SearchTerms struct {
	// Words are the plain words, as typed (FTS5 folds case and
	// diacritics).
	Words []string
	// Prefix: the last word is a prefix (the input did not end after it
	// with a space), for search as you type.
	Prefix bool
	// Tags are #tag terms, lowercase without '#': the post must carry
	// every one (post_tags) or, for people, the profile.
	Tags []string
	// Handles are @handle terms, lowercase without '@': the author's (or
	// person's) diaspora ID starts with one of them.
	Handles []string
}

// Empty reports whether the query holds nothing to search for.
func (t SearchTerms) Empty() bool {
	return len(t.Words) == 0 && len(t.Tags) == 0 && len(t.Handles) == 0
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.Is(unicode.Co, r)
}

func isHandleRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("_.-@:", r))
}

// ParseSearchQuery cuts a user's query into terms. It never fails: what is
// not a word, #tag or @handle separates terms.
func ParseSearchQuery(q string) SearchTerms {
	var t SearchTerms
	q = strings.ToValidUTF8(q, " ")
	n := 0
	i := 0
	lastWordEnd := -1
	for i < len(q) && n < maxSearchWords {
		r, size := utf8.DecodeRuneInString(q[i:])
		switch {
		case r == '#' || r == '@':
			j := i + size
			for j < len(q) {
				r2, s2 := utf8.DecodeRuneInString(q[j:])
				if r == '#' && !(isWordRune(r2) || r2 == '_' || r2 == '-') || r == '@' && !isHandleRune(r2) {
					break
				}
				j += s2
			}
			term := strings.ToLower(strings.TrimRight(q[i+size:j], ".:-"))
			if term != "" && utf8.RuneCountInString(term) <= 255 {
				if r == '#' {
					t.Tags = appendUnique(t.Tags, term)
				} else {
					t.Handles = appendUnique(t.Handles, term)
				}
				n++
			}
			i = j
		case isWordRune(r):
			j := i
			for j < len(q) {
				r2, s2 := utf8.DecodeRuneInString(q[j:])
				if !isWordRune(r2) {
					break
				}
				j += s2
			}
			w := q[i:j]
			if utf8.RuneCountInString(w) > maxSearchWordLen {
				w = string([]rune(w)[:maxSearchWordLen])
			}
			// A run of marks alone is no word (the tokenizer drops it).
			if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) >= 0 {
				t.Words = appendUnique(t.Words, w)
				n++
				lastWordEnd = j
			}
			i = j
		default:
			i += size
		}
	}
	t.Prefix = len(t.Words) > 0 && lastWordEnd == len(q) && utf8.RuneCountInString(t.Words[len(t.Words)-1]) >= minPrefixLen
	return t
}

func appendUnique(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// MatchExpr is the FTS5 query of the words: each one quoted (words hold
// no '"', so no escaping is needed), all required, the last a prefix when
// Prefix; "" without words.
func (t SearchTerms) MatchExpr() string {
	var b strings.Builder
	for i, w := range t.Words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(w, `"`, `""`))
		b.WriteByte('"')
		if t.Prefix && i == len(t.Words)-1 {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// SearchHit is one match.
type SearchHit struct {
	Kind      string // SearchInPosts, …
	Rowid     int64  // the FTS rowid: a time id, or the people rowid
	GUID      string
	PostGUID  string // comments: their post; messages: their conversation
	Own       bool
	Author    string // handle ('' when own); people: their handle
	Text      string // the source text (Markdown); people: their name
	CreatedAt int64  // ms; people: when their profile was edited
	// Score is bm25 (lower is better) when the query was ranked.
	Score    float64
	HasScore bool
}

// Search kinds (the in= values of GET /search).
const (
	SearchInPosts    = "posts"
	SearchInComments = "comments"
	SearchInMessages = "messages"
	SearchInPeople   = "people"
)

// SearchOptions say what to fetch of one kind.
type SearchOptions struct {
	Terms SearchTerms
	// Relevance ranks the newest SearchCandidates matches by bm25;
	// otherwise hits come newest first.
	Relevance bool
	// Below continues a recent-order walk under this rowid (0: from the
	// newest). Offset continues a ranked list (relevance, and people).
	Below  int64
	Offset int
	Limit  int
}

// blockedHandles are the handles of the people I block.
const blockedHandles = `SELECT handle FROM people WHERE guid IN
	(SELECT member FROM st_set_adds WHERE name = 'blocks' AND live = 1)`

// authorFilter restricts a column of handles (” = me) to the authors the
// @handle terms name; ok is false when they name nobody the pod knows.
func authorFilter(ctx context.Context, q Querier, col string, handles []string) (where string, args []any, ok bool, err error) {
	if len(handles) == 0 {
		return "", nil, true, nil
	}
	var authors []string
	me, err := readMe(ctx, q)
	if err != nil {
		return "", nil, false, err
	}
	for _, h := range handles {
		rows, err := q.QueryContext(ctx, `SELECT handle FROM people WHERE substr(handle, 1, ?) = ? LIMIT 1000`,
			utf8.RuneCountInString(h), h)
		if err != nil {
			return "", nil, false, fmt.Errorf("search: authors: %w", err)
		}
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return "", nil, false, fmt.Errorf("search: authors: %w", err)
			}
			authors = append(authors, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", nil, false, fmt.Errorf("search: authors: %w", err)
		}
		if me.Exists() && strings.HasPrefix(me.Handle(), h) {
			authors = append(authors, "")
		}
	}
	if len(authors) == 0 {
		return "", nil, false, nil
	}
	b, _ := json.Marshal(authors)
	return " AND " + col + " IN (SELECT value FROM json_each(?))", []any{string(b)}, true, nil
}

// searchKind describes one searchable table.
type searchKind struct {
	kind  string
	fts   string // the FTS5 table
	alias string
	// from and cols select a hit: rowid, guid, parent, own, author, text, created_at.
	from, cols string
	// exclude is the kind's visibility rule (SQL, with leading AND).
	exclude string
}

var searchKinds = map[string]searchKind{
	SearchInPosts: {kind: SearchInPosts, fts: "posts_fts", alias: "p", from: "posts p",
		cols:    "p.id, p.guid, p.root_guid, p.own, p.author, p.text, p.created_at",
		exclude: " AND p.author NOT IN (" + blockedHandles + ")"},
	SearchInComments: {kind: SearchInComments, fts: "comments_fts", alias: "c", from: "comments c",
		cols:    "c.id, c.guid, c.post_guid, c.own, c.author, c.text, c.created_at",
		exclude: " AND c.author NOT IN (" + blockedHandles + ")"},
	SearchInMessages: {kind: SearchInMessages, fts: "messages_fts", alias: "m", from: "messages m",
		cols: "m.id, m.guid, m.conversation_guid, m.own, m.author, m.text, m.created_at",
		exclude: " AND m.author NOT IN (" + blockedHandles + ")" +
			" AND m.conversation_guid NOT IN (SELECT member FROM st_set_adds WHERE name = 'hidden_conversations' AND live = 1)"},
}

// Search finds hits of one kind (posts, comments or messages; people have
// SearchPeopleHits), at most o.Limit of them. A prefix query over its
// budget is answered with the last word whole (see prefixBudget).
func Search(ctx context.Context, q Querier, kind string, o SearchOptions) ([]SearchHit, error) {
	if !o.Terms.Prefix {
		return search(ctx, q, kind, o)
	}
	pctx, cancel := context.WithTimeout(ctx, prefixBudget)
	hits, err := search(pctx, q, kind, o)
	cancel()
	if err != nil && ctx.Err() == nil && pctx.Err() != nil {
		o.Terms.Prefix = false
		return search(ctx, q, kind, o)
	}
	return hits, err
}

func search(ctx context.Context, q Querier, kind string, o SearchOptions) ([]SearchHit, error) {
	k, ok := searchKinds[kind]
	if !ok {
		return nil, fmt.Errorf("search: unknown kind %q", kind)
	}
	if o.Terms.Empty() || o.Limit <= 0 {
		return nil, nil
	}
	a := k.alias
	where := k.exclude
	var args []any
	if len(o.Terms.Tags) > 0 {
		if kind != SearchInPosts {
			return nil, nil // tags belong to posts
		}
		for _, t := range o.Terms.Tags {
			where += " AND EXISTS (SELECT 1 FROM post_tags WHERE tag = ? AND post_id = p.id)"
			args = append(args, t)
		}
	}
	af, afArgs, ok, err := authorFilter(ctx, q, a+".author", o.Terms.Handles)
	if err != nil || !ok {
		return nil, err
	}
	where += af
	args = append(args, afArgs...)

	var query string
	var qargs []any
	match := o.Terms.MatchExpr()
	switch {
	case match != "" && o.Relevance:
		query = `SELECT ` + k.cols + `, f.score FROM (SELECT rowid AS rid, bm25(` + k.fts + `) AS score FROM ` + k.fts +
			` WHERE ` + k.fts + ` MATCH ? ORDER BY rowid DESC LIMIT ?) f JOIN ` + k.from + ` ON ` + a + `.id = f.rid
			WHERE 1` + where + ` ORDER BY f.score, f.rid DESC LIMIT ? OFFSET ?`
		qargs = append(qargs, match, SearchCandidates)
		qargs = append(qargs, args...)
		qargs = append(qargs, o.Limit, o.Offset)
	case match != "":
		below := o.Below
		if below <= 0 {
			below = 1<<63 - 1
		}
		query = `SELECT ` + k.cols + `, 0 FROM ` + k.fts + ` f JOIN ` + k.from + ` ON ` + a + `.id = f.rowid
			WHERE f.` + k.fts + ` MATCH ? AND f.rowid < ?` + where + ` ORDER BY f.rowid DESC LIMIT ?`
		qargs = append(qargs, match, below)
		qargs = append(qargs, args...)
		qargs = append(qargs, o.Limit)
	default: // tags or handles only: newest first by time id
		below := o.Below
		if below <= 0 {
			below = 1<<63 - 1
		}
		query = `SELECT ` + k.cols + `, 0 FROM ` + k.from + ` WHERE ` + a + `.id < ?` + where +
			` ORDER BY ` + a + `.id DESC LIMIT ?`
		qargs = append(qargs, below)
		qargs = append(qargs, args...)
		qargs = append(qargs, o.Limit)
	}
	rows, err := q.QueryContext(ctx, query, qargs...)
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", kind, err)
	}
	defer rows.Close()
	var out []SearchHit
	for rows.Next() {
		h := SearchHit{Kind: kind}
		var parent string
		if err := rows.Scan(&h.Rowid, &h.GUID, &parent, &h.Own, &h.Author, &h.Text, &h.CreatedAt, &h.Score); err != nil {
			return nil, fmt.Errorf("search %s: %w", kind, err)
		}
		if kind != SearchInPosts {
			h.PostGUID = parent
		}
		h.HasScore = match != "" && o.Relevance
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search %s: %w", kind, err)
	}
	return out, nil
}

// SearchPeopleHits finds people by name and handle words, @handle
// prefixes and #tags of their profile, among at most SearchCandidates
// matches: by bm25 with o.Relevance, else most recently edited first;
// paged by o.Offset. Text is their display name, Author their handle.
func SearchPeopleHits(ctx context.Context, q Querier, o SearchOptions) ([]SearchHit, error) {
	if o.Terms.Empty() || o.Limit <= 0 {
		return nil, nil
	}
	var where string
	var args []any
	for _, t := range o.Terms.Tags {
		where += " AND EXISTS (SELECT 1 FROM json_each(pe.tags) WHERE value = ?)"
		args = append(args, t)
	}
	if len(o.Terms.Handles) > 0 {
		var ors []string
		for _, h := range o.Terms.Handles {
			ors = append(ors, "substr(pe.handle, 1, ?) = ?")
			args = append(args, utf8.RuneCountInString(h), h)
		}
		where += " AND (" + strings.Join(ors, " OR ") + ")"
	}
	order := "pe.updated_at DESC, pe.rowid DESC"
	var query string
	var qargs []any
	if match := o.Terms.MatchExpr(); match != "" {
		if o.Relevance {
			order = "f.score, pe.updated_at DESC, pe.rowid DESC"
		}
		query = `SELECT pe.rowid, pe.guid, pe.handle, pe.name, pe.updated_at, f.score FROM
			(SELECT rowid AS rid, bm25(people_fts) AS score FROM people_fts WHERE people_fts MATCH ? ORDER BY rowid DESC LIMIT ?) f
			JOIN people pe ON pe.rowid = f.rid WHERE 1` + where + ` ORDER BY ` + order + ` LIMIT ? OFFSET ?`
		qargs = append(qargs, match, SearchCandidates)
	} else {
		query = `SELECT pe.rowid, pe.guid, pe.handle, pe.name, pe.updated_at, 0 FROM people pe WHERE 1` + where +
			` ORDER BY ` + order + ` LIMIT ? OFFSET ?`
	}
	qargs = append(qargs, args...)
	qargs = append(qargs, o.Limit, o.Offset)
	rows, err := q.QueryContext(ctx, query, qargs...)
	if err != nil {
		return nil, fmt.Errorf("search people: %w", err)
	}
	defer rows.Close()
	var out []SearchHit
	for rows.Next() {
		h := SearchHit{Kind: SearchInPeople}
		var score sql.NullFloat64
		if err := rows.Scan(&h.Rowid, &h.GUID, &h.Author, &h.Text, &h.CreatedAt, &score); err != nil {
			return nil, fmt.Errorf("search people: %w", err)
		}
		h.Score = score.Float64
		h.HasScore = o.Relevance && o.Terms.MatchExpr() != ""
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search people: %w", err)
	}
	return out, nil
}

// Highlight is a matched term in a snippet: [Start, End) in UTF-16 code
// units, the unit JavaScript strings index by (snippet.slice(start, end)).
type Highlight struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Snippet cuts up to about max characters of text around the first match
// of t, with "…" where it cut, and the matched terms' positions in the
// result. Matching folds case and diacritics as FTS5's unicode61
// tokenizer does (remove_diacritics 2); #tags match their '#' word.
func Snippet(text string, t SearchTerms, max int) (string, []Highlight) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	words := make([]string, len(t.Words))
	for i, w := range t.Words {
		words[i] = foldWord(w)
	}
	type span struct{ start, end int } // bytes of text
	var hits []span
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			i += size
			continue
		}
		j := i
		for j < len(text) {
			r2, s2 := utf8.DecodeRuneInString(text[j:])
			if !isWordRune(r2) {
				break
			}
			j += s2
		}
		tok := foldWord(text[i:j])
		matched := false
		for k, w := range words {
			if tok == w || t.Prefix && k == len(words)-1 && strings.HasPrefix(tok, w) {
				matched = true
				break
			}
		}
		if !matched && i > 0 && text[i-1] == '#' {
			for _, tag := range t.Tags {
				if tok == foldWord(tag) {
					matched = true
					break
				}
			}
		}
		if matched {
			hits = append(hits, span{i, j})
		}
		i = j
	}
	// The window: from a little before the first hit, at most max runes.
	start := 0
	if len(hits) > 0 {
		start = hits[0].start
		for back := 0; start > 0 && back < max/4; back++ {
			_, size := utf8.DecodeLastRuneInString(text[:start])
			start -= size
		}
		// Start at a word boundary.
		for start > 0 && start < hits[0].start {
			r, _ := utf8.DecodeLastRuneInString(text[:start])
			if unicode.IsSpace(r) {
				break
			}
			_, size := utf8.DecodeRuneInString(text[start:])
			start += size
		}
	}
	end := start
	for n := 0; end < len(text) && n < max; n++ {
		_, size := utf8.DecodeRuneInString(text[end:])
		end += size
	}
	var b strings.Builder
	var hl []Highlight
	units := 0
	write := func(s string) {
		b.WriteString(s)
		for _, r := range s {
			units += utf16.RuneLen(r)
		}
	}
	if start > 0 {
		write("…")
	}
	pos := start
	for _, h := range hits {
		if h.start < start || h.end > end {
			continue
		}
		write(text[pos:h.start])
		s := units
		write(text[h.start:h.end])
		hl = append(hl, Highlight{Start: s, End: units})
		pos = h.end
	}
	write(text[pos:end])
	if end < len(text) {
		write("…")
	}
	return b.String(), hl
}

// foldWord lowercases and strips diacritics (NFD, marks dropped).
func foldWord(s string) string {
	d := norm.NFD.String(strings.ToLower(s))
	var b strings.Builder
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
