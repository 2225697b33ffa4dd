package pod

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/store"
)

func TestMatchWord(t *testing.T) {
	for _, c := range []struct {
		text, value string
		substring   bool
		want        bool
	}{
		{"I watched the finale", "finale", false, true},
		{"I watched the FINALE!", "Finale", false, true},
		{"finale", "finale", false, true},
		{"semifinale tonight", "finale", false, false},
		{"semifinale tonight", "finale", true, true},
		{"finales", "finale", false, false},
		{"(finale)", "finale", false, true},
		{"#finale", "finale", false, true},
		{"finale_x", "finale", false, false}, // '_' joins words
		{"covid-19 again", "covid", false, true},
		{"covid-19 again", "covid-19", false, true},
		{"c++ is fun", "c++", false, true},
		{"abc++ is fun", "c++", false, false},
		{"the climate  change", "climate change", false, false},
		{"the Climate Change debate", "climate change", false, true},
		// Unicode: case, folding orbits, accents, composition.
		{"Über alles", "über", false, true},
		{"ÜBER ALLES", "über", false, true},
		{"überall", "über", false, false},
		{"ΟΔΥΣΣΕΥΣ", "οδυσσευς", false, true}, // final sigma folds with Σ
		{"Kelvin \u212a", "k", false, true},   // Kelvin sign folds with k
		{"café crème", "café", false, true},
		{"cafe\u0301 crème", "café", false, true}, // decomposed text
		{"café", "cafe", false, false},            // an accent is a different letter
		{"cafe\u0301", "cafe", false, false},      // a combining mark continues the word
		{"Straße", "straße", false, true},
		{"большой Дом", "дом", false, true},
		{"домовой", "дом", false, false},
		{"домовой", "дом", true, true},
		// Scripts without spaces: a match is a match.
		{"我的猫很可爱", "猫", false, true},
		{"ねこが好き", "ねこ", false, true},
		{"", "x", false, false},
		{"x", "", false, false},
		// Repeated partial matches before a whole one.
		{"spoilers spoiler", "spoiler", false, true},
		{"spoilerspoiler", "spoiler", false, false},
	} {
		if got := matchWord(c.text, c.value, c.substring); got != c.want {
			t.Errorf("matchWord(%q, %q, substring=%v) = %v, want %v", c.text, c.value, c.substring, got, c.want)
		}
	}
}

