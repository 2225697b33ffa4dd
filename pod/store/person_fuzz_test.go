package store

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodePersonRecord feeds arbitrary bytes to DecodePersonRecord, which
// reads "person" payloads that other devices (and, through discovery,
// remote pods) put in the op log. Invariants: it never panics; a record it
// accepts has a guid and a diaspora ID with an "@" (its own rule); Encode
// of an accepted record succeeds and decodes to the same record (the
// diaspora ID lowercased, an empty tag list the same as none); and that
// re-encoding is a fixed point: encoding the decoded record again gives the
// same bytes and so the same op guid (two devices storing one record agree
// on its key).
func FuzzDecodePersonRecord(f *testing.F) {
	valid, _, err := PersonRecord{GUID: "a11ce0000000000000000000000000a1", DiasporaID: "Alice@Pod.Example",
		PublicKey: "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n", FirstName: "Alice", LastName: "Liddell",
		AvatarSmall: "https://pod.example/s.png", AvatarMedium: "https://pod.example/m.png", AvatarLarge: "https://pod.example/l.png",
		Bio: "down the rabbit hole", Location: "Oxford", Gender: "—", Birthday: "1852-05-04", Tags: []string{"tea", "cards"},
		Searchable: true, NSFW: true, PublicDetails: true, FetchedAt: 1767225600000}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	minimal, _, err := PersonRecord{GUID: "g", DiasporaID: "a@b"}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(minimal)
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `0`, `{`, `{"guid":"g"`,
		`{"guid":"g","diaspora_id":"ab"}`,             // no "@"
		`{"guid":"","diaspora_id":"a@b"}`,             // no guid
		`{"GUID":"g","Diaspora_ID":"A@B"}`,            // keys match case-insensitively
		`{"guid":"g","diaspora_id":"a@b","guid":"h"}`, // duplicate key: the last wins
		`{"guid":"g","diaspora_id":"a@b","tags":[]}`,  // empty list vs none
		`{"guid":"g","diaspora_id":"a@b","tags":null}`,
		`{"guid":"g","diaspora_id":"a@b","tags":["", "x"]}`,
		`{"guid":"g","diaspora_id":"a@b","fetched_at":1e3}`, // a float for an int
		`{"guid":"g","diaspora_id":"a@b","fetched_at":-9223372036854775808}`,
		`{"guid":"g","diaspora_id":"a@b","fetched_at":9223372036854775808}`,
		`{"guid":"g","diaspora_id":"a@b","searchable":"true"}`,
		`{"guid":"g","diaspora_id":"a@b","first_name":"\ud800"}`,        // a lone surrogate
		`{"guid":"\u0000","diaspora_id":"\u0041@\u0130"}`,               // a NUL guid; İ lowercases to i
		"{\"guid\":\"g\",\"diaspora_id\":\"a@b\",\"bio\":\"\xff\xfe\"}", // invalid UTF-8
		`{"guid":"g","diaspora_id":"ẞ@Σ.example"}`,                      // case mappings outside ASCII
		`{"guid":"g","diaspora_id":"a@b","unknown":{"deep":[1,2,{"x":null}]}}`,
		`{"guid":"g","diaspora_id":"a@b"} trailing`,
		` {"guid":"g","diaspora_id":"a@b"} `,
		`{"guid":1,"diaspora_id":"a@b"}`,
		`{"guid":"<script>","diaspora_id":"\"@\u2028"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePersonRecord(b)
		if err != nil {
			return
		}
		if p.GUID == "" || !strings.Contains(p.DiasporaID, "@") {
			t.Fatalf("accepted %q as %+v: no guid or no @ in the diaspora ID", b, p)
		}
		enc, guid, err := p.Encode()
		if err != nil {
			t.Fatalf("accepted %q as %+v, which does not encode: %v", b, p, err)
		}
		if !strings.HasPrefix(guid, "person:") {
			t.Fatalf("op guid %q", guid)
		}
		q, err := DecodePersonRecord(enc)
		if err != nil {
			t.Fatalf("Encode of an accepted record does not decode: %q → %q: %v", b, enc, err)
		}
		want := p
		want.DiasporaID = strings.ToLower(p.DiasporaID)
		if len(want.Tags) == 0 {
			want.Tags = nil
		}
		if len(q.Tags) == 0 {
			q.Tags = nil
		}
		if !reflect.DeepEqual(q, want) {
			t.Fatalf("round trip of %q changed the record:\n got %+v\nwant %+v", b, q, want)
		}
		enc2, guid2, err := q.Encode()
		if err != nil {
			t.Fatalf("the round-tripped record %+v does not encode: %v", q, err)
		}
		if !bytes.Equal(enc2, enc) || guid2 != guid {
			t.Fatalf("encoding is not stable for %q:\n first %q (%s)\nsecond %q (%s)", b, enc, guid, enc2, guid2)
		}
	})
}
