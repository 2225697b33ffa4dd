package pod

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"seedpod/pod/apiv1"
	"seedpod/pod/diaspora/id"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Mute filters (API.md §6.2, GET|POST /filters, PATCH|DELETE /filters/:id):
// words, tags, people and pods whose posts the user does not want to see,
// in streams, notifications and search. A filter either hides a post (it
// is left out of the page) or collapses it (it is sent with
// seedpod.filtered, for the client to fold). The user's own posts are never
// filtered; an expired filter does nothing.
//
// Filters are user state every device shares: the live members of the set
// "filters" are the ids, each filter's attributes are last-writer-wins
// fields filter/<id>/<name> (store/project_filters.go). A delete removes
// the id with the add tags it saw, so an edit on another device does not
// bring a deleted filter back; concurrent edits of different fields both
// survive.
//
// Matching is a pure function of a post's text, tags and authors
// (filterSet.match). Pages are filtered after the store reads them: a hide
// filter makes a page shorter, never makes it skip or repeat posts — the
// cursor moves past every row examined, and at most filterScanBatches
// batches are read for one page.

// Filter kinds, matches, contexts and actions.
const (
	FilterWord   = "word"
	FilterTag    = "tag"
	FilterPerson = "person"
	FilterPod    = "pod"

	MatchWord      = "word"      // whole words, case-insensitive
	MatchSubstring = "substring" // anywhere, case-insensitive

	FilterStreams       = "streams"
	FilterNotifications = "notifications"
	FilterSearch        = "search"

	FilterHide     = "hide"
	FilterCollapse = "collapse"
)

var (
	filterKinds    = []string{FilterWord, FilterTag, FilterPerson, FilterPod}
	filterMatches  = []string{MatchWord, MatchSubstring}
	filterContexts = []string{FilterStreams, FilterNotifications, FilterSearch} // canonical order
	filterActions  = []string{FilterHide, FilterCollapse}
)

// Limits.
const (
	// MaxFilters is how many filters a user may have (expired ones count).
	MaxFilters = 500
	// MaxFilterWord is the longest word or phrase, in characters; tags have
	// the same limit.
	MaxFilterWord = 100
	// maxFilterHost is the longest pod host (a DNS name is at most 253
	// characters, and a port may follow).
	maxFilterHost = 260
	// filterScanBatches bounds the rows one filtered page examines: at most
	// this many batches of per_page rows. A page whose rows are all hidden
	// comes back empty with a cursor past them.
	filterScanBatches = 8
	// maxFilterUnreadScan bounds the unread notifications the unread count
	// looks at to subtract the filtered ones.
	maxFilterUnreadScan = 5000
)

// Filter is a mute filter as the API shows it.
type Filter struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Value    string   `json:"value"`
	Match    string   `json:"match"`
	Contexts []string `json:"contexts"`
	Action   string   `json:"action"`
	// ExpiresAt is when the filter stops acting; null for never.
	ExpiresAt *apiv1.Time `json:"expires_at"`
	CreatedAt apiv1.Time  `json:"created_at"`
	// Expired: ExpiresAt has passed; the filter does nothing.
	Expired bool `json:"expired"`
}

// FilterInput is the body of POST /filters (kind and value required) and
// PATCH /filters/:id (every field optional; expires_at null clears it).
type FilterInput struct {
	Kind      *string      `json:"kind"`
	Value     *string      `json:"value"`
	Match     *string      `json:"match"`
	Contexts  *[]string    `json:"contexts"`
	Action    *string      `json:"action"`
	ExpiresAt OptionalJSON `json:"expires_at"`
}

// OptionalJSON is a JSON value that may be absent, null or present: Set
// says whether the key was there, Raw is its JSON (null included).
type OptionalJSON struct {
	Set bool
	Raw json.RawMessage
}

// UnmarshalJSON keeps the raw value; json calls it for null too.
func (o *OptionalJSON) UnmarshalJSON(b []byte) error {
	o.Set, o.Raw = true, bytes.Clone(b)
	return nil
}

// IsNull reports whether the value is JSON null.
func (o OptionalJSON) IsNull() bool { return o.Set && string(bytes.TrimSpace(o.Raw)) == "null" }

// filterSpec is a filter's attributes, normalised.
type filterSpec struct {
	Kind, Value, Match string
	Contexts           []string
	Action             string
	ExpiresAt          int64 // ms; 0 = never
	CreatedAt          int64 // ms
}

