package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/drafts"
	"seedpod/pod/store"
)

// publishPod makes a pod with an identity in a new data directory and a
// drafts folder beside it with a picture in photos/.
func publishPod(t *testing.T) (data, folder string) {
	t.Helper()
	dir := t.TempDir()
	data, folder = filepath.Join(dir, "data"), filepath.Join(dir, "Drafts")
	p, err := pod.Open(context.Background(), pod.Config{DataDir: data, KeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateIdentity(context.Background(), "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := os.MkdirAll(filepath.Join(folder, "photos"), 0o700); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)))
	if err := os.WriteFile(filepath.Join(folder, "photos", "grey.png"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return data, folder
}

const publishText = `---
audience: [Friends, Family]
photos: [photos/grey.png]
poll: {question: "Which?", answers: [This, That]}
---
Hello from a file.
`

var postGUIDRE = regexp.MustCompile(`as post ([0-9a-f]{32}) `)

// checkPublished checks the post a run published (reading the pod in
// data, or the running pod p).
func checkPublished(t *testing.T, p *pod.Pod, stdout string) {
	t.Helper()
	m := postGUIDRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no post guid in %q", stdout)
	}
	var raw []byte
	if err := p.DB().R.QueryRow("SELECT body FROM st_published WHERE guid = ? AND kind = 'post'", m[1]).Scan(&raw); err != nil {
		t.Fatalf("post %s: %v", m[1], err)
	}
	var body store.PostBody
	json.Unmarshal(raw, &body)
	if body.Text != "Hello from a file." || body.Public || !slices.Equal(body.AspectIDs, []int64{1, 2}) || len(body.Photos) != 1 ||
		body.Poll == nil || len(body.Poll.Answers) != 2 {
		t.Fatalf("post: %+v", body)
	}
	e, err := p.OutboxEntryOf(context.Background(), m[1])
	if err != nil || e.State != pod.OutboxStateQueued {
		t.Fatalf("outbox: %+v %v", e, err)
	}
}

func TestPublishModeUsage(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	data, folder := publishPod(t)
	file := filepath.Join(folder, "x.md")
	broken := "---\naudience: [Friends\n---\nx\n"
	os.WriteFile(file, []byte(broken), 0o600)
	good := filepath.Join(folder, "good.md")
	os.WriteFile(good, []byte(publishText), 0o600)
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no file", []string{"--data", data}, 2, "which file?"},
		{"two files", []string{"a.md", "b.md"}, 2, "one file at a time"},
		{"unknown flag", []string{"--frob", "a.md"}, 2, "flag provided but not defined"},
		{"bad wait", []string{"--wait", "-1s", "a.md"}, 2, "--wait"},
		{"missing file", []string{"--data", data, filepath.Join(folder, "nope.md")}, 1, "no such file"},
		{"broken file", []string{file, "--data", data}, 1, "not valid YAML: line 2"},
		{"no pod", []string{"--data", filepath.Join(t.TempDir(), "none"), good}, 1, "there is no Seedpod"},
		{"not text", []string{"--data", data, filepath.Join(folder, "photos", "grey.png")}, 1, "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := publishMain(c.args, &out, &errb, log); code != c.code || !strings.Contains(errb.String(), c.stderr) || out.Len() > 0 {
				t.Fatalf("exit %d (want %d), stderr %q (want %q), stdout %q", code, c.code, errb.String(), c.stderr, out.String())
			}
		})
	}
	if b, _ := os.ReadFile(file); string(b) != broken {
		t.Fatal("the broken file changed")
	}
}

// No Seedpod runs: the command opens the pod, publishes, moves the file.
func TestPublishModeWithoutRunningPod(t *testing.T) {
	data, folder := publishPod(t)
	file := filepath.Join(folder, "hello.md")
	os.WriteFile(file, []byte(publishText), 0o600)
	var out, errb bytes.Buffer
	// FILE before the flags, as people type it.
	if code := publishMain([]string{file, "--data", data, "--drafts", folder}, &out, &errb, slog.New(slog.DiscardHandler)); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	moved := filepath.Join(folder, drafts.PublishedDir, "hello.md")
	if !strings.Contains(out.String(), "for Friends, Family, with 1 photo and a poll") || !strings.Contains(out.String(), "moved to "+moved) {
		t.Fatalf("stdout %q", out.String())
	}
	if b, err := os.ReadFile(moved); err != nil || string(b) != publishText {
		t.Fatalf("Published/hello.md: %q %v", b, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file stays: %v", err)
	}
	p, err := pod.Open(context.Background(), pod.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	checkPublished(t, p, out.String())
}

// A Seedpod runs (it holds the data directory): the file is handed to it
// through the folder it watches, and it publishes the file.
func TestPublishModeWithRunningPod(t *testing.T) {
	data, folder := publishPod(t)
	p, err := pod.Open(context.Background(), pod.Config{DataDir: data, DraftsFolder: folder})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !p.DraftsFolderStatus().Watching && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	file := filepath.Join(folder, "hello.md")
	os.WriteFile(file, []byte(publishText), 0o600)
	var out, errb bytes.Buffer
	// The folder is found from the file (it holds .seedpod).
	if code := publishMain([]string{"--data", data, file}, &out, &errb, slog.New(slog.DiscardHandler)); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "by the running Seedpod") || !strings.Contains(out.String(), filepath.Join(drafts.PublishedDir, "hello.md")) {
		t.Fatalf("stdout %q", out.String())
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file stays: %v", err)
	}
	checkPublished(t, p, out.String())
	if ents, _ := os.ReadDir(filepath.Join(folder, drafts.MetaDir, "publish")); len(ents) != 0 {
		t.Fatalf("hand-over files left: %v", ents)
	}
	// A broken file handed over is refused by the pod too (here caught
	// before: the command reads the file first).
	os.WriteFile(file, []byte("---\naudience: [Nobody]\n---\nx\n"), 0o600)
	out.Reset()
	errb.Reset()
	if code := publishMain([]string{"--data", data, file}, &out, &errb, slog.New(slog.DiscardHandler)); code != 1 || !strings.Contains(errb.String(), `no aspect "Nobody"`) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal("the refused file moved")
	}
}

// A Seedpod runs but watches no drafts folder: nothing is published, and
// the command says why at once.
func TestPublishModeRunningPodWithoutFolder(t *testing.T) {
	data, folder := publishPod(t)
	// The folder was a drafts folder once (it has .seedpod), but the
	// running pod does not watch it.
	if err := os.MkdirAll(filepath.Join(folder, drafts.MetaDir, "publish"), 0o700); err != nil {
		t.Fatal(err)
	}
	p, err := pod.Open(context.Background(), pod.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	file := filepath.Join(folder, "hello.md")
	os.WriteFile(file, []byte(publishText), 0o600)
	before, err := p.OutboxCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	start := time.Now()
	code := publishMain([]string{"--data", data, "--wait", "5s", file}, &out, &errb, slog.New(slog.DiscardHandler))
	if code != 1 || !strings.Contains(errb.String(), "does not watch the drafts folder") || time.Since(start) > 3*time.Second {
		t.Fatalf("exit %d after %s, stderr %q", code, time.Since(start), errb.String())
	}
	if ents, _ := os.ReadDir(filepath.Join(folder, drafts.MetaDir, "publish")); len(ents) != 0 {
		t.Fatalf("a request was left: %v", ents)
	}
	if n, _ := p.OutboxCount(context.Background()); n != before {
		t.Fatalf("outbox has %d entries, had %d", n, before)
	}
	if b, _ := os.ReadFile(file); string(b) != publishText {
		t.Fatal("the file changed")
	}
}
