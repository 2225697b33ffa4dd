package apiv1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Strings returns an array query parameter as Rails reads it: key[]=a&key[]=b,
// or a single key=a, or both (the key[] values first). Empty values are
// dropped; nil when there are none.
func Strings(q url.Values, key string) []string {
	var out []string
	for _, vs := range [][]string{q[key+"[]"], q[key]} {
		for _, v := range vs {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// IDs reads a list of integer ids such as aspect_ids (API.md §1.1, §4 #31).
// It accepts what diaspora accepts, a JSON-encoded array (aspect_ids=[1,2],
// numbers or numeric strings), and also key[]=1&key[]=2 and a bare key=1.
// given reports whether the parameter was there at all, which matters:
// streams/aspects without aspect_ids means every aspect, while [] means
// none. Errors are *Error with code 422.
func IDs(q url.Values, key string) (ids []int64, given bool, err error) {
	bad := func(cause error) ([]int64, bool, error) {
		return nil, true, invalid(cause, "Invalid %s parameter", key)
	}
	for _, v := range q[key+"[]"] {
		given = true
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return bad(err)
		}
		ids = append(ids, n)
	}
	for _, v := range q[key] {
		given = true
		v = strings.TrimSpace(v)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			ids = append(ids, n)
			continue
		}
		var raw []json.RawMessage
		if err := json.Unmarshal([]byte(v), &raw); err != nil {
			return bad(err)
		}
		for _, r := range raw {
			s := string(r) // a number's literal, or a string's content
			if len(r) > 0 && r[0] == '"' {
				if err := json.Unmarshal(r, &s); err != nil {
					return bad(err)
				}
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return bad(fmt.Errorf("element %s: %w", clip(string(r)), err))
			}
			ids = append(ids, n)
		}
	}
	if given && ids == nil {
		ids = []int64{}
	}
	return ids, given, nil
}

// ParseBool casts a boolean parameter leniently, case-insensitively:
// "true", "t", "1", "yes", "y", "on" are true; "false", "f", "0", "no",
// "n", "off" are false (Rails' false list, plus the obvious). Anything else
// is an error: Rails would call it true, which is never what a client that
// sends "banana" meant.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "1", "yes", "y", "on":
		return true, nil
	case "false", "f", "0", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("apiv1: %q is not a boolean", clip(s))
}

// QueryBool reads a lenient boolean query parameter (read, only_unread).
// given is false when the parameter is absent or empty (Rails casts "" to
// nil). Errors are *Error with code 422.
func QueryBool(q url.Values, key string) (v, given bool, err error) {
	s := q.Get(key)
	if s == "" {
		return false, false, nil
	}
	v, err = ParseBool(s)
	if err != nil {
		return false, true, invalid(err, "Invalid %s parameter: not a boolean", key)
	}
	return v, true, nil
}

// Bool is a boolean request-body field read leniently: JSON true/false,
// the strings ParseBool takes, or the numbers 0 and 1, so form-minded
// clients that send {"read": "true"} work. It marshals as a JSON boolean.
// Use *Bool to tell a missing key (required ones answer 422) from false.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler. null leaves the value as is,
// like encoding/json does for plain types.
func (b *Bool) UnmarshalJSON(data []byte) error {
	s := string(bytes.TrimSpace(data))
	switch s {
	case "null":
		return nil
	case "true", "1":
		*b = true
		return nil
	case "false", "0":
		*b = false
		return nil
	}
	var str string
	if err := json.Unmarshal(data, &str); err != nil {
		return fmt.Errorf("apiv1: %s is not a boolean", clip(s))
	}
	v, err := ParseBool(str)
	if err != nil {
		return err
	}
	*b = Bool(v)
	return nil
}
