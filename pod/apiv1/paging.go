package apiv1

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Paging (API.md §1.2). Two pagers: the time pager (before/after, plus
// Seedpod's opaque cursor) and the index pager (page numbers). Both take
// per_page, default 15, clamped to 1..100, and answer with a bare JSON array
// and a Link header carrying rel="next" and rel="previous".
const (
	DefaultPerPage = 15  // RestPaginatorBuilder::DEFAULT_LIMIT
	MaxPerPage     = 100 // RestPaginatorBuilder::MAX_LIMIT
)

// Cursor is a position in a time-ordered list: an item's time (at the
// millisecond precision the pod stores) and its guid, which breaks ties
// between items that share a millisecond. Lists are ordered by (Time, GUID).
//
// On the wire it is opaque: base64url (no padding) of a version byte, the
// Unix milliseconds as a zigzag varint, the guid bytes and a CRC-32 of all
// that. The checksum catches damaged and hand-edited cursors; it is not a
// secret, and needs not be: a cursor only says where a page starts, and the
// query it feeds still applies every visibility rule.
type Cursor struct {
	Time time.Time
	GUID string
}

const (
	cursorVersion = 1
	// maxCursorLen bounds the encoded form: a 255-byte guid makes about 360
	// characters.
	maxCursorLen = 400
	maxGUIDLen   = 255
)

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c.Time.IsZero() && c.GUID == "" }

// Compare orders cursors by time, then guid: -1, 0 or +1.
func (c Cursor) Compare(d Cursor) int {
	if r := c.Time.Compare(d.Time); r != 0 {
		return r
	}
	return strings.Compare(c.GUID, d.GUID)
}