func TestFilterSetMatch(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f := func(fid, kind, value, match, action string, expires int64, contexts ...string) storedFilter {
		if len(contexts) == 0 {
			contexts = []string{FilterStreams}
		}
		return storedFilter{id: fid, spec: filterSpec{Kind: kind, Value: value, Match: match, Action: action,
			Contexts: contexts, ExpiresAt: expires}}
	}
	fs := []storedFilter{
		f("w1", FilterWord, "Spoiler", MatchWord, FilterCollapse, 0),
		f("w2", FilterWord, "crypto", MatchSubstring, FilterHide, 0),
		f("t1", FilterTag, "nsfw", MatchWord, FilterHide, 0),
		f("p1", FilterPerson, "troll@pod.example", MatchWord, FilterHide, 0),
		f("d1", FilterPod, "spam.example:8443", MatchWord, FilterCollapse, 0),
		f("x1", FilterWord, "expired", MatchWord, FilterHide, now.Add(-time.Minute).UnixMilli()),
		f("x2", FilterWord, "later", MatchWord, FilterHide, now.Add(time.Minute).UnixMilli()),
		f("n1", FilterWord, "notifonly", MatchWord, FilterHide, 0, FilterNotifications),
	}
	set := newFilterSet(fs, FilterStreams, now)
	ids := func(refs []apiv1.FilterRef) string {
		var out []string
		for _, r := range refs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		name string
		sub  filterSubject
		hide bool
		ids  string
	}{
		{"nothing", filterSubject{Text: "a quiet day", Authors: []string{"bob@pod.example"}}, false, ""},
		{"word collapses", filterSubject{Text: "SPOILER: he dies", Authors: []string{"bob@pod.example"}}, false, "w1"},
		{"substring hides", filterSubject{Text: "cryptocurrency!", Authors: []string{"bob@pod.example"}}, true, "w2"},
		{"hide wins over collapse", filterSubject{Text: "spoiler about crypto", Authors: []string{"bob@pod.example"}}, true, "w1,w2"},
		{"tag", filterSubject{Text: "look", Tags: []string{"nsfw"}, Authors: []string{"bob@pod.example"}}, true, "t1"},
		{"tag in text is no tag", filterSubject{Text: "nsfw is a word here", Authors: []string{"bob@pod.example"}}, false, ""},
		{"person", filterSubject{Text: "hi", Authors: []string{"troll@pod.example"}}, true, "p1"},
		{"person any case", filterSubject{Text: "hi", Authors: []string{"Troll@Pod.Example"}}, true, "p1"},
		{"reshare root author", filterSubject{Text: "hi", Authors: []string{"bob@pod.example", "troll@pod.example"}}, true, "p1"},
		{"pod with port", filterSubject{Text: "hi", Authors: []string{"x@spam.example:8443"}}, false, "d1"},
		{"pod without the port is another pod", filterSubject{Text: "hi", Authors: []string{"x@spam.example"}}, false, ""},
		{"subdomain is another pod", filterSubject{Text: "hi", Authors: []string{"x@a.spam.example:8443"}}, false, ""},
		{"expired does nothing", filterSubject{Text: "expired news", Authors: []string{"bob@pod.example"}}, false, ""},
		{"not yet expired acts", filterSubject{Text: "see you later", Authors: []string{"bob@pod.example"}}, true, "x2"},
		{"other context", filterSubject{Text: "notifonly", Authors: []string{"bob@pod.example"}}, false, ""},
	} {
		hide, refs := set.match(c.sub)
		if hide != c.hide || ids(refs) != c.ids {
			t.Errorf("%s: hide %v refs %s, want %v %s", c.name, hide, ids(refs), c.hide, c.ids)
		}
	}
	// The notifications context sees only its filter.
	if hide, refs := newFilterSet(fs, FilterNotifications, now).match(filterSubject{Text: "notifonly spoiler"}); !hide || ids(refs) != "n1" {
		t.Errorf("notifications context: %v %v", hide, refs)
	}
	var none *filterSet
	if hide, refs := none.match(filterSubject{Text: "spoiler"}); hide || refs != nil {
		t.Error("a nil set matched")
	}
}

