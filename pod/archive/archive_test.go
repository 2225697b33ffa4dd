package archive_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"seedpod/pod/archive"
	"seedpod/pod/archive/archivetest"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/internal/vectors"
)

var (
	readerOnce sync.Once
	reader     *archive.Reader
	readerErr  error
)

// defaultReader is one reader for the test binary (compiling the schemas
// takes a few milliseconds).
func defaultReader(t testing.TB) *archive.Reader {
	t.Helper()
	readerOnce.Do(func() { reader, readerErr = archive.NewReader(archive.Limits{}) })
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	return reader
}

// The embedded schema is the upstream file of the vectors, byte for byte.
func TestSchemaIsUpstream(t *testing.T) {
	if !bytes.Equal(archive.SchemaJSON(), vectors.Read(t, "upstream_other/diaspora_schemas/archive-format.json")) {
		t.Fatal("schemas/archive-format.json differs from the vectors' copy of diaspora's lib/schemas/archive-format.json")
	}
}

// The sample is a valid archive by the whole-document validation, so the
// reader's streaming validation is checked against an independent one.
func TestSampleIsSchemaValid(t *testing.T) {
	doc, _ := archivetest.Build(t, archivetest.Sample{ExtraPosts: 3})
	if err := archivetest.Validate(t, doc); err != nil {
		t.Fatalf("sample archive does not validate: %v", err)
	}
}

