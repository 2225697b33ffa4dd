package drafts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"seedpod/pod/datadir"
)

// Publishing a file: from the app (BeforePublish/AfterPublish around the
// pod's publish), or by `seedpod publish FILE`, which either opens the pod
// itself and calls PublishFile, or — when a running Seedpod holds the data
// directory — hands the file over through the folder: a request in
// <folder>/.seedpod/publish/<id>.json that the watcher claims (renames to
// <id>.claimed), publishes, and answers in <id>.result.json.

// Result is what publishing a file did.
type Result struct {
	File     string   `json:"file"`
	DraftID  string   `json:"draft_id,omitempty"`
	PostGUID string   `json:"post_guid,omitempty"`
	Public   bool     `json:"public"`
	Aspects  []string `json:"aspects,omitempty"`
	Photos   int      `json:"photos"`
	Poll     bool     `json:"poll"`
	// MovedTo is where the file went (Published/…); "" when it stays (a
	// file outside the drafts folder).
	MovedTo string `json:"moved_to,omitempty"`
	// Error is why publishing failed (hand-over answers only).
	Error string `json:"error,omitempty"`
}

// PublishFile publishes the draft file at path as a post (queued in the
// outbox: it federates when a relay is reachable). A file in the folder is
// synced to its draft first (a new one gets a draft), the draft is
// published, and the file moves to Published/ without replacing anything
// there. A file elsewhere is published as it is and stays where it is. A
// file with an error (ErrFileError) or a draft in conflict (ErrConflict)
// is not published and nothing changes.
func (f *Folder) PublishFile(ctx context.Context, path string) (Result, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Result{File: path}, fmt.Errorf("publish %s: %w", path, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.saveLogged()
	return f.publishFile(ctx, abs)
}

func (f *Folder) publishFile(ctx context.Context, abs string) (Result, error) {
	name, in := f.inFolder(abs)
	if !in {
		return f.publishOutside(ctx, abs)
	}
	abs = f.path(name)
	res := Result{File: abs}
	if !IsDraftName(name) {
		return res, fmt.Errorf("%w: %s is not a draft file (a Markdown file, .md, not hidden)", ErrFileError, name)
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return res, fmt.Errorf("publish %s: %w", abs, err)
	}
	if !fi.Mode().IsRegular() {
		return res, fmt.Errorf("%w: %s is not a regular file", ErrFileError, name)
	}
	if err := f.syncFile(ctx, name); err != nil {
		return res, err
	}
	if _, busy := f.retry[name]; busy {
		return res, fmt.Errorf("%w: %s is being saved; publish again in a moment", ErrBusy, name)
	}
	e := f.idx.Files[name]
	if e == nil && len(f.idx.Files) >= f.opts.MaxFiles {
		return res, fmt.Errorf("%w: %s", ErrFileError, f.problem)
	}
	if e == nil {
		return res, fmt.Errorf("publish %s: %w", abs, fs.ErrNotExist)
	}
	res.DraftID = e.Draft
	if e.Error != "" {
		return res, fmt.Errorf("%w: %s: %s", ErrFileError, name, e.Error)
	}
	d, live, err := f.host.Draft(ctx, e.Draft)
	if err != nil {
		return res, err
	}
	if !live {
		return res, fmt.Errorf("publish %s: its draft %s is gone", abs, e.Draft)
	}
	if d.Revision != e.Revision {
		// The draft changed in the app since the file was written (the
		// folder was not watched, or not yet synced): the file does not
		// show what would be posted. Bring it up to the draft instead.
		if _, err := f.syncDraft(ctx, e.Draft); err != nil {
			f.log.Warn("drafts folder: sync a draft", "draft", e.Draft, "err", err)
		}
		return res, fmt.Errorf("%w: draft %s changed in the app since %s was written; the file now shows the draft where it can: look at it, then publish again",
			ErrConflict, e.Draft, name)
	}
	if len(d.Versions) > 1 {
		return res, fmt.Errorf("%w: draft %s has %d versions (see the %s copies beside the file); keep one in the app, or delete the copies, before publishing",
			ErrConflict, e.Draft, len(d.Versions), conflictInfix+"…")
	}
	if err := needAudience(name, d.Versions[0].Content); err != nil {
		return res, err
	}
	if err := f.describe(ctx, &res, d.Versions[0].Content); err != nil {
		return res, err
	}
	pub, err := f.host.PublishDraft(ctx, e.Draft, d.Revision)
	if err != nil {
		return res, err
	}
	res.PostGUID = pub.PostGUID
	moved, err := f.retire(ctx, name, e)
	delete(f.published, e.Draft)
	res.MovedTo = moved
	if err != nil {
		return res, fmt.Errorf("published as post %s, but the file stays: %w", pub.PostGUID, err)
	}
	return res, nil
}

// inFolder tells whether abs is a file at the top of the folder, and its
// name there: also when abs reaches it by another path (a symbolic link to
// the folder or to the file, another spelling of the folder's path). Such
// a file published as one outside would leave its draft behind, to be
// published a second time.
func (f *Folder) inFolder(abs string) (string, bool) {
	if filepath.Dir(abs) == f.dir {
		return filepath.Base(abs), true
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", false
	}
	di, err := os.Stat(filepath.Dir(real))
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(f.dir)
	if err != nil || !os.SameFile(di, fi) {
		return "", false
	}
	return filepath.Base(real), true
}

// publishOutside publishes a file that is not in the folder: no draft, the
// file stays. Its photos are relative to its own directory and must be
// inside it.
func (f *Folder) publishOutside(ctx context.Context, abs string) (Result, error) {
	res := Result{File: abs}
	data, err := readCapped(abs, MaxFileSize)
	if err != nil {
		return res, fmt.Errorf("publish %s: %w", abs, err)
	}
	file, err := Parse(data)
	if err != nil {
		return res, err
	}
	dir := filepath.Dir(abs)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return res, fmt.Errorf("publish %s: %w", abs, err)
	}
	defer root.Close()
	c, _, err := f.resolve(ctx, file, root, dir)
	if err != nil {
		return res, err
	}
	if err := needAudience(filepath.Base(abs), c); err != nil {
		return res, err
	}
	if err := f.describe(ctx, &res, c); err != nil {
		return res, err
	}
	pub, err := f.host.PublishContent(ctx, c)
	if err != nil {
		return res, err
	}
	res.PostGUID = pub.PostGUID
	return res, nil
}

