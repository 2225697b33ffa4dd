package entity

import (
	"bytes"
	"reflect"
	"testing"

	"seedpod/pod/internal/vectors"
)

// FuzzParse invariants: Parse never panics and does bounded work (size,
// depth and element caps); for accepted input, Marshal succeeds,
// Parse(Marshal(Parse(x))) equals Parse(x), and Marshal is stable
// (marshalling the re-parsed entity gives the same bytes). The relayable
// signature string is also preserved across the round trip, so relaying
// never breaks author_signature.
func FuzzParse(f *testing.F) {
	for _, p := range payloadVectors(f) {
		f.Add(vectors.Read(f, p))
	}
	f.Add([]byte("<comment><author>a@b</author></comment>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		out, err := Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of accepted entity: %v", err)
		}
		e2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-Parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("round trip differs:\n%#v\n%#v", e, e2)
		}
		if r, ok := e.(Relayable); ok && r.SignatureString() != e2.(Relayable).SignatureString() {
			t.Fatal("signature string changed")
		}
		out2, err := Marshal(e2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("Marshal not stable: %v\n%s\n%s", err, out, out2)
		}
	})
}

// FuzzParseJSON invariants: never panics, bounded work; for accepted
// input, MarshalJSON succeeds and ParseJSON(MarshalJSON(e)) equals e, and
// the XML form of both is identical.
func FuzzParseJSON(f *testing.F) {
	for _, p := range vectors.Glob(f, "generated/entities/*.json") {
		f.Add(vectors.Read(f, p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseJSON(data)
		if err != nil {
			return
		}
		j, err := MarshalJSON(e)
		if err != nil {
			t.Fatalf("MarshalJSON of accepted entity: %v", err)
		}
		e2, err := ParseJSON(j)
		if err != nil {
			t.Fatalf("re-ParseJSON: %v\n%s", err, j)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("JSON round trip differs:\n%#v\n%#v\n%s", e, e2, j)
		}
		a, err1 := Marshal(e)
		b, err2 := Marshal(e2)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Fatalf("XML forms differ: %v %v", err1, err2)
		}
	})
}
