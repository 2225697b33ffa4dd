package pod

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"seedpod/pod/apiv1"
	"seedpod/pod/drafts"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// The watched drafts folder (pod/drafts): Config.DraftsFolder turns it on.
// The folder reaches the drafts, aspects and photos through draftsHost;
// the pod tells it of committed draft changes (a log listener), shows each
// draft's file and its error (withFile), and brings a draft up to its file
// before publishing it and moves the file to Published/ after.

// draftsFolder is the running folder of a pod.
type draftsFolder struct {
	f *drafts.Folder

	mu        sync.Mutex
	closed    bool
	err       error // why the folder is not watched (open failed, or the watcher stopped)
	listeners map[int]func(Event)
	nextID    int
}

// active is the folder while it runs; nil before, after, or without one.
func (p *Pod) activeDrafts() *drafts.Folder {
	df := p.drafts
	if df == nil {
		return nil
	}
	df.mu.Lock()
	defer df.mu.Unlock()
	if df.closed || df.f == nil {
		return nil
	}
	return df.f
}

// startDraftsFolder opens and watches Config.DraftsFolder until ctx ends.
// A folder that cannot be opened (not creatable, watched by another pod)
// is logged and shown by DraftsFolderStatus; the pod runs without it.
func (p *Pod) startDraftsFolder(ctx context.Context) {
	dir := p.cfg.DraftsFolder
	if dir == "" {
		return
	}
	df := &draftsFolder{listeners: map[int]func(Event){}}
	p.drafts = df
	f, err := p.openDraftsFolder(dir, df.changed)
	if err != nil {
		p.logger.Error("drafts folder: not watched", "folder", dir, "err", err)
		df.err = err
		df.closed = true
		return
	}
	df.f = f
	cancel := p.log.Listen(func(ch []store.Change) {
		var ids []string
		recheck := false
		for _, c := range ch {
			switch {
			case c.Kind == oplog.KindDraftWrite:
				if id, ok := strings.CutPrefix(c.Key, "draft/"); ok {
					ids = append(ids, id)
				}
			case c.Kind == oplog.KindSetField && (strings.HasPrefix(c.Key, "aspect/") || strings.HasPrefix(c.Key, "identity/")):
				recheck = true // a file's unknown aspect may be known now
			}
		}
		if len(ids) > 0 {
			f.NotifyDrafts(ids...)
		}
		if recheck {
			f.Recheck()
		}
	})
	p.logger.Info("drafts folder: watching", "folder", f.Dir())
	p.wg.Go(func() {
		defer cancel()
		err := f.Run(ctx)
		df.mu.Lock()
		df.closed = true
		if err != nil {
			df.err = err
		}
		df.mu.Unlock()
		if err != nil {
			p.logger.Error("drafts folder: watching stopped", "folder", f.Dir(), "err", err)
		}
		if err := f.Close(); err != nil {
			p.logger.Error("drafts folder: close", "folder", f.Dir(), "err", err)
		}
	})
}

func (p *Pod) openDraftsFolder(dir string, onChange func(string)) (*drafts.Folder, error) {
	return drafts.Open(dir, draftsHost{p}, drafts.Options{Logger: p.logger, Owner: hex.EncodeToString(p.log.ID().Device),
		OnChange: onChange})
}

// changed tells the listeners that a draft's file (path or error) changed.
func (df *draftsFolder) changed(id string) {
	df.mu.Lock()
	fns := make([]func(Event), 0, len(df.listeners))
	for _, fn := range df.listeners {
		fns = append(fns, fn)
	}
	df.mu.Unlock()
	for _, fn := range fns {
		fn(Event{Type: EventDraft, Data: EventData{Kind: "file", GUID: id}})
	}
}

// ListenDraftFiles registers fn to be told when a draft's file in the
// drafts folder changes (written, renamed, moved away, an error found or
// fixed): a "draft" event of kind "file" with the draft's id. Changes of
// the drafts themselves come as commits (EventTranslator). fn must not
// block; the returned func unregisters it. Without a folder it is never
// called.
func (p *Pod) ListenDraftFiles(fn func(Event)) (cancel func()) {
	df := p.drafts
	if df == nil {
		return func() {}
	}
	df.mu.Lock()
	defer df.mu.Unlock()
	id := df.nextID
	df.nextID++
	df.listeners[id] = fn
	return func() {
		df.mu.Lock()
		defer df.mu.Unlock()
		delete(df.listeners, id)
	}
}

