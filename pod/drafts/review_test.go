//go:build unix

package drafts

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Findings of the review of the drafts folder (issue 9), each a test that
// failed before its fix.

// A file whose modification time is in the future (a clock that was
// wrong, an archive unpacked with its times, `touch -d tomorrow`) is read
// like any other. readStable used to sleep until that time, holding the
// folder's lock: the watcher, the app's publish and the pod's Close hung
// for as long as the time was ahead.
func TestReviewFutureModTimeDoesNotStall(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "later.md")
	if err := os.WriteFile(p, []byte("From the future.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	type read struct {
		data []byte
		err  error
	}
	done := make(chan read, 1)
	go func() {
		data, _, err := readStable(p, 20*time.Millisecond, readTries, time.Now)
		done <- read{data, err}
	}()
	select {
	case r := <-done:
		if r.err != nil || string(r.data) != "From the future.\n" {
			t.Fatalf("readStable: %q %v", r.data, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("readStable waits until the file's modification time, an hour from now")
	}
}

// A named pipe in place of a file (in a hand-over request, or swapped in
// between a stat and an open) is refused at once. Opening it used to
// block until a writer came, with the folder's lock held.
func TestReviewNamedPipeDoesNotBlock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pipe := filepath.Join(dir, "elsewhere", "pipe.md")
	if err := os.Mkdir(filepath.Dir(pipe), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	// No host: a pipe must be refused before the pod is asked anything.
	f, err := Open(filepath.Join(dir, "Drafts"), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.PublishFile(context.Background(), pipe)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a named pipe was published")
		}
	case <-time.After(5 * time.Second):
		// Unblock the reader so the test can end.
		if w, err := os.OpenFile(pipe, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("PublishFile blocks on a named pipe")
	}
	for _, read := range []func() error{
		func() error { _, err := readCapped(pipe, MaxFileSize); return err },
		func() error { _, _, err := readOnce(pipe); return err },
	} {
		errc := make(chan error, 1)
		go func() { errc <- read() }()
		select {
		case <-errc:
		case <-time.After(5 * time.Second):
			if w, err := os.OpenFile(pipe, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			<-errc
			t.Fatal("reading a named pipe blocks")
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A name that is not UTF-8 is no draft file's: the index could not keep it
// (see TestReviewNameNotUTF8 in pod for what that cost).
func TestReviewDraftNameIsUTF8(t *testing.T) {
	for _, name := range []string{"caf\xe9.md", "\xff.md", "a\xc3.markdown"} {
		if IsDraftName(name) {
			t.Errorf("IsDraftName(%q) = true", name)
		}
	}
	if !IsDraftName("café.md") {
		t.Error("a UTF-8 name is refused")
	}
}

// A request folder that existed with loose modes is made private when the
// folder is opened: other local users must not hand over files to publish.
func TestRequestFolderIsMadePrivate(t *testing.T) {
	dir := t.TempDir()
	req := filepath.Join(dir, MetaDir, requestDir)
	if err := os.MkdirAll(req, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, MetaDir), 0o777)
	os.Chmod(req, 0o777)
	f, err := Open(dir, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, d := range []string{filepath.Join(dir, MetaDir), req} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want 0700", d, fi.Mode().Perm(), err)
		}
	}
}
