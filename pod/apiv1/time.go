package apiv1

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Time is an API timestamp. It marshals as ISO 8601 in UTC with
// milliseconds, 2024-05-01T10:20:30.123Z (the Rails JSON default; finer
// digits are truncated), and unmarshals leniently with ParseTime. The zero
// Time marshals as null: every v1 timestamp is required, so a zero one is a
// bug upstream of here and the schema check in tests catches it.
type Time struct{ time.Time }

// NewTime wraps t.
func NewTime(t time.Time) Time { return Time{t} }

// timeLayout is the only output form.
const timeLayout = "2006-01-02T15:04:05.000Z"

// String is the wire form without quotes, "" for the zero Time.
func (t Time) String() string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	b, err := t.MarshalText()
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON implements json.Unmarshaler: null is the zero Time, a
// string goes through ParseTime.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("apiv1: timestamp must be a string: %w", err)
	}
	return t.UnmarshalText([]byte(s))
}

// MarshalText is the wire form (empty for the zero Time); it fails for years
// outside 0000–9999, which ISO 8601 cannot carry in this form.
func (t Time) MarshalText() ([]byte, error) {
	if t.IsZero() {
		return nil, nil
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("apiv1: year %d out of range for a timestamp", y)
	}
	return []byte(t.UTC().Format(timeLayout)), nil
}

// AppendText is MarshalText appending to b; defined so the promoted
// time.Time method, with its other format, is never used.
func (t Time) AppendText(b []byte) ([]byte, error) {
	m, err := t.MarshalText()
	return append(b, m...), err
}

// UnmarshalText parses with ParseTime; empty text is the zero Time.
func (t *Time) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*t = Time{}
		return nil
	}
	v, err := ParseTime(string(b))
	if err != nil {
		return err
	}
	*t = Time{v}
	return nil
}

// ParseTime reads an ISO 8601 time as clients send it, in the forms Ruby's
// Time.iso8601 accepts and a little more:
//
//	2024-05-01T10:20:30.123Z      fraction optional, any number of digits (ns kept)
//	2024-05-01T10:20:30+02:00     offset Z, ±hh, ±hhmm or ±hh:mm
//	2024-05-01T10:20:30 02:00     "+" that a query string decoded to a space
//	2024-05-01 10:20:30           "T", "t" or a space; no offset means UTC
//	2024-05-01T10:20              seconds optional
//	2024-05-01                    a bare date is midnight UTC (only_after, the 1900 default)
//
// Surrounding white space is ignored. The result is in UTC. Fields must be in range (a 31 April is refused);
// the year has four digits.
func ParseTime(s string) (time.Time, error) {
	t, ok := parseISO(s)
	if !ok {
		return time.Time{}, fmt.Errorf("apiv1: %q is not an ISO 8601 time", clip(s))
	}
	return t, nil
}

func parseISO(s string) (time.Time, bool) {
	p := scanner{s: strings.TrimSpace(s)}
	year := p.num(4)
	p.lit('-')
	month := p.num(2)
	p.lit('-')
	day := p.num(2)
	if p.bad || month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	var hour, minute, sec, nsec, offset int
	if !p.done() {
		switch p.next() {
		case 'T', 't', ' ':
		default:
			return time.Time{}, false
		}
		hour = p.num(2)
		p.lit(':')
		minute = p.num(2)
		if p.peek() == ':' {
			p.next()
			sec = p.num(2)
			if c := p.peek(); c == '.' || c == ',' {
				p.next()
				nsec = p.fraction()
			}
		}
		if !p.done() {
			offset = p.zone()
		}
		if p.bad || !p.done() || hour > 23 || minute > 59 || sec > 59 {
			return time.Time{}, false
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April normalised to 1 May
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// scanner reads fixed-width ISO 8601 fields; any mismatch sets bad.
type scanner struct {
	s   string
	i   int
	bad bool
}

func (p *scanner) done() bool { return p.bad || p.i >= len(p.s) }

func (p *scanner) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *scanner) next() byte {
	c := p.peek()
	if c == 0 {
		p.bad = true
		return 0
	}
	p.i++
	return c
}

// lit consumes c.
func (p *scanner) lit(c byte) {
	if p.next() != c {
		p.bad = true
	}
}

// num reads exactly n digits.
func (p *scanner) num(n int) int {
	v := 0
	for range n {
		c := p.next()
		if c < '0' || c > '9' {
			p.bad = true
			return 0
		}
		v = v*10 + int(c-'0')
	}
	return v
}

// fraction reads one or more digits as nanoseconds (digits past the ninth
// are read and dropped).
func (p *scanner) fraction() int {
	v, n := 0, 0
	for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
		p.next()
		if n < 9 {
			v = v*10 + int(c-'0')
		}
		n++
	}
	if n == 0 {
		p.bad = true
	}
	for ; n < 9; n++ {
		v *= 10
	}
	return v
}

// zone reads Z or ±hh[[:]mm] and returns the offset east of UTC in seconds.
func (p *scanner) zone() int {
	sign := 1
	switch p.next() {
	case 'Z', 'z':
		return 0
	case '+', ' ':
	case '-':
		sign = -1
	default:
		p.bad = true
		return 0
	}
	h := p.num(2)
	m := 0
	if !p.done() {
		if p.peek() == ':' {
			p.next()
		}
		m = p.num(2)
	}
	if h > 23 || m > 59 {
		p.bad = true
	}
	return sign * (h*3600 + m*60)
}

// Date is a calendar date without time or zone, for birthdays: YYYY-MM-DD
// on the wire, null when zero. Year 0 is not a valid date, so the zero value
// is unambiguous.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// IsZero reports whether d is the zero Date (no birthday).
func (d Date) IsZero() bool { return d == Date{} }

// String is YYYY-MM-DD, "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

var errBadDate = errors.New("apiv1: date out of range")

// MarshalJSON implements json.Marshaler: null for the zero Date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	if !d.valid() {
		return nil, errBadDate
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler: null and "" are the zero Date
// (PATCH /user clears the birthday that way).
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("apiv1: date must be a string: %w", err)
	}
	if s == "" {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDate reads exactly YYYY-MM-DD, a real calendar date with year
// 0001–9999.
func ParseDate(s string) (Date, error) {
	p := scanner{s: s}
	y := p.num(4)
	p.lit('-')
	m := p.num(2)
	p.lit('-')
	dd := p.num(2)
	d := Date{y, time.Month(m), dd}
	if p.bad || !p.done() || !d.valid() {
		return Date{}, fmt.Errorf("apiv1: %q is not a YYYY-MM-DD date", clip(s))
	}
	return d, nil
}

func (d Date) valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 {
		return false
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Day() == d.Day
}

// clip shortens client input quoted in error messages.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
