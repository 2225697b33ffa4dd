package entity

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod/internal/vectors"
)

const (
	alice = "alice@pod-a.example"
	bob   = "bob@pod-b.example"
	g1    = "0123456789abcdef0123456789abcdef"
	g2    = "fedcba9876543210fedcba9876543210"
	g3    = "aaaabbbbccccddddeeeeffff00001111"
)

var ts = time.Date(2026, 3, 1, 12, 30, 45, 0, time.UTC)

func sampleEntities() []Entity {
	loc := &Location{Address: "Vienna", Lat: "48.2", Lng: "16.3"}
	prof := &Profile{AuthorID: "alice@pod-c.example", FirstName: "Alice", Searchable: true, TagString: "#a #b"}
	return []Entity{
		&StatusMessage{AuthorID: alice, ID: g1, CreatedAt: ts, Public: true, ProviderDisplayName: "web", Text: "hi <b> & \"q\"\nline2", EditedAt: ts.Add(time.Minute),
			Photos:   []*Photo{{ID: g2, AuthorID: alice, Public: true, CreatedAt: ts, RemotePhotoPath: "https://pod-a.example/u/", RemotePhotoName: "x.jpg", StatusMessageGUID: g1, Height: 4, Width: 8}},
			Location: loc,
			Poll:     &Poll{ID: g3, Question: "?", Answers: []*PollAnswer{{ID: g1 + "1", Answer: "y"}, {ID: g1 + "2", Answer: "n"}}},
			Event:    &Event{AuthorID: alice, ID: g2 + "e", Summary: "party", Start: ts, End: ts.Add(time.Hour), AllDay: true, Timezone: "Europe/Vienna", Location: loc},
			Embed:    &Embed{URL: "https://example.org/", Title: "t"}},
		&StatusMessage{AuthorID: alice, ID: g1, CreatedAt: ts, Text: ""},
		&Photo{ID: g2, AuthorID: alice, CreatedAt: ts, RemotePhotoPath: "https://pod-a.example/u/", RemotePhotoName: "x.jpg"},
		&Location{Address: "a", Lat: "1", Lng: "2"},
		&Poll{ID: g3, Question: "q", Answers: []*PollAnswer{{ID: g1, Answer: "a"}, {ID: g2, Answer: "b"}}},
		&PollAnswer{ID: g1, Answer: "a"},
		&Event{AuthorID: alice, ID: g1, Summary: "s", Start: ts},
		&Embed{Nothing: true},
		&Profile{AuthorID: alice, EditedAt: ts, FullName: "Alice S", FirstName: "Alice", LastName: "S", ImageURL: "/a.png", Bio: "bio", Birthday: "1988-07-15", Gender: "f", Location: "here", Searchable: true, Public: true, NSFW: true, TagString: "#x"},
		&Reshare{AuthorID: alice, ID: g1, CreatedAt: ts, RootAuthorID: bob, RootID: g2},
		&Reshare{AuthorID: alice, ID: g1, CreatedAt: ts},
		&Comment{AuthorID: alice, ID: g1, Parent: g2, Text: "nice", CreatedAt: ts, EditedAt: ts},
		&Like{AuthorID: alice, ID: g1, Parent: g2, ParentTypeName: "Comment", Positive: false},
		&PollParticipation{AuthorID: alice, ID: g1, Parent: g2, PollAnswerGUID: g3},
		&EventParticipation{AuthorID: alice, ID: g1, Parent: g2, Status: "tentative", EditedAt: ts},
		&Participation{AuthorID: alice, ID: g1, Parent: g2, ParentTypeName: "Post"},
		&Contact{AuthorID: alice, Recipient: bob, Following: true, Sharing: true},
		&Contact{AuthorID: alice, Recipient: bob, Blocking: true},
		&Conversation{AuthorID: alice, ID: g1, Subject: "s", CreatedAt: ts, Participants: []string{alice, bob},
			Messages: []*Message{{AuthorID: alice, ID: g2, Text: "t", CreatedAt: ts, ConversationGUID: g1}}},
		&Message{AuthorID: alice, ID: g2, Text: "t", CreatedAt: ts, EditedAt: ts, ConversationGUID: g1},
		&Retraction{AuthorID: alice, Target: g1, TargetTypeName: "Comment"},
		&AccountDeletion{AuthorID: alice},
		&AccountMigration{AuthorID: alice, Profile: prof, Signature: "c2ln", OldIdentityID: alice, RemotePhotoPath: "https://pod-c.example/u/"},
		&AccountMigration{AuthorID: "alice@pod-c.example", Profile: prof, OldIdentityID: alice},
	}
}