// DraftsFolderStatus is the drafts folder as the settings show it.
type DraftsFolderStatus struct {
	// Path is the folder; "" when none is configured.
	Path     string `json:"path"`
	Watching bool   `json:"watching"`
	// Problem is what keeps it from being watched or synced whole.
	Problem string `json:"problem,omitempty"`
}

// DraftsFolderStatus reports the drafts folder.
func (p *Pod) DraftsFolderStatus() DraftsFolderStatus {
	st := DraftsFolderStatus{Path: p.cfg.DraftsFolder}
	df := p.drafts
	if df == nil {
		return st
	}
	if f := p.activeDrafts(); f != nil {
		st.Path, st.Watching, st.Problem = f.Dir(), true, f.Problem()
		return st
	}
	df.mu.Lock()
	defer df.mu.Unlock()
	if df.err != nil {
		st.Problem = df.err.Error()
	}
	return st
}

// withFile adds a draft's file and its error.
func (p *Pod) withFile(d Draft) Draft {
	if d.ID == "" {
		return d
	}
	if df := p.drafts; df != nil && df.f != nil {
		if st, ok := df.f.Status(d.ID); ok {
			d.FilePath, d.FileError = st.Path, st.Error
		}
	}
	return d
}

// draftsBeforePublish brings a draft up to its file before it is
// published; a file with an error or being written stops the publish.
func (p *Pod) draftsBeforePublish(ctx context.Context, id string) error {
	f := p.activeDrafts()
	if f == nil {
		return nil
	}
	return folderError(f.BeforePublish(ctx, id))
}

// draftsAfterPublish moves a published draft's file to Published/. The
// post is out: a failure here is logged (the next sync tries again).
func (p *Pod) draftsAfterPublish(ctx context.Context, id string) {
	f := p.activeDrafts()
	if f == nil {
		return
	}
	if moved, err := f.AfterPublish(ctx, id); err != nil {
		p.logger.Warn("drafts folder: move a published draft's file", "draft", id, "err", err)
	} else if moved != "" {
		p.logger.Info("drafts folder: published; the file moved", "draft", id, "to", moved)
	}
}

// folderError turns the folder's refusals into the pod's.
func folderError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, drafts.ErrFileError):
		return fmt.Errorf("%w: %v; fix the file, then publish", ErrInvalid, err)
	case errors.Is(err, drafts.ErrBusy), errors.Is(err, drafts.ErrConflict):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// PublishDraftFile publishes the draft file at path (`seedpod publish FILE`
// when no Seedpod runs): through the pod's drafts folder when it watches
// folder, else through folder opened for this call. A file in the folder
// goes through its draft and moves to Published/; a file elsewhere is
// published as it is and stays. The post is queued in the outbox. Refusals
// change nothing: ErrInvalid (the file's error, no audience, an empty
// post), ErrConflict (a draft in conflict, a file being written).
func (p *Pod) PublishDraftFile(ctx context.Context, folder, path string) (drafts.Result, error) {
	f := p.activeDrafts()
	if f == nil || !sameDir(f.Dir(), folder) {
		g, err := p.openDraftsFolder(folder, func(string) {})
		if err != nil {
			return drafts.Result{File: path}, err
		}
		defer g.Close()
		f = g
	}
	res, err := f.PublishFile(ctx, path)
	if err != nil {
		return res, publishFileError(err)
	}
	return res, nil
}

