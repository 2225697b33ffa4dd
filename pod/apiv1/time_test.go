package apiv1

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimeMarshal(t *testing.T) {
	paris := time.FixedZone("CEST", 2*3600)
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC), `"2024-05-01T10:20:30.123Z"`},
		{time.Date(2024, 5, 1, 12, 20, 30, 123e6, paris), `"2024-05-01T10:20:30.123Z"`},        // to UTC
		{time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC), `"2024-05-01T10:20:30.000Z"`},         // millis always
		{time.Date(2024, 5, 1, 10, 20, 30, 999999999, time.UTC), `"2024-05-01T10:20:30.999Z"`}, // truncated, not rounded
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), `"1900-01-01T00:00:00.000Z"`},
		{time.Time{}, `null`},
	} {
		b, err := json.Marshal(NewTime(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("%v: got %s, want %s", c.in, b, c.want)
		}
	}
	if _, err := json.Marshal(NewTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))); err == nil {
		t.Error("year 10000 marshalled")
	}
	// *Time with omitempty: nil is omitted, set is a timestamp.
	b, _ := json.Marshal(PostExtension{EditedAt: ptr(NewTime(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)))})
	if string(b) != `{"edited_at":"2024-05-01T00:00:00.000Z"}` {
		t.Errorf("got %s", b)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	for _, in := range []time.Time{
		time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1e6, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 1e6, time.UTC),
		{},
	} {
		b, err := json.Marshal(NewTime(in))
		if err != nil {
			t.Fatal(err)
		}
		var out Time
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !out.Equal(in) {
			t.Errorf("%s: got %v, want %v", b, out.Time, in)
		}
	}
}

func TestParseTime(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2024-05-01T10:20:30.123Z", base.Add(123 * time.Millisecond)},
		{"2024-05-01T10:20:30Z", base},
		{"2024-05-01t10:20:30z", base},
		{"2024-05-01T10:20:30.1Z", base.Add(100 * time.Millisecond)},
		{"2024-05-01T10:20:30.123456789Z", base.Add(123456789)},
		{"2024-05-01T10:20:30.1234567891234Z", base.Add(123456789)},
		{"2024-05-01T10:20:30,5Z", base.Add(500 * time.Millisecond)},
		{"2024-05-01T12:20:30+02:00", base},
		{"2024-05-01T12:20:30+0200", base},
		{"2024-05-01T12:20:30+02", base},
		{"2024-05-01T05:50:30-04:30", base},
		{"2024-05-01T12:20:30 02:00", base}, // "+" decoded to a space
		{"2024-05-01T10:20:30", base},       // no zone: UTC
		{"2024-05-01 10:20:30", base},
		{"2024-05-01T10:20Z", base.Add(-30 * time.Second)},
		{"2024-05-01", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		{"1900-01-01", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"  2024-05-01T10:20:30Z\n", base},
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"2025-05-01T00:30:00+01:00", time.Date(2025, 4, 30, 23, 30, 0, 0, time.UTC)},
	} {
		got, err := ParseTime(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
	for _, in := range []string{
		"", "now", "yesterday", "2024", "2024-05", "2024-5-1", "24-05-01", "+2024-05-01", "2024/05/01",
		"2024-13-01", "2024-00-10", "2024-04-31", "2023-02-29", "2024-05-00",
		"2024-05-01T", "2024-05-01T10", "2024-05-01T24:00:00Z", "2024-05-01T10:60:00Z", "2024-05-01T10:20:60Z",
		"2024-05-01T10:20:30.Z", "2024-05-01T10:20:30+2", "2024-05-01T10:20:30+24:00", "2024-05-01T10:20:30+02:60",
		"2024-05-01T10:20:30ZZ", "2024-05-01T10:20:30 UTC", "2024-05-01X10:20:30Z", "1714558830", "2024-05-01T10:20:30+02:00:00",
		"２０２４-05-01",
	} {
		if got, err := ParseTime(in); err == nil {
			t.Errorf("%q accepted as %v", in, got)
		}
	}
}

func TestTimeUnmarshal(t *testing.T) {
	var v struct {
		At  Time  `json:"at"`
		Opt *Time `json:"opt"`
	}
	if err := json.Unmarshal([]byte(`{"at":"2024-05-01T12:20:30.5+02:00","opt":null}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.At.String() != "2024-05-01T10:20:30.500Z" || v.Opt != nil {
		t.Errorf("got %v %v", v.At, v.Opt)
	}
	for _, bad := range []string{`{"at":12}`, `{"at":"soon"}`, `{"at":true}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestDate(t *testing.T) {
	for _, c := range []struct {
		d    Date
		want string
	}{
		{Date{1984, time.January, 2}, `"1984-01-02"`},
		{Date{1, time.December, 31}, `"0001-12-31"`},
		{Date{}, `null`},
	} {
		b, err := json.Marshal(c.d)
		if err != nil || string(b) != c.want {
			t.Errorf("%+v: got %s %v, want %s", c.d, b, err, c.want)
		}
		var back Date
		if err := json.Unmarshal(b, &back); err != nil || back != c.d {
			t.Errorf("%s: back %+v %v", b, back, err)
		}
	}
	if _, err := json.Marshal(Date{2023, time.February, 29}); err == nil {
		t.Error("29 Feb 2023 marshalled")
	}
	var d Date = Date{2000, 1, 1}
	if err := json.Unmarshal([]byte(`""`), &d); err != nil || !d.IsZero() {
		t.Errorf(`"" should clear: %+v %v`, d, err)
	}
	for _, bad := range []string{"1984-1-2", "1984-01-02T00:00:00Z", "0000-01-01", "1984-02-30", "84-01-02", "1984-01-02 ", "birthday"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
		if err := json.Unmarshal([]byte(`"`+bad+`"`), &d); err == nil {
			t.Errorf("unmarshal %q accepted", bad)
		}
	}
	if DateOf(time.Date(2024, 5, 1, 23, 0, 0, 0, time.UTC)) != (Date{2024, 5, 1}) {
		t.Error("DateOf")
	}
}

// The promoted time.Time text methods must not leak their RFC 3339 form.
func TestTimeTextForms(t *testing.T) {
	v := NewTime(time.Date(2024, 5, 1, 10, 20, 30, 123456789, time.UTC))
	b, _ := v.MarshalText()
	a, _ := v.AppendText([]byte("x"))
	m, _ := json.Marshal(map[Time]int{v: 1})
	if string(b) != "2024-05-01T10:20:30.123Z" || string(a) != "x2024-05-01T10:20:30.123Z" || v.String() != string(b) ||
		string(m) != `{"2024-05-01T10:20:30.123Z":1}` {
		t.Errorf("text forms: %s %s %s %s", b, a, v.String(), m)
	}
}