// normalize makes a built entity comparable with its parsed copy: parsed
// relayables record their element order.
func normalize(e Entity) Entity {
	if r, ok := e.(Relayable); ok {
		rl := r.relay()
		if rl.Order == nil {
			for _, f := range fields(r) {
				rl.Order = append(rl.Order, f.name)
			}
		}
	}
	return e
}

func TestRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range sampleEntities() {
		seen[e.Type()] = true
		t.Run(e.Type(), func(t *testing.T) {
			out, err := Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(%s): %v", out, err)
			}
			if !reflect.DeepEqual(normalize(e), back) {
				t.Fatalf("round trip differs:\n%#v\n%#v\n%s", e, back, out)
			}
			j, err := MarshalJSON(e)
			if err != nil {
				t.Fatal(err)
			}
			jb, err := ParseJSON(j)
			if err != nil {
				t.Fatalf("ParseJSON(%s): %v", j, err)
			}
			if !reflect.DeepEqual(back, jb) {
				t.Fatalf("JSON round trip differs:\n%#v\n%#v\n%s", back, jb, j)
			}
		})
	}
	for typ := range map[string]bool{"status_message": true, "photo": true, "location": true, "poll": true, "poll_answer": true, "event": true, "embed": true, "profile": true, "reshare": true, "comment": true, "like": true, "poll_participation": true, "event_participation": true, "participation": true, "contact": true, "conversation": true, "message": true, "retraction": true, "account_deletion": true, "account_migration": true} {
		if !seen[typ] {
			t.Errorf("no round trip for %s", typ)
		}
	}
}

