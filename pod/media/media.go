// Package media owns what Seedpod does with uploaded images: decoding them
// safely (size, dimension and format limits checked before any pixel is
// decoded), producing the size variants diaspora* pods expect for photos and
// avatars, stripping metadata, and the content-addressed blob store the
// results live in on disk.
//
// Processing is pure: bytes in, bytes out. The store is a directory and
// nothing else. The package has no database and no network, and it must not
// import any other Seedpod package.
//
// Only the decoders this package means to accept are used, and they are
// called directly after the format has been sniffed from the bytes, so a
// format some other package registers with the image package (BMP, TIFF…)
// is never accepted here. (The reverse does happen: importing this package
// links x/image/webp, whose init registers WebP for image.Decode.)
package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Default limits, used for any Limits field that is zero.
const (
	// DefaultMaxBytes leaves room for a full-resolution photo from a
	// current phone camera; it is also what Process holds in memory
	// before decoding.
	DefaultMaxBytes = 20 << 20
	// DefaultMaxPixels bounds decode memory. Decoding costs 1.5 (JPEG
	// 4:2:0) to 8 (16-bit PNG) bytes a pixel, and converting or turning
	// the picture up to 8 more, so at 50 MP a typical JPEG peaks near
	// 0.2 GB and the worst case (a 16-bit opaque PNG) near 0.7 GB.
	DefaultMaxPixels = 50_000_000
	// DefaultMaxSide refuses absurd strips (a 1×50M "image") that fit the
	// pixel budget but no screen.
	DefaultMaxSide = 12000
)

// Limits bounds what Process accepts. The zero value is usable: any field
// that is zero (or negative) takes the default above.
type Limits struct {
	MaxBytes  int64 // size of the encoded file
	MaxPixels int64 // width × height
	MaxSide   int   // width and height each
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxSide <= 0 {
		l.MaxSide = DefaultMaxSide
	}
	return l
}

// Kind says which set of variants an image needs.
type Kind int

const (
	// Photo is a picture attached to a post: thumbnails and a 700 px wide
	// version, as diaspora*'s PhotoUploader makes (thumb_small,
	// thumb_medium, thumb_large).
	Photo Kind = iota
	// Avatar is a profile picture: three squares, as diaspora*'s profile
	// image_url, image_url_medium and image_url_small.
	Avatar
)

