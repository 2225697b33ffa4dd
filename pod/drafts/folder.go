package drafts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"seedpod/pod/datadir"
)

// Names inside the folder.
const (
	// MetaDir holds Seedpod's own files: the index, the lock, hand-over
	// requests. Hidden, so editors and the watcher leave it alone.
	MetaDir = ".seedpod"
	// PublishedDir is where published files go.
	PublishedDir = "Published"
	indexName    = "index.json"
	requestDir   = "publish"
)

// Defaults of Options.
const (
	DefaultQuiet    = 250 * time.Millisecond
	DefaultRescan   = time.Minute
	DefaultMaxFiles = 5000
	// maxDelayQuiets: a batch of events waits for quiet, but never more
	// than this many quiet periods (a file written without pause).
	maxDelayQuiets = 20
	// readTries bounds how often a file that keeps changing is re-read
	// before it is left for the next event.
	readTries = 6
	// maxPhotoBytes is the largest picture read for upload (pod/media's
	// cap).
	maxPhotoBytes = 20 << 20
)

// Errors of the folder's use cases.
var (
	// ErrFileError: the draft's file cannot be read as a draft (bad front
	// matter, unknown aspect, a photo that is no picture, …).
	ErrFileError = errors.New("the draft's file has an error")
	// ErrBusy: the file is being written; try again in a moment.
	ErrBusy = errors.New("the file is being written")
	// ErrConflict: the draft has concurrent versions; keep one first.
	ErrConflict = errors.New("the draft has concurrent versions")
	// ErrFolderGone: the folder (or its .seedpod) disappeared, an
	// unmounted disk say. The watcher stops rather than taking every file
	// for deleted.
	ErrFolderGone = errors.New("the drafts folder is gone")
	// errBadFile wraps what makes a file's content unusable beyond its
	// syntax (resolve).
	errBadFile = errors.New("not a usable draft file")
)

// isFileError tells the errors that are the file's fault (shown on the
// draft) from the pod's (tried again later).
func isFileError(err error) bool {
	return errors.Is(err, ErrFrontMatter) || errors.Is(err, errBadFile) || errors.Is(err, ErrRefused) || errors.Is(err, errTooLarge)
}

// Options configure a Folder. The zero value works.
type Options struct {
	Logger *slog.Logger
	// Owner names the pod that keeps the folder (its device key, say); an
	// index written by another owner is not trusted.
	Owner string
	// Quiet is how long a file must be left alone before it is read
	// (DefaultQuiet): editors' saves are several events, and a writer that
	// pauses less than this is never caught half-way.
	Quiet time.Duration
	// Rescan is the period of the full comparison that catches what
	// events missed (DefaultRescan).
	Rescan time.Duration
	// MaxFiles bounds the drafts the folder holds (DefaultMaxFiles).
	MaxFiles int
	// OnChange is told the id of a draft whose file (path or error)
	// changed; it must not block.
	OnChange func(draftID string)
}

// FileStatus is a draft's file as the API shows it.
type FileStatus struct {
	Path  string // absolute
	Error string // why the file is not read as a draft; "" when it is
}

// Folder is a watched drafts folder. Its methods are safe for concurrent
// use; Run watches until its context ends.
type Folder struct {
	dir     string
	meta    string
	reqDir  string
	host    Host
	opts    Options
	log     *slog.Logger
	lock    *datadir.Dir
	root    *os.Root
	started time.Time

	mu        sync.Mutex // held for all sync work; guards what follows
	idx       *index
	byDraft   map[string]string   // draft id → file name
	adoptable map[string]Draft    // first sync of a fresh index: drafts without a file
	retry     map[string]struct{} // files that were being written: look again
	published map[string]string   // draft id → where its published file went
	photoMemo map[string]photoMemo
	dirty     bool
	problem   string
	// recheck: a full sync reads files with errors again, as their error
	// may depend on the pod (an aspect created since, a photo added).
	recheck bool

	statusMu sync.RWMutex
	status   map[string]FileStatus

	noteMu sync.Mutex
	noted  map[string]bool
	all    bool
	notify chan struct{}
}

type photoMemo struct {
	st  stamp
	sha string
}

// DefaultFolder is ~/Seedpod/Drafts.
func DefaultFolder(getenv func(string) string) (string, error) {
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the drafts folder: no home directory: %w", err)
		}
		home = h
	}
	return filepath.Join(home, "Seedpod", "Drafts"), nil
}

