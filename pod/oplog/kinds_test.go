package oplog

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var testHash = strings.Repeat("ab", 32)

func TestKindNumbersAreUnique(t *testing.T) {
	seen := map[string]Kind{}
	for k, name := range kindNames {
		if other, dup := seen[name]; dup {
			t.Errorf("%s is both %d and %d", name, k, other)
		}
		seen[name] = k
		if !k.Known() || k.String() != name {
			t.Errorf("kind %d: Known %v String %q", k, k.Known(), k.String())
		}
	}
	if Kind(999).Known() || Kind(999).String() != "Kind(999)" {
		t.Errorf("unknown kind: %v %q", Kind(999).Known(), Kind(999).String())
	}
}

func TestBodiesRoundTrip(t *testing.T) {
	ref := OpRef{Device: []byte{1, 2, 3}, Epoch: 1<<63 + 5, Seq: 7}
	bodies := []Body{
		SetField{Key: "profile/name", Value: "Ada"},
		SetField{Key: "settings/nsfw"},
		DraftWrite{Register: "draft/d1", Value: "hello", Pred: []OpRef{ref}},
		DraftWrite{Register: "profile/bio", Deleted: true},
		AspectAdd{Aspect: "a1", Member: "bob@pod.example"},
		AspectRemove{Aspect: "a1", Member: "bob@pod.example", Observed: []OpRef{ref}},
		SetAdd{Set: "tags", Member: "golang"},
		SetRemove{Set: "blocks", Member: "eve@pod.example", Observed: []OpRef{ref, ref}},
		Publish{GUID: "0123456789abcdef0123", Kind: "comment", Parent: "parentguid-0000000001", CreatedAt: 1700000000000,
			Body: json.RawMessage(`{"text":"hi"}`), Recipients: []string{"bob@pod.example"}},
		Publish{GUID: "0123456789abcdef0123", Kind: "post"},
		Retract{GUID: "0123456789abcdef0123"},
		ReadUpTo{Stream: "notifications", Watermark: 42},
		Received{GUID: "remote-guid-0000000001", EntityType: "Comment", Author: "bob@pod.example", PayloadHash: testHash},
		Received{GUID: "remote-guid-0000000001#1795709093000", EntityType: "status_message", Author: "bob@pod.example", PayloadHash: testHash},
	}
	for _, b := range bodies {
		enc, err := EncodeBody(b)
		if err != nil {
			t.Fatalf("%T: %v", b, err)
		}
		if string(enc) != string(b.Encode()) {
			t.Errorf("%T: EncodeBody and Encode differ", b)
		}
		got, err := DecodeBody(b.OpKind(), enc)
		if err != nil {
			t.Fatalf("%T %s: %v", b, enc, err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Errorf("%T: round trip\n got %#v\nwant %#v", b, got, b)
		}
	}
}

func TestOpRefJSON(t *testing.T) {
	id := ID{Log: LogID{Device: []byte{9, 8}, Epoch: 1<<64 - 1}, Seq: 3}
	b, err := json.Marshal(RefOf(id))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"device":"CQg=","epoch":"18446744073709551615","seq":3}`; string(b) != want {
		t.Errorf("OpRef JSON %s, want %s", b, want)
	}
	var r OpRef
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if got := r.ID(); !got.Log.Equal(id.Log) || got.Seq != id.Seq {
		t.Errorf("round trip %v, want %v", got, id)
	}
}

func TestDecodeBodyIsStrict(t *testing.T) {
	cases := []struct {
		name string
		kind Kind
		body string
	}{
		{"unknown field", KindSetField, `{"key":"a","value":"b","extra":1}`},
		{"trailing object", KindSetField, `{"key":"a"} {"key":"b"}`},
		{"trailing garbage", KindSetField, `{"key":"a"}x`},
		{"truncated", KindSetField, `{"key":`},
		{"null", KindSetField, `null`},
		{"array", KindSetField, `[]`},
		{"empty", KindSetField, ``},
		{"wrong type", KindSetField, `{"key":1}`},
		{"empty key", KindSetField, `{"key":"","value":"x"}`},
		{"empty register", KindDraftWrite, `{"register":"","value":"x"}`},
		{"delete with value", KindDraftWrite, `{"register":"draft/1","value":"x","deleted":true}`},
		{"pred seq 0", KindDraftWrite, `{"register":"draft/1","pred":[{"device":"AQ==","epoch":"1","seq":0}]}`},
		{"pred no device", KindDraftWrite, `{"register":"draft/1","pred":[{"epoch":"1","seq":1}]}`},
		{"epoch as number", KindDraftWrite, `{"register":"draft/1","pred":[{"device":"AQ==","epoch":1,"seq":1}]}`},
		{"empty member", KindAspectAdd, `{"aspect":"a1","member":""}`},
		{"remove empty aspect", KindAspectRemove, `{"aspect":"","member":"m","observed":[]}`},
		{"empty set", KindSetAdd, `{"set":"","member":"m"}`},
		{"set remove bad ref", KindSetRemove, `{"set":"tags","member":"m","observed":[{"device":"","epoch":"1","seq":1}]}`},
		{"short guid", KindPublish, `{"guid":"short","kind":"post","created_at":1}`},
		{"guid bad char", KindPublish, `{"guid":"0123456789abcdef/123","kind":"post","created_at":1}`},
		{"publish kind", KindPublish, `{"guid":"0123456789abcdef0123","kind":"blogpost","created_at":1}`},
		{"negative created_at", KindPublish, `{"guid":"0123456789abcdef0123","kind":"post","created_at":-1}`},
		{"bad parent", KindPublish, `{"guid":"0123456789abcdef0123","kind":"like","parent":"x","created_at":1}`},
		{"empty recipient", KindPublish, `{"guid":"0123456789abcdef0123","kind":"post","created_at":1,"recipients":[""]}`},
		{"retract guid", KindRetract, `{"guid":""}`},
		{"negative watermark", KindReadUpTo, `{"stream":"n","watermark":-1}`},
		{"empty stream", KindReadUpTo, `{"stream":"","watermark":1}`},
		{"payload hash", KindReceived, `{"guid":"remote-guid-0000000001","entity_type":"Comment","author":"a@b","payload_hash":"xyz"}`},
		{"version without number", KindReceived, `{"guid":"remote-guid-0000000001#","entity_type":"StatusMessage","author":"a@b","payload_hash":"` + testHash + `"}`},
		{"version not decimal", KindReceived, `{"guid":"remote-guid-0000000001#12a","entity_type":"StatusMessage","author":"a@b","payload_hash":"` + testHash + `"}`},
		{"two versions", KindReceived, `{"guid":"remote-guid-0000000001#1#2","entity_type":"StatusMessage","author":"a@b","payload_hash":"` + testHash + `"}`},
		{"version of a short guid", KindReceived, `{"guid":"short#1","entity_type":"StatusMessage","author":"a@b","payload_hash":"` + testHash + `"}`},
		{"no author", KindReceived, `{"guid":"remote-guid-0000000001","entity_type":"Comment","payload_hash":"` + testHash + `"}`},
	}
	for _, c := range cases {
		if v, err := DecodeBody(c.kind, []byte(c.body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %s → %#v, %v; want ErrMalformed", c.name, c.body, v, err)
		}
	}
	if _, err := DecodeBody(Kind(4000), []byte(`{}`)); !errors.Is(err, ErrUnknownKind) || errors.Is(err, ErrMalformed) {
		t.Errorf("unknown kind: %v, want ErrUnknownKind only", err)
	}
	if _, err := EncodeBody(SetField{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("EncodeBody of an invalid body: %v", err)
	}
}
