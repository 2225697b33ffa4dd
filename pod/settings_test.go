package pod

import (
	"errors"
	"slices"
	"testing"
)

func TestDecodeSettingsPatch(t *testing.T) {
	tests := []struct {
		in   string
		want SettingsPatch
		bad  bool
	}{
		{in: `{}`},
		{in: `{"notifications":{}}`},
		{in: `{"notifications":null}`, want: SettingsPatch{SetOS: true, SetTypes: true}},
		{in: `{"notifications":{"os":false}}`, want: SettingsPatch{SetOS: true, OS: new(false)}},
		{in: `{"notifications":{"os":null}}`, want: SettingsPatch{SetOS: true}},
		{in: `{"notifications":{"types":[]}}`, want: SettingsPatch{SetTypes: true, Types: []string{}}},
		{in: `{"notifications":{"types":["liked","liked","conversation"]}}`,
			want: SettingsPatch{SetTypes: true, Types: []string{"liked", "conversation"}}},
		{in: `{"notifications":{"types":null}}`, want: SettingsPatch{SetTypes: true}},
		{in: `{"x":1}`, bad: true},
		{in: `{"notifications":{"os":1}}`, bad: true},
		{in: `{"notifications":{"types":["nope"]}}`, bad: true},
		{in: `{"notifications":{"types":[null]}}`, bad: true},
		{in: `{"notifications":true}`, bad: true},
		{in: ``, bad: true},
		{in: `"x"`, bad: true},
	}
	for _, tc := range tests {
		got, err := DecodeSettingsPatch([]byte(tc.in))
		if tc.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: err %v, want ErrInvalid", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		same := got.SetOS == tc.want.SetOS && got.SetTypes == tc.want.SetTypes &&
			(got.OS == nil) == (tc.want.OS == nil) && (got.OS == nil || *got.OS == *tc.want.OS) &&
			(got.Types == nil) == (tc.want.Types == nil) && slices.Equal(got.Types, tc.want.Types)
		if !same {
			t.Errorf("%s: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// FuzzDecodeSettingsPatch: the decoder never panics; it either refuses
// with ErrInvalid or returns a patch that names only known types, without
// duplicates, and whose Types is nil exactly when it resets them.
func FuzzDecodeSettingsPatch(f *testing.F) {
	for _, s := range []string{`{}`, `{"notifications":null}`, `{"notifications":{"os":true,"types":["liked"]}}`,
		`{"notifications":{"types":null,"os":null}}`, `{"notifications":{"types":[]}}`, `[1]`, `{"a":{"b":[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeSettingsPatch(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if !p.SetTypes && p.Types != nil || !p.SetOS && p.OS != nil {
			t.Fatalf("values without their Set flag: %+v", p)
		}
		seen := map[string]bool{}
		for _, typ := range p.Types {
			if seen[typ] || !slices.Contains(NotifyTypes(), typ) {
				t.Fatalf("types %q: duplicate or unknown %q", p.Types, typ)
			}
			seen[typ] = true
		}
	})
}
