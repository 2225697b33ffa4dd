package apiv1

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2024, 5, 1, 10, 20, 30, 456789000, time.UTC)

func mustQuery(t testing.TB, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestParseTimePage(t *testing.T) {
	c := Cursor{Time: time.Date(2024, 4, 30, 9, 0, 0, 5e6, time.UTC), GUID: guidPost}
	enc := c.Encode()
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		query string
		def   TimeDefault
		want  TimePage
	}{
		{"default newest first", "", NewestFirst,
			TimePage{Descending: true, Time: time.Date(2025, 5, 1, 10, 20, 30, 456e6, time.UTC), PerPage: 15}},
		{"default oldest first (comments)", "", OldestFirst,
			TimePage{Time: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), PerPage: 15}},
		{"before", "before=2024-05-01T10:20:30.123Z", NewestFirst,
			TimePage{Descending: true, Time: time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), PerPage: 15}},
		{"after on a newest-first route", "after=2024-05-01T10:20:30.123Z&per_page=50", NewestFirst,
			TimePage{Time: time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), PerPage: 50}},
		{"before on comments", "before=2024-05-01T12:20:30%2B02:00", OldestFirst,
			TimePage{Descending: true, Time: time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC), PerPage: 15}},
		{"unescaped + in offset", "before=2024-05-01T12:20:30+02:00", NewestFirst,
			TimePage{Descending: true, Time: time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC), PerPage: 15}},
		{"bare date", "after=2024-05-01", NewestFirst,
			TimePage{Time: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), PerPage: 15}},
		{"before rounds sub-ms up", "before=2024-05-01T10:20:30.1231Z", NewestFirst,
			TimePage{Descending: true, Time: time.Date(2024, 5, 1, 10, 20, 30, 124e6, time.UTC), PerPage: 15}},
		{"after rounds sub-ms down", "after=2024-05-01T10:20:30.1239Z", NewestFirst,
			TimePage{Time: time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), PerPage: 15}},
		{"cursor with before", "before=2024-04-30T09:00:00.005Z&cursor=" + enc, NewestFirst,
			TimePage{Descending: true, Time: c.Time, GUID: guidPost, PerPage: 15}},
		{"cursor wins over the time", "after=2024-04-30T09:00:00.006Z&cursor=" + enc, NewestFirst,
			TimePage{Time: c.Time, GUID: guidPost, PerPage: 15}},
		{"cursor alone, newest first", "cursor=" + enc, NewestFirst,
			TimePage{Descending: true, Time: c.Time, GUID: guidPost, PerPage: 15}},
		{"cursor alone, oldest first", "cursor=" + enc, OldestFirst,
			TimePage{Time: c.Time, GUID: guidPost, PerPage: 15}},
		{"per_page 0 → 1", "per_page=0", NewestFirst, TimePage{Descending: true, Time: now.AddDate(1, 0, 0).Truncate(ms), PerPage: 1}},
		{"per_page -3 → 1", "per_page=-3", NewestFirst, TimePage{Descending: true, Time: now.AddDate(1, 0, 0).Truncate(ms), PerPage: 1}},
		{"per_page 101 → 100", "per_page=101", NewestFirst, TimePage{Descending: true, Time: now.AddDate(1, 0, 0).Truncate(ms), PerPage: 100}},
		{"per_page huge → 100", "per_page=99999999999999999999999", NewestFirst, TimePage{Descending: true, Time: now.AddDate(1, 0, 0).Truncate(ms), PerPage: 100}},
		{"per_page garbage → 1 (to_i)", "per_page=abc", NewestFirst, TimePage{Descending: true, Time: now.AddDate(1, 0, 0).Truncate(ms), PerPage: 1}},
		{"per_page 20abc → 20 (to_i)", "per_page=20abc", NewestFirst, TimePage{Descending: true, Time: now.AddDate(1, 0, 0).Truncate(ms), PerPage: 20}},
		{"per_page empty → default", "per_page=", NewestFirst, TimePage{Descending: true, Time: now.AddDate(1, 0, 0).Truncate(ms), PerPage: 15}},
		{"other parameters ignored", "tag=tea&access_token=x&page=3", NewestFirst, TimePage{Descending: true, Time: now.AddDate(1, 0, 0).Truncate(ms), PerPage: 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTimePage(mustQuery(t, tc.query), now, tc.def)
			if err != nil {
				t.Fatal(err)
			}
			if got.Descending != tc.want.Descending || !got.Time.Equal(tc.want.Time) || got.GUID != tc.want.GUID || got.PerPage != tc.want.PerPage {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseTimePageErrors(t *testing.T) {
	good := Cursor{Time: now, GUID: guidPost}.Encode()
	for _, q := range []string{
		"before=2024-05-01T10:20:30Z&after=2024-05-01T10:20:30Z",
		"before=&after=",
		"before=2024-05-01T10:20:30Z&after=",
		"before=",
		"after=",
		"before=yesterday",
		"after=2024-13-01",
		"before=1714558830",
		"before=2024-04-31T00:00:00Z",
		"cursor=",
		"cursor=garbage",
		"cursor=" + good + "A",
		"before=soon&cursor=" + good, // a cursor does not excuse a bad before
		"before=x&after=y&cursor=" + good,
	} {
		_, err := ParseTimePage(mustQuery(t, q), now, NewestFirst)
		var e *Error
		if !errors.As(err, &e) || e.Code != 422 || e.Message == "" {
			t.Errorf("%s: err %v, want a 422 *Error", q, err)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []Cursor{
		{Time: time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), GUID: guidPost},
		{Time: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), GUID: "x"},
		{Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), GUID: strings.Repeat("g", 255)},
		{Time: time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC), GUID: "a@b.c:d_e-f"},
		{Time: time.Unix(0, 0).UTC(), GUID: "~!"},
	} {
		s := c.Encode()
		if len(s) > maxCursorLen {
			t.Errorf("%d characters: over maxCursorLen", len(s))
		}
		if strings.ContainsAny(s, "+/=") {
			t.Errorf("%q is not unpadded base64url", s)
		}
		got, err := ParseCursor(s)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !got.Time.Equal(c.Time) || got.GUID != c.GUID || got.Compare(c) != 0 {
			t.Errorf("got %+v, want %+v", got, c)
		}
	}
	// Sub-millisecond time is truncated.
	c := Cursor{Time: time.Date(2024, 5, 1, 0, 0, 0, 1999999, time.UTC), GUID: guidPost}
	got, _ := ParseCursor(c.Encode())
	if !got.Time.Equal(time.Date(2024, 5, 1, 0, 0, 0, 1e6, time.UTC)) {
		t.Errorf("got %v", got.Time)
	}
}

func TestCursorTampering(t *testing.T) {
	good := Cursor{Time: time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), GUID: guidPost}.Encode()
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	reenc := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	withSum := func(body []byte) string { // a well-formed checksum over bad content
		return reenc(binary.BigEndian.AppendUint32(slices.Clone(body), crc32.ChecksumIEEE(body)))
	}

	bad := map[string]string{
		"empty":           "",
		"padded":          base64.URLEncoding.EncodeToString(raw),
		"std alphabet":    strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/",
		"trailing":        good + "A",
		"truncated":       good[:len(good)-1],
		"newline":         good[:5] + "\n" + good[5:],
		"not base64":      "!!!!",
		"too long":        strings.Repeat("A", maxCursorLen+1),
		"short":           reenc([]byte{1, 2, 3}),
		"wrong version":   withSum(append([]byte{2}, raw[1:len(raw)-4]...)),
		"empty guid":      withSum([]byte{1, 0}),
		"guid with space": withSum(append([]byte{1, 0}, "a b"...)),
		"guid non-ascii":  withSum(append([]byte{1, 0}, "ä"...)),
		"guid too long":   withSum(append([]byte{1, 0}, strings.Repeat("g", 256)...)),
		"varint overlong": withSum(append([]byte{1, 0x80, 0x00}, "guid"...)), // 0 encoded in 2 bytes
		"varint broken":   withSum([]byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}),
		"year 10000":      withSum(append(binary.AppendVarint([]byte{1}, maxCursorMilli+1), "guid"...)),
		"year 0":          withSum(append(binary.AppendVarint([]byte{1}, minCursorMilli-1), "guid"...)),
	}
	for name, s := range bad {
		if c, err := ParseCursor(s); err == nil {
			t.Errorf("%s: %q accepted as %+v", name, s, c)
		}
	}
	// Every single-character change and every single-bit flip is caught.
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range good {
		for _, r := range alphabet {
			if byte(r) == good[i] {
				continue
			}
			s := good[:i] + string(r) + good[i+1:]
			if _, err := ParseCursor(s); err == nil {
				t.Errorf("changed character %d to %c: accepted", i, r)
			}
		}
	}
	for i := range raw {
		for bit := range 8 {
			b := slices.Clone(raw)
			b[i] ^= 1 << bit
			if _, err := ParseCursor(reenc(b)); err == nil {
				t.Errorf("flipped bit %d of byte %d: accepted", bit, i)
			}
		}
	}
	var e *Error
	if _, err := ParseCursor("garbage"); !errors.As(err, &e) || e.Code != 422 || e.Message != "Invalid cursor" {
		t.Errorf("error %v, want 422 Invalid cursor", err)
	}
}

