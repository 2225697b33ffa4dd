// Package archivetest builds diaspora* account archives for tests: a
// sample shaped like diaspora*'s own export (lib/diaspora/exporter and
// app/serializers/export of diaspora/diaspora), with its photos zip of
// real images, and a validator that checks a whole archive document
// against the upstream schema the way diaspora* does (one document, no
// streaming), independent of package archive's reader.
//
// It is imported by tests only. It must not import pod or pod/store.
package archivetest

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"seedpod/pod/archive"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
)

// Handle is the sample archive's owner; Username their user name.
const (
	Handle   = "alice@old.example"
	Username = "alice"
)

// People of the sample.
const (
	BobHandle   = "bob@pod-b.example"
	BobGUID     = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
	CarolHandle = "carol@pod-c.example"
	CarolGUID   = "ca20ca20ca20ca20ca20ca20ca20ca20"
	ErinHandle  = "erin@pod-e.example"
	ErinGUID    = "e2140e2140e2140e2140e2140e2140e2"
	// MalloryHandle is blocked but not a contact: others_data's
	// non_contact_authors names her.
	MalloryHandle = "mallory@evil.example"
	MalloryGUID   = "3a110230a110230a110230a110230a11"
	// OscarHandle is blocked and unknown (not even a non-contact author).
	OscarHandle = "oscar@nowhere.example"
	// DaveHandle is a contact without a person_guid.
	DaveHandle = "dave@pod-d.example"
)

// Guids of the sample's fixed posts and interactions.
const (
	PhotoPostGUID   = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
	LimitedPostGUID = "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2"
	TaggedPostGUID  = "a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3"
	ReshareGUID     = "a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4"
	RemotePostGUID  = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0" // someone else's post, unknown to a new pod
	PhotoAGUID      = "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
	PhotoBGUID      = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
	PollGUID        = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	PollAnswerYes   = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
	PollAnswerNo    = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
	CommentGUID     = "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"
	Comment2GUID    = "d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2"
	RemoteCommentG  = "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3" // on RemotePostGUID
	LikeGUID        = "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1"
	CommentLikeGUID = "e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2"
	VoteGUID        = "e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3"
)

// Photo file names in the zip (remote_photo_name) and the avatar's.
const (
	PhotoAName = "5a1e3b0c0ffee0001.png"
	PhotoBName = "5a1e3b0c0ffee0002.png"
	AvatarName = "avatar0001.png"
)

// Sample describes an archive to build; the zero value is the fixed
// sample.
type Sample struct {
	// Key is the owner's key; nil: the 1024-bit key of the vectors
	// (alice_integration_spec).
	Key *rsa.PrivateKey
	// ExtraPosts adds that many plain public posts ("Post number i").
	ExtraPosts int
}

