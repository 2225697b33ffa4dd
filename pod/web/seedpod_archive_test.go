package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/archive"
	"seedpod/pod/archive/archivetest"
)

// importUpload sends POST /imports with the given parts (name → bytes).
func (r *apiRig) importUpload(parts map[string][]byte) (int, http.Header, []byte) {
	r.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, name := range []string{"archive", "photos", "migrate"} {
		b, ok := parts[name]
		if !ok {
			continue
		}
		fw, err := mw.CreateFormFile(name, name+".bin")
		if err != nil {
			r.t.Fatal(err)
		}
		fw.Write(b)
	}
	mw.Close()
	req, err := http.NewRequest("POST", r.srv.URL+APIPrefix+"/imports", &body)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// waitJob polls a job until it is no longer running.
func (r *apiRig) waitJob(id string) archiveJob {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var job archiveJob
		r.json("GET", APIPrefix+"/jobs/"+id, nil, http.StatusOK, &job)
		if job.State != jobRunning {
			return job
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("job %s still running", id)
	return archiveJob{}
}

// startExport posts an export and waits for it.
func (r *apiRig) startExport(format string) archiveJob {
	r.t.Helper()
	var job archiveJob
	r.json("POST", APIPrefix+"/exports", map[string]string{"format": format}, http.StatusAccepted, &job)
	return r.waitJob(job.ID)
}

// download fetches a finished export, checking it is an attachment.
func (r *apiRig) download(job archiveJob, wantType, wantName string) []byte {
	r.t.Helper()
	st, h, b := r.do("GET", APIPrefix+"/exports/"+job.ID+"/file", nil)
	if st != http.StatusOK {
		r.t.Fatalf("download: %d %s", st, b)
	}
	if ct := h.Get("Content-Type"); ct != wantType {
		r.t.Errorf("content type %q, want %q", ct, wantType)
	}
	_, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err != nil || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || params["filename"] != wantName {
		r.t.Errorf("content disposition %q", h.Get("Content-Disposition"))
	}
	res, _ := job.Result.(map[string]any)
	if res == nil || int(res["size"].(float64)) != len(b) || res["filename"] != wantName {
		r.t.Errorf("result %v for %d bytes", job.Result, len(b))
	}
	return b
}

// An archive and its photos, uploaded, import in a job whose progress and
// report can be polled; the three exports come back as attachments: a
// schema-valid archive, a photos zip, a snapshot that opens as a pod.
func TestArchiveRoutes(t *testing.T) {
	r := newAPIRig(t)
	doc, photos := archivetest.Build(t, archivetest.Sample{ExtraPosts: 5})
	st, h, b := r.importUpload(map[string][]byte{"archive": archivetest.Gzip(t, doc), "photos": photos, "migrate": []byte("true")})
	if st != http.StatusAccepted {
		t.Fatalf("import: %d %s", st, b)
	}
	var job archiveJob
	if err := json.Unmarshal(b, &job); err != nil || job.Kind != "import" || h.Get("Location") != APIPrefix+"/jobs/"+job.ID {
		t.Fatalf("job %s, location %q", b, h.Get("Location"))
	}
	job = r.waitJob(job.ID)
	if job.State != jobDone || job.Progress.Phase != pod.PhaseWrite || job.Progress.Done != job.Progress.Total {
		t.Fatalf("import job %+v", job)
	}
	res := job.Result.(map[string]any)
	if res["posts"].(float64) != 8 || res["photos"].(float64) != 2 || len(job.Warnings) != 4 {
		t.Fatalf("import result %v, warnings %q", res, job.Warnings)
	}
	var id pod.Identity
	r.json("GET", APIPrefix+"/identity", nil, http.StatusOK, &id)
	if id.Username != "alice" || id.Key.State != "ready" {
		t.Fatalf("identity %+v", id)
	}
	// The uploads are gone once the job ended.
	if left, _ := os.ReadDir(filepath.Join(r.pod.DataDir(), "imports")); len(left) != 0 {
		t.Errorf("uploads left: %v", left)
	}
	// The same archive again is taken (it merges); only the archive can
	// tell, so this one runs as a job.
	st, _, b = r.importUpload(map[string][]byte{"archive": archivetest.Gzip(t, doc)})
	if st != http.StatusAccepted {
		t.Fatalf("import again: %d %s", st, b)
	}
	json.Unmarshal(b, &job)
	if job = r.waitJob(job.ID); job.State != jobDone {
		t.Fatalf("import again: job %+v", job)
	}

	gz := r.download(r.startExport("diaspora_v2"), "application/gzip", "alice_diaspora_data.json.gz")
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if err := archivetest.Validate(t, plain); err != nil {
		t.Fatalf("exported archive: %v", err)
	}
	zipped := r.download(r.startExport("diaspora_photos"), "application/zip", "alice_photos.zip")
	zp, err := archive.OpenPhotos(bytes.NewReader(zipped), int64(len(zipped)), archive.PhotoLimits{})
	if err != nil || len(zp.Names()) != 3 {
		t.Fatalf("photos zip: %v %v", zp, err)
	}
	snapJob := r.startExport("seedpod_snapshot")
	snapName := snapJob.Result.(map[string]any)["filename"].(string)
	if !strings.HasPrefix(snapName, "seedpod-alice-") || !strings.HasSuffix(snapName, ".db") {
		t.Fatalf("snapshot name %q", snapName)
	}
	snap := r.download(snapJob, "application/vnd.sqlite3", snapName)
	dir := filepath.Join(t.TempDir(), "restored")
	os.MkdirAll(dir, 0o700)
	if err := os.WriteFile(filepath.Join(dir, pod.DatabaseName), snap, 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := pod.Open(context.Background(), pod.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("the snapshot does not open as a pod: %v", err)
	}
	defer restored.Close()
	if rid, err := restored.Identity(context.Background()); err != nil || rid.Username != "alice" {
		t.Fatalf("restored identity %+v %v", rid, err)
	}

	// The exported archive imports into a fresh pod over the API too.
	r2 := newAPIRig(t)
	st, _, b = r2.importUpload(map[string][]byte{"archive": gz, "photos": zipped})
	if st != http.StatusAccepted {
		t.Fatalf("re-import: %d %s", st, b)
	}
	json.Unmarshal(b, &job)
	if job = r2.waitJob(job.ID); job.State != jobDone || len(job.Warnings) != 0 {
		t.Fatalf("re-import job %+v", job)
	}

	// Forgetting a finished export deletes its file.
	exp := r.startExport("diaspora_v2")
	r.json("DELETE", APIPrefix+"/jobs/"+exp.ID, nil, http.StatusNoContent, nil)
	if st, _, _ := r.do("GET", APIPrefix+"/exports/"+exp.ID+"/file", nil); st != http.StatusNotFound {
		t.Errorf("download of a forgotten export: %d", st)
	}
	if st, _, _ := r.do("GET", APIPrefix+"/jobs/"+exp.ID, nil); st != http.StatusNotFound {
		t.Errorf("forgotten job: %d", st)
	}
	ents, _ := os.ReadDir(filepath.Join(r.pod.DataDir(), "exports"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), exp.ID) {
			t.Errorf("the forgotten export's file is still there: %s", e.Name())
		}
	}
}

// Refusals: bad requests answer at once; a bad archive or an identity
// conflict fails the job with the API's error code, and nothing changes.
func TestArchiveRoutesRefuse(t *testing.T) {
	r := newAPIRig(t)
	doc, _ := archivetest.Build(t, archivetest.Sample{})
	cases := []struct {
		name  string
		parts map[string][]byte
		want  int
	}{
		{"no archive", map[string][]byte{"photos": []byte("x")}, http.StatusUnprocessableEntity},
	}
	for _, c := range cases {
		if st, _, b := r.importUpload(c.parts); st != c.want {
			t.Errorf("%s: %d %s", c.name, st, b)
		}
	}
	if st, _, b := r.do("POST", APIPrefix+"/imports", `{"archive": "x"}`); st != http.StatusUnprocessableEntity {
		t.Errorf("JSON import: %d %s", st, b)
	}
	if st, _, b := r.do("POST", APIPrefix+"/exports", map[string]string{"format": "diaspora_v2"}); st != http.StatusConflict ||
		!strings.Contains(string(b), "no_identity") {
		t.Errorf("export without identity: %d %s", st, b)
	}
	var importJob string
	for name, parts := range map[string]map[string][]byte{
		"malformed": {"archive": []byte(`{"version":"2.0","user":`)},
		"bad zip":   {"archive": doc, "photos": archivetest.Zip(t, map[string][]byte{"../x.png": archivetest.PNG(t, 2, 2, 1)})},
	} {
		st, _, b := r.importUpload(parts)
		if st != http.StatusAccepted {
			t.Fatalf("%s: %d %s", name, st, b)
		}
		var job archiveJob
		json.Unmarshal(b, &job)
		job = r.waitJob(job.ID)
		if job.State != jobFailed || job.ErrorCode != "invalid" || job.Error == "" {
			t.Errorf("%s: job %+v", name, job)
		}
		importJob = job.ID
	}
	if n := r.opCount(); n != 0 {
		t.Fatalf("refused imports wrote %d ops", n)
	}

	// A pod with an identity of its own is refused before the upload is
	// read: no job, nothing spooled.
	r.withIdentity()
	st, _, b := r.importUpload(map[string][]byte{"archive": doc})
	if st != http.StatusConflict || !strings.Contains(string(b), "its own identity") {
		t.Errorf("import over the pod's own identity: %d %s", st, b)
	}
	if left, _ := os.ReadDir(filepath.Join(r.pod.DataDir(), "imports")); len(left) != 0 {
		t.Errorf("a refused import spooled %v", left)
	}
	if st, _, b := r.do("POST", APIPrefix+"/exports", map[string]string{"format": "tarball"}); st != http.StatusUnprocessableEntity {
		t.Errorf("unknown format: %d %s", st, b)
	}
	for _, path := range []string{"/jobs/nope", "/exports/nope/file"} {
		if st, _, _ := r.do("GET", APIPrefix+path, nil); st != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, st)
		}
	}
	if st, _, _ := r.do("DELETE", APIPrefix+"/jobs/nope", nil); st != http.StatusNotFound {
		t.Errorf("DELETE unknown job: %d", st)
	}
	// An import job's own id is no export.
	if st, _, _ := r.do("GET", APIPrefix+"/exports/"+importJob+"/file", nil); st != http.StatusNotFound {
		t.Errorf("import job as an export: %d", st)
	}
}

