package archive_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"seedpod/pod/archive"
	"seedpod/pod/archive/archivetest"
)

// zipEntry is one entry of a crafted zip: data written as is, the header
// free to lie.
type zipEntry struct {
	name   string
	data   []byte
	mode   os.FileMode // 0: a regular file
	header func(h *zip.FileHeader)
}

func craftZip(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Unix(1e9, 0)}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
		fw.Write(e.data)
		fw.Close()
		h.CRC32 = crc32.ChecksumIEEE(e.data)
		h.CompressedSize64 = uint64(comp.Len())
		h.UncompressedSize64 = uint64(len(e.data))
		if e.header != nil {
			e.header(h)
		}
		w, err := z.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPhotosRead(t *testing.T) {
	png := archivetest.PNG(t, 4, 4, 1)
	z := craftZip(t, zipEntry{name: "a.png", data: png}, zipEntry{name: "photos/", mode: fs.ModeDir | 0o755},
		zipEntry{name: "photos/b.png", data: png}, zipEntry{name: "notes.txt", data: []byte("hello")})
	p, err := archive.OpenPhotos(bytes.NewReader(z), int64(len(z)), archive.PhotoLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Names(), ","); got != "a.png,b.png,notes.txt" {
		t.Fatalf("names %s", got)
	}
	for _, n := range []string{"a.png", "b.png"} {
		b, err := p.Read(n)
		if err != nil || !bytes.Equal(b, png) {
			t.Fatalf("%s: %v", n, err)
		}
	}
	if _, err := p.Read("notes.txt"); !errors.Is(err, archive.ErrMalformed) || !strings.Contains(err.Error(), "not a JPEG") {
		t.Fatalf("text file: %v", err)
	}
	if _, err := p.Read("missing.png"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

// Every unsafe or oversized zip is refused when opened, before anything
// is read, naming the entry.
func TestPhotosRefused(t *testing.T) {
	png := archivetest.PNG(t, 4, 4, 1)
	small := archive.PhotoLimits{MaxEntries: 3, MaxEntryBytes: 1 << 10, MaxTotalBytes: 2 << 10}
	big := bytes.Repeat([]byte{0}, 1500)
	cases := []struct {
		name    string
		entries []zipEntry
		lim     archive.PhotoLimits
		want    error
		msg     string
	}{
		{"parent dir", []zipEntry{{name: "../evil.png", data: png}}, archive.PhotoLimits{}, archive.ErrUnsafe, "clean relative path"},
		{"nested parent", []zipEntry{{name: "a/../../evil.png", data: png}}, archive.PhotoLimits{}, archive.ErrUnsafe, "clean relative path"},
		{"absolute", []zipEntry{{name: "/etc/evil.png", data: png}}, archive.PhotoLimits{}, archive.ErrUnsafe, "absolute"},
		{"backslash", []zipEntry{{name: `..\evil.png`, data: png}}, archive.PhotoLimits{}, archive.ErrUnsafe, "backslash"},
		{"drive", []zipEntry{{name: "C:evil.png", data: png}}, archive.PhotoLimits{}, archive.ErrUnsafe, "drive letter"},
		{"control", []zipEntry{{name: "evil\x00.png", data: png}}, archive.PhotoLimits{}, archive.ErrUnsafe, "control character"},
		{"long name", []zipEntry{{name: strings.Repeat("a", 300) + ".png", data: png}}, archive.PhotoLimits{}, archive.ErrUnsafe, "longer than 255"},
		{"symlink", []zipEntry{{name: "link.png", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}}, archive.PhotoLimits{}, archive.ErrUnsafe, "not a regular file"},
		{"device", []zipEntry{{name: "dev.png", mode: fs.ModeDevice | 0o644}}, archive.PhotoLimits{}, archive.ErrUnsafe, "not a regular file"},
		{"duplicate", []zipEntry{{name: "a/x.png", data: png}, {name: "b/x.png", data: png}}, archive.PhotoLimits{}, archive.ErrMalformed, "appears twice"},
		{"too many", []zipEntry{{name: "1.png"}, {name: "2.png"}, {name: "3.png"}, {name: "4.png"}}, small, archive.ErrTooLarge, "4 entries"},
		{"entry too big", []zipEntry{{name: "big.png", data: big}}, small, archive.ErrTooLarge, "1500 bytes"},
		{"total too big", []zipEntry{{name: "a.png", data: big[:1000]}, {name: "b.png", data: big[:1000]}, {name: "c.png", data: big[:1000]}}, small, archive.ErrTooLarge, "more than 2048"},
		{"bomb declared small", []zipEntry{{name: "bomb.png", data: big, header: func(h *zip.FileHeader) { h.UncompressedSize64 = 10 }}}, small, nil, ""},
		{"encrypted", []zipEntry{{name: "secret.png", data: png, header: func(h *zip.FileHeader) { h.Flags |= 1 }}}, archive.PhotoLimits{}, archive.ErrMalformed, "encrypted"},
		{"method", []zipEntry{{name: "odd.png", data: png, header: func(h *zip.FileHeader) { h.Method = 12 }}}, archive.PhotoLimits{}, archive.ErrMalformed, "compression method 12"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := craftZip(t, c.entries...)
			p, err := archive.OpenPhotos(bytes.NewReader(z), int64(len(z)), c.lim)
			if c.want == nil {
				// Opens (the header is plausible), but reading finds the
				// lie: more bytes than declared.
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.Read(c.entries[0].name); !errors.Is(err, archive.ErrMalformed) {
					t.Fatalf("read: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %v", p.Names())
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want %v containing %q", err, c.want, c.msg)
			}
		})
	}
	if _, err := archive.OpenPhotos(bytes.NewReader([]byte("not a zip")), 9, archive.PhotoLimits{}); !errors.Is(err, archive.ErrMalformed) {
		t.Fatalf("not a zip: %v", err)
	}
}

func TestPhotosWriter(t *testing.T) {
	var b bytes.Buffer
	w := archive.NewPhotosWriter(&b)
	png := archivetest.PNG(t, 3, 3, 2)
	if err := w.Add("x.png", time.Unix(1e9, 0), png); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"x.png", "../y.png", "d/y.png", ""} {
		if err := w.Add(bad, time.Now(), png); err == nil {
			t.Errorf("Add(%q) accepted", bad)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := archive.OpenPhotos(bytes.NewReader(b.Bytes()), int64(b.Len()), archive.PhotoLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Read("x.png"); err != nil || !bytes.Equal(got, png) {
		t.Fatalf("read back: %v", err)
	}
}
