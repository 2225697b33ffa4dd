package relay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testImage encodes a small 4×4 image as ctype.
func testImage(t testing.TB, ctype string, seed uint8) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White, color.RGBA{seed, 0, 0, 255}})
	for i := range img.Pix {
		img.Pix[i] = uint8(i % 3)
	}
	var b bytes.Buffer
	var err error
	switch ctype {
	case "image/png":
		err = png.Encode(&b, img)
	case "image/jpeg":
		err = jpeg.Encode(&b, img, nil)
	case "image/gif":
		err = gif.Encode(&b, img, nil)
	case "image/webp":
		// A lossless WebP header (VP8L) for a 4×4 canvas; the relay checks
		// magic bytes and the header only.
		b.WriteString("RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f")
		binary.Write(&b, binary.LittleEndian, uint32(3|3<<14))
		b.Write([]byte{seed, 0, 0, 0, 0, 0, 0, 0})
		binary.LittleEndian.PutUint32(b.Bytes()[4:], uint32(b.Len()-8))
		binary.LittleEndian.PutUint32(b.Bytes()[16:], uint32(b.Len()-20))
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a valid PNG header claiming w×h pixels (IHDR patched, CRC
// recomputed).
func hugePNG(t testing.TB, w, h uint32) []byte {
	b := bytes.Clone(testImage(t, "image/png", 1))
	ihdr := b[12 : 12+4+13] // type + data
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	binary.BigEndian.PutUint32(b[12+4+13:], crc32.ChecksumIEEE(ihdr))
	return b
}

// mediaUpload POSTs body as ctype, signed as who (unsigned when k is nil).
func (g *rig) mediaUpload(who string, k *rsa.PrivateKey, ctype string, body []byte) (int, MediaResponse, []byte) {
	g.t.Helper()
	sign := func(req *http.Request, b []byte) {
		req.Header.Set("Content-Type", ctype)
		if k != nil {
			g.sign(who, k)(req, b)
		}
	}
	st, b := g.do("POST", OwnerPrefix+"/media", body, sign)
	var m MediaResponse
	if st == 200 || st == 201 {
		if err := json.Unmarshal(b, &m); err != nil {
			g.t.Fatalf("upload answer %s: %v", b, err)
		}
	}
	return st, m, b
}

// mediaGet is a request whose whole response the media tests look at
// (ContentLength included, which pubGet does not return).
func (g *rig) mediaGet(method, path string) (*http.Response, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(method, g.base+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func mediaPath(t testing.TB, url string) string {
	t.Helper()
	p, ok := strings.CutPrefix(url, "https://"+domain+"/")
	if !ok {
		t.Fatalf("media URL %q is not on %s", url, domain)
	}
	return "/" + p
}

func TestMediaUploadAndServe(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)

	for _, c := range []struct{ ctype, ext string }{
		{"image/png", "png"}, {"image/jpeg", "jpg"}, {"image/gif", "gif"}, {"image/webp", "webp"},
	} {
		t.Run(c.ext, func(t *testing.T) {
			body := testImage(t, c.ctype, 7)
			st, m, raw := g.mediaUpload("alice", ka, c.ctype, body)
			if st != http.StatusCreated {
				t.Fatalf("upload: %d %s", st, raw)
			}
			if !mediaNameRE.MatchString(m.Name) || !strings.HasSuffix(m.Name, "."+c.ext) ||
				!strings.HasPrefix(m.SHA256, strings.TrimSuffix(m.Name, "."+c.ext)) || len(m.SHA256) != 64 ||
				m.URL != "https://"+domain+"/media/alice/"+m.Name || m.Width != 4 || m.Height != 4 ||
				m.RemotePhotoPath+m.RemotePhotoName != m.URL {
				t.Fatalf("upload answer: %+v", m)
			}
			resp, got := g.mediaGet("GET", mediaPath(t, m.URL))
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Fatalf("GET: %d, %d bytes (want %d)", resp.StatusCode, len(got), len(body))
			}
			for k, v := range map[string]string{
				"Content-Type":            c.ctype,
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'",
				"Cache-Control":           "public, max-age=31536000, immutable",
				"Content-Disposition":     "inline",
				"ETag":                    `"` + m.SHA256 + `"`,
			} {
				if h := resp.Header.Get(k); h != v {
					t.Errorf("%s: %q, want %q", k, h, v)
				}
			}
			// HEAD: the headers, no body.
			if resp, got := g.mediaGet("HEAD", mediaPath(t, m.URL)); resp.StatusCode != 200 || len(got) != 0 ||
				resp.Header.Get("Content-Type") != c.ctype || resp.ContentLength != int64(len(body)) {
				t.Errorf("HEAD: %d, %d bytes, %q, length %d", resp.StatusCode, len(got), resp.Header.Get("Content-Type"), resp.ContentLength)
			}
			// diaspora's size variants are the original.
			if resp, got := g.mediaGet("GET", "/media/alice/thumb_small_"+m.Name); resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Errorf("thumb_small_: %d", resp.StatusCode)
			}
			// Re-upload: the same name, 200.
			st2, m2, raw := g.mediaUpload("alice", ka, c.ctype, body)
			if st2 != http.StatusOK || m2 != m {
				t.Errorf("re-upload: %d %s, want 200 and %+v", st2, raw, m)
			}
			// The file is where it should be, under the content name.
			if b, err := os.ReadFile(filepath.Join(g.data, "media", "alice", m.Name)); err != nil || !bytes.Equal(b, body) {
				t.Errorf("stored file: %v", err)
			}
		})
	}
	// A conditional GET is answered 304.
	_, m, _ := g.mediaUpload("alice", ka, "image/png", testImage(t, "image/png", 7))
	req, _ := http.NewRequest("GET", g.base+mediaPath(t, m.URL), nil)
	req.Header.Set("If-None-Match", `"`+m.SHA256+`"`)
	if resp, err := g.client.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// No temporary files are left behind.
	if tmps, _ := filepath.Glob(filepath.Join(g.data, "media", "*", ".tmp-*")); len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

func TestMediaRefusals(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	pngBytes := testImage(t, "image/png", 1)
	gifBytes := testImage(t, "image/gif", 1)
	for _, c := range []struct {
		name  string
		ctype string
		body  []byte
		want  int
	}{
		{"png as jpeg", "image/jpeg", pngBytes, 415},
		{"gif as png", "image/png", gifBytes, 415},
		{"html as png", "image/png", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), 415},
		{"html", "text/html", []byte("<html></html>"), 415},
		{"svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 415},
		{"svg as png", "image/png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), 415},
		{"text", "text/plain", []byte("hello"), 415},
		{"text as gif", "image/gif", []byte("hello"), 415},
		{"no type", "", pngBytes, 415},
		{"bad webp", "image/webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8Z\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 422},
		{"truncated png", "image/png", pngBytes[:20], 422},
		{"png 20000×20000", "image/png", hugePNG(t, 20000, 20000), 422},
		{"png 10001×1", "image/png", hugePNG(t, 10001, 1), 422},
		{"over 10 MiB", "image/png", append(bytes.Clone(pngBytes), make([]byte, maxMediaBody)...), 413},
	} {
		if st, _, b := g.mediaUpload("alice", ka, c.ctype, c.body); st != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, st, b, c.want)
		}
	}
	if st, _, b := g.mediaUpload("alice", nil, "image/png", pngBytes); st != http.StatusUnauthorized {
		t.Errorf("unsigned: %d %s, want 401", st, b)
	}
	if st, b := g.do("DELETE", OwnerPrefix+"/media/0123456789abcdef0123456789abcdef.png", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("unsigned delete: %d %s, want 401", st, b)
	}
	// A PNG of 10000×10000 is within the limits (only its header is read).
	if st, _, b := g.mediaUpload("alice", ka, "image/png", hugePNG(t, 10000, 10000)); st != http.StatusCreated {
		t.Errorf("10000×10000: %d %s", st, b)
	}
	// Nothing refused was stored.
	var n int
	if err := g.relay.db.R.QueryRow("SELECT count(*) FROM media").Scan(&n); err != nil || n != 1 {
		t.Errorf("media rows: %d %v, want 1", n, err)
	}
}

func TestMediaIsolationAndDelete(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	body := testImage(t, "image/png", 3)
	st, m, raw := g.mediaUpload("alice", ka, "image/png", body)
	if st != http.StatusCreated {
		t.Fatalf("upload: %d %s", st, raw)
	}
	path := mediaPath(t, m.URL)

	// bob cannot delete alice's file: he has none of that name.
	if st, b := g.do("DELETE", OwnerPrefix+"/media/"+m.Name, nil, g.sign("bob", kb)); st != http.StatusNotFound {
		t.Errorf("bob deletes alice's file: %d %s, want 404", st, b)
	}
	if resp, got := g.mediaGet("GET", path); resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("alice's file after bob's delete: %d", resp.StatusCode)
	}
	// bob uploading the same bytes gets his own copy, under his name, on
	// his own quota; it is not served under alice's.
	st, mb, raw := g.mediaUpload("bob", kb, "image/png", body)
	if st != http.StatusCreated || mb.Name != m.Name || mb.URL != "https://"+domain+"/media/bob/"+m.Name {
		t.Fatalf("bob uploads the same bytes: %d %s", st, raw)
	}
	if resp, _ := g.mediaGet("GET", "/media/bob/ffffffffffffffffffffffffffffffff.png"); resp.StatusCode != 404 {
		t.Errorf("a name bob never uploaded: %d", resp.StatusCode)
	}
	var used int64
	g.relay.db.R.QueryRow("SELECT sum(size) FROM media WHERE username = 'alice'").Scan(&used)
	if used != int64(len(body)) {
		t.Errorf("alice's usage %d, want %d", used, len(body))
	}

	// Bad names are 404 before anything else.
	for _, n := range []string{"x.png", "..%2f..%2frelay.db", "0123456789ABCDEF0123456789ABCDEF.png", "0123456789abcdef0123456789abcdef.svg"} {
		if st, b := g.do("DELETE", OwnerPrefix+"/media/"+n, nil, g.sign("alice", ka)); st != http.StatusNotFound {
			t.Errorf("DELETE %q: %d %s, want 404", n, st, b)
		}
	}
	// alice deletes hers: 204, then 404; bob's copy stays.
	if st, b := g.do("DELETE", OwnerPrefix+"/media/"+m.Name, nil, g.sign("alice", ka)); st != http.StatusNoContent {
		t.Fatalf("alice deletes: %d %s", st, b)
	}
	if resp, _ := g.mediaGet("GET", path); resp.StatusCode != 404 {
		t.Errorf("GET after delete: %d, want 404", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(g.data, "media", "alice", m.Name)); !os.IsNotExist(err) {
		t.Errorf("file after delete: %v", err)
	}
	if st, b := g.do("DELETE", OwnerPrefix+"/media/"+m.Name, nil, g.sign("alice", ka)); st != http.StatusNotFound {
		t.Errorf("second delete: %d %s, want 404", st, b)
	}
	if resp, got := g.mediaGet("GET", mediaPath(t, mb.URL)); resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Errorf("bob's copy after alice's delete: %d", resp.StatusCode)
	}
	// Uploading again after a delete creates it anew.
	if st, _, b := g.mediaUpload("alice", ka, "image/png", body); st != http.StatusCreated {
		t.Errorf("re-upload after delete: %d %s", st, b)
	}
}

func TestMediaTraversal(t *testing.T) {
	g := newRig(t)
	ka, _ := testKeys(t)
	g.enroll("alice", guidA, ka)
	if st, _, b := g.mediaUpload("alice", ka, "image/png", testImage(t, "image/png", 1)); st != http.StatusCreated {
		t.Fatalf("upload: %d %s", st, b)
	}
	// Files outside media/ that a traversal would reach.
	if err := os.WriteFile(filepath.Join(g.data, "0123456789abcdef0123456789abcdef.png"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/media/alice/..%2f..%2frelay.db",
		"/media/alice/..%2F..%2Frelay.db",
		"/media/../relay.db",
		"/media/alice/../../relay.db",
		"/media/%2e%2e/0123456789abcdef0123456789abcdef.png",
		"/media/../0123456789abcdef0123456789abcdef.png",
		"/media/alice/%2e%2e%2f%2e%2e%2f0123456789abcdef0123456789abcdef.png",
		"/media/alice/..",
		"/media/alice/relay.db",
		"/media/alice/",
		"/media/alice",
		"/media/ALICE/0123456789abcdef0123456789abcdef.png",
		"/media/alice/0123456789abcdef0123456789abcdef.png%00.txt",
	} {
		resp, b := g.mediaGet("GET", p)
		if resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusMovedPermanently {
			// ServeMux answers paths with dot segments with a redirect to
			// the cleaned path, which is outside /media/: follow it.
			loc := resp.Header.Get("Location")
			if strings.HasPrefix(loc, "/media/") || strings.Contains(loc, "..") {
				t.Errorf("GET %s: redirected to %q", p, loc)
				continue
			}
			resp, b = g.mediaGet("GET", loc)
		}
		if resp.StatusCode != http.StatusNotFound || bytes.Contains(b, []byte("SQLite format")) || bytes.Contains(b, []byte("secret")) {
			t.Errorf("GET %s: %d %q, want 404", p, resp.StatusCode, b)
		}
	}
	// The name check alone keeps path elements out.
	for _, n := range []string{"../relay.db", "..%2frelay.db", "/etc/passwd", "a/../0123456789abcdef0123456789abcdef.png",
		"0123456789abcdef0123456789abcdef.png/..", "0123456789abcdef0123456789abcdef.png\x00"} {
		if mediaNameRE.MatchString(n) {
			t.Errorf("name %q accepted", n)
		}
	}
	for _, u := range []string{".", "..", "", "a/b"} {
		if mediaUsername(u) {
			t.Errorf("username %q accepted", u)
		}
	}
}

func TestMediaQuota(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)
	first, second := testImage(t, "image/png", 1), testImage(t, "image/png", 2)
	g.relay.cfg.MediaQuota = int64(len(first) + len(second) - 1)

	if st, _, b := g.mediaUpload("alice", ka, "image/png", first); st != http.StatusCreated {
		t.Fatalf("first: %d %s", st, b)
	}
	if st, _, b := g.mediaUpload("alice", ka, "image/png", second); st != http.StatusInsufficientStorage {
		t.Fatalf("over quota: %d %s, want 507", st, b)
	}
	// The same bytes again take no more space.
	if st, _, b := g.mediaUpload("alice", ka, "image/png", first); st != http.StatusOK {
		t.Errorf("re-upload at quota: %d %s, want 200", st, b)
	}
	// bob's quota is his own.
	if st, _, b := g.mediaUpload("bob", kb, "image/png", second); st != http.StatusCreated {
		t.Errorf("bob: %d %s, want 201", st, b)
	}
	// Deleting frees the space.
	_, m, _ := g.mediaUpload("alice", ka, "image/png", first)
	if st, b := g.do("DELETE", OwnerPrefix+"/media/"+m.Name, nil, g.sign("alice", ka)); st != http.StatusNoContent {
		t.Fatalf("delete: %d %s", st, b)
	}
	if st, _, b := g.mediaUpload("alice", ka, "image/png", second); st != http.StatusCreated {
		t.Errorf("after delete: %d %s, want 201", st, b)
	}
	if tmps, _ := filepath.Glob(filepath.Join(g.data, "media", "alice", "*")); len(tmps) != 1 {
		t.Errorf("alice's files: %v, want one", tmps)
	}
}

// A media directory whose identity no longer exists (a crash between
// deleting the account and its files) is removed when the relay opens.
func TestOrphanMediaPrunedAtOpen(t *testing.T) {
	data := filepath.Join(t.TempDir(), "relay")
	r, err := Open(context.Background(), Config{Domain: domain, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(r.DataDir(), mediaDir, "ghost")
	if err := os.MkdirAll(orphan, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(orphan, "0123456789abcdef0123456789abcdef.png"), []byte("x"), 0o600)
	r.Close()
	r, err = Open(context.Background(), Config{Domain: domain, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("the orphaned media directory is still there: %v", err)
	}
}