// Open opens (creating it, 0700) the drafts folder dir, takes its lock (one
// pod per folder: a second gets datadir.ErrLocked) and reads its index.
// Nothing is synced until Sync or Run.
func Open(dir string, host Host, opts Options) (*Folder, error) {
	if dir == "" {
		return nil, errors.New("open the drafts folder: empty path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open the drafts folder %q: %w", dir, err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Quiet <= 0 {
		opts.Quiet = DefaultQuiet
	}
	if opts.Rescan <= 0 {
		opts.Rescan = DefaultRescan
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = DefaultMaxFiles
	}
	if opts.OnChange == nil {
		opts.OnChange = func(string) {}
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create the drafts folder %s: %w", abs, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("open the drafts folder %s: not a directory", abs)
	}
	lock, err := datadir.Open(filepath.Join(abs, MetaDir))
	if err != nil {
		return nil, fmt.Errorf("open the drafts folder %s: %w", abs, err)
	}
	f := &Folder{dir: abs, meta: lock.Path(), reqDir: filepath.Join(lock.Path(), requestDir), host: host, opts: opts,
		log: opts.Logger.With("drafts_folder", abs), lock: lock, started: time.Now(), byDraft: map[string]string{},
		retry: map[string]struct{}{}, published: map[string]string{}, photoMemo: map[string]photoMemo{},
		status: map[string]FileStatus{}, noted: map[string]bool{}, notify: make(chan struct{}, 1)}
	fail := func(err error) (*Folder, error) {
		if f.root != nil {
			f.root.Close()
		}
		lock.Close()
		return nil, err
	}
	if err := os.MkdirAll(f.reqDir, 0o700); err != nil {
		return fail(fmt.Errorf("create %s: %w", f.reqDir, err))
	}
	// A hand-over request publishes a file as the user: only the user may
	// write requests, also when the folders existed with looser modes.
	for _, d := range []string{f.meta, f.reqDir} {
		if err := os.Chmod(d, 0o700); err != nil {
			return fail(fmt.Errorf("make %s private: %w", d, err))
		}
	}
	if f.root, err = os.OpenRoot(abs); err != nil {
		return fail(fmt.Errorf("open the drafts folder %s: %w", abs, err))
	}
	idx, fresh, err := loadIndex(filepath.Join(f.meta, indexName), opts.Owner)
	if err != nil {
		return fail(err)
	}
	f.idx = idx
	if fresh {
		f.adoptable = map[string]Draft{}
	}
	for name, e := range idx.Files {
		f.byDraft[e.Draft] = name
		f.status[e.Draft] = FileStatus{Path: f.path(name), Error: e.Error}
	}
	return f, nil
}

// Dir is the folder's absolute path.
func (f *Folder) Dir() string { return f.dir }

// Close saves the index and releases the folder. Run must have returned.
func (f *Folder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.save()
	f.root.Close()
	return errors.Join(err, f.lock.Close())
}

// Status is the file of draft id, if it has one.
func (f *Folder) Status(id string) (FileStatus, bool) {
	f.statusMu.RLock()
	defer f.statusMu.RUnlock()
	s, ok := f.status[id]
	return s, ok
}

// Problem is what keeps the folder from being synced whole ("" when
// nothing does): too many files, or the folder gone.
func (f *Folder) Problem() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.problem
}

// maxNoted bounds the drafts remembered between two syncs; beyond it the
// next sync compares every draft.
const maxNoted = 10_000

// NotifyDrafts tells the folder that drafts changed in the pod (a commit's
// changes); Run syncs their files. It never blocks.
func (f *Folder) NotifyDrafts(ids ...string) {
	f.noteMu.Lock()
	for _, id := range ids {
		if len(f.noted) >= maxNoted {
			f.all = true
			clear(f.noted)
			break
		}
		f.noted[id] = true
	}
	f.noteMu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// Recheck asks for a full sync soon, in which files with errors are read
// again: the pod changed in a way that may fix them (an aspect was created
// or renamed, the identity was created). It never blocks.
func (f *Folder) Recheck() {
	f.noteMu.Lock()
	f.all = true
	f.noteMu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

func (f *Folder) takeNoted() (ids []string, all bool) {
	f.noteMu.Lock()
	defer f.noteMu.Unlock()
	ids = slices.Sorted(maps.Keys(f.noted))
	all = f.all
	clear(f.noted)
	f.all = false
	return ids, all
}

// Sync compares the whole folder with the drafts once: files first (so an
// edit made while the pod was closed is taken as an edit), then drafts,
// then hand-over requests.
func (f *Folder) Sync(ctx context.Context) error {
	f.mu.Lock()
	err := f.fullSync(ctx)
	f.mu.Unlock()
	f.processRequests(ctx)
	return err
}

// Run watches the folder until ctx ends: events are gathered until the
// folder has been quiet for Options.Quiet, then the files they name are
// synced; draft changes (NotifyDrafts) are synced at once; every
// Options.Rescan the whole folder is compared again. It returns nil when
// ctx ends, ErrFolderGone when the folder disappears.
func (f *Folder) Run(ctx context.Context) error {
	w, err := newWatcher(f.dir, f.reqDir)
	if err != nil {
		f.setProblem(err.Error())
		return err
	}
	defer w.Close()
	if err := f.Sync(ctx); err != nil {
		f.log.Error("drafts folder: first sync", "err", err)
		if errors.Is(err, ErrFolderGone) {
			return err
		}
	}
	f.cleanRequests(true)
	quiet := f.opts.Quiet
	pending := map[string]time.Time{}
	var first time.Time
	requests := false
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	rescan := time.NewTicker(f.opts.Rescan)
	defer rescan.Stop()
	flood := false
	// touch notes an event for file name ("" for a hand-over request) and
	// arms the timer: quiet after the last event, but no later than
	// maxDelayQuiets quiet periods after the first of the batch.
	touch := func(name string) {
		now := time.Now()
		if len(pending) == 0 && !requests && !flood {
			first = now
		}
		switch {
		case name == "":
			requests = true
		case flood:
		case len(pending) >= 2*f.opts.MaxFiles:
			// A flood of names: forget them, compare the whole folder.
			clear(pending)
			flood = true
		default:
			pending[name] = now
		}
		if now.Sub(first) < maxDelayQuiets*quiet {
			timer.Reset(quiet)
		}
	}
	for {
		select {
		case <-ctx.Done():
			f.mu.Lock()
			if err := f.save(); err != nil {
				f.log.Error("drafts folder: save the index", "err", err)
			}
			f.mu.Unlock()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("drafts folder: the watcher stopped")
			}
			dir, name := filepath.Split(ev.Name)
			dir = filepath.Clean(dir)
			switch {
			case ev.Name == f.dir || ev.Name == f.meta:
				if !f.intact() {
					f.setProblem(fmt.Sprintf("the folder %s is gone; restart Seedpod when it is back", f.dir))
					f.log.Error("drafts folder: the folder is gone; watching stops")
					return ErrFolderGone
				}
			case dir == f.reqDir:
				if strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, resultSuffix) && !strings.HasPrefix(name, ".") {
					touch("")
				}
			case dir == f.dir && (IsDraftName(name) || isConflictName(name)):
				touch(name)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("drafts folder: the watcher stopped")
			}
			// Overflow or another trouble: events were lost; compare all.
			f.log.Warn("drafts folder: watcher error; comparing the whole folder", "err", err)
			if err := f.Sync(ctx); errors.Is(err, ErrFolderGone) {
				return err
			}
		case <-f.notify:
			ids, all := f.takeNoted()
			f.mu.Lock()
			var err error
			if all {
				err = f.fullSync(ctx)
			} else {
				for _, id := range ids {
					if _, err = f.syncDraft(ctx, id); err != nil {
						f.log.Warn("drafts folder: sync a draft", "draft", id, "err", err)
					}
				}
			}
			f.saveLogged()
			f.mu.Unlock()
			if errors.Is(err, ErrFolderGone) {
				return err
			}
		case <-timer.C:
			now := time.Now()
			var due []string
			next := time.Duration(-1)
			for name, t := range pending {
				if wait := quiet - now.Sub(t); wait > quiet/10 && now.Sub(first) < maxDelayQuiets*quiet {
					if next < 0 || wait < next {
						next = wait
					}
					continue
				}
				due = append(due, name)
				delete(pending, name)
			}
			if flood {
				flood = false
				if err := f.Sync(ctx); errors.Is(err, ErrFolderGone) {
					return err
				}
			}
			if err := f.syncNames(ctx, due); errors.Is(err, ErrFolderGone) {
				return err
			}
			f.mu.Lock()
			for name := range f.retry {
				pending[name] = now
				delete(f.retry, name)
				next = quiet
			}
			f.mu.Unlock()
			if requests {
				requests = false
				f.processRequests(ctx)
			}
			first = now
			for _, t := range pending {
				if t.Before(first) {
					first = t
				}
			}
			if next >= 0 {
				timer.Reset(next)
			}
		case <-rescan.C:
			if err := f.Sync(ctx); errors.Is(err, ErrFolderGone) {
				return err
			}
			f.cleanRequests(false)
		}
	}
}

func isConflictName(name string) bool {
	_, ok := conflictOf(name)
	return ok && !strings.HasPrefix(name, ".")
}

// syncNames syncs the files a batch of events named: present files first
// (a renamed file is recognised by its content while its old name's entry
// is still there), then the missing ones.
func (f *Folder) syncNames(ctx context.Context, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.saveLogged()
	if !f.intact() {
		f.problem = fmt.Sprintf("the folder %s is gone; restart Seedpod when it is back", f.dir)
		return ErrFolderGone
	}
	slices.Sort(names)
	var gone []string
	for _, name := range names {
		if _, err := os.Lstat(f.path(name)); errors.Is(err, fs.ErrNotExist) {
			gone = append(gone, name)
			continue
		}
		if IsDraftName(name) {
			f.syncLogged(ctx, name)
		}
	}
	for _, name := range gone {
		if IsDraftName(name) {
			f.syncLogged(ctx, name)
		} else if err := f.conflictGone(ctx, name); err != nil {
			f.log.Warn("drafts folder: a conflict copy was deleted", "file", name, "err", err)
		}
	}
	return nil
}

func (f *Folder) syncLogged(ctx context.Context, name string) {
	if err := f.syncFile(ctx, name); err != nil {
		f.log.Warn("drafts folder: sync a file", "file", name, "err", err)
	}
}

func (f *Folder) saveLogged() {
	if err := f.save(); err != nil {
		f.log.Error("drafts folder: save the index", "err", err)
	}
}

func (f *Folder) save() error {
	if !f.dirty {
		return nil
	}
	if err := f.idx.save(filepath.Join(f.meta, indexName)); err != nil {
		return err
	}
	f.dirty = false
	return nil
}

func (f *Folder) setProblem(s string) {
	f.mu.Lock()
	f.problem = s
	f.mu.Unlock()
}

// intact reports whether the folder and its .seedpod are still there. A
// folder that vanished (an unmounted disk, a deleted folder) must not be
// taken for every file deleted.
func (f *Folder) intact() bool {
	fi, err := os.Stat(f.dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	fi, err = os.Stat(f.meta)
	return err == nil && fi.IsDir()
}

func (f *Folder) path(name string) string { return filepath.Join(f.dir, name) }

// setEntry records name's entry and tells the file's status.
func (f *Folder) setEntry(name string, e *entry) {
	f.idx.Files[name] = e
	f.byDraft[e.Draft] = name
	f.dirty = true
	st := FileStatus{Path: f.path(name), Error: e.Error}
	f.statusMu.Lock()
	old, ok := f.status[e.Draft]
	f.status[e.Draft] = st
	f.statusMu.Unlock()
	if !ok || old != st {
		f.opts.OnChange(e.Draft)
	}
}

func (f *Folder) dropEntry(name string) {
	e := f.idx.Files[name]
	if e == nil {
		return
	}
	delete(f.idx.Files, name)
	if f.byDraft[e.Draft] == name {
		delete(f.byDraft, e.Draft)
		f.statusMu.Lock()
		delete(f.status, e.Draft)
		f.statusMu.Unlock()
		f.opts.OnChange(e.Draft)
	}
	f.dirty = true
}

// fullSync: see Sync. f.mu is held.
func (f *Folder) fullSync(ctx context.Context) error {
	if !f.intact() {
		f.problem = fmt.Sprintf("the folder %s is gone; restart Seedpod when it is back", f.dir)
		return ErrFolderGone
	}
	defer f.saveLogged()
	f.recheck = true
	defer func() { f.recheck = false }()
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("list the drafts folder %s: %w", f.dir, err)
	}
	var names []string
	for _, de := range ents {
		if de.Type().IsRegular() && IsDraftName(de.Name()) {
			names = append(names, de.Name())
		}
	}
	f.problem = ""
	if len(names) > f.opts.MaxFiles {
		f.problem = fmt.Sprintf("the folder has %d draft files; only the first %d (by name) are synced", len(names), f.opts.MaxFiles)
		f.log.Warn("drafts folder: too many files", "files", len(names), "max", f.opts.MaxFiles)
		names = names[:f.opts.MaxFiles]
	}
	if f.adoptable != nil {
		if err := f.loadAdoptable(ctx); err != nil {
			return err
		}
	}
	present := map[string]bool{}
	for _, name := range names {
		present[name] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		f.syncLogged(ctx, name)
	}
	for _, name := range slices.Sorted(maps.Keys(f.idx.Files)) {
		if !present[name] {
			f.syncLogged(ctx, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.idx.Files)) {
		if e := f.idx.Files[name]; e != nil {
			for c := range e.Conflicts {
				if _, err := os.Lstat(f.path(c)); errors.Is(err, fs.ErrNotExist) {
					if err := f.conflictGone(ctx, c); err != nil {
						f.log.Warn("drafts folder: a conflict copy was deleted", "file", c, "err", err)
					}
				}
			}
		}
	}
	if f.adoptable != nil {
		f.adoptable = nil
		f.idx.Adopted = true
		f.dirty = true
	}
	revs, err := f.host.Drafts(ctx)
	if err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(revs)) {
		name, ok := f.byDraft[id]
		if ok && f.idx.Files[name].Revision == revs[id] {
			continue
		}
		if _, err := f.syncDraft(ctx, id); err != nil {
			f.log.Warn("drafts folder: sync a draft", "draft", id, "err", err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(f.byDraft)) {
		if _, ok := revs[id]; !ok {
			if _, err := f.syncDraft(ctx, id); err != nil {
				f.log.Warn("drafts folder: sync a draft", "draft", id, "err", err)
			}
		}
	}
	return nil
}

// loadAdoptable lists the drafts that have no file, for a fresh index
// (first run, or a lost index): a file named after one (…-<last 6 of its
// id>.md) or holding the same text is bound to it instead of becoming a
// second draft.
func (f *Folder) loadAdoptable(ctx context.Context) error {
	revs, err := f.host.Drafts(ctx)
	if err != nil {
		return err
	}
	for id := range revs {
		if _, ok := f.byDraft[id]; ok {
			continue
		}
		d, ok, err := f.host.Draft(ctx, id)
		if err != nil {
			return err
		}
		if ok {
			f.adoptable[id] = d
		}
	}
	return nil
}

// adopt finds a draft without a file for a new file of a fresh index.
func (f *Folder) adopt(name string, file *File) (Draft, bool) {
	if len(f.adoptable) == 0 {
		return Draft{}, false
	}
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	if i := strings.LastIndexByte(stem, '-'); i >= 0 && len(stem)-i-1 == 6 {
		suffix := strings.ToUpper(stem[i+1:])
		for _, id := range slices.Sorted(maps.Keys(f.adoptable)) {
			if strings.HasSuffix(id, suffix) {
				d := f.adoptable[id]
				delete(f.adoptable, id)
				return d, true
			}
		}
	}
	if file != nil && file.Body != "" {
		for _, id := range slices.Sorted(maps.Keys(f.adoptable)) {
			d := f.adoptable[id]
			if trimBody(d.Versions[0].Content.Body) == file.Body {
				delete(f.adoptable, id)
				return d, true
			}
		}
	}
	return Draft{}, false
}

// renamed finds the entry of a file that disappeared and whose last
// synced content is h: the file was renamed (or moved and back).
func (f *Folder) renamed(h string) (string, *entry) {
	var found string
	for name, e := range f.idx.Files {
		if e.Hash != h || e.Error != "" || found != "" && name > found {
			continue
		}
		if _, err := os.Lstat(f.path(name)); errors.Is(err, fs.ErrNotExist) {
			found = name // the first by name, when identical files went
		}
	}
	if found == "" {
		return "", nil
	}
	return found, f.idx.Files[found]
}

// syncFile brings the draft of file name up to the file: a new file makes a
// draft (or takes over a renamed file's), a changed one updates its draft
// (both versions kept when the draft changed too), a broken one shows its
// error, a missing one deletes its draft. f.mu is held.
func (f *Folder) syncFile(ctx context.Context, name string) error {
	p := f.path(name)
	e := f.idx.Files[name]
	recheck := f.recheck && e != nil && e.Error != ""
	if e != nil && e.Stat.MTime != 0 && !recheck {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && stampOf(fi) == e.Stat {
			return nil
		}
	}
	data, st, err := readStable(p, f.opts.Quiet, readTries, time.Now)
	var h string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if e != nil {
			return f.fileGone(ctx, name, e)
		}
		return nil
	case errors.Is(err, errUnstable):
		f.retry[name] = struct{}{}
		return nil
	case errors.Is(err, errTooLarge):
		h = fmt.Sprintf("size:%d:%d", st.Size, st.MTime)
	case err != nil:
		return fmt.Errorf("read %s: %w", p, err)
	default:
		h = hashBytes(data)
	}
	if e != nil && !recheck && (e.Error == "" && h == e.Hash || e.Error != "" && h == e.ErrorHash) {
		e.Stat = st
		f.dirty = true
		return nil
	}
	var file File
	var c Content
	var photos map[string]string
	if err == nil {
		if file, err = Parse(data); err == nil {
			c, photos, err = f.resolve(ctx, file, f.root, f.dir)
		}
	}
	if err != nil && !isFileError(err) {
		return err
	}
	if e == nil {
		if oldName, old := f.renamed(h); old != nil && err == nil {
			f.dropEntry(oldName)
			old.Stat = st
			f.setEntry(name, old)
			f.log.Info("drafts folder: a file was renamed; its draft follows", "from", oldName, "to", name, "draft", old.Draft)
			return nil
		}
		// The bound holds however files come (a full sync also cuts the
		// names it reads, but events name one file at a time).
		if len(f.idx.Files) >= f.opts.MaxFiles {
			f.problem = fmt.Sprintf("the folder holds %d drafts, its limit; newer files such as %s make no draft", f.opts.MaxFiles, clip(name))
			f.log.Warn("drafts folder: too many files; a new one makes no draft", "file", name, "max", f.opts.MaxFiles)
			return nil
		}
		var fp *File
		if err == nil {
			fp = &file
		}
		if d, ok := f.adopt(name, fp); ok {
			// No version is named as the file's: without an index nothing
			// tells whether the file or the app changed since, so a file
			// that differs from its draft is written beside the draft's
			// versions (a conflict), superseding none of them.
			e = &entry{Draft: d.ID, Revision: d.Revision}
			f.log.Info("drafts folder: a file is bound to its draft again", "file", name, "draft", d.ID)
		}
	}
	if err != nil {
		return f.fileBroken(ctx, name, e, data, st, h, err)
	}
	if e == nil {
		d, err := f.host.CreateDraft(ctx, c)
		if errors.Is(err, ErrRefused) {
			return f.fileBroken(ctx, name, nil, data, st, h, err)
		}
		if err != nil {
			return err
		}
		f.setEntry(name, &entry{Draft: d.ID, Hash: h, Stat: st, Version: d.Written, Revision: d.Revision, Photos: photos})
		f.log.Info("drafts folder: a new file makes a draft", "file", name, "draft", d.ID)
		return nil
	}
	return f.fileChanged(ctx, name, e, c, photos, h, st, data)
}

// fileChanged writes a changed file's content to its draft, superseding
// only the version the file held: a version written in the app since (or
// on another device) stays live beside it, and gets a conflict copy.
func (f *Folder) fileChanged(ctx context.Context, name string, e *entry, c Content, photos map[string]string, h string, st stamp, data []byte) error {
	d, live, err := f.host.Draft(ctx, e.Draft)
	if err != nil {
		return err
	}
	if live {
		for _, v := range d.Versions {
			if v.Content.Equal(c) {
				return f.record(ctx, name, e, d, v.ID, h, st, photos)
			}
		}
	}
	var pred []string
	if e.Version != "" {
		pred = []string{e.Version}
	}
	nd, err := f.host.WriteDraft(ctx, e.Draft, c, pred)
	if errors.Is(err, ErrRefused) {
		return f.fileBroken(ctx, name, e, data, st, h, err)
	}
	if err != nil {
		return err
	}
	switch {
	case !live:
		f.log.Info("drafts folder: the draft was deleted but its file changed since; the file's text is kept", "file", name, "draft", e.Draft)
	case d.Revision != e.Revision && len(nd.Versions) > 1:
		f.log.Info("drafts folder: the file and the app both changed the draft; both versions are kept", "file", name, "draft", e.Draft)
	}
	return f.record(ctx, name, e, nd, nd.Written, h, st, photos)
}

// record notes that file name (hash h) holds version of draft d, and writes
// the conflict copies of d's other versions.
func (f *Folder) record(ctx context.Context, name string, e *entry, d Draft, version, h string, st stamp, photos map[string]string) error {
	e.Hash, e.Stat, e.Version, e.Revision, e.Error, e.ErrorHash = h, st, version, d.Revision, "", ""
	e.Photos = photos
	f.writeConflicts(ctx, name, e, d)
	f.setEntry(name, e)
	return nil
}

// fileBroken shows why a file cannot be read on its draft and leaves the
// file alone. A new file still gets a draft (with the text that could be
// read), so the app shows the error.
func (f *Folder) fileBroken(ctx context.Context, name string, e *entry, data []byte, st stamp, h string, cause error) error {
	if e == nil {
		d, err := f.host.CreateDraft(ctx, Content{Body: bestEffortBody(data)})
		if errors.Is(err, ErrRefused) {
			d, err = f.host.CreateDraft(ctx, Content{})
		}
		if err != nil {
			return err
		}
		e = &entry{Draft: d.ID, Version: d.Written, Revision: d.Revision}
	}
	msg := clipN(userMessage(cause), 500)
	if e.Error != msg {
		f.log.Warn("drafts folder: a file cannot be read as a draft; it is left as it is", "file", name, "draft", e.Draft, "err", msg)
	}
	e.Error, e.ErrorHash, e.Stat = msg, h, st
	f.setEntry(name, e)
	return nil
}

// userMessage is an error as the draft shows it: without the package's
// classifying prefixes.
func userMessage(err error) string {
	s := err.Error()
	for _, sentinel := range []error{ErrFrontMatter, errBadFile} {
		s = strings.TrimPrefix(s, sentinel.Error()+": ")
	}
	return s
}

// bestEffortBody is the text of a file whose front matter is broken: what
// follows it when it is closed, else the whole file.
func bestEffortBody(data []byte) string {
	if len(data) > MaxFileSize || !utf8.Valid(data) {
		return ""
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if _, body, has, err := splitFrontMatter(data); err == nil && has {
		return trimBody(string(body))
	}
	return trimBody(string(data))
}

// fileGone handles a file that disappeared: its draft is deleted (exactly
// the versions the folder showed), unless the draft changed in the app
// since the last sync; then the draft stays and gets its file back.
func (f *Folder) fileGone(ctx context.Context, name string, e *entry) error {
	if !f.intact() {
		return ErrFolderGone
	}
	d, live, err := f.host.Draft(ctx, e.Draft)
	if err != nil {
		return err
	}
	if live && d.Revision != e.Revision {
		f.removeConflicts(e)
		f.dropEntry(name)
		f.log.Info("drafts folder: a file was deleted, but its draft changed in the app since; the draft stays and gets its file back",
			"file", name, "draft", e.Draft)
		return f.newDraftFile(ctx, d, name)
	}
	if live {
		ids := make([]string, len(d.Versions))
		for i, v := range d.Versions {
			ids[i] = v.ID
		}
		if _, _, err := f.host.DeleteVersions(ctx, e.Draft, ids); err != nil {
			return err
		}
		f.log.Info("drafts folder: a file was deleted, and so is its draft", "file", name, "draft", e.Draft)
	}
	f.removeConflicts(e)
	f.dropEntry(name)
	return nil
}

// conflictGone: the user deleted a conflict copy, which dismisses that
// version of the draft.
func (f *Folder) conflictGone(ctx context.Context, cname string) error {
	for _, name := range slices.Sorted(maps.Keys(f.idx.Files)) {
		e := f.idx.Files[name]
		cc, ok := e.Conflicts[cname]
		if !ok {
			continue
		}
		if _, err := os.Lstat(f.path(cname)); !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		delete(e.Conflicts, cname)
		f.dirty = true
		d, live, err := f.host.Draft(ctx, e.Draft)
		if err != nil || !live {
			return err
		}
		if _, ok := d.version(cc.Version); !ok || cc.Version == e.Version {
			return nil
		}
		d, live, err = f.host.DeleteVersions(ctx, e.Draft, []string{cc.Version})
		if err != nil {
			return err
		}
		f.log.Info("drafts folder: a conflict copy was deleted; that version of the draft is dropped", "file", cname, "draft", e.Draft)
		if live && e.Revision != "" {
			e.Revision = d.Revision
		}
		f.setEntry(name, e)
		return nil
	}
	return nil
}

// syncDraft brings the file of draft id up to the draft: a new draft gets
// a file, a changed one rewrites its file (atomically, and only a file
// unchanged since the last sync), a deleted one removes its file and a
// published one moves it to Published/ (again only a file unchanged since
// the last sync: a changed file's text is kept as the draft). It returns
// where a published file went. f.mu is held.
func (f *Folder) syncDraft(ctx context.Context, id string) (string, error) {
	name, has := f.byDraft[id]
	d, live, err := f.host.Draft(ctx, id)
	if err != nil {
		return "", err
	}
	if !has {
		if !live {
			return "", nil
		}
		return "", f.newDraftFile(ctx, d, "")
	}
	e := f.idx.Files[name]
	p := f.path(name)
	if !live {
		if e.Error != "" {
			return "", nil // the file is broken: the user's text stays
		}
		data, _, err := readStable(p, f.opts.Quiet, readTries, time.Now)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			f.removeConflicts(e)
			f.dropEntry(name)
			return "", nil
		case err != nil && isFileError(err):
			return "", f.syncFile(ctx, name)
		case err != nil:
			return "", err
		}
		if hashBytes(data) != e.Hash {
			return "", f.syncFile(ctx, name) // changed since: the text is kept (the draft comes back)
		}
		return f.retire(ctx, name, e)
	}
	if d.Revision == e.Revision || e.Error != "" {
		return "", nil
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", f.fileGone(ctx, name, e)
	}
	if err != nil {
		return "", err
	}
	if stampOf(fi) != e.Stat {
		data, st, err := readStable(p, f.opts.Quiet, readTries, time.Now)
		if err != nil || hashBytes(data) != e.Hash {
			return "", f.syncFile(ctx, name) // both changed: syncFile keeps both
		}
		e.Stat = st
	}
	// The file is as last synced: it takes the app's version. While the
	// version it holds is live it keeps it, and the others get copies.
	main := e.Version
	v, ok := d.version(main)
	if !ok {
		v = d.Versions[0]
		main = v.ID
	}
	data, err := f.render(ctx, v.Content, e.Photos)
	if err != nil {
		return "", err
	}
	if h := hashBytes(data); h != e.Hash {
		st, err := f.replace(p, data, fi.Mode().Perm(), e.Stat)
		if errors.Is(err, errChangedMeanwhile) {
			return "", f.syncFile(ctx, name)
		}
		if err != nil {
			return "", err
		}
		e.Hash, e.Stat = h, st
		f.log.Info("drafts folder: the draft changed in the app; its file is rewritten", "file", name, "draft", id)
	}
	e.Version, e.Revision = main, d.Revision
	f.writeConflicts(ctx, name, e, d)
	f.setEntry(name, e)
	return "", nil
}

// retire removes the file of a draft that is gone, or moves it to
// Published/ when the draft was published, with its conflict copies.
func (f *Folder) retire(ctx context.Context, name string, e *entry) (string, error) {
	p := f.path(name)
	_, published, err := f.host.PublishedAs(ctx, e.Draft)
	if err != nil {
		return "", err
	}
	var moved string
	if published {
		if moved, err = moveNoReplace(p, filepath.Join(f.dir, PublishedDir)); err != nil {
			return "", err
		}
		if len(f.published) >= 100 {
			clear(f.published)
		}
		f.published[e.Draft] = moved
		f.log.Info("drafts folder: the draft was published; its file moves to "+PublishedDir, "file", name, "to", moved)
	} else {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("remove %s: %w", p, err)
		}
		fsyncDir(f.dir)
		f.log.Info("drafts folder: the draft was deleted; so is its file", "file", name)
	}
	f.removeConflicts(e)
	f.dropEntry(name)
	return moved, nil
}

// errChangedMeanwhile: the file changed between our check and our write.
var errChangedMeanwhile = errors.New("the file changed meanwhile")

// replace writes a file over p, atomically, if p is still as expect says;
// it returns the new file's stat.
func (f *Folder) replace(p string, data []byte, perm fs.FileMode, expect stamp) (stamp, error) {
	tmp, err := writeTemp(f.dir, data, perm)
	if err != nil {
		return stamp{}, err
	}
	if fi, err := os.Lstat(p); err != nil || stampOf(fi) != expect {
		os.Remove(tmp)
		return stamp{}, errChangedMeanwhile
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return stamp{}, fmt.Errorf("replace %s: %w", p, err)
	}
	fsyncDir(f.dir)
	fi, err := os.Lstat(p)
	if err != nil {
		return stamp{}, err
	}
	return stampOf(fi), nil
}

// newDraftFile writes the file of a draft that has none: named name when
// given and free, else after its first line and the end of its id
// ("hello-world-7kq2xz.md").
func (f *Folder) newDraftFile(ctx context.Context, d Draft, name string) error {
	if len(f.idx.Files) >= f.opts.MaxFiles {
		f.problem = fmt.Sprintf("the folder holds %d drafts, its limit; newer drafts get no file", f.opts.MaxFiles)
		return nil
	}
	v := d.Versions[0]
	data, err := f.render(ctx, v.Content, nil)
	if err != nil {
		return err
	}
	if name == "" {
		name = Slug(v.Content.Body) + "-" + strings.ToLower(d.ID[max(len(d.ID)-6, 0):]) + ".md"
	}
	got, err := createNew(f.dir, name, data, 0o600)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(f.path(got))
	if err != nil {
		return err
	}
	e := &entry{Draft: d.ID, Hash: hashBytes(data), Stat: stampOf(fi), Version: v.ID, Revision: d.Revision}
	f.writeConflicts(ctx, got, e, d)
	f.setEntry(got, e)
	f.log.Info("drafts folder: a draft gets its file", "file", got, "draft", d.ID)
	return nil
}

// writeConflicts makes the folder show draft d's live versions other than
// the file's as conflict copies (name.conflict-<short>.md), and removes
// the copies of versions that are gone (when the user did not edit them).
func (f *Folder) writeConflicts(ctx context.Context, name string, e *entry, d Draft) {
	want := map[string]Version{}
	for _, v := range d.Versions {
		if v.ID != e.Version {
			want[conflictName(name, v.ID)] = v
		}
	}
	for cname, cc := range e.Conflicts {
		if v, ok := want[cname]; ok && v.ID == cc.Version {
			continue
		}
		delete(e.Conflicts, cname)
		f.removeIfUnchanged(cname, cc.Hash)
	}
	for _, cname := range slices.Sorted(maps.Keys(want)) {
		if _, ok := e.Conflicts[cname]; ok {
			continue
		}
		v := want[cname]
		data, err := f.render(ctx, v.Content, e.Photos)
		if err != nil {
			f.log.Warn("drafts folder: render a conflict copy", "file", cname, "err", err)
			continue
		}
		tmp, err := writeTemp(f.dir, data, 0o600)
		if err != nil {
			f.log.Warn("drafts folder: write a conflict copy", "file", cname, "err", err)
			continue
		}
		err = os.Link(tmp, f.path(cname))
		os.Remove(tmp)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			err = writeExclusive(f.path(cname), data, 0o600)
		}
		if err != nil {
			f.log.Warn("drafts folder: write a conflict copy", "file", cname, "err", err)
			continue
		}
		fsyncDir(f.dir)
		if e.Conflicts == nil {
			e.Conflicts = map[string]conflictCopy{}
		}
		e.Conflicts[cname] = conflictCopy{Version: v.ID, Hash: hashBytes(data)}
		f.log.Info("drafts folder: the draft has another version; it is shown as a conflict copy", "file", cname, "draft", d.ID)
	}
}

