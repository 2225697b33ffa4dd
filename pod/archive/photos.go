package archive

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// PhotoLimits bound what OpenPhotos accepts. Zero fields take the
// defaults below.
type PhotoLimits struct {
	// MaxEntries caps the zip's entries (directories included).
	MaxEntries int
	// MaxEntryBytes caps one photo, uncompressed: what pod/media accepts
	// (20 MiB), so nothing bigger is worth reading.
	MaxEntryBytes int64
	// MaxTotalBytes caps the sum of the entries' uncompressed sizes.
	MaxTotalBytes int64
}

// Photo limit defaults.
const (
	DefaultMaxPhotoEntries = 100_000
	DefaultMaxPhotoBytes   = 20 << 20
	DefaultMaxPhotosTotal  = 16 << 30
)

func (l PhotoLimits) withDefaults() PhotoLimits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxPhotoEntries
	}
	if l.MaxEntryBytes <= 0 {
		l.MaxEntryBytes = DefaultMaxPhotoBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxPhotosTotal
	}
	return l
}

// maxPhotoName caps a photo's file name (the reference's
// remote_photo_name is varchar(255)).
const maxPhotoName = 255

// Photos is an opened photos zip whose every entry was checked: found by
// file name (diaspora* names each photo by its remote_photo_name, at the
// zip's top level; a name in a folder is found by its last element).
type Photos struct {
	lim    PhotoLimits
	byName map[string]*zip.File
}

// OpenPhotos opens a photos zip of size bytes and checks every entry
// before anything is read: at most MaxEntries; only regular files and
// directories (no symlinks, devices or other modes); names that are
// relative, clean, without "..", backslashes, drive letters or control
// characters; a last element at most 255 bytes and found once; stored or
// deflated, not encrypted; declared sizes within MaxEntryBytes and, all
// together, MaxTotalBytes. Errors wrap ErrMalformed, ErrTooLarge or
// ErrUnsafe and name the entry.
func OpenPhotos(r io.ReaderAt, size int64, lim PhotoLimits) (*Photos, error) {
	lim = lim.withDefaults()
	z, err := zip.NewReader(r, size)
	if err != nil {
		if errors.Is(err, zip.ErrInsecurePath) && z != nil {
			err = nil // reported per entry below, with its name
		} else {
			return nil, fmt.Errorf("%w: the photos file is not a zip: %v", ErrMalformed, clipErr(err))
		}
	}
	if len(z.File) > lim.MaxEntries {
		return nil, fmt.Errorf("%w: the photos zip has %d entries (at most %d)", ErrTooLarge, len(z.File), lim.MaxEntries)
	}
	p := &Photos{lim: lim, byName: map[string]*zip.File{}}
	var total uint64
	for i, f := range z.File {
		where := fmt.Sprintf("photos zip entry %d (%q)", i, clip(f.Name, 80))
		if err := CheckEntryName(f.Name); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		mode := f.Mode()
		if mode.IsDir() {
			if f.UncompressedSize64 != 0 {
				return nil, fmt.Errorf("%w: %s: a directory with content", ErrUnsafe, where)
			}
			continue
		}
		if !mode.IsRegular() {
			return nil, fmt.Errorf("%w: %s: not a regular file (%v)", ErrUnsafe, where, mode.Type())
		}
		if strings.HasSuffix(f.Name, "/") {
			return nil, fmt.Errorf("%w: %s: a file name ending in '/'", ErrUnsafe, where)
		}
		if f.Flags&0x1 != 0 {
			return nil, fmt.Errorf("%w: %s is encrypted", ErrMalformed, where)
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, fmt.Errorf("%w: %s uses compression method %d (only stored and deflated)", ErrMalformed, where, f.Method)
		}
		if f.UncompressedSize64 > uint64(lim.MaxEntryBytes) {
			return nil, fmt.Errorf("%w: %s is %d bytes (at most %d)", ErrTooLarge, where, f.UncompressedSize64, lim.MaxEntryBytes)
		}
		if total += f.UncompressedSize64; total > uint64(lim.MaxTotalBytes) {
			return nil, fmt.Errorf("%w: the photos zip holds more than %d bytes", ErrTooLarge, lim.MaxTotalBytes)
		}
		base := path.Base(f.Name)
		if p.byName[base] != nil {
			return nil, fmt.Errorf("%w: %s: the name %q appears twice", ErrMalformed, where, clip(base, 80))
		}
		p.byName[base] = f
	}
	return p, nil
}