func defaultFilterSpec() filterSpec {
	return filterSpec{Match: MatchWord, Contexts: []string{FilterStreams, FilterNotifications}, Action: FilterCollapse}
}

// apply merges an input into a spec (for a create, the defaults) and
// checks the result: every field known, the value normalised for its kind,
// expires_at (when given) in the future. Pure.
func (in FilterInput) apply(base filterSpec, now time.Time) (filterSpec, error) {
	s := base
	s.Contexts = slices.Clone(base.Contexts)
	if in.Kind != nil {
		if !slices.Contains(filterKinds, *in.Kind) {
			return s, fmt.Errorf("%w: kind %q is not one of %s", ErrInvalid, clipText(*in.Kind, 20), strings.Join(filterKinds, ", "))
		}
		s.Kind = *in.Kind
	}
	if in.Value != nil {
		s.Value = *in.Value
	}
	if in.Match != nil {
		if !slices.Contains(filterMatches, *in.Match) {
			return s, fmt.Errorf("%w: match %q is not one of %s", ErrInvalid, clipText(*in.Match, 20), strings.Join(filterMatches, ", "))
		}
		s.Match = *in.Match
	}
	if in.Contexts != nil {
		cs := *in.Contexts
		if len(cs) == 0 {
			return s, fmt.Errorf("%w: contexts must name at least one of %s", ErrInvalid, strings.Join(filterContexts, ", "))
		}
		if len(cs) > 16 {
			return s, fmt.Errorf("%w: contexts lists %d entries", ErrInvalid, len(cs))
		}
		for _, c := range cs {
			if !slices.Contains(filterContexts, c) {
				return s, fmt.Errorf("%w: context %q is not one of %s", ErrInvalid, clipText(c, 20), strings.Join(filterContexts, ", "))
			}
		}
		s.Contexts = nil
		for _, c := range filterContexts {
			if slices.Contains(cs, c) {
				s.Contexts = append(s.Contexts, c)
			}
		}
	}
	if in.Action != nil {
		if !slices.Contains(filterActions, *in.Action) {
			return s, fmt.Errorf("%w: action %q is not one of %s", ErrInvalid, clipText(*in.Action, 20), strings.Join(filterActions, ", "))
		}
		s.Action = *in.Action
	}
	if in.ExpiresAt.Set {
		if in.ExpiresAt.IsNull() {
			s.ExpiresAt = 0
		} else {
			var text string
			if err := json.Unmarshal(in.ExpiresAt.Raw, &text); err != nil {
				return s, fmt.Errorf("%w: expires_at must be an RFC 3339 time or null", ErrInvalid)
			}
			t, err := time.Parse(time.RFC3339Nano, text)
			if err != nil {
				return s, fmt.Errorf("%w: expires_at %q is not an RFC 3339 time", ErrInvalid, clipText(text, 40))
			}
			if !t.After(now) {
				return s, fmt.Errorf("%w: expires_at %s is not in the future", ErrInvalid, clipText(text, 40))
			}
			if t.Year() > 9999 {
				return s, fmt.Errorf("%w: expires_at %s is too far away", ErrInvalid, clipText(text, 40))
			}
			s.ExpiresAt = t.UnixMilli()
		}
	}
	if s.Kind == "" {
		return s, fmt.Errorf("%w: kind is required (%s)", ErrInvalid, strings.Join(filterKinds, ", "))
	}
	if s.Kind != FilterWord {
		s.Match = MatchWord // only words have a choice
	}
	v, err := normalizeFilterValue(s.Kind, s.Value)
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}