func (f *Folder) removeConflicts(e *entry) {
	for cname, cc := range e.Conflicts {
		delete(e.Conflicts, cname)
		f.removeIfUnchanged(cname, cc.Hash)
	}
}

// removeIfUnchanged removes a file Seedpod wrote, unless the user changed
// it since (then it is theirs).
func (f *Folder) removeIfUnchanged(name, hash string) {
	p := f.path(name)
	data, err := readCapped(p, MaxFileSize)
	if err != nil || hashBytes(data) != hash {
		return
	}
	if err := os.Remove(p); err == nil {
		fsyncDir(f.dir)
	}
}

// render writes a draft's content as a file: aspect ids by name, photos by
// the paths the file named them by (else as photo:<guid>). Content the
// file format cannot hold back (which Parse would refuse) is an error:
// the file is then left as it is.
func (f *Folder) render(ctx context.Context, c Content, photos map[string]string) ([]byte, error) {
	file := File{Body: trimBody(c.Body), Tags: c.Tags, NSFW: c.NSFW, ContentWarning: c.ContentWarning, Location: c.Location, Poll: c.Poll}
	file.Audience.Public = c.Public
	if !c.Public && len(c.Aspects) > 0 {
		as, err := f.host.Aspects(ctx)
		if err != nil {
			return nil, err
		}
		for _, id := range c.Aspects {
			for _, a := range as {
				if a.ID == id {
					file.Audience.Aspects = append(file.Audience.Aspects, a.Name)
				}
			}
		}
	}
	for _, g := range c.Photos {
		if p, ok := photos[g]; ok {
			file.Photos = append(file.Photos, p)
		} else {
			file.Photos = append(file.Photos, PhotoRefPrefix+g)
		}
	}
	data, err := Render(file)
	if err != nil {
		return nil, err
	}
	if _, err := Parse(data); err != nil {
		return nil, fmt.Errorf("the draft cannot be written as a file: %w", err)
	}
	return data, nil
}