// needAudience refuses a draft nobody is chosen for: nothing is ever
// public by accident.
func needAudience(name string, c Content) error {
	if c.Public || len(c.Aspects) > 0 {
		return nil
	}
	return fmt.Errorf("%w: %s says nobody to post to: add \"audience: public\" or \"audience: [Friends]\" (aspect names) to its front matter",
		ErrFileError, name)
}

// describe fills what a result tells of the post: audience, photos, poll.
func (f *Folder) describe(ctx context.Context, res *Result, c Content) error {
	res.Public, res.Photos, res.Poll = c.Public, len(c.Photos), c.Poll != nil
	if c.Public || len(c.Aspects) == 0 {
		return nil
	}
	as, err := f.host.Aspects(ctx)
	if err != nil {
		return err
	}
	for _, id := range c.Aspects {
		for _, a := range as {
			if a.ID == id {
				res.Aspects = append(res.Aspects, a.Name)
			}
		}
	}
	return nil
}

// Hand-over files.
const (
	resultSuffix   = ".result.json"
	claimedSuffix  = ".claimed"
	withdrawSuffix = ".withdrawn"
	maxRequest     = 64 << 10
	maxRequests    = 100 // handled per round
	resultsKept    = 24 * time.Hour
	requestMaxAge  = 10 * time.Minute
)

type request struct {
	Path        string    `json:"path"`
	RequestedAt time.Time `json:"requested_at"`
}