// Encode returns the opaque form. Sub-millisecond time is truncated. A
// cursor whose guid ParseCursor would refuse (empty, over 255 bytes, not
// printable ASCII) encodes but does not parse back: pass real guids.
func (c Cursor) Encode() string {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(c.GUID)+4)
	b = append(b, cursorVersion)
	b = binary.AppendVarint(b, c.Time.UnixMilli())
	b = append(b, c.GUID...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

// errCursor is the one client-facing answer to any bad cursor; the cause
// says which check failed.
func errCursor(cause string) error {
	return invalid(errors.New(cause), "Invalid cursor")
}

// ParseCursor decodes a cursor made by Encode. It accepts only the exact,
// canonical form, so an accepted cursor re-encodes to the same string, and
// refuses anything damaged, truncated, padded or hand-made with an *Error
// (422).
func ParseCursor(s string) (Cursor, error) {
	if len(s) > maxCursorLen {
		return Cursor{}, errCursor("too long")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return Cursor{}, errCursor("not base64url")
	}
	if len(b) < 1+1+1+4 {
		return Cursor{}, errCursor("too short")
	}
	body, sum := b[:len(b)-4], b[len(b)-4:]
	if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(sum) {
		return Cursor{}, errCursor("checksum mismatch")
	}
	if body[0] != cursorVersion {
		return Cursor{}, errCursor("unknown version")
	}
	ms, n := binary.Varint(body[1:])
	if n <= 0 {
		return Cursor{}, errCursor("bad time")
	}
	if ms < minCursorMilli || ms > maxCursorMilli {
		return Cursor{}, errCursor("time out of range")
	}
	guid := string(body[1+n:])
	if !validGUID(guid) {
		return Cursor{}, errCursor("bad guid")
	}
	c := Cursor{Time: time.UnixMilli(ms).UTC(), GUID: guid}
	if c.Encode() != s {
		return Cursor{}, errCursor("not canonical")
	}
	return c, nil
}

// Cursor times lie in years 0001–9999, which ISO 8601 timestamps can carry.
const (
	minCursorMilli = -62135596800000 // 0001-01-01T00:00:00Z
	maxCursorMilli = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// validGUID allows 1–255 bytes of printable ASCII: every diaspora guid
// (hex, or [0-9A-Za-z_\-@.:] from older software) fits, and nothing that
// needs escaping in a log line does.
func validGUID(g string) bool {
	if g == "" || len(g) > maxGUIDLen {
		return false
	}
	for i := 0; i < len(g); i++ {
		if g[i] < 0x21 || g[i] > 0x7e {
			return false
		}
	}
	return true
}

// TimeDefault is where a time-paged route starts when the request gives no
// before, after or cursor.
type TimeDefault int

const (
	// NewestFirst starts at before = now + 1 year: newest first. Every
	// time-paged route but comments.
	NewestFirst TimeDefault = iota
	// OldestFirst starts at after = 1900-01-01: oldest first (comments).
	OldestFirst
)

// TimePage is a parsed time-pager request. The items of the page are those
// Admits accepts, in the page's order, at most PerPage of them:
//
//	Descending:  WHERE t < :Time OR (t = :Time AND guid < :GUID)  ORDER BY t DESC, guid DESC
//	ascending:   WHERE t > :Time OR (t = :Time AND guid > :GUID)  ORDER BY t ASC,  guid ASC
//
// with the guid clause only when GUID is set (a cursor was given); a bare
// before/after compares times alone, as diaspora does.
type TimePage struct {
	// Descending is true for before (newest first), false for after.
	Descending bool
	// Time is the exclusive bound, UTC, millisecond precision.
	Time time.Time
	// GUID breaks ties at Time; "" without a cursor.
	GUID    string
	PerPage int
}

// ParseTimePage reads before, after, cursor and per_page (API.md §1.2).
//
//   - before and after are ISO 8601 (ParseTime); giving both is an error
//     (diaspora silently prefers before). A bound with sub-millisecond
//     digits is rounded outwards to the millisecond (before up, after down),
//     which selects the same stored items.
//   - cursor, when present, fixes the position (time and guid); before or
//     after then only choose the direction, and must still parse. A cursor
//     alone keeps the route's default direction.
//   - with none of them the page starts at def: now + 1 year, newest first,
//     or 1900-01-01, oldest first.
//   - per_page: see PerPage.
//
// Errors are *Error with code 422.
func ParseTimePage(q url.Values, now time.Time, def TimeDefault) (TimePage, error) {
	p := TimePage{PerPage: PerPage(q)}
	hasBefore, hasAfter := q.Has("before"), q.Has("after")
	if hasBefore && hasAfter {
		return TimePage{}, invalid(nil, "Give either before or after, not both")
	}
	switch {
	case hasBefore:
		t, err := ParseTime(q.Get("before"))
		if err != nil {
			return TimePage{}, invalid(err, "Invalid before parameter: not an ISO 8601 time")
		}
		p.Descending = true
		if r := t.Truncate(time.Millisecond); !r.Equal(t) {
			t = r.Add(time.Millisecond)
		}
		p.Time = t
	case hasAfter:
		t, err := ParseTime(q.Get("after"))
		if err != nil {
			return TimePage{}, invalid(err, "Invalid after parameter: not an ISO 8601 time")
		}
		p.Time = t.Truncate(time.Millisecond)
	case def == OldestFirst:
		p.Time = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		p.Descending = true
		p.Time = now.AddDate(1, 0, 0).UTC().Truncate(time.Millisecond)
	}
	if q.Has("cursor") {
		c, err := ParseCursor(q.Get("cursor"))
		if err != nil {
			return TimePage{}, err
		}
		p.Time, p.GUID = c.Time, c.GUID
	}
	return p, nil
}

// Admits reports whether an item at c lies past the page's bound, that is,
// belongs to this page's query (before the PerPage limit).
func (p TimePage) Admits(c Cursor) bool {
	r := c.Time.Compare(p.Time)
	if r == 0 && p.GUID != "" {
		r = strings.Compare(c.GUID, p.GUID)
	}
	if p.Descending {
		return r < 0
	}
	return r > 0
}

// LinkOptions tune a time pager's Link header.
type LinkOptions struct {
	// NoPrevious leaves rel="previous" out, as diaspora's streams do.
	NoPrevious bool
}

// Link returns the Link header value for a time-paged response whose first
// and last items (in the order the page returns them) are at first and
// last; "" for an empty page (zero cursors), which gets no links, as in
// diaspora.
//
// rel="next" continues in the page's direction; rel="previous" turns back
// (and so, on a newest-first list, returns ascending data, as diaspora's
// does). Each link carries before or after with the value diaspora would
// send (the edge item's time, or that time + 1 ms when moving forward in
// time), and a cursor for the exact edge, so items sharing a millisecond
// at a page edge are neither skipped nor repeated.
//
// The URL is built by LinkURL from u.
func (p TimePage) Link(u *url.URL, first, last Cursor, o LinkOptions) string {
	if first.IsZero() && last.IsZero() {
		return ""
	}
	var next, prev string
	if p.Descending {
		next = link(u, "next", "before", stamp(last.Time), "cursor", last.Encode())
		prev = link(u, "previous", "after", stamp(first.Time.Add(time.Millisecond)), "cursor", first.Encode())
	} else {
		next = link(u, "next", "after", stamp(last.Time.Add(time.Millisecond)), "cursor", last.Encode())
		prev = link(u, "previous", "before", stamp(first.Time), "cursor", first.Encode())
	}
	if o.NoPrevious {
		return next
	}
	return next + ", " + prev
}

// stamp is the timestamp form for links. Its characters need no escaping
// in a query.
func stamp(t time.Time) string { return t.UTC().Format(timeLayout) }

// IndexPage is a parsed index-pager request: page numbers from 1.
type IndexPage struct {
	Page    int
	PerPage int
}

// maxPage keeps Offset within 32 bits whatever the client asks for.
const maxPage = (1<<31 - 1) / MaxPerPage

// ParseIndexPage reads page and per_page. It never fails: page is read as
// Ruby's to_i does (leading digits; anything else is 0), then values below 1
// become 1, as in diaspora; per_page as PerPage.
func ParseIndexPage(q url.Values) IndexPage {
	page := 1
	if q.Has("page") {
		page = min(max(rubyInt(q.Get("page")), 1), maxPage)
	}
	return IndexPage{Page: page, PerPage: PerPage(q)}
}

// Offset is the number of items before this page.
func (p IndexPage) Offset() int { return (p.Page - 1) * p.PerPage }

// Link returns the Link header value for an index-paged response:
// rel="next" when hasMore (there are items after this page; fetching
// PerPage+1 rows tells), rel="previous" after page 1; "" when neither.
// The URL is built by LinkURL from u.
func (p IndexPage) Link(u *url.URL, hasMore bool) string {
	var links []string
	if hasMore {
		links = append(links, link(u, "next", "page", strconv.Itoa(p.Page+1)))
	}
	if p.Page > 1 {
		links = append(links, link(u, "previous", "page", strconv.Itoa(p.Page-1)))
	}
	return strings.Join(links, ", ")
}

// PerPage reads per_page: absent or empty gives DefaultPerPage; otherwise it
// is read as Ruby's to_i does and clamped to 1..MaxPerPage (so "0", "-5"
// and "abc" give 1, "500" gives 100).
func PerPage(q url.Values) int {
	s := q.Get("per_page")
	if s == "" {
		return DefaultPerPage
	}
	return min(max(rubyInt(s), 1), MaxPerPage)
}

// rubyInt is String#to_i, saturating instead of growing: optional leading
// white space and sign, then digits up to the first non-digit.
func rubyInt(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < 1<<40 {
			n = n*10 + int(s[i]-'0')
		}
	}
	if neg {
		return -n
	}
	return n
}
