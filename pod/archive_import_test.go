package pod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/archive/archivetest"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
	"seedpod/pod/store"
)

// openTestPod opens a pod in a temp dir (1024-bit keys: fast).
func openTestPod(t testing.TB) *Pod { return openTestPodClock(t, nil) }

// openTestPodClock opens a pod with a clock (nil: time.Now).
func openTestPodClock(t testing.TB, now func() time.Time) *Pod {
	t.Helper()
	p, err := Open(context.Background(), Config{DataDir: filepath.Join(t.TempDir(), "data"), KeyBits: 1024, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// stepClock is a clock that moves a second on every reading, so that
// every change of a test has its own second (archive times are whole
// seconds).
func stepClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

// importSample imports a sample archive (gzip) with its photos zip.
func importSample(t testing.TB, p *Pod, s archivetest.Sample) ImportReport {
	t.Helper()
	doc, photos := archivetest.Build(t, s)
	rep, err := p.ImportArchive(context.Background(), bytes.NewReader(archivetest.Gzip(t, doc)), bytes.NewReader(photos), int64(len(photos)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func countOps(t testing.TB, p *Pod) int {
	t.Helper()
	var n int
	if err := p.DB().R.QueryRow("SELECT count(*) FROM ops").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// podState dumps what an archive carries, from the API's profile and the
// projection tables: two pods that hold the same account print the same.
// Left out is what the format does not carry: the person guid of the
// identity (a new pod makes its own), people's keys (discovery pins them),
// milliseconds (archive times are whole seconds), the times of likes and
// votes, the blobs' hashes (pictures are re-encoded), photos not attached
// to a post.
func podState(t testing.TB, p *Pod) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	q := func(title, query string) {
		rows, err := p.DB().R.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", title, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		fmt.Fprintf(&sb, "# %s\n", title)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b)
				}
			}
			fmt.Fprintln(&sb, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	switch prof, err := p.OwnProfile(ctx); {
	case errors.Is(err, ErrNoIdentity):
		sb.WriteString("# no identity\n")
	case err != nil:
		t.Fatal(err)
	default:
		hasAvatar := prof.Avatar != nil
		prof.GUID, prof.Avatar = "", nil
		b, _ := json.Marshal(prof)
		fmt.Fprintf(&sb, "# profile\n%s avatar:%v\n", b, hasAvatar)
	}
	q("username", `SELECT value FROM st_fields WHERE key = 'identity/username'`)
	q("aspects", `SELECT name, ord FROM aspects ORDER BY ord`)
	q("people", `SELECT guid, handle, first_name FROM people ORDER BY handle`)
	q("contacts", `SELECT p.handle, c.receiving, c.sharing, (SELECT group_concat(name, ',') FROM (SELECT a.name FROM aspects a
		JOIN st_set_adds s ON s.name = 'aspect/' || a.id AND s.member = c.person_guid AND s.live = 1 ORDER BY a.name))
		FROM contacts c JOIN people p ON p.guid = c.person_guid ORDER BY p.handle`)
	q("posts", `SELECT guid, own, post_type, root_guid, public, text, created_at / 1000, edited_at / 1000, provider,
		json_array_length(photos), poll, location, recipients FROM posts ORDER BY created_at / 1000, guid`)
	q("photos", `SELECT guid, own, post_guid, public, pending, created_at / 1000, width, height, alt FROM photos
		WHERE post_guid <> '' ORDER BY guid`)
	q("comments", `SELECT guid, post_guid, own, text, created_at / 1000 FROM comments ORDER BY guid`)
	q("likes", `SELECT guid, target_guid, target_type, own, positive FROM likes ORDER BY guid`)
	q("votes", `SELECT guid, post_guid, poll_guid, answer_id, own FROM poll_votes ORDER BY guid`)
	q("tags", `SELECT member FROM st_set_adds WHERE name = 'tags' AND live = 1 ORDER BY member`)
	q("blocks", `SELECT p.handle FROM st_set_adds s JOIN people p ON p.guid = s.member WHERE s.name = 'blocks' AND s.live = 1 ORDER BY 1`)
	q("subscribed", `SELECT member FROM st_set_adds WHERE name = 'subscribed' AND live = 1 ORDER BY member`)
	q("notifications", `SELECT count(*) FROM notifications`)
	return sb.String()
}

func TestImportArchive(t *testing.T) {
	ctx := context.Background()
	p := openTestPod(t)
	var phases []string
	doc, photos := archivetest.Build(t, archivetest.Sample{ExtraPosts: 3})
	rep, err := p.ImportArchive(ctx, bytes.NewReader(archivetest.Gzip(t, doc)), bytes.NewReader(photos), int64(len(photos)),
		func(pr Progress) {
			if len(phases) == 0 || phases[len(phases)-1] != pr.Phase {
				phases = append(phases, pr.Phase)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(phases, ","); got != "read,photos,write" {
		t.Errorf("progress phases %s", got)
	}
	want := ImportReport{Identity: "alice@localhost", PreviousID: archivetest.Handle, NewIdentity: true, Aspects: 5,
		Contacts: 3, Posts: 6, Photos: 2, Comments: 2, Likes: 2, Votes: 1, Tags: 2, Blocks: 2, People: 4}
	got := rep
	got.Warnings, got.Skipped, got.Ops, got.Unchanged = nil, 0, 0, 0
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("report\n got %+v\nwant %+v", got, want)
	}
	// Left out, each with a warning: dave (no guid), oscar's block
	// (unknown), the reshare and the comment on Bob's post (their post is
	// not here).
	all := strings.Join(rep.Warnings, "\n")
	for _, w := range []string{archivetest.DaveHandle, archivetest.OscarHandle, "reshare " + archivetest.ReshareGUID,
		"comment " + archivetest.RemoteCommentG} {
		if !strings.Contains(all, w) {
			t.Errorf("no warning about %s in\n%s", w, all)
		}
	}
	if rep.Skipped != 4 || len(rep.Warnings) != 4 {
		t.Errorf("skipped %d, warnings %q", rep.Skipped, rep.Warnings)
	}

	// The identity, with the archive's key.
	id, err := p.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.IdentityKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Exists || id.Username != archivetest.Username || id.Key.State != "ready" || !key.PublicKey.Equal(&archivetest.Key(t).PublicKey) {
		t.Errorf("identity %+v", id)
	}
	if prev, _ := store.Field(ctx, p.DB().R, PreviousIDKey); prev != archivetest.Handle {
		t.Errorf("previous id %q", prev)
	}
	prof, err := p.OwnProfile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if prof.Name != "Alice Old" || prof.Bio != "I take pictures." || prof.Location != "Vienna" || prof.Gender == nil ||
		*prof.Gender != "woman" || prof.Birthday.String() != "1990-05-17" ||
		strings.Join(prof.Tags, ",") != "photography,go" || prof.Avatar == nil || !prof.Searchable || !prof.ShowProfileInfo {
		t.Errorf("profile %+v", prof)
	}

	// Aspects in order, the seeded names with the seeded ids.
	as, _, err := p.Aspects(ctx, apiv1.IndexPage{Page: 1, PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, a := range as {
		names = append(names, a.Name)
		if i < 4 && a.ID != int64(i+1) || i == 4 && a.ID < firstNewAspectID {
			t.Errorf("aspect %s has id %d", a.Name, a.ID)
		}
	}
	if strings.Join(names, ",") != "Family,Friends,Work,Acquaintances,Book club" {
		t.Errorf("aspects %v", names)
	}

	// Contacts with their aspects; erin is blocked and in none; bob's key
	// is left to discovery.
	contacts, _, err := p.Contacts(ctx, "", 0, apiv1.IndexPage{Page: 1, PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	var cs []string
	for _, c := range contacts {
		var an []string
		for _, a := range c.Aspects {
			an = append(an, a.Name)
		}
		cs = append(cs, c.Person.DiasporaID+":"+strings.Join(an, "+"))
	}
	if got := strings.Join(cs, " "); got != archivetest.BobHandle+":Friends+Book club "+archivetest.CarolHandle+":Work" {
		t.Errorf("contacts %s", got)
	}
	bob, err := p.PersonByHandle(ctx, archivetest.BobHandle)
	if err != nil || bob.GUID != archivetest.BobGUID || bob.PublicKey != "" {
		t.Errorf("bob %+v %v", bob, err)
	}

	// Posts with their original guids, times, photos, poll and location.
	post, err := p.Post(ctx, archivetest.PhotoPostGUID)
	if err != nil {
		t.Fatal(err)
	}
	if post.Body != "Holiday pictures #travel" || !post.Public || len(post.Photos) != 2 || post.Poll == nil ||
		post.Location == nil || post.CreatedAt.UTC().Format("2006-01-02T15:04:05") != "2020-01-02T03:04:05" ||
		post.InteractionCounters.Comments != 1 || post.InteractionCounters.Likes != 1 || !post.OwnInteractionState.Liked {
		t.Errorf("photo post %+v", post)
	}
	if post.Photos[0].Sizes.Raw == "" {
		t.Errorf("photo without sizes %+v", post.Photos[0])
	}
	limited, ok, err := store.PostByGUID(ctx, p.DB().R, archivetest.LimitedPostGUID)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if limited.Public || strings.Join(limited.Recipients, ",") != archivetest.BobGUID+","+archivetest.CarolGUID {
		t.Errorf("limited post %+v", limited)
	}
	if tags, _ := p.TagFollowings(ctx); strings.Join(tags, ",") != "golang,photography" {
		t.Errorf("tags %v", tags)
	}
	blocked, _ := store.Members(ctx, p.DB().R, store.SetBlocks)
	if strings.Join(blocked, ",") != archivetest.MalloryGUID+","+archivetest.ErinGUID {
		t.Errorf("blocks %v", blocked)
	}

	// Quiet: no notifications, nothing for the outbox to send.
	var notes int
	p.DB().R.QueryRow("SELECT count(*) FROM notifications").Scan(&notes)
	if notes != 0 {
		t.Errorf("%d notifications", notes)
	}
	if n, err := p.OutboxPending(ctx); err != nil || n != 0 {
		t.Errorf("outbox pending %d %v", n, err)
	}
}

// Importing the same archive again appends nothing; a pod with another
// identity, or an archive of someone else, is refused.
func TestImportIdempotentAndIdentity(t *testing.T) {
	ctx := context.Background()
	p := openTestPod(t)
	importSample(t, p, archivetest.Sample{ExtraPosts: 2})
	before, ops := podState(t, p), countOps(t, p)
	rep := importSample(t, p, archivetest.Sample{ExtraPosts: 2})
	if rep.Ops != 0 || rep.NewIdentity || rep.Posts != 0 || rep.Unchanged == 0 {
		t.Errorf("second import %+v", rep)
	}
	if after := podState(t, p); after != before || countOps(t, p) != ops {
		t.Errorf("second import changed the pod:\n%s\n----\n%s", before, after)
	}
	// The same archive with more posts adds just those.
	rep = importSample(t, p, archivetest.Sample{ExtraPosts: 4})
	if rep.Posts != 2 || rep.Comments != 0 {
		t.Errorf("third import %+v", rep)
	}

	// Another archive owner (another key) is refused.
	other := openTestPod(t)
	if _, err := other.CreateIdentity(ctx, "Zed", "zed"); err != nil {
		t.Fatal(err)
	}
	doc, _ := archivetest.Build(t, archivetest.Sample{})
	for name, target := range map[string]*Pod{"own identity": other} {
		n := countOps(t, target)
		_, err := target.ImportArchive(ctx, bytes.NewReader(doc), nil, 0, nil)
		if !errors.Is(err, ErrConflict) {
			t.Errorf("%s: %v", name, err)
		}
		if countOps(t, target) != n {
			t.Errorf("%s: ops written", name)
		}
	}
	k2, err := keys.ParsePrivate(vectors.Read(t, "keys/bob_generated_rsa2048.private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	doc2, _ := archivetest.Build(t, archivetest.Sample{Key: k2})
	n := countOps(t, p)
	if _, err := p.ImportArchive(ctx, bytes.NewReader(doc2), nil, 0, nil); !errors.Is(err, ErrConflict) {
		t.Errorf("another key: %v", err)
	}
	if countOps(t, p) != n {
		t.Error("another key: ops written")
	}
}

// A refused archive or zip, or an import that fails inside its
// transaction, leaves the pod exactly as it was.
func TestImportRefusedChangesNothing(t *testing.T) {
	ctx := context.Background()
	doc, _ := archivetest.Build(t, archivetest.Sample{})
	bigDoc, photos := archivetest.Build(t, archivetest.Sample{ExtraPosts: 120})
	evilZip := archivetest.Zip(t, map[string][]byte{"../../evil.png": archivetest.PNG(t, 2, 2, 1)})
	cases := []struct {
		name   string
		doc    []byte
		zip    []byte
		cancel bool
		want   error
		msg    string
	}{
		{"not json", []byte("{nope"), nil, false, ErrInvalid, "malformed archive"},
		{"schema", bytes.Replace(doc, []byte(`"version": "2.0"`), []byte(`"version": "3.0"`), 1), nil, false, ErrInvalid, "schema"},
		{"traversal in zip", doc, evilZip, false, ErrInvalid, "unsafe archive entry"},
		{"not a zip", doc, []byte("PK nope"), false, ErrInvalid, "not a zip"},
		{"cancelled mid-write", bigDoc, photos, true, context.Canceled, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := openTestPod(t)
			before := podState(t, p)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			progress := func(pr Progress) {
				if c.cancel && pr.Phase == PhaseWrite && pr.Done >= 100 {
					cancel()
				}
			}
			var zr io.ReaderAt
			if c.zip != nil {
				zr = bytes.NewReader(c.zip)
			}
			_, err := p.ImportArchive(cctx, bytes.NewReader(c.doc), zr, int64(len(c.zip)), progress)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want %v with %q", err, c.want, c.msg)
			}
			if countOps(t, p) != 0 || podState(t, p) != before {
				t.Fatal("the refused import changed the pod")
			}
			var keys int
			p.DB().R.QueryRow("SELECT count(*) FROM identity_key").Scan(&keys)
			if keys != 0 {
				t.Fatal("the identity key was stored")
			}
			if c.cancel {
				// It works afterwards: nothing was half-done.
				rep, err := p.ImportArchive(ctx, bytes.NewReader(c.doc), bytes.NewReader(c.zip), int64(len(c.zip)), nil)
				if err != nil || rep.Posts != 123 {
					t.Fatalf("import after the cancelled one: %+v %v", rep, err)
				}
			}
		})
	}
}

// Photos named by the archive but missing from the zip, or that are not
// images, are left out with a warning; the posts stay.
func TestImportPhotoProblems(t *testing.T) {
	ctx := context.Background()
	doc, _ := archivetest.Build(t, archivetest.Sample{})
	zip := archivetest.Zip(t, map[string][]byte{archivetest.PhotoAName: []byte("this is no picture"),
		archivetest.AvatarName: archivetest.PNG(t, 4, 4, 9)})
	p := openTestPod(t)
	rep, err := p.ImportArchive(ctx, bytes.NewReader(doc), bytes.NewReader(zip), int64(len(zip)), nil)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Warnings, "\n")
	if rep.Photos != 0 || !strings.Contains(all, archivetest.PhotoBName+" of post") || !strings.Contains(all, "not a JPEG") {
		t.Fatalf("report %+v", rep)
	}
	post, err := p.Post(ctx, archivetest.PhotoPostGUID)
	if err != nil || len(post.Photos) != 0 {
		t.Fatalf("post %+v %v", post, err)
	}
	if prof, _ := p.OwnProfile(ctx); prof.Avatar == nil {
		t.Error("avatar not imported")
	}
	// Without a zip at all.
	p2 := openTestPod(t)
	rep, err = p2.ImportArchive(ctx, bytes.NewReader(doc), nil, 0, nil)
	if err != nil || rep.Photos != 0 || rep.Posts != 3 {
		t.Fatalf("without zip: %+v %v", rep, err)
	}
	media, _ := os.ReadDir(filepath.Join(p2.DataDir(), "media"))
	if len(media) != 0 && !slices.ContainsFunc(media, func(e os.DirEntry) bool { return e.IsDir() }) {
		t.Errorf("media written without a zip: %v", media)
	}
}

func TestArchiveAvatarName(t *testing.T) {
	for in, want := range map[string]string{
		"https://pod.example/uploads/images/thumb_large_abc.jpg": "abc.jpg",
		"https://pod.example/uploads/images/scaled_full_abc.png": "abc.png",
		"https://pod.example/x/abc.jpg?x=1":                      "abc.jpg",
		"/assets/user/default.png":                               "default.png",
		"":                                                       "",
		"https://pod.example/":                                   "",
	} {
		if got := archiveAvatarName(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// BenchmarkImportArchive10000 imports an archive of 10,003 posts (with 2
// photos, 6 relayables and 4 contacts) into a fresh pod: read, validate,
// decode photos, one transaction.
func BenchmarkImportArchive10000(b *testing.B) {
	doc, photos := archivetest.Build(b, archivetest.Sample{ExtraPosts: 10000})
	gz := archivetest.Gzip(b, doc)
	b.SetBytes(int64(len(doc)))
	posts := 0
	for b.Loop() {
		b.StopTimer()
		p, err := Open(context.Background(), Config{DataDir: filepath.Join(b.TempDir(), "data"), KeyBits: 1024})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := p.ImportArchive(context.Background(), bytes.NewReader(gz), bytes.NewReader(photos), int64(len(photos)), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		posts += rep.Posts
		p.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(posts)/b.Elapsed().Seconds(), "posts/s")
}

// A key locked with a passphrase is still known as the archive's: the
// same archive imports again (nothing to add) also after a restart, when
// the key is locked at rest; exporting then needs the key unlocked.
func TestImportLockedKey(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	open := func() *Pod {
		p, err := Open(ctx, Config{DataDir: dir, KeyBits: 1024, KeyLock: cheapLock})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := open()
	importSample(t, p, archivetest.Sample{})
	if err := p.LockKey(ctx, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if rep := importSample(t, p, archivetest.Sample{}); rep.Ops != 0 || rep.Unchanged == 0 {
		t.Errorf("re-import with the key locked: %+v", rep)
	}
	p.Close()
	p = open()
	defer p.Close()
	if rep := importSample(t, p, archivetest.Sample{}); rep.Ops != 0 {
		t.Errorf("re-import after a restart: %+v", rep)
	}
	if _, err := p.ExportArchive(ctx, io.Discard, nil); !errors.Is(err, ErrKeyLocked) {
		t.Fatalf("export with the key locked: %v", err)
	}
	if err := p.UnlockKey(ctx, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ExportArchive(ctx, io.Discard, nil); err != nil {
		t.Fatalf("export after unlocking: %v", err)
	}
}