// Key is the sample owner's key: the vectors' 1024-bit alice key.
func Key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := keys.ParsePrivate(vectors.Read(t, "keys/alice_integration_spec_rsa1024.private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var t0 = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// ExtraPostGUID is the guid of the i-th extra post.
func ExtraPostGUID(i int) string { return fmt.Sprintf("e0%030x", i) }

// Build returns the sample's archive JSON (plain) and its photos zip.
func Build(t testing.TB, s Sample) (doc []byte, photos []byte) {
	t.Helper()
	key := s.Key
	if key == nil {
		key = Key(t)
	}
	ent := func(e entity.Entity) json.RawMessage {
		b, err := entity.MarshalJSON(e)
		if err != nil {
			t.Fatalf("archivetest: marshal %s: %v", e.Type(), err)
		}
		return b
	}
	sign := func(r entity.Relayable) entity.Relayable {
		if err := entity.SignAuthor(r, key); err != nil {
			t.Fatal(err)
		}
		return r
	}
	post := func(e entity.Entity, subs map[string]any) json.RawMessage {
		var m map[string]any
		if err := json.Unmarshal(ent(e), &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range subs {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	pods := map[string]any{"subscribed_pods_uris": []string{"https://old.example/", "https://pod-b.example/"}}
	photoOf := func(guid, name string, at time.Time) *entity.Photo {
		return &entity.Photo{ID: guid, AuthorID: Handle, Public: true, CreatedAt: at,
			RemotePhotoPath: "https://old.example/uploads/images/", RemotePhotoName: name,
			StatusMessageGUID: PhotoPostGUID, Width: 8, Height: 6, Text: "a tiny " + name}
	}
	posts := []json.RawMessage{
		post(&entity.StatusMessage{AuthorID: Handle, ID: PhotoPostGUID, CreatedAt: t0, Public: true,
			Text: "Holiday pictures #travel", ProviderDisplayName: "mobile",
			Photos:   []*entity.Photo{photoOf(PhotoAGUID, PhotoAName, t0), photoOf(PhotoBGUID, PhotoBName, t0)},
			Location: &entity.Location{Address: "Vienna, Austria", Lat: "48.208174", Lng: "16.373819"},
			Poll: &entity.Poll{ID: PollGUID, Question: "Nice?", Answers: []*entity.PollAnswer{
				{ID: PollAnswerYes, Answer: "Yes"}, {ID: PollAnswerNo, Answer: "No"}}}}, pods),
		post(&entity.StatusMessage{AuthorID: Handle, ID: LimitedPostGUID, CreatedAt: t0.Add(time.Hour), Public: false,
			Text: "Only for friends"}, map[string]any{"subscribed_users_ids": []string{BobHandle, CarolHandle}}),
		post(&entity.StatusMessage{AuthorID: Handle, ID: TaggedPostGUID, CreatedAt: t0.Add(2 * time.Hour), Public: true,
			Text: "Hello @{Bob; " + BobHandle + "} #golang"}, pods),
		post(&entity.Reshare{AuthorID: Handle, ID: ReshareGUID, CreatedAt: t0.Add(3 * time.Hour),
			RootAuthorID: BobHandle, RootID: RemotePostGUID}, pods),
	}
	for i := range s.ExtraPosts {
		posts = append(posts, post(&entity.StatusMessage{AuthorID: Handle, ID: ExtraPostGUID(i),
			CreatedAt: t0.Add(time.Duration(4+i) * time.Minute), Public: true,
			Text: fmt.Sprintf("Post number %d with some text to index #bulk", i)}, pods))
	}
	relayables := []json.RawMessage{
		ent(sign(&entity.Comment{AuthorID: Handle, ID: CommentGUID, Parent: PhotoPostGUID, Text: "Nice pictures!",
			CreatedAt: t0.Add(10 * time.Minute)})),
		ent(sign(&entity.Comment{AuthorID: Handle, ID: Comment2GUID, Parent: TaggedPostGUID, Text: "Replying to myself",
			CreatedAt: t0.Add(3 * time.Hour)})),
		ent(sign(&entity.Comment{AuthorID: Handle, ID: RemoteCommentG, Parent: RemotePostGUID, Text: "On Bob's post",
			CreatedAt: t0.Add(4 * time.Hour)})),
		ent(sign(&entity.Like{AuthorID: Handle, ID: LikeGUID, Parent: PhotoPostGUID, ParentTypeName: "Post", Positive: true})),
		ent(sign(&entity.Like{AuthorID: Handle, ID: CommentLikeGUID, Parent: CommentGUID, ParentTypeName: "Comment", Positive: true})),
		ent(sign(&entity.PollParticipation{AuthorID: Handle, ID: VoteGUID, Parent: PollGUID, PollAnswerGUID: PollAnswerYes})),
	}
	bobComment := &entity.Comment{AuthorID: BobHandle, ID: "d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9", Parent: PhotoPostGUID,
		Text: "Great!", CreatedAt: t0.Add(time.Hour)}
	bobComment.Signature = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 128))
	profile := &entity.Profile{AuthorID: Handle, FirstName: "Alice", LastName: "Old", Bio: "I take pictures.",
		Birthday: "1990-05-17", Gender: "woman", Location: "Vienna", Searchable: true, Public: true,
		TagString: "#photography #go", ImageURL: "https://old.example/uploads/images/thumb_large_" + AvatarName}
	contacts := []map[string]any{
		{"sharing": true, "receiving": true, "following": true, "followed": true, "account_id": BobHandle,
			"person_guid": BobGUID, "person_name": "Bob Builder", "contact_groups_membership": []string{"Friends", "Book club"},
			"public_key": string(keys.MarshalPublic(&key.PublicKey))},
		{"sharing": false, "receiving": true, "following": false, "followed": true, "account_id": CarolHandle,
			"person_guid": CarolGUID, "person_name": "Carol", "contact_groups_membership": []string{"Work"}},
		{"sharing": true, "receiving": false, "following": true, "followed": false, "account_id": ErinHandle,
			"person_guid": ErinGUID, "person_name": "Erin", "contact_groups_membership": []string{}},
		{"sharing": true, "receiving": true, "following": true, "followed": true, "account_id": DaveHandle,
			"person_name": "Dave", "contact_groups_membership": []string{"Friends"}},
	}
	user := map[string]any{
		"username":                           Username,
		"email":                              "alice@mail.example",
		"language":                           "en",
		"private_key":                        string(keys.MarshalPrivate(key)),
		"disable_mail":                       false,
		"show_community_spotlight_in_stream": true,
		"auto_follow_back":                   false,
		"auto_follow_back_aspect":            nil,
		"strip_exif":                         true,
		"profile":                            ent(profile),
		"contact_groups": []map[string]string{{"name": "Family"}, {"name": "Friends"}, {"name": "Work"},
			{"name": "Acquaintances"}, {"name": "Book club"}},
		"contacts":           contacts,
		"posts":              posts,
		"relayables":         relayables,
		"followed_tags":      []string{"photography", "golang"},
		"post_subscriptions": []string{TaggedPostGUID},
		"blocks":             []string{ErinHandle, MalloryHandle, OscarHandle},
	}
	doc, err := json.MarshalIndent(map[string]any{
		"version": archive.Version,
		"user":    user,
		"others_data": map[string]any{"relayables": []json.RawMessage{ent(bobComment)},
			"non_contact_authors": []map[string]string{{"account_id": MalloryHandle, "guid": MalloryGUID, "public_key": ""}}},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return doc, Zip(t, map[string][]byte{PhotoAName: PNG(t, 8, 6, 1), PhotoBName: PNG(t, 8, 6, 2), AvatarName: PNG(t, 8, 8, 3)})
}

// PNG is a small real image, its colour picked by seed.
func PNG(t testing.TB, w, h int, seed uint8) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{R: seed * 40, G: uint8(x * 20), B: uint8(y * 30), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Zip makes a zip of the named files (deflated), in name order.
func Zip(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		w, err := z.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Gzip compresses b.
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	z := gzip.NewWriter(&out)
	if _, err := z.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Validate checks a whole archive document (plain JSON) against the
// upstream schema in one piece, as diaspora*'s ArchiveValidator does:
// archive-format.json from the vectors, federation_entities.json as
// package archive embeds it. It returns the validator's error.
func Validate(t testing.TB, doc []byte) error {
	t.Helper()
	c := jsonschema.NewCompiler()
	for url, b := range map[string][]byte{
		"https://diaspora.github.io/diaspora/schemas/archive_format.json":                 vectors.Read(t, "upstream_other/diaspora_schemas/archive-format.json"),
		"https://diaspora.github.io/diaspora_federation/schemas/federation_entities.json": archive.EntitiesSchemaJSON(),
	} {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(url, v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("https://diaspora.github.io/diaspora/schemas/archive_format.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(v)
}