// validRequestID: 32 lowercase hex digits, as Handover makes them.
func validRequestID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// parseRequest reads a hand-over request: a JSON object with an absolute,
// clean path and a time within requestMaxAge of now. Only a fresh request
// is taken: `seedpod publish` waits for its answer, and a request that is
// old (copied in by a sync tool, say) must not publish anything behind the
// user's back. On error the path is set when it was readable.
func parseRequest(b []byte, now time.Time) (request, error) {
	var r request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return request{}, fmt.Errorf("the request is not a publish request: %v", err)
	}
	if dec.More() {
		return request{}, errors.New("the request is not a publish request: data after the object")
	}
	if !filepath.IsAbs(r.Path) || filepath.Clean(r.Path) != r.Path || strings.ContainsRune(r.Path, 0) {
		return request{}, fmt.Errorf("the request's path %q is not a clean absolute path", r.Path)
	}
	if age := now.Sub(r.RequestedAt); age > requestMaxAge || age < -requestMaxAge {
		return r, fmt.Errorf("the request was made at %s, too long ago; nothing was published", r.RequestedAt.Format(time.RFC3339))
	}
	return r, nil
}

// processRequests publishes the files handed over by `seedpod publish`.
// Each request is claimed by a rename first, so a request the client
// withdrew (by renaming it away) is never published, and one that was
// claimed is answered.
func (f *Folder) processRequests(ctx context.Context) {
	ents, err := os.ReadDir(f.reqDir)
	if err != nil {
		return
	}
	n := 0
	for _, de := range ents {
		name := de.Name()
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || !validRequestID(id) || !de.Type().IsRegular() {
			continue
		}
		if n++; n > maxRequests {
			break
		}
		claimed := filepath.Join(f.reqDir, id+claimedSuffix)
		if err := os.Rename(filepath.Join(f.reqDir, name), claimed); err != nil {
			continue // withdrawn meanwhile
		}
		res := f.handleRequest(ctx, claimed)
		b, _ := json.Marshal(res)
		if err := writeFileAtomic(filepath.Join(f.reqDir, id+resultSuffix), b, 0o600); err != nil {
			f.log.Error("drafts folder: answer a publish request", "err", err)
		}
		os.Remove(claimed)
	}
}

func (f *Folder) handleRequest(ctx context.Context, claimed string) Result {
	b, err := readCapped(claimed, maxRequest)
	if err != nil {
		return Result{Error: fmt.Sprintf("read the request: %v", err)}
	}
	r, err := parseRequest(b, time.Now())
	if err != nil {
		return Result{File: r.Path, Error: err.Error()}
	}
	f.mu.Lock()
	res, err := f.publishFile(ctx, r.Path)
	f.saveLogged()
	f.mu.Unlock()
	if err != nil {
		res.Error = err.Error()
		f.log.Warn("drafts folder: a handed-over file was not published", "file", r.Path, "err", err)
	} else {
		f.log.Info("drafts folder: a handed-over file is published", "file", r.Path, "post", res.PostGUID)
	}
	return res
}

// cleanRequests removes answers nobody collected within a day; at start,
// requests claimed by a run that stopped half-way are answered as such
// (it may or may not have published: publishing again could post twice).
func (f *Folder) cleanRequests(start bool) {
	ents, err := os.ReadDir(f.reqDir)
	if err != nil {
		return
	}
	for _, de := range ents {
		name := de.Name()
		p := filepath.Join(f.reqDir, name)
		switch {
		case strings.HasSuffix(name, resultSuffix) || strings.HasSuffix(name, withdrawSuffix) || strings.HasPrefix(name, tempPrefix):
			if fi, err := de.Info(); err == nil && time.Since(fi.ModTime()) > resultsKept {
				os.Remove(p)
			}
		case start && strings.HasSuffix(name, claimedSuffix):
			id := strings.TrimSuffix(name, claimedSuffix)
			if !validRequestID(id) {
				continue
			}
			b, _ := json.Marshal(Result{Error: "Seedpod stopped while publishing this file; look in the app (drafts and outbox) before publishing it again"})
			if writeFileAtomic(filepath.Join(f.reqDir, id+resultSuffix), b, 0o600) == nil {
				os.Remove(p)
			}
		}
	}
}

