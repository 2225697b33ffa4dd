package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"seedpod/pod"
	"seedpod/pod/archive"
)

// The portability routes (API.md §6.2 Export, Import, Jobs): diaspora*
// archive imports, archive, photos and snapshot exports, as jobs.
//
//	POST   /imports            multipart: archive (required), photos   → 202 Job
//	POST   /exports            {format: diaspora_v2 | diaspora_photos | seedpod_snapshot} → 202 Job
//	GET    /exports/{id}/file  the finished export, as an attachment
//	GET    /jobs/{id}          {id, kind, state, progress, warnings, error?, result?}
//	DELETE /jobs/{id}          cancel a running job (it ends "cancelled"), or forget a finished one
//
// A job runs in the background and is polled; its state is queued,
// running, done, failed or cancelled. One import and one export run at a
// time (409 otherwise). Uploads are spooled to <data>/imports and exports
// written to <data>/exports (both 0700, files 0600: an archive and a
// snapshot hold the private key) and removed with their job; the last
// archiveKeepJobs jobs are kept, and files a day old (left by an earlier
// run) are removed when the server starts. Jobs live in memory: a restart
// forgets them.

// Upload caps: the archive part is capped at what the reader accepts, the
// photos part at archiveMaxPhotosUpload; the whole request at their sum
// and some framing (archiveBodyLimit, which bodyLimit must apply to POST
// /imports instead of the 1 MiB default).
const (
	archiveMaxUpload       = archive.DefaultMaxInput
	archiveMaxPhotosUpload = 4 << 30
	archiveMaxField        = 4 << 10
	archiveKeepJobs        = 16
)

// archiveBodyLimit is the body cap of the import route (0 for any other
// request): web.go's bodyLimit uses it.
func archiveBodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPost && r.URL.Path == APIPrefix+"/imports" {
		return archiveMaxUpload + archiveMaxPhotosUpload + 1<<20
	}
	return 0
}

// Export formats.
const (
	formatDiaspora = "diaspora_v2"
	formatPhotos   = "diaspora_photos"
	formatSnapshot = "seedpod_snapshot"
)

// Job states.
const (
	jobRunning   = "running"
	jobDone      = "done"
	jobFailed    = "failed"
	jobCancelled = "cancelled"
)

// archiveJob is one import or export.
type archiveJob struct {
	ID       string       `json:"id"`
	Kind     string       `json:"kind"` // "import" or "export"
	Format   string       `json:"format,omitempty"`
	State    string       `json:"state"`
	Progress pod.Progress `json:"progress"`
	Warnings []string     `json:"warnings"`
	Error    string       `json:"error,omitempty"`
	// ErrorCode is what the API would answer for the failure ("invalid",
	// "conflict", "no_identity", "internal", …).
	ErrorCode string    `json:"error_code,omitempty"`
	Result    any       `json:"result,omitempty"`
	CreatedAt time.Time `json:"created_at"`

	cancel      context.CancelFunc
	file        string // the export's file, once done
	filename    string // its download name
	contentType string
	uploads     []string // spooled uploads, removed when the job ends
}

