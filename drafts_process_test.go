package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/podtest/podnet"
	"seedpod/pod/web"
)

// The drafts folder end to end with the real binary: `seedpod serve
// --drafts DIR` turns a file saved the way editors save into a draft in
// the API, shows a broken file's error while leaving its bytes alone, and
// `seedpod publish FILE` beside the running pod hands the file over: the
// post is queued (no relay is set up: offline), the draft is gone and the
// file is in Published/. A broken file is refused by the command, exit 1.
func TestDraftsFolderServeAndPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts seedpod processes")
	}
	root := t.TempDir()
	data, folder := filepath.Join(root, "data"), filepath.Join(root, "My Drafts")
	logs := &lockedBuffer{}
	p := startServeProcess(t, data, logs, "--drafts", folder, "--test-key-bits", "2048", "--p2p-listen", "off")
	defer func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", logs.tail(60))
		}
	}()

	var st pod.DraftsFolderStatus
	if _, err := p.call("GET", web.APIPrefix+"/drafts/folder", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Path != folder || !st.Watching || st.Problem != "" {
		t.Fatalf("folder status %+v", st)
	}
	if _, err := p.call("POST", web.APIPrefix+"/identity", map[string]string{"name": "Alice", "username": "alice"}, nil); err != nil {
		t.Fatal(err)
	}
	podnet.Eventually(t, 60*time.Second, "alice's key", func() (bool, error) {
		var id struct {
			Key struct {
				State string `json:"state"`
			} `json:"key"`
		}
		_, err := p.call("GET", web.APIPrefix+"/identity", nil, &id)
		return id.Key.State == "ready", err
	})

	// An editor's save: write a temporary file, rename it over the name.
	save := func(name, text string) string {
		t.Helper()
		path := filepath.Join(folder, name)
		tmp := filepath.Join(folder, "."+name+".swp")
		if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	byFile := func(path string, what string, ok func(pod.Draft) bool) pod.Draft {
		t.Helper()
		var found pod.Draft
		podnet.Eventually(t, 20*time.Second, what, func() (bool, error) {
			var ds []pod.Draft
			if _, err := p.call("GET", web.APIPrefix+"/drafts", nil, &ds); err != nil {
				return false, err
			}
			for _, d := range ds {
				if d.FilePath == path && ok(d) {
					found = d
					return true, nil
				}
			}
			return false, nil
		})
		return found
	}
	good := save("hello.md", "---\naudience: public\ntags: [seedpod]\n---\nHello from my editor.\n")
	d := byFile(good, "the file's draft", func(d pod.Draft) bool { return d.FileError == "" })
	if !strings.Contains(d.Body, "Hello from my editor.") || !d.Public || !slices.Equal(d.Tags, []string{"seedpod"}) {
		t.Fatalf("draft of hello.md: %+v", d)
	}
	broken := "---\naudience: [Nobody]\n---\nFor an aspect I do not have.\n"
	bad := save("broken.md", broken)
	bd := byFile(bad, "the broken file's error", func(d pod.Draft) bool { return d.FileError != "" })
	if !strings.Contains(bd.FileError, `no aspect "Nobody"`) {
		t.Fatalf("broken.md: error %q", bd.FileError)
	}

	publish := func(file string) (code int, stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "publish", "--data", data, "--drafts", folder, file)
		cmd.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String(), errb.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errb.String()
	}

	// The broken file: refused, unchanged, still a draft with its error.
	code, _, stderr := publish(bad)
	if code != 1 || !strings.Contains(stderr, `no aspect "Nobody"`) {
		t.Fatalf("publish broken.md: exit %d, stderr %q", code, stderr)
	}
	if b, err := os.ReadFile(bad); err != nil || string(b) != broken {
		t.Fatalf("broken.md after the refused publish: %q, %v", b, err)
	}

	// The good one: handed to the running pod, queued, moved.
	code, stdout, stderr := publish(good)
	if code != 0 || !strings.Contains(stdout, "the running Seedpod") {
		t.Fatalf("publish hello.md: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(good); !os.IsNotExist(err) {
		t.Fatalf("hello.md is still in the folder: %v", err)
	}
	moved, err := os.ReadFile(filepath.Join(folder, "Published", "hello.md"))
	if err != nil || !strings.Contains(string(moved), "Hello from my editor.") {
		t.Fatalf("Published/hello.md: %q, %v", moved, err)
	}
	var ds []pod.Draft
	if _, err := p.call("GET", web.APIPrefix+"/drafts", nil, &ds); err != nil {
		t.Fatal(err)
	}
	for _, x := range ds {
		if x.ID == d.ID {
			t.Fatalf("the published draft is still a draft: %+v", x)
		}
	}
	var posts []apiv1.Post
	if _, err := p.call("GET", "/api/v1/streams/main", nil, &posts); err != nil {
		t.Fatal(err)
	}
	if len(posts) != 1 || !strings.Contains(posts[0].Body, "Hello from my editor.") || !strings.Contains(posts[0].Body, "#seedpod") {
		t.Fatalf("stream after publishing: %+v", posts)
	}
	var outbox []pod.OutboxEntry
	if _, err := p.call("GET", web.APIPrefix+"/outbox", nil, &outbox); err != nil {
		t.Fatal(err)
	}
	queued := false
	for _, e := range outbox {
		queued = queued || e.GUID == posts[0].GUID && e.State == "queued"
	}
	if !queued {
		t.Fatalf("post %s is not queued in the outbox: %+v", posts[0].GUID, outbox)
	}

	// Stopped, the pod lets `seedpod publish` open it itself.
	p.stop(t)
	later := save("later.md", "---\naudience: public\n---\nWritten while Seedpod was closed.\n")
	code, stdout, stderr = publish(later)
	if code != 0 {
		t.Fatalf("publish with no running pod: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(folder, "Published", "later.md")); err != nil {
		t.Fatalf("later.md was not moved: %v", err)
	}
}