// normalizeFilterValue checks a value for its kind and returns its
// canonical form: a word trimmed; a tag lowercase without '#'; a person a
// normalised diaspora ID; a pod a lowercase host (ASCII form, port kept).
func normalizeFilterValue(kind, v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("%w: value is not valid UTF-8", ErrInvalid)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("%w: value is required", ErrInvalid)
	}
	switch kind {
	case FilterWord:
		if err := checkText("value", v, MaxFilterWord); err != nil {
			return "", err
		}
		if strings.ContainsAny(v, "\r\n\t") {
			return "", fmt.Errorf("%w: a word filter is one line", ErrInvalid)
		}
		return v, nil
	case FilterTag:
		if n := utf8.RuneCountInString(v); n > MaxFilterWord+1 {
			return "", fmt.Errorf("%w: value is %d characters long (at most %d)", ErrInvalid, n, MaxFilterWord)
		}
		t, err := NormalizeTag(v)
		if err != nil {
			return "", err
		}
		if utf8.RuneCountInString(t) > MaxFilterWord {
			return "", fmt.Errorf("%w: the tag is longer than %d characters", ErrInvalid, MaxFilterWord)
		}
		return t, nil
	case FilterPerson:
		if len(v) > id.MaxLen {
			return "", fmt.Errorf("%w: value is longer than %d characters", ErrInvalid, id.MaxLen)
		}
		h, err := id.Normalize(v)
		if err != nil {
			return "", fmt.Errorf("%w: %q is not a diaspora ID (user@pod.example)", ErrInvalid, clipText(v, 60))
		}
		return h, nil
	case FilterPod:
		if len(v) > maxFilterHost {
			return "", fmt.Errorf("%w: value is longer than %d characters", ErrInvalid, maxFilterHost)
		}
		if strings.ContainsAny(v, "@/ ") {
			return "", fmt.Errorf("%w: %q is not a host name (pod.example or pod.example:8443)", ErrInvalid, clipText(v, 60))
		}
		h, err := id.Normalize("x@" + v)
		if err != nil {
			return "", fmt.Errorf("%w: %q is not a host name (pod.example or pod.example:8443)", ErrInvalid, clipText(v, 60))
		}
		_, host := id.Split(h)
		return host, nil
	}
	return "", fmt.Errorf("%w: kind %q", ErrInvalid, kind)
}

// sameFilter reports whether two specs are duplicates: the same kind,
// value and match (words compare case-insensitively, as they match).
func sameFilter(a, b filterSpec) bool {
	if a.Kind != b.Kind || a.Match != b.Match {
		return false
	}
	if a.Kind == FilterWord {
		return foldText(a.Value) == foldText(b.Value)
	}
	return a.Value == b.Value
}

// The field names of a filter (docs/data-model.md).
const (
	filterFieldKind      = "kind"
	filterFieldValue     = "value"
	filterFieldMatch     = "match"
	filterFieldContexts  = "contexts"
	filterFieldAction    = "action"
	filterFieldExpiresAt = "expires_at"
	filterFieldCreatedAt = "created_at"
)

// fields are the spec's stored fields by name (expires_at "" for never).
func (s filterSpec) fields() map[string]string {
	exp := ""
	if s.ExpiresAt > 0 {
		exp = strconv.FormatInt(s.ExpiresAt, 10)
	}
	return map[string]string{
		filterFieldKind: s.Kind, filterFieldValue: s.Value, filterFieldMatch: s.Match,
		filterFieldContexts: strings.Join(s.Contexts, ","), filterFieldAction: s.Action,
		filterFieldExpiresAt: exp, filterFieldCreatedAt: strconv.FormatInt(s.CreatedAt, 10),
	}
}

// filterFieldOrder is the order fields are written in.
var filterFieldOrder = []string{filterFieldKind, filterFieldValue, filterFieldMatch, filterFieldContexts,
	filterFieldAction, filterFieldExpiresAt, filterFieldCreatedAt}

// specOfRecord reads a stored filter; ok is false for one this code
// cannot use (an unknown kind, a value it would refuse: written by newer
// code, or its fields not all arrived yet). Unknown contexts are ignored;
// missing fields take the defaults.
func specOfRecord(r store.FilterRecord) (filterSpec, bool) {
	s := defaultFilterSpec()
	f := r.Fields
	s.Kind = f[filterFieldKind]
	if !slices.Contains(filterKinds, s.Kind) {
		return s, false
	}
	v, err := normalizeFilterValue(s.Kind, f[filterFieldValue])
	if err != nil {
		return s, false
	}
	s.Value = v
	if m := f[filterFieldMatch]; s.Kind == FilterWord && slices.Contains(filterMatches, m) {
		s.Match = m
	}
	if c, ok := f[filterFieldContexts]; ok && c != "" {
		var cs []string
		for _, x := range filterContexts {
			if slices.Contains(strings.Split(c, ","), x) {
				cs = append(cs, x)
			}
		}
		if len(cs) > 0 {
			s.Contexts = cs
		}
	}
	if a := f[filterFieldAction]; slices.Contains(filterActions, a) {
		s.Action = a
	}
	s.ExpiresAt, _ = strconv.ParseInt(f[filterFieldExpiresAt], 10, 64)
	s.CreatedAt, _ = strconv.ParseInt(f[filterFieldCreatedAt], 10, 64)
	return s, true
}

func (s filterSpec) expired(now time.Time) bool {
	return s.ExpiresAt > 0 && s.ExpiresAt <= now.UnixMilli()
}