// resolve turns a parsed file into draft content: aspect names into ids,
// photo paths (relative to base, inside it) into uploaded photos, each
// picture uploaded once (by content). photos maps the guids to the paths.
func (f *Folder) resolve(ctx context.Context, file File, root *os.Root, base string) (Content, map[string]string, error) {
	c := Content{Body: file.Body, Public: file.Audience.Public, Tags: file.Tags, NSFW: file.NSFW,
		ContentWarning: file.ContentWarning, Location: file.Location, Poll: file.Poll}
	if len(file.Audience.Aspects) > 0 {
		as, err := f.host.Aspects(ctx)
		if err != nil {
			return c, nil, err
		}
		for _, name := range file.Audience.Aspects {
			i := slices.IndexFunc(as, func(a Aspect) bool { return strings.EqualFold(a.Name, name) })
			if i < 0 {
				names := make([]string, len(as))
				for j, a := range as {
					names[j] = a.Name
				}
				return c, nil, fmt.Errorf("%w: audience: you have no aspect %q (yours: %s)", errBadFile, clip(name), strings.Join(names, ", "))
			}
			if !slices.Contains(c.Aspects, as[i].ID) {
				c.Aspects = append(c.Aspects, as[i].ID)
			}
		}
	}
	var photos map[string]string
	for _, p := range file.Photos {
		guid, err := f.photo(ctx, root, base, p)
		if err != nil {
			return c, nil, err
		}
		if photos == nil {
			photos = map[string]string{}
		}
		if _, dup := photos[guid]; !dup {
			photos[guid] = p
			c.Photos = append(c.Photos, guid)
		}
	}
	return c, photos, nil
}