// TestCursorCompare: (time, guid) order.
func TestCursorCompare(t *testing.T) {
	a := Cursor{Time: now, GUID: "a"}
	b := Cursor{Time: now, GUID: "b"}
	c := Cursor{Time: now.Add(time.Millisecond), GUID: "a"}
	if a.Compare(b) != -1 || b.Compare(c) != -1 || c.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Error("Compare")
	}
	if !(Cursor{}).IsZero() || a.IsZero() {
		t.Error("IsZero")
	}
}

func TestTimeLink(t *testing.T) {
	first := Cursor{Time: time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), GUID: "ffff000000000000"}
	last := Cursor{Time: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), GUID: "aaaa000000000000"}
	desc := TimePage{Descending: true, Time: now, PerPage: 15}
	asc := TimePage{Time: now, PerPage: 15}
	u, _ := url.Parse("/api/v1/streams/main?per_page=15&before=2030-01-01T00:00:00Z&access_token=s3cret&cursor=old")

	got := desc.Link(u, first, last, LinkOptions{})
	want := `</api/v1/streams/main?per_page=15&before=2024-05-01T09:00:00.000Z&cursor=` + last.Encode() + `>; rel="next", ` +
		`</api/v1/streams/main?per_page=15&after=2024-05-01T10:20:30.124Z&cursor=` + first.Encode() + `>; rel="previous"`
	if got != want {
		t.Errorf("descending:\n got %s\nwant %s", got, want)
	}

	got = desc.Link(u, first, last, LinkOptions{NoPrevious: true})
	if strings.Contains(got, "previous") || !strings.Contains(got, `rel="next"`) {
		t.Errorf("stream: %s", got)
	}

	// Ascending (comments): the page runs oldest → newest, so first is older.
	got = asc.Link(u, last, first, LinkOptions{})
	want = `</api/v1/streams/main?per_page=15&after=2024-05-01T10:20:30.124Z&cursor=` + first.Encode() + `>; rel="next", ` +
		`</api/v1/streams/main?per_page=15&before=2024-05-01T09:00:00.000Z&cursor=` + last.Encode() + `>; rel="previous"`
	if got != want {
		t.Errorf("ascending:\n got %s\nwant %s", got, want)
	}

	if got := desc.Link(u, Cursor{}, Cursor{}, LinkOptions{}); got != "" {
		t.Errorf("empty page: %q", got)
	}
}

