package pod

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/archive"
	"seedpod/pod/archive/archivetest"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
	"seedpod/pod/store"
)

// exportAll exports the archive (returned as plain JSON, after checking
// it is gzip) and the photos zip, and checks the archive against the
// whole upstream schema.
func exportAll(t *testing.T, p *Pod) (doc, photos []byte, rep ExportReport) {
	t.Helper()
	ctx := context.Background()
	var gz, z bytes.Buffer
	var last Progress
	rep, err := p.ExportArchive(ctx, &gz, func(pr Progress) { last = pr })
	if err != nil {
		t.Fatal(err)
	}
	if last.Phase != PhaseExport || last.Done != last.Total || last.Total == 0 {
		t.Errorf("last progress %+v", last)
	}
	zr, err := gzip.NewReader(&gz)
	if err != nil {
		t.Fatalf("the archive is not gzip: %v", err)
	}
	if doc, err = io.ReadAll(zr); err != nil {
		t.Fatal(err)
	}
	if err := archivetest.Validate(t, doc); err != nil {
		t.Fatalf("the exported archive is not schema-valid: %v\n%s", err, doc)
	}
	if _, err := p.ExportPhotos(ctx, &z, nil); err != nil {
		t.Fatal(err)
	}
	return doc, z.Bytes(), rep
}