func (k Kind) String() string {
	switch k {
	case Photo:
		return "photo"
	case Avatar:
		return "avatar"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Variant is one encoded picture.
type Variant struct {
	Name          string // "original", "small", "medium" or "large"
	Width, Height int
	ContentType   string // "image/jpeg" or "image/png"
	Data          []byte
}

// Result is what Process made of one upload.
type Result struct {
	// Original is the upload re-encoded at its own pixel size, upright,
	// with every byte of metadata (EXIF with GPS, XMP, ICC, comments)
	// gone.
	Original Variant
	// Variants are ordered small, medium, large for both kinds. A variant
	// that needed no scaling shares Data with Original.
	Variants []Variant
	// SHA256 is the lowercase hex digest of Original.Data, the name it has
	// in a Store.
	SHA256 string
	// Format is the format detected in the input: jpeg, png, gif or webp.
	Format string
}

// Variant returns the variant with the given name.
func (r *Result) Variant(name string) (Variant, bool) {
	for _, v := range r.Variants {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// Errors. Every error Process returns for bad input wraps exactly one of
// these; the wrapping message says what was found and what the limit is.
// Errors from the reader itself are returned wrapped as they are.
var (
	// ErrTooLarge means the file is bigger than Limits.MaxBytes.
	ErrTooLarge = errors.New("media: image file too large")
	// ErrNotImage means the bytes are none of the accepted formats (JPEG,
	// PNG, GIF, WebP), whatever the file was called.
	ErrNotImage = errors.New("media: not a JPEG, PNG, GIF or WebP image")
	// ErrTooManyPixels means the declared dimensions exceed
	// Limits.MaxPixels or Limits.MaxSide. It is found from the header,
	// before any pixel is decoded.
	ErrTooManyPixels = errors.New("media: image dimensions too large")
	// ErrCorrupt means the format was recognised but the data does not
	// decode: truncated, damaged, empty, or a variant the decoder does not
	// support (animated WebP, arithmetic-coded JPEG).
	ErrCorrupt = errors.New("media: image data corrupt or unsupported")
)

const (
	// maxJPEGScans bounds the scans of a JPEG. Go's decoder passes over
	// every coefficient block of the image for each progressive scan, and
	// a scan that only says "end of band for the next 16384 blocks" is 13
	// bytes: a 130 KB file of 10,000 such scans costs 15 s of CPU at 1 MP
	// (measured 2026-11), and 20 MB at 50 MP would cost days. Encoders
	// write 1 (baseline) to about 10 (libjpeg's progressive script) scans
	// per image; nvImageCodec caps at 256 for the same reason (cure53's
	// libjpeg-turbo report). We count FF DA pairs over the whole file,
	// which can only overcount (an embedded thumbnail or a trailing gain
	// map adds its own scans; entropy data cannot hold FF DA), so 100 leaves
	// room for those and bounds the worst case near 100 passes.
	maxJPEGScans = 100

	jpegQuality = 90
	typeJPEG    = "image/jpeg"
	typePNG     = "image/png"
)

// format is one accepted input format.
type format struct {
	name         string
	decodeConfig func(io.Reader) (image.Config, error)
	decode       func(io.Reader) (image.Image, error)
}

var (
	formatJPEG = &format{"jpeg", jpeg.DecodeConfig, jpeg.Decode}
	formatPNG  = &format{"png", png.DecodeConfig, png.Decode}
	formatGIF  = &format{"gif", gif.DecodeConfig, gif.Decode}
	formatWebP = &format{"webp", webp.DecodeConfig, webp.Decode}
)

// sniff names the format from its magic bytes, or returns nil; the file
// name and the content type the client claimed are never consulted.
func sniff(b []byte) *format {
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return formatJPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return formatPNG
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return formatGIF
	case len(b) >= 15 && string(b[:4]) == "RIFF" && string(b[8:15]) == "WEBPVP8":
		return formatWebP
	}
	return nil
}

// Process decodes one uploaded image and makes the variants kind needs.
//
// It reads at most lim.MaxBytes+1 bytes of r, checks the declared
// dimensions against lim before decoding any pixel, applies the JPEG EXIF
// orientation, and re-encodes everything so no input byte but the pixels
// survives. JPEG input stays JPEG; PNG, GIF (first frame) and WebP become
// PNG if any pixel is not fully opaque and JPEG otherwise. Variants have the
// format of Original.
func Process(r io.Reader, kind Kind, lim Limits) (*Result, error) {
	if kind != Photo && kind != Avatar {
		return nil, fmt.Errorf("media: unknown kind %d", int(kind))
	}
	lim = lim.withDefaults()

	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("media: reading image: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: over the limit of %d bytes", ErrTooLarge, lim.MaxBytes)
	}

	f := sniff(data)
	if f == nil {
		return nil, fmt.Errorf("%w: unrecognised header % x", ErrNotImage, data[:min(len(data), 8)])
	}

	// The header alone, so a decompression bomb is refused before the
	// decoder allocates for its pixels.
	cfg, err := f.decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", ErrCorrupt, f.name, err)
	}
	if err := checkSize(f.name, cfg.Width, cfg.Height, lim); err != nil {
		return nil, err
	}

	orientation := 1
	if f == formatJPEG {
		if n := bytes.Count(data, []byte{0xff, 0xda}); n > maxJPEGScans {
			return nil, fmt.Errorf("%w: jpeg %dx%d has %d scans (limit %d)", ErrCorrupt, cfg.Width, cfg.Height, n, maxJPEGScans)
		}
		orientation = jpegOrientation(data)
	}

	img, err := f.decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %dx%d: %v", ErrCorrupt, f.name, cfg.Width, cfg.Height, err)
	}
	if f == formatGIF {
		img = gifCanvas(img, cfg)
	}
	// The decoders agree with their own headers today; this keeps the
	// limits honest if one ever does not.
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%w: %s header says %dx%d, decoded %dx%d", ErrCorrupt, f.name, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}

	img = orient(img, orientation)

	asPNG := f != formatJPEG && !opaque(img)
	orig, err := encode("original", img, asPNG)
	if err != nil {
		return nil, err
	}
	variants, err := makeVariants(kind, img, orig, asPNG)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(orig.Data)
	return &Result{
		Original: orig,
		Variants: variants,
		SHA256:   hex.EncodeToString(sum[:]),
		Format:   f.name,
	}, nil
}

