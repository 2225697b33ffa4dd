package pod

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"seedpod/pod/apiv1"
	"seedpod/pod/markup"
	"seedpod/pod/store"
)

// Full-text search over everything the pod holds (API.md §6.2, GET
// /api/seedpod/v1/search): posts, comments, messages and people, own and
// received, private ones included (it is the user's own database). The
// query language is words, #tags and @handles (store.ParseSearchQuery): no
// FTS5 syntax reaches the index. Posts by people the user blocks, and
// messages of hidden conversations, are left out; retracted entities have
// no rows to find.

// SearchRequest is a search.
type SearchRequest struct {
	Q string
	// In lists the kinds to search (store.SearchIn*); empty means all.
	In []string
	// Relevance ranks by bm25 among the newest store.SearchCandidates
	// matches of each kind; otherwise newest first.
	Relevance bool
	PerPage   int
	// Cursor continues a previous page (SearchPage.Next).
	Cursor string
}

// SearchResult is one hit. Kind is "post", "comment", "message" or
// "person"; Item is the v1 object (Post, Comment, Message or the short
// Person).
type SearchResult struct {
	Kind string `json:"kind"`
	GUID string `json:"guid"`
	// PostGUID is a comment's post.
	PostGUID string `json:"post_guid,omitempty"`
	// ConversationGUID is a message's conversation.
	ConversationGUID string `json:"conversation_guid,omitempty"`
	// Snippet is plain text around the first match (at most about
	// searchSnippetLen characters, "…" where it is cut); Highlights are the
	// matched terms in it, as UTF-16 offsets (snippet.slice(start, end) in
	// JavaScript), for the UI to mark.
	Snippet    string            `json:"snippet"`
	Highlights []store.Highlight `json:"highlights"`
	// Score is the relevance (higher is better; -bm25) when ranked.
	Score     *float64   `json:"score,omitempty"`
	CreatedAt apiv1.Time `json:"created_at"`
	Item      any        `json:"item"`
}

// SearchPage is a page of results.
type SearchPage struct {
	Results []SearchResult
	// Next continues the search; "" when nothing is left.
	Next string
}

const searchSnippetLen = 160

var searchKindOrder = []string{store.SearchInPosts, store.SearchInComments, store.SearchInMessages, store.SearchInPeople}

var searchResultKind = map[string]string{store.SearchInPosts: "post", store.SearchInComments: "comment",
	store.SearchInMessages: "message", store.SearchInPeople: "person"}

// searchCursor is where each kind's list continues: a rowid bound (recent
// order) or an offset (ranked lists, and people). Done kinds are over.
type searchCursor struct {
	Sort string           `json:"s"`
	Pos  map[string]int64 `json:"p"`
	Done []string         `json:"d,omitempty"`
}