// Hand-over refusals.
var (
	// ErrNotWatched: no running Seedpod watches the folder.
	ErrNotWatched = errors.New("no running Seedpod watches the drafts folder")
	// ErrNoAnswer: the request was taken but not answered in time; the
	// file may still be published.
	ErrNoAnswer = errors.New("the running Seedpod took the file but has not answered yet")
)

// Handover asks the Seedpod that watches folder to publish the file at
// path, and waits up to wait for its answer. When nothing takes the request
// in time it is withdrawn (ErrNotWatched), so it is never published later
// behind the user's back; a request taken but not answered in time is
// ErrNoAnswer. A result with Error set is returned with an error too.
func Handover(ctx context.Context, folder, path string, wait time.Duration) (Result, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Result{File: path}, err
	}
	res := Result{File: abs}
	folder, err = filepath.Abs(folder)
	if err != nil {
		return res, err
	}
	meta := filepath.Join(folder, MetaDir)
	reqDir := filepath.Join(meta, requestDir)
	if fi, err := os.Stat(reqDir); err != nil || !fi.IsDir() {
		return res, fmt.Errorf("%w: %s has never been a drafts folder (no %s)", ErrNotWatched, folder, filepath.Join(MetaDir, requestDir))
	}
	// The watcher holds the folder's lock: when it is free, nothing
	// watches.
	if d, err := datadir.Open(meta); err == nil {
		d.Close()
		return res, fmt.Errorf("%w: %s", ErrNotWatched, folder)
	} else if !errors.Is(err, datadir.ErrLocked) {
		return res, fmt.Errorf("hand %s over: %w", abs, err)
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	body, _ := json.Marshal(request{Path: abs, RequestedAt: time.Now().UTC()})
	tmp, err := writeTemp(reqDir, body, 0o600)
	if err != nil {
		return res, fmt.Errorf("hand %s over: %w", abs, err)
	}
	req := filepath.Join(reqDir, id+".json")
	if err := os.Rename(tmp, req); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("hand %s over: %w", abs, err)
	}
	fsyncDir(reqDir)
	resultPath := filepath.Join(reqDir, id+resultSuffix)
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	withdrawn := false
	for {
		if b, err := readCapped(resultPath, maxRequest); err == nil {
			os.Remove(resultPath)
			var got Result
			if err := json.Unmarshal(b, &got); err != nil {
				return res, fmt.Errorf("hand %s over: the answer is damaged: %w", abs, err)
			}
			if got.Error != "" {
				return got, errors.New(got.Error)
			}
			return got, nil
		}
		if time.Now().After(deadline) && !withdrawn {
			err := os.Rename(req, filepath.Join(reqDir, id+withdrawSuffix))
			if err == nil {
				os.Remove(filepath.Join(reqDir, id+withdrawSuffix))
				return res, fmt.Errorf("%w: the running Seedpod did not take %s within %s (it watches another folder, or it is busy); nothing was published",
					ErrNotWatched, abs, wait)
			}
			// Taken: it is being published; wait for the answer a while more.
			withdrawn = true
			deadline = time.Now().Add(max(wait, 30*time.Second))
		}
		if withdrawn && time.Now().After(deadline) {
			return res, fmt.Errorf("%w: look in the app (drafts, outbox) for %s", ErrNoAnswer, abs)
		}
		select {
		case <-ctx.Done():
			if !withdrawn && os.Rename(req, filepath.Join(reqDir, id+withdrawSuffix)) == nil {
				os.Remove(filepath.Join(reqDir, id+withdrawSuffix))
			}
			return res, ctx.Err()
		case <-tick.C:
		}
	}
}
