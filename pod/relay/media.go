package relay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	_ "image/gif" // DecodeConfig for uploads
	_ "image/jpeg"
	_ "image/png"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"
)

// Public media: the files an identity's public face needs while its devices
// sleep (avatars, photos of public posts). A device uploads the bytes through
// the owner API; the relay checks they are the image type they claim, names
// the file after its content and serves it at
//
//	https://<domain>/media/<username>/<name>
//
// which is what a Photo entity's remote_photo_path (…/media/<username>/)
// and remote_photo_name (<name>) point at (PROTOCOL.md §7.2, §8.3).
//
// Files live in the data directory under media/<username>/<name>; the media
// table holds their metadata and is the authority on what exists: a file is
// written (and made durable) before its row is committed, and its row is
// deleted before the file, so a crash can leave an unreferenced file behind
// but never a row without its file.
const (
	// maxMediaBody caps one upload (the owner middleware answers 413).
	maxMediaBody = 10 << 20
	// maxMediaDim caps either dimension of an image.
	maxMediaDim = 10000
	// maxMediaFiles caps the number of files per identity, so tiny files
	// cannot exhaust inodes within the byte quota.
	maxMediaFiles = 100_000
	// mediaDir is the directory inside the data directory.
	mediaDir = "media"
)

// DefaultMediaQuota is the bytes one identity may store (507 above).
const DefaultMediaQuota int64 = 1 << 30

// mediaTypes are the accepted upload types and their file extensions.
var mediaTypes = map[string]string{
	"image/jpeg": "jpg",
	"image/png":  "png",
	"image/gif":  "gif",
	"image/webp": "webp",
}

// mediaNameRE matches a stored name: the first 32 hex digits of the SHA-256
// of the content and the type's extension. diaspora pods build size variants
// of a photo by prefixing its name (PROTOCOL.md §5.1); the relay does not
// resize, so those names serve the original.
var mediaNameRE = regexp.MustCompile(`^(?:thumb_small_|thumb_medium_|thumb_large_|scaled_full_)?([0-9a-f]{32}\.(?:jpg|png|gif|webp))$`)

// mediaLock serialises media changes per identity (striped by username):
// the quota check, the file and the row of one upload or delete happen as
// one.
func (r *Relay) mediaLock(username string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(username))
	return &r.mediaLocks[h.Sum32()%uint32(len(r.mediaLocks))]
}

// mediaUsername is validUsername minus the names that are path elements.
func mediaUsername(s string) bool { return validUsername(s) && s != "." && s != ".." }

// mediaRoutes registers the media routes (upload through the owner API,
// public serving). It also removes temporary files an interrupted upload
// left behind (the data directory is locked, so none is in progress).
func (r *Relay) mediaRoutes(mux *http.ServeMux) {
	r.pruneMedia()
	mux.Handle("POST "+OwnerPrefix+"/media", r.auth.Middleware(maxMediaBody, r.uploadMedia))
	mux.Handle("DELETE "+OwnerPrefix+"/media/{name}", r.auth.Middleware(maxOwnerBody, r.deleteMedia))
	mux.HandleFunc("GET /media/{username}/{name}", r.serveMedia)
}