func (c searchCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseSearchCursor(s, sort string) (searchCursor, error) {
	bad := fmt.Errorf("%w: cursor: this search cannot continue from it; search again without one", ErrInvalid)
	if len(s) > 1024 {
		return searchCursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return searchCursor{}, bad
	}
	var c searchCursor
	if err := json.Unmarshal(b, &c); err != nil || c.Sort != sort {
		return searchCursor{}, bad
	}
	for k, v := range c.Pos {
		if searchResultKind[k] == "" || v < 0 {
			return searchCursor{}, bad
		}
	}
	return c, nil
}

// ParseSearchIn reads the in= list (comma separated, repeatable): the
// kinds to search, all when empty; an unknown kind is ErrInvalid.
func ParseSearchIn(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for _, k := range strings.Split(v, ",") {
			k = strings.TrimSpace(k)
			if k == "" {
				continue
			}
			if searchResultKind[k] == "" {
				return nil, fmt.Errorf("%w: in: %q is not one of posts, comments, messages, people", ErrInvalid, clipText(k, 20))
			}
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// Search runs a search. A query with nothing to search for (only
// punctuation, say) finds nothing.
func (p *Pod) Search(ctx context.Context, req SearchRequest) (SearchPage, error) {
	if strings.TrimSpace(req.Q) == "" {
		return SearchPage{}, fmt.Errorf("%w: q is required: the words to search for", ErrInvalid)
	}
	sort := "recent"
	if req.Relevance {
		sort = "relevance"
	}
	cur := searchCursor{Sort: sort, Pos: map[string]int64{}}
	if req.Cursor != "" {
		var err error
		if cur, err = parseSearchCursor(req.Cursor, sort); err != nil {
			return SearchPage{}, err
		}
		if cur.Pos == nil {
			cur.Pos = map[string]int64{}
		}
	}
	kinds := req.In
	if len(kinds) == 0 {
		kinds = searchKindOrder
	}
	terms := store.ParseSearchQuery(req.Q)
	if terms.Empty() {
		return SearchPage{Results: []SearchResult{}}, nil
	}
	limit := max(req.PerPage, 1)
	q := p.db.R
	// Ranked lists page by offset; a query of only #tags and @handles has
	// no rank and comes newest first.
	ranked := req.Relevance && len(terms.Words) > 0

	// Each kind's next limit+1 hits after its position, then the best
	// limit of them all.
	type fetched struct {
		hits []store.SearchHit
		used int
	}
	got := map[string]*fetched{}
	var all []store.SearchHit
	for _, k := range searchKindOrder {
		if !slices.Contains(kinds, k) || slices.Contains(cur.Done, k) {
			continue
		}
		o := store.SearchOptions{Terms: terms, Relevance: ranked, Limit: limit + 1}
		if k == store.SearchInPeople || ranked {
			o.Offset = int(cur.Pos[k])
		} else {
			o.Below = cur.Pos[k]
		}
		var hits []store.SearchHit
		var err error
		if k == store.SearchInPeople {
			hits, err = store.SearchPeopleHits(ctx, q, o)
		} else {
			hits, err = store.Search(ctx, q, k, o)
		}
		if err != nil {
			return SearchPage{}, err
		}
		got[k] = &fetched{hits: hits}
		all = append(all, hits...)
	}
	kindRank := func(k string) int { return slices.Index(searchKindOrder, k) }
	slices.SortStableFunc(all, func(a, b store.SearchHit) int {
		if ranked && a.HasScore && b.HasScore {
			if c := cmp.Compare(a.Score, b.Score); c != 0 {
				return c
			}
		} else if a.HasScore != b.HasScore {
			if a.HasScore {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.CreatedAt, a.CreatedAt); c != 0 {
			return c
		}
		if c := cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)); c != 0 {
			return c
		}
		return cmp.Compare(b.Rowid, a.Rowid)
	})
	if len(all) > limit {
		all = all[:limit]
	}
	for _, h := range all {
		f := got[h.Kind]
		f.used++
		if h.Kind == store.SearchInPeople || ranked {
			cur.Pos[h.Kind]++
		} else {
			cur.Pos[h.Kind] = h.Rowid
		}
	}
	more := false
	for k, f := range got {
		if len(f.hits) <= limit && f.used == len(f.hits) {
			cur.Done = append(cur.Done, k)
		} else {
			more = true
		}
	}
	results, err := p.searchResults(ctx, all, terms)
	if err != nil {
		return SearchPage{}, err
	}
	page := SearchPage{Results: results}
	if more {
		slices.Sort(cur.Done)
		page.Next = cur.encode()
	}
	return page, nil
}

// searchResults presents hits with their v1 objects. A hit whose object
// cannot be shown any more (deleted between the two reads) is left out.
func (p *Pod) searchResults(ctx context.Context, hits []store.SearchHit, terms store.SearchTerms) ([]SearchResult, error) {
	q := p.db.R
	var postGUIDs []string
	for _, h := range hits {
		if h.Kind == store.SearchInPosts {
			postGUIDs = append(postGUIDs, h.GUID)
		}
	}
	posts := map[string]apiv1.Post{}
	if len(postGUIDs) > 0 {
		rows, err := store.PostsByGUIDs(ctx, q, postGUIDs)
		if err != nil {
			return nil, err
		}
		var list []store.PostRow
		for _, g := range postGUIDs {
			if r, ok := rows[g]; ok {
				list = append(list, r)
			}
		}
		// Mute filters (pod/filters.go): hidden posts are left out (the
		// cursor has moved past them), collapsed ones marked.
		list, marks, err := p.filterSearchPosts(ctx, list)
		if err != nil {
			return nil, err
		}
		presented, err := p.PresentPosts(ctx, list)
		if err != nil {
			return nil, err
		}
		markFiltered(presented, marks)
		for _, pp := range presented {
			posts[pp.GUID] = pp
		}
	}
	people := newConversationPeople(ctx, q)
	out := make([]SearchResult, 0, len(hits))
	for _, h := range hits {
		r := SearchResult{Kind: searchResultKind[h.Kind], GUID: h.GUID, CreatedAt: msTime(h.CreatedAt)}
		text := h.Text
		switch h.Kind {
		case store.SearchInPosts:
			post, ok := posts[h.GUID]
			if !ok {
				continue
			}
			r.Item = post
			text = searchPlainText(h.Text)
		case store.SearchInComments:
			c, ok, err := store.CommentOnPost(ctx, q, h.PostGUID, h.GUID)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			cs, err := p.presentComments(ctx, []store.CommentView{c})
			if err != nil {
				return nil, err
			}
			r.Item, r.PostGUID = cs[0], h.PostGUID
			text = searchPlainText(h.Text)
		case store.SearchInMessages:
			m, ok, err := store.MessageByGUID(ctx, q, h.GUID)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			msg, err := people.message(m)
			if err != nil {
				return nil, err
			}
			r.Item, r.ConversationGUID = msg, h.PostGUID
			text = searchPlainText(h.Text)
		case store.SearchInPeople:
			sp, ok, err := store.PersonByGUID(ctx, q, h.GUID)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			r.Item = ShortPersonOf(sp)
			text = strings.TrimSpace(sp.Name + " " + sp.Handle)
		}
		r.Snippet, r.Highlights = store.Snippet(text, terms, searchSnippetLen)
		if r.Highlights == nil {
			r.Highlights = []store.Highlight{}
		}
		if h.HasScore {
			s := -h.Score
			r.Score = &s
		}
		out = append(out, r)
	}
	return out, nil
}

// searchPlainText is the text of Markdown without its markup, for
// snippets; the source itself when it does not render.
func searchPlainText(src string) string {
	r, err := markup.Render(src, markup.Options{})
	if err != nil || r.Text == "" {
		return src
	}
	return r.Text
}
