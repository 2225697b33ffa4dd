package drafts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIsDraftName(t *testing.T) {
	cases := []struct {
		name string
		want bool
	}{
		{"post.md", true},
		{"Post.MD", true},
		{"notes.markdown", true},
		{"hello world.md", true},
		{"ünïcode.md", true},
		{".md", false},
		{".post.md", false},         // hidden
		{".post.md.swp", false},     // vim swap
		{".post.md.swx", false},     // vim swap
		{"4913", false},             // vim's write probe
		{"post.md~", false},         // backup
		{"~post.md", false},         // some editors' temporaries
		{".#post.md", false},        // emacs lock
		{"#post.md#", false},        // emacs autosave
		{"post.md.tmp", false},      // write-then-rename
		{"post.tmp", false},         //
		{".seedpod-123.tmp", false}, // ours
		{"post.txt", false},         //
		{"post.conflict-0a1b2c3d.md", false},
		{"post.conflict-xyz.md", true}, // not our pattern: a draft
		{"a/b.md", false},
		{"", false},
		{strings.Repeat("x", 253) + ".md", false},
	}
	for _, c := range cases {
		if got := IsDraftName(c.name); got != c.want {
			t.Errorf("IsDraftName(%q) = %v, want %v", c.name, got, c.want)
		}
	}
	c := conflictName("My post.md", "ab:cd:3")
	if base, ok := conflictOf(c); !ok || base != "My post" || IsDraftName(c) {
		t.Errorf("conflictName %q: conflictOf %q %v", c, base, ok)
	}
}

func TestSlug(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Hello, World!", "hello-world"},
		{"\n\n  # Café déjà vu  \nsecond line", "cafe-deja-vu"},
		{"Привет мир", "привет-мир"},
		{"!!!", "draft"},
		{"", "draft"},
		{"../../etc/passwd", "etc-passwd"},
		{strings.Repeat("abc ", 30), "abc-abc-abc-abc-abc-abc-abc-abc-abc-abc-abc-abc"},
	}
	for _, c := range cases {
		got := Slug(c.in)
		if got != c.want {
			t.Errorf("Slug(%q) = %q, want %q", c.in, got, c.want)
		}
		if len(got) > maxSlug || strings.ContainsAny(got, "/\\. ") {
			t.Errorf("Slug(%q) = %q: not a safe name part", c.in, got)
		}
	}
}

// createNew and moveNoReplace never replace a file; writeFileAtomic
// leaves no temporary file behind.
func TestFileOperations(t *testing.T) {
	dir := t.TempDir()
	n1, err := createNew(dir, "a.md", []byte("one"), 0o600)
	if err != nil || n1 != "a.md" {
		t.Fatalf("createNew: %q %v", n1, err)
	}
	n2, err := createNew(dir, "a.md", []byte("two"), 0o600)
	if err != nil || n2 != "a-2.md" {
		t.Fatalf("createNew again: %q %v", n2, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.md")); string(b) != "one" {
		t.Fatalf("a.md was replaced: %q", b)
	}
	pub := filepath.Join(dir, PublishedDir)
	if err := os.MkdirAll(pub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pub, "a.md"), []byte("older"), 0o600); err != nil {
		t.Fatal(err)
	}
	moved, err := moveNoReplace(filepath.Join(dir, "a.md"), pub)
	if err != nil || moved != filepath.Join(pub, "a-2.md") {
		t.Fatalf("moveNoReplace: %q %v", moved, err)
	}
	if b, _ := os.ReadFile(filepath.Join(pub, "a.md")); string(b) != "older" {
		t.Fatalf("Published/a.md was replaced: %q", b)
	}
	if b, _ := os.ReadFile(moved); string(b) != "one" {
		t.Fatalf("moved file: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.md")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the source stays: %v", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "a-2.md"), []byte("three"), 0o600); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "Published a-2.md" {
		t.Fatalf("folder holds %v", names)
	}
}

// readStable never returns a file that a writer is still writing when the
// writer pauses for less than the quiet time.
func TestReadStableWaitsForTheWriter(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.md")
	full := []byte("---\naudience: public\n---\n" + strings.Repeat("line of text\n", 200))
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(full[:len(full)/2]); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(60 * time.Millisecond)
		fh.Write(full[len(full)/2:])
		fh.Close()
	}()
	got, _, err := readStable(p, 150*time.Millisecond, 6, time.Now)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, full) {
		t.Fatalf("read %d bytes of %d: half a file", len(got), len(full))
	}
	if _, _, err := readStable(filepath.Join(dir, "missing.md"), time.Millisecond, 1, time.Now); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.Symlink(p, filepath.Join(dir, "link.md")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readStable(filepath.Join(dir, "link.md"), time.Millisecond, 1, time.Now); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a symbolic link is not a draft file: %v", err)
	}
}

// A damaged index is put aside and the folder starts afresh; one of
// another owner is not used.
func TestLoadIndex(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, indexName)
	x := newIndex("me")
	x.Files["a.md"] = &entry{Draft: "D1", Hash: "h"}
	if err := x.save(p); err != nil {
		t.Fatal(err)
	}
	if _, fresh, _ := loadIndex(p, "me"); !fresh {
		t.Fatal("an index no full sync adopted is not fresh")
	}
	x.Adopted = true
	if err := x.save(p); err != nil {
		t.Fatal(err)
	}
	got, fresh, err := loadIndex(p, "me")
	if err != nil || fresh || got.Files["a.md"].Draft != "D1" {
		t.Fatalf("load: %+v %v %v", got, fresh, err)
	}
	if _, fresh, _ := loadIndex(p, "another pod"); !fresh {
		t.Fatal("an index of another owner was used")
	}
	for _, bad := range []string{`{"version":1,"owner":"me","files":{"../x.md":{"draft":"D"}}}`, `{`, `{"version":2,"owner":"me","files":{}}`} {
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		got, fresh, err := loadIndex(p, "me")
		if err != nil || !fresh || len(got.Files) != 0 {
			t.Fatalf("damaged index %s: %+v %v %v", bad, got, fresh, err)
		}
		if b, _ := os.ReadFile(p + ".damaged"); string(b) != bad {
			t.Fatalf("the damaged index was not kept aside: %q", b)
		}
	}
}