func TestLinkURLNeverEchoesCredentialsAndEscapes(t *testing.T) {
	for _, c := range []struct {
		name, raw, want string
	}{
		{"access_token dropped", "/api/v1/photos?access_token=s3cret&per_page=5",
			"/api/v1/photos?per_page=5&page=2"},
		{"every access_token form dropped", "/p?access_token=a&access_token=b&access_token[]=c&access_token%5Bx%5D=d&x=1",
			"/p?x=1&page=2"},
		{"raw semicolon pair dropped, with its token", "/p?x=1;access_token=s3cret&y=2",
			"/p?y=2&page=2"},
		{"paging parameters replaced", "/p?page=7&before=a&after=b&cursor=c&cursor[]=d&per_page=3",
			"/p?per_page=3&page=2"},
		{"values escaped", "/api/v1/search/users?name_or_handle=a%20b%3Cc%3E%22d%22%2C%3B&filter%5B%5D=aspect:1,2",
			"/api/v1/search/users?filter%5B%5D=aspect%3A1%2C2&name_or_handle=a+b%3Cc%3E%22d%22%2C%3B&page=2"},
		{"header injection escaped", "/p?x=%0D%0ALink:%20evil&%3E;rel=1",
			"/p?x=%0D%0ALink%3A+evil&page=2"},
		{"unicode escaped", "/p?tag=%C3%A9t%C3%A9", "/p?tag=%C3%A9t%C3%A9&page=2"},
		{"bad escape dropped", "/p?x=%zz&y=1", "/p?y=1&page=2"},
		{"json suffix kept", "/api/v1/aspects.json?per_page=2", "/api/v1/aspects.json?per_page=2&page=2"},
		{"path escaped", "/api/v1/tags/caf%C3%A9%3E", "/api/v1/tags/caf%C3%A9%3E?page=2"},
		{"host kept", "https://pod.example:8443/api/v1/aspects", "https://pod.example:8443/api/v1/aspects?page=2"},
		{"empty path", "?a=1", "/?a=1&page=2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := url.Parse(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			got := LinkURL(u, "page", "2")
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if strings.ContainsAny(got, "<> \"\r\n") || strings.Contains(got, "s3cret") {
				t.Errorf("unsafe in a Link header: %q", got)
			}
			if _, err := url.Parse(got); err != nil {
				t.Errorf("not a URL: %v", err)
			}
		})
	}
}