func (s filterSpec) api(fid string, now time.Time) Filter {
	f := Filter{ID: fid, Kind: s.Kind, Value: s.Value, Match: s.Match, Contexts: slices.Clone(s.Contexts), Action: s.Action,
		CreatedAt: apiv1.NewTime(time.UnixMilli(s.CreatedAt)), Expired: s.expired(now)}
	if s.ExpiresAt > 0 {
		t := apiv1.NewTime(time.UnixMilli(s.ExpiresAt))
		f.ExpiresAt = &t
	}
	return f
}

// storedFilter is a live filter as read from the fold.
type storedFilter struct {
	id   string
	spec filterSpec
}

// readFilters reads the usable live filters, newest first.
func readFilters(ctx context.Context, q store.Querier) ([]storedFilter, error) {
	recs, err := store.Filters(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]storedFilter, 0, len(recs))
	for _, r := range recs {
		if s, ok := specOfRecord(r); ok {
			out = append(out, storedFilter{id: r.ID, spec: s})
		}
	}
	slices.SortFunc(out, func(a, b storedFilter) int {
		if a.spec.CreatedAt != b.spec.CreatedAt {
			if a.spec.CreatedAt > b.spec.CreatedAt {
				return -1
			}
			return 1
		}
		return strings.Compare(b.id, a.id)
	})
	return out, nil
}

// Filters lists the user's filters, newest first, expired ones included.
func (p *Pod) Filters(ctx context.Context) ([]Filter, error) {
	fs, err := readFilters(ctx, p.db.R)
	if err != nil {
		return nil, err
	}
	now := p.cfg.Now()
	out := make([]Filter, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.spec.api(f.id, now))
	}
	return out, nil
}

func filterNotFound(fid string) error {
	return fmt.Errorf("%w: no filter with id %q", ErrNotFound, clipText(fid, 40))
}

// checkFilterDuplicate refuses a spec that another live filter (not skip)
// already has: ErrConflict.
func checkFilterDuplicate(fs []storedFilter, s filterSpec, skip string) error {
	for _, f := range fs {
		if f.id != skip && sameFilter(f.spec, s) {
			return fmt.Errorf("%w: filter %s already mutes the %s %q", ErrConflict, f.id, s.Kind, f.spec.Value)
		}
	}
	return nil
}

// CreateFilter adds a filter. ErrInvalid for bad input or too many
// filters, ErrConflict for a duplicate (same kind, value and match).
func (p *Pod) CreateFilter(ctx context.Context, in FilterInput) (Filter, error) {
	now := p.cfg.Now()
	if in.Kind == nil {
		return Filter{}, fmt.Errorf("%w: kind is required (%s)", ErrInvalid, strings.Join(filterKinds, ", "))
	}
	if in.Value == nil {
		return Filter{}, fmt.Errorf("%w: value is required", ErrInvalid)
	}
	s, err := in.apply(defaultFilterSpec(), now)
	if err != nil {
		return Filter{}, err
	}
	s.CreatedAt = now.UnixMilli()
	var out Filter
	err = p.log.Write(ctx, func(w *store.Writer) error {
		me, err := w.Me()
		if err != nil {
			return err
		}
		if !me.Exists() {
			return fmt.Errorf("%w: create the identity first", ErrNoIdentity)
		}
		fs, err := readFilters(ctx, w)
		if err != nil {
			return err
		}
		if len(fs) >= MaxFilters {
			return fmt.Errorf("%w: there are %d filters already (at most %d); delete some first", ErrInvalid, len(fs), MaxFilters)
		}
		if err := checkFilterDuplicate(fs, s, ""); err != nil {
			return err
		}
		fid := newDraftID(now)
		if _, err := w.Append(oplog.SetAdd{Set: store.SetFilters, Member: fid}); err != nil {
			return err
		}
		fields := s.fields()
		for _, name := range filterFieldOrder {
			if fields[name] == "" {
				continue // unset is the default
			}
			if _, err := w.Append(oplog.SetField{Key: store.FilterField(fid, name), Value: fields[name]}); err != nil {
				return err
			}
		}
		out = s.api(fid, now)
		return nil
	})
	return out, err
}

// liveFilter finds a live filter by id in fs.
func liveFilter(fs []storedFilter, fid string) (storedFilter, bool) {
	for _, f := range fs {
		if f.id == fid {
			return f, true
		}
	}
	return storedFilter{}, false
}