// A hand-over nobody takes in time is withdrawn: no request stays behind
// to be published later. A folder nobody watches is told at once.
func TestHandoverWithdrawn(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.md")
	os.WriteFile(file, []byte("x"), 0o600)
	if _, err := Handover(context.Background(), dir, file, time.Second); !errors.Is(err, ErrNotWatched) {
		t.Fatalf("never a drafts folder: %v", err)
	}
	f, err := Open(dir, nil, Options{}) // holds the lock, does not run
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	_, err = Handover(context.Background(), dir, file, 300*time.Millisecond)
	if !errors.Is(err, ErrNotWatched) || !strings.Contains(err.Error(), "nothing was published") || time.Since(start) > 3*time.Second {
		t.Fatalf("not taken: %v after %s", err, time.Since(start))
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, MetaDir, requestDir)); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
	f.Close()
	if _, err := Handover(context.Background(), dir, file, time.Second); !errors.Is(err, ErrNotWatched) {
		t.Fatalf("a folder nobody watches: %v", err)
	}
}

// FuzzParseIndex: the index is a file anyone with access to the folder
// can edit. parseIndex never panics, and an index it accepts names only
// draft files (no path leads out of the folder) and each draft once.
func FuzzParseIndex(f *testing.F) {
	x := newIndex("me")
	x.Files["a.md"] = &entry{Draft: "D1", Hash: "h", Conflicts: map[string]conflictCopy{"a.conflict-0a1b2c3d.md": {Version: "v"}}}
	b, _ := json.Marshal(x)
	f.Add(b)
	f.Add([]byte(`{"version":1,"files":{"../x.md":{"draft":"D"}}}`))
	f.Add([]byte(`{"version":1,"files":{"a.md":{"draft":"D"},"b.md":{"draft":"D"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, ok := parseIndex(b)
		if !ok {
			return
		}
		seen := map[string]bool{}
		for name, e := range x.Files {
			if !IsDraftName(name) || filepath.Base(name) != name || e == nil || e.Draft == "" || seen[e.Draft] {
				t.Fatalf("accepted entry %q: %+v", name, e)
			}
			seen[e.Draft] = true
			for c := range e.Conflicts {
				if filepath.Base(c) != c || !isConflictName(c) {
					t.Fatalf("accepted conflict copy %q", c)
				}
			}
		}
	})
}

func TestParseRequest(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	fresh := now.Add(-time.Minute).Format(time.RFC3339Nano)
	for _, tc := range []struct {
		name, body, want string // want: "" accepted, else a part of the error
	}{
		{"fresh", `{"path":"/home/a/Drafts/x.md","requested_at":"` + fresh + `"}`, ""},
		{"relative path", `{"path":"x.md","requested_at":"` + fresh + `"}`, "not a clean absolute path"},
		{"unclean path", `{"path":"/home/a/Drafts/../x.md","requested_at":"` + fresh + `"}`, "not a clean absolute path"},
		{"NUL in path", `{"path":"/home/a/x\u0000.md","requested_at":"` + fresh + `"}`, "not a clean absolute path"},
		{"old", `{"path":"/x.md","requested_at":"2026-11-27T11:40:00Z"}`, "too long ago"},
		{"from the future", `{"path":"/x.md","requested_at":"2026-11-27T12:20:00Z"}`, "too long ago"},
		{"no time", `{"path":"/x.md"}`, "too long ago"},
		{"unknown key", `{"path":"/x.md","requested_at":"` + fresh + `","draft":"D"}`, "unknown field"},
		{"two objects", `{"path":"/x.md","requested_at":"` + fresh + `"}{}`, "data after the object"},
		{"not JSON", `path=/x.md`, "not a publish request"},
		{"empty", ``, "not a publish request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRequest([]byte(tc.body), now)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && r.Path != "/home/a/Drafts/x.md":
				t.Fatalf("path %q", r.Path)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// FuzzParseRequest: a hand-over request is a file anyone with access to
// the folder can write. parseRequest never panics, and what it accepts is
// a clean absolute path asked for within requestMaxAge.
func FuzzParseRequest(f *testing.F) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	b, _ := json.Marshal(request{Path: "/home/a/Drafts/x.md", RequestedAt: now})
	f.Add(b)
	f.Add([]byte(`{"path":"/a/../b.md","requested_at":"2026-11-27T12:00:00Z"}`))
	f.Add([]byte(`{"path":"/a.md","requested_at":"1970-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRequest(b, now)
		if err != nil {
			return
		}
		if !filepath.IsAbs(r.Path) || filepath.Clean(r.Path) != r.Path || strings.ContainsRune(r.Path, 0) {
			t.Fatalf("accepted path %q", r.Path)
		}
		if d := now.Sub(r.RequestedAt); d > requestMaxAge || d < -requestMaxAge {
			t.Fatalf("accepted a request of %s", r.RequestedAt)
		}
	})
}