// pruneMedia removes, at start, what a crash can leave in media/: temp
// files of unfinished uploads, and the directories of identities that no
// longer exist (a crash between deleting the account and its files).
func (r *Relay) pruneMedia() {
	if tmps, err := filepath.Glob(r.dir.Join(mediaDir, "*", ".tmp-*")); err == nil {
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
	dirs, err := os.ReadDir(r.dir.Join(mediaDir))
	if err != nil {
		return
	}
	for _, d := range dirs {
		if _, ok, err := (directory{r.db}).ByUsername(context.Background(), d.Name()); err == nil && !ok {
			r.log.Info("media: removing the files of a deleted identity", "username", d.Name())
			_ = os.RemoveAll(r.dir.Join(mediaDir, d.Name()))
		}
	}
}

// MediaResponse answers an upload.
type MediaResponse struct {
	URL         string `json:"url"`
	Name        string `json:"name"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	// RemotePhotoPath and RemotePhotoName are the Photo entity's fields.
	RemotePhotoPath string `json:"remote_photo_path"`
	RemotePhotoName string `json:"remote_photo_name"`
}

var errMediaType = errors.New("media type")

// checkImage checks that body is an image of type ctype within the limits
// and returns its dimensions. The error is errMediaType (415) when the bytes
// are not of that type, otherwise a 422 reason.
func checkImage(ctype string, body []byte) (w, h int, err error) {
	if http.DetectContentType(body) != ctype {
		return 0, 0, errMediaType
	}
	if ctype == "image/webp" {
		w, h, err = webpSize(body)
	} else {
		var cfg image.Config
		var format string
		cfg, format, err = image.DecodeConfig(bytes.NewReader(body))
		if err == nil && "image/"+format != ctype {
			return 0, 0, errMediaType
		}
		w, h = cfg.Width, cfg.Height
	}
	if err != nil {
		return 0, 0, fmt.Errorf("not a valid %s: %v", ctype, err)
	}
	if w < 1 || h < 1 || w > maxMediaDim || h > maxMediaDim {
		return 0, 0, fmt.Errorf("%d×%d: dimensions must be 1…%d", w, h, maxMediaDim)
	}
	return w, h, nil
}

// webpSize reads the canvas size from a WebP header (RIFF/WEBP with a VP8,
// VP8L or VP8X first chunk); the image itself is not decoded.
func webpSize(b []byte) (w, h int, err error) {
	if len(b) < 30 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, errors.New("short or not RIFF/WEBP")
	}
	d := b[20:]
	switch string(b[12:16]) {
	case "VP8X":
		return 1 + (int(d[4]) | int(d[5])<<8 | int(d[6])<<16), 1 + (int(d[7]) | int(d[8])<<8 | int(d[9])<<16), nil
	case "VP8L":
		if d[0] != 0x2f {
			return 0, 0, errors.New("bad VP8L signature")
		}
		bits := binary.LittleEndian.Uint32(d[1:5])
		return 1 + int(bits&0x3fff), 1 + int(bits>>14&0x3fff), nil
	case "VP8 ":
		if d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a {
			return 0, 0, errors.New("bad VP8 start code")
		}
		return int(binary.LittleEndian.Uint16(d[6:8]) & 0x3fff), int(binary.LittleEndian.Uint16(d[8:10]) & 0x3fff), nil
	}
	return 0, 0, errors.New("unknown WebP chunk")
}

// uploadMedia: POST /media with the image bytes as the body and its type as
// Content-Type. 201 with the URL; the same bytes again are 200 with the same
// name.
func (r *Relay) uploadMedia(w http.ResponseWriter, req *http.Request, who string, body []byte) {
	if !mediaUsername(who) {
		jsonError(w, http.StatusForbidden, "forbidden", "this username cannot host media")
		return
	}
	ctype, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	ext, ok := mediaTypes[ctype]
	if err != nil || !ok {
		jsonError(w, http.StatusUnsupportedMediaType, "unsupported_type", "Content-Type must be image/jpeg, image/png, image/gif or image/webp")
		return
	}
	width, height, err := checkImage(ctype, body)
	if errors.Is(err, errMediaType) {
		jsonError(w, http.StatusUnsupportedMediaType, "wrong_type", "the body is not "+ctype)
		return
	}
	if err != nil {
		jsonError(w, http.StatusUnprocessableEntity, "invalid_image", err.Error())
		return
	}
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	name := hexSum[:32] + "." + ext
	resp := MediaResponse{
		URL: "https://" + r.cfg.Domain + "/media/" + who + "/" + name, Name: name, SHA256: hexSum,
		ContentType: ctype, Size: int64(len(body)), Width: width, Height: height,
		RemotePhotoPath: "https://" + r.cfg.Domain + "/media/" + who + "/", RemotePhotoName: name,
	}
	ctx := req.Context()

	mu := r.mediaLock(who)
	mu.Lock()
	defer mu.Unlock()
	dir := r.dir.Join(mediaDir, who)
	file := filepath.Join(dir, name)
	var exists int
	if err := r.db.W.QueryRowContext(ctx, "SELECT count(*) FROM media WHERE username = ? AND name = ?", who, name).Scan(&exists); err != nil {
		r.log.Error("media: lookup", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "media lookup failed")
		return
	}
	if exists > 0 {
		if _, err := os.Stat(file); err == nil {
			writeJSON(w, http.StatusOK, resp)
			return
		}
		// The row lost its file (restored database, manual deletion):
		// write it again below; it is already counted in the quota.
	} else {
		var used, files int64
		if err := r.db.W.QueryRowContext(ctx, "SELECT coalesce(sum(size), 0), count(*) FROM media WHERE username = ?", who).Scan(&used, &files); err != nil {
			r.log.Error("media: quota", "err", err)
			jsonError(w, http.StatusInternalServerError, "internal", "quota lookup failed")
			return
		}
		if used+int64(len(body)) > r.cfg.MediaQuota || files+1 > maxMediaFiles {
			jsonError(w, http.StatusInsufficientStorage, "quota_exceeded",
				fmt.Sprintf("media quota: %d of %d bytes and %d of %d files used", used, r.cfg.MediaQuota, files, maxMediaFiles))
			return
		}
	}
	err = ensureDir(r.dir.Join(mediaDir))
	if err == nil {
		err = ensureDir(dir)
	}
	if err == nil {
		err = writeFileDurably(dir, name, body)
	}
	if err != nil {
		r.log.Error("media: write", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "could not store the file")
		return
	}
	if exists > 0 {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	_, err = r.db.W.ExecContext(ctx,
		"INSERT INTO media (username, name, content_type, size, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		who, name, ctype, len(body), hexSum, r.cfg.Now().Unix())
	if err != nil {
		// The file stays unreferenced (a retry of the same bytes reuses it).
		r.log.Error("media: insert", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "could not record the file")
		return
	}
	r.log.Info("media stored", "username", who, "name", name, "size", len(body))
	writeJSON(w, http.StatusCreated, resp)
}

// deleteMedia: DELETE /media/{name}, the caller's own file only; 204, or 404
// when the caller has no such file.
func (r *Relay) deleteMedia(w http.ResponseWriter, req *http.Request, who string, _ []byte) {
	name := req.PathValue("name")
	m := mediaNameRE.FindStringSubmatch(name)
	if m == nil || m[1] != name || !mediaUsername(who) {
		jsonError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	mu := r.mediaLock(who)
	mu.Lock()
	defer mu.Unlock()
	res, err := r.db.W.ExecContext(req.Context(), "DELETE FROM media WHERE username = ? AND name = ?", who, name)
	if err != nil {
		r.log.Error("media: delete", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "delete failed")
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		jsonError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	dir := r.dir.Join(mediaDir, who)
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.log.Warn("media: remove file", "err", err) // unreferenced now; no longer served
	} else {
		_ = syncDir(dir)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// serveMedia: GET (and HEAD) /media/{username}/{name}. Only what the media
// table lists is served, and only names of the stored form reach the file
// system.
func (r *Relay) serveMedia(w http.ResponseWriter, req *http.Request) {
	username := req.PathValue("username")
	m := mediaNameRE.FindStringSubmatch(req.PathValue("name"))
	if m == nil || !mediaUsername(username) {
		jsonError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	name := m[1]
	var ctype, sum string
	var created int64
	err := r.db.R.QueryRowContext(req.Context(), "SELECT content_type, sha256, created_at FROM media WHERE username = ? AND name = ?",
		username, name).Scan(&ctype, &sum, &created)
	if errors.Is(err, sql.ErrNoRows) {
		jsonError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	if err != nil {
		r.log.Error("media: lookup", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal", "lookup failed")
		return
	}
	f, err := os.Open(r.dir.Join(mediaDir, username, name))
	if err != nil {
		r.log.Warn("media: file missing", "username", username, "name", name, "err", err)
		jsonError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Disposition", "inline")
	h.Set("ETag", `"`+sum+`"`)
	// ServeContent answers HEAD, ranges and conditional requests.
	http.ServeContent(w, req, "", time.Unix(created, 0), f)
}

// ensureDir creates dir (owner-only) if it is missing and makes its entry
// durable in the parent.
func ensureDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// writeFileDurably writes dir/name so that after a crash it is either absent
// or complete: a temporary file, fsync, rename, fsync of the directory.
func writeFileDurably(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