func TestReadSample(t *testing.T) {
	doc, _ := archivetest.Build(t, archivetest.Sample{ExtraPosts: 2})
	for name, in := range map[string][]byte{"plain": doc, "gzip": archivetest.Gzip(t, doc)} {
		t.Run(name, func(t *testing.T) {
			a, err := defaultReader(t).Read(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			u := a.User
			if a.Version != "2.0" || u.Username != archivetest.Username || u.Handle != archivetest.Handle || u.Email != "alice@mail.example" {
				t.Errorf("header: %+v %q %q %q", a.Version, u.Username, u.Handle, u.Email)
			}
			if u.Key == nil || u.Key.N.Cmp(archivetest.Key(t).N) != 0 {
				t.Error("private key not read")
			}
			if u.Profile == nil || u.Profile.FirstName != "Alice" || u.Profile.Bio != "I take pictures." {
				t.Errorf("profile: %+v", u.Profile)
			}
			if got := strings.Join(u.ContactGroups, ","); got != "Family,Friends,Work,Acquaintances,Book club" {
				t.Errorf("groups %s", got)
			}
			if len(u.Contacts) != 4 || u.Contacts[0].Handle != archivetest.BobHandle || u.Contacts[0].GUID != archivetest.BobGUID ||
				strings.Join(u.Contacts[0].Aspects, ",") != "Friends,Book club" || u.Contacts[3].GUID != "" {
				t.Errorf("contacts %+v", u.Contacts)
			}
			if len(u.Posts) != 6 {
				t.Fatalf("%d posts", len(u.Posts))
			}
			sm, ok := u.Posts[0].Entity.(*entity.StatusMessage)
			if !ok || len(sm.Photos) != 2 || sm.Poll == nil || sm.Location == nil || len(u.Posts[0].SubscribedPods) != 2 {
				t.Errorf("photo post %+v", u.Posts[0])
			}
			if got := strings.Join(u.Posts[1].SubscribedUsers, ","); got != archivetest.BobHandle+","+archivetest.CarolHandle {
				t.Errorf("limited post subscribers %s", got)
			}
			if _, ok := u.Posts[3].Entity.(*entity.Reshare); !ok {
				t.Errorf("post 3 is %T", u.Posts[3].Entity)
			}
			if len(u.Relayables) != 6 {
				t.Errorf("%d relayables", len(u.Relayables))
			}
			if strings.Join(u.FollowedTags, ",") != "photography,golang" ||
				strings.Join(u.Blocks, ",") != archivetest.ErinHandle+","+archivetest.MalloryHandle+","+archivetest.OscarHandle {
				t.Errorf("tags %v blocks %v", u.FollowedTags, u.Blocks)
			}
			if len(a.NonContactAuthors) != 1 || a.NonContactAuthors[0] != (archive.Person{Handle: archivetest.MalloryHandle, GUID: archivetest.MalloryGUID}) {
				t.Errorf("non-contact authors %+v", a.NonContactAuthors)
			}
			if a.Others != 1 || a.Skipped != 0 || len(a.Warnings) != 0 {
				t.Errorf("others %d skipped %d warnings %v", a.Others, a.Skipped, a.Warnings)
			}
			if got := strings.Join(a.PhotoNames(), ","); got != archivetest.PhotoAName+","+archivetest.PhotoBName {
				t.Errorf("photo names %s", got)
			}
		})
	}
}

// mutate decodes the sample, lets fn change it and encodes it again.
func mutate(t *testing.T, fn func(doc map[string]any)) []byte {
	t.Helper()
	doc, _ := archivetest.Build(t, archivetest.Sample{})
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func user(m map[string]any) map[string]any { return m["user"].(map[string]any) }

// gzipOf compresses n bytes of b repeated.
func gzipOf(t *testing.T, prefix string, fill byte, n int, suffix string) []byte {
	t.Helper()
	var out bytes.Buffer
	z, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	z.Write([]byte(prefix))
	chunk := bytes.Repeat([]byte{fill}, 64<<10)
	for n > 0 {
		k := min(n, len(chunk))
		z.Write(chunk[:k])
		n -= k
	}
	z.Write([]byte(suffix))
	z.Close()
	return out.Bytes()
}

// Hostile and malformed archives are refused with a clear error of the
// right kind; the reader only reads, so nothing else can change.
func TestReadRefuses(t *testing.T) {
	small, err := archive.NewReader(archive.Limits{MaxJSON: 1 << 20, MaxInput: 512 << 10, MaxItems: 10, MaxItemBytes: 64 << 10, MaxOther: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	deep := `{"version":"2.0","user":{"posts":[` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `]}}`
	cases := []struct {
		name string
		rd   *archive.Reader
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, nil, archive.ErrMalformed, "unexpected EOF"},
		{"not json", nil, []byte("hello"), archive.ErrMalformed, "archive"},
		{"array", nil, []byte("[]"), archive.ErrMalformed, "not a JSON object"},
		{"broken gzip", nil, []byte{0x1f, 0x8b, 1, 2, 3}, archive.ErrMalformed, "gzip"},
		{"gzip bomb", small, gzipOf(t, `{"version":"2.0","user":{"email":"`, 'a', 8<<20, `"}}`), archive.ErrTooLarge, "after decompression"},
		{"input too large", small, append([]byte(`{"version":"2.0","x":"`), bytes.Repeat([]byte("a"), 600<<10)...), archive.ErrTooLarge, "archive file"},
		{"trailing data", nil, append(mutate(t, func(map[string]any) {}), []byte(" {}")...), archive.ErrMalformed, "data after"},
		{"duplicate key", nil, []byte(`{"version":"2.0","version":"2.0"}`), archive.ErrMalformed, "appears twice"},
		{"deep item", nil, []byte(deep), archive.ErrMalformed, "nested deeper"},
		{"huge item", small, []byte(`{"version":"2.0","user":{"followed_tags":["` + strings.Repeat("x", 70<<10) + `"]}}`), archive.ErrTooLarge, "user.followed_tags[0]"},
		{"too many items", small, []byte(`{"version":"2.0","user":{"blocks":[` + strings.TrimSuffix(strings.Repeat(`"a@b.c",`, 11), ",") + `]}}`), archive.ErrTooLarge, "more than 10 items"},
		{"huge settings", small, []byte(`{"version":"2.0","user":{"email":"` + strings.Repeat("x", 70<<10) + `"}}`), archive.ErrTooLarge, "settings and profile"},
		{"wrong version", nil, mutate(t, func(m map[string]any) { m["version"] = "1.0" }), archive.ErrMalformed, "schema"},
		{"no user", nil, []byte(`{"version":"2.0"}`), archive.ErrMalformed, "schema"},
		{"user not an object", nil, []byte(`{"version":"2.0","user":[]}`), archive.ErrMalformed, "user must be a JSON object"},
		{"posts not an array", nil, mutate(t, func(m map[string]any) { user(m)["posts"] = map[string]any{} }), archive.ErrMalformed, "user.posts must be an array"},
		{"no private key", nil, mutate(t, func(m map[string]any) { delete(user(m), "private_key") }), archive.ErrMalformed, "schema"},
		{"bad private key", nil, mutate(t, func(m map[string]any) {
			user(m)["private_key"] = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
		}), archive.ErrMalformed, "private_key"},
		{"post without guid", nil, mutate(t, func(m map[string]any) {
			p := user(m)["posts"].([]any)[0].(map[string]any)
			delete(p["entity_data"].(map[string]any), "guid")
		}), archive.ErrMalformed, "user.posts[0] does not match the archive schema"},
		{"public post without pods", nil, mutate(t, func(m map[string]any) {
			delete(user(m)["posts"].([]any)[0].(map[string]any), "subscribed_pods_uris")
		}), archive.ErrMalformed, "user.posts[0]"},
		{"contact without account", nil, mutate(t, func(m map[string]any) {
			delete(user(m)["contacts"].([]any)[0].(map[string]any), "account_id")
		}), archive.ErrMalformed, "user.contacts[0]"},
		{"profile author not an id", nil, mutate(t, func(m map[string]any) {
			user(m)["profile"].(map[string]any)["entity_data"].(map[string]any)["author"] = "not an id"
		}), archive.ErrMalformed, "author is not a diaspora* ID"},
		{"others data bad", nil, mutate(t, func(m map[string]any) {
			m["others_data"] = map[string]any{"relayables": []any{map[string]any{"entity_type": "comment"}}}
		}), archive.ErrMalformed, "others_data.relayables[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rd := c.rd
			if rd == nil {
				rd = defaultReader(t)
			}
			a, err := rd.Read(bytes.NewReader(c.in))
			if err == nil {
				t.Fatalf("accepted: %+v", a)
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want %v containing %q", err, c.want, c.msg)
			}
		})
	}
}

// Items the schema accepts but the entity rules or the owner rule do not
// are left out with a warning; the rest is read.
func TestReadLeavesOutUnusable(t *testing.T) {
	doc := mutate(t, func(m map[string]any) {
		u := user(m)
		posts := u["posts"].([]any)
		other := map[string]any{"entity_type": "status_message", "subscribed_pods_uris": []any{},
			"entity_data": map[string]any{"author": "bob@pod-b.example", "guid": "9999999999999999999999999999", "created_at": "2020-01-01T00:00:00Z", "public": true, "text": "not mine"}}
		badTime := map[string]any{"entity_type": "status_message", "subscribed_pods_uris": []any{},
			"entity_data": map[string]any{"author": archivetest.Handle, "guid": "8888888888888888888888888888", "created_at": "yesterday-ish", "public": true, "text": "bad time"}}
		u["posts"] = append(posts, other, badTime, posts[0])
		u["blocks"] = []any{"not an id"}
		u["contact_groups"] = append(u["contact_groups"].([]any), map[string]any{"name": "  "})
		prof := u["profile"].(map[string]any)["entity_data"].(map[string]any)
		prof["first_name"] = strings.Repeat("x", 40) // over the entity's 32
	})
	a, err := defaultReader(t).Read(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.User.Posts) != 4 || a.User.Profile != nil || a.User.Handle != archivetest.Handle || len(a.User.Blocks) != 0 || len(a.User.ContactGroups) != 5 {
		t.Fatalf("posts %d profile %v handle %s blocks %v groups %v", len(a.User.Posts), a.User.Profile, a.User.Handle, a.User.Blocks, a.User.ContactGroups)
	}
	if a.Skipped != 6 || len(a.Warnings) != 6 {
		t.Fatalf("skipped %d: %q", a.Skipped, a.Warnings)
	}
	all := strings.Join(a.Warnings, "\n")
	for _, w := range []string{"not the archive's owner", "unparsable timestamp", "appears twice", "user.blocks[0]", "aspect name", "user.profile left out"} {
		if !strings.Contains(all, w) {
			t.Errorf("no warning about %q in\n%s", w, all)
		}
	}
}

// The writer's output validates against the whole upstream schema and
// reads back to the same data.
func TestWriteRoundTrip(t *testing.T) {
	doc, _ := archivetest.Build(t, archivetest.Sample{ExtraPosts: 2})
	a, err := defaultReader(t).Read(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := archive.NewWriter(&out)
	u := a.User
	if err := w.Begin(archive.Header{Username: u.Username, Email: u.Email, Language: u.Language, Key: u.Key, Profile: u.Profile,
		ContactGroups: u.ContactGroups, Contacts: u.Contacts, FollowedTags: u.FollowedTags,
		PostSubscriptions: u.PostSubscriptions, Blocks: u.Blocks, NonContactAuthors: a.NonContactAuthors}); err != nil {
		t.Fatal(err)
	}
	for _, p := range u.Posts {
		if err := w.Post(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range u.Relayables {
		if err := w.Relayable(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := archivetest.Validate(t, out.Bytes()); err != nil {
		t.Fatalf("written archive is not schema-valid: %v\n%s", err, out.Bytes())
	}
	// diaspora*'s importer needs entity_data.photos on every status message.
	if n := bytes.Count(out.Bytes(), []byte(`"entity_data":{"photos":[],`)); n != 4 {
		t.Errorf("%d status messages without photos carry an empty photos list, want 4", n)
	}
	b, err := defaultReader(t).Read(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	dump := func(a *archive.Archive) string {
		var s strings.Builder
		u := a.User
		fmt.Fprintln(&s, u.Username, u.Email, u.Handle, u.Key.N, u.ContactGroups, u.FollowedTags, u.Blocks, u.PostSubscriptions,
			a.NonContactAuthors)
		p, _ := entity.MarshalJSON(u.Profile)
		s.Write(p)
		for _, c := range u.Contacts {
			fmt.Fprintf(&s, "%+v\n", c)
		}
		for _, p := range u.Posts {
			e, _ := entity.MarshalJSON(p.Entity)
			fmt.Fprintf(&s, "%s %v %v\n", e, p.SubscribedPods, p.SubscribedUsers)
		}
		for _, r := range u.Relayables {
			e, _ := entity.MarshalJSON(r)
			s.Write(e)
		}
		return s.String()
	}
	if x, y := dump(a), dump(b); x != y {
		t.Fatalf("round trip differs:\n%s\n----\n%s", x, y)
	}
}

// A writer with no posts or relayables still writes a valid archive.
func TestWriteEmpty(t *testing.T) {
	a, err := defaultReader(t).Read(bytes.NewReader(mutate(t, func(m map[string]any) {})))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := archive.NewWriter(&out)
	if err := w.Begin(archive.Header{Username: "x", Key: a.User.Key, Profile: a.User.Profile}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := archivetest.Validate(t, out.Bytes()); err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes())
	}
	if _, err := defaultReader(t).Read(&out); err != nil {
		t.Fatal(err)
	}
}

// errReader fails after its data: a broken upload.
type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestReadBrokenInput(t *testing.T) {
	doc, _ := archivetest.Build(t, archivetest.Sample{})
	_, err := defaultReader(t).Read(errReader{bytes.NewReader(doc[:len(doc)/2])})
	if !errors.Is(err, archive.ErrMalformed) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("error %v", err)
	}
}

// The embedded federation_entities.json accepts the reference's own
// archive JSON of entities (the generated vectors), and refuses a broken
// one: the copy is whole and the validator reads it offline.
func TestEntitiesSchemaAcceptsVectors(t *testing.T) {
	c := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(archive.EntitiesSchemaJSON()))
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://diaspora.github.io/diaspora_federation/schemas/federation_entities.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	for file, def := range map[string]string{"generated/entities/comment.json": "comment", "generated/entities/status_message_full.json": "status_message"} {
		s, err := c.Compile(url + "#/definitions/" + def)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(vectors.Read(t, file)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s: %v", file, err)
		}
		delete(v.(map[string]any)["entity_data"].(map[string]any), "guid")
		if s.Validate(v) == nil {
			t.Errorf("%s without its guid still validates", file)
		}
	}
}