// checkSize refuses empty images and those over the limits.
func checkSize(name string, w, h int, lim Limits) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: %s is %dx%d, an empty image", ErrCorrupt, name, w, h)
	}
	if w > lim.MaxSide || h > lim.MaxSide {
		return fmt.Errorf("%w: %s is %dx%d, a side is longer than %d px", ErrTooManyPixels, name, w, h, lim.MaxSide)
	}
	if n := int64(w) * int64(h); n > lim.MaxPixels {
		return fmt.Errorf("%w: %s is %dx%d = %d pixels, limit %d", ErrTooManyPixels, name, w, h, n, lim.MaxPixels)
	}
	return nil
}

// gifCanvas places the first frame of a GIF on its logical screen, as a
// browser shows it: a frame may be smaller than the screen and offset, and
// what it does not cover is transparent.
func gifCanvas(frame image.Image, cfg image.Config) image.Image {
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if frame.Bounds() == screen {
		return frame
	}
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, frame.Bounds().Intersect(screen), frame, frame.Bounds().Min, draw.Src)
	return canvas
}

// opaque reports whether every pixel of m is fully opaque. All the image
// types the decoders return know this about themselves.
func opaque(m image.Image) bool {
	if o, ok := m.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := m.At(x, y).RGBA(); a != 0xffff {
				return false
			}
		}
	}
	return true
}

// encode writes m as PNG or as JPEG at jpegQuality. Neither encoder writes
// any metadata.
func encode(name string, m image.Image, asPNG bool) (Variant, error) {
	var buf bytes.Buffer
	b := m.Bounds()
	v := Variant{Name: name, Width: b.Dx(), Height: b.Dy()}
	if asPNG {
		v.ContentType = typePNG
		if err := png.Encode(&buf, m); err != nil {
			return Variant{}, fmt.Errorf("media: encoding %s as png: %w", name, err)
		}
	} else {
		v.ContentType = typeJPEG
		if err := jpeg.Encode(&buf, jpegSource(m), &jpeg.Options{Quality: jpegQuality}); err != nil {
			return Variant{}, fmt.Errorf("media: encoding %s as jpeg: %w", name, err)
		}
	}
	v.Data = buf.Bytes()
	return v, nil
}

// jpegSource hands the JPEG encoder a type it has a fast path for (YCbCr,
// RGBA, Gray); anything else would go through At for every pixel. Only
// called for opaque images, so alpha can be dropped.
func jpegSource(m image.Image) image.Image {
	switch m := m.(type) {
	case *image.YCbCr, *image.RGBA, *image.Gray:
		return m
	case *image.NYCbCrA:
		return &m.YCbCr
	case *image.NRGBA:
		// With every alpha at 0xff, premultiplied and straight are the
		// same bytes.
		return &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}
	}
	return toRGBA(m)
}

// toRGBA returns m as an *image.RGBA with the same bounds, converting if it
// is not one already.
func toRGBA(m image.Image) *image.RGBA {
	if r, ok := m.(*image.RGBA); ok {
		return r
	}
	b := m.Bounds()
	r := image.NewRGBA(b)
	draw.Draw(r, b, m, b.Min, draw.Src)
	return r
}