// exportResult is a finished export's result.
type exportResult struct {
	Format   string `json:"format"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	URL      string `json:"url"`
	Report   any    `json:"report,omitempty"`
}

// archiveJobs holds the jobs of one server.
type archiveJobs struct {
	pod  *pod.Pod
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex
	jobs map[string]*archiveJob
	ids  []string // oldest first
}

func newArchiveJobs(p *pod.Pod, log *slog.Logger, now func() time.Time) *archiveJobs {
	j := &archiveJobs{pod: p, log: log, now: now, jobs: map[string]*archiveJob{}}
	if p != nil {
		j.sweep(now().Add(-archiveLeftoverAge))
	}
	return j
}

// archiveLeftoverAge: files in the working directories older than this
// are left from an earlier run (a job lasts minutes; two servers on one
// pod must not delete each other's files).
const archiveLeftoverAge = 24 * time.Hour

// sweep removes the working directories' files older than before.
func (j *archiveJobs) sweep(before time.Time) {
	for _, d := range []string{"imports", "exports"} {
		dir := filepath.Join(j.pod.DataDir(), d)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if info, err := e.Info(); err == nil && info.ModTime().Before(before) {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					j.log.Warn("archive jobs: remove a leftover", "dir", dir, "name", e.Name(), "err", err)
				}
			}
		}
	}
}

// dir is a working directory of the data directory, made on first use.
func (j *archiveJobs) dir(name string) (string, error) {
	d := filepath.Join(j.pod.DataDir(), name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", fmt.Errorf("make %s: %w", d, err)
	}
	return d, nil
}

func newJobID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// start registers a job of kind unless one of that kind runs (ErrConflict),
// dropping the oldest finished jobs beyond archiveKeepJobs.
func (j *archiveJobs) start(kind, format string) (*archiveJob, context.Context, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, job := range j.jobs {
		if job.Kind == kind && job.State == jobRunning {
			return nil, nil, fmt.Errorf("%w: an %s is running (job %s); wait for it or cancel it", pod.ErrConflict, kind, job.ID)
		}
	}
	for len(j.ids) >= archiveKeepJobs {
		dropped := false
		for i, id := range j.ids {
			if old := j.jobs[id]; old.State != jobRunning {
				j.removeLocked(old)
				j.ids = append(j.ids[:i], j.ids[i+1:]...)
				dropped = true
				break
			}
		}
		if !dropped {
			break
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	job := &archiveJob{ID: newJobID(), Kind: kind, Format: format, State: jobRunning, Warnings: []string{},
		CreatedAt: j.now().UTC().Truncate(time.Second), cancel: cancel}
	j.jobs[job.ID] = job
	j.ids = append(j.ids, job.ID)
	return job, ctx, nil
}

// removeLocked forgets a finished job and deletes its files.
func (j *archiveJobs) removeLocked(job *archiveJob) {
	delete(j.jobs, job.ID)
	if job.file != "" {
		os.Remove(job.file)
	}
}

// view is a copy of a job for JSON.
func (j *archiveJobs) view(id string) (archiveJob, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.jobs[id]
	if !ok {
		return archiveJob{}, false
	}
	v := *job
	v.Warnings = append([]string{}, job.Warnings...)
	return v, true
}

func (j *archiveJobs) progress(job *archiveJob) pod.ProgressFunc {
	return func(pr pod.Progress) {
		j.mu.Lock()
		job.Progress = pr
		j.mu.Unlock()
	}
}

// finish records a job's end: its result, or its error worded for the
// API (and logged when it is the pod's fault).
func (j *archiveJobs) finish(job *archiveJob, result any, warnings []string, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, f := range job.uploads {
		os.Remove(f)
	}
	job.uploads = nil
	job.cancel()
	if warnings != nil {
		job.Warnings = warnings
	}
	switch {
	case err == nil:
		job.State, job.Result = jobDone, result
	case errors.Is(err, context.Canceled):
		job.State, job.Error, job.ErrorCode = jobCancelled, "cancelled", "cancelled"
	default:
		job.State = jobFailed
		job.ErrorCode, job.Error = jobErrorCode(err), err.Error()
		if job.ErrorCode == "internal" {
			j.log.Error("archive job", "id", job.ID, "kind", job.Kind, "err", err)
			job.Error = "the pod failed to do this; the log has the details"
		}
	}
}

// jobErrorCode is fail's mapping of the pod's refusals, as a code.
func jobErrorCode(err error) string {
	switch {
	case errors.Is(err, pod.ErrInvalid):
		return "invalid"
	case errors.Is(err, pod.ErrConflict):
		return "conflict"
	case errors.Is(err, pod.ErrNoIdentity):
		return "no_identity"
	case errors.Is(err, pod.ErrNotFound):
		return "not_found"
	}
	return "internal"
}

// routesArchive registers the portability routes. The jobs live in the
// handlers' closure: one set per server.
func (s *Server) routesArchive() {
	j := newArchiveJobs(s.pod, s.log, s.opts.Now)
	s.mux.HandleFunc("POST "+APIPrefix+"/imports", func(w http.ResponseWriter, r *http.Request) { s.handleImport(j, w, r) })
	s.mux.HandleFunc("POST "+APIPrefix+"/exports", func(w http.ResponseWriter, r *http.Request) { s.handleExport(j, w, r) })
	s.mux.HandleFunc("GET "+APIPrefix+"/exports/{id}/file", func(w http.ResponseWriter, r *http.Request) { s.handleExportFile(j, w, r) })
	s.mux.HandleFunc("GET "+APIPrefix+"/jobs/{id}", func(w http.ResponseWriter, r *http.Request) { s.handleJob(j, w, r) })
	s.mux.HandleFunc("DELETE "+APIPrefix+"/jobs/{id}", func(w http.ResponseWriter, r *http.Request) { s.handleDeleteJob(j, w, r) })
}

// accepted answers 202 with the job and where to poll it.
func accepted(w http.ResponseWriter, j *archiveJobs, job *archiveJob) {
	v, _ := j.view(job.ID)
	w.Header().Set("Location", APIPrefix+"/jobs/"+job.ID)
	writeJSON(w, http.StatusAccepted, v)
}

// spool copies an upload part to a new file in dir, at most max bytes
// (ErrInvalid beyond, or when the request body's cap cuts it).
func spool(dir, what string, part io.Reader, max int64) (string, int64, error) {
	f, err := os.CreateTemp(dir, what+"-*.part")
	if err != nil {
		return "", 0, fmt.Errorf("spool the %s: %w", what, err)
	}
	n, err := io.Copy(f, io.LimitReader(part, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > max {
		err = fmt.Errorf("%w: the %s is larger than %d MiB", pod.ErrInvalid, what, max>>20)
	}
	if err != nil {
		os.Remove(f.Name())
		if !errors.Is(err, pod.ErrInvalid) {
			err = uploadError(err)
		}
		return "", 0, err
	}
	return f.Name(), n, nil
}

// uploadError words a failure to read an upload: over the body cap, or a
// broken multipart body.
func uploadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Errorf("%w: the upload is larger than %d MiB", pod.ErrInvalid, tooBig.Limit>>20)
	}
	return fmt.Errorf("%w: the multipart body is malformed: %v", pod.ErrInvalid, err)
}

// handleImport spools the archive and the photos zip, then imports them
// in a job.
func (s *Server) handleImport(j *archiveJobs, w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	bad := func(format string, args ...any) {
		s.fail(w, r, fmt.Errorf("%w: "+format, append([]any{pod.ErrInvalid}, args...)...))
	}
	// A pod with an identity of its own can take no archive: say so before
	// the upload is read, not later from a job.
	if err := s.pod.CanImportArchive(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" {
		bad("send the archive as multipart/form-data with the file field \"archive\" (and \"photos\" for the photos zip)")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		bad("the multipart body is malformed: %v", err)
		return
	}
	dir, err := j.dir("imports")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var archivePath, photosPath string
	var photosSize int64
	cleanup := func() {
		for _, f := range []string{archivePath, photosPath} {
			if f != "" {
				os.Remove(f)
			}
		}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			cleanup()
			s.fail(w, r, uploadError(err))
			return
		}
		name := part.FormName()
		switch {
		case name == "archive" && archivePath == "":
			archivePath, _, err = spool(dir, "archive", part, archiveMaxUpload)
		case name == "photos" && photosPath == "":
			photosPath, photosSize, err = spool(dir, "photos zip", part, archiveMaxPhotosUpload)
		case name == "archive" || name == "photos":
			err = fmt.Errorf("%w: send one %s", pod.ErrInvalid, name)
		default:
			// Other fields (migrate, …) are small and not used here.
			_, err = io.Copy(io.Discard, io.LimitReader(part, archiveMaxField))
		}
		if err != nil {
			cleanup()
			s.fail(w, r, err)
			return
		}
	}
	if archivePath == "" {
		cleanup()
		bad("the file field \"archive\" is missing")
		return
	}
	job, ctx, err := j.start("import", "")
	if err != nil {
		cleanup()
		s.fail(w, r, err)
		return
	}
	j.mu.Lock()
	job.uploads = []string{archivePath, photosPath}
	j.mu.Unlock()
	go j.runImport(ctx, job, archivePath, photosPath, photosSize)
	accepted(w, j, job)
}

func (j *archiveJobs) runImport(ctx context.Context, job *archiveJob, archivePath, photosPath string, photosSize int64) {
	rep, err := func() (pod.ImportReport, error) {
		af, err := os.Open(archivePath)
		if err != nil {
			return pod.ImportReport{}, err
		}
		defer af.Close()
		var photos io.ReaderAt
		if photosPath != "" {
			pf, err := os.Open(photosPath)
			if err != nil {
				return pod.ImportReport{}, err
			}
			defer pf.Close()
			photos = pf
		}
		return j.pod.ImportArchive(ctx, af, photos, photosSize, j.progress(job))
	}()
	var result any
	if err == nil {
		result = rep
	}
	j.finish(job, result, rep.Warnings, err)
}

// handleExport starts an export job.
func (s *Server) handleExport(j *archiveJobs, w http.ResponseWriter, r *http.Request) {
	if !s.needPod(w) {
		return
	}
	var in struct {
		Format string `json:"format"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := s.pod.Identity(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !id.Exists {
		s.fail(w, r, fmt.Errorf("%w: create or import the identity first", pod.ErrNoIdentity))
		return
	}
	var filename, ctype string
	switch in.Format {
	case formatDiaspora:
		filename, ctype = id.Username+"_diaspora_data.json.gz", "application/gzip"
	case formatPhotos:
		filename, ctype = id.Username+"_photos.zip", "application/zip"
	case formatSnapshot:
		filename, ctype = "seedpod-"+id.Username+"-"+s.opts.Now().UTC().Format("20060102-150405")+".db", "application/vnd.sqlite3"
	default:
		s.fail(w, r, fmt.Errorf("%w: format must be %s, %s or %s", pod.ErrInvalid, formatDiaspora, formatPhotos, formatSnapshot))
		return
	}
	dir, err := j.dir("exports")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	job, ctx, err := j.start("export", in.Format)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	j.mu.Lock()
	job.filename, job.contentType = filename, ctype
	j.mu.Unlock()
	go j.runExport(ctx, job, filepath.Join(dir, job.ID+filepath.Ext(filename)))
	accepted(w, j, job)
}

// runExport writes the export to a temporary file, then names it.
func (j *archiveJobs) runExport(ctx context.Context, job *archiveJob, path string) {
	tmp := path + ".tmp"
	var report any
	var warnings []string
	err := func() error {
		if job.Format == formatSnapshot {
			rep, err := j.pod.Backup(ctx, tmp, j.progress(job))
			report = rep
			return err
		}
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		var rep pod.ExportReport
		if job.Format == formatDiaspora {
			rep, err = j.pod.ExportArchive(ctx, f, j.progress(job))
		} else {
			rep, err = j.pod.ExportPhotos(ctx, f, j.progress(job))
		}
		report, warnings = rep, rep.Warnings
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}()
	var result any
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		var res exportResult
		res, err = fileDigest(path)
		res.Format, res.Filename, res.URL, res.Report = job.Format, job.filename, APIPrefix+"/exports/"+job.ID+"/file", report
		result = res
	}
	if err != nil {
		os.Remove(tmp)
		os.Remove(path)
	} else {
		j.mu.Lock()
		job.file = path
		j.mu.Unlock()
	}
	j.finish(job, result, warnings, err)
}