// UpdateFilter changes a filter's fields (those the input names); only
// the fields that change are written. ErrNotFound for an unknown id.
func (p *Pod) UpdateFilter(ctx context.Context, fid string, in FilterInput) (Filter, error) {
	now := p.cfg.Now()
	var out Filter
	err := p.log.Write(ctx, func(w *store.Writer) error {
		fs, err := readFilters(ctx, w)
		if err != nil {
			return err
		}
		f, ok := liveFilter(fs, fid)
		if !ok {
			return filterNotFound(fid)
		}
		s, err := in.apply(f.spec, now)
		if err != nil {
			return err
		}
		if err := checkFilterDuplicate(fs, s, fid); err != nil {
			return err
		}
		old, nw := f.spec.fields(), s.fields()
		for _, name := range filterFieldOrder {
			if old[name] == nw[name] {
				continue
			}
			if _, err := w.Append(oplog.SetField{Key: store.FilterField(fid, name), Value: nw[name]}); err != nil {
				return err
			}
		}
		out = s.api(fid, now)
		return nil
	})
	return out, err
}

// DeleteFilter removes a filter (its id leaves the set with the add tags
// seen here). ErrNotFound for an unknown id.
func (p *Pod) DeleteFilter(ctx context.Context, fid string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		tags, err := store.SetTags(ctx, w, store.SetFilters, fid)
		if err != nil {
			return err
		}
		if len(tags) == 0 {
			return filterNotFound(fid)
		}
		_, err = w.Append(oplog.SetRemove{Set: store.SetFilters, Member: fid, Observed: oplog.Refs(tags)})
		return err
	})
}

// --- matching (pure) ----------------------------------------------------

// filterSubject is what filters look at in a post: its text, tags and
// authors (for a reshare, its root's text and tags, and both authors).
type filterSubject struct {
	Text    string
	Tags    []string // lowercase, no '#'
	Authors []string // diaspora IDs
}

// filterRule is one compiled filter.
type filterRule struct {
	ref       apiv1.FilterRef
	hide      bool
	substring bool
	folded    string // word filters: the value, folded
}

// filterSet is the active filters of one context, compiled for matching.
// The zero value (and nil) matches nothing.
type filterSet struct {
	words  []filterRule
	tags   map[string][]filterRule
	people map[string][]filterRule
	pods   map[string][]filterRule
}

// newFilterSet compiles the filters that act in context at now: not
// expired, context listed.
func newFilterSet(fs []storedFilter, context string, now time.Time) *filterSet {
	s := &filterSet{tags: map[string][]filterRule{}, people: map[string][]filterRule{}, pods: map[string][]filterRule{}}
	for _, f := range fs {
		sp := f.spec
		if sp.expired(now) || !slices.Contains(sp.Contexts, context) {
			continue
		}
		r := filterRule{ref: apiv1.FilterRef{ID: f.id, Kind: sp.Kind, Value: sp.Value}, hide: sp.Action == FilterHide}
		switch sp.Kind {
		case FilterWord:
			r.substring, r.folded = sp.Match == MatchSubstring, foldText(sp.Value)
			s.words = append(s.words, r)
		case FilterTag:
			s.tags[sp.Value] = append(s.tags[sp.Value], r)
		case FilterPerson:
			s.people[sp.Value] = append(s.people[sp.Value], r)
		case FilterPod:
			s.pods[sp.Value] = append(s.pods[sp.Value], r)
		}
	}
	return s
}

// empty reports whether the set matches nothing.
func (s *filterSet) empty() bool {
	return s == nil || len(s.words) == 0 && len(s.tags) == 0 && len(s.people) == 0 && len(s.pods) == 0
}

// needsTags reports whether matching looks at tags.
func (s *filterSet) needsTags() bool { return s != nil && len(s.tags) > 0 }

// match says whether a post is hidden (a hide filter matched) and which
// filters matched, in the order of the set.
func (s *filterSet) match(sub filterSubject) (hide bool, refs []apiv1.FilterRef) {
	if s.empty() {
		return false, nil
	}
	add := func(rs []filterRule) {
		for _, r := range rs {
			if !slices.ContainsFunc(refs, func(x apiv1.FilterRef) bool { return x.ID == r.ref.ID }) {
				refs = append(refs, r.ref)
				hide = hide || r.hide
			}
		}
	}
	for _, a := range sub.Authors {
		rs, ph := s.actor(a)
		add(rs)
		add(ph)
	}
	for _, t := range sub.Tags {
		add(s.tags[strings.ToLower(t)])
	}
	if len(s.words) > 0 && sub.Text != "" {
		text := foldText(sub.Text)
		for _, r := range s.words {
			if matchFolded(text, r.folded, r.substring) {
				add([]filterRule{r})
			}
		}
	}
	return hide, refs
}