// CheckEntryName reports whether name is safe as a zip entry (ErrUnsafe
// otherwise): relative, clean (no "." or ".." elements, no doubled or
// leading slash), '/'-separated, no backslash or drive letter, valid
// UTF-8 without control characters, each element at most 255 bytes.
func CheckEntryName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: an empty name", ErrUnsafe)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: a name that is not UTF-8", ErrUnsafe)
	case strings.ContainsRune(name, '\\'):
		return fmt.Errorf("%w: a backslash in the name", ErrUnsafe)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%w: an absolute name", ErrUnsafe)
	case len(name) >= 2 && name[1] == ':':
		return fmt.Errorf("%w: a drive letter in the name", ErrUnsafe)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: a control character in the name", ErrUnsafe)
	}
	trimmed := strings.TrimSuffix(name, "/") // a directory entry
	if !fs.ValidPath(trimmed) {
		return fmt.Errorf("%w: the name is not a clean relative path (\"..\", \".\" or empty elements)", ErrUnsafe)
	}
	for _, el := range strings.Split(trimmed, "/") {
		if len(el) > maxPhotoName {
			return fmt.Errorf("%w: a name element longer than %d bytes", ErrUnsafe, maxPhotoName)
		}
	}
	return nil
}

// Names lists the photos' file names, sorted.
func (p *Photos) Names() []string {
	out := make([]string, 0, len(p.byName))
	for n := range p.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Has reports whether the zip holds a photo of that file name.
func (p *Photos) Has(name string) bool { return p.byName[name] != nil }

// Read returns the photo of that file name: at most MaxEntryBytes (a size
// that differs from the declared one, or a checksum that does not match,
// is ErrMalformed), and only JPEG, PNG, GIF or WebP by their first bytes
// (ErrMalformed and ErrNotImage otherwise: the zip is sound, the entry is
// not a photo). fs.ErrNotExist when there is none.
func (p *Photos) Read(name string) ([]byte, error) {
	f := p.byName[name]
	if f == nil {
		return nil, fmt.Errorf("photo %q: %w", clip(name, 80), fs.ErrNotExist)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: photo %q: %v", ErrMalformed, clip(name, 80), clipErr(err))
	}
	defer rc.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rc, p.lim.MaxEntryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: photo %q: %v", ErrMalformed, clip(name, 80), clipErr(err))
	}
	if n > p.lim.MaxEntryBytes || uint64(n) != f.UncompressedSize64 {
		return nil, fmt.Errorf("%w: photo %q: %d bytes, %d declared", ErrMalformed, clip(name, 80), n, f.UncompressedSize64)
	}
	if ImageType(buf.Bytes()) == "" {
		return nil, fmt.Errorf("%w: %w: photo %q is not a JPEG, PNG, GIF or WebP image", ErrMalformed, ErrNotImage, clip(name, 80))
	}
	return buf.Bytes(), nil
}

// ImageType names the image format by its first bytes: "jpeg", "png",
// "gif", "webp", or "" for anything else (the formats pod/media decodes).
func ImageType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

// PhotosWriter writes a photos zip: one stored entry per photo at the
// top level (photos are compressed already), named as the archive's
// remote_photo_name says.
type PhotosWriter struct {
	z     *zip.Writer
	names map[string]bool
}

// NewPhotosWriter starts a photos zip on w.
func NewPhotosWriter(w io.Writer) *PhotosWriter {
	return &PhotosWriter{z: zip.NewWriter(w), names: map[string]bool{}}
}

// Add writes one photo. The name must be a single safe element
// (CheckEntryName, no '/') not used before.
func (pw *PhotosWriter) Add(name string, modified time.Time, data []byte) error {
	if err := CheckEntryName(name); err != nil || strings.Contains(name, "/") {
		return fmt.Errorf("photo name %q: %w", clip(name, 80), errors.Join(ErrUnsafe, err))
	}
	if pw.names[name] {
		return fmt.Errorf("%w: photo name %q twice", ErrMalformed, clip(name, 80))
	}
	pw.names[name] = true
	w, err := pw.z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: modified.UTC()})
	if err != nil {
		return fmt.Errorf("write photo %s: %w", name, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write photo %s: %w", name, err)
	}
	return nil
}

// Close finishes the zip (its central directory); it does not close the
// underlying writer.
func (pw *PhotosWriter) Close() error {
	if err := pw.z.Close(); err != nil {
		return fmt.Errorf("finish the photos zip: %w", err)
	}
	return nil
}
