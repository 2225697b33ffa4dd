package entity

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"seedpod/pod/diaspora/id"
)

// reader decodes the properties of one element, keeping the first error.
type reader struct {
	n   *node
	typ string
	err error
}

func (r *reader) fail(sentinel error, field, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s/%s: %s", sentinel, r.typ, field, fmt.Sprintf(format, args...))
	}
}

// raw returns the text of the first element called name; present reports
// whether it exists with a non-empty value (an empty element is nil, §7.1).
func (r *reader) raw(name string) (string, bool) {
	c := r.n.child(name)
	if c == nil || c.text == "" {
		return "", false
	}
	return c.text, true
}

func (r *reader) str(name string) string {
	s, _ := r.raw(name)
	return s
}

func (r *reader) time(name string) time.Time {
	s, ok := r.raw(name)
	if !ok {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		r.fail(ErrInvalid, name, "unparsable timestamp %q", trunc(s))
	}
	return t
}

// boolean returns def when the element is absent or empty.
func (r *reader) boolean(name string, def bool) bool {
	s, ok := r.raw(name)
	if !ok {
		return def
	}
	b, good := ParseBool(s)
	if !good {
		r.fail(ErrInvalid, name, "invalid boolean %q", trunc(s))
	}
	return b
}

func (r *reader) integer(name string) int {
	s, ok := r.raw(name)
	if !ok {
		return 0
	}
	if !digitsRE.MatchString(s) || len(s) > 9 {
		r.fail(ErrInvalid, name, "invalid integer %q", trunc(s))
		return 0
	}
	n, _ := strconv.Atoi(s)
	return n
}

// nested returns the first child element called name that has children
// (an element without children is treated as absent, §7.1).
func (r *reader) nested(name string) *node {
	for _, k := range r.n.kids {
		if k.name == name && len(k.kids) > 0 {
			return k
		}
	}
	return nil
}

func (r *reader) nestedAll(name string) []*node {
	var out []*node
	for _, k := range r.n.kids {
		if k.name == name && len(k.kids) > 0 {
			out = append(out, k)
		}
	}
	return out
}

// sub decodes a nested entity into e, propagating errors.
func (r *reader) sub(n *node, e codec) {
	if r.err != nil {
		return
	}
	sr := &reader{n: n, typ: r.typ + "/" + n.name}
	e.decode(sr)
	if sr.err != nil {
		r.err = sr.err
	}
}

var digitsRE = regexp.MustCompile(`^[0-9]+$`)

// ParseBool accepts what the reference does (case-insensitive):
// true/t/yes/y/1 and false/f/no/n/0.
func ParseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y", "1":
		return true, true
	case "false", "f", "no", "n", "0":
		return false, true
	}
	return false, false
}

// zoneOffsets are the zone abbreviations of Ruby's Date::Format::ZONES that
// appear in practice, in minutes east of UTC.
var zoneOffsets = map[string]int{
	"UT": 0, "WET": 0, "WEST": 60, "BST": 60, "IST": 330,
	"CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "MEZ": 60, "MESZ": 120,
	"EET": 120, "EEST": 180, "MSK": 180,
	"EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360,
	"PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
	"JST": 540, "KST": 540, "HKT": 480, "AWST": 480, "ACST": 570, "AEST": 600, "AEDT": 660,
	"NZST": 720, "NZDT": 780,
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02",
	time.RFC1123Z,
	time.RFC1123,
	time.UnixDate,
}

// ParseTime parses a timestamp leniently (RFC 3339 with or without
// fraction or zone, "2006-01-02 15:04:05 UTC", "… -0700", RFC 1123, …) and
// normalises it to UTC whole seconds, as the reference does before signing.
// A zone-less time is taken as UTC. Only the zone names UTC/GMT/Z are
// trusted; Go would otherwise invent a zero offset for unknown names.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		if name, off := t.Zone(); off == 0 && name != "" && name != "UTC" && name != "GMT" && name != "Z" {
			// Go gives an abbreviation it does not know offset 0; Ruby's
			// Time.parse knows the common ones. Unknown ones are refused
			// rather than guessed, since the normalised value is signed.
			mins, ok := zoneOffsets[strings.ToUpper(name)]
			if !ok {
				continue
			}
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(),
				time.FixedZone(name, mins*60))
		}
		if t.Year() < 1 || t.Year() > 9999 {
			break
		}
		return t.UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("%w: unparsable timestamp %q", ErrInvalid, trunc(s))
}

// --- validation helpers; each returns nil or an ErrInvalid error ---

type checker struct {
	typ string
	err error
}

func (c *checker) fail(field, format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s/%s: %s", ErrInvalid, c.typ, field, fmt.Sprintf(format, args...))
	}
}

func (c *checker) required(field, v string) {
	if v == "" {
		c.fail(field, "missing")
	}
}

func (c *checker) diasporaID(field, v string, req bool) {
	if v == "" {
		if req {
			c.fail(field, "missing")
		}
		return
	}
	if !id.Valid(v) {
		c.fail(field, "invalid diaspora ID %q", trunc(v))
	}
}

func (c *checker) guid(field, v string, req bool) {
	if v == "" {
		if req {
			c.fail(field, "missing")
		}
		return
	}
	if !id.ValidGUID(v) {
		c.fail(field, "invalid GUID %q", trunc(v))
	}
}

func (c *checker) maxLen(field, v string, n int) {
	if l := utf8.RuneCountInString(v); l > n {
		c.fail(field, "%d characters exceed %d", l, n)
	}
}

func (c *checker) name(field, v string, n int) {
	c.maxLen(field, v, n)
	if strings.Contains(v, ";") {
		c.fail(field, "name %q contains ';'", trunc(v))
	}
}

func (c *checker) uriWithPath(field, v string) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	if err != nil || u.Path == "" {
		c.fail(field, "not a URI with a path: %q", trunc(v))
	}
}

func (c *checker) uriWithHost(field, v string, needPath bool) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (needPath && u.Path == "") {
		c.fail(field, "not a URI with a host: %q", trunc(v))
	}
}

func (c *checker) sub(e codec) {
	if c.err == nil {
		c.err = e.validate()
	}
}

// --- encoding helpers ---

type builder struct{ n *node }

func newBuilder(name string) *builder { return &builder{n: &node{name: name}} }

func (b *builder) str(name, v string) *builder {
	b.n.kids = append(b.n.kids, &node{name: name, text: sanitize(v)})
	return b
}

func (b *builder) opt(name, v string) *builder {
	if v != "" {
		b.str(name, v)
	}
	return b
}

func (b *builder) time(name string, t time.Time) *builder { return b.opt(name, fmtTime(t)) }

func (b *builder) boolean(name string, v bool) *builder {
	b.n.kids = append(b.n.kids, &node{name: name, text: strconv.FormatBool(v), kind: kBool})
	return b
}

func (b *builder) integer(name string, v int) *builder {
	if v != 0 {
		b.n.kids = append(b.n.kids, &node{name: name, text: strconv.Itoa(v), kind: kInt})
	}
	return b
}

func (b *builder) sub(e codec, list bool) *builder {
	n := e.encode()
	n.list = list
	b.n.kids = append(b.n.kids, n)
	return b
}