// actor are the person and pod filters that match a diaspora ID.
func (s *filterSet) actor(handle string) (person, pod []filterRule) {
	if s.empty() || handle == "" {
		return nil, nil
	}
	h := strings.ToLower(handle)
	_, host := id.Split(h)
	return s.people[h], s.pods[host]
}

// mutesActor reports whether a person or pod filter matches the handle.
func (s *filterSet) mutesActor(handle string) bool {
	a, b := s.actor(handle)
	return len(a) > 0 || len(b) > 0
}

// foldText is text in the form word filters compare: Unicode NFC, each
// character case-folded (every member of a case-folding orbit maps to one
// of them, so "K", "k" and the Kelvin sign K, or "Σ", "σ" and "ς", compare
// equal).
func foldText(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		s = norm.NFC.String(s)
	}
	return strings.Map(foldRune, s)
}

// foldRune maps a character to its case-folding orbit's representative:
// the lowercase ASCII member if there is one, else the smallest member.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	if 'A' <= m && m <= 'Z' {
		return m + 'a' - 'A'
	}
	return m
}

// matchWord reports whether a word filter's value matches text: as a
// substring, or (whole) as whole words. Both are case-insensitive.
func matchWord(text, value string, substring bool) bool {
	return matchFolded(foldText(text), foldText(value), substring)
}

// matchFolded is matchWord on folded text and value. A whole-word match
// needs a boundary at each end of the value that starts or ends with a
// word character: the neighbouring character is not a word character (or
// there is none). Scripts written without spaces between words (Han,
// kana, Thai, …) have no such boundaries, so there a match is enough.
func matchFolded(text, value string, substring bool) bool {
	if value == "" {
		return false
	}
	if substring {
		return strings.Contains(text, value)
	}
	first, _ := utf8.DecodeRuneInString(value)
	last, _ := utf8.DecodeLastRuneInString(value)
	for off := 0; off < len(text); {
		i := strings.Index(text[off:], value)
		if i < 0 {
			return false
		}
		i += off
		if wordBoundary(text[:i], first, true) && wordBoundary(text[i+len(value):], last, false) {
			return true
		}
		_, n := utf8.DecodeRuneInString(text[i:])
		off = i + n
	}
	return false
}

// wordBoundary reports whether the value's edge character has a word
// boundary towards rest (the text before it, or after it).
func wordBoundary(rest string, edge rune, before bool) bool {
	if !isWordRune(edge) || rest == "" {
		return true
	}
	var nb rune
	if before {
		nb, _ = utf8.DecodeLastRuneInString(rest)
	} else {
		nb, _ = utf8.DecodeRuneInString(rest)
	}
	if !isWordRune(nb) {
		return true
	}
	// A combining mark continues the character before it: never a
	// boundary. Between two characters of unspaced scripts, always one.
	if unicode.IsMark(nb) && !before {
		return false
	}
	return unspaced(nb) || unspaced(edge)
}

// isWordRune: letters, marks, digits and connector punctuation ('_').
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || unicode.Is(unicode.Pc, r)
}

// unspaced reports whether r belongs to a script written without spaces
// between words.
func unspaced(r rune) bool {
	if r < 0x0E00 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao,
		unicode.Khmer, unicode.Myanmar, unicode.Tibetan)
}

// --- application ----------------------------------------------------------

// filterCache keeps the filters as last read, for the pages that apply
// them (every stream page): reading and decoding 100 filters cost about
// as much as the page itself. gen counts the commits that touched filters
// (watchFilters) and refolds; an entry read under an older gen is not
// used. gen is read before the database, and bumped only after a commit,
// so an entry can be older than its gen says only until the next bump.
type filterCache struct {
	gen atomic.Uint64
	mu  sync.Mutex
	at  uint64 // the gen list was read under; valid when ok
	ok  bool
	fs  []storedFilter
}

func (c *filterCache) invalidate() { c.gen.Add(1) }

// get returns the cached filters, or reads them with read.
func (c *filterCache) get(read func() ([]storedFilter, error)) ([]storedFilter, error) {
	gen := c.gen.Load()
	c.mu.Lock()
	if c.ok && c.at == gen {
		fs := c.fs
		c.mu.Unlock()
		return fs, nil
	}
	c.mu.Unlock()
	fs, err := read()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if !c.ok || gen >= c.at {
		c.fs, c.at, c.ok = fs, gen, true
	}
	c.mu.Unlock()
	return fs, nil
}