// fileDigest is a file's size and SHA-256.
func fileDigest(path string) (exportResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return exportResult{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return exportResult{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return exportResult{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// handleExportFile serves a finished export as an attachment.
func (s *Server) handleExportFile(j *archiveJobs, w http.ResponseWriter, r *http.Request) {
	job, ok := j.view(r.PathValue("id"))
	if !ok || job.Kind != "export" {
		writeError(w, http.StatusNotFound, "not_found", "no export "+clipID(r.PathValue("id")))
		return
	}
	if job.State != jobDone {
		writeError(w, http.StatusConflict, "conflict", "the export is "+job.State+", not done")
		return
	}
	f, err := os.Open(job.file)
	if err != nil {
		writeError(w, http.StatusGone, "gone", "the export's file is gone; export again")
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", job.contentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": job.filename}))
	http.ServeContent(w, r, "", time.Time{}, f)
}

func (s *Server) handleJob(j *archiveJobs, w http.ResponseWriter, r *http.Request) {
	job, ok := j.view(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no job "+clipID(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, job)
}

// handleDeleteJob cancels a running job (it ends "cancelled"; an import
// rolls back) or forgets a finished one with its file.
func (s *Server) handleDeleteJob(j *archiveJobs, w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	j.mu.Lock()
	job, ok := j.jobs[id]
	if ok {
		if job.State == jobRunning {
			job.cancel()
		} else {
			j.removeLocked(job)
			for i, x := range j.ids {
				if x == id {
					j.ids = append(j.ids[:i], j.ids[i+1:]...)
					break
				}
			}
		}
	}
	j.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no job "+clipID(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func clipID(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "?")
}