// An archive built to the schema (with photos) imports completely,
// exports to a schema-valid archive and photos zip, and those import into
// a fresh pod to the same state; its export imports again to the same.
func TestExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := openTestPod(t)
	importSample(t, a, archivetest.Sample{ExtraPosts: 3})
	doc, photos, rep := exportAll(t, a)
	if rep.Posts != 6 || rep.Photos != 2 || rep.Comments != 2 || rep.Likes != 2 || rep.Votes != 1 || rep.Contacts != 2 || rep.Skipped != 0 {
		t.Errorf("export report %+v", rep)
	}
	// The zip holds what the archive names, and the avatar.
	ar, err := archive.NewReader(archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ar.Read(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	zp, err := archive.OpenPhotos(bytes.NewReader(photos), int64(len(photos)), archive.PhotoLimits{})
	if err != nil {
		t.Fatal(err)
	}
	names := parsed.PhotoNames()
	names = append(names, archiveAvatarName(parsed.User.Profile.ImageURL))
	slices.Sort(names)
	if got := zp.Names(); !slices.Equal(got, names) {
		t.Errorf("zip %v, archive names %v", got, names)
	}

	b := openTestPod(t)
	brep, err := b.ImportArchive(ctx, bytes.NewReader(doc), bytes.NewReader(photos), int64(len(photos)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if brep.Skipped != 0 {
		t.Errorf("importing the export left things out: %q", brep.Warnings)
	}
	if sa, sb := podState(t, a), podState(t, b); sa != sb {
		t.Fatalf("state after the round trip differs:\n%s\n----\n%s", sa, sb)
	}
	if prev, _ := store.Field(ctx, b.DB().R, PreviousIDKey); prev != "alice@localhost" {
		t.Errorf("previous id %q", prev)
	}
	// And once more.
	doc2, photos2, _ := exportAll(t, b)
	c := openTestPod(t)
	if _, err := c.ImportArchive(ctx, bytes.NewReader(doc2), bytes.NewReader(photos2), int64(len(photos2)), nil); err != nil {
		t.Fatal(err)
	}
	if sa, sc := podState(t, a), podState(t, c); sa != sc {
		t.Fatalf("state after two round trips differs:\n%s\n----\n%s", sa, sc)
	}
}

// waitKey waits for the background key generation.
func waitKey(t *testing.T, p *Pod) {
	t.Helper()
	for range 600 {
		id, err := p.Identity(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if id.Key.State == "ready" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the identity key did not appear")
}

// A pod's own content (made through the use cases, not imported) exports
// to a schema-valid archive that a fresh pod imports to the same state;
// what concerns someone else's post comes along once that pod has the
// post too.
func TestExportNativePod(t *testing.T) {
	ctx := context.Background()
	a := openTestPodClock(t, stepClock())
	if _, err := a.CreateIdentity(ctx, "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	waitKey(t, a)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	bobKey, err := keys.ParsePrivate(vectors.Read(t, "keys/bob_generated_rsa2048.private.pem"))
	must(err)
	must(a.AddPerson(ctx, store.PersonRecord{GUID: archivetest.BobGUID, DiasporaID: archivetest.BobHandle, FirstName: "Bob",
		PublicKey: string(keys.MarshalPublic(&bobKey.PublicKey))}))
	must(a.AddPerson(ctx, store.PersonRecord{GUID: archivetest.MalloryGUID, DiasporaID: archivetest.MalloryHandle, FirstName: "Mallory"}))
	book, err := a.CreateAspect(ctx, "Book club")
	must(err)
	must(a.AddToAspect(ctx, book.ID, archivetest.BobGUID))
	must(a.AddToAspect(ctx, 2, archivetest.BobGUID))
	must(a.Block(ctx, archivetest.MalloryGUID))
	must(a.FollowTag(ctx, "#Gardening"))
	bio, loc, bday := "Gardens and code", "Graz", "1985-02-03"
	_, err = a.UpdateProfile(ctx, ProfileUpdate{Bio: &bio, Location: &loc, Birthday: &bday, Tags: &[]string{"garden"}})
	must(err)
	_, err = a.UploadPhoto(ctx, PhotoUpload{Image: bytes.NewReader(archivetest.PNG(t, 12, 9, 4)), Filename: "me.png",
		ContentType: "image/png", SetProfilePhoto: true})
	must(err)
	ph, err := a.UploadPhoto(ctx, PhotoUpload{Image: bytes.NewReader(archivetest.PNG(t, 20, 10, 5)), Filename: "p.png",
		ContentType: "image/png", Pending: true, Alt: "a red square"})
	must(err)
	pub := apiv1.Bool(true)
	lat, lng := Coordinate(47.07), Coordinate(15.44)
	post, err := a.CreatePost(ctx, PostInput{Body: "My garden #garden", Public: &pub, Photos: []string{ph.GUID},
		Poll:     &PollInput{Question: "Tomatoes?", Answers: []string{"Red", "Yellow", "Green"}},
		Location: &LocationInput{Address: "Graz", Lat: &lat, Lng: &lng}})
	must(err)
	priv := apiv1.Bool(false)
	limited, err := a.CreatePost(ctx, PostInput{Body: "Book club only", Public: &priv, Aspects: AspectIDList{book.ID}})
	must(err)
	newBody := "My garden, edited #garden"
	_, err = a.EditPost(ctx, post.GUID, PostEdit{Body: &newBody})
	must(err)
	c, err := a.AddComment(ctx, post.GUID, "First!")
	must(err)
	must(a.Like(ctx, post.GUID, ""))
	must(a.Like(ctx, post.GUID, c.GUID))
	must(a.Vote(ctx, post.GUID, 2))
	// Someone else's post, received, and what the user did with it.
	bobPost, err := entity.Marshal(&entity.StatusMessage{AuthorID: archivetest.BobHandle, ID: archivetest.RemotePostGUID,
		CreatedAt: time.Now().UTC().Truncate(time.Second), Public: true, Text: "Bob's public post"})
	must(err)
	must(a.Receive(ctx, bobPost))
	_, err = a.Reshare(ctx, archivetest.RemotePostGUID)
	must(err)
	_, err = a.AddComment(ctx, archivetest.RemotePostGUID, "Nice one, Bob")
	must(err)
	must(a.Like(ctx, archivetest.RemotePostGUID, ""))

	doc, photos, rep := exportAll(t, a)
	if rep.Posts != 3 || rep.Photos != 1 || rep.Comments != 2 || rep.Likes != 3 || rep.Votes != 1 || rep.Skipped != 0 {
		t.Errorf("export report %+v %q", rep, rep.Warnings)
	}
	if !bytes.Contains(doc, []byte(`"edited_at"`)) || !bytes.Contains(doc, []byte(`"subscribed_users_ids":["`+archivetest.BobHandle+`"]`)) ||
		!bytes.Contains(doc, []byte(`"non_contact_authors"`)) || !bytes.Contains(doc, []byte(`"author_signature":"`)) {
		t.Errorf("archive lacks an expected part:\n%s", doc)
	}

	b := openTestPod(t)
	must(b.Receive(ctx, bobPost)) // federation brought Bob's post here too
	brep, err := b.ImportArchive(ctx, bytes.NewReader(doc), bytes.NewReader(photos), int64(len(photos)), nil)
	must(err)
	if brep.Skipped != 0 || brep.Posts != 3 || brep.Comments != 2 || brep.Likes != 3 || brep.Votes != 1 || brep.Blocks != 1 {
		t.Errorf("import report %+v", brep)
	}
	if sa, sb := podState(t, a), podState(t, b); sa != sb {
		t.Fatalf("state differs:\n%s\n----\n%s", sa, sb)
	}
	// The edit is kept as an edit: same time, same text.
	pa, err := a.Post(ctx, post.GUID)
	must(err)
	pb, err := b.Post(ctx, post.GUID)
	must(err)
	if pb.Seedpod == nil || pb.Seedpod.EditedAt == nil || pa.Seedpod.EditedAt.Unix() != pb.Seedpod.EditedAt.Unix() || pb.Body != newBody {
		t.Errorf("edited post %+v", pb.Seedpod)
	}
	if row, ok, _ := store.PostByGUID(ctx, b.DB().R, limited.GUID); !ok || strings.Join(row.Recipients, ",") != archivetest.BobGUID {
		t.Errorf("limited post %+v", row)
	}
}

// An export reads one snapshot: posts written while it runs are not in
// it, and it is whole.
func TestExportSnapshotWhileWriting(t *testing.T) {
	ctx := context.Background()
	p := openTestPod(t)
	importSample(t, p, archivetest.Sample{ExtraPosts: 250})
	pub := apiv1.Bool(true)
	var gz bytes.Buffer
	wrote := 0
	_, err := p.ExportArchive(ctx, &gz, func(pr Progress) {
		if pr.Done > 0 && pr.Done < pr.Total && wrote < 3 {
			if _, err := p.CreatePost(ctx, PostInput{Body: "written during the export", Public: &pub}); err != nil {
				t.Error(err)
			}
			wrote++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if wrote == 0 {
		t.Fatal("no write happened during the export")
	}
	zr, err := gzip.NewReader(&gz)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(zr)
	if bytes.Contains(doc, []byte("written during the export")) {
		t.Error("the export holds a post written after it began")
	}
	var m struct {
		User struct {
			Posts []json.RawMessage `json:"posts"`
		} `json:"user"`
	}
	if err := json.Unmarshal(doc, &m); err != nil || len(m.User.Posts) != 253 {
		t.Fatalf("%d posts, %v", len(m.User.Posts), err)
	}
}

func TestExportNeedsIdentity(t *testing.T) {
	p := openTestPod(t)
	if _, err := p.ExportArchive(context.Background(), io.Discard, nil); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("export without identity: %v", err)
	}
	if _, err := p.ExportPhotos(context.Background(), io.Discard, nil); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("photos export without identity: %v", err)
	}
}