func genKey(t testing.TB, bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignRelayable(t *testing.T) {
	k2048 := genKey(t, 2048)
	tests := []struct {
		name string
		xml  string
		key  *rsa.PrivateKey
	}{
		{"comment", "<comment>\n  <author>alice@pod-a.example</author>\n  <guid>" + g1 + "</guid>\n  <parent_guid>" + g2 + "</parent_guid>\n  <text>hi</text>\n</comment>", k2048},
		{"replaces signature, keeps unknown+order", "<?xml version=\"1.0\"?>\n<comment>\n  <guid>" + g1 + "</guid>\n  <author_signature>old</author_signature>\n  <author>alice@pod-a.example</author>\n  <x_new>1</x_new>\n  <parent_guid>" + g2 + "</parent_guid>\n  <text>hi</text>\n  <parent_author_signature/>\n</comment>", k2048},
		{"like", "<like><author>alice@pod-a.example</author><guid>" + g1 + "</guid><parent_guid>" + g2 + "</parent_guid><parent_type>Post</parent_type><positive>y</positive></like>", k2048},
		{"poll_participation", "<poll_participation>\n  <author>alice@pod-a.example</author>\n  <guid>" + g1 + "</guid>\n  <parent_guid>" + g2 + "</parent_guid>\n  <poll_answer_guid>" + g3 + "</poll_answer_guid>\n</poll_participation>", k2048},
		{"event_participation 4096", "<event_participation>\n  <author>alice@pod-a.example</author>\n  <guid>" + g1 + "</guid>\n  <parent_guid>" + g2 + "</parent_guid>\n  <status>declined</status>\n  <edited_at>2016-07-12T02:49:06+02:00</edited_at>\n</event_participation>", genKey(t, 4096)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed, err := SignRelayable([]byte(tt.xml), tt.key)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Parse(signed)
			if err != nil {
				t.Fatalf("Parse(%s): %v", signed, err)
			}
			r := e.(Relayable)
			if err := VerifyAuthorSignature(r, &tt.key.PublicKey); err != nil {
				t.Fatalf("%v\n%s", err, signed)
			}
			if err := VerifyAuthorSignature(r, &genKey(t, 1024).PublicKey); !errors.Is(err, ErrSignature) {
				t.Fatalf("other key: %v", err)
			}
			// Everything but the signature element is kept byte for byte.
			strip := func(b []byte) string {
				s := string(b)
				for {
					i := strings.Index(s, "<author_signature>")
					if i < 0 {
						return s
					}
					j := strings.Index(s[i:], "</author_signature>") + i + len("</author_signature>")
					k := i
					for k > 0 && strings.ContainsRune(" \n\t", rune(s[k-1])) {
						k--
					}
					s = s[:k] + s[j:]
				}
			}
			if strip(signed) != strip([]byte(tt.xml)) {
				t.Fatalf("other bytes changed:\n%s\n%s", signed, tt.xml)
			}
			// The signature order never lists a signature element, and
			// author_signature is the last element emitted.
			if n := e.(Relayable); slices.ContainsFunc(n.relay().Order, func(s string) bool { return strings.Contains(s, "signature") }) {
				t.Fatalf("a signature element is in the signature order %v", n.relay().Order)
			}
			trim := strings.TrimRight(string(signed), "\n")
			end := strings.LastIndex(trim, "</")
			if !strings.HasSuffix(strings.TrimSpace(trim[:end]), "</author_signature>") {
				t.Fatalf("author_signature not last:\n%s", signed)
			}
			// Marshal of the parsed entity verifies too (relaying).
			out, _ := Marshal(e)
			e2, _ := Parse(out)
			if err := VerifyAuthorSignature(e2.(Relayable), &tt.key.PublicKey); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := SignRelayable(vectors.Read(t, "generated/entities/message.xml"), k2048); !errors.Is(err, ErrInvalid) {
		t.Fatalf("non-relayable: %v", err)
	}
}

func TestRelayPreservesVectorBytes(t *testing.T) {
	// A root author's pod re-emits the relayable it received unchanged.
	raw := vectors.Read(t, "generated/entities/comment_with_unknown_property.xml")
	want := vectors.Read(t, "generated/envelopes/relayed_comment.payload.xml")
	e, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Marshal(e)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestRejections(t *testing.T) {
	c := func(inner string) string { return "<comment>" + inner + "</comment>" }
	okComment := "<author>alice@pod-a.example</author><guid>" + g1 + "</guid><parent_guid>" + g2 + "</parent_guid><text>x</text>"
	tests := []struct {
		name, xml string
		want      error
	}{
		{"empty", "", ErrParse},
		{"malformed", "<comment><author>x</comment>", ErrParse},
		{"unclosed", "<comment>", ErrParse},
		{"doctype", "<!DOCTYPE comment [<!ENTITY x \"y\">]>" + c(okComment), ErrParse},
		{"entity ref", c(strings.Replace(okComment, "<text>x", "<text>&x;", 1)), ErrParse},
		{"two roots", c(okComment) + c(okComment), ErrParse},
		{"text after root", c(okComment) + "junk", ErrParse},
		{"pi", "<?php x?>" + c(okComment), ErrParse},
		{"huge", c(okComment + "<x>" + strings.Repeat("a", MaxPayload) + "</x>"), ErrParse},
		{"deep", c(okComment + strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20)), ErrParse},
		{"many elements", c(okComment + strings.Repeat("<a/>", MaxElements)), ErrParse},
		{"invalid utf8", c(strings.Replace(okComment, "<text>x", "<text>\xff", 1)), ErrParse},
		{"unknown root", "<request><author>alice@pod-a.example</author></request>", ErrUnknownEntity},
		{"legacy wrapper", "<XML><post>" + c(okComment) + "</post></XML>", ErrUnknownEntity},
		{"bad guid", c(strings.Replace(okComment, g1, "short", 1)), ErrInvalid},
		{"guid bad last char", c(strings.Replace(okComment, g1, g1+"-", 1)), ErrInvalid},
		{"uppercase id", c(strings.Replace(okComment, "alice@", "Alice@", 1)), ErrInvalid},
		{"invalid id", c(strings.Replace(okComment, "alice@pod-a.example", "alice", 1)), ErrInvalid},
		{"missing author", c(strings.Replace(okComment, "<author>alice@pod-a.example</author>", "", 1)), ErrInvalid},
		{"empty comment text", c(strings.Replace(okComment, "<text>x</text>", "<text/>", 1)), ErrInvalid},
		{"comment text too long", c(strings.Replace(okComment, "<text>x", "<text>"+strings.Repeat("é", MaxText+1), 1)), ErrInvalid},
		{"bad timestamp", c(okComment + "<created_at>yesterday</created_at>"), ErrInvalid},
		{"bad boolean", "<status_message><author>alice@pod-a.example</author><guid>" + g1 + "</guid><public>maybe</public><text>x</text></status_message>", ErrInvalid},
		{"status without text", "<status_message><author>alice@pod-a.example</author><guid>" + g1 + "</guid></status_message>", ErrInvalid},
		{"legacy raw_message", string(vectors.Read(t, "upstream_docs/magic_envelope_example.decoded_payload.xml")), ErrInvalid},
		{"bad integer", "<photo><guid>" + g1 + "</guid><author>alice@pod-a.example</author><remote_photo_path>/u/</remote_photo_path><remote_photo_name>a</remote_photo_name><height>-1</height></photo>", ErrInvalid},
		{"photo author differs", "<status_message><author>alice@pod-a.example</author><guid>" + g1 + "</guid><text/><photo><guid>" + g2 + "</guid><author>bob@pod-b.example</author><remote_photo_path>/u/</remote_photo_path><remote_photo_name>a</remote_photo_name></photo></status_message>", ErrInvalid},
		{"name with semicolon", "<profile><author>alice@pod-a.example</author><first_name>a;b</first_name></profile>", ErrInvalid},
		{"first name too long", "<profile><author>alice@pod-a.example</author><first_name>" + strings.Repeat("a", 33) + "</first_name></profile>", ErrInvalid},
		{"bad birthday", "<profile><author>alice@pod-a.example</author><birthday>1988-02-30</birthday></profile>", ErrInvalid},
		{"too many tags", "<profile><author>alice@pod-a.example</author><tag_string>#a #b #c #d #e #f</tag_string></profile>", ErrInvalid},
		{"one participant", "<conversation><author>alice@pod-a.example</author><guid>" + g1 + "</guid><subject>s</subject><participants>alice@pod-a.example</participants></conversation>", ErrInvalid},
		{"bad participant", "<conversation><author>alice@pod-a.example</author><guid>" + g1 + "</guid><subject>s</subject><participants>alice@pod-a.example;Bob</participants></conversation>", ErrInvalid},
		{"one poll answer", "<poll><guid>" + g1 + "</guid><question>q</question><poll_answer><guid>" + g2 + "</guid><answer>a</answer></poll_answer></poll>", ErrInvalid},
		{"contact blocking and sharing", "<contact><author>alice@pod-a.example</author><recipient>bob@pod-b.example</recipient><blocking>true</blocking></contact>", ErrInvalid},
		{"embed url and nothing", "<embed><url>https://x.org/</url><nothing>true</nothing></embed>", ErrInvalid},
		{"embed neither", "<embed><title>t</title></embed>", ErrInvalid},
		{"reshare half root", "<reshare><author>alice@pod-a.example</author><guid>" + g1 + "</guid><root_guid>" + g2 + "</root_guid></reshare>", ErrInvalid},
		{"like bad parent_type", "<like><author>alice@pod-a.example</author><guid>" + g1 + "</guid><parent_guid>" + g2 + "</parent_guid><parent_type>Photo</parent_type><positive>true</positive></like>", ErrInvalid},
		{"event_participation bad status", "<event_participation><author>alice@pod-a.example</author><guid>" + g1 + "</guid><parent_guid>" + g2 + "</parent_guid><status>maybe</status></event_participation>", ErrInvalid},
		{"event bad timezone", "<event><author>alice@pod-a.example</author><guid>" + g1 + "</guid><summary>s</summary><start>2016-12-27T12:00:00Z</start><timezone>Berlin</timezone></event>", ErrInvalid},
		{"event no start", "<event><author>alice@pod-a.example</author><guid>" + g1 + "</guid><summary>s</summary></event>", ErrInvalid},
		{"migration without profile", "<account_migration><author>alice@pod-a.example</author></account_migration>", ErrInvalid},
		{"participation not Post", "<participation><author>alice@pod-a.example</author><guid>" + g1 + "</guid><parent_guid>" + g2 + "</parent_guid><parent_type>Comment</parent_type></participation>", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse([]byte(tt.xml))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, %v; want %v", e, err, tt.want)
			}
		})
	}
}

func TestLenientValues(t *testing.T) {
	x := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<status_message><author>alice@pod-a.example</author><guid>" + g1 +
		"</guid><created_at>2016-06-29 04:42:23 UTC</created_at><public>YES</public><text>x</text><edited_at>2016-07-12T02:49:06.5+02:00</edited_at><unknown>ignored</unknown></status_message>"
	e, err := Parse([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	s := e.(*StatusMessage)
	if !s.Public || s.CreatedAt.Format(TimeLayout) != "2016-06-29T04:42:23Z" || s.EditedAt.Format(TimeLayout) != "2016-07-12T00:49:06Z" {
		t.Fatalf("%+v", s)
	}
	for _, in := range []string{"t", "Y", "1", "TRUE"} {
		if v, ok := ParseBool(in); !v || !ok {
			t.Errorf("ParseBool(%q)", in)
		}
	}
	for _, in := range []string{"f", "N", "0", "no"} {
		if v, ok := ParseBool(in); v || !ok {
			t.Errorf("ParseBool(%q)", in)
		}
	}
}

func TestPublicAccessors(t *testing.T) {
	base, _ := Parse(vectors.Read(t, "generated/entities/profile_base_only.xml"))
	full, _ := Parse(vectors.Read(t, "generated/entities/profile.xml"))
	priv, _ := Parse(vectors.Read(t, "generated/entities/status_message_private.xml"))
	c, _ := Parse(vectors.Read(t, "generated/entities/comment.xml"))
	if !AcceptableOnPublicRoute(base) || AcceptableOnPublicRoute(full) || AcceptableOnPublicRoute(priv) || !AcceptableOnPublicRoute(c) {
		t.Fatal("AcceptableOnPublicRoute")
	}
	if has, _ := Public(c); has {
		t.Fatal("comment has no public property")
	}
	r, _ := Parse(vectors.Read(t, "generated/entities/retraction_comment.xml"))
	if rt := r.(*Retraction); rt.TargetType() != "Comment" || rt.TargetGUID() != "5c241a3029f8013487763131731751e9" {
		t.Fatal(rt)
	}
	rs, _ := Parse(vectors.Read(t, "generated/entities/reshare.xml"))
	if s := rs.(*Reshare); s.RootAuthor() != bob || s.RootGUID() != "a0b53bc029f6013487753131731751e9" {
		t.Fatal(s)
	}
	l, _ := Parse(vectors.Read(t, "generated/entities/like.xml"))
	if l.(Relayable).ParentType() != "Post" || GUIDOf(l) != "947a88f029f7013487753131731751e9" {
		t.Fatal(l)
	}
	pp, _ := Parse(vectors.Read(t, "generated/entities/poll_participation.xml"))
	ep, _ := Parse(vectors.Read(t, "generated/entities/event_participation.xml"))
	if pp.(Relayable).ParentType() != "Poll" || ep.(Relayable).ParentType() != "Event" {
		t.Fatal("parent types")
	}
}

func TestParseTimeZones(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2016-07-12T02:49:06+02:00", "2016-07-12T00:49:06Z"},
		{"2016-07-12 02:49:06 CEST", "2016-07-12T00:49:06Z"},
		{"2016-07-12 02:49:06 UTC", "2016-07-12T02:49:06Z"},
		{"2016-07-11 22:49:06 EDT", "2016-07-12T02:49:06Z"},
		{"2016-07-12 08:19:06 IST", "2016-07-12T02:49:06Z"},
		{"Tue, 12 Jul 2016 02:49:06 +0200", "2016-07-12T00:49:06Z"},
	} {
		got, err := ParseTime(c.in)
		if err != nil || got.Format(TimeLayout) != c.want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := ParseTime("2016-07-12 02:49:06 XYZT"); err == nil {
		t.Error("an unknown zone abbreviation must be refused, not read as UTC")
	}
}

func TestUnknownElementNames(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{{"new_data", true}, {"données", true}, {"x-y.z2", true}, {"2x", false}, {"-x", false}, {"", false}} {
		if validName(c.name) != c.ok {
			t.Errorf("validName(%q) = %v, want %v", c.name, !c.ok, c.ok)
		}
	}
}