// Own posts have no subject (they are never filtered); a reshare whose root
// is not here is judged by its own author. (Reshares with their root:
// TestFiltersStreams in pod/web.)
func TestFilterSubjectsReshareRoot(t *testing.T) {
	p := openFilterPod(t)
	ctx := context.Background()
	rows := []store.PostRow{
		{GUID: "own00000000000000000000000000001", Own: true, PostType: store.PostTypeStatusMessage, Text: "spoiler"},
		{GUID: "rsh00000000000000000000000000001", Author: "bob@b.example", PostType: store.PostTypeReshare,
			RootGUID: "missing0000000000000000000000001"},
	}
	subs, err := filterSubjects(ctx, p.db.R, rows, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := subs[rows[0].GUID]; ok {
		t.Error("an own post has a filter subject")
	}
	if s := subs[rows[1].GUID]; s.Text != "" || !slices.Equal(s.Authors, []string{"bob@b.example"}) {
		t.Errorf("reshare without its root: %+v", s)
	}
}

func TestFilterInputApply(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	str := func(s string) *string { return &s }
	ok := []struct {
		in   string
		want filterSpec
	}{
		{`{"kind":"word","value":"  Spoiler  "}`, filterSpec{Kind: "word", Value: "Spoiler", Match: "word",
			Contexts: []string{"streams", "notifications"}, Action: "collapse"}},
		{`{"kind":"tag","value":"#NSFW","match":"substring","contexts":["search","streams","search"],"action":"hide"}`,
			filterSpec{Kind: "tag", Value: "nsfw", Match: "word", Contexts: []string{"streams", "search"}, Action: "hide"}},
		{`{"kind":"person","value":"acct:Bob@Pod.Example."}`, filterSpec{Kind: "person", Value: "bob@pod.example", Match: "word",
			Contexts: []string{"streams", "notifications"}, Action: "collapse"}},
		{`{"kind":"pod","value":"Pod.Example:8443","expires_at":"2026-11-28T10:00:00Z"}`, filterSpec{Kind: "pod",
			Value: "pod.example:8443", Match: "word", Contexts: []string{"streams", "notifications"}, Action: "collapse",
			ExpiresAt: now.Add(24 * time.Hour).UnixMilli()}},
		{`{"kind":"pod","value":"bücher.example"}`, filterSpec{Kind: "pod", Value: "xn--bcher-kva.example", Match: "word",
			Contexts: []string{"streams", "notifications"}, Action: "collapse"}},
		{`{"kind":"word","value":"x","expires_at":null}`, filterSpec{Kind: "word", Value: "x", Match: "word",
			Contexts: []string{"streams", "notifications"}, Action: "collapse"}},
	}
	for _, c := range ok {
		var in FilterInput
		if err := json.Unmarshal([]byte(c.in), &in); err != nil {
			t.Fatal(err)
		}
		got, err := in.apply(defaultFilterSpec(), now)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got.Kind != c.want.Kind || got.Value != c.want.Value || got.Match != c.want.Match || got.Action != c.want.Action ||
			!slices.Equal(got.Contexts, c.want.Contexts) || got.ExpiresAt != c.want.ExpiresAt {
			t.Errorf("%s: %+v, want %+v", c.in, got, c.want)
		}
	}
	bad := []string{
		`{"value":"x"}`,
		`{"kind":"phrase","value":"x"}`,
		`{"kind":"word","value":"   "}`,
		`{"kind":"word","value":"` + strings.Repeat("é", MaxFilterWord+1) + `"}`,
		`{"kind":"word","value":"two\nlines"}`,
		`{"kind":"word","value":"x","match":"regex"}`,
		`{"kind":"word","value":"x","contexts":[]}`,
		`{"kind":"word","value":"x","contexts":["profile"]}`,
		`{"kind":"word","value":"x","action":"delete"}`,
		`{"kind":"word","value":"x","expires_at":"2026-11-27T09:59:59Z"}`,
		`{"kind":"word","value":"x","expires_at":"2026-11-27T10:00:00Z"}`,
		`{"kind":"word","value":"x","expires_at":"tomorrow"}`,
		`{"kind":"word","value":"x","expires_at":12}`,
		`{"kind":"tag","value":"not a tag"}`,
		`{"kind":"person","value":"bob"}`,
		`{"kind":"person","value":"bob@"}`,
		`{"kind":"pod","value":"https://pod.example"}`,
		`{"kind":"pod","value":"bob@pod.example"}`,
		`{"kind":"pod","value":"pod.example:99999"}`,
		`{"kind":"pod","value":"pod example"}`,
	}
	for _, b := range bad {
		var in FilterInput
		if err := json.Unmarshal([]byte(b), &in); err != nil {
			t.Fatal(b, err)
		}
		if _, err := in.apply(defaultFilterSpec(), now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", b, err)
		}
	}
	// A patch keeps what it does not name; kind changes re-check the value.
	base := filterSpec{Kind: "word", Value: "x", Match: "substring", Contexts: []string{"search"}, Action: "hide"}
	got, err := FilterInput{Action: str("collapse")}.apply(base, now)
	if err != nil || got.Match != "substring" || !slices.Equal(got.Contexts, []string{"search"}) || got.Action != "collapse" {
		t.Errorf("patch: %+v %v", got, err)
	}
	if _, err := (FilterInput{Kind: str("person")}).apply(base, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("word value as a person: %v", err)
	}
}

func openFilterPod(t testing.TB) *Pod {
	t.Helper()
	p, err := Open(context.Background(), Config{DataDir: filepath.Join(t.TempDir(), "d"), KeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// copyOps applies every op from's logs hold to to, as device sync does
// (resent ops are skipped).
func copyOps(t *testing.T, from, to *Pod) {
	t.Helper()
	ctx := context.Background()
	heads, err := from.DB().Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range heads {
		ops, err := from.DB().Ops(ctx, h.Log, 1, 100000)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := to.Log().Apply(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
}

// Filters are user state: they reach the other devices through the op
// log, and concurrent changes merge (a delete beats an edit it saw; edits
// of different fields both stay).
func TestFiltersSync(t *testing.T) {
	ctx := context.Background()
	a, b := openFilterPod(t), openFilterPod(t)
	if _, err := a.CreateIdentity(ctx, "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	f1, err := a.CreateFilter(ctx, FilterInput{Kind: str("word"), Value: str("spoiler")})
	if err != nil {
		t.Fatal(err)
	}
	f2, err := a.CreateFilter(ctx, FilterInput{Kind: str("pod"), Value: str("spam.example"), Action: str("hide")})
	if err != nil {
		t.Fatal(err)
	}
	copyOps(t, a, b)
	got, err := b.Filters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := a.Filters(ctx)
	if len(got) != 2 || !filtersEqual(got, want) {
		t.Fatalf("filters on b: %+v, on a: %+v", got, want)
	}
	// Concurrently: a changes f1's action, b its contexts; a deletes f2
	// while b edits it.
	if _, err := a.UpdateFilter(ctx, f1.ID, FilterInput{Action: str("hide")}); err != nil {
		t.Fatal(err)
	}
	cs := []string{"search"}
	if _, err := b.UpdateFilter(ctx, f1.ID, FilterInput{Contexts: &cs}); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteFilter(ctx, f2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateFilter(ctx, f2.ID, FilterInput{Value: str("spam2.example")}); err != nil {
		t.Fatal(err)
	}
	copyOps(t, a, b)
	copyOps(t, b, a)
	ga, _ := a.Filters(ctx)
	gb, _ := b.Filters(ctx)
	if !filtersEqual(ga, gb) || len(ga) != 1 || ga[0].ID != f1.ID || ga[0].Action != "hide" ||
		!slices.Equal(ga[0].Contexts, []string{"search"}) {
		t.Fatalf("after merging: a %+v, b %+v", ga, gb)
	}
	// A refold rebuilds the same from the ops.
	if err := b.Log().Refold(ctx, store.RefoldOptions{Shuffle: 7}); err != nil {
		t.Fatal(err)
	}
	if gr, _ := b.Filters(ctx); !filtersEqual(gr, gb) {
		t.Fatalf("after refold: %+v, before %+v", gr, gb)
	}
}

func filtersEqual(a, b []Filter) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// FuzzFilterInput: decoding and checking a filter body never panics; what
// it accepts is canonical (applying it again changes nothing) and within
// the limits.
func FuzzFilterInput(f *testing.F) {
	for _, s := range []string{
		`{"kind":"word","value":"spoiler"}`,
		`{"kind":"tag","value":"#Art","contexts":["search"],"action":"hide"}`,
		`{"kind":"person","value":"acct:Bob@Pod.Example","expires_at":"2030-01-01T00:00:00Z"}`,
		`{"kind":"pod","value":"bücher.example:443","match":"substring","expires_at":null}`,
		`{"kind":"word","value":"ΟΔΥΣΣΕΥΣ","match":"substring"}`,
		`{"kind":"word","value":"x","contexts":["streams","nope"]}`,
		`{"kind":7}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var in FilterInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		s, err := in.apply(defaultFilterSpec(), now)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s: error %v is not ErrInvalid", body, err)
			}
			return
		}
		if !slices.Contains(filterKinds, s.Kind) || !slices.Contains(filterMatches, s.Match) ||
			!slices.Contains(filterActions, s.Action) || len(s.Contexts) == 0 || s.Value == "" {
			t.Fatalf("%s: accepted %+v", body, s)
		}
		if len([]rune(s.Value)) > maxFilterHost {
			t.Fatalf("%s: value of %d characters", body, len([]rune(s.Value)))
		}
		again := FilterInput{Kind: &s.Kind, Value: &s.Value, Match: &s.Match, Contexts: &s.Contexts, Action: &s.Action}
		s2, err := again.apply(defaultFilterSpec(), now)
		if err != nil {
			t.Fatalf("%s: canonical %+v refused: %v", body, s, err)
		}
		s2.ExpiresAt = s.ExpiresAt
		if s2.Kind != s.Kind || s2.Value != s.Value || s2.Match != s.Match || s2.Action != s.Action ||
			!slices.Equal(s2.Contexts, s.Contexts) {
			t.Fatalf("%s: not canonical: %+v then %+v", body, s, s2)
		}
		// The stored form reads back the same.
		fields := s.fields()
		back, ok := specOfRecord(store.FilterRecord{ID: "x", Fields: fields})
		if !ok || back.Value != s.Value || back.Kind != s.Kind || back.Match != s.Match || !slices.Equal(back.Contexts, s.Contexts) ||
			back.ExpiresAt != s.ExpiresAt || back.Action != s.Action {
			t.Fatalf("%s: stored %v reads back as %+v (ok %v), want %+v", body, fields, back, ok, s)
		}
	})
}

// The filters a stream page applies are cached; every way a filter can
// change reaches the cache: a change made here, ops synced from another
// device, a refold. A read is made once per change, not once per page.
func TestActiveFiltersCache(t *testing.T) {
	ctx := context.Background()
	a, b := openFilterPod(t), openFilterPod(t)
	if _, err := a.CreateIdentity(ctx, "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	words := func(p *Pod) []string {
		t.Helper()
		s, err := p.activeFilters(ctx, FilterStreams)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		if s != nil {
			for _, r := range s.words {
				out = append(out, r.ref.Value)
			}
		}
		slices.Sort(out)
		return out
	}
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		// b is another device of a's identity.
		{"none yet", func() { copyOps(t, a, b) }, nil},
		{"made here", func() {
			if _, err := b.CreateFilter(ctx, FilterInput{Kind: str("word"), Value: str("local")}); err != nil {
				t.Fatal(err)
			}
		}, []string{"local"}},
		{"synced from another device", func() {
			if _, err := a.CreateFilter(ctx, FilterInput{Kind: str("word"), Value: str("synced")}); err != nil {
				t.Fatal(err)
			}
			copyOps(t, a, b)
		}, []string{"local", "synced"}},
		{"deleted on the other device", func() {
			fs, _ := a.Filters(ctx)
			if err := a.DeleteFilter(ctx, fs[0].ID); err != nil {
				t.Fatal(err)
			}
			copyOps(t, a, b)
		}, []string{"local"}},
		{"refold", func() {
			// The fold changed behind the cache's back (no commit notice):
			// the cache keeps what it read...
			if _, err := b.DB().W.ExecContext(ctx, `UPDATE st_fields SET value = 'tampered' WHERE key LIKE 'filter/%/value'`); err != nil {
				t.Fatal(err)
			}
			if got := words(b); !slices.Equal(got, []string{"local"}) {
				t.Fatalf("the cache was not used: %v", got)
			}
			b.filters.invalidate()
			if got := words(b); !slices.Equal(got, []string{"tampered"}) {
				t.Fatalf("after invalidating: %v", got)
			}
			// ...and a refold, which rebuilds the fold from the ops, is seen.
			if _, err := b.Refold(ctx, false, nil); err != nil {
				t.Fatal(err)
			}
		}, []string{"local"}},
	}
	for _, st := range steps {
		st.do()
		if got := words(b); !slices.Equal(got, st.want) {
			t.Fatalf("%s: active words %v, want %v", st.name, got, st.want)
		}
	}
	// Pages between changes read nothing.
	gen := b.filters.gen.Load()
	for range 3 {
		words(b)
	}
	if b.filters.gen.Load() != gen || b.filters.at != gen {
		t.Fatalf("gen %d, cached at %d", b.filters.gen.Load(), b.filters.at)
	}
}