// photo is the pod photo of a file's photo reference, uploading the
// picture when the pod has no usable photo of the same content.
func (f *Folder) photo(ctx context.Context, root *os.Root, base, p string) (string, error) {
	if g, ok := strings.CutPrefix(p, PhotoRefPrefix); ok {
		return g, nil
	}
	rel := filepath.FromSlash(p)
	fi, err := root.Stat(rel)
	if err != nil {
		return "", fmt.Errorf("%w: photo %q: %v", errBadFile, clip(p), photoStatError(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: photo %q is not a file", errBadFile, clip(p))
	}
	if fi.Size() > maxPhotoBytes {
		return "", fmt.Errorf("%w: photo %q has %d bytes; at most %d MiB", errBadFile, clip(p), fi.Size(), maxPhotoBytes>>20)
	}
	key := base + "\x00" + rel
	st := stampOf(fi)
	m, known := f.photoMemo[key]
	if known && m.st == st {
		if g := f.idx.Photos[m.sha]; g != "" {
			if ok, err := f.host.PhotoUsable(ctx, g); err != nil {
				return "", err
			} else if ok {
				return g, nil
			}
		}
	}
	fh, err := root.OpenFile(rel, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return "", fmt.Errorf("%w: photo %q: %v", errBadFile, clip(p), photoStatError(err))
	}
	if fi, err := fh.Stat(); err != nil || !fi.Mode().IsRegular() {
		fh.Close()
		return "", fmt.Errorf("%w: photo %q is not a file", errBadFile, clip(p))
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxPhotoBytes+1))
	fh.Close()
	if err != nil {
		return "", fmt.Errorf("read photo %q: %w", p, err)
	}
	if len(data) > maxPhotoBytes {
		return "", fmt.Errorf("%w: photo %q has more than %d MiB", errBadFile, clip(p), maxPhotoBytes>>20)
	}
	sha := hashBytes(data)
	if len(f.photoMemo) >= 4*maxPhotos {
		clear(f.photoMemo)
	}
	f.photoMemo[key] = photoMemo{st: st, sha: sha}
	if g := f.idx.Photos[sha]; g != "" {
		ok, err := f.host.PhotoUsable(ctx, g)
		if err != nil {
			return "", err
		}
		if ok {
			return g, nil
		}
	}
	g, err := f.host.UploadPhoto(ctx, path.Base(p), data)
	if errors.Is(err, ErrRefused) {
		return "", fmt.Errorf("%w: photo %q: %v", errBadFile, clip(p), err)
	}
	if err != nil {
		return "", err
	}
	f.idx.Photos[sha] = g
	f.dirty = true
	f.log.Info("drafts folder: a photo is uploaded", "photo", p, "guid", g)
	return g, nil
}

func photoStatError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file (photo paths are relative to the draft file)"
	case strings.Contains(err.Error(), "escapes"):
		return "the path leads out of the folder"
	}
	return err.Error()
}

// BeforePublish brings draft id up to its file before the app publishes
// it: a file saved a moment ago is read now, and a file with an error
// stops the publish (ErrFileError), as a file being written does
// (ErrBusy).
func (f *Folder) BeforePublish(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.saveLogged()
	name, ok := f.byDraft[id]
	if !ok {
		return nil
	}
	if err := f.syncFile(ctx, name); err != nil {
		return err
	}
	if _, busy := f.retry[name]; busy {
		return fmt.Errorf("%w: %s is being saved; publish again in a moment", ErrBusy, name)
	}
	if n, ok := f.byDraft[id]; ok {
		if e := f.idx.Files[n]; e.Error != "" {
			return fmt.Errorf("%w: %s: %s", ErrFileError, n, e.Error)
		}
	}
	return nil
}

// AfterPublish moves the file of draft id, just published, to Published/
// and returns where it went ("" when the draft had no file).
func (f *Folder) AfterPublish(ctx context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.saveLogged()
	if moved, ok := f.published[id]; ok {
		delete(f.published, id)
		return moved, nil
	}
	moved, err := f.syncDraft(ctx, id)
	delete(f.published, id)
	return moved, err
}