func publishFileError(err error) error {
	if errors.Is(err, drafts.ErrFrontMatter) || errors.Is(err, drafts.ErrRefused) {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return folderError(err)
}

func sameDir(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// draftsHost is the pod as pod/drafts sees it.
type draftsHost struct{ p *Pod }

// refusedError marks an input refusal of the pod for the folder
// (drafts.ErrRefused) and reads as the pod's message.
type refusedError struct{ err error }

func (e refusedError) Error() string {
	return strings.TrimPrefix(e.err.Error(), ErrInvalid.Error()+": ")
}
func (e refusedError) Unwrap() []error { return []error{e.err, drafts.ErrRefused} }

func refused(err error) error {
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrNoIdentity) || errors.Is(err, ErrNotFound) {
		return refusedError{err}
	}
	return err
}

func (h draftsHost) Drafts(ctx context.Context) (map[string]string, error) {
	rows, err := h.p.db.R.QueryContext(ctx, "SELECT id, version FROM drafts ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	var cur store.DraftRow
	flush := func() {
		if cur.ID != "" {
			out[cur.ID] = cur.Revision()
		}
	}
	for rows.Next() {
		var id, version string
		if err := rows.Scan(&id, &version); err != nil {
			return nil, fmt.Errorf("list drafts: %w", err)
		}
		if id != cur.ID {
			flush()
			cur = store.DraftRow{ID: id}
		}
		cur.Versions = append(cur.Versions, store.DraftVersion{Version: version})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	flush()
	return out, nil
}

func (h draftsHost) Draft(ctx context.Context, id string) (drafts.Draft, bool, error) {
	if !ValidDraftID(id) {
		return drafts.Draft{}, false, nil
	}
	row, ok, err := store.Draft(ctx, h.p.db.R, id)
	if err != nil || !ok {
		return drafts.Draft{}, false, err
	}
	return folderDraft(row, ""), true, nil
}

// folderDraft is a draft as the folder sees it.
func folderDraft(row store.DraftRow, written string) drafts.Draft {
	d := drafts.Draft{ID: row.ID, Revision: row.Revision(), Written: written}
	for _, v := range row.Versions {
		var c DraftContent
		if err := json.Unmarshal([]byte(v.Value), &c); err != nil {
			c = DraftContent{Body: v.Value}
		}
		d.Versions = append(d.Versions, drafts.Version{ID: v.Version, Content: folderContent(c)})
	}
	return d
}

func folderContent(c DraftContent) drafts.Content {
	out := drafts.Content{Body: c.Body, Public: c.Public, Aspects: c.Aspects, Photos: c.Photos, Tags: c.Tags,
		NSFW: c.NSFW, ContentWarning: c.ContentWarning}
	if c.Poll != nil {
		out.Poll = &drafts.Poll{Question: c.Poll.Question, Answers: c.Poll.Answers}
	}
	if l := c.Location; l != nil {
		out.Location = &drafts.Location{Address: l.Address, Lat: l.Lat, Lng: l.Lng}
	}
	return out
}

func podContent(c drafts.Content) DraftContent {
	out := DraftContent{Body: c.Body, Public: c.Public, Aspects: c.Aspects, Photos: c.Photos, Tags: c.Tags,
		NSFW: c.NSFW, ContentWarning: c.ContentWarning}
	if c.Public {
		out.Aspects = nil
	}
	if c.Poll != nil {
		out.Poll = &DraftPoll{Question: c.Poll.Question, Answers: c.Poll.Answers}
	}
	if l := c.Location; l != nil {
		out.Location = &apiv1.Location{Address: l.Address, Lat: l.Lat, Lng: l.Lng}
	}
	return out
}

func (h draftsHost) CreateDraft(ctx context.Context, c drafts.Content) (drafts.Draft, error) {
	var out drafts.Draft
	err := h.p.log.Write(ctx, func(w *store.Writer) error {
		id := newDraftID(w.Now())
		var err error
		out, err = writeDraftVersion(w, id, podContent(c), nil)
		return err
	})
	return out, refused(err)
}

func (h draftsHost) WriteDraft(ctx context.Context, id string, c drafts.Content, pred []string) (drafts.Draft, error) {
	if !ValidDraftID(id) {
		return drafts.Draft{}, draftNotFound(id)
	}
	refs, err := parseVersions(pred)
	if err != nil {
		return drafts.Draft{}, err
	}
	var out drafts.Draft
	err = h.p.log.Write(ctx, func(w *store.Writer) error {
		var err error
		out, err = writeDraftVersion(w, id, podContent(c), refs)
		return err
	})
	return out, refused(err)
}

// writeDraftVersion checks content and appends a version of draft id that
// supersedes exactly pred.
func writeDraftVersion(w *store.Writer, id string, c DraftContent, pred []oplog.OpRef) (drafts.Draft, error) {
	value, err := checkDraft(w, c)
	if err != nil {
		return drafts.Draft{}, err
	}
	op, err := w.Append(oplog.DraftWrite{Register: store.DraftRegister(id), Value: value, Pred: pred})
	if err != nil {
		return drafts.Draft{}, err
	}
	row, ok, err := store.Draft(w.Ctx(), w, id)
	if err != nil {
		return drafts.Draft{}, err
	}
	if !ok {
		return drafts.Draft{}, draftNotFound(id)
	}
	return folderDraft(row, store.VersionString(op.ID())), nil
}

func (h draftsHost) DeleteVersions(ctx context.Context, id string, versions []string) (drafts.Draft, bool, error) {
	if !ValidDraftID(id) {
		return drafts.Draft{}, false, draftNotFound(id)
	}
	refs, err := parseVersions(versions)
	if err != nil {
		return drafts.Draft{}, false, err
	}
	var out drafts.Draft
	var live bool
	err = h.p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := w.Append(oplog.DraftWrite{Register: store.DraftRegister(id), Deleted: true, Pred: refs}); err != nil {
			return err
		}
		row, ok, err := store.Draft(w.Ctx(), w, id)
		if err != nil {
			return err
		}
		if live = ok; ok {
			out = folderDraft(row, "")
		}
		return nil
	})
	return out, live, err
}

// parseVersions reads store.VersionString forms ("hex:hex:seq") back.
func parseVersions(vs []string) ([]oplog.OpRef, error) {
	var out []oplog.OpRef
	for _, v := range vs {
		parts := strings.Split(v, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%w: draft version %q", ErrInvalid, clipText(v, 80))
		}
		dev, err1 := hex.DecodeString(parts[0])
		epoch, err2 := strconv.ParseUint(parts[1], 16, 64)
		seq, err3 := strconv.ParseUint(parts[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil || len(dev) == 0 || seq == 0 {
			return nil, fmt.Errorf("%w: draft version %q", ErrInvalid, clipText(v, 80))
		}
		out = append(out, oplog.OpRef{Device: dev, Epoch: epoch, Seq: seq})
	}
	return out, nil
}

func (h draftsHost) PublishDraft(ctx context.Context, id, revision string) (drafts.Published, error) {
	guid, err := h.p.publishDraft(ctx, id, []string{revision})
	if err != nil {
		return drafts.Published{}, err
	}
	return drafts.Published{PostGUID: guid}, nil
}

func (h draftsHost) PublishContent(ctx context.Context, c drafts.Content) (drafts.Published, error) {
	in, err := draftPostInput(podContent(c))
	if err != nil {
		return drafts.Published{}, err
	}
	var guid string
	err = h.p.log.Write(ctx, func(w *store.Writer) error {
		var err error
		guid, err = PublishPostIn(w, in)
		return err
	})
	return drafts.Published{PostGUID: guid}, err
}

func (h draftsHost) PublishedAs(ctx context.Context, id string) (string, bool, error) {
	return draftPublishedAs(ctx, h.p.db.R, id)
}

// draftPublishedAs tells whether draft id was published, on any device,
// and as which post: a delete of its register that directly follows (in
// its device's log) the Publish of a post, as publishDraft writes them.
func draftPublishedAs(ctx context.Context, q store.Querier, id string) (string, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT device, epoch, seq FROM st_reg_writes WHERE register = ? AND deleted = 1`,
		store.DraftRegister(id))
	if err != nil {
		return "", false, fmt.Errorf("read draft %s: %w", id, err)
	}
	type ref struct {
		dev        []byte
		epoch, seq int64
	}
	var deletes []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.dev, &r.epoch, &r.seq); err != nil {
			rows.Close()
			return "", false, fmt.Errorf("read draft %s: %w", id, err)
		}
		deletes = append(deletes, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("read draft %s: %w", id, err)
	}
	for _, r := range deletes {
		var b []byte
		err := q.QueryRowContext(ctx, `SELECT bytes FROM ops WHERE device = ? AND epoch = ? AND seq = ? AND kind = ?`,
			r.dev, r.epoch, r.seq-1, int(oplog.KindPublish)).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return "", false, fmt.Errorf("read the op before draft %s's delete: %w", id, err)
		}
		op, err := oplog.Decode(b)
		if err != nil {
			continue
		}
		body, err := oplog.DecodeBody(op.Kind, op.Body)
		if err != nil {
			continue
		}
		if pub, ok := body.(oplog.Publish); ok && pub.Kind == store.KindPost {
			return pub.GUID, true, nil
		}
	}
	return "", false, nil
}

func (h draftsHost) Aspects(ctx context.Context) ([]drafts.Aspect, error) {
	as, err := store.Aspects(ctx, h.p.db.R)
	if err != nil {
		return nil, err
	}
	out := make([]drafts.Aspect, len(as))
	for i, a := range as {
		out[i] = drafts.Aspect{ID: a.ID, Name: a.Name}
	}
	return out, nil
}

func (h draftsHost) UploadPhoto(ctx context.Context, name string, data []byte) (string, error) {
	ph, err := h.p.UploadPhoto(ctx, PhotoUpload{Image: bytes.NewReader(data), Filename: name,
		ContentType: http.DetectContentType(data), Pending: true})
	if err != nil {
		return "", refused(err)
	}
	return ph.GUID, nil
}

func (h draftsHost) PhotoUsable(ctx context.Context, guid string) (bool, error) {
	ph, ok, err := store.PhotoByGUID(ctx, h.p.db.R, guid)
	if err != nil {
		return false, err
	}
	return ok && ph.Own && ph.Pending && ph.PostGUID == "", nil
}