// watchFilters invalidates the filter cache after every commit that
// changes a filter: made here, synced from another device or imported.
func (p *Pod) watchFilters() {
	p.log.Listen(func(ch []store.Change) {
		for _, c := range ch {
			if c.Key == store.SetFilters || strings.HasPrefix(c.Key, "filter/") {
				p.filters.invalidate()
				return
			}
		}
	})
}

// activeFilters compiles the filters acting in a context now; nil when
// there are none.
func (p *Pod) activeFilters(ctx context.Context, context string) (*filterSet, error) {
	fs, err := p.filters.get(func() ([]storedFilter, error) { return readFilters(ctx, p.db.R) })
	if err != nil || len(fs) == 0 {
		return nil, err
	}
	s := newFilterSet(fs, context, p.cfg.Now())
	if s.empty() {
		return nil, nil
	}
	return s, nil
}

// filterSubjects reads what filters look at in posts (by guid): a
// reshare's root's text and tags, and both authors. Own posts are left
// out: they are never filtered.
func filterSubjects(ctx context.Context, q store.Querier, rows []store.PostRow, tags bool) (map[string]filterSubject, error) {
	root, err := reshareRoots(ctx, q, rows)
	if err != nil {
		return nil, err
	}
	out := map[string]filterSubject{}
	src := map[string]store.PostRow{} // the post whose text and tags count
	for _, r := range rows {
		if r.Own {
			continue
		}
		sub := filterSubject{Authors: []string{r.Author}}
		if rt, ok := root(r); ok {
			sub.Text = rt.Text
			src[r.GUID] = rt
			if rt.GUID != r.GUID && !rt.Own && rt.Author != "" {
				sub.Authors = append(sub.Authors, rt.Author)
			}
		}
		out[r.GUID] = sub
	}
	if tags && len(src) > 0 {
		var ids []int64
		for _, rt := range src {
			ids = append(ids, rt.ID)
		}
		t, err := store.PostTagsByIDs(ctx, q, ids)
		if err != nil {
			return nil, err
		}
		for g, rt := range src {
			sub := out[g]
			sub.Tags = t[rt.ID]
			out[g] = sub
		}
	}
	return out, nil
}

// filterVerdicts decides each row: hidden, or the collapse filters that
// matched (by guid).
func filterVerdicts(ctx context.Context, q store.Querier, fs *filterSet, rows []store.PostRow) (hidden []bool, marks map[string][]apiv1.FilterRef, err error) {
	hidden = make([]bool, len(rows))
	if fs.empty() {
		return hidden, nil, nil
	}
	subs, err := filterSubjects(ctx, q, rows, fs.needsTags())
	if err != nil {
		return nil, nil, err
	}
	marks = map[string][]apiv1.FilterRef{}
	for i, r := range rows {
		sub, ok := subs[r.GUID]
		if !ok {
			continue // own
		}
		hide, refs := fs.match(sub)
		switch {
		case hide:
			hidden[i] = true
		case len(refs) > 0:
			marks[r.GUID] = refs
		}
	}
	return hidden, marks, nil
}

// markFiltered sets seedpod.filtered on the collapsed posts.
func markFiltered(posts []apiv1.Post, marks map[string][]apiv1.FilterRef) {
	for i := range posts {
		refs, ok := marks[posts[i].GUID]
		if !ok {
			continue
		}
		if posts[i].Seedpod == nil {
			posts[i].Seedpod = &apiv1.PostExtension{}
		}
		posts[i].Seedpod.Filtered = &apiv1.PostFiltered{Action: FilterCollapse, Filters: refs}
	}
}

// scanFiltered reads one filtered page: batches from fetch (each after
// the last row examined; nil for the first), examined in order until want
// rows are kept, the list ends (a batch shorter than batch), or
// filterScanBatches batches were read. It returns the kept rows and the
// first and last rows examined (the page's edges for its cursors).
func scanFiltered[T any](want, batch int, fetch func(after *T) ([]T, error), drop func([]T) ([]bool, error)) (kept []T, first, last *T, err error) {
	var after *T
	for range filterScanBatches {
		rows, err := fetch(after)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(rows) == 0 {
			break
		}
		dropped, err := drop(rows)
		if err != nil {
			return nil, nil, nil, err
		}
		for i := range rows {
			r := rows[i]
			if first == nil {
				first = &r
			}
			last, after = &r, &r
			if !dropped[i] {
				kept = append(kept, r)
				if len(kept) == want {
					return kept, first, last, nil
				}
			}
		}
		if len(rows) < batch {
			break
		}
	}
	return kept, first, last, nil
}