func TestIndexPage(t *testing.T) {
	for _, c := range []struct {
		query string
		want  IndexPage
	}{
		{"", IndexPage{1, 15}},
		{"page=3", IndexPage{3, 15}},
		{"page=0", IndexPage{1, 15}},
		{"page=-2", IndexPage{1, 15}},
		{"page=abc", IndexPage{1, 15}},
		{"page=", IndexPage{1, 15}},
		{"page=2x", IndexPage{2, 15}},
		{"page=%202", IndexPage{2, 15}},
		{"page=99999999999999999999", IndexPage{maxPage, 15}},
		{"page=4&per_page=500", IndexPage{4, 100}},
		{"per_page=0", IndexPage{1, 1}},
		{"page[]=3", IndexPage{1, 15}},
	} {
		got := ParseIndexPage(mustQuery(t, c.query))
		if got != c.want {
			t.Errorf("%q: got %+v, want %+v", c.query, got, c.want)
		}
	}
	if o := (IndexPage{3, 20}).Offset(); o != 40 {
		t.Errorf("offset %d", o)
	}
	if o := (IndexPage{maxPage, MaxPerPage}).Offset(); o < 0 || o > 1<<31-1 {
		t.Errorf("offset %d overflows 32 bits", o)
	}

	u, _ := url.Parse("/api/v1/aspects?page=2&per_page=5&access_token=t")
	for _, c := range []struct {
		p       IndexPage
		hasMore bool
		want    string
	}{
		{IndexPage{2, 5}, true, `</api/v1/aspects?per_page=5&page=3>; rel="next", </api/v1/aspects?per_page=5&page=1>; rel="previous"`},
		{IndexPage{2, 5}, false, `</api/v1/aspects?per_page=5&page=1>; rel="previous"`},
		{IndexPage{1, 5}, true, `</api/v1/aspects?per_page=5&page=2>; rel="next"`},
		{IndexPage{1, 5}, false, ``},
	} {
		if got := c.p.Link(u, c.hasMore); got != c.want {
			t.Errorf("%+v more=%v:\n got %s\nwant %s", c.p, c.hasMore, got, c.want)
		}
	}
}

