package apiv1

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"filter[]=contacts&filter[]=aspect:1,2", []string{"contacts", "aspect:1,2"}},
		{"filter%5B%5D=contacts", []string{"contacts"}},
		{"filter=contacts", []string{"contacts"}},
		{"filter=a&filter[]=b", []string{"b", "a"}},
		{"filter=&filter[]=", nil},
		{"other=x", nil},
	} {
		if got := Strings(mustQuery(t, c.query), "filter"); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.query, got, c.want)
		}
	}
}

func TestIDs(t *testing.T) {
	for _, c := range []struct {
		query string
		want  []int64
		given bool
	}{
		{"aspect_ids=%5B1%2C2%5D", []int64{1, 2}, true}, // [1,2], as diaspora wants it
		{"aspect_ids=[1, 2 ,3]", []int64{1, 2, 3}, true},
		{`aspect_ids=["4","5"]`, []int64{4, 5}, true},
		{"aspect_ids[]=1&aspect_ids[]=7", []int64{1, 7}, true},
		{"aspect_ids=9", []int64{9}, true},
		{"aspect_ids=[]", []int64{}, true}, // given, empty: no aspect
		{"", nil, false},                   // absent: every aspect
		{"aspect_ids[]=1&aspect_ids=[2]", []int64{1, 2}, true},
	} {
		got, given, err := IDs(mustQuery(t, c.query), "aspect_ids")
		if err != nil {
			t.Errorf("%q: %v", c.query, err)
			continue
		}
		if !slices.Equal(got, c.want) || given != c.given || (got == nil) != (c.want == nil) {
			t.Errorf("%q: got %v %v, want %v %v", c.query, got, given, c.want, c.given)
		}
	}
	for _, q := range []string{
		"aspect_ids=", "aspect_ids=[1,", "aspect_ids=1,2", "aspect_ids=[1.5]", `aspect_ids=["x"]`, "aspect_ids=[null]",
		`aspect_ids={"a":1}`, "aspect_ids[]=x", "aspect_ids[]=", "aspect_ids=[99999999999999999999]", `aspect_ids=[[1]]`, "aspect_ids=all",
	} {
		_, given, err := IDs(mustQuery(t, q), "aspect_ids")
		var e *Error
		if !errors.As(err, &e) || e.Code != 422 || !given {
			t.Errorf("%q: err %v given %v, want a 422", q, err, given)
		}
	}
}

func TestLenientBooleans(t *testing.T) {
	for in, want := range map[string]bool{
		"true": true, "TRUE": true, "True": true, "t": true, "1": true, "yes": true, "on": true,
		"false": false, "FALSE": false, "f": false, "0": false, "no": false, "off": false, " false ": false,
	} {
		got, err := ParseBool(in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "banana", "2", "truee", "-1"} {
		if _, err := ParseBool(in); err == nil {
			t.Errorf("ParseBool(%q) accepted", in)
		}
	}

	q := mustQuery(t, "only_unread=1&read=false&x=&bad=maybe")
	if v, given, err := QueryBool(q, "only_unread"); !v || !given || err != nil {
		t.Errorf("only_unread: %v %v %v", v, given, err)
	}
	if v, given, err := QueryBool(q, "read"); v || !given || err != nil {
		t.Errorf("read: %v %v %v", v, given, err)
	}
	for _, k := range []string{"x", "missing"} {
		if v, given, err := QueryBool(q, k); v || given || err != nil {
			t.Errorf("%s: %v %v %v", k, v, given, err)
		}
	}
	var e *Error
	if _, _, err := QueryBool(q, "bad"); !errors.As(err, &e) || e.Code != 422 {
		t.Errorf("bad: %v", err)
	}

	var body struct {
		Read *Bool `json:"read"`
	}
	for doc, want := range map[string]bool{
		`{"read":true}`: true, `{"read":"true"}`: true, `{"read":"1"}`: true, `{"read":1}`: true,
		`{"read":false}`: false, `{"read":"false"}`: false, `{"read":0}`: false, `{"read":"0"}`: false,
	} {
		body.Read = nil
		if err := json.Unmarshal([]byte(doc), &body); err != nil || body.Read == nil || bool(*body.Read) != want {
			t.Errorf("%s: %v %v", doc, body.Read, err)
		}
	}
	body.Read = nil
	if err := json.Unmarshal([]byte(`{}`), &body); err != nil || body.Read != nil {
		t.Error("missing read should stay nil (required keys answer 422)")
	}
	for _, doc := range []string{`{"read":"maybe"}`, `{"read":2}`, `{"read":[]}`, `{"read":{}}`} {
		if err := json.Unmarshal([]byte(doc), &body); err == nil {
			t.Errorf("%s accepted", doc)
		}
	}
	if b, _ := json.Marshal(Bool(true)); string(b) != "true" {
		t.Errorf("Bool marshals as %s", b)
	}
}