// An upload over the API's default body cap is accepted (the import
// route has its own), and a running import can be cancelled: it ends
// "cancelled" and the pod is as before.
func TestArchiveImportCancel(t *testing.T) {
	r := newAPIRig(t)
	doc, _ := archivetest.Build(t, archivetest.Sample{ExtraPosts: 4000})
	if len(doc) <= 1<<20 {
		t.Fatalf("the archive (%d bytes) should be over the API's default 1 MiB body cap", len(doc))
	}
	st, _, b := r.importUpload(map[string][]byte{"archive": doc})
	if st != http.StatusAccepted {
		t.Fatalf("import: %d %s", st, b)
	}
	var job archiveJob
	json.Unmarshal(b, &job)
	// A second import while this one runs is refused.
	if st, _, b := r.importUpload(map[string][]byte{"archive": doc}); st != http.StatusConflict {
		t.Errorf("second import: %d %s", st, b)
	}
	r.json("DELETE", APIPrefix+"/jobs/"+job.ID, nil, http.StatusNoContent, nil)
	job = r.waitJob(job.ID)
	if job.State != jobCancelled && job.State != jobDone {
		t.Fatalf("cancelled job %+v", job)
	}
	if job.State == jobCancelled && r.opCount() != 0 {
		t.Fatalf("a cancelled import left %d ops", r.opCount())
	}
}

// spool keeps at most max bytes and says so when there are more.
func TestSpoolCap(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := spool(dir, "archive", strings.NewReader(strings.Repeat("x", 11)), 10); err == nil ||
		!strings.Contains(err.Error(), "larger than") {
		t.Fatalf("over the cap: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
	path, n, err := spool(dir, "archive", strings.NewReader("0123456789"), 10)
	if err != nil || n != 10 {
		t.Fatalf("at the cap: %d %v", n, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("spooled file mode %v", st.Mode())
	}
	req, _ := http.NewRequest("POST", "http://x"+APIPrefix+"/imports", nil)
	if archiveBodyLimit(req) <= archiveMaxUpload {
		t.Error("the import route has no larger body cap")
	}
	req, _ = http.NewRequest("POST", "http://x"+APIPrefix+"/drafts", nil)
	if archiveBodyLimit(req) != 0 {
		t.Error("another route got the import cap")
	}
}
