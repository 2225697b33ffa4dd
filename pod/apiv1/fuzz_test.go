package apiv1

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// Invariants of the fuzz targets below (the inputs are query strings and
// bodies from any local client):
//   - the parsers never panic, whatever the bytes;
//   - an accepted cursor re-encodes to exactly the string given (one
//     canonical form), and its time and guid survive a round trip;
//   - an accepted TimePage is usable: PerPage within 1..MaxPerPage, a UTC
//     bound at millisecond precision, and the links built from it parse
//     back into a page that goes on in the same direction, never carrying
//     access_token;
//   - an accepted time marshals, and the marshalled form parses back to the
//     same millisecond.

// FuzzParseCursor: ParseCursor(s) accepted ⇒ Encode gives s back.
func FuzzParseCursor(f *testing.F) {
	f.Add(Cursor{Time: time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), GUID: guidPost}.Encode())
	f.Add(Cursor{Time: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), GUID: "x"}.Encode())
	f.Add("")
	f.Add("AQ")
	f.Add("garbage==")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		if again := c.Encode(); again != s {
			t.Fatalf("accepted %q re-encodes as %q", s, again)
		}
		back, err := ParseCursor(c.Encode())
		if err != nil || back.Compare(c) != 0 {
			t.Fatalf("round trip of %+v: %+v %v", c, back, err)
		}
	})
}

// FuzzParseTimePage feeds raw query strings through url.ParseQuery, as the
// server does, to ParseTimePage, then follows the links it would emit.
func FuzzParseTimePage(f *testing.F) {
	enc := Cursor{Time: time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), GUID: guidPost}.Encode()
	for _, s := range []string{
		"", "before=2024-05-01T10:20:30.123Z", "after=2024-05-01&per_page=3", "before=a&after=b",
		"cursor=" + enc, "after=2024-05-01T10:20:30Z&cursor=" + enc + "&access_token=x", "per_page=-1",
		"before=2024-05-01T12:20:30+02:00", "per_page=99999999999999999999", "before=9999-12-31T23:59:59.9999999Z",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	now := time.Date(2024, 5, 1, 10, 20, 30, 456e6, time.UTC)
	f.Fuzz(func(t *testing.T, raw string, oldestFirst bool) {
		q, _ := url.ParseQuery(raw)
		def := NewestFirst
		if oldestFirst {
			def = OldestFirst
		}
		p, err := ParseTimePage(q, now, def)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			return
		}
		if p.PerPage < 1 || p.PerPage > MaxPerPage {
			t.Fatalf("per_page %d out of range", p.PerPage)
		}
		if p.Time.Location() != time.UTC || !p.Time.Truncate(time.Millisecond).Equal(p.Time) {
			t.Fatalf("bound %v is not UTC milliseconds", p.Time)
		}
		u := &url.URL{Path: "/api/v1/streams/main", RawQuery: raw}
		edge := Cursor{Time: p.Time, GUID: guidPost}
		if y := edge.Time.Year(); y < 1 || y > 9998 {
			return // no stored item sits there; links are not built
		}
		link := p.Link(u, edge, edge, LinkOptions{})
		target, _, _ := strings.Cut(strings.TrimPrefix(link, "<"), ">")
		nu, err := url.Parse(target)
		if err != nil {
			t.Fatalf("next link %q: %v", target, err)
		}
		for k := range nu.Query() {
			if name, _, _ := strings.Cut(k, "["); name == "access_token" {
				t.Fatalf("access_token echoed: %s", link)
			}
		}
		next, err := ParseTimePage(nu.Query(), now, def)
		if err != nil {
			t.Fatalf("next link %q refused: %v", target, err)
		}
		if next.Descending != p.Descending || next.GUID != guidPost || !next.Time.Equal(edge.Time) {
			t.Fatalf("next link %q gives %+v from %+v", target, next, p)
		}
	})
}

// FuzzParseTime: an accepted time marshals and parses back to the same
// millisecond.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-05-01T10:20:30.123Z", "2024-05-01", "2024-05-01 10:20:30 02:00", "0000-01-01T00:00:00-23:59", "9999-12-31T23:59:59+01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTime(s)
		if err != nil {
			return
		}
		if y := v.Year(); y < 0 || y > 9999 {
			return // a far offset can step outside the four-digit years
		}
		b, err := NewTime(v).MarshalJSON()
		if err != nil {
			t.Fatalf("%q parsed to %v, which does not marshal: %v", s, v, err)
		}
		var back Time
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s does not parse back: %v", b, err)
		}
		if !back.Equal(v.Truncate(time.Millisecond)) && !v.IsZero() {
			t.Fatalf("%q → %s → %v", s, b, back.Time)
		}
	})
}