// filteredStream reads a stream page through the filters: the kept rows,
// the edges of what was examined, and the collapse marks. at is the time a
// row pages on.
func (p *Pod) filteredStream(ctx context.Context, s store.Stream, tb store.TimeBound, fs *filterSet,
	at func(store.PostRow) int64) (rows []store.PostRow, first, last *store.PostRow, marks map[string][]apiv1.FilterRef, err error) {
	q := p.db.R
	marks = map[string][]apiv1.FilterRef{}
	fetch := func(after *store.PostRow) ([]store.PostRow, error) {
		b := tb
		if after != nil {
			b.Time, b.GUID = at(*after), after.GUID
		}
		return store.StreamPosts(ctx, q, s, b)
	}
	drop := func(rows []store.PostRow) ([]bool, error) {
		hidden, m, err := filterVerdicts(ctx, q, fs, rows)
		for g, refs := range m {
			marks[g] = refs
		}
		return hidden, err
	}
	rows, first, last, err = scanFiltered(tb.Limit, tb.Limit, fetch, drop)
	return rows, first, last, marks, err
}

// --- notifications ----------------------------------------------------------

// filterNotifications decides which notifications the filters leave out:
// those whose target post matches a filter (either action: notifications
// have no collapsed form), and those whose every actor is muted by a
// person or pod filter. The muted actors of the others are dropped from
// them. Posts are read once for the batch.
func filterNotifications(ctx context.Context, q store.Querier, fs *filterSet, ns []store.Notification) ([]bool, error) {
	drop := make([]bool, len(ns))
	if fs.empty() {
		return drop, nil
	}
	var targets []string
	for _, n := range ns {
		switch n.Type {
		case store.NotifyStartedSharing, store.NotifyContactsBirthday:
		default:
			if n.Target != "" {
				targets = append(targets, n.Target)
			}
		}
	}
	posts, err := store.PostsByGUIDs(ctx, q, targets)
	if err != nil {
		return nil, err
	}
	var rows []store.PostRow
	for _, r := range posts {
		rows = append(rows, r)
	}
	subs, err := filterSubjects(ctx, q, rows, fs.needsTags())
	if err != nil {
		return nil, err
	}
	for i := range ns {
		n := &ns[i]
		if sub, ok := subs[n.Target]; ok && n.Type != store.NotifyStartedSharing && n.Type != store.NotifyContactsBirthday {
			if _, refs := fs.match(sub); len(refs) > 0 {
				drop[i] = true
				continue
			}
		}
		if len(n.Actors) == 0 {
			continue
		}
		var keep []string
		for _, a := range n.Actors {
			if !fs.mutesActor(a) {
				keep = append(keep, a)
			}
		}
		if len(keep) == 0 {
			drop[i] = true
		} else if len(keep) < len(n.Actors) {
			n.Actors = keep
		}
	}
	return drop, nil
}

// filteredUnread is how many of the unread notifications the filters
// leave out (at most the newest maxFilterUnreadScan are looked at).
func (p *Pod) filteredUnread(ctx context.Context) (int, error) {
	fs, err := p.activeFilters(ctx, FilterNotifications)
	if err != nil || fs.empty() {
		return 0, err
	}
	ns, err := store.Notifications(ctx, p.db.R, store.NotificationQuery{OnlyUnread: true, Descending: true,
		Time: 1<<62 - 1, Limit: maxFilterUnreadScan}, p.cfg.Now())
	if err != nil {
		return 0, err
	}
	drop, err := filterNotifications(ctx, p.db.R, fs, ns)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range drop {
		if d {
			n++
		}
	}
	return n, nil
}

// --- search -----------------------------------------------------------------

// filterSearchPosts applies the search filters to post results: the rows
// kept, and the collapse marks.
func (p *Pod) filterSearchPosts(ctx context.Context, rows []store.PostRow) ([]store.PostRow, map[string][]apiv1.FilterRef, error) {
	fs, err := p.activeFilters(ctx, FilterSearch)
	if err != nil || fs.empty() {
		return rows, nil, err
	}
	hidden, marks, err := filterVerdicts(ctx, p.db.R, fs, rows)
	if err != nil {
		return nil, nil, err
	}
	kept := rows[:0:0]
	for i, r := range rows {
		if !hidden[i] {
			kept = append(kept, r)
		}
	}
	return kept, marks, nil
}