// item is a list entry for the walking test.
type item = Cursor

// page answers a TimePage over items the way the store will: the admitted
// items in the page's order, PerPage of them.
func page(items []item, p TimePage) []item {
	var out []item
	for _, it := range items {
		if p.Admits(it) {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b item) int {
		if p.Descending {
			return b.Compare(a)
		}
		return a.Compare(b)
	})
	if len(out) > p.PerPage {
		out = out[:p.PerPage]
	}
	return out
}

// follow parses the target of rel in a Link header back into a TimePage.
func follow(t *testing.T, link, rel string, def TimeDefault) (TimePage, bool) {
	t.Helper()
	for _, part := range strings.Split(link, ", ") {
		target, r, ok := strings.Cut(part, ">; rel=")
		if !ok || r != `"`+rel+`"` {
			continue
		}
		u, err := url.Parse(strings.TrimPrefix(target, "<"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseTimePage(u.Query(), now, def)
		if err != nil {
			t.Fatalf("%s link refused: %v", rel, err)
		}
		return p, true
	}
	return TimePage{}, false
}

// TestTimePagingWalk pages through a list in which many items share a
// millisecond, across page edges, by following rel="next" until an empty
// page, both ways, and back with rel="previous": every item is seen
// exactly once, in order.
func TestTimePagingWalk(t *testing.T) {
	var items []item
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range 47 {
		// groups of up to 7 items share a millisecond
		items = append(items, item{Time: base.Add(time.Duration(i/7) * time.Millisecond), GUID: fmt.Sprintf("%032x", (i*7919)%1000)})
	}
	sorted := slices.SortedFunc(slices.Values(items), func(a, b item) int { return a.Compare(b) })
	u, _ := url.Parse("/api/v1/posts/x/comments?per_page=4")

	for _, def := range []TimeDefault{NewestFirst, OldestFirst} {
		p, err := ParseTimePage(u.Query(), now, def)
		if err != nil {
			t.Fatal(err)
		}
		var seen []item
		var pages [][]item
		for range 100 {
			got := page(items, p)
			if len(got) == 0 {
				if l := p.Link(u, Cursor{}, Cursor{}, LinkOptions{}); l != "" {
					t.Errorf("empty page has links: %s", l)
				}
				break
			}
			pages = append(pages, got)
			seen = append(seen, got...)
			link := p.Link(u, got[0], got[len(got)-1], LinkOptions{})
			next, ok := follow(t, link, "next", def)
			if !ok {
				t.Fatalf("no next link on a non-empty page: %s", link)
			}
			p = next
		}
		want := slices.Clone(sorted)
		if def == NewestFirst {
			slices.Reverse(want)
		}
		if !slices.Equal(seen, want) {
			t.Errorf("default %d: walked %d items, want all %d exactly once in order", def, len(seen), len(want))
		}

		// From the last full page, rel="previous" returns the page before it,
		// in the opposite order.
		if len(pages) >= 2 {
			lp, before := pages[len(pages)-1], pages[len(pages)-2]
			link := TimePage{Descending: def == NewestFirst, PerPage: 4}.Link(u, lp[0], lp[len(lp)-1], LinkOptions{})
			prev, ok := follow(t, link, "previous", def)
			if !ok {
				t.Fatalf("no previous link: %s", link)
			}
			back := page(items, prev)
			slices.Reverse(back)
			if !slices.Equal(back, before) {
				t.Errorf("default %d: previous gave %v, want %v", def, back, before)
			}
		}
	}
}
