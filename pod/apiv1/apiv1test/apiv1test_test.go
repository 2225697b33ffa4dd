package apiv1test

import "testing"

// The validator must be able to say no: a closed object with an extra key,
// a timestamp that is not a date-time, a missing required key.
func TestCheckRefuses(t *testing.T) {
	const person = `{"guid":"0123456789abcdef0123456789abcdef","diaspora_id":"a@b.c","name":"A"}`
	Validate(t, "short_profile", []byte(person))
	for name, c := range map[string]struct{ def, doc string }{
		"extra key":      {"short_profile", `{"guid":"0123456789abcdef0123456789abcdef","diaspora_id":"a@b.c","name":"A","x":1}`},
		"short guid":     {"short_profile", `{"guid":"abc","diaspora_id":"a@b.c","name":"A"}`},
		"bad timestamp":  {"messages", `[{"guid":"0123456789abcdef0123456789abcdef","created_at":"yesterday","body":"","author":` + person + `}]`},
		"missing key":    {"aspect", `{"id":1,"name":"x"}`},
		"not json":       {"aspect", `{`},
		"unknown type":   {"notification", `{"guid":"0123456789abcdef0123456789abcdef","type":"private_message","read":true,"created_at":"2024-05-01T10:20:30.123Z"}`},
		"avatar not url": {"short_profile", `{"guid":"0123456789abcdef0123456789abcdef","diaspora_id":"a@b.c","name":"A","avatar":"javascript:x"}`},
	} {
		if Check(t, c.def, []byte(c.doc)) == nil {
			t.Errorf("%s: %s accepted as %s", name, c.doc, c.def)
		}
	}
}
