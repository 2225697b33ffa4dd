package pod

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod/drafts"
)

// Findings of the review of the drafts folder (issue 9) that need the real
// pod, each a test that failed before its fix.

// A file of the drafts folder handed over by a path that reaches the
// folder through a symbolic link (a linked home, a mounted alias) is the
// folder's file: its draft is published and the file moves. It used to be
// taken for a file outside the folder: published as a post while its draft
// and its file stayed, so publishing the draft again posted it twice.
func TestReviewPublishThroughLinkedFolder(t *testing.T) {
	t.Parallel()
	r := newFolderRig(t)
	text := "---\naudience: public\n---\nPosted once.\n"
	r.write("once.md", text)
	r.write("linked.md", "---\naudience: public\n---\nPosted once too.\n")
	d := r.waitDraft("once.md", "read", folderBodyIs("Posted once."))
	d2 := r.waitDraft("linked.md", "read", folderBodyIs("Posted once too."))
	alias := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(r.folder, alias); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	res, err := drafts.Handover(r.ctx, alias, filepath.Join(alias, "once.md"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.DraftID != d.ID || res.MovedTo != filepath.Join(r.folder, drafts.PublishedDir, "once.md") {
		t.Fatalf("published as a file outside the folder: %+v", res)
	}
	if _, err := r.p.Draft(r.ctx, d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the published draft is still there: %v", err)
	}
	if got := r.read(drafts.PublishedDir + "/once.md"); got != text {
		t.Fatalf("Published/once.md:\n%s", got)
	}

	// A link to a draft file, from outside the folder, is that file.
	link := filepath.Join(t.TempDir(), "mine.md")
	if err := os.Symlink(r.path("linked.md"), link); err != nil {
		t.Fatal(err)
	}
	res, err = r.p.PublishDraftFile(r.ctx, r.folder, link)
	if err != nil {
		t.Fatal(err)
	}
	if res.DraftID != d2.ID || res.MovedTo == "" {
		t.Fatalf("a link to a draft file was published as another file: %+v", res)
	}
	if _, err := r.p.Draft(r.ctx, d2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the published draft is still there: %v", err)
	}
}

// A lost index (or one of another pod) binds the files to their drafts
// again; when a file and its draft then differ, nothing tells which side
// changed, so both are kept. The file's text used to supersede the draft:
// an edit made in the app while the index was gone was lost.
func TestReviewLostIndexKeepsTheAppsEdit(t *testing.T) {
	t.Parallel()
	r := newFolderRig(t)
	d, err := r.p.CreateDraft(r.ctx, DraftContent{Body: "Written first", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	var name string
	r.waitFor("the draft's file", func() bool {
		got, err := r.p.Draft(r.ctx, d.ID)
		name = filepath.Base(got.FilePath)
		return err == nil && got.FilePath != ""
	})
	r.settle()
	r.close()
	if err := os.Remove(filepath.Join(r.folder, drafts.MetaDir, "index.json")); err != nil {
		t.Fatal(err)
	}
	// The app edits the draft while the folder is not watched.
	p, err := Open(r.ctx, Config{DataDir: r.data, KeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := p.Draft(r.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	patch, _ := json.Marshal(map[string]any{"body": "Edited in the app"})
	if _, err := p.UpdateDraft(r.ctx, d.ID, patch, []string{cur.Revision}); err != nil {
		t.Fatal(err)
	}
	p.Close()

	r.open()
	r.settle()
	got, err := r.p.Draft(r.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{got.Body}
	for _, c := range got.Conflicts {
		bodies = append(bodies, c.Body)
	}
	if !slices.Contains(bodies, "Edited in the app") {
		t.Fatalf("the app's edit is lost: the draft holds %q", bodies)
	}
	if !strings.Contains(r.read(name), "Written first") {
		t.Fatalf("the file changed:\n%s", r.read(name))
	}
}

// MaxFiles bounds the drafts the folder makes from files however the
// files come: one by one as well as all at once. Only a full comparison
// used to count them; files created one at a time made drafts without
// end.
func TestReviewMaxFilesOneByOne(t *testing.T) {
	t.Parallel()
	p := openTestPod(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := p.CreateIdentity(ctx, "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "Drafts")
	f, err := drafts.Open(dir, draftsHost{p}, drafts.Options{Owner: hex.EncodeToString(p.log.ID().Device),
		Quiet: 20 * time.Millisecond, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}()
	count := func() int {
		revs, err := draftsHost{p}.Drafts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(revs)
	}
	for i := range 4 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("note-%d.md", i)), []byte(fmt.Sprintf("Note %d.\n", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		want := min(i+1, 2)
		deadline := time.Now().Add(10 * time.Second)
		for count() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // ten quiet periods: the file was read
		if n := count(); n != want {
			t.Fatalf("after %d files: %d drafts, want %d (MaxFiles 2)", i+1, n, want)
		}
	}
	if f.Problem() == "" {
		t.Fatal("the folder does not tell that it holds too many files")
	}
	// A file renamed keeps its draft even at the limit.
	if err := os.Rename(filepath.Join(dir, "note-0.md"), filepath.Join(dir, "renamed.md")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids := 0
		for _, n := range []string{"renamed.md", "note-1.md"} {
			if _, ok := fileDraft(f, p, filepath.Join(dir, n)); ok {
				ids++
			}
		}
		if ids == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a renamed file lost its draft at the limit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d drafts after a rename at the limit", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "note-2.md")); errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a file beyond the limit was removed")
	}
}

// fileDraft finds the draft whose file is path.
func fileDraft(f *drafts.Folder, p *Pod, path string) (string, bool) {
	revs, err := draftsHost{p}.Drafts(context.Background())
	if err != nil {
		return "", false
	}
	for id := range revs {
		if st, ok := f.Status(id); ok && st.Path == path {
			return id, true
		}
	}
	return "", false
}

// `seedpod publish FILE` publishes what the file says. When the draft
// changed in the app since the file was last written (the folder was not
// watched meanwhile), publishing used to post the app's text, which the
// file did not show; now nothing is published, the file is brought up to
// the draft, and the user can look before publishing again.
func TestReviewPublishFileIsWhatTheFileSays(t *testing.T) {
	t.Parallel()
	r := newFolderRig(t)
	r.write("note.md", "---\naudience: public\n---\nWhat the file says.\n")
	d := r.waitDraft("note.md", "read", folderBodyIs("What the file says."))
	r.settle()
	r.close()
	p, err := Open(r.ctx, Config{DataDir: r.data, KeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	patch, _ := json.Marshal(map[string]any{"body": "Changed in the app."})
	if _, err := p.UpdateDraft(r.ctx, d.ID, patch, []string{d.Revision}); err != nil {
		t.Fatal(err)
	}
	ops := folderOps(t, p)
	res, err := p.PublishDraftFile(r.ctx, r.folder, r.path("note.md"))
	if err == nil {
		t.Fatalf("published %q from a file that says %q", folderPostBody(t, p, res.PostGUID).Text, "What the file says.")
	}
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("refusal: %v", err)
	}
	if n := folderOps(t, p); n != ops {
		t.Fatalf("%d ops for a refused publish", n-ops)
	}
	if got := r.read("note.md"); !strings.Contains(got, "Changed in the app.") {
		t.Fatalf("the file was not brought up to its draft:\n%s", got)
	}
	// Now the file says it: publishing it posts it.
	res, err = p.PublishDraftFile(r.ctx, r.folder, r.path("note.md"))
	if err != nil {
		t.Fatal(err)
	}
	if body := folderPostBody(t, p, res.PostGUID); body.Text != "Changed in the app." || res.MovedTo == "" {
		t.Fatalf("post %q, result %+v", body.Text, res)
	}
}

// A file whose name is not valid UTF-8 (a Latin-1 name from an old
// archive) is no draft file: the index (JSON) cannot keep such a name, and
// a restart used to find the name changed, take the draft's conflict copy
// for deleted and drop that version of the draft.
func TestReviewNameNotUTF8(t *testing.T) {
	t.Parallel()
	r := newFolderRig(t)
	name := "caf\xe9.md"
	original := "---\naudience: public\n---\nOriginal.\n"
	r.write(name, original)
	r.write("plain.md", "---\naudience: public\n---\nPlain.\n")
	r.waitDraft("plain.md", "read", folderBodyIs("Plain."))
	r.settle()
	d, ok := r.byFile(name)
	if !ok {
		// Not a draft file: left alone, nothing of it can be lost.
		if r.read(name) != original {
			t.Fatal("the file changed")
		}
		return
	}
	r.write(name, "---\naudience: public\n---\nFrom the file.\n")
	if _, err := r.p.UpdateDraft(r.ctx, d.ID, []byte(`{"body":"From the app."}`), []string{d.Revision}); err != nil {
		t.Fatal(err)
	}
	r.waitDraft(name, "two versions", func(d Draft) bool { return len(d.Conflicts) == 1 })
	r.settle()
	r.close()
	r.open()
	r.settle()
	got, err := r.p.Draft(r.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{got.Body}
	for _, c := range got.Conflicts {
		bodies = append(bodies, c.Body)
	}
	if !slices.Contains(bodies, "From the app.") || !slices.Contains(bodies, "From the file.") {
		t.Fatalf("after a restart the draft holds %q", bodies)
	}
}
